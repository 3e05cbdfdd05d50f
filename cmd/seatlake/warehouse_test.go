package main

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"gopkg.in/yaml.v3"
)

// legacyWarehouse is a copy of load/warehouse/testdata/legacy: a warehouse in the folder layout, written by the
// seatlake before the Iceberg tables (two tenants, three nights of users, overlapping sign-ins, runs, state).
func legacyWarehouse(t *testing.T) string {
	wh := filepath.Join(t.TempDir(), "warehouse")
	if err := os.CopyFS(wh, os.DirFS(filepath.Join("..", "..", "load", "warehouse", "testdata", "legacy"))); err != nil {
		t.Fatal(err)
	}
	// A table of the library's own tests, no table of seatlake's: it is not migrated, and maintenance would take
	// its folder for the folder layout's.
	if err := os.RemoveAll(filepath.Join(wh, "marts", "test_people")); err != nil {
		t.Fatal(err)
	}
	return wh
}

// The rows of the legacy warehouse, as its files hold them.
var legacyRows = map[string]int64{
	"graph_users_history":   24, // 3 + 4 + 5 users over three nights, two tenants
	"graph_users":           10, // the last night of each tenant
	"graph_signins_history": 28, // every stored copy (the folder layout re-read the lookback)
	"graph_signins":         24, // each sign-in once
	"runs":                  6,
}

