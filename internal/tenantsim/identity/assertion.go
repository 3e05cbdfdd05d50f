package identity

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"math/big"
	"net/http"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/seatlake/seatlake/internal/tenantsim/simkit"
)

// Certificate credentials (Microsoft identity platform "certificate credentials",
// https://learn.microsoft.com/entra/identity-platform/certificate-credentials): the client sends
// client_assertion_type=urn:ietf:params:oauth:client-assertion-type:jwt-bearer and client_assertion, a JWT signed
// with the private key of a certificate registered on the app. The page's header names the certificate by
// x5t#S256 (base64url SHA-256 thumbprint) and signs PS256; its earlier edition (and MSAL for AD FS) used x5t (SHA-1)
// and RS256, so both are accepted. The claims are aud (the token endpoint), iss = sub = the client id, jti, nbf and
// exp. Refusals carry the codes of the "Microsoft Entra authentication and authorization error codes" page:
// 700027 (signature), 50027 (invalid JWT: audience, time range), 50048 (subject does not match issuer). The
// simulator verifies against the certificate it was given (Options.ClientCertificate).

// AssertionType is the client_assertion_type of a certificate credential.
const AssertionType = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"

// checkAssertion verifies a client assertion; it returns 0 or the AADSTS code and message the platform answers.
func (p *Platform) checkAssertion(r *http.Request, clientID, tenant string) (int, string) {
	if r.PostForm.Get("client_assertion_type") != AssertionType {
		return 900144, "The request body must contain the following parameter: 'client_assertion_type'."
	}
	assertion := r.PostForm.Get("client_assertion")
	cert := p.o.ClientCertificate
	if cert == nil {
		return 700027, "Client assertion failed signature validation: no certificate is registered on the app."
	}
	pub, ok := cert.PublicKey.(*rsa.PublicKey)
	if !ok {
		return 700027, "Client assertion failed signature validation: the registered certificate's key is not RSA."
	}
	if !namesCertificate(assertion, cert) {
		return 700027, "Client assertion contains an invalid signature. [Reason - The key was not found., Thumbprint of key used by client: '" + thumbprint(assertion) + "']"
	}
	var claims jwt.RegisteredClaims
	_, err := jwt.ParseWithClaims(assertion, &claims, func(t *jwt.Token) (any, error) {
		return pub, nil
	}, jwt.WithValidMethods([]string{"PS256", "RS256"}), jwt.WithTimeFunc(p.kit.Now), jwt.WithLeeway(5*time.Minute))
	switch {
	case errors.Is(err, jwt.ErrTokenExpired) || errors.Is(err, jwt.ErrTokenNotValidYet):
		return 50027, "Invalid JWT token. The token is not within its valid time range."
	case err != nil:
		return 700027, "Client assertion failed signature validation."
	case claims.Issuer != clientID || claims.Subject != claims.Issuer:
		return 50048, "Subject mismatches Issuer claim in the client assertion."
	}
	want := simkit.BaseURL(r) + "/" + tenant + "/oauth2/v2.0/token"
	for _, a := range claims.Audience {
		if strings.EqualFold(strings.TrimRight(a, "/"), want) {
			return 0, ""
		}
	}
	return 50027, "Invalid JWT token. Unexpected audience: the client assertion's aud must be the token endpoint."
}

// namesCertificate says whether the assertion's header names cert by its x5t#S256 or x5t thumbprint. The page
// gives base64url; MSAL for Go writes standard base64: both are read.
func namesCertificate(assertion string, cert *x509.Certificate) bool {
	tok, _, err := jwt.NewParser().ParseUnverified(assertion, jwt.MapClaims{})
	if err != nil {
		return false
	}
	s256, s1 := sha256.Sum256(cert.Raw), sha1.Sum(cert.Raw)
	for h, want := range map[string][]byte{"x5t#S256": s256[:], "x5t": s1[:]} {
		v, _ := tok.Header[h].(string)
		if v == "" {
			continue
		}
		for _, enc := range []*base64.Encoding{base64.RawURLEncoding, base64.URLEncoding, base64.StdEncoding, base64.RawStdEncoding} {
			if b, err := enc.DecodeString(v); err == nil {
				return string(b) == string(want)
			}
		}
	}
	return false
}

// thumbprint is the x5t#S256 or x5t header of an assertion, for the error message.
func thumbprint(assertion string) string {
	tok, _, err := jwt.NewParser().ParseUnverified(assertion, jwt.MapClaims{})
	if err != nil {
		return ""
	}
	for _, h := range []string{"x5t#S256", "x5t"} {
		if v, ok := tok.Header[h].(string); ok {
			if b, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(v, "=")); err == nil {
				return strings.ToUpper(hexString(b))
			}
		}
	}
	return ""
}

func hexString(b []byte) string {
	const digits = "0123456789abcdef"
	out := make([]byte, 0, 2*len(b))
	for _, c := range b {
		out = append(out, digits[c>>4], digits[c&15])
	}
	return string(out)
}

// NewClientCertificate generates a self-signed certificate and its key, as `New-SelfSignedCertificate` or openssl
// would for an app registration, and returns both PEM-encoded (certificate, then PKCS#8 private key) with the
// certificate: what a test or `seatlake sim --client-certificate-out` hands to the client.
func NewClientCertificate(cn string, notAfter time.Time) ([]byte, *x509.Certificate, error) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, nil, err
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: notAfter, KeyUsage: x509.KeyUsageDigitalSignature}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, nil, err
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, nil, err
	}
	pk, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, nil, err
	}
	out := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	out = append(out, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: pk})...)
	return out, cert, nil
}
