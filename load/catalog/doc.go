// Package catalog builds seatlake.duckdb, the DuckDB database of views over the warehouse's Parquet folders, and
// runs analysts' queries against it.
//
// Build renders the view SQL in sql/ for every declared table into seatlake.duckdb.tmp and renames it over
// seatlake.duckdb, so a reader opens either the old catalog or the new one. The catalog holds only views, no
// data: rebuilding it is cheap and loses nothing. Views name absolute paths and the partitions found at build
// time: every run rebuilds the catalog, and after moving the warehouse directory `seatlake query --rebuild`
// (which is Build) must run before querying.
//
// Views, for every declared table T:
//   - snapshot tables: T is each tenant's latest snapshot (the latest snapshot_date found at build time; read
//     only from that partition); T_history is every snapshot. Both expose snapshot_date (DATE).
//   - event tables: T is the events deduplicated on (tenant_id, event_date, key columns), the copy with the newest
//     extracted_at (then run_id) winning; T_history is every stored copy, duplicates included, for auditing what
//     each run fetched. Both expose event_date (DATE). A filter on event_date skips the other days' files, even
//     through T's deduplication.
//   - log tables (runs): T is every row.
//   - columns are the declared ones, in declared order, with the declared types (timestamps TIMESTAMP WITH TIME
//     ZONE, microseconds); a column no file has yet reads as NULL. The hive partition column tenant is not exposed
//     (tenant_id is). A table without files still has its views, typed, with no rows.
//   - tables live under raw/ or, for transform outputs, marts/ (whichever has the table's folder).
//
// Query opens the catalog read-only; see Query for the output formats.
package catalog
