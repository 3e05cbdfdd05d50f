package catalog

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"text/template"

	"github.com/apache/arrow-go/v18/arrow"
	_ "github.com/duckdb/duckdb-go/v2" // the DuckDB database/sql driver

	"github.com/seatlake/seatlake/extract/table"
	seatsql "github.com/seatlake/seatlake/sql"
)

// FileName is the catalog's name inside the warehouse.
const FileName = "seatlake.duckdb"

// viewData is what the templates in sql/ see; see that package's documentation.
type viewData struct {
	View, History     string
	Source, Latest    string // SQL expressions for read_parquet's first argument
	Columns           []viewColumn
	Keys              []string
	Partition         string
	PartitionDoc, Doc string
}

type viewColumn struct {
	Name, Type, Doc string
	Present         bool
}

func parseTemplates() (*template.Template, error) {
	t, err := template.New("views").Funcs(template.FuncMap{"ident": ident, "lit": lit}).ParseFS(seatsql.Views, "*.sql")
	if err != nil {
		return nil, fmt.Errorf("parsing the view templates: %w", err)
	}
	return t, nil
}

// ident quotes a SQL identifier.
func ident(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }

// lit quotes a SQL string literal.
func lit(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

// Build (re)creates root/seatlake.duckdb with the views of tables. It writes seatlake.duckdb.tmp and renames it
// over the catalog, so readers open either the old catalog or the new one. The views name absolute paths and the
// latest partitions found now: every run rebuilds the catalog, and so must anyone who moves the warehouse
// (`seatlake query --rebuild`). Two Builds of one warehouse must not run at once.
func Build(ctx context.Context, root string, tables []*table.Table) error {
	abs, err := filepath.Abs(root)
	if err != nil {
		return fmt.Errorf("building the catalog: %w", err)
	}
	if st, err := os.Stat(abs); err != nil || !st.IsDir() {
		return fmt.Errorf("building the catalog: no warehouse at %s", root)
	}
	if strings.ContainsAny(filepath.ToSlash(abs), "*?[]{}") {
		return fmt.Errorf("building the catalog: the warehouse path %s contains glob characters (*?[]{}), which DuckDB would expand: move it", abs)
	}
	tmpl, err := parseTemplates()
	if err != nil {
		return err
	}
	tmp := filepath.Join(abs, FileName+".tmp")
	for _, p := range []string{tmp, tmp + ".wal"} {
		if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("building the catalog: removing a stale %s: %w", p, err)
		}
	}
	if err := create(ctx, tmp, tmpl, abs, tables); err != nil {
		os.Remove(tmp)
		os.Remove(tmp + ".wal")
		return fmt.Errorf("building the catalog: %w", err)
	}
	if err := os.Chmod(tmp, 0o640); err != nil { // as the warehouse's other files (DuckDB creates it as the umask allows)
		os.Remove(tmp)
		return fmt.Errorf("building the catalog: %w", err)
	}
	if err := os.Rename(tmp, filepath.Join(abs, FileName)); err != nil {
		return fmt.Errorf("replacing the catalog: %w", err)
	}
	if d, err := os.Open(abs); err == nil {
		_ = d.Sync() // best effort: the catalog can always be rebuilt
		d.Close()
	}
	return nil
}

// create writes a new DuckDB database at path holding the views of tables.
func create(ctx context.Context, path string, tmpl *template.Template, root string, tables []*table.Table) (err error) {
	db, err := sql.Open("duckdb", path)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, db.Close()) }()
	conn, err := db.Conn(ctx)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, conn.Close()) }()
	if relocatable(root) {
		if _, err := conn.ExecContext(ctx, "SET file_search_path = "+lit(root)); err != nil {
			return err
		}
	}
	seen := map[string]bool{}
	for _, t := range tables {
		if seen[t.Name] {
			return fmt.Errorf("table %s is listed twice", t.Name)
		}
		seen[t.Name] = true
		stmts, err := tableViews(ctx, conn, tmpl, root, t)
		if err != nil {
			return fmt.Errorf("the views of %s: %w", t.Name, err)
		}
		for _, s := range stmts {
			if _, err := conn.ExecContext(ctx, s); err != nil {
				return fmt.Errorf("the views of %s: %w\n%s", t.Name, err, s)
			}
		}
	}
	// Everything into the database file, nothing left in a WAL that would not follow the rename.
	_, err = conn.ExecContext(ctx, "CHECKPOINT")
	return err
}

