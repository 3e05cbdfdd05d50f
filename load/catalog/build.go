package catalog

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"text/template"

	"github.com/apache/arrow-go/v18/arrow"
	_ "github.com/duckdb/duckdb-go/v2" // the DuckDB database/sql driver

	"github.com/seatlake/seatlake/extract/table"
	seatsql "github.com/seatlake/seatlake/sql"
)

// FileName is the catalog's name inside the warehouse.
const FileName = "seatlake.duckdb"

var views = template.Must(template.ParseFS(seatsql.Views, "*.sql"))

type viewData struct {
	Name, View, Glob string
	Keys             []string
	Columns          []emptyColumn
}

type emptyColumn struct{ Name, Type string }

// Build (re)creates root/seatlake.duckdb with the views of tables.
func Build(ctx context.Context, root string, tables []*table.Table) error {
	abs, err := filepath.Abs(root)
	if err != nil {
		return err
	}
	tmp := filepath.Join(abs, FileName+".tmp")
	os.Remove(tmp)
	os.Remove(tmp + ".wal")
	db, err := sql.Open("duckdb", tmp)
	if err != nil {
		return fmt.Errorf("creating the catalog: %w", err)
	}
	err = func() error {
		defer db.Close()
		for _, t := range tables {
			stmts, err := viewSQL(abs, t)
			if err != nil {
				return err
			}
			for _, s := range stmts {
				if _, err := db.ExecContext(ctx, s); err != nil {
					return fmt.Errorf("creating the views of %s: %w\n%s", t.Name, err, s)
				}
			}
		}
		_, err := db.ExecContext(ctx, "CHECKPOINT")
		return err
	}()
	if err != nil {
		os.Remove(tmp)
		return err
	}
	if err := os.Rename(tmp, filepath.Join(abs, FileName)); err != nil {
		return fmt.Errorf("replacing the catalog: %w", err)
	}
	return nil
}

// viewSQL renders the CREATE VIEW statements of one table.
func viewSQL(root string, t *table.Table) ([]string, error) {
	var dir, glob string
	var tmpls []string
	switch t.Kind {
	case table.Snapshot:
		dir = filepath.Join(root, "raw", t.Name)
		glob = filepath.Join(dir, "*", "*", "*.parquet")
		tmpls = []string{"snapshot_history.sql", "snapshot_latest.sql"}
	case table.Event:
		dir = filepath.Join(root, "raw", t.Name)
		glob = filepath.Join(dir, "*", "*", "*.parquet")
		tmpls = []string{"event_history.sql", "event_latest.sql"}
	case table.Log:
		dir = filepath.Join(root, t.Name)
		glob = filepath.Join(dir, "*", "*.parquet")
		tmpls = []string{"runs.sql"}
	default:
		return nil, fmt.Errorf("table %s: unknown kind %s", t.Name, t.Kind)
	}
	if strings.ContainsRune(glob, '\'') {
		return nil, fmt.Errorf("warehouse path %s contains a quote", root)
	}
	d := viewData{Name: t.Name, Glob: glob, Keys: t.Keys()}
	files, err := filepath.Glob(glob)
	if err != nil {
		return nil, err
	}
	if len(files) == 0 {
		return emptyViews(t)
	}
	var out []string
	for _, name := range tmpls {
		var b bytes.Buffer
		if err := views.ExecuteTemplate(&b, name, d); err != nil {
			return nil, fmt.Errorf("rendering %s for %s: %w", name, t.Name, err)
		}
		out = append(out, b.String())
	}
	return out, nil
}

// emptyViews declares typed views without rows, so queries work before the first run that fills a table.
func emptyViews(t *table.Table) ([]string, error) {
	cols := make([]emptyColumn, 0, len(t.Columns)+1)
	for _, c := range t.Columns {
		typ, err := duckType(c.Type)
		if err != nil {
			return nil, fmt.Errorf("table %s column %s: %w", t.Name, c.Name, err)
		}
		cols = append(cols, emptyColumn{c.Name, typ})
	}
	names := []string{t.Name}
	switch t.Kind {
	case table.Snapshot:
		cols = append(cols, emptyColumn{"snapshot_date", "DATE"})
		names = append(names, t.Name+"_history")
	case table.Event:
		cols = append(cols, emptyColumn{"event_date", "DATE"})
		names = append(names, t.Name+"_history")
	}
	var out []string
	for _, n := range names {
		var b bytes.Buffer
		if err := views.ExecuteTemplate(&b, "empty.sql", viewData{View: n, Columns: cols}); err != nil {
			return nil, err
		}
		out = append(out, b.String())
	}
	return out, nil
}

func duckType(t arrow.DataType) (string, error) {
	switch t := t.(type) {
	case *arrow.StringType:
		return "VARCHAR", nil
	case *arrow.BooleanType:
		return "BOOLEAN", nil
	case *arrow.Int32Type:
		return "INTEGER", nil
	case *arrow.Int64Type:
		return "BIGINT", nil
	case *arrow.Float64Type:
		return "DOUBLE", nil
	case *arrow.Date32Type:
		return "DATE", nil
	case *arrow.TimestampType:
		return "TIMESTAMP WITH TIME ZONE", nil
	case *arrow.ListType:
		inner, err := duckType(t.Elem())
		if err != nil {
			return "", err
		}
		return inner + "[]", nil
	}
	return "", errors.New("no DuckDB type for " + t.String())
}
