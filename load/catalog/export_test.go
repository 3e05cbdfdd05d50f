package catalog

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/seatlake/seatlake/extract/graph"
)

// A folder-only reader of the export sees what the views show.
func TestExportMatchesTheViews(t *testing.T) {
	root, wh := openWarehouse(t)
	ctx := context.Background()
	d1, d2 := time.Date(2026, 11, 21, 0, 0, 0, 0, time.UTC), time.Date(2026, 11, 22, 0, 0, 0, 0, time.UTC)
	for _, l := range []struct {
		tenant, run string
		date        time.Time
		users       []string
		signins     []string
	}{
		{"t1", "r1", d1, []string{`{"id":"u1","sign_in_activity_available":true,"assigned_license_count":1}`, `{"id":"u2","sign_in_activity_available":true,"assigned_license_count":1}`}, []string{`{"id":"s1","created_at":"2026-11-20T08:00:00Z"}`}},
		{"t1", "r2", d2, []string{`{"id":"u1","sign_in_activity_available":true,"assigned_license_count":2}`}, []string{`{"id":"s1","created_at":"2026-11-20T08:00:00Z"}`, `{"id":"s2","created_at":"2026-11-21T08:00:00Z"}`}},
		{"t2", "r3", d2, []string{`{"id":"v1","sign_in_activity_available":false,"assigned_license_count":0}`}, nil},
	} {
		load(t, wh, graph.Users, l.tenant, l.run, l.date, l.users, false)
		if l.signins != nil {
			load(t, wh, graph.SignIns, l.tenant, l.run, l.date, l.signins, false)
		}
	}
	tables := append(graph.Tables(), runsTable)
	if err := BuildFrom(ctx, wh, tables); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "export")
	for range 2 { // a second export replaces the first
		if err := Export(ctx, root, out, tables); err != nil {
			t.Fatal(err)
		}
	}
	db, err := sql.Open("duckdb", "")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for view, q := range map[string]string{
		"graph_users":   "SELECT tenant_id, count(*) FROM %s GROUP BY ALL ORDER BY ALL",
		"graph_signins": "SELECT tenant_id, count(*), count(DISTINCT id) FROM %s GROUP BY ALL ORDER BY ALL",
	} {
		var fromView bytes.Buffer
		if err := Query(ctx, root, strings.ReplaceAll(q, "%s", view), "csv", &fromView); err != nil {
			t.Fatal(err)
		}
		folder := "read_parquet('" + filepath.ToSlash(filepath.Join(out, view)) + "/**/*.parquet', hive_partitioning = true)"
		rows, err := db.QueryContext(ctx, strings.ReplaceAll(q, "%s", folder))
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		cols, _ := rows.Columns()
		for rows.Next() {
			vals := make([]any, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			rows.Scan(ptrs...)
			var parts []string
			for _, v := range vals {
				parts = append(parts, fmt.Sprint(v))
			}
			got = append(got, strings.Join(parts, ","))
		}
		rows.Close()
		_, want, _ := strings.Cut(strings.TrimSpace(fromView.String()), "\n")
		if strings.Join(got, "\n") != want {
			t.Errorf("%s: export\n%s\nviews\n%s", view, strings.Join(got, "\n"), want)
		}
	}
}
