package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/seatlake/seatlake/pipelines"
)

// eventsResult is section 7: the business events receiver, measured from outside as F&O sees it.
type eventsResult struct {
	perSecond     float64
	p50, p99, max time.Duration
	accepted      int64
	// cpuPerEvent is the receiver's CPU time (user and system) while the events were posted, per event: what the
	// machine's other load does not change as much as it changes the wall time (0 where /proc is not readable).
	cpuPerEvent time.Duration
}

// eventsBench starts `seatlake events serve` (its own process, a fresh warehouse, commits every second) and posts
// n distinct events from clients concurrent clients; each acknowledgement means the event was fsynced. It reports
// events acknowledged a second and the acknowledgement latency's percentiles.
func eventsBench(ctx context.Context, bin, dir string, n, clients int, group bool) (eventsResult, error) {
	var res eventsResult
	wh := filepath.Join(dir, "warehouse")
	if err := os.MkdirAll(wh, 0o750); err != nil {
		return res, err
	}
	env := append(os.Environ(), "AZURE_TENANT_ID=bench-tenant", "AZURE_CLIENT_ID=bench-client", "AZURE_CLIENT_SECRET=never-sent",
		"SEATLAKE_FINOPS_URL=http://127.0.0.1:9")
	mk := exec.CommandContext(ctx, bin, "events", "new-endpoint", "--warehouse", wh)
	mk.Env = env
	if out, err := mk.CombinedOutput(); err != nil {
		return res, fmt.Errorf("events new-endpoint: %v: %s", err, out)
	}
	cmd := exec.CommandContext(ctx, bin, "events", "serve", "--warehouse", wh, "--listen", "127.0.0.1:0", "--commit-interval", "1s",
		"--commit-events", "5000", fmt.Sprintf("--group-commit=%t", group), "--log-level", "warn")
	cmd.Env = env
	out, err := cmd.StdoutPipe()
	if err != nil {
		return res, err
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		return res, err
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	sc := bufio.NewScanner(out)
	callback := ""
	for sc.Scan() {
		// serving environment=… receiver_url=… secret_file=…: the callback URL is the receiver's URL, the
		// environment and its secret, which the receiver never prints.
		if v, ok := strings.CutPrefix(sc.Text(), "serving "); ok {
			kv := map[string]string{}
			for _, f := range strings.Fields(v) {
				if k, val, ok := strings.Cut(f, "="); ok {
					kv[k] = val
				}
			}
			secret, err := os.ReadFile(kv["secret_file"])
			if err != nil {
				return res, fmt.Errorf("the receiver's secret: %w", err)
			}
			callback = kv["receiver_url"] + pipelines.CallbackPath(kv["environment"], strings.TrimSpace(string(secret)))
			break
		}
	}
	if callback == "" {
		return res, fmt.Errorf("the receiver printed no serving line: %s", stderr.String())
	}
	go func() {
		for sc.Scan() {
		}
	}()
	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: clients}, Timeout: 30 * time.Second}
	lat := make([]time.Duration, n)
	var next, failed atomic.Int64
	var wg sync.WaitGroup
	cpu0, cpuErr := processCPU(cmd.Process.Pid)
	start := time.Now()
	for range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := next.Add(1) - 1
				if i >= int64(n) {
					return
				}
				body := fmt.Sprintf(`{"BusinessEventId":"SalesOrderInvoicedBusinessEvent","ControlNumber":%d,"EventId":"bench-%d","EventTimeIso8601":"2026-12-02T10:00:00Z","BusinessEventLegalEntity":"USMF","MajorVersion":1,"MinorVersion":0,"InvoiceAccount":"US-%03d","InvoiceAmount":%d.5}`,
					5637144576+i, i, i%1000, i)
				t0 := time.Now()
				resp, err := hc.Post(callback, "application/json", strings.NewReader(body))
				if err != nil || resp.StatusCode != http.StatusAccepted {
					failed.Add(1)
				}
				if resp != nil {
					resp.Body.Close()
				}
				lat[i] = time.Since(t0)
			}
		}()
	}
	wg.Wait()
	wall := time.Since(start)
	cpu1, err := processCPU(cmd.Process.Pid)
	cpuErr = errors.Join(cpuErr, err)
	if f := failed.Load(); f > 0 {
		return res, fmt.Errorf("%d of %d events were not acknowledged: %s", f, n, stderr.String())
	}
	sort.Slice(lat, func(a, b int) bool { return lat[a] < lat[b] })
	res = eventsResult{perSecond: float64(n) / wall.Seconds(), p50: lat[n/2], p99: lat[n*99/100], max: lat[n-1], accepted: int64(n)}
	if cpuErr == nil {
		res.cpuPerEvent = (cpu1 - cpu0) / time.Duration(n)
	}
	// SIGTERM: the receiver commits what is journaled; the warehouse then holds every event.
	cmd.Process.Signal(os.Interrupt)
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			return res, fmt.Errorf("the receiver after SIGINT: %v: %s", err, stderr.String())
		}
	case <-time.After(time.Minute):
		cmd.Process.Signal(syscall.SIGQUIT)
		time.Sleep(time.Second)
		return res, fmt.Errorf("the receiver did not stop within a minute of SIGINT: %s", stderr.String())
	}
	return res, nil
}

// processCPU is the user and system CPU time process pid has used, from /proc/<pid>/stat (Linux).
func processCPU(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// The fields after the command's name, which is in parentheses and may hold spaces: state is field 3, utime
	// and stime (clock ticks, 100 a second on Linux) are fields 14 and 15.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, fmt.Errorf("reading /proc/%d/stat: no command name", pid)
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return 0, fmt.Errorf("reading /proc/%d/stat: %d fields", pid, len(f))
	}
	var ticks int64
	for _, s := range f[11:13] {
		v, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("reading /proc/%d/stat: %w", pid, err)
		}
		ticks += v
	}
	return time.Duration(ticks) * 10 * time.Millisecond, nil
}

// eventsSection is section 7: fsync per event, then group commit.
func eventsSection(ctx context.Context, bin, dir string) (map[bool]eventsResult, error) {
	fmt.Printf("\n== 7. business events: events serve, 20,000 distinct events from 32 clients, each acknowledged after its fsync\n")
	evs := map[bool]eventsResult{}
	for _, group := range []bool{false, true} {
		r, err := eventsBench(ctx, bin, filepath.Join(dir, fmt.Sprintf("events-%t", group)), 20000, 32, group)
		if err != nil {
			return nil, err
		}
		evs[group] = r
		mode := "fsync per event"
		if group {
			mode = "group commit"
		}
		fmt.Printf("%-16s %.0f events/s acknowledged, latency p50 %.2f ms, p99 %.2f ms, max %.2f ms; receiver CPU %.0f µs/event\n", mode, r.perSecond,
			ms(r.p50), ms(r.p99), ms(r.max), float64(r.cpuPerEvent)/float64(time.Microsecond))
	}
	return evs, nil
}

func runEvents(ctx context.Context, bin, dir string) error {
	evs, err := eventsSection(ctx, bin, dir)
	if err != nil {
		return err
	}
	fmt.Printf("bench: events_fsync_per_s=%.0f events_fsync_p99_ms=%.2f events_group_per_s=%.0f events_group_p99_ms=%.2f events_fsync_cpu_us=%.0f events_group_cpu_us=%.0f\n",
		evs[false].perSecond, ms(evs[false].p99), evs[true].perSecond, ms(evs[true].p99),
		float64(evs[false].cpuPerEvent)/float64(time.Microsecond), float64(evs[true].cpuPerEvent)/float64(time.Microsecond))
	return nil
}
