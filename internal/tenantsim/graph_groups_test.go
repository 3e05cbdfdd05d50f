package tenantsim

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
)

// The groups that assign licenses are served by id as Learn's "Get group" page describes: $select picks id and
// displayName, an unknown id is 404 Request_ResourceNotFound, and an app without GroupMember.Read.All (or a higher
// permission) is refused 403; the truth counts the groups a run lands, none without the permission.
func TestGroupsThatAssignLicenses(t *testing.T) {
	c := startSim(t, nil)
	users, _ := c.all("/v1.0/users?$select=id,licenseAssignmentStates&$top=999")
	ids := map[string]bool{}
	for _, u := range users {
		states, _ := u["licenseAssignmentStates"].([]any)
		for _, st := range states {
			if g, ok := st.(map[string]any)["assignedByGroup"].(string); ok {
				ids[g] = true
			}
		}
	}
	if len(ids) == 0 || int64(len(ids)) != c.s.Truth().Tables["graph_groups"] {
		t.Fatalf("%d groups assign licenses, the truth says %d", len(ids), c.s.Truth().Tables["graph_groups"])
	}
	names := map[string]bool{}
	for id := range ids {
		resp, body := c.get("/v1.0/groups/" + id + "?$select=id,displayName")
		var g map[string]any
		if resp.StatusCode != http.StatusOK || json.Unmarshal(body, &g) != nil || g["id"] != id || len(g) != 3 ||
			!strings.HasSuffix(g["@odata.context"].(string), "/v1.0/$metadata#groups(id,displayName)/$entity") {
			t.Fatalf("group %s: %d %s", id, resp.StatusCode, body)
		}
		name, _ := g["displayName"].(string)
		if name == "" || names[name] {
			t.Errorf("group %s: display name %q (empty or another group's)", id, name)
		}
		names[name] = true
	}
	if resp, body := c.get("/v1.0/groups/00000000-0000-4000-8000-000000000000?$select=id,displayName"); resp.StatusCode != http.StatusNotFound ||
		!strings.Contains(string(body), `"Request_ResourceNotFound"`) {
		t.Errorf("an unknown group: %d %s", resp.StatusCode, body)
	}
	for id := range ids {
		if resp, body := c.get("/v1.0/groups/" + id + "?$select=id,nonsense"); resp.StatusCode != http.StatusBadRequest {
			t.Errorf("an unknown property: %d %s", resp.StatusCode, body)
		}
		break
	}

	narrow := startSim(t, func(cfg *Config) { cfg.GraphPermissions = []string{"User.Read.All", "Organization.Read.All"} })
	for id := range ids {
		if resp, body := narrow.get("/v1.0/groups/" + id + "?$select=id,displayName"); resp.StatusCode != http.StatusForbidden ||
			!strings.Contains(string(body), `"Authorization_RequestDenied"`) {
			t.Errorf("without GroupMember.Read.All: %d %s", resp.StatusCode, body)
		}
		break
	}
	if n := narrow.s.Truth().Tables["graph_groups"]; n != 0 {
		t.Errorf("without the permission the truth says %d groups are landed", n)
	}
	directory := startSim(t, func(cfg *Config) { cfg.GraphPermissions = []string{"User.Read.All", "Directory.Read.All"} })
	for id := range ids {
		if resp, body := directory.get("/v1.0/groups/" + id + "?$select=id,displayName"); resp.StatusCode != http.StatusOK {
			t.Errorf("with Directory.Read.All: %d %s", resp.StatusCode, body)
		}
		break
	}
}
