package pipelines

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"

	"github.com/seatlake/seatlake/load/target"
)

// A sync reads each selector's query once, by DuckDB's COPY into a Parquet file of its own (a streaming sink: DuckDB
// holds a few vectors of rows, not the result; a query read through database/sql is materialized whole first, 150,000
// assignments taking about 150 MB), then reads that file a batch at a time, as often as the target reads the rows:
// neither DuckDB nor seatlake holds a tenant's rows. The rows come in the marts' own order (no sort, which would hold
// them all); Subscriptions, a few rows, are sorted by SKU id.

// SyncBatchRows is how many rows a sync decodes at a time (the exported files' row group): its batch, as
// --batch-rows is a run's.
const SyncBatchRows = 5000

// martRows are one tenant's rows in the latest committed marts, read as a stream (target.Rows). The first complete
// read of each selector also fingerprints its rows: what the sync remembers it sent, and the dry run's diff.
type martRows struct {
	tenant string
	files  map[string]string // selector -> its exported rows
	sizes  map[string]int
	prints sentPrints // per selector, once a read of it was complete
	mem    memory.Allocator
}

// The selectors' queries, on the tenant $1. A person's Dynamics 365 accounts are the identities mart's rows joined to
// them; days_inactive stays NULL when unknown (no activity and no other evidence): a nil, never a 0 ("active today").
var syncQueries = map[string]string{
	"persons": `SELECT g.id, coalesce(g.user_principal_name, ''), coalesce(g.display_name, ''), coalesce(g.department, ''), coalesce(g.account_enabled, false),
			coalesce(d.accounts, '')
		FROM graph_users g
		LEFT JOIN (SELECT entra_user_id, string_agg(source || ' ' || regexp_replace(coalesce(environment_url, ''), '^https?://', '') || ': ' ||
				coalesce(account_name, account_id), ', ' ORDER BY source, environment_url, account_id) AS accounts
			FROM identities WHERE tenant_id = $1 AND source <> 'entra' AND entra_user_id IS NOT NULL GROUP BY entra_user_id) d ON d.entra_user_id = g.id
		WHERE g.tenant_id = $1`,
	"subscriptions": `SELECT sku_id, coalesce(sku_part_number, ''), coalesce(product_display_name, sku_part_number, ''), coalesce(product_name, ''),
		coalesce(purchased, 0) + coalesce(warning, 0), coalesce(assigned, 0), coalesce(active, 0), coalesce(available, 0), coalesce(monthly_price, 0)
		FROM license_position WHERE tenant_id = $1 AND kind = 'sku' ORDER BY sku_id`,
	"assignments": `SELECT user_id, sku_id, coalesce(product_display_name, sku_part_number, sku_id), status,
		coalesce(strftime(last_activity, '%Y-%m-%dT%H:%M:%SZ'), ''), coalesce(evidence_detail, ''),
		days_inactive, coalesce(reason, ''), coalesce(monthly_cost, 0), reclaim_candidate,
		coalesce(under_licensed, false), coalesce(required_license, ''), coalesce(true_up_monthly_cost, 0), coalesce(action, '')
		FROM license_usage WHERE tenant_id = $1`,
}

// execer runs a statement over the views: a *sql.DB or *sql.Conn.
type execer interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}

// newMartRows exports the tenant's rows of each selector into dir (which the caller removes) and counts them.
func newMartRows(ctx context.Context, db execer, tenant, dir string) (*martRows, error) {
	m := &martRows{tenant: tenant, files: map[string]string{}, sizes: map[string]int{}, prints: sentPrints{}, mem: memory.DefaultAllocator}
	for _, t := range target.Types() {
		path := filepath.Join(dir, t.Selector+".parquet")
		// COPY takes no parameters: the tenant id (a checked name) is a literal.
		q := strings.ReplaceAll(syncQueries[t.Selector], "$1", "'"+strings.ReplaceAll(tenant, "'", "''")+"'")
		res, err := db.ExecContext(ctx, fmt.Sprintf("COPY (%s) TO '%s' (FORMAT parquet, COMPRESSION uncompressed, ROW_GROUP_SIZE %d)",
			q, strings.ReplaceAll(path, "'", "''"), SyncBatchRows))
		if err != nil {
			return nil, fmt.Errorf("reading the marts: %w", err)
		}
		n, err := res.RowsAffected()
		if err != nil {
			return nil, fmt.Errorf("reading the marts: %w", err)
		}
		m.files[t.Selector], m.sizes[t.Selector] = path, int(n)
	}
	return m, nil
}

func (m *martRows) Tenant() string { return m.tenant }

