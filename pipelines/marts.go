package pipelines

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"slices"
	"strings"
	"time"

	"github.com/duckdb/duckdb-go/v2"
	"golang.org/x/sync/errgroup"

	"github.com/seatlake/seatlake/internal/table"
	"github.com/seatlake/seatlake/load/catalog"
	"github.com/seatlake/seatlake/load/warehouse"
	"github.com/seatlake/seatlake/transform"
	"github.com/seatlake/seatlake/transform/rules"
)

// computeMarts computes the tenant's marts once its raw data is committed (ELT: over views of what is committed,
// in a DuckDB database of their own) and lands them under marts/ in a second commit. The raw data stays committed whatever
// happens here: a tenant whose marts fail is incomplete, never failed. The caller holds the stage lock.
func (r *run) computeMarts(ctx context.Context) {
	fail := func(err error) {
		r.mu.Lock()
		r.sum.Missing = append(r.sum.Missing, "marts: "+err.Error())
		r.sum.Status = StatusIncomplete
		r.mu.Unlock()
		r.log.Error("marts not computed", "err", err)
	}
	start := time.Now()
	db, err := catalog.Views(ctx, r.wh, Tables(), r.cfg.TenantID) // the marts read only their tenant's rows
	if err != nil {
		fail(fmt.Errorf("reading the committed data for the marts: %w", err))
		return
	}
	defer db.Close()
	r.log.Debug("marts' views made", "took", time.Since(start).Round(time.Millisecond))
	// The raw tables' views of the catalog are final now: written while the marts are computed (on the core their
	// one DuckDB thread leaves) when this is the last tenant of the run.
	r.ahead.start(ctx, r.wh)
	if err := r.marts(ctx, db); err != nil {
		fail(err)
	}
}

// martsBudget is DuckDB's memory limit and threads while it computes a tenant's marts. DuckDB's memory beyond its
// data is per operator and per thread (each join and aggregate of a pipeline holds blocks of its own), so a small
// tenant is held down by one thread, not by a small limit alone: measured on a run of 20,000 users and 30,267
// license rows, the marts peaked at 300 MB of process on two threads under 512 MB, 241 MB on one thread under 128 MB,
// in the same CPU time. A tenant beyond smallTenantLicenses, or one that runs out of the small budget, gets the
// large one: every core, and a limit past which DuckDB spills to the temporary directory instead of growing the
// process (100,000 users, 150,840 license rows: 541-603 MiB of process at the peak of the marts alone under 256 MB,
// 655-675 under 512 MB).
type martsBudget struct {
	memory  string
	threads int // 0: DuckDB's default, one per core
}

// smallTenantLicenses is the most license rows a tenant has for the small budget.
const smallTenantLicenses = 50_000

// smallTenantEvents is the most event rows (sign-ins, audits, business events: the tables the marts aggregate) a
// tenant has for the small budget. Measured: 1,000,000 sign-ins or audit records fit it; 10,000,000 audit records
// (20,000 users) ran out of it, and computing the marts again within the large one cost the run 15 CPU s and 85 MiB
// more at its peak than the large budget from the start.
const smallTenantEvents = 2_000_000

// budgetFor is the budget of a tenant with that many license and event rows; large: the large one whatever the
// tenant.
func budgetFor(licenses, events int64, large bool) martsBudget {
	if large || licenses > smallTenantLicenses || events > smallTenantEvents {
		return martsBudget{memory: "256MB"}
	}
	return martsBudget{memory: "128MB", threads: 1}
}

// tenantSize counts the tenant's license rows and its rows in the event tables (every copy: an upper bound), which
// size the marts' work.
func tenantSize(ctx context.Context, db *sql.Conn, tenant string) (licenses, events int64, err error) {
	counts := []string{"(SELECT count(*) FROM graph_user_licenses WHERE tenant_id = $1)"}
	for _, t := range Tables() {
		if t.Kind == table.Event {
			// Its history (every copy of every event): counting the table's own view, which keeps each event's
			// newest copy, holds every event in a window (10,000,000 audit records: 2.3 GB and 20 CPU s).
			counts = append(counts, "(SELECT count(*) FROM "+t.Name+"_history WHERE tenant_id = $1)")
		}
	}
	if err := db.QueryRowContext(ctx, "SELECT "+counts[0]+", 0 + "+strings.Join(counts[1:], " + "), tenant).Scan(&licenses, &events); err != nil {
		return 0, 0, fmt.Errorf("counting the tenant's licenses and events: %w", err)
	}
	return licenses, events, nil
}

// settings are the statements that give DuckDB the budget. They can be given again (the large budget after the
// small one ran out); the spill directory cannot once DuckDB has spilled to it, so spillSettings are given once.
func (b martsBudget) settings() []string {
	threads := "RESET threads"
	if b.threads > 0 {
		threads = fmt.Sprintf("SET threads = %d", b.threads)
	}
	return []string{"SET memory_limit = '" + b.memory + "'", threads}
}

