package main

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/seatlake/seatlake/internal/assetsim/jsmassets"
	"github.com/seatlake/seatlake/internal/assetsim/servicenow"
	"github.com/seatlake/seatlake/load/warehouse"
	"github.com/seatlake/seatlake/pipelines"
)

// Section 9: the syncs. A tenant of -sync-people users (the marts run's tenant when the sizes agree, else one landed
// for this section) is synced by the measured binary into the JSM Assets and ServiceNow emulators, which run in the
// bench's own process behind a timer: each sync twice (the second changes nothing). Reported per sync: wall time,
// the seatlake process's peak RSS, the time the emulator was busy with at least one request and the bench
// process's CPU seconds meanwhile (the emulator's, near enough).

// syncRun is one measured sync.
type syncRun struct {
	wall, emuBusy, emuCPU time.Duration
	rssMiB                float64
	out                   string
}

// syncSectionResult is section 9's figures: servicenow and jsm-assets, each twice.
type syncSectionResult struct {
	people, assignments int64
	servicenow, jsm     [2]syncRun
}

// worst is the slower wall time of the two syncs of one target, and the higher peak RSS of all four.
func (r syncSectionResult) worst() (sn, jsm time.Duration, rss float64) {
	for i := range 2 {
		sn, jsm = max(sn, r.servicenow[i].wall), max(jsm, r.jsm[i].wall)
		rss = max(rss, r.servicenow[i].rssMiB, r.jsm[i].rssMiB)
	}
	return sn, jsm, rss
}

// busyTimer wraps an emulator's handler and sums the time at least one request was in it.
type busyTimer struct {
	next     http.Handler
	mu       sync.Mutex
	inFlight int
	since    time.Time
	busy     time.Duration
	requests int64
}

func (b *busyTimer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b.mu.Lock()
	if b.inFlight == 0 {
		b.since = time.Now()
	}
	b.inFlight++
	b.requests++
	b.mu.Unlock()
	defer func() {
		b.mu.Lock()
		b.inFlight--
		if b.inFlight == 0 {
			b.busy += time.Since(b.since)
		}
		b.mu.Unlock()
	}()
	b.next.ServeHTTP(w, r)
}

// read returns the busy time and the requests so far.
func (b *busyTimer) read() (time.Duration, int64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.busy, b.requests
}

// selfCPU is the bench process's CPU time (user + system) so far.
func selfCPU() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// serve serves h on a free loopback port; it returns the URL and a stop function.
func serve(h http.Handler) (string, func(), error) {
	srv := &http.Server{Handler: h}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	go srv.Serve(ln)
	return "http://" + ln.Addr().String(), func() { srv.Close() }, nil
}

// syncWarehouse lands a tenant of people users for the syncs (one Dataverse and one F&O environment, so people
// carry their Dynamics accounts and F&O users their required licenses), unless dir already holds one.
func syncWarehouse(ctx context.Context, bin string, people int, dir string) (time.Duration, error) {
	if _, err := os.Stat(filepath.Join(dir, warehouse.ViewsFile)); err == nil {
		fmt.Printf("(the warehouse in %s is reused)\n", dir)
		return 0, nil
	}
	spec := e2eSpec{
		simArgs: []string{"--users", fmt.Sprint(people), "--days", "30", "--signins", "1000000", "--dataverse-envs", "1",
			"--finops-envs", "1", "--audits-per-env", "100000"},
		dv: 1, fo: 1, runEnv: []string{"SEATLAKE_DATAVERSE_URL", "SEATLAKE_FINOPS_URL"},
		countSQL: "SELECT count(*) FROM license_usage",
	}
	res, err := endToEnd(ctx, bin, spec, dir, "")
	return res.wall, err
}

// syncSection is section 9 over the warehouse in whDir (landed first when it has none); with profile set, each
// sync is also run once inside the bench (pipelines.Sync, the code the binary runs) under a CPU profile written
// to profile-<target>.prof, the emulator's handlers in the same profile.
func syncSection(ctx context.Context, bin string, people int, whDir, profile string) (syncSectionResult, error) {
	var res syncSectionResult
	if wall, err := syncWarehouse(ctx, bin, people, whDir); err != nil {
		return res, err
	} else if wall > 0 {
		fmt.Printf("(the tenant landed in %.1f s)\n", wall.Seconds())
	}
	var err error
	if res.people, err = countWithBinary(ctx, bin, whDir, "SELECT count(*) FROM graph_users"); err != nil {
		return res, err
	}
	if res.assignments, err = countWithBinary(ctx, bin, whDir, "SELECT count(*) FROM license_usage"); err != nil {
		return res, err
	}
	fmt.Printf("%d people, %d license assignments\n", res.people, res.assignments)

	// ServiceNow: basic auth with the integration user's password in a file.
	const snUser, snPassword = "seatlake.integration", "bench-password"
	sn := servicenow.New(snUser, snPassword, "", "")
	snTimer := &busyTimer{next: sn}
	snURL, stopSN, err := serve(snTimer)
	if err != nil {
		return res, err
	}
	defer stopSN()
	pw := filepath.Join(filepath.Dir(whDir), "servicenow-password")
	if err := os.WriteFile(pw, []byte(snPassword), 0o600); err != nil {
		return res, err
	}
	snArgs := []string{"--instance-url", snURL, "--user", snUser, "--password-file", pw}
	for i := range 2 {
		if res.servicenow[i], err = measureSync(ctx, bin, whDir, "servicenow", snArgs, nil, snTimer); err != nil {
			return res, err
		}
		printSync("servicenow", i, res.servicenow[i])
	}

	// JSM Assets: the import source's container token from the environment.
	const token = "bench-assets-token"
	jsm := jsmassets.New(token)
	jsmTimer := &busyTimer{next: jsm}
	jsmURL, stopJSM, err := serve(jsmTimer)
	if err != nil {
		return res, err
	}
	defer stopJSM()
	jsm.SetBase(jsmURL)
	jsmEnv := []string{"SEATLAKE_JSM_ASSETS_TOKEN=" + token}
	for i := range 2 {
		if res.jsm[i], err = measureSync(ctx, bin, whDir, "jsm-assets", []string{"--url", jsmURL}, jsmEnv, jsmTimer); err != nil {
			return res, err
		}
		printSync("jsm-assets", i, res.jsm[i])
	}

	if profile != "" {
		settings := map[string]map[string]string{
			"servicenow": {"instance-url": snURL, "user": snUser, "password-file": pw},
			"jsm-assets": {"url": jsmURL},
		}
		os.Setenv("SEATLAKE_JSM_ASSETS_TOKEN", token)
		for _, name := range []string{"servicenow", "jsm-assets"} {
			file := profile + "-" + name + ".prof"
			d, err := profileSync(ctx, whDir, name, settings[name], file)
			if err != nil {
				return res, err
			}
			fmt.Printf("in-process sync %s (a third sync, nothing to change): %.2f s, CPU profile in %s\n", name, d.Seconds(), file)
		}
	}
	return res, nil
}

