package odata

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

// tokens hands out numbered tokens and records invalidations.
type tokens struct {
	mu          sync.Mutex
	n           int
	invalidated []string
}

func (t *tokens) Token(context.Context) (string, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.n == 0 {
		t.n = 1
	}
	return fmt.Sprintf("token-%d", t.n), nil
}

func (t *tokens) Invalidate(tok string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.invalidated = append(t.invalidated, tok)
	t.n++
}

// sleeper records waits instead of sleeping.
type sleeper struct {
	mu    sync.Mutex
	waits []time.Duration
}

func (s *sleeper) sleep(ctx context.Context, d time.Duration) error {
	s.mu.Lock()
	s.waits = append(s.waits, d)
	s.mu.Unlock()
	return ctx.Err()
}

type step struct {
	status     int
	retryAfter string
	file       string // testdata file, {{base}} and the documentation's [Organization URI] replaced by the server
	body       string
	truncate   bool
	hang       bool // answer nothing until the client gives up
	header     map[string]string
	wantAuth   string
}

// script serves the steps in order and records the request URIs.
type script struct {
	t     *testing.T
	srv   *httptest.Server
	mu    sync.Mutex
	steps []step
	seen  []string
	hdrs  []http.Header
}

func newScript(t *testing.T, steps ...step) *script {
	s := &script{t: t, steps: steps}
	s.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		i := len(s.seen)
		s.seen = append(s.seen, r.URL.RequestURI())
		s.hdrs = append(s.hdrs, r.Header.Clone())
		s.mu.Unlock()
		if i >= len(s.steps) {
			t.Errorf("unexpected request %d: %s", i, r.URL.RequestURI())
			w.WriteHeader(500)
			return
		}
		st := s.steps[i]
		if st.wantAuth != "" && r.Header.Get("Authorization") != "Bearer "+st.wantAuth {
			t.Errorf("request %d: Authorization %q, want Bearer %s", i, r.Header.Get("Authorization"), st.wantAuth)
		}
		body := []byte(st.body)
		if st.file != "" {
			b, err := os.ReadFile(filepath.Join("testdata", st.file))
			if err != nil {
				t.Fatal(err)
			}
			body = bytes.ReplaceAll(b, []byte("{{base}}"), []byte(s.srv.URL))
			body = bytes.ReplaceAll(body, []byte("[Organization URI]"), []byte(s.srv.URL))
		}
		if st.hang {
			<-r.Context().Done()
			return
		}
		if st.retryAfter != "" {
			w.Header().Set("Retry-After", st.retryAfter)
		}
		for k, v := range st.header {
			w.Header().Set(k, v)
		}
		w.Header().Set("Content-Length", fmt.Sprint(len(body)))
		if st.status == 0 {
			st.status = 200
		}
		w.WriteHeader(st.status)
		if st.truncate {
			w.Write(body[:len(body)/2])
			panic(http.ErrAbortHandler)
		}
		w.Write(body)
	}))
	t.Cleanup(s.srv.Close)
	return s
}

func testClient(s *script, tok *tokens, sl *sleeper, p outbound.RetryPolicy) (*Client, *outbound.Stats) {
	st := &outbound.Stats{}
	c := NewClient(Config{Tokens: tok, Retry: p, Sleep: sl.sleep, Rand: func() float64 { return 0.5 },
		Header: http.Header{"Prefer": {"odata.maxpagesize=5000"}}}).WithStats(st)
	return c, st
}

// nextOf decodes just the nextLink and counts rows, as extractors do.
func nextOf(rows *int) func([]byte) (string, error) {
	return func(body []byte) (string, error) {
		var p struct {
			Next  string            `json:"@odata.nextLink"`
			Value []json.RawMessage `json:"value"`
		}
		if err := json.Unmarshal(body, &p); err != nil {
			return "", fmt.Errorf("%w: %v", ErrBadPage, err)
		}
		*rows += len(p.Value)
		return p.Next, nil
	}
}

