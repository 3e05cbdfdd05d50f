package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/apache/iceberg-go"
	sqlcat "github.com/apache/iceberg-go/catalog/sql"
	itable "github.com/apache/iceberg-go/table"

	"github.com/seatlake/seatlake/internal/csvtest"
	"github.com/seatlake/seatlake/internal/testservices"
	"github.com/seatlake/seatlake/load/warehouse"
)

// nodeReader is a Node.js package a test reads the warehouse with, installed by the Makefile into .cache/<dir>.
type nodeReader struct {
	what    string // what the package is, for messages
	env     string // an environment variable naming the folder npm installed it into, instead of .cache/<dir>
	dir     string // .cache/<dir>
	pkg     string // the package's folder under node_modules
	install string // how to install it
}

// find returns node and the folder npm installed the package into; ok is false when either is missing.
func (r nodeReader) find() (node, prefix string, ok bool) {
	prefix = os.Getenv(r.env)
	if prefix == "" {
		prefix, _ = filepath.Abs(filepath.Join("..", "..", ".cache", r.dir)) // the test runs in cmd/seatlake
	}
	node, err := exec.LookPath("node")
	if err != nil {
		return "", "", false
	}
	if st, err := os.Stat(filepath.Join(prefix, "node_modules", filepath.FromSlash(r.pkg), "package.json")); err != nil || st.IsDir() {
		return "", "", false
	}
	return node, prefix, true
}

// require returns node and the package's folder, or ends the test as testservices does for a missing component:
// a skip saying how to install it, a failure under SEATLAKE_REQUIRE_SERVICES=1.
func (r nodeReader) require(t *testing.T) (node, prefix string) {
	t.Helper()
	node, prefix, ok := r.find()
	if ok {
		return node, prefix
	}
	how := r.install
	if _, err := exec.LookPath("node"); err != nil {
		how = "it needs Node.js: apt-get install nodejs npm, then " + how
	}
	if os.Getenv(testservices.RequireEnv) == "1" {
		t.Fatalf("%s is not available: %s (%s=1: a missing service is a failure)", r.what, how, testservices.RequireEnv)
	}
	t.Skipf("%s is not available, skipping: %s (set %s=1 to make this a failure)", r.what, how, testservices.RequireEnv)
	return "", ""
}

