package main

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/urfave/cli/v2"
	"golang.org/x/term"
	"gopkg.in/yaml.v3"

	"github.com/seatlake/seatlake/pipelines"
)

func asOfFlag() cli.Flag {
	return &cli.StringFlag{Name: "as-of", Usage: "compute the marts as of this day (YYYY-MM-DD; default today, UTC): the same data and day give the same answers", EnvVars: []string{"SEATLAKE_AS_OF"}}
}

// martRules are the license rules (the defaults, with the config file's rules section over them) and the --as-of
// day (zero: the run's own date).
func martRules(c *cli.Context, fc *fileConfig) (*pipelines.Rules, time.Time, error) {
	var section *yaml.Node
	dir := ""
	if fc != nil {
		section, dir = fc.rules, filepath.Dir(fc.path)
	}
	r, err := pipelines.LoadRules(section, dir)
	if err != nil { // only a rules section fails, so there is a config file
		return nil, time.Time{}, &exitError{code: exitUsage, err: fmt.Errorf("--config %s: %w", fc.path, err)}
	}
	var asOf time.Time
	if v := c.String("as-of"); v != "" {
		d, err := parseAsOf(v)
		if err != nil {
			return nil, time.Time{}, &exitError{code: exitUsage, err: err}
		}
		asOf = d
	}
	return r, asOf, nil
}

func warehouseFlag() cli.Flag {
	return &cli.StringFlag{Name: "warehouse", Aliases: []string{"w"}, Value: "./warehouse", Usage: "the local warehouse directory: seatlake.duckdb, the embedded catalog, caches and, without --storage, the tables", EnvVars: []string{"SEATLAKE_WAREHOUSE"}}
}

// tuningFlags are the flags of `seatlake run` that tune an extraction; `seatlake demo` reuses them (with the
// sources' own, sourceTuningFlags).
func tuningFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "parquet-compression", Value: pipelines.DefaultCodec, Usage: "Parquet codec: gzip (the default: as small as zstd, and read by every BI tool), snappy, zstd or none"},
		&cli.IntFlag{Name: "batch-rows", Value: pipelines.DefaultBatchRows, Usage: "rows per Arrow record batch: memory is bounded by this, not by the tenant's size"},
		&cli.DurationFlag{Name: "request-timeout", Value: 100 * time.Second, Usage: "timeout of one HTTP request, body included"},
		&cli.IntFlag{Name: "max-attempts", Value: 8, Usage: "attempts per request on 429/5xx/network errors before the request is given up"},
		&cli.DurationFlag{Name: "max-retry-wait", Value: 10 * time.Minute, Usage: "total time one request may spend waiting on Retry-After and backoff"},
		&cli.StringFlag{Name: "progress", Value: "auto", Usage: "progress lines on stderr: auto (only on a terminal), always or never"},
		&cli.DurationFlag{Name: "heartbeat", Value: 30 * time.Second, Usage: "without a terminal, log a progress line this often"},
		&cli.StringFlag{Name: "memory-limit", Value: "auto", Usage: "Go soft memory limit, e.g. 512MiB; auto: 96 MiB + 4 KiB per --batch-rows row (GOMEMLIMIT wins when set)"},
		&cli.BoolFlag{Name: "quiet", Aliases: []string{"q"}, Usage: "for cron: nothing on stdout or stderr when the run succeeds, except a warning that is new since the last run; failures are always reported"},
		&cli.BoolFlag{Name: "verbose", Usage: "with --quiet: log every warning and the heartbeat as they happen, not only the new ones"},
		&cli.StringFlag{Name: "result-json", Usage: "write the result as JSON, one object per tenant and line (run id, tenant, status, exit code, duration, rows per table, warnings, missing, error), to this file or - for stdout"},
	}
}

