package transform

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/csv"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	_ "github.com/duckdb/duckdb-go/v2"
	"gopkg.in/yaml.v3"

	"github.com/seatlake/seatlake/extract/dataverse"
	"github.com/seatlake/seatlake/extract/finops"
	"github.com/seatlake/seatlake/extract/graph"
	"github.com/seatlake/seatlake/internal/table"
	"github.com/seatlake/seatlake/transform/rules"
)

var update = flag.Bool("update", false, "rewrite the golden expected_<mart>.csv files")

// The golden cases live in testdata/marts/<group>/<case>/: one CSV per input table (only the columns the case
// needs; the others are NULL; a table without a CSV is empty), a README saying what the case shows, case.yaml
// (optional: as_of, and rules written as in the config file's rules section), and expected_<mart>.csv, the rows of
// each mart the case checks, for tenant t1, without the provenance columns. Every mart is computed in order, as a
// run does. `go test ./transform -update` rewrites the expected files a case has (all marts for a new case).
func TestMartsGolden(t *testing.T) {
	cases, err := filepath.Glob(filepath.Join("..", "testdata", "marts", "*", "*"))
	if err != nil || len(cases) == 0 {
		t.Fatalf("no golden cases (%v)", err)
	}
	for _, dir := range cases {
		t.Run(filepath.Base(filepath.Dir(dir))+"/"+filepath.Base(dir), func(t *testing.T) {
			got := computeCase(t, dir)
			expected, _ := filepath.Glob(filepath.Join(dir, "expected_*.csv"))
			if len(expected) == 0 && !*update {
				t.Fatalf("%s has no expected_<mart>.csv (run with -update to write them)", dir)
			}
			if len(expected) == 0 {
				for _, m := range Marts() {
					expected = append(expected, filepath.Join(dir, "expected_"+m.Name+".csv"))
				}
			}
			for _, path := range expected {
				name := strings.TrimSuffix(strings.TrimPrefix(filepath.Base(path), "expected_"), ".csv")
				rows, ok := got[name]
				if !ok {
					t.Fatalf("%s: no mart %s", path, name)
				}
				if *update {
					if err := os.WriteFile(path, []byte(rows), 0o644); err != nil {
						t.Fatal(err)
					}
				}
				want, err := os.ReadFile(path)
				if err != nil {
					t.Fatal(err)
				}
				if rows != string(want) {
					t.Errorf("%s for %s:\n got:\n%s\nwant:\n%s", name, filepath.Base(dir), rows, want)
				}
			}
		})
	}
}

// caseFile is a golden case's case.yaml.
type caseFile struct {
	AsOf  string    `yaml:"as_of"`
	Rules yaml.Node `yaml:"rules"`
}

// computeCase computes every mart over the case's fixtures and returns each as CSV.
func computeCase(t *testing.T, dir string) map[string]string {
	t.Helper()
	ctx := context.Background()
	pool, err := sql.Open("duckdb", "")
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	db, err := pool.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, in := range inputTables() {
		if err := fixtureView(db, in, filepath.Join(dir, in.Name+".csv")); err != nil {
			t.Fatal(err)
		}
		if in.Kind == table.Event { // the marts read event tables through their _history views
			if _, err := db.ExecContext(ctx, fmt.Sprintf("CREATE VIEW %q AS SELECT * FROM %q", in.Name+"_history", in.Name)); err != nil {
				t.Fatal(err)
			}
		}
	}
	cf := caseFile{AsOf: "2026-12-01"}
	if raw, err := os.ReadFile(filepath.Join(dir, "case.yaml")); err == nil {
		if err := yaml.Unmarshal(raw, &cf); err != nil {
			t.Fatalf("case.yaml: %v", err)
		}
	}
	asOf, err := time.Parse(time.DateOnly, cf.AsOf)
	if err != nil {
		t.Fatalf("case.yaml as_of: %v", err)
	}
	r := rules.Default().WithExamplePrices()
	if cf.Rules.Kind != 0 {
		if r, err = r.Apply(&cf.Rules, dir); err != nil {
			t.Fatal(err)
		}
	}
	if err := Prepare(ctx, db, Inputs{Rules: r, AsOf: asOf}); err != nil {
		t.Fatal(err)
	}
	mem := memory.NewCheckedAllocator(memory.DefaultAllocator)
	defer mem.AssertSize(t, 0)
	bufs := map[string]*bytes.Buffer{}
	run := Run{TenantID: "t1", RunID: "golden", At: asOf, BatchRows: 4, Alloc: mem}
	_, err = ComputeAll(ctx, db, run, func(m *table.Table) (table.Sink, error) {
		got := &bytes.Buffer{}
		bufs[m.Name] = got
		w := csv.NewWriter(got)
		header := []string{}
		for _, c := range m.Columns[3:] {
			header = append(header, c.Name)
		}
		w.Write(header)
		w.Flush()
		return table.SinkFunc(func(_ context.Context, rec arrow.RecordBatch) error {
			for r := 0; r < int(rec.NumRows()); r++ {
				row := make([]string, 0, len(header))
				for c := 3; c < int(rec.NumCols()); c++ {
					row = append(row, cell(rec.Column(c), r))
				}
				w.Write(row)
			}
			w.Flush()
			return w.Error()
		}), nil
	})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for name, b := range bufs {
		out[name] = b.String()
	}
	return out
}

