package warehouse_test

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/seatlake/seatlake/extract/dataverse"
	"github.com/seatlake/seatlake/extract/finops"
	"github.com/seatlake/seatlake/internal/table"
	. "github.com/seatlake/seatlake/load/warehouse"
)

// killHelperEnv makes the test binary, run as a child process, be a run that TestKill9BetweenTableCommits kills:
// its value is the warehouse directory, the commit step to stop at and the marker file to write there, separated
// by newlines.
const killHelperEnv = "SEATLAKE_TEST_KILLED_RUN"

// TestHelperKilledRun is the child process of TestKill9BetweenTableCommits, not a test of its own: a second night's
// run of tenant t1 (3 dataverse_users, 3 finops_user_roles, state "r2") that, at the given commit step, writes the
// marker file and waits to be killed.
func TestHelperKilledRun(t *testing.T) {
	spec := os.Getenv(killHelperEnv)
	if spec == "" {
		return // run by `go test`, not by the parent test
	}
	parts := strings.Split(spec, "\n")
	if len(parts) != 3 {
		t.Fatalf("%s=%q: want root, step and marker", killHelperEnv, spec)
	}
	root, step, marker := parts[0], parts[1], parts[2]
	ctx := context.Background()
	w, err := Open(ctx, root, nil)
	if err != nil {
		t.Fatal(err)
	}
	mem := memory.NewGoAllocator()
	u, r := dynamicsRows(t, mem, "r2", 3)
	txn := WriteUncommitted(t, w, "r2", WriterOptions{Allocator: mem}, map[*table.Table][]arrow.RecordBatch{dataverse.Users: {u}, finops.UserRoles: {r}},
		map[string]string{"dynamics": "r2"})
	SetFailpoint(w, func(s string) error {
		if s != step {
			return nil
		}
		if err := os.WriteFile(marker, []byte(s), 0o600); err != nil {
			return err
		}
		time.Sleep(time.Hour) // the parent kills the process here
		return nil
	})
	err = txn.Commit(ctx)
	t.Fatalf("the commit returned (%v) instead of waiting at %s to be killed", err, step)
}

// TestKill9BetweenTableCommits kills (SIGKILL, no deferred code, no cleanup) a real process in the middle of its
// commit: after its first table's new snapshot landed in the catalog, after its second's, and just before its
// commit log row. Every time, an analyst still sees the previous night's answers exactly (not both nights' rows,
// the fault of the folder protocol: doubled dataverse_users and finops_user_roles), the watermark is the previous
// night's (the killed night is fetched again), and the next run completes the night exactly.
func TestKill9BetweenTableCommits(t *testing.T) {
	for _, step := range killSteps {
		t.Run(step, func(t *testing.T) {
			ctx := context.Background()
			mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
			defer mem.AssertSize(t, 0)
			root := t.TempDir()
			night := func(run string, n int) {
				t.Helper()
				w, err := Open(ctx, root, nil)
				if err != nil {
					t.Fatal(err)
				}
				defer w.Close()
				u, r := dynamicsRows(t, mem, run, n)
				defer u.Release()
				defer r.Release()
				txn := WriteUncommitted(t, w, run, WriterOptions{Allocator: mem}, map[*table.Table][]arrow.RecordBatch{dataverse.Users: {u}, finops.UserRoles: {r}},
					map[string]string{"dynamics": run})
				if err := txn.Commit(ctx); err != nil {
					t.Fatal(err)
				}
			}
			night("r1", 2)
			if got, want := counts(t, root), "2 r1 / 2 r1"; got != want {
				t.Fatalf("after r1: %s, want %s", got, want)
			}

			out := killAt(t, root, step)

			w, err := Open(ctx, root, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer w.Close()
			// The kill happened where it was meant to: the tables committed before it carry r2's snapshot, for any
			// engine that reads a table's current snapshot.
			wantDirect := map[string]string{"dataverse_users": "r2", "finops_user_roles": "r1"}
			if step != "committed dataverse_users" {
				wantDirect["finops_user_roles"] = "r2"
			}
			for name, want := range wantDirect {
				if got, err := CurrentSnapshotRun(ctx, w, name); err != nil || got != want {
					t.Errorf("%s's current snapshot is run %q (%v), want %s: the child was not killed at %s\n%s", name, got, err, want, step, out)
				}
			}
			if got, want := counts(t, root), "2 r1 / 2 r1"; got != want {
				t.Errorf("a reader after r2 was killed (kill -9) at %s sees %s, want r1's answers: %s", step, got, want)
			}
			if st, ok, err := w.State("t1", "dynamics"); err != nil || !ok || string(st) != "r1" {
				t.Errorf("state %q %v (%v), want r1's: the killed night must be fetched again", st, ok, err)
			}
			w.Close()

			night("r3", 4)
			if got, want := counts(t, root), "4 r3 / 4 r3"; got != want {
				t.Errorf("after the next run r3: %s, want %s", got, want)
			}
			w2, err := Open(ctx, root, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer w2.Close()
			if st, _, err := w2.State("t1", "dynamics"); err != nil || string(st) != "r3" {
				t.Errorf("state %q (%v), want r3's", st, err)
			}
		})
	}
}

// killAt runs TestHelperKilledRun as a child process, waits until it stands at step and kills it with SIGKILL
// (Process.Kill). It returns the child's output.
func killAt(t *testing.T, root, step string) string {
	t.Helper()
	marker := filepath.Join(t.TempDir(), "at-step")
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperKilledRun$", "-test.count=1", "-test.v")
	cmd.Env = append(os.Environ(), killHelperEnv+"="+strings.Join([]string{root, step, marker}, "\n"))
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	deadline := time.After(45 * time.Second)
	for {
		if _, err := os.Stat(marker); err == nil {
			break
		}
		select {
		case err := <-exited:
			t.Fatalf("the child exited (%v) before reaching %s:\n%s", err, step, out.String())
		case <-deadline:
			_ = cmd.Process.Kill()
			<-exited
			t.Fatalf("the child did not reach %s within 45 s:\n%s", step, out.String())
		case <-time.After(10 * time.Millisecond):
		}
	}
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	err := <-exited
	if err == nil || cmd.ProcessState.Success() {
		t.Fatalf("the child ended with %v (%s), want killed", err, cmd.ProcessState)
	}
	return out.String()
}
