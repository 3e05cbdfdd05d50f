package tenantsim

import (
	"strconv"
	"strings"
	"time"
)

// activity is how a user signs in.
type activity uint8

const (
	active activity = iota // signs in during the history: events in the sign-in log
	idle                   // last signed in months ago: no events in the log, an old signInActivity
	never                  // never signed in: signInActivity is null
)

// license is one assignedLicenses entry: a SKU and the bit set of its plans the admin disabled.
type license struct {
	sku      uint8
	disabled uint16
	group    int8  // index into licenseGroups when a group assigns it, -1 = assigned directly
	assigned int64 // Unix microseconds, whole seconds: licenseAssignmentStates[].lastUpdatedDateTime
}

// licenseGroup is a security group that assigns a SKU to its members (group-based licensing).
type licenseGroup struct {
	name string
	sku  int // the SKU it assigns
}

var licenseGroups = []licenseGroup{
	{"All staff - Microsoft 365 E3", skuM365E3},
	{"All staff - Office 365 E3", skuO365E3},
	{"Sales - Dynamics 365 Sales", skuSales},
}

// user is one directory user. Strings are generated once: users pages and sign-in pages copy them verbatim, so
// they never need JSON escaping (checked by a test).
type user struct {
	id, upn, name, given, sur string
	mail                      string // "" = null
	guest, enabled            bool
	breakGlass                bool // an emergency access account: never signs in, excluded by the default rules
	dept                      int8 // -1 = null (guests)
	act                       activity
	created                   int64 // Unix microseconds
	lic                       []license
	apps                      [10]uint8 // apps the user signs in to; repeated entries weigh more
	nApps                     uint8
	place, device             uint8  // usual location and device
	rate                      uint32 // relative sign-in frequency of an active user

	// signInActivity in Unix microseconds (0 = null) and the request ids that go with it.
	lastSignIn, lastNonInteractive, lastSuccess int64
	lastSignInReq, lastNIReq, lastSuccessReq    [2]uint64
}

func (u *user) addApps(apps ...uint8) { u.nApps += uint8(copy(u.apps[u.nApps:], apps)) }

// signer is what a sign-in needs of its user, packed apart from the user so that rendering a sign-in touches two
// cache lines, not the user struct and four strings.
type signer struct {
	off   uint32 // the user's fragment in model.arena: `<name>","userPrincipalName":"<upn>","userId":"<id>`
	n     uint16
	nApps uint8
	apps  [10]uint8
	place uint8
	dev   uint8
}

// app is the application of a sign-in of this user whose third hash is h3.
func (sg *signer) app(h3 uint64) uint8 { return sg.apps[int(h3&0xff)%int(sg.nApps)] }

// appOf is the application an event signs in to.
func (m *model) appOf(ev event) uint8 { return m.signers[ev.user].app(mix(ev.h2 ^ 0x6a09e667f3bcc909)) }

// sku is a subscribed SKU with its seat counts.
type sku struct {
	def                                 *skuDef
	enabled, warning, suspended, locked int
	status                              string
	consumed                            int
}

// model is the simulated tenant except its sign-ins, which are a pure function of (seed, bucket, index) and are
// generated when a page is served (events.go).
type model struct {
	seed       int64
	domain     string
	orgName    string
	premium    bool
	users      []user
	skus       []sku // the tenant's subscriptions, in subscribedSkus order
	skuIndex   [skuCount]int8
	licenses   int64
	policyID   string // the conditional access policy sign-ins report
	anchor     int64  // Unix microseconds: the newest instant of the history
	servedTo   int64  // = anchor
	servedFrom int64  // oldest sign-in served: 30 days of retention

	failedServed int64 // failed sign-ins served
	// lastApp is each user's newest successful sign-in served (Unix microseconds, 0 = none) per application.
	lastApp [][appCount]int64
	ev      events
	signers []signer // per user
	arena   []byte   // the users' sign-in fragments

	sharedMail string  // an address two directory users share ("" = none)
	dv         []dvEnv // Dataverse environments
	fo         []foEnv // Finance and Operations environments
}

