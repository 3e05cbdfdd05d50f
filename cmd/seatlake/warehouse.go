package main

import (
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/seatlake/seatlake/pipelines"
)

// The warehouse's place is three settings: --warehouse, the local directory (seatlake.duckdb, the embedded catalog,
// caches, the events journal), and, past one machine, --catalog and --storage (the Iceberg catalog and where the
// tables' files go). They are resolved here, once per command, by warehouseBefore; the pipelines open the warehouse
// by its directory, which records the catalog and storage it was last given (warehouse.json).

func catalogFlag() cli.Flag {
	return &cli.StringFlag{Name: "catalog", EnvVars: []string{"SEATLAKE_CATALOG"},
		Usage: "the Iceberg catalog: postgres://user@host/db (password from PGPASSWORD or PGPASSFILE), https://… (REST) or sqlite:///path; default: the SQLite catalog inside --warehouse, or the one it recorded"}
}

func storageFlag() cli.Flag {
	return &cli.StringFlag{Name: "storage", EnvVars: []string{"SEATLAKE_STORAGE"},
		Usage: "where the tables' files go: a local path, s3://bucket/prefix or abfss://container@account.dfs.core.windows.net/prefix (credentials from the environment); default: --warehouse, or what it recorded"}
}

// opensWarehouse are the commands whose --catalog and --storage are put to use before their action: the
// warehouse is opened with them once, which records them for every open of the directory that follows.
// (every `sync <target>` too).
var opensWarehouse = []string{"run", "marts", "report", "query", "reclaim", "events serve"}

// warehouseConfig is the warehouse the flags (or the config file's warehouse, catalog and storage keys, or the
// environment) name. A malformed catalog or storage is a usage error naming the accepted forms.
func warehouseConfig(c *cli.Context, log *slog.Logger) (pipelines.WarehouseConfig, error) {
	wc := pipelines.WarehouseConfig{Root: c.String("warehouse"), Catalog: strings.TrimSpace(c.String("catalog")),
		Storage: strings.TrimSpace(c.String("storage")), Logger: log}
	if err := wc.Check(); err != nil {
		return wc, &exitError{code: exitUsage, err: err}
	}
	return wc, nil
}

// hasFlag reports whether the command itself (not a parent) has the flag.
func hasFlag(c *cli.Context, name string) bool {
	return c.Command != nil && slices.ContainsFunc(c.Command.Flags, func(f cli.Flag) bool { return f.Names()[0] == name })
}

// warehouseBefore runs after every command's own Before (the config file applied): it checks --catalog and
// --storage where the command has them (no I/O: config validate and check only check), and on the commands that
// open the warehouse, opens it with them once so that they are recorded.
func warehouseBefore(c *cli.Context, command string) error {
	if !hasFlag(c, "catalog") {
		return nil
	}
	wc, err := warehouseConfig(c, nil)
	if err != nil {
		return err
	}
	opens := slices.Contains(opensWarehouse, command) || strings.HasPrefix(command, "sync ")
	if !opens || (wc.Catalog == "" && wc.Storage == "") {
		return nil
	}
	if err := pipelines.UseWarehouse(c.Context, wc); err != nil {
		return &exitError{code: exitFailed, err: err}
	}
	return nil
}

