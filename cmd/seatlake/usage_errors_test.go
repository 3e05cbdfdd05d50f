package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// goodTenant is a tenant entry config validate accepts without a network call.
const goodTenant = "tenants:\n  - name: contoso\n    tenant-id: contoso.onmicrosoft.com\n    client-id: c\n    client-secret-env: SEATLAKE_TEST_SECRET\n"

// A mistake in the config file, in the rules: section as elsewhere, is exit 2 from `seatlake config validate` and one
// line naming the key, where it is, its line and what is expected (or the nearest known key); never YAML's words
// (`field … not found in type rules.Override`, `cannot unmarshal !!str`) or the flag package's `parse error`.
func TestCLIConfigValidateUsageErrors(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "products.yaml"), []byte("products:\n  - id: x\n    sku: [SPE_E3]\n"), 0o644)
	for _, tc := range []struct {
		name, file, want string
	}{
		{"a misspelt rule", "rules:\n  treshold-days: 30\n",
			`unknown key "treshold-days" under rules (line 2), did you mean "threshold-days"?`},
		{"a misspelt nested rule", "rules:\n  exclude:\n    user: [a@contoso.com]\n",
			`unknown key "user" under rules.exclude (line 3), did you mean "users"?`},
		{"a rule that is true or false", "rules:\n  exclude:\n    dataverse-non-interactive: maybe\n",
			`key "rules.exclude.dataverse-non-interactive" (line 3): "maybe": want true or false`},
		{"a rule that is a number", "rules:\n  threshold-days: soon\n",
			`key "rules.threshold-days" (line 2): "soon": want a whole number`},
		{"a product threshold that is a number", "rules:\n  product-thresholds:\n    dynamics-365-sales: ninety\n",
			`key "rules.product-thresholds.dynamics-365-sales" (line 3): "ninety": want a whole number`},
		{"a rule that is a list", "rules:\n  exclude:\n    users: a@contoso.com\n",
			`key "rules.exclude.users" (line 3): want a list`},
		{"a rule that is a mapping", "rules:\n  exclude: [a@contoso.com]\n",
			`key "rules.exclude" (line 2): want a mapping (upn-regex, users, groups, dataverse-non-interactive), not a list`},
		{"a misspelt key of the products file", "rules:\n  products-file: products.yaml\n",
			`rules: products-file products.yaml: unknown key "sku" under products[0] (line 3), did you mean "skus"?`},
		{"a rule out of range", "rules:\n  threshold-days: 0\n", "rules: threshold-days 0: want 1 to 3650"},
		{"a number that does not parse", "warehouse: " + dir + "\nbatch-rows: lots\n",
			`key "batch-rows" (line 2): "lots": want a whole number from 1 to 1000000`},
		{"a duration in days", "signin-window: 2d\n",
			`key "signin-window" (line 1): "2d": want a duration from 1m to 24h, like 24h, 6h or 90m (hours, minutes, seconds)`},
		{"a long duration in days", "signin-history: 10d\n",
			`key "signin-history" (line 1): "10d": want a duration from 0 to 720h, like 72h, 24h or 6h (hours, minutes, seconds: 2 days is 48h)`},
		{"a switch that is no switch", "quiet: sometimes\n", `key "quiet" (line 1): "sometimes": want true or false`},
		{"a tenant's switch", "tenants:\n  - name: contoso\n    tenant-id: contoso.onmicrosoft.com\n    managed-identity: maybe\n",
			`tenant "contoso": key "managed-identity" (line 4): "maybe": want true or false`},
		{"a tenant's environments", "tenants:\n  - name: contoso\n    tenant-id: contoso.onmicrosoft.com\n    client-id: c\n    dataverse: https://contoso.crm.dynamics.com\n",
			`tenant "contoso": key "dataverse" (line 5): want a list of environment URLs`},
		{"a tenant's duration", goodTenant + "    signin-history: 2d\n",
			`tenant "contoso": signin-history: "2d": want a duration from 0 to 720h`},
		{"a route's fields", "events:\n  routes:\n    - business-event-id: BusinessEventsAlertEvent\n      fields: {TableName: [UserInfo]}\n      actions: [log]\n",
			`key "events.routes[0].fields.TableName" (line 4): want a value, not a list`},
		{"a route's condition under both names", "events:\n  routes:\n    - event-id: A\n      business-event-id: A\n      actions: [log]\n",
			`events.routes[0]: key "event-id" (line 3): give business-event-id only`},
		{"a misspelt route condition", "events:\n  routes:\n    - eventid: A\n      actions: [log]\n",
			`events.routes[0]: unknown key "eventid" (line 3), did you mean "business-event-id"?`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := filepath.Join(dir, "seatlake.yaml")
			if !strings.Contains(tc.file, "tenants:") {
				tc.file += goodTenant
			}
			os.WriteFile(f, []byte(tc.file), 0o600)
			r := seatlake(t, []string{"SEATLAKE_TEST_SECRET=s"}, "config", "validate", f)
			if r.code != 2 || !strings.Contains(r.stderr, tc.want) || strings.Count(strings.TrimSpace(r.stderr), "\n") > 0 {
				t.Errorf("exit %d, stderr %q: want exit 2 and one line with %q", r.code, r.stderr, tc.want)
			}
			for _, raw := range []string{"not found in type", "cannot unmarshal", "parse error", "!!"} {
				if strings.Contains(r.stderr, raw) {
					t.Errorf("stderr %q has YAML's or the flag package's words %q", r.stderr, raw)
				}
			}
		})
	}
}

