package graph

import (
	"context"
	"runtime"
	"syscall"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/seatlake/seatlake/extract/msauth"
	"github.com/seatlake/seatlake/extract/odata"
	"github.com/seatlake/seatlake/extract/pages"
	"github.com/seatlake/seatlake/internal/table"
	"github.com/seatlake/seatlake/internal/tenantsim"
	"github.com/seatlake/seatlake/internal/tenantsim/simtest"
)

// simSignInPages reads up to n pages of sign-ins (1,000 each) from the tenant simulator, as a run receives them.
func simSignInPages(b *testing.B, n int) [][]byte {
	now := time.Date(2026, 11, 20, 14, 30, 0, 0, time.UTC)
	sim, base := simtest.Start(b, func(c *tenantsim.Config) {
		c.Users, c.SignIns, c.Days, c.Throttle, c.Now = 2000, int64(n)*1000+500, 30, "off", func() time.Time { return now }
	})
	tenant, client, secret := sim.Credentials()
	tokens := msauth.NewTokenSource(msauth.Config{AuthorityHost: base, TenantID: tenant, ClientID: client, ClientSecret: msauth.Secret(secret)}, base)
	c := odata.NewClient(odata.Config{Tokens: tokens})
	x := &Extractor{Endpoint: base, Run: pages.Run{TenantID: "t", RunID: "r"}}
	bt := x.NewBatcher(SignIns, table.SinkFunc(func(context.Context, arrow.RecordBatch) error { return nil }))
	defer bt.Release()
	d := x.NewSignInDecoder(bt)
	var bodies [][]byte
	err := c.Walk(context.Background(), x.SignInsURL(now.AddDate(0, 0, -30), now.Add(time.Hour)), func(body []byte) (string, error) {
		bodies = append(bodies, append([]byte(nil), body...))
		next, _, err := d.Decode(context.Background(), body)
		if len(bodies) == n {
			return "", err
		}
		return next, err
	})
	if err != nil || len(bodies) == 0 {
		b.Fatalf("%d pages: %v", len(bodies), err)
	}
	return bodies
}

// BenchmarkSignInsDecode converts the simulator's sign-in pages into graph_signins batches on one goroutine: the
// production decoder (SignInDecoder) with the run's batch size and a sink that drops the batches. One op is one page.
func BenchmarkSignInsDecode(b *testing.B) {
	bodies := simSignInPages(b, 20)
	x := &Extractor{Run: pages.Run{TenantID: "t", RunID: "r", ExtractedAt: time.Now(), Alloc: memory.DefaultAllocator}}
	bt := x.NewBatcher(SignIns, table.SinkFunc(func(context.Context, arrow.RecordBatch) error { return nil }))
	defer bt.Release()
	d := x.NewSignInDecoder(bt)
	var rows, size int64
	for _, p := range bodies {
		size += int64(len(p))
	}
	b.SetBytes(size / int64(len(bodies)))
	var m0, m1 runtime.MemStats
	runtime.ReadMemStats(&m0)
	cpu0 := cpuTime()
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		_, n, err := d.Decode(context.Background(), bodies[i%len(bodies)])
		if err != nil {
			b.Fatal(err)
		}
		rows += n
	}
	b.StopTimer()
	cpu := cpuTime() - cpu0
	runtime.ReadMemStats(&m1)
	b.ReportMetric(float64(rows)/b.Elapsed().Seconds(), "rows/s")
	b.ReportMetric(float64(rows)/cpu.Seconds(), "rows/cpu-s")
	b.ReportMetric(float64(m1.Mallocs-m0.Mallocs)/float64(rows), "allocs/row")
}

// cpuTime is the CPU time the process has used: on a shared machine rows per CPU second vary less than rows per
// second of wall time.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
