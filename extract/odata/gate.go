package odata

import (
	"context"
	"sync"
	"time"
)

// Gate is shared by the requests of one throttled API. When any of them is told to wait (429 + Retry-After), every
// request on the gate waits until then before sending, instead of each running into the limit on its own. A gate
// made by NewPacedGate also spaces requests proactively (n per interval).
type Gate struct {
	mu    sync.Mutex
	until time.Time
	now   func() time.Time

	// pacing: a token bucket of n tokens refilled over per.
	n      int
	per    time.Duration
	tokens float64
	last   time.Time
}

// NewGate returns a gate that only pauses on Retry-After.
func NewGate() *Gate { return &Gate{now: time.Now} }

// NewPacedGate returns a gate that also allows at most n requests per interval.
func NewPacedGate(n int, per time.Duration) *Gate {
	return &Gate{now: time.Now, n: n, per: per, tokens: float64(n)}
}

func (g *Gate) pause(d time.Duration) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if until := g.now().Add(d); until.After(g.until) {
		g.until = until
	}
}

// wait blocks until the gate lets a request through and returns how long it waited.
func (g *Gate) wait(ctx context.Context, sleep func(context.Context, time.Duration) error) (time.Duration, error) {
	var total time.Duration
	for {
		g.mu.Lock()
		now := g.now()
		d := g.until.Sub(now)
		if d <= 0 && g.n > 0 {
			if !g.last.IsZero() {
				g.tokens += float64(now.Sub(g.last)) / float64(g.per) * float64(g.n)
				if g.tokens > float64(g.n) {
					g.tokens = float64(g.n)
				}
			}
			g.last = now
			if g.tokens >= 1 {
				g.tokens--
			} else {
				d = time.Duration((1 - g.tokens) / float64(g.n) * float64(g.per))
			}
		}
		g.mu.Unlock()
		if d <= 0 {
			return total, nil
		}
		if err := sleep(ctx, d); err != nil {
			return total, err
		}
		total += d
	}
}
