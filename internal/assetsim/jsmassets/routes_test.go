package jsmassets

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// Each route's answer, exactly (status, body and Retry-After), in the order a client meets them: before a mapping,
// with one, with an execution running; requests no route takes, an old token and throttling.
func TestRoutes(t *testing.T) {
	s := New("tok-1")
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	s.SetBase(srv.URL)
	assets, insight := srv.URL+s.sourcePath("assets"), srv.URL+s.sourcePath("insight")
	mapping := string(golden(t, "docs-mapping-reference.json"))
	send := func(method, url, token, body string) (int, string, http.Header) {
		t.Helper()
		req, _ := http.NewRequest(method, url, strings.NewReader(body))
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, strings.TrimSpace(string(b)), resp.Header
	}
	type step struct {
		method, url, body string
		code              int
		want              string // the body; "*" when it varies (ids, times)
	}
	check := func(steps []step) {
		t.Helper()
		for _, st := range steps {
			code, body, _ := send(st.method, st.url, "tok-1", st.body)
			if code != st.code || (st.want != "*" && body != st.want) {
				t.Errorf("%s %s: %d %s\nwant %d %s", st.method, strings.TrimPrefix(st.url, srv.URL), code, body, st.code, st.want)
			}
		}
	}
	notFound := func(method, url string) string {
		return `{"errorMessages":["Not found: ` + method + ` ` + strings.TrimPrefix(url, srv.URL) + `"]}`
	}

	if code, body, _ := send("GET", srv.URL+"/_sim/assets", "", ""); code != 200 || body != `{}` {
		t.Errorf("/_sim/assets without a token: %d %s", code, body)
	}
	if code, body, _ := send("GET", srv.URL+"/jsm/assets/v1/imports/info", "tok-0", ""); code != 401 ||
		body != `{"errorMessages":["The container token is invalid or was regenerated."]}` {
		t.Errorf("a wrong token: %d %s", code, body)
	}
	check([]step{
		{"GET", srv.URL + "/jsm/assets/v1/imports/info", "", 200,
			`{"links":{"getStatus":"` + assets + `/configstatus","mapping":"` + assets + `/mapping","start":"` + assets + `/executions"}}`},
		{"POST", srv.URL + "/jsm/assets/v1/imports/info", "", 404, notFound("POST", srv.URL+"/jsm/assets/v1/imports/info")},
		{"GET", assets + "/configstatus", "", 200, `{"status":"MISSING_MAPPING"}`},
		{"GET", assets + "/schema-and-mapping", "", 404, `{"errorMessages":["The import source has no schema and mapping."]}`},
		{"GET", assets + "/executions/status", "", 404, `{"errorMessages":["No execution yet."]}`},
		{"GET", insight + "/executions/status", "", 404, `{"errorMessages":["No execution yet."]}`},
		{"POST", assets + "/executions/status", "", 404, `{"errorMessages":["No execution status"]}`},
		{"GET", assets + "/executions", "", 404, notFound("GET", assets+"/executions")},
		{"POST", insight + "/executions", "", 404, notFound("POST", insight+"/executions")},
		{"POST", assets + "/executions", "", 409, `{"errorCode":"MISSING_MAPPING","result":"error"}`},
		{"GET", assets + "/mapping", "", 404, notFound("GET", assets+"/mapping")},
		{"PATCH", assets + "/mapping", mapping, 400, `{"errorMessages":["the import source has no schema and mapping to update: PUT one"]}`},
		{"PUT", assets + "/mapping", "{", 400, `{"errorMessages":["Invalid JSON: unexpected end of JSON input"]}`},
		{"PUT", assets + "/mapping", mapping, 204, ``},
		{"PUT", assets + "/mapping", mapping, 409, `{"errorMessages":["A mapping already exists for this import: PATCH it."]}`},
		{"PATCH", assets + "/mapping", mapping, 204, ``},
		{"GET", assets + "/schema-and-mapping", "", 200, "*"},
		{"GET", assets + "/configstatus", "", 200, `{"status":"IDLE"}`},
		{"POST", assets + "/executions", "", 200, "*"},
	})
	id := s.latest
	check([]step{
		{"GET", assets + "/configstatus", "", 200, `{"status":"RUNNING"}`},
		{"POST", assets + "/executions", "", 409, `{"errorCode":"IN_PROGRESS","result":"error"}`},
		{"GET", assets + "/executions/status", "", 200, `{"status":"INGESTING"}`},
		{"GET", insight + "/executions/status", "", 200, `{"status":"INGESTING"}`},
		{"GET", insight + "/executions/" + id + "/status", "", 200, `{"status":"INGESTING"}`},
		{"GET", assets + "/executions/" + id + "/status", "", 200, `{"status":"INGESTING"}`},
		{"GET", insight + "/executions/" + id + "/nope", "", 404, notFound("GET", insight+"/executions/"+id+"/nope")},
		{"GET", insight + "/executions/nope/status", "", 404, `{"errorMessages":["No execution nope"]}`},
		{"PUT", insight + "/executions/" + id + "/progress", "{}", 200, ``},
		{"POST", insight + "/executions/" + id + "/history/failed", "{}", 400, `{"errorMessages":["failureReason is required."]}`},
		{"DELETE", insight + "/executions/" + id, "", 200, ``},
		{"GET", insight + "/executions/" + id + "/status", "", 200, `{"status":"CANCELLED"}`},
		{"PUT", insight + "/executions/" + id + "/progress", "{}", 400, `{"errorMessages":["The execution is CANCELLED."]}`},
	})

	for _, omit := range []bool{false, true} {
		s.mu.Lock()
		s.RateLimit, s.OmitRetryAfter, s.Throttled = 1, omit, 0
		s.mu.Unlock()
		for i := 0; i < 5; i++ {
			code, body, h := send("GET", assets+"/configstatus", "tok-1", "")
			if code == 200 {
				continue
			}
			retry := "1"
			if omit {
				retry = ""
			}
			if code != 429 || body != `{"errorMessages":["Rate limit exceeded."]}` || h.Get("Retry-After") != retry {
				t.Errorf("throttled (Retry-After omitted: %v): %d %s, Retry-After %q", omit, code, body, h.Get("Retry-After"))
			}
			break
		}
		s.mu.Lock()
		if s.Throttled != 1 {
			t.Errorf("Throttled = %d, want 1", s.Throttled)
		}
		s.mu.Unlock()
	}
}
