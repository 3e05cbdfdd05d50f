package report

import (
	"encoding/csv"
	"fmt"
	"io"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/mattn/go-runewidth"

	"github.com/seatlake/seatlake/load/warehouse"
)

// DefaultWidth is the width of the terminal report when the caller knows none (output to a file or a pipe).
const DefaultWidth = 100

// WriteText prints the tenant's report for a terminal width columns wide (DefaultWidth when width < 40), with
// the top candidates of each kind. Long names wrap inside their column and reasons wrap under their candidate, so
// no line is wider than width (unless a table's figures alone are); the CSV plan and the marts keep every text whole.
func (t *Tenant) WriteText(w io.Writer, top, width int) {
	if width < 40 {
		width = DefaultWidth
	}
	p := &printer{w: w, width: width}
	fmt.Fprintf(w, "seatlake report  tenant %s  as of %s\n", t.Label(), t.AsOf)
	p.blank()
	p.line(2, fmt.Sprintf("%d licenses: %s", t.Licenses, statusLine(t.ByStatus)))
	for _, s := range t.Summary() {
		p.line(2, s)
	}

	p.blank()
	p.line(0, "Compliance position per SKU: seats purchased (enabled), in grace (expired, still usable: Microsoft's warning state), "+
		"suspended (no longer usable); available = purchased + in grace - assigned")
	var seats [][]string
	for _, s := range t.Position {
		seats = append(seats, []string{s.Label(), s.Status, n(s.Purchased), n(s.Warning), n(s.Suspended), n(s.Assigned), n(s.Available), n(s.Shortfall)})
	}
	p.table([]col{{head: "license", flex: true}, {head: "status"}, {head: "purchased", right: true}, {head: "in grace", right: true},
		{head: "suspended", right: true}, {head: "assigned", right: true}, {head: "available", right: true}, {head: "short", right: true}}, seats)

	p.blank()
	p.line(0, "Compliance position per SKU: how the assigned seats are used")
	var use [][]string
	for _, s := range t.Position {
		use = append(use, []string{s.Label(), n(s.Assigned), n(s.Active), n(s.Inactive), n(s.Undecided), n(s.Reclaimable), n(s.Downgradable),
			money(s.YearlySaving, t.Currency)})
	}
	p.table([]col{{head: "license", flex: true}, {head: "assigned", right: true}, {head: "active", right: true}, {head: "inactive", right: true},
		{head: "undecided", right: true}, {head: "reclaim", right: true}, {head: "downgrade", right: true}, {head: "saving/year", right: true}}, use)

	p.blank()
	p.line(0, "Per product")
	var prods [][]string
	for _, s := range t.Products {
		prods = append(prods, []string{s.Product, n(s.Assigned), n(s.Active), n(s.Reclaimable), n(s.Downgradable), money(s.IdleMonthly, t.Currency),
			money(s.YearlySaving, t.Currency)})
	}
	p.table([]col{{head: "product", flex: true}, {head: "assigned", right: true}, {head: "active", right: true}, {head: "reclaim", right: true},
		{head: "downgrade", right: true}, {head: "idle/month", right: true}, {head: "saving/year", right: true}}, prods)

	if len(t.FinOps) > 0 {
		p.blank()
		p.line(0, "F&O licenses: what the roles require against what F&O users hold")
		var fo [][]string
		for _, s := range t.FinOps {
			fo = append(fo, []string{s.Product, n(s.Required), n(s.Assigned), n(s.UnderLicensed), money(s.TrueUpMonthly, t.Currency), n(s.HeldWithoutAccount)})
		}
		p.table([]col{{head: "license", flex: true}, {head: "required", right: true}, {head: "held", right: true}, {head: "under-licensed", right: true},
			{head: "true-up/month", right: true}, {head: "no F&O account", right: true}}, fo)
		p.line(2, FinOpsHeldNote)
	}

	candidates := func(title string, cs []Candidate, total int64, detail func(Candidate) string) {
		cs = cs[:min(len(cs), top)]
		p.blank()
		p.line(0, fmt.Sprintf("%s (top %d of %d)", title, len(cs), total))
		if len(cs) == 0 {
			p.line(2, "  none")
			return
		}
		for _, c := range cs {
			p.line(4, "  "+c.UPN)
			p.line(6, "    "+c.Label())
			p.line(6, "    "+detail(c))
			p.line(6, "    "+c.Reason)
		}
	}
	candidates("Reclaim candidates", t.Reclaims, t.ReclaimCount, func(c Candidate) string {
		return fmt.Sprintf("%s, %s inactive, %s a year: %s", c.Status, days(c), money(c.YearlySaving, c.Currency), c.Action)
	})
	candidates("Downgrade candidates", t.Downgrades, t.DowngradeCount, func(c Candidate) string {
		return fmt.Sprintf("%s, %s a year: %s", c.Status, money(c.YearlySaving, c.Currency), c.Action)
	})
	if t.FinOpsUnderLicensed > 0 || t.UnderLicensedCount > 0 {
		candidates("Under-licensed F&O users", t.UnderLicensed, t.UnderLicensedCount, func(c Candidate) string {
			return fmt.Sprintf("roles require %s, %s a month more: %s", c.RequiredLicense, money(c.TrueUpMonthly, c.Currency), c.Action)
		})
		if extra := t.FinOpsUnderLicensed - t.UnderLicensedCount; extra > 0 {
			p.line(2, fmt.Sprintf("  and %d F&O user(s) whose roles require a license and who hold no F&O license at all (license_position, findings)", extra))
		}
	}

	p.blank()
	p.line(0, fmt.Sprintf("Findings (%d)", len(t.Findings)))
	for _, f := range t.Findings {
		env := ""
		if f.Environment != "" {
			env = " [" + f.Environment + "]"
		}
		p.line(9, fmt.Sprintf("  %-6s %s%s: %s", strings.ToUpper(f.Severity), f.Code, env, f.Detail))
		p.line(12, "         -> "+f.Action)
	}
}

