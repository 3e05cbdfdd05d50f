package outbound

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// noWait is a Sleep that returns at once.
func noWait(ctx context.Context, _ time.Duration) error { return ctx.Err() }

// answer is one scripted answer of a test server.
type answer struct {
	status int
	header map[string]string
	body   string
}

// served is what a test server saw.
type served struct {
	mu   sync.Mutex
	reqs []*http.Request
	body []string
}

func (s *served) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.reqs)
}

// answers serves the answers in order (the last one again when they run out), on 127.0.0.1.
func answers(t *testing.T, as ...answer) *httptest.Server {
	srv, _ := recorded(t, as...)
	return srv
}

func recorded(t *testing.T, as ...answer) (*httptest.Server, *served) {
	seen := &served{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		seen.mu.Lock()
		i := len(seen.reqs)
		seen.reqs, seen.body = append(seen.reqs, r.Clone(context.Background())), append(seen.body, string(b))
		seen.mu.Unlock()
		a := as[min(i, len(as)-1)]
		for k, v := range a.header {
			w.Header().Set(k, v)
		}
		w.WriteHeader(max(a.status, 200))
		io.WriteString(w, a.body)
	}))
	t.Cleanup(srv.Close)
	return srv, seen
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	tests := map[string]time.Duration{
		"":                              0,
		"3":                             3 * time.Second,
		"2.128":                         2128 * time.Millisecond,
		"0.5":                           500 * time.Millisecond,
		"Sun, 22 Nov 2026 10:00:05 GMT": 5 * time.Second,
		"Sun, 22 Nov 2026 09:59:00 GMT": 0,
		"soon":                          0,
		"-1":                            0,
	}
	for in, want := range tests {
		if got := ParseRetryAfter(in, now); got != want {
			t.Errorf("ParseRetryAfter(%q) = %v, want %v", in, got, want)
		}
	}
}

// A Retry-After is rounded to its last digit: the gate learns a limit within that step.
func TestRetryAfterStep(t *testing.T) {
	tests := map[string]time.Duration{
		"":                              0,
		"3":                             time.Second,
		"1.3":                           100 * time.Millisecond,
		"2.128":                         time.Millisecond,
		"0":                             time.Second,
		"Sun, 22 Nov 2026 10:00:05 GMT": time.Second,
		"soon":                          0,
		"-1":                            0,
	}
	for in, want := range tests {
		if got := RetryAfterStep(in); got != want {
			t.Errorf("RetryAfterStep(%q) = %v, want %v", in, got, want)
		}
	}
}

// Retry decides by the type of what an attempt returned: a service's answer as a request's, a Final error or an
// untrusted certificate never again, anything else (no complete answer) again after the backoff.
func TestRetryDecidesByTypedErrors(t *testing.T) {
	network := errors.New("connection reset by peer")
	refused := errors.New("the client secret is wrong")
	busy := &Error{Method: http.MethodPost, URL: "https://login.example/token", Status: 503}
	throttled := &Error{Method: http.MethodPost, URL: "https://login.example/token", Status: 429, RetryAfter: 5 * time.Second}
	badRequest := &Error{Method: http.MethodPost, URL: "https://login.example/token", Status: 400, Code: "invalid_request"}
	untrusted := &CertificateError{Problem: "the server's certificate is signed by an unknown authority", Fix: "set SSL_CERT_FILE"}
	tests := []struct {
		name    string
		results []error // what each attempt returns; nil ends it
		want    error   // errors.Is
		wantMsg string
		waits   []time.Duration
	}{
		{"no answer, then success", []error{network, network, nil}, nil, "", []time.Duration{time.Second, 2 * time.Second}},
		{"503, then success", []error{busy, nil}, nil, "", []time.Duration{time.Second}},
		{"429 waits its Retry-After", []error{throttled, nil}, nil, "", []time.Duration{5 * time.Second}},
		{"400 is final", []error{badRequest}, badRequest, "HTTP 400 invalid_request", nil},
		{"Final is final, and comes back unmarked", []error{Final(refused)}, refused, "the client secret is wrong", nil},
		{"a certificate is final", []error{fmt.Errorf("requesting a token: %w", untrusted)}, untrusted, "set SSL_CERT_FILE", nil},
		{"gives up after MaxAttempts, by name", []error{network, network, network}, network,
			"giving up on POST https://login.example/token after 3 attempts and 3s waited: connection reset by peer",
			[]time.Duration{time.Second, 2 * time.Second}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var waits []time.Duration
			st := &Stats{}
			sleep := func(_ context.Context, d time.Duration) error { waits = append(waits, d); return nil }
			c := New(Config{Sleep: sleep, Rand: func() float64 { return 1 }, Retry: RetryPolicy{MaxAttempts: 3}}).WithStats(st)
			calls := 0
			err := c.Retry(context.Background(), "POST https://login.example/token", func(context.Context) error {
				calls++
				return tt.results[calls-1]
			})
			if tt.want == nil && err != nil || tt.want != nil && !errors.Is(err, tt.want) {
				t.Fatalf("error %v, want %v", err, tt.want)
			}
			var fe *finalError
			if err != nil && (!strings.Contains(err.Error(), tt.wantMsg) || errors.As(err, &fe)) {
				t.Errorf("error %q (%T), want one saying %q", err, err, tt.wantMsg)
			}
			if calls != len(tt.results) || fmt.Sprint(waits) != fmt.Sprint(tt.waits) || st.Retries.Load() != int64(len(tt.waits)) {
				t.Errorf("%d attempts, waits %v, %d retries; want %d attempts, waits %v", calls, waits, st.Retries.Load(), len(tt.results), tt.waits)
			}
		})
	}
}

