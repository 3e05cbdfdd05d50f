package simkit

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

// Valid says whether k is one of the injectable faults.
func (k FaultKind) Valid() bool {
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
func (k *Kit) InjectFault(f Fault) {
	if !f.Kind.Valid() || f.Count < 1 {
		k.log.Warn("ignoring an invalid fault", "kind", f.Kind, "count", f.Count)
		return
	}
	k.faults.add(f)
}

// ClearFaults drops every queued fault.
func (k *Kit) ClearFaults() { k.faults.clear() }

// TakeFault consumes the oldest fault queued for a path that path starts with.
func (k *Kit) TakeFault(path string) (Fault, bool) { return k.faults.take(path) }

// ConnectionFault applies what an injected fault does before any answer, the same in every service: a reset
// connection, a slow page, revoked tokens (revoke). It counts the fault, and returns false when the request is over.
func (k *Kit) ConnectionFault(w http.ResponseWriter, r *http.Request, f Fault, family string, revoke func()) bool {
	k.stats.fault(f.Kind)
	k.log.Debug("injecting fault", "path", r.URL.Path, "kind", f.Kind)
	switch f.Kind {
	case ConnReset:
		k.stats.request(family, 0)
		resetConn(w)
		return false
	case SlowPage:
		t := time.NewTimer(f.Delay)
		defer t.Stop()
		select {
		case <-t.C:
		case <-r.Context().Done():
			k.stats.request(family, 0)
			return false
		}
	case ExpireTokens:
		revoke()
	}
	return true
}

// FaultStatus is the HTTP status an injected fault answers with, 0 when it is not a status fault.
func FaultStatus(f Fault, faulty bool) int {
	if !faulty {
		return 0
	}
	switch f.Kind {
	case Status500:
		return http.StatusInternalServerError
	case Status503:
		return http.StatusServiceUnavailable
	case Status504:
		return http.StatusGatewayTimeout
	case Throttle429:
		return http.StatusTooManyRequests
	}
	return 0
}

// resetConn breaks the connection with a TCP RST after the first bytes of a status line. Those bytes matter: an
// HTTP client that sees a reused connection close before any byte of the answer retries an idempotent request on
// its own (Go's does), and the fault would never reach the code under test.
func resetConn(w http.ResponseWriter) {
	hj, ok := w.(http.Hijacker)
	if !ok {
		panic(http.ErrAbortHandler)
	}
	conn, buf, err := hj.Hijack()
	if err != nil {
		panic(http.ErrAbortHandler)
	}
	buf.WriteString("HTTP/1.1 ")
	buf.Flush()
	if tc, ok := conn.(interface{ SetLinger(int) error }); ok {
		tc.SetLinger(0)
	}
	conn.Close()
}
