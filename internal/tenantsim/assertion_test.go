package tenantsim

import (
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// The token endpoint verifies client assertions as the platform does: the registered certificate's signature,
// the time range, the audience and the client id, each refused with its AADSTS code.
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
	sign := func(aud, iss string, exp time.Time) string {
		tok := jwt.NewWithClaims(jwt.SigningMethodRS256, jwt.RegisteredClaims{Audience: jwt.ClaimStrings{aud}, Issuer: iss, Subject: iss,
			ID: "j", NotBefore: jwt.NewNumericDate(exp.Add(-10 * time.Minute)), ExpiresAt: jwt.NewNumericDate(exp)})
		s, err := tok.SignedString(key)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	for _, tc := range []struct {
		name      string
		assertion string
		code      string // "" = a token
	}{
		{"valid", sign(endpoint, cid, time.Now().Add(5*time.Minute)), ""},
		{"expired", sign(endpoint, cid, time.Now().Add(-time.Hour)), "AADSTS700024"},
		{"wrong audience", sign("https://login.example/token", cid, time.Now().Add(5*time.Minute)), "AADSTS700021"},
		{"wrong client", sign(endpoint, "someone-else", time.Now().Add(5*time.Minute)), "AADSTS700023"},
		{"not a JWT", "garbage", "AADSTS700027"},
	} {
		status, body := c.postToken("", url.Values{"client_secret": {""}, "client_assertion_type": {assertionType}, "client_assertion": {tc.assertion}})
		desc, _ := body["error_description"].(string)
		switch {
		case tc.code == "" && (status != 200 || body["access_token"] == nil):
			t.Errorf("%s: %d %v", tc.name, status, body)
		case tc.code != "" && (status != 401 || !strings.HasPrefix(desc, tc.code)):
			t.Errorf("%s: %d %q, want 401 %s", tc.name, status, desc, tc.code)
		}
	}
}
