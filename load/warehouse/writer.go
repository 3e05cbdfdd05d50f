package warehouse

import (
	"bufio"
	"context"
	"fmt"
	"maps"
	"os"
	"path"
	"path/filepath"
	"slices"
	"sync/atomic"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/compute"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"

	"github.com/seatlake/seatlake/extract/table"
)

// TableWriter writes one table's record batches into the run's staging files. It implements table.Sink. One
// goroutine at a time may call Write; Rows may be read from any goroutine.
type TableWriter struct {
	txn        *Txn
	tbl        *table.Table
	props      *parquet.WriterProperties
	arrowProps pqarrow.ArrowWriterProperties
	mem        memory.Allocator
	timeCol    int // event tables: the EventTime column

	files    map[string]*partFile // open files by partition value (a date)
	seq      map[string]int       // files started per partition
	closed   []*partFile
	buffered int64  // buffered mode: rows in unfinished row groups over all open files
	clock    uint64 // orders writes, for finishing the least recently written file first
	err      error  // the first write error: the files are suspect, so the writer refuses more and the run aborts
	rows     atomic.Int64
}

// partFile is one Parquet file being written.
type partFile struct {
	partition string
	final     string // slash path relative to the root; the staged copy is under _staging/<run_id>/
	f         *os.File
	buf       *bufio.Writer
	fw        *pqarrow.FileWriter
	rows      int64 // rows written to the file
	buffered  int64 // buffered mode: rows of its unfinished row group, held in memory
	lastWrite uint64
}

