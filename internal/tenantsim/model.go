package tenantsim

import (
	"encoding/binary"
	"fmt"
	"time"
)

// mix is splitmix64: a fast, well-distributed hash that makes every generated value a pure function of its inputs.
func mix(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

func hash(seed int64, parts ...uint64) uint64 {
	h := mix(uint64(seed))
	for _, p := range parts {
		h = mix(h ^ p)
	}
	return h
}

// guid formats a deterministic GUID from two hashes.
func guid(a, b uint64) string {
	var buf [16]byte
	binary.BigEndian.PutUint64(buf[:8], a)
	binary.BigEndian.PutUint64(buf[8:], b)
	buf[6] = buf[6]&0x0f | 0x40
	buf[8] = buf[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", buf[0:4], buf[4:6], buf[6:8], buf[8:10], buf[10:])
}

func appendGUID(dst []byte, a, b uint64) []byte {
	const hexd = "0123456789abcdef"
	var buf [16]byte
	binary.BigEndian.PutUint64(buf[:8], a)
	binary.BigEndian.PutUint64(buf[8:], b)
	buf[6] = buf[6]&0x0f | 0x40
	buf[8] = buf[8]&0x3f | 0x80
	for i, c := range buf {
		if i == 4 || i == 6 || i == 8 || i == 10 {
			dst = append(dst, '-')
		}
		dst = append(dst, hexd[c>>4], hexd[c&15])
	}
	return dst
}

type sku struct {
	ID, PartNumber string
	Plans          []string // servicePlanIds
	PlanNames      []string
	Enabled        int // set from holders
	Warning        int
	Status         string
	AppliesTo      string
	Holders        int
}

// skuCatalog holds real part numbers and SKU ids (reference §2b).
var skuCatalog = []struct{ id, part string }{
	{"1e1a282c-9c54-43a2-9310-98ef728faace", "DYN365_ENTERPRISE_SALES"},
	{"749742bf-0d37-4158-a120-33567104deeb", "DYN365_ENTERPRISE_CUSTOMER_SERVICE"},
	{"7ac9fe77-66b7-4e5e-9e46-10eed1cff547", "DYN365_TEAM_MEMBERS"},
	{"ccba3cfe-71ef-423a-bd87-b6df3dce59a9", "Dynamics_365_for_Operations"},
	{"b30411f5-fea1-4a59-9ad9-3db7c7ead579", "POWERAPPS_PER_USER"},
	{"6fd2c87f-b296-42f0-b197-1e91e994b900", "ENTERPRISEPACK"},
	{"c7df2760-2c81-4ef7-b578-5b5392b571df", "ENTERPRISEPREMIUM"},
	{"05e9a617-0261-4cee-bb44-138d3ef5d965", "SPE_E3"},
	{"06ebc4ee-1bb5-47dd-8120-11324bc54e06", "SPE_E5"},
	{"078d2b04-f1bd-4111-bbd4-b4b1b354cef4", "AAD_PREMIUM"},
	{"f30db892-07e9-47e9-837c-80727f46fd3d", "FLOW_FREE"},
}

const (
	skuSales = iota
	skuService
	skuTeam
	skuOps
	skuPowerApps
	skuE3
	skuE5
	skuM365E3
	skuM365E5
	skuP1
	skuFlowFree
)

// apps a sign-in can be to: app id, app name, resource id, resource name.
var apps = []struct{ appID, appName, resID, resName string }{
	{"00000007-0000-0000-c000-000000000000", "Dynamics CRM Online", "00000007-0000-0000-c000-000000000000", "Dataverse"},
	{"00000015-0000-0000-c000-000000000000", "Microsoft Dynamics ERP", "00000015-0000-0000-c000-000000000000", "Microsoft Dynamics ERP"},
	{"00000002-0000-0ff1-ce00-000000000000", "Office 365 Exchange Online", "00000002-0000-0ff1-ce00-000000000000", "Office 365 Exchange Online"},
	{"1fec8e78-bce4-4aaf-ab1b-5451cc387264", "Microsoft Teams", "00000003-0000-0000-c000-000000000000", "Microsoft Graph"},
	{"4765445b-32c6-49b0-83e6-1d93765276ca", "OfficeHome", "00000003-0000-0000-c000-000000000000", "Microsoft Graph"},
	{"00000003-0000-0ff1-ce00-000000000000", "Office 365 SharePoint Online", "00000003-0000-0ff1-ce00-000000000000", "Office 365 SharePoint Online"},
	{"a0c73c16-a7e3-4564-9a95-2bdf47383716", "Power Apps", "475226c6-020e-4fb2-8a90-7a972cbfc1d4", "PowerApps Service"},
}

var clientApps = []string{"Browser", "Browser", "Browser", "Mobile Apps and Desktop clients", "Mobile Apps and Desktop clients"}
var countries = []struct{ code, city, state string }{{"US", "Redmond", "Washington"}, {"GB", "London", "England"}, {"DE", "Berlin", "Berlin"}, {"NL", "Amsterdam", "Noord-Holland"}, {"IN", "Bengaluru", "Karnataka"}}
var failures = []struct {
	code   int
	reason string
}{{50126, "Error validating credentials due to invalid username or password."}, {50074, "Strong Authentication is required."}, {53003, "Access has been blocked by Conditional Access policies."}}

var firstNames = []string{"Adele", "Alex", "Diego", "Grady", "Henrietta", "Isaiah", "Johanna", "Joni", "Lee", "Lidia", "Lynne", "Megan", "Miriam", "Nestor", "Patti", "Pradeep", "Irvin", "Allan", "Christie", "Debra"}
var lastNames = []string{"Vance", "Wilber", "Siciliani", "Archie", "Mueller", "Delgado", "Lauer", "Sherman", "Gu", "Holloway", "Valdez", "Bowen", "Graham", "Wilke", "Fernandez", "Gupta", "Sink", "Deyoung", "Cline", "Berg"}
var departments = []string{"Sales", "Customer Service", "Finance", "Operations", "Marketing", "IT", "HR", "Legal", "Manufacturing", "Retail"}
var jobTitles = []string{"Account Manager", "Service Agent", "Controller", "Planner", "Marketing Lead", "Engineer", "Recruiter", "Counsel", "Director", "Store Manager"}

type activity int

const (
	active activity = iota // signs in: events in the log
	idle                   // last signed in months ago
	never                  // never signed in
)

type user struct {
	id          string
	upn, name   string
	given, sur  string
	mail        string
	guest       bool
	enabled     bool
	created     time.Time
	dept, title int
	skus        []int
	disabled    [][]string // disabledPlans per sku
	act         activity
	// signInActivity, in Unix microseconds (0 = null)
	lastSignIn, lastNonInteractive, lastSuccess int64
	reqID                                       uint64
}

// model is the whole simulated tenant except the sign-ins, which are generated on demand.
type model struct {
	seed      int64
	tenantID  string
	domain    string
	users     []user
	activeIdx []int32 // users who sign in
	skus      []sku
	licenses  int64

	// sign-in generation over minute buckets [start, anchor)
	start, anchor int64 // Unix microseconds; anchor is the newest possible event
	buckets       int
	cum           []int64 // cum[k] = weight of buckets before k
	total         int64   // sign-ins in the history
	servedFrom    int64   // oldest event served (retention)
}

const minuteUS = int64(time.Minute / time.Microsecond)

func newModel(cfg Config) *model {
	m := &model{seed: cfg.Seed}
	m.tenantID = cfg.TenantID
	if m.tenantID == "" {
		m.tenantID = guid(hash(cfg.Seed, 1), hash(cfg.Seed, 2))
	}
	m.domain = fmt.Sprintf("contoso%d.onmicrosoft.com", uint32(hash(cfg.Seed, 3))%10000)
	anchor := cfg.Now().UTC().Truncate(time.Minute)
	startDay := anchor.Truncate(24*time.Hour).AddDate(0, 0, -(cfg.Days - 1))
	m.anchor = anchor.UnixMicro()
	m.start = startDay.UnixMicro()
	m.servedFrom = max(m.start, anchor.Add(-30*24*time.Hour).UnixMicro())
	m.buckets = int((m.anchor - m.start) / minuteUS)

	m.buildSkus()
	m.buildUsers(cfg)
	m.buildSignIns(cfg)
	return m
}

func (m *model) buildSkus() {
	for i, s := range skuCatalog {
		k := sku{ID: s.id, PartNumber: s.part, AppliesTo: "User", Status: "Enabled"}
		for p := 0; p < 3; p++ {
			k.Plans = append(k.Plans, guid(hash(m.seed, 100, uint64(i), uint64(p)), hash(m.seed, 101, uint64(i), uint64(p))))
			k.PlanNames = append(k.PlanNames, fmt.Sprintf("%s_PLAN%d", s.part, p+1))
		}
		m.skus = append(m.skus, k)
	}
}

func (m *model) buildUsers(cfg Config) {
	m.users = make([]user, cfg.Users)
	anchor := time.UnixMicro(m.anchor).UTC()
	for i := range m.users {
		h := func(n uint64) uint64 { return hash(cfg.Seed, 1000, uint64(i), n) }
		u := &m.users[i]
		u.id = guid(h(1), h(2))
		u.given = firstNames[h(3)%uint64(len(firstNames))]
		u.sur = lastNames[h(4)%uint64(len(lastNames))]
		u.name = u.given + " " + u.sur
		u.guest = h(5)%100 < 5
		if u.guest {
			u.mail = fmt.Sprintf("%s.%s%d@fabrikam.com", lower(u.given), lower(u.sur), i)
			u.upn = fmt.Sprintf("%s.%s%d_fabrikam.com#EXT#@%s", lower(u.given), lower(u.sur), i, m.domain)
		} else {
			u.upn = fmt.Sprintf("%s.%s%d@%s", lower(u.given), lower(u.sur), i, m.domain)
			u.mail = u.upn
		}
		u.enabled = h(6)%100 >= 4
		u.created = anchor.AddDate(0, 0, -int(30+h(7)%2500)).Truncate(time.Second)
		u.dept = int(h(8) % uint64(len(departments)))
		u.title = int(h(9) % uint64(len(jobTitles)))
		u.reqID = h(10)
		if !u.guest {
			switch r := h(11) % 100; {
			case r < 45: // Dynamics 365 users
				u.skus = append(u.skus, []int{skuSales, skuService, skuTeam, skuOps}[h(12)%4])
				u.skus = append(u.skus, []int{skuE3, skuM365E3, skuE5}[h(13)%3])
			case r < 90:
				u.skus = append(u.skus, []int{skuE3, skuM365E3, skuE5, skuM365E5}[h(13)%4])
			case r < 95:
				u.skus = append(u.skus, skuPowerApps, skuFlowFree)
			}
			if h(14)%10 == 0 && len(u.skus) > 0 {
				u.skus = append(u.skus, skuP1)
			}
		}
		u.disabled = make([][]string, len(u.skus))
		for j, s := range u.skus {
			if h(15+uint64(j))%5 == 0 {
				u.disabled[j] = []string{m.skus[s].Plans[2]}
			}
			m.skus[s].Holders++
		}
		m.licenses += int64(len(u.skus))
		r := float64(h(30)%10000) / 10000
		switch {
		case r < 0.05:
			u.act = never
		case r < 0.05+cfg.IdleShare:
			u.act = idle
			u.lastSignIn = anchor.AddDate(0, 0, -int(60+h(31)%240)).Add(-time.Duration(h(32)%86400) * time.Second).UnixMicro()
			u.lastSuccess = u.lastSignIn
		default:
			u.act = active
			m.activeIdx = append(m.activeIdx, int32(i))
		}
	}
	// Seats: most SKUs over-bought (idle seats), one in Warning, one short.
	for i := range m.skus {
		s := &m.skus[i]
		s.Enabled = s.Holders + s.Holders/5 + 5
		switch i {
		case skuTeam:
			s.Enabled = s.Holders - s.Holders/20 // short: consumed > enabled
		case skuOps:
			s.Warning = 2
			s.Status = "Warning"
		case skuFlowFree:
			s.Enabled = 10000
		}
	}
}

func lower(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c >= 'A' && c <= 'Z' {
			b[i] = c + 32
		}
	}
	return string(b)
}

// bucketWeight favours working hours on weekdays, as real sign-in logs do.
func (m *model) bucketWeight(k int) int64 {
	t := time.UnixMicro(m.start + int64(k)*minuteUS).UTC()
	w := int64(1)
	if h := t.Hour(); h >= 7 && h < 18 {
		w = 4
	}
	if d := t.Weekday(); d == time.Saturday || d == time.Sunday {
		w = 1
	}
	return w
}

func (m *model) buildSignIns(cfg Config) {
	m.cum = make([]int64, m.buckets+1)
	for k := 0; k < m.buckets; k++ {
		m.cum[k+1] = m.cum[k] + m.bucketWeight(k)
	}
	m.total = cfg.SignIns
	if m.total == 0 {
		m.total = int64(len(m.activeIdx)) * int64(cfg.Days) * 2 // about two interactive sign-ins a working day
	}
	if len(m.activeIdx) == 0 || m.buckets == 0 {
		m.total = 0
	}
	// signInActivity agrees with the log: a pass over every event (about 50 ns each).
	for k := 0; k < m.buckets; k++ {
		n := m.count(k)
		for j := int64(0); j < n; j++ {
			e := m.event(k, j, n)
			u := &m.users[e.user]
			if e.at > u.lastSignIn {
				u.lastSignIn = e.at
			}
			if e.fail < 0 && e.at > u.lastSuccess {
				u.lastSuccess = e.at
			}
		}
	}
	for _, i := range m.activeIdx {
		u := &m.users[i]
		if u.lastSignIn == 0 {
			// Active in principle, no event drawn in the history: last seen before it.
			u.lastSignIn = m.start - int64(1+hash(m.seed, 2000, uint64(i))%(20*24*60))*minuteUS
			u.lastSuccess = u.lastSignIn
		}
		// Non-interactive sign-ins (token refreshes) follow interactive ones by a few hours.
		ni := u.lastSignIn + int64(hash(m.seed, 2001, uint64(i))%(6*60))*minuteUS
		if ni > m.anchor {
			ni = m.anchor
		}
		u.lastNonInteractive = ni
		if ni > u.lastSuccess {
			u.lastSuccess = ni
		}
	}
}

// count is the number of sign-ins in bucket k: exact totals without generating them.
func (m *model) count(k int) int64 {
	if m.total == 0 {
		return 0
	}
	tot := m.cum[m.buckets]
	return mulDiv(m.total, m.cum[k+1], tot) - mulDiv(m.total, m.cum[k], tot)
}

func mulDiv(a, b, c int64) int64 {
	hi, lo := mul64(uint64(a), uint64(b))
	q, _ := div64(hi, lo, uint64(c))
	return int64(q)
}

type event struct {
	at   int64 // Unix microseconds
	user int32
	app  int
	fail int // index into failures, -1 = success
	h    uint64
}

// event j of the n events in bucket k. Times increase with j, so walking j downwards is newest first.
func (m *model) event(k int, j, n int64) event {
	h := hash(m.seed, uint64(k)<<24|uint64(j))
	step := minuteUS / n
	at := m.start + int64(k)*minuteUS + j*step + int64(h%uint64(max(step, 1)))
	e := event{at: at, h: h}
	e.user = m.activeIdx[(h>>8)%uint64(len(m.activeIdx))]
	e.app = int((h >> 40) % uint64(len(apps)))
	e.fail = -1
	if (h>>20)%100 < 4 {
		e.fail = int((h >> 28) % uint64(len(failures)))
	}
	return e
}

// countRange counts the events with lo <= at <= hi (microseconds), for the truth.
func (m *model) countRange(lo, hi int64) int64 {
	var n int64
	for k := 0; k < m.buckets; k++ {
		bs := m.start + int64(k)*minuteUS
		if bs+minuteUS <= lo || bs > hi {
			continue
		}
		c := m.count(k)
		if bs >= lo && bs+minuteUS-1 <= hi {
			n += c
			continue
		}
		for j := int64(0); j < c; j++ {
			if at := m.event(k, j, c).at; at >= lo && at <= hi {
				n++
			}
		}
	}
	return n
}
