package catalog

import (
	"bufio"
	"context"
	"database/sql"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"math/big"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/duckdb/duckdb-go/v2"
	"github.com/mattn/go-runewidth"
)

// Query runs one SQL statement on root's catalog, opened read-only, and prints the result to w as format:
//   - "table" (or ""): for people. Column headers, aligned columns (numbers to the right), NULL shown as NULL,
//     then a row-count footer such as "(3 rows)".
//   - "csv": RFC 4180 via encoding/csv; a header row, then one record per row; NULL is an empty field.
//   - "json": one JSON array holding an object per row, keys in column order (a duplicated column name repeats
//     its key); NULL is null, numbers are numbers, lists are arrays.
//
// In every format timestamps print as RFC 3339 in UTC (fractional seconds only when present), dates as
// YYYY-MM-DD, intervals as DuckDB's CLI prints them ("00:03:37.363555", "2 days 03:37:37"); in table and csv, lists
// and structs print as JSON. SQL errors are DuckDB's own, wrapped once.
// With tenants (tenant ids), every view with a tenant_id column shows only their rows: temporary views of the same
// names over the catalog's, on this connection only.
func Query(ctx context.Context, root, query, format string, w io.Writer, tenants ...string) (err error) {
	var p printer
	switch format {
	case "table", "":
		p = &tablePrinter{}
	case "csv":
		p = &csvPrinter{}
	case "json":
		p = &jsonPrinter{}
	default:
		return fmt.Errorf("unknown output format %q: want table, csv or json", format)
	}
	path := filepath.Join(root, FileName)
	if st, err := os.Stat(path); err != nil || st.IsDir() {
		return fmt.Errorf("no warehouse at %s: run `seatlake run` or `seatlake demo` first", root)
	}
	db, err := openReadOnly(root)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, db.Close()) }()
	conn, err := db.Conn(ctx)
	if err != nil {
		return fmt.Errorf("opening %s: %w", path, err)
	}
	defer func() { err = errors.Join(err, conn.Close()) }()
	if len(tenants) > 0 {
		if err := onlyTenants(ctx, conn, tenants); err != nil {
			return err
		}
	}
	rows, err := conn.QueryContext(ctx, query)
	if err != nil {
		return fmt.Errorf("query: %w", Explain(root, err))
	}
	defer func() { err = errors.Join(err, rows.Close()) }()
	types, err := rows.ColumnTypes()
	if err != nil {
		return fmt.Errorf("query: %w", err)
	}
	cols := make([]column, len(types))
	for i, t := range types {
		cols[i] = column{name: t.Name(), kind: kindOf(t.DatabaseTypeName())}
	}
	bw := bufio.NewWriter(w)
	if err := p.begin(bw, cols); err != nil {
		return err
	}
	vals := make([]any, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			return fmt.Errorf("reading the result: %w", err)
		}
		if err := p.row(vals); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("query: %w", err)
	}
	if err := p.end(); err != nil {
		return err
	}
	return bw.Flush()
}

// onlyTenants shadows every view of the catalog that has a tenant_id column with a temporary view of the same name
// keeping the tenants' rows (DuckDB resolves temporary objects first).
func onlyTenants(ctx context.Context, conn *sql.Conn, tenants []string) error {
	rows, err := conn.QueryContext(ctx, `SELECT v.database_name, v.view_name FROM duckdb_views() v
		WHERE NOT v.internal AND NOT v.temporary AND v.schema_name = 'main'
		  AND EXISTS (SELECT 1 FROM duckdb_columns() c WHERE c.database_name = v.database_name AND c.schema_name = v.schema_name
		              AND c.table_name = v.view_name AND c.column_name = 'tenant_id') ORDER BY 2`)
	if err != nil {
		return fmt.Errorf("listing the views: %w", err)
	}
	var views [][2]string
	for rows.Next() {
		var v [2]string
		if err := rows.Scan(&v[0], &v[1]); err != nil {
			rows.Close()
			return fmt.Errorf("listing the views: %w", err)
		}
		views = append(views, v)
	}
	rows.Close()
	lits := make([]string, len(tenants))
	for i, t := range tenants {
		lits[i] = lit(t)
	}
	for _, v := range views {
		q := "CREATE TEMP VIEW " + ident(v[1]) + " AS SELECT * FROM " + ident(v[0]) + ".main." + ident(v[1]) + " WHERE tenant_id IN (" + strings.Join(lits, ", ") + ")"
		if _, err := conn.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("keeping the tenants' rows in %s: %w", v[1], err)
		}
	}
	return nil
}

