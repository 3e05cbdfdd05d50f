package warehouse

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
	"github.com/apache/iceberg-go"
	itable "github.com/apache/iceberg-go/table"

	"github.com/seatlake/seatlake/internal/table"
)

// LegacyDir is where Migrate moves the folder layout's files once they are in the Iceberg tables: nothing is
// deleted; remove the folder when the migrated warehouse has been checked.
const LegacyDir = "_legacy"

// propMigrated marks the snapshot that holds a table's migrated files, so that a migration interrupted after a
// table's commit does not add that table's files twice when run again.
const propMigrated = "seatlake.migrated-from"

// Migration is what Migrate did.
type Migration struct {
	Tables  map[string]int64 // rows migrated per table
	Files   int              // legacy Parquet files read
	Tenants []string         // tenants whose state (watermarks) was carried over
}

// NeedsMigration says whether the warehouse directory holds data in the folder layout of seatlake before the
// Iceberg warehouse (<layer>/<table>/tenant=<id>/…, runs/, _state/).
func (w *Warehouse) NeedsMigration(tables []*table.Table) bool {
	if st, err := os.Stat(filepath.Join(w.root, "_state")); err == nil && st.IsDir() {
		return true
	}
	for _, t := range tables {
		if _, dir := legacyTableDir(w.root, t); dir != "" {
			return true
		}
	}
	return false
}

// legacyDirs are the folders where the folder layout kept a table.
func legacyDirs(root string, t *table.Table) []string {
	if t.Kind == table.Log {
		return []string{filepath.Join(root, t.Name)}
	}
	return []string{filepath.Join(root, string(Raw), t.Name), filepath.Join(root, string(Marts), t.Name)}
}

// legacyTableDir is the folder of legacy files of t and the layer it was in; "" when it has none.
func legacyTableDir(root string, t *table.Table) (Layer, string) {
	for i, d := range legacyDirs(root, t) {
		if ms, _ := filepath.Glob(filepath.Join(d, "tenant=*")); len(ms) > 0 {
			if i == 1 {
				return Marts, d
			}
			return Raw, d
		}
	}
	return Raw, ""
}

// Migrate moves a warehouse in the folder layout into Iceberg tables, keeping every row of every night: each
// legacy file of tables is read and written again as a data file of the table (with the partition column inside,
// as Iceberg requires), one commit per table; then each tenant gets a commit log row naming the tables' snapshots
// and carrying its state (_state/), so the next run goes on from its watermarks. The legacy files are then moved
// under _legacy/ (nothing is deleted). Reject files stay where they are (the same path in both layouts). A
// migration interrupted at any point can be run again: a table already committed is not committed twice.
// Migrate refuses a warehouse with a commit the folder protocol never finished (_commits/): open it once with the
// seatlake version that wrote it.
func (w *Warehouse) Migrate(ctx context.Context, tables []*table.Table) (*Migration, error) {
	if err := w.checkMigratable(); err != nil {
		return nil, err
	}
	m := &Migration{Tables: map[string]int64{}}
	perTenant, err := w.migrateTables(ctx, tables, m)
	if err != nil {
		return m, err
	}
	stateOf, err := w.legacyState()
	if err != nil {
		return m, err
	}
	if err := w.recordMigration(ctx, m, perTenant, stateOf); err != nil {
		return m, err
	}
	// Only now, with everything committed and recorded, the legacy files go aside.
	if err := w.moveLegacyFiles(tables); err != nil {
		return m, err
	}
	w.log.Info("migrated the warehouse's folder layout into Iceberg tables", "tables", len(m.Tables), "files", m.Files, "legacy_files", filepath.Join(w.root, LegacyDir))
	return m, nil
}

// checkMigratable refuses a warehouse Migrate cannot migrate: one whose storage is elsewhere, or with a commit the
// folder protocol never finished.
func (w *Warehouse) checkMigratable() error {
	if w.local != w.root {
		return errors.New("migrating: the folder layout is migrated into a warehouse whose storage is its own directory; migrate it locally first, then copy the tables")
	}
	if ms, _ := filepath.Glob(filepath.Join(w.root, "_commits", "*.json")); len(ms) > 0 {
		return fmt.Errorf("migrating: %s holds a commit the previous seatlake never finished (%s): run that version once on it, then migrate", w.root, ms[0])
	}
	return nil
}

