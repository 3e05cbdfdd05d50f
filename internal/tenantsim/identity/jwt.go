package identity

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"math/big"
	"net/http"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/seatlake/seatlake/internal/tenantsim/ids"
	"github.com/seatlake/seatlake/internal/tenantsim/simkit"
)

// Tokens are RS256 JWTs, as the identity platform issues: aud (the resource), iss, tid, appid, roles (the Graph
// application permissions the app holds: Options.GraphRoles), iat/nbf/exp. The signing key is made
// on the first token and published at the JWKS address the OpenID discovery document names, so clients that
// validate tokens can.

// SigningKey is the key tokens are signed with and its key id, made on first use.
func (p *Platform) SigningKey() (*rsa.PrivateKey, string, error) {
	p.keyOnce.Do(func() {
		p.key, p.keyErr = rsa.GenerateKey(rand.Reader, 2048)
		if p.keyErr == nil {
			sum := sha256.Sum256(p.key.PublicKey.N.Bytes())
			p.kid = base64.RawURLEncoding.EncodeToString(sum[:15])
		}
	})
	return p.key, p.kid, p.keyErr
}

func (p *Platform) signToken(aud, resource string, now time.Time) (string, error) {
	key, kid, err := p.SigningKey()
	if err != nil {
		return "", fmt.Errorf("making the signing key: %w", err)
	}
	audClaim := resource
	if aud == AudGraph {
		audClaim = "https://graph.microsoft.com"
	}
	var jti [16]byte
	rand.Read(jti[:])
	claims := jwt.MapClaims{
		"aud":   audClaim,
		"iss":   "https://sts.windows.net/" + p.m.TenantID + "/",
		"iat":   now.Unix(),
		"nbf":   now.Unix(),
		"exp":   now.Add(p.o.TokenLifetime).Unix(),
		"appid": p.o.ClientID,
		"azp":   p.o.ClientID,
		"idtyp": "app",
		"oid":   ids.GUID(ids.Hash(p.kit.Seed(), 0x5e1), ids.Hash(p.kit.Seed(), 0x5e2)),
		"sub":   ids.GUID(ids.Hash(p.kit.Seed(), 0x5e1), ids.Hash(p.kit.Seed(), 0x5e2)),
		"tid":   p.m.TenantID,
		"uti":   base64.RawURLEncoding.EncodeToString(jti[:]),
		"ver":   "1.0",
	}
	// An app-only token carries no roles claim when the app holds no application permission on the resource
	// ("client credentials flow": "app-only tokens can be issued without a roles claim").
	if roles := p.o.GraphRoles; aud == AudGraph && len(roles) > 0 {
		claims["roles"] = roles
	}
	t := jwt.NewWithClaims(jwt.SigningMethodRS256, claims)
	t.Header["kid"] = kid
	t.Header["x5t"] = kid
	return t.SignedString(key)
}

// openIDConfiguration is GET /{tenant}/v2.0/.well-known/openid-configuration.
func (p *Platform) openIDConfiguration(w http.ResponseWriter, r *http.Request) {
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
		"issuer":                                base + "/" + p.m.TenantID + "/v2.0",
		"authorization_endpoint":                base + "/" + tenant + "/oauth2/v2.0/authorize",
		"device_authorization_endpoint":         base + "/" + tenant + "/oauth2/v2.0/devicecode",
		"end_session_endpoint":                  base + "/" + tenant + "/oauth2/v2.0/logout",
		"tenant_region_scope":                   "EU",
		"cloud_instance_name":                   "microsoftonline.com",
		"msgraph_host":                          "graph.microsoft.com",
	})
}

// jwks is GET /{tenant}/discovery/v2.0/keys: the public signing key.
func (p *Platform) jwks(w http.ResponseWriter, r *http.Request) {
	key, kid, err := p.SigningKey()
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
func (p *Platform) instanceDiscovery(w http.ResponseWriter, r *http.Request) {
	host := r.Host
	simkit.WriteJSON(w, http.StatusOK, map[string]any{
		"tenant_discovery_endpoint": simkit.BaseURL(r) + "/" + p.m.TenantID + "/v2.0/.well-known/openid-configuration",
		"api-version":               "1.1",
		"metadata":                  []map[string]any{{"preferred_network": host, "preferred_cache": host, "aliases": []string{host}}},
	})
}
