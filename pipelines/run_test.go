package pipelines

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/seatlake/seatlake/extract/dataverse"
	"github.com/seatlake/seatlake/extract/finops"
	"github.com/seatlake/seatlake/extract/graph"
	"github.com/seatlake/seatlake/extract/msauth"
	"github.com/seatlake/seatlake/internal/outbound"
	"github.com/seatlake/seatlake/internal/tenantsim"
	"github.com/seatlake/seatlake/load/catalog"
)

// startSim serves a small seeded tenant on loopback for one test.
func startSim(t *testing.T, mutate func(*tenantsim.Config)) (*tenantsim.Sim, string) {
	t.Helper()
	cfg := tenantsim.DefaultConfig()
	cfg.Seed = 42
	cfg.Users = 300
	cfg.Days = 5
	cfg.SignIns = 6000
	cfg.Throttle = "off"
	if mutate != nil {
		mutate(&cfg)
	}
	sim, err := tenantsim.New(cfg)
	if err != nil {
		t.Fatalf("new simulator: %v", err)
	}
	base, err := sim.Start("127.0.0.1:0")
	if err != nil {
		t.Fatalf("start simulator: %v", err)
	}
	t.Cleanup(func() { sim.Close() })
	return sim, base
}

func testConfig(sim *tenantsim.Sim, base, warehouse string) Config {
	tenant, client, secret := sim.Credentials()
	return Config{
		TenantID: tenant, ClientID: client, ClientSecret: msauth.Secret(secret),
		AuthorityHost: base, GraphEndpoint: base, Warehouse: warehouse,
		Sources: SourceValues{dataverse.URLSetting: sim.DataverseURLs(), finops.URLSetting: sim.FinOpsURLs(),
			graph.HistorySetting: {"168h"}},
		BatchRows: 1000, // several batches per stream, even on a small tenant
		Retry:     outbound.RetryPolicy{MaxAttempts: 4, BaseDelay: 10 * time.Millisecond, MaxDelay: 50 * time.Millisecond, MaxTotalWait: 5 * time.Second},
	}
}

// count asks the warehouse's DuckDB views, as an analyst would.
func count(t *testing.T, warehouse, sql string) int64 {
	t.Helper()
	var out bytes.Buffer
	if err := catalog.Query(context.Background(), warehouse, sql, "json", &out); err != nil {
		t.Fatalf("query %q: %v", sql, err)
	}
	var rows []map[string]any
	if err := json.Unmarshal(out.Bytes(), &rows); err != nil {
		t.Fatalf("query %q: decoding %s: %v", sql, out.String(), err)
	}
	if len(rows) != 1 || len(rows[0]) != 1 {
		t.Fatalf("query %q: want one value, got %s", sql, out.String())
	}
	for _, v := range rows[0] {
		f, ok := v.(float64)
		if !ok {
			t.Fatalf("query %q: value %v is not a number", sql, v)
		}
		return int64(f)
	}
	return 0
}

func assertMatchesTruth(t *testing.T, sim *tenantsim.Sim, warehouse string) {
	t.Helper()
	truth := sim.Truth()
	for table, want := range truth.Tables {
		if got := count(t, warehouse, "SELECT count(*) AS n FROM "+table); got != want {
			t.Errorf("%s: %d rows in the warehouse, the simulated tenant has %d", table, got, want)
		}
	}
}

