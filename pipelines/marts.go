package pipelines

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/seatlake/seatlake/load/catalog"
	"github.com/seatlake/seatlake/load/warehouse"
	"github.com/seatlake/seatlake/transform"
)

// computeMarts computes the tenant's marts over what is committed (ELT: the catalog's views are rebuilt first, so
// they include this run's data) and lands them under marts/ in a second commit. catalogMu serialises catalog
// rebuilds of tenants running side by side.
func (r *run) computeMarts(ctx context.Context, catalogMu *sync.Mutex) (err error) {
	catalogMu.Lock()
	defer catalogMu.Unlock()
	if err := catalog.Build(ctx, r.wh.Root(), Tables()); err != nil {
		return fmt.Errorf("rebuilding the catalog for the marts: %w", err)
	}
	db, err := catalog.Open(r.wh.Root())
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, db.Close()) }()
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
