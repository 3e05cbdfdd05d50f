package tenantsim

import (
	"maps"
	"slices"

	"github.com/seatlake/seatlake/internal/tenantsim/truth"
)

// Truth is what a default `seatlake run` against the simulator must load, and a summary of the tenant.
type Truth = truth.Truth

// IdentityTruth is the identities mart's expected shape.
type IdentityTruth = truth.IdentityTruth

// UserTruth breaks the users down the way the license marts will.
type UserTruth = truth.UserTruth

// UsageTruth is what the license_usage, license_position and findings marts must say.
type UsageTruth = truth.UsageTruth

// Truth returns what a default run must load (also GET /_sim/truth).
func (s *Sim) Truth() Truth {
	s.truthMu.Lock()
	if s.usage == nil {
		// The license marts' truth walks every audit record: computed when first asked for, not at start-up.
		s.m.DirectoryMu.RLock()
		s.m.FinOpsMu.RLock()
		u := truth.Usage(s.m, s.groupsReadable())
		s.m.FinOpsMu.RUnlock()
		s.m.DirectoryMu.RUnlock()
		s.usage = &u
	}
	t := s.truth
	t.UsageTruth = *s.usage
	t.Findings = slices.Clone(t.Findings)
	t.LicenseUsage = maps.Clone(t.LicenseUsage)
	t.Tables = maps.Clone(t.Tables)
	t.FinOpsEventsUsers = slices.Clone(s.eventsApplied)
	planned := s.eventsPlanned
	s.truthMu.Unlock()
	if len(s.m.FinOps) > 0 { // the plan has one distinct event per number asked for, when there is an F&O environment
		// The plan this simulator was started with, or the one a sender had it apply.
		t.FinOpsEventsDistinct = max(s.cfg.FinOpsEvents, planned, 0)
	}
	t.LicenseRemovals = s.graph.LicenseRemovals()
	t.Environments = map[string]map[string]int64{}
	for i, u := range s.DataverseURLs() {
		t.Environments[u] = truth.Dataverse(s.m, i)
	}
	for i, u := range s.FinOpsURLs() {
		t.Environments[u] = truth.FinOps(s.m, i)
	}
	return t
}

// SetApplicationUser adds (ok true) or removes seatlake's application user in Dataverse environment e, as an
// administrator would between two runs; the truth follows.
func (s *Sim) SetApplicationUser(e int, ok bool) {
	s.m.Dataverse[e].NoAppUser.Store(!ok)
	t := truth.Of(s.m, s.groupsReadable())
	s.truthMu.Lock()
	s.truth, s.usage = t, nil
	s.truthMu.Unlock()
}

// groupsReadable says whether the app may read the groups that assign licenses.
func (s *Sim) groupsReadable() bool { return s.graph.Readable("groups") }
