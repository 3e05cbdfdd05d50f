package warehouse

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/seatlake/seatlake/extract/graph"
	"github.com/seatlake/seatlake/internal/table"
)

// signInBatches builds rows shaped like graph_signins as a run hands them over: days fetched as windows, four at
// a time, each window newest first, in batches of table.DefaultBatchRows, the windows' batches interleaved.
func signInBatches(mem memory.Allocator, rows, days int) []arrow.RecordBatch {
	rnd := rand.New(rand.NewPCG(1, 2))
	guid := func() string {
		return fmt.Sprintf("%08x-%04x-%04x-%04x-%012x", rnd.Uint32(), rnd.Uint32()&0xffff, rnd.Uint32()&0xffff,
			rnd.Uint32()&0xffff, rnd.Uint64()&0xffffffffffff)
	}
	users := make([]string, 5000)
	for i := range users {
		users[i] = guid()
	}
	apps := []string{"Office 365 Exchange Online", "Microsoft Teams", "Office 365 SharePoint Online", "Microsoft Azure Portal", "Power BI Service", "Dynamics CRM Online"}
	appIDs := make([]string, len(apps))
	for i := range appIDs {
		appIDs[i] = guid()
	}
	clients := []string{"Browser", "Mobile Apps and Desktop clients", "Exchange ActiveSync"}
	countries := []string{"US", "GB", "DE", "FR", "NL", "IN", "JP"}
	tenant := guid()
	extracted := time.Date(2026, 11, 23, 2, 0, 0, 0, time.UTC)
	end := extracted.Truncate(24 * time.Hour)

	schema := graph.SignIns.Schema()
	perDay := rows / days
	var out []arrow.RecordBatch
	for first := 0; first < days; first += 4 {
		builders := map[int]*array.RecordBuilder{}
		left := map[int]int{}
		for d := first; d < min(first+4, days); d++ {
			builders[d] = array.NewRecordBuilder(mem, schema)
			left[d] = perDay
		}
		for len(left) > 0 {
			for d := first; d < first+4; d++ {
				n, ok := left[d]
				if !ok {
					continue
				}
				b := builders[d]
				dayEnd := end.Add(-time.Duration(d) * 24 * time.Hour)
				batch := min(n, table.DefaultBatchRows)
				for i := range batch {
					u := rnd.IntN(len(users))
					a := rnd.IntN(len(apps))
					at := dayEnd.Add(-time.Duration(perDay-n+i+1) * (24 * time.Hour / time.Duration(perDay+1))).Add(time.Duration(rnd.IntN(1e6)) * time.Microsecond)
					b.Field(0).(*array.StringBuilder).Append(tenant)
					b.Field(1).(*array.StringBuilder).Append("20261123T020000Z-abcdef")
					b.Field(2).(*array.TimestampBuilder).Append(arrow.Timestamp(extracted.UnixMicro()))
					b.Field(3).(*array.StringBuilder).Append(guid())
					b.Field(4).(*array.TimestampBuilder).Append(arrow.Timestamp(at.UnixMicro()))
					b.Field(5).(*array.StringBuilder).Append(users[u])
					b.Field(6).(*array.StringBuilder).Append(fmt.Sprintf("user%04d@contoso.onmicrosoft.com", u))
					b.Field(7).(*array.StringBuilder).Append(appIDs[a])
					b.Field(8).(*array.StringBuilder).Append(apps[a])
					b.Field(9).(*array.StringBuilder).Append(appIDs[(a+1)%len(apps)])
					b.Field(10).(*array.StringBuilder).Append(apps[(a+1)%len(apps)])
					b.Field(11).(*array.StringBuilder).Append(clients[rnd.IntN(len(clients))])
					b.Field(12).(*array.BooleanBuilder).Append(true)
					if rnd.IntN(20) == 0 {
						b.Field(13).(*array.Int32Builder).Append(50126)
					} else {
						b.Field(13).(*array.Int32Builder).Append(0)
					}
					b.Field(14).(*array.StringBuilder).Append(fmt.Sprintf("%d.%d.%d.%d", 20+rnd.IntN(200), rnd.IntN(256), rnd.IntN(256), rnd.IntN(256)))
					if rnd.IntN(10) == 0 {
						b.Field(15).(*array.StringBuilder).AppendNull()
					} else {
						b.Field(15).(*array.StringBuilder).Append(countries[rnd.IntN(len(countries))])
					}
				}
				out = append(out, b.NewRecordBatch())
				if n -= batch; n == 0 {
					delete(left, d)
					b.Release()
				} else {
					left[d] = n
				}
			}
		}
	}
	return out
}

// BenchmarkWriteSignInLikeRows converts 1M sign-in rows (16 columns, 30 days) into committed Parquet files: the
// warehouse's share of a run's cost.
func BenchmarkWriteSignInLikeRows(b *testing.B) {
	const rows, days = 1_000_000, 30
	batches := signInBatches(memory.DefaultAllocator, rows, days)
	defer func() {
		for _, r := range batches {
			r.Release()
		}
	}()
	var total int64
	for _, r := range batches {
		total += r.NumRows()
	}
	ctx := context.Background()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		b.StopTimer()
		w, err := Open(ctx, b.TempDir(), nil)
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		txn, err := w.Begin(fmt.Sprintf("run%d", i), "t1", time.Now(), WriterOptions{})
		if err != nil {
			b.Fatal(err)
		}
		tw, err := txn.Writer(graph.SignIns)
		if err != nil {
			b.Fatal(err)
		}
		for _, r := range batches {
			if err := tw.Write(ctx, r); err != nil {
				b.Fatal(err)
			}
		}
		if err := txn.Commit(ctx); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(total)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
}
