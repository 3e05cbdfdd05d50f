package pipelines

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/seatlake/seatlake/extract/dataverse"
	"github.com/seatlake/seatlake/extract/finops"
	"github.com/seatlake/seatlake/internal/assetsim"
	"github.com/seatlake/seatlake/internal/tenantsim"
	"github.com/seatlake/seatlake/load/assets"
	"github.com/seatlake/seatlake/load/catalog"
	"github.com/seatlake/seatlake/load/report"
	"github.com/seatlake/seatlake/load/warehouse"
	"github.com/seatlake/seatlake/transform/rules"
)

// DemoConfig is `seatlake demo`: a simulated tenant run end to end into a warehouse of its own.
type DemoConfig struct {
	Sim       tenantsim.Config
	Warehouse string
	// Force writes into a directory that holds other tenants' data or files that are no warehouse (nothing there
	// is removed); without it such a directory is refused.
	Force bool
	// Run is the run's tuning and Logger; the tenant, its credentials, endpoints, warehouse and rules (the
	// example prices) are the demo's.
	Run Config
	// Results prints the run's results as `seatlake run` does and says whether they fail the demo (its error is
	// returned as it is).
	Results func([]TenantResult) error
	Self    string // how a person runs this binary again, for the next steps printed at the end
	Width   int    // the terminal's width for the report (0: the report's default)
}

// DemoQuery is one of the sample answers the demo prints: the questions seatlake exists to answer.
type DemoQuery struct{ Title, SQL string }

// DemoQueries are the demo's sample answers.
func DemoQueries() []DemoQuery {
	return []DemoQuery{
		{"Licenses by status (license_usage): what is used, idle, unknown; downgrades and under-licensed F&O users on their own lines", `
SELECT what, licenses, to_reclaim, yearly_saving, currency FROM (
    SELECT 0 AS o, status AS what, count(*) AS licenses, count(*) FILTER (WHERE reclaim_candidate) AS to_reclaim,
           round(coalesce(sum(yearly_saving) FILTER (WHERE reclaim_candidate), 0), 0) AS yearly_saving, coalesce(any_value(currency), '') AS currency
    FROM license_usage GROUP BY status
    UNION ALL
    SELECT 1, 'downgrade (active, a cheaper license is enough)', count(*), 0, round(coalesce(sum(yearly_saving), 0), 0), coalesce(any_value(currency), '')
    FROM license_usage WHERE downgrade_to IS NOT NULL
    UNION ALL
    SELECT 2, 'under-licensed F&O (' || coalesce(round(sum(true_up_monthly_cost), 0), 0) || ' a month to comply)', count(*), 0, 0, coalesce(any_value(currency), '')
    FROM license_usage WHERE under_licensed)
ORDER BY o, licenses DESC, what`},
		{"Why: one row of each status, with the evidence that decided it", `
SELECT status, user_principal_name, sku_part_number, reason
FROM (SELECT *, row_number() OVER (PARTITION BY status ORDER BY days_inactive DESC NULLS LAST, user_principal_name) AS n FROM license_usage)
WHERE n = 1 ORDER BY status`},
		{"Identities: Dynamics 365 accounts by how they join an Entra user, or why they do not", `
SELECT source, coalesce(match_method, unmatched_reason) AS how, count(*) AS accounts,
       coalesce(printf('%.2f', avg(confidence)), 'not joined') AS confidence
FROM identities WHERE source <> 'entra'
GROUP BY ALL ORDER BY source, accounts DESC, how`},
		{"Dataverse activity per environment: audit records, users seen, last record", `
SELECT environment_url,
       count(*) FILTER (WHERE action IN (64, 65)) AS access_records,
       count(*) FILTER (WHERE action IN (1, 2, 3)) AS record_changes,
       count(DISTINCT user_id) AS users_seen, max(createdon) AS last_record
FROM dataverse_audits GROUP BY ALL ORDER BY environment_url`},
	}
}

