package warehouse

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/iceberg-go"
	"github.com/apache/iceberg-go/catalog"
	icebergio "github.com/apache/iceberg-go/io"
	itable "github.com/apache/iceberg-go/table"

	"github.com/seatlake/seatlake/internal/table"
)

// CommitsTable is the commit log: one row per committed transaction, appended after the transaction's tables were
// committed. extracted_at is when the transaction committed. A transaction without its row is not committed, for
// every seatlake reader and for State.
var CommitsTable = table.New("seatlake_commits", table.Log, "",
	"seatlake's commit log: one row per committed transaction (a run's raw tables, its marts, a sync's state, a batch of business events), with the snapshot id of every table it committed and the state it carried. seatlake's readers read each tenant's tables at the snapshots of its last committed transactions.",
	table.Column{Name: "snapshots_json", Type: arrow.BinaryTypes.String, Doc: `the snapshot id of each table the transaction committed, e.g. {"graph_users": 4242}`},
	// No dictionary and no min/max statistics: a state is unique to its row, and a sync's is megabytes, each
	// statistic one more copy of it while the row is written.
	table.Column{Name: "state_json", Type: arrow.BinaryTypes.String, HighCardinality: true, Doc: "the state (watermarks) the transaction committed, by stream"},
	table.Column{Name: "commit_retries", Type: arrow.PrimitiveTypes.Int64, Doc: "commit attempts past the first (concurrent commits, unknown outcomes checked)"},
)

// commitRow is one row of the commit log, without its state (StateContext reads that).
type commitRow struct {
	Tenant, RunID string
	At            int64 // microseconds
	Snapshots     map[string]int64
}

// recordCommit appends a transaction's row to the commit log: its commit point.
func (w *Warehouse) recordCommit(ctx context.Context, tenantID, runID string, snapshots map[string]int64, state map[string]string, retries int) (commitResult, error) {
	snaps, err := json.Marshal(snapshots)
	if err != nil {
		return commitResult{}, err
	}
	st, err := json.Marshal(state)
	if err != nil {
		return commitResult{}, err
	}
	b := array.NewRecordBuilder(memory.DefaultAllocator, CommitsTable.Schema())
	defer b.Release()
	b.Field(0).(*array.StringBuilder).Append(tenantID)
	b.Field(1).(*array.StringBuilder).Append(runID)
	b.Field(2).(*array.TimestampBuilder).Append(arrow.Timestamp(time.Now().UnixMicro()))
	b.Field(3).(*array.StringBuilder).Append(string(snaps))
	sb := b.Field(4).(*array.StringBuilder)
	sb.ReserveData(len(st))     // one buffer of its size, not doublings up to it
	sb.BinaryBuilder.Append(st) // the JSON as it is, not copied into a string first
	b.Field(5).(*array.Int64Builder).Append(int64(retries))
	rec := b.NewRecordBatch()
	defer rec.Release()
	if err := w.fail("record"); err != nil {
		return commitResult{}, err
	}
	return w.appendLog(ctx, CommitsTable, tenantID, runID, rec, iceberg.Properties{propRunID: runID, propTenantID: tenantID})
}

// commitCols are the columns of one batch of the commit log that a read selected (nil when not selected).
type commitCols struct {
	tenants, runs, snaps, states *array.String
	ats                          *array.Timestamp
}

// eachCommit reads the commit log's rows of tenantID (every tenant's when empty) a batch at a time, in no
// particular order, handing f each row; f must not keep the batch's values (Retain what it keeps). Of the JSON
// columns, only the state or only the snapshots are read: a sync's state is megabytes in each of its rows, and
// readers of the snapshots never read it. Reading the states, one file at a time.
func (w *Warehouse) eachCommit(ctx context.Context, tenantID string, state bool, f func(c commitCols, i int) error) error {
	it, err := w.cat.LoadTable(ctx, ident(CommitsTable.Name))
	if errors.Is(err, catalog.ErrNoSuchTable) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("loading the commit log: %w", err)
	}
	if it.CurrentSnapshot() == nil {
		return nil
	}
	opts := []itable.ScanOption{itable.WithSelectedFields("tenant_id", "run_id", "extracted_at", "snapshots_json")}
	if state {
		opts = []itable.ScanOption{itable.WithSelectedFields("tenant_id", "run_id", "extracted_at", "state_json"), itable.WithMaxConcurrency(1)}
	}
	if tenantID != "" {
		opts = append(opts, itable.WithRowFilter(iceberg.EqualTo(iceberg.Reference(table.TenantID.Name), tenantID)))
	}
	_, recs, err := it.Scan(opts...).ToArrowRecords(ctx)
	if err != nil {
		return fmt.Errorf("reading the commit log: %w", err)
	}
	for rec, err := range recs {
		if err != nil {
			return fmt.Errorf("reading the commit log: %w", err)
		}
		err := eachCommitRow(rec, state, f)
		rec.Release()
		if err != nil {
			return err
		}
	}
	return nil
}

