package main

import (
	"cmp"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/seatlake/seatlake/extract/msauth"
	"github.com/seatlake/seatlake/load/assets"
	"github.com/seatlake/seatlake/pipelines"
)

// printChecks writes one line per check: status, tenant, source (with the environment), what, detail, and the
// action after "->".
func printChecks(w io.Writer, results []pipelines.CheckResult) {
	for _, r := range results {
		where := r.Source
		if r.Target != "" && r.Source != "graph" {
			where += " " + r.Target
		}
		line := fmt.Sprintf("%-4s %s %s %s: %s", strings.ToUpper(r.Status), r.Tenant, where, r.Check, r.Detail)
		if r.Action != "" {
			line += " -> " + r.Action
		}
		fmt.Fprintln(w, line)
	}
}

func checkCommand() *cli.Command {
	flags := append(runFlags(), &cli.StringFlag{Name: "format", Value: "text", Usage: "text (one line per check) or json (for scripts)"})
	var fc *fileConfig
	return &cli.Command{
		Name:   "check",
		Before: loadConfigFile(&fc),
		Usage:  "validate the connection before the night fails: tokens, permissions, P1, application users, audit settings, F&O entities",
		Description: "Takes the same settings as `seatlake run` (flags, environment, --config). For each tenant and source it prints\n" +
			"one line: OK, WARN or FAIL, what was checked, and the action to take. Exit 0 only when nothing fails.",
		Flags: flags,
		Action: func(c *cli.Context) error {
			log, err := newLogger(c)
			if err != nil {
				return err
			}
			base := pipelines.Config{Warehouse: c.String("warehouse"), Logger: log}
			if err := applyTuning(c, &base); err != nil {
				return err
			}
			cfgs, err := tenantConfigs(c, fc, base)
			if err != nil {
				return &exitError{code: exitUsage, err: err}
			}
			var all []pipelines.CheckResult
			for _, cfg := range cfgs {
				all = append(all, pipelines.Check(c.Context, cfg)...)
			}
			targets, err := syncTargets(fc, log)
			if err != nil {
				return &exitError{code: exitUsage, err: err}
			}
			all = append(all, pipelines.CheckSyncTargets(c.Context, targets)...)
			switch c.String("format") {
			case "json":
				b, err := json.MarshalIndent(all, "", "  ")
				if err != nil {
					return err
				}
				fmt.Fprintln(c.App.Writer, string(b))
			case "text":
				printChecks(c.App.Writer, all)
			default:
				return &exitError{code: exitUsage, err: fmt.Errorf("--format %q: want text or json", c.String("format"))}
			}
			failed := 0
			for _, r := range all {
				if r.Status == pipelines.CheckFail {
					failed++
				}
			}
			if failed > 0 {
				return &exitError{code: exitFailed, err: fmt.Errorf("check: %d check(s) failed", failed)}
			}
			return nil
		},
	}
}

// syncTargets are the asset systems of the config file's sync section, with their secrets from the files it names
// or the environment, for `seatlake check` to probe.
func syncTargets(fc *fileConfig, log *slog.Logger) (pipelines.SyncTargets, error) {
	var t pipelines.SyncTargets
	if fc == nil {
		return t, nil
	}
	if n := fc.sync["jsm-assets"]; n != nil {
		var s struct {
			URL       string `yaml:"url"`
			TokenFile string `yaml:"token-file"`
		}
		if err := n.Decode(&s); err != nil {
			return t, fmt.Errorf("sync.jsm-assets: %s", oneLine(err.Error()))
		}
		if err := msauth.CheckEndpoint(cmp.Or(s.URL, "https://api.atlassian.com")); err != nil {
			return t, fmt.Errorf("sync.jsm-assets.url: %w", err)
		}
		base := assets.Config{BaseURL: cmp.Or(s.URL, "https://api.atlassian.com"), Logger: log}
		for _, tn := range fc.tenants { // tenants with their own import source
			if tn.AssetsTokenFile == "" {
				continue
			}
			tok, err := msauth.LoadSecret("", tn.AssetsTokenFile)
			if err != nil {
				return t, fmt.Errorf("tenant %q: jsm-assets-token-file: %w", tn.Name, err)
			}
			cfg := base
			cfg.Token = tok.Reveal()
			t.JSM = append(t.JSM, pipelines.JSMTarget{Tenant: tn.Name, Config: cfg})
		}
		tok, err := msauth.LoadSecret("SEATLAKE_JSM_ASSETS_TOKEN", s.TokenFile)
		switch {
		case err == nil:
			cfg := base
			cfg.Token = tok.Reveal()
			t.JSM = append(t.JSM, pipelines.JSMTarget{Tenant: "-", Config: cfg})
		case len(t.JSM) == 0:
			return t, fmt.Errorf("sync.jsm-assets: the container token: %w", err)
		}
	}
	if n := fc.sync["servicenow"]; n != nil {
		var s struct {
			InstanceURL      string `yaml:"instance-url"`
			User             string `yaml:"user"`
			PasswordFile     string `yaml:"password-file"`
			ClientID         string `yaml:"client-id"`
			ClientSecretFile string `yaml:"client-secret-file"`
			UserTable        string `yaml:"user-table"`
			SubTable         string `yaml:"subscription-table"`
			LicenseTable     string `yaml:"license-table"`
		}
		if err := n.Decode(&s); err != nil {
			return t, fmt.Errorf("sync.servicenow: %s", oneLine(err.Error()))
		}
		if err := msauth.CheckEndpoint(s.InstanceURL); err != nil {
			return t, fmt.Errorf("sync.servicenow.instance-url: %w", err)
		}
		sn := &assets.ServiceNowConfig{InstanceURL: s.InstanceURL, User: s.User, ClientID: s.ClientID, Logger: log,
			Tables: assets.StagingTables{User: cmp.Or(s.UserTable, assets.DefaultStagingTables.User),
				Subscription: cmp.Or(s.SubTable, assets.DefaultStagingTables.Subscription), License: cmp.Or(s.LicenseTable, assets.DefaultStagingTables.License)}}
		var sec msauth.Secret
		var err error
		if s.ClientID != "" {
			sec, err = msauth.LoadSecret("SEATLAKE_SERVICENOW_CLIENT_SECRET", s.ClientSecretFile)
			sn.ClientSecret = sec.Reveal()
		} else {
			sec, err = msauth.LoadSecret("SEATLAKE_SERVICENOW_PASSWORD", s.PasswordFile)
			sn.Password = sec.Reveal()
		}
		if err != nil {
			return t, fmt.Errorf("sync.servicenow: %w", err)
		}
		t.ServiceNow = sn
	}
	return t, nil
}
