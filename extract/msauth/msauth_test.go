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

	"github.com/seatlake/seatlake/internal/outbound"
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
		ClientSecret: secret, Now: now, Logger: log, Sleep: func(context.Context, time.Duration) error { return nil }}
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
		{"no secret", func(c *Config) { c.ClientSecret = "" }, "no client credential: a secret"},
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
	for _, tc := range []struct {
		name    string
		content string
		mode    os.FileMode
		want    string // the secret, or a part of the error
		refused bool
	}{
		{"trailing space and newline", secret + "  \r\n", 0o600, secret, false},
		{"group readable", secret, 0o640, "readable by others (mode 0640): run chmod 600", true},
		{"world readable", secret, 0o644, "run chmod 600", true},
		{"only whitespace", " \n", 0o600, "is empty", true},
	} {
		f := filepath.Join(dir, strings.ReplaceAll(tc.name, " ", "-"))
		os.WriteFile(f, []byte(tc.content), 0o600)
		os.Chmod(f, tc.mode)
		s, err := LoadSecret("", f)
		switch {
		case tc.refused && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%s: error %v, want one with %q", tc.name, err, tc.want)
		case tc.refused && strings.Contains(err.Error(), secret):
			t.Errorf("%s: the error shows the secret: %v", tc.name, err)
		case !tc.refused && (err != nil || s.Reveal() != tc.want):
			t.Errorf("%s: %q, %v", tc.name, s.Reveal(), err)
		}
	}
}

func TestConcurrentCallersShareOneFetch(t *testing.T) {
	id := newIdentity(t, func(map[string]string) (int, string) {
		time.Sleep(20 * time.Millisecond) // keep the first request in flight while the others arrive
		return 200, `{"token_type":"Bearer","expires_in":3599,"access_token":"tok-1"}`
	})
	ts := NewTokenSource(config(id, nil, nil), "https://graph.microsoft.com")
	var wg sync.WaitGroup
	for i := 0; i < 16; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if tok, err := ts.Token(context.Background()); err != nil || tok != "tok-1" {
				t.Errorf("token %q, %v", tok, err)
			}
		}()
	}
	wg.Wait()
	if ts.Fetches() != 1 || id.requests.Load() != 1 {
		t.Errorf("%d fetches for 16 concurrent callers, want 1", ts.Fetches())
	}
}

func TestWaitingForAFetchHonoursContext(t *testing.T) {
	release := make(chan struct{})
	id := newIdentity(t, func(map[string]string) (int, string) {
		<-release
		return 200, `{"token_type":"Bearer","expires_in":3599,"access_token":"tok-1"}`
	})
	ts := NewTokenSource(config(id, nil, nil), "https://graph.microsoft.com")
	done := make(chan error)
	go func() { _, err := ts.Token(context.Background()); done <- err }()
	for id.requests.Load() == 0 {
		time.Sleep(time.Millisecond)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := ts.Token(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("a caller whose context ended got %v, want context.Canceled without waiting", err)
	}
	close(release)
	if err := <-done; err != nil {
		t.Errorf("fetching caller: %v", err)
	}
}

func TestShortLivedTokensAreNotFetchedOnEveryCall(t *testing.T) {
	n := 0
	id := newIdentity(t, func(map[string]string) (int, string) {
		n++
		return 200, fmt.Sprintf(`{"token_type":"Bearer","expires_in":60,"access_token":"tok-%d"}`, n)
	})
	now := time.Now()
	ts := NewTokenSource(config(id, func() time.Time { return now }, nil), "https://graph.microsoft.com")
	for i := 0; i < 5; i++ {
		ts.Token(context.Background())
	}
	if ts.Fetches() != 1 {
		t.Errorf("a 60 s token (shorter than the 2 min expiry delta) was fetched %d times", ts.Fetches())
	}
	now = now.Add(31 * time.Second) // past half its life: refreshed
	if tok, _ := ts.Token(context.Background()); tok != "tok-2" {
		t.Errorf("token after half its lifetime %q, want a new one", tok)
	}
}

func TestTransientTokenFailuresAreRetried(t *testing.T) {
	type answer struct {
		status     int
		retryAfter string
		body       string
	}
	okBody := `{"token_type":"Bearer","expires_in":3599,"access_token":"tok"}`
	busy := aad("temporarily_unavailable", 90033, "A transient error has occurred. Please try again.")
	tests := []struct {
		name    string
		answers []answer
		want    string // error substring, "" for success
		waits   []time.Duration
	}{
		{"503 then success", []answer{{503, "", busy}, {200, "", okBody}}, "", []time.Duration{time.Second}},
		{"429 with Retry-After", []answer{{429, "5", busy}, {200, "", okBody}}, "", []time.Duration{5 * time.Second}},
		{"gives up after 3 attempts", []answer{{503, "", busy}, {503, "", busy}, {503, "", busy}}, "AADSTS90033", []time.Duration{time.Second, 2 * time.Second}},
		{"a refusal is final at once", []answer{{401, "", aad("invalid_client", 7000222, "expired")}}, "has expired", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var i atomic.Int64
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				a := tt.answers[min(int(i.Add(1))-1, len(tt.answers)-1)]
				if a.retryAfter != "" {
					w.Header().Set("Retry-After", a.retryAfter)
				}
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(a.status)
				fmt.Fprint(w, a.body)
			}))
			defer srv.Close()
			var waits []time.Duration
			cfg := Config{AuthorityHost: srv.URL, TenantID: "contoso.onmicrosoft.com", ClientID: "c", ClientSecret: secret,
				Sleep: func(_ context.Context, d time.Duration) error { waits = append(waits, d); return nil }}
			ts := NewTokenSource(cfg, "https://graph.microsoft.com")
			_, err := ts.Token(context.Background())
			if (tt.want == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tt.want)) {
				t.Fatalf("error %v, want %q", err, tt.want)
			}
			if fmt.Sprint(waits) != fmt.Sprint(tt.waits) || ts.Fetches() != int64(len(tt.waits)+1) {
				t.Errorf("waits %v after %d fetches, want %v", waits, ts.Fetches(), tt.waits)
			}
		})
	}
}