// The two pages of "Page results using OData" (Dataverse), replayed verbatim: each paging-cookie nextLink is sent
// back exactly as given, with the same Prefer: odata.maxpagesize, until a page has none.
func TestWalkFollowsNextLinkVerbatim(t *testing.T) {
	s := newScript(t, step{file: "dataverse_page1.json", header: map[string]string{"Preference-Applied": "odata.maxpagesize=2"}},
		step{file: "dataverse_page2.json", header: map[string]string{"Preference-Applied": "odata.maxpagesize=2"}},
		step{file: "dataverse_page3.json"})
	c, st := testClient(s, &tokens{}, &sleeper{}, outbound.RetryPolicy{})
	rows := 0
	if err := c.Walk(context.Background(), s.srv.URL+"/api/data/v9.2/contacts?$select=fullname", nextOf(&rows)); err != nil {
		t.Fatal(err)
	}
	want := []string{"/api/data/v9.2/contacts?$select=fullname",
		"/api/data/v9.2/contacts?$select=fullname&$skiptoken=%3Ccookie%20pagenumber=%222%22%20pagingcookie=%22%253ccookie%2520page%253d%25221%2522%253e%253ccontactid%2520last%253d%2522%257bD5026A4D-D01C-ED11-B83E-000D3A572421%257d%2522%2520first%253d%2522%257b49B0BE2E-D01C-ED11-B83E-000D3A572421%257d%2522%2520%252f%253e%253c%252fcookie%253e%22%20istracking=%22False%22%20/%3E",
		"/api/data/v9.2/contacts?$select=fullname&$skiptoken=%3Ccookie%20pagenumber=%223%22%20pagingcookie=%22%253ccookie%2520page%253d%25222%2522%253e%253ccontactid%2520last%253d%2522%257bF2318099-171F-ED11-B83E-000D3A572421%257d%2522%2520first%253d%2522%257bBB55F942-161F-ED11-B83E-000D3A572421%257d%2522%2520%252f%253e%253c%252fcookie%253e%22%20istracking=%22False%22%20/%3E",
	}
	if strings.Join(s.seen, "\n") != strings.Join(want, "\n") {
		t.Fatalf("requests\n%s\nwant\n%s\nthe paging cookie must be sent back exactly as given", strings.Join(s.seen, "\n"), strings.Join(want, "\n"))
	}
	if rows != 4 || st.Requests.Load() != 3 {
		t.Errorf("rows %d, requests %d: want 4 rows over 3 pages (the last empty)", rows, st.Requests.Load())
	}
	for _, h := range s.hdrs {
		if h.Get("Prefer") != "odata.maxpagesize=5000" || h.Get("Accept") != "application/json" || h.Get("Authorization") != "Bearer token-1" {
			t.Errorf("headers %v", h)
		}
	}
}

