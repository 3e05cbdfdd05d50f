package tenantsim

import (
	"strconv"
	"strings"
	"sync/atomic"
)

// The Dynamics 365 half of the tenant: Dataverse environments (systemusers, audit settings, an audit log generated
// on the fly) and Finance and Operations environments (users, security roles, role assignments). Every account is
// planted with the way it relates to the directory (its identity method, or why it matches no Entra user), so the
// truth of the identities mart comes from how the tenant was built, not from re-running seatlake's rules.

// Identity methods and reasons, as the identities mart names them.
const (
	methodObjectID = "object_id"
	methodUPN      = "upn"
	methodAlias    = "alias"
	methodEmail    = "email"

	reasonApplication = "application_user"
	reasonBuiltIn     = "built_in"
	reasonNotInEntra  = "not_in_entra"
	reasonNoMatch     = "no_match"
	reasonConflict    = "conflict"
)

// dvRole is how a Dataverse user uses the environment: which audit records they leave.
type dvRole uint8

const (
	dvSales   dvRole = iota // writes opportunities, leads, quotes
	dvService               // writes incidents, knowledge articles
	dvReader                // only opens records (Team Members, Power Apps users)
	dvQuiet                 // leaves no audit records (idle, disabled, application and built-in users)
)

// dvUser is one systemuser.
type dvUser struct {
	id, domain, email, fullname string
	aad                         string // azureactivedirectoryobjectid, "" = null
	appID                       string // applicationid, "" = null
	disabled, licensed          bool
	integration                 bool
	accessMode                  int
	created                     int64
	role                        dvRole
	rate                        uint32 // chance in 1000 of opening the app in a busy hour
	phase                       uint8  // hour (mod the audit interval) of the user's access slot
	method, reason              string
	entra                       int32 // index into model.users of the person it joins, -1 = none
}

// dvEnv is one Dataverse environment.
type dvEnv struct {
	idx             int
	orgID, orgName  string
	users           []dvUser
	auditOn         bool
	accessOn        bool
	interval        int         // useraccessauditinginterval, hours
	retention       int         // auditretentionperiodv2, days
	noAppUser       atomic.Bool // switched at run time by SetApplicationUser
	audits          auditLog
	writers, access []int32 // users who write records; users who open the app (indexes into users)
}

// Object types users change, by role.
var (
	salesTables   = []string{"opportunity", "lead", "quote", "account", "contact"}
	serviceTables = []string{"incident", "knowledgearticle", "contact", "account"}
)

// foUser is one F&O SystemUsers row.
type foUser struct {
	userID, name, alias, email string
	enabled, external          bool
	company, accountType       string
	roles                      []uint8 // indexes into foRoles
	method, reason             string
	entra                      int32 // index into model.users of the person it joins, -1 = none
}

// foRole is one F&O security role: AOT name, label and the license it requires (UserLicenseType's member name).
type foRole struct{ id, name, license string }

var foRoles = []foRole{
	{"-SYSADMIN-", "System administrator", "None"},
	{"SYSTEMUSER", "System user", "None"},
	{"EMPLOYEE", "Employee", "SelfServe"},
	{"VENDACCOUNTSPAYABLECLERK", "Accounts payable clerk", "Task"},
	{"CUSTACCOUNTSRECEIVABLECLERK", "Accounts receivable clerk", "Task"},
	{"WHSWAREHOUSEWORKER", "Warehouse worker", "Activity"},
	{"LEDGERACCOUNTANT", "Accountant", "Functional"},
	{"PROJPROJECTMANAGER", "Project manager", "Functional"},
	{"PURCHPURCHASINGAGENT", "Purchasing agent", "Functional"},
	{"LEDGERCHIEFFINANCIALOFFICER", "Chief financial officer", "Enterprise"},
	{"HCMHUMANRESOURCEMANAGER", "Human resource manager", "HR"},
	{"BUDGETBUDGETMANAGER", "Budget manager", "Finance"},
}

// foCompanies are the legal entities; users' default company and company-scoped role assignments use them.
var foCompanies = []string{"USMF", "USRT", "DEMF", "GBSI"}

// foEnv is one F&O environment.
type foEnv struct {
	idx           int
	users         []foUser
	missingEntity string // an entity left out of $metadata and the service ("" = none)
}

// dynamics builds the Dataverse and F&O environments of the tenant.
func (m *model) buildDynamics(cfg Config) {
	m.dv = make([]dvEnv, cfg.DataverseEnvs)
	for e := range m.dv {
		m.buildDataverse(cfg, e)
	}
	m.fo = make([]foEnv, cfg.FinOpsEnvs)
	for e := range m.fo {
		m.buildFinOps(cfg, e)
	}
}

func (u *user) hasSku(s int) bool {
	for _, l := range u.lic {
		if int(l.sku) == s {
			return true
		}
	}
	return false
}

