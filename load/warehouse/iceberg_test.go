package warehouse

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
	itable "github.com/apache/iceberg-go/table"
	_ "github.com/duckdb/duckdb-go/v2"
	"github.com/xitongsys/parquet-go-source/local"
	"github.com/xitongsys/parquet-go/reader"

	"github.com/seatlake/seatlake/extract/graph"
	"github.com/seatlake/seatlake/internal/table"
)

var uuidSuffix = regexp.MustCompile(`-[0-9a-f]{8}\.parquet$`)

// tableFiles maps the read set's files of tbl (tenant t1) to their local paths, keyed by their path under the
// tenant's data folder without the random part: "snapshot_date=2026-11-22/r1-1".
func tableFiles(t *testing.T, w *Warehouse, tbl *table.Table) map[string]string {
	t.Helper()
	rs, err := w.ReadSet(context.Background(), []*table.Table{tbl})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, f := range rs.Tables[tbl.Name].Files {
		_, rel, ok := strings.Cut(f.Location, "/data/tenant_id=t1/")
		if !ok {
			t.Fatalf("file %s is not in the tenant's data folder", f.Location)
		}
		p, _ := w.LocalPath(f.Location)
		out[uuidSuffix.ReplaceAllString(rel, "")] = p
	}
	return out
}

