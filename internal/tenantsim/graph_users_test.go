package tenantsim

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/seatlake/seatlake/internal/tenantsim/graphsim/userfilter"
	"github.com/seatlake/seatlake/internal/tenantsim/model"
)

func TestUsersPagingCoversEveryUserOnce(t *testing.T) {
	c := startSim(t, func(cfg *Config) { cfg.Users = 1100 })
	want := c.s.Truth().Tables["graph_users"]
	tests := []struct {
		query    string
		pageSize int // rows on a full page
	}{
		{"", 100}, // default $top
		{"?$top=7", 7},
		{"?$top=999&$select=id,displayName", 999},
		{"?$top=999&$select=id,signInActivity", 500}, // capped with signInActivity
		{"?$select=id,assignedLicenses,signInActivity&$top=250", 250},
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			rows, pages := c.all("/v1.0/users" + tt.query)
			if int64(len(rows)) != want {
				t.Fatalf("%d users over %d pages, the tenant has %d", len(rows), pages, want)
			}
			seen := map[string]bool{}
			for _, r := range rows {
				id, _ := r["id"].(string)
				if id == "" || seen[id] {
					t.Fatalf("user id %q missing or served twice", id)
				}
				seen[id] = true
			}
			if wantPages := (int(want) + tt.pageSize - 1) / tt.pageSize; pages != wantPages {
				t.Errorf("%d pages, want %d of %d", pages, wantPages, tt.pageSize)
			}
		})
	}
}

func TestUsersProperties(t *testing.T) {
	c := startSim(t, nil)
	tests := []struct {
		query   string
		want    []string
		context string
	}{
		{"", []string{"businessPhones", "displayName", "givenName", "jobTitle", "mail", "mobilePhone", "officeLocation", "preferredLanguage", "surname", "userPrincipalName", "id"}, "#users"},
		{"?$select=id,accountEnabled", []string{"id", "accountEnabled"}, "#users(id,accountEnabled)"},
		{"?$select=id,userPrincipalName,mail,accountEnabled,userType,createdDateTime,department,assignedLicenses,signInActivity",
			[]string{"id", "userPrincipalName", "mail", "accountEnabled", "userType", "createdDateTime", "department", "assignedLicenses", "signInActivity"},
			"#users(id,userPrincipalName,mail,accountEnabled,userType,createdDateTime,department,assignedLicenses,signInActivity)"},
		{"?$select=ID,DisplayName", []string{"id", "displayName"}, "#users(id,displayName)"}, // names match case-insensitively
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			resp, body := c.get("/v1.0/users" + tt.query)
			if resp.StatusCode != 200 {
				t.Fatalf("%d %s", resp.StatusCode, body)
			}
			p := decodePage(t, body)
			if p.Context != c.base+"/v1.0/$metadata"+tt.context {
				t.Errorf("@odata.context %q", p.Context)
			}
			rows, _ := c.all("/v1.0/users" + tt.query)
			for _, r := range rows {
				got := keys(r)
				sort.Strings(got)
				w := slices.Clone(tt.want)
				sort.Strings(w)
				if !slices.Equal(got, w) {
					t.Fatalf("properties %v, want exactly %v", got, w)
				}
			}
		})
	}
}

