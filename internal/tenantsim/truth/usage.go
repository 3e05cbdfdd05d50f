package truth

import (
	"slices"
	"time"

	"github.com/seatlake/seatlake/internal/tenantsim/model"
)

// What the license marts must find in this tenant with the default rules (60-day threshold, emergency access
// accounts excluded) and the simulator's clock as the as-of date.

// defaultThresholdDays is the default inactivity threshold.
const defaultThresholdDays = 60

// UsageTruth is what the license_usage, license_position and findings marts must say.
type UsageTruth struct {
	AsOf                string           `json:"as_of"`
	LicenseUsage        map[string]int64 `json:"license_usage"`
	FinOpsUnderLicensed int64            `json:"finops_under_licensed"`
	Downgrades          int64            `json:"downgrades"`
	Findings            []string         `json:"findings"`
}

// dvActivity is one person's Dataverse audit trail across the environments a run lands.
type dvActivity struct {
	last            int64 // newest user-driven record (create, update, delete, access), Unix microseconds
	access, changes bool  // within the threshold: opened the app; changed a record
}

// productKind is how the default rules prove a SKU is used.
type productKind uint8

const (
	kindSuite    productKind = iota // usage report workloads and signInActivity
	kindAnyLogin                    // signInActivity only (Entra ID P1, Power Automate Free)
	kindDynamics                    // sign-ins to the product's resource, Dataverse audits
)

// kindOf is how the default rules prove SKU s is used.
func kindOf(s uint8) productKind {
	switch {
	case model.SuiteSKU(s):
		return kindSuite
	case s == model.SKUEntraP1 || s == model.SKUFlowFree:
		return kindAnyLogin
	}
	return kindDynamics
}

// resourceApps are the sign-in applications whose resource proves use of a Dynamics SKU.
func resourceApps(s uint8) []int {
	switch s {
	case model.SKUOps:
		return []int{model.AppERP}
	case model.SKUTeamMembers:
		return []int{model.AppCRM, model.AppERP}
	case model.SKUPowerApps:
		return []int{model.AppCRM, model.AppPowerApps}
	}
	return []int{model.AppCRM}
}

// Usage is what the license marts must conclude about tenant m at its clock, with the default rules;
// groupsReadable says whether the app may read the groups that assign licenses. It walks every audit record: call
// it when the answer is needed, not at start-up.
func Usage(m *model.Tenant, groupsReadable bool) UsageTruth {
	ev := gatherEvidence(m)
	t := UsageTruth{AsOf: time.Unix(ev.asOf*86400, 0).UTC().Format(time.DateOnly), LicenseUsage: map[string]int64{}}
	for _, st := range []string{"active", "low_usage", "never_used", "disabled_user_licensed", "grace_period", "excluded", "review_only"} {
		t.LicenseUsage[st] = 0
	}
	for i := range m.Users {
		for _, l := range m.Users[i].Licenses {
			status := ev.status(i, l)
			t.LicenseUsage[status]++
			if status == "active" && ev.downgrade(i, l) {
				t.Downgrades++
			}
		}
	}
	for i, r := range ev.req {
		if r > ev.held[i] {
			t.FinOpsUnderLicensed++
		}
	}
	t.Findings = findings(m, ev.suspicious, t.FinOpsUnderLicensed, groupsReadable)
	return t
}

// evidence is what the default rules can see of the tenant: the evidence sources a run lands and how far back
// they go.
type evidence struct {
	m          *model.Tenant
	asOf       int64        // days since the Unix epoch
	dv         []dvActivity // per person
	suspicious int          // accounts acting in Dataverse without being anyone in the directory
	// from is when the evidence held starts: the oldest sign-in served or audit record, whichever is older (0: none).
	from      int64
	req, held []int32 // F&O license ranks per person: needed by their roles, given by their licenses
}

func gatherEvidence(m *model.Tenant) *evidence {
	ev := &evidence{m: m, asOf: m.Anchor / model.MicrosPerDay}
	var auditFrom, signInFrom int64
	ev.dv, ev.suspicious, auditFrom = dataverseActivity(m, ev.asOf, defaultThresholdDays)
	if m.Premium {
		signInFrom = m.FirstSignInServed()
	}
	for _, f := range []int64{signInFrom, auditFrom} {
		if f > 0 && (ev.from == 0 || f < ev.from) {
			ev.from = f
		}
	}
	ev.req, ev.held = finOpsRequirements(m)
	return ev
}

