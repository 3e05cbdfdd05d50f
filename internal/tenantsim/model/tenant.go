package model

import (
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/seatlake/seatlake/internal/tenantsim/ids"
)

// Activity is how a user signs in.
type Activity uint8

const (
	Active Activity = iota // signs in during the history: events in the sign-in log
	Idle                   // last signed in months ago: no events in the log, an old signInActivity
	Never                  // never signed in: signInActivity is null
)

// License is one assignedLicenses entry: a SKU and the bit set of its plans the admin disabled.
type License struct {
	SKU      uint8
	Disabled uint16
	Group    int8  // index into licenseGroups when a group assigns it, -1 = assigned directly
	Assigned int64 // Unix microseconds, whole seconds: licenseAssignmentStates[].lastUpdatedDateTime
}

// LicenseGroup is a security group that assigns a SKU to its members (group-based licensing).
type LicenseGroup struct {
	Name string
	SKU  int // the SKU it assigns
}

// LicenseGroups are the security groups that assign licenses, by License.Group.
var LicenseGroups = []LicenseGroup{
	{"All staff - Microsoft 365 E3", SKUM365E3},
	{"All staff - Office 365 E3", SKUO365E3},
	{"Sales - Dynamics 365 Sales", SKUSales},
}

// User is one directory user. Strings are generated once: users pages and sign-in pages copy them verbatim, so
// they never need JSON escaping (checked by a test).
type User struct {
	ID, UPN, Name, Given, Surname string
	Mail                          string // "" = null
	Guest, Enabled                bool
	BreakGlass                    bool // an emergency access account: never signs in, excluded by the default rules
	Dept                          int8 // -1 = null (guests)
	Act                           Activity
	Created                       int64 // Unix microseconds
	Licenses                      []License
	Apps                          [10]uint8 // apps the user signs in to; repeated entries weigh more
	NApps                         uint8
	Place, Device                 uint8  // usual location and device
	Rate                          uint32 // relative sign-in frequency of an active user

	// signInActivity in Unix microseconds (0 = null) and the request ids that go with it.
	LastSignIn, LastNonInteractive, LastSuccess int64
	LastSignInReq, LastNIReq, LastSuccessReq    [2]uint64
}

func (u *User) addApps(apps ...uint8) { u.NApps += uint8(copy(u.Apps[u.NApps:], apps)) }

// Signer is what a sign-in needs of its user, packed apart from the user so that rendering a sign-in touches two
// cache lines, not the user struct and four strings.
type Signer struct {
	Off   uint32 // the user's fragment in Tenant.Arena: `<name>","userPrincipalName":"<upn>","userId":"<id>`
	N     uint16
	NApps uint8
	Apps  [10]uint8
	Place uint8
	Dev   uint8
}

// App is the application of a sign-in of this user whose third hash is h3.
func (sg *Signer) App(h3 uint64) uint8 { return sg.Apps[int(h3&0xff)%int(sg.NApps)] }

// AppOf is the application an event signs in to.
func (m *Tenant) AppOf(ev SignIn) uint8 {
	return m.Signers[ev.User].App(ids.Mix(ev.H2 ^ 0x6a09e667f3bcc909))
}

// SubscribedSKU is a subscribed SKU with its seat counts.
type SubscribedSKU struct {
	Def                                    *SKUDef
	Enabled, Warning, Suspended, LockedOut int
	Status                                 string
	Consumed                               int
}

