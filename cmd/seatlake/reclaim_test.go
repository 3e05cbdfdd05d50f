package main

import (
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/seatlake/seatlake/internal/csvtest"
	"github.com/seatlake/seatlake/internal/tenantsim"
)

// The reclaim loop as an approver runs it: a plan from `report --csv`, four rows approved (a direct assignment, a
// group-inherited one, a Microsoft 365 license whose user signs in after the plan, and a Dynamics 365 license whose
// user signs in too); over the cap nothing happens; the preview removes nothing; --apply removes the direct and the
// Dynamics ones (a sign-in is not Dynamics use; the simulator's later reads agree), names the group for the
// inherited one and skips the Microsoft 365 user who became active; every decision is in the actions table; applying the
// plan again removes nothing more; the next run no longer sees the removed license.
func TestCLIReclaim(t *testing.T) {
	sim, base, env := startSim(t, nil)
	wh, dir := runInto(t, env), t.TempDir()
	recs, col := planOf(t, wh, dir)
	// A group-inherited candidate; a direct one of a product any sign-in proves (Microsoft 365, Entra ID, Power
	// Automate) whose user then signs in; a direct Dynamics 365 one whose user signs in too (a sign-in is not
	// Dynamics use); and another direct one. Four users.
	group, active, dynamics, direct := -1, -1, -1, -1
	users := map[string]bool{}
	for i, rec := range recs[1:] {
		row, user, product := i+1, rec[col["user_id"]], rec[col["product"]]
		switch {
		case rec[col["action"]] != "remove license" && !strings.HasPrefix(rec[col["action"]], "remove from group"), users[user]:
			continue
		case rec[col["assigned_by_group"]] != "":
			if group >= 0 {
				continue
			}
			group = row
		case active < 0 && (product == "Microsoft 365 / Office 365" || product == "Microsoft Entra ID" || product == "Power Automate"):
			active = row
		case dynamics < 0 && strings.HasPrefix(product, "Dynamics 365"):
			dynamics = row
		case direct < 0:
			direct = row
		default:
			continue
		}
		users[user] = true
	}
	if direct < 0 || group < 0 || active < 0 || dynamics < 0 {
		t.Fatalf("the plan lacks a direct, a group-inherited, a sign-in product or a Dynamics candidate: %d %d %d %d", direct, group, active, dynamics)
	}
	for _, i := range []int{direct, group, active, dynamics} {
		recs[i][col["approve"]] = "yes"
	}
	plan := csvtest.Write(t, filepath.Join(dir, "approved.csv"), recs)
	for _, i := range []int{active, dynamics} {
		if !sim.SignInNow(recs[i][col["user_id"]]) {
			t.Fatal("the simulator has no such user")
		}
	}
	reclaim := func(extra ...string) result {
		return seatlake(t, env, append([]string{"reclaim", "--warehouse", wh, "--plan", plan, "--actor", "approver@contoso"}, extra...)...)
	}
	hasLicense := func(i int) bool {
		return slices.ContainsFunc(sim.Licenses(recs[i][col["user_id"]]), func(s string) bool { return strings.EqualFold(s, recs[i][col["sku_id"]]) })
	}

	if r := reclaim("--apply", "--max-removals", "3"); r.code != 2 || !strings.Contains(r.stderr, "4 approved rows, --max-removals 3") || !hasLicense(direct) {
		t.Fatalf("over the cap: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	r := reclaim()
	if r.code != 0 || !strings.Contains(r.stdout, "approved=4 applied=false removed=0 would_remove=2 group_removal_needed=1 skipped=1") || !hasLicense(direct) {
		t.Fatalf("preview: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	r = reclaim("--apply")
	if r.code != 0 || !strings.Contains(r.stdout, "approved=4 applied=true removed=2 would_remove=0 group_removal_needed=1 skipped=1") {
		t.Fatalf("apply: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if hasLicense(direct) || hasLicense(dynamics) || !hasLicense(group) || !hasLicense(active) {
		t.Errorf("after apply: the direct and the Dynamics licenses must be gone, the group one and the active user's kept")
	}
	if !strings.Contains(r.stdout, "remove the user from that group") || !strings.Contains(r.stdout, "became active since the plan") {
		t.Errorf("the reasons: %s", r.stdout)
	}
	resp, err := http.Get(base + "/_sim/truth")
	if err != nil {
		t.Fatal(err)
	}
	var tr struct {
		Removals int64 `json:"license_removals"`
	}
	json.NewDecoder(resp.Body).Decode(&tr)
	resp.Body.Close()
	if tr.Removals != 2 {
		t.Errorf("the simulator's truth counts %d removals, want 2", tr.Removals)
	}
	r = reclaim("--apply")
	if r.code != 0 || !strings.Contains(r.stdout, "removed=0") || !strings.Contains(r.stdout, "no longer assigned") {
		t.Errorf("applying the plan again: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	acts := csvRows(t, wh, "SELECT applied, result, actor, plan_line FROM actions ORDER BY acted_at, action_id")
	if len(acts) != 12 || !strings.HasPrefix(acts[0][2], "approver@contoso") {
		t.Fatalf("actions: %v", acts)
	}
	removed := csvRows(t, wh, "SELECT count(*) FROM actions WHERE applied AND result = 'removed'")[0][0]
	if removed != "2" {
		t.Errorf("actions record %s removals, want 2", removed)
	}
	if r := seatlake(t, env, "run", "--quiet", "--warehouse", wh); r.code != 0 {
		t.Fatalf("run after reclaim: exit %d: %s", r.code, r.stderr)
	}
	left := csvRows(t, wh, "SELECT count(*) FROM license_usage WHERE user_id = '"+recs[direct][col["user_id"]]+"' AND sku_id = '"+recs[direct][col["sku_id"]]+"'")[0][0]
	if left != "0" {
		t.Errorf("the next run still sees the removed license")
	}
}

// What the approver may get wrong, and what changed since the plan: an approve value that is neither yes nor empty
// is refused naming its line; a user the rules now exclude is skipped; without LicenseAssignment.ReadWrite.All the
// removal fails with Graph's answer, recorded, exit 1.
func TestCLIReclaimRefusals(t *testing.T) {
	sim, _, env := startSim(t, func(c *tenantsim.Config) {
		c.GraphPermissions = []string{"User.Read.All", "AuditLog.Read.All", "Organization.Read.All", "ReportSettings.Read.All", "Reports.Read.All"}
	})
	wh, dir := runInto(t, env), t.TempDir()
	recs, col := planOf(t, wh, dir)
	var direct []int
	for i, rec := range recs[1:] {
		if rec[col["action"]] == "remove license" && rec[col["assigned_by_group"]] == "" && len(direct) < 2 &&
			(len(direct) == 0 || rec[col["user_id"]] != recs[direct[0]][col["user_id"]]) {
			direct = append(direct, i+1)
		}
	}
	if len(direct) < 2 {
		t.Fatalf("the plan has fewer than two direct candidates")
	}
	write := func(approve string) string {
		for _, i := range direct {
			recs[i][col["approve"]] = approve
		}
		return csvtest.Write(t, filepath.Join(dir, "plan.csv"), recs)
	}
	r := seatlake(t, env, "reclaim", "--warehouse", wh, "--plan", write("maybe"))
	if r.code != 2 || !strings.Contains(r.stderr, "line "+strconv.Itoa(direct[0]+1)) || !strings.Contains(r.stderr, `"maybe"`) {
		t.Errorf("approve=maybe: exit %d: %s", r.code, r.stderr)
	}
	// The rules now exclude the first user; the second's removal is refused by Graph for want of the permission.
	cfg := filepath.Join(dir, "seatlake.yaml")
	os.WriteFile(cfg, []byte("rules:\n  exclude:\n    users: ["+recs[direct[0]][col["user_principal_name"]]+"]\n"), 0o600)
	// No --actor and no $USER, $LOGNAME or $SUDO_USER (cron, a container): the actor is the account the process
	// runs as, from the user database.
	noUser := append(append([]string{}, env...), "USER=", "LOGNAME=", "SUDO_USER=", "SEATLAKE_ACTOR=")
	r = seatlake(t, noUser, "reclaim", "--warehouse", wh, "--config", cfg, "--plan", write("yes"), "--apply")
	if r.code != 1 || !strings.Contains(r.stdout, "now excluded by the rules") || !strings.Contains(r.stdout, "Authorization_RequestDenied") ||
		!strings.Contains(r.stdout, "removed=0") || !strings.Contains(r.stdout, "failed=1") {
		t.Errorf("excluded and unauthorized: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if !slices.ContainsFunc(sim.Licenses(recs[direct[1]][col["user_id"]]), func(s string) bool { return strings.EqualFold(s, recs[direct[1]][col["sku_id"]]) }) {
		t.Errorf("a refused removal removed the license")
	}
	if rows := csvRows(t, wh, "SELECT result FROM actions ORDER BY plan_line"); len(rows) != 2 {
		t.Errorf("actions: %v", rows)
	}
	if me, err := user.Current(); err == nil {
		host, _ := os.Hostname()
		if rows := csvRows(t, wh, "SELECT DISTINCT actor FROM actions"); len(rows) != 1 || !strings.HasPrefix(rows[0][0], me.Username+"@"+host+" ") {
			t.Errorf("actor without $USER: %v, want %s@%s (app …)", rows, me.Username, host)
		}
	}
}

// Who applied a plan: --actor as given; else the user behind sudo, the account the process runs as (whatever $USER
// says), then $USER or $LOGNAME, at this host; never a name made up when none is known.
func TestReclaimActor(t *testing.T) {
	account := func() (*user.User, error) { return &user.User{Username: "svc-seatlake"}, nil }
	noAccount := func() (*user.User, error) { return nil, errors.New("user: unknown userid 1234") }
	host := func() (string, error) { return "ops-vm", nil }
	noHost := func() (string, error) { return "", errors.New("no hostname") }
	tests := []struct {
		name, flag string
		env        map[string]string
		current    func() (*user.User, error)
		hostname   func() (string, error)
		want       string
	}{
		{"--actor as given", "approver@contoso", map[string]string{"USER": "root"}, account, host, "approver@contoso"},
		{"the account, $USER unset", "", nil, account, host, "svc-seatlake@ops-vm"},
		{"the account over a stale $USER", "", map[string]string{"USER": "someone-else"}, account, host, "svc-seatlake@ops-vm"},
		{"the user behind sudo", "", map[string]string{"SUDO_USER": "alice", "USER": "root"}, account, host, "alice@ops-vm"},
		{"no account: $USER", "", map[string]string{"USER": "bob"}, noAccount, host, "bob@ops-vm"},
		{"no account: $LOGNAME", "", map[string]string{"LOGNAME": "carol"}, noAccount, host, "carol@ops-vm"},
		{"no host: the user alone", "", nil, account, noHost, "svc-seatlake"},
		{"nobody known", "", nil, noAccount, host, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := reclaimActor(tt.flag, func(k string) string { return tt.env[k] }, tt.current, tt.hostname)
			if tt.want == "" {
				if err == nil || !strings.Contains(err.Error(), "--actor") {
					t.Errorf("no user known: %q, %v; want an error asking for --actor", got, err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Errorf("%q, %v; want %q", got, err, tt.want)
			}
		})
	}
}
