package assets

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/seatlake/seatlake/internal/assetsim/jsmassets"
)

// goldenDir holds the documented example payloads the emulator's tests replay too.
const goldenDir = "../../internal/assetsim/jsmassets/testdata"

// sample is n people with one SKU each; every third never had any activity (no last activity, no evidence, days
// inactive unknown) and has no department.
func sample(n int) Data {
	var d Data
	d.Subscriptions = []Subscription{{SkuID: "sku-e3", Part: "SPE_E3", ProductName: "Microsoft 365 E3", Product: "Microsoft 365", Purchased: 10, Assigned: int64(n), MonthlyPrice: 36}}
	for i := range n {
		id := fmt.Sprintf("user-%03d", i)
		p := Person{ID: id, UPN: id + "@contoso.com", DisplayName: "User " + id, Department: "Sales", Enabled: true}
		a := Assignment{UserID: id, SkuID: "sku-e3", ProductName: "Microsoft 365 E3", Status: "active", LastActivity: "2024-05-01T08:30:00Z", Evidence: "sign-in",
			DaysInactive: ptr(int64(3)), Reason: "in use", MonthlyCost: 36}
		if i%3 == 0 {
			p.Department = ""
			a = Assignment{UserID: id, SkuID: "sku-e3", ProductName: "Microsoft 365 E3", Status: "never_used", Reason: "no activity at all", MonthlyCost: 36,
				ReclaimCandidate: true, Action: "remove license"}
		}
		d.Persons = append(d.Persons, p)
		d.Assignments = append(d.Assignments, a)
	}
	return d
}

func ptr[T any](v T) *T { return &v }

func emulator(t *testing.T) (*jsmassets.Server, Config) {
	s := jsmassets.New("container-token")
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	s.SetBase(srv.URL)
	return s, Config{BaseURL: srv.URL, Token: "container-token", ChunkSize: 7, Poll: 10 * time.Millisecond, Attempts: 2}
}

// A first sync puts the mapping and creates every object, the assignments referencing their Person and
// Subscription; a second identical sync creates nothing and changes nothing, as Assets' own result for the
// execution says; what Assets holds equals what was sent.
func TestSyncCreatesThenChangesNothing(t *testing.T) {
	s, cfg := emulator(t)
	data := sample(20)
	res, err := Sync(context.Background(), cfg, data)
	if err != nil || res.Status != "DONE" || !res.MappingPut || res.Sent["persons"] != 20 || res.Sent["assignments"] != 20 || res.Chunks != 3+1+3 ||
		res.Counts["Person:created"] != 20 || res.Counts["License Assignment:created"] != 20 {
		t.Fatalf("first sync: %+v %v", res, err)
	}
	if st, _, _ := s.Execution(res.ExecutionID); st != "DONE" {
		t.Errorf("the execution the sync reports (%q) is %q in Assets", res.ExecutionID, st)
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

// A person who never had any activity is imported with no object error: the attributes Assets would refuse as
// empty strings (the last activity, a date_time; the days inactive, an integer) and the empty texts are left out,
// and every other value goes in its type's form (the emulator refuses any other, see TestValueForms there).
func TestSyncUserWithNoActivity(t *testing.T) {
	s, cfg := emulator(t)
	res, err := Sync(context.Background(), cfg, sample(3))
	if err != nil || res.Counts["License Assignment:errors"] != 0 || res.Counts["Person:errors"] != 0 || res.Counts["License Assignment:created"] != 3 {
		t.Fatalf("sync: %+v %v", res, err)
	}
	held := map[string]map[string]string{}
	for _, o := range s.Objects()["License Assignment"] {
		held[o.Identity] = o.Attributes
	}
	never, active := held["user-000 sku-e3"], held["user-001 sku-e3"]
	for _, name := range []string{"Last activity", "Days inactive", "Evidence"} {
		if v, ok := never[name]; ok {
			t.Errorf("the never-active assignment holds %s = %q, want none", name, v)
		}
	}
	if never["Status"] != "never_used" || never["Reclaim candidate"] != "true" || never["Monthly cost"] != "36" {
		t.Errorf("the never-active assignment: %v", never)
	}
	if active["Last activity"] != "2024-05-01T08:30:00Z" || active["Days inactive"] != "3" || active["Reclaim candidate"] != "false" {
		t.Errorf("the active assignment: %v", active)
	}
	for _, p := range s.Objects()["Person"] {
		if p.Identity == "user-000" && (p.Attributes["Department"] != "" || p.Attributes["Enabled"] != "true") {
			t.Errorf("person without a department: %v", p.Attributes)
		}
	}
}

// A value seatlake cannot put in its attribute's form stops the sync before anything is sent, naming the object.
func TestSyncRefusesValuesItCannotType(t *testing.T) {
	for _, tc := range []struct {
		name   string
		change func(d *Data)
		want   string
	}{
		{"last activity not RFC 3339", func(d *Data) { d.Assignments[1].LastActivity = "yesterday" }, `License Assignment 2 (user-001 sku-e3): attribute "Last activity": "yesterday" is not an RFC 3339`},
		{"integer past 32 bits", func(d *Data) { d.Subscriptions[0].Purchased = 1 << 40 }, `attribute "Purchased": 1099511627776 is outside the range`},
		{"no identity", func(d *Data) { d.Persons[1].ID = "" }, `Person 2: its identity "Entra object id" (id) is empty`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, cfg := emulator(t)
			d := sample(3)
			tc.change(&d)
			_, err := Sync(context.Background(), cfg, d)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got %v, want an error containing %q", err, tc.want)
			}
			if st, _, _ := s.Execution(""); st != "" || len(s.Objects()) != 0 {
				t.Errorf("something was sent: %v", s.Objects())
			}
		})
	}
}

