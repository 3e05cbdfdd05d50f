package outbound

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
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
	a := New(Config{Gate: g, Sleep: aSleep}).WithStats(statsA)
	b := New(Config{Gate: g, Sleep: bSleep}).WithStats(statsB)

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
	// B waits out A's Retry-After too, then takes the slot after A's (the spacing the 429 set: 50 ms).
	if len(bWaits) != 1 || bWaits[0] < 3*time.Second || bWaits[0] > 3*time.Second+50*time.Millisecond || statsB.Waited() != bWaits[0] {
		t.Errorf("window B waited %v (stats %v): want the 3 s window A was told, and at most one spacing more", bWaits, statsB.Waited())
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
	srv := answers(t, answer{status: 429}, answer{body: `{"value":[]}`})
	var clock atomic.Int64
	g := NewGate()
	g.now = func() time.Time { return time.Unix(0, clock.Load()) }
	var waits []time.Duration
	sleep := func(_ context.Context, d time.Duration) error {
		clock.Add(int64(d))
		waits = append(waits, d)
		return nil
	}
	c := New(Config{Gate: g, Sleep: sleep, Rand: func() float64 { return 0.5 }})
	var buf bytes.Buffer
	if err := c.Get(context.Background(), srv.URL+"/x", &buf); err != nil {
		t.Fatal(err)
	}
	var total time.Duration
	for _, d := range waits {
		total += d
	}
	if total < 500*time.Millisecond {
		t.Errorf("waits %v after a 429 without Retry-After: want at least the 0.5 s backoff", waits)
	}
}

// TestGateLearnsTheLimitFromRetryAfter: a service allowing n requests in any T answers the (n+1)th with the
// Retry-After that frees the oldest slot; the gate infers T/n from its own recent starts and spaces at that.
func TestGateLearnsTheLimitFromRetryAfter(t *testing.T) {
	t0 := time.Date(2026, 11, 22, 0, 0, 0, 0, time.UTC)
	at := func(ms ...int) []time.Time {
		var ts []time.Time
		for _, m := range ms {
			ts = append(ts, t0.Add(time.Duration(m)*time.Millisecond))
		}
		return ts
	}
	cases := []struct {
		name      string
		starts    []time.Time
		now, free int // ms
		want      time.Duration
		ok        bool
	}{
		{"a burst of 5, then 5 per second", at(0, 1, 2, 3, 4), 10, 1000, 200 * time.Millisecond, true},
		{"5 per 10 s, whole seconds of Retry-After", at(0, 5, 10, 15, 20), 30, 10000, 2 * time.Second, true},
		{"an older request outside the window", at(-5000, 0, 1, 2), 10, 1000, 333333333, true},
		{"evenly spaced at 3 per 1.2 s", at(0, 400, 800, 1200), 1400, 1600, 400 * time.Millisecond, true},
		{"no history", nil, 10, 1000, 0, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, _, ok := learnedSpacing(tc.starts, t0.Add(time.Duration(tc.now)*time.Millisecond), t0.Add(time.Duration(tc.free)*time.Millisecond), 0)
			if ok != tc.ok || got != tc.want {
				t.Errorf("learnedSpacing = %v, %v; want %v, %v", got, ok, tc.want, tc.ok)
			}
		})
	}
	// Through the gate: after the 429 the spacing is the learned one; successes relax it only slowly.
	g := NewGate()
	now := t0
	g.now = func() time.Time { return now }
	for i, st := range at(0, 1, 2, 3, 4, 10) { // the sixth is refused
		g.starts = append(g.starts, gateStart{at: st, verdict: admitted})
		if i == 5 {
			g.starts[i].verdict = pending
		}
	}
	now = t0.Add(10 * time.Millisecond)
	g.throttled(t0.Add(10*time.Millisecond), 990*time.Millisecond, time.Millisecond)
	if g.spacing != 200*time.Millisecond || g.floor != 200*time.Millisecond {
		t.Errorf("after the 429: spacing %v, floor %v; want 200ms", g.spacing, g.floor)
	}
	for range 10 {
		g.succeeded(time.Time{})
	}
	// A Retry-After in thousandths leaves the limit known within 0.2 ms: nothing to try.
	if g.spacing != 200*time.Millisecond {
		t.Errorf("after 10 successes the spacing is %v: want it kept at 200ms", g.spacing)
	}
}

