package graph

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/seatlake/seatlake/extract/odata"
	"github.com/seatlake/seatlake/extract/pages"
	"github.com/seatlake/seatlake/internal/outbound"
	"github.com/seatlake/seatlake/internal/table"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/golden")

// fakeGraph replays the documented responses in testdata/ and records what was asked.
type fakeGraph struct {
	srv       *httptest.Server
	noPremium bool
	denied    bool
	// groupsDenied refuses GET /groups/{id}, as Graph does without GroupMember.Read.All.
	groupsDenied bool
	// truncateOnce cuts the next report download short, as a dropped connection would.
	truncateOnce bool
	mu           sync.Mutex
	requests     []string
	selectSeen   []string
}

func newFakeGraph(t *testing.T) *fakeGraph {
	f := &fakeGraph{}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve(t)))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeGraph) serve(t *testing.T) func(http.ResponseWriter, *http.Request) {
	return func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		f.requests = append(f.requests, r.URL.RequestURI())
		f.mu.Unlock()
		if r.Header.Get("Authorization") != "Bearer test-token" {
			http.Error(w, `{"error":{"code":"InvalidAuthenticationToken","message":"no token"}}`, http.StatusUnauthorized)
			return
		}
		q := r.URL.Query()
		file := ""
		status := http.StatusOK
		switch r.URL.Path {
		case "/v1.0/users":
			switch {
			case f.denied:
				file, status = "error_denied.json", http.StatusForbidden
			case q.Get("$skiptoken") != "":
				file = "users_page2.json"
			case strings.Contains(q.Get("$select"), "signInActivity") && f.noPremium:
				file, status = "error_nonpremium.json", http.StatusForbidden
			case strings.Contains(q.Get("$select"), "signInActivity"):
				file = "users_page1.json"
			default:
				file = "users_nosignin.json"
			}
		case "/v1.0/auditLogs/signIns":
			switch {
			case f.noPremium:
				file, status = "error_nonpremium.json", http.StatusForbidden
			case q.Get("$skiptoken") != "":
				file = "signins_page2.json"
			default:
				file = "signins_page1.json"
			}
		case "/v1.0/groups/5a1e0000-0000-4000-8000-00000000b22b", "/v1.0/groups/9e1f0000-0000-4000-8000-00000000a11a":
			switch {
			case f.groupsDenied:
				file, status = "error_denied.json", http.StatusForbidden
			case strings.HasSuffix(r.URL.Path, "a11a"): // deleted since the users were read
				file, status = "error_notfound.json", http.StatusNotFound
			default:
				file = "group.json"
			}
		case "/v1.0/subscribedSkus":
			file = "subscribedSkus.json"
		case "/v1.0/admin/reportSettings":
			file = "reportSettings.json"
		case "/v1.0/reports/getOffice365ActiveUserDetail(period='D30')":
			http.Redirect(w, r, f.srv.URL+"/download/report.csv?sig=x", http.StatusFound)
			return
		case "/download/report.csv":
			body, _ := os.ReadFile(filepath.Join("testdata", "usage_report.csv"))
			if f.truncateOnce {
				f.truncateOnce = false
				body = body[:len(body)/2+7]
			}
			w.Write(body)
			return
		default:
			http.NotFound(w, r)
			return
		}
		body, err := os.ReadFile(filepath.Join("testdata", file))
		if err != nil {
			t.Errorf("fixture: %v", err)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		w.Write(bytes.ReplaceAll(body, []byte("{{base}}"), []byte(f.srv.URL)))
	}
}

type staticToken struct{}

func (staticToken) Token(context.Context) (string, error) { return "test-token", nil }
func (staticToken) Invalidate(string)                     {}

// collect keeps every batch a stream hands over.
type collect struct {
	recs []arrow.RecordBatch
}

func (c *collect) Write(_ context.Context, rec arrow.RecordBatch) error {
	rec.Retain()
	c.recs = append(c.recs, rec)
	return nil
}

