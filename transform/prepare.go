package transform

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/seatlake/seatlake/transform/rules"
)

// Inputs are what the marts need beside the warehouse: the rules, the day they are computed as of, what the
// run could not fetch (reported as a finding), and the tenant's name as people know it (license_usage.tenant_name).
type Inputs struct {
	Rules      *rules.Rules
	AsOf       time.Time // only its UTC date counts
	Missing    []string
	TenantName string
}

// Prepare loads the rules and the run's parameters into db as small temporary tables (rule_*, run_params,
// run_missing) that the mart queries join, and the exclusion pattern as the macro rule_upn_matches: the rules stay
// data, readable with SQL, and nothing in a query is a constant that the config file can change. It also pins the
// session's time zone to UTC, so dates are UTC dates.
func Prepare(ctx context.Context, db Queryer, in Inputs) error {
	r := in.Rules
	if r == nil {
		r = rules.Default()
	}
	if err := r.Validate(); err != nil {
		return fmt.Errorf("rules: %w", err)
	}
	if in.AsOf.IsZero() {
		return fmt.Errorf("marts: no as-of date")
	}
	if err := execAll(ctx, db, tempTables...); err != nil {
		return err
	}
	if err := insertRows(ctx, db, preparedRows(r, in)); err != nil {
		return err
	}
	return execAll(ctx, db, productKinds, upnMacro(r.Exclude.UPNRegex))
}

// upnMacro defines rule_upn_matches(upn): whether upn matches the exclusion pattern (run_params.upn_regex). The
// pattern is a literal in the macro, not a column the query reads: DuckDB compiles a constant pattern once, and a
// pattern read from a table once per row (3.5 s for 150,000 license rows on one core, against 25 ms).
func upnMacro(pattern string) string {
	return "CREATE OR REPLACE TEMP MACRO rule_upn_matches(upn) AS regexp_matches(upn, '" + strings.ReplaceAll(pattern, "'", "''") + "')"
}

// tempTables pin the session's time zone and create the tables Prepare fills.
var tempTables = []string{
	"SET TimeZone = 'UTC'",
	`CREATE OR REPLACE TEMP TABLE run_params (as_of DATE, threshold_days INTEGER, upn_regex VARCHAR, exclude_non_interactive BOOLEAN, tenant_name VARCHAR)`,
	`CREATE OR REPLACE TEMP TABLE run_missing (part VARCHAR)`,
	`CREATE OR REPLACE TEMP TABLE rule_products (product_id VARCHAR, product_name VARCHAR, threshold_days INTEGER,
		downgrade_to VARCHAR, downgrade_sku VARCHAR, finops_rank INTEGER, evidence_phrase VARCHAR)`,
	`CREATE OR REPLACE TEMP TABLE rule_product_evidence (product_id VARCHAR, evidence VARCHAR)`,
	`CREATE OR REPLACE TEMP TABLE rule_product_resources (product_id VARCHAR, resource_id VARCHAR)`,
	`CREATE OR REPLACE TEMP TABLE rule_skus (sku_part_number VARCHAR, product_id VARCHAR)`,
	`CREATE OR REPLACE TEMP TABLE rule_evidence (evidence VARCHAR, lag VARCHAR)`,
	`CREATE OR REPLACE TEMP TABLE rule_tiers (tier VARCHAR, rank INTEGER, sku VARCHAR)`,
	`CREATE OR REPLACE TEMP TABLE rule_prices (sku_part_number VARCHAR, monthly_price DOUBLE, currency VARCHAR)`,
	`CREATE OR REPLACE TEMP TABLE rule_exclusions (kind VARCHAR, value VARCHAR)`,
	`CREATE OR REPLACE TEMP TABLE rule_sku_names (sku_part_number VARCHAR, sku_id VARCHAR, display_name VARCHAR)`,
}

// productKinds is one row per product with a flag per evidence kind and its threshold: what the mart queries
// test. It reads the rows Prepare loaded.
const productKinds = `CREATE OR REPLACE TEMP TABLE rule_product_kinds AS
		SELECT p.product_id, coalesce(p.threshold_days, (SELECT threshold_days FROM run_params)) AS threshold_days,
		       coalesce(bool_or(e.evidence = 'signin_log'), false) AS signin_log,
		       coalesce(bool_or(e.evidence = 'dataverse'), false) AS dataverse,
		       coalesce(bool_or(e.evidence = 'sign_in_activity'), false) AS sign_in_activity,
		       coalesce(bool_or(e.evidence = 'usage_report'), false) AS usage_report
		FROM rule_products p LEFT JOIN rule_product_evidence e ON e.product_id = p.product_id
		GROUP BY p.product_id, p.threshold_days`

// execAll runs stmts in order.
func execAll(ctx context.Context, db Queryer, stmts ...string) error {
	for _, s := range stmts {
		if _, err := db.ExecContext(ctx, s); err != nil {
			return fmt.Errorf("loading the rules: %w", err)
		}
	}
	return nil
}