// Demo starts the simulator on a random loopback port, runs `seatlake check` and the nightly pipeline against it
// into cfg.Warehouse (emptied first, see emptyDemoWarehouse), and writes to out the checks, the sample answers,
// the report (and its plan and page beside the warehouse's files), two syncs into each emulated asset system (the
// second changes nothing there) and the commands that read the warehouse next. A configuration to fix wraps
// ErrInvalidConfig.
func Demo(ctx context.Context, cfg DemoConfig, out io.Writer) error {
	if cfg.Sim.Now == nil {
		// The tenant's history ends at today's midnight (UTC), not at the second the demo starts: two demos of one
		// day give the same answers, and the run, starting later that day, reads the whole history.
		midnight := time.Now().UTC().Truncate(24 * time.Hour)
		cfg.Sim.Now = func() time.Time { return midnight }
	}
	sim, err := tenantsim.New(cfg.Sim)
	if err != nil {
		return invalid(fmt.Errorf("configuring the simulator: %w", err))
	}
	tenant, client, secret := sim.Credentials()
	emptied, err := emptyDemoWarehouse(ctx, cfg.Warehouse, tenant, cfg.Force)
	if err != nil {
		return err
	}
	base, err := sim.Start("127.0.0.1:0")
	if err != nil {
		return fmt.Errorf("starting the simulator: %w", err)
	}
	defer sim.Close()
	note := "the demo's own: a real run's warehouse is not touched"
	if emptied {
		note += "; the previous demo's data removed"
	}
	fmt.Fprintf(out, "demo warehouse: %s (%s)\n", cfg.Warehouse, note)
	fmt.Fprintf(out, "simulated tenant %s at %s: %d users, %d days of sign-ins, %d Dataverse and %d F&O environments, throttling %s\n\n",
		tenant, base, cfg.Sim.Users, cfg.Sim.Days, len(sim.DataverseURLs()), len(sim.FinOpsURLs()), cfg.Sim.Throttle)
	run := cfg.Run
	run.TenantID, run.ClientID, run.ClientSecret = tenant, client, Secret(secret)
	run.AuthorityHost, run.GraphEndpoint, run.Warehouse = base, base, cfg.Warehouse
	run.Sources = run.Sources.With(SourceValues{dataverse.URLSetting: sim.DataverseURLs(), finops.URLSetting: sim.FinOpsURLs()})
	run.RootCAs = sim.CertPool()
	// The demo prices licenses with the example price list, which says it holds examples.
	run.Rules = rules.Default().WithExamplePrices()
	fmt.Fprintln(out, "seatlake check: what the run will need, before it runs")
	WriteChecks(out, Check(ctx, run))
	fmt.Fprintln(out)
	if err := demoRun(ctx, cfg, run); err != nil {
		return err
	}
	if err := demoAnswers(ctx, cfg, tenant, out); err != nil {
		return err
	}
	if err := demoSyncs(ctx, cfg, tenant, out); err != nil {
		return err
	}
	writeNextSteps(out, cfg.Self, cfg.Warehouse)
	return nil
}

// demoRun runs the simulated tenant and hands its result to cfg.Results.
func demoRun(ctx context.Context, cfg DemoConfig, run Config) error {
	res, err := RunTenants(ctx, []Config{run}, 0)
	if errors.Is(err, ErrInvalidConfig) {
		return err
	}
	if err != nil {
		return fmt.Errorf("run failed: %w", err)
	}
	if cfg.Results == nil {
		return nil
	}
	return cfg.Results(res)
}

// demoAnswers writes the sample answers and the report, and writes the reclaim plan and the page into the demo's
// warehouse directory.
func demoAnswers(ctx context.Context, cfg DemoConfig, tenant string, out io.Writer) error {
	wh := cfg.Warehouse
	for _, q := range DemoQueries() {
		fmt.Fprintf(out, "\n%s\n", q.Title)
		if err := catalog.Query(ctx, wh, q.SQL, "table", out); err != nil {
			return fmt.Errorf("demo query %q: %w", q.Title, err)
		}
	}
	fmt.Fprintf(out, "\nThe report (prices are EXAMPLES from the built-in example price list, not an agreement's)\n\n")
	db, err := catalog.Open(wh)
	if err != nil {
		return err
	}
	defer db.Close()
	t, err := report.Load(ctx, db, tenant, 0)
	if err != nil {
		return fmt.Errorf("demo report: %w", err)
	}
	t.WriteText(out, 5, cfg.Width)
	page := filepath.Join(wh, "report.html")
	if err := writeHTML(page, []*report.Tenant{t}, 20); err != nil {
		return err
	}
	plan, err := report.WritePlan(filepath.Join(wh, "report"), []*report.Tenant{t})
	if err != nil {
		return err
	}
	abs, _ := filepath.Abs(page)
	fmt.Fprintf(out, "\nreclaim_plan=%s\nhtml=%s\n", plan, abs)
	return nil
}

// demoTarget is an emulated asset system the demo syncs into, and how to list the objects it holds.
type demoTarget struct {
	name, where string
	sync        func() ([]SyncResult, error)
	ids         func() []string
}

// demoSyncs pushes the same answers into an emulated JSM Assets and an emulated ServiceNow, twice each: the second
// sync changes nothing there and sends the same externalIds.
func demoSyncs(ctx context.Context, cfg DemoConfig, tenant string, out io.Writer) error {
	secrets := assetsim.SecretsFor(cfg.Sim.Seed)
	assetsURL, emu, stopAssets, err := assetsim.StartAssets("127.0.0.1", 0, secrets.AssetsToken)
	if err != nil {
		return err
	}
	defer stopAssets()
	sn, err := assetsim.StartServiceNow("127.0.0.1", 0, secrets)
	if err != nil {
		return err
	}
	defer sn.Stop()
	sc := SyncConfig{Warehouse: cfg.Warehouse, Tenants: []string{tenant}, Logger: cfg.Run.Logger}
	// The built-in targets' senders, set up for the emulators (ServiceNow's imports polled every 100 ms).
	jsm := &assets.JSMSink{Config: assets.Config{BaseURL: assetsURL, Token: secrets.AssetsToken}}
	snow := &assets.ServiceNowSink{Config: assets.ServiceNowConfig{InstanceURL: sn.URL, User: sn.User, Password: sn.Password, Poll: 100 * time.Millisecond}}
	targets := []demoTarget{
		{"jsm-assets", "an emulated Assets at " + assetsURL, func() ([]SyncResult, error) { return syncTenants(ctx, sc, "jsm-assets", jsm) }, func() []string {
			var ids []string
			for typ, objs := range emu.Objects() {
				for _, o := range objs {
					ids = append(ids, typ+"/"+o.Identity)
				}
			}
			sort.Strings(ids)
			return ids
		}},
		{"servicenow", "an emulated ServiceNow at " + sn.URL, func() ([]SyncResult, error) { return syncTenants(ctx, sc, "servicenow", snow) }, func() []string {
			var ids []string
			for table, recs := range sn.Held().Targets {
				for _, r := range recs {
					ids = append(ids, table+"/"+r.Values["u_external_id"])
				}
			}
			sort.Strings(ids)
			return ids
		}},
	}
	for _, tg := range targets {
		if err := demoSyncTwice(tg, out); err != nil {
			return err
		}
	}
	return nil
}

