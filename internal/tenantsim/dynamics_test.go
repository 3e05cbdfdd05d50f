package tenantsim

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/seatlake/seatlake/internal/tenantsim/dataversesim"
	"github.com/seatlake/seatlake/internal/tenantsim/model"
)

// envClient talks to one Dynamics environment with a token for it.
type envClient struct {
	t      testing.TB
	base   string
	tok    string
	prefer string
	hc     *http.Client
}

func (c *client) env(base string) *envClient {
	c.t.Helper()
	status, body := c.postToken("", url.Values{"scope": {base + "/.default"}})
	if status != 200 {
		c.t.Fatalf("token for %s: %d %v", base, status, body)
	}
	return &envClient{t: c.t, base: base, tok: body["access_token"].(string), hc: c.hc}
}

func (e *envClient) get(path string) (*http.Response, []byte) {
	e.t.Helper()
	u := path
	if !strings.HasPrefix(u, "http") {
		u = e.base + path
	}
	req, _ := http.NewRequest("GET", u, nil)
	req.Header.Set("Authorization", "Bearer "+e.tok)
	if e.prefer != "" {
		req.Header.Set("Prefer", e.prefer)
	}
	resp, err := e.hc.Do(req)
	if err != nil {
		e.t.Fatalf("GET %s: %v", u, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, b
}

// all follows nextLinks; it checks each nextLink stays on the environment and returns the rows and pages.
func (e *envClient) all(path string) ([]map[string]any, []*http.Response) {
	e.t.Helper()
	return walkPages(e.t, e.get, path, e.base+"/")
}

const userDrivenFilter = "(action eq 64 or action eq 65 or action eq 1 or action eq 2 or action eq 3)"

func TestDataverseAuditsQueries(t *testing.T) {
	c := startSim(t, func(cfg *Config) { cfg.Users = 400; cfg.DataverseEnvs = 2 })
	truth := c.s.Truth()
	for i, base := range c.s.DataverseURLs() {
		e := c.env(base)
		e.prefer = `odata.include-annotations="*",odata.maxpagesize=500`
		q := dataversesim.API + "audits?$select=auditid,createdon,action,operation,objecttypecode,_objectid_value,_userid_value&$filter=" +
			url.QueryEscape(userDrivenFilter)
		rows, resps := e.all(q)
		if want := truth.Environments[base]["dataverse_audits"]; int64(len(rows)) != want || want == 0 {
			t.Fatalf("env %d: %d audit rows over %d pages, truth says %d", i, len(rows), len(resps), want)
		}
		if got := resps[0].Header.Get("Preference-Applied"); got != "odata.maxpagesize=500" {
			t.Errorf("Preference-Applied = %q", got)
		}
		if resps[0].Header.Get("OData-Version") != "4.0" {
			t.Errorf("OData-Version header missing")
		}
		ids := map[string]bool{}
		var prev string
		for _, r := range rows {
			id := r["auditid"].(string)
			if ids[id] {
				t.Fatalf("audit %s served twice", id)
			}
			ids[id] = true
			if r["@odata.etag"] == nil || r["createdon@OData.Community.Display.V1.FormattedValue"] == nil {
				t.Fatalf("row without etag or formatted value: %v", r)
			}
			if on := r["createdon"].(string); on < prev {
				t.Fatalf("createdon not ascending: %s after %s", on, prev)
			} else {
				prev = on
			}
			switch a := r["action"].(float64); a {
			case 64, 65:
				if r["operation"].(float64) != 4 || r["objecttypecode"] != "systemuser" || r["_objectid_value"] != r["_userid_value"] {
					t.Fatalf("user access row wrong: %v", r)
				}
			case 1, 2, 3:
				if r["operation"].(float64) != a {
					t.Fatalf("change row operation wrong: %v", r)
				}
			default:
				t.Fatalf("filter let action %v through", a)
			}
		}
		// A window with createdon bounds, newest first, and a $top page.
		from, to := truth.SignInsTo.Add(-72*time.Hour).Format(time.RFC3339), truth.SignInsTo.Add(-24*time.Hour).Format(time.RFC3339)
		win, _ := e.all(dataversesim.API + "audits?$filter=" + url.QueryEscape(userDrivenFilter+" and createdon ge "+from+" and createdon lt "+to) + "&$orderby=createdon%20desc")
		var inWindow int
		for _, r := range rows {
			if on := r["createdon"].(string); on >= from && on < to {
				inWindow++
			}
		}
		if len(win) != inWindow || inWindow == 0 {
			t.Errorf("window: %d rows, %d of the full read fall in it", len(win), inWindow)
		}
		for k := 1; k < len(win); k++ {
			if win[k]["createdon"].(string) > win[k-1]["createdon"].(string) {
				t.Fatalf("desc order broken at %d", k)
			}
		}
		e.prefer = ""
		resp, body := e.get(dataversesim.API + "audits?$top=7")
		if p := decodePage(t, body); resp.StatusCode != 200 || len(p.Value) != 7 || p.NextLink != "" {
			t.Errorf("$top=7: %d, %d rows, nextLink %q", resp.StatusCode, len(p.Value), p.NextLink)
		}
		// The cookie is Dataverse's: pagenumber and an escaped pagingcookie naming the last auditid.
		e.prefer = "odata.maxpagesize=3"
		_, body = e.get(dataversesim.API + "audits")
		next := decodePage(t, body).NextLink
		tok, _ := url.QueryUnescape(next[strings.Index(next, "$skiptoken=")+len("$skiptoken="):])
		if !strings.HasPrefix(tok, `<cookie pagenumber="2" pagingcookie="%3ccookie%20page%3d%221%22%3e%3cauditid%20last%3d%22%7b`) {
			t.Errorf("paging cookie not in Dataverse's form: %s", tok)
		}
		if resp, body := e.get(dataversesim.API + "audits?$skiptoken=" + url.QueryEscape(`<cookie pagenumber="2" pagingcookie="x" />`)); resp.StatusCode != 400 {
			t.Errorf("a forged cookie: %d %s", resp.StatusCode, body)
		}
		if resp, body := e.get(dataversesim.API + "audits?$filter=" + url.QueryEscape("(action eq 64")); resp.StatusCode != 400 || !strings.Contains(string(body), `"code":"0x0"`) {
			t.Errorf("a broken filter: %d %s", resp.StatusCode, body)
		}
	}
}

func TestDataverseUsersSettingsAndWhoAmI(t *testing.T) {
	c := startSim(t, func(cfg *Config) {
		cfg.Users = 300
		cfg.DataverseEnvs = 2
		cfg.AuditingOff = map[int]bool{1: true}
	})
	truth := c.s.Truth()
	for i, base := range c.s.DataverseURLs() {
		e := c.env(base)
		e.prefer = "odata.maxpagesize=50"
		users, resps := e.all(dataversesim.API + "systemusers?$select=systemuserid,domainname,azureactivedirectoryobjectid,applicationid,isdisabled,accessmode")
		if int64(len(users)) != truth.Environments[base]["dataverse_users"] || len(resps) < 2 {
			t.Fatalf("env %d: %d users in %d pages, truth %d", i, len(users), len(resps), truth.Environments[base]["dataverse_users"])
		}
		apps := 0
		for _, u := range users {
			if u["applicationid"] != nil {
				apps++
				if u["accessmode"].(float64) != 4 {
					t.Errorf("application user not non-interactive: %v", u)
				}
			}
		}
		if apps != 2 {
			t.Errorf("env %d: %d application users, want 2", i, apps)
		}
		_, body := e.get(dataversesim.API + "organizations?$select=isauditenabled,isuseraccessauditenabled,useraccessauditinginterval,auditretentionperiodv2")
		var org struct {
			Value []map[string]any `json:"value"`
		}
		json.Unmarshal(body, &org)
		if len(org.Value) != 1 || org.Value[0]["isauditenabled"] != (i == 0) || org.Value[0]["organizationid"] == nil {
			t.Errorf("env %d organizations: %s", i, body)
		}
		resp, body := e.get(dataversesim.API + "WhoAmI")
		if resp.StatusCode != 200 || !strings.Contains(string(body), `"OrganizationId"`) {
			t.Errorf("WhoAmI: %d %s", resp.StatusCode, body)
		}
	}
	// A Graph token is refused by Dataverse: the audience is another resource's.
	req, _ := http.NewRequest("GET", c.s.DataverseURLs()[0]+dataversesim.API+"WhoAmI", nil)
	req.Header.Set("Authorization", "Bearer "+c.tok)
	resp, err := c.hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 401 || !strings.Contains(resp.Header.Get("WWW-Authenticate"), "authorization_uri=") {
		t.Errorf("Graph token at Dataverse: %d %q", resp.StatusCode, resp.Header.Get("WWW-Authenticate"))
	}
}

func TestDataverseMissingApplicationUser(t *testing.T) {
	c := startSim(t, func(cfg *Config) { cfg.Users = 100; cfg.NoApplicationUser = map[int]bool{0: true} })
	e := c.env(c.s.DataverseURLs()[0])
	resp, body := e.get(dataversesim.API + "WhoAmI")
	if resp.StatusCode != 403 || !strings.Contains(string(body), "0x80072560") {
		t.Errorf("WhoAmI without the application user: %d %s", resp.StatusCode, body)
	}
}

// TestServiceProtectionLimits meets each of Dataverse's three limits and checks its code, message and Retry-After.
func TestServiceProtectionLimits(t *testing.T) {
	cases := []struct {
		name string
		lim  DataverseLimits
		conc int
		n    int
		code string
	}{
		{"requests", DataverseLimits{Requests: 5, Execution: time.Hour, Window: time.Minute, Concurrent: 50}, 1, 6, "0x80072322"},
		{"execution time", DataverseLimits{Requests: 1000, Execution: 100 * time.Millisecond, Window: time.Minute, Concurrent: 50}, 1, 4, "0x80072321"},
		{"concurrency", DataverseLimits{Requests: 1000, Execution: time.Hour, Window: time.Minute, Concurrent: 2}, 6, 6, "0x80072326"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := startSim(t, func(cfg *Config) {
				cfg.Users = 100
				lim := tc.lim
				cfg.DataverseLimits = &lim
				cfg.PageLatency = 60 * time.Millisecond
			})
			e := c.env(c.s.DataverseURLs()[0])
			var mu sync.Mutex
			var codes []string
			var retry []string
			var wg sync.WaitGroup
			for range tc.n {
				wg.Add(1)
				go func() {
					defer wg.Done()
					resp, body := e.get(dataversesim.API + "WhoAmI")
					if resp.StatusCode == 429 {
						var b struct {
							Error struct{ Code, Message string }
						}
						json.Unmarshal(body, &b)
						mu.Lock()
						codes = append(codes, b.Error.Code)
						retry = append(retry, resp.Header.Get("Retry-After"))
						mu.Unlock()
					}
				}()
				if tc.conc == 1 {
					wg.Wait()
				}
			}
			wg.Wait()
			if len(codes) == 0 || codes[0] != tc.code {
				t.Fatalf("429 codes %v (Retry-After %v), want %s", codes, retry, tc.code)
			}
			// Retry-After is whole seconds, at least one and never past the window.
			if secs, err := strconv.Atoi(retry[0]); err != nil || secs < 1 || secs > int(tc.lim.Window/time.Second) {
				t.Errorf("Retry-After %q, want whole seconds from 1 to %d", retry[0], int(tc.lim.Window/time.Second))
			}
		})
	}
}

func TestFinOpsEntities(t *testing.T) {
	c := startSim(t, func(cfg *Config) { cfg.Users = 3000; cfg.FinOpsPageSize = 40 })
	truth := c.s.Truth()
	base := c.s.FinOpsURLs()[0]
	e := c.env(base)
	resp, meta := e.get("/data/$metadata")
	if resp.StatusCode != 200 || !strings.Contains(string(meta), `<EntitySet Name="SecurityUserRoles"`) {
		t.Fatalf("$metadata: %d %.300s", resp.StatusCode, meta)
	}
	users, pages := e.all("/data/SystemUsers?cross-company=true&$select=UserID,Alias,Email,Enabled,Company")
	if int64(len(users)) != truth.Environments[base]["finops_users"] || len(pages) < 2 {
		t.Fatalf("%d users in %d pages, truth %d", len(users), len(pages), truth.Environments[base]["finops_users"])
	}
	own, _ := e.all("/data/SystemUsers?$select=UserID,Company")
	if len(own) == 0 || len(own) >= len(users) {
		t.Errorf("without cross-company: %d of %d users; want only the default company's", len(own), len(users))
	}
	for _, u := range own {
		if u["Company"] != "USMF" {
			t.Fatalf("without cross-company a %v user came back", u["Company"])
		}
	}
	roles, _ := e.all("/data/SecurityUserRoles?cross-company=true")
	if int64(len(roles)) != truth.Environments[base]["finops_user_roles"] {
		t.Errorf("%d user roles, truth %d", len(roles), truth.Environments[base]["finops_user_roles"])
	}
	if roles[0]["UserId"] == nil || roles[0]["UserLicenseType"] == nil {
		t.Errorf("role row keys: %v", keys(roles[0]))
	}
	if resp, body := e.get("/data/SystemUsers?$select=UserId"); resp.StatusCode != 400 {
		t.Errorf("SystemUsers has UserID, not UserId: %d %s", resp.StatusCode, body)
	}
}

func TestFinOpsMissingEntity(t *testing.T) {
	c := startSim(t, func(cfg *Config) { cfg.Users = 100; cfg.FinOpsMissingEntity = []string{"SecurityUserRoles"} })
	e := c.env(c.s.FinOpsURLs()[0])
	_, meta := e.get("/data/$metadata")
	if strings.Contains(string(meta), "SecurityUserRole") {
		t.Errorf("$metadata still names the missing entity")
	}
	if resp, _ := e.get("/data/SecurityUserRoles"); resp.StatusCode != 404 {
		t.Errorf("missing entity: %d", resp.StatusCode)
	}
}

func TestIdentityTruthIsPlanted(t *testing.T) {
	s := newSim(t, func(cfg *Config) { cfg.Users = 2000; cfg.DataverseEnvs = 2 })
	tr := s.Truth().Identities
	for _, m := range []string{model.MethodObjectID, model.MethodUPN, model.MethodAlias, model.MethodEmail} {
		if tr.ByMethod[m] == 0 {
			t.Errorf("no account planted for method %s: %v", m, tr.ByMethod)
		}
	}
	for _, r := range []string{model.ReasonApplication, model.ReasonBuiltIn, model.ReasonNotInEntra, model.ReasonNoMatch, model.ReasonConflict} {
		if tr.ByReason[r] == 0 {
			t.Errorf("no account planted for reason %s: %v", r, tr.ByReason)
		}
	}
}

// TestDataverseAnswersAsDocumented checks the simulated Web API against the answers Microsoft's pages show
// (extract/dataverse/testdata/README.md): the key comes back unselected, paging is announced in Preference-Applied,
// and the client errors of "Troubleshoot Dataverse Web API client errors" carry their status, code and message.
func TestDataverseAnswersAsDocumented(t *testing.T) {
	c := startSim(t, func(cfg *Config) { cfg.Users = 100 })
	e := c.env(c.s.DataverseURLs()[0])
	e.prefer = "odata.maxpagesize=2"
	resp, body := e.get(dataversesim.API + "systemusers?$select=fullname")
	var page struct {
		Context string           `json:"@odata.context"`
		Value   []map[string]any `json:"value"`
		Next    string           `json:"@odata.nextLink"`
	}
	json.Unmarshal(body, &page)
	if resp.Header.Get("Preference-Applied") != "odata.maxpagesize=2" || len(page.Value) != 2 || page.Next == "" ||
		page.Value[0]["systemuserid"] == nil || page.Value[0]["@odata.etag"] == nil || !strings.HasSuffix(page.Context, "$metadata#systemusers(fullname)") {
		t.Errorf("a $select=fullname page: %s %s", resp.Header.Get("Preference-Applied"), body)
	}
	e.prefer = ""
	for _, tc := range []struct {
		method, path string
		status       int
		code, msg    string
	}{
		{"GET", dataversesim.API + "Account", 404, "0x8006088a", "Resource not found for the segment 'Account'."},
		{"GET", dataversesim.API + "systemusers?$select=Name", 400, "0x0", "Could not find a property named 'Name' on type 'Microsoft.Dynamics.CRM.systemuser'."},
		{"POST", dataversesim.API + "WhoAmI", 404, "", "No HTTP resource was found that matches the request URI '" + e.base + dataversesim.API + "WhoAmI'."},
	} {
		req, _ := http.NewRequest(tc.method, e.base+tc.path, nil)
		req.Header.Set("Authorization", "Bearer "+e.tok)
		resp, err := e.hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		var eb struct {
			Error struct{ Code, Message string }
		}
		json.Unmarshal(b, &eb)
		if resp.StatusCode != tc.status || eb.Error.Code != tc.code || eb.Error.Message != tc.msg {
			t.Errorf("%s %s: %d %s, want %d %q %q", tc.method, tc.path, resp.StatusCode, b, tc.status, tc.code, tc.msg)
		}
	}
}
