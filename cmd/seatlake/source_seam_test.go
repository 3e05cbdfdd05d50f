package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/seatlake/seatlake/extract/source"
	"github.com/seatlake/seatlake/internal/table"
)

// The seam a new source plugs into: exampleSource below is a whole source (one table read from an HTTP service),
// and the one line in init is all it takes for `seatlake run`, `check` and `config validate` to know its flags,
// config keys, bounds, table and check; nothing in pipelines or cmd names it. (The environment variable keeps it
// out of the other tests' CLI processes, whose tables and flags it would otherwise join.)
func init() {
	if os.Getenv("SEATLAKE_TEST_EXAMPLE_SOURCE") == "1" {
		source.Register(exampleSource{})
	}
}

// exampleItems is the example source's one table.
var exampleItems = table.New("example_items", table.Snapshot, "", "items of the example service",
	table.Column{Name: "id", Type: arrow.BinaryTypes.String, Key: true},
	table.Column{Name: "name", Type: arrow.BinaryTypes.String, Nullable: true},
	table.Column{Name: "size", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
)

// exampleSource reads GET <example-url>?top=N&skip=M: {"value": [{"id", "name", "size"}…], "next": bool}.
type exampleSource struct{}

func (exampleSource) Name() string           { return "example" }
func (exampleSource) Tables() []*table.Table { return []*table.Table{exampleItems} }
func (exampleSource) Settings() []source.Setting {
	return []source.Setting{
		{Key: "example-url", Kind: source.URLs, Help: "an example service's items URL, each read on its own", PerTenant: true},
		{Key: "example-page-size", Kind: source.Int, Default: "50", Min: "1", Max: "1000", Help: "items per request"},
	}
}

func (s exampleSource) Streams(v source.Values) []source.Stream {
	r := source.Read(s.Settings(), v)
	var streams []source.Stream
	for _, u := range r.Strings("example-url") {
		streams = append(streams, source.Stream{Name: exampleItems.Name + " " + u, Table: exampleItems, Scope: u,
			Run: func(ctx context.Context, env source.Env, sink table.Sink) error {
				return readExample(ctx, env, sink, u, r.Int("example-page-size"))
			}})
	}
	return streams
}

// readExample reads one example service's items.
func readExample(ctx context.Context, env source.Env, sink table.Sink, u string, top int) error {
	bt := table.NewBatcher(memory.DefaultAllocator, exampleItems, env.BatchRows, sink)
	defer bt.Release()
	prov := table.NewProvenance(bt.Builder(), env.TenantID, env.RunID, env.ExtractedAt)
	client := env.Client("")
	var buf bytes.Buffer
	for skip := 0; ; skip += top {
		if err := client.Get(ctx, fmt.Sprintf("%s?top=%d&skip=%d", u, top, skip), &buf); err != nil {
			return err
		}
		var page examplePage
		if err := json.Unmarshal(buf.Bytes(), &page); err != nil {
			return fmt.Errorf("reading the example page: %w", err)
		}
		for _, it := range page.Value {
			prov.Append()
			b := bt.Builder()
			b.Field(3).(*array.StringBuilder).Append(it.ID)
			b.Field(4).(*array.StringBuilder).Append(it.Name)
			b.Field(5).(*array.Int64Builder).Append(it.Size)
			if err := bt.RowDone(ctx); err != nil {
				return err
			}
		}
		if !page.Next {
			return bt.Flush(ctx)
		}
	}
}

func (s exampleSource) Check(ctx context.Context, v source.Values, env source.Env) []source.Check {
	var out []source.Check
	for _, u := range source.Read(s.Settings(), v).Strings("example-url") {
		var buf bytes.Buffer
		if err := env.Client("").Get(ctx, u+"?top=1&skip=0", &buf); err != nil {
			out = append(out, source.Check{Target: u, Name: "items", Status: source.Fail, Detail: err.Error(), Action: "check example-url"})
			continue
		}
		out = append(out, source.Check{Target: u, Name: "items", Status: source.OK, Detail: "the items answer"})
	}
	return out
}

type examplePage struct {
	Value []struct {
		ID   string `json:"id"`
		Name string `json:"name"`
		Size int64  `json:"size"`
	} `json:"value"`
	Next bool `json:"next"`
}

// exampleService serves n items named <prefix>-NNN in pages, answers 404 from item failFrom on (when > 0), and
// counts the requests.
func exampleService(t *testing.T, prefix string, n, failFrom int) (*httptest.Server, *atomic.Int64) {
	var requests atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		top, _ := strconv.Atoi(r.URL.Query().Get("top"))
		skip, _ := strconv.Atoi(r.URL.Query().Get("skip"))
		if failFrom > 0 && skip >= failFrom {
			http.Error(w, "gone", http.StatusNotFound)
			return
		}
		page := map[string]any{"next": skip+top < n}
		var items []map[string]any
		for i := skip; i < min(skip+top, n); i++ {
			items = append(items, map[string]any{"id": fmt.Sprintf("%s-%03d", prefix, i), "name": fmt.Sprintf("Item %d", i), "size": i * 10})
		}
		page["value"] = items
		json.NewEncoder(w).Encode(page)
	}))
	t.Cleanup(srv.Close)
	return srv, &requests
}

