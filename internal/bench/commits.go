package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime/pprof"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/seatlake/seatlake/extract/graph"
	"github.com/seatlake/seatlake/internal/testservices"
	"github.com/seatlake/seatlake/load/warehouse"
)

// commitsResult is section 8 at one number of concurrent jobs.
type commitsResult struct {
	jobs, commits, retries, failed int
	wall                           time.Duration
	// commit is each successful Txn.Commit's duration (the table's commit and the commit log's row, retries
	// included), sorted; txn is the whole transaction (Begin, the data file written to the storage, Commit).
	commit, txn []time.Duration
	// firstHalf and secondHalf are the commits a second over the first and the second half of the wall time: a
	// rate that falls as the table's metadata grows shows here.
	firstHalf, secondHalf float64
	// early and late are the median Commit durations of the first and the last quarter of the commits (in the
	// order they landed): each commit adds a snapshot and a manifest to both tables, and a commit reads the
	// manifests, so a commit costs more the more commits came before it.
	early, late time.Duration
}

func (r commitsResult) perSecond() float64 { return float64(r.commits) / r.wall.Seconds() }

func (r commitsResult) retriesPerCommit() float64 {
	return float64(r.retries) / float64(max(r.commits, 1))
}

func quantile(d []time.Duration, q float64) time.Duration {
	if len(d) == 0 {
		return 0
	}
	return d[min(int(q*float64(len(d))), len(d)-1)]
}

