package warehouse

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"

	itable "github.com/apache/iceberg-go/table"
)

// readTagPrefix names the Iceberg tags that keep each tenant's read snapshot of a table: "seatlake-read-<tenant id>".
// Readers read a tenant at the snapshot its last complete run recorded (ReadSet), which may be older than the
// table's current snapshot (a later run of the tenant was killed between two table commits) and older than the
// snapshot retention (the tenant was not run for weeks). Expiring it would leave readers the current snapshot, which
// may hold the killed run's half. A tag is Iceberg's way of keeping a snapshot: ExpireSnapshots (seatlake's,
// Spark's expire_snapshots, Trino's expire_snapshots) never removes a snapshot a tag names, and the tag is visible
// to other engines (`VERSION AS OF 'seatlake-read-<tenant>'`).
const readTagPrefix = "seatlake-read-"

// tagReadSnapshots points table name's read tags at want (tenant -> snapshot id, from the commit log) and removes
// the read tags of tenants no longer in want. A snapshot want names that is already gone is left untagged. It
// returns the number of tags set or moved. Like every commit, it retries a concurrent change.
func (w *Warehouse) tagReadSnapshots(ctx context.Context, name string, want map[string]int64) (int, error) {
	set := 0
	err := w.retryWhile(ctx, isConflict, func() error {
		it, err := w.cat.LoadTable(ctx, ident(name))
		if err != nil {
			return fmt.Errorf("loading %s: %w", name, err)
		}
		have := map[string]int64{}
		for ref, r := range it.Metadata().Refs() {
			if strings.HasPrefix(ref, readTagPrefix) && r.SnapshotRefType == itable.TagRef {
				have[ref] = r.SnapshotID
			}
		}
		var updates []itable.Update
		set = 0
		for _, tenant := range slices.Sorted(maps.Keys(want)) {
			ref, id := readTagPrefix+tenant, want[tenant]
			if it.SnapshotByID(id) == nil {
				continue
			}
			if have[ref] != id {
				updates = append(updates, itable.NewSetSnapshotRefUpdate(ref, id, itable.TagRef, 0, 0, 0))
				set++
			}
			delete(have, ref)
		}
		for _, ref := range slices.Sorted(maps.Keys(have)) {
			updates = append(updates, itable.NewRemoveSnapshotRefUpdate(ref))
		}
		if len(updates) == 0 {
			return nil
		}
		_, _, err = w.cat.CommitTable(ctx, ident(name), []itable.Requirement{itable.AssertTableUUID(it.Metadata().TableUUID())}, updates)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("tagging the read snapshots of %s in %s: %w", name, w.catalogName(), err)
	}
	return set, nil
}

// readSnapshots is, per table and tenant, the snapshot the tenant's last commit-log row names: what ReadSet reads.
func (w *Warehouse) readSnapshots(ctx context.Context) (map[string]map[string]int64, error) {
	return w.readSnapshotsOf(ctx, nil)
}

// readSnapshotsOf is readSnapshots for the given tenants only (all when empty): the commit log is read with a
// tenant filter, so only those tenants' partitions of it are scanned.
func (w *Warehouse) readSnapshotsOf(ctx context.Context, tenants []string) (map[string]map[string]int64, error) {
	var rows []commitRow
	if len(tenants) == 0 {
		var err error
		if rows, err = w.commitRows(ctx, ""); err != nil {
			return nil, err
		}
	}
	for _, t := range tenants {
		rs, err := w.commitRows(ctx, t)
		if err != nil {
			return nil, err
		}
		rows = append(rows, rs...)
	}
	latest := map[string]map[string]int64{}
	for _, r := range rows { // each tenant's oldest first: its last row wins
		for t, id := range r.Snapshots {
			if latest[t] == nil {
				latest[t] = map[string]int64{}
			}
			latest[t][r.Tenant] = id
		}
	}
	return latest, nil
}
