// Package warehouse writes the Parquet warehouse: Hive-style partitions, one transaction per run, state
// (watermarks) committed with the data.
//
// Layout under the root:
//
//	<layer>/<table>/tenant=<id>/snapshot_date=YYYY-MM-DD/<run_id>-<n>.parquet   snapshot tables (layer raw or marts)
//	<layer>/<table>/tenant=<id>/event_date=YYYY-MM-DD/<run_id>-<n>.parquet      event tables (UTC date of EventTime)
//	runs/tenant=<id>/<run_id>.parquet                                           one row per run (WriteRun)
//	_state/tenant=<id>/<stream>.json                                            committed state per stream
//	_state/.lock                                                                one run at a time (Lock)
//	_staging/<run_id>/…                                                         a run in progress, never read
//	_commits/<run_id>.json                                                      a commit being applied
//
// n counts the files of one table and partition in the run, from 1.
//
// Contracts:
//   - A run writes only into its staging directory. Commit finishes and fsyncs every file, then writes the commit
//     marker: a manifest of every file move, every snapshot partition it replaces and every state value, written
//     to a temporary name, fsynced and renamed (the rename is the commit point). Applying it moves the files into
//     place (same filesystem, so renames), removes the superseded snapshot files, writes the state files (each
//     atomically) and deletes the marker, fsyncing the directories it changed. Each step is idempotent.
//   - Open rolls forward every marker a crash left and deletes staging without a marker, but only when it can take
//     the lock: a live run's staging is not debris. So a run killed before its marker leaves the warehouse exactly
//     as it was, one killed after it is completed by the next Open, and state never runs ahead of the data.
//   - A snapshot table written by a run replaces that table's partition tenant=X/snapshot_date=D (running the same
//     night twice leaves one snapshot); opening its writer is enough, an empty snapshot is an empty file. New files
//     are in place before old ones go, so a reader may briefly see both, never neither. Event tables append; the
//     catalog's views deduplicate them on their key. Tables a run did not open are untouched.
//   - Partition values live only in the paths: Spark and other Hive readers reject a column present in both.
//   - Types: timestamp[us, UTC] is written as Parquet TIMESTAMP(isAdjustedToUTC=true, MICROS) (nothing coerces it:
//     pqarrow keeps the unit), date32 as DATE, list<string> as LIST; the Arrow schema is stored in the file
//     metadata so Arrow readers get the declared types back exactly. gzip by default (DefaultCodec). Columns declared
//     HighCardinality get no dictionary (and, for strings, no min/max statistics, which random ids never use).
//
// Memory and speed: by default every record batch is encoded and written as it arrives (a row group per batch
// and partition, at most RowGroupRows rows), so memory is bounded by the batch, however many days of sign-ins are
// in flight; an event table keeps one open file per day. WriterOptions.BufferRows opts into row groups that fill
// across batches, at a memory cost arrow-go makes high (see WriterOptions). Rows are routed to days by zero-copy
// slices; a batch whose days alternate row by row is gathered per day instead.
//
// Parallel encoding, later: a Write is synchronous and encodes on the caller's goroutine (the pipeline already
// decodes JSON on others). Each open partition file has its own pqarrow writer and nothing is shared between
// files but the row counters, so a TableWriter can hand each file its own goroutine fed by a short queue (event
// tables with several days in flight parallelise at once); for one big partition (a snapshot), FileRows can be
// lowered so that several files of the same partition are encoded side by side, since <run_id>-<n> names already
// allow any number. Row groups within one file cannot be encoded concurrently through pqarrow's FileWriter.
package warehouse
