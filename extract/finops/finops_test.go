package finops

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
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

type rowCounter struct{ n atomic.Int64 }

func (c *rowCounter) Write(_ context.Context, rec arrow.RecordBatch) error {
	c.n.Add(rec.NumRows())
	return nil
}

// TestServerPagesOf10000 serves 50,000 users the way F&O does: server-driven pages of 10,000 with a $skiptoken
// nextLink, all companies only with cross-company=true. Every user lands once, in five pages.
func TestServerPagesOf10000(t *testing.T) {
	const total, page = 50000, 10000
	var requests atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		q := r.URL.Query()
		if r.URL.Path != "/data/SystemUsers" || q.Get("cross-company") != "true" || !strings.Contains(q.Get("$select"), "UserID") {
			http.Error(w, "unexpected request "+r.URL.String(), 400)
			return
		}
		start, _ := strconv.Atoi(q.Get("$skiptoken"))
		end := min(start+page, total)
		var b strings.Builder
		b.WriteString(`{"@odata.context":"` + "http://" + r.Host + `/data/$metadata#SystemUsers","value":[`)
		for i := start; i < end; i++ {
			if i > start {
				b.WriteByte(',')
			}
			fmt.Fprintf(&b, `{"@odata.etag":"W/\"x\"","UserID":"u%d","UserName":"User %d","Alias":"u%d@contoso.com","Email":"u%d@contoso.com","Enabled":true,"NetworkDomain":"https://sts.windows.net/","Company":"USMF","PersonName":"User %d","AccountType":"ClaimsUser","ExternalUser":false}`, i, i, i, i, i)
		}
		b.WriteString("]")
		if end < total {
			fmt.Fprintf(&b, `,"@odata.nextLink":"http://%s/data/SystemUsers?cross-company=true&$select=%s&$skiptoken=%d"`, r.Host, q.Get("$select"), end)
		}
		b.WriteString("}")
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(b.String()))
	}))
	defer srv.Close()
	mem := memory.NewCheckedAllocator(memory.DefaultAllocator)
	defer mem.AssertSize(t, 0)
	x := &Extractor{Environment: srv.URL, Run: pages.Run{TenantID: "t", RunID: "r", ExtractedAt: time.Now(), BatchRows: 4096, Alloc: mem}}
	var rows rowCounter
	res, err := x.Users(context.Background(), odata.NewClient(odata.Config{}), &rows)
	if err != nil {
		t.Fatal(err)
	}
	if rows.n.Load() != total || res.Rows != total || res.Pages != 5 || requests.Load() != 5 {
		t.Fatalf("%d rows (%d counted) in %d pages with %d requests; want %d in 5", rows.n.Load(), res.Rows, res.Pages, requests.Load(), total)
	}
}

func simExtractor(t *testing.T, mutate func(*tenantsim.Config)) (*tenantsim.Sim, *Extractor, *odata.Client) {
	t.Helper()
	sim, base := simtest.Start(t, func(c *tenantsim.Config) { c.Users, c.Days, c.FinOpsPageSize = 2000, 2, 100 }, mutate)
	tenant, client, secret := sim.Credentials()
	env := sim.FinOpsURLs()[0]
	tokens := msauth.NewTokenSource(msauth.Config{AuthorityHost: base, TenantID: tenant, ClientID: client, ClientSecret: msauth.Secret(secret)}, env)
	c := odata.NewClient(odata.Config{Tokens: tokens, Retry: outbound.RetryPolicy{BaseDelay: time.Millisecond, MaxDelay: 10 * time.Millisecond}})
	return sim, &Extractor{Environment: env, ClientID: client, Run: pages.Run{TenantID: tenant, RunID: "r", ExtractedAt: time.Now(), BatchRows: 500}}, c
}

func TestEntitiesMatchTheSimulatedEnvironment(t *testing.T) {
	sim, x, c := simExtractor(t, nil)
	if err := x.CheckMetadata(context.Background(), c); err != nil {
		t.Fatal(err)
	}
	tr := sim.Truth().Environments[x.Environment]
	for _, tc := range []struct {
		table string
		read  func(context.Context, pages.Pager, *rowCounter) (Result, error)
	}{
		{"finops_users", func(ctx context.Context, p pages.Pager, s *rowCounter) (Result, error) { return x.Users(ctx, p, s) }},
		{"finops_security_roles", func(ctx context.Context, p pages.Pager, s *rowCounter) (Result, error) {
			return x.SecurityRoles(ctx, p, s)
		}},
		{"finops_user_roles", func(ctx context.Context, p pages.Pager, s *rowCounter) (Result, error) { return x.UserRoles(ctx, p, s) }},
	} {
		var rows rowCounter
		if _, err := tc.read(context.Background(), c, &rows); err != nil {
			t.Fatal(err)
		}
		if rows.n.Load() != tr[tc.table] {
			t.Errorf("%s: %d rows, truth %d (cross-company must bring every legal entity)", tc.table, rows.n.Load(), tr[tc.table])
		}
	}
}

func TestMetadataNamesTheMissingEntity(t *testing.T) {
	_, x, c := simExtractor(t, func(cfg *tenantsim.Config) { cfg.FinOpsMissingEntity = []string{"SecurityUserRoles"} })
	err := x.CheckMetadata(context.Background(), c)
	if err == nil || !strings.Contains(err.Error(), "entity SecurityUserRoles") || !strings.Contains(err.Error(), x.Environment) {
		t.Fatalf("err = %v: want the entity and the environment named", err)
	}
}

func TestTier(t *testing.T) {
	for in, want := range map[string]string{"SelfServe": "Team Members", "Task": "Activity", "Activity": "Activity",
		"Functional": "Operations", "Enterprise": "Operations", "Finance": "Finance", "None": "None", "Bogus": "Unknown"} {
		if got, _ := Tier(in); got != want {
			t.Errorf("Tier(%q) = %q, want %q", in, got, want)
		}
	}
}
