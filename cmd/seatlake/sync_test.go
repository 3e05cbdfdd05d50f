package main

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/seatlake/seatlake/internal/assetsim/jsmassets"
)

// A sync into the emulated Assets: what Assets holds afterwards equals the marts (persons, subscriptions,
// assignments, and the assignments by status); a second sync creates and changes nothing; each sync is recorded;
// a refused token fails the sync with its record, never showing the token.
func TestCLISyncJSMAssets(t *testing.T) {
	_, _, env := startSim(t, nil)
	wh := t.TempDir()
	if r := seatlake(t, env, "run", "--quiet", "--warehouse", wh); r.code != 0 {
		t.Fatalf("run: exit %d: %s", r.code, r.stderr)
	}
	assets := jsmassets.New("assets-container-token")
	srv := httptest.NewServer(assets)
	defer srv.Close()
	assets.SetBase(srv.URL)
	tokenEnv := []string{"SEATLAKE_JSM_ASSETS_TOKEN=assets-container-token"}
	users := csvRows(t, wh, "SELECT count(*) FROM graph_users")[0][0]
	// A dry run sends nothing and says what would change against the last sync: before any, everything is new.
	dry := seatlake(t, nil, "sync", "jsm-assets", "--warehouse", wh, "--url", srv.URL, "--dry-run")
	if dry.code != 0 || !strings.Contains(dry.stdout, `type="Person" would_send=`+users+` new=`+users+` changed=0 gone=0`) || len(assets.Objects()) != 0 {
		t.Fatalf("dry run before any sync: exit %d\n%s%s", dry.code, dry.stdout, dry.stderr)
	}
	for i := 0; i < 2; i++ {
		r := seatlake(t, tokenEnv, "sync", "jsm-assets", "--warehouse", wh, "--url", srv.URL, "--chunk-size", "100")
		if r.code != 0 || strings.Count(r.stdout, "status=succeeded") != 3 {
			t.Fatalf("sync %d: exit %d\n%s%s", i+1, r.code, r.stdout, r.stderr)
		}
		if i == 1 && (!strings.Contains(r.stdout, `type="Person" sent=`) || strings.Contains(r.stdout, "created=1") || !strings.Contains(r.stdout, "updated=0")) {
			t.Errorf("the second sync changed something:\n%s", r.stdout)
		}
	}
	dry = seatlake(t, nil, "sync", "jsm-assets", "--warehouse", wh, "--url", srv.URL, "--dry-run")
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
	assets.RotateToken("regenerated")
	r := seatlake(t, tokenEnv, "sync", "jsm-assets", "--warehouse", wh, "--url", srv.URL)
	if r.code != 1 || !strings.Contains(r.stderr, "refused (401)") || strings.Contains(r.stdout+r.stderr, "assets-container-token") {
		t.Errorf("a rotated token: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	rows := csvRows(t, wh, "SELECT status, coalesce(error, '') FROM syncs ORDER BY started_at")
	if len(rows) != 5 || rows[0][0] != "succeeded" || rows[2][0] != "succeeded" || rows[4][0] != "failed" || strings.Contains(rows[4][1], "assets-container-token") {
		t.Errorf("syncs: %v", rows)
	}
}

// A sync killed after it started an execution leaves that execution INGESTING (the import source RUNNING) and a
// record of it beside the syncs: the next sync cancels it, completes, and duplicates nothing. An execution that is
// not seatlake's is left alone, and the sync says why it cannot start.
func TestCLIKilledSyncIsRecoveredByTheNext(t *testing.T) {
	_, _, env := startSim(t, nil)
	wh := t.TempDir()
	if r := seatlake(t, env, "run", "--quiet", "--warehouse", wh); r.code != 0 {
		t.Fatalf("run: exit %d: %s", r.code, r.stderr)
	}
	emu := jsmassets.New("tok")
	srv := httptest.NewServer(emu)
	defer srv.Close()
	emu.SetBase(srv.URL)
	tokenEnv := []string{"SEATLAKE_JSM_ASSETS_TOKEN=tok"}
	if r := seatlake(t, tokenEnv, "sync", "jsm-assets", "--warehouse", wh, "--url", srv.URL); r.code != 0 {
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
	info := get("GET", srv.URL+"/jsm/assets/v1/imports/info", "")
	start := info["links"].(map[string]any)["start"].(string)
	started := get("POST", start, "")["links"].(map[string]any)
	get("POST", started["submitResults"].(string), `{"data":{"persons":[{"id":"half-sent"}]}}`)
	tenant := csvRows(t, wh, "SELECT DISTINCT tenant_id FROM graph_users")[0][0]
	marker := filepath.Join(wh, "syncs", "tenant="+tenant, ".jsm-assets-execution")

	os.Remove(marker) // not ours: the sync must not cancel someone else's import
	if r := seatlake(t, tokenEnv, "sync", "jsm-assets", "--warehouse", wh, "--url", srv.URL); r.code != 1 || !strings.Contains(r.stderr, "RUNNING") {
		t.Errorf("an import that is not ours: exit %d, %s", r.code, r.stderr)
	}
	os.WriteFile(marker, []byte(started["cancel"].(string)+"\n"), 0o640) // ours, as the killed sync recorded it
	r := seatlake(t, tokenEnv, "sync", "jsm-assets", "--warehouse", wh, "--url", srv.URL)
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
