package main

import (
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/seatlake/seatlake/internal/csvtest"
	"github.com/seatlake/seatlake/internal/tenantsim"
)

// TestCLIGroupNames: a run lands the names of the groups that assign licenses (graph_groups, as many as the
// simulator's truth); license_usage's reasons and actions, the reclaim plan and reclaim's own decision name a group
// "<display name> (<id>)". Without GroupMember.Read.All the run still succeeds: a warning and the
// group_names_unknown finding say why, the groups are named by id, and check warns (exit 0).
func TestCLIGroupNames(t *testing.T) {
	_, base, env := startSim(t, nil)
	wh := runInto(t, env)
	groups := map[string]string{}
	for _, row := range csvRows(t, wh, "SELECT group_id, display_name FROM graph_groups") {
		groups[row[0]] = row[1]
	}
	if want := fullTruth(t, base).Tables["graph_groups"]; int64(len(groups)) != want || want == 0 {
		t.Fatalf("graph_groups has %d groups, the truth %d", len(groups), want)
	}
	named := regexp.MustCompile(`group (.+) \(([0-9a-f-]{36})\)`)
	rows := csvRows(t, wh, "SELECT assigned_by_group, reason, coalesce(action, '') FROM license_usage WHERE assigned_by_group IS NOT NULL AND reclaim_candidate")
	if len(rows) == 0 {
		t.Fatal("no group-inherited reclaim candidate")
	}
	for _, row := range rows {
		want := groups[row[0]] + " (" + row[0] + ")"
		if !strings.Contains(row[1], "inherited from group "+want) || row[2] != "remove from group "+want {
			t.Errorf("a license from group %s: reason %q, action %q; want the group named %q", row[0], row[1], row[2], want)
		}
	}

	// The plan names the group too, and so does reclaim's decision on an approved row.
	dir := t.TempDir()
	recs, col := planOf(t, wh, dir)
	approved := -1
	for i, rec := range recs[1:] {
		if id := rec[col["assigned_by_group"]]; id != "" {
			if m := named.FindStringSubmatch(rec[col["action"]]); m == nil || m[1] != groups[id] || m[2] != id {
				t.Errorf("plan line %d: action %q does not name group %s", i+2, rec[col["action"]], id)
			}
			if approved < 0 {
				approved = i + 1
			}
		}
	}
	if approved < 0 {
		t.Fatal("the plan has no group-inherited row")
	}
	recs[approved][col["approve"]] = "yes"
	plan := csvtest.Write(t, filepath.Join(dir, "approved.csv"), recs)
	r := seatlake(t, env, "reclaim", "--warehouse", wh, "--plan", plan, "--actor", "approver@contoso")
	id := recs[approved][col["assigned_by_group"]]
	if r.code != 0 || !strings.Contains(r.stdout, "inherited from group "+groups[id]+" ("+id+"): remove the user from that group") {
		t.Errorf("reclaim's decision does not name the group %q (%s):\n%s%s", groups[id], id, r.stdout, r.stderr)
	}

	// Without a permission that reads groups: the run succeeds, names by id, and says why.
	_, _, env = startSim(t, func(c *tenantsim.Config) {
		c.GraphPermissions = []string{"User.Read.All", "AuditLog.Read.All", "Organization.Read.All", "ReportSettings.Read.All", "Reports.Read.All"}
	})
	wh = t.TempDir()
	r = seatlake(t, env, "run", "--warehouse", wh)
	if r.code != 0 || !strings.Contains(r.stderr+r.stdout, "grant the app the Microsoft Graph application permission GroupMember.Read.All") {
		t.Fatalf("run without GroupMember.Read.All: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if n := csvRows(t, wh, "SELECT count(*) FROM graph_groups")[0][0]; n != "0" {
		t.Errorf("graph_groups holds %s rows without the permission", n)
	}
	if st := csvRows(t, wh, "SELECT status FROM runs")[0][0]; st != "succeeded" {
		t.Errorf("the run is %s: a missing group permission must not fail or stop it", st)
	}
	f := csvRows(t, wh, "SELECT count, action FROM findings WHERE code = 'group_names_unknown'")
	if len(f) != 1 || f[0][0] != strconv.Itoa(len(groups)) || !strings.Contains(f[0][1], "GroupMember.Read.All") {
		t.Errorf("findings: %v", f)
	}
	for _, row := range csvRows(t, wh, "SELECT assigned_by_group, coalesce(action, '') FROM license_usage WHERE assigned_by_group IS NOT NULL AND reclaim_candidate") {
		if row[1] != "remove from group "+row[0] {
			t.Errorf("without names, a group action: %q", row[1])
		}
	}
	if r := seatlake(t, env, "check"); r.code != 0 || !strings.Contains(r.stdout, "WARN") || !strings.Contains(r.stdout, "permission GroupMember.Read.All") {
		t.Errorf("check without GroupMember.Read.All: exit %d\n%s", r.code, r.stdout)
	}
}
