package tenantsim

import (
	"net/http/httptest"
	"strconv"
	"testing"
	"time"
)

func TestRealisticReportingLimit(t *testing.T) {
	s := newSim(t, func(c *Config) { c.Throttle = "realistic" })
	clk := &fakeClock{now: time.Date(2026, 11, 20, 15, 0, 0, 0, time.UTC)}
	s.clock = clk.Now
	tok := issueToken(t, s, "https://graph.microsoft.com/.default")
	get := func(path string) *httptest.ResponseRecorder { return serveDirect(s, tok, path) }
	for i := 0; i < 5; i++ {
		if rec := get("/v1.0/auditLogs/signIns?$top=1"); rec.Code != 200 {
			t.Fatalf("request %d: %d", i+1, rec.Code)
		}
		clk.Advance(time.Second)
	}
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
	s := newSim(t, func(c *Config) { c.Throttle = "realistic" })
	clk := &fakeClock{now: time.Date(2026, 11, 20, 15, 0, 0, 0, time.UTC)}
	s.clock = clk.Now
	tok := issueToken(t, s, "https://graph.microsoft.com/.default")
	// 10 a minute, even when spaced within the reporting limit.
	for i := 0; i < 10; i++ {
		if rec := serveDirect(s, tok, "/v1.0/users?$select=id,signInActivity"); rec.Code != 200 {
			t.Fatalf("request %d: %d", i+1, rec.Code)
		}
		clk.Advance(3 * time.Second)
	}
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
				ra, err := strconv.ParseFloat(rec.Header().Get("Retry-After"), 64)
				if err != nil || ra <= 0 || ra > 1 {
					t.Errorf("scaled Retry-After %q: want a fraction of a second up to 1", rec.Header().Get("Retry-After"))
				}
			}
		}
		if got429 != tt.throttled {
			t.Errorf("throttle %q: 429 seen %v, want %v", tt.s.cfg.Throttle, got429, tt.throttled)
		}
	}
}

func TestDirectoryResourceUnits(t *testing.T) {
	tests := []struct {
		family, query string
		want          float64
	}{
		{"users", "", 2},
		{"users", "?$select=id", 1},
		{"users", "?$select=id&$top=5", 1}, // at least 1
		{"users", "?$top=5", 1},
		{"users", "?$expand=manager", 3},
		{"subscribedSkus", "", 3},
		{"subscribedSkus", "?$select=skuId", 2},
	}
	for _, tt := range tests {
		c := costOf(tt.family, httptest.NewRequest("GET", "/v1.0/"+tt.family+tt.query, nil))
		if c.ru != tt.want {
			t.Errorf("%s%s: %v RU, want %v", tt.family, tt.query, c.ru, tt.want)
		}
	}
	// The bucket: a tenant over 500 users has 8,000 RU per 10 s, refilled continuously.
	l := newLimits("realistic", 2000, "app", "tenant")
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	if _, _, ok := l.admit(now, cost{ru: 8000}); !ok {
		t.Fatal("a full bucket refused 8,000 RU")
	}
	wait, dir, ok := l.admit(now, cost{ru: 2})
	if ok || !dir || wait != 2500*time.Microsecond {
		t.Errorf("empty bucket: wait %s directory %v ok %v, want 2.5ms for 2 RU", wait, dir, ok)
	}
	if _, _, ok := l.admit(now.Add(wait), cost{ru: 2}); !ok {
		t.Error("refused after the wait it asked for")
	}
}

func TestDirectoryThrottleHeaders(t *testing.T) {
	s := newSim(t, func(c *Config) { c.Throttle = "scaled" })
	clk := &fakeClock{now: time.Date(2026, 11, 20, 15, 0, 0, 0, time.UTC)}
	s.clock = clk.Now
	tok := issueToken(t, s, "https://graph.microsoft.com/.default")
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
