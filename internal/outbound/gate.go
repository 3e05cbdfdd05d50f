package outbound

import (
	"cmp"
	"context"
	"slices"
	"sync"
	"time"
)

// Gate is shared by the requests of one throttled API (the Graph reporting APIs allow 5 requests per 10 s per app
// and tenant). It does three things:
//   - when any request is told to wait (429 + Retry-After), every request on the gate waits until then, instead of
//     each running into the limit on its own;
//   - it spaces request starts adaptively: a 429 it cannot learn from doubles the spacing, each success shrinks it
//     by 1/16, so concurrent windows settle near the service's rate with an occasional 429 rather than a storm;
//   - it learns the limit from the 429s: a service limiting n requests in any window of T seconds answers the
//     request that would be the (n+1)th with a Retry-After that ends when the oldest of the n leaves the window. The
//     gate remembers when its recent requests started and how each was answered, and learns from a 429 once every
//     request started before that answer came has been answered (in a burst the service sees requests in its own
//     order, so only the admitted ones tell n): it takes every n consistent with the answer (the admitted request
//     before those n started before the window T it implies) and the (lower) median of their T/n;
//   - the Retry-After is rounded up to its last digit (whole seconds for "5", tenths for "1.3"), so each answer
//     bounds the spacing from both sides: at most the estimate, more than the estimate less that digit's step over
//     n. Answers about the same limit narrow those bounds together, and the gate halves what is left of them by
//     trying: it keeps the upper bound (safe) until a whole window's worth of requests has gone through, then tries
//     the middle; a window through makes the spacing its requests actually started at the upper bound (not the
//     middle aimed at: the spacing shrinks towards it a step per answer, and requests are not always waiting), a
//     429 there makes the middle the lower one (and the next try is the middle of the rest). Once the bounds are
//     within 1% of each other the gate stays at the upper one: a probe costs a refused request and up to a step
//     of Retry-After, more than the rest of a run gains; a 429 there moves it 2% further apart instead of learning
//     anew (the service saw the requests closer than they left: a busy machine, the network).
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
	starts  []gateStart   // the latest requests let through, oldest first
	lessons []lesson      // 429s not learned from yet
	epoch   int           // how often the spacing widened: slots reserved before are given up
	learned learned       // what the 429s so far say about the limit
	through int           // requests through since the floor last changed or a 429
}

// gateStart is a request the gate let through: when, and how the service answered.
type gateStart struct {
	at      time.Time
	verdict verdict
}

type verdict int8

const (
	pending  verdict = iota
	admitted         // counted against the limit
	refused          // 429
	failed           // another failure: the gate does not know whether it counted, and does not learn from it
)

// lesson is a 429 to learn from: the answer came at at, and the slot frees at free, rounded up to step.
type lesson struct {
	at, free time.Time
	step     time.Duration
}

// learned bounds the spacing a limit of n requests per window allows: lo < T/n <= hi.
type learned struct {
	n      int
	lo, hi time.Duration
}

// settled: the bounds are within 1% of each other; trying further costs more than it gains.
func (l learned) settled() bool { return l.n > 0 && l.hi-l.lo <= l.hi/100 }

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

// answered records the answer to the request that started at start.
func (g *Gate) answered(start time.Time, v verdict) {
	for i := len(g.starts) - 1; i >= 0; i-- {
		if g.starts[i].at.Equal(start) && g.starts[i].verdict == pending {
			g.starts[i].verdict = v
			return
		}
	}
}

// throttled records a 429 to the request that started at start: everyone waits retryAfter, and the gate learns
// the limit from the answer once the requests started before it are answered too. step is the resolution of the
// Retry-After (1 s for whole seconds): the service rounded the wait up to it.
func (g *Gate) throttled(start time.Time, retryAfter, step time.Duration) {
	g.mu.Lock()
	defer g.mu.Unlock()
	now := g.now()
	g.answered(start, refused)
	g.through = 0
	if l := &g.learned; l.n > 0 {
		switch {
		case g.floor < l.hi: // refused while trying below the upper bound: too fast; try the middle of the rest
			l.lo = max(l.lo, g.floor)
			g.floor = l.hi
			if !l.settled() {
				g.floor = (l.lo + l.hi) / 2
			}
		case l.settled():
			// Refused at the settled spacing: the service's clock saw the requests closer than they left (a
			// busy machine, the network); a little further apart, rather than learning the limit anew.
			l.hi += l.hi / 50
			g.floor = l.hi
		}
		g.floor = max(g.floor, g.paced)
		g.widen(g.floor)
	}
	if until := now.Add(retryAfter); until.After(g.until) {
		g.until = until
	}
	if retryAfter <= 0 {
		g.backOff()
		return
	}
	g.lessons = append(g.lessons, lesson{at: now, free: now.Add(retryAfter), step: step})
	g.learn()
}

// backOff doubles the spacing (at least 50 ms), for a 429 the gate cannot learn a limit from. g.mu is held.
func (g *Gate) backOff() { g.widen(min(max(2*g.spacing, 50*time.Millisecond), maxSpacing)) }

