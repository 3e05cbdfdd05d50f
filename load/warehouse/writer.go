package warehouse

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/compute"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
	"github.com/apache/iceberg-go"
	itable "github.com/apache/iceberg-go/table"
	"github.com/google/uuid"

	"github.com/seatlake/seatlake/internal/table"
)

// TableWriter writes one table's record batches into the run's data files, in the Iceberg table's data location,
// each file written once; Commit adds them to the table. It implements table.Sink.
//
// Write may be called from several goroutines at once (unless BufferRows is set, when calls take turns): each
// call encodes into a file of its partition that no other call is using, opening another file of the partition
// when all of them are busy. So a writer fed by N goroutines keeps N Parquet encoders busy, and a partition ends
// up in as many files as writes to it overlapped (one, when a single goroutine writes). Rows keep their order
// within a batch, not across the batches of concurrent calls: the tables' rows have no order (readers sort or
// aggregate; event tables are de-duplicated by the views). Rows may be read from any goroutine.
type TableWriter struct {
	txn        *Txn
	tbl        *table.Table
	props      *parquet.WriterProperties
	arrowProps pqarrow.ArrowWriterProperties
	mem        memory.Allocator
	timeCol    int // event tables: the EventTime column

	// Set by bind, from the Iceberg table: the files' schema (with field ids) and where they go.
	bindMu sync.Mutex
	it     *itable.Table
	ws     *arrow.Schema
	types  []arrow.DataType

	turns sync.Mutex // buffered mode: one Write at a time (evict finishes other calls' files)

	mu        sync.Mutex             // guards the fields below; never held while a file is encoded
	files     map[string][]*partFile // open files not in use by a Write, by partition value (a date)
	seq       map[string]int         // files started per partition
	closed    []*partFile
	buffered  int64  // buffered mode: rows in unfinished row groups over all open files
	clock     uint64 // orders writes, for finishing the least recently written file first
	err       error  // the first write error: the files are suspect, so the writer refuses more and the run aborts
	rows      atomic.Int64
	committed bool // its table's commit succeeded: its files belong to the table now
}

// partFile is one Parquet file being written.
type partFile struct {
	partition string // the day, YYYY-MM-DD
	seq       int    // its number among the partition's files
	day       int32
	location  string // where the file is, as the table records it
	out       io.WriteCloser
	cw        *countingWriter
	buf       *bufio.Writer
	fw        *pqarrow.FileWriter
	dates     arrow.Array // the partition day, repeated: the partition column of each batch is a slice of it
	rows      int64       // rows written to the file
	buffered  int64       // buffered mode: rows of its unfinished row group, held in memory
	lastWrite uint64
	df        iceberg.DataFile // set when finished
}

func newTableWriter(t *Txn, tbl *table.Table) (*TableWriter, error) {
	if err := checkName("table name", tbl.Name); err != nil {
		return nil, err
	}
	tw := &TableWriter{
		txn: t, tbl: tbl, mem: t.opts.Allocator, files: map[string][]*partFile{}, seq: map[string]int{},
		arrowProps: pqarrow.NewArrowWriterProperties(pqarrow.WithStoreSchema(), pqarrow.WithAllocator(t.opts.Allocator)),
	}
	switch tbl.Kind {
	case table.Snapshot:
	case table.Event:
		tw.timeCol = tbl.ColumnIndex(tbl.EventTime)
		if tw.timeCol < 0 {
			return nil, fmt.Errorf("opening %s writer: event time column %q is not declared", tbl.Name, tbl.EventTime)
		}
	default:
		return nil, fmt.Errorf("opening %s writer: a %s table is not written in a run transaction", tbl.Name, tbl.Kind)
	}
	tw.props = parquetProps(tbl, t.opts)
	return tw, nil
}