func TestUsersFieldValues(t *testing.T) {
	c := startSim(t, nil)
	rows, _ := c.all("/v1.0/users?$select=id,userPrincipalName,mail,accountEnabled,userType,createdDateTime,department,assignedLicenses,signInActivity&$top=999")
	var guests, disabled, neverSignedIn, noMail, disabledPlans int
	var licenses int64
	for _, r := range rows {
		switch r["userType"] {
		case "Guest":
			guests++
			if !strings.Contains(r["userPrincipalName"].(string), "#EXT#@") || r["department"] != nil {
				t.Errorf("guest %v: want an #EXT# UPN and no department", r)
			}
		case "Member":
		default:
			t.Fatalf("userType %v", r["userType"])
		}
		if r["accountEnabled"] == false {
			disabled++
		}
		if r["signInActivity"] == nil {
			neverSignedIn++
		}
		if r["mail"] == nil {
			noMail++
		}
		for _, l := range r["assignedLicenses"].([]any) {
			l := l.(map[string]any)
			if _, ok := l["skuId"].(string); !ok {
				t.Fatalf("assigned license %v without skuId", l)
			}
			if len(l["disabledPlans"].([]any)) > 0 {
				disabledPlans++
			}
			licenses++
		}
		if !isoSeconds.MatchString(r["createdDateTime"].(string)) {
			t.Errorf("createdDateTime %v", r["createdDateTime"])
		}
	}
	truth := c.s.Truth()
	if licenses != truth.Tables["graph_user_licenses"] {
		t.Errorf("%d assigned licenses served, truth says %d", licenses, truth.Tables["graph_user_licenses"])
	}
	if guests != truth.Users.Guests || disabled != truth.Users.Disabled || neverSignedIn != truth.Users.Never {
		t.Errorf("served %d guests, %d disabled, %d never signed in; truth %+v", guests, disabled, neverSignedIn, truth.Users)
	}
	if guests == 0 || disabled == 0 || neverSignedIn == 0 || noMail == 0 || disabledPlans == 0 {
		t.Errorf("a realistic tenant has guests (%d), disabled users (%d), users who never signed in (%d), users without mail (%d) and disabled plans (%d)",
			guests, disabled, neverSignedIn, noMail, disabledPlans)
	}
}

func TestUsersQueryErrors(t *testing.T) {
	c := startSim(t, nil)
	tests := []struct {
		query  string
		status int
		code   string
	}{
		{"?$skip=10", 400, "Request_BadRequest"},
		{"?$top=0", 400, "Request_UnsupportedQuery"},
		{"?$top=1000", 400, "Request_UnsupportedQuery"},
		{"?$top=ten", 400, "Request_UnsupportedQuery"},
		{"?$select=id,shoeSize", 400, "Request_BadRequest"},
		{"?$select=id,hireDate", 501, "NotImplemented"},
		{"?$skiptoken=bm9wZQ", 400, "Directory_InvalidSkipToken"},
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			resp, body := c.get("/v1.0/users" + tt.query)
			if resp.StatusCode != tt.status {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tt.status, body)
			}
			if e := decodeGraphErr(t, body); e.Error.Code != tt.code {
				t.Errorf("code %q, want %q", e.Error.Code, tt.code)
			}
		})
	}
	// A skiptoken edited by the client is refused, not misread.
	_, body := c.get("/v1.0/users?$top=5")
	next := decodePage(t, body).NextLink
	tok := next[strings.LastIndex(next, "=")+1:]
	edited := []byte(tok)
	edited[len(edited)-2] ^= 1
	if resp, _ := c.get(strings.Replace(next, tok, string(edited), 1)); resp.StatusCode != 400 {
		t.Errorf("edited skiptoken: status %d, want 400", resp.StatusCode)
	}
}

func TestNoPremium(t *testing.T) {
	c := startSim(t, func(cfg *Config) { cfg.Premium = false })
	for _, path := range []string{"/v1.0/users?$select=id,signInActivity", "/v1.0/auditLogs/signIns", signInWindowAll} {
		resp, body := c.get(path)
		if resp.StatusCode != 403 {
			t.Fatalf("%s: status %d, want 403", path, resp.StatusCode)
		}
		if e := decodeGraphErr(t, body); e.Error.Code != "Authentication_RequestFromNonPremiumTenantOrB2CTenant" {
			t.Errorf("%s: code %q", path, e.Error.Code)
		}
	}
	// Everything else still works, and nothing the tenant bought includes P1.
	if resp, body := c.get("/v1.0/users?$select=id,assignedLicenses"); resp.StatusCode != 200 {
		t.Fatalf("users without signInActivity: %d %s", resp.StatusCode, body)
	}
	skus, _ := c.all("/v1.0/subscribedSkus")
	for _, k := range skus {
		if p := k["skuPartNumber"]; p == "AAD_PREMIUM" || p == "SPE_E3" || p == "SPE_E5" {
			t.Errorf("a tenant without P1 subscribes to %v", p)
		}
	}
	if tr := c.s.Truth(); tr.Tables["graph_signins"] != 0 || tr.Premium {
		t.Errorf("truth without P1: %+v", tr)
	}
}

