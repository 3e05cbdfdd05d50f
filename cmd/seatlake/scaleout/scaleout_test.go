package scaleout_test

import (
	"bytes"
	"cmp"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/seatlake/seatlake/internal/table"
	"github.com/seatlake/seatlake/internal/tenantsim"
	"github.com/seatlake/seatlake/internal/tenantsim/simtest"
	"github.com/seatlake/seatlake/internal/testservices"
	"github.com/seatlake/seatlake/pipelines"
	"github.com/seatlake/seatlake/transform"
)

// seatlakeBin is the seatlake binary TestMain builds once for every test of the package.
var seatlakeBin string

func TestMain(m *testing.M) { os.Exit(testMain(m)) }

func testMain(m *testing.M) int {
	dir, err := os.MkdirTemp("", "seatlake-scaleout-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	seatlakeBin = filepath.Join(dir, "seatlake")
	goTool, err := exec.LookPath("go")
	if err != nil {
		goTool = filepath.Join(runtime.GOROOT(), "bin", "go")
	}
	// The build cache makes this quick once cmd/seatlake has been built (its tests, make build).
	build := exec.Command(goTool, "build", "-o", seatlakeBin, "github.com/seatlake/seatlake/cmd/seatlake")
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "building seatlake: %v\n%s", err, out)
		return 1
	}
	return m.Run()
}

// A night of an MSP: 24 tenant jobs, each its own `seatlake run` process, commit into one PostgreSQL catalog and
// one Azure container at once.
func TestScaleOutPostgresAzurite24(t *testing.T) {
	pg := testservices.StartPostgres(t)
	az := testservices.StartAzurite(t)
	scaleOut(t, 24, warehouseAt{
		catalog: catalogURL(t, pg),
		storage: fmt.Sprintf("abfss://%s@%s.dfs.core.windows.net/warehouse", az.Container, az.AccountName),
		env:     append(az.Env(), "PGPASSWORD="+pg.Password),
	})
}

// The same on S3 (moto's server) with the PostgreSQL catalog: 8 jobs at once.
func TestScaleOutS3Eight(t *testing.T) {
	pg := testservices.StartPostgres(t)
	s3 := testservices.StartS3(t)
	scaleOut(t, 8, warehouseAt{
		catalog: catalogURL(t, pg),
		storage: fmt.Sprintf("s3://%s/warehouse", s3.Bucket),
		env:     append(s3.Env(), "PGPASSWORD="+pg.Password),
	})
}

// warehouseAt is the shared warehouse every job is given: --catalog, --storage and the environment holding their
// credentials.
type warehouseAt struct {
	catalog, storage string
	env              []string
}

func (w warehouseAt) args(localDir string) []string {
	return []string{"--warehouse", localDir, "--catalog", w.catalog, "--storage", w.storage}
}

// catalogURL is the server's URL without its password: seatlake refuses a password in --catalog (PGPASSWORD).
func catalogURL(t *testing.T, pg *testservices.Postgres) string {
	t.Helper()
	u, err := url.Parse(pg.URL)
	if err != nil {
		t.Fatal(err)
	}
	u.User = url.User(u.User.Username())
	return u.String()
}

// tenantJob is one simulated tenant and the `seatlake run` process that loads it.
type tenantJob struct {
	seed           int64
	id             string
	env            []string
	truth          map[string]int64 // rows per raw table, from /_sim/truth
	wh             string           // the job's own local warehouse directory (views, cache)
	stdout, stderr bytes.Buffer
	code           int
	waitErr        error         // the process could not be waited for (code -1)
	took           time.Duration // from the start of all jobs to this one's exit
	cpu            time.Duration // the process's user and system time
}

func (j *tenantJob) output() string {
	return fmt.Sprintf("--- stdout of tenant %s (seed %d):\n%s--- stderr:\n%s", j.id, j.seed, j.stdout.String(), j.stderr.String())
}