func (m *model) buildDataverse(cfg Config, e int) {
	env := &m.dv[e]
	h := func(parts ...uint64) uint64 { return hash(cfg.Seed, append([]uint64{0xd7, uint64(e)}, parts...)...) }
	env.idx = e
	env.orgID = guid(h(1), h(2))
	env.orgName = "org" + strconv.FormatUint(h(3)%100000, 36)
	env.auditOn, env.accessOn, env.interval, env.retention = true, true, 4, 30
	if cfg.AuditingOff[e] {
		env.auditOn, env.accessOn = false, false
	}
	env.noAppUser.Store(cfg.NoApplicationUser[e])
	add := func(u dvUser) int {
		if u.method == "" {
			u.entra = -1
		}
		u.id = guid(uint64(len(env.users))^h(10), h(11, uint64(len(env.users))))
		env.users = append(env.users, u)
		return len(env.users) - 1
	}
	// Built-in users every environment has, and the integrations' application users.
	add(dvUser{fullname: "SYSTEM", accessMode: 1, created: m.anchor - 900*usPerDay, role: dvQuiet, reason: reasonBuiltIn})
	add(dvUser{fullname: "INTEGRATION", integration: true, accessMode: 4, created: m.anchor - 900*usPerDay, role: dvQuiet, reason: reasonBuiltIn})
	for i := range 2 {
		name := []string{"# seatlake", "# Power Automate sync"}[i]
		add(dvUser{fullname: name, domain: strings.ReplaceAll(strings.ToLower(name[2:]), " ", "") + "@" + m.domain, accessMode: 4,
			aad: guid(h(20, uint64(i)), h(21, uint64(i))), appID: guid(h(22, uint64(i)), h(23, uint64(i))),
			created: m.anchor - int64(100+i*40)*usPerDay, role: dvQuiet, reason: reasonApplication})
	}
	for i := range m.users {
		u := &m.users[i]
		if u.guest {
			continue
		}
		var role dvRole
		switch {
		case u.hasSku(skuSales):
			role = dvSales
		case u.hasSku(skuService):
			role = dvService
		case u.hasSku(skuTeamMembers), u.hasSku(skuPowerApps):
			role = dvReader
		default:
			continue
		}
		if e > 0 && (role == dvService || h(30, uint64(i))%100 >= 45) {
			continue // further environments: a sales org with part of the sales and reader users
		}
		hu := func(f uint64) uint64 { return h(40, uint64(i), f) }
		// One in six writers only reads: opens records, never changes one (a downgrade candidate).
		if (role == dvSales || role == dvService) && hu(1)%6 == 0 {
			role = dvReader
		}
		du := dvUser{domain: u.upn, email: u.mail, fullname: u.name, aad: u.id, disabled: !u.enabled, licensed: true,
			created: max(u.created, m.anchor-700*usPerDay) + int64(hu(2)%uint64(30*usPerDay)), role: role,
			rate: uint32(150 + hu(3)%700), phase: uint8(hu(4) % 4), method: methodObjectID, entra: int32(i)}
		du.created = min(du.created, m.anchor-usPerDay)
		if u.act != active || !u.enabled {
			du.role = dvQuiet
		}
		if hu(5)%50 == 0 { // added to the environment before directory sync stamped its object id
			du.aad, du.method = "", methodUPN
			if hu(6)%2 == 0 {
				du.domain = strings.ToUpper(du.domain[:1]) + du.domain[1:]
			}
		}
		add(du)
	}
	// People deleted from Entra whose Dataverse user stays behind, disabled.
	for i := range max(1, len(env.users)/100) {
		n := firstNames[h(50, uint64(i))%uint64(len(firstNames))] + " " + lastNames[h(51, uint64(i))%uint64(len(lastNames))]
		up := strings.ToLower(strings.ReplaceAll(n, " ", ".")) + ".left" + strconv.Itoa(i) + "@" + m.domain
		du := dvUser{fullname: n, domain: up, email: up, aad: guid(h(52, uint64(i)), h(53, uint64(i))), disabled: true,
			created: m.anchor - int64(400+h(54, uint64(i))%300)*usPerDay, role: dvQuiet, reason: reasonNotInEntra}
		if i == 0 { // left the company, yet the account stays enabled and someone keeps using it: suspicious activity
			du.disabled, du.role, du.rate, du.phase = false, dvReader, 600, uint8(h(55)%4)
		}
		add(du)
	}
	for i := range env.users {
		switch env.users[i].role {
		case dvSales, dvService:
			env.writers = append(env.writers, int32(i))
			env.access = append(env.access, int32(i))
		case dvReader:
			env.access = append(env.access, int32(i))
		}
	}
	env.audits.build(m, cfg, env)
}

