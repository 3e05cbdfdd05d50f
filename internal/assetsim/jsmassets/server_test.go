package jsmassets

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

type client struct {
	t     *testing.T
	token string
}

func (c *client) do(method, url string, body any) (int, map[string]any) {
	c.t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
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
	for k, v := range m["links"].(map[string]any) {
		out[k] = v.(string)
	}
	return out
}

// mappingDoc is a Person / Subscription / License Assignment schema, the assignment referencing both.
func mappingDoc(personName string) map[string]any {
	d := "d"
	attr := func(id, name, typ string, extra ...string) map[string]any {
		a := map[string]any{"externalId": id, "name": name, "description": d, "type": typ}
		if len(extra) > 0 {
			a["referenceObjectTypeExternalId"] = extra[0]
		}
		return a
	}
	return map[string]any{
		"$schema": "https://api.atlassian.com/jsm/assets/imports/external/schema/versions/2021_09_15",
		"schema": map[string]any{"objectSchema": map[string]any{"name": "seatlake", "description": d, "objectTypes": []any{
			map[string]any{"externalId": "ot/person", "name": personName, "description": d, "attributes": []any{
				attr("at/person/id", "Entra object id", "text"), attr("at/person/upn", "UPN", "text")}},
			map[string]any{"externalId": "ot/sub", "name": "Subscription", "description": d, "attributes": []any{
				attr("at/sub/id", "SKU id", "text"), attr("at/sub/part", "Part number", "text")}},
			map[string]any{"externalId": "ot/asg", "name": "License Assignment", "description": d, "attributes": []any{
				attr("at/asg/id", "Key", "text"), attr("at/asg/person", "Person", "referenced_object", "ot/person"),
				attr("at/asg/sub", "Subscription", "referenced_object", "ot/sub"), attr("at/asg/status", "Status", "text")}},
		}}},
		"mapping": map[string]any{"objectTypeMappings": []any{
			map[string]any{"objectTypeExternalId": "ot/person", "objectTypeName": personName, "selector": "persons", "description": d,
				"attributesMapping": []any{
					map[string]any{"attributeExternalId": "at/person/id", "attributeName": "Entra object id", "attributeLocators": []string{"id"}, "externalIdPart": true},
					map[string]any{"attributeExternalId": "at/person/upn", "attributeName": "UPN", "attributeLocators": []string{"upn"}}}},
			map[string]any{"objectTypeExternalId": "ot/sub", "objectTypeName": "Subscription", "selector": "subscriptions", "description": d,
				"attributesMapping": []any{
					map[string]any{"attributeExternalId": "at/sub/id", "attributeName": "SKU id", "attributeLocators": []string{"skuId"}, "externalIdPart": true},
					map[string]any{"attributeExternalId": "at/sub/part", "attributeName": "Part number", "attributeLocators": []string{"part"}}}},
			map[string]any{"objectTypeExternalId": "ot/asg", "objectTypeName": "License Assignment", "selector": "assignments", "description": d,
				"attributesMapping": []any{
					map[string]any{"attributeExternalId": "at/asg/id", "attributeName": "Key", "attributeLocators": []string{"userId", "skuId"}, "externalIdPart": true},
					map[string]any{"attributeExternalId": "at/asg/person", "attributeName": "Person", "attributeLocators": []string{"userId"}, "objectMappingIQL": "Entra object id = ${userId}"},
					map[string]any{"attributeExternalId": "at/asg/sub", "attributeName": "Subscription", "attributeLocators": []string{"skuId"}, "objectMappingIQL": "SKU id = ${skuId}"},
					map[string]any{"attributeExternalId": "at/asg/status", "attributeName": "Status", "attributeLocators": []string{"status"}}}},
		}},
	}
}

var data = map[string]any{
	"persons":       []any{map[string]any{"id": "u1", "upn": "a@contoso.com"}, map[string]any{"id": "u2", "upn": "b@contoso.com"}},
	"subscriptions": []any{map[string]any{"skuId": "s1", "part": "SPE_E3"}},
	"assignments":   []any{map[string]any{"userId": "u1", "skuId": "s1", "status": "active"}, map[string]any{"userId": "u2", "skuId": "s1", "status": "low_usage"}},
}