// eachCommitRow hands f each row of one batch of the commit log.
func eachCommitRow(rec arrow.RecordBatch, state bool, f func(c commitCols, i int) error) error {
	col := func(name string) arrow.Array {
		idx := rec.Schema().FieldIndices(name)
		if len(idx) == 0 {
			return nil
		}
		return rec.Column(idx[0])
	}
	var c commitCols
	c.tenants, _ = col("tenant_id").(*array.String)
	c.runs, _ = col("run_id").(*array.String)
	c.ats, _ = col("extracted_at").(*array.Timestamp)
	c.snaps, _ = col("snapshots_json").(*array.String)
	c.states, _ = col("state_json").(*array.String)
	if c.tenants == nil || c.runs == nil || c.ats == nil || (!state && c.snaps == nil) || (state && c.states == nil) {
		return fmt.Errorf("reading the commit log: unexpected columns %s", rec.Schema())
	}
	for i := range int(rec.NumRows()) {
		if err := f(c, i); err != nil {
			return err
		}
	}
	return nil
}

// commitRows reads the commit log's rows of tenantID (every tenant's when empty), oldest first.
func (w *Warehouse) commitRows(ctx context.Context, tenantID string) ([]commitRow, error) {
	var rows []commitRow
	err := w.eachCommit(ctx, tenantID, false, func(c commitCols, i int) error {
		r := commitRow{Tenant: c.tenants.Value(i), RunID: c.runs.Value(i), At: int64(c.ats.Value(i))}
		if err := json.Unmarshal([]byte(c.snaps.Value(i)), &r.Snapshots); err != nil {
			return fmt.Errorf("reading the commit log: run %s: %w", r.RunID, err)
		}
		rows = append(rows, r)
		return nil
	})
	if err != nil {
		return nil, err
	}
	slices.SortStableFunc(rows, func(a, b commitRow) int { return cmp.Or(cmp.Compare(a.At, b.At), cmp.Compare(a.RunID, b.RunID)) })
	return rows, nil
}

// State returns a stream's committed state: the value of the tenant's last committed transaction that carried
// the stream; ok is false when none ever did.
//
// Deprecated: use StateContext, which a caller can cancel.
func (w *Warehouse) State(tenantID, stream string) (value []byte, ok bool, err error) {
	return w.StateContext(context.Background(), tenantID, stream)
}

// StateContext returns a stream's committed state: the value of the tenant's last committed transaction that
// carried the stream (the commit log's row, so a transaction killed before its row never moves it); ok is false
// when none ever did. It holds one batch of the commit log and the newest value found so far, never every state
// the tenant's transactions committed (a sync's is megabytes, and every sync commits one).
func (w *Warehouse) StateContext(ctx context.Context, tenantID, stream string) (value []byte, ok bool, err error) {
	if err := checkName("tenant id", tenantID); err != nil {
		return nil, false, err
	}
	if err := checkName("stream", stream); err != nil {
		return nil, false, err
	}
	// The newest row that may carry the stream (its state holds the stream's name as JSON writes a key), as the
	// commit log's order (commit time, then run id) has it; of rows equal in both, the one read last, as a stable
	// sort of the rows would leave it. Its column is kept, not copied, and decoded once: when its name was no key
	// there, the rows are read again without it.
	k, _ := json.Marshal(stream) // as recordCommit's json.Marshal writes it as a key
	key := string(k)
	type found struct {
		at  int64
		run string
		col *array.String
		i   int
	}
	var skip []found // rows whose state holds the name, not as a key
	for {
		var best *found
		err := w.eachCommit(ctx, tenantID, true, func(c commitCols, i int) error {
			at, run := int64(c.ats.Value(i)), c.runs.Value(i)
			if best != nil && cmp.Or(cmp.Compare(at, best.at), cmp.Compare(run, best.run)) < 0 {
				return nil
			}
			if !strings.Contains(c.states.Value(i), key) || slices.ContainsFunc(skip, func(f found) bool { return f.at == at && f.run == run }) {
				return nil
			}
			if best != nil {
				best.col.Release()
			}
			c.states.Retain()
			best = &found{at: at, run: strings.Clone(run), col: c.states, i: i}
			return nil
		})
		if err != nil {
			if best != nil {
				best.col.Release()
			}
			return nil, false, fmt.Errorf("reading state %s: %w", stream, err)
		}
		if best == nil {
			return nil, false, nil
		}
		var st map[string]string
		err = json.Unmarshal([]byte(best.col.Value(best.i)), &st)
		best.col.Release()
		if err != nil {
			return nil, false, fmt.Errorf("reading state %s: run %s: %w", stream, best.run, err)
		}
		if v, ok := st[stream]; ok {
			return []byte(v), true, nil
		}
		skip = append(skip, *best)
	}
}

