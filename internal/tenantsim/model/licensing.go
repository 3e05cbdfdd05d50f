package model

import (
	"strconv"
	"strings"

	"github.com/seatlake/seatlake/internal/tenantsim/ids"
)

// Group-based licensing, assignment dates and emergency access accounts: what the license marts need beyond
// assignedLicenses. Group ids are drawn from the seed.

// GroupID is the object id of licensing group g.
func (m *Tenant) GroupID(g int) string {
	return ids.GUID(ids.Hash(m.Seed, 70, uint64(g)), ids.Hash(m.Seed, 71, uint64(g)))
}

// plantAssignments dates every license (licenseAssignmentStates[].lastUpdatedDateTime) and lets the licensing
// groups assign part of their SKU's licenses. Most licenses were assigned when the user was created or long ago;
// about one in twelve in the last 75 days, across the 60-day grace boundary.
func (m *Tenant) plantAssignments() {
	for i := range m.Users {
		u := &m.Users[i]
		for li := range u.Licenses {
			l := &u.Licenses[li]
			h := func(f uint64) uint64 { return ids.Hash(m.Seed, 4000, uint64(i), uint64(li), f) }
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

// SuiteSKU reports whether a SKU is a Microsoft 365 / Office 365 suite: the usage report lists its holders.
func SuiteSKU(s uint8) bool {
	return s == SKUO365E3 || s == SKUO365E5 || s == SKUM365E3 || s == SKUM365E5
}

// HasSuite says whether the user holds a Microsoft 365 / Office 365 suite.
func (u *User) HasSuite() bool {
	for _, l := range u.Licenses {
		if SuiteSKU(l.SKU) {
			return true
		}
	}
	return false
}

// ConcealedName is the 32-hex name the usage report shows for a user when names are concealed: stable for the
// tenant, unrelated to the UPN (Microsoft does not document its hash; nobody should try to reverse it).
func (m *Tenant) ConcealedName(i int) string {
	return strings.ToUpper(strings.ReplaceAll(ids.GUID(ids.Hash(m.Seed, 90, uint64(i)), ids.Hash(m.Seed, 91, uint64(i))), "-", ""))
}

// GroupIndex finds a licensing group by id.
func (m *Tenant) GroupIndex(id string) (int, bool) {
	for g := range LicenseGroups {
		if strings.EqualFold(m.GroupID(g), id) {
			return g, true
		}
	}
	return 0, false
}

// LicensingGroups counts the groups that assign a license to at least one user: what a run lands in graph_groups.
func (m *Tenant) LicensingGroups() int64 {
	seen := map[int8]bool{}
	for i := range m.Users {
		for _, l := range m.Users[i].Licenses {
			if l.Group >= 0 {
				seen[l.Group] = true
			}
		}
	}
	return int64(len(seen))
}
