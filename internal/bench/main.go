// Command bench is `make bench`: seatlake's performance, measured the way a user would see it.
//
//  1. End to end: the simulator in its own process serves a tenant with 1,000,000 sign-ins (throttling off); the
//     seatlake binary runs against it into a fresh warehouse. Reported: sign-in rows/s, the seatlake process's CPU
//     seconds and peak RSS.
//  2. The conversion stage against DuckDB: the same sign-in pages saved as JSON files are turned into Parquet (a) by
//     seatlake's production path (graph.Extractor.SignIns -> pipelines.Queue -> warehouse writer, fed from files
//     instead of HTTP) and (b) by DuckDB's COPY over read_json, with defaults and with preserve_insertion_order=false.
//  3. Flat memory: the end-to-end run again at 10,000,000 sign-ins; peak RSS compared with the 1M run.
//  4. Dataverse audits end to end: one Dataverse environment with 1,000,000 user-driven audit records (throttling
//     off, the same 20,000 users, few sign-ins); audit rows/s, CPU s, peak RSS; and again at 10,000,000 for flat
//     memory.
//  5. Extraction at the speed the services allow: a Graph + Dataverse run (2,000 users, 30 days) against scaled
//     service limits with 100 ms pages; limit_efficiency = wall time / the least time the simulated limits allow
//     for the requests that succeeded (Graph's reporting window, Dataverse's request and concurrency limits).
//  6. The marts: a tenant of 100,000 users, 10,000,000 sign-ins, 1,000,000 Dataverse audit records and one F&O
//     environment is run into a warehouse; then `seatlake marts` alone recomputes every mart from the committed
//     Parquet. Reported: its wall time and peak RSS.
//  7. Business events: `seatlake events serve` in its own process takes 20,000 distinct events from 32 concurrent
//     clients, once with an fsync per event and once with group commit; each 2xx means the event is on disk.
//     Reported: events acknowledged a second and the acknowledgement latency (p50, p99).
//  8. Commits under contention (commits.go): 1, 8 and 24 concurrent jobs commit small snapshot-table transactions
//     into one Iceberg table on a private PostgreSQL (the SQL catalog) and Azurite (abfss:// storage). Reported:
//     commits a second, retries per commit, the Commit p99 and the transactions that gave up. Skipped, saying why,
//     when PostgreSQL or Azurite is not on the machine.
//  9. The syncs (sync.go): a tenant of -sync-people users (the marts run's warehouse when -marts-users is the same)
//     is synced by `seatlake sync servicenow` and `seatlake sync jsm-assets` into the emulators, which run in the
//     bench's process behind a timer, each twice (the second changes nothing). Reported: wall time, the sync's peak
//     RSS, and the time the emulator was busy and its CPU seconds.
//
// The last line is machine-readable:
//
//	bench: rows_per_s=… ratio_vs_duckdb=… peak_rss_mib=… rss_growth_10m=… audits_rows_per_s=… audits_peak_rss_mib=…
//	audits_rss_growth_10m=… limit_efficiency=… limit_throttled_pct=… marts_s=… marts_peak_rss_mib=…
//	events_fsync_per_s=… events_fsync_p99_ms=… events_group_per_s=… events_group_p99_ms=… parquet_<codec>_mib=…
//	parquet_<codec>_s=… commits_per_s_<jobs>=… commit_retries_per_commit_<jobs>=… commit_p99_ms_<jobs>=…
//	commit_gave_up_<jobs>=… sync_servicenow_s=… sync_jsm_s=… sync_peak_rss_mib=…
//
// -only-events, -only-commits, -only-sync, -only-marts, -only-convert (2 and 2b), -only-limits, -only-audits and -only-e2e
// run one section alone (-only-marts with -marts-warehouse W measures `seatlake marts` on W, landed before, and lands
// nothing); -only-e2e measures any seatlake binary (-bin)
// and counts rows with its own query command, to compare builds of two commits.
package main

import (
	"bufio"
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/pprof"
	"sort"
	"strings"
	"time"

	_ "github.com/duckdb/duckdb-go/v2"

	"github.com/seatlake/seatlake/extract/graph"
	"github.com/seatlake/seatlake/extract/msauth"
	"github.com/seatlake/seatlake/extract/odata"
	"github.com/seatlake/seatlake/extract/pages"
	"github.com/seatlake/seatlake/load/catalog"
	"github.com/seatlake/seatlake/load/warehouse"
	"github.com/seatlake/seatlake/pipelines"
)

