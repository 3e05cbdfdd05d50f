package main

import (
	"os"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/seatlake/seatlake/pipelines"
)

// The example config file documents every key: each registered source's setting appears in it, at the top level
// or (per tenant) in a tenant's entry, and every key it has is one seatlake reads.
func TestExampleConfigNamesEverySourceSetting(t *testing.T) {
	raw, err := os.ReadFile("../../seatlake.example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		t.Fatalf("seatlake.example.yaml is not YAML: %v", err)
	}
	keys := map[string]bool{}
	for k := range doc {
		keys[k] = true
	}
	tenantKeysSeen := map[string]bool{}
	for _, e := range doc["tenants"].([]any) {
		for k := range e.(map[string]any) {
			tenantKeysSeen[k] = true
		}
	}
	for _, s := range pipelines.Settings() {
		if !keys[s.Key] && !(s.PerTenant && tenantKeysSeen[s.InTenant()]) {
			t.Errorf("seatlake.example.yaml does not show the setting %s (a top-level key, or %s in a tenant's entry)", s.Key, s.InTenant())
		}
	}
	for k := range keys {
		if !isRunFlag(k) && k != "tenants" && k != "rules" && k != "sync" && k != "events" {
			t.Errorf("seatlake.example.yaml has the top-level key %s, which no flag of seatlake run takes", k)
		}
	}
	known := allTenantKeys()
	for k := range tenantKeysSeen {
		found := false
		for _, kk := range known {
			found = found || kk == k
		}
		if !found {
			t.Errorf("seatlake.example.yaml has the tenant key %s, which a tenant entry may not have", k)
		}
	}
}
