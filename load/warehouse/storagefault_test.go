package warehouse_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/seatlake/seatlake/extract/dataverse"
	"github.com/seatlake/seatlake/extract/finops"
	"github.com/seatlake/seatlake/internal/table"
	"github.com/seatlake/seatlake/internal/testservices"
	. "github.com/seatlake/seatlake/load/warehouse"
)

// faultProxy stands between the warehouse and an object store (moto's S3, Azurite) on 127.0.0.1 and answers as a
// troubled store does: 503 Service Unavailable to the first attempt of some requests, a response that never comes
// to some others (until the client gives up), 503 to everything, or nothing at all.
type faultProxy struct {
	URL string
	srv *httptest.Server
	rp  *httputil.ReverseProxy

	mu       sync.Mutex
	flaky    int             // this many more requests get one 503 before they are served (each a different method and path)
	failed   map[string]bool // the requests that got theirs
	stalls   map[string]int  // by method: this many more requests of it are held until the client gives up
	down     bool            // every request gets 503
	silent   bool            // every request is held until the client gives up
	requests int             // requests received

	answered503, stalled, abandoned int
}

func newFaultProxy(t *testing.T, target string) *faultProxy {
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	p := &faultProxy{rp: httputil.NewSingleHostReverseProxy(u), failed: map[string]bool{}, stalls: map[string]int{}}
	p.srv = httptest.NewServer(p)
	p.URL = p.srv.URL
	t.Cleanup(p.srv.Close)
	return p
}

func (p *faultProxy) ServeHTTP(rw http.ResponseWriter, r *http.Request) {
	key := r.Method + " " + r.URL.Path + "?" + r.URL.RawQuery
	p.mu.Lock()
	p.requests++
	unavailable := p.down
	if !unavailable && p.flaky > 0 && !p.failed[key] {
		p.flaky--
		p.failed[key] = true
		unavailable = true
	}
	stall := !unavailable && (p.silent || p.stalls[r.Method] > 0)
	if stall {
		if !p.silent {
			p.stalls[r.Method]--
		}
		p.stalled++
	}
	if unavailable {
		p.answered503++
	}
	p.mu.Unlock()
	switch {
	case unavailable:
		rw.Header().Set("Content-Type", "application/xml")
		rw.Header().Set("x-ms-error-code", "ServerBusy")
		rw.WriteHeader(http.StatusServiceUnavailable)
		fmt.Fprint(rw, `<?xml version="1.0" encoding="UTF-8"?><Error><Code>ServiceUnavailable</Code><Message>Please reduce your request rate.</Message></Error>`)
	case stall:
		// The body is read first: only then does the server notice a client that hangs up.
		_, _ = io.Copy(io.Discard, r.Body)
		select {
		case <-r.Context().Done(): // the client's timeout
			p.mu.Lock()
			p.abandoned++
			p.mu.Unlock()
		case <-time.After(40 * time.Second):
			http.Error(rw, "stalled for 40 s", http.StatusGatewayTimeout)
		}
	default:
		p.rp.ServeHTTP(rw, r)
	}
}

func (p *faultProxy) set(f func(p *faultProxy)) {
	p.mu.Lock()
	defer p.mu.Unlock()
	f(p)
}

func (p *faultProxy) stats() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return fmt.Sprintf("%d requests, %d answered 503, %d stalled (%d abandoned by the client)", p.requests, p.answered503, p.stalled, p.abandoned)
}

// storageNight is one night of tenant t1 (n dataverse_users and finops_user_roles rows of run, state "dynamics"
// = run) through a fresh Warehouse of cfg, as a run's process does; at is called at each commit step.
func storageNight(t *testing.T, cfg Config, run string, n int, at func(step string)) error {
	t.Helper()
	ctx := context.Background()
	mem := memory.NewGoAllocator()
	w, err := OpenConfig(ctx, cfg)
	if err != nil {
		return err
	}
	defer w.Close()
	if at != nil {
		SetFailpoint(w, func(step string) error { at(step); return nil })
	}
	u, r := dynamicsRows(t, mem, run, n)
	defer u.Release()
	defer r.Release()
	txn, err := w.Begin(run, "t1", RunDay, WriterOptions{Allocator: mem})
	if err != nil {
		return err
	}
	defer txn.Abort()
	for _, tbl := range []*table.Table{dataverse.Users, finops.UserRoles} {
		rec := u
		if tbl == finops.UserRoles {
			rec = r
		}
		tw, err := txn.Writer(tbl)
		if err != nil {
			return err
		}
		if err := tw.Write(ctx, rec); err != nil {
			return err
		}
	}
	txn.PutState("dynamics", []byte(run))
	if err := txn.Commit(ctx); err != nil {
		return err
	}
	t.Logf("%s committed, %d commit retries", run, txn.Retries())
	return nil
}

