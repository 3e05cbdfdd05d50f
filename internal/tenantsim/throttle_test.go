package tenantsim

import (
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/seatlake/seatlake/internal/tenantsim/ids"
)

func TestRealisticReportingLimit(t *testing.T) {
	s, clk, tok := throttledSim(t, "realistic")
	get := func(path string) *httptest.ResponseRecorder { return serveDirect(s, tok, path) }
	admitted(t, s, clk, tok, "/v1.0/auditLogs/signIns?$top=1", 5, time.Second)
	// Sixth request within 10 s: 429, told to come back when the first one leaves the window (10 s - 5 s).
	rec := get("/v1.0/auditLogs/signIns?$top=1")
	if rec.Code != 429 || rec.Header().Get("Retry-After") != "5" {
		t.Fatalf("sixth request: %d Retry-After %q, want 429 and 5", rec.Code, rec.Header().Get("Retry-After"))
	}
	e := decodeGraphErr(t, rec.Body.Bytes())
	if e.Error.Code != "TooManyRequests" || e.Error.InnerError["status"] != "429" || e.Error.InnerError["code"] != "429" {
		t.Errorf("429 body %+v", e.Error)
	}
	// users with signInActivity counts against the same reporting budget; plain users does not.
	if rec := get("/v1.0/users?$select=id,signInActivity"); rec.Code != 429 {
		t.Errorf("users with signInActivity: %d, want 429", rec.Code)
	}
	if rec := get("/v1.0/users?$select=id"); rec.Code != 200 {
		t.Errorf("users without signInActivity: %d, want 200", rec.Code)
	}
	// A client that waits Retry-After gets through: throttled requests did not use the budget.
	clk.Advance(5 * time.Second)
	if rec := get("/v1.0/auditLogs/signIns?$top=1"); rec.Code != 200 {
		t.Errorf("after Retry-After: %d", rec.Code)
	}
	if st := s.Stats(); st.Throttled["signIns"] != 1 || st.Throttled["users"] != 1 || st.Requests["signIns"] != 7 {
		t.Errorf("stats %+v", st)
	}
}

func TestSignInActivityLimit(t *testing.T) {
	s, clk, tok := throttledSim(t, "realistic")
	// 10 a minute, even when spaced within the reporting limit.
	admitted(t, s, clk, tok, "/v1.0/users?$select=id,signInActivity", 10, 3*time.Second)
	rec := serveDirect(s, tok, "/v1.0/users?$select=id,signInActivity")
	if rec.Code != 429 || rec.Header().Get("Retry-After") != "30" {
		t.Errorf("11th signInActivity request in a minute: %d Retry-After %q, want 429 and 30", rec.Code, rec.Header().Get("Retry-After"))
	}
}

func TestScaledLimitsAndOff(t *testing.T) {
	scaled := newSim(t, func(c *Config) { c.Throttle = "scaled" })
	clk := &fakeClock{now: time.Date(2026, 11, 20, 15, 0, 0, 0, time.UTC)}
	scaled.clock = clk.Now
	off := newSim(t, nil)
	for _, tt := range []struct {
		s         *Sim
		throttled bool
	}{{scaled, true}, {off, false}} {
		tok := issueToken(t, tt.s, "https://graph.microsoft.com/.default")
		var got429 bool
		for i := 0; i < 20; i++ {
			rec := serveDirect(tt.s, tok, "/v1.0/auditLogs/signIns?$top=1")
			if rec.Code == 429 {
				got429 = true
				// The scaled window is 1 s: the 20 requests come within it, so the first frees the window at its end;
				// in tenths of a second, rounded up (the service's whole seconds, scaled ten times).
				if secs, err := strconv.ParseFloat(rec.Header().Get("Retry-After"), 64); err != nil || secs < 0.1 || secs > 1 {
					t.Errorf("scaled Retry-After %q: want 0.1-1 (tenths, rounded up; the scaled window is 1 s)", rec.Header().Get("Retry-After"))
				}
			}
		}
		if got429 != tt.throttled {
			t.Errorf("throttle %q: 429 seen %v, want %v", tt.s.cfg.Throttle, got429, tt.throttled)
		}
	}
}

