package simkit

import "time"

// The shapes of service limits: a sliding window of requests and a token bucket of resource units. A service's
// own limits say which requests take from which (Graph's in graphsim, Dataverse's and F&O's guards).

// Window allows at most n requests in any span of per (a sliding log).
type Window struct {
	N    int
	Per  time.Duration
	hits []time.Time // oldest first
}

// Bucket is a token bucket of capacity resource units refilled over per.
type Bucket struct {
	Capacity, Level float64
	Per             time.Duration
	last            time.Time
}

// Wait is how long a request at now must wait for room in the window (0: it fits); it forgets requests that have
// left the window.
func (w *Window) Wait(now time.Time) time.Duration {
	cut := now.Add(-w.Per)
	i := 0
	for i < len(w.hits) && !w.hits[i].After(cut) {
		i++
	}
	w.hits = append(w.hits[:0], w.hits[i:]...)
	if len(w.hits) < w.N {
		return 0
	}
	return w.hits[len(w.hits)-w.N].Add(w.Per).Sub(now)
}

// Take records a request admitted at now.
func (w *Window) Take(now time.Time) { w.hits = append(w.hits, now) }

// Wait refills the bucket up to now and says how long a request costing ru must wait (0: the bucket holds it; the
// caller takes ru from Level).
func (b *Bucket) Wait(now time.Time, ru float64) time.Duration {
	if !b.last.IsZero() && now.After(b.last) {
		b.Level = min(b.Capacity, b.Level+float64(now.Sub(b.last))/float64(b.Per)*b.Capacity)
	}
	b.last = now
	if b.Level >= ru {
		return 0
	}
	return time.Duration((ru - b.Level) / b.Capacity * float64(b.Per))
}

// Guard is a Dynamics environment's service protection: admit lets a request start (code "") or names the limit
// it exceeds; done reports a finished request and how long it took.
type Guard interface {
	Admit(now time.Time) (code, msg string, wait time.Duration)
	Done(now time.Time, took time.Duration)
}