// TestGateNarrowsARoundedLimit: a service allowing 5 requests in any 985 ms (197 ms apart) answers Retry-After in
// tenths, so the first 429 leaves the spacing known only within 20 ms; the gate keeps the upper bound for a
// window's worth of requests, then tries the middle (a 429 there raises the lower bound, a window through it lowers
// the upper one), until the bounds are within 1% and it stays at the upper one, with few 429s on the way.
func TestGateNarrowsARoundedLimit(t *testing.T) {
	const window, n = 985 * time.Millisecond, 5
	g, _, sleep := gateOnFakeTime()
	var admitted []time.Time
	refused := 0
	for range 150 {
		_, start, _ := g.wait(context.Background(), sleep)
		in := 0
		for _, a := range admitted {
			if a.After(start.Add(-window)) {
				in++
			}
		}
		if in < n {
			admitted = append(admitted, start)
			g.succeeded(start)
			continue
		}
		refused++
		wait := admitted[len(admitted)-n].Add(window).Sub(start)
		tenths := (wait + 100*time.Millisecond - 1) / (100 * time.Millisecond) * (100 * time.Millisecond)
		g.throttled(start, tenths, 100*time.Millisecond)
	}
	limit := window / n
	t.Logf("settled at %v (bounds %+v), %d refused", g.floor, g.learned, refused)
	if g.floor < limit || g.floor > limit+limit/50 {
		t.Errorf("the gate settled at %v for a limit of %v apart (bounds %+v)", g.floor, limit, g.learned)
	}
	if refused > 6 {
		t.Errorf("%d of 150 requests refused: want at most the first burst's and a few tries", refused)
	}
}

func TestGatePausesEveryoneOnRetryAfter(t *testing.T) {
	var clock atomic.Int64
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	g := NewGate()
	g.now = func() time.Time { return base.Add(time.Duration(clock.Load())) }
	sleep := func(_ context.Context, d time.Duration) error { clock.Add(int64(d)); return nil }
	d0, first, _ := g.wait(context.Background(), sleep)
	if d0 != 0 {
		t.Fatalf("an idle gate made a request wait %v", d0)
	}
	g.throttled(first, 3*time.Second, time.Second)
	d, _, _ := g.wait(context.Background(), sleep)
	if d != 3*time.Second {
		t.Errorf("after a 429 with Retry-After 3s the next request waited %v", d)
	}
	// The spacing learned from the 429 keeps the following requests apart instead of bursting.
	d2, _, _ := g.wait(context.Background(), sleep)
	if d2 <= 0 {
		t.Errorf("the request after a throttled one did not wait for the spacing")
	}
	for i := 0; i < 200; i++ {
		g.succeeded(time.Time{})
	}
	clock.Add(int64(time.Minute))
	if d, _, _ := g.wait(context.Background(), sleep); d != 0 {
		t.Errorf("after many successes a request still waited %v", d)
	}
}

func TestPacedGate(t *testing.T) {
	var clock atomic.Int64
	g := NewPacedGate(5, 10*time.Second)
	g.now = func() time.Time { return time.Unix(0, clock.Load()) }
	sleep := func(_ context.Context, d time.Duration) error { clock.Add(int64(d)); return nil }
	for i := 0; i < 6; i++ {
		g.wait(context.Background(), sleep)
	}
	if got := time.Duration(clock.Load()); got != 10*time.Second {
		t.Errorf("6 requests at 5 per 10 s took %v, want 10s", got)
	}
}

// TestGateLearnsFromABurstOnceAnswered: eight requests leave at once and the service, which allows 5 in any second,
// sees them in its own order: the third to leave is refused first, before the answers of the others come. The gate
// learns only once every request that left before that 429 is answered, from the five admitted: n = 5, 200 ms
// apart, not the 2 or 7 the order of leaving would suggest.
func TestGateLearnsFromABurstOnceAnswered(t *testing.T) {
	g, clock, sleep := gateOnFakeTime()
	t0 := g.now()
	var starts []time.Time
	for range 8 {
		_, st, _ := g.wait(context.Background(), sleep)
		starts = append(starts, st)
		clock.Add(int64(time.Millisecond))
	}
	// The service admitted 0, 1, 3, 4, 5 and refused 2, 6, 7: each 429 frees at t0 + 1 s (whole milliseconds).
	refuse := func(i int) {
		free := t0.Add(time.Second)
		g.throttled(starts[i], free.Sub(g.now()), time.Millisecond)
	}
	refuse(2)
	if g.learned.n != 0 {
		t.Fatalf("learned %+v before the requests that left earlier were answered", g.learned)
	}
	for _, i := range []int{0, 1, 3, 4, 5} {
		clock.Add(int64(10 * time.Millisecond))
		g.succeeded(starts[i])
	}
	refuse(6)
	refuse(7)
	if g.learned.n != 5 || g.floor < 199*time.Millisecond || g.floor > 201*time.Millisecond {
		t.Errorf("learned %+v, floor %v: want 5 requests, 200ms apart", g.learned, g.floor)
	}
}

// gateOnFakeTime is a gate whose clock moves only when its sleepers sleep (or the test adds to clock).
func gateOnFakeTime() (g *Gate, clock *atomic.Int64, sleep func(context.Context, time.Duration) error) {
	clock = new(atomic.Int64)
	t0 := time.Date(2026, 11, 22, 0, 0, 0, 0, time.UTC)
	g = NewGate()
	g.now = func() time.Time { return t0.Add(time.Duration(clock.Load())) }
	return g, clock, func(_ context.Context, d time.Duration) error { clock.Add(int64(d)); return nil }
}