func (m *model) buildFinOps(cfg Config, e int) {
	env := &m.fo[e]
	env.idx = e
	if e < len(cfg.FinOpsMissingEntity) {
		env.missingEntity = cfg.FinOpsMissingEntity[e]
	}
	h := func(parts ...uint64) uint64 { return hash(cfg.Seed, append([]uint64{0xf0, uint64(e)}, parts...)...) }
	role := func(id string) uint8 {
		for i, r := range foRoles {
			if r.id == id {
				return uint8(i)
			}
		}
		panic("unknown F&O role " + id)
	}
	env.users = append(env.users, foUser{userID: "Admin", name: "Admin", alias: "admin@" + m.domain, email: "admin@" + m.domain,
		enabled: true, company: "USMF", accountType: "ClaimsUser", roles: []uint8{role("-SYSADMIN-")}, reason: reasonNoMatch, entra: -1})
	seen := map[string]int{}
	for i := range m.users {
		u := &m.users[i]
		full, team := u.hasSku(skuOps), u.hasSku(skuTeamMembers) && h(1, uint64(i))%3 == 0
		if u.guest || !(full || team) {
			continue
		}
		hu := func(f uint64) uint64 { return h(10, uint64(i), f) }
		base := strings.ToLower(u.given[:1] + u.sur)
		if len(base) > 16 {
			base = base[:16] // F&O user ids are short; room is left for the number that keeps them unique
		}
		id := base
		if k := seen[base]; k > 0 {
			id += strconv.Itoa(k + 1)
		}
		seen[base]++
		fu := foUser{userID: id, name: u.name, alias: u.upn, email: u.mail, enabled: u.enabled,
			company: foCompanies[hu(1)%uint64(len(foCompanies))], accountType: "ClaimsUser", method: methodAlias, entra: int32(i)}
		switch r := hu(2) % 100; {
		case r < 10: // the UPN typed in another letter case
			fu.alias = strings.ToUpper(u.upn[:1]) + u.upn[1:strings.IndexByte(u.upn, '@')] + strings.ToUpper(u.upn[strings.IndexByte(u.upn, '@'):])
		case r < 16 && u.mail != m.sharedMail: // signed in under an old domain: only the e-mail address joins
			fu.alias = u.upn[:strings.IndexByte(u.upn, '@')] + "@legacy-contoso.com"
			fu.method = methodEmail
			if fu.email == "" {
				fu.email = u.upn
			}
		}
		fu.roles = append(fu.roles, role("SYSTEMUSER"))
		switch {
		case full && hu(6)%8 == 0: // a warehouse worker holding a full Operations license: a downgrade to Activity
			fu.roles = append(fu.roles, role("WHSWAREHOUSEWORKER"))
		case full:
			fu.roles = append(fu.roles, role(foRoles[6+hu(3)%4].id))
			if hu(4)%4 == 0 {
				fu.roles = append(fu.roles, role("VENDACCOUNTSPAYABLECLERK"))
			}
		default:
			fu.roles = append(fu.roles, role("EMPLOYEE"))
			if hu(5)%5 == 0 { // a Team Members user given a full user's role: under-licensed
				fu.roles = append(fu.roles, role("LEDGERACCOUNTANT"))
			}
		}
		env.users = append(env.users, fu)
	}
	// Accounts that match nobody in the directory: external auditors and a contractor.
	for i := range 3 {
		id := "ext" + strconv.Itoa(i+1)
		env.users = append(env.users, foUser{userID: id, name: "External auditor " + strconv.Itoa(i+1),
			alias: id + "@auditors.example", email: id + "@auditors.example", enabled: i != 2, external: true,
			company: "USMF", accountType: "ClaimsUser", roles: []uint8{role("EMPLOYEE")}, reason: reasonNoMatch, entra: -1})
	}
	// One account known only by an address two directory users share: a conflict, reported, not guessed.
	if m.sharedMail != "" {
		env.users = append(env.users, foUser{userID: "shared1", name: "Shared mailbox user", alias: "shared1@legacy-contoso.com",
			email: m.sharedMail, enabled: true, company: "USMF", accountType: "ClaimsUser",
			roles: []uint8{role("CUSTACCOUNTSRECEIVABLECLERK")}, reason: reasonConflict, entra: -1})
	}
}

// plantSharedMail gives a disabled member the mail of an enabled one (a re-hire whose old account was kept), so
// that two directory users claim one address. It returns the address ("" when the tenant has no such pair).
func (m *model) plantSharedMail() {
	var from, to *user
	for i := range m.users {
		u := &m.users[i]
		if u.guest || u.mail == "" {
			continue
		}
		if !u.enabled && from == nil && len(u.lic) > 0 {
			from = u
		}
		if u.enabled && to == nil {
			to = u
		}
	}
	if from == nil || to == nil {
		return
	}
	from.mail = to.mail
	m.sharedMail = to.mail
}
