package catalog

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"text/template"

	"github.com/seatlake/seatlake/internal/table"
	"github.com/seatlake/seatlake/load/warehouse"
)

// RebuildViews replaces the views of changed only, keeping every other view of the warehouse's catalog as it is:
// what a writer that commits a few tables often (the business events receiver, every second) needs after each
// commit, at a fraction of BuildFrom's work (one table's read set and files instead of every table's). Like
// BuildFrom, it writes a copy of the catalog and renames it over seatlake.duckdb, so a reader opens either the old
// catalog or the new one. Without a catalog yet, or one that cannot be updated in place (written by another
// DuckDB version, say), it is BuildFrom of all. The caller holds the warehouse lock, as for BuildFrom.
func RebuildViews(ctx context.Context, wh *warehouse.Warehouse, all, changed []*table.Table) error {
	abs := wh.Root()
	cur := filepath.Join(abs, FileName)
	if _, err := os.Stat(cur); err != nil || strings.ContainsAny(filepath.ToSlash(abs), "*?[]{}") {
		return BuildFrom(ctx, wh, all) // which names what is wrong with such a path
	}
	tmpl, err := parseTemplates()
	if err != nil {
		return err
	}
	rs, err := wh.ReadSetOf(ctx, changed, nil)
	if err != nil {
		return fmt.Errorf("rebuilding the views: %w", err)
	}
	tmp, err := copyCatalog(abs, cur)
	if err != nil {
		return fmt.Errorf("rebuilding the views: %w", err)
	}
	if err := update(ctx, tmp, tmpl, wh, rs, changed); err != nil {
		os.Remove(tmp)
		os.Remove(tmp + ".wal")
		// The copy could not be updated: the whole catalog, written anew, is always possible.
		if berr := BuildFrom(ctx, wh, all); berr != nil {
			return fmt.Errorf("rebuilding the views: %w (and building the catalog anew: %w)", err, berr)
		}
		return nil
	}
	if err := os.Rename(tmp, cur); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("replacing the catalog: %w", err)
	}
	if d, err := os.Open(abs); err == nil {
		_ = d.Sync() // best effort: the catalog can always be rebuilt
		d.Close()
	}
	return nil
}

// copyCatalog copies the catalog cur (views only: small) to a temporary file beside it, mode 0640.
func copyCatalog(dir, cur string) (_ string, err error) {
	src, err := os.Open(cur)
	if err != nil {
		return "", err
	}
	defer src.Close()
	dst, err := os.CreateTemp(dir, FileName+".tmp-*")
	if err != nil {
		return "", err
	}
	defer func() {
		err = errors.Join(err, dst.Close())
		if err != nil {
			os.Remove(dst.Name())
		}
	}()
	if _, err := io.Copy(dst, src); err != nil {
		return "", err
	}
	if err := dst.Chmod(0o640); err != nil { // as the warehouse's other files
		return "", err
	}
	return dst.Name(), nil
}

// update replaces the views of tables in the DuckDB database at path, on one thread: it runs beside a service
// answering requests (the receiver), whose latency matters more than this update's.
func update(ctx context.Context, path string, tmpl *template.Template, wh *warehouse.Warehouse, rs *warehouse.ReadSet, tables []*table.Table) (err error) {
	db, err := sql.Open("duckdb", path+"?threads=1")
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, db.Close()) }()
	conn, err := db.Conn(ctx)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, conn.Close()) }()
	relative := relocatable(wh.Root())
	if relative {
		if _, err := conn.ExecContext(ctx, "SET file_search_path = "+lit(wh.Root())); err != nil {
			return err
		}
	}
	if err := createViews(ctx, conn, tmpl, wh, rs, tables, relative); err != nil {
		return err
	}
	// Everything into the database file, nothing left in a WAL that would not follow the rename.
	_, err = conn.ExecContext(ctx, "CHECKPOINT")
	return err
}
