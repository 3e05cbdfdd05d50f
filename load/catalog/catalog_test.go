package catalog

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/seatlake/seatlake/extract/graph"
	"github.com/seatlake/seatlake/internal/table"
	"github.com/seatlake/seatlake/load/warehouse"
)

// runsTable stands in for the pipeline's run summary declaration (a Log table).
var runsTable = table.New("runs", table.Log, "", "run summaries",
	table.Column{Name: "status", Type: arrow.BinaryTypes.String},
	table.Column{Name: "warnings", Type: arrow.ListOf(arrow.BinaryTypes.String), Nullable: true},
)

func scriptTables() []*table.Table { return append(graph.Tables(), runsTable) }

func byName(name string) *table.Table {
	for _, t := range scriptTables() {
		if t.Name == name {
			return t
		}
	}
	return nil
}

// TestViewScripts runs testdata/*.txt. The language:
//
//	# comment
//	load  <table> <run_id> <YYYY-MM-DD> [tenant=<id>]   JSON rows follow, one per line, up to a blank line; they are
//	                                                    committed as one run (the runs table: stored with WriteRun)
//	abort <table> <run_id> <YYYY-MM-DD> [tenant=<id>]   the same rows written, then the run aborted
//	query                                               SQL up to "----", then the expected CSV up to a blank line
//	query error                                         SQL up to "----", then a fragment of the expected error
//	query contains                                      SQL up to "----", then lines the CSV output must contain
//
// Rows get tenant_id (t1 unless given), run_id and extracted_at (the date at 02:00Z) unless they set them. The
// date is also the run's snapshot date. Every query rebuilds the catalog first, as every run does.
func TestViewScripts(t *testing.T) {
	scripts, err := filepath.Glob(filepath.Join("testdata", "*.txt"))
	if err != nil || len(scripts) == 0 {
		t.Fatalf("no scripts: %v", err)
	}
	for _, script := range scripts {
		t.Run(strings.TrimSuffix(filepath.Base(script), ".txt"), func(t *testing.T) { runScript(t, script) })
	}
}

func runScript(t *testing.T, path string) {
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	root, wh := openWarehouse(t)
	ctx := context.Background()
	sc := bufio.NewScanner(f)
	line := 0
	next := func() (string, bool) {
		if !sc.Scan() {
			return "", false
		}
		line++
		return sc.Text(), true
	}
	block := func(stop string) []string {
		var out []string
		for {
			l, ok := next()
			if !ok || l == stop {
				return out
			}
			out = append(out, l)
		}
	}
	for {
		l, ok := next()
		if !ok {
			break
		}
		at := line
		fields := strings.Fields(l)
		switch {
		case l == "" || strings.HasPrefix(l, "#"):
		case fields[0] == "load" || fields[0] == "abort":
			if len(fields) < 4 || len(fields) > 5 {
				t.Fatalf("%s:%d: want %s <table> <run_id> <YYYY-MM-DD> [tenant=<id>]", path, at, fields[0])
			}
			tbl := byName(fields[1])
			if tbl == nil {
				t.Fatalf("%s:%d: unknown table %s", path, at, fields[1])
			}
			date, err := time.Parse(time.DateOnly, fields[3])
			if err != nil {
				t.Fatalf("%s:%d: %v", path, at, err)
			}
			tenant := "t1"
			if len(fields) == 5 {
				tenant = strings.TrimPrefix(fields[4], "tenant=")
			}
			load(t, wh, tbl, tenant, fields[2], date, block(""), fields[0] == "abort")
		case l == "query" || l == "query error" || l == "query contains":
			q := strings.Join(block("----"), "\n")
			want := strings.Join(block(""), "\n")
			if err := Build(ctx, root, scriptTables()); err != nil {
				t.Fatalf("%s:%d: building the catalog: %v", path, at, err)
			}
			var out bytes.Buffer
			err := Query(ctx, root, q, "csv", &out)
			if l == "query error" {
				if err == nil || !strings.Contains(err.Error(), want) {
					t.Errorf("%s:%d: %s\nerror %v, want one containing %q", path, at, q, err, want)
				}
				continue
			}
			if err != nil {
				t.Errorf("%s:%d: %s\n%v", path, at, q, err)
				continue
			}
			if l == "query contains" {
				for _, w := range strings.Split(want, "\n") {
					if !strings.Contains(out.String(), w) {
						t.Errorf("%s:%d: %s\ngot:\n%s\nwant it to contain %q", path, at, q, out.String(), w)
					}
				}
				continue
			}
			if got := strings.TrimSpace(out.String()); got != want {
				t.Errorf("%s:%d: %s\ngot:\n%s\nwant:\n%s", path, at, q, got, want)
			}
		default:
			t.Fatalf("%s:%d: unknown directive %q", path, at, l)
		}
	}
}

