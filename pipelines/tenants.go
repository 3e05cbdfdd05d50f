package pipelines

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"runtime/debug"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/seatlake/seatlake/internal/table"
	"github.com/seatlake/seatlake/load/catalog"
	"github.com/seatlake/seatlake/load/warehouse"
	"github.com/seatlake/seatlake/transform"
)

// TenantResult is one tenant's run: its summary (nil when it never started) and its error.
type TenantResult struct {
	Name    string
	Summary *Summary
	Err     error
}

// Run performs one tenant's nightly run: RunTenants with one tenant.
func Run(ctx context.Context, cfg Config) (*Summary, error) {
	res, err := RunTenants(ctx, []Config{cfg}, 1)
	if err != nil {
		return nil, err
	}
	return res[0].Summary, res[0].Err
}

// RunTenants runs every tenant into one warehouse, parallel at a time. Each tenant has its own token sources, run
// row and commits, and its run ends when it ends: a tenant commits its raw data, computes and commits its marts and
// writes its run row as soon as its own extraction is done, never waiting for a slower tenant. One failing never
// loses or blocks another's data. The configurations are all checked first (no I/O); an invalid one stops
// everything before any request, with an error wrapping ErrInvalidConfig that names the tenant. A tenant whose
// credentials could not be read (Config.SetupErr) is recorded as failed, without a request, and its error wraps
// ErrInvalidConfig; the others run. The DuckDB views are rebuilt for each tenant's marts and once after the last.
func RunTenants(ctx context.Context, cfgs []Config, parallel int) ([]TenantResult, error) {
	var errs []error
	seen := map[string]bool{}
	for i := range cfgs {
		cfgs[i].Defaults()
		if cfgs[i].SetupErr == nil {
			if err := cfgs[i].Validate(); err != nil {
				errs = append(errs, fmt.Errorf("tenant %s: %w", cfgs[i].Name, err))
			}
		}
		if seen[cfgs[i].TenantID] {
			errs = append(errs, fmt.Errorf("tenant %s: tenant id %s is configured twice", cfgs[i].Name, cfgs[i].TenantID))
		}
		seen[cfgs[i].TenantID] = true
	}
	if len(cfgs) == 0 {
		errs = append(errs, errors.New("no tenant to run"))
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("%w: %w", ErrInvalidConfig, errors.Join(errs...))
	}
	root := cfgs[0].Warehouse
	for _, c := range cfgs[1:] {
		if c.Warehouse != root {
			return nil, fmt.Errorf("%w: tenants %s and %s name different warehouses; one run writes one warehouse", ErrInvalidConfig, cfgs[0].Name, c.Name)
		}
	}
	log := cfgs[0].Logger
	wh, release, err := openLocked(ctx, root, log)
	if err != nil {
		return nil, err
	}
	defer release()
	// A warehouse of the earlier folder layout is moved into the Iceberg tables first, once, keeping every night.
	if m, err := migrateIfNeeded(ctx, wh); err != nil {
		return nil, fmt.Errorf("migrating the warehouse from the folder layout: %w (see `seatlake warehouse migrate`)", err)
	} else if m != nil {
		rows := int64(0)
		for _, n := range m.Tables {
			rows += n
		}
		log.Info("migrated the warehouse from the folder layout of an earlier seatlake into Iceberg tables before the run (the old files are under "+warehouse.LegacyDir+"/)",
			"warehouse", wh.Root(), "tables", len(m.Tables), "rows", rows, "files", m.Files, "tenants", len(m.Tenants))
	}

	// Tenants side by side, each on its own: raw data, then its marts over the committed views, then its run row.
	// A tenant's commits and its marts take turns with the other tenants' (stage): the marts read the views of what
	// is committed, which no other commit may change under them. Extraction, the long part, never waits.
	var stage sync.Mutex
	// The views over the warehouse after the run. On object storage they hold this run's tenants only: a job of one
	// shard must not download every other tenant's files (at thousands of tenants, the whole warehouse per job).
	var only []string
	if wh.Remote() {
		for _, cfg := range cfgs {
			only = append(only, cfg.TenantID)
		}
	}
	ahead := newCatalogAhead(len(cfgs), only, log)
	runs := make([]*run, len(cfgs))
	res := make([]TenantResult, len(cfgs))
	var g errgroup.Group // not WithContext: one tenant's failure must not cancel another
	g.SetLimit(max(parallel, 1))
	for i, cfg := range cfgs {
		runs[i] = newRun(cfg, wh)
		runs[i].stage = &stage
		runs[i].ahead = ahead
		g.Go(func() error {
			sum, err := runs[i].whole(ctx)
			res[i] = TenantResult{Name: cfg.Name, Summary: sum, Err: err}
			ahead.running.Add(-1)
			return nil
		})
	}
	g.Wait()
	cctx := ctx
	if ctx.Err() != nil { // interrupted: the views still get the run rows, within a few seconds
		var cancel context.CancelFunc
		cctx, cancel = context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
	}
	built := time.Now()
	berr := ahead.finish(cctx, wh)
	log.Debug("catalog built", "took", time.Since(built).Round(time.Millisecond), "ahead", ahead.builder != nil)
	if err := berr; err != nil {
		// The data is committed: the run is not a failure, but its views are stale until the catalog is rebuilt.
		// The run row and the exit code say exactly that.
		log.Error("could not rebuild the DuckDB catalog", "err", err)
		msg := fmt.Sprintf("catalog: the DuckDB views could not be rebuilt (%v): the data is committed; the next run or `seatlake query --rebuild` rebuilds them", err)
		for i, r := range runs {
			if r.sum.Status != StatusSucceeded && r.sum.Status != StatusIncomplete {
				continue
			}
			r.sum.Missing = append(r.sum.Missing, msg)
			r.sum.Status = StatusIncomplete
			if werr := r.writeRunRow(cctx); werr != nil {
				log.Error("could not store the run summary", "err", werr)
			}
			if res[i].Err == nil || errors.Is(res[i].Err, ErrIncomplete) {
				res[i].Err = fmt.Errorf("%w: %s", ErrIncomplete, msg)
			}
		}
	}
	return res, nil
}