func TestRetries(t *testing.T) {
	ok := step{body: `{"value":[{"a":1}]}`}
	tests := []struct {
		name      string
		steps     []step
		policy    outbound.RetryPolicy
		wantErr   string
		wantWaits []time.Duration
		throttled int64
		retries   int64
	}{
		{
			name:      "429 with fractional Retry-After, then success",
			steps:     []step{{status: 429, retryAfter: "2.128", file: "dataverse_429.json"}, ok},
			wantWaits: []time.Duration{2128 * time.Millisecond}, throttled: 1, retries: 1,
		},
		{
			name:      "503 without Retry-After backs off with jitter",
			steps:     []step{{status: 503, body: "busy"}, {status: 504}, ok},
			policy:    outbound.RetryPolicy{BaseDelay: time.Second, MaxDelay: time.Minute},
			wantWaits: []time.Duration{500 * time.Millisecond, time.Second}, retries: 2,
		},
		{
			name:      "truncated body is a transport error and retried",
			steps:     []step{{body: `{"value":[{"a":1},{"a":2}]}`, truncate: true}, ok},
			wantWaits: []time.Duration{500 * time.Millisecond}, retries: 1,
		},
		{
			name:    "gives up after MaxAttempts failures, by name",
			steps:   []step{{status: 503}, {status: 503}, {status: 503}},
			policy:  outbound.RetryPolicy{MaxAttempts: 3},
			wantErr: "giving up on GET", retries: 2,
			wantWaits: []time.Duration{500 * time.Millisecond, time.Second},
		},
		{
			name:    "gives up when the next wait passes MaxTotalWait",
			steps:   []step{{status: 429, retryAfter: "30"}, {status: 429, retryAfter: "40"}},
			policy:  outbound.RetryPolicy{MaxTotalWait: time.Minute},
			wantErr: "after 2 attempts and 30s waited", throttled: 2, retries: 1,
			wantWaits: []time.Duration{30 * time.Second},
		},
		{
			name:    "403 is not retried and keeps the service's code",
			steps:   []step{{status: 403, file: "graph_403.json"}},
			wantErr: "HTTP 403 Authorization_RequestDenied: Insufficient privileges",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newScript(t, tt.steps...)
			sl := &sleeper{}
			c, st := testClient(s, &tokens{}, sl, tt.policy)
			rows := 0
			err := c.Walk(context.Background(), s.srv.URL+"/v1.0/users", nextOf(&rows))
			if tt.wantErr == "" && err != nil {
				t.Fatalf("error %v", err)
			}
			if tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
				t.Fatalf("error %v, want one containing %q", err, tt.wantErr)
			}
			if fmt.Sprint(sl.waits) != fmt.Sprint(tt.wantWaits) {
				t.Errorf("waits %v, want %v", sl.waits, tt.wantWaits)
			}
			if st.Throttled.Load() != tt.throttled || st.Retries.Load() != tt.retries {
				t.Errorf("throttled %d retries %d, want %d and %d", st.Throttled.Load(), st.Retries.Load(), tt.throttled, tt.retries)
			}
			if tt.wantErr == "" && rows != 1 {
				t.Errorf("%d rows, want 1", rows)
			}
		})
	}
}

func TestHTTPErrorCarriesTheServiceCode(t *testing.T) {
	s := newScript(t, step{status: 403, file: "graph_403.json"})
	c, _ := testClient(s, &tokens{}, &sleeper{}, outbound.RetryPolicy{})
	var buf bytes.Buffer
	err := c.Get(context.Background(), s.srv.URL+"/v1.0/users?$select=id", &buf)
	var he *outbound.Error
	if !errors.As(err, &he) {
		t.Fatalf("error %v is not an *outbound.Error", err)
	}
	if he.Status != 403 || he.Code != "Authorization_RequestDenied" || he.RequestID != "3e4d6c4b-7d1c-4b8e-9a2b-1f3e5c6d7e8f" || strings.Contains(he.URL, "$select") {
		t.Errorf("%+v", he)
	}
}

func TestUnauthorizedGetsOneNewToken(t *testing.T) {
	unauth := step{status: 401, body: `{"error":{"code":"InvalidAuthenticationToken","message":"Access token has expired or is not yet valid."}}`}
	t.Run("new token succeeds", func(t *testing.T) {
		s := newScript(t, step{status: 401, body: unauth.body, wantAuth: "token-1"}, step{body: `{"value":[{}]}`, wantAuth: "token-2"})
		tok := &tokens{}
		c, st := testClient(s, tok, &sleeper{}, outbound.RetryPolicy{})
		rows := 0
		if err := c.Walk(context.Background(), s.srv.URL+"/v1.0/users", nextOf(&rows)); err != nil {
			t.Fatal(err)
		}
		if len(tok.invalidated) != 1 || tok.invalidated[0] != "token-1" || st.AuthRefreshes.Load() != 1 {
			t.Errorf("invalidated %v, refreshes %d", tok.invalidated, st.AuthRefreshes.Load())
		}
	})
	t.Run("second 401 is returned", func(t *testing.T) {
		s := newScript(t, unauth, unauth)
		c, _ := testClient(s, &tokens{}, &sleeper{}, outbound.RetryPolicy{})
		rows := 0
		err := c.Walk(context.Background(), s.srv.URL+"/v1.0/users", nextOf(&rows))
		var he *outbound.Error
		if !errors.As(err, &he) || he.Status != 401 || len(s.seen) != 2 {
			t.Errorf("error %v after %d requests: want the second 401", err, len(s.seen))
		}
	})
}

