package catalog

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"
	"unicode/utf8"
)

// Query runs one SQL statement on root's catalog, read-only, and prints the result as format:
//   - "table": aligned columns with a header and a row-count footer, NULL shown as NULL (for people);
//   - "csv": a header row, then one record per row, NULL as an empty field;
//   - "json": one JSON array of objects, keys in column order, NULL as null.
//
// Timestamps print as RFC 3339 in UTC, lists as JSON arrays.
func Query(ctx context.Context, root, query, format string, w io.Writer) error {
	path := filepath.Join(root, FileName)
	if _, err := os.Stat(path); err != nil {
		return fmt.Errorf("no warehouse at %s: run `seatlake run` or `seatlake demo` first", root)
	}
	db, err := sql.Open("duckdb", path+"?access_mode=read_only")
	if err != nil {
		return fmt.Errorf("opening %s: %w", path, err)
	}
	defer db.Close()
	conn, err := db.Conn(ctx)
	if err != nil {
		return fmt.Errorf("opening %s: %w", path, err)
	}
	defer conn.Close()
	rows, err := conn.QueryContext(ctx, query)
	if err != nil {
		return fmt.Errorf("query: %w", err)
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return err
	}
	var out printer
	switch format {
	case "table", "":
		out = &tablePrinter{w: w, cols: cols}
	case "csv":
		out = &csvPrinter{w: csv.NewWriter(w), cols: cols}
	case "json":
		out = &jsonPrinter{w: w, cols: cols}
	default:
		return fmt.Errorf("unknown format %q: want table, csv or json", format)
	}
	if err := out.begin(); err != nil {
		return err
	}
	vals := make([]any, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			return fmt.Errorf("reading result: %w", err)
		}
		if err := out.row(vals); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("query: %w", err)
	}
	return out.end()
}

type printer interface {
	begin() error
	row(vals []any) error
	end() error
}

// text renders a value for table and csv output.
func text(v any) (string, bool) {
	switch v := v.(type) {
	case nil:
		return "", false
	case string:
		return v, true
	case []byte:
		return fmt.Sprintf("%x", v), true
	case time.Time:
		return v.UTC().Format(time.RFC3339Nano), true
	case bool, int, int8, int16, int32, int64, uint8, uint16, uint32, uint64, float32, float64, *big.Int:
		return fmt.Sprint(v), true
	}
	b, err := json.Marshal(jsonValue(v))
	if err != nil {
		return fmt.Sprint(v), true
	}
	return string(b), true
}

// jsonValue makes DuckDB's scanned values JSON-friendly: timestamps in RFC 3339 UTC, nested lists and maps too.
func jsonValue(v any) any {
	switch v := v.(type) {
	case time.Time:
		return v.UTC().Format(time.RFC3339Nano)
	case []any:
		out := make([]any, len(v))
		for i, e := range v {
			out[i] = jsonValue(e)
		}
		return out
	case map[string]any:
		out := make(map[string]any, len(v))
		for k, e := range v {
			out[k] = jsonValue(e)
		}
		return out
	case []byte:
		return fmt.Sprintf("%x", v)
	}
	return v
}

type tablePrinter struct {
	w    io.Writer
	cols []string
	rows [][]string
}

func (p *tablePrinter) begin() error { return nil }

func (p *tablePrinter) row(vals []any) error {
	r := make([]string, len(vals))
	for i, v := range vals {
		s, ok := text(v)
		if !ok {
			s = "NULL"
		}
		r[i] = strings.NewReplacer("\n", " ", "\t", " ").Replace(s)
	}
	p.rows = append(p.rows, r)
	return nil
}

func (p *tablePrinter) end() error {
	tw := tabwriter.NewWriter(p.w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, strings.Join(p.cols, "\t"))
	rule := make([]string, len(p.cols))
	for i, c := range p.cols {
		rule[i] = strings.Repeat("-", max(3, utf8.RuneCountInString(c)))
	}
	fmt.Fprintln(tw, strings.Join(rule, "\t"))
	for _, r := range p.rows {
		fmt.Fprintln(tw, strings.Join(r, "\t"))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	noun := "rows"
	if len(p.rows) == 1 {
		noun = "row"
	}
	_, err := fmt.Fprintf(p.w, "(%d %s)\n", len(p.rows), noun)
	return err
}

type csvPrinter struct {
	w    *csv.Writer
	cols []string
	rec  []string
}

func (p *csvPrinter) begin() error { return p.w.Write(p.cols) }

func (p *csvPrinter) row(vals []any) error {
	if p.rec == nil {
		p.rec = make([]string, len(vals))
	}
	for i, v := range vals {
		p.rec[i], _ = text(v)
	}
	return p.w.Write(p.rec)
}

func (p *csvPrinter) end() error {
	p.w.Flush()
	return p.w.Error()
}

type jsonPrinter struct {
	w    io.Writer
	cols []string
	n    int
	buf  bytes.Buffer
}

func (p *jsonPrinter) begin() error {
	_, err := io.WriteString(p.w, "[")
	return err
}

func (p *jsonPrinter) row(vals []any) error {
	p.buf.Reset()
	if p.n > 0 {
		p.buf.WriteString(",\n")
	} else {
		p.buf.WriteString("\n")
	}
	p.n++
	p.buf.WriteString("{")
	for i, v := range vals {
		if i > 0 {
			p.buf.WriteString(",")
		}
		k, _ := json.Marshal(p.cols[i])
		p.buf.Write(k)
		p.buf.WriteString(":")
		b, err := json.Marshal(jsonValue(v))
		if err != nil {
			return fmt.Errorf("encoding column %s: %w", p.cols[i], err)
		}
		p.buf.Write(b)
	}
	p.buf.WriteString("}")
	_, err := p.w.Write(p.buf.Bytes())
	return err
}

func (p *jsonPrinter) end() error {
	end := "]\n"
	if p.n > 0 {
		end = "\n]\n"
	}
	_, err := io.WriteString(p.w, end)
	return err
}
