// Package pipelines wires every job seatlake runs, each from settings to a record of what it did:
//   - the nightly run (run.go, signins.go, dynamics.go, groups.go, tenants.go): Microsoft Graph, each Dataverse
//     environment and each F&O environment of a tenant -> Arrow batches -> one warehouse transaction of Iceberg
//     table commits with the incremental state (load/warehouse) -> the marts computed by DuckDB over what was
//     committed (marts.go, transform) -> one runs row; tenants run in parallel, sharded across jobs by --shard;
//   - the syncs to JSM Assets and ServiceNow (sync.go, sink.go) and the approved reclaim (reclaim.go), each leaving
//     a syncs or actions row whatever its outcome;
//   - the F&O business events receiver (events.go): journal, commit, routes;
//   - the connection checks (check.go) and the warehouse commands (warehouse.go: migrate, maintain, export).
//
// Contracts:
//   - A run commits its tables and its incremental state together: the commit log's row is the visibility point,
//     readers read each tenant's last complete run, and state never moves ahead of data.
//   - A run that could not fetch everything says exactly what is missing (which stream, which time windows) and is not
//     called succeeded; the data it did fetch is committed, and the watermark stops before the first gap, so the next
//     run fetches the gap again.
//   - Every run, succeeded or not, leaves one row in runs (its commit retries and committed snapshots included).
//   - Concurrency is bounded and owned here: one goroutine per stream, a bounded number of sign-in windows at once,
//     one writer goroutine per table. Library packages below are synchronous.
package pipelines
