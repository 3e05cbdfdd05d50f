package tenantsim

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/seatlake/seatlake/internal/tenantsim/simkit"
)

func TestFaults(t *testing.T) {
	const path = "/v1.0/auditLogs/signIns"
	tests := []struct {
		fault simkit.Fault
		check func(t *testing.T, resp *http.Response, body []byte, err error)
	}{
		{simkit.Fault{Kind: simkit.Status500}, wantStatus(500, "InternalServerError")},
		{simkit.Fault{Kind: simkit.Status503}, wantStatus(503, "ServiceUnavailable")},
		{simkit.Fault{Kind: simkit.Status504}, wantStatus(504, "GatewayTimeout")},
		{simkit.Fault{Kind: simkit.Throttle429}, func(t *testing.T, resp *http.Response, body []byte, err error) {
			wantStatus(429, "TooManyRequests")(t, resp, body, err)
			if resp != nil && resp.Header.Get("Retry-After") != "1" {
				t.Errorf("Retry-After %q, want 1", resp.Header.Get("Retry-After"))
			}
		}},
		{simkit.Fault{Kind: simkit.Throttle429, Delay: 250 * time.Millisecond}, func(t *testing.T, resp *http.Response, body []byte, err error) {
			if resp == nil || resp.Header.Get("Retry-After") != "0.25" {
				t.Errorf("Retry-After for a 250ms fault: %v", resp)
			}
		}},
		{simkit.Fault{Kind: simkit.ConnReset}, func(t *testing.T, resp *http.Response, body []byte, err error) {
			if err == nil {
				t.Errorf("a reset connection answered %d", resp.StatusCode)
			}
		}},
		{simkit.Fault{Kind: simkit.TruncatedBody}, func(t *testing.T, resp *http.Response, body []byte, err error) {
			if resp == nil || resp.StatusCode != 200 || !errors.Is(err, io.ErrUnexpectedEOF) {
				t.Errorf("truncated body: response %v, error %v; want 200 then unexpected EOF", resp, err)
			}
		}},
		{simkit.Fault{Kind: simkit.SlowPage, Delay: 20 * time.Millisecond}, wantStatus(200, "")},
		{simkit.Fault{Kind: simkit.ExpireTokens}, wantStatus(401, "InvalidAuthenticationToken")},
	}
	for _, tt := range tests {
		t.Run(string(tt.fault.Kind), func(t *testing.T) {
			c := startSim(t, nil)
			f := tt.fault
			f.Path, f.Count = path, 1
			c.s.InjectFault(f)
			resp, body, err := c.try(path + "?$top=100")
			tt.check(t, resp, body, err)
			// The fault was used up: the next request is served normally (with a new token after ExpireTokens).
			if f.Kind == simkit.ExpireTokens {
				_, tok := c.postToken("", nil)
				c.tok = tok["access_token"].(string)
			}
			if resp, body := c.get(path + "?$top=100"); resp.StatusCode != 200 || len(decodePage(t, body).Value) != 100 {
				t.Errorf("after the fault: %d", resp.StatusCode)
			}
			if n := c.s.Stats().Faults[string(f.Kind)]; n != 1 {
				t.Errorf("stats count %d %s faults, want 1", n, f.Kind)
			}
		})
	}
}

func wantStatus(status int, code string) func(*testing.T, *http.Response, []byte, error) {
	return func(t *testing.T, resp *http.Response, body []byte, err error) {
		t.Helper()
		if err != nil || resp.StatusCode != status {
			t.Fatalf("got %v %v, want status %d", resp, err, status)
		}
		if code != "" {
			if e := decodeGraphErr(t, body); e.Error.Code != code {
				t.Errorf("code %q, want %q", e.Error.Code, code)
			}
		}
	}
}

func TestSlowPageHonoursTheClient(t *testing.T) {
	c := startSim(t, nil)
	c.s.InjectFault(simkit.Fault{Path: "/v1.0/users", Kind: simkit.SlowPage, Count: 1, Delay: time.Minute})
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", c.base+"/v1.0/users", nil)
	req.Header.Set("Authorization", "Bearer "+c.tok)
	if _, err := c.hc.Do(req); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("a client giving up on a slow page: %v, want its deadline", err)
	}
	// Close does not wait a minute for the abandoned page.
	done := make(chan error, 1)
	go func() { done <- c.s.Close() }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Close hung on an abandoned slow page")
	}
}

func TestFaultMatchingAndCount(t *testing.T) {
	c := startSim(t, nil)
	c.s.InjectFault(simkit.Fault{Path: "/v1.0/users", Kind: simkit.Status503, Count: 2})
	if resp, _ := c.get("/v1.0/subscribedSkus"); resp.StatusCode != 200 {
		t.Errorf("another path got the fault: %d", resp.StatusCode)
	}
	for i, want := range []int{503, 503, 200} {
		if resp, _ := c.get("/v1.0/users?$top=1"); resp.StatusCode != want {
			t.Errorf("request %d: %d, want %d", i+1, resp.StatusCode, want)
		}
	}
	c.s.InjectFault(simkit.Fault{Path: "/v1.0/users", Kind: simkit.Status500, Count: 5})
	c.s.ClearFaults()
	if resp, _ := c.get("/v1.0/users?$top=1"); resp.StatusCode != 200 {
		t.Errorf("after ClearFaults: %d", resp.StatusCode)
	}
}

func TestFaultsOverHTTP(t *testing.T) {
	c := startSim(t, nil)
	post := func(body string) int {
		resp, err := c.hc.Post(c.base+"/_sim/faults", "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if s := post(`{"path":"/v1.0/users","kind":"Status504","count":1}`); s != 204 {
		t.Fatalf("POST fault: %d", s)
	}
	if resp, _ := c.get("/v1.0/users"); resp.StatusCode != 504 {
		t.Errorf("injected over HTTP: %d, want 504", resp.StatusCode)
	}
	if s := post(`{"path":"/v1.0/users","kind":"SlowPage","count":1,"delay":"10ms"}`); s != 204 {
		t.Fatalf("POST fault with a duration string: %d", s)
	}
	if resp, _ := c.get("/v1.0/users"); resp.StatusCode != 200 {
		t.Errorf("slow page: %d", resp.StatusCode)
	}
	for _, bad := range []string{`{"path":"/v1.0/users","kind":"Explode","count":1}`, `{"path":"/","kind":"Status500","count":0}`, `{"kind":"SlowPage","count":1,"delay":"soon"}`, `nope`} {
		if s := post(bad); s != 400 {
			t.Errorf("%s: %d, want 400", bad, s)
		}
	}
	post(`{"path":"/v1.0/users","kind":"Status500","count":3}`)
	req, _ := http.NewRequest("DELETE", c.base+"/_sim/faults", nil)
	if resp, err := c.hc.Do(req); err != nil || resp.StatusCode != 204 {
		t.Fatalf("DELETE faults: %v %v", resp, err)
	}
	if resp, _ := c.get("/v1.0/users"); resp.StatusCode != 200 {
		t.Errorf("after DELETE /_sim/faults: %d", resp.StatusCode)
	}
}
