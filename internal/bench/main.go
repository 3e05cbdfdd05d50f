// Command bench is `make bench`: seatlake's performance, measured the way a user would see it.
//
//  1. End to end: the simulator in its own process serves a tenant with 1,000,000 sign-ins (throttling off); the
//     seatlake binary runs against it into a fresh warehouse. Reported: sign-in rows/s, the seatlake process's CPU
//     seconds and peak RSS.
//  2. The conversion stage against DuckDB: the same sign-in pages saved as JSON files are turned into Parquet (a) by
//     seatlake's production path (graph.Extractor.SignIns -> pipelines.Queue -> warehouse writer, fed from files
//     instead of HTTP) and (b) by DuckDB's COPY over read_json, with defaults and with preserve_insertion_order=false.
//  3. Flat memory: the end-to-end run again at 10,000,000 sign-ins; peak RSS compared with the 1M run.
//
// The last line is machine-readable:
//
//	bench: rows_per_s=… ratio_vs_duckdb=… peak_rss_mib=… rss_growth_10m=…
package main

import (
	"bufio"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
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
	"github.com/seatlake/seatlake/load/warehouse"
	"github.com/seatlake/seatlake/pipelines"
)

func main() {
	bin := flag.String("bin", "bin/seatlake", "the seatlake binary to measure")
	users := flag.Int("users", 20000, "users in the simulated tenant")
	small := flag.Int64("signins", 1_000_000, "sign-ins for the end-to-end and conversion runs")
	large := flag.Int64("signins-large", 10_000_000, "sign-ins for the memory-growth run (0 skips it)")
	work := flag.String("dir", "", "working directory (default: a temporary one, removed afterwards)")
	profile := flag.String("cpuprofile", "", "write a CPU profile of seatlake's conversion stage to this file")
	flag.Parse()
	cpuProfile = *profile
	if err := run(context.Background(), *bin, *users, *small, *large, *work); err != nil {
		fmt.Fprintf(os.Stderr, "bench: %v\n", err)
		os.Exit(1)
	}
}

var cpuProfile string

