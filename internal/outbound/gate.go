package outbound

import (
	"context"
	"slices"
	"sync"
	"time"
)

// Gate is shared by the requests of one throttled API (the Graph reporting APIs allow 5 requests per 10 s per app
// and tenant). It does two things:
//   - when any request is told to wait (429 + Retry-After), every request on the gate waits until then, instead of
//     each running into the limit on its own;
//   - it spaces request starts adaptively: each 429 doubles the spacing, each success shrinks it by 1/16, so
//     concurrent windows settle near the service's rate with an occasional 429 rather than a storm of them;
//   - it learns the limit from the first 429s: a service limiting n requests in any window of T seconds answers the
//     request that would be the (n+1)th with a Retry-After that ends when the oldest of the n leaves the window. The
//     gate remembers when its recent requests started (those in flight too), takes every n consistent with that
//     answer (the request before those n started before the window T it implies) and keeps requests at least the
//     median of their T/n apart: the median, because a Retry-After rounded up (whole seconds, or a minimum) makes the
//     estimates from few requests too slow. That floor relaxes by 1/512 per success, so an estimate that came out
//     too slow (another client's requests in the same window) is corrected by a later 429 rather than slowing the
//     rest of the run; probing, and the 429s it costs, become rare.
//
// NewPacedGate also sets a floor on the spacing, for a known limit.
type Gate struct {
	mu      sync.Mutex
	now     func() time.Time
	until   time.Time     // nobody starts before this (Retry-After)
	next    time.Time     // the earliest start of the next request (spacing)
	spacing time.Duration // current adaptive spacing
	floor   time.Duration // minimum spacing: the larger of paced and learned
	paced   time.Duration // the known limit's spacing (NewPacedGate)
	starts  []time.Time   // when the latest admitted requests started, oldest first (throttled ones removed)
}

// gateHistory is how many starts the gate keeps to learn a limit: n above this is not learned (the
// adaptive spacing still applies).
const gateHistory = 128

const maxSpacing = 30 * time.Second

// NewGate returns an adaptive gate with no minimum spacing.
func NewGate() *Gate { return &Gate{now: time.Now} }

// NewPacedGate returns a gate that starts at most n requests per interval, and adapts above that.
func NewPacedGate(n int, per time.Duration) *Gate {
	g := NewGate()
	if n > 0 {
		g.paced = per / time.Duration(n)
		g.floor, g.spacing = g.paced, g.paced
	}
	return g
}

// throttled records a 429 to the request that started at start: everyone waits retryAfter, and requests are
// spaced further apart, at least as far as the limit the answer reveals.
func (g *Gate) throttled(start time.Time, retryAfter time.Duration) {
	g.mu.Lock()
	defer g.mu.Unlock()
	now := g.now()
	for i := len(g.starts) - 1; i >= 0; i-- { // a refused request did not use the budget
		if g.starts[i].Equal(start) {
			g.starts = append(g.starts[:i], g.starts[i+1:]...)
			break
		}
	}
	if until := now.Add(retryAfter); until.After(g.until) {
		g.until = until
	}
	if retryAfter > 0 {
		if rate, ok := learnedSpacing(g.starts, now, now.Add(retryAfter)); ok {
			// The latest answer wins: a limit can loosen, and an estimate can be off (requests of another client
			// in the same window make it high); the next 429 corrects it.
			g.floor = min(max(g.paced, rate), maxSpacing)
			g.spacing = max(g.spacing, g.floor)
			return
		}
	}
	g.spacing = min(max(2*g.spacing, 50*time.Millisecond), maxSpacing)
}

// learnedSpacing finds every n for which "n requests in any window T" explains a 429 at now whose slot frees at
// free: T = free - (the nth latest start), and the start before those n is at or before now - T, outside the
// window. It returns the (lower) median of their T/n.
func learnedSpacing(starts []time.Time, now, free time.Time) (time.Duration, bool) {
	var rates []time.Duration
	for n := 1; n <= len(starts); n++ {
		window := free.Sub(starts[len(starts)-n])
		if window <= 0 {
			continue
		}
		if n == len(starts) || !starts[len(starts)-n-1].After(now.Add(-window)) {
			rates = append(rates, window/time.Duration(n))
		}
	}
	if len(rates) == 0 {
		return 0, false
	}
	slices.Sort(rates)
	return rates[(len(rates)-1)/2], true
}

// succeeded lets the spacing shrink back towards the floor, and a learned floor towards the paced one.
func (g *Gate) succeeded() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.floor = max(g.floor-g.floor/512, g.paced)
	g.spacing = max(g.spacing-g.spacing/16, g.floor)
	if g.spacing < time.Millisecond && g.floor == 0 {
		g.spacing = 0
	}
}

// wait blocks until the gate lets one request start and returns how long it waited and when the request starts.
// Each caller reserves its slot (the later of now, Retry-After and the previous slot plus the spacing) before it
// sleeps, so slots follow each other at exactly the spacing however late a sleeper wakes; a Retry-After that
// arrives meanwhile sends the sleeper back for a new slot.
func (g *Gate) wait(ctx context.Context, sleep func(context.Context, time.Duration) error) (time.Duration, time.Time, error) {
	var total time.Duration
	for {
		g.mu.Lock()
		now := g.now()
		start := now
		if g.until.After(start) {
			start = g.until
		}
		if g.next.After(start) {
			start = g.next
		}
		g.next = start.Add(g.spacing)
		g.mu.Unlock()
		if d := start.Sub(now); d > 0 {
			if err := sleep(ctx, d); err != nil {
				return total, time.Time{}, err
			}
			total += d
		}
		g.mu.Lock()
		if g.until.After(start) { // told to wait while this caller slept
			g.mu.Unlock()
			continue
		}
		if len(g.starts) == gateHistory {
			g.starts = append(g.starts[:0], g.starts[1:]...)
		}
		g.starts = append(g.starts, start)
		g.mu.Unlock()
		return total, start, nil
	}
}
