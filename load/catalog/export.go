package catalog

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/seatlake/seatlake/internal/table"
)

// Export writes the current state of tables, as the views show it (each tenant's latest snapshot, each event once,
// every record row), as plain Hive-partitioned Parquet under dir, for tools that read only a folder of Parquet
// files (Power BI Desktop's folder connector, pandas, Excel through DuckDB):
//
//	dir/<table>/tenant_id=<id>/data_0.parquet                  snapshot and record tables
//	dir/<table>/tenant_id=<id>/event_date=YYYY-MM-DD/…        event tables
//
// The partition columns are in the folder names only (as Hive readers expect). The export is written beside dir
// and renamed over it, so a reader sees the previous export or the new one. root's catalog must be built.
func Export(ctx context.Context, root, dir string, tables []*table.Table) (err error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return fmt.Errorf("exporting: %w", err)
	}
	tmp := abs + ".tmp"
	if err := os.RemoveAll(tmp); err != nil {
		return fmt.Errorf("exporting: removing a stale %s: %w", tmp, err)
	}
	if err := os.MkdirAll(tmp, 0o750); err != nil {
		return fmt.Errorf("exporting: %w", err)
	}
	defer os.RemoveAll(tmp) // after the rename this finds nothing
	db, err := Open(root)
	if err != nil {
		return fmt.Errorf("exporting: %w", err)
	}
	defer func() { err = errors.Join(err, db.Close()) }()
	conn, err := db.Conn(ctx)
	if err != nil {
		return fmt.Errorf("exporting: %w", err)
	}
	defer conn.Close()
	for _, t := range tables {
		if err := exportTable(ctx, conn, t, filepath.Join(tmp, t.Name)); err != nil {
			return fmt.Errorf("exporting %s: %w", t.Name, err)
		}
	}
	old := abs + ".old"
	os.RemoveAll(old)
	if _, err := os.Stat(abs); err == nil {
		if err := os.Rename(abs, old); err != nil {
			return fmt.Errorf("exporting: %w", err)
		}
	}
	if err := os.Rename(tmp, abs); err != nil {
		return fmt.Errorf("exporting: %w", err)
	}
	return os.RemoveAll(old)
}

func exportTable(ctx context.Context, conn *sql.Conn, t *table.Table, dir string) error {
	var n int64
	if err := conn.QueryRowContext(ctx, "SELECT count(*) FROM "+ident(t.Name)).Scan(&n); err != nil {
		return err
	}
	if n == 0 {
		return os.MkdirAll(dir, 0o750) // an empty table: an empty folder
	}
	part := "tenant_id"
	if t.Kind == table.Event {
		part = "tenant_id, event_date"
	}
	_, err := conn.ExecContext(ctx, "COPY (SELECT * FROM "+ident(t.Name)+") TO "+lit(dir)+
		" (FORMAT parquet, COMPRESSION gzip, PARTITION_BY ("+part+"))")
	return err
}