// fixture builds tbl's rows from JSON lines, filling in the provenance columns.
func fixture(t *testing.T, mem memory.Allocator, tbl *table.Table, tenant, run string, at time.Time, rows []string) arrow.RecordBatch {
	t.Helper()
	objs := []map[string]any{}
	for _, r := range rows {
		var o map[string]any
		if err := json.Unmarshal([]byte(r), &o); err != nil {
			t.Fatalf("row %s: %v", r, err)
		}
		for k, v := range map[string]any{"tenant_id": tenant, "run_id": run, "extracted_at": at.Format(time.RFC3339)} {
			if _, ok := o[k]; !ok {
				o[k] = v
			}
		}
		objs = append(objs, o)
	}
	js, err := json.Marshal(objs)
	if err != nil {
		t.Fatal(err)
	}
	rec, _, err := array.RecordFromJSON(mem, tbl.Schema(), bytes.NewReader(js))
	if err != nil {
		t.Fatalf("%s rows: %v", tbl.Name, err)
	}
	return rec
}

// openWarehouse opens a warehouse in a temporary folder, closed when the test ends.
func openWarehouse(t *testing.T) (root string, wh *warehouse.Warehouse) {
	t.Helper()
	root = t.TempDir()
	wh, err := warehouse.Open(context.Background(), root, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { wh.Close() })
	return root, wh
}

// load stores tbl's rows (JSON lines, see fixture; extracted at 02:00 of date) as tenant's run of date, as a run
// does, or writes them and aborts the run.
func load(t *testing.T, wh *warehouse.Warehouse, tbl *table.Table, tenant, run string, date time.Time, rows []string, abort bool) {
	t.Helper()
	ctx := context.Background()
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	rec := fixture(t, mem, tbl, tenant, run, date.Add(2*time.Hour), rows)
	defer rec.Release()
	if tbl.Kind == table.Log {
		if err := wh.WriteRun(ctx, tbl, tenant, run, rec); err != nil {
			t.Fatal(err)
		}
		return
	}
	// One run id per table and tenant, so that a script can load several tables "in one run".
	txn, err := wh.Begin(run+"-"+tbl.Name+"-"+tenant, tenant, date, warehouse.WriterOptions{Allocator: mem})
	if err != nil {
		t.Fatal(err)
	}
	tw, err := txn.Writer(tbl)
	if err != nil {
		t.Fatal(err)
	}
	if err := tw.Write(ctx, rec); err != nil {
		t.Fatal(err)
	}
	if abort {
		err = txn.Abort()
	} else {
		err = txn.Commit(ctx)
	}
	if err != nil {
		t.Fatal(err)
	}
}

func TestQueryFormats(t *testing.T) {
	root := t.TempDir()
	ctx := context.Background()
	if err := Build(ctx, root, scriptTables()); err != nil {
		t.Fatal(err)
	}
	const common = `SELECT 1::INTEGER AS n, 'a,b' AS s, NULL::VARCHAR AS x, TIMESTAMPTZ '2026-11-20 10:00:00.5+00' AS t,
		DATE '2026-11-21' AS d, ['p1','p2'] AS l, 2.5::DOUBLE AS f`
	const duckTypes = `SELECT 1.25::DECIMAL(10,2) AS dec, uuid '0a3e8c4e-7a6f-4b1c-9d0e-1f2a3b4c5d6e' AS u,
		170141183460469231731687303715884105727::HUGEINT AS h, 'abc'::BLOB AS b, TIME '10:11:12.5' AS tm,
		'NaN'::DOUBLE AS nan, TIMESTAMPTZ '2026-01-02 03:04:05+02' AS tz, {'x': 1} AS s`
	tests := []struct{ name, q, format, want string }{
		{"csv", common, "csv", `n,s,x,t,d,l,f
1,"a,b",,2026-11-20T10:00:00.5Z,2026-11-21,"[""p1"",""p2""]",2.5
`},
		{"json", common, "json", `[
{"n":1,"s":"a,b","x":null,"t":"2026-11-20T10:00:00.5Z","d":"2026-11-21","l":["p1","p2"],"f":2.5}
]
`},
		{"table", common, "table", `n  s    x     t                       d           l            f
-  ---  ----  ----------------------  ----------  -----------  ---
1  a,b  NULL  2026-11-20T10:00:00.5Z  2026-11-21  ["p1","p2"]  2.5
(1 row)
`},
		{"json of DuckDB's own types", duckTypes, "json", `[
{"dec":1.25,"u":"0a3e8c4e-7a6f-4b1c-9d0e-1f2a3b4c5d6e","h":170141183460469231731687303715884105727,"b":"\\x616263","tm":"10:11:12.5","nan":"NaN","tz":"2026-01-02T01:04:05Z","s":{"x":1}}
]
`},
		{"empty json", "SELECT 1 AS a WHERE false", "json", "[]\n"},
		{"table without rows", `SELECT 1 AS a WHERE false`, "table", "a\n-\n(0 rows)\n"},
		{"table: numbers right, wide text, newlines escaped",
			`SELECT * FROM (VALUES (7, '東京'), (1234, 'two' || chr(10) || 'lines'), (NULL, NULL)) v(num, name)`, "table",
			"num   name\n----  ----------\n   7  東京\n1234  two\\nlines\nNULL  NULL\n(3 rows)\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			if err := Query(ctx, root, tt.q, tt.format, &out); err != nil {
				t.Fatal(err)
			}
			if out.String() != tt.want {
				t.Errorf("got\n%s\nwant\n%s", out.String(), tt.want)
			}
		})
	}
}

