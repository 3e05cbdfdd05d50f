package simkit

import (
	"maps"
	"sync"
)

// Stats counts what the simulator served.
type Stats struct {
	Requests  map[string]int64 `json:"requests"`  // requests answered, by path family (token, users, signIns, …)
	Throttled map[string]int64 `json:"throttled"` // 429s sent, by path family (service limits and injected)
	Faults    map[string]int64 `json:"faults"`    // injected faults applied, by kind
	Limits    map[string]int64 `json:"limits"`    // Dynamics service protection 429s, by the limit's error code (F&O: "429")
	Tokens    int64            `json:"tokens"`    // access tokens issued
}

type counters struct {
	mu        sync.Mutex
	requests  map[string]int64
	throttled map[string]int64
	faults    map[string]int64
	limits    map[string]int64
}

func (c *counters) init() {
	c.requests, c.throttled, c.faults, c.limits = map[string]int64{}, map[string]int64{}, map[string]int64{}, map[string]int64{}
}

func (c *counters) request(family string, status int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.requests[family]++
	if status == 429 {
		c.throttled[family]++
	}
}

func (c *counters) limit(code string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.limits[code]++
}

func (c *counters) fault(k FaultKind) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.faults[string(k)]++
}

// Stats returns a copy of the request, throttling and fault counts so far (Tokens is the identity platform's to
// fill).
func (k *Kit) Stats() Stats {
	c := &k.stats
	c.mu.Lock()
	defer c.mu.Unlock()
	return Stats{Requests: maps.Clone(c.requests), Throttled: maps.Clone(c.throttled), Faults: maps.Clone(c.faults),
		Limits: maps.Clone(c.limits)}
}
