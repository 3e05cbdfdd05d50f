package pipelines

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/seatlake/seatlake/load/catalog"
)

// The views of finops_business_events follow the commits: the catalog exists from the receiver's start, a commit
// made for the journal's size (commit-events) leaves the views to the next one, and a receiver killed in between
// still knows the committed events (F&O's retries of them are duplicates), whose views the next commit rebuilds.
func TestReceiverViewsFollowTheCommits(t *testing.T) {
	ctx := context.Background()
	wh := t.TempDir()
	secret := contosoSecret(t, wh)
	cfg := EventsConfig{Warehouse: wh, CommitEvery: time.Hour,
		Envs: []EventsEnv{{Name: "contoso-prod", URL: "https://contoso-prod.operations.dynamics.com", SecretFile: secret, Tenant: &Config{TenantID: "t1"}}}}
	post := func(rcv *Receiver, cn string) int {
		t.Helper()
		srv := httptest.NewServer(rcv)
		defer srv.Close()
		resp, err := http.Post(srv.URL+CallbackPath("contoso-prod", "s3cret"), "application/json",
			strings.NewReader(`{"BusinessEventId":"SalesOrderInvoicedBusinessEvent","ControlNumber":`+cn+`}`))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	count := func() string {
		t.Helper()
		var out bytes.Buffer
		if err := catalog.Query(ctx, wh, "SELECT count(*) AS n FROM finops_business_events", "csv", &out); err != nil {
			t.Fatalf("querying the catalog: %v", err)
		}
		return strings.TrimSpace(strings.TrimPrefix(out.String(), "n\n"))
	}
	first, err := NewReceiver(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if n := count(); n != "0" {
		t.Errorf("the views at the receiver's start: %s events, want 0", n)
	}
	if code := post(first, "1"); code != http.StatusAccepted {
		t.Fatalf("first event: %d", code)
	}
	if err := first.commit(ctx, false); err != nil { // as a commit kicked by commit-events
		t.Fatal(err)
	}
	first.journal.Close() // killed before the views followed
	second, err := NewReceiver(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer second.journal.Close()
	if code := post(second, "1"); code != http.StatusOK || second.Stats().Duplicates != 1 {
		t.Errorf("a retry of an event committed before the kill: %d, %+v", code, second.Stats())
	}
	if code := post(second, "2"); code != http.StatusAccepted {
		t.Errorf("a new event: %d", code)
	}
	if err := second.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if n := count(); n != "2" {
		t.Errorf("the views after the next commit: %s events, want 2", n)
	}
}
