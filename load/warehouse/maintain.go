package warehouse

import (
	"context"
	"fmt"
	"path/filepath"
	"time"

	"github.com/apache/iceberg-go"
	itable "github.com/apache/iceberg-go/table"
)

// MaintainOptions tune Maintain. The zero value is the default.
type MaintainOptions struct {
	// Retention is how long snapshots are kept (default 30 days); the current snapshot is always kept.
	Retention time.Duration
	// OrphanAge is the age past which a file no snapshot references is removed (default 24 hours): it must exceed
	// the longest run, whose data files are unreferenced until it commits.
	OrphanAge time.Duration
}

func (o MaintainOptions) withDefaults() MaintainOptions {
	if o.Retention <= 0 {
		o.Retention = 30 * 24 * time.Hour
	}
	if o.OrphanAge <= 0 {
		o.OrphanAge = 24 * time.Hour
	}
	return o
}

// TableMaintenance is what Maintain did to one table.
type TableMaintenance struct {
	Table              string
	ExpiredSnapshots   int
	RewrittenManifests int // manifests replaced by AddedManifests
	AddedManifests     int
	OrphanFiles        int // unreferenced files older than OrphanAge, removed
	OrphanBytes        int64
}

// Maintain does to every table of the namespace what Iceberg engines expect of a maintenance job: it expires the
// snapshots older than the retention (removing the files only they referenced), rewrites the manifests (each
// commit adds one: planning reads fewer after), and removes orphan files (data files of runs that never
// committed, metadata files of lost commits) older than OrphanAge. Commits retry on concurrent jobs, as runs do,
// but run it outside the ingest window: every expiry and rewrite is a commit the runs must then retry against.
// A tenant whose last committed snapshot of a table expired (no run of it within the retention) is read at the
// table's current snapshot (see ReadSet). Compacting small files is not done yet.
func (w *Warehouse) Maintain(ctx context.Context, opts MaintainOptions) ([]TableMaintenance, error) {
	o := opts.withDefaults()
	// Legacy files in a table's folder would be taken for orphans: migrate first.
	for _, pattern := range []string{"_state", "raw/*/tenant=*", "marts/*/tenant=*", "*/tenant=*/*.parquet"} {
		if ms, _ := filepath.Glob(filepath.Join(w.root, pattern)); len(ms) > 0 {
			return nil, fmt.Errorf("maintaining: %s holds files of the folder layout (%s): migrate it first, or they would be removed as orphans", w.root, ms[0])
		}
	}
	var out []TableMaintenance
	for id, err := range w.cat.ListTables(ctx, itable.Identifier{Namespace}) {
		if err != nil {
			return out, fmt.Errorf("listing the tables: %w", err)
		}
		name := id[len(id)-1]
		tm := TableMaintenance{Table: name}
		before, err := w.cat.LoadTable(ctx, ident(name))
		if err != nil {
			return out, fmt.Errorf("maintaining %s: %w", name, err)
		}
		if before.CurrentSnapshot() == nil {
			out = append(out, tm)
			continue
		}
		had := map[int64]bool{}
		for _, s := range before.Metadata().Snapshots() {
			had[s.SnapshotID] = true
		}
		expire := func(ctx context.Context, _ *itable.Table, txn *itable.Transaction, _ iceberg.Properties) error {
			return txn.ExpireSnapshots(itable.WithOlderThan(o.Retention), itable.WithRetainLast(1))
		}
		if _, err := w.commitTable(ctx, name, nil, expire); err != nil {
			return out, fmt.Errorf("maintaining %s: expiring snapshots: %w", name, err)
		}
		var rw *itable.RewriteManifestsResult
		rewrite := func(ctx context.Context, _ *itable.Table, txn *itable.Transaction, props iceberg.Properties) error {
			var err error
			rw, err = txn.RewriteManifests(ctx)
			return err
		}
		if _, err := w.commitTable(ctx, name, nil, rewrite); err != nil {
			return out, fmt.Errorf("maintaining %s: rewriting manifests: %w", name, err)
		}
		after, err := w.cat.LoadTable(ctx, ident(name))
		if err != nil {
			return out, fmt.Errorf("maintaining %s: %w", name, err)
		}
		for _, s := range after.Metadata().Snapshots() {
			delete(had, s.SnapshotID)
		}
		tm.ExpiredSnapshots = len(had)
		if rw != nil && !rw.IsNoOp() {
			tm.RewrittenManifests, tm.AddedManifests = len(rw.RewrittenManifests), len(rw.AddedManifests)
		}
		res, err := after.DeleteOrphanFiles(ctx, itable.WithFilesOlderThan(o.OrphanAge))
		if err != nil {
			return out, fmt.Errorf("maintaining %s: removing orphan files: %w", name, err)
		}
		tm.OrphanFiles, tm.OrphanBytes = len(res.DeletedFiles), res.TotalSizeBytes
		w.log.Info("maintained table", "table", name, "expired_snapshots", tm.ExpiredSnapshots, "rewritten_manifests", tm.RewrittenManifests,
			"orphan_files", tm.OrphanFiles, "orphan_bytes", tm.OrphanBytes)
		out = append(out, tm)
	}
	return out, nil
}
