package tenantsim

import (
	"strconv"
	"strings"
)

// Group-based licensing, assignment dates and emergency access accounts: what the license marts need beyond
// assignedLicenses. Group ids are drawn from the seed.

func (m *model) groupID(g int) string {
	return guid(hash(m.seed, 70, uint64(g)), hash(m.seed, 71, uint64(g)))
}

// plantAssignments dates every license (licenseAssignmentStates[].lastUpdatedDateTime) and lets the licensing
// groups assign part of their SKU's licenses. Most licenses were assigned when the user was created or long ago;
// about one in twelve in the last 75 days, across the 60-day grace boundary.
func (m *model) plantAssignments() {
	for i := range m.users {
		u := &m.users[i]
		for li := range u.lic {
			l := &u.lic[li]
			h := func(f uint64) uint64 { return hash(m.seed, 4000, uint64(i), uint64(li), f) }
			for g, lg := range licenseGroups {
				if int(l.sku) == lg.sku && h(1)%100 < 45 {
					l.group = int8(g)
				}
			}
			first := u.created + int64(h(2)%uint64(2*usPerDay))
			at := m.anchor - int64(60+h(3)%800)*usPerDay - int64(h(4)%uint64(usPerDay))
			if h(5)%12 == 0 {
				at = m.anchor - int64(h(6)%75)*usPerDay - int64(h(7)%uint64(usPerDay))
			}
			at = min(max(at, first), m.anchor-1_000_000)
			l.assigned = at - at%1_000_000
		}
	}
}

// plantBreakGlass turns two licensed members who never signed in into emergency access ("break glass")
// accounts, which the default rules exclude: they must never be reclaimed.
func (m *model) plantBreakGlass() {
	n := 0
	for i := range m.users {
		u := &m.users[i]
		if n == 2 || u.guest || !u.enabled || u.act != never || len(u.lic) == 0 || m.anchor-u.created < 90*usPerDay {
			continue
		}
		dyn := false
		for _, l := range u.lic {
			dyn = dyn || l.sku == skuSales || l.sku == skuService || l.sku == skuTeamMembers || l.sku == skuOps || l.sku == skuPowerApps
		}
		if dyn {
			continue
		}
		n++
		u.breakGlass = true
		u.given, u.sur = "Break", "Glass "+strconv.Itoa(n)
		u.name = u.given + " " + u.sur
		u.upn = "breakglass" + strconv.Itoa(n) + "@" + m.domain
		u.mail = u.upn
	}
}

// appendAssignmentStates writes licenseAssignmentStates: one entry per license, with the group that assigns it.
func (s *Sim) appendAssignmentStates(b []byte, u *user) []byte {
	b = append(b, '[')
	for i, l := range u.lic {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"assignedByGroup":`...)
		if l.group < 0 {
			b = append(b, "null"...)
		} else {
			b = appendRaw(b, s.m.groupID(int(l.group)))
		}
		// error is null for a license assigned successfully ("licenseAssignmentState resource type").
		b = append(b, `,"disabledPlans":`...)
		b = appendDisabledPlans(b, l)
		b = append(b, `,"error":null,"lastUpdatedDateTime":`...)
		b = appendTime7(b, l.assigned)
		b = append(b, `,"skuId":"`...)
		b = append(b, skuCatalog[l.sku].id...)
		b = append(b, `","state":"Active"}`...)
	}
	return append(b, ']')
}

// suiteSku reports whether a SKU is a Microsoft 365 / Office 365 suite: the usage report lists its holders.
func suiteSku(s uint8) bool {
	return s == skuO365E3 || s == skuO365E5 || s == skuM365E3 || s == skuM365E5
}

func (u *user) hasSuite() bool {
	for _, l := range u.lic {
		if suiteSku(l.sku) {
			return true
		}
	}
	return false
}

// concealedName is the 32-hex name the usage report shows for a user when names are concealed: stable for the
// tenant, unrelated to the UPN (Microsoft does not document its hash; nobody should try to reverse it).
func (m *model) concealedName(i int) string {
	return strings.ToUpper(strings.ReplaceAll(guid(hash(m.seed, 90, uint64(i)), hash(m.seed, 91, uint64(i))), "-", ""))
}