// afterFailedRun checks the warehouse of cfg after its run r2 failed: readers see r1's answers and watermark, and
// the next run, r3, completes the night exactly.
func afterFailedRun(t *testing.T, cfg Config) {
	t.Helper()
	if got, want := counts(t, cfg.Root), "2 r1 / 2 r1"; got != want {
		t.Errorf("after the failed run the views show %s, want r1's answers: %s", got, want)
	}
	w, err := OpenConfig(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if st, _, err := w.State("t1", "dynamics"); err != nil || string(st) != "r1" {
		t.Errorf("state %q (%v), want r1's: the failed night must be fetched again", st, err)
	}
	if err := storageNight(t, cfg, "r3", 4, nil); err != nil {
		t.Fatal(err)
	}
	if got, want := counts(t, cfg.Root), "4 r3 / 4 r3"; got != want {
		t.Errorf("the next run: %s, want %s", got, want)
	}
}

// withWatchdog runs f, failing the test if it has not returned after limit: a run must end, even when its
// storage never answers.
func withWatchdog(t *testing.T, limit time.Duration, f func() error) error {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- f() }()
	select {
	case err := <-done:
		return err
	case <-time.After(limit):
		t.Fatalf("the run still had not ended after %s", limit)
		return nil
	}
}

// logCounter counts a logger's records by message.
type logCounter struct {
	mu    sync.Mutex
	count map[string]int
}

func (c *logCounter) Enabled(context.Context, slog.Level) bool { return true }
func (c *logCounter) WithAttrs([]slog.Attr) slog.Handler       { return c }
func (c *logCounter) WithGroup(string) slog.Handler            { return c }
func (c *logCounter) Handle(_ context.Context, r slog.Record) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.count[r.Message]++
	return nil
}

func (c *logCounter) n(msg string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.count[msg]
}

type storageUnderTest struct {
	name    string // as errors name it
	storage string
	proxy   *faultProxy
}

var objectStores = []struct {
	name  string
	start func(*testing.T) storageUnderTest
}{{"S3", s3BehindProxy}, {"Azure", azuriteBehindProxy}}

func s3BehindProxy(t *testing.T) storageUnderTest {
	s3 := testservices.StartS3(t)
	p := newFaultProxy(t, s3.Endpoint)
	setenv(t, s3.Env())
	t.Setenv("AWS_ENDPOINT_URL_S3", p.URL)
	return storageUnderTest{name: "S3", storage: fmt.Sprintf("s3://%s/warehouse", s3.Bucket), proxy: p}
}

func azuriteBehindProxy(t *testing.T) storageUnderTest {
	az := testservices.StartAzurite(t)
	direct := fmt.Sprintf("http://127.0.0.1:%d", az.Port)
	p := newFaultProxy(t, direct)
	t.Setenv("AZURE_STORAGE_CONNECTION_STRING", strings.Replace(az.ConnectionString, direct, p.URL, 1))
	return storageUnderTest{name: "Azure", storage: fmt.Sprintf("abfss://%s@%s.dfs.core.windows.net/warehouse", az.Container, az.AccountName), proxy: p}
}

// TestStorageUnavailableAndStalledRequestsAreRetried: the object store answers 503 to the first try of many
// requests (data files, manifests, metadata files; reads and writes) and never answers one PUT and one GET. The
// night commits anyway, every failed try is retried (the proxy's 503s and abandoned requests) and logged by
// seatlake, and the views show the night exactly.
func TestStorageUnavailableAndStalledRequestsAreRetried(t *testing.T) {
	for _, os := range objectStores {
		t.Run(os.name, func(t *testing.T) {
			s := os.start(t)
			root := t.TempDir()
			logs := &logCounter{count: map[string]int{}}
			cfg := Config{Root: root, Storage: s.storage, Logger: slog.New(logs),
				StorageOptions: map[string]string{StorageRequestTimeout: "1s"}}
			if err := storageNight(t, cfg, "r1", 2, nil); err != nil {
				t.Fatal(err)
			}
			s.proxy.set(func(p *faultProxy) {
				p.flaky = 12
				p.stalls = map[string]int{http.MethodPut: 1, http.MethodGet: 1}
			})
			if err := withWatchdog(t, 50*time.Second, func() error { return storageNight(t, cfg, "r2", 3, nil) }); err != nil {
				t.Fatalf("a night with a flaky %s: %v (%s)", s.name, err, s.proxy.stats())
			}
			t.Logf("r2 through the faults: %s", s.proxy.stats())
			s.proxy.mu.Lock()
			answered503, stalled, abandoned := s.proxy.answered503, s.proxy.stalled, s.proxy.abandoned
			s.proxy.mu.Unlock()
			if answered503 != 12 || stalled != 2 || abandoned != 2 {
				t.Errorf("%d 503s, %d stalled, %d abandoned by the client: want 12, 2 and 2 (the client's timeout)", answered503, stalled, abandoned)
			}
			if got, want := logs.n("storage request failed"), answered503+abandoned; got != want {
				t.Errorf("%d failed tries logged, want %d (each 503 and each timeout)", got, want)
			}
			if got, want := counts(t, root), "3 r2 / 3 r2"; got != want {
				t.Errorf("after a night through a flaky %s the views show %s, want %s", s.name, got, want)
			}
			w, err := OpenConfig(context.Background(), cfg)
			if err != nil {
				t.Fatal(err)
			}
			defer w.Close()
			if st, _, err := w.State("t1", "dynamics"); err != nil || string(st) != "r2" {
				t.Errorf("state %q (%v), want r2's", st, err)
			}
		})
	}
}

