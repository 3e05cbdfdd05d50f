package tenantsim

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"
)

// FaultKind is a failure the simulator can inject. Its JSON form is its name.
type FaultKind string

// The injectable faults.
const (
	Status500     FaultKind = "Status500"     // 500 with Graph's error body
	Status503     FaultKind = "Status503"     // 503 with Graph's error body, no Retry-After
	Status504     FaultKind = "Status504"     // 504 with Graph's error body
	Throttle429   FaultKind = "Throttle429"   // 429 with Graph's body and Retry-After: Delay (default 1 s)
	ConnReset     FaultKind = "ConnReset"     // the connection is closed (RST) without an answer
	TruncatedBody FaultKind = "TruncatedBody" // the status, headers and half of the body, then the connection closes
	SlowPage      FaultKind = "SlowPage"      // the answer waits Delay, or until the client gives up
	ExpireTokens  FaultKind = "ExpireTokens"  // every token issued so far expires, then the request is judged (401)
)

func (k FaultKind) valid() bool {
	switch k {
	case Status500, Status503, Status504, Throttle429, ConnReset, TruncatedBody, SlowPage, ExpireTokens:
		return true
	}
	return false
}

// Fault makes the next Count requests whose path starts with Path (e.g. "/v1.0/auditLogs/signIns") fail as Kind.
// Over HTTP (POST /_sim/faults) it is {"path":…,"kind":"Status503","count":1,"delay":"1.5s"}; delay may also be
// nanoseconds.
type Fault struct {
	Path  string        `json:"path"`
	Kind  FaultKind     `json:"kind"`
	Count int           `json:"count"`
	Delay time.Duration `json:"delay"`
}

// UnmarshalJSON accepts delay as a Go duration string or as nanoseconds.
func (f *Fault) UnmarshalJSON(b []byte) error {
	var raw struct {
		Path  string          `json:"path"`
		Kind  FaultKind       `json:"kind"`
		Count int             `json:"count"`
		Delay json.RawMessage `json:"delay"`
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		return err
	}
	f.Path, f.Kind, f.Count, f.Delay = raw.Path, raw.Kind, raw.Count, 0
	if len(raw.Delay) == 0 || string(raw.Delay) == "null" {
		return nil
	}
	var s string
	if json.Unmarshal(raw.Delay, &s) == nil {
		d, err := time.ParseDuration(s)
		if err != nil {
			return fmt.Errorf("fault delay: %w", err)
		}
		f.Delay = d
		return nil
	}
	if err := json.Unmarshal(raw.Delay, &f.Delay); err != nil {
		return fmt.Errorf("fault delay: %w", err)
	}
	return nil
}

// faultQueue holds the faults waiting for matching requests, oldest first.
type faultQueue struct {
	mu     sync.Mutex
	faults []Fault
}

func (q *faultQueue) add(f Fault) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.faults = append(q.faults, f)
}

// take consumes one fault matching path, oldest first.
func (q *faultQueue) take(path string) (Fault, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	for i := range q.faults {
		f := &q.faults[i]
		if strings.HasPrefix(path, f.Path) {
			got := *f
			if f.Count--; f.Count <= 0 {
				q.faults = append(q.faults[:i], q.faults[i+1:]...)
			}
			return got, true
		}
	}
	return Fault{}, false
}

func (q *faultQueue) clear() {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.faults = nil
}

// InjectFault queues f: the next f.Count requests whose path starts with f.Path get it. Faults queued for the
// same path apply in order. Invalid faults (unknown kind, count < 1) are ignored.
func (s *Sim) InjectFault(f Fault) {
	if !f.Kind.valid() || f.Count < 1 {
		s.log.Warn("ignoring an invalid fault", "kind", f.Kind, "count", f.Count)
		return
	}
	s.faults.add(f)
}

// ClearFaults drops every queued fault.
func (s *Sim) ClearFaults() { s.faults.clear() }

// postFault is POST /_sim/faults, for tests in other processes.
func (s *Sim) postFault(w http.ResponseWriter, r *http.Request) {
	var f Fault
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<16)).Decode(&f); err != nil || !f.Kind.valid() || f.Count < 1 {
		writeJSON(w, http.StatusBadRequest, map[string]string{
			"error": `want {"path":"/v1.0/...","kind":"Status500|Status503|Status504|Throttle429|ConnReset|TruncatedBody|SlowPage|ExpireTokens","count":1,"delay":"1s"}`,
		})
		return
	}
	s.InjectFault(f)
	w.WriteHeader(http.StatusNoContent)
}