func TestNetworkFailureNamesTheTokenURL(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close() // nothing listens there any more
	var logs bytes.Buffer
	cfg := Config{AuthorityHost: url, TenantID: "contoso.onmicrosoft.com", ClientID: "c", ClientSecret: secret,
		Logger: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Sleep:  func(context.Context, time.Duration) error { return nil }}
	_, err := NewTokenSource(cfg, "https://graph.microsoft.com").Token(context.Background())
	want := url + "/contoso.onmicrosoft.com/oauth2/v2.0/token (3 attempts)"
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("error %v, want it to name %s", err, want)
	}
	if strings.Contains(err.Error()+logs.String(), secret) {
		t.Errorf("the secret leaked: %v\n%s", err, logs.String())
	}
	if n := strings.Count(logs.String(), "retrying"); n != 2 {
		t.Errorf("%d retry log lines, want 2:\n%s", n, logs.String())
	}
}

func TestSecretNeverPrints(t *testing.T) {
	s := Secret(secret)
	holder := struct {
		Name   string
		Secret Secret
		Ptr    *Secret
	}{"app", s, &s}
	js, _ := json.Marshal(holder)
	var text, jsonLog bytes.Buffer
	slog.New(slog.NewTextHandler(&text, nil)).Info("x", "s", s, "holder", holder)
	slog.New(slog.NewJSONHandler(&jsonLog, nil)).Info("x", "s", s, "holder", holder)
	outs := map[string]string{
		"%v": fmt.Sprintf("%v", s), "%s": fmt.Sprintf("%s", s), "%q": fmt.Sprintf("%q", s), "%x": fmt.Sprintf("%x", s),
		"%+v struct": fmt.Sprintf("%+v", holder), "%#v struct": fmt.Sprintf("%#v", holder), "json": string(js),
		"slog text": text.String(), "slog json": jsonLog.String(), "error": fmt.Errorf("wrapped %v", s).Error(),
	}
	for how, out := range outs {
		if strings.Contains(out, secret) || !strings.Contains(out, "[redacted]") {
			t.Errorf("%s: %s", how, out)
		}
	}
	if s.Reveal() != secret {
		t.Errorf("Reveal() = %q", s.Reveal())
	}
}

func TestCheckEndpoint(t *testing.T) {
	tests := map[string]bool{ // URL -> accepted
		"https://graph.microsoft.com":       true,
		"https://contoso.crm4.dynamics.com": true,
		"http://127.0.0.1:8400":             true,
		"http://127.5.5.5":                  true,
		"http://[::1]:8400/v1.0":            true,
		"http://LOCALHOST:1":                true,
		"http://10.0.0.1":                   false,
		"http://localhost.example.com":      false,
		"http://127.0.0.1.nip.io":           false,
		"graph.microsoft.com":               false,
		"ftp://127.0.0.1":                   false,
		"":                                  false,
	}
	for raw, ok := range tests {
		if err := CheckEndpoint(raw); (err == nil) != ok {
			t.Errorf("CheckEndpoint(%q) = %v, want accepted=%v", raw, err, ok)
		}
	}
}

