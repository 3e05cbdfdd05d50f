// Package catalog builds seatlake.duckdb, the DuckDB database of views over the warehouse's Parquet folders, and
// runs analysts' queries against it.
//
// Build renders the view SQL in sql/ for every declared table into seatlake.duckdb.tmp and renames it over
// seatlake.duckdb, so a reader opens either the old catalog or the new one. Views use absolute paths: the catalog
// is rebuilt by every run, and `seatlake query --rebuild` rebuilds it after the warehouse directory moved.
//
// Views: T is the latest snapshot per tenant (snapshot tables) or the events deduplicated on (tenant_id, key),
// newest extracted_at winning (event tables); T_history has every snapshot or every extracted event row; runs has
// one row per run. A table without files yet still has its views, typed from its declaration, with no rows.
package catalog
