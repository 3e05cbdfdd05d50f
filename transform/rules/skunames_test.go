package rules

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// Every SKU seatlake names somewhere (the default rules' products, tiers and downgrades, the example price list,
// the tenant simulator's catalog) has Microsoft's product name in the shipped copy, each GUID once and well formed.
func TestShippedSKUNamesCoverWhatSeatlakeUses(t *testing.T) {
	names := map[string]SKUName{}
	ids := map[string]string{}
	guid := regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)
	for _, n := range ShippedSKUNames() {
		if _, dup := names[n.PartNumber]; dup {
			t.Errorf("%s is listed twice", n.PartNumber)
		}
		names[n.PartNumber] = n
		if !guid.MatchString(n.SkuID) {
			t.Errorf("%s: GUID %q is not a lower-case GUID", n.PartNumber, n.SkuID)
		}
		if other, dup := ids[n.SkuID]; dup {
			t.Errorf("%s and %s share the GUID %s", n.PartNumber, other, n.SkuID)
		}
		ids[n.SkuID] = n.PartNumber
	}
	need := map[string]string{}
	r := Default().WithExamplePrices()
	for _, p := range r.Products {
		for _, s := range p.SKUs {
			need[s] = "product " + p.ID
		}
		if p.DowngradeSKU != "" {
			need[p.DowngradeSKU] = "downgrade of " + p.ID
		}
	}
	for _, tier := range r.FinOpsTiers {
		if tier.SKU != "" {
			need[tier.SKU] = "F&O tier " + tier.Tier
		}
	}
	for _, p := range r.Prices {
		if !strings.HasPrefix(p.SKU, "finops:") {
			need[p.SKU] = "prices.example.csv"
		}
	}
	// The simulator's catalog, read as text: transform does not import the simulator.
	src, err := os.ReadFile(filepath.Join("..", "..", "internal", "tenantsim", "model", "catalog.go"))
	if err != nil {
		t.Fatal(err)
	}
	sim := regexp.MustCompile(`Part: "([^"]+)", ID: "([^"]+)"`).FindAllStringSubmatch(string(src), -1)
	if len(sim) < 10 {
		t.Fatalf("found %d SKUs in the simulator's catalog: has its layout changed?", len(sim))
	}
	for _, m := range sim {
		need[m[1]] = "the simulator"
		if n, ok := names[m[1]]; ok && n.SkuID != m[2] {
			t.Errorf("%s: the simulator's skuId %s, Microsoft's list %s", m[1], m[2], n.SkuID)
		}
	}
	for part, by := range need {
		if _, ok := names[part]; !ok && part != "DYN365_SALES_PRO" { // not in Microsoft's list (a legacy part number)
			t.Errorf("%s (used by %s) has no product name in skunames.csv", part, by)
		}
	}
}

func TestReadSKUNames(t *testing.T) {
	// Microsoft's file: one row per service plan, a BOM, Windows-1252 with a no-break space after a name, tabs.
	full := "\ufeffProduct_Display_Name,String_Id,GUID,Service_Plan_Name,Service_Plan_Id,Service_Plans_Included_Friendly_Names\r\n" +
		"Office 365 E3,ENTERPRISEPACK,6fd2c87f-b296-42f0-b197-1e91e994b900,EXCHANGE_S_ENTERPRISE,efb87545-963c-4e0d-99df-69c6916d9eb0,Exchange Online (Plan 2)\r\n" +
		"Office 365 E3,ENTERPRISEPACK,6fd2c87f-b296-42f0-b197-1e91e994b900,TEAMS1,57ff2da0-773e-42df-b2af-ffb7a2317929,Microsoft Teams\r\n" +
		"\"Dynamics 365 for Customer Service Enterprise Edition\xa0\",\tDYN365_ENTERPRISE_CUSTOMER_SERVICE ,749742BF-0D37-4158-A120-33567104DEEB,X,Y,Z\r\n"
	got, err := ReadSKUNames(strings.NewReader(full))
	if err != nil {
		t.Fatal(err)
	}
	want := []SKUName{{"ENTERPRISEPACK", "6fd2c87f-b296-42f0-b197-1e91e994b900", "Office 365 E3"},
		{"DYN365_ENTERPRISE_CUSTOMER_SERVICE", "749742bf-0d37-4158-a120-33567104deeb", "Dynamics 365 for Customer Service Enterprise Edition"}}
	if len(got) != len(want) || got[0] != want[0] || got[1] != want[1] {
		t.Errorf("got %q, want %q", got, want)
	}
	// The shipped subset: comment lines, then the first three columns.
	if _, err := ReadSKUNames(bytes.NewReader(shippedSKUNames)); err != nil {
		t.Errorf("skunames.csv: %v", err)
	}
	for _, tc := range []struct{ name, in, err string }{
		{"not the file", "sku,name\nA,B\n", "no column Product_Display_Name, String_Id, GUID"},
		{"a row without a name", "Product_Display_Name,String_Id,GUID\n,SPE_E3,05e9a617-0261-4cee-bb44-138d3ef5d965\n", "line 2: want a Product_Display_Name"},
		{"empty", "", "empty"},
		{"header only", "Product_Display_Name,String_Id,GUID\n", "lists no SKU"},
	} {
		if _, err := ReadSKUNames(strings.NewReader(tc.in)); err == nil || !strings.Contains(err.Error(), tc.err) {
			t.Errorf("%s: error %v, want one containing %q", tc.name, err, tc.err)
		}
	}
}

