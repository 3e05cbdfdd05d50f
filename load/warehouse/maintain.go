package warehouse

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"
	icebergio "github.com/apache/iceberg-go/io"

	"github.com/apache/iceberg-go"
	itable "github.com/apache/iceberg-go/table"

	"github.com/seatlake/seatlake/internal/table"
)

// MaintainOptions tune Maintain. The zero value is the default.
type MaintainOptions struct {
	// Retention is how long snapshots are kept (default 30 days); the current snapshot is always kept.
	Retention time.Duration
	// OrphanAge is the age past which a file no snapshot references is removed (default 24 hours): it must exceed
	// the longest run, whose data files are unreferenced until it commits.
	OrphanAge time.Duration
	// Tables are the declarations of the tables whose small files are compacted (snapshot and event tables; the
	// others, and tables not listed, are not): the compacted files are written as a run writes them.
	Tables []*table.Table
	// CompactMinFiles is the number of files from which a tenant-day partition is compacted (default 2).
	CompactMinFiles int
	// CompactMaxBytes: a partition whose files add up to more is left as it is (default 128 MiB): its files are
	// not small.
	CompactMaxBytes int64
}

func (o MaintainOptions) withDefaults() MaintainOptions {
	if o.Retention <= 0 {
		o.Retention = 30 * 24 * time.Hour
	}
	if o.OrphanAge <= 0 {
		o.OrphanAge = 24 * time.Hour
	}
	if o.CompactMinFiles < 2 {
		o.CompactMinFiles = 2
	}
	if o.CompactMaxBytes <= 0 {
		o.CompactMaxBytes = 128 << 20
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
	// CompactedPartitions tenant-day partitions had their CompactedFiles small files rewritten into one file each.
	CompactedPartitions int
	CompactedFiles      int
	// TaggedSnapshots read tags were set or moved: the snapshot of each tenant's last complete run, kept by
	// expiry whatever its age.
	TaggedSnapshots int
}

// Maintain does to every table of the namespace what Iceberg engines expect of a maintenance job: it expires the
// snapshots older than the retention (removing the files only they referenced), rewrites the manifests (each
// commit adds one: planning reads fewer after), and removes orphan files (data files of runs that never
// committed, metadata files of lost commits) older than OrphanAge. Commits retry on concurrent jobs, as runs do,
// but run it outside the ingest window: every expiry and rewrite is a commit the runs must then retry against.
// The snapshot each tenant's last complete run recorded is never expired, however old (a tenant not run for
// weeks, or whose later run was killed between two table commits): maintain tags it first (readtags.go), so
// readers keep seeing exactly that run. Before all that, the small files of the tables in opts.Tables are
// compacted (see compact).
func (w *Warehouse) Maintain(ctx context.Context, opts MaintainOptions) ([]TableMaintenance, error) {
	o := opts.withDefaults()
	if err := w.checkNoLegacyFiles(); err != nil {
		return nil, err
	}
	// The snapshots readers read (each tenant's last complete run) are tagged before anything expires: a tag
	// keeps its snapshot whatever its age (readtags.go).
	read, err := w.readSnapshots(ctx)
	if err != nil {
		return nil, fmt.Errorf("maintaining: %w", err)
	}
	var out []TableMaintenance
	for id, err := range w.cat.ListTables(ctx, itable.Identifier{Namespace}) {
		if err != nil {
			return out, fmt.Errorf("listing the tables: %w", err)
		}
		name := id[len(id)-1]
		tm, err := w.maintainTable(ctx, name, o, read[name])
		if err != nil {
			return out, err
		}
		out = append(out, tm)
	}
	return out, nil
}

// checkNoLegacyFiles refuses a warehouse holding files of the folder layout: in a table's folder they would be
// taken for orphans. Migrate first.
func (w *Warehouse) checkNoLegacyFiles() error {
	for _, pattern := range []string{"_state", "raw/*/tenant=*", "marts/*/tenant=*", "*/tenant=*/*.parquet"} {
		if ms, _ := filepath.Glob(filepath.Join(w.root, pattern)); len(ms) > 0 {
			return fmt.Errorf("maintaining: %s holds files of the folder layout (%s): migrate it first, or they would be removed as orphans", w.root, ms[0])
		}
	}
	return nil
}

// maintainTable maintains the table name (see Maintain); recorded is, per tenant, the snapshot of it the tenant's
// last complete run recorded.
func (w *Warehouse) maintainTable(ctx context.Context, name string, o MaintainOptions, recorded map[string]int64) (TableMaintenance, error) {
	tm := TableMaintenance{Table: name}
	before, err := w.cat.LoadTable(ctx, ident(name))
	if err != nil {
		return tm, fmt.Errorf("maintaining %s: %w", name, err)
	}
	if before.CurrentSnapshot() == nil {
		return tm, nil
	}
	if decl := declaration(o.Tables, name); decl != nil && (decl.Kind == table.Snapshot || decl.Kind == table.Event) {
		if tm.CompactedPartitions, tm.CompactedFiles, err = w.compact(ctx, decl, o, recorded); err != nil {
			return tm, fmt.Errorf("maintaining %s: compacting small files: %w", name, err)
		}
		if before, err = w.cat.LoadTable(ctx, ident(name)); err != nil {
			return tm, fmt.Errorf("maintaining %s: %w", name, err)
		}
	}
	if tm.TaggedSnapshots, err = w.tagReadSnapshots(ctx, name, recorded); err != nil {
		return tm, fmt.Errorf("maintaining %s: %w", name, err)
	}
	after, rw, err := w.expireAndRewrite(ctx, name, o)
	if err != nil {
		return tm, err
	}
	tm.ExpiredSnapshots = expired(before, after)
	if rw != nil && !rw.IsNoOp() {
		tm.RewrittenManifests, tm.AddedManifests = len(rw.RewrittenManifests), len(rw.AddedManifests)
	}
	res, err := after.DeleteOrphanFiles(ctx, itable.WithFilesOlderThan(o.OrphanAge))
	if err != nil {
		return tm, fmt.Errorf("maintaining %s: removing orphan files: %w", name, err)
	}
	tm.OrphanFiles, tm.OrphanBytes = len(res.DeletedFiles), res.TotalSizeBytes
	w.log.Info("maintained table", "table", name, "compacted_partitions", tm.CompactedPartitions, "compacted_files", tm.CompactedFiles, "expired_snapshots", tm.ExpiredSnapshots, "rewritten_manifests", tm.RewrittenManifests,
		"orphan_files", tm.OrphanFiles, "orphan_bytes", tm.OrphanBytes)
	return tm, nil
}

// expireAndRewrite commits the expiry of the table's snapshots older than the retention (the current one kept),
// then the rewrite of its manifests; it returns the table as reloaded after, and what the rewrite did.
func (w *Warehouse) expireAndRewrite(ctx context.Context, name string, o MaintainOptions) (*itable.Table, *itable.RewriteManifestsResult, error) {
	expire := func(ctx context.Context, _ *itable.Table, txn *itable.Transaction, _ iceberg.Properties) error {
		return txn.ExpireSnapshots(itable.WithOlderThan(o.Retention), itable.WithRetainLast(1))
	}
	if _, err := w.commitTable(ctx, name, nil, expire); err != nil {
		return nil, nil, fmt.Errorf("maintaining %s: expiring snapshots: %w", name, err)
	}
	var rw *itable.RewriteManifestsResult
	rewrite := func(ctx context.Context, _ *itable.Table, txn *itable.Transaction, props iceberg.Properties) error {
		var err error
		rw, err = txn.RewriteManifests(ctx)
		return err
	}
	if _, err := w.commitTable(ctx, name, nil, rewrite); err != nil {
		return nil, nil, fmt.Errorf("maintaining %s: rewriting manifests: %w", name, err)
	}
	after, err := w.cat.LoadTable(ctx, ident(name))
	if err != nil {
		return nil, nil, fmt.Errorf("maintaining %s: %w", name, err)
	}
	return after, rw, nil
}

// expired counts the snapshots of before that after no longer has.
func expired(before, after *itable.Table) int {
	had := map[int64]bool{}
	for _, s := range before.Metadata().Snapshots() {
		had[s.SnapshotID] = true
	}
	for _, s := range after.Metadata().Snapshots() {
		delete(had, s.SnapshotID)
	}
	return len(had)
}

func declaration(tables []*table.Table, name string) *table.Table {
	for _, t := range tables {
		if t.Name == name {
			return t
		}
	}
	return nil
}

// compactRunID names the compacted files and the compaction's snapshot (seatlake.run-id).
const compactRunID = "compaction"

// errNothingToCompact stops a compaction commit whose partitions all changed since they were planned.
var errNothingToCompact = errors.New("every partition changed since it was read")

// compactGroup is one tenant-day partition being compacted: its files, and the file that replaces them.
type compactGroup struct {
	tenant, day string
	old         []iceberg.DataFile
	tw          *TableWriter
}

// compact rewrites the small files of each tenant-day partition of tbl into one file, in one replace commit (an
// Iceberg "replace" snapshot: the rows are the same, only their files change). It keeps the read set valid:
//   - only a partition whose current files are exactly those of the tenant's last committed transaction (the
//     snapshot the commit log records, which the views read) is compacted, so what a killed run left in the
//     table is never made part of it, and the compacted file holds the very rows the views show;
//   - the recorded snapshot still names the small files, so the views keep reading them, unchanged, until the
//     tenant's next complete run, whose snapshot names the compacted file (same rows); the small files are
//     removed when that recorded snapshot expires (it is tagged until then: readtags.go);
//   - a run committing the partition meanwhile wins: the commit re-checks each partition against the table as
//     reloaded, and a partition that changed is left out (its compacted file removed).
//
// recorded is, per tenant, the snapshot of tbl its last complete run recorded (the commit log, read once by Maintain).
// It returns the partitions compacted and the files they had.
func (w *Warehouse) compact(ctx context.Context, tbl *table.Table, o MaintainOptions, recorded map[string]int64) (partitions, files int, err error) {
	it, err := w.cat.LoadTable(ctx, ident(tbl.Name))
	if err != nil {
		return 0, 0, err
	}
	cur := it.CurrentSnapshot()
	if cur == nil {
		return 0, 0, nil
	}
	_, dayField := partitionFieldIDs(it, tbl)
	if dayField < 0 {
		return 0, 0, nil
	}
	groups, err := w.planCompaction(it, cur, dayField, o, recorded)
	if err != nil || len(groups) == 0 {
		return 0, 0, err
	}
	defer w.abortCompaction(tbl, groups)
	for _, g := range groups {
		if err := w.rewriteGroup(ctx, it, tbl, g); err != nil {
			return 0, 0, fmt.Errorf("tenant %s, %s: %w", g.tenant, g.day, err)
		}
	}
	staged, err := w.commitCompaction(ctx, tbl, groups)
	if errors.Is(err, errNothingToCompact) {
		return 0, 0, nil
	}
	if err != nil {
		return 0, 0, err
	}
	for _, g := range staged {
		g.tw.committed = true
		partitions++
		files += len(g.old)
	}
	return partitions, files, nil
}

// planCompaction lists the partitions to compact, tenant by tenant: those whose current files (in cur) are
// exactly those of the snapshot the tenant's last complete run recorded, and are many and small enough.
func (w *Warehouse) planCompaction(it *itable.Table, cur *itable.Snapshot, dayField int, o MaintainOptions, recorded map[string]int64) ([]*compactGroup, error) {
	cache := map[string][]iceberg.DataFile{}
	var groups []*compactGroup
	for _, tenant := range slices.Sorted(maps.Keys(recorded)) {
		snap := it.SnapshotByID(recorded[tenant])
		if snap == nil {
			continue // expired by another engine despite its read tag: leave the tenant's files as they are
		}
		was, err := snapshotFiles(it, snap, w.fs, tenant, cache)
		if err != nil {
			return nil, err
		}
		now, err := snapshotFiles(it, cur, w.fs, tenant, cache)
		if err != nil {
			return nil, err
		}
		wasDays, nowDays := filesByDay(was, dayField), filesByDay(now, dayField)
		for _, d := range slices.Sorted(maps.Keys(nowDays)) {
			dfs := nowDays[d]
			if !o.smallFiles(dfs) || !samePaths(dfs, wasDays[d]) {
				continue
			}
			slices.SortFunc(dfs, func(a, b iceberg.DataFile) int { return strings.Compare(a.FilePath(), b.FilePath()) })
			groups = append(groups, &compactGroup{tenant: tenant, day: d, old: dfs})
		}
	}
	return groups, nil
}

// smallFiles says whether the files of a partition are to be compacted: at least CompactMinFiles, adding up to
// CompactMaxBytes at most.
func (o MaintainOptions) smallFiles(dfs []iceberg.DataFile) bool {
	var size int64
	for _, df := range dfs {
		size += df.FileSizeBytes()
	}
	return len(dfs) >= o.CompactMinFiles && size <= o.CompactMaxBytes
}

// filesByDay groups data files by their day partition (the partition field dayField).
func filesByDay(dfs []iceberg.DataFile, dayField int) map[string][]iceberg.DataFile {
	m := map[string][]iceberg.DataFile{}
	for _, df := range dfs {
		d := dayString(int64(dateValue(df.Partition()[dayField])))
		m[d] = append(m[d], df)
	}
	return m
}

// commitCompaction commits, in one replace commit, each group's compacted file in place of its files, but for a
// partition a run committed since it was planned; it returns the groups committed, errNothingToCompact when none.
func (w *Warehouse) commitCompaction(ctx context.Context, tbl *table.Table, groups []*compactGroup) ([]*compactGroup, error) {
	var staged []*compactGroup
	_, err := w.commitTable(ctx, tbl.Name, iceberg.Properties{propRunID: compactRunID},
		func(ctx context.Context, it *itable.Table, txn *itable.Transaction, props iceberg.Properties) error {
			var err error
			staged, err = w.stageCompaction(ctx, it, txn, props, tbl, groups)
			return err
		})
	return staged, err
}

// stageCompaction stages the replacement of the groups' files against the table as reloaded (it), re-checking
// each partition: one a run committed since it was planned is left out (the run wins).
func (w *Warehouse) stageCompaction(ctx context.Context, it *itable.Table, txn *itable.Transaction, props iceberg.Properties, tbl *table.Table, groups []*compactGroup) ([]*compactGroup, error) {
	var staged []*compactGroup
	cache := map[string][]iceberg.DataFile{}
	rw := txn.NewRewrite(props)
	for _, g := range groups {
		now, err := partitionFiles(it, cache, w.fs, tbl, g.tenant, g.day)
		if err != nil {
			return nil, err
		}
		if !samePaths(now, g.old) {
			continue // a run committed the partition since: it wins
		}
		for _, df := range g.old {
			rw.DeleteFile(df)
		}
		for _, df := range g.tw.dataFiles() {
			rw.AddDataFile(df)
		}
		staged = append(staged, g)
	}
	if len(staged) == 0 {
		return nil, errNothingToCompact
	}
	return staged, rw.Commit(ctx)
}

// abortCompaction removes the compacted files that were not committed.
func (w *Warehouse) abortCompaction(tbl *table.Table, groups []*compactGroup) {
	for _, g := range groups {
		if g.tw != nil && !g.tw.committed {
			if aerr := g.tw.abort(); aerr != nil {
				w.log.Warn("could not remove a compacted file that was not committed; maintenance removes it as an orphan", "table", tbl.Name, "err", aerr)
			}
		}
	}
}

// rewriteGroup writes the rows of g's files, in order, into new files of its partition (one, unless it holds more
// than WriterOptions.FileRows rows), as a run writes them: the declared columns with their field ids, the
// partition column inside. A column declared after a file was written is null in its rows, as readers saw it.
func (w *Warehouse) rewriteGroup(ctx context.Context, it *itable.Table, tbl *table.Table, g *compactGroup) error {
	tw, err := w.boundWriter(it, tbl, compactRunID, g.tenant, WriterOptions{})
	if err != nil {
		return err
	}
	g.tw = tw
	mem := memory.DefaultAllocator
	for _, df := range g.old {
		path, err := w.LocalCopy(ctx, df.FilePath())
		if err != nil {
			return err
		}
		err = readLegacy(ctx, mem, path, tbl, func(rec arrow.RecordBatch) error {
			if rec.NumRows() == 0 {
				return nil
			}
			return tw.writeTo(g.day, rec)
		})
		if err != nil {
			return fmt.Errorf("%s: %w", df.FilePath(), err)
		}
	}
	if len(tw.files) == 0 && len(tw.closed) == 0 { // only empty files: the partition stays one empty file
		pf, err := tw.open(g.day)
		if err != nil {
			return err
		}
		tw.files[g.day] = []*partFile{pf}
	}
	return tw.finishOpen()
}

// partitionFiles lists the table's current files of one tenant and day.
func partitionFiles(it *itable.Table, cache map[string][]iceberg.DataFile, fs icebergio.IO, tbl *table.Table, tenant, day string) ([]iceberg.DataFile, error) {
	snap := it.CurrentSnapshot()
	if snap == nil {
		return nil, nil
	}
	files, err := snapshotFiles(it, snap, fs, tenant, cache)
	if err != nil {
		return nil, err
	}
	_, dayField := partitionFieldIDs(it, tbl)
	return filesByDay(files, dayField)[day], nil
}

// samePaths reports whether a and b are the same set of files.
func samePaths(a, b []iceberg.DataFile) bool {
	if len(a) != len(b) {
		return false
	}
	seen := map[string]bool{}
	for _, df := range a {
		seen[df.FilePath()] = true
	}
	for _, df := range b {
		if !seen[df.FilePath()] {
			return false
		}
	}
	return true
}
