package reclaim

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/seatlake/seatlake/extract/odata"
)

// TokenSource gives Graph access tokens.
type TokenSource interface {
	Token(ctx context.Context) (string, error)
}

// Graph reads users and removes their licenses.
type Graph struct {
	Endpoint string // https://graph.microsoft.com
	Tokens   TokenSource
	HTTP     *http.Client
	Reader   *odata.Client // GETs, with the extractors' retries
	Sleep    func(ctx context.Context, d time.Duration) error
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
	err := g.Reader.Get(ctx, strings.TrimRight(g.Endpoint, "/")+"/v1.0/users/"+url.PathEscape(id)+"?$select="+sel, &buf)
	var he *odata.HTTPError
	if errors.As(err, &he) && he.Status == http.StatusNotFound {
		return User{}, ErrNotFound
	}
	if err != nil {
		return User{}, fmt.Errorf("reading user %s: %w", id, err)
	}
	var raw struct {
		ID                      string `json:"id"`
		UPN                     string `json:"userPrincipalName"`
		AccountEnabled          bool   `json:"accountEnabled"`
		LicenseAssignmentStates []struct {
			SkuID           string  `json:"skuId"`
			AssignedByGroup *string `json:"assignedByGroup"`
		} `json:"licenseAssignmentStates"`
		AssignedLicenses []struct {
			SkuID string `json:"skuId"`
		} `json:"assignedLicenses"`
		SignInActivity *struct {
			LastSignIn           *time.Time `json:"lastSignInDateTime"`
			LastNonInteractive   *time.Time `json:"lastNonInteractiveSignInDateTime"`
			LastSuccessfulSignIn *time.Time `json:"lastSuccessfulSignInDateTime"`
		} `json:"signInActivity"`
	}
	if err := json.Unmarshal(buf.Bytes(), &raw); err != nil {
		return User{}, fmt.Errorf("reading user %s: %w", id, err)
	}
	u := User{ID: raw.ID, UPN: raw.UPN, Enabled: raw.AccountEnabled, Licenses: map[string]string{}}
	for _, l := range raw.AssignedLicenses {
		u.Licenses[strings.ToLower(l.SkuID)] = ""
	}
	// A SKU both direct and inherited has two states: direct wins, it is what a removal can take away.
	inherited := map[string]string{}
	direct := map[string]bool{}
	for _, s := range raw.LicenseAssignmentStates {
		k := strings.ToLower(s.SkuID)
		if s.AssignedByGroup != nil && *s.AssignedByGroup != "" {
			inherited[k] = *s.AssignedByGroup
		} else {
			direct[k] = true
		}
	}
	for k, grp := range inherited {
		if !direct[k] {
			u.Licenses[k] = grp
		}
	}
	if a := raw.SignInActivity; a != nil {
		for _, t := range []*time.Time{a.LastSignIn, a.LastNonInteractive, a.LastSuccessfulSignIn} {
			if t != nil && t.After(u.LastSignIn) {
				u.LastSignIn = t.UTC()
			}
		}
	}
	return u, nil
}

// RemoveLicense removes one directly assigned license: POST /users/{id}/assignLicense with removeLicenses. 429 and
// 503 (the request was not processed) are retried after their Retry-After; other errors are returned with Graph's
// code and message.
func (g *Graph) RemoveLicense(ctx context.Context, userID, skuID string) error {
	body, _ := json.Marshal(map[string]any{"addLicenses": []any{}, "removeLicenses": []string{skuID}})
	u := strings.TrimRight(g.Endpoint, "/") + "/v1.0/users/" + url.PathEscape(userID) + "/assignLicense"
	sleep := g.Sleep
	if sleep == nil {
		sleep = func(ctx context.Context, d time.Duration) error {
			t := time.NewTimer(d)
			defer t.Stop()
			select {
			case <-t.C:
				return nil
			case <-ctx.Done():
				return ctx.Err()
			}
		}
	}
	for attempt := 1; ; attempt++ {
		tok, err := g.Tokens.Token(ctx)
		if err != nil {
			return fmt.Errorf("getting a Graph token: %w", err)
		}
		rctx, cancel := context.WithTimeout(ctx, 60*time.Second)
		req, _ := http.NewRequestWithContext(rctx, http.MethodPost, u, bytes.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+tok)
		req.Header.Set("Content-Type", "application/json")
		resp, err := g.HTTP.Do(req)
		if err != nil {
			cancel()
			return fmt.Errorf("assignLicense for %s: %w", userID, err)
		}
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		resp.Body.Close()
		cancel()
		if resp.StatusCode < 300 {
			return nil
		}
		if (resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusServiceUnavailable) && attempt < 5 {
			wait := time.Duration(attempt) * time.Second
			if s, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil && s > 0 {
				wait = time.Duration(s) * time.Second
			}
			if err := sleep(ctx, wait); err != nil {
				return err
			}
			continue
		}
		var ge struct {
			Error struct{ Code, Message string } `json:"error"`
		}
		json.Unmarshal(b, &ge)
		return fmt.Errorf("assignLicense for %s: %d %s: %s", userID, resp.StatusCode, ge.Error.Code, ge.Error.Message)
	}
}
