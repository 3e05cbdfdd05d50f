package warehouse

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	_ "github.com/duckdb/duckdb-go/v2"
	"github.com/xitongsys/parquet-go-source/local"
	"github.com/xitongsys/parquet-go/reader"

	"github.com/seatlake/seatlake/extract/table"
)

var (
	people = table.New("test_people", table.Snapshot, "", "people",
		table.Column{Name: "id", Type: arrow.BinaryTypes.String, Key: true, HighCardinality: true},
		table.Column{Name: "name", Type: arrow.BinaryTypes.String, Nullable: true},
		table.Column{Name: "enabled", Type: arrow.FixedWidthTypes.Boolean, Nullable: true},
		table.Column{Name: "seats", Type: arrow.PrimitiveTypes.Int32, Nullable: true},
		table.Column{Name: "seen_at", Type: table.Timestamp, Nullable: true},
		table.Column{Name: "plans", Type: arrow.ListOf(arrow.BinaryTypes.String), Nullable: true},
	)
	events = table.New("test_events", table.Event, "at", "events",
		table.Column{Name: "id", Type: arrow.BinaryTypes.String, Key: true},
		table.Column{Name: "at", Type: table.Timestamp},
	)
)

const peopleJSON = `[
 {"tenant_id":"t1","run_id":"r1","extracted_at":"2026-11-22T02:00:00Z","id":"a","name":"Adele","enabled":true,"seats":3,"seen_at":"2026-11-20T19:15:41.619583Z","plans":["p1","p2"]},
 {"tenant_id":"t1","run_id":"r1","extracted_at":"2026-11-22T02:00:00Z","id":"b","name":null,"enabled":false,"seats":null,"seen_at":null,"plans":[]},
 {"tenant_id":"t1","run_id":"r1","extracted_at":"2026-11-22T02:00:00Z","id":"c","name":"Ünïcødé ✓","enabled":null,"seats":-7,"seen_at":"1999-12-31T23:59:59.000001Z","plans":null}
]`

func record(t *testing.T, mem memory.Allocator, tbl *table.Table, js string) arrow.RecordBatch {
	t.Helper()
	rec, _, err := array.RecordFromJSON(mem, tbl.Schema(), strings.NewReader(js))
	if err != nil {
		t.Fatal(err)
	}
	return rec
}

var day = time.Date(2026, 11, 22, 2, 0, 0, 0, time.UTC)