func TestBadPageIsFetchedAgain(t *testing.T) {
	s := newScript(t, step{body: `{"value":[{"a":`}, step{body: `{"value":[{"a":1}]}`})
	c, st := testClient(s, &tokens{}, &sleeper{}, outbound.RetryPolicy{})
	rows := 0
	if err := c.Walk(context.Background(), s.srv.URL+"/x", nextOf(&rows)); err != nil {
		t.Fatal(err)
	}
	if rows != 1 || st.Retries.Load() != 1 || len(s.seen) != 2 {
		t.Errorf("rows %d retries %d requests %d", rows, st.Retries.Load(), len(s.seen))
	}
}

func TestWalkFollowsAGraphChainExactly(t *testing.T) {
	s := newScript(t, step{file: "graph_users_page1.json"}, step{file: "graph_users_page2.json"}, step{file: "graph_users_page3.json"})
	c, _ := testClient(s, &tokens{}, &sleeper{}, outbound.RetryPolicy{})
	rows := 0
	if err := c.Walk(context.Background(), s.srv.URL+"/v1.0/users?$select=id,userPrincipalName&$top=2", nextOf(&rows)); err != nil {
		t.Fatal(err)
	}
	want := []string{
		"/v1.0/users?$select=id,userPrincipalName&$top=2",
		"/v1.0/users?$select=id%2cuserPrincipalName&$top=2&$skiptoken=RFNwdAIAAQAAACpHcm91cF8xZTA4MWVlMy0xNGI2LTQ4NWItYjc1Zi0zOTg3ZGVmODMyYjQ",
		"/v1.0/users?$select=id%2cuserPrincipalName&$top=2&$skiptoken=RFNwdAIAAQAAACpHcm91cF8yZjA4MWVlMy0xNGI2LTQ4NWItYjc1Zi0zOTg3ZGVmODMyYjQ",
	}
	if fmt.Sprint(s.seen) != fmt.Sprint(want) {
		t.Errorf("requests\n%q\nwant\n%q", s.seen, want)
	}
	if rows != 3 {
		t.Errorf("%d rows, want 3 (the middle page is empty)", rows)
	}
}

func TestBackoffIsCappedWithFullJitter(t *testing.T) {
	busy := step{status: 503, file: "graph_429.json"}
	for _, r := range []float64{0, 0.5, 0.999} {
		t.Run(fmt.Sprint(r), func(t *testing.T) {
			s := newScript(t, busy, busy, busy, busy, busy, step{body: `{"value":[]}`})
			sl := &sleeper{}
			st := &outbound.Stats{}
			c := NewClient(Config{Tokens: &tokens{}, Sleep: sl.sleep, Rand: func() float64 { return r },
				Retry: outbound.RetryPolicy{BaseDelay: time.Second, MaxDelay: 3 * time.Second}}).WithStats(st)
			var buf bytes.Buffer
			if err := c.Get(context.Background(), s.srv.URL+"/v1.0/users", &buf); err != nil {
				t.Fatal(err)
			}
			var want []time.Duration
			var total time.Duration
			for _, ceil := range []time.Duration{time.Second, 2 * time.Second, 3 * time.Second, 3 * time.Second, 3 * time.Second} {
				d := time.Duration(r * float64(ceil))
				want = append(want, d)
				total += d
			}
			if fmt.Sprint(sl.waits) != fmt.Sprint(want) || st.Waited() != total || st.Retries.Load() != 5 {
				t.Errorf("waits %v (total %v, %d retries), want %v: 1 s doubling, capped at 3 s, scaled by the jitter", sl.waits, st.Waited(), st.Retries.Load(), want)
			}
		})
	}
}

