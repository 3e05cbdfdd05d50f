package warehouse_test

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/iceberg-go"
	"github.com/apache/iceberg-go/catalog"
	sqlcat "github.com/apache/iceberg-go/catalog/sql"
	itable "github.com/apache/iceberg-go/table"

	"github.com/seatlake/seatlake/extract/graph"
	"github.com/seatlake/seatlake/internal/table"
	lcatalog "github.com/seatlake/seatlake/load/catalog"
	. "github.com/seatlake/seatlake/load/warehouse"
)

// currentIDs scans a table's current snapshot as another engine reads it (iceberg-go through the catalog) and
// returns its ids, sorted, and its number of data files.
func currentIDs(t *testing.T, root, name string) ([]string, int) {
	t.Helper()
	ctx := context.Background()
	cat, err := catalog.Load(ctx, "seatlake", iceberg.Properties{
		"type": "sql", "uri": "file:" + filepath.Join(root, EmbeddedCatalogFile), sqlcat.DriverKey: "sqlite", sqlcat.DialectKey: string(sqlcat.SQLite),
	})
	if err != nil {
		t.Fatal(err)
	}
	it, err := cat.LoadTable(ctx, itable.Identifier{Namespace, name})
	if err != nil {
		t.Fatal(err)
	}
	tasks, err := it.Scan().PlanFiles(ctx)
	if err != nil {
		t.Fatal(err)
	}
	tbl, err := it.Scan(itable.WithSelectedFields("id")).ToArrowTable(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tbl.Release()
	var ids []string
	for _, chunk := range tbl.Column(0).Data().Chunks() {
		s := chunk.(*array.String)
		for i := range s.Len() {
			ids = append(ids, s.Value(i))
		}
	}
	slices.Sort(ids)
	return ids, len(tasks)
}

// Maintenance compacts the small files of a tenant-day partition into one with a replace commit: engines reading
// the current snapshot see the same rows in one file; the views, which read each tenant's recorded snapshot, show
// the same rows before and after; expiry keeps the recorded snapshot (tagged) and its small files until a later
// complete run of the tenant replaces it; a partition a killed run left in the table is not compacted into it.
func TestMaintainCompactsSmallFilesAndKeepsTheReadSet(t *testing.T) {
	w, mem := NewTestWarehouse(t, Config{})
	ctx := context.Background()
	root := w.Root()
	tables := []*table.Table{graph.Users, graph.SignIns}
	tiny := WriterOptions{Allocator: mem, FileRows: 1} // one file per row: a partition of small files
	user := func(id string) string {
		return fmt.Sprintf(`"id":%q,"sign_in_activity_available":true,"assigned_license_count":1`, id)
	}
	signIn := func(id, at string) string {
		return fmt.Sprintf(`"id":%q,"created_at":%q,"app_display_name":"Teams"`, id, at)
	}
	// r1: three users and two sign-ins of the 21st; r2: the lookback's copy of s2 and a new one, appended.
	u := RowsOfRun(t, mem, graph.Users, "r1", user("a"), user("b"), user("c"))
	s1 := RowsOfRun(t, mem, graph.SignIns, "r1", signIn("s1", "2026-11-21T10:00:00Z"), signIn("s2", "2026-11-21T11:00:00Z"))
	txn := WriteUncommitted(t, w, "r1", tiny, map[*table.Table][]arrow.RecordBatch{graph.Users: {u}, graph.SignIns: {s1}}, nil)
	if err := txn.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	s2 := RowsOfRun(t, mem, graph.SignIns, "r2", signIn("s2", "2026-11-21T11:00:00Z"), signIn("s3", "2026-11-21T12:00:00Z"))
	txn = WriteUncommitted(t, w, "r2", tiny, map[*table.Table][]arrow.RecordBatch{graph.SignIns: {s2}}, nil)
	if err := txn.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	for _, r := range []arrow.RecordBatch{u, s1, s2} {
		r.Release()
	}
	views := map[string]string{
		"SELECT string_agg(id, ' ' ORDER BY id) FROM graph_users":                 "a b c",
		"SELECT string_agg(id, ' ' ORDER BY id) FROM graph_signins":               "s1 s2 s3",
		"SELECT count(*), count(DISTINCT run_id) FROM graph_signins_history":      "4,2",
		"SELECT count(*), min(snapshot_date) FROM graph_users_history":            "3,2026-11-22",
		"SELECT count(*) FROM graph_signins WHERE event_date = DATE '2026-11-21'": "3",
	}
	checkViews := func(when string) {
		t.Helper()
		if err := lcatalog.BuildFrom(ctx, w, tables); err != nil {
			t.Fatal(err)
		}
		for q, want := range views {
			if got := query(t, root, q); got != want {
				t.Errorf("%s: %s\ngot  %s\nwant %s", when, q, got, want)
			}
		}
	}
	checkViews("before compaction")
	smallFiles := func(name string) []string {
		ps, _ := filepath.Glob(filepath.Join(root, "raw", name, "data", "tenant_id=t1", "*", "r[12]-*.parquet"))
		return ps
	}
	if n := len(smallFiles("graph_users")) + len(smallFiles("graph_signins")); n != 7 {
		t.Fatalf("%d small files written, want 3 users and 4 sign-ins", n)
	}

	res, err := w.Maintain(ctx, MaintainOptions{Tables: tables, OrphanAge: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	byName := map[string]TableMaintenance{}
	for _, tm := range res {
		byName[tm.Table] = tm
	}
	if tm := byName["graph_users"]; tm.CompactedPartitions != 1 || tm.CompactedFiles != 3 {
		t.Errorf("graph_users: %+v, want one partition of 3 files compacted", tm)
	}
	if tm := byName["graph_signins"]; tm.CompactedPartitions != 1 || tm.CompactedFiles != 4 {
		t.Errorf("graph_signins: %+v, want one partition of 4 files compacted", tm)
	}
	if tm := byName["seatlake_commits"]; tm.CompactedPartitions != 0 {
		t.Errorf("the commit log was compacted: %+v", tm)
	}
	// What engines read: the same rows, one file per partition.
	if ids, files := currentIDs(t, root, "graph_users"); !slices.Equal(ids, []string{"a", "b", "c"}) || files != 1 {
		t.Errorf("graph_users' current snapshot: %v in %d files", ids, files)
	}
	if ids, files := currentIDs(t, root, "graph_signins"); !slices.Equal(ids, []string{"s1", "s2", "s2", "s3"}) || files != 1 {
		t.Errorf("graph_signins' current snapshot: %v in %d files", ids, files)
	}
	// What the views read: the recorded snapshots, whose small files are all still there.
	if n := len(smallFiles("graph_users")) + len(smallFiles("graph_signins")); n != 7 {
		t.Errorf("%d small files left while the recorded snapshots name them, want 7", n)
	}
	checkViews("after compaction")
	rs, err := w.ReadSet(ctx, tables)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(rs.Tables["graph_users"].Files); n != 3 {
		t.Errorf("the views read %d graph_users files, want the recorded run's 3", n)
	}

	// Expiry keeps the recorded snapshots (each is tagged as a tenant's read snapshot), so their small files stay
	// while the views read them.
	time.Sleep(5 * time.Millisecond)
	res, err = w.Maintain(ctx, MaintainOptions{Tables: tables, Retention: time.Millisecond, OrphanAge: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	for _, tm := range res {
		if tm.CompactedPartitions != 0 {
			t.Errorf("compacted again: %+v", tm)
		}
	}
	if n := len(smallFiles("graph_users")) + len(smallFiles("graph_signins")); n != 7 {
		t.Errorf("%d small files left after expiry, want the 7 the recorded snapshots name", n)
	}
	checkViews("after expiry")

	// r4 writes the 22nd again in small files; then a run killed after committing graph_users, before its commit
	// log row: its partition (the 23rd) is not in the tenant's recorded snapshot, and is not compacted; r4's is.
	u = RowsOfRun(t, mem, graph.Users, "r4", user("a"), user("b"), user("c"))
	txn = WriteUncommitted(t, w, "r4", tiny, map[*table.Table][]arrow.RecordBatch{graph.Users: {u}}, nil)
	if err := txn.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	u.Release()
	killed, err := w.Begin("r3", "t1", RunDay.AddDate(0, 0, 1), tiny)
	if err != nil {
		t.Fatal(err)
	}
	tw, err := killed.Writer(graph.Users)
	if err != nil {
		t.Fatal(err)
	}
	k := RowsOfRun(t, mem, graph.Users, "r3", user("x"), user("y"))
	if err := tw.Write(ctx, k); err != nil {
		t.Fatal(err)
	}
	k.Release()
	SetFailpoint(w, func(step string) error {
		if step == "record" {
			return ErrCrash
		}
		return nil
	})
	if err := killed.Commit(ctx); err == nil {
		t.Fatal("the killed run committed")
	}
	SetFailpoint(w, nil)
	res, err = w.Maintain(ctx, MaintainOptions{Tables: tables, OrphanAge: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	for _, tm := range res {
		if tm.Table == "graph_users" && (tm.CompactedPartitions != 1 || tm.CompactedFiles != 3) {
			t.Errorf("graph_users with a killed run's partition: %+v, want r4's partition of 3 files compacted, not the killed run's", tm)
		}
	}
	if ps, _ := filepath.Glob(filepath.Join(root, "raw", "graph_users", "data", "tenant_id=t1", "snapshot_date=2026-11-23", "r3-*.parquet")); len(ps) != 2 {
		t.Errorf("the killed run's files: %v", ps)
	}
	// r4 is graph_users' recorded snapshot now: once the older snapshots expire, r1's small users files go; the
	// views show r4's users, never the killed run's.
	time.Sleep(5 * time.Millisecond)
	if _, err := w.Maintain(ctx, MaintainOptions{Tables: tables, Retention: time.Millisecond, OrphanAge: time.Hour}); err != nil {
		t.Fatal(err)
	}
	if n := len(smallFiles("graph_users")); n != 0 {
		t.Errorf("%d of r1's small users files left after their snapshots expired", n)
	}
	checkViews("after r4, a killed run and expiry")
}
