package tenantsim

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"math/big"
	"net/http"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Certificate credentials (Microsoft identity platform "certificate credentials"): the client sends
// client_assertion_type=urn:ietf:params:oauth:client-assertion-type:jwt-bearer and client_assertion, a JWT signed
// with the private key of a certificate registered on the app, whose header names the certificate (x5t: the
// base64url SHA-1 thumbprint, or x5t#S256) and whose claims are aud (the token endpoint), iss = sub = the client
// id, jti, nbf and exp. The simulator verifies it against the certificate it was given (Config.ClientCertificate).

const assertionType = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"

// checkAssertion verifies a client assertion; it returns 0 or the AADSTS code and message the platform answers.
func (s *Sim) checkAssertion(r *http.Request, clientID, tenant string) (int, string) {
	if r.PostForm.Get("client_assertion_type") != assertionType {
		return 7000218, "The request body must contain the following parameter: 'client_assertion_type'."
	}
	cert := s.cfg.ClientCertificate
	if cert == nil {
		return 700027, "Client assertion failed signature validation: no certificate is registered on the app."
	}
	pub, ok := cert.PublicKey.(*rsa.PublicKey)
	if !ok {
		return 700027, "Client assertion failed signature validation: the registered certificate's key is not RSA."
	}
	var claims jwt.RegisteredClaims
	_, err := jwt.ParseWithClaims(r.PostForm.Get("client_assertion"), &claims, func(t *jwt.Token) (any, error) {
		return pub, nil
	}, jwt.WithValidMethods([]string{"RS256", "PS256"}), jwt.WithTimeFunc(s.clock), jwt.WithLeeway(5*time.Minute))
	switch {
	case err != nil && strings.Contains(err.Error(), "expired") || err != nil && strings.Contains(err.Error(), "not valid yet"):
		return 700024, "Client assertion is not within its valid time range."
	case err != nil:
		return 700027, "Client assertion contains an invalid signature. [Reason - The key was not found., Thumbprint of key used by client: '" + thumbprint(r.PostForm.Get("client_assertion")) + "']"
	case claims.Issuer != clientID || claims.Subject != clientID:
		return 700023, "Client assertion audience claim does not match Realm issuer: iss and sub must be the client id."
	}
	want := baseURL(r) + "/" + tenant + "/oauth2/v2.0/token"
	for _, a := range claims.Audience {
		if strings.EqualFold(strings.TrimRight(a, "/"), want) {
			return 0, ""
		}
	}
	return 700021, "Client assertion audience claim does not match Realm issuer. Review the documentation at https://aka.ms/certCreds."
}

// thumbprint is the x5t header of an assertion, for the error message.
func thumbprint(assertion string) string {
	tok, _, err := jwt.NewParser().ParseUnverified(assertion, jwt.MapClaims{})
	if err != nil {
		return ""
	}
	if v, ok := tok.Header["x5t"].(string); ok {
		if b, err := base64.RawURLEncoding.DecodeString(v); err == nil {
			return strings.ToUpper(hexString(b))
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