const (
	usPerMinute = int64(time.Minute / time.Microsecond)
	usPerDay    = int64(24 * time.Hour / time.Microsecond)
	retention   = 30 * usPerDay // Entra ID P1/P2 keep sign-ins 30 days (reference §2c)
)

func newModel(cfg Config, anchor time.Time) *model {
	m := &model{seed: cfg.Seed, premium: cfg.Premium}
	n := uint32(hash(cfg.Seed, 3) % 9000)
	m.domain = "contoso" + strconv.Itoa(int(1000+n)) + ".onmicrosoft.com"
	m.orgName = "Contoso " + strconv.Itoa(int(1000+n))
	m.policyID = guid(hash(cfg.Seed, 4), hash(cfg.Seed, 5))
	anchor = anchor.UTC().Truncate(time.Minute)
	m.anchor = anchor.UnixMicro()
	m.servedTo = m.anchor
	start := anchor.Truncate(24*time.Hour).AddDate(0, 0, -(cfg.Days - 1)).UnixMicro()
	m.servedFrom = max(start, m.anchor-retention)

	m.buildSkus()
	m.buildUsers(cfg, start)
	m.buildSigners()
	m.ev.build(m, cfg, start)
	m.settleActivity()
	m.plantAssignments()
	m.plantBreakGlass()
	m.plantSharedMail()
	m.buildDynamics(cfg)
	return m
}

func (m *model) buildSkus() {
	for i := range m.skuIndex {
		m.skuIndex[i] = -1
	}
	for i := range skuCatalog {
		d := &skuCatalog[i]
		if d.premium && !m.premium {
			continue // a tenant without P1 has bought nothing that includes it
		}
		m.skuIndex[i] = int8(len(m.skus))
		m.skus = append(m.skus, sku{def: d, status: "Enabled"})
	}
}

// buildUsers draws every user from hash(seed, user index, field): deterministic and independent of the others.
func (m *model) buildUsers(cfg Config, start int64) {
	m.users = make([]user, cfg.Users)
	seen := make([]uint32, len(firstNames)*len(lastNames)) // occurrences of each name pair: UPNs stay unique
	for i := range m.users {
		h := func(f uint64) uint64 { return hash(cfg.Seed, 1000, uint64(i), f) }
		u := &m.users[i]
		u.id = guid(h(1), h(2))
		g, s := h(3)%uint64(len(firstNames)), h(4)%uint64(len(lastNames))
		u.given, u.sur = firstNames[g], lastNames[s]
		u.name = u.given + " " + u.sur
		local := strings.ToLower(u.given) + "." + strings.ToLower(u.sur)
		if k := seen[g*uint64(len(lastNames))+s]; k > 0 {
			local += strconv.Itoa(int(k) + 1)
		}
		seen[g*uint64(len(lastNames))+s]++
		u.guest = h(5)%100 < 6
		u.enabled = h(6)%100 >= 5
		u.place = uint8(h(7) % uint64(len(places)))
		u.device = uint8(h(8) % uint64(len(devices)))
		r := h(9) % 100
		u.rate = uint32(1 + r*r/400) // most users sign in a little, a few a lot
		u.dept = -1
		if u.guest {
			dom := guestDomains[h(10)%uint64(len(guestDomains))]
			u.mail = local + "@" + dom
			u.upn = local + "_" + dom + "#EXT#@" + m.domain
			u.addApps(appTeams, appSharePoint)
		} else {
			u.upn = local + "@" + m.domain
			u.dept = int8(h(11) % uint64(len(departments)))
			m.assignLicenses(u, h)
		}

		// Activity, and a creation date that agrees with it.
		x := float64(h(20)%1_000_000) / 1_000_000
		switch {
		case !u.enabled && x < 0.6, u.enabled && x >= 0.04 && x < 0.04+cfg.IdleShare:
			u.act = idle
		case !u.enabled, x < 0.04:
			u.act = never
		default:
			u.act = active
		}
		switch u.act {
		case active:
			u.created = start - int64(7+h(21)%2500)*usPerDay - int64(h(22)%uint64(usPerDay))
		case idle:
			last := m.anchor - int64(60+h(23)%241)*usPerDay - int64(h(24)%uint64(usPerDay))
			u.created = last - int64(10+h(21)%2000)*usPerDay - int64(h(22)%uint64(usPerDay))
			u.lastSignIn, u.lastSignInReq = last, [2]uint64{h(25), h(26)}
			u.lastSuccess, u.lastSuccessReq = last, u.lastSignInReq
			if h(27)%2 == 0 { // a phone kept refreshing tokens for a few days after
				u.lastNonInteractive = last + int64(h(28)%uint64(5*usPerDay))
				u.lastNIReq = [2]uint64{h(29), h(30)}
				u.lastSuccess, u.lastSuccessReq = u.lastNonInteractive, u.lastNIReq
			}
		case never:
			if h(21)%2 == 0 { // a new joiner
				u.created = m.anchor - int64(1+h(22)%45)*usPerDay - int64(h(23)%uint64(usPerDay))
			} else {
				u.created = m.anchor - int64(60+h(22)%2500)*usPerDay - int64(h(23)%uint64(usPerDay))
			}
		}
		u.created -= u.created % 1_000_000 // whole seconds, as the directory writes them
	}
	for i := range m.skus {
		m.licenses += int64(m.skus[i].consumed)
	}
	m.setSeats()
}