// The scaled reporting window answers Retry-After in tenths, rounded up: five sign-in reads at once, a sixth 250 ms
// later waits 750 ms for the first to leave the 1 s window ("0.8", not the whole second).
func TestScaledRetryAfterInTenths(t *testing.T) {
	s, clk, tok := throttledSim(t, "scaled")
	admitted(t, s, clk, tok, "/v1.0/auditLogs/signIns?$top=1", 5, 0)
	clk.Advance(250 * time.Millisecond)
	rec := serveDirect(s, tok, "/v1.0/auditLogs/signIns?$top=1")
	if rec.Code != 429 || rec.Header().Get("Retry-After") != "0.8" {
		t.Errorf("sixth request 250 ms later: %d Retry-After %q, want 429 and 0.8", rec.Code, rec.Header().Get("Retry-After"))
	}
}

func TestDirectoryThrottleHeaders(t *testing.T) {
	s, _, tok := throttledSim(t, "scaled") // the fake clock keeps the bucket from refilling
	var rec *httptest.ResponseRecorder
	for i := 0; i < 100; i++ { // the scaled bucket holds 50 RU; subscribedSkus costs 3
		if rec = serveDirect(s, tok, "/v1.0/subscribedSkus"); rec.Code == 429 {
			break
		}
		if rec.Header().Get("x-ms-resource-unit") != "3" {
			t.Fatalf("x-ms-resource-unit %q, want 3", rec.Header().Get("x-ms-resource-unit"))
		}
	}
	if rec.Code != 429 || rec.Header().Get("x-ms-throttle-information") != "ResourceUnitLimitExceeded" || rec.Header().Get("x-ms-throttle-scope") == "" {
		t.Errorf("directory throttling: %d %v", rec.Code, rec.Header())
	}
}

// retryHandler sends a request the way the Graph SDKs' RetryHandler does (msgraph-sdk-javascript
// src/middleware/RetryHandler.ts, RetryHandlerOptions.ts): at most 3 retries, on 429, 503 and 504, each after the
// Retry-After the service sent (seconds, or an HTTP date), with a Retry-Attempt header; 3 s and more without one.
type retryHandler struct {
	hc         *http.Client
	maxRetries int
	sleep      func(time.Duration)

	mu         sync.Mutex
	throttled  int
	retryAfter []string
}

func (h *retryHandler) get(url string, header http.Header) (*http.Response, error) {
	for attempt := 0; ; attempt++ {
		req, _ := http.NewRequest("GET", url, nil)
		req.Header = header.Clone()
		if attempt > 0 {
			req.Header.Set("Retry-Attempt", strconv.Itoa(attempt))
		}
		resp, err := h.hc.Do(req)
		if err != nil {
			return nil, err
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if (resp.StatusCode != 429 && resp.StatusCode != 503 && resp.StatusCode != 504) || attempt == h.maxRetries {
			return resp, nil
		}
		ra := resp.Header.Get("Retry-After")
		h.mu.Lock()
		h.throttled++
		h.retryAfter = append(h.retryAfter, ra)
		h.mu.Unlock()
		delay := time.Duration(3+attempt) * time.Second
		if secs, err := strconv.ParseFloat(ra, 64); err == nil {
			delay = time.Duration(secs * float64(time.Second))
		} else if at, err := http.ParseTime(ra); err == nil {
			delay = time.Until(at).Round(time.Second)
		}
		h.sleep(delay)
	}
}

// burst sends n requests at once through a retryHandler and counts those that end 200.
func burst(t *testing.T, c *client, n int, path string) (ok int, h *retryHandler) {
	t.Helper()
	h = &retryHandler{hc: c.hc, maxRetries: 3, sleep: time.Sleep}
	var wg sync.WaitGroup
	var mu sync.Mutex
	statuses := map[int]int{}
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			hdr := http.Header{}
			hdr.Set("Authorization", "Bearer "+c.tok)
			hdr.Set("client-request-id", ids.GUID(uint64(i+1), 0xc0ffee))
			hdr.Set("SdkVersion", "graph-js/3.0.7")
			resp, err := h.get(c.base+path, hdr)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				t.Errorf("request %d: %v", i, err)
				return
			}
			statuses[resp.StatusCode]++
		}(i)
	}
	wg.Wait()
	for _, ra := range h.retryAfter { // scaled: tenths of a second for the request windows, whole seconds for the bucket
		if secs, err := strconv.ParseFloat(ra, 64); err != nil || secs < 0.1 || math.Abs(secs*10-math.Round(secs*10)) > 1e-9 {
			t.Errorf("Retry-After %q: want tenths of a second, at least 0.1", ra)
		}
	}
	t.Logf("%s x%d: statuses %v, %d throttled answers, Retry-After %v", path, n, statuses, h.throttled, h.retryAfter)
	return statuses[200], h
}

