package odata

import (
	"context"
	"sync"
	"time"
)

// Gate is shared by the requests of one throttled API (the Graph reporting APIs allow 5 requests per 10 s per app
// and tenant). It does two things:
//   - when any request is told to wait (429 + Retry-After), every request on the gate waits until then, instead of
//     each running into the limit on its own;
//   - it spaces request starts adaptively: each 429 doubles the spacing, each success shrinks it by 1/16, so
//     concurrent windows settle near the service's rate with an occasional 429 rather than a storm of them.
//
// NewPacedGate also sets a floor on the spacing, for a known limit.
type Gate struct {
	mu      sync.Mutex
	now     func() time.Time
	until   time.Time     // nobody starts before this (Retry-After)
	next    time.Time     // the earliest start of the next request (spacing)
	spacing time.Duration // current adaptive spacing
	floor   time.Duration // minimum spacing (paced gates)
}

const maxSpacing = 30 * time.Second

// NewGate returns an adaptive gate with no minimum spacing.
func NewGate() *Gate { return &Gate{now: time.Now} }

// NewPacedGate returns a gate that starts at most n requests per interval, and adapts above that.
func NewPacedGate(n int, per time.Duration) *Gate {
	g := NewGate()
	if n > 0 {
		g.floor = per / time.Duration(n)
		g.spacing = g.floor
	}
	return g
}

// throttled records a 429: everyone waits retryAfter, and requests are spaced further apart.
func (g *Gate) throttled(retryAfter time.Duration) {
	g.mu.Lock()
	defer g.mu.Unlock()
	now := g.now()
	if until := now.Add(retryAfter); until.After(g.until) {
		g.until = until
	}
	g.spacing = min(max(2*g.spacing, 50*time.Millisecond), maxSpacing)
}

// succeeded lets the spacing shrink back towards the floor.
func (g *Gate) succeeded() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.spacing = max(g.spacing-g.spacing/16, g.floor)
	if g.spacing < time.Millisecond && g.floor == 0 {
		g.spacing = 0
	}
}

// wait blocks until the gate lets one request start and returns how long it waited.
func (g *Gate) wait(ctx context.Context, sleep func(context.Context, time.Duration) error) (time.Duration, error) {
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
		d := start.Sub(now)
		if d <= 0 {
			// Reserve this slot: the next request starts no earlier than spacing from now.
			g.next = now.Add(g.spacing)
			g.mu.Unlock()
			return total, nil
		}
		g.mu.Unlock()
		if err := sleep(ctx, d); err != nil {
			return total, err
		}
		total += d
	}
}