// A flag value that does not parse is exit 2 and one line naming the flag, the value and what it accepts.
func TestCLIFlagValueErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"run", "--signin-window", "2d"},
			`run: --signin-window "2d": want a duration from 1m to 24h, like 24h, 6h or 90m (hours, minutes, seconds): see 'seatlake run --help'`},
		{[]string{"run", "--dataverse-history", "90d"}, `--dataverse-history "90d": want a duration from 0 to 87600h, like 72h, 24h or 6h (hours, minutes, seconds: 2 days is 48h)`},
		{[]string{"run", "--request-timeout", "1d"}, `--request-timeout "1d": want a duration from 1s to 1h, like 15m, 30s or 5s`},
		{[]string{"run", "--batch-rows", "10k"}, `run: --batch-rows "10k": want a whole number from 1 to 1000000: see 'seatlake run --help'`},
		{[]string{"run", "--quiet=maybe"}, `--quiet "maybe": want true or false`},
		{[]string{"run", "--memory-limit", "2GB"}, `--memory-limit "2GB": want auto, or a whole number of B, KiB, MiB or GiB such as 512MiB or 2GiB`},
		{[]string{"events", "serve", "--max-body", "1MB"}, `events serve: --max-body "1MB": want a whole number from 1024 to 67108864`},
		{[]string{"events", "serve", "--commit-interval", "1d"}, `--commit-interval "1d": want a duration from 1s to 24h`},
		{[]string{"sim", "--idle-share", "half"}, `--idle-share "half": want a number from 0 to 1`},
	} {
		r := seatlake(t, nil, tc.args...)
		if r.code != 2 || !strings.Contains(r.stderr, tc.want) || strings.Count(strings.TrimSpace(r.stderr), "\n") > 0 || strings.Contains(r.stderr, "parse error") {
			t.Errorf("seatlake %s: exit %d, stderr %q: want exit 2 and one line with %q", strings.Join(tc.args, " "), r.code, r.stderr, tc.want)
		}
	}
}

// The older route key event-id still works, with a warning that names the new one; config validate passes.
func TestCLIConfigValidateWarnsOfTheOlderRouteKey(t *testing.T) {
	f := filepath.Join(t.TempDir(), "seatlake.yaml")
	os.WriteFile(f, []byte("events:\n  routes:\n    - event-id: BusinessEventsAlertEvent\n      actions: [log]\n"+goodTenant), 0o600)
	r := seatlake(t, []string{"SEATLAKE_TEST_SECRET=s"}, "config", "validate", f)
	if r.code != 0 || !strings.Contains(r.stdout, "ok config=") || !strings.Contains(r.stderr, "older name of business-event-id") || !strings.Contains(r.stderr, "line 3") {
		t.Errorf("exit %d, stdout %q, stderr %q: want ok and a warning naming business-event-id and the line", r.code, r.stdout, r.stderr)
	}
}

// Each command's help lists its own flags: reclaim, events serve and config validate do not list the run's tuning
// (they do not extract); the main help says what the tool covers.
func TestHelpListsEachCommandsOwnFlags(t *testing.T) {
	tuning := []string{"--batch-rows", "--signin-window", "--signin-history", "--dataverse-window", "--signin-concurrency",
		"--parquet-compression", "--memory-limit", "--heartbeat", "--progress", "--result-json", "--parallel-tenants", "--quiet"}
	for _, cmd := range [][]string{{"reclaim"}, {"events", "serve"}, {"config", "validate"}} {
		r := seatlake(t, nil, append(cmd, "--help")...)
		if r.code != 0 || !strings.Contains(r.stdout, "OPTIONS") {
			t.Fatalf("seatlake %s --help: exit %d: %s", strings.Join(cmd, " "), r.code, r.stderr)
		}
		for _, f := range tuning {
			if strings.Contains(r.stdout, f+" ") {
				t.Errorf("seatlake %s --help lists %s, a flag of seatlake run", strings.Join(cmd, " "), f)
			}
		}
	}
	if r := seatlake(t, nil, "reclaim", "--help"); strings.Contains(r.stdout, "--dataverse-url") || !strings.Contains(r.stdout, "--request-timeout") {
		t.Errorf("reclaim --help: want Graph's request flags, no environment URLs:\n%s", r.stdout)
	}
	if r := seatlake(t, nil, "events", "serve", "--help"); !strings.Contains(r.stdout, "--finops-url") || !strings.Contains(r.stdout, "--commit-interval") {
		t.Errorf("events serve --help: want --finops-url and the receiver's flags:\n%s", r.stdout)
	}
	main := seatlake(t, nil, "--help")
	for _, want := range []string{"Microsoft Graph", "Dataverse", "Finance and", "Operations", "JSM Assets", "ServiceNow", "reclaim", "business events"} {
		if !strings.Contains(main.stdout, want) {
			t.Errorf("seatlake --help does not name %q:\n%s", want, main.stdout)
		}
	}
	if run := seatlake(t, nil, "run", "--help"); strings.Contains(run.stdout, "the identities mart") || !strings.Contains(run.stdout, "license usage") {
		t.Errorf("run --help: want the marts it computes:\n%s", run.stdout)
	}
}
