package tenantsim

import (
	"maps"
	"slices"
	"time"

	"github.com/seatlake/seatlake/internal/tenantsim/model"
)

// Truth is what a default `seatlake run` against the simulator must load, and a summary of the tenant.
type Truth struct {
	TenantID       string           `json:"tenant_id"`
	Tables         map[string]int64 `json:"tables"` // rows per raw table
	SignInsFrom    time.Time        `json:"signins_from"`
	SignInsTo      time.Time        `json:"signins_to"`
	Premium        bool             `json:"premium"`
	ConcealedNames bool             `json:"concealed_names"`
	Users          UserTruth        `json:"users"`
	SignInsFailed  int64            `json:"signins_failed"` // served sign-ins with status.errorCode != 0
	// LicenseRemovals counts licenses removed through assignLicense since start (the license truth above is the
	// tenant as generated, before any removal).
	LicenseRemovals int64 `json:"license_removals"`
	// FinOpsEventsDistinct is the number of distinct business events of the configured plan, FinOpsEventsUsers the
	// F&O users whose role changes were applied (their role rows after a refresh-user must show the new role).
	FinOpsEventsDistinct int      `json:"finops_events_distinct"`
	FinOpsEventsUsers    []string `json:"finops_events_users"`
	// Identities breaks the identities mart down: rows (one per Entra user and per Dynamics account), persons,
	// Dynamics accounts by match method, and unmatched accounts by reason.
	Identities IdentityTruth `json:"identities"`
	// Environments lists rows per table for each Dynamics environment, by environment URL (once started).
	Environments map[string]map[string]int64 `json:"environments,omitempty"`
	// UsageTruth is what the license marts must find (license_usage by status, finops_under_licensed,
	// downgrades, findings), at the simulator's clock (as_of) with the default rules.
	UsageTruth
}

// IdentityTruth is the identities mart's expected shape.
type IdentityTruth struct {
	Rows     int64            `json:"rows"`
	Persons  int64            `json:"persons"`
	ByMethod map[string]int64 `json:"by_method"`
	ByReason map[string]int64 `json:"by_reason"`
}

// UserTruth breaks the users down the way the license marts will.
type UserTruth struct {
	Total            int `json:"total"`
	Members          int `json:"members"`
	Guests           int `json:"guests"`
	Licensed         int `json:"licensed"`
	Active           int `json:"active"` // sign in during the history
	Idle             int `json:"idle"`   // last signed in 60-300 days ago
	Never            int `json:"never"`  // never signed in
	Disabled         int `json:"disabled"`
	DisabledLicensed int `json:"disabled_licensed"`
}