// inputTables are the raw tables the marts read.
func inputTables() []*table.Table {
	var ts []*table.Table
	ts = append(ts, graph.Tables()...)
	ts = append(ts, dataverse.Tables()...)
	return append(ts, finops.Tables()...)
}

// fixtureView creates a view named as the table over a CSV holding some of its columns, typed as declared; an
// empty one when there is no CSV.
func fixtureView(db *sql.Conn, t *table.Table, path string) error {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return emptyView(db, t)
	}
	if err != nil {
		return err
	}
	header, err := csv.NewReader(f).Read()
	f.Close()
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	present := map[string]bool{}
	for _, h := range header {
		if t.ColumnIndex(h) < 0 {
			return fmt.Errorf("%s: %s has no column %s", path, t.Name, h)
		}
		present[h] = true
	}
	var cols []string
	for _, c := range t.Columns {
		typ := sqlType(c.Type)
		if present[c.Name] {
			cols = append(cols, fmt.Sprintf("CAST(nullif(%q, '') AS %s) AS %q", c.Name, typ, c.Name))
		} else {
			cols = append(cols, fmt.Sprintf("CAST(NULL AS %s) AS %q", typ, c.Name))
		}
	}
	q := fmt.Sprintf("CREATE VIEW %q AS SELECT %s FROM read_csv('%s', header = true, all_varchar = true)",
		t.Name, strings.Join(cols, ", "), strings.ReplaceAll(path, "'", "''"))
	_, err = db.ExecContext(context.Background(), q)
	return err
}

func sqlType(t arrow.DataType) string {
	return map[arrow.Type]string{arrow.STRING: "VARCHAR", arrow.BOOL: "BOOLEAN", arrow.INT32: "INTEGER", arrow.INT64: "BIGINT",
		arrow.TIMESTAMP: "TIMESTAMPTZ", arrow.FLOAT64: "DOUBLE", arrow.LIST: "VARCHAR[]", arrow.DATE32: "DATE"}[t.ID()]
}

func emptyView(db *sql.Conn, t *table.Table) error {
	var cols []string
	for _, c := range t.Columns {
		cols = append(cols, fmt.Sprintf("CAST(NULL AS %s) AS %q", sqlType(c.Type), c.Name))
	}
	_, err := db.ExecContext(context.Background(), fmt.Sprintf("CREATE VIEW %q AS SELECT %s WHERE false", t.Name, strings.Join(cols, ", ")))
	return err
}

func cell(a arrow.Array, i int) string {
	if a.IsNull(i) {
		return ""
	}
	switch a := a.(type) {
	case *array.String:
		return a.Value(i)
	case *array.Float64:
		return strconv.FormatFloat(a.Value(i), 'f', -1, 64)
	}
	return a.ValueStr(i)
}
