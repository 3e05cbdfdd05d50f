package warehouse

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
	"github.com/apache/arrow-go/v18/parquet/schema"
	_ "github.com/duckdb/duckdb-go/v2"
	"github.com/xitongsys/parquet-go-source/local"
	"github.com/xitongsys/parquet-go/reader"

	"github.com/seatlake/seatlake/extract/graph"
	"github.com/seatlake/seatlake/extract/table"
	"github.com/seatlake/seatlake/load/catalog"
)

// people has one column of every type the warehouse uses.
var people = table.New("test_people", table.Snapshot, "", "people",
	table.Column{Name: "id", Type: arrow.BinaryTypes.String, Key: true, HighCardinality: true},
	table.Column{Name: "name", Type: arrow.BinaryTypes.String, Nullable: true},
	table.Column{Name: "enabled", Type: arrow.FixedWidthTypes.Boolean, Nullable: true},
	table.Column{Name: "seats", Type: arrow.PrimitiveTypes.Int32, Nullable: true},
	table.Column{Name: "seen_at", Type: table.Timestamp, Nullable: true},
	table.Column{Name: "plans", Type: arrow.ListOf(arrow.BinaryTypes.String), Nullable: true},
)

const peopleJSON = `[
 {"tenant_id":"t1","run_id":"r1","extracted_at":"2026-11-22T02:00:00Z","id":"a","name":"Adele","enabled":true,"seats":3,"seen_at":"2026-11-20T19:15:41.619583Z","plans":["p1","p2"]},
 {"tenant_id":"t1","run_id":"r1","extracted_at":"2026-11-22T02:00:00Z","id":"b","name":null,"enabled":false,"seats":null,"seen_at":null,"plans":[]},
 {"tenant_id":"t1","run_id":"r1","extracted_at":"2026-11-22T02:00:00Z","id":"c","name":"Ünïcødé ✓","enabled":null,"seats":-7,"seen_at":"1999-12-31T23:59:59.000001Z","plans":null}
]`

var day = time.Date(2026, 11, 22, 2, 0, 0, 0, time.UTC)

func record(t *testing.T, mem memory.Allocator, tbl *table.Table, js string) arrow.RecordBatch {
	t.Helper()
	rec, _, err := array.RecordFromJSON(mem, tbl.Schema(), strings.NewReader(js))
	if err != nil {
		t.Fatalf("%s fixture: %v", tbl.Name, err)
	}
	return rec
}

// users is graph_users rows of run for the given ids.
func users(t *testing.T, mem memory.Allocator, run string, ids ...string) arrow.RecordBatch {
	var rows []string
	for _, id := range ids {
		rows = append(rows, fmt.Sprintf(`{"tenant_id":"t1","run_id":%q,"extracted_at":"2026-11-22T02:00:00Z","id":%q,"sign_in_activity_available":true,"assigned_license_count":1}`, run, id))
	}
	return record(t, mem, graph.Users, "["+strings.Join(rows, ",")+"]")
}

// signIns is graph_signins rows of run: pairs of id and createdDateTime.
func signIns(t *testing.T, mem memory.Allocator, run string, idAt ...string) arrow.RecordBatch {
	var rows []string
	for i := 0; i < len(idAt); i += 2 {
		rows = append(rows, fmt.Sprintf(`{"tenant_id":"t1","run_id":%q,"extracted_at":"2026-11-22T02:00:00Z","id":%q,"created_at":%q,"app_display_name":"Teams"}`, run, idAt[i], idAt[i+1]))
	}
	return record(t, mem, graph.SignIns, "["+strings.Join(rows, ",")+"]")
}