func TestSubscribedSkus(t *testing.T) {
	c := startSim(t, nil)
	resp, body := c.get("/v1.0/subscribedSkus")
	if resp.StatusCode != 200 {
		t.Fatalf("%d %s", resp.StatusCode, body)
	}
	if p := decodePage(t, body); p.Context != c.base+"/v1.0/$metadata#subscribedSkus" || p.NextLink != "" {
		t.Errorf("context %q, nextLink %q", p.Context, p.NextLink)
	}
	skus, _ := c.all("/v1.0/subscribedSkus")
	tenant, _, _ := c.s.Credentials()
	truth := c.s.Truth()
	if int64(len(skus)) != truth.Tables["graph_subscribed_skus"] {
		t.Errorf("%d SKUs, truth says %d", len(skus), truth.Tables["graph_subscribed_skus"])
	}
	var consumed int64
	var overBought, short, warning int
	parts := map[string]bool{}
	for _, k := range skus {
		want := []string{"accountId", "accountName", "appliesTo", "capabilityStatus", "consumedUnits", "id", "prepaidUnits", "servicePlans", "skuId", "skuPartNumber", "subscriptionIds"}
		got := keys(k)
		sort.Strings(got)
		if !slices.Equal(got, want) {
			t.Fatalf("SKU properties %v, want %v", got, want)
		}
		if k["id"] != tenant+"_"+k["skuId"].(string) {
			t.Errorf("id %v, want <tenantId>_<skuId>", k["id"])
		}
		pu := k["prepaidUnits"].(map[string]any)
		for _, f := range []string{"enabled", "warning", "suspended", "lockedOut"} {
			if _, ok := pu[f].(float64); !ok {
				t.Errorf("prepaidUnits.%s missing: %v", f, pu)
			}
		}
		n := k["consumedUnits"].(float64)
		consumed += int64(n)
		switch {
		case k["capabilityStatus"] == "Warning":
			warning++
		case pu["enabled"].(float64) > n:
			overBought++
		case pu["enabled"].(float64) < n:
			short++
		}
		parts[k["skuPartNumber"].(string)] = true
	}
	if consumed != truth.Tables["graph_user_licenses"] {
		t.Errorf("consumedUnits add up to %d, users hold %d licenses", consumed, truth.Tables["graph_user_licenses"])
	}
	if overBought == 0 || short == 0 || warning == 0 {
		t.Errorf("want over-bought (%d), short (%d) and Warning (%d) SKUs", overBought, short, warning)
	}
	for _, p := range []string{"DYN365_ENTERPRISE_SALES", "DYN365_ENTERPRISE_CUSTOMER_SERVICE", "DYN365_TEAM_MEMBERS", "POWERAPPS_PER_USER", "ENTERPRISEPACK", "SPE_E3", "AAD_PREMIUM", "FLOW_FREE"} {
		if !parts[p] {
			t.Errorf("no %s among %v", p, parts)
		}
	}
}

func TestReportSettings(t *testing.T) {
	for _, concealed := range []bool{true, false} {
		t.Run(fmt.Sprint(concealed), func(t *testing.T) {
			c := startSim(t, func(cfg *Config) { cfg.ConcealedNames = concealed })
			resp, body := c.get("/v1.0/admin/reportSettings")
			want := fmt.Sprintf(`{"@odata.context":"%s/v1.0/$metadata#admin/reportSettings/$entity","displayConcealedNames":%t}`, c.base, concealed)
			if resp.StatusCode != 200 || string(body) != want {
				t.Errorf("%d %s, want %s", resp.StatusCode, body, want)
			}
		})
	}
}

// getWith fetches a path with the client's token and extra request headers (ConsistencyLevel, client-request-id).
func (c *client) getWith(path string, header map[string]string) (*http.Response, []byte) {
	c.t.Helper()
	req, _ := http.NewRequest("GET", c.base+path, nil)
	req.Header.Set("Authorization", "Bearer "+c.tok)
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		c.t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		c.t.Fatal(err)
	}
	return resp, b
}

