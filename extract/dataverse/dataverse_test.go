package dataverse

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/seatlake/seatlake/extract/msauth"
	"github.com/seatlake/seatlake/extract/odata"
	"github.com/seatlake/seatlake/extract/pages"
	"github.com/seatlake/seatlake/internal/outbound"
	"github.com/seatlake/seatlake/internal/tenantsim"
	"github.com/seatlake/seatlake/internal/tenantsim/simtest"
)

var fixedNow = time.Date(2026, 11, 20, 14, 30, 0, 0, time.UTC)

// recording counts rows and keeps the requests' URLs and Prefer headers.
type recording struct {
	mu    sync.Mutex
	urls  []string
	prefs []string
	next  http.RoundTripper
}

func (r *recording) RoundTrip(req *http.Request) (*http.Response, error) {
	r.mu.Lock()
	r.urls = append(r.urls, req.URL.String())
	r.prefs = append(r.prefs, req.Header.Get("Prefer"))
	r.mu.Unlock()
	return r.next.RoundTrip(req)
}

type rowCounter struct{ n atomic.Int64 }

func (c *rowCounter) Write(_ context.Context, rec arrow.RecordBatch) error {
	c.n.Add(rec.NumRows())
	return nil
}

func setup(t *testing.T, mutate func(*tenantsim.Config), pageSize int) (*tenantsim.Sim, *Extractor, *odata.Client, *recording) {
	t.Helper()
	sim, base := simtest.Start(t, func(c *tenantsim.Config) { c.Users, c.Days, c.Now = 400, 5, func() time.Time { return fixedNow } }, mutate)
	tenant, client, secret := sim.Credentials()
	env := sim.DataverseURLs()[0]
	tokens := msauth.NewTokenSource(msauth.Config{AuthorityHost: base, TenantID: tenant, ClientID: client, ClientSecret: msauth.Secret(secret)}, env)
	rec := &recording{next: http.DefaultTransport}
	h := Headers()
	if pageSize > 0 {
		h = h.Clone()
		h.Set("Prefer", "odata.maxpagesize="+itoa(pageSize))
	}
	c := odata.NewClient(odata.Config{HTTPClient: &http.Client{Transport: rec}, Tokens: tokens, Header: h,
		Retry: outbound.RetryPolicy{MaxAttempts: 6, BaseDelay: 5 * time.Millisecond, MaxDelay: 20 * time.Millisecond, MaxTotalWait: 30 * time.Second}})
	x := &Extractor{Environment: env, ClientID: client, Run: pages.Run{TenantID: tenant, RunID: "r1", ExtractedAt: fixedNow, BatchRows: 1000,
		Alloc: memory.NewCheckedAllocator(memory.DefaultAllocator)}}
	t.Cleanup(func() { x.Alloc.(*memory.CheckedAllocator).AssertSize(t, 0) })
	return sim, x, c, rec
}

func itoa(n int) string { return strconv.Itoa(n) }

// TestAuditsPageByCookie reads every audit record in pages of 500: each page asks for the documented
// maxpagesize, follows the paging-cookie nextLink verbatim, and the rows equal the simulator's truth.
func TestAuditsPageByCookie(t *testing.T) {
	sim, x, c, rec := setup(t, nil, 500)
	var settingsRows, userRows, auditRows rowCounter
	s, err := x.Settings(context.Background(), c, &settingsRows)
	if err != nil || s.OrganizationID == "" || !s.AuditEnabled || s.UserAccessIntervalHours != 4 || settingsRows.n.Load() != 1 {
		t.Fatalf("settings %+v, %d rows, err %v", s, settingsRows.n.Load(), err)
	}
	x.OrganizationID = s.OrganizationID
	if _, err := x.Users(context.Background(), c, &userRows); err != nil {
		t.Fatal(err)
	}
	tr := sim.Truth().Environments[x.Environment]
	if userRows.n.Load() != tr["dataverse_users"] {
		t.Errorf("users: %d, truth %d", userRows.n.Load(), tr["dataverse_users"])
	}
	rec.urls, rec.prefs = nil, nil
	res, err := x.Audits(context.Background(), c, fixedNow.AddDate(0, 0, -30), fixedNow.Add(time.Hour), &auditRows)
	if err != nil {
		t.Fatal(err)
	}
	if auditRows.n.Load() != tr["dataverse_audits"] || res.Rows != auditRows.n.Load() {
		t.Fatalf("audits: %d rows, truth %d", auditRows.n.Load(), tr["dataverse_audits"])
	}
	if res.Pages < 3 || int(res.Pages) != len(rec.urls) {
		t.Fatalf("%d pages, %d requests: want several pages, one request each", res.Pages, len(rec.urls))
	}
	for i, u := range rec.urls {
		if rec.prefs[i] != "odata.maxpagesize=500" {
			t.Errorf("request %d sent Prefer %q", i, rec.prefs[i])
		}
		if i == 0 {
			if !strings.Contains(u, "$filter=") || !strings.Contains(u, "createdon") {
				t.Errorf("first request %s lacks the window filter", u)
			}
			continue
		}
		q, _ := url.ParseQuery(u[strings.IndexByte(u, '?')+1:])
		if !strings.HasPrefix(q.Get("$skiptoken"), `<cookie pagenumber="`+itoa(i+1)+`" pagingcookie="`) {
			t.Errorf("request %d does not carry the paging cookie of page %d: %s", i, i+1, q.Get("$skiptoken"))
		}
	}
}

