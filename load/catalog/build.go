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

	"github.com/seatlake/seatlake/internal/table"
	"github.com/seatlake/seatlake/load/warehouse"
	seatsql "github.com/seatlake/seatlake/sql"
)

// FileName is the catalog's name inside the warehouse.
const FileName = warehouse.ViewsFile

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

// Build (re)creates root/seatlake.duckdb with the views of tables over the warehouse at root (opened as
// warehouse.Open does: its saved configuration, else the embedded catalog). See BuildFrom.
func Build(ctx context.Context, root string, tables []*table.Table) error {
	abs, err := filepath.Abs(root)
	if err != nil {
		return fmt.Errorf("building the catalog: %w", err)
	}
	if st, err := os.Stat(abs); err != nil || !st.IsDir() {
		return fmt.Errorf("building the catalog: no warehouse at %s", root)
	}
	wh, err := warehouse.Open(ctx, abs, nil)
	if err != nil {
		return fmt.Errorf("building the catalog: %w", err)
	}
	defer wh.Close()
	return BuildFrom(ctx, wh, tables)
}

// BuildFrom (re)creates seatlake.duckdb in the warehouse's directory with the views of tables over the
// warehouse's read set (each tenant's tables at the snapshots of its last committed transactions: see
// warehouse.ReadSet). It writes a temporary database and renames it over the catalog, so readers open either the
// old catalog or the new one. The views name the read set's files by their absolute local paths (for object
// storage, copies in the warehouse directory's file cache): every commit is followed by a rebuild.
func BuildFrom(ctx context.Context, wh *warehouse.Warehouse, tables []*table.Table) error {
	return BuildOf(ctx, wh, tables, nil)
}

// BuildOf is BuildFrom with the views holding only the given tenants' rows (every tenant's when empty): what a job
// on object storage builds after its run, so that it downloads its own tenants' files, not the warehouse's.
func BuildOf(ctx context.Context, wh *warehouse.Warehouse, tables []*table.Table, tenants []string) error {
	b, err := StartBuild(ctx, wh, tables, tenants)
	if err != nil {
		return err
	}
	return b.Finish(ctx, nil)
}

// A Builder writes a new catalog file in parts: the views of the tables whose read set is final first (a run's raw
// tables, while its marts are computed), the rest's at Finish, which puts the file in place of the catalog. Until
// then readers open the old catalog. One goroutine uses it at a time.
type Builder struct {
	wh      *warehouse.Warehouse
	tenants []string
	tmpl    *template.Template
	opt     viewOptions
	tmp     string // the new catalog file
	db      *sql.DB
	conn    *sql.Conn
	seen    map[string]bool
}

// StartBuild begins a catalog of wh's read set (its tenants' rows only, every tenant's when empty) with the views of
// tables, read as they are committed now. The caller calls Finish or Abort.
func StartBuild(ctx context.Context, wh *warehouse.Warehouse, tables []*table.Table, tenants []string) (_ *Builder, err error) {
	abs := wh.Root()
	if strings.ContainsAny(filepath.ToSlash(abs), "*?[]{}") {
		return nil, fmt.Errorf("building the catalog: the warehouse path %s contains glob characters (*?[]{}), which DuckDB would expand: move it", abs)
	}
	tmpl, err := parseTemplates()
	if err != nil {
		return nil, err
	}
	tmpf, err := os.CreateTemp(abs, FileName+".tmp-*")
	if err != nil {
		return nil, fmt.Errorf("building the catalog: %w", err)
	}
	b := &Builder{wh: wh, tenants: tenants, tmpl: tmpl, opt: viewOptions{relative: relocatable(abs), comments: true},
		tmp: tmpf.Name(), seen: map[string]bool{}}
	tmpf.Close()
	os.Remove(b.tmp) // DuckDB creates the file itself
	defer func() {
		if err != nil {
			b.Abort()
		}
	}()
	if b.db, err = sql.Open("duckdb", b.tmp); err != nil {
		return nil, fmt.Errorf("building the catalog: %w", err)
	}
	if b.conn, err = b.db.Conn(ctx); err != nil {
		return nil, fmt.Errorf("building the catalog: %w", err)
	}
	if b.opt.relative {
		if _, err := b.conn.ExecContext(ctx, "SET file_search_path = "+lit(abs)); err != nil {
			return nil, fmt.Errorf("building the catalog: %w", err)
		}
	}
	if err := b.add(ctx, tables); err != nil {
		return nil, err
	}
	return b, nil
}

