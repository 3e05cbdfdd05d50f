package pipelines

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A sync's lines name the target and the tenant on every object type; its failures are one line, sorted by tenant,
// and a tenant whose latest run was not complete makes it a configuration to fix (ErrNotComplete).
func TestWriteSyncs(t *testing.T) {
	ok := SyncResult{TenantID: "t1", TenantName: "contoso", Status: "succeeded", Sent: map[string]int{"persons": 3}, Counts: map[string]int{"Person:created": 3}}
	failed := SyncResult{TenantID: "t2", Status: "failed", Err: errors.New("Assets answered 500")}
	partial := SyncResult{TenantID: "t3", Err: fmt.Errorf("tenant t3: %w", ErrNotComplete)}
	for _, tt := range []struct {
		name        string
		res         []SyncResult
		err         string
		notComplete bool
	}{
		{"succeeded", []SyncResult{ok}, "", false},
		{"one failed", []SyncResult{ok, failed}, "sync jsm-assets: tenant t2: Assets answered 500", false},
		{"one not complete", []SyncResult{partial, failed}, "sync jsm-assets: tenant t2: Assets answered 500; tenant t3: tenant t3: the latest run was not complete", true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var b strings.Builder
			err := WriteSyncs(&b, "jsm-assets", tt.res, false)
			if got := fmt.Sprint(err); err == nil && tt.err != "" || err != nil && got != tt.err {
				t.Errorf("error %v, want %q", err, tt.err)
			}
			if errors.Is(err, ErrNotComplete) != tt.notComplete {
				t.Errorf("errors.Is(ErrNotComplete) = %t, want %t", !tt.notComplete, tt.notComplete)
			}
			lines := strings.Split(strings.TrimSpace(b.String()), "\n")
			for _, l := range lines {
				if !strings.HasPrefix(l, "jsm-assets tenant=") || !strings.Contains(l, " type=") || !strings.Contains(l, "dry_run=false") {
					t.Errorf("line %q: want the target, the tenant, the object type", l)
				}
			}
			if len(lines)%len(tt.res) != 0 {
				t.Errorf("%d lines for %d tenants: want as many per tenant", len(lines), len(tt.res))
			}
		})
	}
	var b strings.Builder
	if err := WriteSyncs(&b, "jsm-assets", []SyncResult{ok}, false); err != nil {
		t.Fatal(err)
	}
	if want := `jsm-assets tenant=contoso tenant_id=t1 type="Person" sent=3 created=3 updated=0 unchanged=0 errors=0 dry_run=false status=succeeded`; !strings.HasPrefix(b.String(), want+"\n") {
		t.Errorf("the Person line:\n%s\nwant:\n%s", b.String(), want)
	}
	b.Reset()
	WriteSync(&b, "servicenow sync=1", SyncResult{Sent: map[string]int{}}, false)
	if !strings.Contains(b.String(), "created=- updated=- unchanged=- errors=-") {
		t.Errorf("counts the target did not report are -: %s", b.String())
	}
	b.Reset()
	WriteSync(&b, "jsm-assets", SyncResult{Sent: map[string]int{"persons": 5}, Diff: map[string]map[string]int{"persons": {"new": 2, "changed": 1, "gone": 1}}}, true)
	if want := `jsm-assets type="Person" would_send=5 new=2 changed=1 gone=1 dry_run=true`; !strings.HasPrefix(b.String(), want) {
		t.Errorf("the dry run's Person line:\n%s\nwant:\n%s", b.String(), want)
	}
}

// The demo starts from an empty warehouse: nothing there, or only its own tenant's data (emptied); files that are
// no warehouse, or another tenant's data, are refused unless forced, and then nothing is removed.
func TestEmptyDemoWarehouse(t *testing.T) {
	const demo = "demo-tenant"
	for _, tt := range []struct {
		name    string
		files   []string
		force   bool
		emptied bool
		err     string // part of the error, which is a configuration to fix
	}{
		{"absent", nil, false, false, ""},
		{"the demo's own data", []string{"raw/graph_users/data/tenant_id=" + demo + "/a.parquet", "seatlake.txt"}, false, true, ""},
		{"files and no warehouse", []string{"notes.txt"}, false, false, "holds files and no seatlake warehouse"},
		{"files and no warehouse, forced", []string{"notes.txt"}, true, false, ""},
		{"another tenant's data", []string{"raw/graph_users/data/tenant_id=" + demo + "/a.parquet", "raw/graph_users/tenant=contoso/b.parquet"}, false, false, "holds data of other tenants (contoso)"},
		{"another tenant's data, forced", []string{"raw/graph_users/tenant=contoso/b.parquet"}, true, false, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "wh")
			for _, f := range tt.files {
				os.MkdirAll(filepath.Dir(filepath.Join(dir, f)), 0o750)
				os.WriteFile(filepath.Join(dir, f), []byte("x"), 0o640)
			}
			emptied, err := emptyDemoWarehouse(context.Background(), dir, demo, tt.force)
			if tt.err == "" && err != nil || tt.err != "" && (!errors.Is(err, ErrInvalidConfig) || !strings.Contains(err.Error(), tt.err)) {
				t.Fatalf("error %v, want %q", err, tt.err)
			}
			if emptied != tt.emptied {
				t.Errorf("emptied %t, want %t", emptied, tt.emptied)
			}
			if entries, _ := os.ReadDir(dir); emptied && len(entries) > 0 {
				t.Errorf("emptied, and %d entries are left", len(entries))
			}
			for _, f := range tt.files {
				if _, err := os.Stat(filepath.Join(dir, f)); !emptied && err != nil {
					t.Errorf("%s was removed from a directory the demo did not empty", f)
				}
			}
		})
	}
}
