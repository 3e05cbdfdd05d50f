package main

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/seatlake/seatlake/internal/tenantsim"
)

// fullTruth reads the whole /_sim/truth document (roots: the simulator's CA when it serves https).
func fullTruth(t *testing.T, base string, roots ...*x509.CertPool) tenantsim.Truth {
	t.Helper()
	hc := http.DefaultClient
	if len(roots) > 0 {
		hc = &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots[0]}}}
	}
	resp, err := hc.Get(base + "/_sim/truth")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var tr tenantsim.Truth
	if err := json.NewDecoder(resp.Body).Decode(&tr); err != nil {
		t.Fatal(err)
	}
	return tr
}

// queryRows runs a query through the CLI and returns its JSON rows.
func queryRows(t *testing.T, wh, sql string) []map[string]any {
	t.Helper()
	r := seatlake(t, nil, "query", "--warehouse", wh, "--format", "json", sql)
	if r.code != 0 {
		t.Fatalf("query %q: exit %d: %s", sql, r.code, r.stderr)
	}
	var rows []map[string]any
	if err := json.Unmarshal([]byte(r.stdout), &rows); err != nil {
		t.Fatalf("query %q: %v\n%s", sql, err, r.stdout)
	}
	return rows
}

func TestCLIIdentitiesAndEnvironmentsMatchTruth(t *testing.T) {
	sim, base, env := startSim(t, func(c *tenantsim.Config) { c.Users = 600; c.DataverseEnvs = 2 })
	wh := t.TempDir()
	r := seatlake(t, env, "run", "--warehouse", wh)
	if r.code != 0 {
		t.Fatalf("run: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	tr := fullTruth(t, base)
	// The summary has a block per environment with its rows per table.
	for _, u := range append(sim.DataverseURLs(), sim.FinOpsURLs()...) {
		if !strings.Contains(r.stdout, "environment "+u+"\n") {
			t.Errorf("summary lacks environment %s:\n%s", u, r.stdout)
		}
	}
	for u, tables := range tr.Environments {
		for table, want := range tables {
			rows := queryRows(t, wh, fmt.Sprintf("SELECT count(*) AS n FROM %s WHERE environment_url = '%s'", table, u))
			if got := int64(rows[0]["n"].(float64)); got != want {
				t.Errorf("%s in %s: %d rows, truth %d", table, u, got, want)
			}
		}
	}
	got := map[string]int64{}
	for _, row := range queryRows(t, wh, "SELECT coalesce(match_method, unmatched_reason) AS how, count(*) AS n FROM identities WHERE source <> 'entra' GROUP BY ALL") {
		got[row["how"].(string)] = int64(row["n"].(float64))
	}
	want := map[string]int64{}
	for k, v := range tr.Identities.ByMethod {
		want[k] = v
	}
	for k, v := range tr.Identities.ByReason {
		want[k] = v
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("identities by method and reason:\n got  %v\n want %v", got, want)
	}
	persons := queryRows(t, wh, "SELECT count(DISTINCT person_id) AS n FROM identities")
	if int64(persons[0]["n"].(float64)) != tr.Identities.Persons {
		t.Errorf("persons: %v, truth %d", persons[0]["n"], tr.Identities.Persons)
	}
	// A conflict is reported, never guessed: no Entra user on it, and the detail names the shared address.
	for _, row := range queryRows(t, wh, "SELECT entra_user_id, detail FROM identities WHERE unmatched_reason = 'conflict'") {
		if row["entra_user_id"] != nil || !strings.Contains(fmt.Sprint(row["detail"]), "belongs to 2 Entra users") {
			t.Errorf("conflict row: %v", row)
		}
	}
	// The run row records the environments.
	runs := queryRows(t, wh, "SELECT environments_json FROM runs")
	if len(runs) != 1 || !strings.Contains(fmt.Sprint(runs[0]["environments_json"]), "dataverse_audits") {
		t.Errorf("runs.environments_json: %v", runs)
	}
}

func writeSecret(t *testing.T, dir, name, secret string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(secret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func tenantYAML(name string, sim *tenantsim.Sim, base, secretFile string) string {
	tenant, client, _ := sim.Credentials()
	return fmt.Sprintf("  - name: %s\n    tenant-id: %s\n    client-id: %s\n    client-secret-file: %s\n    authority-host: %s\n    graph-endpoint: %s\n    dataverse: [%s]\n    finops: [%s]\n",
		name, tenant, client, secretFile, base, base, strings.Join(sim.DataverseURLs(), ", "), strings.Join(sim.FinOpsURLs(), ", "))
}

func TestCLITwoTenantsOneFailing(t *testing.T) {
	simA, baseA, secretA := startSeeded(t, 11)
	simB, baseB, secretB := startSeeded(t, 12)
	dir := t.TempDir()
	fileA := writeSecret(t, dir, "a", secretA)
	fileB := writeSecret(t, dir, "b", "not-the-secret")
	wh := filepath.Join(dir, "wh")
	cfg := filepath.Join(dir, "seatlake.yaml")
	os.WriteFile(cfg, []byte("warehouse: "+wh+"\ntenants:\n"+tenantYAML("alpha", simA, baseA, fileA)+tenantYAML("beta", simB, baseB, fileB)), 0o600)

	r := seatlake(t, nil, "run", "--config", cfg)
	if r.code != exitFailed || !strings.Contains(r.stderr, "tenant beta") || !strings.Contains(r.stderr, "AADSTS7000215") {
		t.Fatalf("one tenant with a wrong secret: exit %d, stderr %q", r.code, r.stderr)
	}
	if !strings.Contains(r.stdout, "tenant alpha") || !strings.Contains(r.stdout, "tenant beta") {
		t.Errorf("the summary should list each tenant:\n%s", r.stdout)
	}
	tenantA, _, _ := simA.Credentials()
	tenantB, _, _ := simB.Credentials()
	for table, want := range fullTruth(t, baseA).Tables {
		rows := queryRows(t, wh, fmt.Sprintf("SELECT count(*) AS n FROM %s WHERE tenant_id = '%s'", table, tenantA))
		if got := int64(rows[0]["n"].(float64)); got != want {
			t.Errorf("alpha %s: %d rows, truth %d", table, got, want)
		}
	}
	statuses := queryRows(t, wh, "SELECT tenant_id, status FROM runs ORDER BY status")
	if len(statuses) != 2 || statuses[0]["status"] != "failed" || statuses[0]["tenant_id"] != tenantB || statuses[1]["status"] != "succeeded" {
		t.Errorf("runs rows: %v", statuses)
	}

	// The failed one alone, once its secret is right.
	writeSecret(t, dir, "b", secretB)
	r = seatlake(t, nil, "run", "--config", cfg, "--tenant", "beta")
	if r.code != 0 || strings.Contains(r.stdout, "tenant alpha") {
		t.Fatalf("--tenant beta: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	for table, want := range fullTruth(t, baseB).Tables {
		rows := queryRows(t, wh, fmt.Sprintf("SELECT count(*) AS n FROM %s WHERE tenant_id = '%s'", table, tenantB))
		if got := int64(rows[0]["n"].(float64)); got != want {
			t.Errorf("beta %s: %d rows, truth %d", table, got, want)
		}
	}
}

func TestCLIConfigErrorsNameTenantAndKey(t *testing.T) {
	dir := t.TempDir()
	secret := writeSecret(t, dir, "s", "x")
	good := "  - name: contoso\n    tenant-id: 72f988bf-86f1-41af-91ab-2d7cd011db47\n    client-id: 535fb089-9ff3-47b6-9bfb-4f1264799865\n    client-secret-file: " + secret + "\n"
	cases := []struct {
		name, yaml string
		args       []string
		want       []string
	}{
		{"misspelled top key", "warehose: /tmp/x\n", nil, []string{`unknown key "warehose"`, `did you mean "warehouse"`}},
		{"unknown tenant key", "tenants:\n" + good + "    dataverze: [https://contoso.crm.dynamics.com]\n", nil, []string{`tenant "contoso"`, `unknown key "dataverze"`, `did you mean "dataverse"`}},
		{"missing tenant id", "tenants:\n  - name: fabrikam\n    client-id: x\n    client-secret-file: " + secret + "\n", nil, []string{`tenant "fabrikam"`, "tenant-id: missing"}},
		{"no name", "tenants:\n  - tenant-id: x\n", nil, []string{"tenants[0]", "name: missing"}},
		{"unknown cloud", "tenants:\n" + good + "    cloud: mars\n", nil, []string{`tenant "contoso"`, `cloud: "mars"`, "usgov-high"}},
		{"a secret value", "tenants:\n" + good + "    client-secret: hunter2\n", nil, []string{`tenant "contoso"`, "never goes in the file"}},
		{"plain http environment", "tenants:\n" + good + "    dataverse: [http://contoso.crm.dynamics.com]\n", nil, []string{`tenant "contoso"`, "dataverse: http://contoso.crm.dynamics.com"}},
		{"two tenants one name", "tenants:\n" + good + good, nil, []string{`tenant "contoso"`, "used by two tenants"}},
		{"unknown --tenant", "tenants:\n" + good, []string{"--tenant", "fabrikam"}, []string{`--tenant "fabrikam"`, "contoso"}},
		{"missing secret file", "tenants:\n  - name: contoso\n    tenant-id: x\n    client-id: y\n    client-secret-file: " + filepath.Join(dir, "nope") + "\n", nil, []string{`tenant "contoso"`, "client-secret-file"}},
		{"not a list", "tenants: contoso\n", nil, []string{"tenants", "want a list"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := filepath.Join(dir, "c.yaml")
			os.WriteFile(cfg, []byte(tc.yaml), 0o600)
			r := seatlake(t, nil, append([]string{"run", "--config", cfg, "--warehouse", filepath.Join(dir, "wh")}, tc.args...)...)
			if r.code != exitUsage {
				t.Fatalf("exit %d, want 2; stderr %q", r.code, r.stderr)
			}
			if n := strings.Count(strings.TrimSpace(r.stderr), "\n"); n != 0 {
				t.Errorf("want one line, got %d:\n%s", n+1, r.stderr)
			}
			for _, w := range tc.want {
				if !strings.Contains(r.stderr, w) {
					t.Errorf("stderr %q lacks %q", r.stderr, w)
				}
			}
			if _, err := os.Stat(filepath.Join(dir, "wh")); err == nil {
				t.Errorf("a configuration error created the warehouse: validation must come before anything else")
			}
		})
	}
}

// TestCLIRunOverTLS: `seatlake sim --tls` style, the run trusts the simulator's CA through SSL_CERT_FILE (Go's
// standard way to name the trusted roots) and lands what the truth says.
func TestCLIRunOverTLS(t *testing.T) {
	sim, base, env := startSim(t, func(c *tenantsim.Config) { c.TLS = true })
	if !strings.HasPrefix(base, "https://") {
		t.Fatalf("base %s", base)
	}
	ca := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(ca, sim.CAPEM(), 0o644); err != nil {
		t.Fatal(err)
	}
	wh := t.TempDir()
	if r := seatlake(t, env, "run", "--warehouse", wh); r.code != exitFailed || !strings.Contains(r.stderr, "certificate") {
		t.Fatalf("without the CA: exit %d, stderr %q: want a certificate failure", r.code, r.stderr)
	}
	r := seatlake(t, append(env, "SSL_CERT_FILE="+ca), "run", "--warehouse", wh)
	if r.code != 0 {
		t.Fatalf("with SSL_CERT_FILE: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	for table, want := range fullTruth(t, base, sim.CertPool()).Tables {
		if got := queryCount(t, wh, table); got != want {
			t.Errorf("%s: %d rows, truth %d", table, got, want)
		}
	}
}
