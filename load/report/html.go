package report

import (
	"bytes"
	_ "embed"
	"fmt"
	"html/template"
	"io"
	"slices"
	"strconv"
	"strings"
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

// seatRow is a SKU in the seats chart: its bars (seats bought, assigned, active) in percent of the longest.
type seatRow struct {
	Position
	BoughtBar, AssignedBar, ActiveBar []seg
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
	Bar          []seg
}

// trendRow is one snapshot: its stacked bar (active, inactive, undecided) in percent of the largest total.
type trendRow struct {
	TrendPoint
	Bar []seg
}

// seg is a stretch of a bar, drawn as an SVG rect in a 100-unit-wide track: its series (the CSS class that colours
// it), where it starts and how long it is.
type seg struct {
	Class string
	X, W  float64
}

// stack lays parts (series, value) end to end, each as a percentage of of: at least a sliver when not zero, so a
// small count still shows, and never past the track's end.
func stack(of float64, parts ...any) []seg {
	var out []seg
	x := 0.0
	for i := 0; i+1 < len(parts); i += 2 {
		v := toFloat(parts[i+1])
		if v <= 0 || of <= 0 {
			continue
		}
		w := min(max(100*v/of, 0.5), 100-x)
		out = append(out, seg{Class: parts[i].(string), X: x, W: w})
		x += w
	}
	return out
}

func toFloat(v any) float64 {
	switch v := v.(type) {
	case int64:
		return float64(v)
	case float64:
		return v
	}
	return 0
}

// WriteHTML writes one self-contained page: inline CSS, charts whose bars are inline SVG and whose labels and
// figures are HTML text beside them (so they wrap, never get cut, whatever the reader's fonts), no script and
// nothing fetched, so it opens offline, in a mail attachment or a ticket, and fits a
// 1400-pixel window (text wraps; nothing scrolls sideways). now is only printed in the footer.
func WriteHTML(w io.Writer, tenants []*Tenant, top int, now time.Time) error {
	tmpl, err := template.New("report").Funcs(template.FuncMap{
		"money":  money,
		"days":   days,
		"status": statusLine,
		"pct":    func(v float64) string { return strconv.FormatFloat(v, 'f', 2, 64) },
		"breaks": breaks,
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

// breaks escapes s for HTML and lets a browser break it after an underscore, an @ or a dot, where part numbers and
// user names read best split (DYN365_ENTERPRISE_ / CUSTOMER_SERVICE).
func breaks(s string) template.HTML {
	e := template.HTMLEscapeString(s)
	e = strings.NewReplacer("_", "_<wbr>", "@", "@<wbr>", ".", ".<wbr>").Replace(e)
	return template.HTML(e) //nolint:gosec // escaped above; only <wbr> is added
}

// seatRows: seats bought (purchased, in grace, suspended: the same figures as the compliance table), assigned and
// active per SKU. Free self-service SKUs (priced 0, often 10,000 seats) are left out so they do not flatten the
// other bars; so are SKUs with no seats at all.
func seatRows(t *Tenant) (rows []seatRow, warning, suspended bool) {
	shown := slices.DeleteFunc(slices.Clone(t.Position), skipSeats)
	l := longest(shown, func(p Position) int64 { return max(p.Purchased+p.Warning+p.Suspended, p.Assigned) })
	for _, p := range shown {
		warning = warning || p.Warning > 0
		suspended = suspended || p.Suspended > 0
		rows = append(rows, seatRow{Position: p, BoughtBar: stack(l, "purchased", p.Purchased, "warning", p.Warning, "suspended", p.Suspended),
			AssignedBar: stack(l, "assigned", p.Assigned), ActiveBar: stack(l, "active", p.Active)})
	}
	return rows, warning, suspended
}

func skipSeats(p Position) bool {
	return p.Purchased+p.Warning+p.Suspended+p.Assigned == 0 || (p.HasPrice && p.MonthlyPrice == 0)
}

// longest is the longest bar of a chart, the one every bar is drawn against: the largest length of the items, 0
// for none.
func longest[T any, N int64 | float64](items []T, length func(T) N) float64 {
	var l N
	for _, it := range items {
		l = max(l, length(it))
	}
	return float64(l)
}

// inactivityRows: how long the inactive licenses have been idle.
func inactivityRows(t *Tenant) []barRow {
	l := longest(t.Inactivity, func(b Bucket) int64 { return b.Count })
	var rows []barRow
	for _, b := range t.Inactivity {
		rows = append(rows, barRow{Label: b.Label, Value: strconv.FormatInt(b.Count, 10), Bar: stack(l, "plain", b.Count)})
	}
	return rows
}

// savingRows: the yearly saving of reclaims and downgrades by product.
func savingRows(t *Tenant) []barRow {
	l := longest(t.Products, func(p Product) float64 { return p.YearlySaving })
	var rows []barRow
	for _, p := range t.Products {
		if p.YearlySaving <= 0 {
			continue
		}
		rows = append(rows, barRow{Label: p.Product, Value: money(p.YearlySaving, t.Currency), Bar: stack(l, "plain", p.YearlySaving)})
	}
	return rows
}

// trendRows: licenses active, inactive and undecided across the last 30 marts snapshots.
func trendRows(t *Tenant) []trendRow {
	points := t.Trend[max(len(t.Trend)-30, 0):]
	l := longest(points, func(p TrendPoint) int64 { return p.Active + p.Inactive + p.Unknown })
	var rows []trendRow
	for _, p := range points {
		rows = append(rows, trendRow{TrendPoint: p, Bar: stack(l, "active", p.Active, "inactive", p.Inactive, "undecided", p.Unknown)})
	}
	return rows
}