// add creates the views of tables, read as they are committed now.
func (b *Builder) add(ctx context.Context, tables []*table.Table) error {
	for _, t := range tables {
		if b.seen[t.Name] {
			return fmt.Errorf("building the catalog: table %s is listed twice", t.Name)
		}
		b.seen[t.Name] = true
	}
	if len(tables) == 0 {
		return nil
	}
	rs, err := b.wh.ReadSetOf(ctx, tables, b.tenants)
	if err != nil {
		return fmt.Errorf("building the catalog: %w", err)
	}
	if err := createViews(ctx, b.conn, b.tmpl, b.wh, rs, tables, b.opt); err != nil {
		return fmt.Errorf("building the catalog: %w", err)
	}
	return nil
}

// Finish creates the views of the rest of the tables, read as they are committed now, and puts the new catalog in
// place of the old one. On an error the old catalog stays.
func (b *Builder) Finish(ctx context.Context, rest []*table.Table) (err error) {
	defer func() {
		if err != nil {
			b.Abort()
		}
	}()
	if err := b.add(ctx, rest); err != nil {
		return err
	}
	// Everything into the database file, nothing left in a WAL that would not follow the rename.
	if _, err := b.conn.ExecContext(ctx, "CHECKPOINT"); err != nil {
		return fmt.Errorf("building the catalog: %w", err)
	}
	err = errors.Join(b.conn.Close(), b.db.Close())
	b.conn, b.db = nil, nil
	if err != nil {
		return fmt.Errorf("building the catalog: %w", err)
	}
	if err := os.Chmod(b.tmp, 0o640); err != nil { // as the warehouse's other files (DuckDB creates it as the umask allows)
		return fmt.Errorf("building the catalog: %w", err)
	}
	if err := replaceCatalog(b.wh.Root(), b.tmp); err != nil {
		return err
	}
	b.tmp = "" // in place: nothing for Abort to remove
	return nil
}

// replaceCatalog renames the new catalog file tmp over the catalog in the warehouse directory dir, so a reader
// opens either the old catalog or the new one.
func replaceCatalog(dir, tmp string) error {
	if err := os.Rename(tmp, filepath.Join(dir, FileName)); err != nil {
		return fmt.Errorf("replacing the catalog: %w", err)
	}
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync() // best effort: the catalog can always be rebuilt
		d.Close()
	}
	return nil
}

// Abort gives the new catalog up: the old one stays. It can be called after Finish (it does nothing then).
func (b *Builder) Abort() {
	if b.conn != nil {
		b.conn.Close()
	}
	if b.db != nil {
		b.db.Close()
	}
	b.conn, b.db = nil, nil
	if b.tmp != "" {
		os.Remove(b.tmp)
		os.Remove(b.tmp + ".wal")
		b.tmp = ""
	}
}

// viewOptions say how views are written: relative names the files relative to the warehouse directory (the
// connection's file_search_path); comments adds the declarations' documentation to the views (what readers of the
// catalog see in duckdb_columns(); each is a statement of its own, about 40% of the time the views of every table
// take, so views only a computation reads leave them out).
type viewOptions struct {
	relative, comments bool
}

