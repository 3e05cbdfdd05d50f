package main

import (
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/seatlake/seatlake/internal/tenantsim"
)

// What a script sees of a bad command line: exit 2 and one line naming the flag (or command) and where the help is;
// help itself works and exits 0.
func TestCLIUsageErrors(t *testing.T) {
	cfg := filepath.Join(t.TempDir(), "seatlake.yaml")
	os.WriteFile(cfg, []byte("batch-rows: -5\n"), 0o644)
	shared := filepath.Join(t.TempDir(), "secret")
	os.WriteFile(shared, []byte("s3cr3t-value\n"), 0o640)
	os.Chmod(shared, 0o640)
	good := filepath.Join(t.TempDir(), "secret")
	os.WriteFile(good, []byte("s3cr3t-value\n"), 0o600)
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"run", "--bogus"}, 2, "run: flag provided but not defined: -bogus: see 'seatlake run --help'"},
		{[]string{"report", "--tops", "3"}, 2, "see 'seatlake report --help'"},
		{[]string{"nope"}, 2, `unknown command "nope": see 'seatlake --help'`},
		{[]string{"run", "--batch-rows", "-5"}, 2, "--batch-rows -5: want 1 to 1000000: see 'seatlake run --help'"},
		{[]string{"run", "--config", cfg}, 2, "--batch-rows -5: want 1 to 1000000"},
		{[]string{"run", "--max-attempts", "0"}, 2, "--max-attempts 0: want 1 to 100"},
		{[]string{"run", "--request-timeout", "0s"}, 2, "--request-timeout 0s: want 1s to 1h0m0s"},
		{[]string{"sim", "--idle-share", "1.5"}, 2, "--idle-share 1.5: want 0 to 1"},
		{[]string{"marts", "--as-of", "yesterday"}, 2, "--as-of \"yesterday\""},
		{[]string{"run", "--tenant-id", "t", "--client-id", "c", "--client-secret-file", shared}, 2, "readable by others (mode 0640): run chmod 600 " + shared},
		{[]string{"run", "--tenant-id", "72f988bf-86f1-41af-91ab-2d7cd011db47", "--client-id", "c", "--client-secret-file", good, "--authority-host", "https://login.evil.example"}, 2,
			"is not one of Microsoft's identity platform hosts"},
		{[]string{"run", "--parquet-compression", "lz4"}, 2, "want snappy, zstd, gzip or none"},
		{[]string{"help"}, 0, ""},
		{[]string{"help", "run"}, 0, ""},
		{[]string{"run", "--help"}, 0, ""},
	} {
		r := seatlake(t, nil, tc.args...)
		if r.code != tc.code {
			t.Errorf("seatlake %s: exit %d, want %d (%s)", strings.Join(tc.args, " "), r.code, tc.code, r.stderr)
			continue
		}
		if tc.code != 0 {
			if lines := strings.Count(strings.TrimSpace(r.stderr), "\n") + 1; lines != 1 || !strings.Contains(r.stderr, tc.want) {
				t.Errorf("seatlake %s: stderr (%d lines) %q, want one line with %q", strings.Join(tc.args, " "), lines, r.stderr, tc.want)
			}
			if r.stdout != "" {
				t.Errorf("seatlake %s: stdout %q, want nothing", strings.Join(tc.args, " "), r.stdout)
			}
		} else if !strings.Contains(r.stdout, "USAGE") {
			t.Errorf("seatlake %s: no help on stdout: %q", strings.Join(tc.args, " "), r.stdout)
		}
	}
}

// A nightly quiet run: the first night prints only what is new (the concealed report names, one line); the next
// night, with nothing changed, prints nothing at all, on stdout or stderr, while the run row still records it.
func TestCLIQuietIsSilentWhenNothingChanged(t *testing.T) {
	_, _, env := startSim(t, nil)
	wh := t.TempDir()
	first := seatlake(t, env, "run", "--quiet", "--warehouse", wh)
	if first.code != 0 || first.stdout != "" {
		t.Fatalf("first quiet run: exit %d, stdout %q, stderr %s", first.code, first.stdout, first.stderr)
	}
	if lines := strings.Split(strings.TrimSpace(first.stderr), "\n"); len(lines) != 1 || !strings.Contains(lines[0], "new since the last run") || !strings.Contains(lines[0], "conceal") {
		t.Errorf("first quiet run's stderr: want one line saying the report names are concealed, got %q", first.stderr)
	}
	second := seatlake(t, env, "run", "--quiet", "--warehouse", wh)
	if second.code != 0 || second.stdout != "" || second.stderr != "" {
		t.Errorf("second quiet run: exit %d, stdout %q, stderr %q: want silence", second.code, second.stdout, second.stderr)
	}
	if n := csvRows(t, wh, "SELECT count(*) FROM runs WHERE list_contains(warnings, (SELECT warnings[1] FROM runs ORDER BY started_at LIMIT 1))")[0][0]; n != "2" {
		t.Errorf("the warning is recorded in %s run rows, want both", n)
	}
	verbose := seatlake(t, env, "run", "--quiet", "--verbose", "--warehouse", wh)
	if verbose.code != 0 || verbose.stdout != "" || !strings.Contains(verbose.stderr, "conceal") {
		t.Errorf("--quiet --verbose: exit %d, stdout %q, stderr %q: want the warning logged", verbose.code, verbose.stdout, verbose.stderr)
	}
}

