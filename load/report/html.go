package report

import (
	"bytes"
	_ "embed"
	"fmt"
	"html/template"
	"io"
	"regexp"
	"time"

	"github.com/go-analyze/charts"
)

//go:embed report.html.tmpl
var pageTemplate string

// Page is what the HTML page shows: every tenant, with their charts rendered to SVG.
type Page struct {
	Generated string
	Tenants   []pageTenant
	Top       int
}

type pageTenant struct {
	*Tenant
	Seats, Inactivity, Savings, Trend template.HTML
	TopReclaims, TopDowngrades        []Candidate
}

// WriteHTML writes one self-contained page: inline CSS and SVG charts, no script and nothing fetched, so it opens
// offline, in a mail attachment or a ticket. now is only printed in the footer.
func WriteHTML(w io.Writer, tenants []*Tenant, top int, now time.Time) error {
	tmpl, err := template.New("report").Funcs(template.FuncMap{
		"money": money,
		"days":  days,
		"status": func(by map[string]int64) string {
			return statusLine(by)
		},
	}).Parse(pageTemplate)
	if err != nil {
		return fmt.Errorf("report template: %w", err)
	}
	page := Page{Generated: generated(now), Top: top}
	for _, t := range tenants {
		pt := pageTenant{Tenant: t, TopReclaims: t.Reclaims[:min(len(t.Reclaims), top)], TopDowngrades: t.Downgrades[:min(len(t.Downgrades), top)]}
		if pt.Seats, err = seatsChart(t); err != nil {
			return err
		}
		if pt.Inactivity, err = inactivityChart(t); err != nil {
			return err
		}
		if pt.Savings, err = savingsChart(t); err != nil {
			return err
		}
		if len(t.Trend) > 1 {
			if pt.Trend, err = trendChart(t); err != nil {
				return err
			}
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

func painter(width, height int) *charts.Painter {
	return charts.NewPainter(charts.PainterOptions{OutputFormat: charts.ChartOutputSVG, Width: width, Height: height})
}

// xmlDecl is the XML declaration an SVG file starts with; inline in HTML it must go.
var xmlDecl = regexp.MustCompile(`^<\?xml[^>]*>\s*`)

func svg(p *charts.Painter) (template.HTML, error) {
	b, err := p.Bytes()
	if err != nil {
		return "", fmt.Errorf("rendering a chart: %w", err)
	}
	// The SVG is the chart library's output from our numbers and SKU names (never raw user input); labels are
	// escaped by the library.
	return template.HTML(xmlDecl.ReplaceAll(b, nil)), nil //nolint:gosec // generated SVG, see above
}

// seatsChart: seats purchased, assigned and active per SKU.
func seatsChart(t *Tenant) (template.HTML, error) {
	var labels []string
	vals := [][]float64{{}, {}, {}}
	for _, p := range t.Position {
		if p.Purchased+p.Warning+p.Assigned == 0 || (p.HasPrice && p.MonthlyPrice == 0) {
			continue // nothing to see, or a free self-service SKU whose 10,000 seats would flatten every other bar
		}
		labels = append(labels, p.SKU)
		vals[0] = append(vals[0], float64(p.Purchased+p.Warning))
		vals[1] = append(vals[1], float64(p.Assigned))
		vals[2] = append(vals[2], float64(p.Active))
	}
	if len(labels) == 0 {
		return "", nil
	}
	opt := charts.NewBarChartOptionWithData(vals)
	opt.Horizontal = true
	opt.Title.Text = "Seats per SKU: purchased, assigned, active"
	opt.ValueAxis = []charts.ValueAxisOption{{Min: charts.Ptr(0.0)}}
	opt.CategoryAxis.Labels = labels
	opt.Legend = charts.LegendOption{SeriesNames: []string{"purchased", "assigned", "active"}, Offset: charts.OffsetRight}
	p := painter(900, 80+len(labels)*48)
	if err := p.BarChart(opt); err != nil {
		return "", fmt.Errorf("seats chart: %w", err)
	}
	return svg(p)
}

// inactivityChart: how long the inactive licenses have been idle.
func inactivityChart(t *Tenant) (template.HTML, error) {
	if len(t.Inactivity) == 0 {
		return "", nil
	}
	var labels []string
	var vals []float64
	for _, b := range t.Inactivity {
		labels = append(labels, b.Label)
		vals = append(vals, float64(b.Count))
	}
	opt := charts.NewBarChartOptionWithData([][]float64{vals})
	opt.Title.Text = "Inactive licenses by time idle"
	opt.ValueAxis = []charts.ValueAxisOption{{Min: charts.Ptr(0.0)}}
	opt.CategoryAxis.Labels = labels
	opt.SeriesLabelPosition = "top"
	p := painter(600, 340)
	if err := p.BarChart(opt); err != nil {
		return "", fmt.Errorf("inactivity chart: %w", err)
	}
	return svg(p)
}

// savingsChart: the yearly saving of reclaims and downgrades by product.
func savingsChart(t *Tenant) (template.HTML, error) {
	var labels []string
	var vals []float64
	for _, p := range t.Products {
		if p.YearlySaving <= 0 {
			continue
		}
		labels = append(labels, p.Product)
		vals = append(vals, p.YearlySaving)
	}
	if len(labels) == 0 {
		return "", nil
	}
	opt := charts.NewBarChartOptionWithData([][]float64{vals})
	opt.Horizontal = true
	opt.Title.Text = "Yearly saving by product (" + t.Currency + ")"
	opt.ValueAxis = []charts.ValueAxisOption{{Min: charts.Ptr(0.0)}}
	opt.CategoryAxis.Labels = labels
	opt.SeriesLabelPosition = "right"
	p := painter(600, 80+len(labels)*44)
	if err := p.BarChart(opt); err != nil {
		return "", fmt.Errorf("savings chart: %w", err)
	}
	return svg(p)
}

// trendChart: licenses active, inactive and undecided across the marts snapshots.
func trendChart(t *Tenant) (template.HTML, error) {
	var labels []string
	vals := [][]float64{{}, {}, {}}
	for _, p := range t.Trend {
		labels = append(labels, p.Date)
		vals[0] = append(vals[0], float64(p.Active))
		vals[1] = append(vals[1], float64(p.Inactive))
		vals[2] = append(vals[2], float64(p.Unknown))
	}
	opt := charts.NewLineChartOptionWithData(vals)
	opt.Title.Text = "Licenses across snapshots"
	opt.XAxis.Labels = labels
	opt.Legend = charts.LegendOption{SeriesNames: []string{"active", "inactive", "undecided"}, Offset: charts.OffsetRight}
	p := painter(900, 340)
	if err := p.LineChart(opt); err != nil {
		return "", fmt.Errorf("trend chart: %w", err)
	}
	return svg(p)
}