// allWith follows nextLinks from path, sending header on every page (Graph does not carry ConsistencyLevel into a
// nextLink: the client resends it), and returns the rows and the first page's @odata.count (-1 when absent).
func (c *client) allWith(path string, header map[string]string) (rows []map[string]any, count int) {
	c.t.Helper()
	count = -1
	for next, first := path, true; next != ""; first = false {
		resp, body := c.getWith(strings.TrimPrefix(next, c.base), header)
		if resp.StatusCode != 200 {
			c.t.Fatalf("GET %s: %d %s", next, resp.StatusCode, body)
		}
		var p struct {
			Count    *int             `json:"@odata.count"`
			NextLink string           `json:"@odata.nextLink"`
			Value    []map[string]any `json:"value"`
		}
		if err := json.Unmarshal(body, &p); err != nil {
			c.t.Fatal(err)
		}
		switch {
		case first && p.Count != nil:
			count = *p.Count
		case !first && p.Count != nil:
			c.t.Errorf("@odata.count on a page after the first: %s", next)
		}
		if first && len(p.Value) == 0 && p.NextLink != "" {
			c.t.Errorf("an empty page with a nextLink: %s", next)
		}
		rows = append(rows, p.Value...)
		next = p.NextLink
	}
	return rows, count
}

var eventual = map[string]string{"ConsistencyLevel": "eventual"}

// $count as Graph documents it ("Advanced query capabilities on directory objects", "List users" example 3): with
// ConsistencyLevel: eventual, $count=true adds @odata.count to the first page and /users/$count answers the number
// as text/plain; without the header $count=true is silently ignored and /users/$count is a 400.
func TestUsersCount(t *testing.T) {
	c := startSim(t, nil)
	truth := c.s.Truth()
	total := int(truth.Tables["graph_users"])

	rows, count := c.allWith("/v1.0/users?$count=true&$top=100&$select=id", nil)
	if count != -1 || len(rows) != total {
		t.Errorf("$count=true without ConsistencyLevel: @odata.count %d (want none), %d rows of %d", count, len(rows), total)
	}
	rows, count = c.allWith("/v1.0/users?$count=true&$top=100&$select=id", eventual)
	if count != total || len(rows) != total {
		t.Errorf("$count=true with ConsistencyLevel: @odata.count %d, %d rows; want %d", count, len(rows), total)
	}

	resp, body := c.getWith("/v1.0/users/$count", map[string]string{"client-request-id": "5f2b1c8e-0000-4000-8000-00000000c0de"})
	if resp.StatusCode != 400 {
		t.Fatalf("/users/$count without ConsistencyLevel: %d %s, want 400", resp.StatusCode, body)
	}
	e := decodeGraphErr(t, body)
	if e.Error.Code != "Request_BadRequest" || e.Error.Message != "$count is not currently supported." {
		t.Errorf("/users/$count without ConsistencyLevel: %+v", e.Error)
	}
	if got := e.Error.InnerError["client-request-id"]; got != "5f2b1c8e-0000-4000-8000-00000000c0de" || resp.Header.Get("client-request-id") != got {
		t.Errorf("client-request-id %q (header %q), want the one the client sent", got, resp.Header.Get("client-request-id"))
	}
	for _, tt := range []struct {
		query string
		want  int
	}{
		{"", total},
		{"?$filter=accountEnabled%20eq%20false", truth.Users.Disabled},
		{"?$filter=userType%20eq%20'Guest'", truth.Users.Guests},
	} {
		resp, body := c.getWith("/v1.0/users/$count"+tt.query, eventual)
		if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain") || string(body) != fmt.Sprint(tt.want) {
			t.Errorf("/users/$count%s: %d %q %q, want 200 text/plain %d", tt.query, resp.StatusCode, resp.Header.Get("Content-Type"), body, tt.want)
		}
	}
}