// The mapping declares the JSON schema version it uses: externalIds on every object type and attribute, and
// uniqueness, exist only in 2023_10_19.
func TestMappingDeclaresItsVersion(t *testing.T) {
	doc := Mapping()
	if doc["$schema"] != "https://api.atlassian.com/jsm/insight/imports/external/schema/versions/2023_10_19" {
		t.Errorf("$schema %v", doc["$schema"])
	}
	for _, ot := range doc["schema"].(map[string]any)["objectSchema"].(map[string]any)["objectTypes"].([]any) {
		ot := ot.(map[string]any)
		if ot["externalId"] == "" {
			t.Errorf("object type %v has no externalId", ot["name"])
		}
		for _, a := range ot["attributes"].([]any) {
			if a.(map[string]any)["externalId"] == "" {
				t.Errorf("attribute %v of %v has no externalId", a.(map[string]any)["name"], ot["name"])
			}
		}
	}
}

// replay is an Assets that answers with the documented examples, verbatim, wherever their links point (all hosts
// are routed to it), and records every request as "METHOD path".
type replay struct {
	mu       sync.Mutex
	requests []string
	status   string // the getExecutionStatus answer
}

func (r *replay) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	r.mu.Lock()
	r.requests = append(r.requests, req.Method+" "+req.URL.Host+req.URL.Path)
	r.mu.Unlock()
	answer := func(name string) {
		b, _ := os.ReadFile(filepath.Join(goldenDir, name))
		w.Header().Set("Content-Type", "application/json")
		w.Write(b)
	}
	switch p := req.URL.Path; {
	case p == "/jsm/assets/v1/imports/info":
		answer("forge-info-answer.json")
	case strings.HasSuffix(p, "/configstatus"):
		answer("api-configstatus.json")
	case strings.HasSuffix(p, "/mapping"):
		w.WriteHeader(http.StatusNoContent)
	case strings.HasSuffix(p, "/executions") && req.Method == http.MethodPost:
		answer("api-start-answer.json")
	case strings.HasSuffix(p, "/data"):
		w.WriteHeader(http.StatusOK)
	case strings.HasSuffix(p, "/status"):
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(r.status))
	default:
		w.WriteHeader(http.StatusOK)
	}
}

// reroute sends every request to one test server, keeping the host the client asked for in URL.Host.
type reroute struct{ to *url.URL }

func (rr reroute) RoundTrip(req *http.Request) (*http.Response, error) {
	out := req.Clone(req.Context())
	out.URL.Scheme, out.URL.Host = rr.to.Scheme, rr.to.Host
	out.Host = req.URL.Host
	resp, err := http.DefaultTransport.RoundTrip(out)
	return resp, err
}

func replayed(t *testing.T, status string) (*replay, Config) {
	r := &replay{status: status}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		req.URL.Host = req.Host
		r.ServeHTTP(w, req)
	}))
	t.Cleanup(srv.Close)
	to, _ := url.Parse(srv.URL)
	return r, Config{Token: "tok", Poll: 10 * time.Millisecond, Attempts: 1, HTTPClient: &http.Client{Transport: reroute{to}}}
}

