package warehouse

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/compress"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"

	"github.com/seatlake/seatlake/extract/table"
)

// Layer is the top folder a table lands in.
type Layer string

const (
	Raw   Layer = "raw"   // extracted tables
	Marts Layer = "marts" // transform outputs
)

// WriterOptions tune the Parquet files.
type WriterOptions struct {
	RowGroupRows     int64                // rows per row group (default 128k)
	FileRows         int64                // start a new file after this many rows (default 8M)
	Compression      compress.Compression // default zstd
	CompressionLevel int                  // default 1: most of zstd's ratio at a fraction of its time
	Allocator        memory.Allocator     // default memory.DefaultAllocator
	Layer            Layer                // default Raw
}

func (o WriterOptions) withDefaults() WriterOptions {
	if o.RowGroupRows <= 0 {
		o.RowGroupRows = 128 * 1024
	}
	if o.FileRows <= 0 {
		o.FileRows = 8 << 20
	}
	if o.Compression == compress.Codecs.Uncompressed {
		o.Compression = compress.Codecs.Zstd
	}
	if o.CompressionLevel == 0 {
		o.CompressionLevel = 1
	}
	if o.Allocator == nil {
		o.Allocator = memory.DefaultAllocator
	}
	if o.Layer == "" {
		o.Layer = Raw
	}
	return o
}

// Txn is one run's writes; nothing of it is visible before Commit.
type Txn struct {
	w        *Warehouse
	runID    string
	tenantID string
	date     string
	opts     WriterOptions

	mu      sync.Mutex
	writers map[string]*TableWriter
	rejects map[string]*RejectWriter
	state   map[string]string
	done    bool
}

// Begin starts run runID's transaction; snapshot tables land in snapshot_date = the UTC date of snapshotDate.
func (w *Warehouse) Begin(runID, tenantID string, snapshotDate time.Time, opts WriterOptions) (*Txn, error) {
	if runID == "" || tenantID == "" || filepath.Base(runID) != runID {
		return nil, fmt.Errorf("beginning a run: bad run id %q or tenant id %q", runID, tenantID)
	}
	if err := os.MkdirAll(filepath.Join(w.root, dirStaging, runID), 0o755); err != nil {
		return nil, fmt.Errorf("creating staging for run %s: %w", runID, err)
	}
	return &Txn{
		w: w, runID: runID, tenantID: tenantID, date: snapshotDate.UTC().Format("2006-01-02"),
		opts: opts.withDefaults(), writers: map[string]*TableWriter{}, rejects: map[string]*RejectWriter{}, state: map[string]string{},
	}, nil
}

// Writer returns the transaction's writer for tbl (the same one on every call).
func (t *Txn) Writer(tbl *table.Table) (*TableWriter, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.done {
		return nil, errors.New("the transaction is finished")
	}
	if tw, ok := t.writers[tbl.Name]; ok {
		return tw, nil
	}
	tw := &TableWriter{txn: t, tbl: tbl, files: map[string]*partFile{}, props: t.props(tbl)}
	if tbl.Kind == table.Event {
		tw.timeCol = tbl.ColumnIndex(tbl.EventTime)
	}
	t.writers[tbl.Name] = tw
	return tw, nil
}

func (t *Txn) props(tbl *table.Table) *parquet.WriterProperties {
	o := t.opts
	opts := []parquet.WriterProperty{
		parquet.WithCompression(o.Compression),
		parquet.WithCompressionLevel(o.CompressionLevel),
		parquet.WithMaxRowGroupLength(o.RowGroupRows),
		parquet.WithDictionaryDefault(true),
		parquet.WithAllocator(o.Allocator),
		parquet.WithCreatedBy("seatlake"),
	}
	for _, c := range tbl.Columns {
		if c.HighCardinality {
			opts = append(opts, parquet.WithDictionaryFor(c.Name, false))
		}
	}
	return parquet.NewWriterProperties(opts...)
}

// PutState stages a stream's state; it becomes visible with the commit, never before.
func (t *Txn) PutState(stream string, value []byte) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.state[stream] = string(value)
}

