package jsmassets

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

type client struct {
	t     *testing.T
	token string
}

// do sends body (a value to marshal, or json.RawMessage as is) and returns the status and the decoded answer.
func (c *client) do(method, url string, body any) (int, map[string]any) {
	c.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case json.RawMessage:
		rd = bytes.NewReader(b)
	default:
		raw, _ := json.Marshal(b)
		rd = bytes.NewReader(raw)
	}
	req, _ := http.NewRequest(method, url, rd)
	req.Header.Set("Authorization", "Bearer "+c.token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	out := map[string]any{}
	json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out
}

func links(m map[string]any) map[string]string {
	out := map[string]string{}
	l, _ := m["links"].(map[string]any)
	for k, v := range l {
		out[k] = v.(string)
	}
	return out
}

// golden reads a documented example payload, verbatim.
func golden(t *testing.T, name string) json.RawMessage {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func start(t *testing.T) (*Server, *client, map[string]string) {
	t.Helper()
	s := New("tok-1")
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	s.SetBase(srv.URL)
	c := &client{t: t, token: "tok-1"}
	_, info := c.do("GET", srv.URL+"/jsm/assets/v1/imports/info", nil)
	return s, c, links(info)
}

// run starts an execution, submits the chunks as given (the last one completing it or not) and reads the status
// until it is no longer PROCESSING.
func run(t *testing.T, c *client, l map[string]string, chunks ...json.RawMessage) (map[string]string, map[string]any) {
	t.Helper()
	code, started := c.do("POST", l["start"], nil)
	if code != 200 || started["result"] != "success" {
		t.Fatalf("start: %d %v", code, started)
	}
	el := links(started)
	for _, ch := range chunks {
		if code, body := c.do("POST", el["submitResults"], ch); code != 200 {
			t.Fatalf("data: %d %v", code, body)
		}
	}
	for i := 0; i < 5; i++ {
		if _, st := c.do("GET", el["getExecutionStatus"], nil); st["status"] != "PROCESSING" {
			return el, st
		}
	}
	t.Fatal("still PROCESSING after 5 reads")
	return nil, nil
}

func completed() json.RawMessage { return json.RawMessage(`{"completed":true}`) }

// typeResult is the progressResult's result for one object type, by name.
func typeResult(t *testing.T, st map[string]any, name string) map[string]any {
	t.Helper()
	pr, _ := st["progressResult"].(map[string]any)
	m, _ := pr["objectTypeResultMap"].(map[string]any)
	for _, r := range m {
		if r := r.(map[string]any); r["objectTypeName"] == name {
			return r
		}
	}
	t.Fatalf("no result for %s in %v", name, st)
	return nil
}

// The schema-and-mapping guide's examples, replayed verbatim: the Hard Drive / File document (a child type and a
// nested selector), its data, then the PATCH that adds an attribute and a child type and changes a description; the
// reference example resolving "Name Like ${os}". Each is accepted and gives the objects the guide describes.
func TestGuideExamples(t *testing.T) {
	t.Run("children and nested selector, then PATCH", func(t *testing.T) {
		s, c, l := start(t)
		if code, body := c.do("PUT", l["mapping"], golden(t, "docs-mapping-hard-drive.json")); code != 204 {
			t.Fatalf("PUT the guide's mapping: %d %v", code, body)
		}
		_, st := run(t, c, l, golden(t, "docs-data-hard-drive.json"), completed())
		if st["status"] != "DONE" || typeResult(t, st, "Hard Drive")["objectsCreated"] != 1.0 || typeResult(t, st, "File")["objectsCreated"] != 1.0 {
			t.Fatalf("the guide's data: %v", st)
		}
		objs := s.Objects()
		if len(objs["Hard Drive"]) != 1 || objs["Hard Drive"][0].Attributes["Disk Label"] != "Hard drive label" ||
			len(objs["File"]) != 1 || objs["File"][0].Attributes["Size"] != "123456" || objs["File"][0].Identity != "/file/path" {
			t.Errorf("objects: %+v", objs)
		}
		if code, body := c.do("PATCH", l["mapping"], golden(t, "docs-patch-hard-drive.json")); code != 204 {
			t.Fatalf("PATCH the guide's modification: %d %v", code, body)
		}
		got, _ := json.Marshal(s.model.document())
		for _, want := range []string{`"name":"Manufacturer"`, `"name":"Folder"`, `"Updated description for the path attribute"`, `"selector":"hardDrives.folders"`, `"selector":"hardDrives.files"`} {
			if !strings.Contains(string(got), want) {
				t.Errorf("after the PATCH the schema and mapping lack %s: %s", want, got)
			}
		}
	})
	t.Run("reference by objectMappingIQL", func(t *testing.T) {
		s, c, l := start(t)
		if code, body := c.do("PUT", l["mapping"], golden(t, "docs-mapping-reference.json")); code != 204 {
			t.Fatalf("PUT: %d %v", code, body)
		}
		if _, st := run(t, c, l, golden(t, "docs-data-reference.json"), completed()); st["status"] != "DONE" {
			t.Fatalf("status %v", st)
		}
		objs := s.Objects()
		if len(objs["Operating System"]) != 1 || objs["Hard Drive"][0].Attributes["Operating System"] != "ref:"+objs["Operating System"][0].ID {
			t.Errorf("the hard drive does not reference macOS Big Sur: %+v", objs)
		}
	})
}

// The Assets REST API's examples, replayed verbatim: the PUT body (a status attribute and a status schema), the data
// body that completes the execution, progress and a recorded failure; the answers have the documented shapes (the
// start answer's links and result, 409 with the errorCode, the configuration status, the DONE status with its
// progressResult).
func TestAPIExamples(t *testing.T) {
	s, c, l := start(t)
	if _, st := c.do("GET", l["getStatus"], nil); st["status"] != "MISSING_MAPPING" {
		t.Errorf("status before a mapping: %v", st)
	}
	code, body := c.do("POST", l["start"], nil)
	var want map[string]any
	json.Unmarshal(golden(t, "api-start-conflict.json"), &want)
	if code != 409 || body["errorCode"] != want["errorCode"] || body["result"] != want["result"] {
		t.Errorf("start without a mapping: %d %v, want 409 %v", code, body, want)
	}
	if code, body := c.do("PUT", l["mapping"], golden(t, "api-put-mapping.json")); code != 204 {
		t.Fatalf("PUT the API's example: %d %v", code, body)
	}
	if code, _ := c.do("PUT", l["mapping"], golden(t, "api-put-mapping.json")); code != 409 {
		t.Errorf("a second PUT: %d, want 409 (a mapping already exists)", code)
	}
	var idle map[string]any
	json.Unmarshal(golden(t, "api-configstatus.json"), &idle)
	if _, st := c.do("GET", l["getStatus"], nil); st["status"] != idle["status"] {
		t.Errorf("status with a mapping: %v, want %v", st, idle)
	}
	el, st := run(t, c, l, golden(t, "api-submit-data.json"))
	if st["status"] != "DONE" || typeResult(t, st, "File")["objectsCreated"] != 1.0 || typeResult(t, st, "Hard Drive")["errorMessages"] != nil {
		t.Fatalf("the API's data example: %v", st)
	}
	for _, k := range []string{"submitProgress", "submitResults", "getExecutionStatus", "cancel"} {
		if el[k] == "" {
			t.Errorf("the start answer lacks links.%s: %v", k, el)
		}
	}
	// A second execution: progress and a recorded failure while ingesting, then cancelled.
	_, started := c.do("POST", l["start"], nil)
	el = links(started)
	if code, _ := c.do("PUT", el["submitProgress"], golden(t, "api-progress.json")); code != 200 {
		t.Errorf("progress: %d", code)
	}
	id := el["cancel"][strings.LastIndex(el["cancel"], "/")+1:]
	if code, _ := c.do("POST", el["cancel"]+"/history/failed", golden(t, "api-history-failed.json")); code != 204 {
		t.Errorf("history/failed: %d", code)
	}
	if code, _ := c.do("DELETE", el["cancel"], nil); code != 200 {
		t.Errorf("cancel: %d", code)
	}
	if st, failure, _ := s.Execution(id); st != "CANCELLED" || !strings.Contains(failure, "Connection timeout") {
		t.Errorf("after history/failed and cancel: %s %q", st, failure)
	}
	if code, _ := c.do("POST", el["submitResults"], golden(t, "api-submit-data.json")); code != 400 {
		t.Errorf("data after cancel: %d, want 400", code)
	}
}

// Each attribute value must come in its type's form: one that does not (an empty string for a date_time, a string
// for an integer or a boolean, a date in another format) is an object error naming the entry, the attribute and the
// value, and the object is neither created nor changed; a value left out leaves the attribute empty.
func TestValueForms(t *testing.T) {
	attr := func(id, name, typ string) map[string]any {
		return map[string]any{"externalId": id, "name": name, "description": "d", "type": typ}
	}
	doc := map[string]any{
		"schema": map[string]any{"objectSchema": map[string]any{"name": "s", "description": "d", "objectTypes": []any{
			map[string]any{"externalId": "t", "name": "Thing", "description": "d", "attributes": []any{
				attr("a/id", "Id", "text"), attr("a/when", "When", "date_time"), attr("a/day", "Day", "date"), attr("a/n", "N", "integer"),
				attr("a/x", "X", "double"), attr("a/ok", "Ok", "boolean"), attr("a/url", "Url", "url"), attr("a/ip", "Ip", "ipaddress")}}}}},
		"mapping": map[string]any{"objectTypeMappings": []any{map[string]any{"objectTypeExternalId": "t", "objectTypeName": "Thing", "selector": "things", "description": "d",
			"attributesMapping": []any{
				map[string]any{"attributeExternalId": "a/id", "attributeName": "Id", "attributeLocators": []string{"id"}, "externalIdPart": true},
				map[string]any{"attributeExternalId": "a/when", "attributeName": "When", "attributeLocators": []string{"when"}},
				map[string]any{"attributeExternalId": "a/day", "attributeName": "Day", "attributeLocators": []string{"day"}},
				map[string]any{"attributeExternalId": "a/n", "attributeName": "N", "attributeLocators": []string{"n"}},
				map[string]any{"attributeExternalId": "a/x", "attributeName": "X", "attributeLocators": []string{"x"}},
				map[string]any{"attributeExternalId": "a/ok", "attributeName": "Ok", "attributeLocators": []string{"ok"}},
				map[string]any{"attributeExternalId": "a/url", "attributeName": "Url", "attributeLocators": []string{"url"}},
				map[string]any{"attributeExternalId": "a/ip", "attributeName": "Ip", "attributeLocators": []string{"ip"}}}}}},
	}
	for _, tc := range []struct {
		name  string
		entry string
		error string // "" when accepted
	}{
		{"every form right", `{"id":"1","when":"2024-05-01T08:30:00Z","day":"2024-05-01","n":42,"x":1.5,"ok":true,"url":"https://x.test","ip":"10.0.0.1"}`, ""},
		{"unknown values left out", `{"id":"1"}`, ""},
		{"null is left out too", `{"id":"1","when":null}`, ""},
		{"empty date_time", `{"id":"1","when":""}`, `attribute "When" (date_time): "" is not an ISO 8601 date_time`},
		{"date_time not ISO 8601", `{"id":"1","when":"01/05/2024 08:30"}`, `not an ISO 8601 date_time`},
		{"date with a time", `{"id":"1","day":"2024-05-01T00:00:00Z"}`, `not an ISO 8601 date`},
		{"integer as a string", `{"id":"1","n":"42"}`, `"42" is not an integer`},
		{"integer with a fraction", `{"id":"1","n":4.5}`, `is not an integer`},
		{"integer past 32 bits", `{"id":"1","n":3000000000}`, `is not an integer within`},
		{"empty integer", `{"id":"1","n":""}`, `"" is not an integer`},
		{"boolean as a string", `{"id":"1","ok":"true"}`, `"true" is not a boolean`},
		{"double as a string", `{"id":"1","x":"1.5"}`, `"1.5" is not a number`},
		{"url without a scheme", `{"id":"1","url":"x.test"}`, `not a URL`},
		{"no identity", `{"when":"2024-05-01T08:30:00Z"}`, `cannot be identified`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, c, l := start(t)
			if code, body := c.do("PUT", l["mapping"], doc); code != 204 {
				t.Fatalf("PUT: %d %v", code, body)
			}
			_, st := run(t, c, l, json.RawMessage(`{"data":{"things":[`+tc.entry+`]},"completed":true}`))
			r := typeResult(t, st, "Thing")
			msgs, _ := r["errorMessages"].([]any)
			held := len(s.Objects()["Thing"])
			if tc.error == "" {
				if len(msgs) != 0 || held != 1 || r["objectsCreated"] != 1.0 {
					t.Errorf("refused: %v (holds %d)", r, held)
				}
				return
			}
			if len(msgs) != 1 || !strings.Contains(msgs[0].(string), tc.error) || held != 0 {
				t.Errorf("got %v (holds %d objects), want one error containing %q and no object", r, held, tc.error)
			}
		})
	}
}

