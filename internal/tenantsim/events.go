package tenantsim

import (
	"context"
	"net/http"
	"strconv"

	"github.com/seatlake/seatlake/internal/tenantsim/eventsim"
	"github.com/seatlake/seatlake/internal/tenantsim/simkit"
)

// PlannedEvent is one F&O business event of the plan.
type PlannedEvent = eventsim.PlannedEvent

// SendResult is what the sender did.
type SendResult = eventsim.SendResult

// FinOpsEventPlan is the plan of n distinct F&O business events (eventsim.Plan).
func (s *Sim) FinOpsEventPlan(n int) []PlannedEvent { return eventsim.Plan(s.m, n) }

// ApplyFinOpsEvents makes the first F&O environment serve the role changes of the plan's first n events (the
// changes the events announce); it returns the users changed, and the truth names them.
func (s *Sim) ApplyFinOpsEvents(n int) []string {
	changed := eventsim.Apply(s.m, n)
	s.truthMu.Lock()
	s.eventsApplied, s.eventsPlanned = changed, n
	s.truthMu.Unlock()
	return changed
}

// SendFinOpsEvents posts the plan's n events to callback at rate events a second, as F&O does: each distinct event
// until it is acknowledged (a 5xx or a refused connection is retried), every fifth sent again (a retry whose first
// answer was lost: a duplicate), and one malformed body halfway, which must be refused with a 4xx.
func (s *Sim) SendFinOpsEvents(ctx context.Context, callback string, n int, rate float64, hc *http.Client) (SendResult, error) {
	return eventsim.Send(ctx, s.m, callback, n, rate, hc)
}

func eventsApplyHandler(s *Sim) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		n, err := strconv.Atoi(r.URL.Query().Get("n"))
		if err != nil {
			n = s.cfg.FinOpsEvents
		}
		simkit.WriteJSON(w, http.StatusOK, map[string]any{"users_changed": s.ApplyFinOpsEvents(n)})
	}
}
