package tenantsim

import (
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/seatlake/seatlake/internal/tenantsim/identity"
)

// The token endpoint verifies client assertions as the "certificate credentials" page describes them: the
// registered certificate named by its thumbprint and its signature, the time range, the audience and the client id,
// each refused with the code of Microsoft's error code reference.
func TestClientAssertions(t *testing.T) {
	pemBytes, cert, err := NewClientCertificate("app", time.Now().AddDate(0, 1, 0))
	if err != nil {
		t.Fatal(err)
	}
	var key *rsa.PrivateKey
	for rest := pemBytes; ; {
		var blk *pem.Block
		if blk, rest = pem.Decode(rest); blk == nil {
			break
		}
		if blk.Type == "PRIVATE KEY" {
			k, _ := x509.ParsePKCS8PrivateKey(blk.Bytes)
			key = k.(*rsa.PrivateKey)
		}
	}
	c := startSim(t, func(cfg *Config) { cfg.ClientCertificate = cert })
	ten, cid, _ := c.s.Credentials()
	endpoint := c.base + "/" + ten + "/oauth2/v2.0/token"
	s256, s1 := sha256.Sum256(cert.Raw), sha1.Sum(cert.Raw)
	// sign makes an assertion as the page's current edition does (PS256, x5t#S256) or, with rs256, as its earlier
	// edition and MSAL for AD FS do (RS256, x5t).
	sign := func(aud, iss string, exp time.Time, rs256 bool) string {
		method, h, thumb := jwt.SigningMethod(jwt.SigningMethodPS256), "x5t#S256", base64.RawURLEncoding.EncodeToString(s256[:])
		if rs256 {
			method, h, thumb = jwt.SigningMethodRS256, "x5t", base64.RawURLEncoding.EncodeToString(s1[:])
		}
		tok := jwt.NewWithClaims(method, jwt.MapClaims{"aud": aud, "iss": iss, "sub": iss, "jti": "22b3bb26-e046-42df-9c96-65dbd72c1c81",
			"nbf": exp.Add(-10 * time.Minute).Unix(), "exp": exp.Unix()})
		tok.Header["typ"] = "JWT"
		if aud != "no thumbprint" {
			tok.Header[h] = thumb
		} else {
			tok.Claims.(jwt.MapClaims)["aud"] = endpoint
		}
		s, err := tok.SignedString(key)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	soon := time.Now().Add(5 * time.Minute)
	for _, tc := range []struct {
		name      string
		assertion string
		code      string // "" = a token
	}{
		{"PS256 with x5t#S256", sign(endpoint, cid, soon, false), ""},
		{"RS256 with x5t", sign(endpoint, cid, soon, true), ""},
		{"no thumbprint", sign("no thumbprint", cid, soon, false), "AADSTS700027"},
		{"expired", sign(endpoint, cid, time.Now().Add(-time.Hour), false), "AADSTS50027"},
		{"wrong audience", sign("https://login.example/token", cid, soon, false), "AADSTS50027"},
		{"wrong client", sign(endpoint, "someone-else", soon, false), "AADSTS50048"},
		{"not a JWT", "garbage", "AADSTS700027"},
	} {
		status, body := c.postToken("", url.Values{"client_secret": {""}, "client_assertion_type": {identity.AssertionType}, "client_assertion": {tc.assertion}})
		desc, _ := body["error_description"].(string)
		switch {
		case tc.code == "" && (status != 200 || body["access_token"] == nil):
			t.Errorf("%s: %d %v", tc.name, status, body)
		case tc.code != "" && (status != 401 || !strings.HasPrefix(desc, tc.code)):
			t.Errorf("%s: %d %q, want 401 %s", tc.name, status, desc, tc.code)
		}
	}
}