// createViews creates the views of tables over the read set on conn.
// They are created in one transaction: in a database file, each statement of its own would be a write-ahead-log
// commit and an fsync of its own (hundreds for the views of every table).
func createViews(ctx context.Context, conn *sql.Conn, tmpl *template.Template, wh *warehouse.Warehouse, rs *warehouse.ReadSet, tables []*table.Table, opt viewOptions) (err error) {
	if _, err := conn.ExecContext(ctx, "BEGIN TRANSACTION"); err != nil {
		return err
	}
	defer func() {
		end := "COMMIT"
		if err != nil {
			end = "ROLLBACK"
		}
		if _, cerr := conn.ExecContext(context.WithoutCancel(ctx), end); err == nil {
			err = cerr
		}
	}()
	for _, t := range tables {
		stmts, err := tableViews(ctx, conn, tmpl, wh, rs.Tables[t.Name], opt)
		if err != nil {
			return fmt.Errorf("the views of %s: %w", t.Name, err)
		}
		for _, s := range stmts {
			if _, err := conn.ExecContext(ctx, s); err != nil {
				return fmt.Errorf("the views of %s: %w\n%s", t.Name, err, s)
			}
		}
	}
	return nil
}

// Views opens an in-memory DuckDB database holding the views of tables over the warehouse's read set, as the
// catalog file would (absolute file names), for code that computes over the committed data without rewriting
// seatlake.duckdb (the marts of a run), without the columns' documentation. The caller closes it.
// With tenants, the views hold only their rows (the marts of a run read its tenant's files, not the warehouse's).
func Views(ctx context.Context, wh *warehouse.Warehouse, tables []*table.Table, tenants ...string) (_ *sql.DB, err error) {
	tmpl, err := parseTemplates()
	if err != nil {
		return nil, err
	}
	rs, err := wh.ReadSetOf(ctx, tables, tenants)
	if err != nil {
		return nil, fmt.Errorf("reading the committed snapshots: %w", err)
	}
	db, err := sql.Open("duckdb", "")
	if err != nil {
		return nil, fmt.Errorf("opening DuckDB: %w", err)
	}
	conn, err := db.Conn(ctx)
	if err == nil {
		err = createViews(ctx, conn, tmpl, wh, rs, tables, viewOptions{})
		err = errors.Join(err, conn.Close())
	}
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("creating the views: %w", err)
	}
	return db, nil
}

// tableViews renders the statements creating a table's views over its part of the read set.
func tableViews(ctx context.Context, conn *sql.Conn, tmpl *template.Template, wh *warehouse.Warehouse, tr *warehouse.TableRead, opt viewOptions) ([]string, error) {
	t := tr.Table
	d, names, err := viewDataOf(t)
	if err != nil {
		return nil, err
	}
	all, latest, err := viewFiles(ctx, wh, tr, opt.relative)
	if err != nil {
		return nil, err
	}
	r := viewRenderer{tmpl: tmpl}
	views := viewNames(t, d)
	if len(all) == 0 {
		if err := r.each("empty.sql", d, views); err != nil {
			return nil, err
		}
	} else {
		d.Source = "[" + strings.Join(all, ", ") + "]"
		d.Latest = "[" + strings.Join(latest, ", ") + "]"
		if err := markPresent(ctx, conn, d.Source, d.Columns); err != nil {
			return nil, err
		}
		for _, name := range names {
			e := d
			if strings.Contains(name, "history") {
				e.View = d.History
			}
			if err := r.render(name, e); err != nil {
				return nil, err
			}
		}
	}
	if opt.comments {
		if err := r.each("comments.sql", d, views); err != nil {
			return nil, err
		}
	}
	return r.out, nil
}