// spillSettings are the statements, given once before any budget, that make DuckDB spill to spill, leave the
// external file cache off and hand the memory its queries free back to the OS as they go: DuckDB allocates through
// jemalloc, which otherwise purges freed pages only as further allocations come (or after a task that held more
// than allocator_flush_threshold, 128 MB, on one thread). Sampled, license_usage's query ended with DuckDB's buffers
// down to about 100 MB and the process holding some 200 MB more while the mart's rows were read and encoded;
// jemalloc's background threads purge such pages within its decay time (1 s) instead.
func spillSettings(spill string) []string {
	return []string{"SET enable_external_file_cache = false", "SET temp_directory = '" + strings.ReplaceAll(spill, "'", "''") + "'",
		"SET allocator_background_threads = true"}
}

// marts computes this tenant's marts over db and commits them: within the small budget when the tenant is small,
// again within the large one when that ran out of memory.
func (r *run) marts(ctx context.Context, pool *sql.DB) error {
	db, err := pool.Conn(ctx) // the marts share temporary tables: one connection
	if err != nil {
		return fmt.Errorf("opening the catalog: %w", err)
	}
	defer db.Close()
	// The file cache off before anything is read.
	for _, set := range spillSettings(warehouse.SpillDir(r.wh.Root())) {
		if _, err := db.ExecContext(ctx, set); err != nil {
			return fmt.Errorf("limiting the marts' memory: %w", err)
		}
	}
	licenses, events, err := tenantSize(ctx, db, r.cfg.TenantID)
	if err != nil {
		return err
	}
	budget := budgetFor(licenses, events, false)
	err = r.martsWithin(ctx, db, budget)
	if large := budgetFor(licenses, events, true); budget != large && outOfMemory(err) {
		r.log.Info("the marts ran out of the small budget: computing them again with the large one", "licenses", licenses, "events", events, "err", err)
		err = r.martsWithin(ctx, db, large)
	}
	return err
}

// martsBatchRows is the most rows of a mart read from DuckDB and handed to its writer at a time (a row group of its
// file). A mart's batches are encoded while DuckDB serves the next rows, so a few are held at once, beside what
// DuckDB holds at the end of the mart's query: measured on 100,000 users (license_usage: 150,840 rows of about 30
// columns), batches of 4,096 rows peaked 30-40 MiB below batches of 16,384, in the same CPU time.
const martsBatchRows = 4096

// outOfMemory reports whether err is DuckDB's out-of-memory error.
func outOfMemory(err error) bool {
	var d *duckdb.Error
	return errors.As(err, &d) && d.Type == duckdb.ErrorTypeOutOfMemory
}

// martsWithin computes this tenant's marts over db within budget and commits them.
func (r *run) martsWithin(ctx context.Context, db *sql.Conn, budget martsBudget) error {
	for _, set := range budget.settings() {
		if _, err := db.ExecContext(ctx, set); err != nil {
			return fmt.Errorf("limiting the marts' memory: %w", err)
		}
	}
	r.mu.Lock()
	missing := slices.Clone(r.sum.Missing)
	r.mu.Unlock()
	asOf := r.cfg.AsOf
	if asOf.IsZero() {
		asOf = r.sum.StartedAt
	}
	name := cmp.Or(r.cfg.Name, r.cfg.TenantID)
	if err := transform.Prepare(ctx, db, transform.Inputs{Rules: r.cfg.Rules, AsOf: asOf, Missing: missing, TenantName: name}); err != nil {
		return err
	}
	// The marts' snapshot is the day they are as of: recomputing an earlier day adds to their history.
	txn, err := r.wh.Begin(r.sum.RunID+"-marts", r.cfg.TenantID, asOf, warehouse.WriterOptions{Layer: warehouse.Marts, Codec: r.cfg.ParquetCompression})
	if err != nil {
		return fmt.Errorf("starting the marts transaction: %w", err)
	}
	defer txn.Abort()
	run := transform.Run{TenantID: r.cfg.TenantID, RunID: r.sum.RunID, At: r.sum.StartedAt,
		BatchRows: min(cmp.Or(r.cfg.BatchRows, table.DefaultBatchRows), martsBatchRows)}
	start := time.Now()
	// Each mart's batches are encoded into Parquet by a goroutine of its own while DuckDB serves the next rows, and
	// the next mart's query starts while the last batch of one is encoded. One lane per mart keeps its rows in the
	// query's order. A mart's queue is closed once the next mart opens (every row of it is queued then): its writer
	// ends with it and hands back to the OS the Go memory the mart's batches took, before DuckDB's next queries grow.
	writers, wctx := errgroup.WithContext(ctx)
	var last *Queue
	rows, err := transform.ComputeAll(ctx, db, run, func(m *table.Table) (table.Sink, error) {
		if last != nil {
			last.Close()
			last = nil
		}
		w, err := txn.Writer(m)
		if err != nil {
			return nil, err
		}
		q := NewQueue(1)
		last = q
		writers.Go(func() error {
			err := q.Drain(wctx, w)
			debug.FreeOSMemory()
			return err
		})
		return q, nil
	})
	if last != nil {
		last.Close()
	}
	if werr := writers.Wait(); err == nil {
		err = werr
	}
	if err != nil {
		return err
	}
	r.log.Debug("marts computed", "took", time.Since(start).Round(time.Millisecond))
	start = time.Now()
	err = txn.Commit(ctx)
	r.log.Debug("marts committed", "took", time.Since(start).Round(time.Millisecond))
	r.recordCommit(txn)
	if err != nil {
		return fmt.Errorf("committing the marts: %w", err)
	}
	r.mu.Lock()
	for k, v := range rows {
		r.sum.Tables[k] = v
	}
	r.mu.Unlock()
	return nil
}

