package main

import (
	"encoding/csv"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/seatlake/seatlake/internal/tenantsim"
)

// usageTruth reads what /_sim/truth says the license marts must find.
func usageTruth(t *testing.T, base string) tenantsim.UsageTruth {
	t.Helper()
	resp, err := http.Get(base + "/_sim/truth")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var tr tenantsim.UsageTruth
	if err := json.NewDecoder(resp.Body).Decode(&tr); err != nil {
		t.Fatal(err)
	}
	return tr
}

// csvRows runs a query through the CLI and returns its CSV rows without the header.
func csvRows(t *testing.T, wh, q string) [][]string {
	t.Helper()
	r := seatlake(t, nil, "query", "--warehouse", wh, "--format", "csv", q)
	if r.code != 0 {
		t.Fatalf("query %q: exit %d: %s", q, r.code, r.stderr)
	}
	recs, err := csv.NewReader(strings.NewReader(r.stdout)).ReadAll()
	if err != nil || len(recs) == 0 {
		t.Fatalf("query %q: csv %q (%v)", q, r.stdout, err)
	}
	return recs[1:]
}

// The license marts of a run against a seeded tenant find what the generator planted: statuses, downgrades, F&O
// users under-licensed and the findings, with the simulator's clock as --as-of on both sides.
func TestCLILicenseMartsMatchTruth(t *testing.T) {
	for _, tc := range []struct {
		name   string
		mutate func(*tenantsim.Config)
	}{
		{"concealed names", nil},
		{"names shown, no P1", func(c *tenantsim.Config) { c.ConcealedNames, c.Premium = false, false }},
		{"names shown, auditing off", func(c *tenantsim.Config) { c.ConcealedNames, c.AuditingOff = false, map[int]bool{0: true} }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			asOf := time.Now().UTC().Truncate(24 * time.Hour)
			_, base, env := startSim(t, func(c *tenantsim.Config) {
				c.Users, c.Days, c.SignIns = 600, 30, 0
				c.Now = func() time.Time { return asOf }
				if tc.mutate != nil {
					tc.mutate(c)
				}
			})
			want := usageTruth(t, base)
			if want.AsOf != asOf.Format(time.DateOnly) {
				t.Fatalf("the simulator's truth is as of %s, want %s", want.AsOf, asOf.Format(time.DateOnly))
			}
			wh := t.TempDir()
			r := seatlake(t, env, "run", "--quiet", "--warehouse", wh, "--as-of", want.AsOf)
			if r.code != 0 {
				t.Fatalf("seatlake run: exit %d\nstdout: %s\nstderr: %s", r.code, r.stdout, r.stderr)
			}
			got := map[string]int64{}
			for _, row := range csvRows(t, wh, "SELECT status, count(*) FROM license_usage GROUP BY status") {
				n, _ := strconv.ParseInt(row[1], 10, 64)
				got[row[0]] = n
			}
			for status, n := range want.LicenseUsage {
				if got[status] != n {
					t.Errorf("license_usage %s: the marts have %d, the tenant %d", status, got[status], n)
				}
			}
			for status := range got {
				if _, ok := want.LicenseUsage[status]; !ok {
					t.Errorf("license_usage has status %q the truth does not know", status)
				}
			}
			if n := csvRows(t, wh, "SELECT count(*) FROM license_usage WHERE downgrade_to IS NOT NULL")[0][0]; n != strconv.FormatInt(want.Downgrades, 10) {
				t.Errorf("downgrades: the marts have %s, the tenant %d", n, want.Downgrades)
			}
			under := csvRows(t, wh, "SELECT coalesce(sum(under_licensed), 0) FROM license_position WHERE kind = 'finops_license'")[0][0]
			if under != strconv.FormatInt(want.FinOpsUnderLicensed, 10) {
				t.Errorf("F&O under-licensed: the marts have %s, the tenant %d", under, want.FinOpsUnderLicensed)
			}
			var codes []string
			for _, row := range csvRows(t, wh, "SELECT DISTINCT code FROM findings ORDER BY code") {
				codes = append(codes, row[0])
			}
			if !slices.Equal(codes, want.Findings) {
				t.Errorf("findings: the marts have %v, the tenant %v", codes, want.Findings)
			}
			if t.Failed() {

				for _, row := range csvRows(t, wh, "SELECT status, product_id, reason FROM license_usage USING SAMPLE 12 ROWS") {
					t.Log(row)
				}
			}
		})
	}
}