// --result-json: one JSON object per tenant that a scheduler reads instead of the text, for a success (to stdout,
// with --quiet) and a failure (to a file).
func TestCLIResultJSON(t *testing.T) {
	_, base, env := startSim(t, nil)
	wh := t.TempDir()
	r := seatlake(t, env, "run", "--quiet", "--warehouse", wh, "--result-json", "-")
	var ok runResult
	if err := json.Unmarshal([]byte(r.stdout), &ok); err != nil || r.code != 0 {
		t.Fatalf("exit %d, stdout %q: %v", r.code, r.stdout, err)
	}
	if ok.Status != "succeeded" || ok.ExitCode != 0 || ok.RunID == "" || ok.DurationSeconds <= 0 || ok.Tables["graph_users"] != truth(t, base)["graph_users"] {
		t.Errorf("result: %+v", ok)
	}
	bad := append(append([]string{}, env...), "AZURE_CLIENT_SECRET=zz-not-the-secret-q7")
	file := filepath.Join(t.TempDir(), "result.json")
	r = seatlake(t, bad, "run", "--quiet", "--warehouse", wh, "--result-json", file)
	raw, err := os.ReadFile(file)
	if err != nil || r.code != 1 {
		t.Fatalf("failed run: exit %d, %v", r.code, err)
	}
	var failed runResult
	if err := json.Unmarshal(raw, &failed); err != nil {
		t.Fatal(err)
	}
	if failed.Status != "failed" || failed.ExitCode != 1 || !strings.Contains(failed.Error, "AADSTS") || strings.Contains(string(raw), "zz-not-the-secret-q7") {
		t.Errorf("failed result: %s", raw)
	}
}

// SIGTERM during a run (a CronJob's deadline, a systemd stop): exit 143 within seconds, one line, an "interrupted"
// run row, nothing partial committed; the next run completes and equals the tenant.
func TestCLISigtermLeavesAnInterruptedRunRow(t *testing.T) {
	_, base, env := startSim(t, func(c *tenantsim.Config) { c.PageLatency = 300 * time.Millisecond })
	wh := t.TempDir()
	cmd := command(env, "run", "--warehouse", wh, "--dataverse-concurrency", "1")
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(1500 * time.Millisecond)
	sent := time.Now()
	cmd.Process.Signal(syscall.SIGTERM)
	err := cmd.Wait()
	took := time.Since(sent)
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 143 {
		t.Fatalf("after SIGTERM: %v (stderr %s), want exit 143", err, stderr.String())
	}
	if took > 10*time.Second {
		t.Errorf("exited %s after SIGTERM, want within a few seconds", took)
	}
	if !strings.Contains(stderr.String(), "interrupted by SIGTERM") {
		t.Errorf("stderr %q lacks the interruption line", stderr.String())
	}
	rows := csvRows(t, wh, "SELECT status, error FROM runs")
	if len(rows) != 1 || rows[0][0] != "interrupted" {
		t.Fatalf("runs after SIGTERM: %v, want one interrupted row", rows)
	}
	if n := queryCount(t, wh, "graph_users"); n != 0 {
		t.Errorf("the interrupted run committed %d users: nothing partial may land", n)
	}
	if r := seatlake(t, env, "run", "--quiet", "--warehouse", wh); r.code != 0 {
		t.Fatalf("the next run: exit %d: %s", r.code, r.stderr)
	}
	wantTruth(t, wh, base, "after the interrupted run")
}

// The warehouse holds who signed in from where: its files are 0640 and its directories 0750 at most (a stricter
// umask narrows them), never readable by other users of the machine; the report's files too.
func TestCLIWarehouseFileModes(t *testing.T) {
	_, _, env := startSim(t, nil)
	wh := filepath.Join(t.TempDir(), "wh")
	if r := seatlake(t, env, "run", "--quiet", "--warehouse", wh); r.code != 0 {
		t.Fatalf("run: exit %d: %s", r.code, r.stderr)
	}
	out := filepath.Join(wh, "out")
	if r := seatlake(t, nil, "report", "--quiet", "--warehouse", wh, "--csv", out, "--html", filepath.Join(out, "report.html")); r.code != 0 {
		t.Fatalf("report: exit %d: %s", r.code, r.stderr)
	}
	files := 0
	filepath.WalkDir(wh, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		info, _ := d.Info()
		mode := info.Mode().Perm()
		switch {
		case d.IsDir() && mode&^0o750 != 0:
			t.Errorf("directory %s has mode %04o, want at most 0750", path, mode)
		case !d.IsDir() && mode&^0o640 != 0:
			t.Errorf("file %s has mode %04o, want at most 0640", path, mode)
		case !d.IsDir():
			files++
		}
		return nil
	})
	if files < 10 {
		t.Errorf("only %d files checked", files)
	}
}