// days is how many days before the as-of date the instant us (Unix microseconds) falls.
func (ev *evidence) days(us int64) int64 { return ev.asOf - us/model.MicrosPerDay }

// signedIn is person i's last successful sign-in as signInActivity tells it (0: none, or no Entra ID P1).
func (ev *evidence) signedIn(i int) int64 {
	if !ev.m.Premium {
		return 0
	}
	return ev.m.Users[i].LastSuccess
}

// lastUse is the newest evidence that person i used license l (0: none).
func (ev *evidence) lastUse(i int, l model.License) int64 {
	m := ev.m
	U := ev.signedIn(i)
	switch kindOf(l.SKU) {
	case kindSuite:
		if !m.ConcealedNames {
			if d := m.UsageOf(i).Latest(); d >= 0 {
				return max(U, d*model.MicrosPerDay)
			}
		}
		return U
	case kindAnyLogin:
		return U
	}
	var E int64
	if m.Premium {
		for _, a := range resourceApps(l.SKU) {
			E = max(E, m.LastApp[i][a])
		}
	}
	if l.SKU != model.SKUOps { // F&O is proved by its sign-ins only: Dataverse audits are not F&O use
		E = max(E, ev.dv[i].last)
	}
	return E
}

// status is license_usage's status of person i's license l.
func (ev *evidence) status(i int, l model.License) string {
	const T = defaultThresholdDays
	u := &ev.m.Users[i]
	E := ev.lastUse(i, l)
	switch {
	case u.BreakGlass:
		return "excluded"
	case !u.Enabled:
		return "disabled_user_licensed"
	case E > 0 && ev.days(E) <= T:
		return "active"
	case ev.days(l.Assigned) < T:
		return "grace_period"
	case kindOf(l.SKU) == kindSuite && ev.m.ConcealedNames:
		return "review_only" // the usage report cannot be joined to anyone
	case E > 0:
		return "low_usage"
	}
	return ev.unused(i, kindOf(l.SKU))
}

// unused is the status of a license past its grace period with no evidence of use: never used, unused for longer
// than the threshold, or not provable either way.
func (ev *evidence) unused(i int, kind productKind) string {
	const T = defaultThresholdDays
	premium := ev.m.Premium
	U := ev.signedIn(i)
	switch {
	case kind != kindDynamics && !premium && (kind == kindAnyLogin || ev.m.ConcealedNames):
		return "review_only" // no evidence source at all
	case kind != kindDynamics:
		return "never_used"
	case U > 0 && ev.days(U) > T:
		return "low_usage" // no sign-in to anything for longer than the threshold
	case premium && U == 0:
		return "never_used"
	case ev.from > 0 && ev.days(ev.from) > T:
		return "low_usage"
	}
	return "review_only" // the evidence held is shorter than the threshold
}

// downgrade says whether person i's active license l is more than they need.
func (ev *evidence) downgrade(i int, l model.License) bool {
	switch {
	case (l.SKU == model.SKUSales || l.SKU == model.SKUService) && ev.dv[i].access && !ev.dv[i].changes:
		return true // only opens records: Team Members is enough
	case l.SKU == model.SKUOps && ev.req[i] >= 0 && ev.req[i] < 3:
		return true // roles need less than Operations
	}
	return false
}

// dataverseActivity walks every audit record of the environments a run lands and keeps, per person (index into
// model.Tenant.Users), the newest user-driven record and whether they opened the app or changed a record within the
// threshold. It also counts accounts that act without being anyone in the directory, and returns the time of the
// oldest record.
func dataverseActivity(m *model.Tenant, asOf int64, T int64) (per []dvActivity, suspicious int, oldest int64) {
	per = make([]dvActivity, len(m.Users))
	for e := range m.Dataverse {
		env := &m.Dataverse[e]
		if env.NoAppUser.Load() {
			continue
		}
		seen := map[int32]bool{}
		for k := 0; k < env.Audits.Hours; k++ {
			for _, r := range env.Audits.Generate(k) {
				if r.Action != 1 && r.Action != 2 && r.Action != 3 && r.Action != 64 && r.Action != 65 {
					continue
				}
				if oldest == 0 || r.At < oldest {
					oldest = r.At
				}
				du := &env.Users[r.User]
				if du.Entra < 0 {
					if du.Reason != model.ReasonApplication && du.Reason != model.ReasonBuiltIn && !seen[r.User] {
						seen[r.User] = true
						suspicious++
					}
					continue
				}
				a := &per[du.Entra]
				a.last = max(a.last, r.At)
				if asOf-r.At/model.MicrosPerDay <= T {
					if r.Action == 64 || r.Action == 65 {
						a.access = true
					} else {
						a.changes = true
					}
				}
			}
		}
	}
	return per, suspicious, oldest
}

