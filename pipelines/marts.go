package pipelines

import (
	"context"
	"fmt"

	"github.com/seatlake/seatlake/load/catalog"
	"github.com/seatlake/seatlake/load/warehouse"
	"github.com/seatlake/seatlake/transform"
)

// computeMarts computes the marts of every tenant whose raw data was committed (ELT: over the committed views, so
// the catalog is rebuilt first, once for all tenants) and lands each tenant's marts under marts/ in a second commit.
// The raw data stays committed whatever happens here: a tenant whose marts fail is incomplete, never failed.
func computeMarts(ctx context.Context, wh *warehouse.Warehouse, runs []*run) {
	fail := func(r *run, err error) {
		r.mu.Lock()
		r.sum.Missing = append(r.sum.Missing, "marts: "+err.Error())
		r.sum.Status = StatusIncomplete
		r.mu.Unlock()
		r.log.Error("marts not computed", "err", err)
	}
	if len(runs) == 0 {
		return
	}
	if err := catalog.Build(ctx, wh.Root(), Tables()); err != nil {
		for _, r := range runs {
			fail(r, fmt.Errorf("rebuilding the catalog for the marts: %w", err))
		}
		return
	}
	db, err := catalog.Open(wh.Root())
	if err != nil {
		for _, r := range runs {
			fail(r, err)
		}
		return
	}
	defer db.Close()
	for _, r := range runs {
		if err := r.marts(ctx, db); err != nil {
			fail(r, err)
		}
	}
}

// marts computes this tenant's marts over db and commits them.
func (r *run) marts(ctx context.Context, db transform.Queryer) error {
	txn, err := r.wh.Begin(r.sum.RunID+"-marts", r.cfg.TenantID, r.sum.StartedAt, warehouse.WriterOptions{Layer: warehouse.Marts})
	if err != nil {
		return fmt.Errorf("starting the marts transaction: %w", err)
	}
	defer txn.Abort()
	run := transform.Run{TenantID: r.cfg.TenantID, RunID: r.sum.RunID, At: r.sum.StartedAt, BatchRows: r.cfg.BatchRows}
	rows := map[string]int64{}
	for _, m := range transform.Marts() {
		tw, err := txn.Writer(m)
		if err != nil {
			return fmt.Errorf("opening %s writer: %w", m.Name, err)
		}
		n, err := transform.Compute(ctx, db, m, run, tw)
		if err != nil {
			return err
		}
		rows[m.Name] = n
	}
	if err := txn.Commit(ctx); err != nil {
		return fmt.Errorf("committing the marts: %w", err)
	}
	r.mu.Lock()
	for k, v := range rows {
		r.sum.Tables[k] = v
	}
	r.mu.Unlock()
	return nil
}