// Tenant is the simulated tenant except its sign-ins, which are a pure function of (seed, bucket, index) and are
// generated when a page is served (signins.go).
type Tenant struct {
	TenantID       string
	ConcealedNames bool // reportSettings.displayConcealedNames
	Seed           int64
	Domain         string
	OrgName        string
	Premium        bool
	Users          []User
	SKUs           []SubscribedSKU // the tenant's subscriptions, in subscribedSkus order
	SKUIndex       [SKUCount]int8
	LicenseCount   int64
	PolicyID       string // the conditional access policy sign-ins report
	Anchor         int64  // Unix microseconds: the newest instant of the history
	ServedTo       int64  // = anchor
	ServedFrom     int64  // oldest sign-in served: 30 days of retention

	FailedServed int64 // failed sign-ins served
	// lastApp is each user's newest successful sign-in served (Unix microseconds, 0 = none) per application.
	LastApp [][AppCount]int64
	Events  Events
	Signers []Signer // per user
	Arena   []byte   // the users' sign-in fragments

	SharedMail string         // an address two directory users share ("" = none)
	Dataverse  []DataverseEnv // Dataverse environments
	FinOps     []FinOpsEnv    // Finance and Operations environments

	// DirectoryMu guards what the directory's writes change (assignLicense, a sign-in recorded now): users'
	// licenses and signInActivity, SKUs' consumed units. Whoever reads those while the simulator serves holds it.
	DirectoryMu sync.RWMutex
	// FinOpsMu guards F&O users' roles, which business events' changes update.
	FinOpsMu sync.RWMutex

	idxOnce sync.Once
	byID    map[string]int // user id -> index in Users

}

const (
	MicrosPerMinute = int64(time.Minute / time.Microsecond)
	MicrosPerDay    = int64(24 * time.Hour / time.Microsecond)
	retention       = 30 * MicrosPerDay // Entra ID P1/P2 keep sign-ins 30 days (reference §2c)
)

// Params are what the tenant is generated from; the simulator's Config says what each means.
type Params struct {
	Seed                int64
	TenantID            string
	Users, Days         int
	SignIns             int64
	IdleShare           float64
	Premium             bool
	ConcealedNames      bool
	DataverseEnvs       int
	FinOpsEnvs          int
	AuditsPerEnv        int64
	AuditingOff         map[int]bool
	NoApplicationUser   map[int]bool
	FinOpsMissingEntity []string
	Now                 time.Time // the newest instant of the history (truncated to the minute)
}

// New generates the tenant: users, licenses, subscriptions, signInActivity that agrees with the sign-in log,
// and the Dynamics environments.
func New(cfg Params) *Tenant {
	anchor := cfg.Now
	m := &Tenant{Seed: cfg.Seed, TenantID: cfg.TenantID, Premium: cfg.Premium, ConcealedNames: cfg.ConcealedNames}
	n := uint32(ids.Hash(cfg.Seed, 3) % 9000)
	m.Domain = "contoso" + strconv.Itoa(int(1000+n)) + ".onmicrosoft.com"
	m.OrgName = "Contoso " + strconv.Itoa(int(1000+n))
	m.PolicyID = ids.GUID(ids.Hash(cfg.Seed, 4), ids.Hash(cfg.Seed, 5))
	anchor = anchor.UTC().Truncate(time.Minute)
	m.Anchor = anchor.UnixMicro()
	m.ServedTo = m.Anchor
	start := anchor.Truncate(24*time.Hour).AddDate(0, 0, -(cfg.Days - 1)).UnixMicro()
	m.ServedFrom = max(start, m.Anchor-retention)

	m.buildSkus()
	m.buildUsers(cfg, start)
	m.buildSigners()
	m.Events.build(m, cfg, start)
	m.settleActivity()
	m.plantAssignments()
	m.plantBreakGlass()
	m.plantSharedMail()
	m.buildDynamics(cfg)
	return m
}

func (m *Tenant) buildSkus() {
	for i := range m.SKUIndex {
		m.SKUIndex[i] = -1
	}
	for i := range SKUCatalog {
		d := &SKUCatalog[i]
		if d.Premium && !m.Premium {
			continue // a tenant without P1 has bought nothing that includes it
		}
		m.SKUIndex[i] = int8(len(m.SKUs))
		m.SKUs = append(m.SKUs, SubscribedSKU{Def: d, Status: "Enabled"})
	}
}