// startTenant starts a small simulated tenant of the seed on loopback (mutate, when not nil, changes its settings
// first) and returns it, its base URL and the environment that points a seatlake run at it.
func startTenant(t *testing.T, seed int64, mutate func(*tenantsim.Config)) (*tenantsim.Sim, string, []string) {
	t.Helper()
	sim, base := simtest.Start(t, func(cfg *tenantsim.Config) {
		cfg.Seed, cfg.Users, cfg.Days, cfg.SignIns, cfg.Throttle = seed, 40, 2, 300, "off"
	}, mutate)
	tenant, client, secret := sim.Credentials()
	return sim, base, []string{
		"AZURE_TENANT_ID=" + tenant, "AZURE_CLIENT_ID=" + client, "AZURE_CLIENT_SECRET=" + secret,
		"SEATLAKE_AUTHORITY_HOST=" + base, "SEATLAKE_GRAPH_ENDPOINT=" + base,
		"SEATLAKE_DATAVERSE_URL=" + strings.Join(sim.DataverseURLs(), ","),
		"SEATLAKE_FINOPS_URL=" + strings.Join(sim.FinOpsURLs(), ","),
	}
}

// startTenants starts n small simulated tenants on loopback, each with its own seed (so its own tenant id).
func startTenants(t *testing.T, n int) []*tenantJob {
	t.Helper()
	jobs := make([]*tenantJob, n)
	seen := map[string]bool{}
	for i := range jobs {
		seed := int64(1001 + i)
		sim, base, env := startTenant(t, seed, nil)
		tenant, _, _ := sim.Credentials()
		j := &tenantJob{seed: seed, wh: t.TempDir(), env: env}
		j.id, j.truth = truth(t, base)
		if j.id != tenant || seen[j.id] {
			t.Fatalf("seed %d: tenant id %q (credentials say %q): want a new one per seed", seed, j.id, tenant)
		}
		seen[j.id] = true
		jobs[i] = j
	}
	return jobs
}