// whole is one tenant's run, start to end: extraction and the raw commit, the marts over what it committed, and the
// run row, whose ended_at is when this tenant ended. runErr of a tenant whose set-up could not be read is its
// SetupErr: nothing is requested.
func (r *run) whole(ctx context.Context) (*Summary, error) {
	var err error
	if r.cfg.SetupErr != nil {
		err = fmt.Errorf("%w: %w", ErrInvalidConfig, r.cfg.SetupErr)
	} else {
		err = r.execute(ctx)
	}
	if err == nil && ctx.Err() == nil {
		r.stage.Lock()
		// The extraction's buffers are garbage now; give them back before DuckDB (the catalog, the marts) allocates
		// its own, so a tenant's peak is the larger of the two stages, not their sum.
		start := time.Now()
		debug.FreeOSMemory()
		freed := time.Now()
		r.computeMarts(ctx)
		r.log.Debug("marts stage done", "free_os_memory", freed.Sub(start).Round(time.Millisecond), "marts", time.Since(freed).Round(time.Millisecond))
		r.stage.Unlock()
	}
	r.stage.Lock() // the run row lands beside the files another tenant's marts may be reading
	defer r.stage.Unlock()
	return r.finish(ctx, err)
}

// catalogAhead writes the catalog's views of the tables a run's marts and run rows leave as they are (every table
// but the marts and runs) while the last tenant still running computes its marts, on the core its single-threaded
// marts leave free, so that after them only the views of the marts and runs are left to write. The other tenants'
// runs have ended by then, and the warehouse's lock keeps other commands' commits out (on object storage the catalog
// holds this run's tenants only), so those views are what a build after the run would write.
type catalogAhead struct {
	running    atomic.Int32   // tenants whose run has not ended
	tenants    []string       // the catalog's tenants; every tenant's when empty
	now, later []*table.Table // the tables whose views are written ahead; those a tenant's marts and run row change
	log        *slog.Logger

	done    chan struct{} // closed when the builder is started (or failed to); nil: not started
	builder *catalog.Builder
	err     error
}

// newCatalogAhead is the catalog of a run of n tenants (tenants: the catalog's, every tenant's when empty).
func newCatalogAhead(n int, tenants []string, log *slog.Logger) *catalogAhead {
	a := &catalogAhead{tenants: tenants, log: log}
	a.running.Store(int32(n))
	changed := map[string]bool{RunsTable.Name: true}
	for _, m := range transform.Marts() {
		changed[m.Name] = true
	}
	for _, t := range Tables() {
		if changed[t.Name] {
			a.later = append(a.later, t)
		} else {
			a.now = append(a.now, t)
		}
	}
	return a
}

