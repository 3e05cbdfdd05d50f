// Package truth says what seatlake must find in a simulated tenant: the rows a default run lands per raw table,
// the identities mart's shape, and what the license marts must conclude with the default rules. It is derived from
// how the tenant was built (who is idle, which app each sign-in went to, which audit records each account left,
// which roles each F&O account holds), never from the rows a run lands, and is written here in Go, apart from
// seatlake's SQL, so that the two can disagree. The simulator serves it as GET /_sim/truth.
package truth

import (
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

// Dataverse is what a run lands from Dataverse environment e: nothing without the application user.
func Dataverse(m *model.Tenant, e int) map[string]int64 {
	env := &m.Dataverse[e]
	if env.NoAppUser.Load() {
		return map[string]int64{"dataverse_users": 0, "dataverse_audits": 0, "dataverse_audit_settings": 0}
	}
	return map[string]int64{"dataverse_users": int64(len(env.Users)), "dataverse_audits": env.Audits.Total, "dataverse_audit_settings": 1}
}

// FinOps is what a run lands from F&O environment e: nothing when an entity is missing (the pre-flight check
// refuses the environment).
func FinOps(m *model.Tenant, e int) map[string]int64 {
	env := &m.FinOps[e]
	if env.MissingEntity != "" {
		return map[string]int64{"finops_users": 0, "finops_security_roles": 0, "finops_user_roles": 0}
	}
	var roles int64
	for _, u := range env.Users {
		roles += int64(len(u.Roles))
	}
	return map[string]int64{"finops_users": int64(len(env.Users)), "finops_security_roles": int64(len(model.FinOpsRoles)), "finops_user_roles": roles}
}

// Of is the truth of tenant m as generated (the usage truth apart: Usage); groupsReadable says whether the app may
// read the groups that assign licenses (GroupMember.Read.All or more).
func Of(m *model.Tenant, groupsReadable bool) Truth {
	t := Truth{TenantID: m.TenantID, Premium: m.Premium, ConcealedNames: m.ConcealedNames,
		SignInsFrom: time.UnixMicro(m.ServedFrom).UTC(), SignInsTo: time.UnixMicro(m.ServedTo).UTC()}
	var signIns int64
	if m.Premium {
		signIns = m.Events.CountBetween(m.ServedFrom, m.ServedTo)
		t.SignInsFailed = m.FailedServed
	}
	t.Tables = map[string]int64{
		"graph_users":           int64(len(m.Users)),
		"graph_user_licenses":   m.LicenseCount,
		"graph_groups":          groups(m, groupsReadable),
		"graph_subscribed_skus": int64(len(m.SKUs)),
		"graph_signins":         signIns,
		"graph_report_settings": 1,
		"graph_usage_report":    m.ReportRows(),
		"license_usage":         m.LicenseCount,
	}
	for e := range m.Dataverse {
		for k, v := range Dataverse(m, e) {
			t.Tables[k] += v
		}
	}
	for e := range m.FinOps {
		for k, v := range FinOps(m, e) {
			t.Tables[k] += v
		}
	}
	t.Identities = identities(m)
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

// identities counts the identities mart from how each account was planted.
func identities(m *model.Tenant) IdentityTruth {
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

// groups is what a run lands in graph_groups: the groups that assign licenses, when the app may read groups.
func groups(m *model.Tenant, readable bool) int64 {
	if !readable {
		return 0
	}
	return m.LicensingGroups()
}
