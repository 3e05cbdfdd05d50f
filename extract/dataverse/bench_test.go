package dataverse

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/seatlake/seatlake/extract/pages"
)

// pageOf renders a page of n audit records as the Web API writes them.
func pageOf(n int) []byte {
	var b strings.Builder
	b.WriteString(`{"@odata.context":"https://x/api/data/v9.2/$metadata#audits","value":[`)
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"@odata.etag":"W/\"%d\"","auditid":"%08x-0000-4000-8000-000000000000","createdon":"2026-11-%02dT10:%02d:%02dZ","action":2,"operation":2,"objecttypecode":"opportunity","_objectid_value":"%08x-1111-4111-8111-111111111111","_userid_value":"%08x-2222-4222-8222-222222222222","_callinguserid_value":null}`,
			i, i, 1+i%28, i%60, i%60, i, i%700)
	}
	b.WriteString(`]}`)
	return []byte(b.String())
}

type onePage []byte

func (p onePage) Walk(ctx context.Context, _ string, decode func([]byte) (string, error)) error {
	_, err := decode(p)
	return err
}

func BenchmarkAuditsDecode(b *testing.B) {
	page := onePage(pageOf(5000))
	x := &Extractor{Environment: "https://x", Run: pages.Run{TenantID: "t", RunID: "r", ExtractedAt: time.Now(), BatchRows: 16384, Alloc: memory.DefaultAllocator}}
	sink := sinkFunc(func(context.Context, arrow.RecordBatch) error { return nil })
	b.SetBytes(int64(len(page)))
	b.ResetTimer()
	for range b.N {
		if _, err := x.Audits(context.Background(), page, time.Time{}, time.Time{}, sink); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(5000*b.N)/b.Elapsed().Seconds(), "rows/s")
}

type sinkFunc func(context.Context, arrow.RecordBatch) error

func (f sinkFunc) Write(ctx context.Context, r arrow.RecordBatch) error { return f(ctx, r) }