// buildUsers draws every user from hash(seed, user index, field): deterministic and independent of the others.
func (m *Tenant) buildUsers(cfg Params, start int64) {
	m.Users = make([]User, cfg.Users)
	seen := make([]uint32, len(FirstNames)*len(LastNames)) // occurrences of each name pair: UPNs stay unique
	for i := range m.Users {
		h := func(f uint64) uint64 { return ids.Hash(cfg.Seed, 1000, uint64(i), f) }
		u := &m.Users[i]
		u.ID = ids.GUID(h(1), h(2))
		g, s := h(3)%uint64(len(FirstNames)), h(4)%uint64(len(LastNames))
		u.Given, u.Surname = FirstNames[g], LastNames[s]
		u.Name = u.Given + " " + u.Surname
		local := strings.ToLower(u.Given) + "." + strings.ToLower(u.Surname)
		if k := seen[g*uint64(len(LastNames))+s]; k > 0 {
			local += strconv.Itoa(int(k) + 1)
		}
		seen[g*uint64(len(LastNames))+s]++
		u.Guest = h(5)%100 < 6
		u.Enabled = h(6)%100 >= 5
		u.Place = uint8(h(7) % uint64(len(Places)))
		u.Device = uint8(h(8) % uint64(len(Devices)))
		r := h(9) % 100
		u.Rate = uint32(1 + r*r/400) // most users sign in a little, a few a lot
		u.Dept = -1
		if u.Guest {
			dom := guestDomains[h(10)%uint64(len(guestDomains))]
			u.Mail = local + "@" + dom
			u.UPN = local + "_" + dom + "#EXT#@" + m.Domain
			u.addApps(AppTeams, AppSharePoint)
		} else {
			u.UPN = local + "@" + m.Domain
			u.Dept = int8(h(11) % uint64(len(Departments)))
			m.assignLicenses(u, h)
		}

		// Activity, and a creation date that agrees with it.
		x := float64(h(20)%1_000_000) / 1_000_000
		switch {
		case !u.Enabled && x < 0.6, u.Enabled && x >= 0.04 && x < 0.04+cfg.IdleShare:
			u.Act = Idle
		case !u.Enabled, x < 0.04:
			u.Act = Never
		default:
			u.Act = Active
		}
		switch u.Act {
		case Active:
			u.Created = start - int64(7+h(21)%2500)*MicrosPerDay - int64(h(22)%uint64(MicrosPerDay))
		case Idle:
			last := m.Anchor - int64(60+h(23)%241)*MicrosPerDay - int64(h(24)%uint64(MicrosPerDay))
			u.Created = last - int64(10+h(21)%2000)*MicrosPerDay - int64(h(22)%uint64(MicrosPerDay))
			u.LastSignIn, u.LastSignInReq = last, [2]uint64{h(25), h(26)}
			u.LastSuccess, u.LastSuccessReq = last, u.LastSignInReq
			if h(27)%2 == 0 { // a phone kept refreshing tokens for a few days after
				u.LastNonInteractive = last + int64(h(28)%uint64(5*MicrosPerDay))
				u.LastNIReq = [2]uint64{h(29), h(30)}
				u.LastSuccess, u.LastSuccessReq = u.LastNonInteractive, u.LastNIReq
			}
		case Never:
			if h(21)%2 == 0 { // a new joiner
				u.Created = m.Anchor - int64(1+h(22)%45)*MicrosPerDay - int64(h(23)%uint64(MicrosPerDay))
			} else {
				u.Created = m.Anchor - int64(60+h(22)%2500)*MicrosPerDay - int64(h(23)%uint64(MicrosPerDay))
			}
		}
		u.Created -= u.Created % 1_000_000 // whole seconds, as the directory writes them
	}
	for i := range m.SKUs {
		m.LicenseCount += int64(m.SKUs[i].Consumed)
	}
	m.setSeats()
}

