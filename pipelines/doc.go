// Package pipelines wires every job seatlake runs, each from settings to a record of what it did:
//   - the nightly run (run.go, tenants.go, sources.go, scope.go, windows.go, rejects.go): the streams of every
//     source registered through extract/source (Microsoft Graph: the tenant as a whole, after its token; Dataverse
//     and F&O: one scope per environment), which sources.go runs generically (their tables, settings, first steps,
//     streams, windows, rejects and checks come from their declarations; scope.go lands a scope whole or not at
//     all; windows.go fetches an event log by time windows since its watermark) -> Arrow batches -> one warehouse
//     transaction of Iceberg table commits with the incremental state (load/warehouse) -> the marts computed by
//     DuckDB over what was committed (marts.go, transform) -> one runs row; tenants run in parallel, sharded across
//     jobs by --shard;
//   - the syncs to JSM Assets and ServiceNow (sync.go, sink.go) and the approved reclaim (reclaim.go), each leaving
//     a syncs or actions row whatever its outcome;
//   - the syncs' targets configured from their settings and a sync with its lines (targets.go), and the syncs that
//     follow a run (RunThenSync);
//   - the F&O business events receiver (events.go: journal, commit, routes) and its service (serve.go: the
//     environments and their secrets, listening, TLS, shutdown, refresh-user; the callback secrets NewEndpoint makes);
//   - the connection checks (check.go), the warehouse commands (warehouse.go: migrate, maintain, export), the
//     report and queries (report.go), and the demo (demo.go: the simulator, check, run, answers, report, syncs into the
//     emulated asset systems);
//   - the lines commands print of these results (lines.go), and thin wrappers over the stages for cmd (settings.go),
//     which parses flags and the config file, calls one function here and prints: cmd imports no stage.
//
// Contracts:
//   - A run commits its tables and its incremental state together: the commit log's row is the visibility point,
//     readers read each tenant's last complete run, and state never moves ahead of data.
//   - A run that could not fetch everything says exactly what is missing (which stream, which time windows) and is not
//     called succeeded; the data it did fetch is committed, and the watermark stops before the first gap, so the next
//     run fetches the gap again.
//   - Every run, succeeded or not, leaves one row in runs (its commit retries and committed snapshots included).
//   - Concurrency is bounded and owned here: one goroutine per stream, a bounded number of windows at once,
//     one writer goroutine per table. Library packages below are synchronous.
package pipelines
