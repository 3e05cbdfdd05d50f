package main

import (
	"fmt"

	"github.com/urfave/cli/v2"

	"github.com/seatlake/seatlake/extract/msauth"
	"github.com/seatlake/seatlake/internal/tenantsim"
	"github.com/seatlake/seatlake/load/catalog"
	"github.com/seatlake/seatlake/pipelines"
)

// demoQueries are the sample answers the demo prints: the questions seatlake exists to answer.
var demoQueries = []struct{ title, sql string }{
	{"Licensed users by last interactive sign-in", `
SELECT CASE
         WHEN last_sign_in_at IS NULL THEN 'never (or before April 2020)'
         WHEN last_sign_in_at >= now() - INTERVAL 30 DAY THEN 'last 30 days'
         WHEN last_sign_in_at >= now() - INTERVAL 60 DAY THEN '30-60 days ago'
         ELSE 'over 60 days ago'
       END AS last_sign_in, count(*) AS users
FROM graph_users WHERE assigned_license_count > 0
GROUP BY ALL ORDER BY users DESC`},
	{"Seats per SKU: purchased, assigned, unused", `
SELECT sku_part_number, prepaid_enabled AS purchased, consumed_units AS assigned,
       prepaid_enabled - consumed_units AS unused, capability_status
FROM graph_subscribed_skus ORDER BY unused DESC LIMIT 8`},
	{"Sign-ins to Dynamics 365 (Dataverse and Finance and Operations) per day, last 7 days", `
SELECT event_date, count(*) AS sign_ins, count(DISTINCT user_id) AS users
FROM graph_signins WHERE resource_id IN ('00000007-0000-0000-c000-000000000000', '00000015-0000-0000-c000-000000000000')
GROUP BY event_date ORDER BY event_date DESC LIMIT 7`},
	{"Identities: Dynamics 365 accounts by how they join an Entra user, or why they do not", `
SELECT source, coalesce(match_method, unmatched_reason) AS how, count(*) AS accounts, round(avg(confidence), 2) AS confidence
FROM identities WHERE source <> 'entra'
GROUP BY ALL ORDER BY source, accounts DESC`},
	{"Dataverse activity per environment: audit records, users seen, last record", `
SELECT environment_url,
       count(*) FILTER (WHERE action IN (64, 65)) AS access_records,
       count(*) FILTER (WHERE action IN (1, 2, 3)) AS record_changes,
       count(DISTINCT user_id) AS users_seen, max(createdon) AS last_record
FROM dataverse_audits GROUP BY ALL ORDER BY environment_url`},
	{"Disabled accounts still holding licenses", `
SELECT count(*) AS disabled_but_licensed FROM graph_users WHERE NOT account_enabled AND assigned_license_count > 0`},
}

func demoCommand() *cli.Command {
	flags := []cli.Flag{warehouseFlag()}
	flags = append(flags, simFlags("scaled", true)...)
	flags = append(flags, tuningFlags()...)
	flags = append(flags, logFlags()...)
	return &cli.Command{
		Name:  "demo",
		Usage: "run the whole pipeline against the built-in tenant simulator (no Microsoft account needed)",
		Description: "Starts the simulator on a random loopback port (scaled-down service limits, so throttling shows),\n" +
			"over https with its own CA (--tls=false for http), runs the nightly pipeline into --warehouse, prints the run summary and a few sample answers.",
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
			base, err := sim.Start("127.0.0.1:0")
			if err != nil {
				return fmt.Errorf("starting the simulator: %w", err)
			}
			defer sim.Close()
			tenant, client, secret := sim.Credentials()
			fmt.Fprintf(c.App.Writer, "simulated tenant %s at %s: %d users, %d days of sign-ins, %d Dataverse and %d F&O environments, throttling %s\n\n",
				tenant, base, scfg.Users, scfg.Days, len(sim.DataverseURLs()), len(sim.FinOpsURLs()), scfg.Throttle)
			cfg := pipelines.Config{
				TenantID: tenant, ClientID: client, ClientSecret: msauth.Secret(secret),
				AuthorityHost: base, GraphEndpoint: base, Warehouse: c.String("warehouse"), Logger: log,
				Dataverse: sim.DataverseURLs(), FinOps: sim.FinOpsURLs(), RootCAs: sim.CertPool(),
			}
			if err := applyTuning(c, &cfg); err != nil {
				return err
			}
			fmt.Fprintln(c.App.Writer, "seatlake check: what the run will need, before it runs")
			printChecks(c.App.Writer, pipelines.Check(c.Context, cfg))
			fmt.Fprintln(c.App.Writer)
			if err := runTenants(c, []pipelines.Config{cfg}); err != nil {
				return err
			}
			for _, q := range demoQueries {
				fmt.Fprintf(c.App.Writer, "\n%s\n", q.title)
				if err := catalog.Query(c.Context, c.String("warehouse"), q.sql, "table", c.App.Writer); err != nil {
					return fmt.Errorf("demo query %q: %w", q.title, err)
				}
			}
			fmt.Fprintf(c.App.Writer, "\nAsk your own: seatlake query --warehouse %s \"SELECT * FROM graph_users LIMIT 5\"\n", c.String("warehouse"))
			return nil
		},
	}
}
