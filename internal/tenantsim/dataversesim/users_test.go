package dataversesim

import (
	"testing"

	"github.com/seatlake/seatlake/internal/tenantsim/model"
)

// Every systemuser property the entity declares ($select, $filter) has a value of its declared kind: a value of
// another kind would be compared and rendered as that kind.
func TestEverySystemUserPropertyHasAValue(t *testing.T) {
	u := &model.DataverseUser{ID: "a", DomainName: "b", Email: "c", FullName: "d", AADObjectID: "e", AppID: "f",
		Disabled: true, Licensed: true, Integration: true, AccessMode: 4, Created: 1}
	for _, p := range systemUserProps.names {
		want := systemUserProps.kinds[p]
		if want == 't' { // a DateTimeOffset compares as Unix microseconds
			want = 'i'
		}
		if got := systemUserProps.value(u, p).Kind; got != want {
			t.Errorf("%s: value of kind %q, want %q", p, got, want)
		}
	}
}