// TestAuditsServiceProtectionLimits meets each of the three Dataverse limits, answered with its own error code: the
// pager waits as told and every audit record of the history still lands.
func TestAuditsServiceProtectionLimits(t *testing.T) {
	cases := []struct {
		code string
		lim  tenantsim.DataverseLimits
		conc int
	}{
		{"0x80072322", tenantsim.DataverseLimits{Requests: 2, Execution: time.Hour, Window: time.Second, Concurrent: 50}, 1},
		{"0x80072321", tenantsim.DataverseLimits{Requests: 1000, Execution: 30 * time.Millisecond, Window: time.Second, Concurrent: 50}, 1},
		{"0x80072326", tenantsim.DataverseLimits{Requests: 1000, Execution: time.Hour, Window: time.Second, Concurrent: 1}, 4},
	}
	for _, tc := range cases {
		t.Run(tc.code, func(t *testing.T) {
			sim, x, c, _ := setup(t, func(cfg *tenantsim.Config) {
				lim := tc.lim
				cfg.DataverseLimits = &lim
				cfg.PageLatency = 15 * time.Millisecond
			}, 400)
			var rows rowCounter
			var st outbound.Stats
			cs := c.WithStats(&st)
			var wg sync.WaitGroup
			errs := make([]error, tc.conc)
			// The whole history in tc.conc windows read at once.
			from, to := fixedNow.AddDate(0, 0, -10), fixedNow.Add(time.Hour)
			step := to.Sub(from) / time.Duration(tc.conc)
			for i := range tc.conc {
				wg.Add(1)
				go func() {
					defer wg.Done()
					a := from.Add(time.Duration(i) * step)
					_, errs[i] = x.Audits(context.Background(), cs, a, a.Add(step), &rows)
				}()
			}
			wg.Wait()
			for _, err := range errs {
				if err != nil {
					t.Fatal(err)
				}
			}
			stats := sim.Stats()
			if stats.Limits[tc.code] == 0 {
				t.Fatalf("the service never answered %s (limits met: %v): the limit was not exercised", tc.code, stats.Limits)
			}
			if stats.Throttled["dataverse.audits"] != st.Throttled.Load() {
				t.Errorf("client counted %d 429s, the service sent %d", st.Throttled.Load(), stats.Throttled["dataverse.audits"])
			}
			if want := sim.Truth().Environments[x.Environment]["dataverse_audits"]; rows.n.Load() != want {
				t.Errorf("%d audit records landed, the environment has %d", rows.n.Load(), want)
			}
		})
	}
}

func TestMissingApplicationUserSaysWhatToDo(t *testing.T) {
	_, x, c, _ := setup(t, func(cfg *tenantsim.Config) { cfg.NoApplicationUser = map[int]bool{0: true} }, 0)
	_, err := x.WhoAmI(context.Background(), c)
	if err == nil || !strings.Contains(err.Error(), "create an application user for client id "+x.ClientID) {
		t.Fatalf("err = %v", err)
	}
}
