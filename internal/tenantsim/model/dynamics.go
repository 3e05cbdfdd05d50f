package model

import (
	"strconv"
	"strings"
	"sync/atomic"

	"github.com/seatlake/seatlake/internal/tenantsim/ids"
)

// The Dynamics 365 half of the tenant: Dataverse environments (systemusers, audit settings, an audit log generated
// on the fly) and Finance and Operations environments (users, security roles, role assignments). Every account is
// planted with the way it relates to the directory (its identity method, or why it matches no Entra user), so the
// truth of the identities mart comes from how the tenant was built, not from re-running seatlake's rules.

// Identity methods and reasons, as the identities mart names them.
const (
	MethodObjectID = "object_id"
	MethodUPN      = "upn"
	MethodAlias    = "alias"
	MethodEmail    = "email"

	ReasonApplication = "application_user"
	ReasonBuiltIn     = "built_in"
	ReasonNotInEntra  = "not_in_entra"
	ReasonNoMatch     = "no_match"
	ReasonConflict    = "conflict"
)

// dvRole is how a Dataverse user uses the environment: which audit records they leave.
type dvRole uint8

const (
	dvSales   dvRole = iota // writes opportunities, leads, quotes
	dvService               // writes incidents, knowledge articles
	dvReader                // only opens records (Team Members, Power Apps users)
	dvQuiet                 // leaves no audit records (idle, disabled, application and built-in users)
)

// DataverseUser is one systemuser.
type DataverseUser struct {
	ID, DomainName, Email, FullName string
	AADObjectID                     string // azureactivedirectoryobjectid, "" = null
	AppID                           string // applicationid, "" = null
	Disabled, Licensed              bool
	Integration                     bool
	AccessMode                      int
	Created                         int64
	role                            dvRole
	rate                            uint32 // chance in 1000 of opening the app in a busy hour
	phase                           uint8  // hour (mod the audit interval) of the user's access slot
	Method, Reason                  string
	Entra                           int32 // index into Tenant.Users of the person it joins, -1 = none
}

// DataverseEnv is one Dataverse environment.
type DataverseEnv struct {
	Index           int
	OrgID, OrgName  string
	Users           []DataverseUser
	AuditOn         bool
	AccessOn        bool
	Interval        int         // useraccessauditinginterval, hours
	Retention       int         // auditretentionperiodv2, days
	NoAppUser       atomic.Bool // switched at run time by SetApplicationUser
	Audits          AuditLog
	writers, access []int32 // users who write records; users who open the app (indexes into users)
}

// FinOpsUser is one F&O SystemUsers row.
type FinOpsUser struct {
	UserID, Name, Alias, Email string
	Enabled, External          bool
	Company, AccountType       string
	Roles                      []uint8 // indexes into foRoles
	Method, Reason             string
	Entra                      int32 // index into Tenant.Users of the person it joins, -1 = none
}

// FinOpsRole is one F&O security role: AOT name, label and the license it requires (UserLicenseType's member name).
type FinOpsRole struct{ ID, Name, License string }