// boundWriter is a TableWriter of tbl bound to the Iceberg table it as loaded, outside a run's transaction: what a
// migration and a compaction write their files with, under their own run id, one tenant's each.
func (w *Warehouse) boundWriter(it *itable.Table, tbl *table.Table, runID, tenant string, opts WriterOptions) (*TableWriter, error) {
	txn := &Txn{w: w, runID: runID, tenantID: tenant, opts: opts.withDefaults()}
	tw, err := newTableWriter(txn, tbl)
	if err != nil {
		return nil, err
	}
	tw.it = it
	if tw.ws, tw.types, err = writeSchema(tbl, it.Schema()); err != nil {
		return nil, err
	}
	return tw, nil
}

// bind loads (or creates) the Iceberg table on first use and derives the files' schema from it.
func (tw *TableWriter) bind(ctx context.Context) error {
	tw.bindMu.Lock()
	defer tw.bindMu.Unlock()
	if tw.it != nil {
		return nil
	}
	it, err := tw.txn.w.ensureTable(ctx, tw.tbl, tw.txn.opts.Layer)
	if err != nil {
		return err
	}
	ws, types, err := writeSchema(tw.tbl, it.Schema())
	if err != nil {
		return fmt.Errorf("%s: %w", tw.tbl.Name, err)
	}
	tw.it, tw.ws, tw.types = it, ws, types
	return nil
}

// parquetProps: dictionary encoding pays for repeated values (app names, UPNs, countries) and is pure cost for
// values that never repeat, which the declaration flags as high-cardinality. The min/max statistics of such
// strings (random ids, IP addresses) span nearly everything and never prune a row group, so they are not kept;
// high-cardinality timestamps keep theirs, since time ranges prune well.
func parquetProps(tbl *table.Table, o WriterOptions) *parquet.WriterProperties {
	opts := []parquet.WriterProperty{
		parquet.WithCompression(o.Compression),
		parquet.WithCompressionLevel(o.CompressionLevel),
		parquet.WithMaxRowGroupLength(int64(o.RowGroupRows)),
		parquet.WithDictionaryDefault(true),
		parquet.WithAllocator(o.Allocator),
		parquet.WithCreatedBy("seatlake"),
	}
	for _, c := range tbl.Columns {
		if !c.HighCardinality {
			continue
		}
		p := parquet.ColumnPath{c.Name}
		if _, ok := c.Type.(*arrow.ListType); ok {
			p = parquet.ColumnPath{c.Name, "list", "element"}
		}
		opts = append(opts, parquet.WithDictionaryPath(p, false))
		if c.Type.ID() == arrow.STRING {
			opts = append(opts, parquet.WithStatsPath(p, false))
		}
	}
	return parquet.NewWriterProperties(opts...)
}

// Rows is the number of rows written so far.
func (tw *TableWriter) Rows() int64 { return tw.rows.Load() }

// Write appends rec; it does not keep rec. Rows of an event table go to the partition of their event time's UTC
// date. After an error the writer refuses further writes and the transaction can only be aborted.
func (tw *TableWriter) Write(ctx context.Context, rec arrow.RecordBatch) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if tw.txn.opts.BufferRows > 0 {
		tw.turns.Lock()
		defer tw.turns.Unlock()
	}
	if err := tw.failed(); err != nil {
		return fmt.Errorf("%s: an earlier write failed: %w", tw.tbl.Name, err)
	}
	if !rec.Schema().Equal(tw.tbl.Schema()) {
		return fmt.Errorf("%s: batch schema %s does not match the declaration %s", tw.tbl.Name, rec.Schema(), tw.tbl.Schema())
	}
	if rec.NumRows() == 0 {
		return nil
	}
	if err := tw.bind(ctx); err != nil {
		return err // nothing written: the writer stays usable
	}
	var err error
	if tw.tbl.Kind == table.Event {
		err = tw.writeEvents(ctx, rec)
	} else {
		err = tw.writeTo(tw.txn.date, rec)
	}
	if err != nil {
		tw.fail(err) // part of rec may be in the files: committing them now would store a partial batch
	}
	return err
}