// scan reads the table's current snapshot through iceberg-go's own reader (by field id), as another engine would:
// the values of column col, sorted.
func scan(t *testing.T, w *Warehouse, name, col string) []string {
	t.Helper()
	ctx := context.Background()
	it, err := w.cat.LoadTable(ctx, ident(name))
	if err != nil {
		t.Fatal(err)
	}
	tbl, err := it.Scan(itable.WithSelectedFields(col)).ToArrowTable(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tbl.Release()
	var out []string
	for _, c := range tbl.Column(0).Data().Chunks() {
		for i := range c.Len() {
			out = append(out, c.ValueStr(i))
		}
	}
	slices.Sort(out)
	return out
}

func TestIcebergRoundTripAndInteroperability(t *testing.T) {
	w, mem := testWarehouse(t, Config{})
	root := w.Root()
	rec := record(t, mem, people, peopleJSON)
	defer rec.Release()
	commit(t, w, "r1", WriterOptions{Allocator: mem}, map[*table.Table][]arrow.RecordBatch{people: {rec}}, nil)
	files := tableFiles(t, w, people)
	if got := slices.Collect(maps.Keys(files)); !slices.Equal(got, []string{"snapshot_date=2026-11-22/r1-1"}) {
		t.Fatalf("files %v", got)
	}
	path := files["snapshot_date=2026-11-22/r1-1"]
	if !strings.HasPrefix(path, filepath.Join(root, "raw", "test_people", "data", "tenant_id=t1")) {
		t.Errorf("file %s is not under the table's data location", path)
	}
	if _, err := os.Stat(filepath.Join(root, EmbeddedCatalogFile)); err != nil {
		t.Errorf("no embedded catalog: %v", err)
	}

	t.Run("arrow-go reads back the exact batch and the partition column", func(t *testing.T) {
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
		if n := got.NumCols(); n != int64(len(people.Columns)+1) || got.ColumnName(int(n-1)) != "snapshot_date" {
			t.Fatalf("columns %v: want the declared ones, then snapshot_date", got.Schema())
		}
		for i, c := range people.Columns {
			if !arrow.TypeEqual(got.Column(i).DataType(), c.Type) {
				t.Errorf("column %s: type %s, want %s", c.Name, got.Column(i).DataType(), c.Type)
			}
			if !array.Equal(got.Column(i), rec.Column(i)) {
				t.Errorf("column %s: %v, want %v", c.Name, got.Column(i), rec.Column(i))
			}
		}
		if s := got.Column(len(people.Columns)).ValueStr(0); s != "2026-11-22" {
			t.Errorf("snapshot_date %s", s)
		}
	})

	t.Run("every Parquet column carries its Iceberg field id", func(t *testing.T) {
		r, err := file.OpenParquetFile(path, false)
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		it, err := w.cat.LoadTable(context.Background(), ident(people.Name))
		if err != nil {
			t.Fatal(err)
		}
		sc := r.MetaData().Schema
		for i := range sc.NumColumns() {
			c := sc.Column(i)
			name := strings.Split(c.Path(), ".")[0]
			f, ok := it.Schema().FindFieldByName(name)
			if !ok {
				t.Errorf("column %s is not in the table", c.Path())
				continue
			}
			if top := sc.Root().Field(sc.Root().FieldIndexByName(name)).FieldID(); top != int32(f.ID) {
				t.Errorf("column %s: field id %d, the table's is %d", name, top, f.ID)
			}
			if c.SchemaNode().FieldID() <= 0 {
				t.Errorf("column %s has no field id", c.Path())
			}
		}
		if n := sc.Root().Field(sc.Root().FieldIndexByName("tenant_id")).FieldID(); n <= 0 {
			t.Errorf("tenant_id field id %d", n)
		}
	})

	t.Run("iceberg-go's reader, by field id", func(t *testing.T) {
		if got := strings.Join(scan(t, w, people.Name, "name"), "|"); got != "(null)|Adele|Ünïcødé ✓" {
			t.Errorf("names %s", got)
		}
		if got := strings.Join(scan(t, w, people.Name, "snapshot_date"), "|"); got != "2026-11-22|2026-11-22|2026-11-22" {
			t.Errorf("snapshot_date %s", got)
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
		v, _, _, err := pr.ReadColumnByIndex(4, 10)
		if err != nil {
			t.Fatal(err)
		}
		if got := fmt.Sprint(v); got != "[Adele <nil> Ünïcødé ✓]" {
			t.Errorf("names %s", got)
		}
	})

	t.Run("DuckDB", func(t *testing.T) {
		db, err := sql.Open("duckdb", "")
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		var n int
		var types string
		if err := db.QueryRow(`SELECT count(*), any_value(typeof(seen_at) || ' ' || typeof(plans) || ' ' || typeof(snapshot_date))
			FROM read_parquet(?)`, path).Scan(&n, &types); err != nil {
			t.Fatal(err)
		}
		if n != 3 || types != "TIMESTAMP WITH TIME ZONE VARCHAR[] DATE" {
			t.Errorf("DuckDB reads %d rows of %s", n, types)
		}
	})
}

// A snapshot table's commit replaces the tenant's files of the day and only those; an event table appends. Every
// snapshot's summary says which run and tenant made it, and the state it carried.
func TestSnapshotsReplaceTheirDayEventsAppend(t *testing.T) {
	w, mem := testWarehouse(t, Config{})
	ctx := context.Background()
	u1, s1 := users(t, mem, "r1", "u1", "u2"), signIns(t, mem, "r1", "s1", "2026-11-21T08:00:00Z", "s2", "2026-11-21T09:00:00Z")
	commit(t, w, "r1", WriterOptions{Allocator: mem}, map[*table.Table][]arrow.RecordBatch{graph.Users: {u1}, graph.SignIns: {s1}}, map[string]string{"graph_signins": "w1"})
	u2, s2 := users(t, mem, "r2", "u3"), signIns(t, mem, "r2", "s2", "2026-11-21T09:00:00Z", "s3", "2026-11-22T01:00:00Z")
	commit(t, w, "r2", WriterOptions{Allocator: mem}, map[*table.Table][]arrow.RecordBatch{graph.Users: {u2}, graph.SignIns: {s2}}, map[string]string{"graph_signins": "w2"})
	for _, r := range []arrow.RecordBatch{u1, s1, u2, s2} {
		r.Release()
	}
	if got := strings.Join(scan(t, w, graph.Users.Name, "id"), " "); got != "u3" {
		t.Errorf("graph_users %s, want r2's u3 only", got)
	}
	if got := strings.Join(scan(t, w, graph.SignIns.Name, "id"), " "); got != "s1 s2 s2 s3" {
		t.Errorf("graph_signins %s, want every stored copy", got)
	}
	it, err := w.cat.LoadTable(ctx, ident(graph.Users.Name))
	if err != nil {
		t.Fatal(err)
	}
	snap := it.CurrentSnapshot()
	if p := snap.Summary.Properties; p[propRunID] != "r2" || p[propTenantID] != "t1" || p[propState+"graph_signins"] != "w2" || snap.Summary.Operation != itable.OpOverwrite {
		t.Errorf("snapshot summary %v %v", snap.Summary.Operation, p)
	}
	if v := it.Metadata().Version(); v != 2 {
		t.Errorf("format version %d", v)
	}
	// Another tenant's snapshot of the same day does not touch t1's.
	if err := writeAs(t, w, "r3", "t2", day, WriterOptions{Allocator: mem}, map[*table.Table][]arrow.RecordBatch{graph.Users: nil}, nil).Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(scan(t, w, graph.Users.Name, "id"), " "); got != "u3" {
		t.Errorf("graph_users after t2's empty snapshot: %s", got)
	}
	rs, err := w.ReadSet(ctx, []*table.Table{graph.Users})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, f := range rs.Tables[graph.Users.Name].Files {
		got = append(got, fmt.Sprintf("%s/%s/%d", f.Tenant, f.Day, f.Rows))
	}
	if want := "t1/2026-11-22/1 t2/2026-11-22/0"; strings.Join(got, " ") != want {
		t.Errorf("read set %v, want %s (an empty snapshot is a file of no rows)", got, want)
	}
}

func TestStateMovesOnlyWithACommit(t *testing.T) {
	w, mem := testWarehouse(t, Config{})
	ctx := context.Background()
	if _, ok, err := w.State("t1", "s"); ok || err != nil {
		t.Fatalf("state of a new warehouse: %v %v", ok, err)
	}
	txn := write(t, w, "r1", WriterOptions{Allocator: mem}, nil, map[string]string{"s": "v1", "other": "o1"})
	if _, ok, _ := w.State("t1", "s"); ok {
		t.Error("state visible before the commit")
	}
	if err := txn.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	txn = write(t, w, "r2", WriterOptions{Allocator: mem}, nil, map[string]string{"s": "v2"})
	if err := txn.Abort(); err != nil {
		t.Fatal(err)
	}
	txn = write(t, w, "r3", WriterOptions{Allocator: mem}, nil, map[string]string{"other": "o3"})
	if err := txn.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	for stream, want := range map[string]string{"s": "v1", "other": "o3"} {
		if v, ok, err := w.StateContext(ctx, "t1", stream); !ok || err != nil || string(v) != want {
			t.Errorf("state %s = %q %v %v, want %q", stream, v, ok, err, want)
		}
	}
	if _, ok, _ := w.State("t2", "s"); ok {
		t.Error("another tenant's state")
	}
	if err := write(t, w, "r4", WriterOptions{}, nil, map[string]string{"a/b": "x"}).Commit(ctx); err == nil {
		t.Error("a state stream with a slash was committed")
	}
}

// Jobs committing into the same tables at once all land, each exactly once, retrying the commits they lose; each
// job has its own connection to the catalog, as separate processes do.
func TestConcurrentJobsCommitThroughOptimisticConcurrency(t *testing.T) {
	ctx := context.Background()
	first, _ := testWarehouse(t, Config{})
	root := first.Root()
	const jobs = 8
	var retries atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, jobs)
	for j := range jobs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			mem := memory.NewGoAllocator()
			w, err := OpenConfig(ctx, Config{Root: root, Commit: CommitOptions{MaxAttempts: 50, MinBackoff: 5 * time.Millisecond, MaxBackoff: 200 * time.Millisecond}})
			if err != nil {
				errs <- err
				return
			}
			defer w.Close()
			tenant := fmt.Sprintf("t%02d", j)
			u, s := users(t, mem, "r", "u1", "u2"), signIns(t, mem, "r", "s1", "2026-11-21T08:00:00Z")
			defer u.Release()
			defer s.Release()
			txn, err := w.Begin("run-"+tenant, tenant, day, WriterOptions{Allocator: mem})
			if err != nil {
				errs <- err
				return
			}
			for tbl, rec := range map[*table.Table]arrow.RecordBatch{graph.Users: u, graph.SignIns: s} {
				tw, err := txn.Writer(tbl)
				if err == nil {
					err = tw.Write(ctx, rec)
				}
				if err != nil {
					errs <- err
					return
				}
			}
			txn.PutState("graph_signins", []byte(tenant))
			if err := txn.Commit(ctx); err != nil {
				errs <- fmt.Errorf("%s: %w", tenant, err)
				return
			}
			retries.Add(int64(txn.Retries()))
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if got := len(scan(t, first, graph.Users.Name, "id")); got != 2*jobs {
		t.Errorf("%d users, want %d", got, 2*jobs)
	}
	rs, err := first.ReadSet(ctx, []*table.Table{graph.Users, graph.SignIns})
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{graph.Users.Name, graph.SignIns.Name} {
		if n := len(rs.Tables[name].Snapshots); n != jobs {
			t.Errorf("%s: %d tenants in the read set, want %d", name, n, jobs)
		}
	}
	for j := range jobs {
		tenant := fmt.Sprintf("t%02d", j)
		if v, ok, err := first.State(tenant, "graph_signins"); !ok || err != nil || string(v) != tenant {
			t.Errorf("state of %s: %q %v %v", tenant, v, ok, err)
		}
	}
	t.Logf("%d commit retries over %d jobs", retries.Load(), jobs)
}

func TestWriteRunAppends(t *testing.T) {
	w, mem := testWarehouse(t, Config{})
	ctx := context.Background()
	runs := table.New("runs", table.Log, "", "", table.Column{Name: "status", Type: arrow.BinaryTypes.String},
		table.Column{Name: "warnings", Type: arrow.ListOf(arrow.BinaryTypes.String), Nullable: true})
	for i, tenant := range []string{"t1", "t2", "t1"} {
		rec := record(t, mem, runs, fmt.Sprintf(`[{"tenant_id":%q,"run_id":"r%d","extracted_at":"2026-11-22T02:00:00Z","status":"failed","warnings":["w"]}]`, tenant, i))
		if err := w.WriteRun(ctx, runs, tenant, fmt.Sprintf("r%d", i), rec); err != nil {
			t.Fatal(err)
		}
		rec.Release()
	}
	if got := strings.Join(scan(t, w, "runs", "run_id"), " "); got != "r0 r1 r2" {
		t.Errorf("runs %s", got)
	}
	rs, err := w.ReadSet(ctx, []*table.Table{runs})
	if err != nil {
		t.Fatal(err)
	}
	if n := len(rs.Tables["runs"].Files); n != 3 {
		t.Errorf("%d files in the read set", n)
	}
	wrong := users(t, mem, "r", "u")
	defer wrong.Release()
	if err := w.WriteRun(ctx, runs, "t1", "r9", wrong); err == nil {
		t.Error("a batch of another table was written as a run")
	}
}

func TestRejectsAreStoredWithTheRun(t *testing.T) {
	w, mem := testWarehouse(t, Config{})
	ctx := context.Background()
	root := w.Root()
	txn := write(t, w, "r1", WriterOptions{Allocator: mem}, nil, nil)
	rw := txn.Rejects(graph.SignIns)
	for _, raw := range []string{`{"id": null,
	 "createdDateTime": "x"}`, `not json`} {
		if err := rw.Write([]byte(raw)); err != nil {
			t.Fatal(err)
		}
	}
	final := filepath.Join(root, filepath.FromSlash(rw.Path()))
	if _, err := os.Stat(final); err == nil {
		t.Error("reject file visible before the commit")
	}
	if err := txn.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(final)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := string(b), "{\"id\":null,\"createdDateTime\":\"x\"}\n\"not json\"\n"; got != want {
		t.Errorf("reject file %q, want %q", got, want)
	}
	if left, _ := filepath.Glob(filepath.Join(root, dirStaging, "*", "*")); len(left) != 0 {
		t.Errorf("left in staging: %v", left)
	}
	aborted := write(t, w, "r2", WriterOptions{Allocator: mem}, nil, nil)
	ar := aborted.Rejects(graph.SignIns)
	ar.Write([]byte(`{}`))
	aborted.Abort()
	if _, err := os.Stat(filepath.Join(root, filepath.FromSlash(ar.Path()))); err == nil {
		t.Error("an aborted run's rejects were stored")
	}
}

// An aborted run leaves no data file behind; a table is created on first use.
func TestAbortRemovesTheRunsFiles(t *testing.T) {
	w, mem := testWarehouse(t, Config{})
	root := w.Root()
	u := users(t, mem, "r1", "u1")
	defer u.Release()
	txn := write(t, w, "r1", WriterOptions{Allocator: mem}, map[*table.Table][]arrow.RecordBatch{graph.Users: {u}}, nil)
	if err := txn.Abort(); err != nil {
		t.Fatal(err)
	}
	left, _ := filepath.Glob(filepath.Join(root, "raw", "graph_users", "data", "*", "*", "*.parquet"))
	if len(left) != 0 {
		t.Errorf("files left by an aborted run: %v", left)
	}
	if _, ok, _ := w.State("t1", "x"); ok {
		t.Error("state")
	}
}

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
				"event_date=1969-12-31/r1-1": {"e4"},
				"event_date=2026-11-21/r1-1": {"e1", "e3"},
				"event_date=2026-11-22/r1-1": {"e2"},
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
				"event_date=2026-11-20/r1-1": {"x00", "x02", "x04", "x06", "x08", "x10", "x12", "x14", "x16", "x18", "x20", "x22", "x24", "x26", "x28", "x30", "x32", "x34", "x36", "x38"},
				"event_date=2026-11-21/r1-1": {"x01", "x03", "x05", "x07", "x09", "x11", "x13", "x15", "x17", "x19", "x21", "x23", "x25", "x27", "x29", "x31", "x33", "x35", "x37", "x39"},
			},
		},
		{
			name: "files roll after FileRows",
			opts: WriterOptions{FileRows: 3, RowGroupRows: 2},
			idAt: [][]string{{"a", at(20, 1), "b", at(20, 2)}, {"c", at(20, 3), "d", at(20, 4), "e", at(20, 5), "f", at(20, 6), "g", at(20, 7)}},
			files: map[string][]string{
				"event_date=2026-11-20/r1-1": {"a", "b", "c"},
				"event_date=2026-11-20/r1-2": {"d", "e", "f"},
				"event_date=2026-11-20/r1-3": {"g"},
			},
		},
		{
			name: "days beyond the buffer budget continue in new files",
			opts: WriterOptions{RowGroupRows: 2, BufferRows: 2},
			idAt: [][]string{{"a", at(20, 1)}, {"b", at(21, 1)}, {"c", at(21, 2)}, {"d", at(20, 2)}},
			files: map[string][]string{
				"event_date=2026-11-20/r1-1": {"a"},
				"event_date=2026-11-21/r1-1": {"b", "c"},
				"event_date=2026-11-20/r1-2": {"d"},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w, mem := testWarehouse(t, Config{})
			tt.opts.Allocator = mem
			var recs []arrow.RecordBatch
			for _, b := range tt.idAt {
				recs = append(recs, signIns(t, mem, "r1", b...))
			}
			commit(t, w, "r1", tt.opts, map[*table.Table][]arrow.RecordBatch{graph.SignIns: recs}, nil)
			for _, r := range recs {
				r.Release()
			}
			got := tableFiles(t, w, graph.SignIns)
			if !slices.Equal(slices.Sorted(maps.Keys(got)), slices.Sorted(maps.Keys(tt.files))) {
				t.Fatalf("files\n%v\nwant\n%v", slices.Sorted(maps.Keys(got)), slices.Sorted(maps.Keys(tt.files)))
			}
			for f, ids := range tt.files {
				got, _ := idsIn(t, mem, got[f])
				if !slices.Equal(got, ids) {
					t.Errorf("%s holds %v, want %v", f, got, ids)
				}
			}
		})
	}
}