// Truth returns what a default run must load (also GET /_sim/truth).
func (s *Sim) Truth() Truth {
	s.truthMu.Lock()
	if s.usage == nil {
		// The license marts' truth walks every audit record: computed when first asked for, not at start-up.
		s.m.DirectoryMu.RLock()
		s.m.FinOpsMu.RLock()
		u := s.usageTruth()
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
	s.m.DirectoryMu.RLock()
	t.LicenseRemovals = s.lw.removed
	s.m.DirectoryMu.RUnlock()
	t.Environments = map[string]map[string]int64{}
	for i, u := range s.DataverseURLs() {
		t.Environments[u] = s.dataverseTruth(i)
	}
	for i, u := range s.FinOpsURLs() {
		t.Environments[u] = s.finOpsTruth(i)
	}
	return t
}

// dataverseTruth is what a run lands from Dataverse environment e: nothing without the application user.
func (s *Sim) dataverseTruth(e int) map[string]int64 {
	env := &s.m.Dataverse[e]
	if env.NoAppUser.Load() {
		return map[string]int64{"dataverse_users": 0, "dataverse_audits": 0, "dataverse_audit_settings": 0}
	}
	return map[string]int64{"dataverse_users": int64(len(env.Users)), "dataverse_audits": env.Audits.Total, "dataverse_audit_settings": 1}
}

// finOpsTruth is what a run lands from F&O environment e: nothing when an entity is missing (the pre-flight check
// refuses the environment).
func (s *Sim) finOpsTruth(e int) map[string]int64 {
	env := &s.m.FinOps[e]
	if env.MissingEntity != "" {
		return map[string]int64{"finops_users": 0, "finops_security_roles": 0, "finops_user_roles": 0}
	}
	var roles int64
	for _, u := range env.Users {
		roles += int64(len(u.Roles))
	}
	return map[string]int64{"finops_users": int64(len(env.Users)), "finops_security_roles": int64(len(model.FinOpsRoles)), "finops_user_roles": roles}
}

func (s *Sim) computeTruth() Truth {
	m := s.m
	t := Truth{TenantID: s.cfg.TenantID, Premium: s.cfg.Premium, ConcealedNames: s.cfg.ConcealedNames,
		SignInsFrom: time.UnixMicro(m.ServedFrom).UTC(), SignInsTo: time.UnixMicro(m.ServedTo).UTC()}
	var signIns int64
	if s.cfg.Premium {
		signIns = m.Events.CountBetween(m.ServedFrom, m.ServedTo)
		t.SignInsFailed = m.FailedServed
	}
	t.Tables = map[string]int64{
		"graph_users":           int64(len(m.Users)),
		"graph_user_licenses":   m.LicenseCount,
		"graph_groups":          s.groupsTruth(),
		"graph_subscribed_skus": int64(len(m.SKUs)),
		"graph_signins":         signIns,
		"graph_report_settings": 1,
		"graph_usage_report":    m.ReportRows(),
		"license_usage":         m.LicenseCount,
	}
	for e := range m.Dataverse {
		for k, v := range s.dataverseTruth(e) {
			t.Tables[k] += v
		}
	}
	for e := range m.FinOps {
		for k, v := range s.finOpsTruth(e) {
			t.Tables[k] += v
		}
	}
	t.Identities = s.identityTruth()
	t.Tables["identities"] = t.Identities.Rows
	for i := range m.Users {
		u := &m.Users[i]
		t.Users.Total++
		if u.Guest {
			t.Users.Guests++
		} else {
			t.Users.Members++
		}
		if len(u.Licenses) > 0 {
			t.Users.Licensed++
		}
		switch u.Act {
		case model.Active:
			t.Users.Active++
		case model.Idle:
			t.Users.Idle++
		default:
			t.Users.Never++
		}
		if !u.Enabled {
			t.Users.Disabled++
			if len(u.Licenses) > 0 {
				t.Users.DisabledLicensed++
			}
		}
	}
	return t
}

// identityTruth counts the identities mart from how each account was planted.
func (s *Sim) identityTruth() IdentityTruth {
	m := s.m
	t := IdentityTruth{ByMethod: map[string]int64{}, ByReason: map[string]int64{}}
	t.Rows, t.Persons = int64(len(m.Users)), int64(len(m.Users))
	count := func(method, reason string) {
		t.Rows++
		if method != "" {
			t.ByMethod[method]++
		} else {
			t.ByReason[reason]++
			t.Persons++
		}
	}
	for e := range m.Dataverse {
		if m.Dataverse[e].NoAppUser.Load() {
			continue
		}
		for _, u := range m.Dataverse[e].Users {
			count(u.Method, u.Reason)
		}
	}
	for e := range m.FinOps {
		if m.FinOps[e].MissingEntity != "" {
			continue
		}
		for _, u := range m.FinOps[e].Users {
			count(u.Method, u.Reason)
		}
	}
	return t
}

// SetApplicationUser adds (ok true) or removes seatlake's application user in Dataverse environment e, as an
// administrator would between two runs; the truth follows.
func (s *Sim) SetApplicationUser(e int, ok bool) {
	s.m.Dataverse[e].NoAppUser.Store(!ok)
	t := s.computeTruth()
	s.truthMu.Lock()
	s.truth, s.usage = t, nil
	s.truthMu.Unlock()
}

// groupsTruth is what a run lands in graph_groups: the groups that assign licenses, when the app may read groups.
func (s *Sim) groupsTruth() int64 {
	if s.graphPermission("groups", nil) != "" {
		return 0
	}
	return s.m.LicensingGroups()
}
