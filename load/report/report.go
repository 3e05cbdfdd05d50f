// Package report turns the committed marts into what a person reads: the compliance position per SKU and
// product, the top reclaim and downgrade candidates with their saving, and the findings, on a terminal, as a CSV
// reclaim plan for a change ticket, or as one self-contained HTML page with charts (inline SVG, no network).
package report

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"github.com/seatlake/seatlake/load/catalog"
)

// Queryer runs a query; *sql.DB implements it.
type Queryer interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

// Tenant is one tenant's report.
type Tenant struct {
	TenantID string
	// TenantName is the tenant's name in the config file (license_usage.tenant_name; the caller may set the config
	// file's current one): the report shows tenants by it, with the id beside.
	TenantName string
	AsOf       string
	Currency   string
	Licenses   int64
	ByStatus   map[string]int64
	Position   []Position
	FinOps     []Position
	Products   []Product
	Reclaims   []Candidate
	Downgrades []Candidate
	// UnderLicensed are the F&O license rows whose user's roles require a higher tier (license_usage.under_licensed).
	UnderLicensed []Candidate
	Findings      []Finding
	Inactivity    []Bucket
	Trend         []TrendPoint
	// Totals over every candidate, not only the top ones shown.
	ReclaimCount, DowngradeCount, UnderLicensedCount int64
	YearlySaving, IdleMonthly                        float64
	ReclaimSaving, DowngradeSaving, TrueUpMonthly    float64
	// FinOpsUnderLicensed is license_position's count of F&O users holding less than their roles require, those
	// without any F&O license included (they have no license_usage row to flag).
	FinOpsUnderLicensed int64
}

// Name is how the report names the tenant: its name, else its id.
func (t *Tenant) Name() string {
	if t.TenantName != "" {
		return t.TenantName
	}
	return t.TenantID
}

// Label is the tenant as the report's headings show it: "name (id)", or the id alone without a name.
func (t *Tenant) Label() string {
	if t.Name() == t.TenantID {
		return t.TenantID
	}
	return t.Name() + " (" + t.TenantID + ")"
}

// Position is one license_position row. Purchased is prepaidUnits.enabled; Warning (in grace) and Suspended are
// shown beside it, never added to it: Available = Purchased + Warning - Assigned, as the mart computes it.
type Position struct {
	Kind, SKU, Display, Product, Status                                  string
	Purchased, Warning, Suspended, Assigned, Active, Inactive, Undecided int64
	Available, Shortfall, Reclaimable, Downgradable                      int64
	Required, UnderLicensed, HeldWithoutAccount                          int64
	MonthlyPrice, IdleMonthly, YearlySaving, TrueUpMonthly               float64
	HasPrice                                                             bool
}

// Label is the SKU as people know it: Microsoft's product name with the part number beside it.
func (p Position) Label() string { return label(p.Display, p.SKU) }

// Product sums the position by product.
type Product struct {
	Product                   string
	Assigned, Active          int64
	Reclaimable, Downgradable int64
	IdleMonthly, YearlySaving float64
}

// Candidate is a license to reclaim, downgrade or (under-licensed) upgrade.
type Candidate struct {
	TenantID, UserID, UPN, SKU, Display, Product, Status, Reason string
	Evidence, LastActivity, Action, DowngradeTo, RequiredLicense string
	SkuID, AssignedByGroup, SnapshotDate                         string
	DaysInactive                                                 sql.NullInt64
	YearlySaving, TrueUpMonthly                                  float64
	Currency                                                     string
}

// Label is the license as people know it: the product name with the part number beside it.
func (c Candidate) Label() string { return label(c.Display, c.SKU) }

// label is "name (PART)", or the part number alone when there is no other name.
func label(display, part string) string {
	switch {
	case display == "" || display == part:
		return part
	case part == "":
		return display
	}
	return display + " (" + part + ")"
}

// Finding is one findings row.
type Finding struct {
	Code, Severity, Environment, Detail, Action string
	Count                                       int64
}

// Bucket is a bar of the inactivity distribution.
type Bucket struct {
	Label string
	Count int64
}

// TrendPoint is one marts snapshot's license counts.
type TrendPoint struct {
	Date                      string
	Active, Inactive, Unknown int64
}

