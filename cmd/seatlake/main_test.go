package main

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/seatlake/seatlake/internal/tenantsim"
	"github.com/seatlake/seatlake/internal/tenantsim/simtest"
	"github.com/seatlake/seatlake/load/warehouse"
)

// The test binary doubles as the seatlake binary: with SEATLAKE_TEST_AS_CLI=1 it runs main, so tests drive the real
// CLI in a child process (exit codes, stdout/stderr, kill -9) without a separate build.
func TestMain(m *testing.M) {
	if os.Getenv("SEATLAKE_TEST_AS_CLI") == "1" {
		main()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

type result struct {
	stdout, stderr string
	code           int
}

func command(env []string, args ...string) *exec.Cmd {
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(append(os.Environ(), "SEATLAKE_TEST_AS_CLI=1"), env...)
	return cmd
}

func seatlake(t *testing.T, env []string, args ...string) result {
	t.Helper()
	cmd := command(env, args...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("running seatlake %v: %v", args, err)
	}
	return result{out.String(), errb.String(), code}
}

func startSim(t *testing.T, mutate func(*tenantsim.Config)) (*tenantsim.Sim, string, []string) {
	t.Helper()
	sim, base := simtest.Start(t, func(cfg *tenantsim.Config) {
		cfg.Seed, cfg.Users, cfg.Days, cfg.SignIns, cfg.Throttle = 7, 250, 4, 5000, "off"
	}, mutate)
	tenant, client, secret := sim.Credentials()
	env := []string{
		"AZURE_TENANT_ID=" + tenant, "AZURE_CLIENT_ID=" + client, "AZURE_CLIENT_SECRET=" + secret,
		"SEATLAKE_AUTHORITY_HOST=" + base, "SEATLAKE_GRAPH_ENDPOINT=" + base,
		"SEATLAKE_DATAVERSE_URL=" + strings.Join(sim.DataverseURLs(), ","), "SEATLAKE_FINOPS_URL=" + strings.Join(sim.FinOpsURLs(), ","),
	}
	return sim, base, env
}

// truth reads GET /_sim/truth as another tool would.
func truth(t *testing.T, base string) map[string]int64 {
	t.Helper()
	tr := fullTruth(t, base)
	if len(tr.Tables) == 0 {
		t.Fatal("truth lists no tables")
	}
	return tr.Tables
}

// wantTruth checks that each raw table of the warehouse has the rows the tenant's truth says, when (the moment, for
// the message) is.
func wantTruth(t *testing.T, wh, base, when string) {
	t.Helper()
	for table, want := range truth(t, base) {
		if got := queryCount(t, wh, table); got != want {
			t.Errorf("%s, %s has %d rows, the tenant %d", when, table, got, want)
		}
	}
}

func queryCount(t *testing.T, wh, table string) int64 {
	t.Helper()
	r := seatlake(t, nil, "query", "--warehouse", wh, "--format", "csv", "SELECT count(*) AS n FROM "+table)
	if r.code != 0 {
		t.Fatalf("query %s: exit %d: %s", table, r.code, r.stderr)
	}
	recs, err := csv.NewReader(strings.NewReader(r.stdout)).ReadAll()
	if err != nil || len(recs) != 2 || recs[0][0] != "n" {
		t.Fatalf("query %s: csv %q (%v)", table, r.stdout, err)
	}
	n, err := strconv.ParseInt(recs[1][0], 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func TestCLIRunMatchesTruth(t *testing.T) {
	_, base, env := startSim(t, nil)
	wh := t.TempDir()
	r := seatlake(t, env, "run", "--warehouse", wh)
	if r.code != 0 {
		t.Fatalf("seatlake run: exit %d\nstdout: %s\nstderr: %s", r.code, r.stdout, r.stderr)
	}
	for _, want := range []string{"SUCCEEDED", "graph_signins", "requests"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("run summary lacks %q:\n%s", want, r.stdout)
		}
	}
	wantTruth(t, wh, base, "after the run")
	// The run row says, per stream, what it did: pages, rows, requests, and the windows of a windowed stream.
	var streams map[string]struct {
		Rows, Pages, Requests, Windows int64
		FirstWindow                    time.Time `json:"first_window"`
		LastWindow                     time.Time `json:"last_window"`
	}
	raw := csvRows(t, wh, "SELECT streams_json FROM runs")[0][0]
	if err := json.Unmarshal([]byte(raw), &streams); err != nil {
		t.Fatalf("streams_json %q: %v", raw, err)
	}
	if u := streams["graph_users"]; u.Rows != truth(t, base)["graph_users"] || u.Pages == 0 || u.Requests < u.Pages {
		t.Errorf("streams_json graph_users: %+v", u)
	}
	if s := streams["graph_signins"]; s.Rows == 0 || s.Windows == 0 || s.FirstWindow.IsZero() {
		t.Errorf("streams_json graph_signins: %+v (raw %s)", s, raw)
	}
}

func TestCLIQueryFormats(t *testing.T) {
	_, _, env := startSim(t, nil)
	wh := t.TempDir()
	if r := seatlake(t, env, "run", "--quiet", "--warehouse", wh); r.code != 0 || r.stdout != "" {
		t.Fatalf("quiet run: exit %d, stdout %q, stderr %s", r.code, r.stdout, r.stderr)
	}
	q := "SELECT user_principal_name, last_sign_in_at FROM graph_users WHERE last_sign_in_at IS NOT NULL ORDER BY 1 LIMIT 5"
	table := seatlake(t, nil, "query", "--warehouse", wh, q)
	if table.code != 0 || !strings.Contains(table.stdout, "user_principal_name") || !strings.Contains(table.stdout, "@") {
		t.Errorf("table output (exit %d): %s %s", table.code, table.stdout, table.stderr)
	}
	js := seatlake(t, nil, "query", "--warehouse", wh, "--format", "json", q)
	var rows []map[string]any
	if err := json.Unmarshal([]byte(js.stdout), &rows); err != nil || len(rows) != 5 {
		t.Fatalf("json output: %v, %d rows: %s", err, len(rows), js.stdout)
	}
	ts, _ := rows[0]["last_sign_in_at"].(string)
	if _, err := time.Parse(time.RFC3339Nano, ts); err != nil {
		t.Errorf("last_sign_in_at %q is not an RFC 3339 time: %v", ts, err)
	}
	bad := seatlake(t, nil, "query", "--warehouse", wh, "SELECT nope FROM graph_users")
	if bad.code == 0 || !strings.Contains(bad.stderr, "nope") {
		t.Errorf("a bad query: exit %d, stderr %q", bad.code, bad.stderr)
	}
}

// listing is the visible warehouse: every file outside the run's private staging area, with its size.
func listing(t *testing.T, wh string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(wh, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(wh, p)
		if d.IsDir() {
			if rel == "_staging" {
				return filepath.SkipDir
			}
			return nil
		}
		if strings.HasSuffix(rel, ".lock") {
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		out = append(out, rel+" "+strconv.FormatInt(info.Size(), 10))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(out)
	return out
}

// A run killed after it wrote data files, before it committed them, changes nothing a reader sees: no table
// metadata, no commit, the same answers; its files are orphans for maintenance, and the next run completes.
func TestCLIKilledRunLeavesWarehouseUnchanged(t *testing.T) {
	sim, base, env := startSim(t, nil)
	wh := runInto(t, env)
	before := listing(t, wh)
	had := map[string]bool{}
	for _, l := range before {
		had[strings.Fields(l)[0]] = true
	}
	// The next run's sign-ins hang, so it is killed after the users were already written as data files.
	sim.InjectFault(tenantsim.Fault{Path: "/v1.0/auditLogs/signIns", Kind: tenantsim.SlowPage, Count: 8, Delay: time.Minute})
	cmd := command(env, "run", "--quiet", "--warehouse", wh)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		files, _ := filepath.Glob(filepath.Join(wh, "raw", "*", "data", "*", "*", "*.parquet"))
		written := false
		for _, f := range files {
			rel, _ := filepath.Rel(wh, f)
			written = written || !had[rel]
		}
		if written {
			break
		}
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			t.Fatal("the second run never wrote a data file")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()
	sim.ClearFaults()
	now := map[string]string{}
	for _, l := range listing(t, wh) {
		now[strings.Fields(l)[0]] = l
	}
	for _, l := range before {
		name := strings.Fields(l)[0]
		if strings.HasPrefix(name, warehouse.EmbeddedCatalogFile) {
			delete(now, name) // SQLite's own files change size as it checkpoints
			continue
		}
		if now[name] != l {
			t.Errorf("the killed run changed %s: %q, was %q", name, now[name], l)
		}
		delete(now, name)
	}
	for name := range now {
		if strings.HasPrefix(name, warehouse.EmbeddedCatalogFile) {
			continue // SQLite's write-ahead log and shared memory: they come with an open catalog and go when it is closed
		}
		if !strings.HasSuffix(name, ".parquet") || !strings.Contains(filepath.ToSlash(name), "/data/") {
			t.Errorf("the killed run left %s, more than uncommitted data files", name)
		}
	}
	wantTruth(t, wh, base, "after the kill")
	// The next run succeeds, and its answers are the night's.
	if r := seatlake(t, env, "run", "--quiet", "--warehouse", wh); r.code != 0 {
		t.Fatalf("run after the kill: exit %d: %s", r.code, r.stderr)
	}
	wantTruth(t, wh, base, "after the next run")
}

func TestCLIFailuresAreOneActionableLine(t *testing.T) {
	_, _, env := startSim(t, nil)
	wh := t.TempDir()
	tests := []struct {
		name     string
		env      []string
		args     []string
		code     int
		contains string
	}{
		{"no secret", append(env[:2:2], env[3:]...), []string{"run", "--warehouse", wh}, exitUsage, "AZURE_CLIENT_SECRET"},
		{"bad secret value", append(append([]string{}, env...), "AZURE_CLIENT_SECRET=wrong-value-42"), []string{"run", "--warehouse", wh}, exitFailed, "AADSTS7000215"},
		{"plain http off loopback", append(append([]string{}, env...), "SEATLAKE_GRAPH_ENDPOINT=http://graph.example.com"), []string{"run", "--warehouse", wh}, exitUsage, "loopback"},
		{"no catalog yet", nil, []string{"query", "--warehouse", filepath.Join(wh, "nothing"), "SELECT 1"}, exitUsage, "no warehouse at " + filepath.Join(wh, "nothing") + ": run `seatlake run` or `seatlake demo` first"},
		{"unknown format", nil, []string{"query", "--format", "xml", "SELECT 1"}, exitUsage, "--format"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := seatlake(t, tt.env, tt.args...)
			if r.code != tt.code {
				t.Errorf("exit %d, want %d; stderr %s", r.code, tt.code, r.stderr)
			}
			last := strings.TrimSpace(r.stderr[strings.LastIndex(strings.TrimRight(r.stderr, "\n"), "\n")+1:])
			if !strings.HasPrefix(last, "seatlake: ") || !strings.Contains(last, tt.contains) {
				t.Errorf("last stderr line %q: want one line starting 'seatlake: ' naming %q", last, tt.contains)
			}
			if strings.Contains(r.stderr+r.stdout, "wrong-value-42") {
				t.Error("the secret appears in the output")
			}
		})
	}
}

func TestHelpExplainsEveryFlag(t *testing.T) {
	app := newApp(&bytes.Buffer{}, &bytes.Buffer{})
	for _, cmd := range app.Commands {
		r := seatlake(t, nil, cmd.Name, "--help")
		for _, f := range cmd.Flags {
			name := f.Names()[0]
			if vf, ok := f.(cli.VisibleFlag); ok && !vf.IsVisible() {
				continue // an older spelling kept for scripts (--tenant-id before --tenant), not offered
			}
			if !strings.Contains(r.stdout, "--"+name) {
				t.Errorf("seatlake %s --help does not list --%s", cmd.Name, name)
			}
			if df, ok := f.(interface{ GetUsage() string }); !ok || len(df.GetUsage()) < 10 {
				t.Errorf("seatlake %s --%s has no explanation", cmd.Name, name)
			}
		}
		if cmd.Usage == "" {
			t.Errorf("command %s has no usage line", cmd.Name)
		}
	}
}

func TestCLIConfigFile(t *testing.T) {
	_, base, env := startSim(t, nil)
	dir := t.TempDir()
	fromFile, fromFlag := filepath.Join(dir, "from-file"), filepath.Join(dir, "from-flag")
	secretFile := filepath.Join(dir, "secret")
	var tenant, client, secret string
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		switch k {
		case "AZURE_TENANT_ID":
			tenant = v
		case "AZURE_CLIENT_ID":
			client = v
		case "AZURE_CLIENT_SECRET":
			secret = v
		}
	}
	os.WriteFile(secretFile, []byte(secret+"\n"), 0o600)
	cfg := filepath.Join(dir, "seatlake.yaml")
	yaml := "tenant-id: " + tenant + "\nclient-id: " + client + "\nclient-secret-file: " + secretFile +
		"\nauthority-host: " + base + "\ngraph-endpoint: " + base + "\nwarehouse: " + fromFile + "\nsignin-concurrency: 2\nquiet: true\n"
	os.WriteFile(cfg, []byte(yaml), 0o600)

	// Everything from the file: no environment, no flags but --config.
	if r := seatlake(t, nil, "run", "--config", cfg); r.code != 0 || r.stdout != "" {
		t.Fatalf("run --config: exit %d, stdout %q (quiet: true), stderr %s", r.code, r.stdout, r.stderr)
	}
	if n := queryCount(t, fromFile, "graph_users"); n != truth(t, base)["graph_users"] {
		t.Errorf("the config file's warehouse has %d users", n)
	}
	// A flag wins over the file.
	if r := seatlake(t, nil, "run", "--config", cfg, "--warehouse", fromFlag); r.code != 0 {
		t.Fatalf("run --config --warehouse: exit %d: %s", r.code, r.stderr)
	}
	if _, err := os.Stat(filepath.Join(fromFlag, "seatlake.duckdb")); err != nil {
		t.Errorf("--warehouse did not win over the config file: %v", err)
	}
	if r := seatlake(t, nil, "run", "--config", filepath.Join(dir, "missing.yaml")); r.code != exitUsage || !strings.Contains(r.stderr, "missing.yaml") {
		t.Errorf("a missing config file: exit %d, stderr %q", r.code, r.stderr)
	}
	os.WriteFile(cfg, []byte("signin-concurrency: many\n"), 0o600)
	if r := seatlake(t, nil, "run", "--config", cfg); r.code != exitUsage || strings.Count(strings.TrimSpace(r.stderr), "\n") != 0 || !strings.Contains(r.stderr, "signin-concurrency") {
		t.Errorf("a bad value in the config file: exit %d, stderr %q: want one line naming the key", r.code, r.stderr)
	}
}