func main() {
	bin := flag.String("bin", "bin/seatlake", "the seatlake binary to measure")
	users := flag.Int("users", 20000, "users in the simulated tenant")
	small := flag.Int64("signins", 1_000_000, "sign-ins for the end-to-end and conversion runs")
	large := flag.Int64("signins-large", 10_000_000, "sign-ins for the memory-growth run (0 skips it)")
	audits := flag.Int64("audits", 1_000_000, "Dataverse audit records for the audits run (0 skips the audits runs)")
	auditsLarge := flag.Int64("audits-large", 10_000_000, "audit records for the audits memory-growth run (0 skips it)")
	martsUsers := flag.Int("marts-users", 100_000, "users of the marts run's tenant (0 skips the marts run)")
	work := flag.String("dir", "", "working directory (default: a temporary one, removed afterwards)")
	profile := flag.String("cpuprofile", "", "write a CPU profile of seatlake's conversion stage to this file")
	onlyEvents := flag.Bool("only-events", false, "run section 7 (business events) alone")
	onlyCommits := flag.Bool("only-commits", false, "run section 8 (commits into one Iceberg table under contention) alone")
	perJob := flag.Int("commits-per-job", 20, "transactions each concurrent job commits in section 8")
	commitJobs := flag.String("commit-jobs", "1,8,24", "the numbers of concurrent jobs section 8 measures")
	commitTime := flag.Duration("commit-time", 3*time.Minute, "section 8: no job starts a transaction past this time of its level")
	stateOnly := flag.Bool("commit-state-only", false, "section 8's transactions carry only a watermark: the commit log's commit alone")
	syncPeople := flag.Int("sync-people", 100_000, "people of the syncs' tenant (section 9; 0 skips it)")
	onlySync := flag.Bool("only-sync", false, "run section 9 (sync servicenow and sync jsm-assets against the emulators) alone")
	syncProfile := flag.String("sync-cpuprofile", "", "section 9: also run each sync inside the bench under a CPU profile, written to <this>-<target>.prof")
	onlyMarts := flag.Bool("only-marts", false, "run section 6 (the marts: a tenant of -marts-users users landed, then `seatlake marts` alone) alone")
	martsWarehouse := flag.String("marts-warehouse", "", "section 6: measure `seatlake marts` on this warehouse, already landed (by an earlier -only-marts -dir D: D/marts), instead of landing one")
	level := flag.Int("compression-level", 0, "sections 2 and 2b: the Parquet codec's level (0: the warehouse's default)")
	codecList := flag.String("codecs", "snappy,zstd,gzip,none", "the codecs section 2b writes the sign-ins with (empty: skip 2b)")
	onlyConvert := flag.Bool("only-convert", false, "run sections 2 and 2b (conversion against DuckDB, the codecs) alone, on -signins "+
		"sign-ins saved under -dir's pages folder (saved from the simulator when not there)")
	onlyLimits := flag.Bool("only-limits", false, "run section 5 (Graph + Dataverse against the scaled service limits) alone")
	onlyAudits := flag.Bool("only-audits", false, "run section 4 (Dataverse audits end to end, -audits and -audits-large) alone")
	onlyE2E := flag.Bool("only-e2e", false, "run section 1 (end to end, -signins) alone, counting rows with the measured binary: "+
		"for comparing binaries built from different commits")
	flag.Parse()
	cpuProfile = *profile
	compressionLevel = *level
	codecs = strings.FieldsFunc(*codecList, func(r rune) bool { return r == ',' })
	levels, err := parseLevels(*commitJobs)
	if err != nil {
		fmt.Fprintf(os.Stderr, "bench: %v\n", err)
		os.Exit(2)
	}
	// The binary by its absolute path, the sections' processes started from any directory.
	abs, err := filepath.Abs(*bin)
	dir, cleanup := "", func() {}
	if err == nil {
		dir, cleanup, err = workDir(*work)
	}
	if err == nil {
		ctx := context.Background()
		switch {
		case *onlyConvert:
			err = runConvert(ctx, abs, *users, *small, dir)
		case *onlyE2E:
			err = runE2E(ctx, abs, *users, *small, dir)
		case *onlyMarts:
			err = runMarts(ctx, abs, *martsUsers, dir, *martsWarehouse)
		case *onlyCommits:
			err = runCommits(ctx, dir, levels, *perJob, *commitTime, *stateOnly)
		case *onlySync:
			err = runSync(ctx, abs, *syncPeople, dir, *syncProfile)
		case *onlyEvents:
			err = runEvents(ctx, abs, dir)
		case *onlyLimits:
			err = runLimits(ctx, abs, dir)
		case *onlyAudits:
			err = runAudits(ctx, abs, *users, *audits, *auditsLarge, dir)
		default:
			err = run(ctx, abs, *users, *small, *large, *audits, *auditsLarge, *martsUsers, levels, *perJob, *commitTime, *syncPeople, *syncProfile, dir)
		}
		cleanup()
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "bench: %v\n", err)
		os.Exit(1)
	}
}

// workDir is -dir, or a temporary directory that cleanup removes.
func workDir(dir string) (string, func(), error) {
	if dir != "" {
		return dir, func() {}, nil
	}
	d, err := os.MkdirTemp("", "seatlake-bench-")
	if err != nil {
		return "", nil, err
	}
	return d, func() { os.RemoveAll(d) }, nil
}

var (
	cpuProfile string
	codecs     []string // section 2b's
	// compressionLevel is the codec level of sections 2 and 2b (0: the warehouse's default).
	compressionLevel int
)