// FinOpsHeldNote says how the F&O table's figures are made (the terminal, the page and the README say the same).
const FinOpsHeldNote = "held: F&O users (an enabled F&O account matched to an Entra user) whose highest F&O license is the tier; " +
	"no F&O account: holders of the tier's license who have no F&O account (e.g. Team Members used for Dynamics 365 CE only), not counted as held; " +
	"true-up: what giving the under-licensed users the tier costs a month more."

// Summary is the report's headline: each figure on its own line, never added to another's.
func (t *Tenant) Summary() []string {
	out := []string{fmt.Sprintf("reclaim %d license(s): %s a year (idle seats cost %s a month)", t.ReclaimCount,
		money(t.ReclaimSaving, t.Currency), money(t.IdleMonthly, t.Currency))}
	out = append(out, fmt.Sprintf("downgrade %d active license(s) to a cheaper one: %s a year", t.DowngradeCount, money(t.DowngradeSaving, t.Currency)))
	if t.FinOpsUnderLicensed > 0 || t.UnderLicensedCount > 0 {
		out = append(out, fmt.Sprintf("under-licensed: %d F&O user(s) hold less than their roles require; assigning them the licenses their roles require costs %s a month more",
			max(t.FinOpsUnderLicensed, t.UnderLicensedCount), money(t.finOpsTrueUp(), t.Currency)))
	}
	return out
}

// finOpsTrueUp is the monthly true-up of every under-licensed F&O user (license_position's, which counts those who
// hold no F&O license too), or license_usage's when the position has none.
func (t *Tenant) finOpsTrueUp() float64 {
	var sum float64
	for _, p := range t.FinOps {
		sum += p.TrueUpMonthly
	}
	if sum == 0 {
		return t.TrueUpMonthly
	}
	return sum
}

func statusLine(by map[string]int64) string {
	var parts []string
	for _, s := range statuses {
		if n := by[s]; n > 0 {
			parts = append(parts, fmt.Sprintf("%s %d", s, n))
		}
	}
	return strings.Join(parts, ", ")
}

// statuses in the order a reader wants them.
var statuses = []string{"active", "low_usage", "never_used", "disabled_user_licensed", "grace_period", "review_only", "excluded"}

func days(c Candidate) string {
	if !c.DaysInactive.Valid {
		return "-"
	}
	return strconv.FormatInt(c.DaysInactive.Int64, 10) + "d"
}

func n(v int64) string { return strconv.FormatInt(v, 10) }

// printer writes lines no wider than width.
type printer struct {
	w     io.Writer
	width int
}

func (p *printer) blank() { fmt.Fprintln(p.w) }

// line writes s wrapped at width; continuation lines are indented by indent spaces.
func (p *printer) line(indent int, s string) {
	lead := len(s) - len(strings.TrimLeft(s, " "))
	for i, l := range wrap(strings.TrimLeft(s, " "), p.width-lead, p.width-max(indent, lead)) {
		pad := lead
		if i > 0 {
			pad = max(indent, lead)
		}
		fmt.Fprintln(p.w, strings.Repeat(" ", pad)+l)
	}
}

// col is a table column; the flex column wraps to leave the others their natural width.
type col struct {
	head        string
	right, flex bool
}