// seatlake warehouse migrate moves a folder-layout warehouse into the Iceberg tables, says what it did, and
// seatlake query then counts the legacy rows; maintenance refuses the warehouse until then, by name.
func TestCLIWarehouseMigrate(t *testing.T) {
	wh := legacyWarehouse(t)
	r := seatlake(t, nil, "warehouse", "maintain", "--warehouse", wh)
	if r.code != exitFailed || !strings.Contains(r.stderr, "seatlake warehouse migrate") || !strings.Contains(r.stderr, wh) {
		t.Errorf("maintain before the migration: exit %d, want 1 naming the warehouse and `seatlake warehouse migrate`\n%s%s", r.code, r.stdout, r.stderr)
	}
	r = seatlake(t, nil, "warehouse", "migrate", "--warehouse", wh)
	if r.code != 0 {
		t.Fatalf("warehouse migrate: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if !strings.Contains(r.stdout, "migrated tables=3 rows=58 files=22 tenants=2 ") ||
		!strings.Contains(r.stdout, "table=graph_users rows=24\n") || !strings.Contains(r.stdout, "table=graph_signins rows=28\n") {
		t.Errorf("warehouse migrate says:\n%s", r.stdout)
	}
	for table, want := range legacyRows {
		if got := queryCount(t, wh, table); got != want {
			t.Errorf("after the migration %s has %d rows, the legacy warehouse %d", table, got, want)
		}
	}
	r = seatlake(t, nil, "warehouse", "migrate", "--warehouse", wh)
	if r.code != 0 || !strings.HasPrefix(r.stdout, "nothing to migrate") {
		t.Errorf("a second migrate: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if got := queryCount(t, wh, "graph_users_history"); got != 24 {
		t.Errorf("after a second migrate: %d users", got)
	}
}

// seatlake run on a warehouse of the folder layout migrates it first, saying so; --shard 0/1 says which tenants
// it runs; --export leaves a folder of plain Parquet that a folder-only reader (DuckDB's read_parquet with
// hive_partitioning) reads with the views' counts; seatlake warehouse maintain then says what it did per table and
// the views still show the same rows.
func TestCLIRunMigratesShardsExportsAndMaintains(t *testing.T) {
	_, base, env := startSim(t, nil)
	wh := legacyWarehouse(t)
	export := filepath.Join(t.TempDir(), "export")
	r := seatlake(t, env, "run", "--warehouse", wh, "--shard", "0/1", "--export", export, "--progress", "never")
	if r.code != 0 {
		t.Fatalf("run: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if !strings.HasPrefix(r.stdout, "shard=0/1 tenants=1\n") {
		t.Errorf("run --shard 0/1 does not start with its shard line:\n%s", r.stdout)
	}
	if !strings.Contains(r.stderr, "migrated the warehouse from the folder layout") {
		t.Errorf("run on a folder-layout warehouse does not say it migrated it:\n%s", r.stderr)
	}
	if !strings.Contains(r.stdout, "exported dir="+export+" ") {
		t.Errorf("run --export does not say it exported:\n%s", r.stdout)
	}
	// The legacy tenants' nights are kept beside the new tenant's run.
	legacy := func() map[string]int64 {
		got := map[string]int64{}
		for _, table := range []string{"graph_users_history", "graph_signins", "runs"} {
			got[table] = queryCount(t, wh, table+" WHERE tenant_id IN ('t1', 't2')")
		}
		return got
	}
	for table, n := range legacy() {
		if n != legacyRows[table] {
			t.Errorf("after the run %s holds %d rows of the legacy tenants, want %d", table, n, legacyRows[table])
		}
	}
	tr := truth(t, base)
	if got := queryCount(t, wh, "graph_users WHERE tenant_id NOT IN ('t1', 't2')"); got != tr["graph_users"] {
		t.Errorf("the run's graph_users: %d rows, truth %d", got, tr["graph_users"])
	}

	// The folder export holds the views' rows, read as a folder-only tool reads it.
	views := map[string]int64{}
	for _, table := range []string{"graph_users", "graph_user_licenses", "graph_subscribed_skus", "graph_signins", "dataverse_users",
		"dataverse_audits", "finops_users", "finops_user_roles", "identities", "license_usage", "license_position", "runs"} {
		views[table] = queryCount(t, wh, table)
		folder := fmt.Sprintf("read_parquet('%s/**/*.parquet', hive_partitioning = true)", filepath.ToSlash(filepath.Join(export, table)))
		if got := queryCount(t, wh, folder); got != views[table] || got == 0 {
			t.Errorf("the export of %s: %d rows read from the folder, the view has %d", table, got, views[table])
		}
	}
	r = seatlake(t, nil, "query", "--warehouse", wh, "--format", "csv",
		fmt.Sprintf("SELECT DISTINCT tenant_id FROM read_parquet('%s/graph_users/**/*.parquet', hive_partitioning = true) ORDER BY 1", filepath.ToSlash(export)))
	if ids := strings.Fields(r.stdout); r.code != 0 || len(ids) != 4 || !slices.Contains(ids, "t1") || !slices.Contains(ids, "t2") {
		t.Errorf("tenants of the exported graph_users (from the folder names): %q %s", r.stdout, r.stderr)
	}

	// Maintenance: the small files (the migration's, one per legacy file) are compacted; expiring every snapshot but
	// the current and the three tenants' read snapshots (tagged) leaves the views' rows as they were.
	r = seatlake(t, nil, "warehouse", "maintain", "--warehouse", wh, "--retention", "1ns")
	if r.code != 0 {
		t.Fatalf("warehouse maintain: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	line := regexp.MustCompile(`(?m)^table=graph_users compacted_partitions=\d+ compacted_files=\d+ expired_snapshots=\d+ rewritten_manifests=\d+ added_manifests=\d+ orphan_files=\d+ orphan_bytes=\d+ read_tags=(\d+)$`).FindStringSubmatch(r.stdout)
	if line == nil {
		t.Fatalf("warehouse maintain does not say what it did to graph_users:\n%s", r.stdout)
	}
	if n, _ := strconv.Atoi(line[1]); n != 3 {
		t.Errorf("warehouse maintain tagged %d read snapshots of graph_users, want one per tenant (3):\n%s", n, r.stdout)
	}
	totals := regexp.MustCompile(`(?m)^maintained tables=\d+ compacted_partitions=(\d+) compacted_files=\d+ expired_snapshots=(\d+) rewritten_manifests=\d+ orphan_files=\d+ orphan_bytes=\d+$`).FindStringSubmatch(r.stdout)
	if totals == nil {
		t.Errorf("warehouse maintain has no totals line:\n%s", r.stdout)
	} else {
		if n, _ := strconv.Atoi(totals[1]); n < 1 {
			// The migration wrote one file per legacy file: the legacy tenants' sign-in days hold several.
			t.Errorf("warehouse maintain compacted nothing:\n%s", r.stdout)
		}
		if n, _ := strconv.Atoi(totals[2]); n < 1 {
			// The record tables (runs, the commit log) had a snapshot per migrated night and one for the run.
			t.Errorf("warehouse maintain --retention 1ns expired no snapshot:\n%s", r.stdout)
		}
	}
	for table, want := range views {
		if got := queryCount(t, wh, table); got != want {
			t.Errorf("after maintenance %s has %d rows, before %d", table, got, want)
		}
	}
	for table, n := range legacy() {
		if n != legacyRows[table] {
			t.Errorf("after maintenance %s holds %d rows of the legacy tenants, want %d", table, n, legacyRows[table])
		}
	}
}

// --shard i/N runs each tenant of the config file in exactly one of the N shards, and says how many it has.
func TestCLIShardsSplitTheConfigFilesTenants(t *testing.T) {
	dir := t.TempDir()
	secret := writeSecret(t, dir, "secret", "not-used")
	var b strings.Builder
	fmt.Fprintf(&b, "warehouse: %s\nmax-attempts: 1\ntenants:\n", filepath.Join(dir, "wh"))
	var all []string
	for i := 1; i <= 6; i++ {
		// Token requests go to a closed loopback port: each tenant fails at once, its run row naming it.
		fmt.Fprintf(&b, "  - name: t%d\n    tenant-id: tenant-%d.example.com\n    client-id: c\n    client-secret-file: %s\n    authority-host: http://127.0.0.1:9\n    graph-endpoint: http://127.0.0.1:9\n", i, i, secret)
		all = append(all, fmt.Sprintf("t%d", i))
	}
	cfg := filepath.Join(dir, "seatlake.yaml")
	if err := os.WriteFile(cfg, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	ran := regexp.MustCompile(`(?m)^run \S+  tenant (t\d) `)
	var seen []string
	for i := 0; i < 3; i++ {
		r := seatlake(t, nil, "run", "--config", cfg, "--shard", fmt.Sprintf("%d/3", i), "--progress", "never")
		var k int
		if _, err := fmt.Sscanf(r.stdout, fmt.Sprintf("shard=%d/3 tenants=%%d\n", i), &k); err != nil {
			t.Fatalf("shard %d/3: no shard line (%v):\n%s%s", i, err, r.stdout, r.stderr)
		}
		var names []string
		for _, m := range ran.FindAllStringSubmatch(r.stdout, -1) {
			names = append(names, m[1])
		}
		if len(names) != k {
			t.Errorf("shard %d/3 says tenants=%d and ran %v", i, k, names)
		}
		seen = append(seen, names...)
	}
	slices.Sort(seen)
	if !slices.Equal(seen, all) {
		t.Errorf("the shards ran %v, want each of %v once", seen, all)
	}
}

// A malformed catalog, storage or shard is a usage error (exit 2) naming what is accepted, from a flag, the
// environment or the config file, before anything is opened.
func TestCLIWarehouseFlagsUsageErrors(t *testing.T) {
	dir := t.TempDir()
	wh := filepath.Join(dir, "wh")
	cfg := filepath.Join(dir, "seatlake.yaml")
	os.WriteFile(cfg, []byte("warehouse: "+wh+"\ncatalog: mysql://db.example.com/iceberg\n"), 0o600)
	const catalogForms, storageForms = "postgres://", "abfss://container@account.dfs.core.windows.net/prefix"
	cases := []struct {
		name string
		env  []string
		args []string
		want string
	}{
		{"unknown catalog", nil, []string{"query", "--warehouse", wh, "--catalog", "mysql://db/x", "SELECT 1"}, catalogForms},
		{"catalog password", nil, []string{"warehouse", "maintain", "--warehouse", wh, "--catalog", "postgres://u:hunter2@db/x"}, "PGPASSWORD"},
		{"plain http REST", nil, []string{"report", "--warehouse", wh, "--catalog", "http://catalog.example.com/api"}, "https://"},
		{"unknown storage", nil, []string{"run", "--warehouse", wh, "--storage", "gs://bucket/p"}, storageForms},
		{"azure without container", []string{"SEATLAKE_STORAGE=abfss://account.dfs.core.windows.net/p"}, []string{"marts", "--warehouse", wh}, storageForms},
		{"config file's catalog", nil, []string{"warehouse", "export", "--config", cfg, "--to", filepath.Join(dir, "x")}, catalogForms},
		{"config validate", nil, []string{"config", "validate", cfg}, catalogForms},
		{"shard past N", nil, []string{"run", "--warehouse", wh, "--shard", "8/8"}, "0 <= i < N"},
		{"shard without N", nil, []string{"run", "--warehouse", wh, "--shard", "3"}, "0 <= i < N"},
		{"shard of no index", nil, []string{"run", "--warehouse", wh, "--shard", "$(JOB_COMPLETION_INDEX)/8"}, "JOB_COMPLETION_INDEX is not set"},
		{"object storage as --warehouse", nil, []string{"query", "--warehouse", "s3://bucket/seatlake", "SELECT 1"}, "--storage s3://bucket/seatlake"},
		{"export without --to", nil, []string{"warehouse", "export", "--warehouse", wh}, "--to"},
		{"orphan age shorter than a run", nil, []string{"warehouse", "maintain", "--warehouse", wh, "--orphan-age", "5m"}, "longest run"},
	}
	for _, c := range cases {
		r := seatlake(t, c.env, c.args...)
		if r.code != exitUsage || !strings.Contains(r.stderr, c.want) || strings.Count(strings.TrimSpace(r.stderr), "\n") != 0 {
			t.Errorf("%s: exit %d, want 2 and one line naming %q:\n%s%s", c.name, r.code, c.want, r.stdout, r.stderr)
		}
		if strings.Contains(r.stderr, "hunter2") {
			t.Errorf("%s: the password is shown: %s", c.name, r.stderr)
		}
	}
	if _, err := os.Stat(filepath.Join(wh, "catalog.sqlite")); err == nil {
		t.Error("a usage error opened the warehouse")
	}
}

// $JOB_COMPLETION_INDEX/N, as an Indexed Job's pod has it unexpanded, reads the index from the environment.
func TestParseShard(t *testing.T) {
	env := func(k string) string { return map[string]string{"JOB_COMPLETION_INDEX": "5"}[k] }
	for _, c := range []struct {
		in   string
		i, n int
		ok   bool
	}{
		{"0/1", 0, 1, true}, {"3/8", 3, 8, true}, {" 7/8 ", 7, 8, true}, {"$(JOB_COMPLETION_INDEX)/8", 5, 8, true},
		{"$JOB_COMPLETION_INDEX/8", 5, 8, true}, {"${JOB_COMPLETION_INDEX}/6", 5, 6, true}, {"$(JOB_COMPLETION_INDEX)/4", 0, 0, false},
		{"8/8", 0, 0, false}, {"-1/8", 0, 0, false}, {"1/0", 0, 0, false}, {"1", 0, 0, false}, {"a/b", 0, 0, false}, {"", 0, 0, false},
	} {
		i, n, err := parseShard(c.in, env)
		if (err == nil) != c.ok || (c.ok && (i != c.i || n != c.n)) {
			t.Errorf("parseShard(%q) = %d, %d, %v", c.in, i, n, err)
		}
	}
}

// events serve --events-dir keeps the receiver's journal, secrets and status in that folder (a persistent volume
// in a pod), not in the warehouse directory, and commits the events to the warehouse.
func TestCLIEventsServeKeepsItsFolderInEventsDir(t *testing.T) {
	dir := t.TempDir()
	wh, ev := filepath.Join(dir, "warehouse"), filepath.Join(dir, "events")
	env := []string{"SEATLAKE_FINOPS_URL=https://contoso-prod.operations.dynamics.com",
		"AZURE_TENANT_ID=contoso.example.com", "AZURE_CLIENT_ID=c", "AZURE_CLIENT_SECRET=not-used"}
	if r := seatlake(t, env, "events", "new-endpoint", "--warehouse", wh, "--events-dir", ev); r.code != 0 {
		t.Fatalf("new-endpoint: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if _, err := os.Stat(filepath.Join(ev, "secrets", "contoso-prod.secret")); err != nil {
		t.Fatalf("new-endpoint --events-dir: %v", err)
	}
	rcv := startReceiver(t, env, "--warehouse", wh, "--events-dir", ev, "--commit-interval", "1s")
	body := `{"BusinessEventId":"TestEvent","ControlNumber":5637144576,"EventId":"A1B2","EventTime":"/Date(1700000000000)/","LegalEntity":"usmf"}`
	if code := post(t, rcv.callback, "application/json", body); code != 202 {
		t.Fatalf("an event: %d, want 202", code)
	}
	rcv.cmd.Process.Signal(syscall.SIGTERM)
	if err := rcv.cmd.Wait(); err != nil {
		t.Fatalf("events serve after SIGTERM: %v\n%s", err, rcv.stderr)
	}
	for _, p := range []string{"journal", "status.json"} {
		if _, err := os.Stat(filepath.Join(ev, p)); err != nil {
			t.Errorf("the receiver's %s is not in --events-dir: %v", p, err)
		}
	}
	if _, err := os.Stat(filepath.Join(wh, "_events")); err == nil {
		t.Errorf("with --events-dir the receiver still wrote %s", filepath.Join(wh, "_events"))
	}
	if got := queryCount(t, wh, "finops_business_events"); got != 1 {
		t.Errorf("finops_business_events: %d rows, want the event", got)
	}
}

// The Kubernetes ConfigMap's seatlake.yaml is a config file seatlake accepts: every key known, the catalog and the
// storage well-formed, and the arguments of every pod a command line seatlake parses.
func TestCLIKubernetesConfigMapIsValid(t *testing.T) {
	dir := filepath.Join("..", "..", "deploy", "kubernetes")
	var cm struct {
		Data map[string]string `yaml:"data"`
	}
	raw, err := os.ReadFile(filepath.Join(dir, "configmap.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(raw, &cm); err != nil {
		t.Fatal(err)
	}
	// The workload identity token is projected into the pod only: here, a file standing in for it.
	token := writeSecret(t, t.TempDir(), "azure-identity-token", "eyJ0eXAiOiJKV1QifQ")
	file := filepath.Join(t.TempDir(), "seatlake.yaml")
	os.WriteFile(file, []byte(strings.ReplaceAll(cm.Data["seatlake.yaml"], "/var/run/secrets/azure/tokens/azure-identity-token", token)), 0o600)
	if r := seatlake(t, nil, "config", "validate", file); r.code != 0 {
		t.Errorf("config validate of the ConfigMap's seatlake.yaml: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	manifests, _ := filepath.Glob(filepath.Join(dir, "*.yaml"))
	args := regexp.MustCompile(`(?m)^\s*args: (\[.*\])\s*$`)
	var n int
	for _, m := range manifests {
		b, _ := os.ReadFile(m)
		for _, a := range args.FindAllSubmatch(b, -1) {
			var argv []string
			if err := yaml.Unmarshal(a[1], &argv); err != nil {
				t.Fatalf("%s: args %s: %v", m, a[1], err)
			}
			n++
			// --help parses every flag and runs nothing.
			if r := seatlake(t, nil, append(argv, "--help")...); r.code != 0 {
				t.Errorf("%s: %v is not a command line seatlake accepts: exit %d\n%s", filepath.Base(m), argv, r.code, r.stderr)
			}
		}
	}
	if n < 3 {
		t.Errorf("found %d pods' args in %s, want the ingest, the receiver and the maintenance", n, dir)
	}
}
