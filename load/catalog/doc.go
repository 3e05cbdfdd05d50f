// Package catalog builds seatlake.duckdb, the DuckDB database of views over the warehouse's Iceberg tables, and
// runs analysts' queries against it.
//
// BuildFrom renders the view SQL in sql/ for every declared table over the warehouse's read set
// (warehouse.ReadSet: each tenant's tables at the snapshots of its last committed transaction, so half a run is
// never shown), writes it to a temporary database and renames it over seatlake.duckdb, so a reader opens either the
// old catalog or the new one. The catalog holds only views, no data: rebuilding it is cheap and loses nothing.
// Views name the read set's data files by absolute local path (for object storage: copies in the warehouse
// directory's _cache/, since DuckDB has no httpfs/azure extension offline); every commit is followed by a rebuild,
// and `seatlake query --rebuild` is Build.
//
// Views, for every declared table T:
//   - snapshot tables: T is each tenant's latest snapshot (its latest snapshot_date in the read set; only those
//     files are read); T_history is every snapshot. Both expose snapshot_date (DATE).
//   - event tables: T is the events deduplicated on (tenant_id, event_date, key columns), the copy with the newest
//     extracted_at (then run_id) winning; T_history is every stored copy, duplicates included, for auditing what
//     each run fetched. Both expose event_date (DATE). A filter on event_date skips the other days' files, even
//     through T's deduplication (the files' tenant_id=/event_date= folders are read as hive partitions, whose
//     values equal the columns inside).
//   - log tables (runs, syncs, actions): T is every row of the table's current snapshot.
//   - columns are the declared ones, in declared order, with the declared types (timestamps TIMESTAMP WITH TIME
//     ZONE, microseconds); a column no file has yet reads as NULL. A table without files still has its views,
//     typed, with no rows.
//
// Query opens the catalog read-only; see Query for the output formats.
package catalog