// Fixed credentials (basic auth, a container token) go on every request, and a 401 to them is final: no new token
// can come, so asking again would only repeat the refusal.
func TestFixedCredentialsRefusedAreFinal(t *testing.T) {
	srv, seen := recorded(t, answer{status: 401, body: `{"error":{"message":"User Not Authenticated","detail":"Required to provide Auth information"},"status":"failure"}`})
	c := New(Config{Authorize: func(r *http.Request) { r.SetBasicAuth("integration", "pw") }, Sleep: noWait})
	var buf bytes.Buffer
	err := c.Get(context.Background(), srv.URL+"/api/now/table/sys_import_set?sysparm_limit=1", &buf)
	var he *Error
	if !errors.As(err, &he) || he.Status != 401 || seen.count() != 1 {
		t.Fatalf("error %v after %d requests: want the 401, once", err, seen.count())
	}
	if u, p, ok := seen.reqs[0].BasicAuth(); !ok || u != "integration" || p != "pw" {
		t.Errorf("credentials sent: %q %q %v", u, p, ok)
	}
	// Without ReadError the body is the message, on one line; the query string is never in the error.
	if strings.Contains(he.Message, "\n") || !strings.Contains(he.Message, "User Not Authenticated") || strings.Contains(err.Error(), "sysparm") {
		t.Errorf("error %q", err)
	}
}

// JSON sends its value with Content-Type application/json, decodes the answer, leaves out alone on an empty
// answer, and does not repeat a request whose answer does not decode (the service answered; asking again would
// not change it).
func TestJSON(t *testing.T) {
	srv, seen := recorded(t, answer{body: `{"import_set_id":"ISET0010001"}`}, answer{status: 204}, answer{body: `{"links":`})
	c := New(Config{Sleep: noWait})
	var ans struct {
		ImportSetID string `json:"import_set_id"`
	}
	if err := c.JSON(context.Background(), http.MethodPost, srv.URL+"/api/now/import/u_x/insertMultiple", map[string]any{"records": []string{}}, &ans); err != nil || ans.ImportSetID != "ISET0010001" {
		t.Fatalf("answer %+v, %v", ans, err)
	}
	if ct := seen.reqs[0].Header.Get("Content-Type"); ct != "application/json" || seen.body[0] != `{"records":[]}` {
		t.Errorf("sent %q as %q", seen.body[0], ct)
	}
	if err := c.JSON(context.Background(), http.MethodDelete, srv.URL+"/cancel", nil, &ans); err != nil || ans.ImportSetID != "ISET0010001" {
		t.Errorf("an empty answer: %+v, %v", ans, err)
	}
	if seen.reqs[1].Header.Get("Content-Type") != "" || seen.body[1] != "" {
		t.Errorf("a request without a value carried %q as %q", seen.body[1], seen.reqs[1].Header.Get("Content-Type"))
	}
	err := c.JSON(context.Background(), http.MethodGet, srv.URL+"/info", nil, &ans)
	if err == nil || !strings.Contains(err.Error(), "GET "+srv.URL+"/info: decoding the answer") || seen.count() != 3 {
		t.Errorf("an answer that does not decode: %v after %d requests", err, seen.count())
	}
}

// A service's own error shape is read by ReadError, from the headers and the body.
func TestReadError(t *testing.T) {
	srv := answers(t, answer{status: 409, header: map[string]string{"X-Request": "r-1"}, body: `{"result":"error","errorCode":"IN_PROGRESS"}`})
	c := New(Config{ReadError: func(h http.Header, body []byte, e *Error) {
		e.Code, e.RequestID = "IN_PROGRESS", h.Get("X-Request")
	}})
	var buf bytes.Buffer
	err := c.Post(context.Background(), srv.URL+"/start", nil, &buf)
	want := "POST " + srv.URL + "/start: HTTP 409 IN_PROGRESS (request-id r-1)"
	if err == nil || err.Error() != want {
		t.Errorf("error %v, want %s", err, want)
	}
}