// Load reads one tenant's report from the marts views; top is how many candidates of each kind to keep.
func Load(ctx context.Context, db Queryer, tenantID string, top int) (*Tenant, error) {
	t := &Tenant{TenantID: tenantID, ByStatus: map[string]int64{}}
	args := []any{tenantID}
	steps := []struct {
		q    string
		scan func(*sql.Rows) error
	}{
		{`SELECT CAST(max(snapshot_date) AS VARCHAR), coalesce(max(currency), '') FROM license_usage WHERE tenant_id = $1`, func(r *sql.Rows) error {
			var d sql.NullString
			if err := r.Scan(&d, &t.Currency); err != nil {
				return err
			}
			t.AsOf = d.String
			return nil
		}},
		{`SELECT status, count(*) FROM license_usage WHERE tenant_id = $1 GROUP BY 1`, func(r *sql.Rows) error {
			var s string
			var n int64
			if err := r.Scan(&s, &n); err != nil {
				return err
			}
			t.ByStatus[s] = n
			t.Licenses += n
			return nil
		}},
		{`SELECT kind, coalesce(sku_part_number, ''), coalesce(product_display_name, ''),
		         coalesce(product_name, sku_part_number, ''), coalesce(capability_status, ''),
		         coalesce(purchased, 0), coalesce(warning, 0), coalesce(suspended, 0), coalesce(assigned, 0), coalesce(active, 0), coalesce(inactive, 0),
		         coalesce(undecided, 0), coalesce(available, 0), coalesce(shortfall, 0), coalesce(reclaimable, 0), coalesce(downgradable, 0),
		         coalesce(required, 0), coalesce(under_licensed, 0), coalesce(held_without_finops_account, 0),
		         monthly_price IS NOT NULL, coalesce(monthly_price, 0), coalesce(idle_monthly_cost, 0), coalesce(yearly_saving, 0),
		         coalesce(true_up_monthly_cost, 0)
		  FROM license_position WHERE tenant_id = $1
		  ORDER BY kind DESC, CASE WHEN kind = 'sku' THEN -coalesce(yearly_saving, 0) END, CASE WHEN kind = 'sku' THEN sku_part_number END,
		           coalesce(monthly_price, 0), product_name`, func(r *sql.Rows) error {
			var p Position
			if err := r.Scan(&p.Kind, &p.SKU, &p.Display, &p.Product, &p.Status, &p.Purchased, &p.Warning, &p.Suspended, &p.Assigned, &p.Active,
				&p.Inactive, &p.Undecided, &p.Available, &p.Shortfall, &p.Reclaimable, &p.Downgradable, &p.Required, &p.UnderLicensed,
				&p.HeldWithoutAccount, &p.HasPrice, &p.MonthlyPrice, &p.IdleMonthly, &p.YearlySaving, &p.TrueUpMonthly); err != nil {
				return err
			}
			if p.Kind == "finops_license" {
				t.FinOpsUnderLicensed += p.UnderLicensed
			}
			if p.Kind == "sku" {
				t.Position = append(t.Position, p)
			} else {
				t.FinOps = append(t.FinOps, p)
			}
			return nil
		}},
		{`SELECT coalesce(product_name, 'unmapped SKUs'), sum(assigned), sum(active), sum(reclaimable), sum(downgradable),
		         coalesce(sum(idle_monthly_cost), 0), coalesce(sum(yearly_saving), 0)
		  FROM license_position WHERE tenant_id = $1 AND kind = 'sku' GROUP BY 1 ORDER BY 7 DESC, 1`, func(r *sql.Rows) error {
			var p Product
			if err := r.Scan(&p.Product, &p.Assigned, &p.Active, &p.Reclaimable, &p.Downgradable, &p.IdleMonthly, &p.YearlySaving); err != nil {
				return err
			}
			t.Products = append(t.Products, p)
			return nil
		}},
		{`SELECT count(*) FILTER (WHERE reclaim_candidate), count(*) FILTER (WHERE downgrade_to IS NOT NULL),
		         coalesce(sum(yearly_saving), 0), coalesce(sum(monthly_cost) FILTER (WHERE reclaim_candidate), 0),
		         coalesce(sum(yearly_saving) FILTER (WHERE reclaim_candidate), 0), coalesce(sum(yearly_saving) FILTER (WHERE downgrade_to IS NOT NULL), 0),
		         count(*) FILTER (WHERE coalesce(under_licensed, false)),
		         coalesce(sum(coalesce(true_up_monthly_cost, 0)), 0)
		  FROM license_usage WHERE tenant_id = $1`, func(r *sql.Rows) error {
			return r.Scan(&t.ReclaimCount, &t.DowngradeCount, &t.YearlySaving, &t.IdleMonthly, &t.ReclaimSaving, &t.DowngradeSaving,
				&t.UnderLicensedCount, &t.TrueUpMonthly)
		}},
		{`SELECT code, severity, coalesce(environment_url, ''), count, detail, action FROM findings WHERE tenant_id = $1
		  ORDER BY CASE severity WHEN 'high' THEN 0 WHEN 'medium' THEN 1 ELSE 2 END, code, environment_url`, func(r *sql.Rows) error {
			var f Finding
			if err := r.Scan(&f.Code, &f.Severity, &f.Environment, &f.Count, &f.Detail, &f.Action); err != nil {
				return err
			}
			t.Findings = append(t.Findings, f)
			return nil
		}},
		{`SELECT bucket, count(*) FROM (
		    SELECT CASE WHEN status = 'never_used' THEN 5 WHEN status = 'disabled_user_licensed' THEN 6
		                WHEN days_inactive <= 90 THEN 1 WHEN days_inactive <= 180 THEN 2 WHEN days_inactive <= 365 THEN 3 ELSE 4 END AS bucket
		    FROM license_usage WHERE tenant_id = $1 AND status IN ('low_usage', 'never_used', 'disabled_user_licensed'))
		  GROUP BY 1 ORDER BY 1`, func(r *sql.Rows) error {
			var b int
			var n int64
			if err := r.Scan(&b, &n); err != nil {
				return err
			}
			labels := []string{"", "≤90 d", "91-180 d", "181-365 d", ">1 year", "never", "disabled"}
			t.Inactivity = append(t.Inactivity, Bucket{labels[b], n})
			return nil
		}},
		{`SELECT CAST(snapshot_date AS VARCHAR), count(*) FILTER (WHERE status = 'active'),
		         count(*) FILTER (WHERE status IN ('low_usage', 'never_used', 'disabled_user_licensed')),
		         count(*) FILTER (WHERE status IN ('grace_period', 'review_only', 'excluded'))
		  FROM license_usage_history WHERE tenant_id = $1 GROUP BY 1 ORDER BY 1`, func(r *sql.Rows) error {
			var p TrendPoint
			if err := r.Scan(&p.Date, &p.Active, &p.Inactive, &p.Unknown); err != nil {
				return err
			}
			t.Trend = append(t.Trend, p)
			return nil
		}},
	}
	for _, s := range steps {
		if err := each(ctx, db, s.q, args, s.scan); err != nil {
			return nil, err
		}
	}
	var err error
	// The name, from marts computed since license_usage has it; a catalog built before has no such column.
	if rows, err := db.QueryContext(ctx, `SELECT coalesce(any_value(tenant_name), '') FROM license_usage WHERE tenant_id = $1`, tenantID); err == nil {
		if rows.Next() {
			rows.Scan(&t.TenantName)
		}
		rows.Close()
	}
	if t.Reclaims, err = candidates(ctx, db, tenantID, "reclaim_candidate", top); err != nil {
		return nil, err
	}
	if t.Downgrades, err = candidates(ctx, db, tenantID, "downgrade_to IS NOT NULL", top); err != nil {
		return nil, err
	}
	if t.UnderLicensed, err = candidates(ctx, db, tenantID, "coalesce(under_licensed, false) ORDER BY reclaim_candidate, coalesce(true_up_monthly_cost, 0) DESC, user_principal_name", top); err != nil {
		return nil, err
	}
	return t, nil
}

