package rules

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

func TestDefaultMapsEverySKUOfTheReference(t *testing.T) {
	r := Default()
	owner := map[string]string{}
	for _, p := range r.Products {
		for _, s := range p.SKUs {
			owner[s] = p.ID
		}
	}
	// The SKUs the reference's table names, each with the product it is.
	for sku, want := range map[string]string{
		"DYN365_ENTERPRISE_SALES": "dynamics-365-sales", "DYN365_ENTERPRISE_CUSTOMER_SERVICE": "dynamics-365-customer-service",
		"DYN365_ENTERPRISE_SALES_CUSTOMERSERVICE": "dynamics-365-customer-engagement", "DYN365_ENTERPRISE_PLAN1": "dynamics-365-customer-engagement",
		"DYN365_ENTERPRISE_TEAM_MEMBERS": "dynamics-365-team-members", "DYN365_TEAM_MEMBERS": "dynamics-365-team-members",
		"Dynamics_365_for_Operations": "dynamics-365-finance-operations", "DYN365_FINANCIALS_BUSINESS_SKU": "dynamics-365-finance-operations",
		"CRMSTANDARD": "dynamics-365-customer-engagement", "CRMPLAN2": "dynamics-365-customer-engagement", "POWERAPPS_PER_USER": "power-apps",
		"FLOW_FREE": "power-automate", "ENTERPRISEPREMIUM": "microsoft-365", "ENTERPRISEPACK": "microsoft-365", "SPE_E3": "microsoft-365",
		"SPE_E5": "microsoft-365", "AAD_PREMIUM": "entra-id", "AAD_PREMIUM_P2": "entra-id",
	} {
		if owner[sku] != want {
			t.Errorf("%s is product %q, want %q", sku, owner[sku], want)
		}
	}
	if r.ThresholdDays != 60 {
		t.Errorf("default threshold %d, want 60", r.ThresholdDays)
	}
}

func TestApplyAndItsErrors(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "prices.csv"), []byte("\ufeffsku_part_number,monthly_price,currency\nSPE_E3,36.5,EUR\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "products.yaml"), []byte("products:\n  - id: x\n    skus: [A]\n    evidense: [dataverse]\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "bad-prices.csv"), []byte("sku_part_number,monthly_price,currency\nSPE_E3,cheap,EUR\n"), 0o644)
	for _, tc := range []struct {
		name, yaml, err string
		check           func(*testing.T, *Rules)
	}{
		{name: "overrides", yaml: "threshold-days: 30\nproduct-thresholds: {dynamics-365-sales: 90}\nexclude: {users: [a@b.c], upn-regex: '^svc-'}\nprices: prices.csv\n",
			check: func(t *testing.T, r *Rules) {
				if r.ThresholdDays != 30 || r.Exclude.UPNRegex != "^svc-" || len(r.Exclude.Users) != 1 || len(r.Prices) != 1 || r.Prices[0].Monthly != 36.5 {
					t.Errorf("rules not applied: %+v", r)
				}
				for _, p := range r.Products {
					if p.ID == "dynamics-365-sales" && p.ThresholdDays != 90 {
						t.Errorf("sales threshold %d", p.ThresholdDays)
					}
				}
			}},
		{name: "unknown key", yaml: "treshold-days: 30\n", err: `unknown key "treshold-days" under rules (line 1), did you mean "threshold-days"?`},
		{name: "a nested unknown key", yaml: "exclude:\n  user: [a@b.c]\n", err: `unknown key "user" under rules.exclude (line 2), did you mean "users"?`},
		{name: "not true or false", yaml: "exclude:\n  dataverse-non-interactive: maybe\n", err: `key "rules.exclude.dataverse-non-interactive" (line 2): "maybe": want true or false`},
		{name: "not a number", yaml: "threshold-days: soon\n", err: `key "rules.threshold-days" (line 1): "soon": want a whole number`},
		{name: "not a list", yaml: "exclude: {groups: g1}\n", err: `key "rules.exclude.groups" (line 1): want a list, e.g. [a, b], not a value`},
		{name: "products file", yaml: "products-file: products.yaml\n", err: `products-file products.yaml: unknown key "evidense" under products[0] (line 4), did you mean "evidence"?`},
		{name: "unknown product", yaml: "product-thresholds: {dynamics-sales: 90}\n", err: `no product "dynamics-sales"`},
		{name: "threshold out of range", yaml: "threshold-days: 0\n", err: "threshold-days 0"},
		{name: "bad regex", yaml: "exclude: {upn-regex: '('}\n", err: "exclude.upn-regex"},
		{name: "bad price", yaml: "prices: bad-prices.csv\n", err: `line 2: monthly_price "cheap"`},
		{name: "missing prices file", yaml: "prices: nope.csv\n", err: "no such file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var n yaml.Node
			if err := yaml.Unmarshal([]byte(tc.yaml), &n); err != nil {
				t.Fatal(err)
			}
			r, err := Default().Apply(n.Content[0], dir)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("error %v, want one containing %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tc.check(t, r)
		})
	}
}

func TestValidateNamesTheProduct(t *testing.T) {
	r := Default()
	r.Products = append(r.Products, Product{ID: "x", Name: "X", SKUs: []string{"SPE_E3"}, Evidence: []string{"telepathy"}})
	err := r.Validate()
	for _, want := range []string{"product x: SKU SPE_E3 is already product microsoft-365", `product x: unknown evidence "telepathy"`} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v lacks %q", err, want)
		}
	}
}

func TestExamplePricesAreMarked(t *testing.T) {
	r := Default().WithExamplePrices()
	if len(r.Prices) < 10 || !strings.Contains(r.PricesSource, "example") {
		t.Errorf("example prices: %d rows from %q", len(r.Prices), r.PricesSource)
	}
	if !strings.Contains(string(examplePrices), "EXAMPLE PRICE") {
		t.Error("the example price list does not say its prices are examples")
	}
}
