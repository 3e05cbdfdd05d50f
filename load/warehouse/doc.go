// Package warehouse writes the warehouse: Apache Iceberg tables (format v2), one per declared table, in the
// namespace seatlake of an Iceberg catalog, committed with optimistic concurrency through
// github.com/apache/iceberg-go, with state (watermarks) committed in the same commit log that makes a run visible.
//
// Where things are (Config):
//   - catalog: the SQL catalog in <root>/catalog.sqlite (SQLite, pure-Go driver; the embedded default), the SQL
//     catalog on PostgreSQL (postgres://…: the JDBC catalog's iceberg_tables layout, catalog name "seatlake",
//     which Spark and Trino read), or a REST catalog (https://…);
//   - storage: the warehouse directory (default), s3://bucket/prefix or abfss://container@account.dfs.core.windows.net/prefix;
//     credentials only from the environment (see storageProps); <root>/warehouse.json records catalog and storage.
//   - <root> also holds seatlake.duckdb (load/catalog), _cache/ (local copies of object-storage data files for
//     DuckDB), _staging/ (reject files of runs in progress) and what other packages keep there (the events journal).
//
// Table layout under the storage:
//
//	<layer>/<table>/metadata/…                                                       Iceberg metadata (layer raw or marts)
//	<layer>/<table>/data/tenant_id=<id>/snapshot_date=YYYY-MM-DD/<run_id>-<n>-<rand>.parquet   snapshot tables
//	<layer>/<table>/data/tenant_id=<id>/event_date=YYYY-MM-DD/<run_id>-<n>-<rand>.parquet      event tables
//	<table>/data/tenant_id=<id>/<run_id>-<rand>.parquet                             record tables (runs, syncs, actions)
//	seatlake_commits/…                                                               the commit log (CommitsTable)
//	rejects/<table>/tenant=<id>/<run_id>.jsonl                                       records that could not be loaded
//
// Partition spec: identity(tenant_id) and identity(snapshot_date) or identity(event_date) (the UTC day of the
// event time); the day column is inside the files, as Iceberg requires. Parquet columns carry the Iceberg field
// ids (list elements too), so every engine reads them by id.
//
// Contracts:
//   - Data files are written once, as batches arrive, under the table's data location with unique names; Commit
//     describes them from the writer's own metadata (no read back), then commits each table: a snapshot table's
//     commit replaces the tenant's files of the day (whatever run wrote them, a killed one's included), an event
//     table's appends. Each table commit loads the table, plans and commits; a concurrent change
//     (ErrCommitFailed, or the SQL catalog's "requirement failed: … has changed") is retried after a jittered
//     backoff, reloading and re-planning: only metadata is redone. After an error of unknown outcome the reloaded
//     table is searched for the commit's id (seatlake.commit-id in the snapshot summary) before retrying, so a
//     commit is never applied twice. Summaries carry seatlake.run-id, seatlake.tenant-id and seatlake.state.<stream>.
//   - The commit point of a transaction is its row in the commit log (seatlake_commits), appended after its tables:
//     the snapshot id of each table and the state. ReadSet and State read only such rows, so a transaction killed
//     between two table commits is invisible to seatlake's readers (the DuckDB views, marts, report, sync,
//     reclaim) and its state is not advanced: the next run fetches it again. Engines reading a table's current
//     snapshot directly do see such a commit (Iceberg commits one table at a time).
//   - A snapshot table written by a run replaces the tenant's partition of the day (running the same night twice
//     leaves one snapshot); opening its writer is enough, an empty snapshot is an empty file. Event tables append;
//     the views deduplicate them on their key. Tables a run did not open are untouched.
//   - Abort removes the files of the tables it did not commit. Files of failed commits that cannot be removed, and
//     superseded files, are left to maintenance (expire snapshots, remove orphan files).
//   - Types: timestamp[us, UTC] is timestamptz (Parquet TIMESTAMP(isAdjustedToUTC=true, MICROS)), date32 is date,
//     list<string> is list; the Arrow schema is stored in the file metadata. gzip by default (DefaultCodec).
//     Columns declared HighCardinality get no dictionary (and, for strings, no min/max statistics). Columns added
//     to a declaration are added to the table (optional); columns are never changed or dropped.
//   - Lock is a lock of the local warehouse directory, no longer needed for commits (they use optimistic
//     concurrency): several processes and goroutines commit into one catalog at once.
//   - Migrate moves a warehouse of the earlier folder layout into the Iceberg tables, keeping every row.
//
// Memory and speed: by default every record batch is encoded and written as it arrives (a row group per batch
// and partition, at most RowGroupRows rows), so memory is bounded by the batch, however many days of sign-ins are
// in flight; an event table keeps one open file per day. WriterOptions.BufferRows opts into row groups that fill
// across batches, at a memory cost arrow-go makes high (see WriterOptions). Rows are routed to days by zero-copy
// slices; a batch whose days alternate row by row is gathered per day instead. Writing to object storage streams
// through the FileIO (the SDKs' multipart/block uploads).
package warehouse
