package assets

import (
	"context"
	"testing"
)

// underLicensed is one F&O user holding Team Members whose roles require Operations, beside a Microsoft 365 user
// whose inactivity is unknown, with Microsoft's product names (as the marts give them from the shipped list).
func underLicensed(fixed bool) Data {
	d := Data{TenantID: "t1"}
	d.Persons = []Person{{ID: "u-fo", UPN: "fo@contoso.com", DisplayName: "F O", Enabled: true}, {ID: "u-m365", UPN: "m@contoso.com", Enabled: true}}
	d.Subscriptions = []Subscription{
		{SkuID: "sku-tm", Part: "DYN365_TEAM_MEMBERS", ProductName: "Dynamics 365 Team Members", Product: "Dynamics 365 Team Members", Purchased: 5, Assigned: 1},
		{SkuID: "sku-e3", Part: "SPE_E3", ProductName: "Microsoft 365 E3", Product: "Microsoft 365", Purchased: 5, Assigned: 1},
	}
	fo := Assignment{UserID: "u-fo", SkuID: "sku-tm", ProductName: "Dynamics 365 Team Members", Status: "active", LastActivity: "2024-05-01T08:30:00Z",
		DaysInactive: ptr(int64(2)), Reason: "in use; under-licensed: the user's F&O roles require Operations", MonthlyCost: 8,
		UnderLicensed: true, RequiredLicense: "Operations", TrueUpMonthlyCost: 202, Action: "assign Operations"}
	if fixed {
		fo.UnderLicensed, fo.TrueUpMonthlyCost, fo.Action, fo.Reason = false, 0, "", "in use"
	}
	d.Assignments = []Assignment{fo, {UserID: "u-m365", SkuID: "sku-e3", ProductName: "Microsoft 365 E3", Status: "review_only",
		Reason: "no evidence source", MonthlyCost: 36}}
	return d
}

// Both syncs carry what a license manager reads: Microsoft's product name on subscriptions and assignments, and an
// under-licensed user's assignment with the required license, the action (assign Operations) and its monthly cost.
// An unknown days-inactive stays unknown (never 0). Once the gap is closed, the next sync replaces the action and the
// cost: nothing stale stays behind in either system.
func TestSyncsCarryProductNamesAndUnderLicensing(t *testing.T) {
	jsm, jcfg := emulator(t)
	sn, scfg := snInstance(t, nil)
	for _, fixed := range []bool{false, true} {
		data := underLicensed(fixed)
		if _, err := Sync(context.Background(), jcfg, data); err != nil {
			t.Fatalf("Assets sync (fixed %v): %v", fixed, err)
		}
		if _, err := SyncServiceNow(context.Background(), scfg, data); err != nil {
			t.Fatalf("ServiceNow sync (fixed %v): %v", fixed, err)
		}
		wantFO := map[string]string{"Product name": "Dynamics 365 Team Members", "Under-licensed": "true", "Required license": "Operations",
			"True-up monthly cost": "202", "Action": "assign Operations", "Days inactive": "2"}
		if fixed {
			wantFO["Under-licensed"], wantFO["True-up monthly cost"], wantFO["Action"] = "false", "0", "none"
		}
		held := map[string]map[string]string{}
		for _, typ := range []string{"Subscription", "License Assignment"} {
			for _, o := range jsm.Objects()[typ] {
				held[o.Identity] = o.Attributes
			}
		}
		for name, want := range wantFO {
			if got := held["u-fo sku-tm"][name]; got != want {
				t.Errorf("Assets (fixed %v): the F&O assignment's %s is %q, want %q", fixed, name, got, want)
			}
		}
		if got := held["sku-e3"]["Product name"]; got != "Microsoft 365 E3" {
			t.Errorf("Assets: the subscription's product name is %q", got)
		}
		if v, ok := held["u-m365 sku-e3"]["Days inactive"]; ok {
			t.Errorf("Assets: an unknown days inactive is held as %q", v)
		}
		if held["u-m365 sku-e3"]["Action"] != "none" || held["u-m365 sku-e3"]["Product name"] != "Microsoft 365 E3" {
			t.Errorf("Assets: the Microsoft 365 assignment: %v", held["u-m365 sku-e3"])
		}

		rec := map[string]map[string]string{}
		for _, target := range []string{"u_m365_subscription", "u_m365_license"} {
			for _, r := range sn.Held().Targets[target] {
				rec[r.Values["u_external_id"]] = r.Values
			}
		}
		snFO := map[string]string{"u_product_name": "Dynamics 365 Team Members", "u_under_licensed": "true", "u_required_license": "Operations",
			"u_true_up_monthly_cost": "202", "u_action": "assign Operations", "u_days_inactive": "2"}
		if fixed {
			snFO["u_under_licensed"], snFO["u_true_up_monthly_cost"], snFO["u_action"] = "false", "0", "none"
		}
		for col, want := range snFO {
			if got := rec["u-fo:sku-tm"][col]; got != want {
				t.Errorf("ServiceNow (fixed %v): the F&O license's %s is %q, want %q", fixed, col, got, want)
			}
		}
		if got := rec["t1:sku-e3"]["u_product_name"]; got != "Microsoft 365 E3" {
			t.Errorf("ServiceNow: the subscription's product name is %q", got)
		}
		if got := rec["u-m365:sku-e3"]["u_days_inactive"]; got != "" {
			t.Errorf("ServiceNow: an unknown days inactive landed as %q", got)
		}
	}
}
