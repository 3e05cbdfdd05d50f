package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestCLISyncsCarryProductNames: after a run against the simulator, both syncs carry Microsoft's product names
// from the shipped list (SPE_E3 is "Microsoft 365 E3" in Assets and in ServiceNow, on the subscription and on each
// assignment), and every under-licensed F&O user's assignment shows it: under-licensed, the required license, the
// action "assign <tier>" and the true-up, as license_usage has them.
func TestCLISyncsCarryProductNames(t *testing.T) {
	wh, _ := ranWarehouse(t)
	emu, asrvURL := startJSMAssets(t, "tok")
	if r := seatlake(t, []string{"SEATLAKE_JSM_ASSETS_TOKEN=tok"}, "sync", "jsm-assets", "--warehouse", wh, "--url", asrvURL); r.code != 0 {
		t.Fatalf("Assets sync: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	sn, snURL := startServiceNow(t, "pw", "c", "s")
	pw := filepath.Join(t.TempDir(), "pw")
	os.WriteFile(pw, []byte("pw"), 0o600)
	if r := seatlake(t, nil, "sync", "servicenow", "--warehouse", wh, "--instance-url", snURL, "--user", "seatlake.integration", "--password-file", pw); r.code != 0 {
		t.Fatalf("ServiceNow sync: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	tenant := csvRows(t, wh, "SELECT DISTINCT tenant_id FROM graph_users")[0][0]

	assets := map[string]map[string]string{}
	for _, typ := range []string{"Subscription", "License Assignment"} {
		for _, o := range emu.Objects()[typ] {
			assets[o.Identity] = o.Attributes
		}
	}
	snow := map[string]map[string]string{}
	for _, target := range []string{"u_m365_subscription", "u_m365_license"} {
		for _, r := range sn.Held().Targets[target] {
			snow[r.Values["u_external_id"]] = r.Values
		}
	}
	// Subscriptions: every product name is license_position's, and SPE_E3 is Microsoft's name for it.
	e3 := ""
	for _, row := range csvRows(t, wh, "SELECT sku_id, sku_part_number, product_display_name FROM license_position WHERE kind = 'sku'") {
		if assets[row[0]]["Product name"] != row[2] || snow[tenant+":"+row[0]]["u_product_name"] != row[2] {
			t.Errorf("%s: Assets %q, ServiceNow %q, license_position %q", row[1], assets[row[0]]["Product name"], snow[tenant+":"+row[0]]["u_product_name"], row[2])
		}
		if row[1] == "SPE_E3" {
			e3 = row[2]
		}
	}
	if e3 != "Microsoft 365 E3" {
		t.Errorf("SPE_E3's product name is %q, want Microsoft's \"Microsoft 365 E3\" from the shipped list", e3)
	}
	// Assignments: the product name, and for under-licensed users what to do and what it costs.
	rows := csvRows(t, wh, `SELECT user_id, sku_id, product_display_name, under_licensed, coalesce(required_license, ''),
		coalesce(true_up_monthly_cost, 0), coalesce(action, 'none') FROM license_usage`)
	under := 0
	for _, row := range rows {
		a, s := assets[row[0]+" "+row[1]], snow[row[0]+":"+row[1]]
		if a["Product name"] != row[2] || s["u_product_name"] != row[2] || a["Action"] != row[6] || s["u_action"] != row[6] {
			t.Errorf("assignment %s %s: Assets %v, ServiceNow %v, license_usage %v", row[0], row[1], a, s, row)
			continue
		}
		if row[3] != "true" {
			continue
		}
		under++
		if !strings.HasPrefix(row[6], "assign ") || a["Under-licensed"] != "true" || s["u_under_licensed"] != "true" ||
			a["Required license"] != row[4] || s["u_required_license"] != row[4] || a["True-up monthly cost"] != row[5] || s["u_true_up_monthly_cost"] != row[5] {
			t.Errorf("under-licensed assignment %s %s: Assets %v, ServiceNow %v, license_usage %v", row[0], row[1], a, s, row)
		}
	}
	if under == 0 {
		t.Error("the simulated tenant has no under-licensed F&O user: the test proves nothing")
	}
}
