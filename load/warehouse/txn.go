package warehouse

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet/compress"
	"github.com/apache/iceberg-go"

	"github.com/seatlake/seatlake/internal/table"
)

// Layer is the top folder a table lands in.
type Layer string

const (
	Raw   Layer = "raw"   // extracted tables
	Marts Layer = "marts" // transform outputs
)

// WriterOptions tune a transaction's Parquet files. The zero value is the production default.
type WriterOptions struct {
	// RowGroupRows caps the rows of a row group (default 128Ki).
	RowGroupRows int
	// FileRows starts a new file of the same partition after this many rows (default 8Mi).
	FileRows int64
	// BufferRows chooses how row groups are cut. Zero (the default): every batch is encoded and written as it
	// arrives, so a row group holds one batch's rows of one partition (at most RowGroupRows) and memory is bounded
	// by the batch, whatever the number of days in flight. Above zero: row groups fill across batches up to
	// RowGroupRows, holding at most BufferRows rows (never less than RowGroupRows) in unfinished row groups over
	// all the table's open files; past that, the least recently written file is finished early and its partition
	// continues in a new file. Unfinished row groups are expensive in arrow-go (about the rows' uncompressed size,
	// plus three page buffers per column), which is why this is opt-in.
	BufferRows int64
	// Codec is the Parquet compression by name: zstd, snappy, gzip or none ("" = Compression, else the default).
	Codec string
	// Compression is the codec (default DefaultCodec; the zero value, Uncompressed, means the default).
	Compression compress.Compression
	// CompressionLevel is the codec's level (default 1 for zstd and gzip: most of their ratio at a fraction of their
	// time; gzip's own default, 5 here, made 1M sign-ins 4% smaller (49.0 against 50.9 MiB) for about 30% more CPU).
	CompressionLevel int
	// Allocator serves the encoders' buffers (default memory.DefaultAllocator).
	Allocator memory.Allocator
	// Layer is the top folder, raw (default) or marts.
	Layer Layer
}

const (
	defaultRowGroupRows = 128 * 1024
	defaultFileRows     = 8 << 20
)

func (o WriterOptions) withDefaults() WriterOptions {
	if o.RowGroupRows <= 0 {
		o.RowGroupRows = defaultRowGroupRows
	}
	if o.FileRows <= 0 {
		o.FileRows = defaultFileRows
	}
	if o.BufferRows > 0 {
		o.BufferRows = max(o.BufferRows, int64(o.RowGroupRows))
	}
	if c, ok := codecs[o.Codec]; ok && o.Codec != "" {
		o.Compression = c
	} else if o.Compression == compress.Codecs.Uncompressed {
		o.Compression = codecs[DefaultCodec]
	}
	if o.CompressionLevel == 0 {
		o.CompressionLevel = compress.DefaultCompressionLevel
		if o.Compression == compress.Codecs.Zstd || o.Compression == compress.Codecs.Gzip {
			o.CompressionLevel = 1
		}
	}
	if o.Allocator == nil {
		o.Allocator = memory.DefaultAllocator
	}
	if o.Layer == "" {
		o.Layer = Raw
	}
	return o
}

// Txn is one run's writes to one tenant. Its data files are written as batches arrive; Commit commits each table
// (one Iceberg snapshot per table), then records the run's commit in the commit log: readers and State see a
// transaction only once that record is there, so a transaction killed between two table commits is invisible.
type Txn struct {
	w        *Warehouse
	runID    string
	tenantID string
	date     string // snapshot_date of snapshot tables
	day      int32  // the same, in days since 1970-01-01
	opts     WriterOptions

	mu        sync.Mutex
	writers   map[string]*TableWriter
	rejects   map[string]*RejectWriter
	state     map[string]string
	done      bool // committed or aborted
	retries   int
	snapshots map[string]int64
}

