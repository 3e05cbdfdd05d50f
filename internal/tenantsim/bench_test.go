package tenantsim

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
)

// discard is a ResponseWriter that looks at the body as it is written (counting rows, keeping the nextLink)
// without copying it: the benchmark measures the simulator, not a recorder.
type discard struct {
	h      http.Header
	status int
	n      int
	rows   int64
	next   string
}

func (d *discard) Header() http.Header { return d.h }
func (d *discard) WriteHeader(s int)   { d.status = s }
func (d *discard) Write(b []byte) (int, error) {
	d.n += len(b)
	d.rows += int64(bytes.Count(b, []byte(`Z","userDisplayName"`))) // Z is rare in the body: a fast count
	if d.next == "" {
		if _, rest, ok := bytes.Cut(b[:min(len(b), 4096)], []byte(`"@odata.nextLink":"`)); ok {
			next, _, _ := bytes.Cut(rest, []byte(`"`))
			d.next = string(next)
		}
	}
	return len(b), nil
}

// signInBenchSim is the tenant both sign-in benchmarks serve: 20,000 users, a million sign-ins over 30 days.
func signInBenchSim(b *testing.B) *Sim {
	return newSim(b, func(c *Config) { c.Seed, c.Users, c.SignIns, c.Days = DefaultConfig().Seed, 20000, 1_000_000, 30 })
}

// signInBenchWindow is the first page of the sign-ins both benchmarks page through, again and again.
const signInBenchWindow = "/v1.0/auditLogs/signIns?$filter=createdDateTime%20ge%202026-11-01T00:00:00Z%20and%20createdDateTime%20le%202026-11-19T23:59:59.9999999Z"

// BenchmarkSignInPages serves whole sign-in pages (1,000 sign-ins each) through the Handler, with token checks and
// paging, and reports sign-ins per second of one goroutine.
func BenchmarkSignInPages(b *testing.B) {
	s := signInBenchSim(b)
	tok := issueToken(b, s, "https://graph.microsoft.com/.default")
	first := signInBenchWindow
	h := s.Handler()
	url := first
	var rows, bytesOut int64
	d := &discard{}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		req := httptest.NewRequest("GET", url, nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		*d = discard{h: http.Header{}}
		h.ServeHTTP(d, req)
		if d.status != 200 {
			b.Fatalf("status %d", d.status)
		}
		rows += d.rows
		bytesOut += int64(d.n)
		url = d.next
		if url == "" {
			url = first
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(rows)/b.Elapsed().Seconds(), "signins/s")
	b.ReportMetric(float64(bytesOut)/float64(rows), "B/signin")
}

// BenchmarkSignInPagesHTTP is the same over loopback TCP with net/http on both ends, as in the end-to-end
// benchmark where the simulator runs in its own process (the client here only counts rows).
func BenchmarkSignInPagesHTTP(b *testing.B) {
	s := signInBenchSim(b)
	base, err := s.Start("127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	tok := issueToken(b, s, base+"/.default")
	first := base + signInBenchWindow
	url := first
	var rows int64
	buf := make([]byte, 2<<20)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		req, _ := http.NewRequest("GET", url, nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		n, err := io.ReadFull(resp.Body, buf[:resp.ContentLength])
		resp.Body.Close()
		if err != nil || resp.StatusCode != 200 {
			b.Fatalf("status %d, %v", resp.StatusCode, err)
		}
		d := discard{}
		d.Write(buf[:n])
		rows += d.rows
		url = d.next
		if url == "" {
			url = first
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(rows)/b.Elapsed().Seconds(), "signins/s")
}