// Commit makes every file and state of the run visible at once.
func (t *Txn) Commit(ctx context.Context) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	m, err := t.seal(ctx)
	if err != nil {
		return err
	}
	if err := t.w.apply(m); err != nil {
		return fmt.Errorf("applying commit (the next run finishes it): %w", err)
	}
	return nil
}

// seal finishes the files and writes the commit marker: after it returns nil the run is committed.
func (t *Txn) seal(ctx context.Context) (*manifest, error) {
	if t.done {
		return nil, errors.New("the transaction is already finished")
	}
	m := manifest{RunID: t.runID, TenantID: t.tenantID, State: t.state, Created: time.Now().UTC()}
	for _, n := range sortedKeys(t.writers) {
		tw := t.writers[n]
		if err := tw.close(); err != nil {
			return nil, fmt.Errorf("closing %s: %w", n, err)
		}
		for _, f := range tw.closed {
			m.Moves = append(m.Moves, move{From: f.staged, To: f.final})
		}
		if tw.tbl.Kind == table.Snapshot && tw.rows > 0 {
			m.Replace = append(m.Replace, tw.partitionDir(t.date))
		}
	}
	for _, n := range sortedKeys(t.rejects) {
		rw := t.rejects[n]
		ok, err := rw.close()
		if err != nil {
			return nil, fmt.Errorf("closing the reject file of %s: %w", n, err)
		}
		if ok {
			m.Moves = append(m.Moves, move{From: rw.staged, To: rw.final})
		}
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	b, err := json.MarshalIndent(m, "", " ")
	if err != nil {
		return nil, fmt.Errorf("encoding commit marker: %w", err)
	}
	// The commit point: once the marker exists, the run is committed and Open will finish applying it.
	if err := writeFileAtomic(filepath.Join(t.w.root, dirCommits, t.runID+".json"), b); err != nil {
		return nil, fmt.Errorf("writing commit marker: %w", err)
	}
	t.done = true
	return &m, nil
}

// Abort discards the run's files. It is idempotent and a no-op after Commit.
func (t *Txn) Abort() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.done {
		return nil
	}
	t.done = true
	for _, tw := range t.writers {
		tw.abort()
	}
	for _, rw := range t.rejects {
		rw.close()
	}
	return os.RemoveAll(filepath.Join(t.w.root, dirStaging, t.runID))
}

// TableWriter writes one table's batches into the run's staging files. One goroutine at a time.
type TableWriter struct {
	txn     *Txn
	tbl     *table.Table
	props   *parquet.WriterProperties
	timeCol int

	files  map[string]*partFile // open files by partition value
	closed []*partFile
	seq    map[string]int
	rows   int64
}

type partFile struct {
	f      *os.File
	fw     *pqarrow.FileWriter
	staged string // relative to the root
	final  string
	rows   int64
}

// Rows is the number of rows written.
func (tw *TableWriter) Rows() int64 { return tw.rows }

func (tw *TableWriter) partitionDir(value string) string {
	key := "snapshot_date"
	if tw.tbl.Kind == table.Event {
		key = "event_date"
	}
	return filepath.Join(string(tw.txn.opts.Layer), tw.tbl.Name, "tenant="+tw.txn.tenantID, key+"="+value)
}

// Write appends rec. Rows of an event table go to the partition of their event time's UTC date.
func (tw *TableWriter) Write(ctx context.Context, rec arrow.RecordBatch) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if !rec.Schema().Equal(tw.tbl.Schema()) {
		return fmt.Errorf("%s: batch schema %s does not match the declaration", tw.tbl.Name, rec.Schema())
	}
	if tw.tbl.Kind != table.Event {
		return tw.writeTo(tw.txn.date, rec)
	}
	ts := rec.Column(tw.timeCol).(*array.Timestamp)
	n := int(rec.NumRows())
	const usPerDay = int64(24 * time.Hour / time.Microsecond)
	day := func(i int) int64 {
		v := int64(ts.Value(i))
		if v < 0 {
			return (v - usPerDay + 1) / usPerDay
		}
		return v / usPerDay
	}
	for start := 0; start < n; {
		d := day(start)
		end := start + 1
		for end < n && day(end) == d {
			end++
		}
		date := time.Unix(d*86400, 0).UTC().Format("2006-01-02")
		if start == 0 && end == n {
			return tw.writeTo(date, rec)
		}
		part := rec.NewSlice(int64(start), int64(end))
		err := tw.writeTo(date, part)
		part.Release()
		if err != nil {
			return err
		}
		start = end
	}
	return nil
}