func TestGivingUpSaysWhatHowOftenAndHowLong(t *testing.T) {
	busy := step{status: 503, body: `{"error":{"code":"ServiceUnavailable","message":"Service Unavailable"}}`}
	s := newScript(t, busy, busy, busy)
	c, _ := testClient(s, &tokens{}, &sleeper{}, outbound.RetryPolicy{MaxAttempts: 3})
	var buf bytes.Buffer
	err := c.Get(context.Background(), s.srv.URL+"/v1.0/auditLogs/signIns?$filter=createdDateTime%20ge%202026-11-01", &buf)
	want := "giving up on GET " + s.srv.URL + "/v1.0/auditLogs/signIns after 3 attempts and 1.5s waited: GET " +
		s.srv.URL + "/v1.0/auditLogs/signIns: HTTP 503 ServiceUnavailable: Service Unavailable"
	if err == nil || err.Error() != want {
		t.Errorf("error\n%v\nwant\n%s", err, want)
	}
	var he *outbound.Error
	if !errors.As(err, &he) || he.Status != 503 {
		t.Errorf("the last answer is not reachable with errors.As: %v", err)
	}
}

func TestHTTPErrorParsing(t *testing.T) {
	tests := []struct {
		name string
		st   step
		want outbound.Error
	}{
		{"graph no premium", step{status: 403, file: "graph_403_nonpremium.json"}, outbound.Error{Status: 403,
			Code: "Authentication_RequestFromNonPremiumTenantOrB2CTenant", Message: "Neither tenant is B2C or tenant doesn't have premium license",
			RequestID: "2d4d6c4b-7d1c-4b8e-9a2b-1f3e5c6d7e8f"}},
		{"graph denied", step{status: 403, file: "graph_403.json"}, outbound.Error{Status: 403, Code: "Authorization_RequestDenied",
			Message: "Insufficient privileges to complete the operation.", RequestID: "3e4d6c4b-7d1c-4b8e-9a2b-1f3e5c6d7e8f"}},
		{"dataverse", step{status: 404, file: "dataverse_404.json", header: map[string]string{"x-ms-service-request-id": "b1f0c3e2"}},
			outbound.Error{Status: 404, Code: "0x8006088a", Message: "Resource not found for the segment 'Account'.", RequestID: "b1f0c3e2"}},
		{"not json", step{status: 400, body: "<html>\r\n<body>Bad\r\n   Request</body>\r\n</html>"},
			outbound.Error{Status: 400, Message: "<html> <body>Bad Request</body> </html>"}},
		{"long", step{status: 400, body: strings.Repeat("é", 300)}, outbound.Error{Status: 400, Message: strings.Repeat("é", 100) + "…"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newScript(t, tt.st)
			c, st := testClient(s, &tokens{}, &sleeper{}, outbound.RetryPolicy{})
			var buf bytes.Buffer
			err := c.Get(context.Background(), s.srv.URL+"/api/x?$filter=a", &buf)
			var he *outbound.Error
			if !errors.As(err, &he) {
				t.Fatalf("error %v is not an *outbound.Error", err)
			}
			tt.want.URL = s.srv.URL + "/api/x"
			if *he != tt.want {
				t.Errorf("got  %+v\nwant %+v", *he, tt.want)
			}
			if strings.ContainsAny(err.Error(), "\r\n") || st.Retries.Load() != 0 || len(s.seen) != 1 {
				t.Errorf("error %q: want one line, no retry", err)
			}
		})
	}
}

func TestPerAttemptTimeout(t *testing.T) {
	ok := step{body: `{"value":[{"a":1}]}`}
	t.Run("retried", func(t *testing.T) {
		s := newScript(t, step{hang: true}, ok)
		c := NewClient(Config{Tokens: &tokens{}, Sleep: (&sleeper{}).sleep, RequestTimeout: 20 * time.Millisecond})
		rows := 0
		if err := c.Walk(context.Background(), s.srv.URL+"/x", nextOf(&rows)); err != nil || rows != 1 {
			t.Errorf("rows %d, error %v: a slow answer should be retried", rows, err)
		}
	})
	t.Run("named when giving up", func(t *testing.T) {
		s := newScript(t, step{hang: true}, step{hang: true})
		c := NewClient(Config{Tokens: &tokens{}, Sleep: (&sleeper{}).sleep, RequestTimeout: 20 * time.Millisecond, Retry: outbound.RetryPolicy{MaxAttempts: 2}})
		err := c.Walk(context.Background(), s.srv.URL+"/x", nextOf(new(int)))
		if err == nil || !strings.Contains(err.Error(), "after 2 attempts") || !strings.Contains(err.Error(), "no complete answer within the request timeout of 20ms") {
			t.Errorf("error %v", err)
		}
	})
}