func (m *Tenant) buildSigners() {
	m.Signers = make([]Signer, len(m.Users))
	for i := range m.Users {
		u := &m.Users[i]
		if u.Act != Active {
			continue
		}
		off := len(m.Arena)
		m.Arena = append(m.Arena, u.Name...)
		m.Arena = append(m.Arena, `","userPrincipalName":"`...)
		m.Arena = append(m.Arena, u.UPN...)
		m.Arena = append(m.Arena, `","userId":"`...)
		m.Arena = append(m.Arena, u.ID...)
		m.Signers[i] = Signer{Off: uint32(off), N: uint16(len(m.Arena) - off), NApps: u.NApps, Apps: u.Apps, Place: u.Place, Dev: u.Device}
	}
}

// licenser gives one member their licenses: h draws the member's choices from the seed.
type licenser struct {
	m *Tenant
	u *User
	h func(uint64) uint64
}

// give assigns SKU s, unless the tenant has not bought it, with some optional plans disabled; salt tells the
// member's draws for this SKU apart.
func (g licenser) give(s int, salt uint64) {
	m, u, h := g.m, g.u, g.h
	if m.SKUIndex[s] < 0 {
		return
	}
	l := License{SKU: uint8(s), Group: -1}
	if opt := SKUCatalog[s].Optional; len(opt) > 0 {
		switch r := h(40+salt) % 100; {
		case r < 5:
			l.Disabled = 1<<opt[0] | 1<<opt[len(opt)-1]
		case r < 20:
			l.Disabled = 1 << opt[h(50+salt)%uint64(len(opt))]
		}
	}
	u.Licenses = append(u.Licenses, l)
	m.SKUs[m.SKUIndex[s]].Consumed++
}

// suite gives a Microsoft 365 or Office 365 suite (E5 and Microsoft 365 only in tenants with Entra ID P1), a
// mailbox and the Office apps.
func (g licenser) suite() {
	r := g.h(12) % 100
	switch premium := g.m.Premium; {
	case !premium && r < 75, premium && r < 30:
		g.give(SKUO365E3, 1)
	case !premium, r < 40:
		g.give(SKUO365E5, 1)
	case r < 80:
		g.give(SKUM365E3, 1)
	default:
		g.give(SKUM365E5, 1)
	}
	g.u.Mail = g.u.UPN
	g.u.addApps(AppOutlook, AppOutlook, AppTeams, AppTeams, AppOfficeHome, AppSharePoint)
}

// assignLicenses gives a member the licenses typical of their department, and the apps they sign in to.
func (m *Tenant) assignLicenses(u *User, h func(uint64) uint64) {
	g := licenser{m: m, u: u, h: h}
	dept := Departments[u.Dept]
	switch r := h(13) % 100; {
	case r < 32: // Dynamics 365 Customer Engagement
		switch {
		case dept == "Sales" || (dept == "Marketing" && r%2 == 0):
			g.give(SKUSales, 2)
		case dept == "Customer Service" || dept == "Retail":
			g.give(SKUService, 2)
		default:
			g.give(SKUTeamMembers, 2)
		}
		u.addApps(AppCRM, AppCRM, AppCRM)
		g.suite()
	case r < 40: // Dynamics 365 Finance and Operations
		g.give(SKUOps, 3)
		u.addApps(AppERP, AppERP, AppERP)
		g.suite()
	case r < 92:
		g.suite()
	case r < 97: // frontline: a Power Apps app, no Office suite
		g.give(SKUPowerApps, 4)
		u.addApps(AppPowerApps, AppPowerApps, AppOfficeHome)
	default: // unlicensed members: shared and service accounts
		u.addApps(AppOfficeHome)
	}
	g.extras()
}

// extras are the SKUs some members hold besides their main one: Power Apps, Power Automate Free, a standalone
// Entra ID P1 for Office 365 users.
func (g licenser) extras() {
	u, h := g.u, g.h
	if h(14)%100 < 6 && len(u.Licenses) > 0 && u.Licenses[0].SKU != SKUPowerApps {
		g.give(SKUPowerApps, 5)
		u.addApps(AppPowerApps)
	}
	if h(15)%100 < 10 {
		g.give(SKUFlowFree, 6)
	}
	if h(16)%100 < 25 && len(u.Licenses) > 0 && (u.Licenses[len(u.Licenses)-1].SKU == SKUO365E3 || u.Licenses[len(u.Licenses)-1].SKU == SKUO365E5) {
		g.give(SKUEntraP1, 7) // standalone P1 for Office 365 users
	}
}