func TestRunMatchesTruthWithThrottlingAndExpiredTokens(t *testing.T) {
	sim, base := startSim(t, nil)
	// The service answers 429 (with Retry-After) twice on sign-ins, and revokes every token once mid-run.
	sim.InjectFault(tenantsim.Fault{Path: "/v1.0/auditLogs/signIns", Kind: tenantsim.Throttle429, Count: 2})
	sim.InjectFault(tenantsim.Fault{Path: "/v1.0/users", Kind: tenantsim.ExpireTokens, Count: 1})
	sim.InjectFault(tenantsim.Fault{Path: "/v1.0/auditLogs/signIns", Kind: tenantsim.Status503, Count: 1})
	wh := t.TempDir()
	sum, err := Run(context.Background(), testConfig(sim, base, wh))
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	if sum.Status != StatusSucceeded {
		t.Fatalf("status %s, want succeeded; summary %+v", sum.Status, sum)
	}
	tot := sum.Totals()
	if tot.Throttled < 2 {
		t.Errorf("summary counts %d throttled requests, the service sent at least 2", tot.Throttled)
	}
	if tot.Retries < 3 {
		t.Errorf("summary counts %d retries, want at least 3 (2 x 429, 1 x 503)", tot.Retries)
	}
	assertMatchesTruth(t, sim, wh)
	if got := count(t, wh, "SELECT count(*) FROM runs WHERE status = 'succeeded'"); got != 1 {
		t.Errorf("runs view has %d succeeded runs, want 1", got)
	}
}

func TestRunTwiceAddsNoDuplicates(t *testing.T) {
	sim, base := startSim(t, nil)
	wh := t.TempDir()
	cfg := testConfig(sim, base, wh)
	first, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatalf("first run: %v", err)
	}
	second, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatalf("second run: %v", err)
	}
	assertMatchesTruth(t, sim, wh)
	// The second run resumed from the watermark: it re-read only the lookback, not the whole history.
	if a, b := first.Streams["graph_signins"].Requests, second.Streams["graph_signins"].Requests; b >= a {
		t.Errorf("second run made %d sign-in requests, first %d: it did not resume from the watermark", b, a)
	}
	// One snapshot per day on disk, whatever the number of runs that day.
	files, err := filepath.Glob(filepath.Join(wh, "raw", "graph_users", "*", "*", "*.parquet"))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		if !strings.Contains(filepath.Base(f), second.RunID) {
			t.Errorf("snapshot file %s of an earlier run is still in the partition", f)
		}
	}
	if got := count(t, wh, "SELECT count(*) FROM runs"); got != 2 {
		t.Errorf("runs view has %d rows, want 2", got)
	}
}

func TestRunWithoutEntraP1(t *testing.T) {
	sim, base := startSim(t, func(c *tenantsim.Config) { c.Premium = false })
	wh := t.TempDir()
	sum, err := Run(context.Background(), testConfig(sim, base, wh))
	if err != nil {
		t.Fatalf("run without P1 must still succeed, got %v", err)
	}
	joined := strings.Join(sum.Warnings, "\n")
	if !strings.Contains(joined, "P1") || !strings.Contains(joined, "graph_signins skipped") {
		t.Errorf("warnings do not say why sign-ins and signInActivity are missing: %q", joined)
	}
	assertMatchesTruth(t, sim, wh) // the truth has 0 sign-ins without P1
	if got := count(t, wh, "SELECT count(*) FROM graph_users WHERE sign_in_activity_available"); got != 0 {
		t.Errorf("%d users claim signInActivity was available", got)
	}
	if got := count(t, wh, "SELECT count(*) FROM graph_signins"); got != 0 {
		t.Errorf("%d sign-ins without P1", got)
	}
}

func TestWindowThatCannotBeFetchedIsReportedMissing(t *testing.T) {
	sim, base := startSim(t, nil)
	wh := t.TempDir()
	cfg := testConfig(sim, base, wh)
	cfg.Sources[graph.ConcurrencySetting] = []string{"1"}
	// Far more 503s than the retry policy allows: one window must give up.
	sim.InjectFault(tenantsim.Fault{Path: "/v1.0/auditLogs/signIns", Kind: tenantsim.Status503, Count: cfg.Retry.MaxAttempts})
	sum, err := Run(context.Background(), cfg)
	if !errors.Is(err, ErrIncomplete) {
		t.Fatalf("run error = %v, want ErrIncomplete", err)
	}
	if sum.Status != StatusIncomplete || len(sum.Missing) != 1 || !strings.Contains(sum.Missing[0], "graph_signins") {
		t.Fatalf("status %s, missing %q: want incomplete with exactly the one sign-in window", sum.Status, sum.Missing)
	}
	if got := count(t, wh, "SELECT count(*) FROM runs WHERE status = 'incomplete' AND len(missing) = 1"); got != 1 {
		t.Errorf("runs/ does not record the incomplete run with what is missing")
	}
	// The watermark stopped before the gap, so the next run fetches it and the warehouse is whole.
	if _, err := Run(context.Background(), cfg); err != nil {
		t.Fatalf("next run: %v", err)
	}
	assertMatchesTruth(t, sim, wh)
}

