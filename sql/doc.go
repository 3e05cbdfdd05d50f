// Package sql holds the SQL of the warehouse's DuckDB views, embedded into the binary. Importers alias it
// (seatsql) to keep database/sql readable.
//
// The files are text/template sources, rendered once per declared table by load/catalog:
//
//	snapshot_history.sql  every snapshot of a snapshot table, with its snapshot_date
//	snapshot_latest.sql   the latest snapshot per tenant: the view analysts use by default
//	event_history.sql     every event row of every run, with its event_date
//	event_latest.sql      events deduplicated on the table's key, newest extraction wins
//	runs.sql              one row per run
//	empty.sql             a typed view with no rows, for a table that has no files yet
package sql

import "embed"

// Views holds the view templates.
//
//go:embed *.sql
var Views embed.FS
