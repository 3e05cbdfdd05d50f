package report

import (
	"bytes"
	_ "embed"
	"fmt"
	"html/template"
	"io"
	"strconv"
	"time"
)

//go:embed report.html.tmpl
var pageTemplate string

// Page is what the HTML page shows: every tenant, with its charts' bars.
type Page struct {
	Generated string
	Tenants   []pageTenant
	Top       int
	HeldNote  string
}

type pageTenant struct {
	*Tenant
	Summary                                      []string
	Seats                                        []seatRow
	Inactivity, Savings                          []barRow
	Trend                                        []trendRow
	TopReclaims, TopDowngrades, TopUnderLicensed []Candidate
	UnderLicensedNoLicense                       int64
	HasWarning, HasSuspended                     bool
}

// seatRow is a SKU in the seats chart: the bars' lengths in percent of the longest.
type seatRow struct {
	Position
	PurchasedPct, WarningPct, SuspendedPct, AssignedPct, ActivePct float64
}

// Bought says what the first bar shows, in words: "799", "0 + 171 in grace", "0 + 5 suspended".
func (r seatRow) Bought() string {
	s := strconv.FormatInt(r.Purchased, 10)
	if r.Warning > 0 {
		s += " + " + strconv.FormatInt(r.Warning, 10) + " in grace"
	}
	if r.Suspended > 0 {
		s += " + " + strconv.FormatInt(r.Suspended, 10) + " suspended"
	}
	return s
}

// barRow is one bar of a one-series chart.
type barRow struct {
	Label, Value string
	Pct          float64
}

// trendRow is one snapshot: its stacked bar's parts in percent of the largest total.
type trendRow struct {
	TrendPoint
	ActivePct, InactivePct, UnknownPct float64
}

// WriteHTML writes one self-contained page: inline CSS, charts drawn as HTML bars with their figures written
// beside them, no script and nothing fetched, so it opens offline, in a mail attachment or a ticket, and fits a
// 1400-pixel window (text wraps; nothing scrolls sideways). now is only printed in the footer.
func WriteHTML(w io.Writer, tenants []*Tenant, top int, now time.Time) error {
	tmpl, err := template.New("report").Funcs(template.FuncMap{
		"money":  money,
		"days":   days,
		"status": statusLine,
		"pct":    func(v float64) string { return strconv.FormatFloat(v, 'f', 2, 64) },
	}).Parse(pageTemplate)
	if err != nil {
		return fmt.Errorf("report template: %w", err)
	}
	page := Page{Generated: generated(now), Top: top, HeldNote: FinOpsHeldNote}
	for _, t := range tenants {
		pt := pageTenant{Tenant: t, Summary: t.Summary(), TopReclaims: t.Reclaims[:min(len(t.Reclaims), top)],
			TopDowngrades: t.Downgrades[:min(len(t.Downgrades), top)], TopUnderLicensed: t.UnderLicensed[:min(len(t.UnderLicensed), top)],
			UnderLicensedNoLicense: max(t.FinOpsUnderLicensed-t.UnderLicensedCount, 0)}
		pt.Seats, pt.HasWarning, pt.HasSuspended = seatRows(t)
		pt.Inactivity = inactivityRows(t)
		pt.Savings = savingRows(t)
		if len(t.Trend) > 1 {
			pt.Trend = trendRows(t)
		}
		page.Tenants = append(page.Tenants, pt)
	}
	var buf bytes.Buffer
	if err := tmpl.Execute(&buf, page); err != nil {
		return fmt.Errorf("rendering the report: %w", err)
	}
	_, err = w.Write(buf.Bytes())
	return err
}

// pct is v as a percentage of of, at least a sliver when v is not zero (so a small count still shows).
func pct(v, of int64) float64 {
	if v <= 0 || of <= 0 {
		return 0
	}
	return max(100*float64(v)/float64(of), 0.5)
}

// seatRows: seats bought (purchased, in grace, suspended: the same figures as the compliance table), assigned and
// active per SKU. Free self-service SKUs (priced 0, often 10,000 seats) are left out so they do not flatten the
// other bars; so are SKUs with no seats at all.
func seatRows(t *Tenant) (rows []seatRow, warning, suspended bool) {
	var longest int64
	for _, p := range t.Position {
		if skipSeats(p) {
			continue
		}
		longest = max(longest, p.Purchased+p.Warning+p.Suspended, p.Assigned)
	}
	for _, p := range t.Position {
		if skipSeats(p) {
			continue
		}
		warning = warning || p.Warning > 0
		suspended = suspended || p.Suspended > 0
		rows = append(rows, seatRow{Position: p, PurchasedPct: pct(p.Purchased, longest), WarningPct: pct(p.Warning, longest),
			SuspendedPct: pct(p.Suspended, longest), AssignedPct: pct(p.Assigned, longest), ActivePct: pct(p.Active, longest)})
	}
	return rows, warning, suspended
}

func skipSeats(p Position) bool {
	return p.Purchased+p.Warning+p.Suspended+p.Assigned == 0 || (p.HasPrice && p.MonthlyPrice == 0)
}

// inactivityRows: how long the inactive licenses have been idle.
func inactivityRows(t *Tenant) []barRow {
	var longest int64
	for _, b := range t.Inactivity {
		longest = max(longest, b.Count)
	}
	var rows []barRow
	for _, b := range t.Inactivity {
		rows = append(rows, barRow{Label: b.Label, Value: strconv.FormatInt(b.Count, 10), Pct: pct(b.Count, longest)})
	}
	return rows
}

// savingRows: the yearly saving of reclaims and downgrades by product.
func savingRows(t *Tenant) []barRow {
	var longest float64
	for _, p := range t.Products {
		longest = max(longest, p.YearlySaving)
	}
	var rows []barRow
	for _, p := range t.Products {
		if p.YearlySaving <= 0 {
			continue
		}
		rows = append(rows, barRow{Label: p.Product, Value: money(p.YearlySaving, t.Currency), Pct: max(100*p.YearlySaving/longest, 0.5)})
	}
	return rows
}

// trendRows: licenses active, inactive and undecided across the last 30 marts snapshots.
func trendRows(t *Tenant) []trendRow {
	points := t.Trend[max(len(t.Trend)-30, 0):]
	var longest int64
	for _, p := range points {
		longest = max(longest, p.Active+p.Inactive+p.Unknown)
	}
	var rows []trendRow
	for _, p := range points {
		rows = append(rows, trendRow{TrendPoint: p, ActivePct: pct(p.Active, longest), InactivePct: pct(p.Inactive, longest),
			UnknownPct: pct(p.Unknown, longest)})
	}
	return rows
}