func goldenText(t *testing.T, name string) string {
	b, err := os.ReadFile(filepath.Join(goldenDir, name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// Against the documented answers, replayed verbatim: the sync follows the links it is given (the info links, then
// the execution's submitResults for every chunk and getExecutionStatus for the status: links in the /jsm/insight/
// form of the example, not built by seatlake), records the execution those links name, and reads the result per
// object type from the DONE answer's progressResult.
func TestSyncFollowsTheDocumentedLinks(t *testing.T) {
	r, cfg := replayed(t, goldenText(t, "api-status-done.json"))
	res, err := Sync(context.Background(), cfg, sample(2))
	if err != nil || res.Status != "DONE" {
		t.Fatalf("sync: %+v %v", res, err)
	}
	if res.ExecutionID != "07a58b26-e93a-49c6-9381-1fe235943018" {
		t.Errorf("execution %q, want the one the submitResults link names", res.ExecutionID)
	}
	if res.Counts["Hard Drive:created"] != 1 || res.Counts["Operating System:created"] != 2 || res.Counts["Hard Drive:errors"] != 0 {
		t.Errorf("counts %v, want the example's results", res.Counts)
	}
	exec := "api.atlassian.com/jsm/insight/workspace/fd8d86e0-3401-40bd-adb4-bb50b8e39288/v1/importsource/4d4095c3-cb7c-4d59-9b75-a381ea4b1975/executions/07a58b26-e93a-49c6-9381-1fe235943018"
	source := "api.atlassian.com/jsm/assets/workspace/{workspaceId}/v1/importsource/{importId}"
	want := []string{"GET api.atlassian.com/jsm/assets/v1/imports/info", "GET " + source + "/configstatus", "PATCH " + source + "/mapping",
		"POST " + source + "/executions"}
	for range 3 + 1 { // persons, subscriptions, assignments, then completed
		want = append(want, "POST "+exec+"/data")
	}
	want = append(want, "GET "+exec+"/status")
	if strings.Join(r.requests, "\n") != strings.Join(want, "\n") {
		t.Errorf("requests:\n%s\nwant:\n%s", strings.Join(r.requests, "\n"), strings.Join(want, "\n"))
	}
}

// An execution Assets finished with error messages for objects is partial (errors.Is ErrRowsRefused), naming what
// Assets said and counting the errors per type; one whose result is not OK fails by that result.
func TestSyncReadsObjectErrors(t *testing.T) {
	done := goldenText(t, "api-status-done.json")
	withErrors := strings.Replace(done, `"objectTypeName":"Hard Drive","objectTypeId":2547,"objectsUpdated":0,"objectsCreated":1,"objectsIdentical":0,"objectsMissingUpdated":0,"objectsMissingDeleted":0,"entriesInSource":1,"duplicateEnries":0,"emptyLabelEntries":0,"emptyExternalIdEntries":0,"objectsFilteredWithQlQuery":0,"errorMessages":null`,
		`"objectTypeName":"Hard Drive","objectTypeId":2547,"objectsUpdated":0,"objectsCreated":1,"objectsIdentical":0,"objectsMissingUpdated":0,"objectsMissingDeleted":0,"entriesInSource":1,"duplicateEnries":0,"emptyLabelEntries":0,"emptyExternalIdEntries":0,"objectsFilteredWithQlQuery":0,"errorMessages":["Size: not an integer","Label too long"]`, 1)
	if withErrors == done {
		t.Fatal("the example's Hard Drive result was not found")
	}
	_, cfg := replayed(t, withErrors)
	res, err := Sync(context.Background(), cfg, sample(1))
	if !errors.Is(err, ErrRowsRefused) || !strings.Contains(err.Error(), "Hard Drive: Size: not an integer") || res.Counts["Hard Drive:errors"] != 2 {
		t.Errorf("object errors: %+v %v", res, err)
	}
	_, cfg = replayed(t, strings.Replace(done, `"result":"OK"`, `"result":"ERROR"`, 1))
	if _, err := Sync(context.Background(), cfg, sample(1)); err == nil || errors.Is(err, ErrRowsRefused) || !strings.Contains(err.Error(), `result "ERROR"`) {
		t.Errorf("a result other than OK: %v", err)
	}
}

// A status the documentation does not name fails the sync by that name at once, not after waiting out MaxWait.
func TestSyncUnknownStatusFailsByName(t *testing.T) {
	for _, status := range []string{"FAILED", "QUEUED_FOR_RETRY"} {
		t.Run(status, func(t *testing.T) {
			s, cfg := emulator(t)
			cfg.MaxWait, cfg.Poll = 0, 0 // the defaults: 10 minutes, 2 s
			s.ForceStatus = status
			began := time.Now()
			res, err := Sync(context.Background(), cfg, sample(2))
			if err == nil || !strings.Contains(err.Error(), fmt.Sprintf("%q, a status seatlake does not know", status)) || res.Status != status {
				t.Errorf("got %+v %v", res, err)
			}
			if took := time.Since(began); took > 5*time.Second {
				t.Errorf("the sync took %s to fail", took)
			}
		})
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
	if st, failure, _ := s.Execution(res.ExecutionID); st != "CANCELLED" || !strings.Contains(failure, "submitting persons 1-7") {
		t.Errorf("the refused sync's execution is %s with failure %q: want it cancelled, the cause recorded", st, failure)
	}
	s.MaxChunk = 0
	if _, err := Sync(context.Background(), cfg, sample(20)); err != nil {
		t.Errorf("the sync after a refused chunk: %v", err)
	}
	// An execution cancelled in Assets.
	s.ForceStatus = "CANCELLED"
	if res, err := Sync(context.Background(), cfg, sample(20)); err == nil || res.Status != "CANCELLED" || !strings.Contains(err.Error(), "CANCELLED") {
		t.Errorf("a cancelled execution: %+v %v", res, err)
	}
	// A rotated token: refused at once, naming what to do; the token itself never appears.
	s.RotateToken("new-token")
	_, err = Sync(context.Background(), cfg, sample(2))
	if !errors.Is(err, ErrTokenRefused) || strings.Contains(err.Error(), "container-token") {
		t.Errorf("a rotated token: %v", err)
	}
	if _, err := ProbeJSM(context.Background(), cfg); !errors.Is(err, ErrTokenRefused) {
		t.Errorf("probe with a rotated token: %v", err)
	}
}

// Under load Assets answers 429, with Retry-After or without it: the sync waits and goes on, and nothing is lost.
func TestSyncWaitsOutRateLimits(t *testing.T) {
	for _, omit := range []bool{false, true} {
		t.Run(fmt.Sprintf("Retry-After omitted %v", omit), func(t *testing.T) {
			s, cfg := emulator(t)
			s.RateLimit, s.OmitRetryAfter = 8, omit // requests a second
			cfg.ChunkSize, cfg.Attempts = 10, 6
			res, err := Sync(context.Background(), cfg, sample(60))
			if err != nil || res.Status != "DONE" {
				t.Fatalf("sync under rate limits: %+v %v", res, err)
			}
			objs := s.Objects()
			if s.Throttled == 0 || len(objs["Person"]) != 60 || len(objs["License Assignment"]) != 60 {
				t.Errorf("throttled %d times; Assets holds %d persons and %d assignments, want 60 each", s.Throttled, len(objs["Person"]), len(objs["License Assignment"]))
			}
		})
	}
}

// An asset system whose certificate this machine does not trust fails at once, naming the problem and the fix:
// no retries (Attempts 6 would otherwise try six times) and no Assets or ServiceNow error text to puzzle over.
func TestUntrustedCertificateIsNamedAtOnce(t *testing.T) {
	var conns int
	var mu sync.Mutex
	srv := httptest.NewUnstartedServer(http.NotFoundHandler())
	srv.Config.ConnState = func(_ net.Conn, st http.ConnState) {
		if st == http.StateNew {
			mu.Lock()
			conns++
			mu.Unlock()
		}
	}
	srv.StartTLS()
	defer srv.Close()
	_, err := ProbeJSM(context.Background(), Config{BaseURL: srv.URL, Token: "t", Attempts: 6})
	if !strings.Contains(fmt.Sprint(err), "signed by an unknown authority: set SSL_CERT_FILE") {
		t.Errorf("Assets: %v", err)
	}
	for _, cfg := range []ServiceNowConfig{
		{InstanceURL: srv.URL, User: "u", Password: "p", Attempts: 6},
		{InstanceURL: srv.URL, ClientID: "c", ClientSecret: "s", Attempts: 6},
	} {
		probes := ProbeServiceNow(context.Background(), cfg)
		if len(probes) == 0 || probes[0].Status != ProbeFail || !strings.Contains(probes[0].Detail, "signed by an unknown authority: set SSL_CERT_FILE") {
			t.Errorf("ServiceNow (client id %q): %+v", cfg.ClientID, probes)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if conns != 3 {
		t.Errorf("%d connections for 3 probes: a certificate error was retried", conns)
	}
}