// The config file renames a SKU (sku-names) or replaces the whole list (sku-names-file); the rename wins.
func TestSKUNamesFromTheConfig(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "names.csv"), []byte("Product_Display_Name,String_Id,GUID\nM365 E3 (downloaded),SPE_E3,05e9a617-0261-4cee-bb44-138d3ef5d965\n"+
		"Office E3 (downloaded),ENTERPRISEPACK,6fd2c87f-b296-42f0-b197-1e91e994b900\n"), 0o644)
	apply := func(t *testing.T, src string) (*Rules, error) {
		var n yaml.Node
		if err := yaml.Unmarshal([]byte(src), &n); err != nil {
			t.Fatal(err)
		}
		return Default().Apply(n.Content[0], dir)
	}
	d := Default().DisplayNames()
	if d["SPE_E3"] != "Microsoft 365 E3" || d["DYN365_ENTERPRISE_CUSTOMER_SERVICE"] != "Dynamics 365 for Customer Service Enterprise Edition" {
		t.Errorf("default names: SPE_E3 %q, DYN365_ENTERPRISE_CUSTOMER_SERVICE %q", d["SPE_E3"], d["DYN365_ENTERPRISE_CUSTOMER_SERVICE"])
	}
	r, err := apply(t, "sku-names: {DYN365_TEAM_MEMBERS: Dynamics 365 Team Members, CONTOSO_LAB: Lab licence}\nsku-names-file: names.csv\n")
	if err != nil {
		t.Fatal(err)
	}
	got := r.DisplayNames()
	for part, want := range map[string]string{"DYN365_TEAM_MEMBERS": "Dynamics 365 Team Members", "CONTOSO_LAB": "Lab licence",
		"SPE_E3": "M365 E3 (downloaded)", "ENTERPRISEPACK": "Office E3 (downloaded)"} {
		if got[part] != want {
			t.Errorf("%s is named %q, want %q", part, got[part], want)
		}
	}
	if _, ok := got["DYN365_ENTERPRISE_SALES"]; ok || r.SKUNamesSource != "names.csv" {
		t.Errorf("sku-names-file did not replace the shipped list (source %q)", r.SKUNamesSource)
	}
	if Default().NameOverrides["CONTOSO_LAB"] != "" {
		t.Error("Apply changed the defaults' sku-names")
	}
	for _, tc := range []struct{ yaml, err string }{
		{"sku-names: {SPE_E3: ''}\n", `sku-names: "SPE_E3": ""`},
		{"sku-names-file: nope.csv\n", "sku-names-file"},
	} {
		if _, err := apply(t, tc.yaml); err == nil || !strings.Contains(err.Error(), tc.err) {
			t.Errorf("%q: error %v, want one containing %q", tc.yaml, err, tc.err)
		}
	}
	// A refreshed list (the download of SKUNamesURL) replaces the shipped one; the config's names still win.
	w := r.WithSKUNames([]SKUName{{"SPE_E3", "05e9a617-0261-4cee-bb44-138d3ef5d965", "Microsoft 365 E3 (fresh)"}}, SKUNamesURL)
	if n := w.DisplayNames(); n["SPE_E3"] != "Microsoft 365 E3 (fresh)" || n["DYN365_TEAM_MEMBERS"] != "Dynamics 365 Team Members" {
		t.Errorf("after WithSKUNames: %v", n)
	}
}
