package tenantsim

import (
	"strconv"
	"strings"
)

// Group-based licensing, assignment dates and emergency access accounts: what the license marts need beyond
// assignedLicenses. Group ids are drawn from the seed.

func (m *Tenant) GroupID(g int) string {
	return GUID(Hash(m.Seed, 70, uint64(g)), Hash(m.Seed, 71, uint64(g)))
}

// plantAssignments dates every license (licenseAssignmentStates[].lastUpdatedDateTime) and lets the licensing
// groups assign part of their SKU's licenses. Most licenses were assigned when the user was created or long ago;
// about one in twelve in the last 75 days, across the 60-day grace boundary.
func (m *Tenant) plantAssignments() {
	for i := range m.Users {
		u := &m.Users[i]
		for li := range u.Licenses {
			l := &u.Licenses[li]
			h := func(f uint64) uint64 { return Hash(m.Seed, 4000, uint64(i), uint64(li), f) }
			for g, lg := range LicenseGroups {
				if int(l.SKU) == lg.SKU && h(1)%100 < 45 {
					l.Group = int8(g)
				}
			}
			first := u.Created + int64(h(2)%uint64(2*MicrosPerDay))
			at := m.Anchor - int64(60+h(3)%800)*MicrosPerDay - int64(h(4)%uint64(MicrosPerDay))
			if h(5)%12 == 0 {
				at = m.Anchor - int64(h(6)%75)*MicrosPerDay - int64(h(7)%uint64(MicrosPerDay))
			}
			at = min(max(at, first), m.Anchor-1_000_000)
			l.Assigned = at - at%1_000_000
		}
	}
}

// plantBreakGlass turns two licensed members who never signed in into emergency access ("break glass")
// accounts, which the default rules exclude: they must never be reclaimed.
func (m *Tenant) plantBreakGlass() {
	n := 0
	for i := range m.Users {
		u := &m.Users[i]
		if n == 2 || u.Guest || !u.Enabled || u.Act != Never || len(u.Licenses) == 0 || m.Anchor-u.Created < 90*MicrosPerDay {
			continue
		}
		dyn := false
		for _, l := range u.Licenses {
			dyn = dyn || l.SKU == SKUSales || l.SKU == SKUService || l.SKU == SKUTeamMembers || l.SKU == SKUOps || l.SKU == SKUPowerApps
		}
		if dyn {
			continue
		}
		n++
		u.BreakGlass = true
		u.Given, u.Surname = "Break", "Glass "+strconv.Itoa(n)
		u.Name = u.Given + " " + u.Surname
		u.UPN = "breakglass" + strconv.Itoa(n) + "@" + m.Domain
		u.Mail = u.UPN
	}
}

// appendAssignmentStates writes licenseAssignmentStates: one entry per license, with the group that assigns it.
func (s *Sim) appendAssignmentStates(b []byte, u *User) []byte {
	b = append(b, '[')
	for i, l := range u.Licenses {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"assignedByGroup":`...)
		if l.Group < 0 {
			b = append(b, "null"...)
		} else {
			b = appendRaw(b, s.m.GroupID(int(l.Group)))
		}
		// error is null for a license assigned successfully ("licenseAssignmentState resource type").
		b = append(b, `,"disabledPlans":`...)
		b = appendDisabledPlans(b, l)
		b = append(b, `,"error":null,"lastUpdatedDateTime":`...)
		b = appendTime7(b, l.Assigned)
		b = append(b, `,"skuId":"`...)
		b = append(b, SKUCatalog[l.SKU].ID...)
		b = append(b, `","state":"Active"}`...)
	}
	return append(b, ']')
}

// suiteSku reports whether a SKU is a Microsoft 365 / Office 365 suite: the usage report lists its holders.
func SuiteSKU(s uint8) bool {
	return s == SKUO365E3 || s == SKUO365E5 || s == SKUM365E3 || s == SKUM365E5
}

func (u *User) HasSuite() bool {
	for _, l := range u.Licenses {
		if SuiteSKU(l.SKU) {
			return true
		}
	}
	return false
}

// concealedName is the 32-hex name the usage report shows for a user when names are concealed: stable for the
// tenant, unrelated to the UPN (Microsoft does not document its hash; nobody should try to reverse it).
func (m *Tenant) ConcealedName(i int) string {
	return strings.ToUpper(strings.ReplaceAll(GUID(Hash(m.Seed, 90, uint64(i)), Hash(m.Seed, 91, uint64(i))), "-", ""))
}