// What the schema-and-mapping guide and the 2023_10_19 definition refuse: externalIds on some object types or
// attributes only, uniqueness or cardinality without externalIds, a reference to no object type of the schema, a
// missing required field, an unknown type; and what PATCH cannot change.
func TestMappingRefusals(t *testing.T) {
	base := func() map[string]any {
		var d map[string]any
		json.Unmarshal(golden(t, "docs-mapping-reference.json"), &d)
		return d
	}
	types := func(d map[string]any) []any {
		return d["schema"].(map[string]any)["objectSchema"].(map[string]any)["objectTypes"].([]any)
	}
	attrs := func(d map[string]any, i int) []any { return types(d)[i].(map[string]any)["attributes"].([]any) }
	for _, tc := range []struct {
		name   string
		change func(d map[string]any)
		want   string
	}{
		{"externalIds on some only", func(d map[string]any) { delete(attrs(d, 1)[1].(map[string]any), "externalId") }, "every object type and attribute or on none"},
		{"unique without externalIds", func(d map[string]any) {
			for i := range types(d) {
				delete(types(d)[i].(map[string]any), "externalId")
				for _, a := range attrs(d, i) {
					delete(a.(map[string]any), "externalId")
				}
			}
			delete(attrs(d, 0)[2].(map[string]any), "referenceObjectTypeExternalId")
			attrs(d, 0)[2].(map[string]any)["referenceObjectTypeName"] = "Operating System"
			attrs(d, 1)[0].(map[string]any)["unique"] = true
			for _, m := range d["mapping"].(map[string]any)["objectTypeMappings"].([]any) {
				delete(m.(map[string]any), "objectTypeExternalId")
				for _, am := range m.(map[string]any)["attributesMapping"].([]any) {
					delete(am.(map[string]any), "attributeExternalId")
				}
			}
		}, "only when externalIds are used"},
		{"reference to nothing", func(d map[string]any) {
			attrs(d, 0)[2].(map[string]any)["referenceObjectTypeExternalId"] = "object-type/nope"
		}, "object-type/nope"},
		{"no description", func(d map[string]any) { delete(attrs(d, 0)[0].(map[string]any), "description") }, "needs name, description and type"},
		{"unknown type", func(d map[string]any) { attrs(d, 0)[1].(map[string]any)["type"] = "user" }, `unknown type "user"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, c, l := start(t)
			d := base()
			tc.change(d)
			if code, body := c.do("PUT", l["mapping"], d); code != 400 || !strings.Contains(body["errorMessages"].([]any)[0].(string), tc.want) {
				t.Errorf("got %d %v, want 400 naming %q", code, body, tc.want)
			}
		})
	}
	t.Run("PATCH renaming a type or changing an attribute's type", func(t *testing.T) {
		_, c, l := start(t)
		c.do("PUT", l["mapping"], base())
		d := base()
		types(d)[1].(map[string]any)["name"] = "OS"
		if code, body := c.do("PATCH", l["mapping"], d); code != 400 || !strings.Contains(body["errorMessages"].([]any)[0].(string), "cannot rename") {
			t.Errorf("rename: %d %v", code, body)
		}
		d = base()
		attrs(d, 1)[1].(map[string]any)["type"] = "integer"
		if code, body := c.do("PATCH", l["mapping"], d); code != 400 || !strings.Contains(body["errorMessages"].([]any)[0].(string), "cannot change attribute Version") {
			t.Errorf("type change: %d %v", code, body)
		}
	})
}

// A second identical import changes nothing (every object identical), a changed value updates its object, the same
// chunk sent twice (a retry, same clientGeneratedId) counts once, and a rotated token is refused.
func TestRepeatedImports(t *testing.T) {
	s, c, l := start(t)
	c.do("PUT", l["mapping"], golden(t, "docs-mapping-reference.json"))
	chunk := json.RawMessage(`{"data":{"os":[{"name":"macOS Big Sur","version":"11.6.1"}],"hardDrives":[{"id":"hd1","label":"a","os":"macOS Big Sur"}]},"clientGeneratedId":"c1"}`)
	run(t, c, l, chunk, chunk, completed())
	_, st := run(t, c, l, chunk, completed())
	if typeResult(t, st, "Hard Drive")["objectsIdentical"] != 1.0 || typeResult(t, st, "Operating System")["objectsIdentical"] != 1.0 {
		t.Errorf("a second identical import: %v", st)
	}
	_, st = run(t, c, l, json.RawMessage(`{"data":{"os":[{"name":"macOS Big Sur","version":"11.7"}]},"completed":true}`))
	if typeResult(t, st, "Operating System")["objectsUpdated"] != 1.0 || s.Objects()["Operating System"][0].Attributes["Version"] != "11.7" {
		t.Errorf("a changed version: %v", st)
	}
	if n := len(s.Objects()["Hard Drive"]); n != 1 {
		t.Errorf("Assets holds %d hard drives, want 1", n)
	}
	s.RotateToken("tok-2")
	if code, _ := c.do("GET", l["getStatus"], nil); code != 401 {
		t.Errorf("the old token after rotation: %d, want 401", code)
	}
}
