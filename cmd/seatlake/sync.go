package main

import (
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/seatlake/seatlake/pipelines"
)

func syncCommand() *cli.Command {
	common := func() []cli.Flag {
		return append([]cli.Flag{
			warehouseFlag(), catalogFlag(), storageFlag(),
			configFlag(),
			tenantFlag(),
			&cli.StringSliceFlag{Name: "tenant-id", Hidden: true, Usage: "only this tenant id; repeatable (older spelling of --tenant)"},
			&cli.BoolFlag{Name: "dry-run", Usage: "send nothing: print and record what would change against the last successful sync"},
			&cli.BoolFlag{Name: "allow-partial", Usage: "sync even when the tenant's latest run was incomplete"},
		}, logFlags()...)
	}
	var fcJSM, fcSN *fileConfig
	userTable, subscriptionTable, licenseTable := pipelines.DefaultStagingTables()
	return &cli.Command{
		Name:  "sync",
		Usage: "push people, subscriptions and license usage into an asset system",
		Subcommands: []*cli.Command{{
			Name:  "jsm-assets",
			Usage: "sync into Jira Service Management Assets through an external import source (Imports REST API)",
			Description: "Sends every tenant's people (Person), subscribed SKUs (Subscription) and license assignments (License Assignment,\n" +
				"with status, last activity, reason and cost) from the latest committed marts: the full set every time, identified by\n" +
				"stable ids, so a repeated sync updates the same objects. The container token comes from $SEATLAKE_JSM_ASSETS_TOKEN\n" +
				"or --token-file. Settings may come from the config file's sync.jsm-assets section. Every sync is recorded in the\n" +
				"syncs table. Exit 0 only when Assets finished the import (DONE).",
			Before: loadConfigFile(&fcJSM),
			Flags: append([]cli.Flag{
				&cli.StringFlag{Name: "url", Value: "https://api.atlassian.com", Usage: "the Assets API base URL (http:// only on loopback)", EnvVars: []string{"SEATLAKE_JSM_ASSETS_URL"}},
				&cli.StringFlag{Name: "token-file", Usage: "read the import source's container token from this file instead of $SEATLAKE_JSM_ASSETS_TOKEN"},
				&cli.IntFlag{Name: "chunk-size", Value: 500, Usage: "objects per submitResults request"},
			}, common()...),
			Action: func(c *cli.Context) error {
				log, err := syncLogger(c)
				if err != nil {
					return err
				}
				var tenants []tenantFile
				if fcJSM != nil {
					tenants = fcJSM.tenants
				}
				cfg, stored, err := syncConfig(c, fcJSM, log)
				if err != nil {
					return err
				}
				if err := importSourceConflict(fcJSM, stored); err != nil {
					return &exitError{code: exitUsage, err: fmt.Errorf("sync jsm-assets: %w", err)}
				}
				jsm, own, err := pipelines.JSMAssetsTarget(flagSetting(c), tokenFiles(tenants), !c.Bool("dry-run"), log)
				if err != nil {
					return &exitError{code: exitUsage, err: fmt.Errorf("sync jsm-assets: %w", err)}
				}
				cfg.JSM, cfg.JSMTokens = jsm, map[string]string{}
				for _, t := range own {
					cfg.JSMTokens[t.TenantID] = t.Token
				}
				return syncError(pipelines.Sync(c.Context, "jsm-assets", cfg, c.App.Writer))
			},
		}, {
			Name:  "servicenow",
			Usage: "sync into ServiceNow through the Import Set API (staging tables and your transform maps)",
			Description: "Sends the same rows as strings into three staging tables (u_seatlake_user, u_seatlake_subscription,\n" +
				"u_seatlake_license by default), each carrying u_external_id, the coalesce key of your transform maps, with\n" +
				"insertMultiple (at most 200 records a request; keys are the columns' labels, read from sys_dictionary, unless\n" +
				"--column-mapping name), waits until every import set is transformed, and reads each row's result: rows marked\n" +
				"error or skipped, or landed without u_external_id, are counted and named, and fail the sync. Basic auth (--user with\n" +
				"$SEATLAKE_SERVICENOW_PASSWORD or --password-file) or OAuth client credentials (--client-id with\n" +
				"$SEATLAKE_SERVICENOW_CLIENT_SECRET or --client-secret-file). Settings may come from the config file's\n" +
				"sync.servicenow section. Every sync is recorded in the syncs table.",
			Before: loadConfigFile(&fcSN),
			Flags: append([]cli.Flag{
				&cli.StringFlag{Name: "instance-url", Usage: "https://<instance>.service-now.com (http:// only on loopback)", EnvVars: []string{"SEATLAKE_SERVICENOW_URL"}},
				&cli.StringFlag{Name: "user", Usage: "the integration user (basic auth)", EnvVars: []string{"SEATLAKE_SERVICENOW_USER"}},
				&cli.StringFlag{Name: "password-file", Usage: "read the user's password from this file instead of $SEATLAKE_SERVICENOW_PASSWORD"},
				&cli.StringFlag{Name: "client-id", Usage: "OAuth client credentials instead of basic auth: the application registry's client id", EnvVars: []string{"SEATLAKE_SERVICENOW_CLIENT_ID"}},
				&cli.StringFlag{Name: "client-secret-file", Usage: "read the OAuth client secret from this file instead of $SEATLAKE_SERVICENOW_CLIENT_SECRET"},
				&cli.StringFlag{Name: "user-table", Value: userTable, Usage: "the staging table for people"},
				&cli.StringFlag{Name: "subscription-table", Value: subscriptionTable, Usage: "the staging table for subscribed SKUs"},
				&cli.StringFlag{Name: "license-table", Value: licenseTable, Usage: "the staging table for license assignments"},
				&cli.IntFlag{Name: "batch-size", Value: pipelines.MaxServiceNowBatch, Usage: "records per insertMultiple request"},
				&cli.StringFlag{Name: "column-mapping", Value: pipelines.ColumnLabels, Usage: "insertMultiple's record keys: label (ServiceNow's default; " +
					"the labels are read from sys_dictionary) or name (when a REST Insert Multiples entry maps each staging table by Column name)"},
			}, common()...),
			Action: func(c *cli.Context) error {
				log, err := syncLogger(c)
				if err != nil {
					return err
				}
				sn, err := pipelines.ServiceNowTarget(flagSetting(c), !c.Bool("dry-run"), log)
				if err != nil {
					return &exitError{code: exitUsage, err: fmt.Errorf("sync servicenow: %w", err)}
				}
				cfg, _, err := syncConfig(c, fcSN, log)
				if err != nil {
					return err
				}
				cfg.ServiceNow = sn
				return syncError(pipelines.Sync(c.Context, "servicenow", cfg, c.App.Writer))
			},
		}},
	}
}

