package warehouse

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/seatlake/seatlake/extract/graph"
)

// Writes from several goroutines at once (as a run's queue lanes make them) land every row exactly once, whatever
// the files they are spread over; buffered mode takes turns.
func TestConcurrentWritesLandEveryRow(t *testing.T) {
	tests := []struct {
		name string
		opts WriterOptions
	}{
		{name: "default"},
		{name: "files roll after FileRows", opts: WriterOptions{FileRows: 3, RowGroupRows: 2}},
		{name: "buffered", opts: WriterOptions{RowGroupRows: 4, BufferRows: 4}},
	}
	const writers, batches, perBatch = 4, 6, 5
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w, mem := testWarehouse(t, Config{})
			tt.opts.Allocator = mem
			var want []string
			recs := make([][]arrow.RecordBatch, writers)
			for g := range writers {
				for b := range batches {
					var idAt []string
					for i := range perBatch {
						id := fmt.Sprintf("g%d-b%d-%d", g, b, i)
						want = append(want, id)
						// Two days per batch, so that writes also meet in the same partition.
						at := time.Date(2026, 11, 20+i%2, 1, g, b, i*1000, time.UTC).Format(time.RFC3339Nano)
						idAt = append(idAt, id, at)
					}
					recs[g] = append(recs[g], signIns(t, mem, "r1", idAt...))
				}
			}
			txn, err := w.Begin("r1", "t1", day, tt.opts)
			if err != nil {
				t.Fatal(err)
			}
			tw, err := txn.Writer(graph.SignIns)
			if err != nil {
				t.Fatal(err)
			}
			var wg sync.WaitGroup
			errs := make([]error, writers)
			for g := range writers {
				wg.Go(func() {
					for _, r := range recs[g] {
						if err := tw.Write(context.Background(), r); err != nil {
							errs[g] = err
							return
						}
					}
				})
			}
			wg.Wait()
			for _, err := range errs {
				if err != nil {
					t.Fatal(err)
				}
			}
			if err := txn.Commit(context.Background()); err != nil {
				t.Fatal(err)
			}
			for _, rs := range recs {
				for _, r := range rs {
					r.Release()
				}
			}
			if got := tw.Rows(); got != int64(len(want)) {
				t.Errorf("Rows() = %d, want %d", got, len(want))
			}
			slices.Sort(want)
			if got := scan(t, w, graph.SignIns.Name, "id"); !slices.Equal(got, want) {
				t.Errorf("the table holds %d ids, want %d:\n%v", len(got), len(want), got)
			}
			for f := range tableFiles(t, w, graph.SignIns) {
				if _, ok := map[string]bool{"event_date=2026-11-20": true, "event_date=2026-11-21": true}[f[:len("event_date=2026-11-20")]]; !ok {
					t.Errorf("file %s outside the rows' days", f)
				}
			}
		})
	}
}
