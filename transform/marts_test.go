package transform

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/csv"
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

	"github.com/seatlake/seatlake/extract/dataverse"
	"github.com/seatlake/seatlake/extract/finops"
	"github.com/seatlake/seatlake/extract/graph"
	"github.com/seatlake/seatlake/extract/table"
)

var update = flag.Bool("update", false, "rewrite the golden expected.csv files")

// The golden cases of each mart live in testdata/marts/<mart>/<case>/: one CSV per input view (only the columns
// the case needs; the others are NULL), a README saying what the case shows, and expected.csv, the mart's rows for
// tenant t1 without the provenance columns. `go test ./transform -update` rewrites expected.csv.
func TestIdentitiesGolden(t *testing.T) {
	inputs := []*table.Table{graph.Users, dataverse.Users, finops.Users}
	cases, err := filepath.Glob(filepath.Join("..", "testdata", "marts", "identities", "*"))
	if err != nil || len(cases) == 0 {
		t.Fatalf("no golden cases (%v)", err)
	}
	for _, dir := range cases {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			db, err := sql.Open("duckdb", "")
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			for _, in := range inputs {
				if err := fixtureView(db, in, filepath.Join(dir, in.Name+".csv")); err != nil {
					t.Fatal(err)
				}
			}
			mem := memory.NewCheckedAllocator(memory.DefaultAllocator)
			defer mem.AssertSize(t, 0)
			var got bytes.Buffer
			w := csv.NewWriter(&got)
			header := []string{}
			for _, c := range Identities.Columns[3:] {
				header = append(header, c.Name)
			}
			w.Write(header)
			sink := table.SinkFunc(func(_ context.Context, rec arrow.RecordBatch) error {
				for r := 0; r < int(rec.NumRows()); r++ {
					row := make([]string, 0, len(header))
					for c := 3; c < int(rec.NumCols()); c++ {
						row = append(row, cell(rec.Column(c), r))
					}
					w.Write(row)
				}
				return nil
			})
			run := Run{TenantID: "t1", RunID: "golden", At: time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC), BatchRows: 4, Alloc: mem}
			if _, err := Compute(context.Background(), db, Identities, run, sink); err != nil {
				t.Fatal(err)
			}
			w.Flush()
			path := filepath.Join(dir, "expected.csv")
			if *update {
				if err := os.WriteFile(path, got.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run with -update to write it)", err)
			}
			if got.String() != string(want) {
				t.Errorf("identities for %s:\n got:\n%s\nwant:\n%s", filepath.Base(dir), got.String(), want)
			}
		})
	}
}

// fixtureView creates a view named as the table over a CSV holding some of its columns, typed as declared.
func fixtureView(db *sql.DB, t *table.Table, path string) error {
	f, err := os.Open(path)
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
		typ := map[arrow.Type]string{arrow.STRING: "VARCHAR", arrow.BOOL: "BOOLEAN", arrow.INT32: "INTEGER", arrow.INT64: "BIGINT",
			arrow.TIMESTAMP: "TIMESTAMPTZ", arrow.FLOAT64: "DOUBLE", arrow.LIST: "VARCHAR[]"}[c.Type.ID()]
		if present[c.Name] {
			cols = append(cols, fmt.Sprintf("CAST(nullif(%q, '') AS %s) AS %q", c.Name, typ, c.Name))
		} else {
			cols = append(cols, fmt.Sprintf("CAST(NULL AS %s) AS %q", typ, c.Name))
		}
	}
	q := fmt.Sprintf("CREATE VIEW %q AS SELECT %s FROM read_csv('%s', header = true, all_varchar = true)",
		t.Name, strings.Join(cols, ", "), strings.ReplaceAll(path, "'", "''"))
	_, err = db.Exec(q)
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
