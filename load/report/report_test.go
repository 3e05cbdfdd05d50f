package report

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	_ "github.com/duckdb/duckdb-go/v2"
	"github.com/mattn/go-runewidth"
	"golang.org/x/net/html"
	"gopkg.in/yaml.v3"

	"github.com/seatlake/seatlake/internal/csvtest"
	"github.com/seatlake/seatlake/internal/table"
	"github.com/seatlake/seatlake/transform"
)

// martsOf loads a golden case's expected marts (testdata/marts/license/<case>/expected_*.csv, which
// TestMartsGolden holds equal to what the mart queries compute) as the warehouse's views would show them, for
// tenant t1 on the case's as-of day, and returns the database and the license_position rows.
func martsOf(t *testing.T, name string) (*sql.DB, []map[string]string) {
	t.Helper()
	dir := filepath.Join("..", "..", "testdata", "marts", "license", name)
	asOf := "2026-12-01"
	if raw, err := os.ReadFile(filepath.Join(dir, "case.yaml")); err == nil {
		var cf struct {
			AsOf string `yaml:"as_of"`
		}
		if err := yaml.Unmarshal(raw, &cf); err != nil {
			t.Fatal(err)
		}
		if cf.AsOf != "" {
			asOf = cf.AsOf
		}
	}
	db, err := sql.Open("duckdb", "")
	if err != nil {
		t.Fatal(err)
	}
	db.SetMaxOpenConns(1)
	t.Cleanup(func() { db.Close() })
	for _, m := range []*table.Table{transform.LicenseUsage, transform.LicensePosition, transform.Findings} {
		path := filepath.Join(dir, "expected_"+m.Name+".csv")
		cols := []string{"'t1' AS tenant_id", "DATE '" + asOf + "' AS snapshot_date"}
		for _, c := range m.Columns[3:] {
			cols = append(cols, fmt.Sprintf("CAST(nullif(%q, '') AS %s) AS %q", c.Name, sqlType(c.Type), c.Name))
		}
		q := fmt.Sprintf("CREATE TABLE %s AS SELECT %s FROM read_csv('%s', header = true, all_varchar = true)", m.Name, strings.Join(cols, ", "), path)
		if _, err := db.Exec(q); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
	}
	if _, err := db.Exec("CREATE VIEW license_usage_history AS SELECT * FROM license_usage"); err != nil {
		t.Fatal(err)
	}
	recs := csvtest.Read(t, filepath.Join(dir, "expected_license_position.csv"))
	var rows []map[string]string
	for _, r := range recs[1:] {
		m := map[string]string{}
		for i, h := range recs[0] {
			m[h] = r[i]
		}
		rows = append(rows, m)
	}
	return db, rows
}

func sqlType(t arrow.DataType) string {
	return map[arrow.Type]string{arrow.STRING: "VARCHAR", arrow.BOOL: "BOOLEAN", arrow.INT32: "INTEGER", arrow.INT64: "BIGINT",
		arrow.TIMESTAMP: "TIMESTAMPTZ", arrow.FLOAT64: "DOUBLE"}[t.ID()]
}