func TestNextLinkMustStayOnTheHost(t *testing.T) {
	var elsewhere atomic.Int64
	other := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { elsewhere.Add(1) }))
	defer other.Close()
	tests := []struct {
		name, next, want string
	}{
		{"other host", other.URL + "/v1.0/users?$skiptoken=x", "refusing to send the token to another host"},
		{"itself", "{{self}}", "names itself as its nextLink"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newScript(t, step{body: `{"value":[],"@odata.nextLink":"` + tt.next + `"}`})
			next := tt.next
			if next == "{{self}}" {
				s.steps[0].body = `{"value":[],"@odata.nextLink":"` + s.srv.URL + `/v1.0/users"}`
			}
			c, _ := testClient(s, &tokens{}, &sleeper{}, outbound.RetryPolicy{})
			err := c.Walk(context.Background(), s.srv.URL+"/v1.0/users", nextOf(new(int)))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %v, want %q", err, tt.want)
			}
			if len(s.seen) != 1 || elsewhere.Load() != 0 {
				t.Errorf("%d requests here, %d elsewhere: want only the first page", len(s.seen), elsewhere.Load())
			}
		})
	}
}

func TestDecodeErrors(t *testing.T) {
	errSchema := errors.New("unexpected type for id")
	t.Run("other errors stop the walk", func(t *testing.T) {
		s := newScript(t, step{body: `{"value":[]}`})
		c, st := testClient(s, &tokens{}, &sleeper{}, outbound.RetryPolicy{})
		err := c.Walk(context.Background(), s.srv.URL+"/x", func([]byte) (string, error) { return "", errSchema })
		if !errors.Is(err, errSchema) || st.Requests.Load() != 1 {
			t.Errorf("error %v after %d requests: want the decoder's error, no refetch", err, st.Requests.Load())
		}
	})
	t.Run("bad pages give up after MaxAttempts", func(t *testing.T) {
		bad := step{body: `{"value":[`}
		s := newScript(t, bad, bad)
		sl := &sleeper{}
		c, st := testClient(s, &tokens{}, sl, outbound.RetryPolicy{MaxAttempts: 2})
		err := c.Walk(context.Background(), s.srv.URL+"/x", nextOf(new(int)))
		if !errors.Is(err, ErrBadPage) || !strings.Contains(err.Error(), "malformed 2 times") || st.Retries.Load() != 1 || len(sl.waits) != 1 {
			t.Errorf("error %v, %d retries, waits %v", err, st.Retries.Load(), sl.waits)
		}
	})
}

type failingTokens struct{ err error }

func (f failingTokens) Token(context.Context) (string, error) { return "", f.err }
func (failingTokens) Invalidate(string)                       {}

func TestTokenErrorsAreReturnedUnretried(t *testing.T) {
	refused := errors.New("the client secret is wrong (AADSTS7000215)")
	s := newScript(t)
	c := NewClient(Config{Tokens: failingTokens{refused}, Sleep: (&sleeper{}).sleep})
	err := c.Walk(context.Background(), s.srv.URL+"/v1.0/users", nextOf(new(int)))
	if !errors.Is(err, refused) || len(s.seen) != 0 {
		t.Errorf("error %v after %d requests", err, len(s.seen))
	}
}