// failed is the first write error, if any.
func (tw *TableWriter) failed() error {
	tw.mu.Lock()
	defer tw.mu.Unlock()
	return tw.err
}

// fail records err unless an earlier error is recorded.
func (tw *TableWriter) fail(err error) {
	tw.mu.Lock()
	defer tw.mu.Unlock()
	if tw.err == nil {
		tw.err = err
	}
}

const usPerDay = int64(24 * time.Hour / time.Microsecond)

// utcDay is the number of the UTC day holding the microsecond timestamp v (floor division: before 1970 too).
func utcDay(v int64) int64 {
	d := v / usPerDay
	if v%usPerDay < 0 {
		d--
	}
	return d
}

func dayString(d int64) string { return time.Unix(d*86400, 0).UTC().Format(time.DateOnly) }

// writeEvents routes rows to their day. Extractors fetch by time window, so a batch is nearly always a few runs
// of one day each: those are written as zero-copy slices. A batch whose days alternate row by row is gathered
// per day instead, so that it does not become thousands of one-row writes.
func (tw *TableWriter) writeEvents(ctx context.Context, rec arrow.RecordBatch) error {
	ts, ok := rec.Column(tw.timeCol).(*array.Timestamp)
	if !ok {
		return fmt.Errorf("%s: event time column %s is %s, not a timestamp", tw.tbl.Name, tw.tbl.EventTime, rec.Column(tw.timeCol).DataType())
	}
	if ts.NullN() > 0 {
		for i := range ts.Len() {
			if ts.IsNull(i) {
				return fmt.Errorf("%s: row %d has no %s, so it has no event_date partition", tw.tbl.Name, i, tw.tbl.EventTime)
			}
		}
	}
	vals := ts.TimestampValues()
	n := len(vals)
	runs, days := 0, map[int64]bool{}
	prev := int64(0)
	for i, v := range vals {
		d := utcDay(int64(v))
		if i == 0 || d != prev {
			runs++
			days[d] = true
			prev = d
		}
	}
	if runs == 1 {
		return tw.writeTo(dayString(prev), rec)
	}
	if runs <= 2*len(days)+8 {
		for start := 0; start < n; {
			d := utcDay(int64(vals[start]))
			end := start + 1
			for end < n && utcDay(int64(vals[end])) == d {
				end++
			}
			part := rec.NewSlice(int64(start), int64(end))
			err := tw.writeTo(dayString(d), part)
			part.Release()
			if err != nil {
				return err
			}
			start = end
		}
		return nil
	}
	return tw.gatherByDay(ctx, rec, vals)
}

func (tw *TableWriter) gatherByDay(ctx context.Context, rec arrow.RecordBatch, vals []arrow.Timestamp) error {
	rows := map[int64][]int32{}
	for i, v := range vals {
		d := utcDay(int64(v))
		rows[d] = append(rows[d], int32(i))
	}
	cctx := compute.WithAllocator(ctx, tw.mem)
	for _, d := range slices.Sorted(maps.Keys(rows)) {
		idx := array.NewInt32Builder(tw.mem)
		idx.AppendValues(rows[d], nil)
		indices := idx.NewInt32Array()
		idx.Release()
		out, err := compute.Take(cctx, *compute.DefaultTakeOptions(), compute.NewDatumWithoutOwning(rec), compute.NewDatumWithoutOwning(indices))
		indices.Release()
		if err != nil {
			return fmt.Errorf("%s: grouping rows by day: %w", tw.tbl.Name, err)
		}
		part := out.(*compute.RecordDatum).Value
		err = tw.writeTo(dayString(d), part)
		out.Release()
		if err != nil {
			return err
		}
	}
	return nil
}

