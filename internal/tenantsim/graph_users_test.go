package tenantsim

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"testing"
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