func TestWriterRejectsWhatItCannotStore(t *testing.T) {
	w, mem := testWarehouse(t, Config{})
	ctx := context.Background()
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

func TestLockWait(t *testing.T) {
	w, _ := testWarehouse(t, Config{})
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

func TestStoragePropsFromTheEnvironment(t *testing.T) {
	for _, tt := range []struct {
		storage string
		env     map[string]string
		want    string
	}{
		{"s3://b/p", map[string]string{"AWS_ENDPOINT_URL_S3": "http://127.0.0.1:9000", "AWS_REGION": "eu-west-1"}, "s3.endpoint=http://127.0.0.1:9000 s3.force-virtual-addressing=false s3.region=eu-west-1"},
		{"s3://b/p", nil, ""},
		{"abfss://c@acct.dfs.core.windows.net/p", map[string]string{"AZURE_STORAGE_CONNECTION_STRING": "cs"}, "adls.connection-string.acct=cs"},
		{"abfss://c@acct.dfs.core.windows.net/p", map[string]string{"AZURE_STORAGE_KEY": "k"}, "adls.auth.shared-key.account.key=k adls.auth.shared-key.account.name=acct"},
		{"abfss://c@acct.dfs.core.windows.net/p", map[string]string{"AZURE_STORAGE_SAS_TOKEN": "?sv=1"}, "adls.sas-token.acct.dfs.core.windows.net=sv=1"},
		{"abfss://c@acct.dfs.core.windows.net/p", map[string]string{"SEATLAKE_STORAGE_MANAGED_IDENTITY_CLIENT_ID": "id"}, "adls.auth.managed-identity.enabled=true adls.client-id=id"},
		{"abfss://c@acct.dfs.core.windows.net/p", nil, ""}, // DefaultAzureCredential: workload identity, managed identity, CLI
	} {
		props, err := storageProps(tt.storage, func(k string) string { return tt.env[k] })
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, k := range slices.Sorted(maps.Keys(props)) {
			got = append(got, k+"="+props[k])
		}
		if strings.Join(got, " ") != tt.want {
			t.Errorf("%s %v: %v, want %s", tt.storage, tt.env, got, tt.want)
		}
	}
	if _, err := storageProps("s3://b/p", func(k string) string {
		return map[string]string{"AWS_ENDPOINT_URL": "http://minio.example.com"}[k]
	}); err == nil {
		t.Error("plain http to a remote S3 endpoint was accepted")
	}
}

// An event table that got no rows tonight commits nothing and keeps its earlier events visible.
func TestEventTableWithoutRowsKeepsItsEvents(t *testing.T) {
	w, mem := testWarehouse(t, Config{})
	s := signIns(t, mem, "r1", "s1", "2026-11-21T08:00:00Z")
	commit(t, w, "r1", WriterOptions{Allocator: mem}, map[*table.Table][]arrow.RecordBatch{graph.SignIns: {s}}, nil)
	s.Release()
	commit(t, w, "r2", WriterOptions{Allocator: mem}, map[*table.Table][]arrow.RecordBatch{graph.SignIns: nil}, map[string]string{"graph_signins": "w2"})
	if got := tableFiles(t, w, graph.SignIns); len(got) != 1 {
		t.Errorf("read set %v, want r1's file", got)
	}
	if v, ok, _ := w.State("t1", "graph_signins"); !ok || string(v) != "w2" {
		t.Errorf("state %q", v)
	}
}

// A column added to a declaration is added to the Iceberg table; the rows written before read it as null.
func TestDeclarationGainsAColumn(t *testing.T) {
	w, mem := testWarehouse(t, Config{})
	ctx := context.Background()
	v1 := table.New("test_things", table.Snapshot, "", "things", table.Column{Name: "id", Type: arrow.BinaryTypes.String})
	v2 := table.New("test_things", table.Snapshot, "", "things", table.Column{Name: "id", Type: arrow.BinaryTypes.String},
		table.Column{Name: "tags", Type: arrow.ListOf(arrow.BinaryTypes.String), Nullable: true})
	r1 := record(t, mem, v1, `[{"tenant_id":"t1","run_id":"r1","extracted_at":"2026-11-21T02:00:00Z","id":"a"}]`)
	txn := writeAs(t, w, "r1", "t1", day.AddDate(0, 0, -1), WriterOptions{Allocator: mem}, map[*table.Table][]arrow.RecordBatch{v1: {r1}}, nil)
	r1.Release()
	if err := txn.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	w2, err := Open(ctx, w.Root(), nil) // the next version of seatlake
	if err != nil {
		t.Fatal(err)
	}
	defer w2.Close()
	r2 := record(t, mem, v2, `[{"tenant_id":"t1","run_id":"r2","extracted_at":"2026-11-22T02:00:00Z","id":"b","tags":["x"]}]`)
	defer r2.Release()
	commit(t, w2, "r2", WriterOptions{Allocator: mem}, map[*table.Table][]arrow.RecordBatch{v2: {r2}}, nil)
	it, err := w2.cat.LoadTable(ctx, ident("test_things"))
	if err != nil {
		t.Fatal(err)
	}
	tbl, err := it.Scan(itable.WithSelectedFields("id", "tags")).ToArrowTable(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tbl.Release()
	var got []string
	tr := array.NewTableReader(tbl, -1)
	defer tr.Release()
	for tr.Next() {
		rec := tr.RecordBatch()
		for i := range int(rec.NumRows()) {
			got = append(got, rec.Column(0).ValueStr(i)+"="+rec.Column(1).ValueStr(i))
		}
	}
	slices.Sort(got)
	if s := strings.Join(got, " "); s != `a=(null) b=["x"]` {
		t.Errorf("rows %s", s)
	}
}

// A stream's state is the newest value committed for it, whatever else the tenant's later transactions carried:
// a name that is part of another's, in another stream's value, or one JSON escapes.
func TestStateIsTheNewestValueOfItsStream(t *testing.T) {
	w, mem := testWarehouse(t, Config{})
	ctx := context.Background()
	big := strings.Repeat("0123456789abcdef", 1<<16) // 1 MiB, as a sync's sent state is megabytes
	for i, st := range []map[string]string{
		{"sent": "s1", "sent_x": "x1", `a<b&"c`: "e1"},
		{"sent": big + "2"},
		{"other": `{"sent":"not this"}`, "sent_x": "x3"},
		{`a<b&"c`: "e4", "sentinel": "n4"},
		{"quoted": `x"sent`}, // "sent" in its JSON, not as a key
	} {
		commit(t, w, fmt.Sprintf("r%d", i+1), WriterOptions{Allocator: mem}, nil, st)
	}
	if err := writeAs(t, w, "r5", "t2", day, WriterOptions{Allocator: mem}, nil, map[string]string{"sent": "another tenant's"}).Commit(ctx); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		stream, want string
		ok           bool
	}{
		{"sent", big + "2", true},
		{"sent_x", "x3", true},
		{`a<b&"c`, "e4", true},
		{"other", `{"sent":"not this"}`, true},
		{"sentinel", "n4", true},
		{"quoted", `x"sent`, true},
		{"sen", "", false},
	} {
		v, ok, err := w.StateContext(ctx, "t1", c.stream)
		if err != nil || ok != c.ok || string(v) != c.want {
			t.Errorf("state %s = %.20q (%d bytes) %v %v, want %.20q (%d bytes) %v", c.stream, v, len(v), ok, err, c.want, len(c.want), c.ok)
		}
	}
}