// migrateTables migrates the legacy files of each of tables, counting them in m; it returns, per tenant, the
// snapshot holding its rows of each table but the log tables (read at their current snapshot).
func (w *Warehouse) migrateTables(ctx context.Context, tables []*table.Table, m *Migration) (map[string]map[string]int64, error) {
	perTenant := map[string]map[string]int64{} // tenant -> table -> snapshot id
	for _, t := range tables {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		snaps, rows, files, err := w.migrateTable(ctx, t)
		if err != nil {
			return nil, fmt.Errorf("migrating %s: %w", t.Name, err)
		}
		if files == 0 {
			continue
		}
		m.Tables[t.Name], m.Files = rows, m.Files+files
		if t.Kind == table.Log {
			continue // record tables are read at their current snapshot
		}
		for tenant, id := range snaps {
			if perTenant[tenant] == nil {
				perTenant[tenant] = map[string]int64{}
			}
			perTenant[tenant][t.Name] = id
		}
	}
	return perTenant, nil
}

// legacyState is the state the folder layout kept (_state/tenant=<id>/<stream>.json): per tenant, per stream.
func (w *Warehouse) legacyState() (map[string]map[string]string, error) {
	states, err := filepath.Glob(filepath.Join(w.root, "_state", "tenant=*"))
	if err != nil {
		return nil, err
	}
	stateOf := map[string]map[string]string{}
	for _, dir := range states {
		tenant := strings.TrimPrefix(filepath.Base(dir), "tenant=")
		files, _ := filepath.Glob(filepath.Join(dir, "*.json"))
		for _, f := range files {
			b, err := os.ReadFile(f)
			if err != nil {
				return nil, fmt.Errorf("migrating state: %w", err)
			}
			if stateOf[tenant] == nil {
				stateOf[tenant] = map[string]string{}
			}
			stateOf[tenant][strings.TrimSuffix(filepath.Base(f), ".json")] = string(b)
		}
	}
	return stateOf, nil
}

// recordMigration writes, per tenant, the commit log row that makes the migrated data visible: the snapshots of
// its tables and its state. The tenants whose state was carried over go into m.
func (w *Warehouse) recordMigration(ctx context.Context, m *Migration, perTenant map[string]map[string]int64, stateOf map[string]map[string]string) error {
	tenants := slices.Collect(maps.Keys(perTenant))
	for t := range stateOf {
		if _, ok := perTenant[t]; !ok {
			tenants = append(tenants, t)
		}
	}
	slices.Sort(tenants)
	for _, tenant := range tenants {
		if err := checkName("tenant id", tenant); err != nil {
			return fmt.Errorf("migrating: %w", err)
		}
		if _, err := w.recordCommit(ctx, tenant, "migrated-"+time.Now().UTC().Format("20060102T150405Z"), perTenant[tenant], stateOf[tenant], 0); err != nil {
			return fmt.Errorf("migrating: recording tenant %s: %w", tenant, err)
		}
		if len(stateOf[tenant]) > 0 {
			m.Tenants = append(m.Tenants, tenant)
		}
	}
	return nil
}

// moveLegacyFiles moves the folder layout's files of tables, its state, commits and staging under _legacy/.
func (w *Warehouse) moveLegacyFiles(tables []*table.Table) error {
	for _, t := range tables {
		for _, dir := range legacyDirs(w.root, t) {
			if err := moveLegacy(w.root, dir, "tenant=*"); err != nil {
				return err
			}
		}
	}
	for _, d := range []string{"_state", "_commits", dirStaging} {
		if err := moveLegacy(w.root, w.root, d); err != nil {
			return err
		}
	}
	return nil
}

// moveLegacy moves the entries of dir matching pattern to the same place under root/_legacy.
func moveLegacy(root, dir, pattern string) error {
	ms, err := filepath.Glob(filepath.Join(dir, pattern))
	if err != nil {
		return err
	}
	for _, p := range ms {
		rel, err := filepath.Rel(root, p)
		if err != nil {
			return err
		}
		dst := filepath.Join(root, LegacyDir, rel)
		if err := os.MkdirAll(filepath.Dir(dst), DirMode); err != nil {
			return err
		}
		if err := os.Rename(p, dst); err != nil {
			return fmt.Errorf("moving %s aside: %w", p, err)
		}
	}
	return nil
}