func (m *model) buildSigners() {
	m.signers = make([]signer, len(m.users))
	for i := range m.users {
		u := &m.users[i]
		if u.act != active {
			continue
		}
		off := len(m.arena)
		m.arena = append(m.arena, u.name...)
		m.arena = append(m.arena, `","userPrincipalName":"`...)
		m.arena = append(m.arena, u.upn...)
		m.arena = append(m.arena, `","userId":"`...)
		m.arena = append(m.arena, u.id...)
		m.signers[i] = signer{off: uint32(off), n: uint16(len(m.arena) - off), nApps: u.nApps, apps: u.apps, place: u.place, dev: u.device}
	}
}

// assignLicenses gives a member the licenses typical of their department, and the apps they sign in to.
func (m *model) assignLicenses(u *user, h func(uint64) uint64) {
	give := func(s int, salt uint64) {
		if m.skuIndex[s] < 0 {
			return
		}
		l := license{sku: uint8(s), group: -1}
		if opt := skuCatalog[s].optional; len(opt) > 0 {
			switch r := h(40+salt) % 100; {
			case r < 5:
				l.disabled = 1<<opt[0] | 1<<opt[len(opt)-1]
			case r < 20:
				l.disabled = 1 << opt[h(50+salt)%uint64(len(opt))]
			}
		}
		u.lic = append(u.lic, l)
		m.skus[m.skuIndex[s]].consumed++
	}
	suite := func() {
		r := h(12) % 100
		switch {
		case !m.premium && r < 75, m.premium && r < 30:
			give(skuO365E3, 1)
		case !m.premium, r < 40:
			give(skuO365E5, 1)
		case r < 80:
			give(skuM365E3, 1)
		default:
			give(skuM365E5, 1)
		}
		u.mail = u.upn
		u.addApps(appOutlook, appOutlook, appTeams, appTeams, appOfficeHome, appSharePoint)
	}
	dept := departments[u.dept]
	switch r := h(13) % 100; {
	case r < 32: // Dynamics 365 Customer Engagement
		switch {
		case dept == "Sales" || (dept == "Marketing" && r%2 == 0):
			give(skuSales, 2)
		case dept == "Customer Service" || dept == "Retail":
			give(skuService, 2)
		default:
			give(skuTeamMembers, 2)
		}
		u.addApps(appCRM, appCRM, appCRM)
		suite()
	case r < 40: // Dynamics 365 Finance and Operations
		give(skuOps, 3)
		u.addApps(appERP, appERP, appERP)
		suite()
	case r < 92:
		suite()
	case r < 97: // frontline: a Power Apps app, no Office suite
		give(skuPowerApps, 4)
		u.addApps(appPowerApps, appPowerApps, appOfficeHome)
	default: // unlicensed members: shared and service accounts
		u.addApps(appOfficeHome)
	}
	if h(14)%100 < 6 && len(u.lic) > 0 && u.lic[0].sku != skuPowerApps {
		give(skuPowerApps, 5)
		u.addApps(appPowerApps)
	}
	if h(15)%100 < 10 {
		give(skuFlowFree, 6)
	}
	if h(16)%100 < 25 && len(u.lic) > 0 && (u.lic[len(u.lic)-1].sku == skuO365E3 || u.lic[len(u.lic)-1].sku == skuO365E5) {
		give(skuEntraP1, 7) // standalone P1 for Office 365 users
	}
}