// Sizes are the rows per selector.
func (m *martRows) Sizes() map[string]int { return m.sizes }

// EachPerson reads the tenant's people (graph_users).
func (m *martRows) EachPerson(ctx context.Context, f func(target.Person) error) error {
	return read(ctx, m, "persons", func(c cols, i int) target.Person {
		return target.Person{ID: c.str(0, i), UPN: c.str(1, i), DisplayName: c.str(2, i), Department: c.str(3, i), Enabled: c.bool(4, i),
			DynamicsUsers: c.str(5, i)}
	}, func(p target.Person) (string, any) { return p.ID, p }, f)
}

// EachSubscription reads the tenant's subscribed SKUs (license_position), in SKU id order.
func (m *martRows) EachSubscription(ctx context.Context, f func(target.Subscription) error) error {
	return read(ctx, m, "subscriptions", func(c cols, i int) target.Subscription {
		return target.Subscription{SkuID: c.str(0, i), Part: c.str(1, i), ProductName: c.str(2, i), Product: c.str(3, i), Purchased: c.int(4, i),
			Assigned: c.int(5, i), Active: c.int(6, i), Available: c.int(7, i), MonthlyPrice: c.float(8, i)}
	}, func(s target.Subscription) (string, any) { return s.SkuID, s }, f)
}

// EachAssignment reads the tenant's license assignments (license_usage).
func (m *martRows) EachAssignment(ctx context.Context, f func(target.Assignment) error) error {
	return read(ctx, m, "assignments", func(c cols, i int) target.Assignment {
		a := target.Assignment{UserID: c.str(0, i), SkuID: c.str(1, i), ProductName: c.str(2, i), Status: c.str(3, i), LastActivity: c.str(4, i),
			Evidence: c.str(5, i), Reason: c.str(7, i), MonthlyCost: c.float(8, i), ReclaimCandidate: c.bool(9, i), UnderLicensed: c.bool(10, i),
			RequiredLicense: c.str(11, i), TrueUpMonthlyCost: c.float(12, i), Action: c.str(13, i)}
		if !c[6].IsNull(i) {
			days := c.int(6, i)
			a.DaysInactive = &days
		}
		return a
	}, func(a target.Assignment) (string, any) { return a.UserID + "|" + a.SkuID, a }, f)
}

