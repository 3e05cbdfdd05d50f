package warehouse

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/iceberg-go/catalog"
	"github.com/apache/iceberg-go/catalog/rest"
	itable "github.com/apache/iceberg-go/table"

	"github.com/seatlake/seatlake/extract/graph"
	"github.com/seatlake/seatlake/internal/table"
)

// lostAnswerCatalog applies the first CommitTable of each table and then answers it with err, as a catalog whose
// answer was lost does.
type lostAnswerCatalog struct {
	catalog.Catalog
	err  error
	mu   sync.Mutex
	lost map[string]bool
}

func (c *lostAnswerCatalog) LoadTable(ctx context.Context, id itable.Identifier) (*itable.Table, error) {
	tbl, err := c.Catalog.LoadTable(ctx, id)
	if err != nil {
		return nil, err
	}
	return itable.New(id, tbl.Metadata(), tbl.MetadataLocation(), tbl.FS, c), nil
}

func (c *lostAnswerCatalog) CommitTable(ctx context.Context, id itable.Identifier, reqs []itable.Requirement, upds []itable.Update) (itable.Metadata, string, error) {
	md, loc, err := c.Catalog.CommitTable(ctx, id, reqs, upds)
	c.mu.Lock()
	defer c.mu.Unlock()
	if err == nil && !c.lost[id[1]] {
		c.lost[id[1]] = true
		return nil, "", c.err
	}
	return md, loc, err
}

// TestUnknownOutcomeOfEachCatalogError: the errors with which the catalogs seatlake supports report a commit whose
// outcome is unknown, each after the commit landed: the REST catalog's 5xx on a commit (iceberg-go's
// rest.ErrCommitStateUnknown for 500, 502, 503 and 504) and its client timeout, the SQL catalog's broken connection
// (PostgreSQL's reset, database/sql's bad connection), and an error of no known type (a reset known only by its
// text). Each table's commit and the commit log's row are found, not committed twice. (TestPostgresCommitAnswerLost loses a real PostgreSQL answer.)
func TestUnknownOutcomeOfEachCatalogError(t *testing.T) {
	for _, c := range []struct {
		name string
		err  error
	}{
		{"REST 504", fmt.Errorf("%w: 504 Gateway Timeout", rest.ErrCommitStateUnknown)},
		{"REST 503", fmt.Errorf("%w: 503 Service Unavailable", rest.ErrCommitStateUnknown)},
		{"REST client timeout", &url.Error{Op: "Post", URL: "https://catalog.example/v1/namespaces/seatlake/tables/x", Err: context.DeadlineExceeded}},
		{"PostgreSQL connection reset", &net.OpError{Op: "read", Net: "tcp", Addr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 5432}, Err: syscall.ECONNRESET}},
		{"database/sql bad connection", driver.ErrBadConn},
		{"a broken connection known only by its text", errors.New("read tcp 127.0.0.1:5432: connection reset by peer")},
	} {
		t.Run(c.name, func(t *testing.T) {
			if isConflict(c.err) || isPermanent(c.err) {
				t.Fatalf("%v is classified as a conflict or a permanent error: its commit would be retried blindly or not at all", c.err)
			}
			w, mem := testWarehouse(t, Config{Commit: CommitOptions{MinBackoff: time.Millisecond, FailureBackoff: time.Millisecond}})
			ctx := context.Background()
			w.cat = &lostAnswerCatalog{Catalog: w.cat, err: c.err, lost: map[string]bool{}}
			s := signIns(t, mem, "r1", "s1", "2026-11-21T08:00:00Z", "s2", "2026-11-21T09:00:00Z")
			defer s.Release()
			txn := write(t, w, "r1", WriterOptions{Allocator: mem}, map[*table.Table][]arrow.RecordBatch{graph.SignIns: {s}}, map[string]string{"graph_signins": "w1"})
			if err := txn.Commit(ctx); err != nil {
				t.Fatal(err)
			}
			if got := strings.Join(scan(t, w, graph.SignIns.Name, "id"), " "); got != "s1 s2" {
				t.Errorf("graph_signins %s: an append whose answer was lost was committed twice", got)
			}
			for _, name := range []string{graph.SignIns.Name, CommitsTable.Name} {
				it, err := w.cat.LoadTable(ctx, ident(name))
				if err != nil {
					t.Fatal(err)
				}
				if n := len(it.Metadata().Snapshots()); n != 1 {
					t.Errorf("%s: %d snapshots, want 1", name, n)
				}
			}
			if txn.Retries() != 2 { // the table's commit and the commit log's row, each looked up once
				t.Errorf("%d retries, want 2", txn.Retries())
			}
			if v, ok, _ := w.State("t1", "graph_signins"); !ok || string(v) != "w1" {
				t.Errorf("state %q %v", v, ok)
			}
		})
	}
}