func TestWrongSecretFailsWithAnActionableMessage(t *testing.T) {
	sim, base := startSim(t, nil)
	wh := t.TempDir()
	cfg := testConfig(sim, base, wh)
	cfg.ClientSecret = "not-the-secret-value-123"
	sum, err := Run(context.Background(), cfg)
	if err == nil {
		t.Fatal("run with a wrong secret succeeded")
	}
	if !strings.Contains(err.Error(), "AADSTS7000215") || strings.Contains(err.Error(), "not-the-secret-value-123") {
		t.Errorf("error %q: want the AADSTS code and never the secret", err)
	}
	if sum == nil || sum.Status != StatusFailed {
		t.Fatalf("summary %+v: want a failed run", sum)
	}
	if got := count(t, wh, "SELECT count(*) FROM runs WHERE status = 'failed'"); got != 1 {
		t.Errorf("the failed run left %d rows in runs/, want 1", got)
	}
	if got := count(t, wh, "SELECT count(*) FROM graph_users"); got != 0 {
		t.Errorf("a failed run left %d users", got)
	}
	entries, _ := os.ReadDir(filepath.Join(wh, "raw"))
	for _, e := range entries {
		sub, _ := filepath.Glob(filepath.Join(wh, "raw", e.Name(), "*", "*", "*.parquet"))
		if len(sub) > 0 {
			t.Errorf("a failed run left files under raw/%s", e.Name())
		}
	}
}

// corruptFirstSignIn serves the simulator, but the first sign-in page it answers has one record whose time is
// unusable, as a service bug or a schema change would produce.
func corruptFirstSignIn(h http.Handler) http.Handler {
	var done atomic.Bool
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasPrefix(r.URL.Path, "/v1.0/auditLogs/signIns") || done.Load() {
			h.ServeHTTP(w, r)
			return
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r)
		body := rec.Body.Bytes()
		if rec.Code == 200 && bytes.Contains(body, []byte(`"createdDateTime":"2`)) && done.CompareAndSwap(false, true) {
			body = bytes.Replace(body, []byte(`"createdDateTime":"2`), []byte(`"createdDateTime":"not-a-time-2`), 1)
		}
		for k, v := range rec.Header() {
			w.Header()[k] = v
		}
		w.Header().Del("Content-Length")
		w.WriteHeader(rec.Code)
		w.Write(body)
	})
}

func TestUnloadableRecordsAreKeptAside(t *testing.T) {
	sim, _ := startSim(t, nil)
	srv := httptest.NewServer(corruptFirstSignIn(sim.Handler()))
	defer srv.Close()
	wh := t.TempDir()
	sum, err := Run(context.Background(), testConfig(sim, srv.URL, wh))
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	path := filepath.Join("rejects", "graph_signins", "tenant="+sum.TenantID, sum.RunID+".jsonl")
	if !strings.Contains(strings.Join(sum.Warnings, "\n"), "1 record(s)") || !strings.Contains(strings.Join(sum.Warnings, "\n"), path) {
		t.Errorf("warnings %q do not name the kept-aside record and where it is", sum.Warnings)
	}
	b, err := os.ReadFile(filepath.Join(wh, path))
	if err != nil {
		t.Fatal(err)
	}
	var rec map[string]any
	if err := json.Unmarshal(b, &rec); err != nil || !strings.HasPrefix(rec["createdDateTime"].(string), "not-a-time-") || rec["id"] == nil {
		t.Errorf("kept aside %s (%v): want the whole record as the service sent it", b, err)
	}
	if got, want := count(t, wh, "SELECT count(*) FROM graph_signins"), sim.Truth().Tables["graph_signins"]-1; got != want {
		t.Errorf("%d sign-ins loaded, want %d (all but the unusable one)", got, want)
	}
}