// TestGateRespacesSleepersWhenItWidens: three requests wait out a Retry-After with slots reserved before the limit
// was known (no spacing yet, so all at its end); the limit is learned meanwhile (200 ms apart). They leave 200 ms
// apart, not in a burst at the end of the wait that the service would refuse.
func TestGateRespacesSleepersWhenItWidens(t *testing.T) {
	g, clock, _ := gateOnFakeTime()
	t0 := g.now()
	g.until = t0.Add(time.Second)
	var (
		mu       sync.Mutex
		reserved = make(chan struct{}, 3)
		release  = make(chan struct{})
	)
	sleep := func(_ context.Context, d time.Duration) error {
		select {
		case <-release:
		default:
			reserved <- struct{}{}
			<-release
		}
		mu.Lock() // several sleepers: the clock moves to the latest end of a sleep, not by their sum
		defer mu.Unlock()
		if end := g.now().Add(d); end.After(t0.Add(time.Duration(clock.Load()))) {
			clock.Store(int64(end.Sub(t0)))
		}
		return nil
	}
	starts := make(chan time.Time, 3)
	for range 3 {
		go func() {
			_, st, _ := g.wait(context.Background(), sleep)
			starts <- st
		}()
	}
	for range 3 {
		<-reserved
	}
	g.mu.Lock()
	g.widen(200 * time.Millisecond) // what a learned limit does
	g.mu.Unlock()
	close(release)
	var got []time.Time
	for range 3 {
		got = append(got, <-starts)
	}
	slices.SortFunc(got, func(a, b time.Time) int { return a.Compare(b) })
	for i := 1; i < len(got); i++ {
		if gap := got[i].Sub(got[i-1]); gap < 200*time.Millisecond {
			t.Errorf("requests %d and %d left %v apart after the wait: want at least 200ms (starts %v)", i-1, i, gap, got)
		}
	}
}

// TestGateSettledMovesApartOnA429: once the limit is known within 1%, a 429 at that spacing (the service saw the
// requests closer than they left) moves the spacing 2% further apart rather than learning the limit anew; the gate
// may try below that again later, never below what it learned the limit to be above.
func TestGateSettledMovesApartOnA429(t *testing.T) {
	g, _, sleep := gateOnFakeTime()
	g.learned = learned{n: 5, lo: 198 * time.Millisecond, hi: 200 * time.Millisecond}
	g.floor, g.spacing = 200*time.Millisecond, 200*time.Millisecond
	_, start, _ := g.wait(context.Background(), sleep)
	g.throttled(start, 100*time.Millisecond, 100*time.Millisecond)
	if g.floor != 204*time.Millisecond || g.learned.lo != 198*time.Millisecond {
		t.Errorf("after a 429 at the settled spacing: floor %v, bounds %+v; want 204ms, from 198ms", g.floor, g.learned)
	}
	for range 40 {
		_, st, _ := g.wait(context.Background(), sleep)
		g.succeeded(st)
		if g.floor < 198*time.Millisecond {
			t.Fatalf("the floor went to %v, below the 198ms the limit was learned to be above", g.floor)
		}
	}
}

// TestGateBoundsTheLimitByTheSpacingRequestsLeftAt: a try aims at the middle of the bounds, but requests leave
// further apart when none is waiting for its slot (or while the spacing shrinks towards the try); a window's worth of
// them going through bounds the limit by the spacing they left at, not by the one the gate aimed at.
func TestGateBoundsTheLimitByTheSpacingRequestsLeftAt(t *testing.T) {
	for _, tc := range []struct {
		name      string
		leftEvery time.Duration
		wantHi    time.Duration
	}{
		{"requests left at the try", 200 * time.Millisecond, 200 * time.Millisecond},
		{"requests left further apart", 215 * time.Millisecond, 215 * time.Millisecond},
		{"requests left further apart than the upper bound", 230 * time.Millisecond, 220 * time.Millisecond},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g, clock, _ := gateOnFakeTime()
			g.learned = learned{n: 5, lo: 180 * time.Millisecond, hi: 220 * time.Millisecond}
			g.floor, g.spacing = 200*time.Millisecond, 200*time.Millisecond // trying the middle
			for range 6 {
				start := g.now()
				g.starts = append(g.starts, gateStart{at: start})
				clock.Add(int64(tc.leftEvery))
				g.succeeded(start)
			}
			if g.learned.hi != tc.wantHi {
				t.Errorf("after a window's worth through, left %v apart: upper bound %v, want %v", tc.leftEvery, g.learned.hi, tc.wantHi)
			}
			if want := (g.learned.lo + g.learned.hi) / 2; g.floor != want {
				t.Errorf("the next try is at %v, want the middle of the bounds %v", g.floor, want)
			}
		})
	}
}