// The terminal report and the HTML page (its compliance table and its seats chart) show every figure of
// license_position as the mart has it: a subscription in its grace period has purchased 0 and 171 in grace
// everywhere (never 171 purchased in one place and 0 in another), suspended seats are shown, and each SKU is named
// as Microsoft names it with its part number beside it. Every license golden case is checked; subscription_in_warning
// holds a subscription of each capability status, finops_team_members_held the F&O figures.
func TestReportAgreesWithLicensePosition(t *testing.T) {
	cases, _ := filepath.Glob(filepath.Join("..", "..", "testdata", "marts", "license", "*"))
	if len(cases) < 2 {
		t.Fatal("no golden cases")
	}
	for _, dir := range cases {
		name := filepath.Base(dir)
		t.Run(name, func(t *testing.T) {
			db, position := martsOf(t, name)
			rep, err := Load(context.Background(), db, "t1", 0)
			if err != nil {
				t.Fatal(err)
			}
			var text, page bytes.Buffer
			rep.WriteText(&text, 10, 400)
			if err := WriteHTML(&page, []*Tenant{rep}, 10, time.Unix(0, 0)); err != nil {
				t.Fatal(err)
			}
			seats := textTable(t, text.String(), "license", "status", "purchased")
			use := textTable(t, text.String(), "license", "assigned", "active")
			fo := textTable(t, text.String(), "license", "required", "held")
			doc, err := html.Parse(bytes.NewReader(page.Bytes()))
			if err != nil {
				t.Fatal(err)
			}
			htmlRows := map[string]map[string]string{}
			for _, tr := range find(doc, func(n *html.Node) bool { return n.Data == "tr" && attr(n, "data-sku") != "" && inside(n, "position") }) {
				cells := map[string]string{}
				for _, td := range find(tr, func(n *html.Node) bool { return n.Data == "td" }) {
					cells[attr(td, "data-col")] = textOf(td)
				}
				htmlRows[attr(tr, "data-sku")] = cells
			}
			chart := map[string]*html.Node{}
			for _, row := range find(doc, func(n *html.Node) bool { return attr(n, "data-purchased") != "" }) {
				chart[attr(row, "data-sku")] = row
			}
			foHTML := map[string]map[string]string{}
			for _, tr := range find(doc, func(n *html.Node) bool { return n.Data == "tr" && attr(n, "data-tier") != "" }) {
				cells := map[string]string{}
				for _, td := range find(tr, func(n *html.Node) bool { return n.Data == "td" }) {
					cells[attr(td, "data-col")] = textOf(td)
				}
				foHTML[attr(tr, "data-tier")] = cells
			}

			skus := 0
			for _, m := range position {
				if m["kind"] == "finops_license" {
					tier := strings.TrimPrefix(m["product_name"], "F&O ")
					want := map[string]string{"required": m["required"], "held": m["assigned"], "under-licensed": m["under_licensed"],
						"no F&O account": m["held_without_finops_account"], "true-up/month": money(float64(num(m["true_up_monthly_cost"])), rep.Currency)}
					compare(t, "terminal F&O table "+tier, fo[m["product_name"]], want)
					compare(t, "page F&O table "+tier, foHTML[m["product_name"]], map[string]string{"required": m["required"], "assigned": m["assigned"],
						"under_licensed": m["under_licensed"], "held_without_finops_account": m["held_without_finops_account"],
						"true_up_monthly_cost": want["true-up/month"]})
					continue
				}
				skus++
				part, display := m["sku_part_number"], m["product_display_name"]
				lbl := label(display, part)
				if display == "" || part == "" {
					t.Errorf("%s: license_position has no product_display_name (%q) or part number", m["sku_id"], display)
				}
				saving := money(float64(num(m["yearly_saving"])), rep.Currency)
				compare(t, "terminal seats of "+lbl, seats[lbl], map[string]string{"status": m["capability_status"], "purchased": m["purchased"],
					"in grace": m["warning"], "suspended": m["suspended"], "assigned": m["assigned"], "available": m["available"], "short": m["shortfall"]})
				compare(t, "terminal use of "+lbl, use[lbl], map[string]string{"assigned": m["assigned"], "active": m["active"],
					"inactive": m["inactive"], "undecided": m["undecided"], "reclaim": m["reclaimable"], "downgrade": m["downgradable"], "saving/year": saving})
				compare(t, "page table row of "+part, htmlRows[part], map[string]string{"license": strings.TrimSpace(display + " " + strings.TrimPrefix(part, display)),
					"status": m["capability_status"], "purchased": m["purchased"], "warning": m["warning"], "suspended": m["suspended"],
					"assigned": m["assigned"], "active": m["active"], "inactive": m["inactive"], "undecided": m["undecided"], "available": m["available"],
					"shortfall": m["shortfall"], "reclaimable": m["reclaimable"], "downgradable": m["downgradable"], "yearly_saving": saving})
				if row := chart[part]; row != nil {
					for attrName, col := range map[string]string{"data-purchased": "purchased", "data-warning": "warning", "data-suspended": "suspended",
						"data-assigned": "assigned", "data-active": "active"} {
						if got := attr(row, attrName); got != m[col] {
							t.Errorf("page seats chart of %s: %s %s, license_position %s %s", part, attrName, got, col, m[col])
						}
					}
					want := m["purchased"]
					if m["warning"] != "0" {
						want += " + " + m["warning"] + " in grace"
					}
					if m["suspended"] != "0" {
						want += " + " + m["suspended"] + " suspended"
					}
					if vals := find(row, func(n *html.Node) bool { return attr(n, "class") == "val" }); len(vals) == 0 || textOf(vals[0]) != want {
						t.Errorf("page seats chart of %s says %q, want %q", part, textOf(vals[0]), want)
					}
				} else if num(m["purchased"])+num(m["warning"])+num(m["suspended"])+num(m["assigned"]) > 0 && num(m["monthly_price"]) > 0 {
					t.Errorf("page seats chart has no bar for %s", part)
				}
			}
			if len(seats) != skus || len(use) != skus || len(htmlRows) != skus {
				t.Errorf("license_position has %d SKUs; the terminal shows %d and %d, the page %d", skus, len(seats), len(use), len(htmlRows))
			}
			if name == "subscription_in_warning" {
				for _, want := range []string{"Dynamics 365 UNF OPS Plan ENT Edition (Dynamics_365_for_Operations)", "Microsoft 365 E3 - enterprise agreement (SPE_E3)",
					"CONTOSO_LAB_SKU", "in grace (expired, still usable)"} {
					if !strings.Contains(text.String()+page.String(), want) {
						t.Errorf("the report lacks %q", want)
					}
				}
			}
			if t.Failed() {
				t.Log(text.String())
			}
		})
	}
}

