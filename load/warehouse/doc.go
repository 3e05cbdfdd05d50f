// Package warehouse writes the Parquet warehouse: Hive-style partitions, one transaction per run, state committed
// with the data.
//
// Layout under the root:
//
//	raw/<table>/tenant=<id>/snapshot_date=YYYY-MM-DD/<run_id>-<n>.parquet   snapshot tables
//	raw/<table>/tenant=<id>/event_date=YYYY-MM-DD/<run_id>-<n>.parquet      event tables (UTC date of EventTime)
//	runs/tenant=<id>/<run_id>.parquet                                       one row per run
//	_state/tenant=<id>/<stream>.json                                        watermarks
//	_staging/<run_id>/…                                                     a run in progress
//	_commits/<run_id>.json                                                  a commit being applied
//
// Contracts:
//   - A run writes only into its staging directory. Commit fsyncs the files, then writes the commit marker (the
//     manifest: every file move, every snapshot partition it replaces, every state value) atomically; the marker is
//     the commit point. Applying it moves the files into place, removes the superseded snapshot files of the same
//     partition and writes the state; Lock (taken by every run) rolls forward any marker left by a crash and
//     deletes staging without a marker. So a run killed before its marker leaves the warehouse exactly as it was.
//   - A snapshot table written by a run replaces that table's partition tenant=X/snapshot_date=D; event tables
//     append, and the catalog's views deduplicate them on their key.
//   - Partition values live only in the paths: Spark and other Hive readers reject a column present in both.
//   - Timestamps are written as Parquet TIMESTAMP(MICROS, isAdjustedToUTC=true); the Arrow schema is stored in the
//     file metadata so Arrow readers get the declared types back exactly.
//   - Files are written as batches arrive: each record batch becomes one or more row groups (at most
//     WriterOptions.RowGroupRows rows) encoded and written straight to the file, so memory is bounded by the batch
//     size, never by table size or by the number of partitions open at once (an event table keeps one file per
//     day open; buffering row groups there would hold every day of sign-ins in memory). Each partition file has its own
//     writer, so encoding row groups of different partitions or files in parallel is a matter of giving each
//     writer a goroutine; the single-writer-per-table contract keeps that change local to this package.
package warehouse
