// Package msgraph is Microsoft Graph's user as it travels: one type and decoder for the users the extractor pages
// (extract/graph) and for the user reclaim reads again before acting on it (load/reclaim), and what the two read
// alike from it (a license's assignment, the last sign-in). The facts it follows are in
// extract/graph/testdata/README.md.
package msgraph

import (
	"fmt"
	"strings"
	"time"

	json "github.com/goccy/go-json"
)

// User is a user as GET /users and GET /users/{id} answer it, with the properties seatlake selects. Absent values
// are nil; times stay Graph's text, so a value that does not parse is the reader's to count, not the decoder's.
type User struct {
	ID                      string                   `json:"id"`
	UserPrincipalName       *string                  `json:"userPrincipalName"`
	DisplayName             *string                  `json:"displayName"`
	Mail                    *string                  `json:"mail"`
	GivenName               *string                  `json:"givenName"`
	Surname                 *string                  `json:"surname"`
	AccountEnabled          *bool                    `json:"accountEnabled"`
	UserType                *string                  `json:"userType"`
	CreatedDateTime         *string                  `json:"createdDateTime"`
	Department              *string                  `json:"department"`
	JobTitle                *string                  `json:"jobTitle"`
	AssignedLicenses        []AssignedLicense        `json:"assignedLicenses"`
	LicenseAssignmentStates []LicenseAssignmentState `json:"licenseAssignmentStates"`
	SignInActivity          *SignInActivity          `json:"signInActivity"`
}

// AssignedLicense is one of assignedLicenses.
type AssignedLicense struct {
	DisabledPlans []string `json:"disabledPlans"`
	SkuID         string   `json:"skuId"`
}

// LicenseAssignmentState is one of licenseAssignmentStates: a license held directly (AssignedByGroup nil or empty)
// or through a group.
type LicenseAssignmentState struct {
	AssignedByGroup     *string `json:"assignedByGroup"`
	SkuID               string  `json:"skuId"`
	State               *string `json:"state"`
	LastUpdatedDateTime *string `json:"lastUpdatedDateTime"`
}

// SignInActivity is signInActivity (Entra ID P1/P2 only).
type SignInActivity struct {
	LastSignInDateTime               *string `json:"lastSignInDateTime"`
	LastNonInteractiveSignInDateTime *string `json:"lastNonInteractiveSignInDateTime"`
	LastSuccessfulSignInDateTime     *string `json:"lastSuccessfulSignInDateTime"`
}

// UsersPage is one page of GET /users.
type UsersPage struct {
	NextLink string `json:"@odata.nextLink"`
	Value    []User `json:"value"`
}

// Decode decodes a page of users into p, reusing its Value.
func (p *UsersPage) Decode(body []byte) error { return json.Unmarshal(body, p) }

// DecodeUser decodes one user.
func DecodeUser(body []byte) (User, error) {
	var u User
	err := json.Unmarshal(body, &u)
	return u, err
}

// NoSignIn reports whether a signInActivity time says "none": absent, or 0001-01-01T00:00:00Z, the zero
// DateTimeOffset that Learn's List users example shows for a user without a sign-in of that kind (read as a time,
// it would be activity two thousand years ago).
func NoSignIn(v *string) bool {
	return v == nil || *v == "" || strings.HasPrefix(*v, "0001-01-01T00:00:00")
}

// LastSignIn is the newest of signInActivity's times, in UTC; zero when there is none (or no signInActivity,
// without Entra ID P1).
func (u *User) LastSignIn() (time.Time, error) {
	var last time.Time
	a := u.SignInActivity
	if a == nil {
		return last, nil
	}
	for _, v := range []*string{a.LastSignInDateTime, a.LastNonInteractiveSignInDateTime, a.LastSuccessfulSignInDateTime} {
		if NoSignIn(v) {
			continue
		}
		t, err := time.Parse(time.RFC3339Nano, *v)
		if err != nil {
			return time.Time{}, fmt.Errorf("signInActivity of user %s: %w", u.ID, err)
		}
		if t.After(last) {
			last = t.UTC()
		}
	}
	return last, nil
}

// Assignment is what licenseAssignmentStates says of a user's license of one SKU.
type Assignment struct {
	Found  bool     // a state names the SKU
	Direct bool     // a state assigns it directly: removing the user from a group would not free it
	Groups []string // the groups it is inherited from, in the states' order
	State  *string  // the first state's, or the first that is not Active
	// Updated is the oldest lastUpdatedDateTime (Graph's text).
	Updated *string
}

// Assignment reads licenseAssignmentStates for skuID (any case).
func (u *User) Assignment(skuID string) Assignment {
	var a Assignment
	for i := range u.LicenseAssignmentStates {
		s := &u.LicenseAssignmentStates[i]
		if !strings.EqualFold(s.SkuID, skuID) {
			continue
		}
		a.Found = true
		if s.AssignedByGroup == nil || *s.AssignedByGroup == "" {
			a.Direct = true
		} else {
			a.Groups = append(a.Groups, *s.AssignedByGroup)
		}
		if a.State == nil || (s.State != nil && *s.State != "Active") {
			a.State = s.State
		}
		if s.LastUpdatedDateTime != nil && (a.Updated == nil || *s.LastUpdatedDateTime < *a.Updated) {
			a.Updated = s.LastUpdatedDateTime
		}
	}
	return a
}
