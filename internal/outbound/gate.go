package outbound

import (
	"context"
	"math"
	"slices"
	"sort"
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
//   - it brackets the limit with everything it has seen (window): for each n, a 429 to a request that started at t
//     says the service's window T is longer than t minus the nth latest admitted start (and, by its Retry-After,
//     at most that plus Retry-After), and every success says T is at most its start minus the nth latest admitted
//     start before it. An answer counts once every request started before it has answered. An n whose bracket is
//     not empty explains every answer; the gate spaces requests at the slowest such n's upper bound over n, and
//     does not probe below it (a 429 pauses everyone for its Retry-After, more than probing would win). A
//     Retry-After in whole seconds (Graph's, Dataverse's) bounds a window only to within a second: tight when the
//     first 429 follows a burst (the oldest request then leaves the window just before the rounded second), as
//     when a run's streams start together; a bound found later, mid-window, can be up to a second slow, and
//     stays so. Without a bracket (no Retry-After) the adaptive spacing above applies.
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
	window  window        // the limit bracketed by the answers: successes and 429s, by their starts
	learned time.Time     // the start of the request whose 429 last set the spacing
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
	if !start.IsZero() && retryAfter > 0 {
		g.window.resolve(start, retryAfter, refused)
		if floor, ok := g.window.spacing(); ok {
			g.floor = min(max(g.paced, floor), maxSpacing)
			g.spacing = g.floor
			g.learned = start
			return
		}
		if !g.learned.IsZero() && !start.After(g.learned) {
			// It started before the last lesson, at the spacing that lesson replaced: nothing new to learn.
			return
		}
		g.learned = start
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

// succeededAt records the success of the request that started at start: it narrows the bracket, whose safe
// spacing then holds; without a bracket the spacing relaxes as succeeded lets it.
func (g *Gate) succeededAt(start time.Time) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.window.resolve(start, 0, admitted)
	if floor, ok := g.window.spacing(); ok {
		// No probing below it: a 429 costs every request its Retry-After (a whole second, or the rest of a
		// window), more than a bracket closed by the first 429s leaves to gain.
		g.floor = min(max(g.paced, floor), maxSpacing)
		g.spacing = g.floor
		return
	}
	g.relax()
}

// succeeded lets the spacing shrink back towards the floor, and a learned floor towards the paced one.
func (g *Gate) succeeded() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.relax()
}

// abandoned says the request that started at start has no answer that tells about the limit (an error, a 401):
// the bracket stops waiting for it.
func (g *Gate) abandoned(start time.Time) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.window.resolve(start, 0, unknown)
}

func (g *Gate) relax() {
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
		g.window.started(start)
		g.mu.Unlock()
		return total, start, nil
	}
}

// window brackets a limit of n requests in any window T, for each n up to gateHistory, from the starts of the
// requests the service admitted and refused (a request's start stands for its arrival). An answer is applied once
// every request that started before it has answered: until then the requests ahead of it are unknown.
type window struct {
	inflight []time.Time  // starts of requests through the gate without an answer, oldest first
	pending  []gateAnswer // answers waiting for an earlier request's, by start
	admits   []time.Time  // starts of admitted requests, oldest first (the latest gateHistory)
	lo, hi   []time.Duration
	taught   bool          // a 429 has been seen
	jitter   time.Duration // how far answers contradicted the brackets (see noted)
}

const unbounded = time.Duration(math.MaxInt64)

// arrivalJitter is how much later than another a request may start and still reach the service first.
const arrivalJitter = 25 * time.Millisecond

type outcome int

const (
	admitted outcome = iota
	refused
	unknown
)

type gateAnswer struct {
	start      time.Time
	retryAfter time.Duration
	outcome    outcome
}

// started records a request let through the gate.
func (w *window) started(t time.Time) {
	i := sort.Search(len(w.inflight), func(i int) bool { return w.inflight[i].After(t) })
	w.inflight = slices.Insert(w.inflight, i, t)
	if len(w.inflight) > 4*gateHistory { // answers lost (a caller that never reported): forget the oldest
		w.inflight = w.inflight[1:]
	}
}