func (tw *TableWriter) writeTo(partition string, rec arrow.RecordBatch) error {
	pf, ok := tw.files[partition]
	if !ok {
		var err error
		if pf, err = tw.open(partition); err != nil {
			return err
		}
		tw.files[partition] = pf
	}
	if err := pf.fw.Write(rec); err != nil {
		return fmt.Errorf("writing %s: %w", pf.staged, err)
	}
	pf.rows += rec.NumRows()
	tw.rows += rec.NumRows()
	if pf.rows >= tw.txn.opts.FileRows {
		delete(tw.files, partition)
		return tw.finish(pf)
	}
	return nil
}

func (tw *TableWriter) open(partition string) (*partFile, error) {
	if tw.seq == nil {
		tw.seq = map[string]int{}
	}
	tw.seq[partition]++
	name := fmt.Sprintf("%s-%d.parquet", tw.txn.runID, tw.seq[partition])
	final := filepath.Join(tw.partitionDir(partition), name)
	staged := filepath.Join(dirStaging, tw.txn.runID, final)
	abs := filepath.Join(tw.txn.w.root, staged)
	if err := os.MkdirAll(filepath.Dir(abs), 0o755); err != nil {
		return nil, err
	}
	f, err := os.Create(abs)
	if err != nil {
		return nil, fmt.Errorf("creating %s: %w", staged, err)
	}
	fw, err := pqarrow.NewFileWriter(tw.tbl.Schema(), nopCloser{f}, tw.props,
		pqarrow.NewArrowWriterProperties(pqarrow.WithStoreSchema(), pqarrow.WithAllocator(tw.txn.opts.Allocator)))
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("starting parquet file %s: %w", staged, err)
	}
	return &partFile{f: f, fw: fw, staged: staged, final: final}, nil
}

// finish writes the footer and makes the file durable.
func (tw *TableWriter) finish(pf *partFile) error {
	err := pf.fw.Close()
	if err == nil {
		err = pf.f.Sync()
	}
	if cerr := pf.f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("finishing %s: %w", pf.staged, err)
	}
	tw.closed = append(tw.closed, pf)
	return nil
}

func (tw *TableWriter) close() error {
	parts := make([]string, 0, len(tw.files))
	for p := range tw.files {
		parts = append(parts, p)
	}
	sort.Strings(parts)
	for _, p := range parts {
		if err := tw.finish(tw.files[p]); err != nil {
			return err
		}
		delete(tw.files, p)
	}
	return nil
}

func (tw *TableWriter) abort() {
	for p, pf := range tw.files {
		pf.fw.Close()
		pf.f.Close()
		delete(tw.files, p)
	}
}

// nopCloser keeps pqarrow from closing the file: finish fsyncs it before closing.
type nopCloser struct{ *os.File }

func (nopCloser) Close() error { return nil }

// WriteRun writes a run's summary row to runs/tenant=<id>/<run_id>.parquet, atomically.
func (w *Warehouse) WriteRun(ctx context.Context, tbl *table.Table, tenantID, runID string, rec arrow.RecordBatch) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	dir := filepath.Join(w.root, dirRuns, "tenant="+tenantID)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(dir, ".tmp-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	fw, err := pqarrow.NewFileWriter(tbl.Schema(), nopCloser{tmp},
		parquet.NewWriterProperties(parquet.WithCompression(compress.Codecs.Zstd), parquet.WithCreatedBy("seatlake")),
		pqarrow.NewArrowWriterProperties(pqarrow.WithStoreSchema()))
	if err != nil {
		tmp.Close()
		return err
	}
	err = fw.Write(rec)
	if cerr := fw.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("writing run summary: %w", err)
	}
	if err := os.Rename(tmp.Name(), filepath.Join(dir, runID+".parquet")); err != nil {
		return err
	}
	syncDir(dir)
	return nil
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