func warehouseCommand() *cli.Command {
	var fcMigrate, fcMaintain, fcExport *fileConfig
	common := func() []cli.Flag {
		return append([]cli.Flag{configFlag(), warehouseFlag(), catalogFlag(), storageFlag()}, logFlags()...)
	}
	return &cli.Command{
		Name:  "warehouse",
		Usage: "look after the Iceberg warehouse: migrate an older one, maintain it, export it as plain Parquet",
		Subcommands: []*cli.Command{{
			Name:   "migrate",
			Usage:  "move a warehouse of an earlier seatlake (folders of Parquet files) into Iceberg tables, keeping every night",
			Before: loadConfigFile(&fcMigrate),
			Description: "Rewrites every file of the earlier folder layout into the Iceberg tables (one commit per table), carries each\n" +
				"tenant's watermarks over and moves the old files under " + pipelines.LegacyDir + "/ (nothing is deleted: remove it once the\n" +
				"migrated warehouse is checked). Interrupted, it can be run again. `seatlake run` does it by itself on an\n" +
				"unmigrated warehouse. Prints migrated tables=… rows=… files=… tenants=…, then one line per table.",
			Flags:  common(),
			Action: warehouseMigrate,
		}, {
			Name:   "maintain",
			Usage:  "compact small files, expire old snapshots, rewrite manifests and remove orphan files (outside the ingest window)",
			Before: loadConfigFile(&fcMaintain),
			Description: "For every table: rewrites each tenant-day partition's small files into one (a replace commit, the same rows;\n" +
				"the views keep reading the files of each tenant's last run until its next run), tags the snapshot of each\n" +
				"tenant's last complete run (seatlake-read-<tenant id>: what readers read, kept however old), expires the snapshots\n" +
				"older than --retention (the current and tagged ones are kept; files only expired ones referenced are removed), rewrites the\n" +
				"manifests into fewer, and removes the files no snapshot references that are older than --orphan-age (data files\n" +
				"of runs that never committed, metadata of lost commits). --orphan-age must be longer than the longest run: a\n" +
				"run's files are unreferenced until it commits. Run it outside the ingest window, e.g. daily at noon. A warehouse\n" +
				"of the earlier folder layout is refused: `seatlake warehouse migrate` first. Prints one line per table\n" +
				"(table=… compacted_partitions=… compacted_files=… expired_snapshots=… rewritten_manifests=… orphan_files=… read_tags=…),\n" +
				"then the totals.",
			Flags: append(common(),
				&cli.DurationFlag{Name: "retention", Value: 30 * 24 * time.Hour, Usage: "keep the snapshots of this long (720h = 30 days): time travel and *_history reach this far"},
				&cli.DurationFlag{Name: "orphan-age", Value: 24 * time.Hour, Usage: "remove unreferenced files older than this; longer than the longest run"},
			),
			Action: warehouseMaintain,
		}, {
			Name:   "export",
			Usage:  "write the current state (what the views show) as plain Hive-partitioned Parquet, for folder-only readers",
			Before: loadConfigFile(&fcExport),
			Description: "Writes every view's current rows (each tenant's latest complete run, each event once, every record row) under\n" +
				"--to as <table>/tenant_id=<id>/…parquet (event tables also by event_date=), for tools that read only a folder of\n" +
				"Parquet files (Power BI's folder connector, pandas, DuckDB's read_parquet with hive_partitioning). The folder is\n" +
				"replaced whole: readers see the previous export or the new one. `seatlake run --export DIR` does it after each run.",
			Flags: append(common(), &cli.StringFlag{Name: "to", Usage: "the export folder (replaced whole)"}),
			Action: func(c *cli.Context) error {
				if c.String("to") == "" {
					return &exitError{code: exitUsage, err: errors.New("warehouse export: --to DIR is required (the folder to write)")}
				}
				wc, err := openWarehouse(c)
				if err != nil {
					return err
				}
				return exportWarehouse(c, wc, c.String("to"))
			},
		}},
	}
}

// openWarehouse is the warehouse a `seatlake warehouse` subcommand works on, with its logger.
func openWarehouse(c *cli.Context) (pipelines.WarehouseConfig, error) {
	log, err := newLogger(c)
	if err != nil {
		return pipelines.WarehouseConfig{}, err
	}
	return warehouseConfig(c, log)
}

// warehouseMigrate is `seatlake warehouse migrate`: one line for the migration, then one per table.
func warehouseMigrate(c *cli.Context) error {
	wc, err := openWarehouse(c)
	if err != nil {
		return err
	}
	m, err := pipelines.MigrateWarehouse(c.Context, wc)
	if err != nil {
		return &exitError{code: exitFailed, err: fmt.Errorf("warehouse migrate: %w", err)}
	}
	if m == nil {
		fmt.Fprintf(c.App.Writer, "nothing to migrate: %s holds no files of the folder layout\n", wc.Root)
		return nil
	}
	var rows int64
	for _, n := range m.Tables {
		rows += n
	}
	fmt.Fprintf(c.App.Writer, "migrated tables=%d rows=%d files=%d tenants=%d legacy=%s\n", len(m.Tables), rows, m.Files, len(m.Tenants), pipelines.LegacyPath(wc.Root))
	for _, t := range slices.Sorted(maps.Keys(m.Tables)) {
		fmt.Fprintf(c.App.Writer, "table=%s rows=%d\n", t, m.Tables[t])
	}
	return nil
}

