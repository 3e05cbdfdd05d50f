package warehouse_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/seatlake/seatlake/extract/dataverse"
	"github.com/seatlake/seatlake/extract/finops"
	"github.com/seatlake/seatlake/internal/table"
	"github.com/seatlake/seatlake/load/catalog"
	. "github.com/seatlake/seatlake/load/warehouse"
)

// dynamicsRows is n dataverse_users and n finops_user_roles rows of run for tenant t1.
func dynamicsRows(t *testing.T, mem memory.Allocator, run string, n int) (users, roles arrow.RecordBatch) {
	t.Helper()
	var us, rs []string
	for i := range n {
		us = append(us, fmt.Sprintf(`"environment_url":"https://contoso.crm.dynamics.com","systemuserid":"%s-u%d"`, run, i))
		rs = append(rs, fmt.Sprintf(`"environment_url":"https://contoso.operations.dynamics.com","user_id":"%s-u%d","security_role_identifier":"r"`, run, i))
	}
	return RowsOfRun(t, mem, dataverse.Users, run, us...), RowsOfRun(t, mem, finops.UserRoles, run, rs...)
}

// dynamicsNight commits run's n dataverse_users and finops_user_roles rows of tenant t1, the process dying (the
// simulated crash) at the commit step kill ("" for none).
func dynamicsNight(t *testing.T, w *Warehouse, mem memory.Allocator, run string, n int, kill string) error {
	t.Helper()
	u, r := dynamicsRows(t, mem, run, n)
	defer u.Release()
	defer r.Release()
	txn := WriteUncommitted(t, w, run, WriterOptions{Allocator: mem}, map[*table.Table][]arrow.RecordBatch{dataverse.Users: {u}, finops.UserRoles: {r}},
		map[string]string{"dynamics": run})
	SetFailpoint(w, func(s string) error {
		if s == kill {
			return ErrCrash
		}
		return nil
	})
	defer SetFailpoint(w, nil)
	return txn.Commit(context.Background())
}

// firstNight is a new warehouse (NewTestWarehouse) in which run r1 committed 2 dataverse_users and
// finops_user_roles rows of tenant t1.
func firstNight(t *testing.T) (*Warehouse, memory.Allocator) {
	t.Helper()
	w, mem := NewTestWarehouse(t, Config{})
	if err := dynamicsNight(t, w, mem, "r1", 2, ""); err != nil {
		t.Fatal(err)
	}
	return w, mem
}

// counts is what an analyst sees: the rows of dataverse_users and finops_user_roles and the runs they came from.
func counts(t *testing.T, root string) string {
	t.Helper()
	if err := catalog.Build(context.Background(), root, []*table.Table{dataverse.Users, finops.UserRoles}); err != nil {
		t.Fatal(err)
	}
	return query(t, root, `SELECT (SELECT count(*) || ' ' || string_agg(DISTINCT run_id, ',') FROM dataverse_users) || ' / ' ||
	             (SELECT count(*) || ' ' || string_agg(DISTINCT run_id, ',') FROM finops_user_roles)`)
}

