package table

import (
	"context"
	"fmt"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// Sink receives finished record batches of one table. Write must not keep rec after it returns unless it calls
// rec.Retain (and later Release) itself; the batcher releases rec once Write returns.
type Sink interface {
	Write(ctx context.Context, rec arrow.RecordBatch) error
}

// SinkFunc adapts a function to Sink.
type SinkFunc func(ctx context.Context, rec arrow.RecordBatch) error

// Write calls f.
func (f SinkFunc) Write(ctx context.Context, rec arrow.RecordBatch) error { return f(ctx, rec) }

// DefaultBatchRows is the number of rows per record batch when none is configured.
const DefaultBatchRows = 16 * 1024

// Batcher owns one reused RecordBuilder for a table and flushes a RecordBatch to its sink every N rows.
// It is not safe for concurrent use: one goroutine decodes pages into one batcher.
type Batcher struct {
	table *Table
	b     *array.RecordBuilder
	sink  Sink
	limit int
	n     int
	rows  int64
}

// NewBatcher returns a batcher for t that flushes every rows rows (DefaultBatchRows when rows <= 0).
func NewBatcher(mem memory.Allocator, t *Table, rows int, sink Sink) *Batcher {
	if rows <= 0 {
		rows = DefaultBatchRows
	}
	b := array.NewRecordBuilder(mem, t.Schema())
	return &Batcher{table: t, b: b, sink: sink, limit: rows}
}

// Builder returns the record builder: callers take its typed field builders once and append each row's values.
func (bt *Batcher) Builder() *array.RecordBuilder { return bt.b }

// RowDone counts a completely appended row and flushes when the batch is full.
func (bt *Batcher) RowDone(ctx context.Context) error {
	bt.n++
	bt.rows++
	if bt.n >= bt.limit {
		return bt.Flush(ctx)
	}
	return nil
}

// Rows is the number of rows appended over the batcher's life.
func (bt *Batcher) Rows() int64 { return bt.rows }

// Flush hands the rows appended so far (if any) to the sink as one RecordBatch.
func (bt *Batcher) Flush(ctx context.Context) error {
	if bt.n == 0 {
		return nil
	}
	rec := bt.b.NewRecordBatch()
	defer rec.Release()
	bt.n = 0
	if err := bt.sink.Write(ctx, rec); err != nil {
		return fmt.Errorf("writing %s batch: %w", bt.table.Name, err)
	}
	return nil
}

// Release frees the builder. Rows appended but not flushed are dropped.
func (bt *Batcher) Release() { bt.b.Release() }