// widen sets the spacing to at least d. When that spaces requests further apart, the slots reserved at the narrower
// spacing are given up: their sleepers take new ones when they wake (a Retry-After they all wait out would
// otherwise end in a burst at the old spacing). g.mu is held.
func (g *Gate) widen(d time.Duration) {
	if d <= g.spacing {
		return
	}
	g.spacing = d
	g.epoch++
	g.next = time.Time{}
	if n := len(g.starts); n > 0 {
		g.next = g.starts[n-1].at.Add(d) // after the latest request that started, at the new spacing
	}
}

// succeeded lets the spacing shrink back towards the floor, and, once a whole window's worth of requests went
// through at the floor, tries the middle of what the 429s left open.
func (g *Gate) succeeded(start time.Time) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.answered(start, admitted)
	g.learn()
	g.through++
	if l := &g.learned; l.n > 0 && g.through > l.n {
		if span, ok := g.admittedSpacing(l.n); ok {
			l.hi = min(l.hi, max(span, l.lo))
		}
		if !l.settled() {
			g.floor, g.through = max((l.lo+l.hi)/2, g.paced), 0
		}
	}
	g.spacing = max(g.spacing-g.spacing/16, g.floor)
	if g.spacing < time.Millisecond && g.floor == 0 {
		g.spacing = 0
	}
}

// admittedSpacing is the spacing the latest n+1 admitted requests started at: a service that admitted them all
// allows n requests in a window no longer than their span, so it bounds T/n from above. It is the spacing the
// service saw, not the floor the gate aimed at: the spacing only shrinks towards the floor a step per answer, so a
// try's first requests leave further apart than it. g.mu is held.
func (g *Gate) admittedSpacing(n int) (time.Duration, bool) {
	var last time.Time
	seen := 0
	for i := len(g.starts) - 1; i >= 0; i-- {
		if g.starts[i].verdict != admitted {
			continue
		}
		if seen == 0 {
			last = g.starts[i].at
		}
		if seen++; seen == n+1 {
			return last.Sub(g.starts[i].at) / time.Duration(n), true
		}
	}
	return 0, false
}

// failed records a failure other than a 429 of the request that started at start.
func (g *Gate) failed(start time.Time) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.answered(start, failed)
	g.learn()
}

// learn takes the lessons whose earlier requests are all answered.
func (g *Gate) learn() {
	for len(g.lessons) > 0 {
		ls := g.lessons[0]
		var ok []time.Time // the admitted requests the service could have counted
		for _, st := range g.starts {
			if st.at.After(ls.at) {
				break
			}
			if st.verdict == pending {
				return
			}
			if st.verdict == admitted {
				ok = append(ok, st.at)
			}
		}
		g.lessons = g.lessons[1:]
		rate, n, found := learnedSpacing(ok, ls.at, ls.free, g.learned.n)
		if !found {
			g.backOff()
			continue
		}
		l := learned{n: n, lo: max(rate-ls.step/time.Duration(n), 0), hi: rate}
		if p := g.learned; p.n == n && p.settled() && l.hi >= p.lo {
			continue // the answer of a settled limit (the 429 itself spaced the requests further apart)
		}
		if p := g.learned; p.n == n && l.lo <= p.hi && p.lo <= l.hi { // the same limit: narrow the bounds
			l.lo, l.hi = max(l.lo, p.lo), min(l.hi, p.hi)
		}
		// Otherwise the latest answer wins: a limit can change, and an estimate can be off (requests of another
		// client in the same window make it high); the next 429 corrects it.
		g.learned, g.through = l, 0
		g.floor = min(max(g.paced, l.hi), maxSpacing)
		g.widen(g.floor)
	}
}

// learnedSpacing finds every n for which "n requests in any window T" explains a 429 at now whose slot frees at
// free: T = free - (the nth latest admitted start), and the admitted start before those n is at or before now - T,
// outside the window. It returns the T/n of known when that n is among them (requests at a steady spacing fit
// every n: a burst tells n, later answers T), else the (lower) median of their T/n, and its n.
func learnedSpacing(starts []time.Time, now, free time.Time, known int) (time.Duration, int, bool) {
	type estimate struct {
		rate time.Duration
		n    int
	}
	var rates []estimate
	for n := 1; n <= len(starts); n++ {
		window := free.Sub(starts[len(starts)-n])
		if window <= 0 {
			continue
		}
		if n == len(starts) || !starts[len(starts)-n-1].After(now.Add(-window)) {
			if n == known {
				return window / time.Duration(n), n, true
			}
			rates = append(rates, estimate{window / time.Duration(n), n})
		}
	}
	if len(rates) == 0 {
		return 0, 0, false
	}
	slices.SortFunc(rates, func(a, b estimate) int { return cmp.Compare(a.rate, b.rate) })
	m := rates[(len(rates)-1)/2]
	return m.rate, m.n, true
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
		epoch := g.epoch
		g.mu.Unlock()
		if d := start.Sub(now); d > 0 {
			if err := sleep(ctx, d); err != nil {
				return total, time.Time{}, err
			}
			total += d
		}
		g.mu.Lock()
		if g.until.After(start) || g.epoch != epoch { // told to wait, or spaced further apart, while this caller slept
			g.mu.Unlock()
			continue
		}
		if len(g.starts) == gateHistory {
			g.starts = append(g.starts[:0], g.starts[1:]...)
		}
		g.starts = append(g.starts, gateStart{at: start})
		g.mu.Unlock()
		return total, start, nil
	}
}