// demoSyncTwice syncs into one target twice and says whether the second kept the objects the first made.
func demoSyncTwice(tg demoTarget, out io.Writer) error {
	fmt.Fprintf(out, "\nseatlake sync %s into %s (twice: the second sync changes nothing)\n", tg.name, tg.where)
	var first []string
	for i := 0; i < 2; i++ {
		res, err := tg.sync()
		if err != nil {
			return fmt.Errorf("demo sync %s: %w", tg.name, err)
		}
		for _, r := range res {
			if r.Err != nil {
				return fmt.Errorf("demo sync %s: %w", tg.name, r.Err)
			}
			WriteSync(out, fmt.Sprintf("%s sync=%d", tg.name, i+1), r, false)
		}
		if i == 0 {
			first = tg.ids()
		}
	}
	fmt.Fprintf(out, "%s objects=%d same_external_ids=%t\n", tg.name, len(first), slices.Equal(first, tg.ids()))
	return nil
}

// emptyDemoWarehouse makes the demo start from an empty warehouse, so that it shows this simulator's
// environments and nothing of an earlier demo's: a warehouse holding only the demo tenant's data (or nothing) is
// emptied, and emptied reports whether anything was removed. A directory holding another tenant's data, or files
// that are no warehouse, is refused (wrapping ErrInvalidConfig) unless force, which writes into it and removes
// nothing.
func emptyDemoWarehouse(ctx context.Context, dir, tenant string, force bool) (emptied bool, err error) {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) || err == nil && len(entries) == 0 {
		return false, nil
	}
	if err != nil {
		return false, invalid(fmt.Errorf("demo: reading --warehouse %s: %w", dir, err))
	}
	if !warehouse.Exists(dir) {
		if force {
			return false, nil
		}
		return false, invalid(fmt.Errorf("%s holds files and no seatlake warehouse: the demo starts from an empty directory; pick another --warehouse, or --force to write into it", dir))
	}
	others, err := otherTenants(ctx, dir, tenant)
	if err != nil {
		return false, err
	}
	if len(others) > 0 {
		if force {
			return false, nil
		}
		return false, invalid(fmt.Errorf("%s holds data of other tenants (%s): the demo's simulated tenant would mix into it; pick another --warehouse, or --force",
			dir, strings.Join(others, ", ")))
	}
	for _, e := range entries {
		if err := os.RemoveAll(filepath.Join(dir, e.Name())); err != nil {
			return false, fmt.Errorf("demo: emptying %s for a fresh demo: %w", dir, err)
		}
	}
	return true, nil
}

// otherTenants lists the tenants other than tenant whose data a warehouse holds: those its views know, and those
// with files in its tables, so a warehouse whose views were never built is not taken for an empty one.
func otherTenants(ctx context.Context, root, tenant string) ([]string, error) {
	known, err := WarehouseTenants(ctx, root)
	if err != nil {
		return nil, invalid(fmt.Errorf("demo: reading the tenants of %s: %w; pick another --warehouse", root, err))
	}
	ids := warehouse.TenantsWithFiles(root)
	for _, t := range known {
		ids = append(ids, t.ID)
	}
	slices.Sort(ids)
	ids = slices.Compact(ids)
	return slices.DeleteFunc(ids, func(id string) bool { return id == tenant }), nil
}

// writeNextSteps ends the demo with the commands that read its warehouse, spelt as self (this binary as a person
// runs it again).
func writeNextSteps(w io.Writer, self, wh string) {
	q := ShellQuote(wh)
	fmt.Fprintf(w, "\nAsk your own questions of the demo's warehouse:\n")
	fmt.Fprintf(w, "  %s query --warehouse %s \"SELECT * FROM license_usage LIMIT 5\"\n", self, q)
	fmt.Fprintf(w, "  %s report --warehouse %s --html report.html\n", self, q)
	fmt.Fprintf(w, "  cd %s && duckdb %s    (the DuckDB CLI, if you have it: the views are named as the tables)\n", q, warehouse.ViewsFile)
}

// ShellQuote quotes s for a POSIX shell when it needs it.
func ShellQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./:=@+,") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