// setSeats sets purchased seats: most SKUs over-bought (idle seats), one in its grace period (Warning), one
// short (more assigned than purchased), one cancelled legacy subscription.
func (m *model) setSeats() {
	for i := range m.skus {
		s := &m.skus[i]
		c := s.consumed
		switch s.def.part {
		case "DYN365_TEAM_MEMBERS":
			s.enabled = c - c/20 // short: consumedUnits > prepaidUnits.enabled
		case "Dynamics_365_for_Operations":
			s.enabled, s.warning, s.status = 0, c+3, "Warning" // expired, in its grace period
		case "FLOW_FREE":
			s.enabled = 10000 // a free, self-service SKU
		case "CRMSTANDARD":
			s.enabled, s.suspended, s.status = 0, 25, "Suspended" // cancelled, not yet deleted
		default:
			s.enabled = c + c/8 + 5
		}
	}
}

// settleActivity makes signInActivity agree with the sign-in log: the last interactive sign-in (successful or
// not) is the newest event of the user in the log; the last successful one is the newest successful event or a
// later non-interactive sign-in (a token refresh).
func (m *model) settleActivity() {
	m.lastApp = make([][appCount]int64, len(m.users))
	lastAny, lastOK, failed := m.ev.lastPerUser(len(m.users), m.servedFrom, func(ev event) {
		m.lastApp[ev.user][m.appOf(ev)] = ev.at
	})
	m.failedServed = failed
	for _, ui := range m.ev.activeIdx {
		a := ui
		u := &m.users[ui]
		h := func(f uint64) uint64 { return hash(m.seed, 3000, uint64(ui), f) }
		if lastAny[a].at == 0 { // signs in rarely: nothing in the history
			lastAny[a] = lastEvent{at: m.ev.start - int64(1+h(1)%20)*usPerDay - int64(h(2)%uint64(usPerDay)), req: [2]uint64{h(3), h(4)}}
		}
		if lastOK[a].at == 0 {
			lastOK[a] = lastAny[a]
			if lastOK[a].at >= m.ev.start { // its only sign-ins in the log failed: the last success is older
				lastOK[a] = lastEvent{at: m.ev.start - int64(1+h(5)%20)*usPerDay, req: [2]uint64{h(6), h(7)}}
			}
		}
		u.lastSignIn, u.lastSignInReq = lastAny[a].at, lastAny[a].req
		u.lastSuccess, u.lastSuccessReq = lastOK[a].at, lastOK[a].req
		ni := lastOK[a].at - int64(1+h(8)%uint64(2*usPerDay))
		if h(9)%10 < 7 { // most users keep apps open: token refreshes after the last interactive sign-in
			span := min(int64(6*time.Hour/time.Microsecond), m.anchor-lastOK[a].at)
			ni = lastOK[a].at + int64(h(10)%uint64(span+1))
		}
		u.lastNonInteractive, u.lastNIReq = ni, [2]uint64{h(11), h(12)}
		if ni > u.lastSuccess {
			u.lastSuccess, u.lastSuccessReq = ni, u.lastNIReq
		}
	}
}
