package model

import (
	"github.com/seatlake/seatlake/internal/tenantsim/ids"
)

// The Microsoft 365 usage report's view of each user (getOffice365ActiveUserDetail), which the Graph emulator
// renders and the truth reads.

// ReportLagDays is how far the report's refresh date trails the tenant's clock (usage reports run 2-3 days late).
const ReportLagDays = 2

// UsageDays is a user's last activity per workload, in days since the Unix epoch (-1 = none): never after the
// report's refresh date, never after the day of the user's last successful sign-in (nobody uses Exchange or Teams
// without signing in), and none for a user who never signed in.
type UsageDays struct{ Exchange, OneDrive, SharePoint, Teams int64 }

// UsageOf is user i's row of the usage report.
func (m *Tenant) UsageOf(i int) UsageDays {
	u := &m.Users[i]
	none := UsageDays{-1, -1, -1, -1}
	if u.LastSuccess == 0 || !u.HasSuite() {
		return none
	}
	d0 := u.LastSuccess / MicrosPerDay
	refresh := m.Anchor/MicrosPerDay - ReportLagDays
	h := func(f uint64) uint64 { return ids.Hash(m.Seed, 5000, uint64(i), f) }
	d := UsageDays{
		Exchange:   min(d0-int64(h(1)%3), refresh),
		SharePoint: min(d0-int64(h(3)%9), refresh),
		Teams:      min(d0-int64(h(2)%4), refresh),
		OneDrive:   -1,
	}
	if h(4)%10 < 6 {
		d.OneDrive = min(d0-int64(h(5)%12), refresh)
	}
	return d
}

// Latest is the newest workload date, -1 for none.
func (d UsageDays) Latest() int64 { return max(d.Exchange, d.OneDrive, d.SharePoint, d.Teams) }

// ReportRows counts the report's rows: one per member holding a Microsoft 365 / Office 365 suite.
func (m *Tenant) ReportRows() int64 {
	var n int64
	for i := range m.Users {
		if !m.Users[i].Guest && m.Users[i].HasSuite() {
			n++
		}
	}
	return n
}