// Readers that are not seatlake's see what seatlake sees. A warehouse holding every table seatlake writes (a run's
// raw tables and marts, runs, the commit log, a dry-run sync's syncs row, a reclaim preview's actions, business
// events with the F&O tables their route refreshed) is read:
//   - by icebird, hyparam's JavaScript Apache Iceberg reader (Avro manifests, Parquet through hyparquet), from the
//     catalog's metadata_location of every table, over HTTP: each table's current snapshot has the row count
//     seatlake gives it. The test fails when a table is on one side only.
//   - by DuckDB's Node.js client (DuckDB 1.5.6, another build and process than seatlake's DuckDB 1.5.5), opening
//     seatlake.duckdb read-only from the warehouse directory as the duckdb CLI would: every view is there and
//     counts what `seatlake query` counts.
func TestCLIOtherReadersReadEveryTable(t *testing.T) {
	icebirdReader := nodeReader{what: "icebird (JavaScript Iceberg reader)", env: "SEATLAKE_ICEBIRD", dir: "icebird", pkg: "icebird",
		install: "run `make icebird` (npm install --prefix .cache/icebird icebird@0.3.1), or set SEATLAKE_ICEBIRD to the folder npm installed it into"}
	duckdbNodeReader := nodeReader{what: "DuckDB's Node.js client", env: "SEATLAKE_DUCKDB_NODE", dir: "duckdb-node", pkg: "@duckdb/node-api",
		install: "run `make duckdb-node` (npm install --prefix .cache/duckdb-node @duckdb/node-api@1.5.6-r.1), or set SEATLAKE_DUCKDB_NODE to the folder npm installed it into"}
	if _, _, ok := icebirdReader.find(); !ok {
		if _, _, ok := duckdbNodeReader.find(); !ok {
			icebirdReader.require(t) // neither reader: skip (or fail) before the run
		}
	}
	wh := everyTableWarehouse(t)

	// seatlake's count of every view, through `seatlake query` (DuckDB over seatlake.duckdb).
	var views []string
	for _, rec := range csvRows(t, wh, "SELECT table_name FROM information_schema.tables WHERE table_type = 'VIEW' ORDER BY 1") {
		views = append(views, rec[0])
	}
	var union []string
	for _, v := range views {
		union = append(union, "SELECT '"+v+"' AS view, count(*) AS n FROM "+v)
	}
	seatlakeViews := map[string]int64{}
	for _, rec := range csvRows(t, wh, strings.Join(union, " UNION ALL ")) {
		n, err := strconv.ParseInt(rec[1], 10, 64)
		if err != nil {
			t.Fatalf("count of %s: %q", rec[0], rec[1])
		}
		seatlakeViews[rec[0]] = n
	}

	t.Run("icebird", func(t *testing.T) {
		node, prefix := icebirdReader.require(t)
		tables := catalogTables(t, wh)
		// seatlake's count of each table's current snapshot. A snapshot or event table counts through its
		// <table>_history view: every row of the files of each tenant's last committed snapshot, which (the last
		// transaction being complete) is the table's current snapshot. Its plain view would show each tenant's
		// latest day only (snapshot tables) or one copy of each event (event tables): the same rows after one run,
		// where no day repeats and no event is stored twice, but not the same rows by definition. A record table
		// (runs, syncs, actions) has one view, of its current files. The commit log has no view: it is counted by a
		// scan of its current snapshot through iceberg-go, as seatlake reads it.
		want := map[string]int64{}
		for name := range tables {
			switch {
			case hasKey(seatlakeViews, name+"_history"):
				want[name] = seatlakeViews[name+"_history"]
			case hasKey(seatlakeViews, name):
				want[name] = seatlakeViews[name]
			case name == warehouse.CommitsTable.Name:
				want[name] = commitLogRows(t, wh)
			default:
				t.Errorf("the catalog's table %s has no seatlake view", name)
			}
		}
		for _, v := range views {
			if name := strings.TrimSuffix(v, "_history"); !hasKey(tables, name) {
				t.Errorf("seatlake has the view %s of %s, which is not in the catalog", v, name)
			}
		}

		srv := httptest.NewServer(http.FileServer(http.Dir(wh))) // 127.0.0.1: icebird reads over HTTP
		defer srv.Close()
		args := []string{filepath.Join("testdata", "readers", "icebird.mjs"), prefix, "file://" + filepath.ToSlash(wh), srv.URL}
		for _, name := range slices.Sorted(maps.Keys(tables)) {
			args = append(args, name+"="+tables[name])
		}
		start := time.Now()
		out, err := exec.Command(node, args...).Output()
		if err != nil {
			t.Fatalf("icebird: %v\n%s", err, stderrOf(err))
		}
		t.Logf("icebird read %d tables in %s", len(tables), time.Since(start).Round(time.Millisecond))
		var got map[string]struct {
			Rows      int64 `json:"rows"`
			DataFiles int64 `json:"data_files"`
		}
		if err := json.Unmarshal(out, &got); err != nil {
			t.Fatalf("icebird's output %q: %v", out, err)
		}
		for _, name := range slices.Sorted(maps.Keys(tables)) {
			g, ok := got[name]
			switch {
			case !ok:
				t.Errorf("%s: icebird did not read it", name)
			case g.Rows != want[name]:
				t.Errorf("%s: icebird reads %d rows in the current snapshot (%d data files), seatlake %d", name, g.Rows, g.DataFiles, want[name])
			case g.Rows == 0:
				t.Errorf("%s: no rows on either side: the comparison proves nothing", name)
			default:
				t.Logf("%s: %d rows (%d data files) on both sides", name, g.Rows, g.DataFiles)
			}
		}
		for name := range got {
			if !hasKey(tables, name) {
				t.Errorf("icebird read %s, which is not in the catalog", name)
			}
		}
	})

	t.Run("duckdb", func(t *testing.T) {
		node, prefix := duckdbNodeReader.require(t)
		script, err := filepath.Abs(filepath.Join("testdata", "readers", "duckdb.mjs"))
		if err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(node, script, prefix, "seatlake.duckdb")
		cmd.Dir = wh // as `cd warehouse && duckdb seatlake.duckdb`: the views' paths are relative to it
		start := time.Now()
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("DuckDB's Node.js client on seatlake.duckdb: %v\n%s", err, stderrOf(err))
		}
		var got struct {
			Version string           `json:"version"`
			Counts  map[string]int64 `json:"counts"`
		}
		if err := json.Unmarshal(out, &got); err != nil {
			t.Fatalf("the DuckDB script's output %q: %v", out, err)
		}
		t.Logf("DuckDB %s opened seatlake.duckdb and counted %d views in %s", got.Version, len(got.Counts), time.Since(start).Round(time.Millisecond))
		for _, v := range views {
			if n, ok := got.Counts[v]; !ok {
				t.Errorf("DuckDB %s does not see the view %s", got.Version, v)
			} else if n != seatlakeViews[v] {
				t.Errorf("%s: DuckDB %s counts %d rows, seatlake query %d", v, got.Version, n, seatlakeViews[v])
			}
		}
		for v := range got.Counts {
			if !hasKey(seatlakeViews, v) {
				t.Errorf("DuckDB %s sees a view %s that seatlake query does not", got.Version, v)
			}
		}
	})
}

