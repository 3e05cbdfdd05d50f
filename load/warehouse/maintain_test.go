package warehouse_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/seatlake/seatlake/extract/graph"
	"github.com/seatlake/seatlake/internal/table"
	"github.com/seatlake/seatlake/load/catalog"
	. "github.com/seatlake/seatlake/load/warehouse"
)

// Maintenance expires old snapshots with the files only they held, rewrites manifests and removes old orphans,
// and the views still show each tenant's last run.
func TestMaintainExpiresRewritesAndRemovesOrphans(t *testing.T) {
	w, mem := NewTestWarehouse(t, Config{})
	ctx := context.Background()
	root := w.Root()
	for _, run := range []string{"r1", "r2", "r3"} {
		u := RowsOfRun(t, mem, graph.Users, run, `"id":"u1","sign_in_activity_available":true,"assigned_license_count":1`,
			`"id":"u2","sign_in_activity_available":true,"assigned_license_count":1`)
		txn := WriteUncommitted(t, w, run, WriterOptions{Allocator: mem}, map[*table.Table][]arrow.RecordBatch{graph.Users: {u}}, nil)
		u.Release()
		if err := txn.Commit(ctx); err != nil {
			t.Fatal(err)
		}
	}
	files := func() int {
		ps, _ := filepath.Glob(filepath.Join(root, "raw", "graph_users", "data", "*", "*", "*.parquet"))
		return len(ps)
	}
	if n := files(); n != 3 {
		t.Fatalf("%d files before maintenance, want 3 (two superseded)", n)
	}
	orphan := filepath.Join(root, "raw", "graph_users", "data", "tenant_id=t1", "snapshot_date=2026-11-22", "killed-run.parquet")
	if err := os.WriteFile(orphan, []byte("PAR1"), 0o640); err != nil {
		t.Fatal(err)
	}
	old := time.Now().Add(-48 * time.Hour)
	os.Chtimes(orphan, old, old)
	time.Sleep(10 * time.Millisecond)
	res, err := w.Maintain(ctx, MaintainOptions{Retention: time.Millisecond, OrphanAge: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	byName := map[string]TableMaintenance{}
	for _, tm := range res {
		byName[tm.Table] = tm
	}
	if tm := byName["graph_users"]; tm.ExpiredSnapshots < 2 || tm.OrphanFiles < 1 {
		t.Errorf("graph_users maintenance %+v", tm)
	}
	if _, err := os.Stat(orphan); err == nil {
		t.Error("the orphan file is still there")
	}
	if n := files(); n != 1 {
		t.Errorf("%d files after maintenance, want r3's only", n)
	}
	if err := catalog.BuildFrom(ctx, w, []*table.Table{graph.Users}); err != nil {
		t.Fatal(err)
	}
	if got := query(t, root, "SELECT count(*), any_value(run_id) FROM graph_users"); got != "2,r3" {
		t.Errorf("graph_users after maintenance: %s", got)
	}
}

func TestMaintainRefusesAnUnmigratedWarehouse(t *testing.T) {
	ctx := context.Background()
	root := t.TempDir()
	copyDir(t, filepath.Join("testdata", "legacy"), root)
	w, err := Open(ctx, root, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if _, err := w.Maintain(ctx, MaintainOptions{}); err == nil {
		t.Fatal("maintenance ran on a folder-layout warehouse")
	}
	if ps, _ := filepath.Glob(filepath.Join(root, "raw", "graph_users", "tenant=*", "*", "*.parquet")); len(ps) != 6 {
		t.Errorf("%d legacy files left", len(ps))
	}
}
