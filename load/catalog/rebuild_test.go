package catalog

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/seatlake/seatlake/internal/table"
)

// RebuildViews shows the changed tables' new rows and keeps the other views as the last build left them; without a
// catalog it builds every view.
func TestRebuildViews(t *testing.T) {
	day := time.Date(2026, 11, 21, 0, 0, 0, 0, time.UTC)
	users := []string{`{"id": "u1", "user_principal_name": "adele@contoso.com", "sign_in_activity_available": true, "assigned_license_count": 1}`}
	signins := []string{`{"id": "s1", "created_at": "2026-11-20T10:00:00Z", "user_id": "u1", "error_code": 0}`,
		`{"id": "s2", "created_at": "2026-11-20T11:00:00Z", "user_id": "u1", "error_code": 0}`}
	const q = `SELECT (SELECT count(*) FROM graph_users) AS users, (SELECT count(*) FROM graph_signins) AS signins,
		(SELECT count(*) FROM duckdb_views() WHERE view_name = 'graph_signins' AND comment <> '') AS documented`
	tests := []struct {
		name      string
		built     bool // a catalog was built after the users were loaded, before the sign-ins
		changed   string
		wantViews string
	}{
		{"the changed table's rows appear, the others' views stay as built", true, "graph_signins", "users,signins,documented\n1,2,1"},
		{"a table left out keeps the view of the last build", true, "graph_users", "users,signins,documented\n1,0,1"},
		{"no catalog yet: every view is built", false, "graph_signins", "users,signins,documented\n1,2,1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			root, wh := openWarehouse(t)
			load(t, wh, byName("graph_users"), "t1", "r1", day, users, false)
			if tt.built {
				if err := BuildFrom(ctx, wh, scriptTables()); err != nil {
					t.Fatal(err)
				}
			}
			load(t, wh, byName("graph_signins"), "t1", "r2", day, signins, false)
			if err := RebuildViews(ctx, wh, scriptTables(), []*table.Table{byName(tt.changed)}); err != nil {
				t.Fatal(err)
			}
			var out bytes.Buffer
			if err := Query(ctx, root, q, "csv", &out); err != nil {
				t.Fatal(err)
			}
			if got := strings.TrimSpace(out.String()); got != tt.wantViews {
				t.Errorf("got\n%s\nwant\n%s", got, tt.wantViews)
			}
			if st, err := os.Stat(filepath.Join(root, FileName)); err != nil {
				t.Error(err)
			} else if st.Mode().Perm() != 0o640 {
				t.Errorf("the catalog's mode is %v, want 0640", st.Mode().Perm())
			}
			if left, _ := filepath.Glob(filepath.Join(root, FileName+".tmp-*")); len(left) > 0 {
				t.Errorf("temporary files left: %v", left)
			}
		})
	}
}

// One ViewRebuilder rebuilds again and again: each rebuild shows the rows committed since the last.
func TestViewRebuilderAgain(t *testing.T) {
	ctx := context.Background()
	root, wh := openWarehouse(t)
	if err := BuildFrom(ctx, wh, scriptTables()); err != nil {
		t.Fatal(err)
	}
	var v ViewRebuilder
	defer v.Close()
	day := time.Date(2026, 11, 21, 0, 0, 0, 0, time.UTC)
	for i, want := range []string{"n\n1", "n\n2", "n\n3"} {
		row := `{"id": "s` + string(rune('1'+i)) + `", "created_at": "2026-11-20T10:00:00Z", "user_id": "u1", "error_code": 0}`
		load(t, wh, byName("graph_signins"), "t1", "r"+string(rune('1'+i)), day, []string{row}, false)
		if err := v.Rebuild(ctx, wh, scriptTables(), []*table.Table{byName("graph_signins")}); err != nil {
			t.Fatal(err)
		}
		var out bytes.Buffer
		if err := Query(ctx, root, "SELECT count(*) AS n FROM graph_signins", "csv", &out); err != nil {
			t.Fatal(err)
		}
		if got := strings.TrimSpace(out.String()); got != want {
			t.Errorf("rebuild %d: got %q, want %q", i+1, got, want)
		}
	}
}

// A catalog written in parts shows each table as committed when its part was written, and only once Finish puts it
// in place; an aborted one leaves the old catalog and no file behind.
func TestBuilderInParts(t *testing.T) {
	day := time.Date(2026, 11, 21, 0, 0, 0, 0, time.UTC)
	users := []string{`{"id": "u1", "user_principal_name": "adele@contoso.com", "sign_in_activity_available": true, "assigned_license_count": 1}`}
	signin := func(id string) []string {
		return []string{`{"id": "` + id + `", "created_at": "2026-11-20T10:00:00Z", "user_id": "u1", "error_code": 0}`}
	}
	const q = `SELECT (SELECT count(*) FROM graph_users) AS users, (SELECT count(*) FROM graph_signins) AS signins`
	var first, later []*table.Table
	for _, tb := range scriptTables() {
		if tb.Name == "graph_signins" {
			later = append(later, tb)
		} else {
			first = append(first, tb)
		}
	}
	tests := []struct {
		name  string
		abort bool
		want  string // the catalog's answer afterwards
	}{
		{"finished: the later part reads what was committed before Finish", false, "users,signins\n1,2"},
		{"aborted: the old catalog stays", true, "users,signins\n1,0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			root, wh := openWarehouse(t)
			load(t, wh, byName("graph_users"), "t1", "r1", day, users, false)
			if err := BuildFrom(ctx, wh, scriptTables()); err != nil { // the old catalog: no sign-ins
				t.Fatal(err)
			}
			b, err := StartBuild(ctx, wh, first, nil)
			if err != nil {
				t.Fatal(err)
			}
			load(t, wh, byName("graph_signins"), "t1", "r2", day, signin("s1"), false)
			load(t, wh, byName("graph_signins"), "t1", "r3", day, signin("s2"), false)
			if tt.abort {
				b.Abort()
			} else {
				var out bytes.Buffer
				if err := Query(ctx, root, q, "csv", &out); err != nil {
					t.Fatal(err)
				}
				if got := strings.TrimSpace(out.String()); got != "users,signins\n1,0" {
					t.Errorf("before Finish the catalog answers %q: want the old one's", got)
				}
				if err := b.Finish(ctx, later); err != nil {
					t.Fatal(err)
				}
				b.Abort() // after Finish: nothing to undo
			}
			var out bytes.Buffer
			if err := Query(ctx, root, q, "csv", &out); err != nil {
				t.Fatal(err)
			}
			if got := strings.TrimSpace(out.String()); got != tt.want {
				t.Errorf("got\n%s\nwant\n%s", got, tt.want)
			}
			if left, _ := filepath.Glob(filepath.Join(root, FileName+".tmp-*")); len(left) > 0 {
				t.Errorf("temporary files left: %v", left)
			}
		})
	}
	t.Run("a table in both parts", func(t *testing.T) {
		ctx := context.Background()
		_, wh := openWarehouse(t)
		b, err := StartBuild(ctx, wh, first, nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := b.Finish(ctx, first[:1]); err == nil || !strings.Contains(err.Error(), "listed twice") {
			t.Errorf("Finish with %s again: %v, want an error saying it is listed twice", first[0].Name, err)
		}
	})
}
