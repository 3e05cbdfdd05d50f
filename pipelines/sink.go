package pipelines

import (
	"context"
	"sync/atomic"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/seatlake/seatlake/internal/table"
)

// Queue decouples decoding from writing: producers (one per stream or window) hand over record batches; one
// goroutine drains them into the table's file writer. The queue is short, so memory stays bounded by a few batches
// per table while JSON decoding and Parquet encoding run on different cores. A run uses one Queue per table; the
// benchmark uses the same type to convert saved pages, so it measures the production path.
type Queue = asyncSink

// NewQueue returns a queue holding at most depth batches.
func NewQueue(depth int) *Queue { return newAsyncSink(depth) }

// Close tells the draining goroutine that no more batches come. Call it once every producer has returned.
func (s *asyncSink) Close() { s.close() }

// Drain writes every queued batch to dst until the queue is closed; see drain.
func (s *asyncSink) Drain(ctx context.Context, dst table.Sink) error { return s.drain(ctx, dst) }

// Rows is the number of rows queued so far.
func (s *asyncSink) Rows() int64 { return s.rows.Load() }

type asyncSink struct {
	ch   chan arrow.RecordBatch
	rows atomic.Int64
}

func newAsyncSink(depth int) *asyncSink {
	return &asyncSink{ch: make(chan arrow.RecordBatch, depth)}
}

// Write retains rec and queues it; it blocks while the queue is full and gives up when ctx ends.
func (s *asyncSink) Write(ctx context.Context, rec arrow.RecordBatch) error {
	rec.Retain()
	select {
	case s.ch <- rec:
		s.rows.Add(rec.NumRows())
		return nil
	case <-ctx.Done():
		rec.Release()
		return ctx.Err()
	}
}

// close tells the writer no more batches come. Call it once every producer has returned.
func (s *asyncSink) close() { close(s.ch) }

func (s *asyncSink) rowCount() *atomic.Int64 { return &s.rows }

// drain writes every queued batch to dst until the queue is closed. After an error it keeps releasing what arrives,
// so producers never block on a dead writer.
func (s *asyncSink) drain(ctx context.Context, dst table.Sink) error {
	var first error
	for rec := range s.ch {
		if first == nil {
			first = dst.Write(ctx, rec)
		}
		rec.Release()
	}
	return first
}

var _ table.Sink = (*asyncSink)(nil)