// TestKilledLaterRunNeverDoublesTheSnapshot is the fault the folder protocol had: a later run of the same day, killed
// the moment its new snapshot files stood beside the earlier run's, showed both runs' rows (doubled dataverse_users
// and finops_user_roles) to every reader until the next run. A reader must see the earlier run's answers, exactly,
// and the state of the earlier run; the next run completes the day exactly.
func TestKilledLaterRunNeverDoublesTheSnapshot(t *testing.T) {
	for _, step := range killSteps {
		t.Run(step, func(t *testing.T) {
			w, mem := firstNight(t)
			ctx := context.Background()
			root := w.Root()
			night := func(run string, n int, kill string) error { return dynamicsNight(t, w, mem, run, n, kill) }
			if got, want := counts(t, root), "2 r1 / 2 r1"; got != want {
				t.Fatalf("after r1: %s, want %s", got, want)
			}
			// The later run of the same day (a rerun, or the next night's run before midnight UTC) dies mid-commit.
			if err := night("r2", 3, step); !errors.Is(err, ErrCrash) {
				t.Fatalf("r2 commit: %v, want the simulated crash", err)
			}
			if got, want := counts(t, root), "2 r1 / 2 r1"; got != want {
				t.Errorf("a reader after r2 was killed at %s sees %s, want r1's answers: %s", step, got, want)
			}
			if st, _, err := w.State("t1", "dynamics"); err != nil || string(st) != "r1" {
				t.Errorf("state %q (%v), want r1's", st, err)
			}
			// The next run, another process.
			w2, err := Open(ctx, root, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer w2.Close()
			w = w2
			if err := night("r3", 1, ""); err != nil {
				t.Fatal(err)
			}
			if got, want := counts(t, root), "1 r3 / 1 r3"; got != want {
				t.Errorf("after r3: %s, want %s", got, want)
			}
			if st, _, err := w.State("t1", "dynamics"); err != nil || string(st) != "r3" {
				t.Errorf("state %q (%v), want r3's", st, err)
			}
		})
	}
}

// killSteps are the points of a commit where a process can die with part of the transaction's tables committed:
// after each table's commit, and just before the commit log's row.
var killSteps = []string{"committed dataverse_users", "committed finops_user_roles", "record"}

// TestMaintainKeepsTheSnapshotReadersRead: a tenant's later run killed between two table commits leaves its first
// table committed past the snapshot readers read (the previous complete run's). Maintenance expiring every old
// snapshot must not expire that one: readers would fall back to the table's current snapshot, the killed run's,
// and show its half. The read snapshot is tagged (seatlake-read-<tenant>), and readers see the previous run,
// exactly, until the next complete run.
func TestMaintainKeepsTheSnapshotReadersRead(t *testing.T) {
	w, mem := firstNight(t)
	ctx := context.Background()
	root := w.Root()
	night := func(run string, n int, kill string) error { return dynamicsNight(t, w, mem, run, n, kill) }
	if err := night("r2", 3, "committed dataverse_users"); !errors.Is(err, ErrCrash) {
		t.Fatalf("r2 commit: %v, want the simulated crash", err)
	}
	if run, err := CurrentSnapshotRun(ctx, w, dataverse.Users.Name); err != nil || run != "r2" {
		t.Fatalf("dataverse_users' current snapshot is %q's (%v): the test needs the killed run's commit on top", run, err)
	}
	time.Sleep(5 * time.Millisecond) // every snapshot older than the retention below
	res, err := w.Maintain(ctx, MaintainOptions{Retention: time.Millisecond, Tables: []*table.Table{dataverse.Users, finops.UserRoles}})
	if err != nil {
		t.Fatal(err)
	}
	tagged := 0
	for _, tm := range res {
		tagged += tm.TaggedSnapshots
	}
	if tagged == 0 {
		t.Errorf("maintain tagged no read snapshot: %+v", res)
	}
	if got, want := counts(t, root), "2 r1 / 2 r1"; got != want {
		t.Errorf("after maintenance a reader sees %s, want r1's answers: %s", got, want)
	}
	if err := night("r3", 1, ""); err != nil {
		t.Fatal(err)
	}
	if _, err := w.Maintain(ctx, MaintainOptions{Retention: time.Millisecond}); err != nil {
		t.Fatal(err)
	}
	if got, want := counts(t, root), "1 r3 / 1 r3"; got != want {
		t.Errorf("after r3 and maintenance: %s, want %s", got, want)
	}
	// The tags moved to r3's snapshots: r1's expired, two snapshots (r2's and r3's) or fewer are left.
	if n, err := SnapshotCount(ctx, w, dataverse.Users.Name); err != nil || n > 2 {
		t.Errorf("dataverse_users keeps %d snapshots (%v) after r3 and maintenance: the old read tag did not move", n, err)
	}
}
