package servicenow

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

type call struct {
	method, path, body string
	basic              bool   // basic auth with the right password
	bearer             string // a bearer token instead
	ctype              string
}

func do(t *testing.T, srv *httptest.Server, c call) (int, map[string]any, http.Header) {
	t.Helper()
	req, _ := http.NewRequest(c.method, srv.URL+c.path, strings.NewReader(c.body))
	if c.basic {
		req.SetBasicAuth("u", "p")
	}
	if c.bearer != "" {
		req.Header.Set("Authorization", "Bearer "+c.bearer)
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("Content-Type", c.ctype)
	if c.ctype == "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	out := map[string]any{}
	json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out, resp.Header
}

func insert(t *testing.T, srv *httptest.Server, table, records string) string {
	t.Helper()
	code, body, _ := do(t, srv, call{method: "POST", path: "/api/now/import/" + table + "/insertMultiple", body: `{"records":` + records + `}`, basic: true})
	if code != 201 {
		t.Fatalf("insertMultiple %s: %d %v", table, code, body)
	}
	return body["import_set_id"].(string)
}

// rows are a staging table's rows of one import set: u_external_id -> "state comment".
func rows(t *testing.T, srv *httptest.Server, table, set string) map[string]string {
	t.Helper()
	_, body, _ := do(t, srv, call{method: "GET", basic: true, path: "/api/now/table/" + table + "?sysparm_exclude_reference_link=true&sysparm_query=sys_import_set=" + set})
	out := map[string]string{}
	for _, r := range body["result"].([]any) {
		m := r.(map[string]any)
		out[m["u_external_id"].(string)] = strings.TrimSpace(m["sys_import_state"].(string) + " " + m["sys_import_state_comment"].(string))
	}
	return out
}

func state(t *testing.T, srv *httptest.Server, id string) string {
	t.Helper()
	_, body, _ := do(t, srv, call{method: "GET", path: "/api/now/table/sys_import_set/" + id, basic: true})
	return body["result"].(map[string]any)["state"].(string)
}

// What an import sees: the auth it accepts, the writes it refuses, and insertMultiple's import set going from
// loaded to processed with each row inserted, updated, ignored (No field values changed), skipped (no coalesce
// value) or error, its keys the columns' labels.
func TestImportSets(t *testing.T) {
	sn := New("u", "p", "cid", "csecret")
	sn.ProcessAfter = 50 * time.Millisecond
	srv := httptest.NewServer(sn)
	defer srv.Close()

	for _, tc := range []struct {
		name string
		c    call
		want int
	}{
		{"no credentials", call{method: "GET", path: "/api/now/table/sys_import_set"}, 401},
		{"an unknown token", call{method: "GET", path: "/api/now/table/sys_import_set", bearer: "nope"}, 401},
		{"a direct write to samp_sw_subscription", call{method: "POST", path: "/api/now/table/samp_sw_subscription", body: `{}`, basic: true}, 403},
		{"a table the instance does not have", call{method: "GET", path: "/api/now/table/u_nope", basic: true}, 400},
		{"an unknown staging table", call{method: "POST", path: "/api/now/import/u_nope/insertMultiple", body: `{"records":[]}`, basic: true}, 400},
		{"not JSON", call{method: "POST", path: "/api/now/import/u_seatlake_user", body: `{`, basic: true}, 400},
		{"a form body", call{method: "POST", path: "/api/now/import/u_seatlake_user/insertMultiple", body: `a=b`, basic: true, ctype: "application/x-www-form-urlencoded"}, 415},
	} {
		if code, body, _ := do(t, srv, tc.c); code != tc.want || body["status"] != "failure" {
			t.Errorf("%s: %d %v, want %d with ServiceNow's error body", tc.name, code, body, tc.want)
		}
	}

	users := insert(t, srv, "u_seatlake_user", `[{"External ID":"a","UPN":"a@x"},{"External ID":"b","UPN":"b@x"},{"UPN":"c@x"}]`)
	if s := state(t, srv, users); s != "loaded" {
		t.Errorf("right after insertMultiple the set is %s, want loaded (asynchronous)", s)
	}
	time.Sleep(60 * time.Millisecond)
	if s := state(t, srv, users); s != "processed" {
		t.Fatalf("after the processing delay the set is %s", s)
	}
	if got := rows(t, srv, "u_seatlake_user", users); got["a"] != "inserted" || got[""] != "skipped" {
		t.Errorf("rows with and without a coalesce value: %v", got)
	}
	insert(t, srv, "u_seatlake_subscription", `[{"External ID":"sku","Purchased":10}]`) // a number is stored as text
	again := insert(t, srv, "u_seatlake_user", `[{"External ID":"a","UPN":"a@x"},{"External ID":"b","UPN":"b2@x"}]`)
	lic := insert(t, srv, "u_seatlake_license", `[{"External ID":"a:sku","User":"a","Subscription":"sku"},{"External ID":"z:sku","User":"z","Subscription":"sku"}]`)
	time.Sleep(60 * time.Millisecond)
	if got := rows(t, srv, "u_seatlake_user", again); got["a"] != "ignored No field values changed" || got["b"] != "updated" {
		t.Errorf("the same row again is ignored, a changed one updated: %v", got)
	}
	if got := rows(t, srv, "u_seatlake_license", lic); got["a:sku"] != "inserted" || !strings.HasPrefix(got["z:sku"], "error Unable to resolve reference u_user") {
		t.Errorf("a license of a known user is inserted, of an unknown one an error: %v", got)
	}
	held := sn.Held()
	if len(held.Targets["u_m365_person"]) != 2 || len(held.Targets["u_m365_license"]) != 1 || held.Rows["u_seatlake_license"]["error"] != 1 ||
		held.Rows["u_seatlake_user"]["skipped"] != 1 || held.Targets["u_m365_subscription"][0].Values["u_purchased"] != "10" {
		t.Errorf("held: %+v", held)
	}
}

// insertMultiple's keys are the columns' labels; names match nothing and are dropped, so the row has no coalesce
// value and is skipped. With a REST Insert Multiples entry mapping by column name it is the other way round; a
// synchronous entry transforms the rows at once and leaves the import set loading.
func TestInsertMultipleColumnMapping(t *testing.T) {
	sn := New("u", "p", "", "")
	sn.ProcessAfter = 0
	srv := httptest.NewServer(sn)
	defer srv.Close()
	byName := `[{"u_external_id":"n1","u_upn":"n1@x"}]`
	byLabel := `[{"External ID":"l1","UPN":"l1@x"}]`

	insert(t, srv, "u_seatlake_user", byName)
	insert(t, srv, "u_seatlake_user", byLabel)
	h := sn.Held()
	if h.Rows["u_seatlake_user"]["skipped"] != 1 || len(h.Targets["u_m365_person"]) != 1 || h.Targets["u_m365_person"][0].Values["u_upn"] != "l1@x" {
		t.Errorf("without an entry, labels land and names are dropped: %+v", h)
	}

	sn.SetInsertMultiple("u_seatlake_user", InsertMultipleEntry{ColumnNames: true, Synchronous: true})
	set := insert(t, srv, "u_seatlake_user", byName)
	if got := rows(t, srv, "u_seatlake_user", set); got["n1"] != "inserted" {
		t.Errorf("a synchronous entry transforms at once: %v", got)
	}
	if s := state(t, srv, set); s != "loading" {
		t.Errorf("a synchronous import set is %s, want loading", s)
	}
	insert(t, srv, "u_seatlake_user", byLabel)
	if h := sn.Held(); h.Rows["u_seatlake_user"]["skipped"] != 2 {
		t.Errorf("with Column mapping = Column name, labels are dropped: %+v", h.Rows)
	}
	_, body, _ := do(t, srv, call{method: "GET", basic: true, path: "/api/now/table/sys_rest_insert_multiple"})
	if n := len(body["result"].([]any)); n != 1 {
		t.Errorf("sys_rest_insert_multiple holds %d entries, want 1", n)
	}
}

// The Table API as the sync reads it: the dictionary's labels, a query part naming a field the table does not have
// ignored, paging headers, version 1's 404 for an empty answer, a rate limit rule's 429.
func TestTableAPI(t *testing.T) {
	sn := New("u", "p", "", "")
	srv := httptest.NewServer(sn)
	defer srv.Close()
	code, body, _ := do(t, srv, call{method: "GET", basic: true, path: "/api/now/table/sys_dictionary?" +
		url.Values{"sysparm_query": {"name=u_seatlake_user"}, "sysparm_fields": {"name,element,column_label"}}.Encode()})
	labels := map[string]string{}
	for _, r := range body["result"].([]any) {
		m := r.(map[string]any)
		labels[m["element"].(string)] = m["column_label"].(string)
	}
	if code != 200 || labels["u_external_id"] != "External ID" || labels[""] != "u_seatlake_user" || len(labels) != 9 {
		t.Errorf("the dictionary of u_seatlake_user: %d %v", code, labels)
	}
	_, body, _ = do(t, srv, call{method: "GET", basic: true, path: "/api/now/table/sys_dictionary?sysparm_query=nme%3Du_seatlake_user"})
	if n := len(body["result"].([]any)); n < 30 {
		t.Errorf("a query on a field sys_dictionary does not have is ignored: %d entries, want the whole dictionary", n)
	}
	_, _, hdr := do(t, srv, call{method: "GET", basic: true, path: "/api/now/table/sys_dictionary?sysparm_limit=10"})
	if !strings.Contains(hdr.Get("Link"), `rel="next"`) || hdr.Get("X-Total-Count") == "" {
		t.Errorf("paging headers: Link %q, X-Total-Count %q", hdr.Get("Link"), hdr.Get("X-Total-Count"))
	}
	if code, _, _ := do(t, srv, call{method: "GET", basic: true, path: "/api/now/table/sys_import_set"}); code != 200 {
		t.Errorf("an empty answer of the latest version: %d, want 200", code)
	}
	if code, _, _ := do(t, srv, call{method: "GET", basic: true, path: "/api/now/v1/table/sys_import_set"}); code != 404 {
		t.Errorf("an empty answer of version 1: %d, want 404", code)
	}
	sn.DenyRead("sys_dictionary")
	if code, _, _ := do(t, srv, call{method: "GET", basic: true, path: "/api/now/table/sys_dictionary"}); code != 403 {
		t.Errorf("a read the ACLs refuse: %d, want 403", code)
	}
	sn.ThrottleEvery = 1
	code, body, hdr = do(t, srv, call{method: "GET", path: "/api/now/table/sys_import_set", basic: true})
	if e, _ := body["error"].(map[string]any); code != 429 || hdr.Get("Retry-After") != "1" || e["message"] != "Rate limit exceeded" {
		t.Errorf("a rate limit rule: %d %v %v", code, hdr, body)
	}
}

// The client credentials grant is refused, as a wrong secret is, until the instance enables it and the client's
// record names an OAuth Application User; then its token is taken.
func TestClientCredentialsGrant(t *testing.T) {
	sn := New("u", "p", "cid", "csecret")
	srv := httptest.NewServer(sn)
	defer srv.Close()
	grant := func(secret string) (int, string) {
		resp, err := http.PostForm(srv.URL+"/oauth_token.do", url.Values{"grant_type": {"client_credentials"}, "client_id": {"cid"}, "client_secret": {secret}})
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var tok struct {
			AccessToken string `json:"access_token"`
			TokenType   string `json:"token_type"`
		}
		json.NewDecoder(resp.Body).Decode(&tok)
		return resp.StatusCode, tok.AccessToken
	}
	for _, tc := range []struct {
		name    string
		enabled bool
		appUser string
	}{{"a new instance", false, ""}, {"the property only", true, ""}, {"the application user only", false, "u"}} {
		sn.SetClientCredentials(tc.enabled, tc.appUser)
		if code, _ := grant("csecret"); code != 401 {
			t.Errorf("%s: %d, want 401", tc.name, code)
		}
	}
	sn.SetClientCredentials(true, "u")
	if code, _ := grant("wrong"); code != 401 {
		t.Errorf("a wrong secret: %d, want 401", code)
	}
	code, tok := grant("csecret")
	if c, _, _ := do(t, srv, call{method: "GET", path: "/api/now/table/sys_import_set", bearer: tok}); code != 200 || c != 200 {
		t.Errorf("set up: token %d, API %d", code, c)
	}
}

// ServiceNow's own insertMultiple example (Import Set API page), sent verbatim: the answer has the example's fields
// and the rows land with their values under the columns the labels name.
func TestDocInsertMultipleExample(t *testing.T) {
	sn := New("u", "p", "", "", Transform{Staging: "u_employee_import_set_table", Target: "u_employee", Coalesce: "u_id",
		Columns: []Column{{"u_address", "Address"}, {"u_name", "Name"}, {"u_id", "ID"}}})
	sn.ProcessAfter = 0
	srv := httptest.NewServer(sn)
	defer srv.Close()
	req, _ := os.ReadFile("testdata/golden/insertmultiple/request.json")
	want, _ := os.ReadFile("testdata/golden/insertmultiple/response.json")
	code, body, _ := do(t, srv, call{method: "POST", path: "/api/now/import/u_employee_import_set_table/insertMultiple", body: string(req), basic: true})
	var wantBody map[string]any
	json.Unmarshal(want, &wantBody)
	if code != 201 || !slices.Equal(sortedKeys(body), sortedKeys(wantBody)) {
		t.Fatalf("answer %d %v, want the example's fields %v", code, body, sortedKeys(wantBody))
	}
	got := map[string]string{}
	for _, r := range sn.Held().Targets["u_employee"] {
		got[r.Values["u_id"]] = r.Values["u_name"] + " " + r.Values["u_address"]
	}
	if got["123"] != "Tom Hollywood" || got["456"] != "Irene Vine" {
		t.Errorf("landed: %v", got)
	}
}

// The default staging tables' columns and labels are the ones the README tells an administrator to create.
func TestDefaultTransformsAreTheREADMEs(t *testing.T) {
	readme, err := os.ReadFile("../../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	pair := regexp.MustCompile("`(u_[a-z_]+)` \"([^\"]+)\"")
	for _, tr := range DefaultTransforms() {
		var documented []Column
		for _, l := range strings.Split(string(readme), "\n") {
			if strings.HasPrefix(l, "| `"+tr.Staging+"` |") {
				for _, m := range pair.FindAllStringSubmatch(l, -1) {
					documented = append(documented, Column{m[1], m[2]})
				}
			}
		}
		if !slices.Equal(documented, tr.Columns) {
			t.Errorf("%s: the emulator has %v, the README %v", tr.Staging, tr.Columns, documented)
		}
	}
}

// A read of staging rows by import set (sys_import_setIN…, as a sync reads what its rows became) gets the rows of
// those sets, in the order they were loaded, from the staging table and from sys_import_set_row alike.
func TestRowsOfSomeImportSets(t *testing.T) {
	sn := New("u", "p", "", "")
	srv := httptest.NewServer(sn)
	defer srv.Close()
	a := insert(t, srv, "u_seatlake_user", `[{"External ID":"a1"},{"External ID":"a2"}]`)
	insert(t, srv, "u_seatlake_user", `[{"External ID":"b1"}]`)
	c := insert(t, srv, "u_seatlake_user", `[{"External ID":"c1"}]`)
	for _, table := range []string{"u_seatlake_user", "sys_import_set_row"} {
		_, body, _ := do(t, srv, call{method: "GET", basic: true, path: "/api/now/table/" + table + "?sysparm_exclude_reference_link=true&sysparm_fields=u_external_id,sys_import_set,sys_import_row&sysparm_query=" +
			url.QueryEscape("sys_import_setIN"+c+","+a+"^sys_import_row!=5")})
		var got []string
		for _, r := range body["result"].([]any) {
			m := r.(map[string]any)
			got = append(got, m["sys_import_set"].(string)[:4]+" "+m["sys_import_row"].(string))
		}
		want := []string{a[:4] + " 0", a[:4] + " 1", c[:4] + " 0"}
		if !slices.Equal(got, want) {
			t.Errorf("%s: rows of sets a and c: %v, want %v", table, got, want)
		}
	}
}
