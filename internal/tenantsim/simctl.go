package tenantsim

import (
	"encoding/json"
	"net/http"

	"github.com/seatlake/seatlake/internal/tenantsim/simkit"
)

// InjectFault queues f: the next f.Count requests whose path starts with f.Path get it. Faults queued for the
// same path apply in order. Invalid faults (unknown kind, count < 1) are ignored.
func (s *Sim) InjectFault(f simkit.Fault) { s.kit.InjectFault(f) }

// ClearFaults drops every queued fault.
func (s *Sim) ClearFaults() { s.kit.ClearFaults() }

// Stats returns a copy of the request, throttling and fault counts so far.
func (s *Sim) Stats() simkit.Stats {
	st := s.kit.Stats()
	st.Tokens = s.id.Issued()
	return st
}

// postFault is POST /_sim/faults, for tests in other processes.
func (s *Sim) postFault(w http.ResponseWriter, r *http.Request) {
	var f simkit.Fault
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<16)).Decode(&f); err != nil || !f.Kind.Valid() || f.Count < 1 {
		simkit.WriteJSON(w, http.StatusBadRequest, map[string]string{
			"error": `want {"path":"/v1.0/...","kind":"Status500|Status503|Status504|Throttle429|ConnReset|TruncatedBody|SlowPage|ExpireTokens","count":1,"delay":"1s"}`,
		})
		return
	}
	s.InjectFault(f)
	w.WriteHeader(http.StatusNoContent)
}
