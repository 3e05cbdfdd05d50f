package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/seatlake/seatlake/internal/assetsim/jsmassets"
	"github.com/seatlake/seatlake/internal/assetsim/servicenow"
	"github.com/seatlake/seatlake/internal/tenantsim"
)

// startJSMAssets serves an emulated JSM Assets that accepts the token on loopback until the test ends, and
// returns it and its URL.
func startJSMAssets(t *testing.T, token string) (*jsmassets.Server, string) {
	t.Helper()
	emu := jsmassets.New(token)
	srv := httptest.NewServer(emu)
	t.Cleanup(srv.Close)
	emu.SetBase(srv.URL)
	return emu, srv.URL
}

// startServiceNow serves an emulated ServiceNow instance on loopback until the test ends, its integration user
// seatlake.integration with the password (and the OAuth client, when clientID is not empty), and returns it and its URL.
func startServiceNow(t *testing.T, password, clientID, clientSecret string) (*servicenow.Server, string) {
	t.Helper()
	sn := servicenow.New("seatlake.integration", password, clientID, clientSecret)
	srv := httptest.NewServer(sn)
	t.Cleanup(srv.Close)
	return sn, srv.URL
}

// A sync into the emulated Assets: what Assets holds afterwards equals the marts (persons, subscriptions,
// assignments, and the assignments by status), with no object error, the users with no activity at all included
// (their last activity left out, not sent empty); a second sync creates and changes nothing; an execution status
// the documentation does not name fails the sync by name at once; each sync is recorded; a refused token fails the
// sync with its record, never showing the token.
func TestCLISyncJSMAssets(t *testing.T) {
	wh, _ := ranWarehouse(t)
	assets, srvURL := startJSMAssets(t, "assets-container-token")
	tokenEnv := []string{"SEATLAKE_JSM_ASSETS_TOKEN=assets-container-token"}
	users := csvRows(t, wh, "SELECT count(*) FROM graph_users")[0][0]
	// A dry run sends nothing and says what would change against the last sync: before any, everything is new.
	dry := seatlake(t, nil, "sync", "jsm-assets", "--warehouse", wh, "--url", srvURL, "--dry-run")
	if dry.code != 0 || !strings.Contains(dry.stdout, `type="Person" would_send=`+users+` new=`+users+` changed=0 gone=0`) || len(assets.Objects()) != 0 {
		t.Fatalf("dry run before any sync: exit %d\n%s%s", dry.code, dry.stdout, dry.stderr)
	}
	for i := 0; i < 2; i++ {
		r := seatlake(t, tokenEnv, "sync", "jsm-assets", "--warehouse", wh, "--url", srvURL, "--chunk-size", "100")
		if r.code != 0 || strings.Count(r.stdout, "status=succeeded") != 3 || strings.Count(r.stdout, "errors=0 ") != 3 {
			t.Fatalf("sync %d: exit %d\n%s%s", i+1, r.code, r.stdout, r.stderr)
		}
		if i == 1 && (!strings.Contains(r.stdout, `type="Person" sent=`) || strings.Contains(r.stdout, "created=1") || !strings.Contains(r.stdout, "updated=0")) {
			t.Errorf("the second sync changed something:\n%s", r.stdout)
		}
	}
	dry = seatlake(t, nil, "sync", "jsm-assets", "--warehouse", wh, "--url", srvURL, "--dry-run")
	if dry.code != 0 || strings.Count(dry.stdout, "new=0 changed=0 gone=0") != 3 {
		t.Errorf("dry run after the syncs: want nothing new, changed or gone\n%s%s", dry.stdout, dry.stderr)
	}
	held := assets.Objects()
	for typ, q := range map[string]string{
		"Person":             "SELECT count(*) FROM graph_users",
		"Subscription":       "SELECT count(*) FROM license_position WHERE kind = 'sku'",
		"License Assignment": "SELECT count(*) FROM license_usage",
	} {
		if want, _ := strconv.Atoi(csvRows(t, wh, q)[0][0]); len(held[typ]) != want || want == 0 {
			t.Errorf("Assets holds %d %s objects, the marts %d", len(held[typ]), typ, want)
		}
	}
	byStatus := map[string]int{}
	for _, a := range held["License Assignment"] {
		byStatus[a.Attributes["Status"]]++
	}
	for _, row := range csvRows(t, wh, "SELECT status, count(*) FROM license_usage GROUP BY 1") {
		if n, _ := strconv.Atoi(row[1]); byStatus[row[0]] != n {
			t.Errorf("Assets holds %d %s assignments, the marts %d", byStatus[row[0]], row[0], n)
		}
	}
	// The users with no activity at all are held, their last activity and days inactive left empty.
	never, _ := strconv.Atoi(csvRows(t, wh, "SELECT count(*) FROM license_usage WHERE last_activity IS NULL AND days_inactive IS NULL")[0][0])
	withoutActivity := 0
	for _, a := range held["License Assignment"] {
		if _, ok := a.Attributes["Last activity"]; !ok {
			if _, ok := a.Attributes["Days inactive"]; !ok {
				withoutActivity++
			}
		}
	}
	if never == 0 || withoutActivity != never {
		t.Errorf("Assets holds %d assignments without activity, the marts %d", withoutActivity, never)
	}
	// A status the documentation does not name: the sync fails naming it, without waiting for its time-out.
	assets.ForceStatus = "ARCHIVED"
	began := time.Now()
	r := seatlake(t, tokenEnv, "sync", "jsm-assets", "--warehouse", wh, "--url", srvURL)
	if r.code != 1 || !strings.Contains(r.stderr, `"ARCHIVED", a status seatlake does not know`) || time.Since(began) > time.Minute {
		t.Errorf("an unknown execution status: exit %d after %s\n%s%s", r.code, time.Since(began), r.stdout, r.stderr)
	}
	assets.RotateToken("regenerated")
	r = seatlake(t, tokenEnv, "sync", "jsm-assets", "--warehouse", wh, "--url", srvURL)
	if r.code != 1 || !strings.Contains(r.stderr, "refused (401)") || strings.Contains(r.stdout+r.stderr, "assets-container-token") {
		t.Errorf("a rotated token: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	rows := csvRows(t, wh, "SELECT status, coalesce(error, '') FROM syncs ORDER BY started_at")
	if len(rows) != 6 || rows[0][0] != "succeeded" || rows[2][0] != "succeeded" || rows[4][0] != "failed" || !strings.Contains(rows[4][1], "ARCHIVED") ||
		rows[5][0] != "failed" || strings.Contains(rows[5][1], "assets-container-token") {
		t.Errorf("syncs: %v", rows)
	}
}

// A sync killed after it started an execution leaves that execution INGESTING (the import source RUNNING) and a
// record of it beside the syncs: the next sync cancels it, completes, and duplicates nothing. An execution that is
// not seatlake's is left alone, and the sync says why it cannot start.
func TestCLIKilledSyncIsRecoveredByTheNext(t *testing.T) {
	wh, _ := ranWarehouse(t)
	emu, srvURL := startJSMAssets(t, "tok")
	tokenEnv := []string{"SEATLAKE_JSM_ASSETS_TOKEN=tok"}
	if r := seatlake(t, tokenEnv, "sync", "jsm-assets", "--warehouse", wh, "--url", srvURL); r.code != 0 {
		t.Fatalf("first sync: exit %d: %s", r.code, r.stderr)
	}
	// What a killed sync leaves: an execution it started, still INGESTING, with half the data.
	get := func(method, url string, body string) map[string]any {
		req, _ := http.NewRequest(method, url, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer tok")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		out := map[string]any{}
		json.NewDecoder(resp.Body).Decode(&out)
		return out
	}
	info := get("GET", srvURL+"/jsm/assets/v1/imports/info", "")
	start := info["links"].(map[string]any)["start"].(string)
	started := get("POST", start, "")["links"].(map[string]any)
	get("POST", started["submitResults"].(string), `{"data":{"persons":[{"id":"half-sent"}]}}`)
	tenant := csvRows(t, wh, "SELECT DISTINCT tenant_id FROM graph_users")[0][0]
	marker := filepath.Join(wh, "syncs", "tenant="+tenant, ".jsm-assets-execution")

	os.Remove(marker) // not ours: the sync must not cancel someone else's import
	if r := seatlake(t, tokenEnv, "sync", "jsm-assets", "--warehouse", wh, "--url", srvURL); r.code != 1 || !strings.Contains(r.stderr, "RUNNING") {
		t.Errorf("an import that is not ours: exit %d, %s", r.code, r.stderr)
	}
	os.WriteFile(marker, []byte(started["cancel"].(string)+"\n"), 0o640) // ours, as the killed sync recorded it
	r := seatlake(t, tokenEnv, "sync", "jsm-assets", "--warehouse", wh, "--url", srvURL)
	if r.code != 0 || !strings.Contains(r.stdout, "created=0") {
		t.Fatalf("the sync after a killed one: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	users, _ := strconv.Atoi(csvRows(t, wh, "SELECT count(*) FROM graph_users")[0][0])
	if n := len(emu.Objects()["Person"]); n != users {
		t.Errorf("Assets holds %d persons, the tenant %d: duplicates or losses", n, users)
	}
	if _, err := os.Stat(marker); !os.IsNotExist(err) {
		t.Errorf("the record of the stale execution is still there: %v", err)
	}
}

// A sync into the emulated ServiceNow, as an administrator would run it: basic auth with the password in a file,
// then OAuth client credentials, refused until the instance is set up for the grant (the failure names the system
// property and the OAuth Application User); what the target tables hold equals the marts; the second sync leaves
// every row ignored; rows a transform map refuses are counted, named and make the sync partial (exit 1); a wrong
// password fails with its record and never shows the password; the instance's 429s are waited out.
func TestCLISyncServiceNow(t *testing.T) {
	wh, _ := ranWarehouse(t)
	sn := servicenow.New("seatlake.integration", "pa55-w0rd-secret", "client-1", "client-secret-value")
	sn.ThrottleEvery = 9
	srv := httptest.NewServer(sn)
	defer srv.Close()
	pwFile := filepath.Join(t.TempDir(), "password")
	os.WriteFile(pwFile, []byte("pa55-w0rd-secret\n"), 0o600)
	basic := []string{"sync", "servicenow", "--warehouse", wh, "--instance-url", srv.URL, "--user", "seatlake.integration", "--password-file", pwFile}

	r := seatlake(t, nil, basic...)
	if r.code != 0 || strings.Count(r.stdout, "status=succeeded") != 3 || strings.Contains(r.stdout, "created=0 ") {
		t.Fatalf("first sync: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	held := sn.Held()
	if held.MaxBatch > 200 || held.MaxBatch == 0 {
		t.Errorf("an insertMultiple request carried %d records; at most 200", held.MaxBatch)
	}
	for table, q := range map[string]string{
		"u_m365_person":       "SELECT count(*) FROM graph_users",
		"u_m365_subscription": "SELECT count(*) FROM license_position WHERE kind = 'sku'",
		"u_m365_license":      "SELECT count(*) FROM license_usage",
	} {
		if want, _ := strconv.Atoi(csvRows(t, wh, q)[0][0]); len(held.Targets[table]) != want || want == 0 {
			t.Errorf("ServiceNow holds %d %s records, the marts %d", len(held.Targets[table]), table, want)
		}
	}
	byStatus := map[string]int{}
	for _, rec := range held.Targets["u_m365_license"] {
		byStatus[rec.Values["u_status"]]++
	}
	for _, row := range csvRows(t, wh, "SELECT status, count(*) FROM license_usage GROUP BY 1") {
		if n, _ := strconv.Atoi(row[1]); byStatus[row[0]] != n {
			t.Errorf("ServiceNow holds %d %s licenses, the marts %d", byStatus[row[0]], row[0], n)
		}
	}

	// OAuth client credentials on an instance not set up for the grant: refused, naming what to set up.
	oauth := []string{"SEATLAKE_SERVICENOW_CLIENT_SECRET=client-secret-value"}
	r = seatlake(t, oauth, "sync", "servicenow", "--warehouse", wh, "--instance-url", srv.URL, "--client-id", "client-1")
	if r.code != 1 || !strings.Contains(r.stderr, "glide.oauth.inbound.client.credential.grant_type.enabled") ||
		!strings.Contains(r.stderr, "OAuth Application User") || strings.Contains(r.stdout+r.stderr, "client-secret-value") {
		t.Errorf("OAuth with the grant off: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	// Set up: the same rows again, every one ignored by the coalesce.
	sn.SetClientCredentials(true, "seatlake.integration")
	r = seatlake(t, oauth, "sync", "servicenow", "--warehouse", wh, "--instance-url", srv.URL, "--client-id", "client-1")
	if r.code != 0 || strings.Count(r.stdout, "created=0 updated=0") != 3 || strings.Count(r.stdout, "errors=0") != 3 {
		t.Fatalf("second sync (OAuth): exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if n := sn.Held().Targets; len(n["u_m365_person"]) != len(held.Targets["u_m365_person"]) {
		t.Errorf("the second sync duplicated people: %d then %d", len(held.Targets["u_m365_person"]), len(n["u_m365_person"]))
	}
	dry := seatlake(t, nil, "sync", "servicenow", "--warehouse", wh, "--instance-url", srv.URL, "--dry-run")
	if dry.code != 0 || strings.Count(dry.stdout, "new=0 changed=0 gone=0") != 3 {
		t.Errorf("dry run after the syncs: want nothing new, changed or gone\n%s%s", dry.stdout, dry.stderr)
	}

	// A transform script refusing never-used licenses: the others land, the refused are counted and named.
	sn.Reject = func(table string, v map[string]string) string {
		if table == "u_seatlake_license" && v["u_status"] == "never_used" {
			return "never_used licenses are reviewed by hand"
		}
		return ""
	}
	r = seatlake(t, nil, basic...)
	refused := csvRows(t, wh, "SELECT count(*) FROM license_usage WHERE status = 'never_used'")[0][0]
	if r.code != 1 || !strings.Contains(r.stdout, "errors="+refused+" dry_run=false status=partial") ||
		!strings.Contains(r.stderr, refused+" rows of u_seatlake_license marked error") || !strings.Contains(r.stderr, "never_used licenses are reviewed by hand") {
		t.Errorf("refused rows (%s expected): exit %d\n%s%s", refused, r.code, r.stdout, r.stderr)
	}
	sn.Reject = nil

	sn.SetPassword("rotated")
	r = seatlake(t, nil, basic...)
	if r.code != 1 || !strings.Contains(r.stderr, "refused the credentials (401)") || strings.Contains(r.stdout+r.stderr, "pa55-w0rd-secret") {
		t.Errorf("a rotated password: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	rows := csvRows(t, wh, "SELECT target, dry_run, status, coalesce(error, '') FROM syncs ORDER BY started_at")
	want := [][]string{{"servicenow", "false", "succeeded"}, {"servicenow", "false", "failed"}, {"servicenow", "false", "succeeded"},
		{"servicenow", "true", "succeeded"}, {"servicenow", "false", "partial"}, {"servicenow", "false", "failed"}}
	if len(rows) != len(want) {
		t.Fatalf("syncs: %v", rows)
	}
	for i, w := range want {
		if rows[i][0] != w[0] || rows[i][1] != w[1] || rows[i][2] != w[2] || strings.Contains(rows[i][3], "pa55-w0rd-secret") {
			t.Errorf("syncs row %d: %v, want %v", i, rows[i], w)
		}
	}
}

// insertMultiple's keys are column labels unless the instance has REST Insert Multiples entries mapping the staging
// tables by column name. In either instance, a sync with the other column mapping fails (exit 1, recorded failed,
// nothing landed) naming the setting or the entry to change, and one with the right mapping lands every row with its
// values; a sync never exits 0 with rows skipped or empty.
func TestCLISyncServiceNowColumnMapping(t *testing.T) {
	wh, _ := ranWarehouse(t)
	users := map[string]string{}
	for _, row := range csvRows(t, wh, "SELECT id, coalesce(user_principal_name, '') FROM graph_users") {
		users[row[0]] = row[1]
	}
	licenses, _ := strconv.Atoi(csvRows(t, wh, "SELECT count(*) FROM license_usage")[0][0])
	for _, tc := range []struct {
		name         string
		entries      bool // REST Insert Multiples entries with Column mapping = Column name
		wrong, right string
		fix          string
	}{
		{"the instance's default: labels", false, "name", "label", "add a REST Insert Multiples [sys_rest_insert_multiple] entry for u_seatlake_user with Column mapping = Column name, or set column-mapping: label"},
		{"entries mapping by column name", true, "label", "name", "set column-mapping: name (--column-mapping name), or remove that entry"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sn := servicenow.New("seatlake.integration", "pw", "", "")
			if tc.entries {
				for _, tr := range servicenow.DefaultTransforms() {
					sn.SetInsertMultiple(tr.Staging, servicenow.InsertMultipleEntry{ColumnNames: true})
				}
			}
			srv := httptest.NewServer(sn)
			defer srv.Close()
			pw := []string{"SEATLAKE_SERVICENOW_PASSWORD=pw"}
			sync := func(mapping string) result {
				return seatlake(t, pw, "sync", "servicenow", "--warehouse", wh, "--instance-url", srv.URL, "--user", "seatlake.integration", "--column-mapping", mapping)
			}
			before := len(csvRows(t, wh, "SELECT sync_id FROM syncs"))
			r := sync(tc.wrong)
			if r.code != 1 || strings.Contains(r.stdout, "status=succeeded") || !strings.Contains(r.stdout, `type="Person" sent=`+strconv.Itoa(len(users))+` created=0 updated=0 unchanged=0 errors=`+strconv.Itoa(len(users))) ||
				!strings.Contains(r.stderr, "landed without u_external_id") || !strings.Contains(r.stderr, tc.fix) {
				t.Errorf("--column-mapping %s: exit %d\n%s%s", tc.wrong, r.code, r.stdout, r.stderr)
			}
			if held := sn.Held(); len(held.Targets["u_m365_person"]) != 0 || held.Rows["u_seatlake_user"]["skipped"] != len(users) || held.Rows["u_seatlake_license"] != nil {
				t.Errorf("after the wrong mapping ServiceNow holds %d people, staging rows %v", len(held.Targets["u_m365_person"]), held.Rows)
			}
			r = sync(tc.right)
			if r.code != 0 || strings.Count(r.stdout, "status=succeeded") != 3 || strings.Count(r.stdout, "errors=0") != 3 {
				t.Fatalf("--column-mapping %s: exit %d\n%s%s", tc.right, r.code, r.stdout, r.stderr)
			}
			held := sn.Held()
			landed := map[string]string{}
			for _, rec := range held.Targets["u_m365_person"] {
				landed[rec.Values["u_external_id"]] = rec.Values["u_upn"]
			}
			if !reflect.DeepEqual(landed, users) || len(held.Targets["u_m365_license"]) != licenses {
				t.Errorf("ServiceNow holds %d people (%d licenses) whose ids and UPNs are not the warehouse's %d (%d)", len(landed), len(held.Targets["u_m365_license"]), len(users), licenses)
			}
			rows := csvRows(t, wh, "SELECT status, coalesce(error, '') FROM syncs ORDER BY started_at")[before:]
			if len(rows) != 2 || rows[0][0] != "failed" || !strings.Contains(rows[0][1], "landed without u_external_id") || rows[1][0] != "succeeded" {
				t.Errorf("syncs: %v", rows)
			}
		})
	}
}

// A nightly run that chains a sync, set up in the config file alone: quiet and successful, it prints nothing and
// ServiceNow holds the people; a misspelled sync key fails before anything runs, naming it; `config validate`
// checks the sync section.
func TestCLIRunThenSyncFromTheConfigFile(t *testing.T) {
	_, _, env := startSim(t, nil)
	sn, snURL := startServiceNow(t, "pw-from-file", "", "")
	dir := t.TempDir()
	wh := filepath.Join(dir, "wh")
	pw := filepath.Join(dir, "password")
	os.WriteFile(pw, []byte("pw-from-file"), 0o600)
	cfg := filepath.Join(dir, "seatlake.yaml")
	write := func(passwordKey string) {
		os.WriteFile(cfg, []byte("warehouse: "+wh+"\nthen-sync: [servicenow]\nsync:\n  servicenow:\n    instance-url: "+snURL+
			"\n    user: seatlake.integration\n    "+passwordKey+": "+pw+"\n"), 0o600)
	}
	write("pasword-file")
	if r := seatlake(t, env, "config", "validate", cfg); r.code != 2 || !strings.Contains(r.stderr, `"sync.servicenow.pasword-file"`) || !strings.Contains(r.stderr, `did you mean "password-file"`) {
		t.Errorf("config validate with a misspelled sync key: exit %d: %s", r.code, r.stderr)
	}
	if r := seatlake(t, env, "run", "--quiet", "--config", cfg); r.code != 2 || !strings.Contains(r.stderr, "pasword-file") {
		t.Errorf("run with a misspelled sync key: exit %d: %s", r.code, r.stderr)
	}
	write("password-file")
	if r := seatlake(t, env, "config", "validate", cfg); r.code != 0 {
		t.Errorf("config validate: exit %d: %s", r.code, r.stderr)
	}
	r := seatlake(t, env, "run", "--quiet", "--config", cfg)
	// The first night's one line is a condition new since the last run (concealed names); nothing of the sync.
	if r.code != 0 || r.stdout != "" || strings.Count(r.stderr, "\n") != strings.Count(r.stderr, "new since the last run") {
		t.Fatalf("quiet run then sync: exit %d\nstdout: %q\nstderr: %q", r.code, r.stdout, r.stderr)
	}
	users, _ := strconv.Atoi(csvRows(t, wh, "SELECT count(*) FROM graph_users")[0][0])
	if n := len(sn.Held().Targets["u_m365_person"]); n != users || users == 0 {
		t.Errorf("ServiceNow holds %d people, the warehouse %d", n, users)
	}
	if rows := csvRows(t, wh, "SELECT target, status FROM syncs"); len(rows) != 1 || rows[0][0] != "servicenow" || rows[0][1] != "succeeded" {
		t.Errorf("syncs: %v", rows)
	}
	// `seatlake check` probes the sync targets of the file: tonight's refused password fails today.
	if r := seatlake(t, env, "check", "--config", cfg); r.code != 0 || !strings.Contains(r.stdout, "OK   - servicenow "+snURL+" import set API") ||
		!strings.Contains(r.stdout, "OK   - servicenow "+snURL+" credentials") || !strings.Contains(r.stdout, "OK   - servicenow "+snURL+" column mapping: labels") {
		t.Errorf("check with a working ServiceNow: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	sn.SetPassword("rotated")
	if r := seatlake(t, env, "check", "--config", cfg); r.code != 1 || !strings.Contains(r.stdout, "FAIL - servicenow") ||
		!strings.Contains(r.stdout, "refused the credentials (401)") || strings.Contains(r.stdout+r.stderr, "pw-from-file") {
		t.Errorf("check with a rotated password: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
}

// `seatlake check` names the ServiceNow set-up a sync would lack, never showing the secret: OAuth client credentials
// on an instance not set up for the grant (the system property and the OAuth Application User), then, once set up,
// column-mapping: name without REST Insert Multiples entries; with the entries every ServiceNow line is OK.
func TestCLICheckServiceNowSetUp(t *testing.T) {
	_, _, env := startSim(t, nil)
	sn, snURL := startServiceNow(t, "pw", "client-1", "client-secret-value")
	dir := t.TempDir()
	secret := filepath.Join(dir, "secret")
	os.WriteFile(secret, []byte("client-secret-value"), 0o600)
	cfg := filepath.Join(dir, "seatlake.yaml")
	os.WriteFile(cfg, []byte("warehouse: "+filepath.Join(dir, "wh")+"\nsync:\n  servicenow:\n    instance-url: "+snURL+
		"\n    client-id: client-1\n    client-secret-file: "+secret+"\n    column-mapping: name\n"), 0o600)
	line := func(status, check string) string {
		return fmt.Sprintf("%-4s - servicenow %s %s: ", status, snURL, check)
	}
	r := seatlake(t, env, "check", "--config", cfg)
	if r.code != 1 || !strings.Contains(r.stdout, line("FAIL", "OAuth client credentials")) || !strings.Contains(r.stdout, "glide.oauth.inbound.client.credential.grant_type.enabled") ||
		!strings.Contains(r.stdout, "OAuth Application User") || strings.Contains(r.stdout+r.stderr, "client-secret-value") {
		t.Errorf("check with the grant off: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	sn.SetClientCredentials(true, "seatlake.integration")
	r = seatlake(t, env, "check", "--config", cfg)
	if r.code != 1 || !strings.Contains(r.stdout, line("OK", "OAuth client credentials")) || !strings.Contains(r.stdout, line("FAIL", "column mapping")+"names") ||
		!strings.Contains(r.stdout, "with Column mapping = Column name, or remove column-mapping: name") {
		t.Errorf("check, names without entries: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	for _, tr := range servicenow.DefaultTransforms() {
		sn.SetInsertMultiple(tr.Staging, servicenow.InsertMultipleEntry{ColumnNames: true})
	}
	r = seatlake(t, env, "check", "--config", cfg)
	if r.code != 0 || !strings.Contains(r.stdout, line("OK", "column mapping")+"names") || strings.Count(r.stdout, "- servicenow ") != 3 {
		t.Errorf("check, names with entries: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
}

// Several tenants into Assets, each into its own import source (its token named in its entry of the config file):
// each source holds its tenant's people only.
func TestCLISyncJSMAssetsImportSourcePerTenant(t *testing.T) {
	simA, baseA, secretA := startSeeded(t, 11)
	simB, baseB, secretB := startSeeded(t, 12)
	dir := t.TempDir()
	wh := filepath.Join(dir, "wh")
	emuA, emuB := jsmassets.New("token-a"), jsmassets.New("token-b")
	// One Assets API, two import sources: the token says which.
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") == "Bearer token-a" {
			emuA.ServeHTTP(w, r)
			return
		}
		emuB.ServeHTTP(w, r)
	}))
	defer srv.Close()
	emuA.SetBase(srv.URL)
	emuB.SetBase(srv.URL)
	tenants := tenantYAML("alpha", simA, baseA, writeSecret(t, dir, "a", secretA)) + "    jsm-assets-token-file: " + writeSecret(t, dir, "ta", "token-a") + "\n" +
		tenantYAML("beta", simB, baseB, writeSecret(t, dir, "b", secretB)) + "    jsm-assets-token-file: " + writeSecret(t, dir, "tb", "token-b") + "\n"
	cfg := filepath.Join(dir, "seatlake.yaml")
	os.WriteFile(cfg, []byte("warehouse: "+wh+"\nsync:\n  jsm-assets:\n    url: "+srv.URL+"\ntenants:\n"+tenants), 0o600)
	if r := seatlake(t, nil, "run", "--quiet", "--config", cfg); r.code != 0 {
		t.Fatalf("run: exit %d: %s", r.code, r.stderr)
	}
	if r := seatlake(t, nil, "sync", "jsm-assets", "--config", cfg); r.code != 0 || strings.Count(r.stdout, "status=succeeded") != 6 {
		t.Fatalf("sync: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	// `seatlake check` probes each tenant's import source with its own token.
	if r := seatlake(t, nil, "check", "--config", cfg); r.code != 0 || !strings.Contains(r.stdout, "OK   alpha jsm-assets "+srv.URL+" import source") ||
		!strings.Contains(r.stdout, "OK   beta jsm-assets "+srv.URL+" import source") {
		t.Errorf("check: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	for _, c := range []struct {
		emu *jsmassets.Server
		sim *tenantsim.Sim
	}{{emuA, simA}, {emuB, simB}} {
		tenant, _, _ := c.sim.Credentials()
		want, _ := strconv.Atoi(csvRows(t, wh, "SELECT count(*) FROM graph_users WHERE tenant_id = '"+tenant+"'")[0][0])
		if got := len(c.emu.Objects()["Person"]); got != want || want == 0 {
			t.Errorf("the import source of tenant %s holds %d people, the tenant has %d", tenant, got, want)
		}
	}
}

// The targets of the config file's sync section open as their subcommands would with no flag (the file's keys, the
// flags' bounds, the per-tenant token files), for --then-sync and `seatlake check`; each refusal is a usage error
// naming the key or the fix.
func TestSyncSectionTargets(t *testing.T) {
	dir := t.TempDir()
	pw := writeSecret(t, dir, "pw", "pw")
	section := func(yml string) map[string]*yaml.Node {
		var n yaml.Node
		if err := yaml.Unmarshal([]byte(yml), &n); err != nil {
			t.Fatal(err)
		}
		out := map[string]*yaml.Node{}
		for i := 0; i+1 < len(n.Content[0].Content); i += 2 {
			out[n.Content[0].Content[i].Value] = n.Content[0].Content[i+1]
		}
		return out
	}
	two := []tenantFile{{Name: "contoso", TenantID: "t1"}, {Name: "fabrikam", TenantID: "t2"}}
	for _, tc := range []struct {
		name    string
		fc      *fileConfig
		targets int
		want    string // "" when they open
	}{
		{"none", nil, 0, ""},
		{"servicenow", &fileConfig{sync: section("servicenow: {instance-url: 'https://x.service-now.com', user: u, password-file: " + pw + "}")}, 1, ""},
		{"out of bounds", &fileConfig{path: "f.yaml", sync: section("servicenow: {instance-url: 'https://x.service-now.com', batch-size: '300'}")}, 0,
			"sync servicenow: --batch-size 300: want 1 to 200"},
		{"not a number", &fileConfig{path: "f.yaml", sync: section("jsm-assets: {chunk-size: many}")}, 0, `--config f.yaml: key "sync.jsm-assets.chunk-size": "many"`},
		{"one import source", &fileConfig{tenants: two, sync: section("jsm-assets: {token-file: " + pw + "}")}, 0,
			"sync.jsm-assets: tenants contoso and fabrikam would share one Assets import source"},
		{"their own import sources", &fileConfig{tenants: []tenantFile{{Name: "contoso", TenantID: "t1", Sources: map[string][]string{"jsm-assets-token-file": {writeSecret(t, dir, "a", "token-a")}}},
			{Name: "fabrikam", TenantID: "t2", Sources: map[string][]string{"jsm-assets-token-file": {writeSecret(t, dir, "b", "token-b")}}}}, sync: section("jsm-assets: {url: 'https://assets.example'}")}, 1, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := sectionTargets(tc.fc, nil)
			var ee *exitError
			switch {
			case tc.want == "" && (err != nil || len(got) != tc.targets):
				t.Errorf("%d targets, %v; want %d", len(got), err, tc.targets)
			case tc.want != "" && (!errors.As(err, &ee) || ee.code != exitUsage || !strings.Contains(err.Error(), tc.want)):
				t.Errorf("%v; want a usage error naming %q", err, tc.want)
			}
		})
	}
	if _, err := sectionTarget("jira", nil, nil, false, nil); err == nil || !strings.Contains(err.Error(), `sync target "jira": want jsm-assets or servicenow`) {
		t.Errorf("an unknown target: %v", err)
	}
}