type printer interface {
	begin(w *bufio.Writer, cols []column) error
	row(vals []any) error
	end() error
}

type column struct {
	name string
	kind valueKind
}

// valueKind is how a column's values print: DuckDB scans DATE and TIME into time.Time like timestamps, and UUID
// into 16 bytes like a BLOB.
type valueKind int

const (
	kindOther valueKind = iota
	kindNumber
	kindDate
	kindTime
	kindUUID
)

func kindOf(dbType string) valueKind {
	switch {
	case dbType == "DATE":
		return kindDate
	case dbType == "TIME" || dbType == "TIME WITH TIME ZONE" || dbType == "TIMETZ":
		return kindTime
	case dbType == "UUID":
		return kindUUID
	case strings.HasPrefix(dbType, "DECIMAL"):
		return kindNumber
	}
	switch dbType {
	case "TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT", "UINTEGER", "UBIGINT",
		"UHUGEINT", "FLOAT", "DOUBLE":
		return kindNumber
	}
	return kindOther
}

// text renders a non-NULL value for the table and csv formats.
func text(v any, k valueKind) string {
	switch v := v.(type) {
	case string:
		return v
	case time.Time:
		return formatTime(v, k)
	case bool:
		return strconv.FormatBool(v)
	case float64:
		return strconv.FormatFloat(v, 'g', -1, 64)
	case float32:
		return strconv.FormatFloat(float64(v), 'g', -1, 32)
	case []byte:
		if k == kindUUID && len(v) == 16 {
			return fmt.Sprintf("%x-%x-%x-%x-%x", v[0:4], v[4:6], v[6:8], v[8:10], v[10:16])
		}
		return fmt.Sprintf(`\x%x`, v) // BLOB, as DuckDB prints it
	case duckdb.UUID:
		return v.String()
	case *duckdb.UUID:
		return v.String()
	case duckdb.Decimal:
		return v.String()
	case duckdb.Interval:
		return formatInterval(v)
	case *big.Int:
		return v.String()
	case int, int8, int16, int32, int64, uint, uint8, uint16, uint32, uint64:
		return fmt.Sprint(v)
	}
	b, err := json.Marshal(jsonValue(v, k))
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}

func formatTime(t time.Time, k valueKind) string {
	switch k {
	case kindDate:
		return t.UTC().Format(time.DateOnly)
	case kindTime:
		return t.Format("15:04:05.999999")
	}
	return t.UTC().Format(time.RFC3339Nano)
}

// jsonValue turns a scanned value into something encoding/json renders faithfully: timestamps and dates as
// strings, lists and structs recursively, DuckDB's own types by their text.
func jsonValue(v any, k valueKind) any {
	switch v := v.(type) {
	case time.Time:
		return formatTime(v, k)
	case []any:
		out := make([]any, len(v))
		for i, e := range v {
			out[i] = jsonValue(e, kindOther)
		}
		return out
	case map[string]any:
		out := make(map[string]any, len(v))
		for key, e := range v {
			out[key] = jsonValue(e, kindOther)
		}
		return out
	case duckdb.Map:
		out := make(map[string]any, len(v))
		for key, e := range v {
			out[text(key, kindOther)] = jsonValue(e, kindOther)
		}
		return out
	case float64:
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return strconv.FormatFloat(v, 'g', -1, 64) // JSON has no NaN or infinity
		}
		return v
	case float32:
		return jsonValue(float64(v), k)
	case duckdb.Decimal:
		return json.Number(v.String())
	case *big.Int:
		return json.Number(v.String())
	case duckdb.UUID, *duckdb.UUID, []byte:
		return text(v, k)
	case duckdb.Interval:
		return formatInterval(v) // as DuckDB's CLI prints it: "00:03:37.363555", "2 days 03:00:00"
	}
	return v
}