// syncLogger begins every sync: its logger, once the warehouse it reads is known to be there.
func syncLogger(c *cli.Context) (*slog.Logger, error) {
	log, err := newLogger(c)
	if err != nil {
		return nil, err
	}
	if !pipelines.HasWarehouse(c.String("warehouse")) {
		return nil, noWarehouse(c.String("warehouse"))
	}
	return log, nil
}

// setting reads one setting of a sync target by its flag's name: from the command line (flagSetting) or, for
// `seatlake check`, from the config file's sync section (sectionSetting).
type setting func(name string) string

func flagSetting(c *cli.Context) setting {
	return func(name string) string {
		if v := c.Value(name); v != nil {
			return fmt.Sprint(v)
		}
		return ""
	}
}

// tokenFiles are the tenants' own Assets import source token files.
func tokenFiles(tenants []tenantFile) []pipelines.TenantTokenFile {
	var out []pipelines.TenantTokenFile
	for _, t := range tenants {
		out = append(out, pipelines.TenantTokenFile{Name: t.Name, TenantID: t.TenantID, File: t.AssetsTokenFile})
	}
	return out
}

// syncConfig is a sync's configuration from its flags and --tenant, and the tenants known (the config file's and the
// warehouse's).
func syncConfig(c *cli.Context, fc *fileConfig, log *slog.Logger) (pipelines.SyncConfig, []pipelines.TenantRef, error) {
	picked, known, err := warehouseTenants(c, fc, c.String("warehouse"))
	if err != nil {
		return pipelines.SyncConfig{}, nil, &exitError{code: exitUsage, err: fmt.Errorf("sync %s: %w", c.Command.Name, err)}
	}
	return pipelines.SyncConfig{Warehouse: c.String("warehouse"), Tenants: tenantIDs(picked), Names: tenantNames(known), DryRun: c.Bool("dry-run"),
		AllowPartial: c.Bool("allow-partial"), Logger: log}, known, nil
}