// $filter and $orderby as the Graph SDKs send them: the default (non-advanced) queries need no header; the rest need
// ConsistencyLevel: eventual and $count=true, or answer 400 Request_UnsupportedQuery.
func TestUsersFilterAndOrderBy(t *testing.T) {
	c := startSim(t, nil)
	truth := c.s.Truth()
	total := int(truth.Tables["graph_users"])
	count := func(path string, header map[string]string) int {
		rows, _ := c.allWith(path, header)
		return len(rows)
	}

	// Disabled accounts, 7 a page: every page full but the last, every row disabled.
	rows, _ := c.allWith("/v1.0/users?$filter=accountEnabled%20eq%20false&$select=id,accountEnabled&$top=7", nil)
	for _, r := range rows {
		if r["accountEnabled"] != false {
			t.Fatalf("accountEnabled eq false served %v", r)
		}
	}
	if len(rows) != truth.Users.Disabled || len(rows) == 0 {
		t.Errorf("accountEnabled eq false: %d users, truth has %d disabled", len(rows), truth.Users.Disabled)
	}

	// Ordered by userPrincipalName, both ways, across pages.
	for _, dir := range []string{"", "%20asc", "%20desc"} {
		rows, _ := c.allWith("/v1.0/users?$orderby=userPrincipalName"+dir+"&$top=120", nil)
		if len(rows) != total {
			t.Fatalf("$orderby=userPrincipalName%s: %d of %d users", dir, len(rows), total)
		}
		upns := make([]string, len(rows))
		for i, r := range rows {
			upns[i] = strings.ToLower(r["userPrincipalName"].(string))
		}
		if dir == "%20desc" {
			slices.Reverse(upns)
		}
		if !sort.StringsAreSorted(upns) {
			t.Errorf("$orderby=userPrincipalName%s: not in order", dir)
		}
	}

	tests := []struct {
		name   string
		path   string
		header map[string]string
		want   int // -1: 400
		code   string
	}{
		{"guests", "/v1.0/users?$filter=userType%20eq%20'Guest'", nil, truth.Users.Guests, ""},
		{"member and enabled", "/v1.0/users?$filter=userType%20eq%20'Member'%20and%20accountEnabled%20eq%20true", nil, truth.Users.Members - (truth.Users.Disabled - disabledGuests(c)), ""},
		{"startsWith", "/v1.0/users?$filter=startswith(userPrincipalName,'" + firstLetter(c) + "')", nil, withPrefix(c, firstLetter(c)), ""},
		{"license", "/v1.0/users?$filter=assignedLicenses/any(x:x/skuId%20eq%201e1a282c-9c54-43a2-9310-98ef728faace)", nil, holding(c, "1e1a282c-9c54-43a2-9310-98ef728faace"), ""},
		{"ne needs the advanced parameters", "/v1.0/users?$filter=accountEnabled%20ne%20true", nil, -1, "Request_UnsupportedQuery"},
		{"ne needs $count=true too", "/v1.0/users?$filter=accountEnabled%20ne%20true", eventual, -1, "Request_UnsupportedQuery"},
		{"ne as an advanced query", "/v1.0/users?$filter=accountEnabled%20ne%20true&$count=true", eventual, truth.Users.Disabled, ""},
		{"endsWith needs the advanced parameters", "/v1.0/users?$filter=endswith(userPrincipalName,'%23EXT%23@x')", nil, -1, "Request_UnsupportedQuery"},
		{"filter with orderby needs the advanced parameters", "/v1.0/users?$filter=accountEnabled%20eq%20false&$orderby=displayName", nil, -1, "Request_UnsupportedQuery"},
		{"filter with orderby as an advanced query", "/v1.0/users?$filter=accountEnabled%20eq%20false&$orderby=displayName&$count=true", eventual, truth.Users.Disabled, ""},
		{"orderby a property Graph does not sort on", "/v1.0/users?$orderby=department", nil, -1, "Request_UnsupportedQuery"},
		{"filter on an unknown property", "/v1.0/users?$filter=shoeSize%20eq%20'42'", nil, -1, "Request_UnsupportedQuery"},
		{"search needs ConsistencyLevel", "/v1.0/users?$search=%22displayName:a%22", nil, -1, "Request_UnsupportedQuery"},
		{"search", "/v1.0/users?$search=%22displayName:" + firstName(c) + "%22&$count=true", eventual, withName(c, firstName(c)), ""},
		{"count=true with no ConsistencyLevel is ignored", "/v1.0/users?$count=true", nil, total, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.want >= 0 {
				if got := count(tt.path, tt.header); got != tt.want || got == 0 {
					t.Errorf("%d users, want %d (and some)", got, tt.want)
				}
				return
			}
			resp, body := c.getWith(tt.path, tt.header)
			if resp.StatusCode != 400 {
				t.Fatalf("status %d, want 400: %s", resp.StatusCode, body)
			}
			if e := decodeGraphErr(t, body); e.Error.Code != tt.code {
				t.Errorf("code %q, want %q", e.Error.Code, tt.code)
			}
		})
	}
}