func (c *collect) rows() int64 {
	var n int64
	for _, r := range c.recs {
		n += r.NumRows()
	}
	return n
}

func (c *collect) release() {
	for _, r := range c.recs {
		r.Release()
	}
}

// newCollect returns a collect whose batches are released when the test ends (before its allocator is checked).
func newCollect(t *testing.T) *collect {
	c := &collect{}
	t.Cleanup(c.release)
	return c
}

// readUsers runs the users stream, with signInActivity, into two new collects.
func readUsers(t *testing.T, x *Extractor, p pages.Pager) (res UsersResult, users, lic *collect, err error) {
	users, lic = newCollect(t), newCollect(t)
	res, err = x.Users(context.Background(), p, true, users, lic)
	return res, users, lic, err
}

// golden compares the batches, one JSON object per row, with testdata/golden/<name>.jsonl.
func (c *collect) golden(t *testing.T, name string) {
	t.Helper()
	var buf bytes.Buffer
	for _, r := range c.recs {
		if err := array.RecordToJSON(r, &buf); err != nil {
			t.Fatal(err)
		}
	}
	path := filepath.Join("testdata", "golden", name+".jsonl")
	if *update {
		os.MkdirAll(filepath.Dir(path), 0o755)
		if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("golden file (run go test -update): %v", err)
	}
	if !bytes.Equal(buf.Bytes(), want) {
		t.Errorf("%s rows differ from %s (go test -update rewrites it)\ngot:\n%s\nwant:\n%s", name, path, buf.String(), want)
	}
}

// newTestExtractor starts a fake Graph and returns it, an extractor of it (its allocator checked at the end of the
// test) and a client reading it.
func newTestExtractor(t *testing.T) (*fakeGraph, *Extractor, *odata.Client) {
	f := newFakeGraph(t)
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	t.Cleanup(func() { mem.AssertSize(t, 0) })
	x := &Extractor{
		Endpoint: f.srv.URL, Run: pages.Run{TenantID: "48a80680-7326-48cd-9935-b556b81d3a4e", RunID: "run-1",
			ExtractedAt: time.Date(2026, 11, 22, 2, 0, 0, 0, time.UTC), BatchRows: 2, Alloc: mem},
	}
	c := odata.NewClient(odata.Config{Tokens: staticToken{}, HTTPClient: f.srv.Client(),
		Retry: outbound.RetryPolicy{MaxAttempts: 2, BaseDelay: time.Millisecond, MaxDelay: time.Millisecond, MaxTotalWait: time.Second}})
	return f, x, c
}

func TestUsersFollowsPagesAndSplitsLicenses(t *testing.T) {
	f, x, c := newTestExtractor(t)
	res, users, lic, err := readUsers(t, x, c)
	if err != nil {
		t.Fatal(err)
	}
	if !res.SignInActivity || res.Users != 3 || res.Licenses != 3 || res.Pages != 2 {
		t.Errorf("result %+v: want signInActivity, 3 users, 3 licenses, 2 pages", res)
	}
	if len(f.requests) != 2 {
		t.Fatalf("requests %v: want the first page and the nextLink", f.requests)
	}
	first := f.requests[0]
	for _, want := range []string{"$select=id,userPrincipalName,", ",assignedLicenses,licenseAssignmentStates,signInActivity", "$top=500"} {
		if !strings.Contains(first, want) {
			t.Errorf("first request %s lacks %s", first, want)
		}
	}
	if !strings.Contains(f.requests[1], "$skiptoken=RFNwdAIAAQAAACpVc2VyXzJmYjQxMjU0LTE0ZTYtNGI1Ny1iMGQzLWNhYjhmM2Y2ZjE2YQ%3D%3D") {
		t.Errorf("nextLink not followed verbatim: %s", f.requests[1])
	}
	if len(users.recs) != 2 {
		t.Errorf("%d user batches, want 2 (BatchRows 2, 3 users)", len(users.recs))
	}
	users.golden(t, "graph_users")
	lic.golden(t, "graph_user_licenses")
}