// syncError gives a sync's error its exit code: 2 when a run was not complete or the configuration is wrong, 1 for
// anything else short of success.
func syncError(err error) error {
	if errors.Is(err, pipelines.ErrInvalidConfig) || errors.Is(err, pipelines.ErrNotComplete) {
		return &exitError{code: exitUsage, err: err}
	}
	if err != nil {
		return &exitError{code: exitFailed, err: err}
	}
	return nil
}

// importSourceConflict refuses a set-up in which two tenants would send into one Assets import source: every
// tenant without its own jsm-assets-token-file shares the one of sync.jsm-assets.token-file (or
// $SEATLAKE_JSM_ASSETS_TOKEN), and two tenants may name the same token file. An import source is one schema
// mapping, and a completed import marks the objects it did not receive as missing: each tenant's sync would replace
// the other's objects, and a SKU id is the same in every tenant that buys the product. The tenants are the config
// file's; without a tenants list, stored (the warehouse's).
func importSourceConflict(fc *fileConfig, stored []pipelines.TenantRef) error {
	var shared []string
	byFile := map[string][]string{}
	var files []string
	if fc != nil && len(fc.tenants) > 0 {
		for _, t := range fc.tenants {
			if t.AssetsTokenFile == "" {
				shared = append(shared, t.Name)
				continue
			}
			f, err := filepath.Abs(t.AssetsTokenFile)
			if err != nil {
				f = filepath.Clean(t.AssetsTokenFile)
			}
			if len(byFile[f]) == 0 {
				files = append(files, f)
			}
			byFile[f] = append(byFile[f], t.Name)
		}
	} else {
		for _, t := range stored {
			shared = append(shared, t.Name)
		}
	}
	const fix = "give each tenant its own import source: tenants[].jsm-assets-token-file in the config file"
	if len(shared) > 1 {
		return fmt.Errorf("tenants %s would share one Assets import source (sync.jsm-assets.token-file or $SEATLAKE_JSM_ASSETS_TOKEN): "+
			"an import source is one schema mapping, so each tenant's sync would replace the other's objects; %s", andList(shared), fix)
	}
	for _, f := range files {
		if names := byFile[f]; len(names) > 1 {
			return fmt.Errorf("tenants %s name the same jsm-assets-token-file %s, one Assets import source: each tenant's sync would replace the other's objects; %s",
				andList(names), f, fix)
		}
	}
	return nil
}

// andList is "a", "a and b", "a, b and c".
func andList(xs []string) string {
	if len(xs) < 2 {
		return strings.Join(xs, "")
	}
	return strings.Join(xs[:len(xs)-1], ", ") + " and " + xs[len(xs)-1]
}

// checkSection checks a sync target's whole-number and true/false settings read through get (as --then-sync reads
// them from the config file's sync section) as its command checks its flags: a value that does not parse, or a
// number out of its range, is a usage error.
func checkSection(target string, get setting, configPath string) error {
	for _, sc := range syncCommand().Subcommands {
		if sc.Name != target {
			continue
		}
		for _, f := range sc.Flags {
			name, v := f.Names()[0], get(f.Names()[0])
			if v == "" {
				continue
			}
			var err error
			switch f.(type) {
			case *cli.IntFlag:
				var n int
				if n, err = strconv.Atoi(v); err == nil {
					if r, ok := ranges[name]; ok && (float64(n) < r.min || float64(n) > r.max) {
						return &exitError{code: exitUsage, err: fmt.Errorf("sync %s: --%s %d: want %.0f to %.0f: see 'seatlake sync %s --help'", target, name, n, r.min, r.max, target)}
					}
				}
			case *cli.BoolFlag:
				_, err = strconv.ParseBool(v)
			}
			if err != nil {
				return &exitError{code: exitUsage, err: fmt.Errorf("--config %s: key %q: %q: %s", configPath, "sync."+target+"."+name, v, wants(f))}
			}
		}
	}
	return nil
}