// ReadSet is what seatlake's readers (the DuckDB views, the marts, report, sync, reclaim) read: for each table, for
// each tenant, the table at the snapshot of the tenant's last committed transaction that wrote it, restricted to
// the tenant's partitions. A transaction killed between two table commits is not in it. Record tables (runs,
// syncs, actions, the commit log) are read at their current snapshot.
type ReadSet struct {
	Tables map[string]*TableRead
}

// TableRead is one table's part of a read set.
type TableRead struct {
	Table *table.Table
	// Exists is false when the table was never created (nothing was ever written to it).
	Exists bool
	// Snapshots is the snapshot read for each tenant.
	Snapshots map[string]int64
	// Files are the data files to read, every tenant's, ordered by tenant, day and location.
	Files []DataFileRef
}

// DataFileRef is one data file of a read set.
type DataFileRef struct {
	Location string // as the table records it (file:///… for local storage)
	Tenant   string
	Day      string // the partition day (snapshot_date or event_date), YYYY-MM-DD; "" for record tables
	Rows     int64
	Size     int64
}

// ReadSet computes the read set of tables, every tenant's.
func (w *Warehouse) ReadSet(ctx context.Context, tables []*table.Table) (*ReadSet, error) {
	return w.ReadSetOf(ctx, tables, nil)
}

// ReadSetOf computes the read set of tables for the given tenants only (every tenant's when tenants is empty): what
// one tenant's marts read, without listing, downloading or scanning the other tenants' files and commits (with
// object storage and thousands of tenants, each job would otherwise fetch the whole warehouse).
func (w *Warehouse) ReadSetOf(ctx context.Context, tables []*table.Table, tenants []string) (*ReadSet, error) {
	latest, err := w.readSnapshotsOf(ctx, tenants) // table -> tenant -> snapshot id
	if err != nil {
		return nil, err
	}
	rs := &ReadSet{Tables: map[string]*TableRead{}}
	for _, tbl := range tables {
		tr := &TableRead{Table: tbl, Snapshots: map[string]int64{}}
		rs.Tables[tbl.Name] = tr
		it, err := w.cat.LoadTable(ctx, ident(tbl.Name))
		if errors.Is(err, catalog.ErrNoSuchTable) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("loading table %s: %w", tbl.Name, err)
		}
		tr.Exists = true
		cache := map[string][]iceberg.DataFile{}
		var files []iceberg.DataFile
		if tbl.Kind == table.Log {
			snap := it.CurrentSnapshot()
			if snap == nil {
				continue
			}
			if len(tenants) == 0 {
				if files, err = snapshotFiles(it, snap, w.fs, "", cache); err != nil {
					return nil, fmt.Errorf("listing the files of %s: %w", tbl.Name, err)
				}
			}
			for _, tenant := range tenants {
				fs, err := snapshotFiles(it, snap, w.fs, tenant, cache)
				if err != nil {
					return nil, fmt.Errorf("listing the files of %s: %w", tbl.Name, err)
				}
				files = append(files, fs...)
			}
			for _, t := range tenantsOf(it, files) {
				tr.Snapshots[t] = snap.SnapshotID
			}
		} else {
			for _, tenant := range slices.Sorted(maps.Keys(latest[tbl.Name])) {
				id := latest[tbl.Name][tenant]
				snap := it.SnapshotByID(id)
				if snap == nil {
					// Expired although `warehouse maintain` tags it (another engine expired it ignoring its tag):
					// the current snapshot is the best left, and it may hold a later run of the tenant that was
					// killed before its commit-log row. Say so.
					w.log.Warn("a tenant's last committed snapshot has expired despite its read tag; reading the table's current snapshot, which may include a later incomplete run of the tenant until its next complete run",
						"table", tbl.Name, "tenant_id", tenant, "snapshot_id", id, "tag", readTagPrefix+tenant)
					if snap = it.CurrentSnapshot(); snap == nil {
						continue
					}
				}
				fs, err := snapshotFiles(it, snap, w.fs, tenant, cache)
				if err != nil {
					return nil, fmt.Errorf("listing the files of %s for tenant %s: %w", tbl.Name, tenant, err)
				}
				tr.Snapshots[tenant] = snap.SnapshotID
				files = append(files, fs...)
			}
		}
		tenantField, dayField := partitionFieldIDs(it, tbl)
		for _, df := range files {
			ref := DataFileRef{Location: df.FilePath(), Rows: df.Count(), Size: df.FileSizeBytes()}
			ref.Tenant, _ = df.Partition()[tenantField].(string)
			if dayField >= 0 {
				ref.Day = dayString(int64(dateValue(df.Partition()[dayField])))
			}
			tr.Files = append(tr.Files, ref)
		}
		slices.SortFunc(tr.Files, func(a, b DataFileRef) int {
			return cmp.Or(cmp.Compare(a.Tenant, b.Tenant), cmp.Compare(a.Day, b.Day), cmp.Compare(a.Location, b.Location))
		})
	}
	return rs, nil
}

