package scaleout_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/seatlake/seatlake/internal/tenantsim"
	"github.com/seatlake/seatlake/internal/testservices"
)

// The PostgreSQL catalog's server stops while a `seatlake run` is fetching: the run fails by name (exit 1, one line
// naming the PostgreSQL catalog); with the server back, the next run commits the night and every table equals the
// tenant's truth, nothing doubled in the views.
func TestPostgresStoppedMidRunFailsByName(t *testing.T) {
	pg := testservices.StartPostgres(t)
	sim, base, env := startTenant(t, 2001, func(cfg *tenantsim.Config) {
		cfg.PageLatency = 200 * time.Millisecond // the Dynamics pages take a while: time to stop the server mid-run
	})
	w := warehouseAt{catalog: catalogURL(t, pg), storage: filepath.Join(t.TempDir(), "lake"), env: append([]string{"PGPASSWORD=" + pg.Password}, env...)}
	id, want := truth(t, base)
	wh := t.TempDir()
	run := append([]string{"run", "--quiet"}, w.args(wh)...)
	seatlake(t, w.env, run...) // the first night

	requests := func() int64 {
		var n int64
		for _, v := range sim.Stats().Requests {
			n += v
		}
		return n
	}
	before := requests()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute) // a run that hangs is a failure too
	defer cancel()
	cmd := exec.CommandContext(ctx, seatlakeBin, run...)
	cmd.Env = append(baseEnv(), w.env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(time.Minute); requests() < before+5; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			t.Fatalf("the second run made no requests in a minute:\n%s%s", stdout.String(), stderr.String())
		}
	}
	pg.Stop(t) // mid-run: the run is fetching, its catalog's server goes away
	stopped := time.Now()
	err := cmd.Wait()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 1 {
		t.Fatalf("a run whose catalog stopped: %v (want exit 1)\nstdout:\n%s\nstderr:\n%s", err, stdout.String(), stderr.String())
	}
	t.Logf("exit 1 %s after the server stopped", time.Since(stopped).Round(time.Millisecond))
	// The run's failure is its last line, "seatlake: run failed: …" (the log lines before it are context).
	lines := strings.Split(strings.TrimSpace(stderr.String()), "\n")
	if last := lines[len(lines)-1]; !strings.HasPrefix(last, "seatlake: ") || !strings.Contains(last, "the PostgreSQL catalog") {
		t.Errorf("the failure's line does not name the PostgreSQL catalog: %q\n%s", last, stderr.String())
	}

	pg.Start(t)
	seatlake(t, w.env, run...) // the next night, the server back
	var parts []string
	for _, name := range slices.Sorted(maps.Keys(want)) {
		parts = append(parts, fmt.Sprintf("SELECT '%s' AS tbl, count(*) AS n FROM %s WHERE tenant_id = '%s'", name, name, id))
	}
	rows := csvRows(t, w.env, append([]string{"query"}, w.args(wh)...), strings.Join(parts, " UNION ALL ")+" ORDER BY 1")
	for _, r := range rows {
		if n, _ := strconv.ParseInt(r[1], 10, 64); n != want[r[0]] {
			t.Errorf("after the server came back: %s has %d rows, the tenant %d", r[0], n, want[r[0]])
		}
	}
	if len(rows) != len(want) {
		t.Errorf("%d tables counted, the truth has %d", len(rows), len(want))
	}
	runs := csvRows(t, w.env, append([]string{"query"}, w.args(wh)...), "SELECT status, count(*) FROM runs GROUP BY ALL ORDER BY ALL")
	if len(runs) != 1 || runs[0][0] != "succeeded" || runs[0][1] != "2" {
		t.Errorf("runs: %v, want the two nights that committed as succeeded (the failed one could not reach its catalog)", runs)
	}
}
