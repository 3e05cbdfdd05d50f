package pipelines

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/seatlake/seatlake/load/catalog"
	"github.com/seatlake/seatlake/load/warehouse"
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
// row and commit: one failing never loses or blocks another's data. The configurations are all checked first
// (no I/O); an invalid one stops everything before any request, with an error wrapping ErrInvalidConfig that names
// the tenant. The DuckDB catalog is rebuilt once, after the last tenant.
func RunTenants(ctx context.Context, cfgs []Config, parallel int) ([]TenantResult, error) {
	var errs []error
	seen := map[string]bool{}
	for i := range cfgs {
		cfgs[i].Defaults()
		if err := cfgs[i].Validate(); err != nil {
			errs = append(errs, fmt.Errorf("tenant %s: %w", cfgs[i].Name, err))
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
	wh, err := warehouse.Open(ctx, root, log)
	if err != nil {
		return nil, fmt.Errorf("opening warehouse: %w", err)
	}
	unlock, err := wh.LockWait(ctx, warehouse.LockPatience)
	if err != nil {
		return nil, fmt.Errorf("locking warehouse: %w", err)
	}
	defer unlock()

	// Raw data first, tenants side by side; then the marts of those committed, over one catalog rebuild; then each
	// tenant's run row; then the catalog again, so the views show the marts and the runs.
	runs := make([]*run, len(cfgs))
	runErrs := make([]error, len(cfgs))
	var g errgroup.Group // not WithContext: one tenant's failure must not cancel another
	g.SetLimit(max(parallel, 1))
	for i, cfg := range cfgs {
		runs[i] = newRun(cfg, wh)
		g.Go(func() error {
			runErrs[i] = runs[i].execute(ctx)
			return nil
		})
	}
	g.Wait()
	// The extraction's buffers are garbage now; give them back before DuckDB (the catalog, the marts) allocates
	// its own, so the process's peak is the larger of the two stages, not their sum.
	debug.FreeOSMemory()
	var committed []*run
	for i, r := range runs {
		if runErrs[i] == nil {
			committed = append(committed, r)
		}
	}
	if ctx.Err() == nil {
		computeMarts(ctx, wh, committed)
	}
	res := make([]TenantResult, len(cfgs))
	for i, r := range runs {
		sum, err := r.finish(ctx, runErrs[i])
		res[i] = TenantResult{Name: cfgs[i].Name, Summary: sum, Err: err}
	}
	cctx := ctx
	if ctx.Err() != nil { // interrupted: the views still get the run rows, within a few seconds
		var cancel context.CancelFunc
		cctx, cancel = context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
	}
	if err := catalog.Build(cctx, wh.Root(), Tables()); err != nil {
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