// runFlags are the flags of `seatlake run`, shared by `seatlake check`.
func runFlags() []cli.Flag {
	flags := []cli.Flag{
		configFlag(),
		&cli.StringFlag{Name: "tenant-id", Usage: "Entra tenant id (GUID or domain), without a config file's tenants list", EnvVars: []string{"AZURE_TENANT_ID"}},
		&cli.StringFlag{Name: "client-id", Usage: "application (client) id of the app registration", EnvVars: []string{"AZURE_CLIENT_ID"}},
		&cli.StringFlag{Name: "client-certificate-file", Usage: "authenticate with this certificate and its private key (PEM or PKCS#12) instead of a secret; its password in $AZURE_CLIENT_CERTIFICATE_PASSWORD", EnvVars: []string{"AZURE_CLIENT_CERTIFICATE_PATH"}},
		&cli.BoolFlag{Name: "managed-identity", Usage: "get tokens from this Azure host's managed identity (a VM, App Service, Functions, Container Apps, Arc); --client-id picks a user-assigned one", EnvVars: []string{"SEATLAKE_MANAGED_IDENTITY"}},
		&cli.StringFlag{Name: "federated-token-file", Usage: "authenticate with the federated token in this file (workload identity federation: Kubernetes, GitHub Actions), read at every token request", EnvVars: []string{"AZURE_FEDERATED_TOKEN_FILE"}},
		&cli.StringFlag{Name: "client-secret-file", Usage: "read the client secret from this file instead of $AZURE_CLIENT_SECRET (there is no flag for the secret's value)", EnvVars: []string{"AZURE_CLIENT_SECRET_FILE"}},
		&cli.StringFlag{Name: "authority-host", Value: "https://login.microsoftonline.com", Usage: "Microsoft identity platform host (national clouds, testing); http:// only for loopback", EnvVars: []string{"SEATLAKE_AUTHORITY_HOST"}},
		&cli.StringSliceFlag{Name: "allow-authority-host", Usage: "an identity platform host beyond Microsoft's documented ones (login.microsoftonline.com, .us, chinacloudapi.cn) that may receive the client secret; repeatable; logged when used"},
		&cli.StringFlag{Name: "graph-endpoint", Value: "https://graph.microsoft.com", Usage: "Microsoft Graph endpoint (national clouds, testing); http:// only for loopback", EnvVars: []string{"SEATLAKE_GRAPH_ENDPOINT"}},
		tenantFlag(),
		&cli.IntFlag{Name: "parallel-tenants", Value: 2, Usage: "tenants run at once"},
		asOfFlag(),
		warehouseFlag(),
		catalogFlag(),
		storageFlag(),
	}
	flags = append(flags, tuningFlags()...)
	flags = append(flags, sourceFlags()...)
	return append(flags, logFlags()...)
}

func runCommand() *cli.Command {
	flags := append(runFlags(), thenSyncFlag(), shardFlag(),
		&cli.StringFlag{Name: "export", Usage: "after the run, write the views' current state as plain Hive-partitioned Parquet into this folder (as `seatlake warehouse export --to`)"})
	var fc *fileConfig
	return &cli.Command{
		Name:   "run",
		Before: loadConfigFile(&fc),
		Usage:  "run the nightly extraction into the warehouse",
		Description: "Pages Microsoft Graph (users, licenses, subscribed SKUs, sign-ins, report settings), each Dataverse environment\n" +
			"(users, audit settings, user-driven audit records) and each F&O environment (users, security roles, role\n" +
			"assignments) into the warehouse's Iceberg tables, commits each tenant atomically with its watermarks, computes the\n" +
			"marts (identities, user activity, license usage with reclaim and downgrade candidates, the license position per SKU\n" +
			"and F&O license, findings), rebuilds the DuckDB views and prints a summary per tenant; --then-sync pushes the result\n" +
			"to JSM Assets or ServiceNow.\n" +
			"One tenant: AZURE_TENANT_ID, AZURE_CLIENT_ID and AZURE_CLIENT_SECRET (or --client-secret-file), --dataverse-url\n" +
			"and --finops-url. Many: a config file with a tenants list (seatlake.example.yaml); --tenant NAME picks some (repeatable\n" +
			"or a comma list). A tenant whose credential cannot be read (e.g. a secret file readable by others) is recorded as\n" +
			"failed, naming the fix, and the others run; one not picked is only warned of.\n" +
			"Exit codes: 0 succeeded, 1 failed (nothing committed), 2 usage error, 3 incomplete (committed with gaps);\n" +
			"with several tenants, the worst of them (2 over 1 over 3).",
		Flags:  flags,
		Action: func(c *cli.Context) error { return runNightly(c, fc) },
	}
}

// runNightly is `seatlake run`: the tenants of the flags or the config file (those of --shard), run and reported,
// then --export and --then-sync.
func runNightly(c *cli.Context, fc *fileConfig) error {
	log, err := newLogger(c)
	if err != nil {
		return err
	}
	shard := c.String("shard")
	var i, n int
	if shard != "" {
		if i, n, err = parseShard(shard, os.Getenv); err != nil {
			return &exitError{code: exitUsage, err: err}
		}
	}
	cfgs, err := runConfigs(c, fc, log)
	if err != nil {
		return err
	}
	if shard != "" {
		cfgs = pipelines.Shard(cfgs, i, n)
		// Printed even with --quiet: in a pod's log it says which tenants the pod had.
		fmt.Fprintf(c.App.Writer, "shard=%d/%d tenants=%d\n", i, n, len(cfgs))
		if len(cfgs) == 0 {
			return nil
		}
	}
	res, err := runAndReport(c, cfgs)
	if werr := exportAfterRun(c, res, log); werr != nil && err == nil {
		return werr
	}
	if err != nil {
		return err
	}
	return thenSync(c, fc, cfgs)
}

