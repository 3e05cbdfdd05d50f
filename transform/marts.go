package transform

import (
	"cmp"
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/seatlake/seatlake/internal/table"
	seatsql "github.com/seatlake/seatlake/sql"
)

var (
	str = arrow.BinaryTypes.String
	f64 = arrow.PrimitiveTypes.Float64
	i32 = arrow.PrimitiveTypes.Int32
	i64 = arrow.PrimitiveTypes.Int64
	bl  = arrow.FixedWidthTypes.Boolean
	ts  = table.Timestamp
)

// Identities is the identities mart: one row per Entra user and per Dynamics 365 account.
var Identities = table.New("identities", table.Snapshot, "",
	"One row per Entra user and per Dynamics 365 account (Dataverse and F&O users of each environment), joined into persons: "+
		"the match method and confidence, or why an account matches no Entra user.",
	table.Column{Name: "person_id", Type: str, Key: true, Doc: "the Entra user id, or source:environment:account for an account that matches nobody"},
	table.Column{Name: "entra_user_id", Type: str, Nullable: true},
	table.Column{Name: "user_principal_name", Type: str, Nullable: true},
	table.Column{Name: "display_name", Type: str, Nullable: true},
	table.Column{Name: "source", Type: str, Key: true, Doc: "entra, dataverse or finops"},
	table.Column{Name: "environment_url", Type: str, Nullable: true, Key: true},
	table.Column{Name: "account_id", Type: str, Key: true, Doc: "Entra id, Dataverse systemuserid or F&O UserID"},
	table.Column{Name: "account_name", Type: str, Nullable: true, Doc: "UPN, domainname or Alias"},
	table.Column{Name: "match_method", Type: str, Nullable: true, Doc: "object_id, upn, alias or email; null for Entra rows and unmatched accounts"},
	table.Column{Name: "confidence", Type: f64, Nullable: true, Doc: "1.0 object id, 0.95/0.9 alias (exact/other case), 0.9 UPN, 0.7 e-mail"},
	table.Column{Name: "unmatched_reason", Type: str, Nullable: true, Doc: "application_user, built_in, not_in_entra, conflict or no_match"},
	table.Column{Name: "detail", Type: str, Nullable: true, Doc: "what a person needs to check the row"},
)

// UserActivity is the user_activity mart.
var UserActivity = table.New("user_activity", table.Snapshot, "",
	"Per Entra user and product the user holds: the last activity, the evidence that gave it and its known lag, and the newest date of each evidence kind.",
	table.Column{Name: "user_id", Type: str, Key: true},
	table.Column{Name: "user_principal_name", Type: str, Nullable: true},
	table.Column{Name: "product_id", Type: str, Key: true},
	table.Column{Name: "product_name", Type: str, Nullable: true},
	table.Column{Name: "last_activity", Type: ts, Nullable: true, Doc: "the newest evidence of the product's kinds; null when none"},
	table.Column{Name: "evidence", Type: str, Nullable: true, Doc: "signin_log, dataverse, sign_in_activity or usage_report"},
	table.Column{Name: "evidence_detail", Type: str, Nullable: true, Doc: "which app, environment or report"},
	table.Column{Name: "evidence_lag", Type: str, Nullable: true, Doc: "how late that evidence is known to arrive"},
	table.Column{Name: "last_sign_in_log", Type: ts, Nullable: true},
	table.Column{Name: "last_dataverse", Type: ts, Nullable: true},
	table.Column{Name: "last_dataverse_access", Type: ts, Nullable: true},
	table.Column{Name: "last_dataverse_change", Type: ts, Nullable: true},
	table.Column{Name: "last_sign_in_activity", Type: ts, Nullable: true},
	table.Column{Name: "last_usage_report", Type: ts, Nullable: true},
	table.Column{Name: "evidence_since", Type: ts, Nullable: true, Doc: "the oldest evidence held of the product's sign-in log and Dataverse kinds: how far back absence can be claimed"},
)