// commit writes each table's batches in one run and commits it.
func commit(t *testing.T, w *Warehouse, run string, opts WriterOptions, batches map[*table.Table][]arrow.RecordBatch, state map[string]string) {
	t.Helper()
	txn := write(t, w, run, opts, batches, state)
	if err := txn.Commit(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func write(t *testing.T, w *Warehouse, run string, opts WriterOptions, batches map[*table.Table][]arrow.RecordBatch, state map[string]string) *Txn {
	t.Helper()
	txn, err := w.Begin(run, "t1", day, opts)
	if err != nil {
		t.Fatal(err)
	}
	for tbl, recs := range batches {
		tw, err := txn.Writer(tbl)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range recs {
			if err := tw.Write(context.Background(), r); err != nil {
				t.Fatal(err)
			}
		}
	}
	for k, v := range state {
		txn.PutState(k, []byte(v))
	}
	return txn
}

// files lists the visible Parquet files under root (not staging), relative to it, with slashes.
func files(t *testing.T, root string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == dirStaging || d.Name() == dirCommits) {
			return filepath.SkipDir
		}
		if !d.IsDir() && strings.HasSuffix(p, ".parquet") {
			rel, _ := filepath.Rel(root, p)
			out = append(out, filepath.ToSlash(rel))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(out)
	return out
}

func entries(t *testing.T, dir string) []string {
	t.Helper()
	es, err := os.ReadDir(dir)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		t.Fatal(err)
	}
	var names []string
	for _, e := range es {
		names = append(names, e.Name())
	}
	return names
}

// view asks the catalog's views, as an analyst would, and returns the CSV without its header.
func view(t *testing.T, root, query string) string {
	t.Helper()
	ctx := context.Background()
	if err := catalog.Build(ctx, root, append(graph.Tables(), people)); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := catalog.Query(ctx, root, query, "csv", &out); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	_, rows, _ := strings.Cut(strings.TrimSpace(out.String()), "\n")
	return rows
}

func TestParquetRoundTripAndInteroperability(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	root := t.TempDir()
	w, err := Open(context.Background(), root, nil)
	if err != nil {
		t.Fatal(err)
	}
	rec := record(t, mem, people, peopleJSON)
	defer rec.Release()
	commit(t, w, "r1", WriterOptions{Allocator: mem}, map[*table.Table][]arrow.RecordBatch{people: {rec}}, nil)
	want := []string{"raw/test_people/tenant=t1/snapshot_date=2026-11-22/r1-1.parquet"}
	if got := files(t, root); !slices.Equal(got, want) {
		t.Fatalf("files %v, want %v", got, want)
	}
	path := filepath.Join(root, want[0])

	t.Run("arrow-go reads back the exact batch", func(t *testing.T) {
		f, err := os.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		tbl, err := pqarrow.ReadTable(context.Background(), f, nil, pqarrow.ArrowReadProperties{}, mem)
		if err != nil {
			t.Fatal(err)
		}
		defer tbl.Release()
		tr := array.NewTableReader(tbl, -1)
		defer tr.Release()
		if !tr.Next() {
			t.Fatal("no rows")
		}
		got := tr.RecordBatch()
		// The stored Arrow schema brings the declared types back: timestamp[us, tz=UTC], list<string>.
		for i, f := range got.Schema().Fields() {
			if wt := people.Schema().Field(i).Type; !arrow.TypeEqual(f.Type, wt) {
				t.Errorf("column %s: type %s, want %s", f.Name, f.Type, wt)
			}
		}
		if !array.RecordEqual(got, rec) {
			t.Errorf("read back\n%v\nwant\n%v", got, rec)
		}
	})

	t.Run("Parquet logical types", func(t *testing.T) {
		r, err := file.OpenParquetFile(path, false)
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		sc := r.MetaData().Schema
		types := map[string]string{}
		for i := range sc.NumColumns() {
			c := sc.Column(i)
			types[c.Path()] = c.LogicalType().String()
			if c.Path() == "tenant" || c.Path() == "snapshot_date" {
				t.Errorf("partition column %s is inside the file", c.Path())
			}
		}
		for col, want := range map[string]string{
			"seen_at":            schema.NewTimestampLogicalType(true, schema.TimeUnitMicros).String(),
			"extracted_at":       schema.NewTimestampLogicalType(true, schema.TimeUnitMicros).String(),
			"plans.list.element": schema.StringLogicalType{}.String(),
			"seats":              schema.NewIntLogicalType(32, true).String(),
			"id":                 schema.StringLogicalType{}.String(),
		} {
			if types[col] != want {
				t.Errorf("%s: logical type %s, want %s", col, types[col], want)
			}
		}
		if lt := sc.Root().Field(sc.Root().FieldIndexByName("plans")).LogicalType(); !lt.Equals(schema.ListLogicalType{}) {
			t.Errorf("plans: logical type %s, want LIST", lt)
		}
	})

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
		checks := []struct {
			idx  int64
			want string
		}{
			{3, "[a b c]"},
			{4, "[Adele <nil> Ünïcødé ✓]"},
			{5, "[true false <nil>]"},
			{6, "[3 <nil> -7]"},
			{7, fmt.Sprintf("[%d <nil> %d]", time.Date(2026, 11, 20, 19, 15, 41, 619583000, time.UTC).UnixMicro(), time.Date(1999, 12, 31, 23, 59, 59, 1000, time.UTC).UnixMicro())},
			{8, "[p1 p2 <nil> <nil>]"}, // leaf values: the empty list and the NULL list have no element
		}
		for _, c := range checks {
			v, _, _, err := pr.ReadColumnByIndex(c.idx, 10)
			if err != nil {
				t.Fatalf("column %d: %v", c.idx, err)
			}
			if got := fmt.Sprint(v); got != c.want {
				t.Errorf("column %d = %s, want %s", c.idx, got, c.want)
			}
		}
		for _, el := range pr.Footer.Schema {
			if el.Name == "seen_at" || el.Name == "extracted_at" {
				lt := el.LogicalType
				if lt == nil || lt.TIMESTAMP == nil || !lt.TIMESTAMP.IsAdjustedToUTC || lt.TIMESTAMP.Unit.MICROS == nil {
					t.Errorf("%s logical type %v: want TIMESTAMP(isAdjustedToUTC=true, MICROS)", el.Name, lt)
				}
			}
		}
	})

	t.Run("DuckDB", func(t *testing.T) {
		db, err := sql.Open("duckdb", "")
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		rows, err := db.Query(`SELECT id, name, enabled, seats, seen_at, plans, typeof(seen_at), typeof(plans), typeof(seats)
			FROM read_parquet(?) ORDER BY id`, path)
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
			var tsType, listType, intType string
			if err := rows.Scan(&id, &name, &enabled, &seats, &seen, &plans, &tsType, &listType, &intType); err != nil {
				t.Fatal(err)
			}
			ts := "NULL"
			if seen.Valid {
				ts = seen.Time.UTC().Format(time.RFC3339Nano)
			}
			got = append(got, fmt.Sprintf("%s|%v|%v|%v|%s|%v|%s|%s|%s", id, name, enabled, seats, ts, plans, tsType, listType, intType))
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		want := []string{
			"a|{Adele true}|{true true}|{3 true}|2026-11-20T19:15:41.619583Z|[p1 p2]|TIMESTAMP WITH TIME ZONE|VARCHAR[]|INTEGER",
			"b|{ false}|{false true}|{0 false}|NULL|[]|TIMESTAMP WITH TIME ZONE|VARCHAR[]|INTEGER",
			"c|{Ünïcødé ✓ true}|{false false}|{-7 true}|1999-12-31T23:59:59.000001Z|<nil>|TIMESTAMP WITH TIME ZONE|VARCHAR[]|INTEGER",
		}
		if !slices.Equal(got, want) {
			t.Errorf("DuckDB reads\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
	})
}

var errCrash = errors.New("simulated crash")

// TestKilledRunsLeaveTheWarehouseAsBeforeOrRolledForward kills a run (r2, replacing r1's snapshot of the same day,
// adding sign-ins, moving the watermark) at every step of its commit, then opens the warehouse as the next run
// would: before the marker nothing of r2 may show, after it all of r2 must.
func TestKilledRunsLeaveTheWarehouseAsBeforeOrRolledForward(t *testing.T) {
	steps := []struct {
		step      string // where the process dies; "" = before Commit is even called
		committed bool
	}{
		{"", false},
		{"sealed", false}, // files finished and fsynced, no marker yet
		{"marked", true},  // marker written, nothing moved
		{"first-move", true},
		{"moved", true},    // every file moved, superseded snapshot files still there
		{"replaced", true}, // state not written
		{"state", true},    // marker not removed
	}
	before := struct{ files, users, signIns, state string }{
		files: "raw/graph_signins/tenant=t1/event_date=2026-11-21/r1-1.parquet raw/graph_users/tenant=t1/snapshot_date=2026-11-22/r1-1.parquet",
		users: "u1 u2", signIns: "s1 s2", state: "r1",
	}
	after := struct{ files, users, signIns, state string }{
		files: "raw/graph_signins/tenant=t1/event_date=2026-11-21/r1-1.parquet raw/graph_signins/tenant=t1/event_date=2026-11-21/r2-1.parquet " +
			"raw/graph_signins/tenant=t1/event_date=2026-11-22/r2-1.parquet raw/graph_users/tenant=t1/snapshot_date=2026-11-22/r2-1.parquet",
		users: "u3", signIns: "s1 s2 s3", state: "r2",
	}
	for _, tt := range steps {
		name := tt.step
		if name == "" {
			name = "before Commit"
		}
		t.Run(name, func(t *testing.T) {
			mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
			defer mem.AssertSize(t, 0)
			ctx := context.Background()
			root := t.TempDir()
			w, err := Open(ctx, root, nil)
			if err != nil {
				t.Fatal(err)
			}
			u1, s1 := users(t, mem, "r1", "u1", "u2"), signIns(t, mem, "r1", "s1", "2026-11-21T08:00:00Z", "s2", "2026-11-21T09:00:00Z")
			commit(t, w, "r1", WriterOptions{Allocator: mem}, map[*table.Table][]arrow.RecordBatch{graph.Users: {u1}, graph.SignIns: {s1}},
				map[string]string{"graph_signins": "r1"})
			u1.Release()
			s1.Release()

			u2, s2 := users(t, mem, "r2", "u3"), signIns(t, mem, "r2", "s2", "2026-11-21T09:00:00Z", "s3", "2026-11-22T01:00:00Z")
			txn := write(t, w, "r2", WriterOptions{Allocator: mem}, map[*table.Table][]arrow.RecordBatch{graph.Users: {u2}, graph.SignIns: {s2}},
				map[string]string{"graph_signins": "r2"})
			u2.Release()
			s2.Release()
			if tt.step == "" {
				for _, tw := range txn.writers {
					tw.abort() // only frees memory: the files stay in staging, as after a kill
				}
			} else {
				w.failpoint = func(step string) error {
					if step == tt.step {
						return errCrash
					}
					return nil
				}
				if err := txn.Commit(ctx); !errors.Is(err, errCrash) {
					t.Fatalf("commit: %v, want the simulated crash", err)
				}
			}

			w2, err := Open(ctx, root, nil) // the next run
			if err != nil {
				t.Fatal(err)
			}
			want := before
			if tt.committed {
				want = after
			}
			if got := strings.Join(files(t, root), " "); got != want.files {
				t.Errorf("files\n%s\nwant\n%s", got, want.files)
			}
			if got := view(t, root, "SELECT string_agg(id, ' ' ORDER BY id) FROM graph_users"); got != want.users {
				t.Errorf("graph_users view: %s, want %s", got, want.users)
			}
			if got := view(t, root, "SELECT string_agg(id, ' ' ORDER BY id) FROM graph_signins"); got != want.signIns {
				t.Errorf("graph_signins view: %s, want %s", got, want.signIns)
			}
			if st, _, err := w2.State("t1", "graph_signins"); err != nil || string(st) != want.state {
				t.Errorf("state %q (%v), want %q", st, err, want.state)
			}
			if left := append(entries(t, filepath.Join(root, dirStaging)), entries(t, filepath.Join(root, dirCommits))...); len(left) != 0 {
				t.Errorf("left in staging/commits: %v", left)
			}
		})
	}
}

// A crash while recovery itself rolls a commit forward is recovered by the next Open.
func TestRecoveryIsIdempotent(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	ctx := context.Background()
	root := t.TempDir()
	w, _ := Open(ctx, root, nil)
	rec := users(t, mem, "r1", "u1")
	defer rec.Release()
	txn := write(t, w, "r1", WriterOptions{Allocator: mem}, map[*table.Table][]arrow.RecordBatch{graph.Users: {rec}}, map[string]string{"s": "1"})
	w.failpoint = func(step string) error {
		if step == "marked" {
			return errCrash
		}
		return nil
	}
	if err := txn.Commit(ctx); !errors.Is(err, errCrash) {
		t.Fatal(err)
	}
	// Recovery dies half-way through the moves, twice.
	for range 2 {
		w := &Warehouse{root: w.root, log: w.log, failpoint: func(step string) error {
			if step == "first-move" || step == "moved" {
				return errCrash
			}
			return nil
		}}
		if err := w.recover(ctx); !errors.Is(err, errCrash) {
			t.Fatalf("recovery: %v, want the simulated crash", err)
		}
	}
	w2, err := Open(ctx, root, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := files(t, root); !slices.Equal(got, []string{"raw/graph_users/tenant=t1/snapshot_date=2026-11-22/r1-1.parquet"}) {
		t.Errorf("files %v", got)
	}
	if v, ok, _ := w2.State("t1", "s"); !ok || string(v) != "1" {
		t.Errorf("state %q %v", v, ok)
	}
}

func TestSnapshotsReplaceTheirDayEventsAppend(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	ctx := context.Background()
	root := t.TempDir()
	w, _ := Open(ctx, root, nil)
	opts := WriterOptions{Allocator: mem}
	run := func(name string, date time.Time, batches map[*table.Table][]arrow.RecordBatch) {
		t.Helper()
		txn, err := w.Begin(name, "t1", date, opts)
		if err != nil {
			t.Fatal(err)
		}
		for tbl, recs := range batches {
			tw, _ := txn.Writer(tbl)
			for _, r := range recs {
				if err := tw.Write(ctx, r); err != nil {
					t.Fatal(err)
				}
				r.Release()
			}
		}
		if err := txn.Commit(ctx); err != nil {
			t.Fatal(err)
		}
	}
	next := day.Add(24 * time.Hour)
	run("r1", day, map[*table.Table][]arrow.RecordBatch{graph.Users: {users(t, mem, "r1", "u1", "u2")}})
	run("r2", next, map[*table.Table][]arrow.RecordBatch{graph.Users: {users(t, mem, "r2", "u1")}})
	// The same night twice: r3 is r1 again.
	run("r3", day, map[*table.Table][]arrow.RecordBatch{graph.Users: {users(t, mem, "r3", "u1", "u2")}})
	// A run that writes only events leaves the snapshots alone; the same events twice are stored twice.
	ev := func(run string) arrow.RecordBatch { return signIns(t, mem, run, "s1", "2026-11-21T08:00:00Z") }
	run("r4", next, map[*table.Table][]arrow.RecordBatch{graph.SignIns: {ev("r4")}})
	run("r5", next, map[*table.Table][]arrow.RecordBatch{graph.SignIns: {ev("r5")}})

	want := []string{
		"raw/graph_signins/tenant=t1/event_date=2026-11-21/r4-1.parquet",
		"raw/graph_signins/tenant=t1/event_date=2026-11-21/r5-1.parquet",
		"raw/graph_users/tenant=t1/snapshot_date=2026-11-22/r3-1.parquet",
		"raw/graph_users/tenant=t1/snapshot_date=2026-11-23/r2-1.parquet",
	}
	if got := files(t, root); !slices.Equal(got, want) {
		t.Errorf("files\n%v\nwant\n%v", got, want)
	}
	for q, want := range map[string]string{
		"SELECT snapshot_date, count(*), min(run_id) FROM graph_users_history GROUP BY ALL ORDER BY 1": "2026-11-22,2,r3\n2026-11-23,1,r2",
		"SELECT count(*), max(run_id) FROM graph_signins":                                              "1,r5",
		"SELECT count(*) FROM graph_signins_history":                                                   "2",
	} {
		if got := view(t, root, q); got != want {
			t.Errorf("%s:\n%s\nwant\n%s", q, got, want)
		}
	}
}

// idsIn reads the id column of a Parquet file, and the sizes of its row groups.
func idsIn(t *testing.T, mem memory.Allocator, path string) (ids []string, rowGroups []int64) {
	t.Helper()
	r, err := file.OpenParquetFile(path, false, file.WithReadProps(parquet.NewReaderProperties(mem)))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	for i := range r.NumRowGroups() {
		rowGroups = append(rowGroups, r.MetaData().RowGroup(i).NumRows())
	}
	fr, err := pqarrow.NewFileReader(r, pqarrow.ArrowReadProperties{}, mem)
	if err != nil {
		t.Fatal(err)
	}
	tbl, err := fr.ReadTable(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer tbl.Release()
	for _, c := range tbl.Column(graph.SignIns.ColumnIndex("id")).Data().Chunks() {
		s := c.(*array.String)
		for i := range s.Len() {
			ids = append(ids, s.Value(i))
		}
	}
	return ids, rowGroups
}

func TestEventRowsLandInTheirDay(t *testing.T) {
	at := func(d int, i int) string {
		return time.Date(2026, 11, d, 0, 0, 0, 0, time.UTC).Add(time.Duration(i) * time.Second).Format(time.RFC3339Nano)
	}
	tests := []struct {
		name  string
		opts  WriterOptions
		idAt  [][]string // batches of (id, created_at) pairs
		files map[string][]string
	}{
		{
			name: "a batch across midnight is sliced, before 1970 too",
			idAt: [][]string{{"e1", "2026-11-21T23:59:59.999999Z", "e2", "2026-11-22T00:00:00Z", "e3", "2026-11-21T08:00:00Z", "e4", "1969-12-31T12:00:00Z"}},
			files: map[string][]string{
				"event_date=1969-12-31/r1-1.parquet": {"e4"},
				"event_date=2026-11-21/r1-1.parquet": {"e1", "e3"},
				"event_date=2026-11-22/r1-1.parquet": {"e2"},
			},
		},
		{
			name: "rows alternating between days are gathered, in order",
			idAt: [][]string{func() []string {
				var out []string
				for i := range 40 {
					out = append(out, fmt.Sprintf("x%02d", i), at(20+i%2, i))
				}
				return out
			}()},
			files: map[string][]string{
				"event_date=2026-11-20/r1-1.parquet": {"x00", "x02", "x04", "x06", "x08", "x10", "x12", "x14", "x16", "x18", "x20", "x22", "x24", "x26", "x28", "x30", "x32", "x34", "x36", "x38"},
				"event_date=2026-11-21/r1-1.parquet": {"x01", "x03", "x05", "x07", "x09", "x11", "x13", "x15", "x17", "x19", "x21", "x23", "x25", "x27", "x29", "x31", "x33", "x35", "x37", "x39"},
			},
		},
		{
			name: "files roll after FileRows",
			opts: WriterOptions{FileRows: 3, RowGroupRows: 2},
			idAt: [][]string{{"a", at(20, 1), "b", at(20, 2)}, {"c", at(20, 3), "d", at(20, 4), "e", at(20, 5), "f", at(20, 6), "g", at(20, 7)}},
			files: map[string][]string{
				"event_date=2026-11-20/r1-1.parquet": {"a", "b", "c"},
				"event_date=2026-11-20/r1-2.parquet": {"d", "e", "f"},
				"event_date=2026-11-20/r1-3.parquet": {"g"},
			},
		},
		{
			name: "days beyond the buffer budget continue in new files",
			opts: WriterOptions{RowGroupRows: 2, BufferRows: 2},
			idAt: [][]string{{"a", at(20, 1)}, {"b", at(21, 1)}, {"c", at(21, 2)}, {"d", at(20, 2)}},
			files: map[string][]string{
				"event_date=2026-11-20/r1-1.parquet": {"a"},
				"event_date=2026-11-21/r1-1.parquet": {"b", "c"},
				"event_date=2026-11-20/r1-2.parquet": {"d"},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
			defer mem.AssertSize(t, 0)
			root := t.TempDir()
			w, _ := Open(context.Background(), root, nil)
			tt.opts.Allocator = mem
			var recs []arrow.RecordBatch
			for _, b := range tt.idAt {
				recs = append(recs, signIns(t, mem, "r1", b...))
			}
			commit(t, w, "r1", tt.opts, map[*table.Table][]arrow.RecordBatch{graph.SignIns: recs}, nil)
			for _, r := range recs {
				r.Release()
			}
			var want []string
			for f := range tt.files {
				want = append(want, "raw/graph_signins/tenant=t1/"+f)
			}
			slices.Sort(want)
			if got := files(t, root); !slices.Equal(got, want) {
				t.Fatalf("files\n%v\nwant\n%v", got, want)
			}
			for f, ids := range tt.files {
				got, _ := idsIn(t, mem, filepath.Join(root, "raw/graph_signins/tenant=t1", f))
				if !slices.Equal(got, ids) {
					t.Errorf("%s holds %v, want %v", f, got, ids)
				}
			}
		})
	}
}

func TestRowGroups(t *testing.T) {
	batch := func(t *testing.T, mem memory.Allocator, b, rows int) arrow.RecordBatch {
		var idAt []string
		for i := range rows {
			idAt = append(idAt, fmt.Sprintf("s%d-%03d", b, i), time.Date(2026, 11, 20, 1, b, 0, i*1000, time.UTC).Format(time.RFC3339Nano))
		}
		return signIns(t, mem, "r1", idAt...)
	}
	tests := []struct {
		name    string
		opts    WriterOptions
		batches []int
		groups  []int64
	}{
		{"each batch is written as it comes", WriterOptions{RowGroupRows: 100}, []int{70, 70, 70, 70, 70}, []int64{70, 70, 70, 70, 70}},
		{"a batch larger than a row group is cut", WriterOptions{RowGroupRows: 100}, []int{250}, []int64{100, 100, 50}},
		{"buffered row groups fill across batches", WriterOptions{RowGroupRows: 100, BufferRows: 400}, []int{70, 70, 70, 70, 70}, []int64{100, 100, 100, 50}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
			defer mem.AssertSize(t, 0)
			root := t.TempDir()
			w, _ := Open(context.Background(), root, nil)
			var recs []arrow.RecordBatch
			total := 0
			for b, n := range tt.batches {
				recs = append(recs, batch(t, mem, b, n))
				total += n
			}
			tt.opts.Allocator = mem
			commit(t, w, "r1", tt.opts, map[*table.Table][]arrow.RecordBatch{graph.SignIns: recs}, nil)
			for _, r := range recs {
				r.Release()
			}
			ids, groups := idsIn(t, mem, filepath.Join(root, "raw/graph_signins/tenant=t1/event_date=2026-11-20/r1-1.parquet"))
			if len(ids) != total || !slices.Equal(groups, tt.groups) {
				t.Errorf("%d rows in row groups %v, want %d in %v", len(ids), groups, total, tt.groups)
			}
			if !slices.IsSorted(ids) {
				t.Errorf("rows out of order: %v", ids)
			}
		})
	}
}

func TestEncodingFollowsTheDeclaration(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	root := t.TempDir()
	w, _ := Open(context.Background(), root, nil)
	rec := signIns(t, mem, "r1", "s1", "2026-11-20T01:00:00Z", "s2", "2026-11-20T02:00:00Z")
	defer rec.Release()
	commit(t, w, "r1", WriterOptions{Allocator: mem}, map[*table.Table][]arrow.RecordBatch{graph.SignIns: {rec}}, nil)
	r, err := file.OpenParquetFile(filepath.Join(root, "raw/graph_signins/tenant=t1/event_date=2026-11-20/r1-1.parquet"), false)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	rg := r.MetaData().RowGroup(0)
	tests := []struct {
		column     string
		dictionary bool
		stats      bool
	}{
		{"id", false, false},        // high-cardinality string: neither
		{"created_at", false, true}, // high-cardinality timestamp: min/max prune time ranges
		{"app_display_name", true, true},
		{"tenant_id", true, true},
	}
	for _, tt := range tests {
		cc, err := rg.ColumnChunk(graph.SignIns.ColumnIndex(tt.column))
		if err != nil {
			t.Fatal(err)
		}
		stats, _ := cc.StatsSet()
		if cc.HasDictionaryPage() != tt.dictionary || stats != tt.stats {
			t.Errorf("%s: dictionary %v stats %v, want %v %v", tt.column, cc.HasDictionaryPage(), stats, tt.dictionary, tt.stats)
		}
		if cc.Compression().String() != "GZIP" {
			t.Errorf("%s: compression %s, want GZIP (the default codec)", tt.column, cc.Compression())
		}
	}
}

func TestStateMovesOnlyWithACommit(t *testing.T) {
	ctx := context.Background()
	w, _ := Open(ctx, t.TempDir(), nil)
	txn, _ := w.Begin("r1", "t1", day, WriterOptions{})
	value := []byte(`{"watermark":"2026-11-22T00:00:00Z"}`)
	txn.PutState("graph_signins", value)
	value[2] = 'X' // PutState keeps a copy
	if _, ok, _ := w.State("t1", "graph_signins"); ok {
		t.Fatal("state visible before commit")
	}
	if err := txn.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if v, _, _ := w.State("t1", "graph_signins"); string(v) != `{"watermark":"2026-11-22T00:00:00Z"}` {
		t.Errorf("committed state %s", v)
	}

	txn2, _ := w.Begin("r2", "t1", day, WriterOptions{})
	txn2.PutState("graph_signins", []byte(`{"watermark":"2026-11-23T00:00:00Z"}`))
	if err := txn2.Abort(); err != nil {
		t.Fatal(err)
	}
	if err := txn2.Abort(); err != nil {
		t.Errorf("second Abort: %v", err)
	}
	if err := txn2.Commit(ctx); err == nil {
		t.Error("Commit after Abort succeeded")
	}
	if v, _, _ := w.State("t1", "graph_signins"); string(v) != `{"watermark":"2026-11-22T00:00:00Z"}` {
		t.Errorf("state %s after an aborted run, want the previous one", v)
	}

	txn3, _ := w.Begin("r3", "t1", day, WriterOptions{})
	txn3.PutState("../escape", []byte("1"))
	if err := txn3.Commit(ctx); err == nil || !strings.Contains(err.Error(), "invalid state stream") {
		t.Errorf("commit with a bad stream name: %v", err)
	}
	txn3.Abort()
	if _, ok, _ := w.State("t2", "graph_signins"); ok {
		t.Error("another tenant sees the state")
	}
}

func TestCanceledCommitChangesNothing(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	root := t.TempDir()
	w, _ := Open(context.Background(), root, nil)
	rec := users(t, mem, "r1", "u1")
	defer rec.Release()
	txn := write(t, w, "r1", WriterOptions{Allocator: mem}, map[*table.Table][]arrow.RecordBatch{graph.Users: {rec}}, map[string]string{"s": "1"})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := txn.Commit(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("commit: %v", err)
	}
	if err := txn.Abort(); err != nil {
		t.Fatal(err)
	}
	if got := files(t, root); len(got) != 0 {
		t.Errorf("files %v", got)
	}
	if left := entries(t, filepath.Join(root, dirStaging)); len(left) != 0 {
		t.Errorf("staging %v", left)
	}
}

func TestWriterRejectsWhatItCannotStore(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	ctx := context.Background()
	root := t.TempDir()
	w, _ := Open(ctx, root, nil)
	for _, ids := range [][2]string{{"", "t1"}, {"r/1", "t1"}, {"..", "t1"}, {"r1", ""}, {"r1", "a/b"}} {
		if _, err := w.Begin(ids[0], ids[1], day, WriterOptions{}); err == nil {
			t.Errorf("Begin(%q, %q) succeeded", ids[0], ids[1])
		}
	}
	txn, err := w.Begin("r1", "t1", day, WriterOptions{Allocator: mem})
	if err != nil {
		t.Fatal(err)
	}
	defer txn.Abort()
	if _, err := w.Begin("r1", "t1", day, WriterOptions{}); err == nil {
		t.Error("a run id was begun twice")
	}
	runs := table.New("runs", table.Log, "", "", table.Column{Name: "status", Type: arrow.BinaryTypes.String})
	if _, err := txn.Writer(runs); err == nil {
		t.Error("a log table got a transaction writer")
	}
	tw, _ := txn.Writer(graph.SignIns)
	if again, _ := txn.Writer(graph.SignIns); again != tw {
		t.Error("a second Writer call returned another writer")
	}
	wrong := users(t, mem, "r1", "u1")
	defer wrong.Release()
	if err := tw.Write(ctx, wrong); err == nil || !strings.Contains(err.Error(), "does not match") {
		t.Errorf("wrong schema: %v", err)
	}
	noTime := record(t, mem, graph.SignIns, `[{"tenant_id":"t1","run_id":"r1","extracted_at":"2026-11-22T02:00:00Z","id":"s1","created_at":null}]`)
	defer noTime.Release()
	if err := tw.Write(ctx, noTime); err == nil || !strings.Contains(err.Error(), "no created_at") {
		t.Errorf("null event time: %v", err)
	}
	if err := tw.Write(ctx, noTime); err == nil || !strings.Contains(err.Error(), "an earlier write failed") {
		t.Errorf("after a failed write: %v", err)
	}
}

func TestLockAllowsOneRunAndOpenSparesItsStaging(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	ctx := context.Background()
	root := t.TempDir()
	w, _ := Open(ctx, root, nil)
	unlock, err := w.Lock()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Lock(); !errors.Is(err, ErrLocked) || !strings.Contains(err.Error(), "another seatlake run") {
		t.Errorf("second lock: %v", err)
	}
	// While the run is live, another process opening the warehouse must not take its staging for debris.
	rec := users(t, mem, "r1", "u1")
	defer rec.Release()
	txn := write(t, w, "r1", WriterOptions{Allocator: mem}, map[*table.Table][]arrow.RecordBatch{graph.Users: {rec}}, nil)
	if _, err := Open(ctx, root, nil); err != nil {
		t.Fatal(err)
	}
	if err := txn.Commit(ctx); err != nil {
		t.Fatalf("commit after another Open: %v", err)
	}
	if err := unlock(); err != nil {
		t.Fatal(err)
	}
	u, err := w.Lock()
	if err != nil {
		t.Fatalf("lock after unlock: %v", err)
	}
	u()
}

func TestWriteRun(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	ctx := context.Background()
	root := t.TempDir()
	w, _ := Open(ctx, root, nil)
	runs := table.New("runs", table.Log, "", "", table.Column{Name: "status", Type: arrow.BinaryTypes.String})
	rec := record(t, mem, runs, `[{"tenant_id":"t1","run_id":"r1","extracted_at":"2026-11-22T02:00:00.5Z","status":"failed"}]`)
	defer rec.Release()
	if err := w.WriteRun(ctx, runs, "t1", "r1", rec); err != nil {
		t.Fatal(err)
	}
	if got := files(t, root); !slices.Equal(got, []string{"runs/tenant=t1/r1.parquet"}) {
		t.Errorf("files %v", got)
	}
	if left := entries(t, filepath.Join(root, "runs", "tenant=t1")); len(left) != 1 {
		t.Errorf("runs folder holds %v", left)
	}
	db, err := sql.Open("duckdb", "")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var status string
	var at time.Time
	if err := db.QueryRow(`SELECT status, extracted_at FROM read_parquet(?)`, filepath.Join(root, "runs/tenant=t1/r1.parquet")).Scan(&status, &at); err != nil {
		t.Fatal(err)
	}
	if status != "failed" || !at.Equal(time.Date(2026, 11, 22, 2, 0, 0, 5e8, time.UTC)) {
		t.Errorf("read back %s %s", status, at)
	}
}

func TestRejectsAreCommittedWithTheRun(t *testing.T) {
	root := t.TempDir()
	w, _ := Open(context.Background(), root, nil)
	txn, _ := w.Begin("r1", "t1", day, WriterOptions{})
	rw := txn.Rejects(graph.SignIns)
	rw.Write([]byte("{\n  \"id\": \"x\",\n  \"at\": \"yesterday\"\n}"))
	rw.Write([]byte(`not json`))
	if _, err := os.Stat(filepath.Join(root, rw.Path())); err == nil {
		t.Fatal("rejects visible before the commit")
	}
	if err := txn.Commit(context.Background()); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(root, "rejects", "graph_signins", "tenant=t1", "r1.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	if want := "{\"id\":\"x\",\"at\":\"yesterday\"}\n\"not json\"\n"; string(b) != want || rw.Count() != 2 {
		t.Errorf("rejects %q (%d), want %q", b, rw.Count(), want)
	}
	txn2, _ := w.Begin("r2", "t1", day, WriterOptions{})
	txn2.Rejects(graph.SignIns).Write([]byte(`{}`))
	txn2.Abort()
	if _, err := os.Stat(filepath.Join(root, "rejects", "graph_signins", "tenant=t1", "r2.jsonl")); err == nil {
		t.Error("an aborted run's rejects are visible")
	}
}

// LockWait waits while another holder has the lock and takes it when it is released; past its patience it fails
// with ErrLocked, saying how long it waited.
func TestLockWait(t *testing.T) {
	w, err := Open(context.Background(), t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	unlock, err := w.Lock()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.LockWait(context.Background(), 300*time.Millisecond); !errors.Is(err, ErrLocked) || !strings.Contains(err.Error(), "waited 300ms") {
		t.Errorf("past its patience: %v", err)
	}
	go func() {
		time.Sleep(300 * time.Millisecond)
		unlock()
	}()
	u2, err := w.LockWait(context.Background(), 10*time.Second)
	if err != nil {
		t.Fatalf("after the holder released it: %v", err)
	}
	u2()
}