// tablePrinter holds the first rows to size the columns, then streams the rest at those widths, so a huge
// result neither waits for its end nor fills memory.
type tablePrinter struct {
	w      *bufio.Writer
	cols   []column
	held   [][]string
	widths []int
	n      int
	flowed bool
}

const tableHoldRows = 1000

func (p *tablePrinter) begin(w *bufio.Writer, cols []column) error {
	p.w, p.cols = w, cols
	p.widths = make([]int, len(cols))
	for i, c := range cols {
		p.widths[i] = runewidth.StringWidth(c.name)
	}
	return nil
}

func (p *tablePrinter) row(vals []any) error {
	r := make([]string, len(vals))
	for i, v := range vals {
		if v == nil {
			r[i] = "NULL"
		} else {
			r[i] = oneLine(text(v, p.cols[i].kind))
		}
	}
	p.n++
	if p.flowed {
		return p.print(r)
	}
	for i, s := range r {
		p.widths[i] = max(p.widths[i], runewidth.StringWidth(s))
	}
	p.held = append(p.held, r)
	if len(p.held) >= tableHoldRows {
		return p.flow()
	}
	return nil
}

// flow prints the header and the held rows; later rows print as they come.
func (p *tablePrinter) flow() error {
	p.flowed = true
	head := make([]string, len(p.cols))
	rule := make([]string, len(p.cols))
	for i, c := range p.cols {
		head[i] = c.name
		rule[i] = strings.Repeat("-", p.widths[i])
	}
	if err := p.printAligned(head, false); err != nil {
		return err
	}
	if err := p.printAligned(rule, false); err != nil {
		return err
	}
	for _, r := range p.held {
		if err := p.print(r); err != nil {
			return err
		}
	}
	p.held = nil
	return nil
}

func (p *tablePrinter) print(r []string) error { return p.printAligned(r, true) }

func (p *tablePrinter) printAligned(r []string, numbersRight bool) error {
	var b strings.Builder
	for i, s := range r {
		if i > 0 {
			b.WriteString("  ")
		}
		pad := p.widths[i] - runewidth.StringWidth(s)
		last := i == len(r)-1
		switch {
		case numbersRight && p.cols[i].kind == kindNumber && s != "NULL":
			b.WriteString(strings.Repeat(" ", max(pad, 0)))
			b.WriteString(s)
		case last:
			b.WriteString(s) // no trailing blanks
		default:
			b.WriteString(s)
			b.WriteString(strings.Repeat(" ", max(pad, 0)))
		}
	}
	b.WriteByte('\n')
	_, err := p.w.WriteString(b.String())
	return err
}

func (p *tablePrinter) end() error {
	if !p.flowed {
		if err := p.flow(); err != nil {
			return err
		}
	}
	noun := "rows"
	if p.n == 1 {
		noun = "row"
	}
	_, err := fmt.Fprintf(p.w, "(%d %s)\n", p.n, noun)
	return err
}

// oneLine keeps a table row on one line: control characters print escaped.
func oneLine(s string) string {
	if !strings.ContainsAny(s, "\n\r\t") {
		return s
	}
	return strings.NewReplacer("\n", `\n`, "\r", `\r`, "\t", `\t`).Replace(s)
}

type csvPrinter struct {
	w    *csv.Writer
	cols []column
	rec  []string
}

