package tenantsim

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/golang-jwt/jwt/v5"
	"github.com/seatlake/seatlake/internal/tenantsim/dataversesim"
)

func startTLS(t *testing.T) (*Sim, string) {
	t.Helper()
	s := newSim(t, func(c *Config) { c.TLS = true })
	base, err := s.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	if !strings.HasPrefix(base, "https://") {
		t.Fatalf("base %s is not https", base)
	}
	return s, base
}

// loopbackOnly is a transport trusting only pool that refuses to dial anything but loopback: a client library
// under test must never reach Microsoft's real hosts.
func loopbackOnly(pool *x509.CertPool) *http.Transport {
	d := &net.Dialer{Timeout: 5 * time.Second}
	return &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12},
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			host, _, _ := net.SplitHostPort(addr)
			if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
				return nil, fmt.Errorf("refusing to dial %s: not loopback", addr)
			}
			return d.DialContext(ctx, network, addr)
		},
	}
}

// TestTLSWithOnlyTheSimulatorsCA: Go's net/http client trusting only the printed CA gets a token and pages
// Graph and Dataverse over https; a client trusting the system's roots is refused the certificate.
func TestTLSWithOnlyTheSimulatorsCA(t *testing.T) {
	s, base := startTLS(t)
	hc := &http.Client{Transport: loopbackOnly(s.CertPool())}
	tenant, client, secret := s.Credentials()
	token := func(scope string) string {
		resp, err := hc.PostForm(base+"/"+tenant+"/oauth2/v2.0/token", url.Values{"client_id": {client}, "client_secret": {secret},
			"grant_type": {"client_credentials"}, "scope": {scope}})
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var tr struct {
			AccessToken string `json:"access_token"`
		}
		if err := json.NewDecoder(resp.Body).Decode(&tr); err != nil || resp.StatusCode != 200 {
			t.Fatalf("token for %s: %d %v", scope, resp.StatusCode, err)
		}
		return tr.AccessToken
	}
	get := func(u, tok string) *http.Response {
		req, _ := http.NewRequest("GET", u, nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		req.Header.Set("client-request-id", "3f2a")
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	if resp := get(base+"/v1.0/users?$top=5", token("https://graph.microsoft.com/.default")); resp.StatusCode != 200 ||
		resp.Header.Get("OData-Version") != "4.0" || resp.Header.Get("request-id") == "" || resp.Header.Get("client-request-id") != "3f2a" {
		t.Errorf("Graph over https: %d %v", resp.StatusCode, resp.Header)
	}
	dv := s.DataverseURLs()[0]
	if !strings.HasPrefix(dv, "https://") {
		t.Fatalf("Dataverse URL %s is not https", dv)
	}
	if resp := get(dv+dataversesim.API+"WhoAmI", token(dv+"/.default")); resp.StatusCode != 200 {
		t.Errorf("Dataverse over https: %d", resp.StatusCode)
	}
	_, err := http.Get(base + "/v1.0/users")
	var uae x509.UnknownAuthorityError
	if !errors.As(err, &uae) {
		t.Errorf("a client without the simulator's CA: err %v, want an unknown authority", err)
	}
}

// TestMicrosoftIdentityLibraryWorksAgainstTheSimulator: azidentity (MSAL Go underneath), unchanged, gets tokens
// from the simulator over https, through its OpenID discovery, and the token is a JWT with the claims the services
// and `seatlake check` read.
func TestMicrosoftIdentityLibraryWorksAgainstTheSimulator(t *testing.T) {
	s, base := startTLS(t)
	tenant, client, secret := s.Credentials()
	opts := &azidentity.ClientSecretCredentialOptions{
		ClientOptions: azcore.ClientOptions{
			Cloud:     cloud.Configuration{ActiveDirectoryAuthorityHost: base + "/"},
			Transport: &http.Client{Transport: loopbackOnly(s.CertPool())},
		},
		// The documented option for an authority Microsoft's instance discovery does not know.
		DisableInstanceDiscovery: true,
	}
	cred, err := azidentity.NewClientSecretCredential(tenant, client, secret, opts)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, scope := range []string{"https://graph.microsoft.com/.default", s.DataverseURLs()[0] + "/.default"} {
		tok, err := cred.GetToken(ctx, policy.TokenRequestOptions{Scopes: []string{scope}})
		if err != nil {
			t.Fatalf("azidentity GetToken(%s): %v", scope, err)
		}
		if !tok.ExpiresOn.After(time.Now()) {
			t.Errorf("token expires %v", tok.ExpiresOn)
		}
		claims := jwt.MapClaims{}
		parsed, err := jwt.Parse(tok.Token, func(*jwt.Token) (any, error) {
			key, _, err := s.id.SigningKey()
			return &key.PublicKey, err
		}, jwt.WithValidMethods([]string{"RS256"}))
		if err != nil || !parsed.Valid {
			t.Fatalf("token is not a valid RS256 JWT signed by the simulator: %v", err)
		}
		claims = parsed.Claims.(jwt.MapClaims)
		if claims["tid"] != tenant || claims["appid"] != client || claims["aud"] == nil {
			t.Errorf("claims %v", claims)
		}
		if strings.Contains(scope, "graph") && claims["roles"] == nil {
			t.Errorf("a Graph token without roles: %v", claims)
		}
	}
	// A wrong secret reads as Microsoft's error through the library too.
	bad, _ := azidentity.NewClientSecretCredential(tenant, client, "wrong", opts)
	if _, err := bad.GetToken(ctx, policy.TokenRequestOptions{Scopes: []string{"https://graph.microsoft.com/.default"}}); err == nil ||
		!strings.Contains(err.Error(), "AADSTS7000215") {
		t.Errorf("a wrong secret through azidentity: %v", err)
	}
}
