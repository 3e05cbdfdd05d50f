package main

import (
	"cmp"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/seatlake/seatlake/extract/msauth"
	"github.com/seatlake/seatlake/load/assets"
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
				log, err := newLogger(c)
				if err != nil {
					return err
				}
				if !hasWarehouse(c.String("warehouse")) {
					return noWarehouse(c.String("warehouse"))
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
				jsm, own, err := jsmTarget(flagSetting(c), tenants, !c.Bool("dry-run"), log)
				if err != nil {
					return &exitError{code: exitUsage, err: fmt.Errorf("sync jsm-assets: %w", err)}
				}
				cfg.JSM, cfg.JSMTokens = jsm, map[string]string{}
				for _, t := range own {
					cfg.JSMTokens[t.TenantID] = t.Token
				}
				res, err := pipelines.SyncJSMAssets(c.Context, cfg)
				return syncOutcome(c, "jsm-assets", res, err)
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
				&cli.StringFlag{Name: "user-table", Value: assets.DefaultStagingTables.User, Usage: "the staging table for people"},
				&cli.StringFlag{Name: "subscription-table", Value: assets.DefaultStagingTables.Subscription, Usage: "the staging table for subscribed SKUs"},
				&cli.StringFlag{Name: "license-table", Value: assets.DefaultStagingTables.License, Usage: "the staging table for license assignments"},
				&cli.IntFlag{Name: "batch-size", Value: assets.MaxServiceNowBatch, Usage: "records per insertMultiple request"},
				&cli.StringFlag{Name: "column-mapping", Value: assets.ColumnLabels, Usage: "insertMultiple's record keys: label (ServiceNow's default; " +
					"the labels are read from sys_dictionary) or name (when a REST Insert Multiples entry maps each staging table by Column name)"},
			}, common()...),
			Action: func(c *cli.Context) error {
				log, err := newLogger(c)
				if err != nil {
					return err
				}
				if !hasWarehouse(c.String("warehouse")) {
					return noWarehouse(c.String("warehouse"))
				}
				sn, err := serviceNowTarget(flagSetting(c), !c.Bool("dry-run"), log)
				if err != nil {
					return &exitError{code: exitUsage, err: fmt.Errorf("sync servicenow: %w", err)}
				}
				cfg, _, err := syncConfig(c, fcSN, log)
				if err != nil {
					return err
				}
				cfg.ServiceNow = sn
				res, err := pipelines.SyncServiceNow(c.Context, cfg)
				return syncOutcome(c, "servicenow", res, err)
			},
		}},
	}
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

// tenantToken is a tenant's own Assets import source token.
type tenantToken struct{ Name, TenantID, Token string }

// jsmTarget is the Assets sink's configuration: the API, the shared container token, and the tokens of the tenants
// that name their own import source (jsm-assets-token-file). Without secrets (a dry run) no token is read.
func jsmTarget(get setting, tenants []tenantFile, secrets bool, log *slog.Logger) (assets.Config, []tenantToken, error) {
	cfg := assets.Config{BaseURL: cmp.Or(get("url"), "https://api.atlassian.com"), Logger: log}
	if n, err := strconv.Atoi(get("chunk-size")); err == nil {
		cfg.ChunkSize = n
	}
	if err := msauth.CheckEndpoint(cfg.BaseURL); err != nil {
		return cfg, nil, fmt.Errorf("url: %w", err)
	}
	if !secrets {
		return cfg, nil, nil
	}
	var own []tenantToken
	for _, t := range tenants {
		if t.AssetsTokenFile == "" {
			continue
		}
		tok, err := msauth.LoadNamedSecret("JSM Assets token", "jsm-assets-token-file", "", t.AssetsTokenFile)
		if err != nil {
			return cfg, nil, fmt.Errorf("tenant %q: jsm-assets-token-file: %w", t.Name, err)
		}
		own = append(own, tenantToken{t.Name, t.TenantID, tok.Reveal()})
	}
	// The shared token is needed unless tenants have their own; a tenant left without one fails alone.
	tok, err := msauth.LoadNamedSecret("JSM Assets token", "token-file", "SEATLAKE_JSM_ASSETS_TOKEN", get("token-file"))
	if err != nil && len(own) == 0 {
		return cfg, nil, fmt.Errorf("the Assets container token: %w", err)
	}
	cfg.Token = tok.Reveal()
	return cfg, own, nil
}

// serviceNowTarget is the ServiceNow sink's configuration: the instance, the staging tables, and basic auth or OAuth
// client credentials (read only with secrets: a dry run sends nothing).
func serviceNowTarget(get setting, secrets bool, log *slog.Logger) (assets.ServiceNowConfig, error) {
	sn := assets.ServiceNowConfig{InstanceURL: get("instance-url"), Logger: log,
		Tables: assets.StagingTables{User: cmp.Or(get("user-table"), assets.DefaultStagingTables.User),
			Subscription: cmp.Or(get("subscription-table"), assets.DefaultStagingTables.Subscription),
			License:      cmp.Or(get("license-table"), assets.DefaultStagingTables.License)}}
	if n, err := strconv.Atoi(get("batch-size")); err == nil {
		sn.BatchSize = n
	}
	switch sn.ColumnMapping = cmp.Or(get("column-mapping"), assets.ColumnLabels); sn.ColumnMapping {
	case assets.ColumnLabels, assets.ColumnNames:
	default:
		return sn, fmt.Errorf("column-mapping %q: want %s or %s", sn.ColumnMapping, assets.ColumnLabels, assets.ColumnNames)
	}
	if sn.InstanceURL == "" {
		return sn, errors.New("instance-url is required (https://<instance>.service-now.com)")
	}
	if err := msauth.CheckEndpoint(sn.InstanceURL); err != nil {
		return sn, fmt.Errorf("instance-url: %w", err)
	}
	if !secrets {
		return sn, nil
	}
	user, client := get("user"), get("client-id")
	switch {
	case client != "" && user != "":
		return sn, errors.New("give user (basic auth) or client-id (OAuth), not both")
	case client != "":
		sec, err := msauth.LoadNamedSecret("ServiceNow client secret", "client-secret-file", "SEATLAKE_SERVICENOW_CLIENT_SECRET", get("client-secret-file"))
		if err != nil {
			return sn, fmt.Errorf("the OAuth client secret: %w", err)
		}
		sn.ClientID, sn.ClientSecret = client, sec.Reveal()
	case user != "":
		pw, err := msauth.LoadNamedSecret("ServiceNow password", "password-file", "SEATLAKE_SERVICENOW_PASSWORD", get("password-file"))
		if err != nil {
			return sn, fmt.Errorf("the password of %s: %w", user, err)
		}
		sn.User, sn.Password = user, pw.Reveal()
	default:
		return sn, errors.New("give user (basic auth, password from $SEATLAKE_SERVICENOW_PASSWORD or password-file) or client-id (OAuth)")
	}
	return sn, nil
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

// syncOutcome prints a sync's lines and turns its failures into one line and an exit code: 2 when a run was not
// complete or the configuration is wrong, 1 for anything else short of success.
func syncOutcome(c *cli.Context, target string, res []pipelines.SyncResult, err error) error {
	if err != nil {
		if errors.Is(err, pipelines.ErrInvalidConfig) {
			return &exitError{code: exitUsage, err: err}
		}
		return &exitError{code: exitFailed, err: fmt.Errorf("sync %s: %w", target, err)}
	}
	err = pipelines.WriteSyncs(c.App.Writer, target, res, c.Bool("dry-run"))
	if errors.Is(err, pipelines.ErrNotComplete) {
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
