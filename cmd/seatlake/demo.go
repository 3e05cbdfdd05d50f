package main

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/seatlake/seatlake/extract/msauth"
	"github.com/seatlake/seatlake/internal/tenantsim"
	"github.com/seatlake/seatlake/load/assets"
	"github.com/seatlake/seatlake/load/catalog"
	"github.com/seatlake/seatlake/load/report"
	"github.com/seatlake/seatlake/pipelines"
	"github.com/seatlake/seatlake/transform/rules"
)

// demoQueries are the sample answers the demo prints: the questions seatlake exists to answer.
var demoQueries = []struct{ title, sql string }{
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
GROUP BY ALL ORDER BY source, accounts DESC`},
	{"Dataverse activity per environment: audit records, users seen, last record", `
SELECT environment_url,
       count(*) FILTER (WHERE action IN (64, 65)) AS access_records,
       count(*) FILTER (WHERE action IN (1, 2, 3)) AS record_changes,
       count(DISTINCT user_id) AS users_seen, max(createdon) AS last_record
FROM dataverse_audits GROUP BY ALL ORDER BY environment_url`},
}

func demoCommand() *cli.Command {
	flags := []cli.Flag{
		// Not ./warehouse and not $SEATLAKE_WAREHOUSE: a fake tenant never lands in the warehouse of a real run.
		&cli.StringFlag{Name: "warehouse", Aliases: []string{"w"}, Value: demoWarehouse, Usage: "the demo's own warehouse directory, emptied at start (the previous demo's data replaced)"},
		&cli.BoolFlag{Name: "force", Usage: "write the demo into a directory that holds other tenants' data or other files (nothing there is removed)"},
	}
	flags = append(flags, simFlags("scaled", true)...)
	flags = append(flags, tuningFlags()...)
	flags = append(flags, logFlags()...)
	return &cli.Command{
		Name:  "demo",
		Usage: "run the whole pipeline against the built-in tenant simulator (no Microsoft account needed)",
		Description: "Starts the simulator on a random loopback port (scaled-down service limits, so throttling shows),\n" +
			"over https with its own CA (--tls=false for http), runs the nightly pipeline into --warehouse, prints the run summary and a few sample answers.\n" +
			"The demo starts from an empty warehouse: the previous demo's data in --warehouse is removed first. A directory that\n" +
			"holds another tenant's data, or files that are no warehouse, is refused (exit 2) unless --force, which writes into it\n" +
			"and removes nothing.",
		Flags: flags,
		Action: func(c *cli.Context) error {
			log, err := newLogger(c)
			if err != nil {
				return err
			}
			scfg := simConfig(c)
			if !c.IsSet("dataverse-envs") {
				scfg.DataverseEnvs = 2 // a main org and a sales org, as many tenants have
			}
			sim, err := tenantsim.New(scfg)
			if err != nil {
				return &exitError{code: exitUsage, err: fmt.Errorf("configuring the simulator: %w", err)}
			}
			tenant, client, secret := sim.Credentials()
			wh := c.String("warehouse")
			emptied, err := emptyDemoWarehouse(c, wh, tenant, c.Bool("force"))
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
			fmt.Fprintf(c.App.Writer, "demo warehouse: %s (%s)\n", wh, note)
			fmt.Fprintf(c.App.Writer, "simulated tenant %s at %s: %d users, %d days of sign-ins, %d Dataverse and %d F&O environments, throttling %s\n\n",
				tenant, base, scfg.Users, scfg.Days, len(sim.DataverseURLs()), len(sim.FinOpsURLs()), scfg.Throttle)
			cfg := pipelines.Config{
				TenantID: tenant, ClientID: client, ClientSecret: msauth.Secret(secret),
				AuthorityHost: base, GraphEndpoint: base, Warehouse: wh, Logger: log,
				Dataverse: sim.DataverseURLs(), FinOps: sim.FinOpsURLs(), RootCAs: sim.CertPool(),
			}
			if err := applyTuning(c, &cfg); err != nil {
				return err
			}
			// The demo prices licenses with the example price list, which says it holds examples.
			cfg.Rules = rules.Default().WithExamplePrices()
			fmt.Fprintln(c.App.Writer, "seatlake check: what the run will need, before it runs")
			printChecks(c.App.Writer, pipelines.Check(c.Context, cfg))
			fmt.Fprintln(c.App.Writer)
			if err := runTenants(c, []pipelines.Config{cfg}); err != nil {
				return err
			}
			for _, q := range demoQueries {
				fmt.Fprintf(c.App.Writer, "\n%s\n", q.title)
				if err := catalog.Query(c.Context, wh, q.sql, "table", c.App.Writer); err != nil {
					return fmt.Errorf("demo query %q: %w", q.title, err)
				}
			}
			fmt.Fprintf(c.App.Writer, "\nThe report (prices are EXAMPLES from the built-in example price list, not an agreement's)\n\n")
			db, err := catalog.Open(wh)
			if err != nil {
				return err
			}
			defer db.Close()
			t, err := report.Load(c.Context, db, tenant, 0)
			if err != nil {
				return fmt.Errorf("demo report: %w", err)
			}
			t.WriteText(c.App.Writer, 5, terminalWidth(c.App.Writer))
			page := filepath.Join(wh, "report.html")
			if err := writeHTML(page, []*report.Tenant{t}, 20); err != nil {
				return err
			}
			plan, err := report.WritePlan(filepath.Join(wh, "report"), []*report.Tenant{t})
			if err != nil {
				return err
			}
			abs, _ := filepath.Abs(page)
			fmt.Fprintf(c.App.Writer, "\nreclaim_plan=%s\nhtml=%s\n", plan, abs)
			// The asset systems: the same answers pushed into an emulated JSM Assets and an emulated ServiceNow,
			// twice each: the second sync changes nothing there and sends the same externalIds.
			secrets := emulatorSecretsFor(scfg.Seed)
			assetsURL, emu, stopAssets, err := startAssetsEmulator("127.0.0.1", 0, secrets.AssetsToken)
			if err != nil {
				return err
			}
			defer stopAssets()
			sn, err := startServiceNowEmulator("127.0.0.1", 0, secrets)
			if err != nil {
				return err
			}
			defer sn.stop()
			jsmIDs := func() []string {
				var ids []string
				for typ, objs := range emu.Objects() {
					for _, o := range objs {
						ids = append(ids, typ+"/"+o.Identity)
					}
				}
				sort.Strings(ids)
				return ids
			}
			snIDs := func() []string {
				var ids []string
				for table, recs := range sn.Held().Targets {
					for _, r := range recs {
						ids = append(ids, table+"/"+r.Values["u_external_id"])
					}
				}
				sort.Strings(ids)
				return ids
			}
			targets := []struct {
				name, where string
				sync        func() ([]pipelines.SyncResult, error)
				ids         func() []string
			}{
				{"jsm-assets", "an emulated Assets at " + assetsURL, func() ([]pipelines.SyncResult, error) {
					return pipelines.SyncJSMAssets(c.Context, pipelines.SyncConfig{Warehouse: wh, Tenants: []string{tenant}, Logger: log, JSM: assets.Config{BaseURL: assetsURL, Token: secrets.AssetsToken}})
				}, jsmIDs},
				{"servicenow", "an emulated ServiceNow at " + sn.URL, func() ([]pipelines.SyncResult, error) {
					return pipelines.SyncServiceNow(c.Context, pipelines.SyncConfig{Warehouse: wh, Tenants: []string{tenant}, Logger: log,
						ServiceNow: assets.ServiceNowConfig{InstanceURL: sn.URL, User: sn.User, Password: sn.Password, Poll: 100 * time.Millisecond}})
				}, snIDs},
			}
			for _, tg := range targets {
				fmt.Fprintf(c.App.Writer, "\nseatlake sync %s into %s (twice: the second sync changes nothing)\n", tg.name, tg.where)
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
						printSync(c.App.Writer, fmt.Sprintf("%s sync=%d", tg.name, i+1), r, false)
					}
					if i == 0 {
						first = tg.ids()
					}
				}
				fmt.Fprintf(c.App.Writer, "%s objects=%d same_external_ids=%t\n", tg.name, len(first), slices.Equal(first, tg.ids()))
			}
			printNextSteps(c.App.Writer, invokedAs(os.Args[0]), wh)
			return nil
		},
	}
}

// emptyDemoWarehouse makes the demo start from an empty warehouse, so that it shows this simulator's
// environments and nothing of an earlier demo's: a warehouse holding only the demo tenant's data (or nothing) is
// emptied, and emptied reports whether anything was removed. A directory holding another tenant's data, or files
// that are no warehouse, is refused (exit 2) unless force, which writes into it and removes nothing.
func emptyDemoWarehouse(c *cli.Context, dir, tenant string, force bool) (emptied bool, err error) {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) || err == nil && len(entries) == 0 {
		return false, nil
	}
	if err != nil {
		return false, &exitError{code: exitUsage, err: fmt.Errorf("demo: reading --warehouse %s: %w", dir, err)}
	}
	if !hasWarehouse(dir) {
		if force {
			return false, nil
		}
		return false, &exitError{code: exitUsage, err: fmt.Errorf("%s holds files and no seatlake warehouse: the demo starts from an empty directory; pick another --warehouse, or --force to write into it", dir)}
	}
	others, err := otherTenants(c, dir, tenant)
	if err != nil {
		return false, err
	}
	if len(others) > 0 {
		if force {
			return false, nil
		}
		return false, &exitError{code: exitUsage, err: fmt.Errorf("%s holds data of other tenants (%s): the demo's simulated tenant would mix into it; pick another --warehouse, or --force",
			dir, strings.Join(others, ", "))}
	}
	for _, e := range entries {
		if err := os.RemoveAll(filepath.Join(dir, e.Name())); err != nil {
			return false, fmt.Errorf("demo: emptying %s for a fresh demo: %w", dir, err)
		}
	}
	return true, nil
}

// otherTenants lists the tenants other than tenant whose data a warehouse holds: those its views know, and those
// with files in its tables (the Iceberg layout, and the earlier folder layout), so a warehouse whose views were
// never built is not taken for an empty one.
func otherTenants(c *cli.Context, root, tenant string) ([]string, error) {
	known, err := pipelines.WarehouseTenants(c.Context, root)
	if err != nil {
		return nil, &exitError{code: exitUsage, err: fmt.Errorf("demo: reading the tenants of %s: %w; pick another --warehouse", root, err)}
	}
	ids := map[string]bool{}
	for _, t := range known {
		ids[t.ID] = true
	}
	for _, pattern := range []string{filepath.Join(root, "raw", "*", "data", "tenant_id=*"), filepath.Join(root, "raw", "*", "tenant=*")} {
		dirs, _ := filepath.Glob(pattern)
		for _, d := range dirs {
			_, id, _ := strings.Cut(filepath.Base(d), "=")
			ids[id] = true
		}
	}
	delete(ids, tenant)
	return slices.Sorted(maps.Keys(ids)), nil
}

// printNextSteps ends the demo with the commands that read its warehouse, spelt as this binary was started.
func printNextSteps(w io.Writer, self, wh string) {
	q := shellQuote(wh)
	fmt.Fprintf(w, "\nAsk your own questions of the demo's warehouse:\n")
	fmt.Fprintf(w, "  %s query --warehouse %s \"SELECT * FROM license_usage LIMIT 5\"\n", self, q)
	fmt.Fprintf(w, "  %s report --warehouse %s --html report.html\n", self, q)
	fmt.Fprintf(w, "  cd %s && duckdb %s    (the DuckDB CLI, if you have it: the views are named as the tables)\n", q, catalog.FileName)
}

// invokedAs is how a person runs this binary again: "seatlake" when $PATH finds this very executable, `go run
// ./cmd/seatlake` for one go run built, else the path it was started by (./bin/seatlake after make).
func invokedAs(arg0 string) string {
	exe, err := os.Executable()
	if err != nil {
		return "seatlake"
	}
	if p, err := exec.LookPath("seatlake"); err == nil && sameFile(p, exe) {
		return "seatlake"
	}
	if strings.Contains(filepath.ToSlash(exe), "/go-build") {
		return "go run ./cmd/seatlake"
	}
	if strings.ContainsRune(arg0, filepath.Separator) {
		return shellQuote(arg0)
	}
	return shellQuote(exe)
}

func sameFile(a, b string) bool {
	sa, errA := os.Stat(a)
	sb, errB := os.Stat(b)
	return errA == nil && errB == nil && os.SameFile(sa, sb)
}

// shellQuote quotes s for a POSIX shell when it needs it.
func shellQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./:=@+,") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