// FinOpsRoles are the security roles every F&O environment has, by FinOpsUser.Roles.
var FinOpsRoles = []FinOpsRole{
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

// FinOpsCompanies are the legal entities; users' default company and company-scoped role assignments use them.
var FinOpsCompanies = []string{"USMF", "USRT", "DEMF", "GBSI"}

// FinOpsEnv is one F&O environment.
type FinOpsEnv struct {
	Index         int
	Users         []FinOpsUser
	MissingEntity string // an entity left out of $metadata and the service ("" = none)
}

// buildDynamics builds the Dataverse and F&O environments of the tenant.
func (m *Tenant) buildDynamics(cfg Params) {
	m.Dataverse = make([]DataverseEnv, cfg.DataverseEnvs)
	for e := range m.Dataverse {
		m.buildDataverse(cfg, e)
	}
	m.FinOps = make([]FinOpsEnv, cfg.FinOpsEnvs)
	for e := range m.FinOps {
		m.buildFinOps(cfg, e)
	}
}

// HasSKU says whether the user holds SKU s.
func (u *User) HasSKU(s int) bool {
	for _, l := range u.Licenses {
		if int(l.SKU) == s {
			return true
		}
	}
	return false
}

func (m *Tenant) buildDataverse(cfg Params, e int) {
	env := &m.Dataverse[e]
	h := func(parts ...uint64) uint64 {
		return ids.Hash(cfg.Seed, append([]uint64{0xd7, uint64(e)}, parts...)...)
	}
	env.Index = e
	env.OrgID = ids.GUID(h(1), h(2))
	env.OrgName = "org" + strconv.FormatUint(h(3)%100000, 36)
	env.AuditOn, env.AccessOn, env.Interval, env.Retention = true, true, 4, 30
	if cfg.AuditingOff[e] {
		env.AuditOn, env.AccessOn = false, false
	}
	env.NoAppUser.Store(cfg.NoApplicationUser[e])
	add := func(u DataverseUser) int {
		if u.Method == "" {
			u.Entra = -1
		}
		u.ID = ids.GUID(uint64(len(env.Users))^h(10), h(11, uint64(len(env.Users))))
		env.Users = append(env.Users, u)
		return len(env.Users) - 1
	}
	// Built-in users every environment has, and the integrations' application users.
	add(DataverseUser{FullName: "SYSTEM", AccessMode: 1, Created: m.Anchor - 900*MicrosPerDay, role: dvQuiet, Reason: ReasonBuiltIn})
	add(DataverseUser{FullName: "INTEGRATION", Integration: true, AccessMode: 4, Created: m.Anchor - 900*MicrosPerDay, role: dvQuiet, Reason: ReasonBuiltIn})
	for i := range 2 {
		name := []string{"# seatlake", "# Power Automate sync"}[i]
		add(DataverseUser{FullName: name, DomainName: strings.ReplaceAll(strings.ToLower(name[2:]), " ", "") + "@" + m.Domain, AccessMode: 4,
			AADObjectID: ids.GUID(h(20, uint64(i)), h(21, uint64(i))), AppID: ids.GUID(h(22, uint64(i)), h(23, uint64(i))),
			Created: m.Anchor - int64(100+i*40)*MicrosPerDay, role: dvQuiet, Reason: ReasonApplication})
	}
	for i := range m.Users {
		u := &m.Users[i]
		if u.Guest {
			continue
		}
		var role dvRole
		switch {
		case u.HasSKU(SKUSales):
			role = dvSales
		case u.HasSKU(SKUService):
			role = dvService
		case u.HasSKU(SKUTeamMembers), u.HasSKU(SKUPowerApps):
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
		du := DataverseUser{DomainName: u.UPN, Email: u.Mail, FullName: u.Name, AADObjectID: u.ID, Disabled: !u.Enabled, Licensed: true,
			Created: max(u.Created, m.Anchor-700*MicrosPerDay) + int64(hu(2)%uint64(30*MicrosPerDay)), role: role,
			rate: uint32(150 + hu(3)%700), phase: uint8(hu(4) % 4), Method: MethodObjectID, Entra: int32(i)}
		du.Created = min(du.Created, m.Anchor-MicrosPerDay)
		if u.Act != Active || !u.Enabled {
			du.role = dvQuiet
		}
		if hu(5)%50 == 0 { // added to the environment before directory sync stamped its object id
			du.AADObjectID, du.Method = "", MethodUPN
			if hu(6)%2 == 0 {
				du.DomainName = strings.ToUpper(du.DomainName[:1]) + du.DomainName[1:]
			}
		}
		add(du)
	}
	// People deleted from Entra whose Dataverse user stays behind, disabled.
	for i := range max(1, len(env.Users)/100) {
		n := FirstNames[h(50, uint64(i))%uint64(len(FirstNames))] + " " + LastNames[h(51, uint64(i))%uint64(len(LastNames))]
		up := strings.ToLower(strings.ReplaceAll(n, " ", ".")) + ".left" + strconv.Itoa(i) + "@" + m.Domain
		du := DataverseUser{FullName: n, DomainName: up, Email: up, AADObjectID: ids.GUID(h(52, uint64(i)), h(53, uint64(i))), Disabled: true,
			Created: m.Anchor - int64(400+h(54, uint64(i))%300)*MicrosPerDay, role: dvQuiet, Reason: ReasonNotInEntra}
		if i == 0 { // left the company, yet the account stays enabled and someone keeps using it: suspicious activity
			du.Disabled, du.role, du.rate, du.phase = false, dvReader, 600, uint8(h(55)%4)
		}
		add(du)
	}
	for i := range env.Users {
		switch env.Users[i].role {
		case dvSales, dvService:
			env.writers = append(env.writers, int32(i))
			env.access = append(env.access, int32(i))
		case dvReader:
			env.access = append(env.access, int32(i))
		}
	}
	env.Audits.build(m, cfg, env)
}

func (m *Tenant) buildFinOps(cfg Params, e int) {
	env := &m.FinOps[e]
	env.Index = e
	if e < len(cfg.FinOpsMissingEntity) {
		env.MissingEntity = cfg.FinOpsMissingEntity[e]
	}
	h := func(parts ...uint64) uint64 {
		return ids.Hash(cfg.Seed, append([]uint64{0xf0, uint64(e)}, parts...)...)
	}
	role := func(id string) uint8 {
		for i, r := range FinOpsRoles {
			if r.ID == id {
				return uint8(i)
			}
		}
		panic("unknown F&O role " + id)
	}
	env.Users = append(env.Users, FinOpsUser{UserID: "Admin", Name: "Admin", Alias: "admin@" + m.Domain, Email: "admin@" + m.Domain,
		Enabled: true, Company: "USMF", AccountType: "ClaimsUser", Roles: []uint8{role("-SYSADMIN-")}, Reason: ReasonNoMatch, Entra: -1})
	seen := map[string]int{}
	for i := range m.Users {
		u := &m.Users[i]
		full, team := u.HasSKU(SKUOps), u.HasSKU(SKUTeamMembers) && h(1, uint64(i))%3 == 0
		if u.Guest || !(full || team) {
			continue
		}
		hu := func(f uint64) uint64 { return h(10, uint64(i), f) }
		base := strings.ToLower(u.Given[:1] + u.Surname)
		if len(base) > 16 {
			base = base[:16] // F&O user ids are short; room is left for the number that keeps them unique
		}
		id := base
		if k := seen[base]; k > 0 {
			id += strconv.Itoa(k + 1)
		}
		seen[base]++
		fu := FinOpsUser{UserID: id, Name: u.Name, Alias: u.UPN, Email: u.Mail, Enabled: u.Enabled,
			Company: FinOpsCompanies[hu(1)%uint64(len(FinOpsCompanies))], AccountType: "ClaimsUser", Method: MethodAlias, Entra: int32(i)}
		switch r := hu(2) % 100; {
		case r < 10: // the UPN typed in another letter case
			fu.Alias = strings.ToUpper(u.UPN[:1]) + u.UPN[1:strings.IndexByte(u.UPN, '@')] + strings.ToUpper(u.UPN[strings.IndexByte(u.UPN, '@'):])
		case r < 16 && u.Mail != m.SharedMail: // signed in under an old domain: only the e-mail address joins
			fu.Alias = u.UPN[:strings.IndexByte(u.UPN, '@')] + "@legacy-contoso.com"
			fu.Method = MethodEmail
			if fu.Email == "" {
				fu.Email = u.UPN
			}
		}
		fu.Roles = append(fu.Roles, role("SYSTEMUSER"))
		switch {
		case full && hu(6)%8 == 0: // a warehouse worker holding a full Operations license: a downgrade to Activity
			fu.Roles = append(fu.Roles, role("WHSWAREHOUSEWORKER"))
		case full:
			fu.Roles = append(fu.Roles, role(FinOpsRoles[6+hu(3)%4].ID))
			if hu(4)%4 == 0 {
				fu.Roles = append(fu.Roles, role("VENDACCOUNTSPAYABLECLERK"))
			}
		default:
			fu.Roles = append(fu.Roles, role("EMPLOYEE"))
			if hu(5)%5 == 0 { // a Team Members user given a full user's role: under-licensed
				fu.Roles = append(fu.Roles, role("LEDGERACCOUNTANT"))
			}
		}
		env.Users = append(env.Users, fu)
	}
	// Accounts that match nobody in the directory: external auditors and a contractor.
	for i := range 3 {
		id := "ext" + strconv.Itoa(i+1)
		env.Users = append(env.Users, FinOpsUser{UserID: id, Name: "External auditor " + strconv.Itoa(i+1),
			Alias: id + "@auditors.example", Email: id + "@auditors.example", Enabled: i != 2, External: true,
			Company: "USMF", AccountType: "ClaimsUser", Roles: []uint8{role("EMPLOYEE")}, Reason: ReasonNoMatch, Entra: -1})
	}
	// One account known only by an address two directory users share: a conflict, reported, not guessed.
	if m.SharedMail != "" {
		env.Users = append(env.Users, FinOpsUser{UserID: "shared1", Name: "Shared mailbox user", Alias: "shared1@legacy-contoso.com",
			Email: m.SharedMail, Enabled: true, Company: "USMF", AccountType: "ClaimsUser",
			Roles: []uint8{role("CUSTACCOUNTSRECEIVABLECLERK")}, Reason: ReasonConflict, Entra: -1})
	}
}

// plantSharedMail gives a disabled member the mail of an enabled one (a re-hire whose old account was kept), so
// that two directory users claim one address. It returns the address ("" when the tenant has no such pair).
func (m *Tenant) plantSharedMail() {
	var from, to *User
	for i := range m.Users {
		u := &m.Users[i]
		if u.Guest || u.Mail == "" {
			continue
		}
		if !u.Enabled && from == nil && len(u.Licenses) > 0 {
			from = u
		}
		if u.Enabled && to == nil {
			to = u
		}
	}
	if from == nil || to == nil {
		return
	}
	from.Mail = to.Mail
	m.SharedMail = to.Mail
}
