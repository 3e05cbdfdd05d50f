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
	"github.com/seatlake/seatlake/extract/table"
	"github.com/seatlake/seatlake/load/warehouse"
)

// TestViewScripts runs testdata/*.txt: fixture rows in through the warehouse, views built, queries compared.
func TestViewScripts(t *testing.T) {
	scripts, _ := filepath.Glob(filepath.Join("testdata", "*.txt"))
	if len(scripts) == 0 {
		t.Fatal("no scripts")
	}
	for _, script := range scripts {
		t.Run(filepath.Base(script), func(t *testing.T) { runScript(t, script) })
	}
}

var runs = table.New("runs", table.Log, "", "run summaries", table.Column{Name: "status", Type: arrow.BinaryTypes.String})

func byName(name string) *table.Table {
	for _, t := range graph.Tables() {
		if t.Name == name {
			return t
		}
	}
	return nil
}

func runScript(t *testing.T, path string) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	root := t.TempDir()
	wh, err := warehouse.Open(context.Background(), root, nil)
	if err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(f)
	line := 0
	next := func() (string, bool) {
		if !sc.Scan() {
			return "", false
		}
		line++
		return sc.Text(), true
	}
	block := func(stop func(string) bool) []string {
		var out []string
		for {
			l, ok := next()
			if !ok || stop(l) {
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
		switch {
		case l == "" || strings.HasPrefix(l, "#"):
		case strings.HasPrefix(l, "load "):
			f := strings.Fields(l)
			if len(f) != 4 {
				t.Fatalf("line %d: load <table> <run> <date>", line)
			}
			tbl := byName(f[1])
			if tbl == nil {
				t.Fatalf("line %d: unknown table %s", line, f[1])
			}
			date, err := time.Parse("2006-01-02", f[3])
			if err != nil {
				t.Fatal(err)
			}
			rows := block(func(s string) bool { return s == "" })
			load(t, wh, mem, tbl, f[2], date.Add(2*time.Hour), rows)
		case l == "query":
			q := strings.Join(block(func(s string) bool { return s == "----" }), "\n")
			want := strings.Join(block(func(s string) bool { return s == "" }), "\n")
			at := line
			if err := Build(context.Background(), root, append(graph.Tables(), runs)); err != nil {
				t.Fatalf("line %d: build: %v", at, err)
			}
			var out bytes.Buffer
			if err := Query(context.Background(), root, q, "csv", &out); err != nil {
				t.Fatalf("line %d: %v\n%s", at, err, q)
			}
			if got := strings.TrimSpace(out.String()); got != want {
				t.Errorf("line %d: %s\ngot:\n%s\nwant:\n%s", at, q, got, want)
			}
		default:
			t.Fatalf("line %d: unknown directive %q", line, l)
		}
	}
}

func load(t *testing.T, wh *warehouse.Warehouse, mem memory.Allocator, tbl *table.Table, run string, at time.Time, rows []string) {
	t.Helper()
	var objs []map[string]any
	for _, r := range rows {
		var o map[string]any
		if err := json.Unmarshal([]byte(r), &o); err != nil {
			t.Fatalf("row %s: %v", r, err)
		}
		o["tenant_id"], o["run_id"], o["extracted_at"] = "t1", run, at.Format(time.RFC3339)
		objs = append(objs, o)
	}
	js, _ := json.Marshal(objs)
	rec, _, err := array.RecordFromJSON(mem, tbl.Schema(), bytes.NewReader(js))
	if err != nil {
		t.Fatalf("%s rows: %v", tbl.Name, err)
	}
	defer rec.Release()
	txn, err := wh.Begin(run+"-"+tbl.Name, "t1", at, warehouse.WriterOptions{Allocator: mem})
	if err != nil {
		t.Fatal(err)
	}
	tw, _ := txn.Writer(tbl)
	if err := tw.Write(context.Background(), rec); err != nil {
		t.Fatal(err)
	}
	if err := txn.Commit(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func TestQueryFormats(t *testing.T) {
	root := t.TempDir()
	if err := Build(context.Background(), root, graph.Tables()); err != nil {
		t.Fatal(err)
	}
	q := `SELECT 1::INTEGER AS n, 'a,b' AS s, NULL::VARCHAR AS x, TIMESTAMPTZ '2026-11-20 10:00:00.5+00' AS t, ['p1','p2'] AS l`
	tests := map[string]string{
		"csv":   "n,s,x,t,l\n1,\"a,b\",,2026-11-20T10:00:00.5Z,\"[\"\"p1\"\",\"\"p2\"\"]\"\n",
		"json":  "[\n{\"n\":1,\"s\":\"a,b\",\"x\":null,\"t\":\"2026-11-20T10:00:00.5Z\",\"l\":[\"p1\",\"p2\"]}\n]\n",
		"table": "n    s    x     t                       l\n---  ---  ---   ---                     ---\n1    a,b  NULL  2026-11-20T10:00:00.5Z  [\"p1\",\"p2\"]\n(1 row)\n",
	}
	for format, want := range tests {
		var out bytes.Buffer
		if err := Query(context.Background(), root, q, format, &out); err != nil {
			t.Fatal(err)
		}
		if out.String() != want {
			t.Errorf("%s:\n%q\nwant\n%q", format, out.String(), want)
		}
	}
	if err := Query(context.Background(), filepath.Join(root, "missing"), "SELECT 1", "csv", &bytes.Buffer{}); err == nil || !strings.Contains(err.Error(), "seatlake demo") {
		t.Errorf("no catalog: %v", err)
	}
}