// tableViews renders the statements creating t's views.
func tableViews(ctx context.Context, conn *sql.Conn, tmpl *template.Template, root string, t *table.Table) ([]string, error) {
	d := viewData{View: t.Name, History: t.Name + "_history", Keys: t.Keys(), Doc: t.Doc}
	for _, c := range t.Columns {
		typ, err := duckType(c.Type)
		if err != nil {
			return nil, fmt.Errorf("column %s: %w", c.Name, err)
		}
		d.Columns = append(d.Columns, viewColumn{Name: c.Name, Type: typ, Doc: c.Doc})
	}

	var dir, glob string
	var names []string // templates, in order: the event view reads its history view
	switch t.Kind {
	case table.Snapshot, table.Event:
		// Extracted tables live in raw/, transform outputs in marts/. Table names are unique across layers (raw
		// tables carry their source's prefix), so a table is wherever its folder is.
		dir = filepath.Join(root, "raw", t.Name)
		for _, l := range []string{"raw", "marts"} {
			if st, err := os.Stat(filepath.Join(root, l, t.Name)); err == nil && st.IsDir() {
				dir = filepath.Join(root, l, t.Name)
				break
			}
		}
		glob = filepath.Join(dir, "tenant=*", "*=*", "*.parquet")
		if t.Kind == table.Snapshot {
			d.Partition, d.PartitionDoc = "snapshot_date", "UTC day of the snapshot (the partition's snapshot_date)"
			names = []string{"snapshot_history.sql", "snapshot_latest.sql"}
		} else {
			if len(d.Keys) == 0 {
				return nil, errors.New("an event table needs key columns: its views deduplicate on them")
			}
			d.Partition, d.PartitionDoc = "event_date", "UTC date of "+t.EventTime+" (the partition's event_date)"
			names = []string{"event_history.sql", "event_latest.sql"}
		}
	case table.Log:
		dir = filepath.Join(root, t.Name)
		glob = filepath.Join(dir, "tenant=*", "*.parquet")
		names = []string{"log.sql"}
	default:
		return nil, fmt.Errorf("unknown table kind %s", t.Kind)
	}
	files, err := filepath.Glob(glob)
	if err != nil {
		return nil, err
	}
	views := []string{t.Name}
	if t.Kind != table.Log {
		views = append(views, d.History)
	}

	var out []string
	render := func(name string, data viewData) error {
		var b bytes.Buffer
		if err := tmpl.ExecuteTemplate(&b, name, data); err != nil {
			return fmt.Errorf("rendering %s: %w", name, err)
		}
		if hasStatement(b.String()) {
			out = append(out, b.String())
		}
		return nil
	}
	if len(files) == 0 {
		for _, v := range views {
			e := d
			e.View = v
			if err := render("empty.sql", e); err != nil {
				return nil, err
			}
		}
	} else {
		// Paths relative to the warehouse: a copy of it, moved or shared, reads its own files (DuckDB resolves them
		// through file_search_path, which Open sets to the warehouse; the duckdb CLI started in the warehouse
		// directory resolves them from there).
		relGlob, rel := glob, files
		if relocatable(root) {
			if relGlob, err = filepath.Rel(root, glob); err != nil {
				return nil, err
			}
			rel = make([]string, len(files))
			for i, f := range files {
				if rel[i], err = filepath.Rel(root, f); err != nil {
					return nil, err
				}
			}
		}
		d.Source = lit(filepath.ToSlash(relGlob))
		d.Latest = latestPartitions(rel)
		if err := markPresent(ctx, conn, d.Source, d.Columns); err != nil {
			return nil, err
		}
		for _, name := range names {
			e := d
			if strings.Contains(name, "history") {
				e.View = d.History
			}
			if err := render(name, e); err != nil {
				return nil, err
			}
		}
	}
	for _, v := range views {
		e := d
		e.View = v
		if err := render("comments.sql", e); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// latestPartitions is the read_parquet argument naming each tenant's latest partition (for snapshot tables: the
// latest snapshot_date). The file names stay a glob, so a later run replacing that day's files is still read.
func latestPartitions(files []string) string {
	latest := map[string]string{} // tenant dir -> latest partition dir
	for _, f := range files {
		part := filepath.Dir(f)
		tenant := filepath.Dir(part)
		if filepath.Base(part) > filepath.Base(latest[tenant]) {
			latest[tenant] = part
		}
	}
	var globs []string
	for _, part := range latest {
		globs = append(globs, lit(filepath.ToSlash(filepath.Join(part, "*.parquet"))))
	}
	slices.Sort(globs)
	return "[" + strings.Join(globs, ", ") + "]"
}

// markPresent sets Present on the columns some file has.
func markPresent(ctx context.Context, conn *sql.Conn, source string, cols []viewColumn) (err error) {
	rows, err := conn.QueryContext(ctx, "SELECT column_name FROM (DESCRIBE SELECT * FROM read_parquet("+source+
		", hive_partitioning = false, union_by_name = true))")
	if err != nil {
		return fmt.Errorf("reading the Parquet schemas: %w", err)
	}
	defer func() { err = errors.Join(err, rows.Close()) }()
	have := map[string]bool{}
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			return err
		}
		have[name] = true
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("reading the Parquet schemas: %w", err)
	}
	for i := range cols {
		cols[i].Present = have[cols[i].Name]
	}
	return nil
}

// hasStatement reports whether rendered SQL holds more than comments and blanks.
func hasStatement(s string) bool {
	for _, l := range strings.Split(s, "\n") {
		l = strings.TrimSpace(l)
		if l != "" && !strings.HasPrefix(l, "--") {
			return true
		}
	}
	return false
}

// duckType is the DuckDB type of a declared Arrow type, as DuckDB reads it back from the Parquet files.
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
		if t.TimeZone == "" {
			return "TIMESTAMP", nil
		}
		return "TIMESTAMP WITH TIME ZONE", nil
	case *arrow.ListType:
		inner, err := duckType(t.Elem())
		if err != nil {
			return "", err
		}
		return inner + "[]", nil
	}
	return "", fmt.Errorf("no DuckDB type for %s", t)
}

// relocatable says whether the catalog of a warehouse at root names its files relative to it. DuckDB's
// file_search_path is a comma-separated list, so a warehouse whose path holds a comma gets absolute paths instead
// (it then reads from where it was built until rebuilt elsewhere).
func relocatable(root string) bool { return !strings.Contains(root, ",") }