// setSeats sets purchased seats: most SKUs over-bought (idle seats), one in its grace period (Warning), one
// short (more assigned than purchased), one cancelled legacy subscription.
func (m *Tenant) setSeats() {
	for i := range m.SKUs {
		s := &m.SKUs[i]
		c := s.Consumed
		switch s.Def.Part {
		case "DYN365_TEAM_MEMBERS":
			s.Enabled = c - c/20 // short: consumedUnits > prepaidUnits.enabled
		case "Dynamics_365_for_Operations":
			s.Enabled, s.Warning, s.Status = 0, c+3, "Warning" // expired, in its grace period
		case "FLOW_FREE":
			s.Enabled = 10000 // a free, self-service SKU
		case "CRMSTANDARD":
			s.Enabled, s.Suspended, s.Status = 0, 25, "Suspended" // cancelled, not yet deleted
		default:
			s.Enabled = c + c/8 + 5
		}
	}
}

// settleActivity makes signInActivity agree with the sign-in log: the last interactive sign-in (successful or
// not) is the newest event of the user in the log; the last successful one is the newest successful event or a
// later non-interactive sign-in (a token refresh).
func (m *Tenant) settleActivity() {
	m.LastApp = make([][AppCount]int64, len(m.Users))
	lastAny, lastOK, failed := m.Events.lastPerUser(len(m.Users), m.ServedFrom, func(ev SignIn) {
		m.LastApp[ev.User][m.AppOf(ev)] = ev.At
	})
	m.FailedServed = failed
	for _, ui := range m.Events.activeIdx {
		a := ui
		u := &m.Users[ui]
		h := func(f uint64) uint64 { return ids.Hash(m.Seed, 3000, uint64(ui), f) }
		if lastAny[a].at == 0 { // signs in rarely: nothing in the history
			lastAny[a] = lastEvent{at: m.Events.Start - int64(1+h(1)%20)*MicrosPerDay - int64(h(2)%uint64(MicrosPerDay)), req: [2]uint64{h(3), h(4)}}
		}
		if lastOK[a].at == 0 {
			lastOK[a] = lastAny[a]
			if lastOK[a].at >= m.Events.Start { // its only sign-ins in the log failed: the last success is older
				lastOK[a] = lastEvent{at: m.Events.Start - int64(1+h(5)%20)*MicrosPerDay, req: [2]uint64{h(6), h(7)}}
			}
		}
		u.LastSignIn, u.LastSignInReq = lastAny[a].at, lastAny[a].req
		u.LastSuccess, u.LastSuccessReq = lastOK[a].at, lastOK[a].req
		ni := lastOK[a].at - int64(1+h(8)%uint64(2*MicrosPerDay))
		if h(9)%10 < 7 { // most users keep apps open: token refreshes after the last interactive sign-in
			span := min(int64(6*time.Hour/time.Microsecond), m.Anchor-lastOK[a].at)
			ni = lastOK[a].at + int64(h(10)%uint64(span+1))
		}
		u.LastNonInteractive, u.LastNIReq = ni, [2]uint64{h(11), h(12)}
		if ni > u.LastSuccess {
			u.LastSuccess, u.LastSuccessReq = ni, u.LastNIReq
		}
	}
}

// UserIndex finds a user by object id, whatever its letter case.
func (m *Tenant) UserIndex(id string) (int, bool) {
	m.idxOnce.Do(func() {
		m.byID = make(map[string]int, len(m.Users))
		for i := range m.Users {
			m.byID[m.Users[i].ID] = i
		}
	})
	i, ok := m.byID[strings.ToLower(id)]
	return i, ok
}