// commit writes recs to tbl in one run and commits it.
func commit(t *testing.T, w *Warehouse, run string, tbl *table.Table, mem memory.Allocator, recs ...arrow.RecordBatch) {
	t.Helper()
	txn, err := w.Begin(run, "t1", day, WriterOptions{Allocator: mem})
	if err != nil {
		t.Fatal(err)
	}
	tw, err := txn.Writer(tbl)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range recs {
		if err := tw.Write(context.Background(), r); err != nil {
			t.Fatal(err)
		}
	}
	if err := txn.Commit(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// files lists the visible Parquet files under dir, relative to it.
func files(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	filepath.Walk(dir, func(p string, info os.FileInfo, err error) error {
		if err == nil && !info.IsDir() && strings.HasSuffix(p, ".parquet") && !strings.Contains(p, dirStaging) {
			rel, _ := filepath.Rel(dir, p)
			out = append(out, rel)
		}
		return nil
	})
	sort.Strings(out)
	return out
}

func TestParquetReadsBackThroughTwoOtherImplementations(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	root := t.TempDir()
	w, err := Open(context.Background(), root, nil)
	if err != nil {
		t.Fatal(err)
	}
	rec := record(t, mem, people, peopleJSON)
	defer rec.Release()
	commit(t, w, "r1", people, mem, rec)
	got := files(t, root)
	want := []string{"raw/test_people/tenant=t1/snapshot_date=2026-11-22/r1-1.parquet"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("files %v, want %v", got, want)
	}
	path := filepath.Join(root, want[0])

	t.Run("xitongsys/parquet-go", func(t *testing.T) {
		fr, err := local.NewLocalFileReader(path)
		if err != nil {
			t.Fatal(err)
		}
		defer fr.Close()
		pr, err := reader.NewParquetColumnReader(fr, 1)
		if err != nil {
			t.Fatal(err)
		}
		defer pr.ReadStop()
		if pr.GetNumRows() != 3 {
			t.Fatalf("%d rows", pr.GetNumRows())
		}
		col := func(i int64) []any {
			v, _, _, err := pr.ReadColumnByIndex(i, 10)
			if err != nil {
				t.Fatalf("column %d: %v", i, err)
			}
			return v
		}
		checks := []struct {
			idx  int64
			want string
		}{
			{3, "[a b c]"},
			{4, "[Adele <nil> Ünïcødé ✓]"},
			{5, "[true false <nil>]"},
			{6, "[3 <nil> -7]"},
			{7, fmt.Sprintf("[%d <nil> %d]", time.Date(2026, 11, 20, 19, 15, 41, 619583000, time.UTC).UnixMicro(), time.Date(1999, 12, 31, 23, 59, 59, 1000, time.UTC).UnixMicro())},
			{8, "[p1 p2 <nil> <nil>]"},
		}
		for _, c := range checks {
			if got := fmt.Sprint(col(c.idx)); got != c.want {
				t.Errorf("column %d = %s, want %s", c.idx, got, c.want)
			}
		}
		// The timestamp's logical type: UTC-adjusted microseconds, as BI readers expect.
		for _, el := range pr.Footer.Schema {
			if el.Name == "seen_at" || el.Name == "extracted_at" {
				lt := el.LogicalType
				if lt == nil || lt.TIMESTAMP == nil || !lt.TIMESTAMP.IsAdjustedToUTC || lt.TIMESTAMP.Unit.MICROS == nil {
					t.Errorf("%s logical type %v: want TIMESTAMP(isAdjustedToUTC=true, MICROS)", el.Name, lt)
				}
			}
			if el.Name == "tenant" || el.Name == "snapshot_date" {
				t.Errorf("partition column %s is inside the file", el.Name)
			}
		}
	})

	t.Run("DuckDB", func(t *testing.T) {
		db, err := sql.Open("duckdb", "")
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		rows, err := db.Query(`SELECT id, name, enabled, seats, seen_at, plans, typeof(seen_at), typeof(plans) FROM read_parquet(?) ORDER BY id`, path)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		var got []string
		for rows.Next() {
			var id string
			var name sql.NullString
			var enabled sql.NullBool
			var seats sql.NullInt32
			var seen sql.NullTime
			var plans any
			var tsType, listType string
			if err := rows.Scan(&id, &name, &enabled, &seats, &seen, &plans, &tsType, &listType); err != nil {
				t.Fatal(err)
			}
			ts := "NULL"
			if seen.Valid {
				ts = seen.Time.UTC().Format(time.RFC3339Nano)
			}
			got = append(got, fmt.Sprintf("%s|%v|%v|%v|%s|%v|%s|%s", id, name.String, enabled, seats, ts, plans, tsType, listType))
		}
		want := []string{
			"a|Adele|{true true}|{3 true}|2026-11-20T19:15:41.619583Z|[p1 p2]|TIMESTAMP WITH TIME ZONE|VARCHAR[]",
			"b||{false true}|{0 false}|NULL|[]|TIMESTAMP WITH TIME ZONE|VARCHAR[]",
			"c|Ünïcødé ✓|{false false}|{-7 true}|1999-12-31T23:59:59.000001Z|<nil>|TIMESTAMP WITH TIME ZONE|VARCHAR[]",
		}
		if strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Errorf("DuckDB reads\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
	})
}

func TestUncommittedRunLeavesNoTrace(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	root := t.TempDir()
	w, _ := Open(context.Background(), root, nil)
	rec := record(t, mem, people, peopleJSON)
	defer rec.Release()
	commit(t, w, "r1", people, mem, rec)
	before := files(t, root)

	// A second run writes, puts state, and dies before Commit.
	txn, _ := w.Begin("r2", "t1", day, WriterOptions{Allocator: mem})
	tw, _ := txn.Writer(people)
	if err := tw.Write(context.Background(), rec); err != nil {
		t.Fatal(err)
	}
	txn.PutState("people", []byte(`{"watermark":"x"}`))
	tw.abort() // what a kill leaves: files in staging, nothing committed (the process dies; only release memory here)

	w2, err := Open(context.Background(), root, nil) // the next run
	if err != nil {
		t.Fatal(err)
	}
	unlock, err := w2.Lock(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer unlock()
	if got := files(t, root); fmt.Sprint(got) != fmt.Sprint(before) {
		t.Errorf("files %v, want %v", got, before)
	}
	if left, _ := os.ReadDir(filepath.Join(root, dirStaging)); len(left) != 0 {
		t.Errorf("staging not cleaned: %v", left)
	}
	if _, ok, _ := w2.State("t1", "people"); ok {
		t.Error("state of an uncommitted run is visible")
	}
}

func TestCrashAfterTheMarkerIsRolledForward(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	root := t.TempDir()
	w, _ := Open(context.Background(), root, nil)
	rec := record(t, mem, people, peopleJSON)
	defer rec.Release()
	commit(t, w, "r1", people, mem, rec)

	txn, _ := w.Begin("r2", "t1", day, WriterOptions{Allocator: mem})
	tw, _ := txn.Writer(people)
	tw.Write(context.Background(), rec)
	txn.PutState("people", []byte(`{"watermark":"r2"}`))
	if _, err := txn.seal(context.Background()); err != nil { // the marker is written; the process dies here
		t.Fatal(err)
	}
	w2, err := Open(context.Background(), root, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := files(t, root); len(got) != 1 || !strings.Contains(got[0], "r1-1") {
		t.Errorf("opening the warehouse without the lock changed it: %v", got)
	}
	unlock, err := w2.Lock(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer unlock()
	want := []string{"raw/test_people/tenant=t1/snapshot_date=2026-11-22/r2-1.parquet"}
	if got := files(t, root); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("after recovery: files %v, want %v (r2 replaces r1's snapshot of the same day)", got, want)
	}
	if st, ok, _ := w2.State("t1", "people"); !ok || string(st) != `{"watermark":"r2"}` {
		t.Errorf("state %q %v: want the committed run's state", st, ok)
	}
	if markers, _ := filepath.Glob(filepath.Join(root, dirCommits, "*")); len(markers) != 0 {
		t.Errorf("markers left: %v", markers)
	}
}

func TestStateMovesOnlyWithACommit(t *testing.T) {
	root := t.TempDir()
	w, _ := Open(context.Background(), root, nil)
	txn, _ := w.Begin("r1", "t1", day, WriterOptions{})
	txn.PutState("s", []byte("1"))
	if _, ok, _ := w.State("t1", "s"); ok {
		t.Fatal("state visible before commit")
	}
	if err := txn.Commit(context.Background()); err != nil {
		t.Fatal(err)
	}
	txn2, _ := w.Begin("r2", "t1", day, WriterOptions{})
	txn2.PutState("s", []byte("2"))
	txn2.Abort()
	txn2.Abort() // idempotent
	if v, _, _ := w.State("t1", "s"); string(v) != "1" {
		t.Errorf("state %q after an aborted run, want 1", v)
	}
}

func TestEventRowsLandInTheirDayPartition(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	root := t.TempDir()
	w, _ := Open(context.Background(), root, nil)
	rec := record(t, mem, events, `[
 {"tenant_id":"t1","run_id":"r1","extracted_at":"2026-11-22T02:00:00Z","id":"e1","at":"2026-11-21T23:59:59.999999Z"},
 {"tenant_id":"t1","run_id":"r1","extracted_at":"2026-11-22T02:00:00Z","id":"e2","at":"2026-11-22T00:00:00Z"},
 {"tenant_id":"t1","run_id":"r1","extracted_at":"2026-11-22T02:00:00Z","id":"e3","at":"2026-11-21T08:00:00Z"},
 {"tenant_id":"t1","run_id":"r1","extracted_at":"2026-11-22T02:00:00Z","id":"e4","at":"1969-12-31T12:00:00Z"}
]`)
	defer rec.Release()
	commit(t, w, "r1", events, mem, rec)
	commit(t, w, "r2", events, mem, rec) // events append: views deduplicate
	want := []string{
		"raw/test_events/tenant=t1/event_date=1969-12-31/r1-1.parquet",
		"raw/test_events/tenant=t1/event_date=1969-12-31/r2-1.parquet",
		"raw/test_events/tenant=t1/event_date=2026-11-21/r1-1.parquet",
		"raw/test_events/tenant=t1/event_date=2026-11-21/r2-1.parquet",
		"raw/test_events/tenant=t1/event_date=2026-11-22/r1-1.parquet",
		"raw/test_events/tenant=t1/event_date=2026-11-22/r2-1.parquet",
	}
	if got := files(t, root); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("files\n%v\nwant\n%v", got, want)
	}
}

func TestLockAllowsOneRun(t *testing.T) {
	w, _ := Open(context.Background(), t.TempDir(), nil)
	unlock, err := w.Lock(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Lock(context.Background()); err == nil || !strings.Contains(err.Error(), "another seatlake run") {
		t.Errorf("second lock: %v", err)
	}
	unlock()
	if u, err := w.Lock(context.Background()); err != nil {
		t.Errorf("lock after unlock: %v", err)
	} else {
		u()
	}
}

func TestRejectsAreCommittedWithTheRun(t *testing.T) {
	root := t.TempDir()
	w, _ := Open(context.Background(), root, nil)
	txn, _ := w.Begin("r1", "t1", day, WriterOptions{})
	rw := txn.Rejects(events)
	rw.Write([]byte("{\n  \"id\": \"x\",\n  \"at\": \"yesterday\"\n}"))
	rw.Write([]byte(`not json`))
	if _, err := os.Stat(filepath.Join(root, rw.Path())); err == nil {
		t.Fatal("rejects visible before the commit")
	}
	if err := txn.Commit(context.Background()); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(root, "rejects", "test_events", "tenant=t1", "r1.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	if want := "{\"id\":\"x\",\"at\":\"yesterday\"}\n\"not json\"\n"; string(b) != want || rw.Count() != 2 {
		t.Errorf("rejects %q (%d), want %q", b, rw.Count(), want)
	}
	txn2, _ := w.Begin("r2", "t1", day, WriterOptions{})
	txn2.Rejects(events).Write([]byte(`{}`))
	txn2.Abort()
	if _, err := os.Stat(filepath.Join(root, "rejects", "test_events", "tenant=t1", "r2.jsonl")); err == nil {
		t.Error("an aborted run's rejects are visible")
	}
}