// viewDataOf is what the templates see of t before its files are known, and the templates of its kind, in order:
// the event view reads its history view.
func viewDataOf(t *table.Table) (viewData, []string, error) {
	d := viewData{View: t.Name, History: t.Name + "_history", Keys: t.Keys(), Doc: t.Doc}
	for _, c := range t.Columns {
		typ, err := duckType(c.Type)
		if err != nil {
			return d, nil, fmt.Errorf("column %s: %w", c.Name, err)
		}
		d.Columns = append(d.Columns, viewColumn{Name: c.Name, Type: typ, Doc: c.Doc})
	}
	switch t.Kind {
	case table.Snapshot:
		d.Partition, d.PartitionDoc = "snapshot_date", "UTC day of the snapshot (the partition's snapshot_date)"
		return d, []string{"snapshot_history.sql", "snapshot_latest.sql"}, nil
	case table.Event:
		if len(d.Keys) == 0 {
			return d, nil, errors.New("an event table needs key columns: its views deduplicate on them")
		}
		d.Partition, d.PartitionDoc = "event_date", "UTC date of "+t.EventTime+" (the partition's event_date)"
		return d, []string{"event_history.sql", "event_latest.sql"}, nil
	case table.Log:
		return d, []string{"log.sql"}, nil
	}
	return d, nil, fmt.Errorf("unknown table kind %s", t.Kind)
}

// viewNames are the views of t: the default view, and its history view but for a log table.
func viewNames(t *table.Table, d viewData) []string {
	if t.Kind == table.Log {
		return []string{t.Name}
	}
	return []string{t.Name, d.History}
}

// viewFiles are the read set's files of a table as SQL literals: all of them, and those of each tenant's latest
// day (snapshot tables: what the default view reads). A file missing from the warehouse is an error naming the
// first one.
func viewFiles(ctx context.Context, wh *warehouse.Warehouse, tr *warehouse.TableRead, relative bool) (all, latest []string, err error) {
	latestDay := map[string]string{}
	for _, f := range tr.Files {
		if f.Day > latestDay[f.Tenant] {
			latestDay[f.Tenant] = f.Day
		}
	}
	root := wh.Root()
	var missing []string
	for _, f := range tr.Files {
		p, err := wh.LocalCopy(ctx, f.Location)
		if err != nil {
			return nil, nil, err
		}
		if _, err := os.Stat(p); errors.Is(err, os.ErrNotExist) {
			missing = append(missing, p)
			continue
		}
		if relative {
			if rel, err := filepath.Rel(root, p); err == nil && filepath.IsLocal(rel) {
				p = rel // the warehouse can be moved or copied: see relocatable
			}
		}
		all = append(all, lit(filepath.ToSlash(p)))
		if f.Day == latestDay[f.Tenant] {
			latest = append(latest, lit(filepath.ToSlash(p)))
		}
	}
	if len(missing) > 0 {
		return nil, nil, fmt.Errorf("%d file(s) of the committed snapshots are missing from %s (removed by hand, or the warehouse copied in part), first %s: restore them from a copy; a run replaces its tenant's snapshot of the day, events stay lost", len(missing), root, missing[0])
	}
	return all, latest, nil
}

// viewRenderer collects the statements of rendered templates, leaving out those holding only comments.
type viewRenderer struct {
	tmpl *template.Template
	out  []string
}

func (r *viewRenderer) render(name string, data viewData) error {
	var b bytes.Buffer
	if err := r.tmpl.ExecuteTemplate(&b, name, data); err != nil {
		return fmt.Errorf("rendering %s: %w", name, err)
	}
	if hasStatement(b.String()) {
		r.out = append(r.out, b.String())
	}
	return nil
}

// each renders the template name once for each of views.
func (r *viewRenderer) each(name string, d viewData, views []string) error {
	for _, v := range views {
		e := d
		e.View = v
		if err := r.render(name, e); err != nil {
			return err
		}
	}
	return nil
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

// relocatable says whether the catalog of a warehouse at root names its files relative to it (found through
// DuckDB's file_search_path, which seatlake sets when it opens the catalog; the duckdb CLI from the warehouse
// directory), so that a copied or moved warehouse reads its own files. file_search_path is a comma-separated list,
// so a warehouse whose path holds a comma gets absolute paths instead (and must be rebuilt after a move).
func relocatable(root string) bool { return !strings.Contains(root, ",") }
