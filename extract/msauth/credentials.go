package msauth

import (
	"context"
	cryptorand "crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/golang-jwt/jwt/v5"
)

// Assertion makes the client assertion of one token request to tokenURL: the credential of an app that uses a
// certificate or workload identity federation instead of a client secret.
type Assertion func(ctx context.Context, tokenURL string) (string, error)

const assertionType = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"

// CertificateAssertion signs, for each token request, the JWT of Microsoft's "certificate credentials" page:
// PS256, typ JWT, the certificate's base64url SHA-256 thumbprint as x5t#S256; aud the token endpoint, iss and sub
// the client id, a GUID jti, nbf now and exp ten minutes later (the page asks for 5-10 minutes). MSAL for Go signs
// the same way for Entra ID (RS256 with a SHA-1 x5t only for AD FS).
func CertificateAssertion(clientID string, cert *x509.Certificate, key *rsa.PrivateKey, now func() time.Time) Assertion {
	sum := sha256.Sum256(cert.Raw)
	thumb := base64.RawURLEncoding.EncodeToString(sum[:])
	if now == nil {
		now = time.Now
	}
	return func(_ context.Context, tokenURL string) (string, error) {
		t := now()
		jti, err := newGUID()
		if err != nil {
			return "", fmt.Errorf("making the client assertion's jti: %w", err)
		}
		// aud is a single string, as on the page (RegisteredClaims would write a one-element array).
		tok := jwt.NewWithClaims(jwt.SigningMethodPS256, jwt.MapClaims{
			"aud": tokenURL, "iss": clientID, "sub": clientID, "jti": jti,
			"nbf": t.Unix(), "iat": t.Unix(), "exp": t.Add(10 * time.Minute).Unix(),
		})
		tok.Header["typ"] = "JWT"
		tok.Header["x5t#S256"] = thumb
		s, err := tok.SignedString(key)
		if err != nil {
			return "", fmt.Errorf("signing the client assertion: %w", err)
		}
		return s, nil
	}
}

// newGUID is a random (version 4) GUID, the form the page gives for jti.
func newGUID() (string, error) {
	var b [16]byte
	if _, err := randRead(b[:]); err != nil {
		return "", err
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:], nil
}

// LoadCertificate reads a certificate with its private key from a PEM file (certificate and key blocks) or a
// PKCS#12 (.pfx/.p12) file, with azidentity's parser (the Azure SDK's own, so any file it accepts works here). A
// key file others can read is refused, as ssh refuses a key.
func LoadCertificate(path string, password Secret) (*x509.Certificate, *rsa.PrivateKey, error) {
	data, err := readPrivate(path, "the client certificate (it holds the private key)")
	if err != nil {
		return nil, nil, err
	}
	certs, key, err := azidentity.ParseCertificates(data, []byte(password.Reveal()))
	if err != nil {
		return nil, nil, fmt.Errorf("reading the client certificate %s (PEM with its private key, or PKCS#12; a password in $AZURE_CLIENT_CERTIFICATE_PASSWORD): %w", path, err)
	}
	rk, ok := key.(*rsa.PrivateKey)
	if !ok || len(certs) == 0 {
		return nil, nil, fmt.Errorf("the client certificate %s: want an RSA certificate with its private key", path)
	}
	if time.Now().After(certs[0].NotAfter) {
		return nil, nil, fmt.Errorf("the client certificate %s expired on %s: upload a new one to the app registration", path, certs[0].NotAfter.Format(time.DateOnly))
	}
	return certs[0], rk, nil
}

// FederatedAssertion reads the federated token (workload identity federation: a Kubernetes service account
// token, a GitHub Actions OIDC token) from path at every token request, since the platform that writes it rotates
// it.
func FederatedAssertion(path string) Assertion {
	return func(context.Context, string) (string, error) {
		b, err := os.ReadFile(path)
		if err != nil {
			return "", fmt.Errorf("reading the federated token file: %w", err)
		}
		tok := strings.TrimSpace(string(b))
		if tok == "" {
			return "", errors.New("the federated token file " + path + " is empty")
		}
		return tok, nil
	}
}

var randRead = func(b []byte) (int, error) { return cryptorand.Read(b) }
