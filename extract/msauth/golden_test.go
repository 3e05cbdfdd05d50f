package msauth

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"errors"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// The identity platform's answers as Microsoft's pages print them (testdata/README.md), replayed verbatim through
// the token source.
func TestDocumentedTokenAnswersReplay(t *testing.T) {
	tests := []struct {
		file    string
		status  int
		token   string // the access token handed out, or
		aadsts  int    // the refusal's code
		code    string // and its OAuth2 error
		traceID string
	}{
		{file: "token_success.json", status: 200, token: "eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiIsIng1dCI6Ik1uQ19WWmNBVGZNNXBP..."},
		{file: "token_error_invalid_scope.json", status: 400, aadsts: 70011, code: "invalid_scope", traceID: "255d1aef-8c98-452f-ac51-23d051240864"},
		{file: "token_error_with_uri.json", status: 400, aadsts: 70011, code: "invalid_scope", traceID: "0000aaaa-11bb-cccc-dd33-eeeeee333333"},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			body, err := os.ReadFile(filepath.Join("testdata", tt.file))
			if err != nil {
				t.Fatal(err)
			}
			var form map[string]string
			id := newIdentity(t, func(f map[string]string) (int, string) { form = f; return tt.status, string(body) })
			tok, err := NewTokenSource(config(id, nil, nil), "https://graph.microsoft.com").Token(context.Background())
			want := map[string]string{"grant_type": "client_credentials", "client_id": "535fb089-9ff3-47b6-9bfb-4f1264799865",
				"client_secret": secret, "scope": "https://graph.microsoft.com/.default"}
			for k, v := range want {
				if form[k] != v {
					t.Errorf("form field %s = %q, want %q", k, form[k], v)
				}
			}
			if tt.token != "" {
				if err != nil || tok != tt.token {
					t.Fatalf("token %q, %v; want %q", tok, err, tt.token)
				}
				return
			}
			var ae *AuthError
			if !errors.As(err, &ae) || ae.AADSTS != tt.aadsts || ae.Code != tt.code || ae.TraceID != tt.traceID {
				t.Fatalf("error %#v, want AADSTS%d %s trace %s", err, tt.aadsts, tt.code, tt.traceID)
			}
			if !strings.Contains(err.Error(), "scope was refused") || strings.ContainsAny(err.Error(), "\r\n") {
				t.Errorf("message %q: want one line saying what to do", err)
			}
		})
	}
}

// The certificate credential is the JWT of the "certificate credentials" page: PS256, typ JWT, x5t#S256, and the
// claims aud, iss, sub, jti (a GUID), nbf, exp.
func TestCertificateAssertionIsTheDocumentedJWT(t *testing.T) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "seatlake"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	now := time.Unix(1601519114, 0)
	const clientID, tokenURL = "97e0a5b7-d745-40b6-94fe-5f77d35c6e05", "https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/token"
	a, err := CertificateAssertion(clientID, cert, key, func() time.Time { return now })(context.Background(), tokenURL)
	if err != nil {
		t.Fatal(err)
	}
	claims := jwt.MapClaims{}
	tok, err := jwt.NewParser(jwt.WithValidMethods([]string{"PS256"}), jwt.WithTimeFunc(func() time.Time { return now })).
		ParseWithClaims(a, claims, func(*jwt.Token) (any, error) { return &key.PublicKey, nil })
	if err != nil {
		t.Fatalf("the assertion does not verify as PS256 with the certificate's key: %v", err)
	}
	sum := sha256.Sum256(cert.Raw)
	if tok.Header["typ"] != "JWT" || tok.Header["x5t#S256"] != base64.RawURLEncoding.EncodeToString(sum[:]) || tok.Header["x5t"] != nil {
		t.Errorf("header %v: want typ JWT and x5t#S256 the base64url SHA-256 thumbprint", tok.Header)
	}
	guid := regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)
	if claims["aud"] != tokenURL || claims["iss"] != clientID || claims["sub"] != clientID || !guid.MatchString(claims["jti"].(string)) ||
		claims["nbf"] != float64(now.Unix()) || claims["exp"] != float64(now.Add(10*time.Minute).Unix()) {
		t.Errorf("claims %v", claims)
	}
}

// App Service's managed identity endpoint (IDENTITY_ENDPOINT, X-IDENTITY-HEADER, api-version 2019-08-01) as the
// page describes it, answering its sample response.
func TestManagedIdentityAppServiceAnswerReplays(t *testing.T) {
	body, err := os.ReadFile(filepath.Join("testdata", "managed_identity_app_service.json"))
	if err != nil {
		t.Fatal(err)
	}
	const header = "853b9a84-5bfa-4b22-a3f3-0b9a43d9ad8a"
	var got *http.Request
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = r.Clone(context.Background())
		w.Header().Set("Content-Type", "application/json")
		w.Write(body)
	}))
	defer srv.Close()
	t.Setenv("IDENTITY_ENDPOINT", srv.URL+"/MSI/token")
	t.Setenv("IDENTITY_HEADER", header)
	ts := NewTokenSource(Config{TenantID: "contoso.onmicrosoft.com", ManagedIdentity: true,
		Sleep: func(context.Context, time.Duration) error { return nil }}, "https://vault.azure.net")
	tok, err := ts.Token(context.Background())
	if err != nil || tok != "eyJ0eXAi…" {
		t.Fatalf("token %q, %v", tok, err)
	}
	q := got.URL.Query()
	if got.Method != http.MethodGet || got.URL.Path != "/MSI/token" || q.Get("api-version") != "2019-08-01" ||
		q.Get("resource") != "https://vault.azure.net" || got.Header.Get("X-IDENTITY-HEADER") != header {
		t.Errorf("request %s %s, header %q: want GET ?api-version=2019-08-01&resource=https://vault.azure.net with X-IDENTITY-HEADER",
			got.Method, got.URL, got.Header.Get("X-IDENTITY-HEADER"))
	}
}

func TestCheckAuthorityHost(t *testing.T) {
	for raw, ok := range map[string]bool{
		"https://login.microsoftonline.com":        true,
		"https://login.microsoftonline.us":         true,
		"https://login.chinacloudapi.cn":           true,
		"https://login.partner.microsoftonline.cn": true,
		"http://127.0.0.1:8400":                    true,
		"https://login.example.com":                false,
		"https://login.microsoftonline.com.evil":   false,
	} {
		if err := CheckAuthorityHost(raw, nil); (err == nil) != ok {
			t.Errorf("CheckAuthorityHost(%q) = %v, want accepted=%v", raw, err, ok)
		}
	}
	if err := CheckAuthorityHost("https://login.example.com", []string{"login.example.com"}); err != nil {
		t.Errorf("an allowed host was refused: %v", err)
	}
}