// everyTableWarehouse returns a local warehouse in which every table seatlake writes has rows: a run, a dry-run
// sync to JSM Assets (syncs), a reclaim preview of one approved plan row (actions), and business events received
// and committed by `events serve` (finops_business_events, and the F&O tables refresh-user commits again).
func everyTableWarehouse(t *testing.T) string {
	t.Helper()
	wh, env := ranWarehouse(t)
	_, assetsURL := startJSMAssets(t, "assets-container-token")
	if r := seatlake(t, nil, "sync", "jsm-assets", "--warehouse", wh, "--url", assetsURL, "--dry-run"); r.code != 0 {
		t.Fatalf("sync --dry-run: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}

	dir := t.TempDir()
	recs, _ := planOf(t, wh, dir)
	if len(recs) < 2 {
		t.Fatalf("the reclaim plan: %d lines", len(recs))
	}
	approve := slices.Index(recs[0], "approve")
	if approve < 0 {
		t.Fatalf("the reclaim plan has no approve column: %v", recs[0])
	}
	recs[1][approve] = "yes"
	plan := csvtest.Write(t, filepath.Join(dir, "approved.csv"), recs)
	if r := seatlake(t, env, "reclaim", "--warehouse", wh, "--plan", plan, "--actor", "reader@test"); r.code != 0 {
		t.Fatalf("reclaim preview: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}

	if r := seatlake(t, env, "events", "new-endpoint", "--warehouse", wh); r.code != 0 {
		t.Fatalf("events new-endpoint: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	rcv := startReceiver(t, env, "--warehouse", wh, "--commit-interval", "1s")
	s := seatlake(t, nil, "sim", "--seed", "7", "--users", "250", "--days", "4", "--signins", "5000", "--throttle", "off",
		"--finops-events", "5", "--finops-events-rate", "500", "--finops-events-to", rcv.callback)
	if s.code != 0 {
		t.Fatalf("the business events sender: exit %d\n%s%s", s.code, s.stdout, s.stderr)
	}
	for deadline := time.Now().Add(60 * time.Second); csvRows(t, wh, "SELECT count(*) FROM finops_business_events")[0][0] == "0"; {
		if time.Now().After(deadline) {
			t.Fatalf("events serve committed no business event\n%s", rcv.stderr)
		}
		time.Sleep(300 * time.Millisecond)
	}
	// SIGTERM commits what is journaled and ends the receiver: nothing commits while the readers read.
	rcv.cmd.Process.Signal(syscall.SIGTERM)
	if err := rcv.cmd.Wait(); err != nil {
		t.Fatalf("events serve after SIGTERM: %v\n%s", err, rcv.stderr)
	}
	return wh
}

// catalogTables reads the embedded SQL catalog as any engine would: each table's name and metadata_location.
func catalogTables(t *testing.T, wh string) map[string]string {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+filepath.ToSlash(filepath.Join(wh, warehouse.EmbeddedCatalogFile))+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rows, err := db.Query(`SELECT table_namespace, table_name, metadata_location FROM iceberg_tables WHERE catalog_name = ?`, warehouse.CatalogName)
	if err != nil {
		t.Fatalf("reading the catalog's iceberg_tables: %v", err)
	}
	defer rows.Close()
	tables := map[string]string{}
	for rows.Next() {
		var ns, name, loc string
		if err := rows.Scan(&ns, &name, &loc); err != nil {
			t.Fatal(err)
		}
		if ns != warehouse.Namespace {
			t.Errorf("the catalog holds %s.%s, outside the namespace %s", ns, name, warehouse.Namespace)
			continue
		}
		tables[name] = loc
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if len(tables) == 0 {
		t.Fatal("the catalog lists no table")
	}
	return tables
}

// commitLogRows counts the commit log's current snapshot with an iceberg-go scan, as seatlake reads it.
func commitLogRows(t *testing.T, wh string) int64 {
	t.Helper()
	ctx := context.Background()
	db, err := sql.Open("sqlite", "file:"+filepath.ToSlash(filepath.Join(wh, warehouse.EmbeddedCatalogFile)))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	cat, err := sqlcat.NewCatalog(warehouse.CatalogName, db, sqlcat.SQLite, iceberg.Properties{"warehouse": "file://" + filepath.ToSlash(wh)})
	if err != nil {
		t.Fatalf("opening the catalog: %v", err)
	}
	tbl, err := cat.LoadTable(ctx, itable.Identifier{warehouse.Namespace, warehouse.CommitsTable.Name})
	if err != nil {
		t.Fatalf("loading the commit log: %v", err)
	}
	_, recs, err := tbl.Scan().ToArrowRecords(ctx)
	if err != nil {
		t.Fatalf("scanning the commit log: %v", err)
	}
	var n int64
	for rec, err := range recs {
		if err != nil {
			t.Fatalf("scanning the commit log: %v", err)
		}
		n += rec.NumRows()
		rec.Release()
	}
	return n
}

func hasKey[V any](m map[string]V, k string) bool { _, ok := m[k]; return ok }

// stderrOf is what a failed command wrote on stderr.
func stderrOf(err error) string {
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return string(ee.Stderr)
	}
	return ""
}
