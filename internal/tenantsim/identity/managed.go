package identity

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"

	"github.com/seatlake/seatlake/internal/tenantsim/simkit"
)

// The managed identity endpoint of an Azure host ("Use managed identities for App Service and Azure Functions";
// facts in extract/msauth/testdata/README.md), in the App Service protocol the Azure SDKs use when
// IDENTITY_ENDPOINT and IDENTITY_HEADER are set: GET {IDENTITY_ENDPOINT}?api-version=2019-08-01&resource=R
// [&client_id=C] with the header X-IDENTITY-HEADER: {IDENTITY_HEADER}; the answer is a token for R with expires_on in
// Unix seconds. The header's value is the simulator's client secret, so only a caller who was given it gets tokens.
func (p *Platform) managedIdentity(w http.ResponseWriter, r *http.Request) {
	fail := func(status int, msg string) {
		w.Header().Set("Content-Type", simkit.PlainJSON)
		w.WriteHeader(status)
		json.NewEncoder(w).Encode(map[string]any{"statusCode": status, "message": msg})
	}
	q := r.URL.Query()
	switch {
	case r.Header.Get("X-IDENTITY-HEADER") != p.o.ClientSecret:
		fail(http.StatusUnauthorized, "The X-IDENTITY-HEADER header is missing or wrong.")
		return
	case q.Get("api-version") == "":
		fail(http.StatusBadRequest, "The api-version parameter is required.")
		return
	case q.Get("client_id") != "" && q.Get("client_id") != p.o.ClientID:
		fail(http.StatusBadRequest, "No user-assigned identity with client id "+q.Get("client_id")+" is attached to this host.")
		return
	}
	resource := strings.TrimSuffix(q.Get("resource"), "/.default")
	aud := p.audience(r, resource)
	if aud == "" {
		fail(http.StatusBadRequest, "The resource "+resource+" is not a valid resource.")
		return
	}
	now := p.kit.Now()
	tok, err := p.signToken(aud, resource, now)
	if err != nil {
		fail(http.StatusInternalServerError, err.Error())
		return
	}
	exp := now.Add(p.o.TokenLifetime)
	p.tokens.add(tok, issued{aud: aud, expires: exp}, now)
	w.Header().Set("Content-Type", simkit.PlainJSON)
	json.NewEncoder(w).Encode(map[string]string{"access_token": tok, "expires_on": strconv.FormatInt(exp.Unix(), 10),
		"resource": resource, "token_type": "Bearer", "client_id": p.o.ClientID})
}
