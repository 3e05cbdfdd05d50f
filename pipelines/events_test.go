package pipelines

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// A refresh that fails keeps its events journaled, with the error beside them, and is retried at the next commit;
// the events are committed once all the same; once the refresh works, the journal is empty.
func TestReceiverRetriesFailedActions(t *testing.T) {
	wh := t.TempDir()
	secret := SecretPath(wh, "contoso-prod")
	os.MkdirAll(filepath.Dir(secret), 0o750)
	os.WriteFile(secret, []byte("s3cret\n"), 0o600)
	calls, fail := 0, true
	tenant := &Config{TenantID: "t1"}
	rcv, err := NewReceiver(context.Background(), EventsConfig{Warehouse: wh, CommitEvery: time.Hour,
		Envs: []EventsEnv{{Name: "contoso-prod", URL: "https://contoso-prod.operations.dynamics.com", SecretFile: secret, Tenant: tenant}},
		Refresh: func(ctx context.Context, env EventsEnv, users []string) error {
			calls++
			if fail {
				return errors.New("F&O answered 503")
			}
			return nil
		}})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(rcv)
	defer srv.Close()
	body := `{"BusinessEventId":"BusinessEventsAlertEvent","ControlNumber":7,"TableName":"SecurityUserRole","UserId":"adele"}`
	for i := 0; i < 2; i++ { // the second is F&O's retry
		resp, err := http.Post(srv.URL+CallbackPath("contoso-prod", "s3cret"), "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	err = rcv.Commit(context.Background())
	segs, _ := filepath.Glob(filepath.Join(EventsDir(wh), "journal", "seg-*.jsonl"))
	errs, _ := filepath.Glob(filepath.Join(EventsDir(wh), "journal", "*.error"))
	if err == nil || calls != 1 || len(errs) != 1 || len(segs) < 2 {
		t.Fatalf("a failing refresh: err %v, %d calls, error files %v, segments %v", err, calls, errs, segs)
	}
	if st := rcv.Stats(); st.Committed != 1 || st.Duplicates != 1 || st.Journaled != 0 || st.ActionFailures != 1 {
		t.Errorf("stats after the failed action: %+v", st)
	}
	fail = false
	if err := rcv.Commit(context.Background()); err != nil || calls != 2 {
		t.Fatalf("the retry: %v after %d calls", err, calls)
	}
	errs, _ = filepath.Glob(filepath.Join(EventsDir(wh), "journal", "*.error"))
	if st := rcv.Stats(); st.Committed != 1 || st.Journaled != 0 || len(errs) != 0 {
		t.Errorf("after the retry: %+v, error files %v", st, errs)
	}
}

// A receiver started on a warehouse that already holds events answers F&O's late retries of them as duplicates.
func TestReceiverRemembersCommittedEvents(t *testing.T) {
	wh := t.TempDir()
	secret := SecretPath(wh, "contoso-prod")
	os.MkdirAll(filepath.Dir(secret), 0o750)
	os.WriteFile(secret, []byte("s3cret\n"), 0o600)
	cfg := EventsConfig{Warehouse: wh, CommitEvery: time.Hour,
		Envs: []EventsEnv{{Name: "contoso-prod", URL: "https://contoso-prod.operations.dynamics.com", SecretFile: secret, Tenant: &Config{TenantID: "t1"}}}}
	post := func(rcv *Receiver, cn string) int {
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
	first, err := NewReceiver(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if code := post(first, "1"); code != http.StatusAccepted {
		t.Fatalf("first event: %d", code)
	}
	if err := first.Commit(context.Background()); err != nil {
		t.Fatal(err)
	}
	first.journal.Close()
	second, err := NewReceiver(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer second.journal.Close()
	if code := post(second, "1"); code != http.StatusOK || second.Stats().Duplicates != 1 {
		t.Errorf("a retry of a committed event after a restart: %d, %+v", code, second.Stats())
	}
	if code := post(second, "2"); code != http.StatusAccepted {
		t.Errorf("a new event: %d", code)
	}
}