// migrateTable rewrites a table's legacy files into its Iceberg table in one commit; it returns the snapshot id
// per tenant, the rows and the files migrated.
func (w *Warehouse) migrateTable(ctx context.Context, t *table.Table) (map[string]int64, int64, int, error) {
	layer, dir := legacyTableDir(w.root, t)
	if dir == "" {
		return nil, 0, 0, nil
	}
	paths, err := legacyFiles(dir, t)
	if err != nil {
		return nil, 0, 0, err
	}
	it, err := w.ensureTable(ctx, t, layer)
	if err != nil {
		return nil, 0, 0, err
	}
	if s := migratedSnapshot(it); s != nil { // an interrupted migration committed it already
		return tenantSnapshots(dir, paths, s.SnapshotID), 0, len(paths), nil
	}
	lm := &legacyMigration{w: w, t: t, it: it, layer: layer, writers: map[string]*TableWriter{}}
	defer lm.abort()
	for _, p := range paths {
		if err := lm.migrateFile(ctx, legacyTenant(dir, p), p); err != nil {
			return nil, 0, 0, err
		}
	}
	dfs := lm.dataFiles()
	res, err := w.commitTable(ctx, t.Name, iceberg.Properties{propMigrated: "folder layout", propRunID: "migrated"},
		func(ctx context.Context, _ *itable.Table, txn *itable.Transaction, props iceberg.Properties) error {
			return txn.AddDataFiles(ctx, dfs, props)
		})
	if err != nil {
		return nil, 0, 0, err
	}
	for _, tw := range lm.writers {
		tw.committed = true
	}
	return tenantSnapshots(dir, paths, res.SnapshotID), lm.rows, len(paths), nil
}

// legacyFiles are the Parquet files of a table's legacy folder dir, sorted: tenant=<id>/<column>=<day>/*.parquet,
// tenant=<id>/*.parquet for a log table.
func legacyFiles(dir string, t *table.Table) ([]string, error) {
	pattern := filepath.Join(dir, "tenant=*", "*=*", "*.parquet")
	if t.Kind == table.Log {
		pattern = filepath.Join(dir, "tenant=*", "*.parquet")
	}
	paths, err := filepath.Glob(pattern)
	if err != nil {
		return nil, err
	}
	slices.Sort(paths)
	return paths, nil
}

// tenantSnapshots maps the tenant of each legacy file in paths to the snapshot id holding the file's rows.
func tenantSnapshots(dir string, paths []string, id int64) map[string]int64 {
	snaps := map[string]int64{}
	for _, p := range paths {
		snaps[legacyTenant(dir, p)] = id
	}
	return snaps
}

// legacyDay is the partition of a legacy file of a snapshot or event table (tenant=<id>/<column>=<day>/…),
// checked to be a date; "" for a log table, which has none.
func legacyDay(t *table.Table, path string) (string, error) {
	if t.Kind == table.Log {
		return "", nil
	}
	_, day, _ := strings.Cut(filepath.Base(filepath.Dir(path)), "=")
	if _, err := time.Parse(time.DateOnly, day); err != nil {
		return "", fmt.Errorf("%s: partition %q is not a date", path, day)
	}
	return day, nil
}

// legacyMigration is the migration of one table's legacy files in progress: the files it wrote, not committed yet.
type legacyMigration struct {
	w        *Warehouse
	t        *table.Table
	it       *itable.Table
	layer    Layer
	writers  map[string]*TableWriter // by tenant: snapshot and event tables
	logFiles []iceberg.DataFile      // log tables
	rows     int64
}

// migrateFile writes the rows of the legacy file at path, of tenant, as one new file of its partition.
func (m *legacyMigration) migrateFile(ctx context.Context, tenant, path string) error {
	if err := checkName("tenant id", tenant); err != nil {
		return err
	}
	day, err := legacyDay(m.t, path)
	if err != nil {
		return err
	}
	err = readLegacy(ctx, memory.DefaultAllocator, path, m.t, func(rec arrow.RecordBatch) error {
		return m.write(ctx, tenant, day, rec)
	})
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return m.finishFile(tenant, day)
}