// finOpsRequirements is, per person (index into model.Tenant.Users), the highest license rank the roles of their enabled
// F&O accounts need (-1 = no such account) and the rank their Entra licenses give (Operations 3, Team Members 1).
func finOpsRequirements(m *model.Tenant) (req, held []int32) {
	req, held = make([]int32, len(m.Users)), make([]int32, len(m.Users))
	for i := range req {
		req[i] = -1
		u := &m.Users[i]
		switch {
		case u.HasSKU(model.SKUOps):
			held[i] = 3
		case u.HasSKU(model.SKUTeamMembers):
			held[i] = 1
		}
	}
	rank := map[string]int32{"None": 0, "SelfServe": 1, "Task": 2, "Activity": 2, "Functional": 3, "Enterprise": 3,
		"Finance": 3, "SCM": 3, "Commerce": 3, "Project": 3, "HR": 3}
	for e := range m.FinOps {
		if m.FinOps[e].MissingEntity != "" {
			continue
		}
		for _, fu := range m.FinOps[e].Users {
			if fu.Entra < 0 || !fu.Enabled {
				continue
			}
			r := max(req[fu.Entra], 0)
			for _, ro := range fu.Roles {
				r = max(r, rank[model.FinOpsRoles[ro].License])
			}
			req[fu.Entra] = r
		}
	}
	return req, held
}

// findings lists the finding codes the findings mart must hold.
func findings(m *model.Tenant, suspicious int, underLicensed int64, groupsReadable bool) []string {
	var f []string
	if m.ConcealedNames {
		f = append(f, "report_names_concealed")
		if m.ReportRows() > 0 {
			f = append(f, "hashed_user_names")
		}
	}
	if !m.Premium {
		f = append(f, "p1_missing")
	}
	if suspicious > 0 {
		f = append(f, "suspicious_activity")
	}
	d := dynamicsFindings(m)
	for _, c := range []struct {
		ok   bool
		code string
	}{{d.auditOff, "auditing_off"}, {d.notInEntra, "dataverse_not_in_entra"}, {d.foUnmatched, "finops_no_entra_identity"},
		{d.conflict, "identity_conflict"}, {underLicensed > 0, "finops_under_licensed"},
		{m.LicensingGroups() > 0 && groups(m, groupsReadable) == 0, "group_names_unknown"}} {
		if c.ok {
			f = append(f, c.code)
		}
	}
	for _, k := range m.SKUs {
		if k.Consumed > k.Enabled+k.Warning {
			f = append(f, "seats_short")
			break
		}
	}
	for _, k := range m.SKUs {
		if k.Status == "Warning" {
			f = append(f, "subscription_in_grace")
			break
		}
	}
	slices.Sort(f)
	return f
}

// dynamicsFound is what the environments a run lands show: auditing off somewhere, Dataverse users deleted from
// Entra, F&O users matching nobody, accounts two directory users could be.
type dynamicsFound struct{ auditOff, notInEntra, foUnmatched, conflict bool }

func dynamicsFindings(m *model.Tenant) dynamicsFound {
	var d dynamicsFound
	for e := range m.Dataverse {
		if m.Dataverse[e].NoAppUser.Load() {
			continue
		}
		d.auditOff = d.auditOff || !m.Dataverse[e].AuditOn
		for _, u := range m.Dataverse[e].Users {
			d.notInEntra = d.notInEntra || u.Reason == model.ReasonNotInEntra
			d.conflict = d.conflict || u.Reason == model.ReasonConflict
		}
	}
	for e := range m.FinOps {
		if m.FinOps[e].MissingEntity != "" {
			continue
		}
		for _, u := range m.FinOps[e].Users {
			d.foUnmatched = d.foUnmatched || u.Reason == model.ReasonNoMatch
			d.conflict = d.conflict || u.Reason == model.ReasonConflict
		}
	}
	return d
}