func newTableWriter(t *Txn, tbl *table.Table) (*TableWriter, error) {
	if err := checkName("table name", tbl.Name); err != nil {
		return nil, err
	}
	tw := &TableWriter{
		txn: t, tbl: tbl, mem: t.opts.Allocator, files: map[string]*partFile{}, seq: map[string]int{},
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

func (tw *TableWriter) partitionDir(value string) string {
	key := "snapshot_date"
	if tw.tbl.Kind == table.Event {
		key = "event_date"
	}
	return path.Join(string(tw.txn.opts.Layer), tw.tbl.Name, "tenant="+tw.txn.tenantID, key+"="+value)
}

// Write appends rec; it does not keep rec. Rows of an event table go to the partition of their event time's UTC
// date. After an error the writer refuses further writes and the transaction can only be aborted.
func (tw *TableWriter) Write(ctx context.Context, rec arrow.RecordBatch) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if tw.err != nil {
		return fmt.Errorf("%s: an earlier write failed: %w", tw.tbl.Name, tw.err)
	}
	if !rec.Schema().Equal(tw.tbl.Schema()) {
		return fmt.Errorf("%s: batch schema %s does not match the declaration %s", tw.tbl.Name, rec.Schema(), tw.tbl.Schema())
	}
	if rec.NumRows() == 0 {
		return nil
	}
	var err error
	if tw.tbl.Kind == table.Event {
		err = tw.writeEvents(ctx, rec)
	} else {
		err = tw.writeTo(tw.txn.date, rec)
	}
	if err != nil {
		tw.err = err // part of rec may be in the files: committing them now would store a partial batch
	}
	return err
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

// writeTo appends rec to the partition's open file, starting files as needed. Unbuffered (the default), each
// call becomes row groups of its own; buffered, row groups fill across calls and evict bounds what they hold.
func (tw *TableWriter) writeTo(partition string, rec arrow.RecordBatch) error {
	o := tw.txn.opts
	for off, n := int64(0), rec.NumRows(); off < n; {
		pf := tw.files[partition]
		if pf == nil {
			var err error
			if pf, err = tw.open(partition); err != nil {
				return err
			}
		}
		size := min(n-off, o.FileRows-pf.rows)
		part := rec
		if off > 0 || size < n {
			part = rec.NewSlice(off, off+size)
		}
		var err error
		if o.BufferRows > 0 {
			err = pf.fw.WriteBuffered(part)
		} else {
			err = pf.fw.Write(part)
		}
		if part != rec {
			part.Release()
		}
		if err != nil {
			return fmt.Errorf("writing %s: %w", pf.final, err)
		}
		tw.clock++
		pf.lastWrite = tw.clock
		pf.rows += size
		tw.rows.Add(size)
		off += size
		if o.BufferRows > 0 {
			inGroup, err := pf.fw.RowGroupNumRows()
			if err != nil {
				return fmt.Errorf("writing %s: %w", pf.final, err)
			}
			tw.buffered += int64(inGroup) - pf.buffered
			pf.buffered = int64(inGroup)
		}
		if pf.rows >= o.FileRows {
			if err := tw.finish(pf); err != nil {
				return err
			}
		}
		if o.BufferRows > 0 {
			if err := tw.evict(pf); err != nil {
				return err
			}
		}
	}
	return nil
}

// evict finishes the least recently written files (never current) until the buffered rows fit the budget. It
// finishes the file, not just its row group: pqarrow ends a row group only by starting the next one, which would
// stay empty if no more rows came (valid Parquet, but not every reader takes it). More rows of the partition go
// to a new file.
func (tw *TableWriter) evict(current *partFile) error {
	for tw.buffered > tw.txn.opts.BufferRows {
		var lru *partFile
		for _, pf := range tw.files {
			if pf != current && pf.buffered > 0 && (lru == nil || pf.lastWrite < lru.lastWrite) {
				lru = pf
			}
		}
		if lru == nil {
			return nil
		}
		if err := tw.finish(lru); err != nil {
			return err
		}
	}
	return nil
}

func (tw *TableWriter) open(partition string) (*partFile, error) {
	tw.seq[partition]++
	final := path.Join(tw.partitionDir(partition), fmt.Sprintf("%s-%d.parquet", tw.txn.runID, tw.seq[partition]))
	abs := filepath.Join(tw.txn.w.root, dirStaging, tw.txn.runID, filepath.FromSlash(final))
	if err := os.MkdirAll(filepath.Dir(abs), DirMode); err != nil {
		return nil, fmt.Errorf("creating staging directory: %w", err)
	}
	f, err := os.OpenFile(abs, os.O_CREATE|os.O_EXCL|os.O_WRONLY, FileMode)
	if err != nil {
		return nil, fmt.Errorf("creating %s: %w", final, err)
	}
	buf := bufio.NewWriterSize(f, 256<<10)
	fw, err := pqarrow.NewFileWriter(tw.tbl.Schema(), buf, tw.props, tw.arrowProps)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("starting parquet file %s: %w", final, err)
	}
	pf := &partFile{partition: partition, final: final, f: f, buf: buf, fw: fw}
	tw.files[partition] = pf
	return pf, nil
}

// finish writes the file's last row group and footer and makes it durable.
func (tw *TableWriter) finish(pf *partFile) error {
	delete(tw.files, pf.partition)
	tw.buffered -= pf.buffered
	pf.buffered = 0
	err := pf.fw.Close()
	if err == nil {
		err = pf.buf.Flush()
	}
	if err == nil {
		err = pf.f.Sync()
	}
	if cerr := pf.f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("finishing %s: %w", pf.final, err)
	}
	tw.closed = append(tw.closed, pf)
	return nil
}

// close finishes every open file. A snapshot table that got no rows still gets its (empty) file: the day's
// snapshot is empty, and it must replace an earlier one of the same day.
func (tw *TableWriter) close() error {
	if tw.err != nil {
		return tw.err
	}
	if tw.tbl.Kind == table.Snapshot && len(tw.closed) == 0 && len(tw.files) == 0 {
		if _, err := tw.open(tw.txn.date); err != nil {
			return err
		}
	}
	for _, p := range slices.Sorted(maps.Keys(tw.files)) {
		if err := tw.finish(tw.files[p]); err != nil {
			tw.err = err
			return err
		}
	}
	return nil
}

// abort releases the open files' memory; the files themselves go with the staging directory.
func (tw *TableWriter) abort() {
	for p, pf := range tw.files {
		// Errors do not matter: the file is being thrown away.
		_ = pf.fw.Close()
		_ = pf.f.Close()
		delete(tw.files, p)
	}
	tw.buffered = 0
}