func TestNoTokenProviderSendsNoAuthorization(t *testing.T) {
	s := newScript(t, step{body: `{"value":[]}`})
	c := NewClient(Config{})
	if err := c.Walk(context.Background(), s.srv.URL+"/x", nextOf(new(int))); err != nil {
		t.Fatal(err)
	}
	if h := s.hdrs[0].Get("Authorization"); h != "" {
		t.Errorf("Authorization %q without a token provider", h)
	}
}

func TestWaitsHonourContext(t *testing.T) {
	s := newScript(t, step{status: 503})
	c := NewClient(Config{Tokens: &tokens{}, Rand: func() float64 { return 1 }, Retry: outbound.RetryPolicy{BaseDelay: time.Hour, MaxTotalWait: 2 * time.Hour}})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	var buf bytes.Buffer
	if err := c.Get(ctx, s.srv.URL+"/x", &buf); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("error %v, want the context's", err)
	}
}

func TestOneLogLinePerRetryWithoutTokenOrQuery(t *testing.T) {
	var logs bytes.Buffer
	s := newScript(t, step{status: 503}, step{status: 429, retryAfter: "1", file: "graph_429.json"},
		step{status: 401, body: `{"error":{"code":"InvalidAuthenticationToken","message":"Access token has expired or is not yet valid."}}`},
		step{body: `{"value":[{"a":1}]}`})
	st := &outbound.Stats{}
	c := NewClient(Config{Tokens: &tokens{}, Sleep: (&sleeper{}).sleep, Rand: func() float64 { return 0.5 },
		Logger: slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))}).WithStats(st)
	if err := c.Walk(context.Background(), s.srv.URL+"/v1.0/users?$skiptoken=opaque", nextOf(new(int))); err != nil {
		t.Fatal(err)
	}
	out := logs.String()
	if n := strings.Count(out, "request failed, retrying"); n != 2 || st.Retries.Load() != 2 || st.AuthRefreshes.Load() != 1 || st.Requests.Load() != 4 {
		t.Errorf("%d retry lines, stats %d retries %d refreshes %d requests:\n%s", n, st.Retries.Load(), st.AuthRefreshes.Load(), st.Requests.Load(), out)
	}
	if strings.Contains(out, "token-") || strings.Contains(out, "opaque") || strings.Contains(out, "Bearer") {
		t.Errorf("a token or the query leaked into the log:\n%s", out)
	}
}

// A server whose certificate this machine does not trust fails at once, naming the problem and the fix: retrying
// cannot change a certificate, and "check the network" would send a person the wrong way.
func TestUntrustedCertificateIsNamedAtOnce(t *testing.T) {
	var hits atomic.Int64
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		w.Write([]byte(`{"value":[]}`))
	}))
	defer srv.Close()
	sl := &sleeper{}
	st := &outbound.Stats{}
	c := NewClient(Config{HTTPClient: &http.Client{}, Sleep: sl.sleep, Logger: slog.New(slog.DiscardHandler)}).WithStats(st)
	err := c.Walk(context.Background(), srv.URL+"/v1.0/users", func([]byte) (string, error) { return "", nil })
	if err == nil {
		t.Fatal("an untrusted certificate was accepted")
	}
	var ce *outbound.CertificateError
	if !errors.As(err, &ce) {
		t.Fatalf("want a *CertificateError, got %T: %v", err, err)
	}
	for _, want := range []string{"the server's certificate is signed by an unknown authority", "set SSL_CERT_FILE to", "seatlake sim --tls prints it"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
	if len(sl.waits) != 0 || st.Retries.Load() != 0 || st.Requests.Load() != 1 {
		t.Errorf("retried a certificate error: %d requests, %d retries, waits %v", st.Requests.Load(), st.Retries.Load(), sl.waits)
	}
	// Trusting the server's CA (what SSL_CERT_FILE does) is the fix.
	c = NewClient(Config{HTTPClient: srv.Client(), Sleep: sl.sleep})
	if err := c.Walk(context.Background(), srv.URL+"/v1.0/users", func([]byte) (string, error) { return "", nil }); err != nil {
		t.Fatalf("with the CA trusted: %v", err)
	}
}
