package assets

import (
	"context"
	"errors"
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/seatlake/seatlake/internal/assetsim/jsmassets"
)

func sample(n int) Data {
	var d Data
	d.Subscriptions = []Subscription{{SkuID: "sku-e3", Part: "SPE_E3", Product: "Microsoft 365", Purchased: 10, Assigned: int64(n)}}
	for i := range n {
		id := fmt.Sprintf("user-%03d", i)
		d.Persons = append(d.Persons, Person{ID: id, UPN: id + "@contoso.com", Enabled: true})
		d.Assignments = append(d.Assignments, Assignment{UserID: id, SkuID: "sku-e3", Status: "active", Reason: "in use"})
	}
	return d
}

func emulator(t *testing.T) (*jsmassets.Server, Config) {
	s := jsmassets.New("container-token")
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	s.SetBase(srv.URL)
	return s, Config{BaseURL: srv.URL, Token: "container-token", ChunkSize: 7, Poll: 10 * time.Millisecond, Attempts: 2}
}

// A first sync puts the mapping and creates every object, the assignments referencing their Person and
// Subscription; a second identical sync creates nothing and changes nothing; what Assets holds equals what was sent.
func TestSyncCreatesThenChangesNothing(t *testing.T) {
	s, cfg := emulator(t)
	data := sample(20)
	res, err := Sync(context.Background(), cfg, data)
	if err != nil || res.Status != "DONE" || !res.MappingPut || res.Sent["persons"] != 20 || res.Sent["assignments"] != 20 || res.Chunks != 3+1+3 {
		t.Fatalf("first sync: %+v %v", res, err)
	}
	objs := s.Objects()
	if len(objs["Person"]) != 20 || len(objs["Subscription"]) != 1 || len(objs["License Assignment"]) != 20 {
		t.Fatalf("Assets holds %d persons, %d subscriptions, %d assignments", len(objs["Person"]), len(objs["Subscription"]), len(objs["License Assignment"]))
	}
	for _, a := range objs["License Assignment"] {
		if !strings.HasPrefix(a.Attributes["Person"], "ref:") || !strings.HasPrefix(a.Attributes["Subscription"], "ref:") {
			t.Fatalf("assignment %s does not reference its person and subscription: %v", a.Identity, a.Attributes)
		}
	}
	res, err = Sync(context.Background(), cfg, data)
	if err != nil || res.MappingPut || res.Counts["Person:created"] != 0 || res.Counts["Person:unchanged"] != 20 || res.Counts["License Assignment:unchanged"] != 20 {
		t.Errorf("second sync: %+v %v, want every object unchanged", res, err)
	}
}

// What goes wrong is named, and an execution seatlake started never stays RUNNING.
func TestSyncFailures(t *testing.T) {
	s, cfg := emulator(t)
	if _, err := Sync(context.Background(), cfg, sample(3)); err != nil {
		t.Fatal(err)
	}
	// A chunk the service refuses: the failure is recorded on the execution and it is cancelled, so the next sync starts.
	s.MaxChunk = 5
	res, err := Sync(context.Background(), cfg, sample(20))
	if err == nil || !strings.Contains(err.Error(), "submitting persons 1-7") {
		t.Errorf("a refused chunk: %v", err)
	}
	if st, failure, _ := s.Execution(res.ExecutionID); st == "INGESTING" || !strings.Contains(failure, "submitting persons 1-7") {
		t.Errorf("the refused sync's execution is %s with failure %q: want it ended, the cause recorded", st, failure)
	}
	s.MaxChunk = 0
	if _, err := Sync(context.Background(), cfg, sample(20)); err != nil {
		t.Errorf("the sync after a refused chunk: %v", err)
	}
	// An execution Assets ends FAILED.
	s.FailNext = true
	if res, err := Sync(context.Background(), cfg, sample(20)); err == nil || res.Status != "FAILED" {
		t.Errorf("a failed execution: %+v %v", res, err)
	}
	// A rotated token: refused at once, naming what to do; the token itself never appears.
	s.RotateToken("new-token")
	_, err = Sync(context.Background(), cfg, sample(2))
	if !errors.Is(err, ErrTokenRefused) || strings.Contains(err.Error(), "container-token") {
		t.Errorf("a rotated token: %v", err)
	}
}

// Under load Assets answers 429 with Retry-After: the sync waits and goes on, and nothing is lost.
func TestSyncWaitsOutRateLimits(t *testing.T) {
	s, cfg := emulator(t)
	s.RateLimit = 8 // requests a second
	cfg.ChunkSize, cfg.Attempts = 10, 6
	res, err := Sync(context.Background(), cfg, sample(60))
	if err != nil || res.Status != "DONE" {
		t.Fatalf("sync under rate limits: %+v %v", res, err)
	}
	objs := s.Objects()
	if s.Throttled == 0 || len(objs["Person"]) != 60 || len(objs["License Assignment"]) != 60 {
		t.Errorf("throttled %d times; Assets holds %d persons and %d assignments, want 60 each", s.Throttled, len(objs["Person"]), len(objs["License Assignment"]))
	}
}
