// Package sql holds the SQL of the warehouse's DuckDB views, embedded into the binary. Importers alias it
// (seatsql) to keep database/sql readable.
//
// The files are text/template sources that load/catalog renders for every declared table. Functions: ident
// quotes an identifier, lit a string literal. Data: View (the view's name), History (T_history), Source (the
// read_parquet argument: every file of the table), Latest (snapshot tables: the latest partition of each tenant),
// Columns (Name, Type as DuckDB spells it, Present: whether any file has the column, Doc), Keys (key columns),
// Partition (snapshot_date, event_date or empty), Doc.
//
//	columns.sql           the "columns" template: declared columns in order, typed NULL for one no file has yet
//	snapshot_history.sql  T_history: every snapshot of a snapshot table, with its snapshot_date
//	snapshot_latest.sql   T: the latest snapshot per tenant, the view analysts use by default
//	event_history.sql     T_history: every stored copy of every event, with its event_date
//	event_latest.sql      T: events deduplicated on (tenant_id, event_date, key), the newest extraction winning
//	log.sql               T: every row of a log table (runs: one row per run)
//	empty.sql             a typed view with no rows, for a table that has no files yet
//	comments.sql          COMMENT ON the view and its columns, from the declaration's Doc
package sql

import "embed"

// Views holds the view templates.
//
//go:embed *.sql
var Views embed.FS

// Marts holds one query per mart (marts/<name>.sql), run by transform over the committed views. Parameters are
// positional ($1 is the tenant id).
//
//go:embed marts/*.sql
var Marts embed.FS
