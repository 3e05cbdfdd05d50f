package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/seatlake/seatlake/load/target"
)

// The seam a new sync target plugs into: exampleTarget below is a whole target (rows POSTed to an HTTP service in
// batches), and the one line in init is all it takes for `seatlake sync example-sink` to exist with its flags, its
// section of the config file and its bounds, for its syncs to be diffed, sent and recorded in the syncs table, and
// for a row it skipped to fail the sync; nothing in pipelines or cmd names it. (The environment variable keeps it
// out of the other tests' CLI processes.)
func init() {
	if os.Getenv("SEATLAKE_TEST_EXAMPLE_TARGET") == "1" {
		target.Register(exampleTarget{})
	}
}

// exampleTarget POSTs {"tenant", "type", "ids"} to <endpoint> in batches; the service answers {"took": n}.
type exampleTarget struct{}

func (exampleTarget) Name() string  { return "example-sink" }
func (exampleTarget) Usage() string { return "sync into an example service" }
func (exampleTarget) Description() string {
	return "Posts every row's id to the example service in batches."
}
func (exampleTarget) Settings() []target.Setting {
	return []target.Setting{
		{Key: "endpoint", Kind: target.String, Help: "the example service's URL", Env: "SEATLAKE_EXAMPLE_SINK_URL", Endpoint: true},
		{Key: "batch", Kind: target.Int, Default: "2", Min: "1", Max: "10", Help: "rows per request"},
	}
}

func (exampleTarget) Open(s target.Setup) (target.Sender, error) {
	if s.Values["endpoint"] == "" {
		return nil, errors.New("endpoint is required")
	}
	return exampleSender{url: s.Values["endpoint"], batch: s.Values.Int("batch")}, nil
}

type exampleSender struct {
	url   string
	batch int
}

func (e exampleSender) Send(ctx context.Context, env target.Env, data target.Data) (target.Result, error) {
	res := target.Result{Sent: map[string]int{}}
	for _, t := range target.Types() {
		ids := exampleIDs(data)[t.Selector]
		for i := 0; i < len(ids); i += e.batch {
			body, _ := json.Marshal(map[string]any{"tenant": env.Tenant.ID, "type": t.Selector, "ids": ids[i:min(i+e.batch, len(ids))]})
			req, err := http.NewRequestWithContext(ctx, http.MethodPost, e.url, bytes.NewReader(body))
			if err != nil {
				return res, err
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				return res, err
			}
			var took struct{ Took int }
			err = json.NewDecoder(resp.Body).Decode(&took)
			resp.Body.Close()
			if err != nil {
				return res, fmt.Errorf("reading the example service's answer: %w", err)
			}
			res.Sent[t.Selector] += took.Took
		}
	}
	return res, nil
}

// exampleIDs are the rows' ids per selector.
func exampleIDs(d target.Data) map[string][]string {
	out := map[string][]string{}
	for _, p := range d.Persons {
		out["persons"] = append(out["persons"], p.ID)
	}
	for _, s := range d.Subscriptions {
		out["subscriptions"] = append(out["subscriptions"], s.SkuID)
	}
	for _, a := range d.Assignments {
		out["assignments"] = append(out["assignments"], a.UserID+"|"+a.SkuID)
	}
	return out
}

// exampleSink is the example service: it holds the ids it took per type, counts the requests, and skips the ids
// in drop.
type exampleSink struct {
	mu       sync.Mutex
	held     map[string][]string
	requests int
	biggest  int
	drop     map[string]bool
}

func (s *exampleSink) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Tenant, Type string
		IDs          []string
	}
	if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.requests++
	s.biggest = max(s.biggest, len(in.IDs))
	took := 0
	for _, id := range in.IDs {
		if s.drop[id] {
			continue
		}
		if !slices.Contains(s.held[in.Type], id) {
			s.held[in.Type] = append(s.held[in.Type], id)
		}
		took++
	}
	json.NewEncoder(w).Encode(map[string]int{"took": took})
}

// with runs f with the service's state locked.
func (s *exampleSink) with(f func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f()
}

