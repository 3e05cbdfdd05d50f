package reclaim

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/seatlake/seatlake/internal/msgraph"
	"github.com/seatlake/seatlake/internal/outbound"
)

// Graph reads users and removes their licenses.
type Graph struct {
	Endpoint string // https://graph.microsoft.com
	Client   Requester
}

// Requester sends Graph's requests with credentials, retries and request timeouts, a non-success answer being an
// *outbound.Error in Graph's shape; *odata.Client is one.
type Requester interface {
	Get(ctx context.Context, u string, buf *bytes.Buffer) error
	Post(ctx context.Context, u string, body []byte, buf *bytes.Buffer) error
}

// User is what a removal is decided on.
type User struct {
	ID, UPN  string
	Enabled  bool
	Licenses map[string]string // skuId (lower case) -> the group it is inherited from ("" when direct)
	// LastSignIn is the newest of signInActivity's times (zero when none, or without Entra ID P1).
	LastSignIn time.Time
}

// ErrNotFound means the user no longer exists.
var ErrNotFound = errors.New("the user no longer exists")

// ReadUser reads a user's licenses (licenseAssignmentStates) and signInActivity (when the tenant has P1).
func (g *Graph) ReadUser(ctx context.Context, id string, premium bool) (User, error) {
	sel := "id,userPrincipalName,accountEnabled,assignedLicenses,licenseAssignmentStates"
	if premium {
		sel += ",signInActivity"
	}
	var buf bytes.Buffer
	err := g.Client.Get(ctx, strings.TrimRight(g.Endpoint, "/")+"/v1.0/users/"+url.PathEscape(id)+"?$select="+sel, &buf)
	var he *outbound.Error
	if errors.As(err, &he) && he.Status == http.StatusNotFound {
		return User{}, ErrNotFound
	}
	if err != nil {
		return User{}, fmt.Errorf("reading user %s: %w", id, err)
	}
	raw, err := msgraph.DecodeUser(buf.Bytes())
	if err != nil {
		return User{}, fmt.Errorf("reading user %s: %w", id, err)
	}
	u := User{ID: raw.ID, UPN: deref(raw.UserPrincipalName), Enabled: raw.AccountEnabled != nil && *raw.AccountEnabled,
		Licenses: map[string]string{}}
	// A SKU both direct and inherited is direct: that is what a removal can take away.
	for _, l := range raw.AssignedLicenses {
		u.Licenses[strings.ToLower(l.SkuID)] = ""
	}
	for _, s := range raw.LicenseAssignmentStates {
		if a := raw.Assignment(s.SkuID); !a.Direct && len(a.Groups) > 0 {
			u.Licenses[strings.ToLower(s.SkuID)] = a.Groups[len(a.Groups)-1]
		}
	}
	if u.LastSignIn, err = raw.LastSignIn(); err != nil {
		return User{}, fmt.Errorf("reading user %s: %w", id, err)
	}
	return u, nil
}

// RemoveLicense removes one directly assigned license: POST /users/{id}/assignLicense with removeLicenses. The
// client retries it as it retries a read: a repeat of a removal that did happen answers 400, so a caller that gets
// an error re-reads the user to learn what is true.
func (g *Graph) RemoveLicense(ctx context.Context, userID, skuID string) error {
	body, err := json.Marshal(map[string]any{"addLicenses": []any{}, "removeLicenses": []string{skuID}})
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	u := strings.TrimRight(g.Endpoint, "/") + "/v1.0/users/" + url.PathEscape(userID) + "/assignLicense"
	if err := g.Client.Post(ctx, u, body, &buf); err != nil {
		return fmt.Errorf("removing license %s from %s: %w", skuID, userID, err)
	}
	return nil
}

// GroupLabel names a group for the person reading a decision: "<display name> (<id>)", or the id alone when Graph
// does not give the name (the app may not read groups: GroupMember.Read.All; or the group is gone). A name is for
// reading, never a reason to fail.
func (g *Graph) GroupLabel(ctx context.Context, id string) string {
	var buf bytes.Buffer
	if err := g.Client.Get(ctx, strings.TrimRight(g.Endpoint, "/")+"/v1.0/groups/"+url.PathEscape(id)+"?$select=id,displayName", &buf); err != nil {
		return id
	}
	var v struct {
		DisplayName string `json:"displayName"`
	}
	if json.Unmarshal(buf.Bytes(), &v) != nil || v.DisplayName == "" {
		return id
	}
	return v.DisplayName + " (" + id + ")"
}

// deref is a Graph string property's value, "" when absent.
func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
