package warehouse

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/seatlake/seatlake/extract/graph"
	"github.com/seatlake/seatlake/internal/table"
)

var genLegacy = flag.Bool("gen-legacy", false, "write testdata/legacy with the folder protocol (only with the code before Iceberg)")

// legacyRuns declares the record table of the legacy golden warehouse.
var legacyRuns = table.New("runs", table.Log, "", "runs",
	table.Column{Name: "status", Type: arrow.BinaryTypes.String},
)

// TestGenerateLegacyWarehouse wrote testdata/legacy with the folder protocol's code (commit 0a12470), so that the
// migration is tested on a warehouse written by the code before the Iceberg warehouse.
func TestGenerateLegacyWarehouse(t *testing.T) {
	if !*genLegacy {
		t.Skip("-gen-legacy not set")
	}
	mem := memory.NewGoAllocator()
	ctx := context.Background()
	root := filepath.Join("testdata", "legacy")
	os.RemoveAll(root)
	w, err := Open(ctx, root, nil)
	if err != nil {
		t.Fatal(err)
	}
	for n, night := range []string{"2026-11-20", "2026-11-21", "2026-11-22"} {
		d, _ := time.Parse(time.DateOnly, night)
		for _, tenant := range []string{"t1", "t2"} {
			run := fmt.Sprintf("%sT0200Z-%s", strings.ReplaceAll(night, "-", ""), tenant)
			at := d.Add(2 * time.Hour).Format(time.RFC3339)
			var us, ss, ps []string
			for i := range 3 + n {
				us = append(us, fmt.Sprintf(`{"tenant_id":%q,"run_id":%q,"extracted_at":%q,"id":"%s-u%d","sign_in_activity_available":true,"assigned_license_count":%d}`, tenant, run, at, tenant, i, i))
				ss = append(ss, fmt.Sprintf(`{"tenant_id":%q,"run_id":%q,"extracted_at":%q,"id":"%s-s%d-%d","created_at":"%sT0%d:30:00Z","app_display_name":"Teams"}`, tenant, run, at, tenant, n, i, night, i))
				ps = append(ps, fmt.Sprintf(`{"tenant_id":%q,"run_id":%q,"extracted_at":%q,"id":"%s-p%d","name":"P%d","seats":%d,"plans":["a","b"]}`, tenant, run, at, tenant, i, i, i))
			}
			// Each night also re-fetches the previous day's last sign-in (overlapping windows): a duplicate to dedup.
			if n > 0 {
				prev, _ := time.Parse(time.DateOnly, []string{"2026-11-20", "2026-11-21"}[n-1])
				ss = append(ss, fmt.Sprintf(`{"tenant_id":%q,"run_id":%q,"extracted_at":%q,"id":"%s-s%d-0","created_at":"%sT00:30:00Z","app_display_name":"Teams"}`, tenant, run, at, tenant, n-1, prev.Format(time.DateOnly)))
			}
			u := record(t, mem, graph.Users, "["+strings.Join(us, ",")+"]")
			s := record(t, mem, graph.SignIns, "["+strings.Join(ss, ",")+"]")
			p := record(t, mem, people, "["+strings.Join(ps, ",")+"]")
			txn := writeAs(t, w, run, tenant, d.Add(2*time.Hour), WriterOptions{}, map[*table.Table][]arrow.RecordBatch{graph.Users: {u}, graph.SignIns: {s}},
				map[string]string{"graph_signins": fmt.Sprintf(`{"watermark":"%sT02:00:00Z"}`, night)})
			if err := txn.Rejects(graph.SignIns).Write([]byte(`{"id": null, "createdDateTime": "x"}`)); err != nil {
				t.Fatal(err)
			}
			if err := txn.Commit(ctx); err != nil {
				t.Fatal(err)
			}
			marts := writeAs(t, w, run+"-marts", tenant, d, WriterOptions{Layer: Marts}, map[*table.Table][]arrow.RecordBatch{people: {p}}, nil)
			if err := marts.Commit(ctx); err != nil {
				t.Fatal(err)
			}
			r := record(t, mem, legacyRuns, fmt.Sprintf(`[{"tenant_id":%q,"run_id":%q,"extracted_at":%q,"status":"succeeded"}]`, tenant, run, at))
			if err := w.WriteRun(ctx, legacyRuns, tenant, run, r); err != nil {
				t.Fatal(err)
			}
			u.Release()
			s.Release()
			p.Release()
			r.Release()
		}
	}
	os.Remove(filepath.Join(root, "_state", ".lock"))
}
