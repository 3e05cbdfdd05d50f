package main

import (
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/seatlake/seatlake/pipelines"
)

// One way to pick a tenant, on every command: --tenant NAME, the tenant's name in the config file (for a tenant
// known only from the warehouse, the name its latest run recorded), or its tenant id; repeatable or a comma list;
// none picks every tenant. Without a config file a tenant's name is its tenant id. pickTenants is the one place a
// --tenant value is matched; tenantConfigs (the commands that sign in: run, check, reclaim, events serve, config
// validate) and warehouseTenants (the commands that read the warehouse: report, marts, sync, query) feed it.

// tenantFlag is --tenant.
func tenantFlag() cli.Flag {
	return &cli.StringSliceFlag{Name: "tenant", Usage: "only this tenant: its name in the config file (or its tenant id); repeatable or a comma list (default: every tenant)"}
}

// pickTenants resolves --tenant against known: each value names a tenant by name, else by tenant id. Without
// --tenant it picks every tenant of known and explicit is false. where says what known is, for the error.
func pickTenants(known []pipelines.TenantRef, values []string, where string) (picked []pipelines.TenantRef, explicit bool, err error) {
	if len(values) == 0 {
		return known, false, nil
	}
	for _, v := range values {
		v = strings.TrimSpace(v)
		if v == "" {
			continue
		}
		i := slices.IndexFunc(known, func(t pipelines.TenantRef) bool { return t.Name == v })
		if i < 0 {
			i = slices.IndexFunc(known, func(t pipelines.TenantRef) bool { return strings.EqualFold(t.ID, v) })
		}
		if i < 0 {
			var names []string
			for _, t := range known {
				names = append(names, t.Name)
			}
			slices.Sort(names)
			has := "no tenant"
			if len(names) > 0 {
				has = strings.Join(names, ", ")
			}
			return nil, true, fmt.Errorf("--tenant %q: %s has no such tenant (it has %s)%s", v, where, has, pipelines.Suggest(v, names))
		}
		if !slices.Contains(picked, known[i]) {
			picked = append(picked, known[i])
		}
	}
	return picked, true, nil
}

// tenantConfigs turns the command line, or the config file's tenants picked by --tenant, into one pipelines.Config
// per tenant. The file must be right as a whole: a wrong key or value stops the command (exit 2, naming it). Each
// tenant's credential (secret file or variable, certificate) is read on its own, and one that cannot be read stops
// the command only for a tenant --tenant named, or when no picked tenant is left (and, strict, for any picked
// tenant: config validate). Otherwise that tenant comes back with Config.SetupErr, for the command to report while
// the others go on; a tenant not picked is only a warning on log.
func tenantConfigs(c *cli.Context, fc *fileConfig, base pipelines.Config, strict bool, log *slog.Logger) ([]pipelines.Config, error) {
	base.AuthorityHost, base.GraphEndpoint = c.String("authority-host"), c.String("graph-endpoint")
	base.AllowAuthorityHosts = c.StringSlice("allow-authority-host")
	if fc == nil || len(fc.tenants) == 0 {
		return flagTenantConfig(c, base)
	}
	// The file first, whole: every tenant's settings, as written.
	all := make([]pipelines.Config, len(fc.tenants))
	known := make([]pipelines.TenantRef, len(fc.tenants))
	for i, t := range fc.tenants {
		cfg, err := t.settings(i, base)
		if err != nil {
			return nil, err
		}
		if slices.ContainsFunc(known[:i], func(k pipelines.TenantRef) bool { return k.Name == cfg.Name }) {
			return nil, fmt.Errorf("tenant %q: name: used by two tenants", cfg.Name)
		}
		all[i], known[i] = cfg, pipelines.TenantRef{Name: cfg.Name, ID: cfg.TenantID}
	}
	picked, explicit, err := pickTenants(known, c.StringSlice("tenant"), "the config file")
	if err != nil {
		return nil, err
	}
	return tenantCredentials(fc, all, known, picked, explicit || strict, log)
}

// flagTenantConfig is the one tenant of the command line and the environment, without a config file.
func flagTenantConfig(c *cli.Context, base pipelines.Config) ([]pipelines.Config, error) {
	cfg := base
	cfg.TenantID, cfg.ClientID = c.String("tenant-id"), c.String("client-id")
	// Without a config file the one tenant is named by its id.
	for _, v := range c.StringSlice("tenant") {
		if v != cfg.TenantID {
			return nil, fmt.Errorf("--tenant %q: there is no config file with a tenants list to pick it from: give --config seatlake.yaml (without one, the tenant is --tenant-id)", v)
		}
	}
	var err error
	if c.Bool("managed-identity") {
		cfg.ManagedIdentity = true
	} else if cfg.ClientSecret, cfg.Assertion, err = pipelines.Credential(cfg.ClientID, c.String("client-certificate-file"),
		"AZURE_CLIENT_CERTIFICATE_PASSWORD", c.String("federated-token-file"), "AZURE_CLIENT_SECRET", c.String("client-secret-file")); err != nil {
		return nil, err
	}
	return []pipelines.Config{cfg}, nil
}