// commitsSection is section 8: transactions committed a second into one Iceberg table by 1, 8 and 24 concurrent
// jobs, on a private PostgreSQL (the SQL catalog) and Azurite (abfss:// storage). With either missing it prints
// why and returns no results (the keys are left out of the last line); make bench does not fail for it.
func commitsSection(ctx context.Context, dir string, levels []int, perJob int, budget time.Duration, stateOnly bool) (map[int]commitsResult, error) {
	fmt.Printf("\n== 8. commits into one Iceberg table: %v concurrent jobs, %d commits each or as many as start within %s, "+
		"PostgreSQL catalog + Azurite storage\n", levels, perJob, budget)
	pg, stopPG, err := testservices.RunPostgres()
	var missing *testservices.UnavailableError
	if errors.As(err, &missing) {
		fmt.Printf("skipped: %v\n", err)
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer stopPG()
	az, stopAz, err := testservices.RunAzurite()
	if errors.As(err, &missing) {
		fmt.Printf("skipped: %v\n", err)
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer stopAz()
	// A job finds the storage's credentials in its environment, as `seatlake run` does.
	const connEnv = "AZURE_STORAGE_CONNECTION_STRING"
	prev, had := os.LookupEnv(connEnv)
	os.Setenv(connEnv, az.ConnectionString)
	defer func() {
		if had {
			os.Setenv(connEnv, prev)
		} else {
			os.Unsetenv(connEnv)
		}
	}()

	out := map[int]commitsResult{}
	for _, jobs := range levels {
		// Each level starts from empty tables: its own database (catalog) and storage prefix.
		catalogURL, err := pg.AddDatabase(fmt.Sprintf("commits_%d", jobs))
		if err != nil {
			return nil, err
		}
		storage := fmt.Sprintf("abfss://%s@%s.dfs.core.windows.net/commits-%d", az.Container, az.AccountName, jobs)
		cfg := func(root string) warehouse.Config {
			return warehouse.Config{Root: root, Catalog: catalogURL, Storage: storage}
		}
		r, err := commitLevel(ctx, filepath.Join(dir, fmt.Sprintf("commits-%d", jobs)), cfg, jobs, perJob, budget, stateOnly)
		if err != nil {
			return nil, err
		}
		out[jobs] = r
		fmt.Printf("%2d jobs: %4d commits in %6.2f s = %6.2f commits/s (first half %.2f/s, second half %.2f/s); "+
			"%.2f retries a commit; Commit p50 %.0f ms, p99 %.0f ms, max %.0f ms; whole transaction p50 %.0f ms",
			jobs, r.commits, r.wall.Seconds(), r.perSecond(), r.firstHalf, r.secondHalf, r.retriesPerCommit(),
			ms(quantile(r.commit, 0.5)), ms(quantile(r.commit, 0.99)), ms(quantile(r.commit, 1)), ms(quantile(r.txn, 0.5)))
		if r.failed > 0 {
			fmt.Printf("; %d transactions gave up", r.failed)
		}
		fmt.Printf("\n         Commit p50 over the first quarter of the commits %.0f ms, over the last quarter %.0f ms\n",
			ms(r.early), ms(r.late))
	}
	return out, nil
}

// commitLevel runs jobs concurrent jobs, each with its own warehouse handle (its own catalog connections, as a
// separate process has) and the commit defaults a run has, committing perJob small snapshot-table transactions
// one after another, each for another tenant, as a shard job runs its tenants: Begin, graph_users written (one
// Parquet file on the storage), Commit (the table's commit, then the commit log's row). A job starts no
// transaction once budget has passed (the one under way finishes), so a level that collapses under contention
// still ends; the rate is the commits over the whole wall time. With stateOnly a transaction carries only its
// watermark: the commit log's commit alone.
func commitLevel(ctx context.Context, dir string, cfg func(root string) warehouse.Config, jobs, perJob int, budget time.Duration, stateOnly bool) (commitsResult, error) {
	res := commitsResult{jobs: jobs}
	day := time.Date(2026, 12, 2, 0, 0, 0, 0, time.UTC)
	// The tables are created before the clock starts: a night commits into tables that exist.
	if err := commitOnce(ctx, cfg(filepath.Join(dir, "setup")), "setup", day, stateOnly); err != nil {
		return res, fmt.Errorf("creating the tables: %w", err)
	}
	type done struct {
		at, commit, txn time.Duration
		retries         int
		err             error
	}
	var (
		mu   sync.Mutex
		all  []done
		wg   sync.WaitGroup
		errs = make(chan error, jobs)
	)
	start := time.Now()
	for j := range jobs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := cfg(filepath.Join(dir, fmt.Sprintf("job-%02d", j)))
			w, err := warehouse.OpenConfig(ctx, c)
			if err != nil {
				errs <- fmt.Errorf("job %d: %w", j, err)
				return
			}
			defer w.Close()
			for k := range perJob {
				if time.Since(start) > budget {
					return
				}
				tenant := fmt.Sprintf("tenant-%02d-%03d", j, k)
				t0 := time.Now()
				var d done
				d.err = commitTxn(ctx, w, "run-"+tenant, tenant, day, stateOnly, &d.commit, &d.retries)
				d.txn, d.at = time.Since(t0), time.Since(start)
				mu.Lock()
				all = append(all, d)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	res.wall = time.Since(start)
	close(errs)
	for err := range errs {
		return res, err
	}
	var failures []string
	sort.Slice(all, func(a, b int) bool { return all[a].at < all[b].at })
	var ok []time.Duration
	for _, d := range all {
		if d.err == nil {
			ok = append(ok, d.commit)
		}
	}
	if q := len(ok) / 4; q > 0 {
		early, late := append([]time.Duration(nil), ok[:q]...), append([]time.Duration(nil), ok[len(ok)-q:]...)
		sort.Slice(early, func(a, b int) bool { return early[a] < early[b] })
		sort.Slice(late, func(a, b int) bool { return late[a] < late[b] })
		res.early, res.late = quantile(early, 0.5), quantile(late, 0.5)
	}
	for _, d := range all {
		if d.err != nil {
			res.failed++
			if len(failures) < 3 {
				failures = append(failures, d.err.Error())
			}
			continue
		}
		res.commits++
		res.retries += d.retries
		res.commit = append(res.commit, d.commit)
		res.txn = append(res.txn, d.txn)
		if d.at < res.wall/2 {
			res.firstHalf++
		} else {
			res.secondHalf++
		}
	}
	res.firstHalf /= (res.wall / 2).Seconds()
	res.secondHalf /= (res.wall / 2).Seconds()
	sort.Slice(res.commit, func(a, b int) bool { return res.commit[a] < res.commit[b] })
	sort.Slice(res.txn, func(a, b int) bool { return res.txn[a] < res.txn[b] })
	if res.commits == 0 {
		return res, fmt.Errorf("%d jobs: no transaction committed: %s", jobs, strings.Join(failures, "; "))
	}
	if len(failures) > 0 {
		fmt.Printf("%d jobs: %d transactions gave up, e.g. %s\n", jobs, res.failed, failures[0])
	}
	return res, nil
}

// commitOnce opens a warehouse and commits one transaction of tenant.
func commitOnce(ctx context.Context, cfg warehouse.Config, tenant string, day time.Time, stateOnly bool) error {
	w, err := warehouse.OpenConfig(ctx, cfg)
	if err != nil {
		return err
	}
	defer w.Close()
	var d time.Duration
	var n int
	return commitTxn(ctx, w, "run-"+tenant, tenant, day, stateOnly, &d, &n)
}

// commitTxn commits one tenant's small graph_users snapshot (two users; none with stateOnly) and a watermark, and
// reports how long Commit took and its retries.
func commitTxn(ctx context.Context, w *warehouse.Warehouse, runID, tenant string, day time.Time, stateOnly bool, took *time.Duration, retries *int) error {
	mem := memory.NewGoAllocator()
	rec, _, err := array.RecordFromJSON(mem, graph.Users.Schema(), strings.NewReader(fmt.Sprintf(`[
{"tenant_id":%[1]q,"run_id":%[2]q,"extracted_at":"2026-12-02T02:00:00Z","id":"u1","sign_in_activity_available":true,"assigned_license_count":1},
{"tenant_id":%[1]q,"run_id":%[2]q,"extracted_at":"2026-12-02T02:00:00Z","id":"u2","sign_in_activity_available":true,"assigned_license_count":2}]`, tenant, runID)))
	if err != nil {
		return err
	}
	defer rec.Release()
	txn, err := w.Begin(runID, tenant, day, warehouse.WriterOptions{Allocator: mem})
	if err != nil {
		return err
	}
	defer txn.Abort()
	if !stateOnly {
		tw, err := txn.Writer(graph.Users)
		if err != nil {
			return err
		}
		if err := tw.Write(ctx, rec); err != nil {
			return err
		}
	}
	txn.PutState("graph_signins", []byte(`{"watermark":"2026-12-02T02:00:00Z"}`))
	t0 := time.Now()
	err = txn.Commit(ctx)
	*took, *retries = time.Since(t0), txn.Retries()
	if err != nil {
		return fmt.Errorf("%s: %w", tenant, err)
	}
	return nil
}

// runCommits is -only-commits: section 8 alone.
func runCommits(ctx context.Context, dir string, levels []int, perJob int, budget time.Duration, stateOnly bool) error {
	if cpuProfile != "" { // -cpuprofile: the jobs' side of the commits (PostgreSQL and Azurite are other processes)
		f, err := os.Create(cpuProfile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	res, err := commitsSection(ctx, dir, levels, perJob, budget, stateOnly)
	if err != nil {
		return err
	}
	fmt.Printf("bench:%s\n", commitsKeys(levels, res))
	return nil
}

// commitsKeys are section 8's keys of the last line (none when the section was skipped).
func commitsKeys(levels []int, res map[int]commitsResult) string {
	var b strings.Builder
	for _, jobs := range levels {
		if r, ok := res[jobs]; ok {
			fmt.Fprintf(&b, " commits_per_s_%d=%.2f", jobs, r.perSecond())
		}
	}
	for _, jobs := range levels {
		if r, ok := res[jobs]; ok {
			fmt.Fprintf(&b, " commit_retries_per_commit_%d=%.2f commit_p99_ms_%d=%.0f commit_gave_up_%d=%d", jobs, r.retriesPerCommit(),
				jobs, ms(quantile(r.commit, 0.99)), jobs, r.failed)
		}
	}
	return b.String()
}

// parseLevels reads -commit-jobs: a comma list of positive numbers of concurrent jobs.
func parseLevels(s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		var n int
		if _, err := fmt.Sscan(strings.TrimSpace(f), &n); err != nil || n < 1 {
			return nil, fmt.Errorf("-commit-jobs %q: want a comma list of numbers of jobs, e.g. 1,8,24", s)
		}
		out = append(out, n)
	}
	return out, nil
}