// writeTo appends rec to a file of the partition that no other call is using, starting files as needed.
// Unbuffered (the default), each call becomes row groups of its own; buffered, row groups fill across calls and
// evict bounds what they hold.
func (tw *TableWriter) writeTo(partition string, rec arrow.RecordBatch) error {
	o := tw.txn.opts
	for off, n := int64(0), rec.NumRows(); off < n; {
		pf, err := tw.checkout(partition)
		if err != nil {
			return err
		}
		size := min(n-off, o.FileRows-pf.rows)
		if err := tw.encode(pf, rec, off, size); err != nil {
			tw.checkin(pf) // open again, so that abort closes and removes it
			return fmt.Errorf("writing %s: %w", pf.location, err)
		}
		tw.rows.Add(size)
		off += size
		if pf.rows >= o.FileRows {
			if err := tw.finish(pf); err != nil {
				return err
			}
		} else {
			tw.checkin(pf)
		}
		if o.BufferRows > 0 {
			if err := tw.evict(pf); err != nil {
				return err
			}
		}
	}
	return nil
}

// encode writes rows [off, off+size) of rec into pf, a file the caller has checked out.
func (tw *TableWriter) encode(pf *partFile, rec arrow.RecordBatch, off, size int64) error {
	part, err := tw.fileRecord(pf, rec, off, size)
	if err != nil {
		return err
	}
	defer part.Release()
	if tw.txn.opts.BufferRows == 0 {
		if err := pf.fw.Write(part); err != nil {
			return err
		}
		pf.rows += size
		return nil
	}
	if err := pf.fw.WriteBuffered(part); err != nil {
		return err
	}
	pf.rows += size
	inGroup, err := pf.fw.RowGroupNumRows()
	if err != nil {
		return err
	}
	tw.mu.Lock()
	tw.buffered += int64(inGroup) - pf.buffered
	tw.mu.Unlock()
	pf.buffered = int64(inGroup)
	return nil
}

// checkout takes an open file of the partition that no other call is using, or starts one.
func (tw *TableWriter) checkout(partition string) (*partFile, error) {
	tw.mu.Lock()
	defer tw.mu.Unlock()
	if open := tw.files[partition]; len(open) > 0 {
		pf := open[len(open)-1]
		tw.setOpen(partition, open[:len(open)-1])
		return pf, nil
	}
	return tw.open(partition)
}

// checkin hands pf back: the next write to its partition may take it.
func (tw *TableWriter) checkin(pf *partFile) {
	tw.mu.Lock()
	defer tw.mu.Unlock()
	tw.clock++
	pf.lastWrite = tw.clock
	tw.files[pf.partition] = append(tw.files[pf.partition], pf)
}

// setOpen sets the partition's open files, dropping the partition when there are none. tw.mu is held.
func (tw *TableWriter) setOpen(partition string, open []*partFile) {
	if len(open) == 0 {
		delete(tw.files, partition)
		return
	}
	tw.files[partition] = open
}

// finishOpen finishes the open files of the partitions, each in the order they were started (partitions sorted
// when all). No Write may be running.
func (tw *TableWriter) finishOpen(partitions ...string) error {
	if len(partitions) == 0 {
		partitions = slices.Sorted(maps.Keys(tw.files))
	}
	for _, p := range partitions {
		open := tw.files[p]
		slices.SortFunc(open, func(a, b *partFile) int { return a.seq - b.seq })
		delete(tw.files, p)
		for i, pf := range open {
			if err := tw.finish(pf); err != nil {
				tw.files[p] = open[i+1:] // still open: abort closes and removes them
				return err
			}
		}
	}
	return nil
}

