package servicenow

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
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

func do(t *testing.T, srv *httptest.Server, c call) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest(c.method, srv.URL+c.path, strings.NewReader(c.body))
	if c.basic {
		req.SetBasicAuth("u", "p")
	}
	if c.bearer != "" {
		req.Header.Set("Authorization", "Bearer "+c.bearer)
	}
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
	return resp.StatusCode, out
}

// What an import sees: the auth it accepts, the writes it refuses, and insertMultiple's import set going from
// loaded to processed with each row inserted, updated, ignored or error by the transform map's coalesce.
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
		{"a wrong password", call{method: "GET", path: "/api/now/table/sys_import_set", bearer: "nope"}, 401},
		{"a direct write to samp_sw_subscription", call{method: "POST", path: "/api/now/table/samp_sw_subscription", body: `{}`, basic: true}, 403},
		{"an unknown staging table", call{method: "POST", path: "/api/now/import/u_nope/insertMultiple", body: `{"records":[]}`, basic: true}, 400},
		{"a number instead of a string", call{method: "POST", path: "/api/now/import/u_seatlake_user/insertMultiple", body: `{"records":[{"u_external_id":1}]}`, basic: true}, 400},
		{"not JSON", call{method: "POST", path: "/api/now/import/u_seatlake_user", body: `{`, basic: true}, 400},
		{"a form body", call{method: "POST", path: "/api/now/import/u_seatlake_user", body: `a=b`, basic: true, ctype: "application/x-www-form-urlencoded"}, 415},
	} {
		if code, body := do(t, srv, tc.c); code != tc.want || (code >= 400 && body["status"] != "failure") {
			t.Errorf("%s: %d %v, want %d with ServiceNow's error body", tc.name, code, body, tc.want)
		}
	}

	// OAuth client credentials give a bearer token the API takes.
	resp, err := http.PostForm(srv.URL+"/oauth_token.do", url.Values{"grant_type": {"client_credentials"}, "client_id": {"cid"}, "client_secret": {"csecret"}})
	if err != nil {
		t.Fatal(err)
	}
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	json.NewDecoder(resp.Body).Decode(&tok)
	resp.Body.Close()
	if code, _ := do(t, srv, call{method: "GET", path: "/api/now/table/sys_import_set", bearer: tok.AccessToken}); code != 200 || tok.AccessToken == "" {
		t.Fatalf("OAuth token: %d", code)
	}
	if resp, _ := http.PostForm(srv.URL+"/oauth_token.do", url.Values{"grant_type": {"client_credentials"}, "client_id": {"cid"}, "client_secret": {"wrong"}}); resp.StatusCode != 401 {
		t.Errorf("a wrong client secret: %d, want 401", resp.StatusCode)
	}

	insert := func(table, records string) string {
		code, body := do(t, srv, call{method: "POST", path: "/api/now/import/" + table + "/insertMultiple", body: `{"records":` + records + `}`, basic: true})
		if code != 201 {
			t.Fatalf("insertMultiple %s: %d %v", table, code, body)
		}
		return body["import_set_id"].(string)
	}
	state := func(id string) string {
		_, body := do(t, srv, call{method: "GET", path: "/api/now/table/sys_import_set/" + id, basic: true})
		return body["result"].(map[string]any)["state"].(string)
	}
	users := insert("u_seatlake_user", `[{"u_external_id":"a","u_upn":"a@x"},{"u_external_id":"b","u_upn":"b@x"}]`)
	if s := state(users); s != "loaded" {
		t.Errorf("right after insertMultiple the set is %s, want loaded (asynchronous)", s)
	}
	time.Sleep(60 * time.Millisecond)
	if s := state(users); s != "processed" {
		t.Fatalf("after the processing delay the set is %s", s)
	}
	insert("u_seatlake_subscription", `[{"u_external_id":"sku"}]`)
	again := insert("u_seatlake_user", `[{"u_external_id":"a","u_upn":"a@x"},{"u_external_id":"b","u_upn":"b2@x"}]`)
	lic := insert("u_seatlake_license", `[{"u_external_id":"a:sku","u_user":"a","u_subscription":"sku"},{"u_external_id":"z:sku","u_user":"z","u_subscription":"sku"}]`)
	time.Sleep(60 * time.Millisecond)
	rows := func(table, set string) map[string]string {
		_, body := do(t, srv, call{method: "GET", basic: true, path: "/api/now/table/" + table + "?sysparm_exclude_reference_link=true&sysparm_query=sys_import_set=" + set})
		out := map[string]string{}
		for _, r := range body["result"].([]any) {
			m := r.(map[string]any)
			out[m["u_external_id"].(string)] = m["sys_import_state"].(string) + " " + m["sys_import_state_comment"].(string)
		}
		return out
	}
	if got := rows("u_seatlake_user", again); got["a"] != "ignored " || got["b"] != "updated " {
		t.Errorf("the same row again is ignored, a changed one updated: %v", got)
	}
	if got := rows("u_seatlake_license", lic); got["a:sku"] != "inserted " || !strings.HasPrefix(got["z:sku"], "error Unable to resolve reference u_user") {
		t.Errorf("a license of a known user is inserted, of an unknown one an error: %v", got)
	}
	held := sn.Held()
	if len(held.Targets["u_m365_person"]) != 2 || len(held.Targets["u_m365_license"]) != 1 || held.Rows["u_seatlake_license"]["error"] != 1 {
		t.Errorf("held: %+v", held)
	}

	sn.ThrottleEvery = 1
	if code, _ := do(t, srv, call{method: "GET", path: "/api/now/table/sys_import_set", basic: true}); code != 429 {
		t.Errorf("a rate limit rule: %d, want 429", code)
	}
}