// write writes a batch of a legacy file: a log table's batch as a data file of its own, another table's into the
// tenant's open file of the day.
func (m *legacyMigration) write(ctx context.Context, tenant, day string, rec arrow.RecordBatch) error {
	m.rows += rec.NumRows()
	if m.t.Kind == table.Log {
		df, err := m.w.writeLogFile(ctx, m.it, m.t, tenant, "migrated", rec)
		if err != nil {
			return err
		}
		m.logFiles = append(m.logFiles, df)
		return nil
	}
	tw := m.writers[tenant]
	if tw == nil {
		var err error
		if tw, err = m.w.boundWriter(m.it, m.t, "migrated", tenant, WriterOptions{Layer: m.layer}); err != nil {
			return err
		}
		m.writers[tenant] = tw
	}
	return tw.writeTo(day, rec)
}

// finishFile finishes the file a legacy file of tenant and day was written into: one new file per legacy file. An
// empty legacy snapshot stays an empty snapshot.
func (m *legacyMigration) finishFile(tenant, day string) error {
	tw := m.writers[tenant]
	if tw == nil {
		return nil
	}
	if len(tw.files[day]) > 0 {
		return tw.finishOpen(day)
	}
	if m.t.Kind != table.Snapshot || slices.ContainsFunc(tw.closed, func(pf *partFile) bool { return pf.partition == day }) {
		return nil
	}
	pf, err := tw.open(day)
	if err != nil {
		return err
	}
	return tw.finish(pf)
}

// dataFiles are the files the migration wrote: a log table's, else each tenant's in tenant order.
func (m *legacyMigration) dataFiles() []iceberg.DataFile {
	dfs := m.logFiles
	for _, tenant := range slices.Sorted(maps.Keys(m.writers)) {
		dfs = append(dfs, m.writers[tenant].dataFiles()...)
	}
	return dfs
}

// abort removes the files of the writers whose table was not committed.
func (m *legacyMigration) abort() {
	for _, tw := range m.writers {
		if !tw.committed {
			tw.abort()
		}
	}
}

func migratedSnapshot(it *itable.Table) *itable.Snapshot {
	for _, s := range it.Metadata().Snapshots() {
		if s.Summary != nil && s.Summary.Properties[propMigrated] != "" {
			return &s
		}
	}
	return nil
}

// legacyTenant is the tenant of a legacy file: the tenant=<id> folder right under the table's folder.
func legacyTenant(dir, path string) string {
	rel, _ := filepath.Rel(dir, path)
	first, _, _ := strings.Cut(filepath.ToSlash(rel), "/")
	return strings.TrimPrefix(first, "tenant=")
}

// readLegacy reads a legacy file's batches as tbl declares them today: a column the file lacks (declared since)
// is null, a column the declaration dropped is left out.
func readLegacy(ctx context.Context, mem memory.Allocator, path string, tbl *table.Table, each func(arrow.RecordBatch) error) error {
	r, err := file.OpenParquetFile(path, false, file.WithReadProps(parquet.NewReaderProperties(mem)))
	if err != nil {
		return err
	}
	defer r.Close()
	fr, err := pqarrow.NewFileReader(r, pqarrow.ArrowReadProperties{BatchSize: 64 * 1024}, mem)
	if err != nil {
		return err
	}
	rr, err := fr.GetRecordReader(ctx, nil, nil)
	if err != nil {
		return err
	}
	defer rr.Release()
	for rr.Next() {
		rec := rr.RecordBatch()
		out, err := conform(mem, rec, tbl)
		if err != nil {
			return err
		}
		err = each(out)
		out.Release()
		if err != nil {
			return err
		}
	}
	return rr.Err()
}

func conform(mem memory.Allocator, rec arrow.RecordBatch, tbl *table.Table) (arrow.RecordBatch, error) {
	cols := make([]arrow.Array, len(tbl.Columns))
	defer func() {
		for _, c := range cols {
			if c != nil {
				c.Release()
			}
		}
	}()
	for i, c := range tbl.Columns {
		idx := rec.Schema().FieldIndices(c.Name)
		if len(idx) == 0 {
			cols[i] = array.MakeArrayOfNull(mem, c.Type, int(rec.NumRows()))
			continue
		}
		col := rec.Column(idx[0])
		if !arrow.TypeEqual(col.DataType(), c.Type) {
			return nil, fmt.Errorf("column %s is %s in the file, %s in the declaration", c.Name, col.DataType(), c.Type)
		}
		col.Retain()
		cols[i] = col
	}
	return array.NewRecordBatch(tbl.Schema(), cols, rec.NumRows()), nil
}