// partitionFieldIDs are the partition field ids of tenant_id and the day column (-1 when the table has none).
func partitionFieldIDs(it *itable.Table, tbl *table.Table) (tenant, day int) {
	tenant, day = -1, -1
	spec := it.Spec()
	for _, f := range spec.Fields() {
		switch f.Name {
		case table.TenantID.Name:
			tenant = f.FieldID
		case partitionColumn(tbl):
			if partitionColumn(tbl) != "" {
				day = f.FieldID
			}
		}
	}
	return tenant, day
}

// dateValue is a date partition value as days since 1970-01-01.
func dateValue(v any) int32 {
	switch v := v.(type) {
	case iceberg.Date:
		return int32(v)
	case int32:
		return v
	case int64:
		return int32(v)
	case int:
		return int32(v)
	case time.Time:
		return int32(v.UTC().Unix() / 86400)
	}
	return 0
}

func tenantsOf(it *itable.Table, files []iceberg.DataFile) []string {
	id, _ := partitionFieldIDs(it, &table.Table{})
	seen := map[string]bool{}
	for _, df := range files {
		if t, ok := df.Partition()[id].(string); ok {
			seen[t] = true
		}
	}
	return slices.Sorted(maps.Keys(seen))
}

// snapshotFiles lists the live data files of a snapshot, only tenant's when tenant is not empty. Every file is
// listed, empty ones included (an empty snapshot file is a day's answer: nothing). Manifests are immutable, so
// their entries are kept in cache across snapshots of the same table.
func snapshotFiles(it *itable.Table, snap *itable.Snapshot, fs icebergio.IO, tenant string, cache map[string][]iceberg.DataFile) ([]iceberg.DataFile, error) {
	manifests, err := snap.Manifests(fs)
	if err != nil {
		return nil, err
	}
	tenantField := -1
	if tenant != "" {
		spec := it.Spec()
		for _, f := range spec.Fields() {
			if f.Name == table.TenantID.Name {
				tenantField = f.FieldID
			}
		}
	}
	var out []iceberg.DataFile
	for _, m := range manifests {
		if m.ManifestContent() != iceberg.ManifestContentData {
			continue
		}
		dfs, ok := cache[m.FilePath()]
		if !ok {
			entries, err := m.FetchEntries(fs, true)
			if err != nil {
				return nil, fmt.Errorf("reading manifest %s: %w", m.FilePath(), err)
			}
			for _, e := range entries {
				dfs = append(dfs, e.DataFile())
			}
			if cache != nil {
				cache[m.FilePath()] = dfs
			}
		}
		for _, df := range dfs {
			if tenant != "" {
				if t, _ := df.Partition()[tenantField].(string); t != tenant {
					continue
				}
			}
			out = append(out, df)
		}
	}
	return out, nil
}