// start starts the views ahead when the calling tenant is the only one still running. The caller holds the stage
// lock (so no two tenants start it).
func (a *catalogAhead) start(ctx context.Context, wh *warehouse.Warehouse) {
	if a == nil || a.done != nil || a.running.Load() != 1 {
		return
	}
	a.done = make(chan struct{})
	go func() {
		defer close(a.done)
		a.builder, a.err = catalog.StartBuild(ctx, wh, a.now, a.tenants)
	}()
}

// finish puts the catalog of the run in place: the views written ahead and the rest's, or every table's when they
// were not written ahead (several tenants ended together, or writing them failed: then they are written again).
func (a *catalogAhead) finish(ctx context.Context, wh *warehouse.Warehouse) error {
	if a.done != nil {
		<-a.done
		if a.err == nil {
			return a.builder.Finish(ctx, a.later)
		}
		a.log.Debug("the catalog's views written ahead of the marts failed: writing them all again", "err", a.err)
	}
	return catalog.BuildOf(ctx, wh, Tables(), a.tenants)
}

// ShardOf is the shard (0 to n-1) of a tenant among n shards: the FNV-1a hash of its tenant id (lower case),
// modulo n. It depends on the tenant's own id alone, so adding or removing tenants never moves another one.
func ShardOf(tenantID string, n int) int {
	if n <= 1 {
		return 0
	}
	h := fnv.New64a()
	h.Write([]byte(strings.ToLower(strings.TrimSpace(tenantID))))
	return int(h.Sum64() % uint64(n))
}

// Shard keeps the tenants of shard i of n (ShardOf), in their order.
func Shard(cfgs []Config, i, n int) []Config {
	var out []Config
	for _, c := range cfgs {
		if ShardOf(c.TenantID, n) == i {
			out = append(out, c)
		}
	}
	return out
}

// TenantRef is a tenant as a person names it: Name is its name in the config file (or, for a tenant known only
// from the warehouse, the name its latest run recorded; its id when it has none), ID its Entra tenant id.
type TenantRef struct {
	Name string `json:"name"`
	ID   string `json:"id"`
}

// Label is how a person reads the tenant: "name (id)", or the id alone when the name is the id or missing.
func (t TenantRef) Label() string {
	if t.Name == "" || t.Name == t.ID {
		return t.ID
	}
	return t.Name + " (" + t.ID + ")"
}

// WarehouseTenants lists the tenants the warehouse at root holds (a run row or marts), sorted by id, each with the
// name its latest run recorded (the id when none did). A warehouse without a catalog holds none.
func WarehouseTenants(ctx context.Context, root string) ([]TenantRef, error) {
	db, err := catalog.Open(root)
	if err != nil {
		return nil, nil //nolint:nilerr // no catalog: no tenant yet; the command says what to run first
	}
	defer db.Close()
	names, err := tenantNames(ctx, db)
	if err != nil {
		return nil, err
	}
	ids := map[string]bool{}
	for id := range names {
		ids[id] = true
	}
	for _, view := range []string{"license_usage", "graph_users"} {
		more, err := catalog.Tenants(ctx, db, view)
		if err != nil {
			return nil, catalog.Explain(root, err)
		}
		for _, id := range more {
			ids[id] = true
		}
	}
	var out []TenantRef
	for id := range ids {
		out = append(out, TenantRef{Name: cmp.Or(names[id], id), ID: id})
	}
	slices.SortFunc(out, func(a, b TenantRef) int { return strings.Compare(a.ID, b.ID) })
	return out, nil
}

// tenantNames is each tenant's name as its latest run recorded it (runs.tenant_name), by tenant id. Runs written
// before the column existed have none, and neither has a catalog built before it (its runs view lacks the column):
// the tenants are then shown by id.
func tenantNames(ctx context.Context, db *sql.DB) (map[string]string, error) {
	rows, err := db.QueryContext(ctx, `SELECT tenant_id, coalesce(arg_max(tenant_name, started_at) FILTER (WHERE tenant_name IS NOT NULL), '') FROM runs GROUP BY 1`)
	if err != nil {
		return map[string]string{}, nil //nolint:nilerr // names are for people: without them the ids are shown
	}
	defer rows.Close()
	out := map[string]string{}
	for rows.Next() {
		var id, name string
		if err := rows.Scan(&id, &name); err != nil {
			return nil, fmt.Errorf("reading the tenants' names from runs: %w", err)
		}
		out[id] = name
	}
	return out, rows.Err()
}