// Workload identity federation: the federated token is read from its file at every token request (the platform
// rotates it), sent as the client assertion, and no secret goes with it.
func TestFederatedTokenIsReadAtEveryRequest(t *testing.T) {
	file := filepath.Join(t.TempDir(), "token")
	os.WriteFile(file, []byte("federated-1\n"), 0o600)
	var seen []string
	id := newIdentity(t, func(form map[string]string) (int, string) {
		if form["client_assertion_type"] != "urn:ietf:params:oauth:client-assertion-type:jwt-bearer" || form["client_secret"] != "" {
			t.Errorf("form %v", form)
		}
		seen = append(seen, form["client_assertion"])
		return 200, `{"token_type":"Bearer","expires_in":3599,"access_token":"tok"}`
	})
	cfg := config(id, nil, nil)
	cfg.ClientSecret, cfg.Assertion = "", FederatedAssertion(file)
	ts := NewTokenSource(cfg, "https://graph.microsoft.com")
	if _, err := ts.Token(context.Background()); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(file, []byte("federated-2"), 0o600)
	ts.Invalidate("tok")
	if _, err := ts.Token(context.Background()); err != nil {
		t.Fatal(err)
	}
	if strings.Join(seen, ",") != "federated-1,federated-2" {
		t.Errorf("assertions sent: %v, want the file's content each time", seen)
	}
}

// An authority host whose certificate this machine does not trust (the simulator with --tls and no SSL_CERT_FILE)
// is named at once with the fix: one request, no retries, no "check the network".
func TestUntrustedAuthorityCertificateIsNamedAtOnce(t *testing.T) {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"token_type":"Bearer","expires_in":3599,"access_token":"tok"}`)
	}))
	defer srv.Close()
	var waits []time.Duration
	var logs bytes.Buffer
	cfg := Config{AuthorityHost: srv.URL, TenantID: "contoso.onmicrosoft.com", ClientID: "c", ClientSecret: secret,
		HTTPClient: &http.Client{}, Logger: slog.New(slog.NewTextHandler(&logs, nil)),
		Sleep: func(_ context.Context, d time.Duration) error { waits = append(waits, d); return nil }}
	ts := NewTokenSource(cfg, "https://graph.microsoft.com")
	_, err := ts.Token(context.Background())
	var ce *outbound.CertificateError
	if !errors.As(err, &ce) {
		t.Fatalf("want a certificate error, got %v", err)
	}
	for _, want := range []string{srv.URL + "/contoso.onmicrosoft.com/oauth2/v2.0/token", "signed by an unknown authority", "set SSL_CERT_FILE to"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
	if ts.Fetches() != 1 || len(waits) != 0 || strings.Contains(logs.String(), "retrying") {
		t.Errorf("a certificate error was retried: %d fetches, waits %v, logs %s", ts.Fetches(), waits, logs.String())
	}
	// With the CA trusted, the same source gets its token.
	cfg.HTTPClient = srv.Client()
	if _, err := NewTokenSource(cfg, "https://graph.microsoft.com").Token(context.Background()); err != nil {
		t.Fatalf("with the CA trusted: %v", err)
	}
}

// A credential file is private when only its owner can read it; a root-owned file readable by its group is too
// when seatlake is not root (a Kubernetes secret volume in a pod with an fsGroup: root:fsGroup 0440).
func TestPrivateEnough(t *testing.T) {
	for _, tc := range []struct {
		perm                 os.FileMode
		rootOwned, runAsRoot bool
		want                 bool
	}{
		{0o600, false, false, true},
		{0o400, false, true, true},
		{0o640, false, false, false},
		{0o644, false, false, false},
		{0o440, true, false, true}, // Kubernetes: defaultMode 0400 with fsGroup
		{0o640, true, false, true},
		{0o440, true, true, false}, // root reading: the group is someone else
		{0o660, true, false, false},
		{0o444, true, false, false},
		{0o604, true, false, false},
	} {
		if got := privateEnough(tc.perm, tc.rootOwned, tc.runAsRoot); got != tc.want {
			t.Errorf("mode %04o root-owned=%v as root=%v: private=%v, want %v", tc.perm, tc.rootOwned, tc.runAsRoot, got, tc.want)
		}
	}
}