// LicenseUsage is the license_usage mart.
var LicenseUsage = table.New("license_usage", table.Snapshot, "",
	"One row per user and assigned SKU: product and Microsoft's product name, assignment, last activity and evidence, days inactive, status, reason, cost, "+
		"whether to reclaim or downgrade it, and whether the user's F&O roles need more (under_licensed, with the monthly true-up).",
	table.Column{Name: "tenant_name", Type: str, Nullable: true, Doc: "the tenant's name in the config file (its id when run without one)"},
	table.Column{Name: "user_id", Type: str, Key: true},
	table.Column{Name: "user_principal_name", Type: str, Nullable: true},
	table.Column{Name: "display_name", Type: str, Nullable: true},
	table.Column{Name: "sku_id", Type: str, Key: true},
	table.Column{Name: "sku_part_number", Type: str, Nullable: true},
	table.Column{Name: "product_display_name", Type: str, Nullable: true, Doc: displayNameDoc},
	table.Column{Name: "product_id", Type: str, Nullable: true},
	table.Column{Name: "product_name", Type: str, Nullable: true, Doc: "the rules' product the SKU belongs to"},
	table.Column{Name: "assigned_at", Type: ts, Nullable: true},
	table.Column{Name: "assigned_by_group", Type: str, Nullable: true, Doc: "the group the license is inherited from: reclaim by removing the user from it"},
	table.Column{Name: "last_activity", Type: ts, Nullable: true},
	table.Column{Name: "evidence", Type: str, Nullable: true},
	table.Column{Name: "evidence_detail", Type: str, Nullable: true},
	table.Column{Name: "evidence_lag", Type: str, Nullable: true},
	table.Column{Name: "days_inactive", Type: i32, Nullable: true, Doc: "days since the last activity (or since the evidence that bounds it)"},
	table.Column{Name: "threshold_days", Type: i32, Nullable: true},
	table.Column{Name: "status", Type: str, Doc: "active, low_usage, never_used, disabled_user_licensed, grace_period, excluded or review_only"},
	table.Column{Name: "reason", Type: str, Nullable: true, Doc: "one sentence a person can act on"},
	table.Column{Name: "downgrade_to", Type: str, Nullable: true, Doc: "a cheaper license the evidence says is enough"},
	table.Column{Name: "required_license", Type: str, Nullable: true, Doc: "for F&O licenses: the tier the user's roles require"},
	table.Column{Name: "under_licensed", Type: bl, Doc: "the user's F&O roles require a higher tier than the highest F&O license held (set on that license's row): a compliance gap"},
	table.Column{Name: "monthly_cost", Type: f64, Nullable: true},
	table.Column{Name: "currency", Type: str, Nullable: true},
	table.Column{Name: "yearly_saving", Type: f64, Nullable: true, Doc: "reclaim: 12 x the price; downgrade: 12 x the difference"},
	table.Column{Name: "true_up_monthly_cost", Type: f64, Nullable: true, Doc: "under_licensed: what the required tier costs a month more than this license"},
	table.Column{Name: "reclaim_candidate", Type: bl},
	table.Column{Name: "action", Type: str, Nullable: true, Doc: "remove license, remove from group <name> (<id>) (the id alone when graph_groups has no name), assign <tier> (under-licensed), or downgrade to <license>"},
)

// LicensePosition is the license_position mart.
var LicensePosition = table.New("license_position", table.Snapshot, "",
	"The compliance position: per SKU, seats purchased, in warning and suspended, assigned, active, inactive, available, short, reclaimable and their cost; "+
		"per F&O license tier, F&O users requiring it against F&O users holding it, holders without an F&O account apart, under-licensed users and the true-up.",
	table.Column{Name: "kind", Type: str, Key: true, Doc: "sku or finops_license"},
	table.Column{Name: "sku_id", Type: str, Nullable: true, Key: true},
	table.Column{Name: "sku_part_number", Type: str, Nullable: true},
	table.Column{Name: "product_display_name", Type: str, Nullable: true, Doc: displayNameDoc},
	table.Column{Name: "product_id", Type: str, Nullable: true},
	table.Column{Name: "product_name", Type: str, Nullable: true, Key: true},
	table.Column{Name: "capability_status", Type: str, Nullable: true},
	table.Column{Name: "purchased", Type: i32, Nullable: true, Doc: "prepaidUnits.enabled: seats of active subscriptions"},
	table.Column{Name: "warning", Type: i32, Nullable: true, Doc: "prepaidUnits.warning: seats of expired subscriptions in their grace period, still usable"},
	table.Column{Name: "suspended", Type: i32, Nullable: true, Doc: "prepaidUnits.suspended: seats no longer usable"},
	table.Column{Name: "assigned", Type: i32, Nullable: true, Doc: "consumedUnits; finops_license: F&O users (an enabled F&O account matched to an Entra user) whose highest F&O license is the tier"},
	table.Column{Name: "active", Type: i32, Nullable: true},
	table.Column{Name: "inactive", Type: i32, Nullable: true, Doc: "low_usage, never_used and disabled_user_licensed"},
	table.Column{Name: "undecided", Type: i32, Nullable: true, Doc: "grace_period, review_only and excluded"},
	table.Column{Name: "available", Type: i32, Nullable: true, Doc: "purchased + warning - assigned: seats usable now (negative when short)"},
	table.Column{Name: "shortfall", Type: i32, Nullable: true, Doc: "assigned beyond purchased and warning seats"},
	table.Column{Name: "reclaimable", Type: i32, Nullable: true},
	table.Column{Name: "downgradable", Type: i32, Nullable: true},
	table.Column{Name: "required", Type: i32, Nullable: true, Doc: "finops_license: users whose roles require this tier"},
	table.Column{Name: "under_licensed", Type: i32, Nullable: true, Doc: "finops_license: users requiring this tier who hold less"},
	table.Column{Name: "held_without_finops_account", Type: i32, Nullable: true, Doc: "finops_license: holders of the tier's license who have no F&O account (e.g. Team Members used for Dynamics 365 CE only): not in assigned"},
	table.Column{Name: "monthly_price", Type: f64, Nullable: true},
	table.Column{Name: "currency", Type: str, Nullable: true},
	table.Column{Name: "idle_monthly_cost", Type: f64, Nullable: true, Doc: "what the reclaimable seats cost a month"},
	table.Column{Name: "yearly_saving", Type: f64, Nullable: true, Doc: "reclaims and downgrades, a year"},
	table.Column{Name: "true_up_monthly_cost", Type: f64, Nullable: true, Doc: "finops_license: what giving the under-licensed users this tier costs a month more"},
)

