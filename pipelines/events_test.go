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
	secret := contosoSecret(t, wh)
	calls, fail := 0, true
	var refreshed []string
	tenant := &Config{TenantID: "t1"}
	rcv, err := NewReceiver(context.Background(), EventsConfig{Warehouse: wh, CommitEvery: time.Hour,
		Envs: []EventsEnv{{Name: "contoso-prod", URL: "https://contoso-prod.operations.dynamics.com", SecretFile: secret, Tenant: tenant}},
		Refresh: func(ctx context.Context, env EventsEnv, users []string) error {
			calls++
			refreshed = users
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
	// An alert in the documented shape: the user is the alerted record's KeyValue1, not UserId (the rule's owner).
	body := `{"BusinessEventId":"BusinessEventsAlertEvent","ControlNumber":7,"DataAreaId":"usmf","KeyValue1":"adele","KeyValue2":"5637144590","RuleId":"000400","Subject":"Role assigned","TableName":"SecurityUserRole","UserId":"Admin"}`
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
	if len(refreshed) != 1 || refreshed[0] != "adele" {
		t.Errorf("refresh-user for %v, want [adele]", refreshed)
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
	secret := contosoSecret(t, wh)
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

// Bodies that are no business event are refused with 400 before anything is journaled: not UTF-8 (it would make
// every query of the payload column fail), an unpaired surrogate, no ControlNumber, not an object. A journal that an
// older receiver wrote with such a line still replays: the line is set aside as it was, the others land.
func TestReceiverRefusesMalformedBodies(t *testing.T) {
	wh := t.TempDir()
	secret := contosoSecret(t, wh)
	// The journal of an older receiver: one good event, one body that is not UTF-8.
	jdir := filepath.Join(EventsDir(wh), "journal")
	os.MkdirAll(jdir, 0o750)
	bad := "{\"environment\":\"contoso-prod\",\"received_at\":\"2026-01-01T00:00:00Z\",\"payload\":{\"BusinessEventId\":\"X\",\"ControlNumber\":2,\"N\":\"\xff\"}}"
	os.WriteFile(filepath.Join(jdir, "seg-000000000001.jsonl"), []byte(
		`{"environment":"contoso-prod","received_at":"2026-01-01T00:00:00Z","payload":{"BusinessEventId":"X","ControlNumber":1}}`+"\n"+bad+"\n"), 0o640)
	cfg := EventsConfig{Warehouse: wh, CommitEvery: time.Hour,
		Envs: []EventsEnv{{Name: "contoso-prod", URL: "https://contoso-prod.operations.dynamics.com", SecretFile: secret, Tenant: &Config{TenantID: "t1"}}}}
	rcv, err := NewReceiver(context.Background(), cfg)
	if err != nil {
		t.Fatalf("a journal with a line that is no business event: %v", err)
	}
	defer rcv.journal.Close()
	srv := httptest.NewServer(rcv)
	defer srv.Close()
	for _, body := range []string{
		"{\"BusinessEventId\":\"X\",\"ControlNumber\":3,\"N\":\"Caf\xe9\"}",
		`{"BusinessEventId":"X","ControlNumber":4,"N":"\ud800"}`,
		`{"BusinessEventId":"X","EventId":"E-5"}`,
		`[{"BusinessEventId":"X","ControlNumber":6}]`,
	} {
		resp, err := http.Post(srv.URL+CallbackPath("contoso-prod", "s3cret"), "application/json; charset=utf-8", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest {
			t.Errorf("%q: %d, want 400", body, resp.StatusCode)
		}
	}
	if st := rcv.Stats(); st.Malformed != 4 || st.Accepted != 0 || st.Journaled != 1 {
		t.Errorf("stats: %+v", st)
	}
	if err := rcv.Commit(context.Background()); err != nil {
		t.Fatal(err)
	}
	if st := rcv.Stats(); st.Committed != 1 || st.Journaled != 0 {
		t.Errorf("after the commit: %+v", st)
	}
	aside, _ := os.ReadFile(filepath.Join(RejectedDir(wh), "seg-000000000001.jsonl"))
	if string(aside) != bad+"\n" {
		t.Errorf("set aside: %q", aside)
	}
	if segs, _ := filepath.Glob(filepath.Join(jdir, "seg-*.jsonl")); len(segs) != 1 { // the new, empty segment
		t.Errorf("journal after the commit: %v", segs)
	}
}

// contosoSecret writes the callback secret "s3cret" of the environment contoso-prod in the warehouse wh, and
// returns its path.
func contosoSecret(tb testing.TB, wh string) string {
	tb.Helper()
	secret := SecretPath(wh, "contoso-prod")
	if err := os.MkdirAll(filepath.Dir(secret), 0o750); err != nil {
		tb.Fatal(err)
	}
	if err := os.WriteFile(secret, []byte("s3cret\n"), 0o600); err != nil {
		tb.Fatal(err)
	}
	return secret
}