// runConfigs are the tenants' run configurations from the flags and the config file, with --then-sync checked.
func runConfigs(c *cli.Context, fc *fileConfig, log *slog.Logger) ([]pipelines.Config, error) {
	base := pipelines.Config{Warehouse: c.String("warehouse"), Logger: log}
	if err := applyTuning(c, &base); err != nil {
		return nil, err
	}
	var err error
	if base.Rules, base.AsOf, err = martRules(c, fc); err != nil {
		return nil, err
	}
	base.Quiet = c.Bool("quiet") && !c.Bool("verbose")
	warn := log
	if base.Quiet {
		warn = slog.New(slog.DiscardHandler) // quiet: a tenant not picked is no news tonight
	}
	cfgs, err := tenantConfigs(c, fc, base, false, warn)
	if err != nil {
		return nil, &exitError{code: exitUsage, err: err}
	}
	if err := checkThenSync(c, fc); err != nil {
		return nil, err
	}
	return cfgs, nil
}

// exportAfterRun is --export: the views exported when a tenant of the run committed.
func exportAfterRun(c *cli.Context, res []pipelines.TenantResult, log *slog.Logger) error {
	dir := c.String("export")
	if dir == "" || !committed(res) {
		return nil
	}
	wc, err := warehouseConfig(c, log)
	if err != nil {
		return err
	}
	return exportWarehouse(c, wc, dir)
}

func applyTuning(c *cli.Context, cfg *pipelines.Config) error {
	cfg.BatchRows = c.Int("batch-rows")
	cfg.ParquetCompression = c.String("parquet-compression") // empty on a command without it: the default
	if err := pipelines.CheckCodec(cmp.Or(cfg.ParquetCompression, pipelines.DefaultCodec)); err != nil {
		return &exitError{code: exitUsage, err: fmt.Errorf("--parquet-compression: %w", err)}
	}
	cfg.RequestTimeout = c.Duration("request-timeout")
	cfg.Retry.MaxAttempts, cfg.Retry.MaxTotalWait = c.Int("max-attempts"), c.Duration("max-retry-wait")
	cfg.Heartbeat = c.Duration("heartbeat")
	cfg.Sources = sourceValues(c)
	if err := pipelines.CheckSourceValues(cfg.Sources); err != nil {
		return &exitError{code: exitUsage, err: err}
	}
	if err := setMemoryLimit(c.String("memory-limit"), cfg.BatchRows); err != nil {
		return &exitError{code: exitUsage, err: err}
	}
	switch c.String("progress") {
	case "auto":
		if f, ok := c.App.ErrWriter.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
			cfg.Progress = f
		}
	case "always":
		cfg.Progress = c.App.ErrWriter
	case "never", "": // empty: a command without --progress
	default:
		return &exitError{code: exitUsage, err: fmt.Errorf("--progress %q: want auto, always or never", c.String("progress"))}
	}
	return nil
}

// runAndReport runs and reports: each tenant's summary on stdout (unless --quiet and it succeeded), the cause on
// stderr via main, and each tenant's result. The exit code is the worst of the tenants': failed over incomplete
// over succeeded.
func runAndReport(c *cli.Context, cfgs []pipelines.Config) ([]pipelines.TenantResult, error) {
	res, err := pipelines.RunTenants(c.Context, cfgs, c.Int("parallel-tenants"))
	if err != nil {
		if errors.Is(err, pipelines.ErrInvalidConfig) {
			return nil, &exitError{code: exitUsage, err: err}
		}
		return nil, &exitError{code: exitFailed, err: fmt.Errorf("run failed: %w", err)}
	}
	return res, reportRuns(c, res)
}

// reportRuns writes --result-json and prints each tenant's summary (unless --quiet and it succeeded; quiet, only
// its warnings new since the last run, on stderr), and returns the worst of the tenants' errors with its exit code.
func reportRuns(c *cli.Context, res []pipelines.TenantResult) error {
	if err := writeResults(c, res); err != nil {
		return &exitError{code: exitFailed, err: err}
	}
	var worst *exitError
	// The worst of the tenants': a configuration to fix (2) over a failure (1) over an incomplete run (3).
	rank := map[int]int{exitUsage: 3, exitFailed: 2, exitIncomplete: 1}
	for i, r := range res {
		printRun(c, i, r)
		if r.Err == nil {
			continue
		}
		e := &exitError{code: runExitCode(r.Err), err: r.Err}
		if e.code == exitFailed {
			e.err = fmt.Errorf("run failed: %w", r.Err)
		}
		if len(res) > 1 {
			e.err = fmt.Errorf("tenant %s: %w", r.Name, e.err)
		}
		if worst == nil || rank[e.code] > rank[worst.code] {
			worst = e
		}
	}
	if worst == nil {
		return nil
	}
	return worst
}

