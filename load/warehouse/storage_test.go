package warehouse_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/seatlake/seatlake/extract/graph"
	"github.com/seatlake/seatlake/internal/table"
	"github.com/seatlake/seatlake/load/catalog"
	. "github.com/seatlake/seatlake/load/warehouse"
)

// Object storage (iceberg-go's in-memory store stands in for S3 and Azure here): the data files are written
// through the FileIO, the views read local copies of the read set's files, and the warehouse directory remembers
// where its tables are.
func TestObjectStorageIsReadThroughTheLocalCache(t *testing.T) {
	storage := fmt.Sprintf("mem://seatlake-%d/warehouse", time.Now().UnixNano())
	w, mem := NewTestWarehouse(t, Config{Storage: storage})
	ctx := context.Background()
	root := w.Root()
	u := RowsOfRun(t, mem, graph.Users, "r1", `"id":"u1","sign_in_activity_available":true,"assigned_license_count":1`)
	defer u.Release()
	txn := WriteUncommitted(t, w, "r1", WriterOptions{Allocator: mem}, map[*table.Table][]arrow.RecordBatch{graph.Users: {u}}, map[string]string{"s": "v"})
	if err := txn.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	w.Close()
	if ps, _ := filepath.Glob(filepath.Join(root, "raw", "*")); len(ps) != 0 {
		t.Errorf("data in the warehouse directory: %v", ps)
	}
	// Open(root) finds the storage again, as `seatlake query --rebuild` does.
	if err := catalog.Build(ctx, root, []*table.Table{graph.Users}); err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	if err := catalog.Query(ctx, root, "SELECT id, run_id, snapshot_date FROM graph_users", "csv", &out); err != nil {
		t.Fatal(err)
	}
	if got, want := out.String(), "id,run_id,snapshot_date\nu1,r1,2026-11-22\n"; got != want {
		t.Errorf("view %q, want %q", got, want)
	}
	cached, _ := filepath.Glob(filepath.Join(root, "_cache", "raw", "graph_users", "data", "tenant_id=t1", "snapshot_date=2026-11-22", "*.parquet"))
	if len(cached) != 1 {
		t.Errorf("cached copies %v", cached)
	}
	b, err := os.ReadFile(filepath.Join(root, ConfigFile))
	if err != nil || !strings.Contains(string(b), storage) {
		t.Errorf("%s: %s %v", ConfigFile, b, err)
	}
}

func TestCatalogAndStorageURLsAreChecked(t *testing.T) {
	ctx := context.Background()
	for _, tt := range []struct {
		cfg  Config
		want string
	}{
		{Config{Catalog: "mysql://x"}, "want postgres://…, https://… (REST)"},
		{Config{Catalog: "http://catalog.example.com/api"}, "plain http:// is allowed only on loopback"},
		{Config{Storage: "gs://bucket/x"}, "want a local path, s3://bucket/prefix or abfss://"},
		{Config{Storage: "abfss://account.dfs.core.windows.net/x"}, "want abfss://container@account.dfs.core.windows.net/prefix"},
		{Config{Catalog: "postgres://seatlake:secret@127.0.0.1:1/iceberg?connect_timeout=1"}, "connecting to the PostgreSQL catalog postgres://seatlake:xxxxx@127.0.0.1:1"},
	} {
		tt.cfg.Root = t.TempDir()
		_, err := OpenConfig(ctx, tt.cfg)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%+v: %v, want %q", tt.cfg, err, tt.want)
		}
		if err != nil && strings.Contains(err.Error(), "secret") {
			t.Errorf("the password is in the error: %v", err)
		}
	}
}
