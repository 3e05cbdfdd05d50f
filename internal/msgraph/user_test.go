package msgraph

import (
	"os"
	"testing"
	"time"
)

// Learn's List users example with signInActivity, verbatim: Adele's non-interactive sign-in is the zero
// DateTimeOffset, which means none; Alex's newest sign-in is his non-interactive one.
func TestLastSignInOfLearnsExample(t *testing.T) {
	body, err := os.ReadFile("../../extract/graph/testdata/learn/users_signinactivity.json")
	if err != nil {
		t.Fatal(err)
	}
	var p UsersPage
	if err := p.Decode(body); err != nil || len(p.Value) != 2 {
		t.Fatalf("%d users, %v", len(p.Value), err)
	}
	want := []time.Time{time.Date(2021, 6, 17, 16, 41, 33, 0, time.UTC), time.Date(2021, 7, 29, 17, 53, 42, 0, time.UTC)}
	for i, u := range p.Value {
		if got, err := u.LastSignIn(); err != nil || !got.Equal(want[i]) {
			t.Errorf("%s: last sign-in %v, %v; want %v", *u.UserPrincipalName, got, err, want[i])
		}
	}
	if u := (User{ID: "x"}); !mustLast(t, u).IsZero() {
		t.Errorf("a user without signInActivity (no P1) has a last sign-in")
	}
	bad := "yesterday"
	if _, err := (&User{ID: "x", SignInActivity: &SignInActivity{LastSignInDateTime: &bad}}).LastSignIn(); err == nil {
		t.Errorf("an unreadable sign-in time was taken")
	}
}

func mustLast(t *testing.T, u User) time.Time {
	t.Helper()
	last, err := u.LastSignIn()
	if err != nil {
		t.Fatal(err)
	}
	return last
}

// A license's assignment as licenseAssignmentStates says it: direct wins over groups (removing the user from a
// group would not free it); the state is the first that is not Active; the update time the oldest.
func TestAssignment(t *testing.T) {
	u, err := DecodeUser([]byte(`{"id":"u1","licenseAssignmentStates":[
		{"skuId":"SKU-A","assignedByGroup":"g1","state":"Active","lastUpdatedDateTime":"2026-03-02T00:00:00Z"},
		{"skuId":"sku-a","assignedByGroup":"g2","state":"Error","lastUpdatedDateTime":"2026-03-01T00:00:00Z"},
		{"skuId":"sku-b","assignedByGroup":null,"state":"Active"},
		{"skuId":"sku-b","assignedByGroup":"g3","state":"Active"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	a := u.Assignment("sku-A")
	if !a.Found || a.Direct || len(a.Groups) != 2 || a.Groups[1] != "g2" || *a.State != "Error" || *a.Updated != "2026-03-01T00:00:00Z" {
		t.Errorf("sku-a: %+v", a)
	}
	if b := u.Assignment("sku-b"); !b.Found || !b.Direct || len(b.Groups) != 1 {
		t.Errorf("sku-b: %+v", b)
	}
	if c := u.Assignment("sku-c"); c.Found {
		t.Errorf("sku-c: %+v", c)
	}
}