// row is one row of a run or rule table, its values in the table's column order.
type row struct {
	table  string
	values []any
}

func newRow(table string, values ...any) row { return row{table: table, values: values} }

// insertRows inserts rows in order.
func insertRows(ctx context.Context, db Queryer, rows []row) error {
	for _, rw := range rows {
		q := "INSERT INTO " + rw.table + " VALUES (" + strings.TrimSuffix(strings.Repeat("?, ", len(rw.values)), ", ") + ")"
		if _, err := db.ExecContext(ctx, q, rw.values...); err != nil {
			return fmt.Errorf("loading the rules into %s: %w", rw.table, err)
		}
	}
	return nil
}

// preparedRows are the rows of the run and rule tables: the run's parameters and missing parts, then the rules.
func preparedRows(r *rules.Rules, in Inputs) []row {
	asOf := in.AsOf.UTC().Format(time.DateOnly)
	rows := []row{newRow("run_params", asOf, r.ThresholdDays, r.Exclude.UPNRegex, r.Exclude.DataverseNonInteractive, nullable(in.TenantName))}
	for _, m := range in.Missing {
		rows = append(rows, newRow("run_missing", m))
	}
	for _, t := range r.FinOpsTiers {
		rows = append(rows, newRow("rule_tiers", t.Tier, t.Rank, nullable(t.SKU)))
	}
	rows = append(rows, productRows(r)...)
	for k, e := range r.Evidence {
		rows = append(rows, newRow("rule_evidence", k, e.Lag))
	}
	for _, p := range r.Prices {
		rows = append(rows, newRow("rule_prices", p.SKU, p.Monthly, p.Currency))
	}
	for _, u := range r.Exclude.Users {
		rows = append(rows, newRow("rule_exclusions", "user", strings.ToLower(u)))
	}
	for _, g := range r.Exclude.Groups {
		rows = append(rows, newRow("rule_exclusions", "group", strings.ToLower(g)))
	}
	return append(rows, skuNameRows(r)...)
}

// productRows are each product's row (its threshold null when it has none of its own, its F&O license as the
// tier's rank) followed by its evidence kinds, resources and SKUs.
func productRows(r *rules.Rules) []row {
	tierRank := map[string]int{}
	for _, t := range r.FinOpsTiers {
		tierRank[t.Tier] = t.Rank
	}
	var rows []row
	for _, p := range r.Products {
		var threshold, rank any
		if p.ThresholdDays > 0 {
			threshold = p.ThresholdDays
		}
		if p.FinOpsLicense != "" {
			rank = tierRank[p.FinOpsLicense]
		}
		rows = append(rows, newRow("rule_products", p.ID, p.Name, threshold, nullable(p.DowngradeTo), nullable(p.DowngradeSKU), rank, evidencePhrase(p)))
		for _, e := range p.Evidence {
			rows = append(rows, newRow("rule_product_evidence", p.ID, e))
		}
		for _, res := range p.Resources {
			rows = append(rows, newRow("rule_product_resources", p.ID, strings.ToLower(res)))
		}
		for _, s := range p.SKUs {
			rows = append(rows, newRow("rule_skus", s, p.ID))
		}
	}
	return rows
}

// skuNameRows are the SKUs' display names, one row per part number (Microsoft's list with the rules' sku-names
// over it, and the renamed SKUs Microsoft does not list), a GUID at most once: the marts look a SKU up by part
// number, then by skuId.
func skuNameRows(r *rules.Rules) []row {
	names := r.DisplayNames()
	seenID := map[string]bool{}
	var rows []row
	for _, n := range r.SKUNames {
		name, ok := names[n.PartNumber]
		if !ok {
			continue
		}
		delete(names, n.PartNumber)
		var id any
		if n.SkuID != "" && !seenID[n.SkuID] {
			seenID[n.SkuID], id = true, n.SkuID
		}
		rows = append(rows, newRow("rule_sku_names", n.PartNumber, id, name))
	}
	for _, part := range slices.Sorted(maps.Keys(names)) {
		rows = append(rows, newRow("rule_sku_names", part, nil, names[part]))
	}
	return rows
}

func nullable(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// evidencePhrase says what absence of the product's evidence means, for the reason column: "sign-in to Dynamics
// 365 Sales and no Dataverse activity".
func evidencePhrase(p rules.Product) string {
	var parts []string
	for _, e := range p.Evidence {
		switch e {
		case rules.SignInLog:
			parts = append(parts, "sign-in to "+p.Name)
		case rules.Dataverse:
			parts = append(parts, "Dataverse activity")
		case rules.SignInActivity:
			parts = append(parts, "successful sign-in")
		case rules.UsageReport:
			parts = append(parts, "Microsoft 365 usage")
		}
	}
	return strings.Join(parts, " and no ")
}