func (p *csvPrinter) begin(w *bufio.Writer, cols []column) error {
	p.w, p.cols = csv.NewWriter(w), cols
	p.rec = make([]string, len(cols))
	for i, c := range cols {
		p.rec[i] = c.name
	}
	return p.w.Write(p.rec)
}

func (p *csvPrinter) row(vals []any) error {
	for i, v := range vals {
		p.rec[i] = ""
		if v != nil {
			p.rec[i] = text(v, p.cols[i].kind)
		}
	}
	return p.w.Write(p.rec)
}

func (p *csvPrinter) end() error {
	p.w.Flush()
	return p.w.Error()
}

type jsonPrinter struct {
	w    *bufio.Writer
	cols []column
	keys [][]byte
	n    int
}

func (p *jsonPrinter) begin(w *bufio.Writer, cols []column) error {
	p.w, p.cols = w, cols
	for _, c := range cols {
		k, err := json.Marshal(c.name)
		if err != nil {
			return err
		}
		p.keys = append(p.keys, k)
	}
	_, err := p.w.WriteString("[")
	return err
}

func (p *jsonPrinter) row(vals []any) error {
	if p.n > 0 {
		p.w.WriteString(",")
	}
	p.n++
	p.w.WriteString("\n{")
	for i, v := range vals {
		if i > 0 {
			p.w.WriteString(",")
		}
		p.w.Write(p.keys[i])
		p.w.WriteString(":")
		b, err := json.Marshal(jsonValue(v, p.cols[i].kind))
		if err != nil {
			return fmt.Errorf("encoding column %s as JSON: %w", p.cols[i].name, err)
		}
		p.w.Write(b)
	}
	_, err := p.w.WriteString("}")
	return err
}

func (p *jsonPrinter) end() error {
	end := "]\n"
	if p.n > 0 {
		end = "\n]\n"
	}
	_, err := p.w.WriteString(end)
	return err
}

// Open opens the warehouse's catalog read-only, for code that runs SQL over the views (the marts). The caller
// closes it.
func Open(root string) (*sql.DB, error) {
	path := filepath.Join(root, FileName)
	if st, err := os.Stat(path); err != nil || st.IsDir() {
		return nil, fmt.Errorf("no catalog at %s", path)
	}
	return openReadOnly(root)
}

// openReadOnly opens root's catalog read-only.
func openReadOnly(root string) (*sql.DB, error) {
	abs, err := filepath.Abs(root)
	if err != nil {
		return nil, err
	}
	path := filepath.Join(abs, FileName)
	dsn := path + "?access_mode=read_only"
	if relocatable(abs) {
		dsn += "&file_search_path=" + url.QueryEscape(abs)
	}
	db, err := sql.Open("duckdb", dsn)
	if err != nil {
		return nil, fmt.Errorf("opening %s: %w", path, err)
	}
	return db, nil
}

// Explain adds the fix to a query error that says the catalog and the files beside it disagree (a warehouse copied
// in part, or files removed by hand).
func Explain(root string, err error) error {
	if err != nil && (strings.Contains(err.Error(), "No files found") || strings.Contains(err.Error(), "No such file")) {
		return fmt.Errorf("the catalog does not match the files in %s (copied in part, or files removed?): run `seatlake query --warehouse %s --rebuild \"SELECT 1\"` to rebuild it from the files there: %w", root, root, err)
	}
	return err
}

// Tenants lists the tenants a view of the catalog has rows of, sorted.
func Tenants(ctx context.Context, db *sql.DB, view string) ([]string, error) {
	rows, err := db.QueryContext(ctx, "SELECT DISTINCT tenant_id FROM "+view+" ORDER BY 1")
	if err != nil {
		return nil, fmt.Errorf("listing the tenants of %s: %w", view, err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var t string
		if err := rows.Scan(&t); err != nil {
			return nil, fmt.Errorf("listing the tenants of %s: %w", view, err)
		}
		out = append(out, t)
	}
	return out, rows.Err()
}