func TestCLIASourcePlugsInWithOneLine(t *testing.T) {
	_, base, simEnv := startSim(t, nil)
	srv, requests := exampleService(t, "item", 120, 0)
	dir := t.TempDir()
	env := append(simEnv, "SEATLAKE_TEST_EXAMPLE_SOURCE=1")
	tenantID, clientID := envValue(simEnv, "AZURE_TENANT_ID"), envValue(simEnv, "AZURE_CLIENT_ID")
	config := func(top, url string) string {
		f := filepath.Join(dir, "seatlake.yaml")
		body := fmt.Sprintf("example-page-size: %s\ntenants:\n  - name: contoso\n    tenant-id: %s\n    client-id: %s\n    client-secret-env: AZURE_CLIENT_SECRET\n    authority-host: %s\n    graph-endpoint: %s\n    example-url: [%s]\n",
			top, tenantID, clientID, base, base, url)
		if err := os.WriteFile(f, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return f
	}
	wh := filepath.Join(dir, "wh")

	if r := seatlake(t, env, "run", "--help"); !strings.Contains(r.stdout, "--example-page-size value") || !strings.Contains(r.stdout, "items per request (1..1000)") {
		t.Errorf("run --help does not show the source's flag with its bounds:\n%s", r.stdout)
	}
	for _, bad := range []struct{ top, url, want string }{
		{"0", srv.URL, `--example-page-size 0: want 1 to 1000`},
		{"many", srv.URL, `key "example-page-size" (line 1): "many": want a whole number from 1 to 1000`},
		{"40", "ftp://example", `tenant "contoso": example-url: ftp://example: scheme "ftp", want https`},
	} {
		r := seatlake(t, env, "config", "validate", "--config", config(bad.top, bad.url))
		if r.code != exitUsage || !strings.Contains(r.stderr, bad.want) {
			t.Errorf("config validate with example-page-size %s, example-url %s: exit %d, stderr %q; want exit %d naming %q", bad.top, bad.url, r.code, r.stderr, exitUsage, bad.want)
		}
	}
	f := config("40", srv.URL)
	if r := seatlake(t, env, "config", "validate", "--config", f); r.code != 0 {
		t.Fatalf("config validate: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	r := seatlake(t, env, "check", "--config", f, "--format", "json")
	var checks []struct{ Tenant, Source, Target, Check, Status string }
	if err := json.Unmarshal([]byte(r.stdout), &checks); err != nil {
		t.Fatalf("check --format json: %v\n%s%s", err, r.stdout, r.stderr)
	}
	found := false
	for _, c := range checks {
		found = found || c == struct{ Tenant, Source, Target, Check, Status string }{"contoso", "example", srv.URL, "items", "ok"}
	}
	if !found {
		t.Errorf("check does not run the source's check:\n%s%s", r.stdout, r.stderr)
	}
	before := requests.Load()
	if r := seatlake(t, env, "run", "--config", f, "-w", wh, "--progress", "never"); r.code != 0 {
		t.Fatalf("run: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if got := requests.Load() - before; got != 3 {
		t.Errorf("the run sent %d requests for 120 items at example-page-size 40; want 3", got)
	}
	q := seatlake(t, env, "query", "-w", wh, "--format", "csv", "SELECT count(*) AS n, count(DISTINCT id) AS ids, sum(size) AS size FROM example_items")
	if want := "n,ids,size\n120,120,71400\n"; q.stdout != want {
		t.Errorf("example_items through the views:\n%s%s\nwant\n%s", q.stdout, q.stderr, want)
	}

	// Each URL is a scope of its own: one that fails after a page is named as missing and lands none of its rows,
	// the other lands whole, and the run is incomplete (exit 3), not failed.
	broken, _ := exampleService(t, "broken", 100, 40)
	r = seatlake(t, env, "run", "--config", config("40", srv.URL+", "+broken.URL), "-w", wh, "--progress", "never")
	if r.code != exitIncomplete || !strings.Contains(r.stdout+r.stderr, "example "+broken.URL+": ") {
		t.Errorf("run with a failing scope: exit %d, want %d naming %q as missing\n%s%s", r.code, exitIncomplete, "example "+broken.URL, r.stdout, r.stderr)
	}
	q = seatlake(t, env, "query", "-w", wh, "--format", "csv", "SELECT count(*) AS n, count(*) FILTER (WHERE id LIKE 'broken-%') AS broken FROM example_items")
	if want := "n,broken\n120,0\n"; q.stdout != want {
		t.Errorf("example_items after a failing scope:\n%s%s\nwant\n%s", q.stdout, q.stderr, want)
	}
}

// envValue is the value of name in a list of NAME=value.
func envValue(env []string, name string) string {
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, name+"="); ok {
			return v
		}
	}
	return ""
}