// table writes rows as aligned columns two spaces apart, the flex column's cells wrapped so that a line fits the
// printer's width.
func (p *printer) table(cols []col, rows [][]string) {
	widths := make([]int, len(cols))
	for i, c := range cols {
		widths[i] = runewidth.StringWidth(c.head)
	}
	for _, r := range rows {
		for i := range cols {
			widths[i] = max(widths[i], runewidth.StringWidth(r[i]))
		}
	}
	total := 2 * (len(cols) - 1)
	for _, w := range widths {
		total += w
	}
	for i, c := range cols {
		if c.flex && total > p.width {
			widths[i] = max(widths[i]-(total-p.width), 12, runewidth.StringWidth(c.head))
		}
	}
	emit := func(cells [][]string) {
		lines := 1
		for _, c := range cells {
			lines = max(lines, len(c))
		}
		for l := 0; l < lines; l++ {
			var b strings.Builder
			for i, c := range cells {
				s := ""
				if l < len(c) {
					s = c[l]
				}
				if i > 0 {
					b.WriteString("  ")
				}
				pad := strings.Repeat(" ", max(widths[i]-runewidth.StringWidth(s), 0))
				if cols[i].right {
					b.WriteString(pad + s)
				} else {
					b.WriteString(s + pad)
				}
			}
			fmt.Fprintln(p.w, strings.TrimRight(b.String(), " "))
		}
	}
	head := make([][]string, len(cols))
	for i, c := range cols {
		head[i] = []string{c.head}
	}
	emit(head)
	for _, r := range rows {
		cells := make([][]string, len(cols))
		for i, c := range cols {
			if c.flex {
				cells[i] = wrap(r[i], widths[i], widths[i])
			} else {
				cells[i] = []string{r[i]}
			}
		}
		emit(cells)
	}
}

// wrap breaks s into lines of at most first columns (the first line) and rest columns (the others), at spaces
// (runs of spaces inside a line are kept), and inside a word only when the word alone is too long: after an
// underscore, a dot, a hyphen, an @ or a slash when there is one (DYN365_ENTERPRISE_ / CUSTOMER_SERVICE).
func wrap(s string, first, rest int) []string {
	first, rest = max(first, 8), max(rest, 8)
	var lines []string
	limit := first
	cur := ""
	flush := func() {
		lines = append(lines, strings.TrimRight(cur, " "))
		cur, limit = "", rest
	}
	for _, word := range strings.Split(s, " ") {
		if cur == "" && word == "" && len(lines) > 0 {
			continue // no leading spaces on a continuation line
		}
		if cur != "" && runewidth.StringWidth(cur)+1+runewidth.StringWidth(word) > limit {
			flush()
		}
		for runewidth.StringWidth(word) > limit && cur == "" {
			head := cut(word, limit)
			cur = head
			flush()
			word = word[len(head):]
		}
		if cur == "" {
			cur = word
		} else {
			cur += " " + word
		}
	}
	if cur != "" || len(lines) == 0 {
		lines = append(lines, strings.TrimRight(cur, " "))
	}
	return lines
}

// cut is the longest head of word at most limit columns wide, ending after a separator when one is in its last
// two thirds.
func cut(word string, limit int) string {
	head := runewidth.Truncate(word, limit, "")
	if i := strings.LastIndexAny(head, "_.-@/"); i >= len(head)/3 && i < len(head)-1 {
		return head[:i+1]
	}
	return head
}

// PlanColumns are the reclaim plan's columns. An approver marks the rows to apply in the last one, approve (yes);
// `seatlake reclaim --plan` reads the file back by these names.
var PlanColumns = []string{"tenant_id", "tenant_name", "user_id", "user_principal_name", "sku_part_number", "product", "status", "action",
	"days_inactive", "last_activity", "evidence", "reason", "yearly_saving", "currency", "sku_id", "assigned_by_group", "snapshot_date", "approve"}

// WritePlan writes every reclaim and downgrade candidate of the tenants to dir/reclaim-plan.csv, the largest saving
// first: the attachment of a change ticket. It returns the file's path.
func WritePlan(dir string, tenants []*Tenant) (string, error) {
	path := filepath.Join(dir, "reclaim-plan.csv")
	err := warehouse.WriteAtomic(path, func(f io.Writer) error {
		w := csv.NewWriter(f)
		w.Write(PlanColumns)
		for _, t := range tenants {
			for _, group := range [][]Candidate{t.Reclaims, t.Downgrades} {
				for _, c := range group {
					d := ""
					if c.DaysInactive.Valid {
						d = strconv.FormatInt(c.DaysInactive.Int64, 10)
					}
					w.Write([]string{c.TenantID, t.Name(), c.UserID, c.UPN, c.SKU, c.Product, c.Status, c.Action, d, c.LastActivity, c.Evidence,
						c.Reason, strconv.FormatFloat(c.YearlySaving, 'f', 2, 64), c.Currency, c.SkuID, c.AssignedByGroup, c.SnapshotDate, ""})
				}
			}
		}
		w.Flush()
		return w.Error()
	})
	if err != nil {
		return "", fmt.Errorf("writing the reclaim plan: %w", err)
	}
	return path, nil
}