// 100 directory reads at once through a client that retries as the Graph SDKs do all succeed: the scaled bucket
// (50 RU a second, GET users costing 2) holds 25 of them a second, each 429 says to come back when the bucket has
// refilled, so four attempts (three retries) carry all 100.
func TestDirectoryBurstThroughRetryHandler(t *testing.T) {
	c := startSim(t, func(cfg *Config) { cfg.Throttle = "scaled" })
	ok, h := burst(t, c, 100, "/v1.0/users")
	if ok != 100 || h.throttled == 0 {
		t.Errorf("%d of 100 reads succeeded (%d answers throttled); want all, some after a 429", ok, h.throttled)
	}
}

// A burst of 12 sign-in reads (the reporting limit is 5 in any window, 1 s when scaled) all succeed through three
// retries: each Retry-After ends at or after the moment the window has room.
func TestSignInBurstThroughRetryHandler(t *testing.T) {
	c := startSim(t, func(cfg *Config) { cfg.Throttle = "scaled" })
	path := "/v1.0/auditLogs/signIns?$filter=createdDateTime%20ge%202026-11-20T00:00:00Z%20and%20createdDateTime%20le%202026-11-20T13:59:59.9999999Z&$top=10"
	ok, h := burst(t, c, 12, path)
	if ok != 12 || h.throttled == 0 {
		t.Errorf("%d of 12 sign-in reads succeeded (%d answers throttled); want all, some after a 429", ok, h.throttled)
	}
}

// The same bursts against the realistic limits (5 sign-in reads in any 10 s), on a virtual clock: requests arrive a
// few milliseconds apart, as they do from one process, and come back exactly Retry-After after their answer. The
// first five take the window; every 429 ends at or after the moment a slot frees (never rounded down: a Retry-After
// that ends 15 ms early costs a retry), so the twelve need at most three retries.
func TestRealisticSignInBurstOnVirtualTime(t *testing.T) {
	for _, gap := range []time.Duration{0, time.Millisecond, 3 * time.Millisecond, 250 * time.Millisecond} {
		s := newSim(t, func(c *Config) { c.Throttle = "realistic" })
		start := time.Date(2026, 11, 20, 15, 0, 0, 0, time.UTC)
		clk := &fakeClock{now: start}
		s.clock = clk.Now
		tok := issueToken(t, s, "https://graph.microsoft.com/.default")
		type pending struct {
			at      time.Time
			id, try int
		}
		var queue []pending
		for i := 0; i < 12; i++ {
			queue = append(queue, pending{at: start.Add(time.Duration(i) * gap), id: i})
		}
		done := 0
		for len(queue) > 0 {
			slices.SortStableFunc(queue, func(a, b pending) int { return a.at.Compare(b.at) })
			p := queue[0]
			queue = queue[1:]
			clk.mu.Lock()
			clk.now = p.at
			clk.mu.Unlock()
			rec := serveDirect(s, tok, "/v1.0/auditLogs/signIns?$filter=createdDateTime%20ge%202026-11-20T00:00:00Z&$top=1")
			switch {
			case rec.Code == 200:
				done++
			case rec.Code == 429 && p.try < 3:
				secs, err := strconv.Atoi(rec.Header().Get("Retry-After"))
				if err != nil {
					t.Fatalf("Retry-After %q is not whole seconds", rec.Header().Get("Retry-After"))
				}
				queue = append(queue, pending{at: p.at.Add(time.Duration(secs) * time.Second), id: p.id, try: p.try + 1})
			default:
				t.Errorf("gap %s: request %d ended %d after %d retries", gap, p.id, rec.Code, p.try)
			}
		}
		if done != 12 {
			t.Errorf("gap %s: %d of 12 succeeded", gap, done)
		}
	}
}