// truth reads GET /_sim/truth as another tool would: the tenant id and the rows each raw table must have.
func truth(t *testing.T, base string) (string, map[string]int64) {
	t.Helper()
	resp, err := http.Get(base + "/_sim/truth")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var tr struct {
		TenantID string           `json:"tenant_id"`
		Tables   map[string]int64 `json:"tables"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&tr); err != nil {
		t.Fatal(err)
	}
	if tr.TenantID == "" || len(tr.Tables) == 0 {
		t.Fatalf("truth names no tenant or no tables: %+v", tr)
	}
	return tr.TenantID, tr.Tables
}

// baseEnv is this process's environment without settings that would point a child at another warehouse, tenant
// or cloud account.
func baseEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !slices.ContainsFunc([]string{"SEATLAKE_", "AZURE_", "AWS_", "PG"}, func(p string) bool { return strings.HasPrefix(kv, p) }) {
			env = append(env, kv)
		}
	}
	return env
}

// seatlake runs one seatlake command to its end and returns its stdout, failing the test on a non-zero exit.
func seatlake(t *testing.T, env []string, args ...string) string {
	t.Helper()
	cmd := exec.Command(seatlakeBin, args...)
	cmd.Env = append(baseEnv(), env...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("seatlake %s: %v\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), err, out.String(), errb.String())
	}
	return out.String()
}

// scaleOut is the whole test for n jobs: start n tenants, run n `seatlake run` processes at once into w, then
// read every tenant back through `seatlake query` on another directory.
func scaleOut(t *testing.T, n int, w warehouseAt) {
	jobs := startTenants(t, n)

	// Start every process, then wait for every one: their commits fall together, as a CronJob's pods' do.
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	started := time.Now()
	var wg sync.WaitGroup
	for i, j := range jobs {
		cmd := exec.CommandContext(ctx, seatlakeBin, append([]string{"run"}, w.args(j.wh)...)...)
		cmd.Env = append(append(baseEnv(), w.env...), j.env...)
		cmd.Stdout, cmd.Stderr = &j.stdout, &j.stderr
		cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL} // no job outlives a killed test binary
		if err := cmd.Start(); err != nil {
			cancel()
			wg.Wait()
			t.Fatalf("starting job %d: %v", i, err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := cmd.Wait()
			j.took = time.Since(started)
			if st := cmd.ProcessState; st != nil {
				j.cpu = st.UserTime() + st.SystemTime()
			}
			var ee *exec.ExitError
			switch {
			case errors.As(err, &ee):
				j.code = ee.ExitCode()
			case err != nil:
				j.code, j.waitErr = -1, err
			}
		}()
	}
	wg.Wait()
	t.Logf("%d seatlake run processes took %s together", n, time.Since(started).Round(time.Second))
	for _, j := range jobs {
		if j.code != 0 {
			t.Errorf("tenant %s: seatlake run exited %d (%v), want 0\n%s", j.id, j.code, j.waitErr, j.output())
		}
	}
	if t.Failed() {
		t.FailNow()
	}

	// A reader with a directory of its own, as an analyst's machine: the views are built from the catalog.
	reader := t.TempDir()
	readerEnv := w.env
	checkTables(t, jobs, csvRows(t, readerEnv, append([]string{"query", "--rebuild"}, w.args(reader)...), tablesSQL(t, jobs[0].truth)))
	checkRuns(t, jobs, jsonRows(t, readerEnv, append([]string{"query"}, w.args(reader)...), "SELECT tenant_id, status, commit_retries, snapshots_json FROM runs ORDER BY tenant_id"))

	// The CLI's tenant selection shows one tenant's rows alone.
	one := jobs[len(jobs)/2]
	rows := csvRows(t, readerEnv, append([]string{"query", "--tenant", one.id}, w.args(reader)...),
		"SELECT count(DISTINCT tenant_id) AS tenants, count(*) AS users FROM graph_users")
	if want := []string{"1", strconv.FormatInt(one.truth["graph_users"], 10)}; !slices.Equal(rows[0], want) {
		t.Errorf("query --tenant %s: tenants, users = %v, want %v", one.id, rows[0], want)
	}
}

// tablesSQL counts, per tenant and raw table: the rows of the view (what analysts read), the rows stored in the
// read set (the _history view: every copy, duplicates included) and the distinct keys among them.
func tablesSQL(t *testing.T, truth map[string]int64) string {
	t.Helper()
	declared := map[string]*table.Table{}
	for _, tb := range pipelines.Tables() {
		declared[tb.Name] = tb
	}
	var parts []string
	for _, name := range slices.Sorted(maps.Keys(truth)) {
		tb, ok := declared[name]
		if !ok {
			t.Fatalf("the truth lists %s, which seatlake does not declare", name)
		}
		// A snapshot table's key is unique within a day; an event's id is unique, full stop.
		key := tb.Keys()
		if tb.Kind == table.Snapshot {
			key = append([]string{"snapshot_date"}, key...)
		}
		if len(key) == 0 {
			t.Fatalf("%s has no key to find duplicates by", name)
		}
		parts = append(parts,
			fmt.Sprintf("SELECT '%s' AS tbl, tenant_id, count(*) AS viewed, 0 AS stored, 0 AS distinct_keys FROM %s GROUP BY tenant_id", name, name),
			fmt.Sprintf("SELECT '%s', tenant_id, 0, count(*), count(DISTINCT row(%s)) FROM %s_history GROUP BY tenant_id", name, strings.Join(key, ", "), name))
	}
	return "SELECT tbl, tenant_id, sum(viewed), sum(stored), sum(distinct_keys) FROM (\n" +
		strings.Join(parts, "\nUNION ALL\n") + "\n) GROUP BY ALL ORDER BY ALL"
}

// checkTables: every tenant's every table equals its truth, in the view and in what is stored, with no key twice.
func checkTables(t *testing.T, jobs []*tenantJob, rows [][]string) {
	t.Helper()
	type counts struct{ viewed, stored, distinct int64 }
	got := map[string]map[string]counts{} // tenant -> table -> counts
	for _, r := range rows {
		if len(r) != 5 {
			t.Fatalf("query row %v: want 5 columns", r)
		}
		var c counts
		for i, p := range []*int64{&c.viewed, &c.stored, &c.distinct} {
			v, err := strconv.ParseInt(r[2+i], 10, 64)
			if err != nil {
				t.Fatalf("query row %v: %v", r, err)
			}
			*p = v
		}
		if got[r[1]] == nil {
			got[r[1]] = map[string]counts{}
		}
		got[r[1]][r[0]] = c
	}
	known := map[string]bool{}
	for _, j := range jobs {
		known[j.id] = true
		bad := false
		for _, name := range slices.Sorted(maps.Keys(j.truth)) {
			want, c := j.truth[name], got[j.id][name]
			if c.viewed != want || c.stored != want || c.distinct != want {
				t.Errorf("tenant %s %s: %d rows in the view, %d stored, %d distinct keys; the tenant has %d",
					j.id, name, c.viewed, c.stored, c.distinct, want)
				bad = true
			}
		}
		if bad {
			t.Logf("%s", j.output())
		}
	}
	for tenant := range got {
		if !known[tenant] {
			t.Errorf("rows of a tenant no job ran: %q", tenant)
		}
	}
}

// checkRuns: one succeeded runs row per tenant, naming the snapshot of every table it committed, with its commit
// retries counted; jobs on the same tables at once must have conflicted.
func checkRuns(t *testing.T, jobs []*tenantJob, rows []map[string]any) {
	t.Helper()
	byTenant := map[string][]map[string]any{}
	for _, r := range rows {
		id, _ := r["tenant_id"].(string)
		byTenant[id] = append(byTenant[id], r)
	}
	var marts []string
	for _, m := range transform.Marts() {
		marts = append(marts, m.Name)
	}
	var sum int64
	var perJob strings.Builder // what each job took (wall, CPU) and the retries its commits needed, in the order they ended
	jobs = slices.Clone(jobs)
	slices.SortStableFunc(jobs, func(a, b *tenantJob) int { return cmp.Compare(a.took, b.took) })
	for _, j := range jobs {
		rs := byTenant[j.id]
		if len(rs) != 1 {
			t.Errorf("tenant %s: %d runs rows, want 1: %v", j.id, len(rs), rs)
			continue
		}
		r := rs[0]
		if r["status"] != "succeeded" {
			t.Errorf("tenant %s: runs status %v, want succeeded", j.id, r["status"])
		}
		n, ok := r["commit_retries"].(json.Number)
		if !ok {
			t.Errorf("tenant %s: commit_retries %v (%T), want a number", j.id, r["commit_retries"], r["commit_retries"])
		} else if v, err := n.Int64(); err != nil || v < 0 {
			t.Errorf("tenant %s: commit_retries %v", j.id, n)
		} else {
			sum += v
			fmt.Fprintf(&perJob, "\n\ttenant %s (seed %d): exited after %s, %s of CPU, commit_retries %d", j.id, j.seed, j.took.Round(time.Second), j.cpu.Round(100*time.Millisecond), v)
		}
		raw, _ := r["snapshots_json"].(string)
		var snaps map[string]int64
		if err := json.Unmarshal([]byte(raw), &snaps); err != nil {
			t.Errorf("tenant %s: snapshots_json %q: %v", j.id, raw, err)
			continue
		}
		for _, name := range append(slices.Sorted(maps.Keys(j.truth)), marts...) {
			if snaps[name] == 0 {
				t.Errorf("tenant %s: snapshots_json names no snapshot of %s: %s", j.id, name, raw)
			}
		}
	}
	for tenant := range byTenant {
		if !slices.ContainsFunc(jobs, func(j *tenantJob) bool { return j.id == tenant }) {
			t.Errorf("a runs row of a tenant no job ran: %q", tenant)
		}
	}
	t.Logf("commit retries: %d in all over %d jobs%s", sum, len(jobs), perJob.String())
	if sum == 0 {
		t.Errorf("%d jobs committed the same tables at once and no runs row counts a commit retry", len(jobs))
	}
}

// csvRows runs `seatlake query --format csv` and returns its rows without the header.
func csvRows(t *testing.T, env, args []string, q string) [][]string {
	t.Helper()
	out := seatlake(t, env, append(args, "--format", "csv", q)...)
	recs, err := csv.NewReader(strings.NewReader(out)).ReadAll()
	if err != nil || len(recs) < 2 {
		t.Fatalf("query %q: csv %q (%v)", q, out, err)
	}
	return recs[1:]
}

// jsonRows runs `seatlake query --format json`, numbers kept exact.
func jsonRows(t *testing.T, env, args []string, q string) []map[string]any {
	t.Helper()
	out := seatlake(t, env, append(args, "--format", "json", q)...)
	dec := json.NewDecoder(strings.NewReader(out))
	dec.UseNumber()
	var rows []map[string]any
	if err := dec.Decode(&rows); err != nil {
		t.Fatalf("query %q: json %q: %v", q, out, err)
	}
	return rows
}