// MartsConfig configures a recomputation of the marts from what the warehouse holds.
type MartsConfig struct {
	Warehouse string
	Tenants   []string // tenant ids; every tenant with committed users when empty
	// Names are the tenants' names by id (the config file's); a tenant without one keeps the name its latest run
	// recorded, else its id.
	Names     map[string]string
	Rules     *rules.Rules
	AsOf      time.Time // the day the marts are computed as of; required
	BatchRows int
	Logger    *slog.Logger
	Now       func() time.Time
}

// MartsResult is one tenant's recomputed marts.
type MartsResult struct {
	TenantID   string
	TenantName string
	Tables     map[string]int64
	Err        error
}

// RecomputeMarts computes every tenant's marts again from the committed raw tables (no request to any service),
// as of cfg.AsOf with cfg.Rules, and commits them as each tenant's latest marts snapshot. The catalog is rebuilt
// before (the marts read its views) and the marts' views after: the marts' commits change no other table's read
// set, so the catalog is then as a whole rebuild would make it. What the tenant's last run could not fetch is taken
// from its run row, so findings still report it.
func RecomputeMarts(ctx context.Context, cfg MartsConfig) ([]MartsResult, error) {
	if cfg.AsOf.IsZero() {
		return nil, fmt.Errorf("%w: no as-of date", ErrInvalidConfig)
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	wh, release, err := openLocked(ctx, cfg.Warehouse, cfg.Logger)
	if err != nil {
		return nil, err
	}
	defer release()
	if err := catalog.BuildFrom(ctx, wh, Tables()); err != nil {
		return nil, fmt.Errorf("rebuilding the catalog: %w", err)
	}
	pool, err := catalog.Open(wh.Root())
	if err != nil {
		return nil, err
	}
	tenants := cfg.Tenants
	if len(tenants) == 0 {
		if tenants, err = catalog.Tenants(ctx, pool, "graph_users"); err != nil {
			pool.Close()
			return nil, err
		}
	}
	if len(tenants) == 0 {
		pool.Close()
		return nil, fmt.Errorf("the warehouse %s holds no committed tenant: run `seatlake run` first", cfg.Warehouse)
	}
	recorded, err := tenantNames(ctx, pool)
	if err != nil {
		pool.Close()
		return nil, err
	}
	var res []MartsResult
	for _, t := range tenants {
		name := cmp.Or(cfg.Names[t], recorded[t], t)
		var missing []string
		row := pool.QueryRowContext(ctx, "SELECT coalesce(missing, []) FROM runs WHERE tenant_id = $1 AND status <> 'failed' ORDER BY started_at DESC LIMIT 1", t)
		var m duckdbList
		if err := row.Scan(&m); err == nil {
			missing = m
		}
		start := cfg.Now().UTC()
		r := &run{
			cfg: Config{Name: name, TenantID: t, Rules: cfg.Rules, AsOf: cfg.AsOf, BatchRows: cfg.BatchRows},
			log: cfg.Logger.With("tenant_id", t), wh: wh,
			sum: &Summary{RunID: newRunID(start), TenantID: t, Tenant: name, StartedAt: start, Tables: map[string]int64{}, Missing: missing},
		}
		err := r.marts(ctx, pool)
		res = append(res, MartsResult{TenantID: t, TenantName: name, Tables: r.sum.Tables, Err: err})
	}
	pool.Close()
	// Only the marts' views: the whole catalog was rebuilt above, under the same lock.
	if err := catalog.RebuildViews(ctx, wh, Tables(), transform.Marts()); err != nil {
		return res, fmt.Errorf("rebuilding the marts' views: %w", err)
	}
	return res, nil
}

// duckdbList scans a DuckDB list of strings.
type duckdbList []string

func (l *duckdbList) Scan(v any) error {
	items, ok := v.([]any)
	if !ok {
		return fmt.Errorf("not a list: %T", v)
	}
	for _, it := range items {
		if s, ok := it.(string); ok {
			*l = append(*l, s)
		}
	}
	return nil
}