// A warehouse copied elsewhere (to share with an analyst, to back up) reads its own files: the catalog's paths are
// relative to it. The original is removed, so reading the old place would fail. When files the catalog names are
// gone, the error says so and how to rebuild.
func TestCLICopiedWarehouseReadsItsOwnFiles(t *testing.T) {
	_, base, env := startSim(t, nil)
	orig := filepath.Join(t.TempDir(), "wh")
	if r := seatlake(t, env, "run", "--quiet", "--warehouse", orig); r.code != 0 {
		t.Fatalf("run: exit %d: %s", r.code, r.stderr)
	}
	cp := filepath.Join(t.TempDir(), "copy", "wh")
	os.MkdirAll(filepath.Dir(cp), 0o750)
	if out, err := exec.Command("cp", "-a", orig, cp).CombinedOutput(); err != nil {
		t.Fatalf("cp: %v %s", err, out)
	}
	os.RemoveAll(orig)
	for _, table := range []string{"graph_users", "graph_signins", "license_usage"} {
		if got, want := queryCount(t, cp, table), truth(t, base)[table]; got != want {
			t.Errorf("the copy's %s has %d rows, want %d", table, got, want)
		}
	}
	parts, _ := filepath.Glob(filepath.Join(cp, "raw", "graph_users", "data", "tenant_id=*", "snapshot_date=*"))
	if len(parts) == 0 {
		t.Fatal("the copy has no graph_users partition to remove")
	}
	for _, p := range parts {
		os.RemoveAll(p)
	}
	r := seatlake(t, nil, "query", "--warehouse", cp, "SELECT count(*) FROM graph_users")
	if r.code == 0 || !strings.Contains(r.stderr, "does not match the files") || !strings.Contains(r.stderr, "--rebuild") {
		t.Errorf("files gone: exit %d, %s", r.code, r.stderr)
	}
	// The committed snapshot names files that are gone: a rebuild cannot bring them back, and says so.
	if r := seatlake(t, nil, "query", "--warehouse", cp, "--rebuild", "SELECT count(*) FROM graph_users"); r.code == 0 || !strings.Contains(r.stderr, "missing from") || !strings.Contains(r.stderr, "graph_users") {
		t.Errorf("--rebuild with files gone: exit %d: %s", r.code, r.stderr)
	}
	// The next run replaces the tenant's snapshot of the day: the copy answers again.
	if r := seatlake(t, env, "run", "--quiet", "--warehouse", cp); r.code != 0 {
		t.Fatalf("run on the copy: exit %d: %s", r.code, r.stderr)
	}
	if got, want := queryCount(t, cp, "graph_users"), truth(t, base)["graph_users"]; got != want {
		t.Errorf("after a new run the copy's graph_users has %d rows, want %d", got, want)
	}
}

// The data committed but the catalog could not be rebuilt: not a failure. Exit 3, the run row says incomplete and
// why, and --rebuild brings the views back.
func TestCLICatalogFailureAfterCommitIsIncomplete(t *testing.T) {
	wh, env := ranWarehouse(t)
	// A directory where the catalog build renames its new file: the views cannot be replaced.
	blocker := filepath.Join(wh, "seatlake.duckdb")
	if err := os.Remove(blocker); err != nil {
		t.Fatal(err)
	}
	os.MkdirAll(filepath.Join(blocker, "x"), 0o750)
	r := seatlake(t, env, "run", "--quiet", "--warehouse", wh)
	if r.code != 3 || !strings.Contains(r.stderr+r.stdout, "the data is committed") || !strings.Contains(r.stderr+r.stdout, "--rebuild") {
		t.Fatalf("catalog failure: exit %d, want 3 naming the fix\nstdout %s\nstderr %s", r.code, r.stdout, r.stderr)
	}
	os.RemoveAll(blocker)
	if r := seatlake(t, nil, "query", "--warehouse", wh, "--rebuild", "--format", "csv", "SELECT status, array_to_string(missing, ';') FROM runs ORDER BY started_at"); r.code != 0 ||
		!strings.Contains(r.stdout, "succeeded") || !strings.Contains(r.stdout, "incomplete,") || !strings.Contains(r.stdout, "catalog: the DuckDB views could not be rebuilt") {
		t.Errorf("runs after --rebuild: exit %d %s %s", r.code, r.stdout, r.stderr)
	}
}