// TestPersistentStorageFailureIsNamed: the object store answers 503 to everything, from the start of a run, once
// its data files are written, or between its two table commits. The run fails (never hangs) with an error naming
// the storage and the status; it commits nothing a reader sees (the previous night's answers and watermark
// stay); once the store is back, the next run completes the night exactly.
func TestPersistentStorageFailureIsNamed(t *testing.T) {
	for _, os := range objectStores {
		t.Run(os.name, func(t *testing.T) {
			s := os.start(t)
			for _, step := range []string{"start", "sealed", "committed dataverse_users"} {
				t.Run(step, func(t *testing.T) {
					s.proxy.set(func(p *faultProxy) { p.down = false })
					root := t.TempDir()
					cfg := Config{Root: root, Storage: s.storage, Logger: slog.New(&logCounter{count: map[string]int{}}),
						Commit:         CommitOptions{MaxAttempts: 3, MinBackoff: 10 * time.Millisecond, MaxBackoff: 100 * time.Millisecond, FailureBackoff: 10 * time.Millisecond},
						StorageOptions: map[string]string{StorageRequestTimeout: "2s", StorageMaxAttempts: "2"}}
					if err := storageNight(t, cfg, "r1", 2, nil); err != nil {
						t.Fatal(err)
					}
					if step == "start" {
						s.proxy.set(func(p *faultProxy) { p.down = true })
					}
					start := time.Now()
					err := withWatchdog(t, 50*time.Second, func() error {
						return storageNight(t, cfg, "r2", 3, func(at string) {
							if at == step {
								s.proxy.set(func(p *faultProxy) { p.down = true })
							}
						})
					})
					t.Logf("failed after %s: %v", time.Since(start).Round(time.Millisecond), err)
					if err == nil {
						t.Fatalf("a run against a %s answering 503 to everything succeeded", s.name)
					}
					for _, want := range []string{s.storage, "503"} {
						if !strings.Contains(err.Error(), want) {
							t.Errorf("the error does not name %q: %v", want, err)
						}
					}
					s.proxy.set(func(p *faultProxy) { p.down = false })
					afterFailedRun(t, cfg)
				})
			}
		})
	}
}

// TestSilentStorageTimesOut: once a run's data files are written, the object store stops answering at all (the
// connection stays open, no response ever comes). Each request times out (StorageRequestTimeout), the SDK and the
// commit loop retry a bounded number of times, and the run fails with an error naming the storage and the
// timeout, committing nothing a reader sees.
func TestSilentStorageTimesOut(t *testing.T) {
	for _, os := range objectStores {
		t.Run(os.name, func(t *testing.T) {
			s := os.start(t)
			root := t.TempDir()
			cfg := Config{Root: root, Storage: s.storage, Logger: slog.New(&logCounter{count: map[string]int{}}),
				Commit:         CommitOptions{MaxAttempts: 2, MinBackoff: 10 * time.Millisecond, MaxBackoff: 100 * time.Millisecond, FailureBackoff: 10 * time.Millisecond},
				StorageOptions: map[string]string{StorageRequestTimeout: "1s", StorageMaxAttempts: "2"}}
			if err := storageNight(t, cfg, "r1", 2, nil); err != nil {
				t.Fatal(err)
			}
			start := time.Now()
			err := withWatchdog(t, 50*time.Second, func() error {
				return storageNight(t, cfg, "r2", 3, func(at string) {
					if at == "sealed" {
						s.proxy.set(func(p *faultProxy) { p.silent = true })
					}
				})
			})
			s.proxy.set(func(p *faultProxy) { p.silent = false })
			t.Logf("failed after %s: %v (%s)", time.Since(start).Round(time.Millisecond), err, s.proxy.stats())
			if err == nil {
				t.Fatalf("a run against a %s that never answers succeeded", s.name)
			}
			if msg := err.Error(); !strings.Contains(msg, s.storage) || !strings.Contains(msg, "timeout") && !strings.Contains(msg, "deadline exceeded") {
				t.Errorf("the error does not name the storage %s and the timeout: %v", s.storage, err)
			}
			if got, want := counts(t, root), "2 r1 / 2 r1"; got != want {
				t.Errorf("after the failed run the views show %s, want r1's answers: %s", got, want)
			}
		})
	}
}