func compare(t *testing.T, what string, got, want map[string]string) {
	t.Helper()
	if got == nil {
		t.Errorf("%s: not shown", what)
		return
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s: %s is %q, license_position says %q", what, k, got[k], v)
		}
	}
}

func num(s string) int64 {
	f, _ := strconv.ParseFloat(s, 64)
	return int64(f)
}

// textTable finds the terminal table whose header starts with the given column names and returns its rows by their
// first cell, each as column name -> cell (columns are two or more spaces apart; the table ends at a blank line).
func textTable(t *testing.T, out string, heads ...string) map[string]map[string]string {
	t.Helper()
	lines := strings.Split(out, "\n")
	sep := regexp.MustCompile(`\s{2,}`)
	for i, l := range lines {
		cols := sep.Split(strings.TrimSpace(l), -1)
		if len(cols) < len(heads) || strings.Join(cols[:len(heads)], "|") != strings.Join(heads, "|") {
			continue
		}
		rows := map[string]map[string]string{}
		for _, r := range lines[i+1:] {
			if strings.TrimSpace(r) == "" || !strings.Contains(r, "  ") {
				break
			}
			cells := sep.Split(strings.TrimSpace(r), -1)
			if len(cells) != len(cols) {
				t.Fatalf("table %v: row %q has %d cells, the header %d", heads, r, len(cells), len(cols))
			}
			m := map[string]string{}
			for j, c := range cols {
				m[c] = cells[j]
			}
			rows[cells[0]] = m
		}
		return rows
	}
	return map[string]map[string]string{}
}

