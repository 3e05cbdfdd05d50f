package main

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/seatlake/seatlake/internal/assetsim/jsmassets"
	"github.com/seatlake/seatlake/internal/csvtest"
	"github.com/seatlake/seatlake/internal/tenantsim"
)

// Two tenants in one config file, as a license manager runs them: contoso (quick) and fabrikam (its Dynamics pages
// slow). One shared Assets import source for both is refused (exit 2, naming the fix) by config validate, check and
// sync, dry run included, and nothing reaches Assets; each tenant's run ends when it ends (its runs row and its
// summary line); every command takes --config and --tenant NAME (a comma list too) and shows tenants by name with
// the id beside, in the report, the sync lines and the tables (runs, license_usage, syncs: tenant_name); query
// --tenant shows that tenant's rows only; with contoso's secret file readable by others (0644), fabrikam still
// runs, checks, validates, reclaims and receives events, while contoso is named with the fix.
func TestCLITwoTenantsOneConfigFile(t *testing.T) {
	simA, baseA, _ := startSim(t, func(c *tenantsim.Config) { c.Seed = 21 })
	simB, baseB, _ := startSim(t, func(c *tenantsim.Config) { c.Seed = 22; c.PageLatency = 1500 * time.Millisecond })
	idA, _, secretA := simA.Credentials()
	idB, _, secretB := simB.Credentials()
	dir := t.TempDir()
	wh := filepath.Join(dir, "wh")
	fileA, fileB := writeSecret(t, dir, "contoso.secret", secretA), writeSecret(t, dir, "fabrikam.secret", secretB)

	// One Assets API; which import source a request is for, its token says.
	shared, emuA, emuB := jsmassets.New("token-shared"), jsmassets.New("token-a"), jsmassets.New("token-b")
	assetsSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.Header.Get("Authorization") {
		case "Bearer token-a":
			emuA.ServeHTTP(w, r)
		case "Bearer token-b":
			emuB.ServeHTTP(w, r)
		default:
			shared.ServeHTTP(w, r)
		}
	}))
	defer assetsSrv.Close()
	for _, e := range []*jsmassets.Server{shared, emuA, emuB} {
		e.SetBase(assetsSrv.URL)
	}
	_, snURL := startServiceNow(t, "sn-password", "", "")

	cfg := filepath.Join(dir, "seatlake.yaml")
	write := func(ownTokens bool) {
		a, b := tenantYAML("contoso", simA, baseA, fileA), tenantYAML("fabrikam", simB, baseB, fileB)
		if ownTokens {
			a += "    jsm-assets-token-file: " + writeSecret(t, dir, "assets-a", "token-a") + "\n"
			b += "    jsm-assets-token-file: " + writeSecret(t, dir, "assets-b", "token-b") + "\n"
		}
		os.WriteFile(cfg, []byte("warehouse: "+wh+"\nsync:\n  jsm-assets:\n    url: "+assetsSrv.URL+"\n    token-file: "+writeSecret(t, dir, "assets-shared", "token-shared")+
			"\n  servicenow:\n    instance-url: "+snURL+"\n    user: seatlake.integration\n    password-file: "+writeSecret(t, dir, "sn-password", "sn-password")+
			"\ntenants:\n"+a+b), 0o600)
	}
	write(false)

	// One import source for two tenants: refused everywhere, before anything is sent, naming the fix.
	const collision, fix = "tenants contoso and fabrikam would share one Assets import source", "tenants[].jsm-assets-token-file"
	for _, args := range [][]string{{"config", "validate", cfg}, {"check", "--config", cfg}} {
		if r := seatlake(t, nil, args...); r.code != exitUsage || !strings.Contains(r.stderr, collision) || !strings.Contains(r.stderr, fix) || r.stdout != "" {
			t.Errorf("%v with one import source for two tenants: exit %d\n%s%s", args, r.code, r.stdout, r.stderr)
		}
	}
	if r := seatlake(t, nil, "run", "--config", cfg, "--then-sync", "jsm-assets"); r.code != exitUsage || !strings.Contains(r.stderr, collision) {
		t.Errorf("run --then-sync jsm-assets with one import source: exit %d: %s", r.code, r.stderr)
	}

	// Both tenants side by side: each run ends when that tenant ends.
	r := seatlake(t, nil, "run", "--config", cfg)
	if r.code != 0 {
		t.Fatalf("run: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	took := map[string]time.Duration{}
	for _, m := range regexp.MustCompile(`tenant (\w+) \(([^)]+)\)  SUCCEEDED in (\S+)`).FindAllStringSubmatch(r.stdout, -1) {
		d, err := time.ParseDuration(m[3])
		if err != nil || map[string]string{"contoso": idA, "fabrikam": idB}[m[1]] != m[2] {
			t.Fatalf("summary line %q", m[0])
		}
		took[m[1]] = d
	}
	if len(took) != 2 || took["contoso"]+time.Second > took["fabrikam"] {
		t.Errorf("each summary should say its own tenant's time (fabrikam's pages are slow): %v\n%s", took, r.stdout)
	}
	ends := map[string][3]int64{}
	for _, row := range csvRows(t, wh, "SELECT tenant_name, epoch_ms(started_at), epoch_ms(ended_at) FROM runs") {
		s, _ := strconv.ParseInt(row[1], 10, 64)
		e, _ := strconv.ParseInt(row[2], 10, 64)
		ends[row[0]] = [3]int64{s, e, e - s}
	}
	near := func(ms int64, d time.Duration) bool {
		return (time.Duration(ms)*time.Millisecond - d).Abs() <= 2*time.Millisecond
	}
	if ends["contoso"][1]+1000 > ends["fabrikam"][1] || !near(ends["contoso"][2], took["contoso"]) || !near(ends["fabrikam"][2], took["fabrikam"]) {
		t.Errorf("runs rows (started, ended, ms): %v; summaries %v", ends, took)
	}

	// The shared import source, by sync (a dry run too): refused, and Assets holds nothing.
	for _, args := range [][]string{{"sync", "jsm-assets", "--config", cfg}, {"sync", "jsm-assets", "--config", cfg, "--dry-run"}, {"sync", "jsm-assets", "--config", cfg, "--tenant", "fabrikam"}} {
		if r := seatlake(t, nil, args...); r.code != exitUsage || !strings.Contains(r.stderr, collision) || !strings.Contains(r.stderr, fix) {
			t.Errorf("%v: exit %d\n%s%s", args, r.code, r.stdout, r.stderr)
		}
	}
	if n := len(shared.Objects()); n != 0 {
		t.Errorf("a refused sync sent %d object types to the shared import source", n)
	}

	// Each tenant its own import source: validate, check and sync pass; the lines name the tenants.
	write(true)
	if r := seatlake(t, nil, "config", "validate", cfg); r.code != 0 || !strings.Contains(r.stdout, "tenants=2") {
		t.Errorf("config validate: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if r := seatlake(t, nil, "check", "--config", cfg, "--tenant", "fabrikam"); r.code != 0 || !strings.Contains(r.stdout, "OK   fabrikam graph") || strings.Contains(r.stdout, " contoso graph") {
		t.Errorf("check --tenant fabrikam: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	r = seatlake(t, nil, "sync", "jsm-assets", "--config", cfg)
	if r.code != 0 || strings.Count(r.stdout, "jsm-assets tenant=contoso tenant_id="+idA+" type=") != 3 || strings.Count(r.stdout, "jsm-assets tenant=fabrikam tenant_id="+idB+" type=") != 3 {
		t.Fatalf("sync jsm-assets: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	for _, c := range []struct {
		emu *jsmassets.Server
		id  string
	}{{emuA, idA}, {emuB, idB}} {
		if want, _ := strconv.Atoi(csvRows(t, wh, "SELECT count(*) FROM graph_users WHERE tenant_id = '"+c.id+"'")[0][0]); len(c.emu.Objects()["Person"]) != want {
			t.Errorf("the import source of %s holds %d people, the tenant %d", c.id, len(c.emu.Objects()["Person"]), want)
		}
	}
	r = seatlake(t, nil, "sync", "servicenow", "--config", cfg, "--tenant", "contoso")
	if r.code != 0 || strings.Count(r.stdout, "servicenow tenant=contoso tenant_id="+idA+" type=") != 3 || strings.Contains(r.stdout, "tenant=fabrikam") {
		t.Errorf("sync servicenow --tenant contoso: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}

	// The tables a person reads name the tenant; query --config finds the warehouse, --tenant keeps one tenant's rows.
	for _, q := range []string{"SELECT DISTINCT tenant_name, tenant_id FROM runs", "SELECT DISTINCT tenant_name, tenant_id FROM license_usage",
		"SELECT DISTINCT tenant_name, tenant_id FROM syncs WHERE target = 'jsm-assets'"} {
		got := map[string]string{}
		for _, row := range csvRows(t, wh, q+" ORDER BY 1") {
			got[row[0]] = row[1]
		}
		if len(got) != 2 || got["contoso"] != idA || got["fabrikam"] != idB {
			t.Errorf("%s: %v", q, got)
		}
	}
	q := seatlake(t, nil, "query", "--config", cfg, "--tenant", "fabrikam", "--format", "csv",
		"SELECT (SELECT count(DISTINCT tenant_id) FROM license_usage), (SELECT min(tenant_name) FROM runs), (SELECT count(*) FROM syncs)")
	if lines := strings.Split(strings.TrimSpace(q.stdout), "\n"); q.code != 0 || len(lines) != 2 || lines[1] != "1,fabrikam,1" {
		t.Errorf("query --tenant fabrikam: exit %d\n%s%s", q.code, q.stdout, q.stderr)
	}

	// The report by name, with the id beside; the plan carries the name.
	out := t.TempDir()
	r = seatlake(t, nil, "report", "--config", cfg, "--tenant", "fabrikam", "--csv", out)
	if r.code != 0 || !strings.Contains(r.stdout, "seatlake report  tenant fabrikam ("+idB+")") || strings.Contains(r.stdout, "tenant contoso") {
		t.Errorf("report --tenant fabrikam: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if plan := csvtest.Read(t, filepath.Join(out, "reclaim-plan.csv")); len(plan) < 2 || plan[0][1] != "tenant_name" || plan[1][1] != "fabrikam" {
		t.Errorf("the plan's tenant_name: %v", plan[:min(len(plan), 2)])
	}
	// Without the config file, the names the runs recorded.
	if r := seatlake(t, nil, "report", "--warehouse", wh, "--tenant", "contoso", "--top", "1"); r.code != 0 || !strings.Contains(r.stdout, "seatlake report  tenant contoso ("+idA+")") {
		t.Errorf("report --warehouse --tenant contoso: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if r := seatlake(t, nil, "report", "--config", cfg, "--tenant", "northwind"); r.code != exitUsage || !strings.Contains(r.stderr, `--tenant "northwind"`) || !strings.Contains(r.stderr, "contoso, fabrikam") {
		t.Errorf("report --tenant northwind: exit %d: %s", r.code, r.stderr)
	}
	r = seatlake(t, nil, "marts", "--config", cfg, "--tenant", "contoso,fabrikam")
	if r.code != 0 || !strings.Contains(r.stdout, "tenant=contoso tenant_id="+idA+" as_of=") || !strings.Contains(r.stdout, "tenant=fabrikam tenant_id="+idB+" as_of=") {
		t.Errorf("marts --tenant contoso,fabrikam: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}

	// contoso's secret file becomes readable by others: fabrikam is not stopped by it.
	if err := os.Chmod(fileA, 0o644); err != nil {
		t.Fatal(err)
	}
	const chmod = "chmod 600"
	r = seatlake(t, nil, "run", "--config", cfg, "--tenant", "fabrikam")
	if r.code != 0 || !strings.Contains(r.stdout, "tenant fabrikam ("+idB+")  SUCCEEDED") || strings.Contains(r.stdout, "tenant contoso") ||
		!strings.Contains(r.stderr, "tenant=contoso") || !strings.Contains(r.stderr, chmod) {
		t.Errorf("run --tenant fabrikam with contoso's secret 0644: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if r := seatlake(t, nil, "config", "validate", "--tenant", "fabrikam", cfg); r.code != 0 || !strings.Contains(r.stdout, "tenants=1") {
		t.Errorf("config validate --tenant fabrikam: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if r := seatlake(t, nil, "config", "validate", cfg); r.code != exitUsage || !strings.Contains(r.stderr, `tenant "contoso": client-secret-file`) || !strings.Contains(r.stderr, chmod) {
		t.Errorf("config validate: exit %d: %s", r.code, r.stderr)
	}
	r = seatlake(t, nil, "check", "--config", cfg)
	if r.code != exitFailed || !strings.Contains(r.stdout, "FAIL contoso config credentials: client-secret-file") || !strings.Contains(r.stdout, "OK   fabrikam graph") {
		t.Errorf("check with contoso's secret 0644: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	// Every tenant: fabrikam runs; contoso is recorded as failed, naming the fix; exit 2 (a set-up to fix).
	r = seatlake(t, nil, "run", "--config", cfg)
	if r.code != exitUsage || !strings.Contains(r.stdout, "tenant fabrikam ("+idB+")  SUCCEEDED") || !strings.Contains(r.stdout, "tenant contoso ("+idA+")  FAILED") ||
		!strings.Contains(r.stderr, "tenant contoso") || !strings.Contains(r.stderr, chmod) {
		t.Errorf("run with contoso's secret 0644: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if rows := csvRows(t, wh, "SELECT tenant_name, status, coalesce(error, '') FROM runs ORDER BY started_at DESC LIMIT 2"); len(rows) != 2 ||
		!strings.Contains(rows[0][0]+rows[1][0], "contoso") || !strings.Contains(rows[0][2]+rows[1][2], chmod) {
		t.Errorf("the latest runs rows: %v", rows)
	}
	if r := seatlake(t, nil, "reclaim", "--config", cfg, "--tenant", "fabrikam", "--plan", filepath.Join(out, "reclaim-plan.csv")); r.code != 0 || !strings.Contains(r.stdout, "approved=0") {
		t.Errorf("reclaim --tenant fabrikam: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	// The events receiver: fabrikam's environment, while contoso's has no callback secret and a broken credential.
	if r := seatlake(t, nil, "events", "new-endpoint", "--config", cfg, "--tenant", "fabrikam"); r.code != 0 || !strings.Contains(r.stdout, "callback_url=") {
		t.Fatalf("events new-endpoint --tenant fabrikam: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	for _, args := range [][]string{{"--config", cfg, "--tenant", "fabrikam"}, {"--config", cfg}} {
		rcv := startReceiver(t, nil, args...)
		if !strings.Contains(rcv.callback, "/finops/events/") {
			t.Errorf("events serve %v: callback %q", args, rcv.callback)
		}
		rcv.cmd.Process.Signal(syscall.SIGTERM)
		rcv.cmd.Wait()
		if len(args) == 2 && (!strings.Contains(rcv.stderr.String(), "tenant=contoso") || !strings.Contains(rcv.stderr.String(), "new-endpoint --finops")) {
			t.Errorf("events serve with every tenant: want warnings about contoso's credential and its environment's missing secret:\n%s", rcv.stderr)
		}
	}
}