func TestUsersWithoutEntraP1FallsBack(t *testing.T) {
	f, x, c := newTestExtractor(t)
	f.noPremium = true
	res, users, _, err := readUsers(t, x, c)
	if err != nil {
		t.Fatal(err)
	}
	if res.SignInActivity || res.Users != 1 {
		t.Fatalf("result %+v: want 1 user read without signInActivity", res)
	}
	if strings.Contains(f.requests[1], "signInActivity") || !strings.Contains(f.requests[1], "$top=999") {
		t.Errorf("fallback request %s: want no signInActivity and the 999 page size", f.requests[1])
	}
	users.golden(t, "graph_users_no_p1")

	_, err = x.SignIns(context.Background(), c, time.Now().Add(-time.Hour), time.Now(), newCollect(t))
	if !errors.Is(err, ErrNoPremium) {
		t.Errorf("sign-ins without P1: error %v, want ErrNoPremium", err)
	}
}

func TestSignInsWindowFilterAndBadRows(t *testing.T) {
	f, x, c := newTestExtractor(t)
	var rejected []string
	x.Reject = func(tbl *table.Table, raw []byte) { rejected = append(rejected, tbl.Name+" "+string(raw)) }
	s := newCollect(t)
	from := time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC)
	res, err := x.SignIns(context.Background(), c, from, from.Add(24*time.Hour), s)
	if err != nil {
		t.Fatal(err)
	}
	want := "/v1.0/auditLogs/signIns?$filter=createdDateTime%20ge%202026-11-20T00:00:00Z%20and%20createdDateTime%20le%202026-11-20T23:59:59.9999999Z&$top=1000"
	if f.requests[0] != want {
		t.Errorf("first request\n %s\nwant\n %s", f.requests[0], want)
	}
	if res.Rows != 2 || res.BadValues != 1 || res.Pages != 2 {
		t.Errorf("result %+v: want 2 rows, 1 row without a parsable time kept out, 2 pages", res)
	}
	wantReject := `graph_signins {
      "id": "broken-time-row",
      "createdDateTime": "yesterday",
      "userId": "87d349ed-44d7-43e1-9a83-5f2406dee5bd"
    }`
	if len(rejected) != 1 || rejected[0] != wantReject {
		t.Errorf("rejected %q, want the raw row kept aside:\n%s", rejected, wantReject)
	}
	s.golden(t, "graph_signins")
}

func TestSkusAndReportSettings(t *testing.T) {
	_, x, c := newTestExtractor(t)
	skus, rs := newCollect(t), newCollect(t)
	n, err := x.SubscribedSkus(context.Background(), c, skus)
	if err != nil || n != 1 {
		t.Fatalf("skus: %d, %v", n, err)
	}
	skus.golden(t, "graph_subscribed_skus")
	concealed, err := x.ReportSettings(context.Background(), c, rs)
	if err != nil || !concealed {
		t.Fatalf("report settings: concealed=%v, %v", concealed, err)
	}
	rs.golden(t, "graph_report_settings")
}

func TestMissingPermissionIsNamed(t *testing.T) {
	f, x, c := newTestExtractor(t)
	f.denied = true
	_, _, _, err := readUsers(t, x, c)
	if err == nil || !strings.Contains(err.Error(), "User.Read.All") || !strings.Contains(err.Error(), "AuditLog.Read.All") {
		t.Errorf("error %v: want the missing permissions named", err)
	}
}