// printRun prints the i-th tenant's summary, unless --quiet and it succeeded: then only what is new since the
// last night is worth a cron mail.
func printRun(c *cli.Context, i int, r pipelines.TenantResult) {
	if r.Summary == nil {
		return
	}
	if r.Err != nil || !c.Bool("quiet") {
		if i > 0 {
			fmt.Fprintln(c.App.Writer)
		}
		r.Summary.Print(c.App.Writer)
	}
	if r.Err == nil && c.Bool("quiet") && !c.Bool("verbose") {
		for _, w := range r.Summary.NewWarnings {
			fmt.Fprintf(c.App.ErrWriter, "seatlake: tenant %s: new since the last run: %s\n", cmp.Or(r.Name, r.Summary.TenantID), w)
		}
	}
}

// runExitCode is the exit code of a tenant's run error: 2 for a configuration to fix, 3 for an incomplete run,
// else 1.
func runExitCode(err error) int {
	switch {
	case errors.Is(err, pipelines.ErrInvalidConfig):
		return exitUsage
	case errors.Is(err, pipelines.ErrIncomplete):
		return exitIncomplete
	}
	return exitFailed
}

// committed reports whether a tenant of the run committed (succeeded, or incomplete): then an export has news.
func committed(res []pipelines.TenantResult) bool {
	for _, r := range res {
		if r.Err == nil || errors.Is(r.Err, pipelines.ErrIncomplete) {
			return true
		}
	}
	return false
}

// setMemoryLimit sets Go's soft memory limit. What a run holds at once is bounded by the batch size (a few batches
// per stream and table); without a limit the garbage collector lets the heap drift to twice that and the process's
// resident memory creeps up over a long run. With it, memory stays flat whatever the tenant's size.
func setMemoryLimit(v string, batchRows int) error {
	if os.Getenv("GOMEMLIMIT") != "" {
		return nil
	}
	var limit int64
	switch {
	case v == "auto" || v == "":
		if batchRows <= 0 {
			batchRows = pipelines.DefaultBatchRows
		}
		limit = 96<<20 + int64(batchRows)*4<<10
	default:
		n, err := parseBytes(v)
		if err != nil {
			return fmt.Errorf("--memory-limit %q: %w", v, err)
		}
		limit = n
	}
	debug.SetMemoryLimit(limit)
	return nil
}

