package warehouse_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/seatlake/seatlake/internal/testservices"
	. "github.com/seatlake/seatlake/load/warehouse"
)

// TestPostgresStoppedMidRun stops the PostgreSQL catalog's server in the middle of a run's commit: once its data
// files are written, or between its two table commits. The commit fails with an error naming the PostgreSQL catalog,
// its address and the refused connection, within bounded time; readers and the watermark stay on the previous
// night. With the server started again (same data directory, same port), the next run completes the night
// exactly: nothing doubled, nothing lost.
func TestPostgresStoppedMidRun(t *testing.T) {
	pg := testservices.StartPostgres(t)
	t.Setenv("PGPASSWORD", pg.Password) // the warehouse directory records the catalog without its password
	for i, step := range []string{"sealed", "committed dataverse_users"} {
		t.Run(step, func(t *testing.T) {
			root := t.TempDir()
			cfg := Config{Root: root, Catalog: pg.CreateDatabase(t, []string{"stopped_sealed", "stopped_between"}[i])}
			if err := storageNight(t, cfg, "r1", 2, nil); err != nil {
				t.Fatal(err)
			}
			var stopped time.Time
			err := withWatchdog(t, 50*time.Second, func() error {
				return storageNight(t, cfg, "r2", 3, func(at string) {
					if at == step {
						pg.Stop(t)
						stopped = time.Now()
					}
				})
			})
			t.Logf("failed %s after the server stopped: %v", time.Since(stopped).Round(time.Millisecond), err)
			if err == nil {
				t.Fatal("the run committed with its catalog's server stopped")
			}
			addr := fmt.Sprintf("%s:%d", pg.Host, pg.Port)
			for _, want := range []string{"PostgreSQL", addr, "connection refused"} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("the error does not name %q: %v", want, err)
				}
			}
			pg.Start(t)
			if got, want := counts(t, root), "2 r1 / 2 r1"; got != want {
				t.Errorf("after the failed run the views show %s, want r1's answers: %s", got, want)
			}
			w, err := OpenConfig(context.Background(), cfg)
			if err != nil {
				t.Fatal(err)
			}
			defer w.Close()
			if st, _, err := w.State("t1", "dynamics"); err != nil || string(st) != "r1" {
				t.Errorf("state %q (%v), want r1's: the failed night must be fetched again", st, err)
			}
			if err := storageNight(t, cfg, "r3", 4, nil); err != nil {
				t.Fatal(err)
			}
			if got, want := counts(t, root), "4 r3 / 4 r3"; got != want {
				t.Errorf("the next run: %s, want %s", got, want)
			}
		})
	}
}

// TestPostgresRestartedMidRun restarts the PostgreSQL catalog's server once a run's data files are written: the
// connections the run holds are dead, and its commit goes through on new ones.
func TestPostgresRestartedMidRun(t *testing.T) {
	pg := testservices.StartPostgres(t)
	t.Setenv("PGPASSWORD", pg.Password)
	root := t.TempDir()
	cfg := Config{Root: root, Catalog: pg.URL}
	if err := storageNight(t, cfg, "r1", 2, nil); err != nil {
		t.Fatal(err)
	}
	err := withWatchdog(t, 50*time.Second, func() error {
		return storageNight(t, cfg, "r2", 3, func(at string) {
			if at == "sealed" {
				pg.Stop(t)
				pg.Start(t)
			}
		})
	})
	if err != nil {
		t.Fatalf("a run whose catalog restarted before its commit: %v", err)
	}
	if got, want := counts(t, root), "3 r2 / 3 r2"; got != want {
		t.Errorf("the views show %s, want %s", got, want)
	}
}