// measureSync runs `seatlake sync <name>` once against an emulator timed by timer.
func measureSync(ctx context.Context, bin, whDir, name string, args, env []string, timer *busyTimer) (syncRun, error) {
	cmd := exec.CommandContext(ctx, bin, append([]string{"sync", name, "--warehouse", whDir, "--log-level", "warn"}, args...)...)
	cmd.Env = append(os.Environ(), env...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, os.Stderr
	busy0, _ := timer.read()
	cpu0 := selfCPU()
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return syncRun{}, fmt.Errorf("seatlake sync %s: %w", name, err)
	}
	peak := make(chan int64, 1)
	go func() { peak <- watchPeakRSS(cmd.Process.Pid) }()
	err := cmd.Wait()
	r := syncRun{wall: time.Since(start), emuCPU: selfCPU() - cpu0, rssMiB: float64(<-peak) / 1024, out: out.String()}
	busy, _ := timer.read()
	r.emuBusy = busy - busy0
	if err != nil {
		return r, fmt.Errorf("seatlake sync %s: %w\n%s", name, err, out.String())
	}
	return r, nil
}

func printSync(name string, i int, r syncRun) {
	fmt.Printf("sync %s #%d: %.2f s wall, peak RSS %.0f MiB; the emulator busy %.2f s (%.0f%%), %.2f CPU s\n", name, i+1,
		r.wall.Seconds(), r.rssMiB, r.emuBusy.Seconds(), 100*r.emuBusy.Seconds()/r.wall.Seconds(), r.emuCPU.Seconds())
	for _, line := range strings.Split(strings.TrimSpace(r.out), "\n") {
		fmt.Println("  " + line)
	}
}

// profileSync runs one sync inside the bench, as `seatlake sync <name>` would, under a CPU profile.
func profileSync(ctx context.Context, whDir, name string, settings map[string]string, file string) (time.Duration, error) {
	t, err := pipelines.OpenTarget(name, func(key string) string { return settings[key] }, nil, true, nil)
	if err != nil {
		return 0, err
	}
	f, err := os.Create(file)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	if err := pprof.StartCPUProfile(f); err != nil {
		return 0, err
	}
	// The Go heap's peak, sampled, with a heap profile written at it (the rest of the RSS is DuckDB's, in C++).
	stop, peak := make(chan struct{}), make(chan uint64, 1)
	go func() { peak <- sampleHeap(stop, strings.TrimSuffix(file, ".prof")+"-heap.prof") }()
	start := time.Now()
	err = pipelines.Sync(ctx, name, pipelines.SyncConfig{Warehouse: whDir, Target: t}, &bytes.Buffer{})
	d := time.Since(start)
	pprof.StopCPUProfile()
	close(stop)
	fmt.Printf("in-process sync %s: Go heap peak %.0f MiB (heap profile at it in %s)\n", name, float64(<-peak)/(1<<20),
		strings.TrimSuffix(file, ".prof")+"-heap.prof")
	return d, err
}

// sampleHeap reads the Go heap in use every 50 ms until stop and writes a heap profile to file at each new peak
// (10% above the last one written); it returns the peak.
func sampleHeap(stop chan struct{}, file string) uint64 {
	var peak, written uint64
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-stop:
			return peak
		case <-tick.C:
		}
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		peak = max(peak, m.HeapInuse)
		if m.HeapInuse > written+written/10 {
			written = m.HeapInuse
			if f, err := os.Create(file); err == nil {
				pprof.Lookup("heap").WriteTo(f, 0)
				f.Close()
			}
		}
	}
}

// runSync is -only-sync: section 9 alone.
func runSync(ctx context.Context, bin string, people int, dir, profile string) error {
	if people <= 0 {
		return fmt.Errorf("-only-sync with -sync-people %d: nothing to measure", people)
	}
	fmt.Printf("== 9. the syncs: %d people, emulators in the bench's process (%s)\n", people, bin)
	res, err := syncSection(ctx, bin, people, filepath.Join(dir, fmt.Sprintf("sync-%d", people)), profile)
	if err != nil {
		return err
	}
	sn, jsm, rss := res.worst()
	fmt.Printf("bench: sync_servicenow_s=%.1f sync_jsm_s=%.1f sync_peak_rss_mib=%.0f\n", sn.Seconds(), jsm.Seconds(), rss)
	return nil
}
