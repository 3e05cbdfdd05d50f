package tenantsim

import (
	"sync"
	"time"
)

// limits models Microsoft Graph's service limits per app and tenant (reference §2c, §2e).
type limits struct {
	now     func() time.Time
	classes map[string]*window
	dir     *bucket
}

// window is a sliding-window limit: at most n requests in any span of per.
type window struct {
	mu   sync.Mutex
	n    int
	per  time.Duration
	hits []time.Time
}

// bucket is a token bucket of resource units (the directory limit).
type bucket struct {
	mu       sync.Mutex
	capacity float64
	per      time.Duration
	level    float64
	last     time.Time
}

func newLimits(mode string, now func() time.Time) *limits {
	l := &limits{now: now, classes: map[string]*window{}}
	switch mode {
	case "realistic":
		l.classes["reports"] = &window{n: 5, per: 10 * time.Second}
		l.classes["signInActivity"] = &window{n: 10, per: time.Minute}
		l.dir = &bucket{capacity: 8000, per: 10 * time.Second, level: 8000}
	case "scaled":
		l.classes["reports"] = &window{n: 5, per: time.Second}
		l.classes["signInActivity"] = &window{n: 10, per: 3 * time.Second}
		l.dir = &bucket{capacity: 800, per: 10 * time.Second, level: 800}
	}
	return l
}

// admit says whether a request of class costing ru resource units may run now, and if not, how long to wait.
func (l *limits) admit(class string, ru float64) (time.Duration, bool) {
	now := l.now()
	if w := l.classes[class]; w != nil {
		if d, ok := w.admit(now); !ok {
			return d, false
		}
	}
	if l.dir != nil && class == "directory" {
		return l.dir.admit(now, ru)
	}
	return 0, true
}

func (w *window) admit(now time.Time) (time.Duration, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	cut := now.Add(-w.per)
	i := 0
	for i < len(w.hits) && !w.hits[i].After(cut) {
		i++
	}
	w.hits = w.hits[i:]
	if len(w.hits) >= w.n {
		return w.hits[0].Add(w.per).Sub(now), false
	}
	w.hits = append(w.hits, now)
	return 0, true
}

func (b *bucket) admit(now time.Time, ru float64) (time.Duration, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.last.IsZero() {
		b.level += float64(now.Sub(b.last)) / float64(b.per) * b.capacity
		if b.level > b.capacity {
			b.level = b.capacity
		}
	}
	b.last = now
	if b.level >= ru {
		b.level -= ru
		return 0, true
	}
	return time.Duration((ru - b.level) / b.capacity * float64(b.per)), false
}
