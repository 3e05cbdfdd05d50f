package tenantsim

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// token is POST /{tenant}/oauth2/v2.0/token, the client-credentials grant (reference §1).
func (s *Sim) token(w http.ResponseWriter, r *http.Request) {
	s.count("token", false)
	if err := r.ParseForm(); err != nil {
		aadError(w, http.StatusBadRequest, "invalid_request", 900144, "The request body must contain the following parameter: 'grant_type'.")
		return
	}
	clientID, secret, basic := r.BasicAuth()
	if !basic {
		clientID, secret = r.PostForm.Get("client_id"), r.PostForm.Get("client_secret")
	}
	tenant := r.PathValue("tenant")
	scope := r.PostForm.Get("scope")
	switch {
	case tenant != s.cfg.TenantID && !strings.EqualFold(tenant, s.m.domain):
		aadError(w, http.StatusBadRequest, "invalid_request", 90002, fmt.Sprintf("Tenant '%s' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud.", tenant))
	case r.PostForm.Get("grant_type") != "client_credentials":
		aadError(w, http.StatusBadRequest, "unsupported_grant_type", 70003, "The app requested an unsupported grant type '"+r.PostForm.Get("grant_type")+"'.")
	case clientID != s.cfg.ClientID:
		aadError(w, http.StatusBadRequest, "unauthorized_client", 700016, fmt.Sprintf("Application with identifier '%s' was not found in the directory '%s'. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant.", clientID, tenant))
	case secret == "":
		aadError(w, http.StatusUnauthorized, "invalid_client", 7000218, "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.")
	case secret != s.cfg.ClientSecret:
		aadError(w, http.StatusUnauthorized, "invalid_client", 7000215, fmt.Sprintf("Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '%s'.", clientID))
	case s.cfg.ExpiredSecret:
		aadError(w, http.StatusUnauthorized, "invalid_client", 7000222, fmt.Sprintf("The provided client secret keys for app '%s' are expired. Visit the Azure portal to create new keys for your app.", clientID))
	case !strings.HasSuffix(scope, "/.default"):
		aadError(w, http.StatusBadRequest, "invalid_scope", 1002012, fmt.Sprintf("The provided value for scope %s is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier (application ID URI).", scope))
	case s.resource(strings.TrimSuffix(scope, "/.default")) == "":
		aadError(w, http.StatusBadRequest, "invalid_scope", 70011, fmt.Sprintf("The provided value for the input parameter 'scope' is not valid. The scope %s is not valid.", scope))
	default:
		var b [24]byte
		rand.Read(b[:])
		tok := "sim." + hex.EncodeToString(b[:])
		s.tokMu.Lock()
		s.tokens[tok] = issued{resource: s.resource(strings.TrimSuffix(scope, "/.default")), expires: time.Now().Add(s.cfg.TokenLifetime), gen: s.tokenGen}
		s.tokMu.Unlock()
		s.issuedN.Add(1)
		secs := int(s.cfg.TokenLifetime / time.Second)
		writeJSON(w, http.StatusOK, map[string]any{"token_type": "Bearer", "expires_in": secs, "ext_expires_in": secs, "access_token": tok})
	}
}

// resource maps a scope's resource to the service it names ("" when unknown).
func (s *Sim) resource(r string) string {
	r = strings.TrimRight(r, "/")
	switch {
	case r == "https://graph.microsoft.com" || r == "00000003-0000-0000-c000-000000000000" || r == strings.TrimRight(s.baseURL(), "/"):
		return "graph"
	}
	return ""
}

// authorized checks the bearer token of a request for resource.
func (s *Sim) authorized(r *http.Request, resource string) bool {
	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok {
		return false
	}
	s.tokMu.Lock()
	defer s.tokMu.Unlock()
	t, ok := s.tokens[tok]
	return ok && t.resource == resource && time.Now().Before(t.expires) && t.gen >= s.minGen
}

// expireTokens makes every token issued so far invalid, as a revocation or an early expiry would.
func (s *Sim) expireTokens() {
	s.tokMu.Lock()
	defer s.tokMu.Unlock()
	s.tokenGen++
	s.minGen = s.tokenGen
}

func aadError(w http.ResponseWriter, status int, code string, aadsts int, desc string) {
	now := time.Now().UTC()
	trace := guid(mix(uint64(now.UnixNano())), mix(uint64(now.UnixNano())+1))
	corr := guid(mix(uint64(now.UnixNano())+2), mix(uint64(now.UnixNano())+3))
	ts := now.Format("2006-01-02 15:04:05Z")
	writeJSON(w, status, map[string]any{
		"error":             code,
		"error_description": fmt.Sprintf("AADSTS%d: %s\r\nTrace ID: %s\r\nCorrelation ID: %s\r\nTimestamp: %s", aadsts, desc, trace, corr, ts),
		"error_codes":       []int{aadsts},
		"timestamp":         ts,
		"trace_id":          trace,
		"correlation_id":    corr,
		"error_uri":         fmt.Sprintf("https://login.microsoftonline.com/error?code=%d", aadsts),
	})
}
