package warehouse

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/seatlake/seatlake/extract/graph"
	"github.com/seatlake/seatlake/internal/table"
)

// A job reads only its own tenants: ReadSetOf lists the given tenant's files and snapshots of a snapshot table and
// of a record table (the commit log), none of another tenant's, where ReadSet lists both.
func TestReadSetOfOneTenant(t *testing.T) {
	w, mem := testWarehouse(t, Config{})
	ctx := context.Background()
	for _, tenant := range []string{"t1", "t2"} {
		rec := record(t, mem, graph.Users, fmt.Sprintf(`[{"tenant_id":%q,"run_id":"r-%s","extracted_at":"2026-11-22T02:00:00Z","id":"u","sign_in_activity_available":true,"assigned_license_count":1}]`, tenant, tenant))
		txn := writeAs(t, w, "r-"+tenant, tenant, day, WriterOptions{Allocator: mem}, map[*table.Table][]arrow.RecordBatch{graph.Users: {rec}}, nil)
		rec.Release()
		if err := txn.Commit(ctx); err != nil {
			t.Fatal(err)
		}
	}
	tables := []*table.Table{graph.Users, CommitsTable}
	all, err := w.ReadSet(ctx, tables)
	if err != nil {
		t.Fatal(err)
	}
	one, err := w.ReadSetOf(ctx, tables, []string{"t2"})
	if err != nil {
		t.Fatal(err)
	}
	tenants := func(tr *TableRead) []string {
		var ts []string
		for _, f := range tr.Files {
			if !slices.Contains(ts, f.Tenant) {
				ts = append(ts, f.Tenant)
			}
		}
		slices.Sort(ts)
		return ts
	}
	for _, tbl := range tables {
		if got := tenants(all.Tables[tbl.Name]); !slices.Equal(got, []string{"t1", "t2"}) {
			t.Errorf("ReadSet %s: the files of %v, want both tenants'", tbl.Name, got)
		}
		if got := tenants(one.Tables[tbl.Name]); !slices.Equal(got, []string{"t2"}) {
			t.Errorf("ReadSetOf t2 %s: the files of %v, want t2's only", tbl.Name, got)
		}
		if got := slices.Sorted(maps.Keys(one.Tables[tbl.Name].Snapshots)); !slices.Equal(got, []string{"t2"}) {
			t.Errorf("ReadSetOf t2 %s: snapshots of %v, want t2's only", tbl.Name, got)
		}
	}
}
