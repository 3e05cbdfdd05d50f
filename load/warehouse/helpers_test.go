package warehouse

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/seatlake/seatlake/extract/graph"
	"github.com/seatlake/seatlake/internal/table"
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

// rows is tbl's rows of tenant t1 and run: each of objs is a row's JSON members but the provenance columns.
func rows(t *testing.T, mem memory.Allocator, tbl *table.Table, run string, objs ...string) arrow.RecordBatch {
	t.Helper()
	var rs []string
	for _, o := range objs {
		rs = append(rs, fmt.Sprintf(`{"tenant_id":"t1","run_id":%q,"extracted_at":"2026-11-22T02:00:00Z",%s}`, run, o))
	}
	return record(t, mem, tbl, "["+strings.Join(rs, ",")+"]")
}

// users is graph_users rows of run for the given ids.
func users(t *testing.T, mem memory.Allocator, run string, ids ...string) arrow.RecordBatch {
	t.Helper()
	var objs []string
	for _, id := range ids {
		objs = append(objs, fmt.Sprintf(`"id":%q,"sign_in_activity_available":true,"assigned_license_count":1`, id))
	}
	return rows(t, mem, graph.Users, run, objs...)
}

// signIns is graph_signins rows of run: pairs of id and createdDateTime.
func signIns(t *testing.T, mem memory.Allocator, run string, idAt ...string) arrow.RecordBatch {
	t.Helper()
	var objs []string
	for i := 0; i < len(idAt); i += 2 {
		objs = append(objs, fmt.Sprintf(`"id":%q,"created_at":%q,"app_display_name":"Teams"`, idAt[i], idAt[i+1]))
	}
	return rows(t, mem, graph.SignIns, run, objs...)
}

// testWarehouse opens the warehouse of cfg, in a temporary folder unless cfg.Root is set, closed when the test
// ends, and a checked allocator that must hold no bytes by then.
func testWarehouse(t *testing.T, cfg Config) (*Warehouse, *memory.CheckedAllocator) {
	t.Helper()
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	t.Cleanup(func() { mem.AssertSize(t, 0) })
	if cfg.Root == "" {
		cfg.Root = t.TempDir()
	}
	w, err := OpenConfig(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.Close() })
	return w, mem
}

// commit writes each table's batches in one run and commits it.
func commit(t *testing.T, w *Warehouse, run string, opts WriterOptions, batches map[*table.Table][]arrow.RecordBatch, state map[string]string) {
	t.Helper()
	txn := write(t, w, run, opts, batches, state)
	if err := txn.Commit(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// write writes each table's batches in one run of tenant t1 on day, with state, without committing.
func write(t *testing.T, w *Warehouse, run string, opts WriterOptions, batches map[*table.Table][]arrow.RecordBatch, state map[string]string) *Txn {
	t.Helper()
	return writeAs(t, w, run, "t1", day, opts, batches, state)
}

// writeAs writes each table's batches in one run of tenant on date, with state, without committing.
func writeAs(t *testing.T, w *Warehouse, run, tenant string, date time.Time, opts WriterOptions, batches map[*table.Table][]arrow.RecordBatch, state map[string]string) *Txn {
	t.Helper()
	txn, err := w.Begin(run, tenant, date, opts)
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

var errCrash = errors.New("simulated crash")