// The tenant's users, for the expectations above (read through the model, not the endpoint under test).
func disabledGuests(c *client) (n int) {
	for _, u := range c.s.m.Users {
		if u.Guest && !u.Enabled {
			n++
		}
	}
	return n
}

func firstLetter(c *client) string { return strings.ToLower(c.s.m.Users[0].UPN[:1]) }

func withPrefix(c *client, p string) (n int) {
	for _, u := range c.s.m.Users {
		if strings.HasPrefix(strings.ToLower(u.UPN), p) {
			n++
		}
	}
	return n
}

func holding(c *client, sku string) (n int) {
	for _, u := range c.s.m.Users {
		for _, l := range u.Licenses {
			if model.SKUCatalog[l.SKU].ID == sku {
				n++
				break
			}
		}
	}
	return n
}

func firstName(c *client) string { return strings.ToLower(c.s.m.Users[0].Given) }

func withName(c *client, w string) (n int) {
	for _, u := range c.s.m.Users {
		if userfilter.WordPrefix(strings.ToLower(u.Name), w) {
			n++
		}
	}
	return n
}

// Graph's error body carries, in innerError, the client-request-id the client sent ("Microsoft Graph error
// responses and resource types"; "Advanced query capabilities" examples), and the request id when it sent none.
func TestErrorEchoesClientRequestID(t *testing.T) {
	c := startSim(t, nil)
	resp, body := c.getWith("/v1.0/users/11111111-2222-3333-4444-555555555555", map[string]string{"client-request-id": "7964ef27-13a3-6ca4-ed7b-73c271110867"})
	e := decodeGraphErr(t, body)
	if resp.StatusCode != 404 || e.Error.InnerError["client-request-id"] != "7964ef27-13a3-6ca4-ed7b-73c271110867" ||
		resp.Header.Get("client-request-id") != "7964ef27-13a3-6ca4-ed7b-73c271110867" || e.Error.InnerError["request-id"] == e.Error.InnerError["client-request-id"] {
		t.Errorf("with a client-request-id: %d %v %s", resp.StatusCode, resp.Header, body)
	}
	resp, body = c.getWith("/v1.0/users/11111111-2222-3333-4444-555555555555", nil)
	if e := decodeGraphErr(t, body); e.Error.InnerError["client-request-id"] != e.Error.InnerError["request-id"] || resp.Header.Get("request-id") != e.Error.InnerError["request-id"] {
		t.Errorf("without a client-request-id: %v %s", resp.Header, body)
	}
}

// licenseAssignmentStates as the resource documents it: error null for a license assigned successfully,
// assignedByGroup null when direct, and the plans the assignment disables (those of assignedLicenses).
func TestLicenseAssignmentStates(t *testing.T) {
	c := startSim(t, nil)
	rows, _ := c.all("/v1.0/users?$select=id,assignedLicenses,licenseAssignmentStates&$top=999")
	var inherited, disabled int
	for _, r := range rows {
		plans := map[string]string{}
		for _, l := range r["assignedLicenses"].([]any) {
			l := l.(map[string]any)
			plans[l["skuId"].(string)] = fmt.Sprint(l["disabledPlans"])
		}
		states := r["licenseAssignmentStates"].([]any)
		if len(states) != len(plans) {
			t.Fatalf("user %v: %d assignment states for %d licenses", r["id"], len(states), len(plans))
		}
		for _, s := range states {
			s := s.(map[string]any)
			if s["error"] != nil || s["state"] != "Active" || plans[s["skuId"].(string)] != fmt.Sprint(s["disabledPlans"]) {
				t.Fatalf("user %v: state %v, assigned licenses %v", r["id"], s, plans)
			}
			if s["assignedByGroup"] != nil {
				inherited++
			}
			if len(s["disabledPlans"].([]any)) > 0 {
				disabled++
			}
		}
	}
	if inherited == 0 || disabled == 0 {
		t.Errorf("want inherited licenses (%d) and disabled plans (%d) among the states", inherited, disabled)
	}
}