// fileRecord is rows [off, off+size) of rec as the file stores them: the declared columns (lists relabelled with
// their element's field id; no copy) and the partition day column.
func (tw *TableWriter) fileRecord(pf *partFile, rec arrow.RecordBatch, off, size int64) (arrow.RecordBatch, error) {
	if pf.dates == nil || int64(pf.dates.Len()) < size {
		if pf.dates != nil {
			pf.dates.Release()
		}
		b := array.NewDate32Builder(tw.mem)
		vals := make([]arrow.Date32, max(size, int64(min(tw.txn.opts.RowGroupRows, 64*1024))))
		for i := range vals {
			vals[i] = arrow.Date32(pf.day)
		}
		b.AppendValues(vals, nil)
		pf.dates = b.NewArray()
		b.Release()
	}
	cols := make([]arrow.Array, 0, len(tw.types)+1)
	defer func() {
		for _, c := range cols {
			c.Release()
		}
	}()
	for i, typ := range tw.types {
		col := rec.Column(i)
		if off > 0 || size < rec.NumRows() {
			col = array.NewSlice(col, off, off+size)
			cols = append(cols, relabel(col, typ))
			col.Release()
		} else {
			cols = append(cols, relabel(col, typ))
		}
	}
	cols = append(cols, array.NewSlice(pf.dates, 0, size))
	return array.NewRecordBatch(tw.ws, cols, size), nil
}

// evict finishes the least recently written files (never current) until the buffered rows fit the budget. It
// finishes the file, not just its row group: pqarrow ends a row group only by starting the next one, which would
// stay empty if no more rows came (valid Parquet, but not every reader takes it). More rows of the partition go
// to a new file.
func (tw *TableWriter) evict(current *partFile) error {
	for tw.buffered > tw.txn.opts.BufferRows {
		var lru *partFile
		for _, open := range tw.files {
			for _, pf := range open {
				if pf != current && pf.buffered > 0 && (lru == nil || pf.lastWrite < lru.lastWrite) {
					lru = pf
				}
			}
		}
		if lru == nil {
			return nil
		}
		tw.setOpen(lru.partition, slices.DeleteFunc(tw.files[lru.partition], func(pf *partFile) bool { return pf == lru }))
		if err := tw.finish(lru); err != nil {
			return err
		}
	}
	return nil
}

// open starts a file of the partition, checked out to the caller. tw.mu is held.
func (tw *TableWriter) open(partition string) (*partFile, error) {
	day, err := time.Parse(time.DateOnly, partition)
	if err != nil {
		return nil, fmt.Errorf("%s: partition %q: %w", tw.tbl.Name, partition, err)
	}
	tw.seq[partition]++
	// Names are unique (the run, a sequence, a random part): a file is written once and never replaced.
	loc := fmt.Sprintf("%s/data/%s=%s/%s=%s/%s-%d-%s.parquet", tw.it.Location(), table.TenantID.Name, tw.txn.tenantID,
		partitionColumn(tw.tbl), partition, tw.txn.runID, tw.seq[partition], uuid.NewString()[:8])
	out, err := tw.txn.w.create(loc)
	if err != nil {
		return nil, fmt.Errorf("creating %s: %w", loc, err)
	}
	cw := &countingWriter{w: out}
	buf := bufio.NewWriterSize(cw, 256<<10)
	fw, err := pqarrow.NewFileWriter(tw.ws, buf, tw.props, tw.arrowProps)
	if err != nil {
		out.Close()
		return nil, fmt.Errorf("starting parquet file %s: %w", loc, err)
	}
	pf := &partFile{partition: partition, seq: tw.seq[partition], day: int32(day.Unix() / 86400), location: loc, out: out, cw: cw, buf: buf, fw: fw}
	return pf, nil
}

