package tenantsim

import (
	"encoding/json"
	"strings"
	"time"
)

// FaultKind is a failure the simulator can inject.
type FaultKind string

// The injectable faults.
const (
	Status500     FaultKind = "Status500"
	Status503     FaultKind = "Status503"
	Status504     FaultKind = "Status504"
	Throttle429   FaultKind = "Throttle429"   // 429 with Retry-After: 1 and Graph's body
	ConnReset     FaultKind = "ConnReset"     // the connection is closed without an answer
	TruncatedBody FaultKind = "TruncatedBody" // half of the body, then the connection closes
	SlowPage      FaultKind = "SlowPage"      // the answer waits Delay (or until the client gives up)
	ExpireTokens  FaultKind = "ExpireTokens"  // every token issued so far is revoked, then the request is judged
)

func (k FaultKind) valid() bool {
	switch k {
	case Status500, Status503, Status504, Throttle429, ConnReset, TruncatedBody, SlowPage, ExpireTokens:
		return true
	}
	return false
}

// Fault makes the next Count requests whose path starts with Path fail as Kind.
type Fault struct {
	Path  string        `json:"path"`
	Kind  FaultKind     `json:"kind"`
	Count int           `json:"count"`
	Delay time.Duration `json:"delay"`
}

// UnmarshalJSON accepts delay as a Go duration string ("1.5s") or nanoseconds.
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
	f.Path, f.Kind, f.Count = raw.Path, raw.Kind, raw.Count
	if len(raw.Delay) > 0 {
		var s string
		if json.Unmarshal(raw.Delay, &s) == nil {
			d, err := time.ParseDuration(s)
			if err != nil {
				return err
			}
			f.Delay = d
		} else if err := json.Unmarshal(raw.Delay, &f.Delay); err != nil {
			return err
		}
	}
	return nil
}

// InjectFault queues a fault.
func (s *Sim) InjectFault(f Fault) {
	s.faultMu.Lock()
	defer s.faultMu.Unlock()
	cp := f
	s.faults = append(s.faults, &cp)
}

// takeFault consumes one matching fault, oldest first.
func (s *Sim) takeFault(path string) (Fault, bool) {
	s.faultMu.Lock()
	defer s.faultMu.Unlock()
	for i, f := range s.faults {
		if strings.HasPrefix(path, f.Path) {
			got := *f
			f.Count--
			if f.Count <= 0 {
				s.faults = append(s.faults[:i], s.faults[i+1:]...)
			}
			return got, true
		}
	}
	return Fault{}, false
}

// ClearFaults drops every queued fault.
func (s *Sim) ClearFaults() {
	s.faultMu.Lock()
	defer s.faultMu.Unlock()
	s.faults = nil
}