// The whole workflow as the guide documents it, and what the emulator refuses.
func TestImportWorkflow(t *testing.T) {
	s := New("tok-1")
	srv := httptest.NewServer(s)
	defer srv.Close()
	s.SetBase(srv.URL)
	c := &client{t: t, token: "tok-1"}

	_, info := c.do("GET", srv.URL+"/jsm/assets/v1/imports/info", nil)
	l := links(info)
	if _, st := c.do("GET", l["getStatus"], nil); st["status"] != "MISSING_MAPPING" {
		t.Errorf("status before a mapping: %v", st)
	}
	if code, _ := c.do("POST", l["start"], nil); code != 400 {
		t.Errorf("start without a mapping: %d, want 400", code)
	}
	bad := mappingDoc("Person")
	bad["schema"].(map[string]any)["objectSchema"].(map[string]any)["objectTypes"].([]any)[2].(map[string]any)["attributes"].([]any)[1].(map[string]any)["referenceObjectTypeExternalId"] = "ot/nope"
	if code, body := c.do("PUT", l["mapping"], bad); code != 400 || !strings.Contains(body["errorMessages"].([]any)[0].(string), "ot/nope") {
		t.Errorf("a mapping referencing an unknown type: %d %v", code, body)
	}
	if code, _ := c.do("PUT", l["mapping"], mappingDoc("Person")); code != 204 {
		t.Fatalf("put mapping: %d", code)
	}
	if code, body := c.do("PATCH", l["mapping"], mappingDoc("People")); code != 400 || !strings.Contains(body["errorMessages"].([]any)[0].(string), "cannot rename") {
		t.Errorf("PATCH renaming a type: %d %v", code, body)
	}
	for run := 1; run <= 2; run++ {
		_, started := c.do("POST", l["start"], nil)
		el := links(started)
		if code, _ := c.do("POST", el["submitResults"], map[string]any{"data": data}); code != 200 {
			t.Fatalf("data: %d", code)
		}
		c.do("POST", el["submitResults"], map[string]any{"completed": true})
		_, st := c.do("GET", el["getExecutionStatus"], nil)
		if st["status"] != "DONE" {
			t.Fatalf("run %d: status %v", run, st)
		}
		if code, _ := c.do("POST", el["submitResults"], map[string]any{"data": data}); code != 400 {
			t.Errorf("data after DONE: %d, want 400", code)
		}
		counts := st["counts"].(map[string]any)
		if run == 2 && (counts["Person:unchanged"] != 2.0 || counts["License Assignment:unchanged"] != 2.0 || counts["Person:created"] != nil) {
			t.Errorf("a second identical import: %v, want everything unchanged", counts)
		}
	}
	objs := s.Objects()
	if len(objs["Person"]) != 2 || len(objs["Subscription"]) != 1 || len(objs["License Assignment"]) != 2 {
		t.Fatalf("objects: %v", objs)
	}
	for _, a := range objs["License Assignment"] {
		if !strings.HasPrefix(a.Attributes["Person"], "ref:") || !strings.HasPrefix(a.Attributes["Subscription"], "ref:") {
			t.Errorf("assignment %s references %v", a.Identity, a.Attributes)
		}
	}

	// A failure recorded while ingesting; an execution that ends FAILED; a rotated token.
	_, started := c.do("POST", l["start"], nil)
	el := links(started)
	if code, _ := c.do("POST", el["cancel"]+"/history/failed", map[string]any{"failureReason": "sink broke"}); code != 204 {
		t.Errorf("history/failed: %d", code)
	}
	if st, failure, _ := s.Execution(el["cancel"][strings.LastIndex(el["cancel"], "/")+1:]); st != "FAILED" || failure != "sink broke" {
		t.Errorf("after history/failed: %s %q", st, failure)
	}
	s.FailNext = true
	_, started = c.do("POST", l["start"], nil)
	el = links(started)
	c.do("POST", el["submitResults"], map[string]any{"data": data, "completed": true})
	if _, st := c.do("GET", el["getExecutionStatus"], nil); st["status"] != "FAILED" {
		t.Errorf("FailNext: %v", st)
	}
	s.RotateToken("tok-2")
	if code, _ := c.do("GET", l["getStatus"], nil); code != 401 {
		t.Errorf("the old token after rotation: %d, want 401", code)
	}
}