// The demo never mixes its simulated tenant into a real warehouse: it refuses one holding another tenant's data
// (exit 2, naming it), unless --force.
func TestCLIDemoRefusesAnotherTenantsWarehouse(t *testing.T) {
	wh := t.TempDir()
	os.MkdirAll(filepath.Join(wh, "raw", "graph_users", "tenant=72f988bf-86f1-41af-91ab-2d7cd011db47"), 0o750)
	r := seatlake(t, nil, "demo", "--warehouse", wh)
	if r.code != 2 || !strings.Contains(r.stderr, "holds data of other tenants (72f988bf-86f1-41af-91ab-2d7cd011db47)") || !strings.Contains(r.stderr, "--force") {
		t.Errorf("demo into a real warehouse: exit %d, %s", r.code, r.stderr)
	}
}

// `seatlake config validate FILE` checks a file as a run would, with no network call: a good file passes; a
// misspelt key is named with its line and the key meant.
func TestCLIConfigValidate(t *testing.T) {
	dir := t.TempDir()
	secret := filepath.Join(dir, "secret")
	os.WriteFile(secret, []byte("s3cr3t\n"), 0o600)
	good := filepath.Join(dir, "good.yaml")
	os.WriteFile(good, []byte("warehouse: "+filepath.Join(dir, "wh")+"\nexport: "+filepath.Join(dir, "export")+"\nrules:\n  threshold-days: 45\ntenants:\n"+
		"  - {name: contoso, tenant-id: 72f988bf-86f1-41af-91ab-2d7cd011db47, client-id: c, client-secret-file: "+secret+"}\n"), 0o644)
	if r := seatlake(t, nil, "config", "validate", good); r.code != 0 || !strings.Contains(r.stdout, "ok config="+good+" tenants=1") {
		t.Errorf("a good file: exit %d, %q %s", r.code, r.stdout, r.stderr)
	}
	bad := filepath.Join(dir, "bad.yaml")
	os.WriteFile(bad, []byte("batch-rows: 1000\nwarehose: /x\n"), 0o644)
	if r := seatlake(t, nil, "config", "validate", bad); r.code != 2 || !strings.Contains(r.stderr, `unknown key "warehose" (line 2), did you mean "warehouse"?`) {
		t.Errorf("a misspelt key: exit %d, %s", r.code, r.stderr)
	}
	target := filepath.Join(dir, "target.yaml")
	os.WriteFile(target, []byte("then-sync: [jira]\n"), 0o644)
	if r := seatlake(t, nil, "config", "validate", target); r.code != 2 || !strings.Contains(r.stderr, `then-sync "jira": want jsm-assets or servicenow`) {
		t.Errorf("an unknown then-sync target: exit %d, %s", r.code, r.stderr)
	}
}

// --parquet-compression picks the codec of every Parquet file written; gzip by default.
func TestCLIParquetCompression(t *testing.T) {
	_, _, env := startSim(t, nil)
	for _, tc := range []struct{ flag, want string }{{"", "GZIP"}, {"snappy", "SNAPPY"}, {"zstd", "ZSTD"}} {
		wh := t.TempDir()
		args := []string{"run", "--quiet", "--warehouse", wh}
		if tc.flag != "" {
			args = append(args, "--parquet-compression", tc.flag)
		}
		if r := seatlake(t, env, args...); r.code != 0 {
			t.Fatalf("%v: exit %d: %s", args, r.code, r.stderr)
		}
		got := csvRows(t, wh, "SELECT DISTINCT compression FROM parquet_metadata('raw/graph_signins/data/*/*/*.parquet') UNION SELECT DISTINCT compression FROM parquet_metadata('marts/license_usage/data/*/*/*.parquet') ORDER BY 1")
		if len(got) != 1 || got[0][0] != tc.want {
			t.Errorf("--parquet-compression %q: the files use %v, want %s", tc.flag, got, tc.want)
		}
	}
}

// Ctrl-C is how a simulator stops: it exits 0, not as an interrupted run.
func TestCLISimStopsCleanlyOnSIGINT(t *testing.T) {
	sim := command(nil, "sim", "--addr", "127.0.0.1:0", "--users", "50", "--throttle", "off")
	out, _ := sim.StdoutPipe()
	if err := sim.Start(); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 256)
	if _, err := out.Read(buf); err != nil { // serving: it printed its credentials
		t.Fatal(err)
	}
	go io.Copy(io.Discard, out)
	sim.Process.Signal(os.Interrupt)
	if err := sim.Wait(); err != nil {
		t.Errorf("the simulator after SIGINT: %v, want exit 0", err)
	}
}
