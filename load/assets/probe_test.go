package assets

import (
	"context"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/seatlake/seatlake/internal/assetsim/servicenow"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

// What `seatlake check` shows for a ServiceNow instance, line by line, in each state an instance can be in: the
// credentials (basic auth, the OAuth grant off or on), read access to the import set tables, and the column mapping
// under labels and under names, with and without REST Insert Multiples entries and access to read them. The lines
// are in testdata/probe_servicenow.golden (-update rewrites it).
func TestProbeServiceNowLines(t *testing.T) {
	byNames := func(n int) func(*servicenow.Server) {
		return func(s *servicenow.Server) {
			for _, tr := range servicenow.DefaultTransforms()[:n] {
				s.SetInsertMultiple(tr.Staging, servicenow.InsertMultipleEntry{ColumnNames: true})
			}
		}
	}
	deny := func(table string) func(*servicenow.Server) { return func(s *servicenow.Server) { s.DenyRead(table) } }
	oauth := func(on bool) func(*servicenow.Server) {
		return func(s *servicenow.Server) { s.SetClientCredentials(on, "seatlake.integration") }
	}
	type scenario struct {
		name    string
		setup   []func(*servicenow.Server)
		config  func(*ServiceNowConfig)
		mapping string
	}
	oauthConfig := func(c *ServiceNowConfig) { c.User, c.Password, c.ClientID, c.ClientSecret = "", "", "client", "secret" }
	scenarios := []scenario{
		{name: "labels, all readable"},
		{name: "no instance URL", config: func(c *ServiceNowConfig) { c.InstanceURL = "" }},
		{name: "wrong password", config: func(c *ServiceNowConfig) { c.Password = "nope" }},
		{name: "OAuth grant off", config: oauthConfig},
		{name: "OAuth grant on", setup: []func(*servicenow.Server){oauth(true)}, config: oauthConfig},
		{name: "sys_import_set unreadable", setup: []func(*servicenow.Server){deny("sys_import_set")}},
		{name: "a staging table unreadable", setup: []func(*servicenow.Server){deny(DefaultStagingTables.Subscription), deny(DefaultStagingTables.License)}},
		{name: "labels, an entry", setup: []func(*servicenow.Server){byNames(1)}},
		{name: "labels, entries unreadable", setup: []func(*servicenow.Server){deny("sys_rest_insert_multiple")}},
		{name: "labels, dictionary unreadable", setup: []func(*servicenow.Server){deny("sys_dictionary")}},
		{name: "names, no entry", mapping: ColumnNames},
		{name: "names, one entry", setup: []func(*servicenow.Server){byNames(1)}, mapping: ColumnNames},
		{name: "names, an entry per table", setup: []func(*servicenow.Server){byNames(3)}, mapping: ColumnNames},
		{name: "names, entries unreadable", setup: []func(*servicenow.Server){deny("sys_rest_insert_multiple")}, mapping: ColumnNames},
	}
	type lines struct {
		Scenario string
		Lines    []ProbeResult
	}
	var got []lines
	for _, sc := range scenarios {
		_, cfg := snInstance(t, func(s *servicenow.Server) {
			for _, f := range sc.setup {
				f(s)
			}
		})
		base := cfg.InstanceURL
		cfg.ColumnMapping = sc.mapping
		if sc.config != nil {
			sc.config(&cfg)
		}
		probe := ProbeServiceNow(context.Background(), cfg)
		for i := range probe {
			probe[i].Detail = strings.ReplaceAll(probe[i].Detail, base, "BASE")
		}
		got = append(got, lines{sc.name, probe})
	}
	b, _ := json.MarshalIndent(got, "", "  ")
	path := filepath.Join("testdata", "probe_servicenow.golden")
	if *update {
		if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if string(b)+"\n" != string(want) {
		t.Errorf("the probe's lines differ from %s (-update rewrites it):\n%s", path, b)
	}
}