// resolve records the answer to the request that started at start, and applies the answers that no earlier
// request is still waiting for.
func (w *window) resolve(start time.Time, retryAfter time.Duration, o outcome) {
	if i := slices.IndexFunc(w.inflight, start.Equal); i >= 0 {
		w.inflight = slices.Delete(w.inflight, i, i+1)
	}
	if o != unknown {
		i := sort.Search(len(w.pending), func(i int) bool { return w.pending[i].start.After(start) })
		w.pending = slices.Insert(w.pending, i, gateAnswer{start, retryAfter, o})
	}
	n := 0
	for _, a := range w.pending {
		if len(w.inflight) > 0 && !a.start.Before(w.inflight[0]) {
			break
		}
		if a.outcome == admitted {
			w.admitted(a.start)
		} else {
			w.refused(a.start, a.retryAfter)
		}
		n++
	}
	w.pending = slices.Delete(w.pending, 0, n)
}

func (w *window) init() {
	if w.lo == nil {
		w.lo, w.hi = make([]time.Duration, gateHistory+1), make([]time.Duration, gateHistory+1)
		for i := range w.hi {
			w.hi[i] = unbounded
		}
	}
}

// before is the index of the first admitted start after t: admits[:before(t)] started at or before t.
func (w *window) before(t time.Time) int {
	return sort.Search(len(w.admits), func(i int) bool { return w.admits[i].After(t) })
}

// admitted records a success: for each n, T <= start - (the nth latest admitted start before it).
func (w *window) admitted(start time.Time) {
	w.init()
	k := w.before(start)
	for n := 1; n <= k; n++ {
		hi := start.Sub(w.admits[k-n])
		w.noted(n, w.lo[n], hi)
		w.hi[n] = min(w.hi[n], hi)
	}
	if len(w.admits) == gateHistory {
		w.admits = w.admits[1:]
		k--
	}
	w.admits = slices.Insert(w.admits, max(k, 0), start)
}

// refused records a 429 with its Retry-After: for each n, T > start - (the nth latest admitted start), and T <=
// that plus Retry-After (when the oldest of the n leaves the window; a rounded-up Retry-After only loosens it); an
// n above the admitted starts it follows would have admitted it.
func (w *window) refused(start time.Time, retryAfter time.Duration) {
	w.init()
	w.taught = true
	k := w.before(start)
	for n := 1; n <= k; n++ {
		d := start.Sub(w.admits[k-n])
		lo := d
		if retryAfter >= time.Second && retryAfter%time.Second == 0 { // rounded up from more than a second less
			lo = max(lo, d+retryAfter-time.Second)
		}
		w.noted(n, lo, w.hi[n])
		w.lo[n] = max(w.lo[n], lo)
		w.hi[n] = min(w.hi[n], d+retryAfter)
	}
	// n requests would have let this one in: not the limit. Requests that started within arrivalJitter after it
	// may have arrived before it (they count as its predecessors here).
	for n := w.before(start.Add(arrivalJitter)) + 1; n < len(w.lo); n++ {
		w.lo[n] = unbounded
	}
}

// noted learns the arrival jitter from an answer that contradicts a bracket that held: a request admitted less
// than the window after the nth before it, or refused more than the window after, arrived later or earlier than
// it started (a busy client or service). The jitter widens every bracket and the spacing.
func (w *window) noted(n int, lo, hi time.Duration) {
	if lo == 0 || hi == unbounded || lo <= hi || !w.holds(n) {
		return
	}
	w.jitter = min(max(w.jitter, lo-hi), hi/8)
}

func (w *window) holds(n int) bool {
	lo, hi := w.lo[n], w.hi[n]
	return lo != 0 && hi != unbounded && lo < hi+w.jitter+hi/64
}

// spacing is the spacing that keeps every n whose bracket holds (lo < hi, with room for the jitter between a start
// and its arrival) within its limit at its upper bound, or at the whole second below it when that is still in the
// bracket, plus the jitter and 1/32: with 1/100 a busy machine (load 3) met 4-7 429s a run, each pausing every
// request for its Retry-After, and ran 1.26x the limit; with 1/32, 1-2 and 1.05x. A window that is not whole seconds answers the first
// request the whole second lets through too early with a 429, which takes the whole second out of its bracket.
func (w *window) spacing() (time.Duration, bool) {
	if !w.taught {
		return 0, false
	}
	var safe time.Duration
	ok := false
	for n := 1; n < len(w.lo); n++ {
		if !w.holds(n) {
			continue
		}
		lo, hi := w.lo[n], w.hi[n]
		base := max(hi, lo)
		if s := hi.Truncate(time.Second); s+w.jitter > lo && s >= time.Second {
			base = s // the documented windows are whole seconds (10 s, 1 and 5 minutes): the rounding is the slack
		}
		s := (base + w.jitter) / time.Duration(n)
		safe, ok = max(safe, s+s/32), true
	}
	return safe, ok
}
