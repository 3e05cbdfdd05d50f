package reclaim

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/seatlake/seatlake/internal/outbound"
)

// ReadUser decides on what Graph says now: each license held, direct or inherited (direct wins, it is what a removal
// can take away), and the newest sign-in; a user gone is ErrNotFound.
func TestReadUser(t *testing.T) {
	var removal string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/v1.0/users/u1":
			if r.URL.Query().Get("$select") != "id,userPrincipalName,accountEnabled,assignedLicenses,licenseAssignmentStates,signInActivity" {
				t.Errorf("$select=%s", r.URL.Query().Get("$select"))
			}
			io.WriteString(w, `{"id":"u1","userPrincipalName":"u1@contoso.com","accountEnabled":true,
				"assignedLicenses":[{"skuId":"SKU-E3","disabledPlans":[]},{"skuId":"sku-visio","disabledPlans":[]}],
				"licenseAssignmentStates":[{"skuId":"SKU-E3","assignedByGroup":null,"state":"Active"},
					{"skuId":"SKU-E3","assignedByGroup":"g-all","state":"Active"},
					{"skuId":"sku-visio","assignedByGroup":"g-visio","state":"Active"}],
				"signInActivity":{"lastSignInDateTime":"2026-10-01T08:00:00Z","lastNonInteractiveSignInDateTime":"0001-01-01T00:00:00Z",
					"lastSuccessfulSignInDateTime":"2026-10-02T09:30:00.1234567Z"}}`)
		case "/v1.0/users/u1/assignLicense":
			b, _ := io.ReadAll(r.Body)
			removal = string(b)
			io.WriteString(w, `{"id":"u1"}`)
		default:
			w.WriteHeader(http.StatusNotFound)
			io.WriteString(w, `{"error":{"code":"Request_ResourceNotFound","message":"Resource 'u2' does not exist."}}`)
		}
	}))
	defer srv.Close()
	g := &Graph{Endpoint: srv.URL, Client: outbound.New(outbound.Config{})}
	u, err := g.ReadUser(context.Background(), "u1", true)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"sku-e3": "", "sku-visio": "g-visio"}
	if u.UPN != "u1@contoso.com" || !u.Enabled || len(u.Licenses) != 2 || u.Licenses["sku-e3"] != want["sku-e3"] || u.Licenses["sku-visio"] != want["sku-visio"] ||
		!u.LastSignIn.Equal(time.Date(2026, 10, 2, 9, 30, 0, 123456700, time.UTC)) {
		t.Errorf("%+v, want licenses %v and the successful sign-in as the last", u, want)
	}
	if _, err := g.ReadUser(context.Background(), "u2", true); !errors.Is(err, ErrNotFound) {
		t.Errorf("a user gone: %v", err)
	}
	if err := g.RemoveLicense(context.Background(), "u1", "sku-visio"); err != nil || removal != `{"addLicenses":[],"removeLicenses":["sku-visio"]}` {
		t.Errorf("removal sent %s: %v", removal, err)
	}
}