func parseBytes(v string) (int64, error) {
	units := []struct {
		suffix string
		mult   int64
	}{{"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}, {"B", 1}}
	for _, u := range units {
		if num, ok := strings.CutSuffix(v, u.suffix); ok {
			n, err := strconv.ParseInt(strings.TrimSpace(num), 10, 64)
			if err != nil || n <= 0 {
				return 0, errors.New(sizeForms)
			}
			return n * u.mult, nil
		}
	}
	return 0, errors.New(sizeForms)
}

// runResult is one line of --result-json: what a scheduler or a monitoring check needs, without parsing text.
type runResult struct {
	RunID           string                           `json:"run_id"`
	Tenant          string                           `json:"tenant,omitempty"`
	TenantID        string                           `json:"tenant_id"`
	Status          string                           `json:"status"`
	ExitCode        int                              `json:"exit_code"`
	StartedAt       time.Time                        `json:"started_at"`
	EndedAt         time.Time                        `json:"ended_at"`
	DurationSeconds float64                          `json:"duration_seconds"`
	Tables          map[string]int64                 `json:"tables"`
	Streams         map[string]pipelines.StreamStats `json:"streams,omitempty"`
	Warnings        []string                         `json:"warnings"`
	NewWarnings     []string                         `json:"new_warnings"`
	Missing         []string                         `json:"missing"`
	Error           string                           `json:"error,omitempty"`
}

// writeResults writes --result-json: to stdout with -, else to the file, replaced whole (temporary name, rename).
func writeResults(c *cli.Context, res []pipelines.TenantResult) error {
	path := c.String("result-json")
	if path == "" {
		return nil
	}
	var b strings.Builder
	enc := json.NewEncoder(&b)
	for _, r := range res {
		if r.Summary == nil {
			continue
		}
		s := r.Summary
		code := 0
		if r.Err != nil {
			code = runExitCode(r.Err)
		}
		out := runResult{RunID: s.RunID, Tenant: r.Name, TenantID: s.TenantID, Status: s.Status, ExitCode: code,
			StartedAt: s.StartedAt, EndedAt: s.EndedAt, Tables: s.Tables, Streams: s.Streams,
			Warnings: append([]string{}, s.Warnings...), NewWarnings: append([]string{}, s.NewWarnings...),
			Missing: append([]string{}, s.Missing...), Error: s.Error}
		if !s.EndedAt.Before(s.StartedAt) {
			out.DurationSeconds = s.EndedAt.Sub(s.StartedAt).Seconds()
		}
		if r.Err != nil && out.Error == "" {
			out.Error = r.Err.Error()
		}
		if err := enc.Encode(out); err != nil {
			return err
		}
	}
	if path == "-" {
		_, err := io.WriteString(c.App.Writer, b.String())
		return err
	}
	if err := pipelines.WriteFileAtomic(path, []byte(b.String())); err != nil {
		return fmt.Errorf("--result-json: %w", err)
	}
	return nil
}

func thenSyncFlag() cli.Flag {
	return &cli.StringSliceFlag{Name: "then-sync",
		Usage: "after a successful run, sync into this asset system (" + strings.Join(pipelines.TargetNames(), " or ") + ") with its settings from the config file's sync section and the environment; repeatable"}
}

// checkThenSync checks the --then-sync targets before anything runs: each is a registered target whose settings
// (the config file's sync section and the environment) it takes, for the config file's tenants (no two of them
// into one Assets import source).
func checkThenSync(c *cli.Context, fc *fileConfig) error {
	for _, target := range c.StringSlice("then-sync") {
		if !slices.Contains(pipelines.TargetNames(), target) {
			return &exitError{code: exitUsage, err: fmt.Errorf("then-sync %q: want %s", target, strings.Join(pipelines.TargetNames(), " or "))}
		}
		if _, err := sectionTarget(target, fc, nil, false, nil); err != nil {
			return err
		}
	}
	return nil
}

// thenSync syncs into each --then-sync target after a successful run, over the tenants just run, with their
// settings from the config file's sync section and the environment, as `seatlake sync TARGET` reads them with no
// flag. Quiet, a sync that succeeds prints nothing and logs only errors; one that fails is the command's error.
func thenSync(c *cli.Context, fc *fileConfig, cfgs []pipelines.Config) error {
	targets := c.StringSlice("then-sync")
	if len(targets) == 0 {
		return nil
	}
	level, out := c.String("log-level"), c.App.Writer
	if c.Bool("quiet") && !c.Bool("verbose") {
		level, out = "error", io.Discard
	}
	log, err := loggerAt(c, level)
	if err != nil {
		return err
	}
	var syncs []pipelines.TargetSync
	for _, target := range targets {
		cfg, err := thenSyncConfig(c, fc, target, cfgs, log)
		if err != nil {
			return err
		}
		syncs = append(syncs, pipelines.TargetSync{Target: target, Config: cfg})
	}
	return syncError(pipelines.RunThenSync(c.Context, syncs, out))
}

// thenSyncConfig is one --then-sync target's sync of the tenants just run, configured as `seatlake sync TARGET`
// configures it from the config file and the environment.
func thenSyncConfig(c *cli.Context, fc *fileConfig, target string, cfgs []pipelines.Config, log *slog.Logger) (pipelines.SyncConfig, error) {
	var section *yaml.Node
	if fc != nil {
		section = fc.sync[target]
	}
	get, err := sectionSetting(target, section)
	if err != nil {
		return pipelines.SyncConfig{}, &exitError{code: exitUsage, err: err}
	}
	yes := func(name string) bool { b, _ := strconv.ParseBool(get(name)); return b }
	known, err := knownTenants(c, fc, c.String("warehouse"))
	if err != nil {
		return pipelines.SyncConfig{}, &exitError{code: exitUsage, err: fmt.Errorf("sync %s: %w", target, err)}
	}
	cfg := pipelines.SyncConfig{Warehouse: c.String("warehouse"), Names: tenantNames(known), DryRun: yes("dry-run"), AllowPartial: yes("allow-partial"), Logger: log}
	for _, t := range cfgs {
		cfg.Tenants = append(cfg.Tenants, t.TenantID)
	}
	if cfg.Target, err = sectionTarget(target, fc, known, !cfg.DryRun, log); err != nil {
		return pipelines.SyncConfig{}, err
	}
	return cfg, nil
}
