// Package pipelines wires the nightly run: extract (Graph today; Dataverse and F&O next) -> load (Parquet in one
// atomic commit, state with it) -> catalog (DuckDB views), and leaves a run summary.
//
// Contracts:
//   - A run commits all its tables and its incremental state together, or nothing: state never moves ahead of data.
//   - A run that could not fetch everything says exactly what is missing (which stream, which time windows) and is not
//     called succeeded; the data it did fetch is committed, and the watermark stops before the first gap, so the next
//     run fetches the gap again.
//   - Every run, succeeded or not, leaves one row in runs/.
//   - Concurrency is bounded and owned here: one goroutine per stream, a bounded number of sign-in windows at once,
//     one writer goroutine per table. Library packages below are synchronous.
package pipelines