// finish writes the file's last row group and footer, makes it durable and describes it for the commit (from
// the writer's own metadata: the file is not read back). pf is no longer among the open files: checked out, or
// taken from them.
func (tw *TableWriter) finish(pf *partFile) error {
	tw.mu.Lock()
	tw.buffered -= pf.buffered
	tw.closed = append(tw.closed, pf) // listed even when it fails: Abort removes it
	tw.mu.Unlock()
	pf.buffered = 0
	if pf.dates != nil {
		pf.dates.Release()
		pf.dates = nil
	}
	err := pf.fw.Close()
	if err == nil {
		err = pf.buf.Flush()
	}
	if cerr := pf.out.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("finishing %s: %w", pf.location, err)
	}
	md, err := pf.fw.FileMetadata()
	if err != nil {
		return fmt.Errorf("finishing %s: %w", pf.location, err)
	}
	pv := map[int]any{}
	spec := tw.it.Spec()
	for _, f := range spec.Fields() {
		switch f.Name {
		case table.TenantID.Name:
			pv[f.FieldID] = tw.txn.tenantID
		case partitionColumn(tw.tbl):
			pv[f.FieldID] = iceberg.Date(pf.day)
		}
	}
	df, err := itable.DataFileFromMetadata(itable.DataFileArgs{
		Schema: tw.it.Schema(), Spec: tw.it.Spec(), Format: iceberg.ParquetFile, Metadata: md,
		FilePath: pf.location, FileSize: pf.cw.n, Content: iceberg.EntryContentData, PartitionValues: pv,
		SortOrderID: tw.it.SortOrder().OrderID(), Properties: tw.it.Properties(), FormatVersion: tw.it.Metadata().Version(),
	})
	if err != nil {
		return fmt.Errorf("describing %s for the commit: %w", pf.location, err)
	}
	pf.df = df
	// Its Parquet writer and 256 KiB buffer are done with: a finished file keeps only what the commit needs, so
	// the transaction (held until the run ends) does not keep every file's writer.
	pf.fw, pf.buf = nil, nil
	return nil
}

// close finishes every open file. A snapshot table that got no rows still gets its (empty) file: the day's
// snapshot is empty, and it must replace an earlier one of the same day.
func (tw *TableWriter) close(ctx context.Context) error {
	if tw.err != nil {
		return tw.err
	}
	if err := tw.bind(ctx); err != nil {
		return err
	}
	if tw.tbl.Kind == table.Snapshot && len(tw.closed) == 0 && len(tw.files) == 0 {
		pf, err := tw.open(tw.txn.date)
		if err != nil {
			tw.err = err
			return err
		}
		tw.files[pf.partition] = []*partFile{pf}
	}
	if err := tw.finishOpen(); err != nil {
		tw.err = err
		return err
	}
	return nil
}

// dataFiles are the finished files, for the commit.
func (tw *TableWriter) dataFiles() []iceberg.DataFile {
	dfs := make([]iceberg.DataFile, 0, len(tw.closed))
	for _, pf := range tw.closed {
		dfs = append(dfs, pf.df)
	}
	return dfs
}

// plan stages the table's commit: a snapshot table replaces the tenant's files of the day (whatever run wrote
// them, a killed one included), an event table appends.
func (tw *TableWriter) plan(ctx context.Context, it *itable.Table, txn *itable.Transaction, props iceberg.Properties) error {
	add := tw.dataFiles()
	if tw.tbl.Kind == table.Snapshot {
		old, err := partitionFiles(it, nil, tw.txn.w.fs, tw.tbl, tw.txn.tenantID, tw.txn.date)
		if err != nil {
			return err
		}
		if len(old) > 0 {
			return txn.ReplaceDataFilesWithDataFiles(ctx, old, add, props)
		}
	}
	// Without iceberg-go's duplicate check (a read of every manifest of the table on every commit): the files'
	// names are new, and an unknown outcome is looked up by commit id before a retry (see appendLog).
	return txn.AddDataFiles(ctx, add, props, itable.WithoutDuplicateCheck())
}

// abort closes the open files and removes every file of the table, unless its commit succeeded (its snapshot
// names them).
func (tw *TableWriter) abort() error {
	for p, open := range tw.files {
		for _, pf := range open {
			// Errors do not matter: the file is being thrown away.
			_ = pf.fw.Close()
			_ = pf.out.Close()
			if pf.dates != nil {
				pf.dates.Release()
				pf.dates = nil
			}
			tw.closed = append(tw.closed, pf)
		}
		delete(tw.files, p)
	}
	tw.buffered = 0
	if tw.committed {
		return nil
	}
	var errs []error
	for _, pf := range tw.closed {
		if err := tw.txn.w.remove(pf.location); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	tw.closed = nil
	return errors.Join(errs...)
}

// countingWriter counts the bytes written through it: the file's size, for the commit.
type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}