// Begin starts run runID's transaction for tenantID; snapshot tables land in snapshot_date = the UTC date of
// snapshotDate. A run id names one transaction: it is what the commit log and the snapshots' summaries record.
func (w *Warehouse) Begin(runID, tenantID string, snapshotDate time.Time, opts WriterOptions) (*Txn, error) {
	if err := checkName("run id", runID); err != nil {
		return nil, fmt.Errorf("beginning a run: %w", err)
	}
	if err := checkName("tenant id", tenantID); err != nil {
		return nil, fmt.Errorf("beginning run %s: %w", runID, err)
	}
	o := opts.withDefaults()
	if o.Layer != Raw && o.Layer != Marts {
		return nil, fmt.Errorf("beginning run %s: unknown layer %q", runID, o.Layer)
	}
	d := snapshotDate.UTC()
	return &Txn{
		w: w, runID: runID, tenantID: tenantID, date: d.Format(time.DateOnly), day: int32(utcDay(d.UnixMicro())), opts: o,
		writers: map[string]*TableWriter{}, rejects: map[string]*RejectWriter{}, state: map[string]string{},
		snapshots: map[string]int64{},
	}, nil
}

// Writer returns the transaction's writer for tbl, the same one on every call. Opening a snapshot table's writer
// commits the run to that table's snapshot: committed without rows, it replaces the tenant's files of the day with
// an empty file (the source is empty today). Tables whose writer is never opened are left as they are.
func (t *Txn) Writer(tbl *table.Table) (*TableWriter, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.done {
		return nil, fmt.Errorf("opening %s writer: the transaction is finished", tbl.Name)
	}
	if tw, ok := t.writers[tbl.Name]; ok {
		if tw.tbl != tbl {
			return nil, fmt.Errorf("opening %s writer: two different declarations share the name", tbl.Name)
		}
		return tw, nil
	}
	tw, err := newTableWriter(t, tbl)
	if err != nil {
		return nil, err
	}
	t.writers[tbl.Name] = tw
	return tw, nil
}

// PutState stages a stream's state (a copy of value); State returns it once the transaction is committed, never
// before. The stream name must be a plain name (Commit rejects it otherwise).
func (t *Txn) PutState(stream string, value []byte) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.state[stream] = string(value)
}

// Commit finishes the data files, commits every table the transaction wrote (snapshot tables replace the tenant's
// files of the day, event tables append; each with bounded retries on concurrent commits), then appends the
// transaction's record to the commit log: the snapshot id of each table and the state. That record is the commit
// point: an error (or a kill) before it leaves readers and State on the previous transaction, and the next run
// of the tenant supersedes what was committed (snapshot tables) or adds it again (event tables, deduplicated by
// the views). Call Commit after every writer's last Write has returned.
func (t *Txn) Commit(ctx context.Context) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.done {
		return fmt.Errorf("committing run %s: the transaction is already finished", t.runID)
	}
	for stream := range t.state {
		if err := checkName("state stream", stream); err != nil {
			return fmt.Errorf("committing run %s: %w", t.runID, err)
		}
	}
	if err := t.finishFiles(ctx); err != nil {
		return err
	}
	if err := t.w.fail("sealed"); err != nil {
		return err
	}
	if err := t.commitTables(ctx); err != nil {
		return err
	}
	if len(t.writers) > 0 || len(t.state) > 0 {
		res, err := t.w.recordCommit(ctx, t.tenantID, t.runID, t.snapshots, t.state, t.retries)
		t.retries += res.Retries
		if err != nil {
			return fmt.Errorf("committing run %s: recording the commit: %w", t.runID, err)
		}
	}
	t.done = true
	for _, rw := range t.rejects {
		rw.cleanup()
	}
	return t.w.fail("recorded")
}