func TestCLISyncTargetPlugsInWithOneLine(t *testing.T) {
	wh, simEnv := ranWarehouse(t)
	sink := &exampleSink{held: map[string][]string{}, drop: map[string]bool{}}
	srv := httptest.NewServer(sink)
	defer srv.Close()
	env := append(simEnv, "SEATLAKE_TEST_EXAMPLE_TARGET=1")
	dir := t.TempDir()
	config := func(section string) string {
		f := filepath.Join(dir, "seatlake.yaml")
		if err := os.WriteFile(f, []byte("warehouse: "+wh+"\nsync:\n  example-sink:\n"+section), 0o600); err != nil {
			t.Fatal(err)
		}
		return f
	}

	if r := seatlake(t, env, "sync", "--help"); !strings.Contains(r.stdout, "example-sink") || !strings.Contains(r.stdout, "sync into an example service") {
		t.Errorf("sync --help does not list the target:\n%s%s", r.stdout, r.stderr)
	}
	if r := seatlake(t, env, "sync", "example-sink", "--help"); !strings.Contains(r.stdout, "--endpoint value") || !strings.Contains(r.stdout, "rows per request (default: 2)") ||
		!strings.Contains(r.stdout, "$SEATLAKE_EXAMPLE_SINK_URL") || !strings.Contains(r.stdout, "--dry-run") {
		t.Errorf("sync example-sink --help does not show the target's flags:\n%s%s", r.stdout, r.stderr)
	}
	// Its section of the config file: keys checked against its settings, bounds as its flags'.
	for _, bad := range []struct{ section, want string }{
		{"    endpont: " + srv.URL + "\n", `"sync.example-sink.endpont"`},
		{"    endpoint: " + srv.URL + "\n    batch: 11\n", "--batch 11: want 1 to 10"},
		{"    endpoint: ftp://example\n", "endpoint: "},
	} {
		r := seatlake(t, env, "sync", "example-sink", "--config", config(bad.section))
		if r.code != exitUsage || !strings.Contains(r.stderr, bad.want) {
			t.Errorf("sync with section %q: exit %d, stderr %q; want exit %d naming %q", bad.section, r.code, r.stderr, exitUsage, bad.want)
		}
	}
	if r := seatlake(t, env, "config", "validate", config("    endpont: "+srv.URL+"\n")); r.code != exitUsage || !strings.Contains(r.stderr, `did you mean "endpoint"`) {
		t.Errorf("config validate with a misspelled key of the target: exit %d: %s", r.code, r.stderr)
	}
	f := config("    endpoint: " + srv.URL + "\n    batch: 3\n")
	if r := seatlake(t, env, "config", "validate", f); r.code != 0 {
		t.Errorf("config validate: exit %d: %s", r.code, r.stderr)
	}

	// A dry run sends nothing; the sync sends every row in batches of the file's size, the next changes nothing.
	users, _ := strconv.Atoi(csvRows(t, wh, "SELECT count(*) FROM graph_users")[0][0])
	r := seatlake(t, env, "sync", "example-sink", "--config", f, "--dry-run")
	var requests, biggest, held int
	sink.with(func() { requests = sink.requests })
	if r.code != 0 || !strings.Contains(r.stdout, fmt.Sprintf(`type="Person" would_send=%d new=%d`, users, users)) || requests != 0 {
		t.Fatalf("dry run: exit %d, %d requests\n%s%s", r.code, requests, r.stdout, r.stderr)
	}
	for i := range 2 {
		r = seatlake(t, env, "sync", "example-sink", "--config", f)
		if r.code != 0 || strings.Count(r.stdout, "status=succeeded") != 3 || !strings.Contains(r.stdout, "example-sink tenant=") ||
			!strings.Contains(r.stdout, fmt.Sprintf(`type="Person" sent=%d created=- `, users)) {
			t.Fatalf("sync %d: exit %d\n%s%s", i+1, r.code, r.stdout, r.stderr)
		}
	}
	sink.with(func() { held, biggest = len(sink.held["persons"]), sink.biggest })
	if held != users || users == 0 || biggest != 3 {
		t.Errorf("the service holds %d persons (the warehouse %d), at most %d a request (want 3)", held, users, biggest)
	}
	// The flag wins over the file.
	r = seatlake(t, env, "sync", "example-sink", "--config", f, "--batch", "10")
	sink.with(func() { biggest = sink.biggest })
	if r.code != 0 || biggest != 10 {
		t.Errorf("--batch 10: exit %d, at most %d a request\n%s", r.code, biggest, r.stderr)
	}

	// A row the target skipped fails the sync, and its record says so.
	sink.with(func() { sink.drop[sink.held["persons"][0]] = true })
	r = seatlake(t, env, "sync", "example-sink", "--config", f)
	if r.code != 1 || !strings.Contains(r.stdout, "status=partial") || !strings.Contains(r.stderr, fmt.Sprintf("took %d of the %d Person rows", users-1, users)) {
		t.Errorf("a skipped row: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	rows := csvRows(t, wh, "SELECT target, dry_run, status FROM syncs ORDER BY started_at")
	want := [][]string{{"example-sink", "true", "succeeded"}, {"example-sink", "false", "succeeded"}, {"example-sink", "false", "succeeded"},
		{"example-sink", "false", "succeeded"}, {"example-sink", "false", "partial"}}
	if fmt.Sprint(rows) != fmt.Sprint(want) {
		t.Errorf("syncs: %v\nwant %v", rows, want)
	}
}