// displayNameDoc says where product_display_name comes from.
const displayNameDoc = "Microsoft's product name for the SKU (Product names and service plan identifiers for licensing), or the rules' sku-names; the part number when neither knows it"

// Findings is the findings mart.
var Findings = table.New("findings", table.Snapshot, "",
	"Anonymization, data-quality and compliance findings: code, severity, environment, count, what was seen and what to do.",
	table.Column{Name: "code", Type: str, Key: true},
	table.Column{Name: "severity", Type: str, Doc: "high, medium or low"},
	table.Column{Name: "environment_url", Type: str, Nullable: true, Key: true},
	table.Column{Name: "count", Type: i64},
	table.Column{Name: "detail", Type: str},
	table.Column{Name: "action", Type: str, Doc: "what to do"},
)

// step is one query of the marts' computation: a mart (landed, and kept as mart_<name> for the steps after it) or
// a shared table (sql/marts/<shared>.sql, kept as <shared>, never landed).
type step struct {
	mart   *table.Table
	shared string
}

// steps are the marts' queries in order: each may read those before it.
var steps = []step{{mart: Identities}, {shared: "finops_required"}, {shared: "signin_summary"},
	{shared: "audit_summary"}, {mart: UserActivity}, {mart: LicenseUsage},
	{mart: LicensePosition}, {mart: Findings}}

// Marts lists the marts in the order they are computed.
func Marts() []*table.Table {
	var out []*table.Table
	for _, s := range steps {
		if s.mart != nil {
			out = append(out, s.mart)
		}
	}
	return out
}

// ComputeAll computes every mart in order for the run's tenant over db (on which Prepare loaded the rules),
// writing each to the sink open returns for it, and returns the rows per mart.
func ComputeAll(ctx context.Context, db Queryer, run Run, open func(*table.Table) (table.Sink, error)) (map[string]int64, error) {
	rows := map[string]int64{}
	for _, s := range steps {
		if s.shared != "" {
			if err := materialize(ctx, db, s.shared, s.shared, run.TenantID); err != nil {
				return rows, err
			}
			continue
		}
		sink, err := open(s.mart)
		if err != nil {
			return rows, fmt.Errorf("opening %s writer: %w", s.mart.Name, err)
		}
		n, err := Compute(ctx, db, s.mart, run, sink)
		if err != nil {
			return rows, err
		}
		rows[s.mart.Name] = n
	}
	return rows, nil
}

// materialize runs sql/marts/<name>.sql for tenant into the temporary table as.
func materialize(ctx context.Context, db Queryer, name, as, tenant string) error {
	q, err := seatsql.Marts.ReadFile("marts/" + name + ".sql")
	if err != nil {
		return fmt.Errorf("mart %s: %w", name, err)
	}
	if _, err := db.ExecContext(ctx, "CREATE OR REPLACE TEMP TABLE "+as+" AS "+string(q), tenant); err != nil {
		return fmt.Errorf("computing %s: %w", name, err)
	}
	return nil
}

// Queryer runs queries and statements on one connection (the marts share its temporary tables); *sql.Conn
// implements it.
type Queryer interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}

// Run identifies the computation: its rows carry the tenant, the run id and the time as their provenance.
type Run struct {
	TenantID  string
	RunID     string
	At        time.Time
	BatchRows int
	Alloc     memory.Allocator
}

