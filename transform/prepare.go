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
// run_missing) that the mart queries join: the rules stay data, readable with SQL, and nothing in a query is a
// constant that the config file can change. It also pins the session's time zone to UTC, so dates are UTC dates.
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
	stmts := []string{
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
	for _, s := range stmts {
		if _, err := db.ExecContext(ctx, s); err != nil {
			return fmt.Errorf("loading the rules: %w", err)
		}
	}
	ins := func(table string, args ...any) error {
		q := "INSERT INTO " + table + " VALUES (" + strings.TrimSuffix(strings.Repeat("?, ", len(args)), ", ") + ")"
		if _, err := db.ExecContext(ctx, q, args...); err != nil {
			return fmt.Errorf("loading the rules into %s: %w", table, err)
		}
		return nil
	}
	asOf := in.AsOf.UTC().Format(time.DateOnly)
	if err := ins("run_params", asOf, r.ThresholdDays, r.Exclude.UPNRegex, r.Exclude.DataverseNonInteractive, nullable(in.TenantName)); err != nil {
		return err
	}
	for _, m := range in.Missing {
		if err := ins("run_missing", m); err != nil {
			return err
		}
	}
	tierRank := map[string]int{}
	for _, t := range r.FinOpsTiers {
		tierRank[t.Tier] = t.Rank
		if err := ins("rule_tiers", t.Tier, t.Rank, nullable(t.SKU)); err != nil {
			return err
		}
	}
	for _, p := range r.Products {
		var threshold, rank any
		if p.ThresholdDays > 0 {
			threshold = p.ThresholdDays
		}
		if p.FinOpsLicense != "" {
			rank = tierRank[p.FinOpsLicense]
		}
		if err := ins("rule_products", p.ID, p.Name, threshold, nullable(p.DowngradeTo), nullable(p.DowngradeSKU), rank, evidencePhrase(p)); err != nil {
			return err
		}
		for _, e := range p.Evidence {
			if err := ins("rule_product_evidence", p.ID, e); err != nil {
				return err
			}
		}
		for _, res := range p.Resources {
			if err := ins("rule_product_resources", p.ID, strings.ToLower(res)); err != nil {
				return err
			}
		}
		for _, s := range p.SKUs {
			if err := ins("rule_skus", s, p.ID); err != nil {
				return err
			}
		}
	}
	for k, e := range r.Evidence {
		if err := ins("rule_evidence", k, e.Lag); err != nil {
			return err
		}
	}
	for _, p := range r.Prices {
		if err := ins("rule_prices", p.SKU, p.Monthly, p.Currency); err != nil {
			return err
		}
	}
	for _, u := range r.Exclude.Users {
		if err := ins("rule_exclusions", "user", strings.ToLower(u)); err != nil {
			return err
		}
	}
	for _, g := range r.Exclude.Groups {
		if err := ins("rule_exclusions", "group", strings.ToLower(g)); err != nil {
			return err
		}
	}
	if err := loadSKUNames(r, ins); err != nil {
		return err
	}
	// One row per product with a flag per evidence kind and its threshold: what the mart queries test.
	_, err := db.ExecContext(ctx, `CREATE OR REPLACE TEMP TABLE rule_product_kinds AS
		SELECT p.product_id, coalesce(p.threshold_days, (SELECT threshold_days FROM run_params)) AS threshold_days,
		       coalesce(bool_or(e.evidence = 'signin_log'), false) AS signin_log,
		       coalesce(bool_or(e.evidence = 'dataverse'), false) AS dataverse,
		       coalesce(bool_or(e.evidence = 'sign_in_activity'), false) AS sign_in_activity,
		       coalesce(bool_or(e.evidence = 'usage_report'), false) AS usage_report
		FROM rule_products p LEFT JOIN rule_product_evidence e ON e.product_id = p.product_id
		GROUP BY p.product_id, p.threshold_days`)
	if err != nil {
		return fmt.Errorf("loading the rules: %w", err)
	}
	return nil
}

// loadSKUNames loads the SKUs' display names, one row per part number (Microsoft's list with the rules' sku-names
// over it, and the renamed SKUs Microsoft does not list), a GUID at most once: the marts look a SKU up by part
// number, then by skuId.
func loadSKUNames(r *rules.Rules, ins func(string, ...any) error) error {
	names := r.DisplayNames()
	seenID := map[string]bool{}
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
		if err := ins("rule_sku_names", n.PartNumber, id, name); err != nil {
			return err
		}
	}
	for _, part := range slices.Sorted(maps.Keys(names)) {
		if err := ins("rule_sku_names", part, nil, names[part]); err != nil {
			return err
		}
	}
	return nil
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
