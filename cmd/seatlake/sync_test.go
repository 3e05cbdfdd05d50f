package main

import (
	"net/http/httptest"
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
