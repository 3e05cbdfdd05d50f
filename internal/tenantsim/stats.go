package tenantsim

import "sync"

// Stats counts what the simulator served.
type Stats struct {
	Requests  map[string]int64 `json:"requests"`  // requests answered, by path family (token, users, signIns, …)
	Throttled map[string]int64 `json:"throttled"` // 429s sent, by path family (service limits and injected)
	Faults    map[string]int64 `json:"faults"`    // injected faults applied, by kind
	Tokens    int64            `json:"tokens"`    // access tokens issued
}

type counters struct {
	mu        sync.Mutex
	requests  map[string]int64
	throttled map[string]int64
	faults    map[string]int64
}

func (c *counters) init() {
	c.requests, c.throttled, c.faults = map[string]int64{}, map[string]int64{}, map[string]int64{}
}

func (c *counters) request(family string, status int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.requests[family]++
	if status == 429 {
		c.throttled[family]++
	}
}

func (c *counters) fault(k FaultKind) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.faults[string(k)]++
}

// Stats returns a copy of the request, throttling and fault counts so far.
func (s *Sim) Stats() Stats {
	c := &s.stats
	c.mu.Lock()
	defer c.mu.Unlock()
	st := Stats{Requests: map[string]int64{}, Throttled: map[string]int64{}, Faults: map[string]int64{}, Tokens: s.tokens.count()}
	for k, v := range c.requests {
		st.Requests[k] = v
	}
	for k, v := range c.throttled {
		st.Throttled[k] = v
	}
	for k, v := range c.faults {
		st.Faults[k] = v
	}
	return st
}
