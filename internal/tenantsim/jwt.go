package tenantsim

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"math/big"
	"net/http"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/seatlake/seatlake/internal/tenantsim/ids"
	"github.com/seatlake/seatlake/internal/tenantsim/simkit"
)

// Tokens are RS256 JWTs, as the identity platform issues: aud (the resource), iss, tid, appid, roles (the Graph
// application permissions the app holds, narrowed by Config.GraphPermissions), iat/nbf/exp. The signing key is made
// on the first token and published at the JWKS address the OpenID discovery document names, so clients that
// validate tokens can.

// AllGraphPermissions are the Microsoft Graph application permissions a fully consented seatlake app holds.
var AllGraphPermissions = []string{"User.Read.All", "AuditLog.Read.All", "Organization.Read.All", "ReportSettings.Read.All", "Reports.Read.All",
	"LicenseAssignment.ReadWrite.All", "GroupMember.Read.All"}

func (s *Sim) signingKey() (*rsa.PrivateKey, string, error) {
	s.keyOnce.Do(func() {
		s.key, s.keyErr = rsa.GenerateKey(rand.Reader, 2048)
		if s.keyErr == nil {
			sum := sha256.Sum256(s.key.PublicKey.N.Bytes())
			s.kid = base64.RawURLEncoding.EncodeToString(sum[:15])
		}
	})
	return s.key, s.kid, s.keyErr
}

// graphRoles are the roles claim of Graph tokens.
func (s *Sim) graphRoles() []string {
	if s.cfg.GraphPermissions != nil {
		return s.cfg.GraphPermissions
	}
	return AllGraphPermissions
}

func (s *Sim) signToken(aud, resource string, now time.Time) (string, error) {
	key, kid, err := s.signingKey()
	if err != nil {
		return "", fmt.Errorf("making the signing key: %w", err)
	}
	audClaim := resource
	if aud == audGraph {
		audClaim = "https://graph.microsoft.com"
	}
	var jti [16]byte
	rand.Read(jti[:])
	claims := jwt.MapClaims{
		"aud":   audClaim,
		"iss":   "https://sts.windows.net/" + s.cfg.TenantID + "/",
		"iat":   now.Unix(),
		"nbf":   now.Unix(),
		"exp":   now.Add(s.cfg.TokenLifetime).Unix(),
		"appid": s.cfg.ClientID,
		"azp":   s.cfg.ClientID,
		"idtyp": "app",
		"oid":   ids.GUID(ids.Hash(s.cfg.Seed, 0x5e1), ids.Hash(s.cfg.Seed, 0x5e2)),
		"sub":   ids.GUID(ids.Hash(s.cfg.Seed, 0x5e1), ids.Hash(s.cfg.Seed, 0x5e2)),
		"tid":   s.cfg.TenantID,
		"uti":   base64.RawURLEncoding.EncodeToString(jti[:]),
		"ver":   "1.0",
	}
	// An app-only token carries no roles claim when the app holds no application permission on the resource
	// ("client credentials flow": "app-only tokens can be issued without a roles claim").
	if roles := s.graphRoles(); aud == audGraph && len(roles) > 0 {
		claims["roles"] = roles
	}
	t := jwt.NewWithClaims(jwt.SigningMethodRS256, claims)
	t.Header["kid"] = kid
	t.Header["x5t"] = kid
	return t.SignedString(key)
}

// openIDConfiguration is GET /{tenant}/v2.0/.well-known/openid-configuration.
func (s *Sim) openIDConfiguration(w http.ResponseWriter, r *http.Request) {
	base := simkit.BaseURL(r)
	tenant := r.PathValue("tenant")
	simkit.WriteJSON(w, http.StatusOK, map[string]any{
		"token_endpoint":                        base + "/" + tenant + "/oauth2/v2.0/token",
		"token_endpoint_auth_methods_supported": []string{"client_secret_post", "private_key_jwt", "client_secret_basic"},
		"jwks_uri":                              base + "/" + tenant + "/discovery/v2.0/keys",
		"response_modes_supported":              []string{"query", "fragment", "form_post"},
		"subject_types_supported":               []string{"pairwise"},
		"id_token_signing_alg_values_supported": []string{"RS256"},
		"response_types_supported":              []string{"code", "id_token", "code id_token", "id_token token"},
		"scopes_supported":                      []string{"openid", "profile", "email", "offline_access"},
		"issuer":                                base + "/" + s.cfg.TenantID + "/v2.0",
		"authorization_endpoint":                base + "/" + tenant + "/oauth2/v2.0/authorize",
		"device_authorization_endpoint":         base + "/" + tenant + "/oauth2/v2.0/devicecode",
		"end_session_endpoint":                  base + "/" + tenant + "/oauth2/v2.0/logout",
		"tenant_region_scope":                   "EU",
		"cloud_instance_name":                   "microsoftonline.com",
		"msgraph_host":                          "graph.microsoft.com",
	})
}