// read reads one selector's exported rows a batch at a time, making each row with row and handing it to f; the first
// complete read also fingerprints them (identity and value as print gives them).
func read[T any](ctx context.Context, m *martRows, sel string, row func(cols, int) T, print func(T) (string, any), f func(T) error) error {
	var prints map[uint64]uint64
	if m.prints[sel] == nil {
		prints = make(map[uint64]uint64, m.sizes[sel])
	}
	n := 0
	err := eachBatch(ctx, m.mem, m.files[sel], func(rec arrow.RecordBatch) error {
		if n == 0 {
			if err := checkKinds(sel, rec.Schema()); err != nil {
				return err
			}
		}
		c := cols(rec.Columns())
		for i := range int(rec.NumRows()) {
			r := row(c, i)
			n++
			if prints != nil {
				id, v := print(r)
				prints[hash64(id)] = valueHash(v)
			}
			if err := f(r); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	if n != m.sizes[sel] {
		return fmt.Errorf("reading the marts: %d %s rows read back where %d were exported", n, sel, m.sizes[sel])
	}
	if prints != nil {
		m.prints[sel] = prints
	}
	return nil
}

// eachBatch reads a Parquet file a record batch at a time.
func eachBatch(ctx context.Context, mem memory.Allocator, path string, f func(arrow.RecordBatch) error) error {
	pf, err := file.OpenParquetFile(path, false, file.WithReadProps(parquet.NewReaderProperties(mem)))
	if err != nil {
		return fmt.Errorf("reading the marts: %w", err)
	}
	defer pf.Close()
	fr, err := pqarrow.NewFileReader(pf, pqarrow.ArrowReadProperties{BatchSize: SyncBatchRows}, mem)
	if err != nil {
		return fmt.Errorf("reading the marts: %w", err)
	}
	rr, err := fr.GetRecordReader(ctx, nil, nil)
	if err != nil {
		return fmt.Errorf("reading the marts: %w", err)
	}
	defer rr.Release()
	for rr.Next() {
		if err := f(rr.RecordBatch()); err != nil {
			return err
		}
	}
	if err := rr.Err(); err != nil && !errors.Is(err, context.Canceled) {
		return fmt.Errorf("reading the marts: %w", err)
	}
	return ctx.Err()
}

// cols are a batch's columns, read by the Go type a row field has. The strings are copied: the reader may reuse
// its buffers for the next batch, and a target may keep a value.
type cols []arrow.Array

func (c cols) str(j, i int) string {
	switch a := c[j].(type) {
	case *array.String:
		return strings.Clone(a.Value(i))
	case *array.LargeString:
		return strings.Clone(a.Value(i))
	}
	return ""
}

func (c cols) int(j, i int) int64 {
	switch a := c[j].(type) {
	case *array.Int64:
		return a.Value(i)
	case *array.Int32:
		return int64(a.Value(i))
	}
	return 0
}

func (c cols) float(j, i int) float64 {
	switch a := c[j].(type) {
	case *array.Float64:
		return a.Value(i)
	case *array.Float32:
		return float64(a.Value(i))
	case *array.Int64:
		return float64(a.Value(i))
	case *array.Int32:
		return float64(a.Value(i))
	}
	return 0
}

func (c cols) bool(j, i int) bool {
	if a, ok := c[j].(*array.Boolean); ok {
		return a.Value(i)
	}
	return false
}

// syncKinds are, per selector, the Go type of each column of its query, in order: s string, i whole number,
// f number, b boolean.
var syncKinds = map[string]string{"persons": "ssssbs", "subscriptions": "ssssiiiif", "assignments": "ssssssisfbbsfs"}

// checkKinds refuses a batch whose columns are not of the types the rows are read as: a value is never read as a
// zero because DuckDB typed a column otherwise.
func checkKinds(sel string, schema *arrow.Schema) error {
	kinds := syncKinds[sel]
	if schema.NumFields() != len(kinds) {
		return fmt.Errorf("reading the marts: %s has %d columns, want %d", sel, schema.NumFields(), len(kinds))
	}
	for j, f := range schema.Fields() {
		ok := false
		switch kinds[j] {
		case 's':
			ok = f.Type.ID() == arrow.STRING || f.Type.ID() == arrow.LARGE_STRING
		case 'i':
			ok = f.Type.ID() == arrow.INT64 || f.Type.ID() == arrow.INT32
		case 'f':
			ok = slices.Contains([]arrow.Type{arrow.FLOAT64, arrow.FLOAT32, arrow.INT64, arrow.INT32}, f.Type.ID())
		case 'b':
			ok = f.Type.ID() == arrow.BOOL
		}
		if !ok {
			return fmt.Errorf("reading the marts: column %d of %s is %s, which the sync does not read as %c", j+1, sel, f.Type, kinds[j])
		}
	}
	return nil
}

// fingerprints are the rows' sentPrints, reading the selectors no complete read fingerprinted yet.
func (m *martRows) fingerprints(ctx context.Context) (sentPrints, error) {
	for _, t := range target.Types() {
		if m.prints[t.Selector] != nil {
			continue
		}
		var err error
		switch t.Selector {
		case "persons":
			err = m.EachPerson(ctx, func(target.Person) error { return nil })
		case "subscriptions":
			err = m.EachSubscription(ctx, func(target.Subscription) error { return nil })
		case "assignments":
			err = m.EachAssignment(ctx, func(target.Assignment) error { return nil })
		default:
			err = fmt.Errorf("no rows of selector %s", t.Selector)
		}
		if err != nil {
			return nil, err
		}
	}
	return m.prints, nil
}

// data is the rows held whole, for a sender that takes them so (target.Sender without StreamSender). Values that
// repeat across rows (SKU ids, product names, statuses, reasons, departments) are held once each.
func (m *martRows) data(ctx context.Context) (target.Data, error) {
	d := target.Data{TenantID: m.tenant}
	seen := map[string]string{}
	intern := func(ps ...*string) {
		for _, p := range ps {
			if v, ok := seen[*p]; ok {
				*p = v
			} else if len(seen) < 1<<16 {
				seen[*p] = *p
			}
		}
	}
	err := m.EachPerson(ctx, func(p target.Person) error {
		intern(&p.Department)
		d.Persons = append(d.Persons, p)
		return nil
	})
	if err == nil {
		err = m.EachSubscription(ctx, func(s target.Subscription) error { d.Subscriptions = append(d.Subscriptions, s); return nil })
	}
	if err == nil {
		err = m.EachAssignment(ctx, func(a target.Assignment) error {
			intern(&a.SkuID, &a.ProductName, &a.Status, &a.Evidence, &a.Reason, &a.RequiredLicense, &a.Action)
			d.Assignments = append(d.Assignments, a)
			return nil
		})
	}
	return d, err
}
