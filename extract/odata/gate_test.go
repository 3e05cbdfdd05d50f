package odata

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"
)

// TestGatePausesConcurrentRequests: one window is told to wait 3 s; a second window sharing the gate waits too,
// instead of running into the limit on its own.
func TestGatePausesConcurrentRequests(t *testing.T) {
	var clock atomic.Int64 // fake nanoseconds since base, advanced by the sleepers
	base := time.Date(2026, 11, 22, 0, 0, 0, 0, time.UTC)
	g := NewGate()
	g.now = func() time.Time { return base.Add(time.Duration(clock.Load())) }

	var hits atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/a" && hits.Add(1) == 1 {
			w.Header().Set("Retry-After", "3")
			w.WriteHeader(http.StatusTooManyRequests)
			return
		}
		w.Write([]byte(`{"value":[]}`))
	}))
	defer srv.Close()

	// Window A is held inside its wait until window B has gone through the gate.
	aWaiting, release := make(chan struct{}), make(chan struct{})
	aSleep := func(ctx context.Context, d time.Duration) error {
		close(aWaiting)
		<-release
		clock.Add(int64(d))
		return nil
	}
	var bWaits []time.Duration
	bSleep := func(ctx context.Context, d time.Duration) error {
		bWaits = append(bWaits, d)
		clock.Add(int64(d))
		return nil
	}
	statsA, statsB := &Stats{}, &Stats{}
	a := NewClient(Config{Tokens: &tokens{}, Gate: g, Sleep: aSleep}).WithStats(statsA)
	b := NewClient(Config{Tokens: &tokens{}, Gate: g, Sleep: bSleep}).WithStats(statsB)

	errA := make(chan error)
	go func() {
		var buf bytes.Buffer
		errA <- a.Get(context.Background(), srv.URL+"/a", &buf)
	}()
	<-aWaiting
	var buf bytes.Buffer
	if err := b.Get(context.Background(), srv.URL+"/b", &buf); err != nil {
		t.Fatal(err)
	}
	close(release)
	if err := <-errA; err != nil {
		t.Fatal(err)
	}
	if len(bWaits) != 1 || bWaits[0] != 3*time.Second || statsB.Waited() != 3*time.Second {
		t.Errorf("window B waited %v (stats %v): want the 3 s window A was told", bWaits, statsB.Waited())
	}
	if statsA.Throttled.Load() != 1 || statsA.Retries.Load() != 1 || statsB.Throttled.Load() != 0 {
		t.Errorf("A throttled %d retries %d, B throttled %d", statsA.Throttled.Load(), statsA.Retries.Load(), statsB.Throttled.Load())
	}
	if hits.Load() != 2 {
		t.Errorf("%d requests to /a, want the 429 and one retry", hits.Load())
	}
}

// A 429 without Retry-After on a gated client still backs off (the gate has no time to hold it for).
func TestGated429WithoutRetryAfterBacksOff(t *testing.T) {
	s := newScript(t, step{status: 429}, step{body: `{"value":[]}`})
	var clock atomic.Int64
	g := NewGate()
	g.now = func() time.Time { return time.Unix(0, clock.Load()) }
	sl := &sleeper{}
	sleep := func(ctx context.Context, d time.Duration) error { clock.Add(int64(d)); return sl.sleep(ctx, d) }
	c := NewClient(Config{Tokens: &tokens{}, Gate: g, Sleep: sleep, Rand: func() float64 { return 0.5 }})
	var buf bytes.Buffer
	if err := c.Get(context.Background(), s.srv.URL+"/x", &buf); err != nil {
		t.Fatal(err)
	}
	var total time.Duration
	for _, d := range sl.waits {
		total += d
	}
	if total < 500*time.Millisecond {
		t.Errorf("waits %v after a 429 without Retry-After: want at least the 0.5 s backoff", sl.waits)
	}
}