func find(n *html.Node, match func(*html.Node) bool) []*html.Node {
	var out []*html.Node
	var walk func(*html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.ElementNode && match(n) {
			out = append(out, n)
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(n)
	return out
}

func attr(n *html.Node, key string) string {
	for _, a := range n.Attr {
		if a.Key == key {
			return a.Val
		}
	}
	return ""
}

func inside(n *html.Node, id string) bool {
	for p := n.Parent; p != nil; p = p.Parent {
		if attr(p, "id") == id {
			return true
		}
	}
	return false
}

func textOf(n *html.Node) string {
	var b strings.Builder
	var walk func(*html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.TextNode {
			b.WriteString(n.Data)
		}
		wordBreak := n.Type == html.ElementNode && n.Data == "wbr" // a place to break a line, not a space
		if n.Type == html.ElementNode && !wordBreak {
			b.WriteString(" ")
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
		if n.Type == html.ElementNode && !wordBreak {
			b.WriteString(" ")
		}
	}
	walk(n)
	return strings.Join(strings.Fields(b.String()), " ")
}

// The terminal report fits the terminal: at 100 and 132 columns no line is wider, at 80 no line but the tables'
// (whose figures alone need about 90); a 459-character reason
// wraps under its candidate, long license names wrap in their column, a part number breaks at an underscore), and
// the wrapped text reads back whole.
func TestTextFitsTheWidth(t *testing.T) {
	reason := strings.TrimSpace(strings.Repeat("no sign-in to Dynamics 365 Customer Service and no Dataverse activity for 286 days; ", 6)) +
		" inherited from group 4f3c2a10-0000-4000-8000-00000000abcd: remove the user from that group"
	if len(reason) < 450 {
		t.Fatalf("the reason is %d characters, want one as long as the longest seen (459)", len(reason))
	}
	rep := &Tenant{TenantID: "t1", AsOf: "2026-12-01", Currency: "USD", Licenses: 3,
		ByStatus: map[string]int64{"active": 1, "low_usage": 1, "never_used": 1, "disabled_user_licensed": 1, "grace_period": 1, "review_only": 1, "excluded": 1},
		Position: []Position{{Kind: "sku", SKU: "DYN365_ENTERPRISE_CUSTOMER_SERVICE", Display: "Dynamics 365 for Customer Service Enterprise Edition",
			Status: "Enabled", Purchased: 150, Assigned: 129, Active: 88, Available: 21, YearlySaving: 1234567},
			{Kind: "sku", SKU: "Dynamics_365_for_Operations", Display: "Dynamics 365 UNF OPS Plan ENT Edition", Status: "Warning", Warning: 171, Assigned: 168, Available: 3}},
		Products: []Product{{Product: "Dynamics 365 Customer Service", Assigned: 129}},
		FinOps:   []Position{{Kind: "finops_license", Product: "F&O Team Members", Required: 106, Assigned: 127, HeldWithoutAccount: 249}},
		Reclaims: []Candidate{{UPN: "pradeep.kowalski3@contoso8093.onmicrosoft.com", SKU: "DYN365_ENTERPRISE_CUSTOMER_SERVICE",
			Display: "Dynamics 365 for Customer Service Enterprise Edition", Status: "low_usage", Reason: reason, Currency: "USD",
			Action: "remove from group 4f3c2a10-0000-4000-8000-00000000abcd", DaysInactive: sql.NullInt64{Int64: 286, Valid: true}}},
		ReclaimCount: 1,
		Findings: []Finding{{Code: "dataverse_not_in_entra", Severity: "medium", Environment: "https://contoso-sales.crm4.dynamics.com",
			Detail: strings.Repeat("someone.who.left@contoso8093.onmicrosoft.com, ", 8), Action: "disable or remove these Dataverse users"}},
	}
	for _, width := range []int{80, 100, 132} {
		var out bytes.Buffer
		rep.WriteText(&out, 10, width)
		var reasonLines []string
		lines := strings.Split(out.String(), "\n")
		for i, l := range lines {
			// At 80 columns the tables' figures and headers alone are wider than the line; the rest fits.
			table := !strings.HasPrefix(l, " ") && strings.Contains(l, "  ")
			if w := runewidth.StringWidth(l); w > width && !(width < DefaultWidth && table) {
				t.Errorf("width %d: line %d is %d wide: %q", width, i+1, w, l)
			}
			if strings.HasPrefix(strings.TrimSpace(l), "no sign-in to Dynamics") || (len(reasonLines) > 0 && len(reasonLines) < 20 && strings.HasPrefix(l, "      ") &&
				!strings.HasPrefix(strings.TrimSpace(l), "Downgrade")) {
				reasonLines = append(reasonLines, strings.TrimSpace(l))
			}
		}
		if got := strings.Join(reasonLines, " "); !strings.HasPrefix(got, reason) {
			t.Errorf("width %d: the reason reads back as\n%q\nwant\n%q", width, got, reason)
		}
		if !strings.Contains(out.String(), "DYN365_ENTERPRISE_") {
			t.Errorf("width %d: the part number is not shown or broken elsewhere than at an underscore:\n%s", width, out.String())
		}
	}
	// Nothing to wrap: the lines are the same at any width.
	if got := wrap("a  b", 10, 10); len(got) != 1 || got[0] != "a  b" {
		t.Errorf("wrap kept %q", got)
	}
}
