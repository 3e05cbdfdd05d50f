package msauth

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

const secret = "s3cr3t~Value.with-symbols"

// identity is a token endpoint answering like the Microsoft identity platform.
type identity struct {
	srv      *httptest.Server
	requests atomic.Int64
	answer   func(form map[string]string) (int, string)
	mu       sync.Mutex
	scopes   []string
}

func newIdentity(t *testing.T, answer func(form map[string]string) (int, string)) *identity {
	id := &identity{answer: answer}
	id.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id.requests.Add(1)
		if r.URL.Path != "/contoso.onmicrosoft.com/oauth2/v2.0/token" || r.Method != http.MethodPost {
			t.Errorf("token request %s %s", r.Method, r.URL.Path)
		}
		r.ParseForm()
		form := map[string]string{}
		for k := range r.PostForm {
			form[k] = r.PostForm.Get(k)
		}
		id.mu.Lock()
		id.scopes = append(id.scopes, form["scope"])
		id.mu.Unlock()
		status, body := id.answer(form)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		fmt.Fprint(w, body)
	}))
	t.Cleanup(id.srv.Close)
	return id
}

func aad(code string, n int, desc string) string {
	b, _ := json.Marshal(map[string]any{
		"error": code, "error_codes": []int{n}, "trace_id": "255d1aef-8c98-452f-ac51-23d051240864",
		"error_description": fmt.Sprintf("AADSTS%d: %s\r\nTrace ID: 255d1aef\r\nCorrelation ID: fb3d2015\r\nTimestamp: 2026-11-22 02:02:12Z", n, desc),
	})
	return string(b)
}

func config(id *identity, now func() time.Time, log *slog.Logger) Config {
	return Config{AuthorityHost: id.srv.URL, TenantID: "contoso.onmicrosoft.com", ClientID: "535fb089-9ff3-47b6-9bfb-4f1264799865",
		ClientSecret: secret, Now: now, Logger: log}
}

func TestTokensAreCachedAndRefreshed(t *testing.T) {
	n := 0
	id := newIdentity(t, func(form map[string]string) (int, string) {
		if form["client_secret"] != secret || form["grant_type"] != "client_credentials" {
			t.Errorf("form %v", form)
		}
		n++
		return 200, fmt.Sprintf(`{"token_type":"Bearer","expires_in":3599,"ext_expires_in":3599,"access_token":"tok-%d"}`, n)
	})
	now := time.Now()
	clock := func() time.Time { return now }
	ts := NewTokenSource(config(id, clock, nil), "https://graph.microsoft.com/")
	for i := 0; i < 3; i++ {
		tok, err := ts.Token(context.Background())
		if err != nil || tok != "tok-1" {
			t.Fatalf("token %q, %v", tok, err)
		}
	}
	if id.requests.Load() != 1 || id.scopes[0] != "https://graph.microsoft.com/.default" {
		t.Errorf("%d token requests with scopes %v: want one, scope <resource>/.default", id.requests.Load(), id.scopes)
	}
	now = now.Add(58 * time.Minute) // within the expiry delta: refreshed ahead of expiry
	if tok, _ := ts.Token(context.Background()); tok != "tok-2" {
		t.Errorf("token near expiry %q, want a new one", tok)
	}
	ts.Invalidate("tok-1") // stale invalidation of an already replaced token: no effect
	if tok, _ := ts.Token(context.Background()); tok != "tok-2" {
		t.Errorf("a stale Invalidate replaced the current token: %q", tok)
	}
	ts.Invalidate("tok-2")
	if tok, _ := ts.Token(context.Background()); tok != "tok-3" || ts.Fetches() != 3 {
		t.Errorf("after Invalidate: %q, %d fetches", tok, ts.Fetches())
	}
}

func TestAADSTSErrorsReadAsWhatToDo(t *testing.T) {
	tests := []struct {
		status int
		body   string
		want   string
		code   int
	}{
		{401, aad("invalid_client", 7000215, "Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '535fb089'."), "client secret is wrong", 7000215},
		{401, aad("invalid_client", 7000222, "The provided client secret keys for app '535fb089' are expired."), "has expired", 7000222},
		{400, aad("unauthorized_client", 700016, "Application with identifier '535fb089' was not found in the directory 'contoso'."), "not found in the tenant", 700016},
		{400, aad("invalid_request", 90002, "Tenant 'contoso' not found."), "tenant was not found", 90002},
		{400, aad("invalid_scope", 70011, "The provided value for the input parameter 'scope' is not valid."), "scope was refused", 70011},
		{400, aad("invalid_request", 50059, "No tenant-identifying information found in either the request or implied by any provided credentials. secret="+secret), "No tenant-identifying information", 50059},
		{502, "<html>Bad gateway</html>", "unexpected body", 0},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			var logs bytes.Buffer
			log := slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
			id := newIdentity(t, func(map[string]string) (int, string) { return tt.status, tt.body })
			cfg := config(id, nil, log)
			log.Info("configured", "config", cfg, "secret", cfg.ClientSecret)
			_, err := NewTokenSource(cfg, "https://graph.microsoft.com").Token(context.Background())
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want %q", err, tt.want)
			}
			var ae *AuthError
			if tt.code != 0 && (!errors.As(err, &ae) || ae.AADSTS != tt.code) {
				t.Errorf("error %#v: want *AuthError with AADSTS%d", err, tt.code)
			}
			if out := err.Error() + logs.String() + fmt.Sprintf("%v %+v %#v %s", cfg, cfg, cfg, cfg.ClientSecret); strings.Contains(out, secret) {
				t.Errorf("the secret leaked: %s", out)
			}
		})
	}
}

func TestValidate(t *testing.T) {
	ok := Config{TenantID: "72f988bf-86f1-41af-91ab-2d7cd011db47", ClientID: "c", ClientSecret: "s"}
	tests := []struct {
		name string
		mut  func(*Config)
		want string
	}{
		{"valid", func(*Config) {}, ""},
		{"domain tenant", func(c *Config) { c.TenantID = "contoso.onmicrosoft.com" }, ""},
		{"bad tenant", func(c *Config) { c.TenantID = "not a tenant" }, "neither a GUID nor a domain"},
		{"no secret", func(c *Config) { c.ClientSecret = "" }, "client secret is not set"},
		{"http loopback", func(c *Config) { c.AuthorityHost = "http://127.0.0.1:8400" }, ""},
		{"http localhost", func(c *Config) { c.AuthorityHost = "http://localhost:8400" }, ""},
		{"http elsewhere", func(c *Config) { c.AuthorityHost = "http://login.example.com" }, "only for loopback"},
		{"ftp", func(c *Config) { c.AuthorityHost = "ftp://x" }, "want https"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := ok
			tt.mut(&c)
			err := c.Validate()
			if (tt.want == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tt.want)) {
				t.Errorf("Validate() = %v, want %q", err, tt.want)
			}
		})
	}
}

func TestLoadSecret(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "secret")
	os.WriteFile(file, []byte(secret+"\n"), 0o600)
	t.Setenv("TEST_SECRET", "from-env")
	if s, err := LoadSecret("TEST_SECRET", file); err != nil || s.Reveal() != secret {
		t.Errorf("file: %q %v", s.Reveal(), err)
	}
	if s, err := LoadSecret("TEST_SECRET", ""); err != nil || s.Reveal() != "from-env" {
		t.Errorf("env: %q %v", s.Reveal(), err)
	}
	if _, err := LoadSecret("TEST_SECRET_UNSET", ""); err == nil || !strings.Contains(err.Error(), "$TEST_SECRET_UNSET") {
		t.Errorf("neither: %v", err)
	}
}
