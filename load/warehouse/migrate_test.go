package warehouse_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/seatlake/seatlake/extract/graph"
	"github.com/seatlake/seatlake/internal/table"
	"github.com/seatlake/seatlake/load/catalog"
	. "github.com/seatlake/seatlake/load/warehouse"
)

func copyDir(t *testing.T, src, dst string) {
	t.Helper()
	err := filepath.WalkDir(src, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(dst, rel), 0o750)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), b, 0o640)
	})
	if err != nil {
		t.Fatal(err)
	}
}

func query(t *testing.T, root, q string) string {
	t.Helper()
	var out strings.Builder
	if err := catalog.Query(context.Background(), root, q, "csv", &out); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	_, rows, _ := strings.Cut(strings.TrimSpace(out.String()), "\n")
	return rows
}

// TestMigrateKeepsEveryRowOfAFolderLayoutWarehouse migrates testdata/legacy, written by the folder protocol's code
// (two tenants, three nights of users, overlapping sign-ins, marts, runs, state, rejects), and reads it back through
// the views as an analyst would.
func TestMigrateKeepsEveryRowOfAFolderLayoutWarehouse(t *testing.T) {
	ctx := context.Background()
	root := t.TempDir()
	copyDir(t, filepath.Join("testdata", "legacy"), root)
	tables := []*table.Table{graph.Users, graph.SignIns, LegacyPeople, LegacyRuns}
	w, err := Open(ctx, root, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if !w.NeedsMigration(tables) {
		t.Fatal("the folder layout was not detected")
	}
	m, err := w.Migrate(ctx, tables)
	if err != nil {
		t.Fatal(err)
	}
	if m.Files != 28 || m.Tables["graph_users"] != 24 || m.Tables["graph_signins"] != 28 || m.Tables["test_people"] != 24 || m.Tables["runs"] != 6 {
		t.Errorf("migrated %d files, rows %v", m.Files, m.Tables)
	}
	if err := catalog.BuildFrom(ctx, w, tables); err != nil {
		t.Fatal(err)
	}
	for q, want := range map[string]string{
		// Every night of history, per tenant.
		"SELECT tenant_id, snapshot_date, count(*) FROM graph_users_history GROUP BY ALL ORDER BY ALL": "t1,2026-11-20,3\nt1,2026-11-21,4\nt1,2026-11-22,5\nt2,2026-11-20,3\nt2,2026-11-21,4\nt2,2026-11-22,5",
		"SELECT tenant_id, count(*), max(snapshot_date) FROM graph_users GROUP BY ALL ORDER BY ALL":    "t1,5,2026-11-22\nt2,5,2026-11-22",
		// Every stored copy of the sign-ins, and each once in the default view.
		"SELECT count(*) FROM graph_signins_history":                                                    "28",
		"SELECT tenant_id, count(*) FROM graph_signins GROUP BY ALL ORDER BY ALL":                       "t1,12\nt2,12",
		"SELECT event_date, count(*) FROM graph_signins WHERE tenant_id = 't1' GROUP BY ALL ORDER BY 1": "2026-11-20,3\n2026-11-21,4\n2026-11-22,5",
		"SELECT count(*), count(DISTINCT snapshot_date), min(plans) FROM test_people_history":           "24,3,\"[\"\"a\"\",\"\"b\"\"]\"",
		"SELECT tenant_id, count(*) FROM runs GROUP BY ALL ORDER BY ALL":                                "t1,3\nt2,3",
	} {
		if got := query(t, root, q); got != want {
			t.Errorf("%s\ngot\n%s\nwant\n%s", q, got, want)
		}
	}
	if v, ok, err := w.State("t2", "graph_signins"); !ok || err != nil || string(v) != `{"watermark":"2026-11-22T02:00:00Z"}` {
		t.Errorf("t2's watermark %q %v %v", v, ok, err)
	}
	if rejects, _ := filepath.Glob(filepath.Join(root, "rejects", "graph_signins", "tenant=*", "*.jsonl")); len(rejects) != 6 {
		t.Errorf("%d reject files", len(rejects))
	}
	if w.NeedsMigration(tables) {
		t.Error("still in the folder layout after the migration")
	}
	if left, _ := filepath.Glob(filepath.Join(root, LegacyDir, "raw", "graph_users", "tenant=*", "*", "*.parquet")); len(left) != 6 {
		t.Errorf("%d legacy graph_users files kept aside", len(left))
	}
	// Again: nothing to do, nothing doubled.
	if _, err := w.Migrate(ctx, tables); err != nil {
		t.Fatal(err)
	}
	if err := catalog.BuildFrom(ctx, w, tables); err != nil {
		t.Fatal(err)
	}
	if got := query(t, root, "SELECT count(*) FROM graph_users_history"); got != "24" {
		t.Errorf("after a second migration: %s users", got)
	}
}
