package pipelines

import (
	"context"
	"runtime"
	"sync"
	"sync/atomic"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/seatlake/seatlake/internal/table"
)

// Queue decouples decoding from writing: producers (one per stream or window) hand over record batches; lanes
// goroutines drain them into the table's file writer, each batch taken by whichever lane is free. The queue is
// short, so memory stays bounded by a few batches per table (its depth plus one batch per lane being written),
// while JSON decoding and Parquet encoding run on different cores, and several batches are encoded at once. A run
// uses one Queue per table; the benchmark uses the same type to convert saved pages, so it measures the
// production path.
type Queue = asyncSink

// NewQueue returns a queue holding at most depth batches, drained by one goroutine.
func NewQueue(depth int) *Queue { return newAsyncSink(depth, 1) }

// NewParallelQueue returns a queue holding at most depth batches, drained by lanes goroutines at once: Drain's
// sink must take concurrent writes (warehouse.TableWriter does) and the order of rows across batches is not kept.
func NewParallelQueue(depth, lanes int) *Queue { return newAsyncSink(depth, lanes) }

// Close tells the draining goroutines that no more batches come. Call it once every producer has returned.
func (s *asyncSink) Close() { s.close() }

// Drain writes every queued batch to dst until the queue is closed; see drain.
func (s *asyncSink) Drain(ctx context.Context, dst table.Sink) error { return s.drain(ctx, dst) }

// Rows is the number of rows queued so far.
func (s *asyncSink) Rows() int64 { return s.rows.Load() }

type asyncSink struct {
	ch    chan arrow.RecordBatch
	lanes int
	rows  atomic.Int64
}

func newAsyncSink(depth, lanes int) *asyncSink {
	return &asyncSink{ch: make(chan arrow.RecordBatch, depth), lanes: max(lanes, 1)}
}

// WriteLanes is how many batches of one table a run encodes at once: one per core, at most 4 (beyond that the
// decoders, not the encoders, are the limit, and each lane may hold another open file per partition).
func WriteLanes() int { return min(runtime.GOMAXPROCS(0), 4) }

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

// close tells the writers no more batches come. Call it once every producer has returned.
func (s *asyncSink) close() { close(s.ch) }

func (s *asyncSink) rowCount() *atomic.Int64 { return &s.rows }

// drain writes every queued batch to dst until the queue is closed, from s.lanes goroutines that it waits for, and
// returns the first error. After an error every lane keeps releasing what arrives without writing it, so producers
// never block on a dead writer.
func (s *asyncSink) drain(ctx context.Context, dst table.Sink) error {
	var (
		mu    sync.Mutex
		first error
		dead  atomic.Bool
		wg    sync.WaitGroup
	)
	lane := func() {
		for rec := range s.ch {
			if !dead.Load() {
				if err := dst.Write(ctx, rec); err != nil {
					mu.Lock()
					if first == nil {
						first = err
					}
					mu.Unlock()
					dead.Store(true)
				}
			}
			rec.Release()
		}
	}
	for range s.lanes - 1 {
		wg.Go(lane)
	}
	lane()
	wg.Wait()
	return first
}

var _ table.Sink = (*asyncSink)(nil)
