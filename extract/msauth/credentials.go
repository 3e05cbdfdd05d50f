package msauth

import (
	"context"
	cryptorand "crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/x509"
	"encoding/base64"
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

// CertificateAssertion signs, for each token request, the JWT Microsoft's "certificate credentials" page
// documents: RS256, the certificate's SHA-1 thumbprint as x5t, aud the token endpoint, iss and sub the client id,
// a fresh jti, valid from now for ten minutes.
func CertificateAssertion(clientID string, cert *x509.Certificate, key *rsa.PrivateKey, now func() time.Time) Assertion {
	sum := sha1.Sum(cert.Raw)
	x5t := base64.RawURLEncoding.EncodeToString(sum[:])
	if now == nil {
		now = time.Now
	}
	return func(_ context.Context, tokenURL string) (string, error) {
		t := now()
		jti := make([]byte, 16)
		if _, err := randRead(jti); err != nil {
			return "", err
		}
		tok := jwt.NewWithClaims(jwt.SigningMethodRS256, jwt.RegisteredClaims{
			Audience: jwt.ClaimStrings{tokenURL}, Issuer: clientID, Subject: clientID,
			ID: base64.RawURLEncoding.EncodeToString(jti), NotBefore: jwt.NewNumericDate(t), IssuedAt: jwt.NewNumericDate(t),
			ExpiresAt: jwt.NewNumericDate(t.Add(10 * time.Minute)),
		})
		tok.Header["x5t"] = x5t
		s, err := tok.SignedString(key)
		if err != nil {
			return "", fmt.Errorf("signing the client assertion: %w", err)
		}
		return s, nil
	}
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