// candidates are the rows matching where, the largest saving first unless where ends in its own ORDER BY (top 0:
// all of them).
func candidates(ctx context.Context, db Queryer, tenantID, where string, top int) ([]Candidate, error) {
	q := `SELECT tenant_id, user_id, coalesce(user_principal_name, ''), coalesce(sku_part_number, sku_id), coalesce(product_display_name, ''),
	             coalesce(product_name, ''), status, coalesce(reason, ''), coalesce(evidence_detail, ''), coalesce(strftime(last_activity, '%Y-%m-%d'), ''),
	             coalesce(action, ''), coalesce(downgrade_to, ''), coalesce(required_license, ''), days_inactive, coalesce(yearly_saving, 0),
	             coalesce(true_up_monthly_cost, 0), coalesce(currency, ''),
	             sku_id, coalesce(assigned_by_group, ''), strftime(snapshot_date, '%Y-%m-%d')
	      FROM license_usage WHERE tenant_id = $1 AND ` + where
	if !strings.Contains(where, "ORDER BY") {
		q += ` ORDER BY coalesce(yearly_saving, 0) DESC, days_inactive DESC NULLS LAST, user_principal_name, sku_part_number`
	}
	if top > 0 {
		q += fmt.Sprintf(" LIMIT %d", top)
	}
	var out []Candidate
	err := each(ctx, db, q, []any{tenantID}, func(r *sql.Rows) error {
		var c Candidate
		if err := r.Scan(&c.TenantID, &c.UserID, &c.UPN, &c.SKU, &c.Display, &c.Product, &c.Status, &c.Reason, &c.Evidence, &c.LastActivity,
			&c.Action, &c.DowngradeTo, &c.RequiredLicense, &c.DaysInactive, &c.YearlySaving, &c.TrueUpMonthly, &c.Currency, &c.SkuID,
			&c.AssignedByGroup, &c.SnapshotDate); err != nil {
			return err
		}
		out = append(out, c)
		return nil
	})
	return out, err
}

// each reads the rows of a query over the marts.
func each(ctx context.Context, db Queryer, q string, args []any, scan func(*sql.Rows) error) error {
	return catalog.EachRow(ctx, db, q, args, scan)
}

// money formats an amount with its currency ("" when there is no price list).
func money(v float64, currency string) string {
	if currency == "" {
		return "-"
	}
	return fmt.Sprintf("%s %s", currency, thousands(v))
}

func thousands(v float64) string {
	s := fmt.Sprintf("%.0f", v)
	neg := len(s) > 0 && s[0] == '-'
	if neg {
		s = s[1:]
	}
	var out []byte
	for i, c := range []byte(s) {
		if i > 0 && (len(s)-i)%3 == 0 {
			out = append(out, ',')
		}
		out = append(out, c)
	}
	if neg {
		return "-" + string(out)
	}
	return string(out)
}

// generated is when the report was written, for its footer (the caller's clock).
func generated(now time.Time) string { return now.UTC().Format("2006-01-02 15:04 UTC") }