// Compute runs mart's query (sql/marts/<name>.sql) for the run's tenant over db, keeps the result as the temporary
// table mart_<name> (the marts after it read it) and writes its rows to sink. Prepare must have loaded the rules on
// db first, and the steps before the mart must have run (ComputeAll runs them in order). The query's columns must be the mart's declared columns, in order; a mismatch is an error naming both.
func Compute(ctx context.Context, db Queryer, mart *table.Table, run Run, sink table.Sink) (int64, error) {
	tmp := "mart_" + mart.Name
	if err := materialize(ctx, db, mart.Name, tmp, run.TenantID); err != nil {
		return 0, err
	}
	end, err := rowCount(ctx, db, tmp)
	if err != nil {
		return 0, fmt.Errorf("computing %s: %w", mart.Name, err)
	}
	cells, err := newCells(mart)
	if err != nil {
		return 0, err
	}
	mem := run.Alloc
	if mem == nil {
		mem = memory.DefaultAllocator
	}
	bt := table.NewBatcher(mem, mart, run.BatchRows, sink)
	defer bt.Release()
	prov := table.NewProvenance(bt.Builder(), run.TenantID, run.RunID, run.At)
	// The rows are read a batch at a time, by row id (the temporary table's insertion order, which is the query's
	// order): DuckDB materializes a query's whole result before the first row is read, so one query of every row
	// held a second copy of the mart (license_usage: 150,840 wide rows) beside the temporary table.
	chunk := int64(cmp.Or(run.BatchRows, table.DefaultBatchRows))
	var n int64
	for from := int64(0); from == 0 || from < end; from += chunk {
		rows, err := db.QueryContext(ctx, "SELECT * FROM "+tmp+" WHERE rowid >= $1 AND rowid < $2", from, from+chunk)
		if err != nil {
			return n, fmt.Errorf("computing %s: %w", mart.Name, err)
		}
		if from == 0 {
			if err := checkColumns(rows, mart); err != nil {
				rows.Close()
				return 0, err
			}
		}
		read, err := appendRows(ctx, rows, mart.Name, cells, bt, prov)
		n += read
		if err != nil {
			return n, err
		}
	}
	return n, bt.Flush(ctx)
}

// rowCount returns one past the largest row id of the temporary table tmp (its rows, as nothing is deleted from it).
func rowCount(ctx context.Context, db Queryer, tmp string) (int64, error) {
	rows, err := db.QueryContext(ctx, "SELECT coalesce(max(rowid) + 1, 0) FROM "+tmp)
	if err != nil {
		return 0, err
	}
	defer rows.Close()
	var n int64
	if rows.Next() {
		if err := rows.Scan(&n); err != nil {
			return 0, err
		}
	}
	return n, rows.Err()
}

// martColumns are a mart's declared columns after the three provenance columns: what its query returns.
func martColumns(mart *table.Table) []table.Column { return mart.Columns[3:] }

// checkColumns checks that the query returns the mart's declared columns, in order.
func checkColumns(rows *sql.Rows, mart *table.Table) error {
	cols, err := rows.Columns()
	if err != nil {
		return fmt.Errorf("computing %s: %w", mart.Name, err)
	}
	declared := martColumns(mart)
	names := make([]string, len(declared))
	for i, c := range declared {
		names[i] = c.Name
	}
	if strings.Join(cols, ",") != strings.Join(names, ",") {
		return fmt.Errorf("computing %s: the query returns (%s), the mart declares (%s)", mart.Name, strings.Join(cols, ", "), strings.Join(names, ", "))
	}
	return nil
}

// appendRows appends every row of rows, scanned into cells (one per mart column), after the run's provenance, and
// closes rows; it returns the rows appended. Full batches go to the sink; the caller flushes the last one.
func appendRows(ctx context.Context, rows *sql.Rows, mart string, cells []scanCell, bt *table.Batcher, prov table.Provenance) (int64, error) {
	defer rows.Close()
	b := bt.Builder()
	dest := make([]any, len(cells))
	for i, c := range cells {
		dest[i] = c
	}
	var n int64
	for rows.Next() {
		if err := rows.Scan(dest...); err != nil {
			return n, fmt.Errorf("computing %s: %w", mart, err)
		}
		prov.Append()
		for i, c := range cells {
			c.appendTo(b.Field(i + 3))
		}
		n++
		if err := bt.RowDone(ctx); err != nil {
			return n, err
		}
	}
	if err := rows.Err(); err != nil {
		return n, fmt.Errorf("computing %s: %w", mart, err)
	}
	return n, rows.Close()
}