// warehouseMaintain is `seatlake warehouse maintain`: one line per table, then the totals.
func warehouseMaintain(c *cli.Context) error {
	wc, err := openWarehouse(c)
	if err != nil {
		return err
	}
	opts := pipelines.MaintainOptions{Retention: c.Duration("retention"), OrphanAge: c.Duration("orphan-age")}
	if opts.Retention <= 0 {
		return &exitError{code: exitUsage, err: fmt.Errorf("warehouse maintain: --retention %s: want a positive duration, e.g. 720h", opts.Retention)}
	}
	if opts.OrphanAge < time.Hour {
		return &exitError{code: exitUsage, err: fmt.Errorf("warehouse maintain: --orphan-age %s: want at least 1h, and longer than the longest run (a running run's files would be removed)", opts.OrphanAge)}
	}
	res, err := pipelines.MaintainWarehouse(c.Context, wc, opts)
	var total pipelines.TableMaintenance
	for _, tm := range res {
		fmt.Fprintf(c.App.Writer, "table=%s compacted_partitions=%d compacted_files=%d expired_snapshots=%d rewritten_manifests=%d added_manifests=%d orphan_files=%d orphan_bytes=%d read_tags=%d\n",
			tm.Table, tm.CompactedPartitions, tm.CompactedFiles, tm.ExpiredSnapshots, tm.RewrittenManifests, tm.AddedManifests, tm.OrphanFiles, tm.OrphanBytes, tm.TaggedSnapshots)
		total.CompactedPartitions += tm.CompactedPartitions
		total.CompactedFiles += tm.CompactedFiles
		total.ExpiredSnapshots += tm.ExpiredSnapshots
		total.RewrittenManifests += tm.RewrittenManifests
		total.OrphanFiles += tm.OrphanFiles
		total.OrphanBytes += tm.OrphanBytes
	}
	if err != nil {
		return &exitError{code: exitFailed, err: fmt.Errorf("warehouse maintain: %w", err)}
	}
	fmt.Fprintf(c.App.Writer, "maintained tables=%d compacted_partitions=%d compacted_files=%d expired_snapshots=%d rewritten_manifests=%d orphan_files=%d orphan_bytes=%d\n",
		len(res), total.CompactedPartitions, total.CompactedFiles, total.ExpiredSnapshots, total.RewrittenManifests, total.OrphanFiles, total.OrphanBytes)
	return nil
}

// exportWarehouse exports the views to dir and says so.
func exportWarehouse(c *cli.Context, wc pipelines.WarehouseConfig, dir string) error {
	if err := pipelines.ExportWarehouse(c.Context, wc, dir); err != nil {
		return &exitError{code: exitFailed, err: fmt.Errorf("exporting to %s: %w", dir, err)}
	}
	if !(c.Bool("quiet") && !c.Bool("verbose")) {
		fmt.Fprintf(c.App.Writer, "exported dir=%s tables=%d\n", dir, len(pipelines.Tables()))
	}
	return nil
}

func eventsDirFlag() cli.Flag {
	return &cli.StringFlag{Name: "events-dir", Usage: "the events receiver's own folder: its journal, callback secrets, set-aside lines and status (default: <warehouse>/_events); " +
		"a persistent volume in a pod, kept when the warehouse directory is not"}
}

// eventsDir is the events receiver's folder: --events-dir, else inside the warehouse directory.
func eventsDir(c *cli.Context) string {
	if d := c.String("events-dir"); d != "" {
		return d
	}
	return pipelines.EventsDir(c.String("warehouse"))
}

func shardFlag() cli.Flag {
	return &cli.StringFlag{Name: "shard", Usage: "run only the tenants of shard i of N (0 <= i < N, e.g. $(JOB_COMPLETION_INDEX)/8 in a Kubernetes Indexed Job): " +
		"each tenant falls in one shard by a hash of its tenant id, and stays there when tenants are added"}
}

// parseShard reads --shard i/N. The index may be JOB_COMPLETION_INDEX itself ($JOB_COMPLETION_INDEX/8,
// $(JOB_COMPLETION_INDEX)/8, ${JOB_COMPLETION_INDEX}/8), as a Kubernetes Indexed Job's pod has it when nothing
// expanded it.
func parseShard(v string, env func(string) string) (i, n int, err error) {
	bad := func(why string) (int, int, error) {
		return 0, 0, fmt.Errorf("--shard %q: %s; want i/N with 0 <= i < N, e.g. 0/8 or $(JOB_COMPLETION_INDEX)/8", v, why)
	}
	idx, total, ok := strings.Cut(strings.TrimSpace(v), "/")
	if !ok {
		return bad("no /")
	}
	switch idx {
	case "$JOB_COMPLETION_INDEX", "$(JOB_COMPLETION_INDEX)", "${JOB_COMPLETION_INDEX}":
		idx = env("JOB_COMPLETION_INDEX")
		if idx == "" {
			return bad("JOB_COMPLETION_INDEX is not set (it is, in the pods of an Indexed Job)")
		}
	}
	n, err = strconv.Atoi(total)
	if err != nil || n < 1 {
		return bad("N is not a number of shards")
	}
	i, err = strconv.Atoi(idx)
	if err != nil || i < 0 || i >= n {
		return bad(fmt.Sprintf("the index %q is not between 0 and %d", idx, n-1))
	}
	return i, n, nil
}