// tenantCredentials reads each config file tenant's credential, on its own, into its settings (all, named by
// known): a picked tenant whose credential cannot be read stops the command when stopEach (--tenant named it, or
// config validate), else it comes back with Config.SetupErr, unless no picked tenant is left; one not picked is a
// warning on log.
func tenantCredentials(fc *fileConfig, all []pipelines.Config, known, picked []pipelines.TenantRef, stopEach bool, log *slog.Logger) ([]pipelines.Config, error) {
	var cfgs []pipelines.Config
	var stop []error
	for i, t := range fc.tenants {
		cfg := all[i]
		err := t.credentials(&cfg)
		if !slices.Contains(picked, known[i]) {
			if err != nil {
				log.Warn("a tenant not picked by --tenant cannot sign in as configured: fix it before it runs", "tenant", cfg.Name, "problem", err.Error())
			}
			continue
		}
		if err != nil {
			if stopEach {
				stop = append(stop, fmt.Errorf("tenant %q: %w", cfg.Name, err))
			}
			cfg.SetupErr = err
		}
		cfgs = append(cfgs, cfg)
	}
	if !stopEach && !slices.ContainsFunc(cfgs, func(c pipelines.Config) bool { return c.SetupErr == nil }) {
		stop = append(stop, setupProblems(cfgs)...)
	}
	if len(stop) > 0 {
		return nil, joinLine(stop)
	}
	return cfgs, nil
}

// warehouseTenants resolves --tenant (and the older --tenant-id, where a command still takes it) for the commands
// that read the warehouse. known are the tenants of the config file and of the warehouse, named as the config file
// names them, else as their latest run recorded it; picked is nil without --tenant: every tenant in the warehouse.
func warehouseTenants(c *cli.Context, fc *fileConfig, warehouse string) (picked, known []pipelines.TenantRef, err error) {
	if known, err = knownTenants(c, fc, warehouse); err != nil {
		return nil, nil, err
	}
	values := append(c.StringSlice("tenant"), c.StringSlice("tenant-id")...) // --tenant-id: report, marts and sync took it before --tenant
	where := "the warehouse " + warehouse
	if len(fileTenants(fc)) > 0 {
		where = "the config file or the warehouse " + warehouse
	}
	picked, explicit, err := pickTenants(known, values, where)
	if err != nil || !explicit {
		return nil, known, err
	}
	return picked, known, nil
}

// knownTenants are the tenants of the config file and of the warehouse, named as the config file names them, else
// as their latest run recorded it.
func knownTenants(c *cli.Context, fc *fileConfig, warehouse string) ([]pipelines.TenantRef, error) {
	stored, err := pipelines.WarehouseTenants(c.Context, warehouse)
	if err != nil {
		return nil, err
	}
	known := fileTenants(fc)
	for _, t := range stored {
		if !slices.ContainsFunc(known, func(k pipelines.TenantRef) bool { return k.ID == t.ID }) {
			known = append(known, t)
		}
	}
	return known, nil
}

// fileTenants are the config file's tenants, by name and id.
func fileTenants(fc *fileConfig) []pipelines.TenantRef {
	var out []pipelines.TenantRef
	if fc == nil {
		return nil
	}
	for _, t := range fc.tenants {
		if t.Name != "" && t.TenantID != "" {
			out = append(out, pipelines.TenantRef{Name: t.Name, ID: t.TenantID})
		}
	}
	return out
}

// tenantNames are the tenants' names by id.
func tenantNames(ts []pipelines.TenantRef) map[string]string {
	out := map[string]string{}
	for _, t := range ts {
		out[t.ID] = t.Name
	}
	return out
}

// tenantIDs are the picked tenants' ids (nil for none: every tenant).
func tenantIDs(ts []pipelines.TenantRef) []string {
	var out []string
	for _, t := range ts {
		out = append(out, t.ID)
	}
	return out
}

// setupProblems are the tenants whose credential could not be read, for a command to report once.
func setupProblems(cfgs []pipelines.Config) []error {
	var out []error
	for _, cfg := range cfgs {
		if cfg.SetupErr != nil {
			out = append(out, fmt.Errorf("tenant %q: %w", cfg.Name, cfg.SetupErr))
		}
	}
	return out
}

// joinLine joins errors on one line: a usage error is one line on stderr.
func joinLine(errs []error) error {
	if len(errs) == 1 {
		return errs[0]
	}
	msgs := make([]string, len(errs))
	for i, e := range errs {
		msgs[i] = e.Error()
	}
	return errors.New(strings.Join(msgs, "; "))
}
