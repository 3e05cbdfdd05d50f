package warehouse_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/seatlake/seatlake/extract/graph"
	"github.com/seatlake/seatlake/internal/table"
	"github.com/seatlake/seatlake/internal/testservices"
	"github.com/seatlake/seatlake/load/catalog"
	. "github.com/seatlake/seatlake/load/warehouse"
)

func setenv(t *testing.T, env []string) {
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		t.Setenv(k, v)
	}
}

// concurrentJobs runs jobs tenants' commits at once, each with its own connection to the catalog (as separate
// processes have), then reads every tenant back through the views of another warehouse directory.
func concurrentJobs(t *testing.T, cfg func(root string) Config, jobs int) {
	ctx := context.Background()
	var wg sync.WaitGroup
	errs := make(chan error, jobs)
	retries := make([]int, jobs)
	for j := range jobs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			mem := memory.NewGoAllocator()
			c := cfg(t.TempDir())
			c.Commit = CommitOptions{MaxAttempts: 60}
			w, err := OpenConfig(ctx, c)
			if err != nil {
				errs <- err
				return
			}
			defer w.Close()
			tenant := fmt.Sprintf("tenant-%02d", j)
			var rows []string
			for i := range j + 1 {
				rows = append(rows, fmt.Sprintf(`{"tenant_id":%q,"run_id":"r","extracted_at":"2026-11-22T02:00:00Z","id":"u%d","sign_in_activity_available":true,"assigned_license_count":1}`, tenant, i))
			}
			u := RecordFromJSON(t, mem, graph.Users, "["+strings.Join(rows, ",")+"]")
			defer u.Release()
			txn, err := w.Begin("run-"+tenant, tenant, RunDay, WriterOptions{Allocator: mem})
			if err == nil {
				var tw *TableWriter
				if tw, err = txn.Writer(graph.Users); err == nil {
					err = tw.Write(ctx, u)
				}
			}
			if err == nil {
				txn.PutState("graph_signins", []byte(tenant))
				err = txn.Commit(ctx)
				retries[j] = txn.Retries()
			}
			if err != nil {
				errs <- fmt.Errorf("%s: %w", tenant, err)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	reader, err := OpenConfig(ctx, cfg(t.TempDir()))
	if err != nil {
		t.Fatal(err)
	}
	defer reader.Close()
	if err := catalog.BuildFrom(ctx, reader, []*table.Table{graph.Users}); err != nil {
		t.Fatal(err)
	}
	var want []string
	for j := range jobs {
		want = append(want, fmt.Sprintf("tenant-%02d,%d", j, j+1))
		if v, ok, err := reader.State(fmt.Sprintf("tenant-%02d", j), "graph_signins"); !ok || err != nil || string(v) != fmt.Sprintf("tenant-%02d", j) {
			t.Errorf("state of job %d: %q %v %v", j, v, ok, err)
		}
	}
	if got := query(t, reader.Root(), "SELECT tenant_id, count(*) FROM graph_users GROUP BY ALL ORDER BY ALL"); got != strings.Join(want, "\n") {
		t.Errorf("graph_users per tenant\n%s\nwant\n%s", got, strings.Join(want, "\n"))
	}
	t.Logf("%d jobs, commit retries per job: %v", jobs, retries)
}

func TestPostgresCatalogWithAzureStorage(t *testing.T) {
	pg := testservices.StartPostgres(t)
	az := testservices.StartAzurite(t)
	setenv(t, az.Env())
	storage := fmt.Sprintf("abfss://%s@%s.dfs.core.windows.net/warehouse", az.Container, az.AccountName)
	concurrentJobs(t, func(root string) Config { return Config{Root: root, Catalog: pg.URL, Storage: storage} }, 6)
}

func TestPostgresCatalogWithS3Storage(t *testing.T) {
	pg := testservices.StartPostgres(t)
	s3 := testservices.StartS3(t)
	setenv(t, s3.Env())
	storage := fmt.Sprintf("s3://%s/warehouse", s3.Bucket)
	concurrentJobs(t, func(root string) Config { return Config{Root: root, Catalog: pg.URL, Storage: storage} }, 4)
}

var _ arrow.RecordBatch