// jwks is GET /{tenant}/discovery/v2.0/keys: the public signing key.
func (s *Sim) jwks(w http.ResponseWriter, r *http.Request) {
	key, kid, err := s.signingKey()
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	e := big.NewInt(int64(key.PublicKey.E)).Bytes()
	simkit.WriteJSON(w, http.StatusOK, map[string]any{"keys": []map[string]any{{
		"kty": "RSA", "use": "sig", "kid": kid, "x5t": kid,
		"n": base64.RawURLEncoding.EncodeToString(key.PublicKey.N.Bytes()),
		"e": base64.RawURLEncoding.EncodeToString(e),
	}}})
}

// instanceDiscovery is GET /common/discovery/instance, which MSAL asks of an authority it does not know.
func (s *Sim) instanceDiscovery(w http.ResponseWriter, r *http.Request) {
	host := r.Host
	simkit.WriteJSON(w, http.StatusOK, map[string]any{
		"tenant_discovery_endpoint": simkit.BaseURL(r) + "/" + s.cfg.TenantID + "/v2.0/.well-known/openid-configuration",
		"api-version":               "1.1",
		"metadata":                  []map[string]any{{"preferred_network": host, "preferred_cache": host, "aliases": []string{host}}},
	})
}

// heldPermissions is the set of Graph permissions the app holds (Directory.Read.All implies the two reads it
// covers), made once in New.
func heldPermissions(roles []string) map[string]bool {
	held := map[string]bool{}
	for _, p := range roles {
		held[p] = true
	}
	if held["Directory.Read.All"] {
		held["User.Read.All"], held["Organization.Read.All"] = true, true
	}
	return held
}

// graphPermission names the permission a Graph request needs that the token lacks ("" when it has what it needs).
func (s *Sim) graphPermission(family string, r *http.Request) string {
	held := s.held
	switch family {
	case "users":
		if !held["User.Read.All"] {
			return "User.Read.All"
		}
		if sel, _ := simkit.Query(r, "$select"); strings.Contains(strings.ToLower(sel), "signinactivity") && !held["AuditLog.Read.All"] {
			return "AuditLog.Read.All"
		}
	case "subscribedSkus":
		if !held["Organization.Read.All"] && !held["LicenseAssignment.Read.All"] {
			return "Organization.Read.All"
		}
	case "signIns":
		if !held["AuditLog.Read.All"] {
			return "AuditLog.Read.All"
		}
	case "assignLicense":
		if !held["LicenseAssignment.ReadWrite.All"] && !held["User.ReadWrite.All"] && !held["Directory.ReadWrite.All"] {
			return "LicenseAssignment.ReadWrite.All"
		}
	case "groups": // Get group: GroupMember.Read.All, or a higher permission
		if !held["GroupMember.Read.All"] && !held["Group.Read.All"] && !held["Directory.Read.All"] && !held["Group.ReadWrite.All"] && !held["Directory.ReadWrite.All"] {
			return "GroupMember.Read.All"
		}
	case "reportSettings":
		if !held["ReportSettings.Read.All"] {
			return "ReportSettings.Read.All"
		}
	case "reports":
		if !held["Reports.Read.All"] {
			return "Reports.Read.All"
		}
	}
	return ""
}

// ParsePermissions reads a comma-separated permission list (--graph-permissions).
func ParsePermissions(v string) []string {
	out := []string{}
	for _, p := range strings.Split(v, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}
