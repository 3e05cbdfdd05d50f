package pipelines

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// BenchmarkReceiverGroupCommit posts distinct business events from 32 concurrent clients to a receiver with group
// commit (each 202 after its fsync) that commits to the warehouse every second or 5,000 events, as `make bench`'s
// section 7 does against the binary; here the receiver runs in the test's process, for its CPU profile
// (go test -run X -bench ReceiverGroupCommit -cpuprofile cpu.out ./pipelines/).
func BenchmarkReceiverGroupCommit(b *testing.B) {
	wh := b.TempDir()
	secret := contosoSecret(b, wh)
	rcv, err := NewReceiver(context.Background(), EventsConfig{Warehouse: wh, CommitEvery: time.Second, CommitEvents: 5000, GroupCommit: true,
		Envs: []EventsEnv{{Name: "contoso-prod", URL: "https://contoso-prod.operations.dynamics.com", SecretFile: secret, Tenant: &Config{TenantID: "t1"}}}})
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- rcv.Run(ctx) }()
	srv := httptest.NewServer(rcv)
	defer srv.Close()
	const clients = 32
	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: clients}}
	url := srv.URL + CallbackPath("contoso-prod", "s3cret")
	var next, failed atomic.Int64
	b.ResetTimer()
	var wg sync.WaitGroup
	for range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := next.Add(1) - 1
				if i >= int64(b.N) {
					return
				}
				body := fmt.Sprintf(`{"BusinessEventId":"SalesOrderInvoicedBusinessEvent","ControlNumber":%d,"EventId":"bench-%d","EventTimeIso8601":"2026-12-02T10:00:00Z","BusinessEventLegalEntity":"USMF","MajorVersion":1,"MinorVersion":0,"InvoiceAccount":"US-%03d","InvoiceAmount":%d.5}`,
					5637144576+i, i, i%1000, i)
				resp, err := hc.Post(url, "application/json", strings.NewReader(body))
				if err != nil || resp.StatusCode != http.StatusAccepted {
					failed.Add(1)
				}
				if resp != nil {
					resp.Body.Close()
				}
			}
		}()
	}
	wg.Wait()
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
	cancel()
	if err := <-done; err != nil {
		b.Fatal(err)
	}
	if f := failed.Load(); f > 0 {
		b.Fatalf("%d of %d events were not acknowledged", f, b.N)
	}
}