func TestQueryErrors(t *testing.T) {
	root := t.TempDir()
	ctx := context.Background()
	if err := Query(ctx, filepath.Join(root, "missing"), "SELECT 1", "table", &bytes.Buffer{}); err == nil ||
		!strings.Contains(err.Error(), "no warehouse at "+filepath.Join(root, "missing")+": run `seatlake run` or `seatlake demo` first") {
		t.Errorf("no catalog: %v", err)
	}
	if err := Build(ctx, root, scriptTables()); err != nil {
		t.Fatal(err)
	}
	tests := []struct{ name, q, format, want string }{
		{"unknown format", "SELECT 1", "xml", `unknown output format "xml"`},
		{"SQL error as DuckDB says it", "SELECT nope FROM graph_users", "csv", `query: Binder Error: Referenced column "nope" not found`},
		{"read-only", "CREATE TABLE x (a INT)", "csv", "read-only"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Query(ctx, root, tt.q, tt.format, &bytes.Buffer{})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %v, want one containing %q", err, tt.want)
			}
		})
	}
}

func TestBuildReplacesTheCatalogAtomically(t *testing.T) {
	root := t.TempDir()
	ctx := context.Background()
	for range 2 {
		if err := Build(ctx, root, scriptTables()); err != nil {
			t.Fatal(err)
		}
	}
	left, _ := filepath.Glob(filepath.Join(root, FileName+".tmp*"))
	if len(left) != 0 {
		t.Errorf("temporary files left: %v", left)
	}
	if _, err := os.Stat(filepath.Join(root, FileName+".wal")); err == nil {
		t.Error("a WAL was left next to the catalog: its views would not survive a move")
	}
	var out bytes.Buffer
	if err := Query(ctx, root, "SELECT comment FROM duckdb_views() WHERE view_name = 'graph_users'", "csv", &out); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "Entra ID users") {
		t.Errorf("view comment: %q, want the declaration's Doc", out.String())
	}
	if err := Build(ctx, filepath.Join(root, "missing"), nil); err == nil {
		t.Error("Build into a missing warehouse succeeded")
	}
}

// A column added to a declaration after files were written reads as NULL in the old files' rows; a column
// dropped from it disappears from the views; the rows stay.
func TestViewsFollowTheDeclaration(t *testing.T) {
	root, wh := openWarehouse(t)
	ctx := context.Background()
	v1 := table.New("test_things", table.Snapshot, "", "things",
		table.Column{Name: "id", Type: arrow.BinaryTypes.String, Key: true},
		table.Column{Name: "old", Type: arrow.BinaryTypes.String, Nullable: true},
	)
	v2 := table.New("test_things", table.Snapshot, "", "things",
		table.Column{Name: "id", Type: arrow.BinaryTypes.String, Key: true},
		table.Column{Name: "added", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
	)
	load(t, wh, v1, "t1", "r1", time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC), []string{`{"id": "a", "old": "x"}`}, false)
	if err := Build(ctx, root, []*table.Table{v2}); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := Query(ctx, root, "SELECT *, typeof(added) AS t FROM test_things", "csv", &out); err != nil {
		t.Fatal(err)
	}
	want := "tenant_id,run_id,extracted_at,id,added,snapshot_date,t\nt1,r1,2026-11-20T02:00:00Z,a,,2026-11-20,BIGINT\n"
	if out.String() != want {
		t.Errorf("got\n%s\nwant\n%s", out.String(), want)
	}
}