func run(ctx context.Context, bin string, users int, small, large int64, dir string) error {
	if dir == "" {
		d, err := os.MkdirTemp("", "seatlake-bench-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(d)
		dir = d
	}
	abs, err := filepath.Abs(bin)
	if err != nil {
		return err
	}
	bin = abs

	fmt.Printf("== 1. end to end: %d sign-ins, %d users, simulator in its own process, throttling off\n", small, users)
	e2e, err := endToEnd(ctx, bin, users, small, filepath.Join(dir, "e2e-1m"), filepath.Join(dir, "pages"))
	if err != nil {
		return err
	}
	fmt.Printf("seatlake run: %.2f s wall, %.0f sign-in rows/s, %.2f CPU s, peak RSS %.0f MiB\n",
		e2e.wall.Seconds(), float64(e2e.signIns)/e2e.wall.Seconds(), e2e.cpu.Seconds(), e2e.rssMiB)

	fmt.Printf("\n== 2. conversion of the same %d sign-ins from saved JSON pages to Parquet\n", e2e.signIns)
	ours, err := convertSeatlake(ctx, filepath.Join(dir, "pages"), filepath.Join(dir, "conv-seatlake"))
	if err != nil {
		return err
	}
	fmt.Printf("seatlake production path:                 %.2f s\n", ours.Seconds())
	duckDefault, err := convertDuckDB(ctx, filepath.Join(dir, "pages"), filepath.Join(dir, "duck-default.parquet"), false)
	if err != nil {
		return err
	}
	fmt.Printf("DuckDB COPY (defaults, all cores):        %.2f s\n", duckDefault.Seconds())
	duckUnordered, err := convertDuckDB(ctx, filepath.Join(dir, "pages"), filepath.Join(dir, "duck-unordered.parquet"), true)
	if err != nil {
		return err
	}
	fmt.Printf("DuckDB COPY (preserve_insertion_order=false): %.2f s\n", duckUnordered.Seconds())
	ratio := duckDefault.Seconds() / ours.Seconds()
	fmt.Printf("ratio DuckDB/seatlake: %.2f (defaults), %.2f (unordered)\n", ratio, duckUnordered.Seconds()/ours.Seconds())

	growth := 0.0
	if large > 0 {
		fmt.Printf("\n== 3. memory: end to end again at %d sign-ins\n", large)
		big, err := endToEnd(ctx, bin, users, large, filepath.Join(dir, "e2e-10m"), "")
		if err != nil {
			return err
		}
		growth = big.rssMiB / e2e.rssMiB
		fmt.Printf("seatlake run: %.2f s wall, %.0f sign-in rows/s, %.2f CPU s, peak RSS %.0f MiB (%.2fx the 1M run)\n",
			big.wall.Seconds(), float64(big.signIns)/big.wall.Seconds(), big.cpu.Seconds(), big.rssMiB, growth)
	}
	fmt.Printf("bench: rows_per_s=%.0f ratio_vs_duckdb=%.2f peak_rss_mib=%.0f rss_growth_10m=%.2f\n",
		float64(e2e.signIns)/e2e.wall.Seconds(), ratio, e2e.rssMiB, growth)
	return nil
}

type e2eResult struct {
	wall, cpu time.Duration
	rssMiB    float64
	signIns   int64
}

// endToEnd starts `seatlake sim` and runs `seatlake run` against it. With pagesDir set it also saves the sign-in
// pages the simulator serves, for the conversion stage.
func endToEnd(ctx context.Context, bin string, users int, signIns int64, warehouseDir, pagesDir string) (e2eResult, error) {
	sim := exec.CommandContext(ctx, bin, "sim", "--addr", "127.0.0.1:0", "--users", fmt.Sprint(users),
		"--days", "30", "--signins", fmt.Sprint(signIns), "--throttle", "off", "--log-level", "warn")
	out, err := sim.StdoutPipe()
	if err != nil {
		return e2eResult{}, err
	}
	sim.Stderr = os.Stderr
	if err := sim.Start(); err != nil {
		return e2eResult{}, fmt.Errorf("starting the simulator: %w", err)
	}
	defer func() { sim.Process.Signal(os.Interrupt); sim.Wait() }()
	creds := map[string]string{}
	sc := bufio.NewScanner(out)
	for len(creds) < 4 && sc.Scan() {
		for _, kv := range strings.Fields(sc.Text()) {
			if k, v, ok := strings.Cut(kv, "="); ok {
				creds[k] = v
			}
		}
	}
	if creds["url"] == "" || creds["tenant_id"] == "" {
		return e2eResult{}, errors.New("the simulator did not print its credentials and url")
	}
	go io.Copy(io.Discard, out)

	if pagesDir != "" {
		if err := savePages(ctx, creds, pagesDir); err != nil {
			return e2eResult{}, err
		}
	}
	run := exec.CommandContext(ctx, bin, "run", "--warehouse", warehouseDir, "--quiet", "--progress", "never", "--log-level", "warn")
	run.Env = append(os.Environ(), "AZURE_TENANT_ID="+creds["tenant_id"], "AZURE_CLIENT_ID="+creds["client_id"],
		"AZURE_CLIENT_SECRET="+creds["client_secret"], "SEATLAKE_AUTHORITY_HOST="+creds["url"], "SEATLAKE_GRAPH_ENDPOINT="+creds["url"])
	run.Stdout, run.Stderr = os.Stdout, os.Stderr
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
	n, err := countSignIns(ctx, warehouseDir)
	if err != nil {
		return res, err
	}
	res.signIns = n
	return res, nil
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

func countSignIns(ctx context.Context, warehouseDir string) (int64, error) {
	db, err := sql.Open("duckdb", filepath.Join(warehouseDir, "seatlake.duckdb")+"?access_mode=read_only")
	if err != nil {
		return 0, err
	}
	defer db.Close()
	var n int64
	err = db.QueryRowContext(ctx, "SELECT count(*) FROM graph_signins").Scan(&n)
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

// filePager serves saved pages in order, as if they came from the service.
type filePager struct{ files []string }

func (f filePager) Walk(ctx context.Context, _ string, decode func([]byte) (string, error)) error {
	for _, name := range f.files {
		if err := ctx.Err(); err != nil {
			return err
		}
		body, err := os.ReadFile(name)
		if err != nil {
			return err
		}
		if _, err := decode(body); err != nil {
			return err
		}
	}
	return nil
}

// convertSeatlake runs the production conversion: decoding in one goroutine, Parquet writing in another, committed.
func convertSeatlake(ctx context.Context, pagesDir, warehouseDir string) (time.Duration, error) {
	files, err := filepath.Glob(filepath.Join(pagesDir, "*.json"))
	if err != nil {
		return 0, err
	}
	sort.Strings(files)
	if cpuProfile != "" {
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
	txn, err := wh.Begin("bench", "bench-tenant", start, warehouse.WriterOptions{})
	if err != nil {
		return 0, err
	}
	defer txn.Abort()
	tw, err := txn.Writer(graph.SignIns)
	if err != nil {
		return 0, err
	}
	q := pipelines.NewQueue(4)
	done := make(chan error, 1)
	go func() { done <- q.Drain(ctx, tw) }()
	x := &graph.Extractor{TenantID: "bench-tenant", RunID: "bench", ExtractedAt: start}
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