// `seatlake marts` recomputes the marts from what is committed, with the config file's rules, as of a day: an
// earlier day adds a snapshot to the history; a shorter threshold finds more idle licenses; a bad rule is a usage
// error naming the key.
func TestCLIMartsRecompute(t *testing.T) {
	_, _, env := startSim(t, func(c *tenantsim.Config) { c.Users, c.Days, c.SignIns = 400, 30, 0 })
	wh := runInto(t, env)
	low := func() int64 {
		n, _ := strconv.ParseInt(csvRows(t, wh, "SELECT count(*) FROM license_usage WHERE status = 'low_usage'")[0][0], 10, 64)
		return n
	}
	before := low()
	yesterday := time.Now().UTC().AddDate(0, 0, -1).Format(time.DateOnly)
	r := seatlake(t, nil, "marts", "--warehouse", wh, "--as-of", yesterday)
	if r.code != 0 || !strings.Contains(r.stdout, "as_of="+yesterday) || !strings.Contains(r.stdout, "license_usage=") {
		t.Fatalf("marts: exit %d: %s %s", r.code, r.stdout, r.stderr)
	}
	if n := csvRows(t, wh, "SELECT count(DISTINCT snapshot_date) FROM license_usage_history")[0][0]; n != "2" {
		t.Errorf("license_usage_history has %s snapshot days, want today's and yesterday's", n)
	}
	// With two snapshots the report's page draws the trend.
	page := filepath.Join(t.TempDir(), "report.html")
	if r := seatlake(t, nil, "report", "--quiet", "--warehouse", wh, "--html", page); r.code != 0 {
		t.Fatalf("report: exit %d: %s", r.code, r.stderr)
	}
	if b, _ := os.ReadFile(page); !strings.Contains(string(b), `id="chart-trend"`) {
		t.Error("the report page has no trend chart across the two snapshots")
	}
	cfg := filepath.Join(t.TempDir(), "seatlake.yaml")
	os.WriteFile(cfg, []byte("quiet: true\nrules:\n  threshold-days: 15\n"), 0o644)
	if r := seatlake(t, nil, "marts", "--warehouse", wh, "--config", cfg); r.code != 0 || r.stdout != "" {
		t.Fatalf("marts --config: exit %d: %q %s", r.code, r.stdout, r.stderr)
	}
	if after := low(); after <= before {
		t.Errorf("a 15-day threshold finds %d low_usage licenses, the 60-day default %d: want more", after, before)
	}
	if n := csvRows(t, wh, "SELECT DISTINCT threshold_days FROM license_usage WHERE product_id = 'microsoft-365'")[0][0]; n != "15" {
		t.Errorf("threshold_days %s, want 15", n)
	}
	os.WriteFile(cfg, []byte("rules:\n  treshold-days: 15\n"), 0o644)
	if r := seatlake(t, nil, "marts", "--warehouse", wh, "--config", cfg); r.code != 2 || !strings.Contains(r.stderr, "treshold-days") {
		t.Errorf("a misspelt rule: exit %d, %s", r.code, r.stderr)
	}
	if r := seatlake(t, nil, "marts", "--warehouse", wh, "--as-of", "30/11/2026"); r.code != 2 || !strings.Contains(r.stderr, "--as-of") {
		t.Errorf("a bad --as-of: exit %d, %s", r.code, r.stderr)
	}
}

// `seatlake sim --as-of DAY` and `seatlake run --as-of DAY` agree, for a day in the past too: the run fetches the
// history back from that day, and the marts equal the truth the simulator states as of it.
func TestCLISimAsOfAgreesWithRunAsOf(t *testing.T) {
	day := time.Now().UTC().AddDate(0, 0, -3).Format(time.DateOnly)
	sim := command(nil, "sim", "--addr", "127.0.0.1:0", "--as-of", day, "--users", "400", "--throttle", "off", "--log-level", "error")
	out, err := sim.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := sim.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sim.Process.Kill(); sim.Wait() })
	vals := map[string]string{}
	buf := make([]byte, 0, 4096)
	deadline := time.Now().Add(30 * time.Second)
	for vals["finops_url"] == "" && time.Now().Before(deadline) {
		chunk := make([]byte, 1024)
		n, err := out.Read(chunk)
		buf = append(buf, chunk[:n]...)
		for _, f := range strings.Fields(string(buf)) {
			if k, v, ok := strings.Cut(f, "="); ok {
				vals[k] = v
			}
		}
		if err != nil {
			break
		}
	}
	if vals["url"] == "" || vals["finops_url"] == "" {
		t.Fatalf("the simulator printed %q", buf)
	}
	want := usageTruth(t, vals["url"])
	if want.AsOf != day {
		t.Fatalf("the simulator's truth is as of %s, want %s", want.AsOf, day)
	}
	env := []string{"AZURE_TENANT_ID=" + vals["tenant_id"], "AZURE_CLIENT_ID=" + vals["client_id"], "AZURE_CLIENT_SECRET=" + vals["client_secret"],
		"SEATLAKE_AUTHORITY_HOST=" + vals["url"], "SEATLAKE_GRAPH_ENDPOINT=" + vals["url"],
		"SEATLAKE_DATAVERSE_URL=" + vals["dataverse_url"], "SEATLAKE_FINOPS_URL=" + vals["finops_url"]}
	wh := t.TempDir()
	if r := seatlake(t, env, "run", "--quiet", "--warehouse", wh, "--as-of", day); r.code != 0 {
		t.Fatalf("run: exit %d: %s", r.code, r.stderr)
	}
	got := map[string]int64{}
	for _, row := range csvRows(t, wh, "SELECT status, count(*) FROM license_usage GROUP BY status") {
		got[row[0]], _ = strconv.ParseInt(row[1], 10, 64)
	}
	for status, n := range want.LicenseUsage {
		if got[status] != n {
			t.Errorf("license_usage %s: the marts have %d, the simulator as of %s %d", status, got[status], day, n)
		}
	}
	if len(got) == 0 {
		t.Error("license_usage is empty")
	}
	if d := csvRows(t, wh, "SELECT DISTINCT CAST(snapshot_date AS VARCHAR) FROM license_usage")[0][0]; d != day {
		t.Errorf("the marts snapshot is %s, want the as-of day %s", d, day)
	}
}
