package tenantsim

import (
	"slices"
	"time"

	"github.com/seatlake/seatlake/internal/tenantsim/model"
)

// What the license marts must find in this tenant with the default rules (60-day threshold, emergency access
// accounts excluded) and the simulator's clock as the as-of date. It is derived from how the tenant was built (who
// is idle, which app each sign-in went to, which audit records each account left, which roles each F&O account
// holds), never from the rows a run lands, and is written here in Go, apart from seatlake's SQL, so that the two
// can disagree.

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

func (s *Sim) usageTruth() UsageTruth {
	m := s.m
	asOf := m.Anchor / model.MicrosPerDay
	const T = defaultThresholdDays
	days := func(us int64) int64 { return asOf - us/model.MicrosPerDay }
	t := UsageTruth{AsOf: time.Unix(asOf*86400, 0).UTC().Format(time.DateOnly), LicenseUsage: map[string]int64{}}
	for _, st := range []string{"active", "low_usage", "never_used", "disabled_user_licensed", "grace_period", "excluded", "review_only"} {
		t.LicenseUsage[st] = 0
	}
	dv, suspicious, auditFrom := s.dataverseActivity(asOf, T)
	signInFrom := int64(0)
	if s.cfg.Premium {
		signInFrom = m.FirstSignInServed()
	}
	req, held := s.finOpsRequirements()
	for i := range m.Users {
		u := &m.Users[i]
		U := int64(0)
		if s.cfg.Premium {
			U = u.LastSuccess
		}
		for _, l := range u.Licenses {
			kind := kindOf(l.SKU)
			var E int64
			switch kind {
			case kindSuite:
				E = U
				if !s.cfg.ConcealedNames {
					if d := m.UsageOf(i).Latest(); d >= 0 {
						E = max(E, d*model.MicrosPerDay)
					}
				}
			case kindAnyLogin:
				E = U
			case kindDynamics:
				if s.cfg.Premium {
					for _, a := range resourceApps(l.SKU) {
						E = max(E, m.LastApp[i][a])
					}
				}
				if l.SKU != model.SKUOps { // F&O is proved by its sign-ins only: Dataverse audits are not F&O use
					E = max(E, dv[i].last)
				}
			}
			status := ""
			switch {
			case u.BreakGlass:
				status = "excluded"
			case !u.Enabled:
				status = "disabled_user_licensed"
			case E > 0 && days(E) <= T:
				status = "active"
			case days(l.Assigned) < T:
				status = "grace_period"
			case kind == kindSuite && s.cfg.ConcealedNames:
				status = "review_only" // the usage report cannot be joined to anyone
			case E > 0:
				status = "low_usage"
			case kind != kindDynamics && !s.cfg.Premium && (kind == kindAnyLogin || s.cfg.ConcealedNames):
				status = "review_only" // no evidence source at all
			case kind != kindDynamics:
				status = "never_used"
			case U > 0 && days(U) > T:
				status = "low_usage" // no sign-in to anything for longer than the threshold
			case s.cfg.Premium && U == 0:
				status = "never_used"
			default:
				from := int64(0)
				for _, f := range []int64{signInFrom, auditFrom} {
					if f > 0 && (from == 0 || f < from) {
						from = f
					}
				}
				if from > 0 && days(from) > T {
					status = "low_usage"
				} else {
					status = "review_only" // the evidence held is shorter than the threshold
				}
			}
			t.LicenseUsage[status]++

			if status != "active" {
				continue
			}
			switch {
			case (l.SKU == model.SKUSales || l.SKU == model.SKUService) && dv[i].access && !dv[i].changes:
				t.Downgrades++ // only opens records: Team Members is enough
			case l.SKU == model.SKUOps && req[i] >= 0 && req[i] < 3:
				t.Downgrades++ // roles need less than Operations
			}
		}
	}
	for i, r := range req {
		if r > held[i] {
			t.FinOpsUnderLicensed++
		}
	}
	t.Findings = s.findingsTruth(suspicious, t.FinOpsUnderLicensed)
	return t
}

// dataverseActivity walks every audit record of the environments a run lands and keeps, per person (index into
// model.users), the newest user-driven record and whether they opened the app or changed a record within the
// threshold. It also counts accounts that act without being anyone in the directory, and returns the time of the
// oldest record.
func (s *Sim) dataverseActivity(asOf int64, T int64) (per []dvActivity, suspicious int, oldest int64) {
	m := s.m
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

// finOpsRequirements is, per person (index into model.users), the highest license rank the roles of their enabled
// F&O accounts need (-1 = no such account) and the rank their Entra licenses give (Operations 3, Team Members 1).
func (s *Sim) finOpsRequirements() (req, held []int32) {
	m := s.m
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

// findingsTruth lists the finding codes the findings mart must hold.
func (s *Sim) findingsTruth(suspicious int, underLicensed int64) []string {
	m := s.m
	var f []string
	if s.cfg.ConcealedNames {
		f = append(f, "report_names_concealed")
		if m.ReportRows() > 0 {
			f = append(f, "hashed_user_names")
		}
	}
	if !s.cfg.Premium {
		f = append(f, "p1_missing")
	}
	if suspicious > 0 {
		f = append(f, "suspicious_activity")
	}
	var notInEntra, conflict, foUnmatched, auditOff bool
	for e := range m.Dataverse {
		if m.Dataverse[e].NoAppUser.Load() {
			continue
		}
		auditOff = auditOff || !m.Dataverse[e].AuditOn
		for _, u := range m.Dataverse[e].Users {
			notInEntra = notInEntra || u.Reason == model.ReasonNotInEntra
			conflict = conflict || u.Reason == model.ReasonConflict
		}
	}
	for e := range m.FinOps {
		if m.FinOps[e].MissingEntity != "" {
			continue
		}
		for _, u := range m.FinOps[e].Users {
			foUnmatched = foUnmatched || u.Reason == model.ReasonNoMatch
			conflict = conflict || u.Reason == model.ReasonConflict
		}
	}
	for _, c := range []struct {
		ok   bool
		code string
	}{{auditOff, "auditing_off"}, {notInEntra, "dataverse_not_in_entra"}, {foUnmatched, "finops_no_entra_identity"},
		{conflict, "identity_conflict"}, {underLicensed > 0, "finops_under_licensed"},
		{m.LicensingGroups() > 0 && s.groupsTruth() == 0, "group_names_unknown"}} {
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