// finishFiles finishes every table's data files and stores the reject files, in name order.
func (t *Txn) finishFiles(ctx context.Context) error {
	for _, n := range slices.Sorted(maps.Keys(t.writers)) {
		if err := t.writers[n].close(ctx); err != nil {
			return fmt.Errorf("committing run %s: finishing %s: %w", t.runID, n, err)
		}
	}
	for _, n := range slices.Sorted(maps.Keys(t.rejects)) {
		if err := t.rejects[n].publish(ctx); err != nil {
			return fmt.Errorf("committing run %s: storing the reject file of %s: %w", t.runID, n, err)
		}
	}
	return nil
}

// commitTables commits each table the transaction wrote, recording its snapshot, with the transaction's run,
// tenant and state in the snapshots' summaries.
func (t *Txn) commitTables(ctx context.Context) error {
	props := iceberg.Properties{propRunID: t.runID, propTenantID: t.tenantID}
	for k, v := range t.state {
		props[propState+k] = v
	}
	for _, n := range commitOrder(slices.Sorted(maps.Keys(t.writers)), t.tenantID) {
		tw := t.writers[n]
		if len(tw.closed) == 0 {
			// An event table that got no rows: nothing to commit, and readers keep the tenant's earlier snapshot.
			tw.committed = true
			continue
		}
		res, err := t.w.commitTable(ctx, n, props, tw.plan)
		t.retries += res.Retries
		if err != nil {
			return fmt.Errorf("committing run %s: %w", t.runID, err)
		}
		tw.committed = true
		t.snapshots[n] = res.SnapshotID
		if err := t.w.fail("committed " + n); err != nil {
			return err
		}
	}
	return nil
}

// commitOrder is the order a tenant's transaction commits its tables in (names, sorted): jobs that finish together
// would all commit the first table in name order at once and queue on each table in turn; starting at a table
// that depends on the tenant spreads them over the tables. The order is free: readers see nothing of the
// transaction before the commit log's row, which comes last.
func commitOrder(names []string, tenant string) []string {
	if len(names) <= 1 {
		return names
	}
	h := fnv.New32a()
	h.Write([]byte(tenant))
	k := int(h.Sum32() % uint32(len(names)))
	return slices.Concat(names[k:], names[:k])
}

// Retries is the number of commit attempts past the first that Commit needed (concurrent commits of other jobs,
// unknown outcomes checked): what the run's row reports.
func (t *Txn) Retries() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.retries
}

// Snapshots is the snapshot id of every table Commit committed, by table name.
func (t *Txn) Snapshots() map[string]int64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	return maps.Clone(t.snapshots)
}

// Abort discards the transaction: it removes the data files of the tables it did not commit (a table already
// committed keeps them: its snapshot names them) and the reject files. It is idempotent and a no-op after a
// successful Commit.
func (t *Txn) Abort() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.done {
		return nil
	}
	t.done = true
	var errs []error
	for _, tw := range t.writers {
		errs = append(errs, tw.abort())
	}
	for _, rw := range t.rejects {
		rw.abort()
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("aborting run %s: %w", t.runID, err)
	}
	return nil
}

// DefaultCodec is the warehouse's Parquet compression unless configured: gzip. `make bench` measured 1M sign-ins
// at 49 MiB with gzip (51 MiB at level 1, the default now), 50 MiB with zstd, 74 MiB with snappy and 114 MiB uncompressed, written in about the same time
// (decoding dominates) and read back by DuckDB in 0.15 s, 0.11 s, 0.10 s and 0.09 s; gzip and snappy are the codecs
// every Parquet reader documents (Power BI and Fabric, Spark, Athena, BigQuery, pandas), and gzip is the smaller.
const DefaultCodec = "gzip"

var codecs = map[string]compress.Compression{
	"zstd": compress.Codecs.Zstd, "snappy": compress.Codecs.Snappy, "gzip": compress.Codecs.Gzip, "none": compress.Codecs.Uncompressed,
}

// CheckCodec says whether name is a codec WriterOptions.Codec takes.
func CheckCodec(name string) error {
	if _, ok := codecs[name]; !ok {
		return fmt.Errorf("parquet compression %q: want snappy, zstd, gzip or none", name)
	}
	return nil
}