// run is every section; bin is the binary's absolute path, dir the working directory.
func run(ctx context.Context, bin string, users int, small, large, audits, auditsLarge int64, martsUsers int, levels []int, perJob int, commitTime time.Duration, syncPeople int, syncProfile, dir string) error {
	fmt.Printf("== 1. end to end: %d sign-ins, %d users, simulator in its own process, throttling off\n", small, users)
	e2e, err := endToEnd(ctx, bin, signInSpec(users, small), filepath.Join(dir, "e2e-1m"), filepath.Join(dir, "pages"))
	if err != nil {
		return err
	}
	fmt.Printf("seatlake run: %.2f s wall, %.0f sign-in rows/s, %.2f CPU s, peak RSS %.0f MiB\n",
		e2e.wall.Seconds(), float64(e2e.rows)/e2e.wall.Seconds(), e2e.cpu.Seconds(), e2e.rssMiB)

	ratio, codecLine, err := convertSection(ctx, filepath.Join(dir, "pages"), dir, e2e.rows)
	if err != nil {
		return err
	}

	growth := 0.0
	if large > 0 {
		fmt.Printf("\n== 3. memory: end to end again at %d sign-ins\n", large)
		big, err := endToEnd(ctx, bin, signInSpec(users, large), filepath.Join(dir, "e2e-10m"), "")
		if err != nil {
			return err
		}
		growth = big.rssMiB / e2e.rssMiB
		fmt.Printf("seatlake run: %.2f s wall, %.0f sign-in rows/s, %.2f CPU s, peak RSS %.0f MiB (%.2fx the 1M run)\n",
			big.wall.Seconds(), float64(big.rows)/big.wall.Seconds(), big.cpu.Seconds(), big.rssMiB, growth)
	}

	var aud e2eResult
	auditsGrowth := 0.0
	if audits > 0 {
		if aud, auditsGrowth, err = auditsSection(ctx, bin, users, audits, auditsLarge, dir); err != nil {
			return err
		}
	}

	eff, err := limitsSection(ctx, bin, dir)
	if err != nil {
		return err
	}

	var marts martsResult
	if martsUsers > 0 {
		fmt.Printf("\n== 6. the marts: %d users, 10,000,000 sign-ins, 1,000,000 audit records, one F&O environment\n", martsUsers)
		if marts, err = martsRun(ctx, bin, martsUsers, filepath.Join(dir, "marts")); err != nil {
			return err
		}
		fmt.Printf("seatlake marts: %.2f s wall, %.2f CPU s, peak RSS %.0f MiB, %d license_usage rows (the run before it: %.2f s)\n",
			marts.wall.Seconds(), marts.cpu.Seconds(), marts.rssMiB, marts.rows, marts.runWall.Seconds())
	}

	evs, err := eventsSection(ctx, bin, dir)
	if err != nil {
		return err
	}

	commits, err := commitsSection(ctx, dir, levels, perJob, commitTime, false)
	if err != nil {
		return err
	}

	var syncs syncSectionResult
	if syncPeople > 0 {
		// The marts run's tenant when it has the size asked for; else one landed for the syncs.
		whDir := filepath.Join(dir, "marts")
		if martsUsers != syncPeople {
			whDir = filepath.Join(dir, fmt.Sprintf("sync-%d", syncPeople))
		}
		fmt.Printf("\n== 9. the syncs: %d people, emulators in the bench's process\n", syncPeople)
		if syncs, err = syncSection(ctx, bin, syncPeople, whDir, syncProfile); err != nil {
			return err
		}
	}
	syncSN, syncJSM, syncRSS := syncs.worst()

	fmt.Printf("bench: rows_per_s=%.0f ratio_vs_duckdb=%.2f peak_rss_mib=%.0f rss_growth_10m=%.2f audits_rows_per_s=%.0f audits_peak_rss_mib=%.0f audits_rss_growth_10m=%.2f limit_efficiency=%.2f limit_throttled_pct=%.1f marts_s=%.1f marts_peak_rss_mib=%.0f events_fsync_per_s=%.0f events_fsync_p99_ms=%.2f events_group_per_s=%.0f events_group_p99_ms=%.2f"+codecLine+commitsKeys(levels, commits)+" sync_servicenow_s=%.1f sync_jsm_s=%.1f sync_peak_rss_mib=%.0f\n",
		float64(e2e.rows)/e2e.wall.Seconds(), ratio, e2e.rssMiB, growth, perSecond(aud), aud.rssMiB, auditsGrowth,
		eff.wall.Seconds()/eff.minimum.Seconds(), 100*float64(eff.throttled)/float64(max(eff.requests, 1)),
		marts.wall.Seconds(), marts.rssMiB, evs[false].perSecond, ms(evs[false].p99), evs[true].perSecond, ms(evs[true].p99),
		syncSN.Seconds(), syncJSM.Seconds(), syncRSS)
	return nil
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func perSecond(r e2eResult) float64 {
	if r.wall <= 0 {
		return 0
	}
	return float64(r.rows) / r.wall.Seconds()
}

// e2eSpec is one end-to-end measurement: what the simulator serves, what the run reads, which rows it counts.
type e2eSpec struct {
	simArgs  []string
	dv, fo   int      // environments the simulator serves (each prints a line)
	runEnv   []string // environment variable names set to the simulator's Dynamics URLs, e.g. SEATLAKE_DATAVERSE_URL
	countSQL string   // the rows measured
}

func signInSpec(users int, signIns int64) e2eSpec {
	return e2eSpec{
		simArgs:  []string{"--users", fmt.Sprint(users), "--days", "30", "--signins", fmt.Sprint(signIns), "--dataverse-envs", "0", "--finops-envs", "0"},
		countSQL: "SELECT count(*) FROM graph_signins",
	}
}

func auditSpec(users int, audits int64) e2eSpec {
	return e2eSpec{
		simArgs: []string{"--users", fmt.Sprint(users), "--days", "30", "--signins", "1000", "--dataverse-envs", "1", "--finops-envs", "0",
			"--audits-per-env", fmt.Sprint(audits)},
		dv: 1, runEnv: []string{"SEATLAKE_DATAVERSE_URL"},
		countSQL: "SELECT count(*) FROM dataverse_audits",
	}
}

type e2eResult struct {
	wall, cpu time.Duration
	rssMiB    float64
	rows      int64
}

// endToEnd starts `seatlake sim` and runs `seatlake run` against it. With pagesDir set it also saves the sign-in
// pages the simulator serves, for the conversion stage.
func endToEnd(ctx context.Context, bin string, spec e2eSpec, warehouseDir, pagesDir string) (e2eResult, error) {
	creds, stop, err := startSim(ctx, bin, append(spec.simArgs, "--throttle", "off"), spec.dv+spec.fo)
	if err != nil {
		return e2eResult{}, err
	}
	defer stop()

	if pagesDir != "" {
		if err := savePages(ctx, creds, pagesDir); err != nil {
			return e2eResult{}, err
		}
	}
	run := runCommand(ctx, bin, creds, spec.runEnv, warehouseDir)
	start := time.Now()
	if err := run.Start(); err != nil {
		return e2eResult{}, fmt.Errorf("seatlake run: %w", err)
	}
	// Peak RSS is read from /proc/<pid>/status (VmHWM) while the run lives. The rusage of the finished child would
	// be wrong here: Go starts children with vfork, and at exec Linux records the parent's peak RSS as the child's,
	// so the bench process's own memory (DuckDB's COPY) would be reported as seatlake's.
	peak := make(chan int64, 1)
	go func() { peak <- watchPeakRSS(run.Process.Pid) }()
	err = run.Wait()
	wall := time.Since(start)
	if err != nil {
		return e2eResult{}, fmt.Errorf("seatlake run: %w", err)
	}
	res := e2eResult{
		wall:   wall,
		cpu:    run.ProcessState.UserTime() + run.ProcessState.SystemTime(),
		rssMiB: float64(<-peak) / 1024,
	}
	n, err := countWithBinary(ctx, bin, warehouseDir, spec.countSQL)
	if err != nil {
		return res, err
	}
	res.rows = n
	return res, nil
}

// countWithBinary runs a counting query over a warehouse's views with `seatlake query` of the measured binary, so
// that a binary built from another commit (another warehouse layout) is measured by its own reader.
func countWithBinary(ctx context.Context, bin, warehouseDir, query string) (int64, error) {
	out, err := exec.CommandContext(ctx, bin, "query", "--warehouse", warehouseDir, "--format", "csv", query).Output()
	if err != nil {
		var exit *exec.ExitError
		if errors.As(err, &exit) {
			return 0, fmt.Errorf("seatlake query %q: %w: %s", query, err, exit.Stderr)
		}
		return 0, fmt.Errorf("seatlake query %q: %w", query, err)
	}
	lines := strings.Fields(strings.TrimSpace(string(out))) // a header, then the count
	var n int64
	if len(lines) == 0 {
		return 0, fmt.Errorf("seatlake query %q printed nothing", query)
	}
	if _, err := fmt.Sscan(lines[len(lines)-1], &n); err != nil {
		return 0, fmt.Errorf("seatlake query %q printed %q: %w", query, out, err)
	}
	return n, nil
}

// auditsSection is section 4: the audits run at audits records, and at auditsLarge (0 skips it) for the growth.
func auditsSection(ctx context.Context, bin string, users int, audits, auditsLarge int64, dir string) (e2eResult, float64, error) {
	fmt.Printf("\n== 4. end to end: one Dataverse environment with about %d audit records, %d users, throttling off\n", audits, users)
	aud, err := endToEnd(ctx, bin, auditSpec(users, audits), filepath.Join(dir, "audits-1m"), "")
	if err != nil {
		return aud, 0, err
	}
	fmt.Printf("seatlake run: %.2f s wall, %d audit rows, %.0f audit rows/s, %.2f CPU s, peak RSS %.0f MiB\n",
		aud.wall.Seconds(), aud.rows, float64(aud.rows)/aud.wall.Seconds(), aud.cpu.Seconds(), aud.rssMiB)
	growth := 0.0
	if auditsLarge > 0 {
		big, err := endToEnd(ctx, bin, auditSpec(users, auditsLarge), filepath.Join(dir, "audits-10m"), "")
		if err != nil {
			return aud, 0, err
		}
		growth = big.rssMiB / aud.rssMiB
		fmt.Printf("again at about %d: %.2f s wall, %d audit rows, %.0f rows/s, %.2f CPU s, peak RSS %.0f MiB (%.2fx)\n", auditsLarge,
			big.wall.Seconds(), big.rows, float64(big.rows)/big.wall.Seconds(), big.cpu.Seconds(), big.rssMiB, growth)
	}
	return aud, growth, nil
}

// runAudits is -only-audits: section 4 alone.
func runAudits(ctx context.Context, bin string, users int, audits, auditsLarge int64, dir string) error {
	aud, growth, err := auditsSection(ctx, bin, users, audits, auditsLarge, dir)
	if err != nil {
		return err
	}
	fmt.Printf("bench: audits_rows_per_s=%.0f audits_cpu_s=%.2f audits_peak_rss_mib=%.0f audits_rss_growth_10m=%.2f\n",
		perSecond(aud), aud.cpu.Seconds(), aud.rssMiB, growth)
	return nil
}

// limitsSection is section 5.
func limitsSection(ctx context.Context, bin, dir string) (efficiency, error) {
	fmt.Printf("\n== 5. extraction at the speed the services allow: Graph + Dataverse, scaled limits, 100 ms pages\n")
	eff, err := limitEfficiency(ctx, bin, filepath.Join(dir, "limits"))
	if err != nil {
		return eff, err
	}
	fmt.Printf("seatlake run: %.2f s wall; the limits allow %.2f s (Graph reporting %.2f s, Dataverse %.2f s); %d of %d requests throttled\n",
		eff.wall.Seconds(), eff.minimum.Seconds(), eff.graphMin.Seconds(), eff.dvMin.Seconds(), eff.throttled, eff.requests)
	return eff, nil
}

// runLimits is -only-limits: section 5 alone.
func runLimits(ctx context.Context, bin, dir string) error {
	eff, err := limitsSection(ctx, bin, dir)
	if err != nil {
		return err
	}
	fmt.Printf("bench: limit_efficiency=%.2f limit_throttled_pct=%.1f limit_wall_s=%.2f limit_min_s=%.2f\n",
		eff.wall.Seconds()/eff.minimum.Seconds(), 100*float64(eff.throttled)/float64(max(eff.requests, 1)), eff.wall.Seconds(), eff.minimum.Seconds())
	return nil
}

// runE2E is -only-e2e: section 1 alone.
func runE2E(ctx context.Context, bin string, users int, signIns int64, dir string) error {
	fmt.Printf("== 1. end to end: %d sign-ins, %d users, simulator in its own process, throttling off (%s)\n", signIns, users, bin)
	e2e, err := endToEnd(ctx, bin, signInSpec(users, signIns), filepath.Join(dir, "e2e"), "")
	if err != nil {
		return err
	}
	fmt.Printf("seatlake run: %.2f s wall, %d sign-in rows, %.0f sign-in rows/s, %.2f CPU s, peak RSS %.0f MiB\n",
		e2e.wall.Seconds(), e2e.rows, float64(e2e.rows)/e2e.wall.Seconds(), e2e.cpu.Seconds(), e2e.rssMiB)
	fmt.Printf("bench: e2e_s=%.2f rows_per_s=%.0f cpu_s=%.2f peak_rss_mib=%.0f\n",
		e2e.wall.Seconds(), float64(e2e.rows)/e2e.wall.Seconds(), e2e.cpu.Seconds(), e2e.rssMiB)
	return nil
}

// startSim starts `seatlake sim` and reads what it prints: credentials, url and one line per environment.
func startSim(ctx context.Context, bin string, args []string, envs int) (creds map[string]string, stop func(), err error) {
	sim := exec.CommandContext(ctx, bin, append([]string{"sim", "--addr", "127.0.0.1:0", "--tls=false", "--log-level", "warn"}, args...)...)
	out, err := sim.StdoutPipe()
	if err != nil {
		return nil, nil, err
	}
	sim.Stderr = os.Stderr
	if err := sim.Start(); err != nil {
		return nil, nil, fmt.Errorf("starting the simulator: %w", err)
	}
	stop = func() { sim.Process.Signal(os.Interrupt); sim.Wait() }
	creds = map[string]string{}
	sc := bufio.NewScanner(out)
	for lines := 0; lines < 2+envs && sc.Scan(); lines++ {
		for _, kv := range strings.Fields(sc.Text()) {
			if k, v, ok := strings.Cut(kv, "="); ok {
				creds[k] += v + "," // dataverse_url and finops_url repeat
			}
		}
	}
	for k, v := range creds {
		creds[k] = strings.TrimSuffix(v, ",")
	}
	if creds["url"] == "" || creds["tenant_id"] == "" {
		stop()
		return nil, nil, errors.New("the simulator did not print its credentials and url")
	}
	go io.Copy(io.Discard, out)
	return creds, stop, nil
}

// runCommand is `seatlake run` against the simulator, quietly; dynamics names the environment variables that get
// its Dynamics URLs.
func runCommand(ctx context.Context, bin string, creds map[string]string, dynamics []string, warehouseDir string) *exec.Cmd {
	run := exec.CommandContext(ctx, bin, "run", "--warehouse", warehouseDir, "--quiet", "--progress", "never", "--log-level", "warn")
	run.Env = append(os.Environ(), "AZURE_TENANT_ID="+creds["tenant_id"], "AZURE_CLIENT_ID="+creds["client_id"],
		"AZURE_CLIENT_SECRET="+creds["client_secret"], "SEATLAKE_AUTHORITY_HOST="+creds["url"], "SEATLAKE_GRAPH_ENDPOINT="+creds["url"])
	for _, name := range dynamics {
		key := "dataverse_url"
		if name == "SEATLAKE_FINOPS_URL" {
			key = "finops_url"
		}
		run.Env = append(run.Env, name+"="+creds[key])
	}
	run.Stdout, run.Stderr = os.Stdout, os.Stderr
	return run
}

// efficiency is what limitEfficiency measured.
type efficiency struct {
	wall, minimum, graphMin, dvMin time.Duration
	requests, throttled            int64
}

// limitEfficiency runs Graph + one Dataverse environment against the simulator's scaled limits with 100 ms pages
// and compares the wall time with the least time those limits allow for the requests that succeeded:
//   - Graph's reporting APIs (sign-ins, and users with signInActivity): 5 requests a second (scaled);
//   - Dataverse: 60 requests per 3 s, and 6 at once of 100 ms each: the slower of the two rates.
//
// Graph and Dataverse run side by side, so the least total is the larger of the two.
func limitEfficiency(ctx context.Context, bin, warehouseDir string) (efficiency, error) {
	const latency = 100 * time.Millisecond
	creds, stop, err := startSim(ctx, bin, []string{"--users", "2000", "--days", "30", "--throttle", "scaled",
		"--page-latency", latency.String(), "--dataverse-envs", "1", "--finops-envs", "0"}, 1)
	if err != nil {
		return efficiency{}, err
	}
	defer stop()
	run := runCommand(ctx, bin, creds, []string{"SEATLAKE_DATAVERSE_URL"}, warehouseDir)
	start := time.Now()
	if err := run.Run(); err != nil {
		return efficiency{}, fmt.Errorf("seatlake run: %w", err)
	}
	eff := efficiency{wall: time.Since(start)}
	resp, err := http.Get(creds["url"] + "/_sim/stats")
	if err != nil {
		return eff, err
	}
	defer resp.Body.Close()
	var st struct {
		Requests  map[string]int64 `json:"requests"`
		Throttled map[string]int64 `json:"throttled"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		return eff, err
	}
	ok := func(family string) int64 { return st.Requests[family] - st.Throttled[family] }
	var dvOK int64
	for family := range st.Requests {
		eff.requests += st.Requests[family]
		eff.throttled += st.Throttled[family]
		if strings.HasPrefix(family, "dataverse.") {
			dvOK += ok(family)
		}
	}
	eff.graphMin = time.Duration(ok("signIns")+ok("users")) * time.Second / 5
	eff.dvMin = time.Duration(dvOK) * max(3*time.Second/60, latency/6)
	eff.minimum = max(eff.graphMin, eff.dvMin)
	return eff, nil
}

// watchPeakRSS polls the process's VmHWM (KiB) every 20 ms until it exits and returns the last value read: the
// peak of its whole life, short of a new peak in its last 20 ms.
func watchPeakRSS(pid int) int64 {
	var last int64
	for {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
		if err != nil {
			return last
		}
		for _, line := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
				var kib int64
				fmt.Sscan(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), &kib)
				if kib > last {
					last = kib
				}
			}
		}
		if strings.Contains(string(b), "State:\tZ") {
			return last
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// countRows runs a counting query over a warehouse's views, or, with no warehouse, in an in-memory DuckDB.
func countRows(ctx context.Context, warehouseDir, query string) (int64, error) {
	var db *sql.DB
	var err error
	if warehouseDir == "" {
		db, err = sql.Open("duckdb", "")
	} else {
		db, err = catalog.Open(warehouseDir) // the views name files relative to the warehouse
	}
	if err != nil {
		return 0, err
	}
	defer db.Close()
	var n int64
	err = db.QueryRowContext(ctx, query).Scan(&n)
	return n, err
}

// savePages fetches every sign-in page of the last 30 days, as a run would, and saves each body as a file.
func savePages(ctx context.Context, creds map[string]string, dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	tokens := msauth.NewTokenSource(msauth.Config{AuthorityHost: creds["url"], TenantID: creds["tenant_id"],
		ClientID: creds["client_id"], ClientSecret: msauth.Secret(creds["client_secret"])}, creds["url"])
	client := odata.NewClient(odata.Config{Tokens: tokens})
	x := &graph.Extractor{Endpoint: creds["url"]}
	now := time.Now().UTC()
	n := 0
	return client.Walk(ctx, x.SignInsURL(now.Add(-31*24*time.Hour), now.Add(time.Minute)), func(body []byte) (string, error) {
		n++
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("page-%06d.json", n)), body, 0o644); err != nil {
			return "", err
		}
		var page struct {
			Next string `json:"@odata.nextLink"`
		}
		if err := json.Unmarshal(body, &page); err != nil {
			return "", err
		}
		return page.Next, nil
	})
}

// filePager serves saved pages in order, as if they came from the service: each read into one reused buffer, as
// odata.Client.Walk reads each response body.
type filePager struct{ files []string }

func (f filePager) Walk(ctx context.Context, _ string, decode func([]byte) (string, error)) error {
	var buf bytes.Buffer
	for _, name := range f.files {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := readInto(&buf, name); err != nil {
			return err
		}
		if _, err := decode(buf.Bytes()); err != nil {
			return err
		}
	}
	return nil
}

// readInto replaces buf's content with the file's.
func readInto(buf *bytes.Buffer, name string) error {
	f, err := os.Open(name)
	if err != nil {
		return err
	}
	defer f.Close()
	buf.Reset()
	_, err = buf.ReadFrom(f)
	return err
}

// convertSeatlake runs the production conversion: decoding in one goroutine, Parquet writing in as many as a run
// uses per table (pipelines.WriteLanes), committed.
func convertSeatlake(ctx context.Context, pagesDir, warehouseDir, codec string) (time.Duration, error) {
	files, err := filepath.Glob(filepath.Join(pagesDir, "*.json"))
	if err != nil {
		return 0, err
	}
	sort.Strings(files)
	if cpuProfile != "" && codec == "" { // the production path with the default codec, not 2b's runs
		f, err := os.Create(cpuProfile)
		if err != nil {
			return 0, err
		}
		defer f.Close()
		pprof.StartCPUProfile(f)
		defer pprof.StopCPUProfile()
	}
	start := time.Now()
	wh, err := warehouse.Open(ctx, warehouseDir, nil)
	if err != nil {
		return 0, err
	}
	txn, err := wh.Begin("bench", "bench-tenant", start, warehouse.WriterOptions{Codec: codec, CompressionLevel: compressionLevel})
	if err != nil {
		return 0, err
	}
	defer txn.Abort()
	tw, err := txn.Writer(graph.SignIns)
	if err != nil {
		return 0, err
	}
	q := pipelines.NewParallelQueue(4, pipelines.WriteLanes()) // as a run drains each table's queue
	done := make(chan error, 1)
	go func() { done <- q.Drain(ctx, tw) }()
	x := &graph.Extractor{Run: pages.Run{TenantID: "bench-tenant", RunID: "bench", ExtractedAt: start}}
	_, err = x.SignIns(ctx, filePager{files}, time.Time{}, start, q)
	q.Close()
	if werr := <-done; err == nil {
		err = werr
	}
	if err != nil {
		return 0, err
	}
	if err := txn.Commit(ctx); err != nil {
		return 0, err
	}
	return time.Since(start), nil
}

// duckColumns selects the graph_signins columns from the raw sign-in structs, as seatlake writes them.
const duckColumns = `'bench-tenant' AS tenant_id, 'bench' AS run_id, now() AS extracted_at,
  r.id AS id, r.createdDateTime::TIMESTAMPTZ AS created_at, r.userId AS user_id, r.userPrincipalName AS user_principal_name,
  r.appId AS app_id, r.appDisplayName AS app_display_name, r.resourceId AS resource_id,
  r.resourceDisplayName AS resource_display_name, r.clientAppUsed AS client_app_used, r.isInteractive AS is_interactive,
  r.status.errorCode AS error_code, r.ipAddress AS ip_address, r.location.countryOrRegion AS country_or_region`

const duckStruct = `STRUCT(id VARCHAR, createdDateTime VARCHAR, userId VARCHAR, userPrincipalName VARCHAR, appId VARCHAR,
  appDisplayName VARCHAR, resourceId VARCHAR, resourceDisplayName VARCHAR, clientAppUsed VARCHAR, isInteractive BOOLEAN,
  status STRUCT(errorCode INTEGER), ipAddress VARCHAR, location STRUCT(countryOrRegion VARCHAR))[]`

func convertDuckDB(ctx context.Context, pagesDir, out string, unordered bool) (time.Duration, error) {
	db, err := sql.Open("duckdb", "")
	if err != nil {
		return 0, err
	}
	defer db.Close()
	conn, err := db.Conn(ctx)
	if err != nil {
		return 0, err
	}
	defer conn.Close()
	if unordered {
		if _, err := conn.ExecContext(ctx, "SET preserve_insertion_order=false"); err != nil {
			return 0, err
		}
	}
	q := fmt.Sprintf(`COPY (SELECT %s FROM (SELECT unnest(value) AS r FROM read_json('%s', columns={value: '%s'})))
TO '%s' (FORMAT parquet)`, duckColumns, filepath.Join(pagesDir, "*.json"), strings.ReplaceAll(duckStruct, "\n", " "), out)
	start := time.Now()
	if _, err := conn.ExecContext(ctx, q); err != nil {
		return 0, fmt.Errorf("duckdb copy: %w", err)
	}
	return time.Since(start), nil
}

// runMarts is -only-marts: section 6 alone, on a warehouse landed now (dir/marts) or on warehouseDir.
func runMarts(ctx context.Context, bin string, users int, dir, warehouseDir string) error {
	var res martsResult
	var err error
	if warehouseDir != "" {
		fmt.Printf("== 6. the marts of the warehouse %s (%s)\n", warehouseDir, bin)
		res, err = martsAlone(ctx, bin, warehouseDir)
	} else {
		fmt.Printf("== 6. the marts: %d users, 10,000,000 sign-ins, 1,000,000 audit records, one F&O environment (%s)\n", users, bin)
		res, err = martsRun(ctx, bin, users, filepath.Join(dir, "marts"))
	}
	if err != nil {
		return err
	}
	fmt.Printf("seatlake marts: %.2f s wall, %.2f CPU s, peak RSS %.0f MiB\n", res.wall.Seconds(), res.cpu.Seconds(), res.rssMiB)
	fmt.Printf("bench: marts_s=%.1f marts_cpu_s=%.2f marts_peak_rss_mib=%.0f\n", res.wall.Seconds(), res.cpu.Seconds(), res.rssMiB)
	return nil
}

// convertSection is sections 2 and 2b: the sign-in pages saved under pagesDir converted by seatlake and by DuckDB,
// then by seatlake with each codec. It returns DuckDB's time (defaults) over seatlake's and the codecs' keys.
func convertSection(ctx context.Context, pagesDir, dir string, rows int64) (float64, string, error) {
	fmt.Printf("\n== 2. conversion of the same %d sign-ins from saved JSON pages to Parquet\n", rows)
	os.RemoveAll(filepath.Join(dir, "conv-seatlake")) // a fresh warehouse each time, -dir reused or not
	cpu0 := selfCPU()
	ours, err := convertSeatlake(ctx, pagesDir, filepath.Join(dir, "conv-seatlake"), "")
	if err != nil {
		return 0, "", err
	}
	fmt.Printf("seatlake production path (%s):          %.2f s (%.2f CPU s)\n", warehouse.DefaultCodec, ours.Seconds(), (selfCPU() - cpu0).Seconds())
	duckDefault, err := convertDuckDB(ctx, pagesDir, filepath.Join(dir, "duck-default.parquet"), false)
	if err != nil {
		return 0, "", err
	}
	fmt.Printf("DuckDB COPY (defaults, all cores):        %.2f s\n", duckDefault.Seconds())
	duckUnordered, err := convertDuckDB(ctx, pagesDir, filepath.Join(dir, "duck-unordered.parquet"), true)
	if err != nil {
		return 0, "", err
	}
	fmt.Printf("DuckDB COPY (preserve_insertion_order=false): %.2f s\n", duckUnordered.Seconds())
	ratio := duckDefault.Seconds() / ours.Seconds()
	fmt.Printf("ratio DuckDB/seatlake: %.2f (defaults), %.2f (unordered)\n", ratio, duckUnordered.Seconds()/ours.Seconds())

	fmt.Printf("\n== 2b. Parquet compression: the same sign-ins written with each codec (size of the files, write time)\n")
	codecLine := ""
	for _, codec := range codecs {
		out := filepath.Join(dir, "codec-"+codec)
		cpu0 := selfCPU()
		d, err := convertSeatlake(ctx, pagesDir, out, codec)
		if err != nil {
			return 0, "", err
		}
		cpu := selfCPU() - cpu0
		size, err := dirSize(filepath.Join(out, "raw", "graph_signins", "data"))
		if err != nil {
			return 0, "", err
		}
		// Read back as an analyst's query would: every row, three columns decompressed.
		readStart := time.Now()
		n, err := countRows(ctx, "", "SELECT CAST(count(*) + 0*count(DISTINCT user_id) + 0*sum(length(app_display_name)) + 0*epoch(max(created_at)) AS BIGINT) FROM read_parquet('"+
			filepath.Join(out, "raw", "graph_signins", "data", "**", "*.parquet")+"')")
		if err != nil {
			return 0, "", fmt.Errorf("DuckDB reading the %s files: %w", codec, err)
		}
		read := time.Since(readStart)
		fmt.Printf("%-7s %7.1f MiB  write %.2f s (%.2f CPU s)  DuckDB query %.3f s (%d rows)\n", codec, float64(size)/(1<<20), d.Seconds(), cpu.Seconds(), read.Seconds(), n)
		codecLine += fmt.Sprintf(" parquet_%s_mib=%.1f parquet_%s_s=%.2f", codec, float64(size)/(1<<20), codec, d.Seconds())
		os.RemoveAll(out)
	}
	os.RemoveAll(filepath.Join(dir, "duck-default.parquet"))
	os.RemoveAll(filepath.Join(dir, "duck-unordered.parquet"))
	fmt.Println()
	return ratio, codecLine, nil
}

// runConvert is -only-convert: sections 2 and 2b alone, on the pages of a simulated tenant saved under dir/pages
// (reused when there, so that runs alternated in one sitting convert the same pages).
func runConvert(ctx context.Context, bin string, users int, signIns int64, dir string) error {
	pagesDir := filepath.Join(dir, "pages")
	if have, _ := filepath.Glob(filepath.Join(pagesDir, "*.json")); len(have) == 0 {
		creds, stop, err := startSim(ctx, bin, append(signInSpec(users, signIns).simArgs, "--throttle", "off"), 0)
		if err != nil {
			return err
		}
		err = savePages(ctx, creds, pagesDir)
		stop()
		if err != nil {
			return err
		}
	}
	n, err := countRows(ctx, "", "SELECT CAST(sum(len(value)) AS BIGINT) FROM read_json('"+filepath.Join(pagesDir, "*.json")+"', columns={value: 'STRUCT(id VARCHAR)[]'})")
	if err != nil {
		return fmt.Errorf("counting the saved sign-ins: %w", err)
	}
	ratio, codecLine, err := convertSection(ctx, pagesDir, dir, n)
	if err != nil {
		return err
	}
	fmt.Printf("bench: ratio_vs_duckdb=%.2f%s\n", ratio, codecLine)
	return nil
}

type martsResult struct {
	wall, cpu, runWall time.Duration
	rssMiB             float64
	rows               int64
}

// martsRun lands a large tenant (the run computes its marts once), then measures `seatlake marts` alone: every
// mart recomputed from the committed Parquet, nothing fetched.
func martsRun(ctx context.Context, bin string, users int, warehouseDir string) (martsResult, error) {
	spec := e2eSpec{
		simArgs: []string{"--users", fmt.Sprint(users), "--days", "30", "--signins", "10000000", "--dataverse-envs", "1",
			"--finops-envs", "1", "--audits-per-env", "1000000"},
		dv: 1, fo: 1, runEnv: []string{"SEATLAKE_DATAVERSE_URL", "SEATLAKE_FINOPS_URL"},
		countSQL: "SELECT count(*) FROM license_usage",
	}
	landed, err := endToEnd(ctx, bin, spec, warehouseDir, "")
	if err != nil {
		return martsResult{}, err
	}
	res, err := martsAlone(ctx, bin, warehouseDir)
	res.runWall, res.rows = landed.wall, landed.rows
	return res, err
}

// martsAlone measures `seatlake marts` on a landed warehouse: wall time, CPU and peak RSS.
func martsAlone(ctx context.Context, bin, warehouseDir string) (martsResult, error) {
	cmd := exec.CommandContext(ctx, bin, "marts", "--warehouse", warehouseDir, "--quiet", "--log-level", "warn")
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return martsResult{}, fmt.Errorf("seatlake marts: %w", err)
	}
	peak := make(chan int64, 1)
	go func() { peak <- watchPeakRSS(cmd.Process.Pid) }()
	err := cmd.Wait()
	res := martsResult{wall: time.Since(start)}
	if err != nil {
		return res, fmt.Errorf("seatlake marts: %w", err)
	}
	res.cpu = cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
	res.rssMiB = float64(<-peak) / 1024
	return res, nil
}

// dirSize is the bytes of the files under dir.
func dirSize(dir string) (int64, error) {
	var n int64
	err := filepath.Walk(dir, func(_ string, info os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		if !info.IsDir() {
			n += info.Size()
		}
		return nil
	})
	return n, err
}
