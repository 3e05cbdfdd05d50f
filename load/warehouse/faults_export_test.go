package warehouse

import (
	"context"
	"fmt"
)

// CurrentSnapshotRun is the run id in the summary of a table's current snapshot (what an engine reading the table
// directly sees), "" when the table has no snapshot.
func CurrentSnapshotRun(ctx context.Context, w *Warehouse, name string) (string, error) {
	it, err := w.cat.LoadTable(ctx, ident(name))
	if err != nil {
		return "", fmt.Errorf("loading %s: %w", name, err)
	}
	snap := it.CurrentSnapshot()
	if snap == nil || snap.Summary == nil {
		return "", nil
	}
	return snap.Summary.Properties[propRunID], nil
}

// SnapshotCount is the number of snapshots of a table.
func SnapshotCount(ctx context.Context, w *Warehouse, name string) (int, error) {
	it, err := w.cat.LoadTable(ctx, ident(name))
	if err != nil {
		return 0, fmt.Errorf("loading %s: %w", name, err)
	}
	return len(it.Metadata().Snapshots()), nil
}