func TestBadPageIsRetriedNotHalfAppended(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	x := &Extractor{Run: pages.Run{TenantID: "t", RunID: "r", Alloc: mem, BatchRows: 100}}
	var s collect
	defer s.release()
	calls := 0
	p := pagerFunc(func(ctx context.Context, _ string, decode func([]byte) (string, error)) error {
		calls++
		body, _ := os.ReadFile(filepath.Join("testdata", "signins_page2.json"))
		if _, err := decode(body[:len(body)/2]); !errors.Is(err, odata.ErrBadPage) {
			t.Errorf("truncated page: error %v, want ErrBadPage", err)
		}
		_, err := decode(body)
		return err
	})
	res, err := x.SignIns(context.Background(), p, time.Time{}, time.Now(), &s)
	if err != nil {
		t.Fatal(err)
	}
	if res.Rows != 1 || s.rows() != 1 {
		t.Errorf("%d rows reported, %d written: a truncated page must append nothing", res.Rows, s.rows())
	}
}

type pagerFunc func(ctx context.Context, url string, decode func([]byte) (string, error)) error

func (f pagerFunc) Walk(ctx context.Context, url string, decode func([]byte) (string, error)) error {
	return f(ctx, url, decode)
}

// The usage report follows the 302 to the CSV and reads it with encoding/csv: the byte order mark, quoted names
// with commas and quotes, concealed (32-hex) names flagged, a date that does not parse counted and stored as null;
// a download cut short is fetched again, never half landed.
func TestUsageReport(t *testing.T) {
	for _, truncated := range []bool{false, true} {
		f, x, c := newTestExtractor(t)
		f.truncateOnce = truncated
		var got collect
		res, err := x.UsageReport(context.Background(), c, &got)
		if err != nil {
			t.Fatal(err)
		}
		if res.Rows != 3 || res.Concealed != 1 || res.BadValues != 1 || got.rows() != 3 {
			t.Errorf("truncated=%v: rows %d, concealed %d, bad values %d, landed %d; want 3, 1, 1, 3", truncated, res.Rows, res.Concealed, res.BadValues, got.rows())
		}
		downloads := 0
		for _, r := range f.requests {
			if strings.HasPrefix(r, "/download/report.csv") {
				downloads++
			}
		}
		if want := map[bool]int{false: 1, true: 2}[truncated]; downloads != want {
			t.Errorf("truncated=%v: %d downloads, want %d (a cut body is fetched again, whole)", truncated, downloads, want)
		}
		got.golden(t, "usage_report")
		got.release()
	}
}

// The groups stream reads the display name of each group that assigns licenses, once per group, selecting only id
// and displayName; a group deleted since (404) is counted and left out; without the permission (403) it stops at
// once with ErrGroupsDenied naming GroupMember.Read.All, and lands nothing.
func TestGroupsReadsTheNamesOfLicensingGroups(t *testing.T) {
	f, x, c := newTestExtractor(t)
	ures, _, _, err := readUsers(t, x, c)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"5a1e0000-0000-4000-8000-00000000b22b", "9e1f0000-0000-4000-8000-00000000a11a"}
	if strings.Join(ures.Groups, " ") != strings.Join(want, " ") {
		t.Fatalf("groups that assign licenses: %v, want %v", ures.Groups, want)
	}
	f.requests = nil
	groups := newCollect(t)
	res, err := x.Groups(context.Background(), c, ures.Groups, groups)
	if err != nil || res.Read != 1 || res.NotFound != 1 {
		t.Fatalf("groups: %+v %v, want 1 read and 1 not found", res, err)
	}
	if strings.Join(f.requests, " ") != "/v1.0/groups/"+want[0]+"?$select=id,displayName /v1.0/groups/"+want[1]+"?$select=id,displayName" {
		t.Errorf("requests %v", f.requests)
	}
	groups.golden(t, "graph_groups")

	f.groupsDenied = true
	denied := newCollect(t)
	res, err = x.Groups(context.Background(), c, ures.Groups, denied)
	if !errors.Is(err, ErrGroupsDenied) || !strings.Contains(err.Error(), "GroupMember.Read.All") || res.Read != 0 || denied.rows() != 0 {
		t.Errorf("without the permission: %+v %v, %d rows", res, err, denied.rows())
	}
}
