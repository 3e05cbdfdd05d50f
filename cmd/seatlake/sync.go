package main

import (
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"

	"github.com/urfave/cli/v2"
	"gopkg.in/yaml.v3"

	"github.com/seatlake/seatlake/pipelines"
)

// The sync targets registered below pipelines (load/target) are subcommands of `seatlake sync`, derived here from
// their declarations: each setting is a flag of the subcommand and a key of the config file's sync.<name> section
// (or, per tenant, a key of a tenant's entry). Nothing here names a target.

func syncCommand() *cli.Command {
	var subs []*cli.Command
	for _, t := range pipelines.TargetInfos() {
		subs = append(subs, targetCommand(t))
	}
	return &cli.Command{
		Name:        "sync",
		Usage:       "push people, subscriptions and license usage into an asset system",
		Subcommands: subs,
	}
}

// targetCommand is `seatlake sync <target>`.
func targetCommand(t pipelines.TargetInfo) *cli.Command {
	var fc *fileConfig
	load := loadConfigFile(&fc)
	return &cli.Command{
		Name:        t.Name,
		Usage:       t.Usage,
		Description: t.Description,
		Before: func(c *cli.Context) error {
			if err := load(c); err != nil {
				return err
			}
			return checkTargetBounds(t, flagSetting(c), func(name string, n int, lo, hi int) error {
				return fmt.Errorf("--%s %d: want %d to %d: see 'seatlake sync %s --help'", name, n, lo, hi, t.Name)
			})
		},
		Flags: append(targetFlags(t), syncFlags()...),
		Action: func(c *cli.Context) error {
			if err := setMemoryLimit(c.String("memory-limit"), pipelines.SyncBatchRows); err != nil {
				return &exitError{code: exitUsage, err: err}
			}
			log, err := syncLogger(c)
			if err != nil {
				return err
			}
			cfg, known, err := syncConfig(c, fc, log)
			if err != nil {
				return err
			}
			if cfg.Target, err = pipelines.OpenTarget(t.Name, flagSetting(c), targetTenants(fc, known, t), !cfg.DryRun, log); err != nil {
				return &exitError{code: exitUsage, err: fmt.Errorf("sync %s: %w", t.Name, err)}
			}
			return syncError(pipelines.Sync(c.Context, t.Name, cfg, c.App.Writer))
		},
	}
}

// syncFlags are every sync subcommand's own flags, after the target's.
func syncFlags() []cli.Flag {
	return append([]cli.Flag{
		warehouseFlag(), catalogFlag(), storageFlag(),
		configFlag(),
		tenantFlag(),
		&cli.StringSliceFlag{Name: "tenant-id", Hidden: true, Usage: "only this tenant id; repeatable (older spelling of --tenant)"},
		&cli.BoolFlag{Name: "dry-run", Usage: "send nothing: print and record what would change against the last successful sync"},
		&cli.BoolFlag{Name: "allow-partial", Usage: "sync even when the tenant's latest run was incomplete"},
		&cli.StringFlag{Name: "memory-limit", Value: "auto", Usage: "Go soft memory limit, e.g. 512MiB; auto: 96 MiB + 4 KiB per row of a sync's batch of 5,000 (116 MiB) (GOMEMLIMIT wins when set)"},
	}, logFlags()...)
}

// targetFlags are a flag per setting of the target (a per-tenant setting is a key of a tenant's entry instead).
func targetFlags(t pipelines.TargetInfo) []cli.Flag {
	var flags []cli.Flag
	for _, s := range t.Settings {
		if s.PerTenant {
			continue
		}
		var env []string
		if s.Env != "" {
			env = []string{s.Env}
		}
		if s.Number() {
			n, _ := strconv.Atoi(s.Default)
			flags = append(flags, &cli.IntFlag{Name: s.Key, Value: n, Usage: s.Help, EnvVars: env})
			continue
		}
		flags = append(flags, &cli.StringFlag{Name: s.Key, Value: s.Default, Usage: s.Help, EnvVars: env})
	}
	return flags
}

// checkTargetBounds checks the target's whole-number settings read through get against their bounds; bad says
// what is wrong with one.
func checkTargetBounds(t pipelines.TargetInfo, get setting, bad func(name string, n, lo, hi int) error) error {
	for _, s := range t.Settings {
		lo, hi, ok := s.Bounds()
		if !ok || s.PerTenant {
			continue
		}
		if n, err := strconv.Atoi(get(s.Key)); err == nil && (n < lo || n > hi) {
			return &exitError{code: exitUsage, err: bad(s.Key, n, lo, hi)}
		}
	}
	return nil
}

// targetInfo is the registered target of that name.
func targetInfo(name string) (pipelines.TargetInfo, bool) {
	for _, t := range pipelines.TargetInfos() {
		if t.Name == name {
			return t, true
		}
	}
	return pipelines.TargetInfo{}, false
}

// targetTenants are the tenants a target is opened with: the config file's, with their entries' values of the
// target's per-tenant settings, else known (the warehouse's).
func targetTenants(fc *fileConfig, known []pipelines.TenantRef, t pipelines.TargetInfo) []pipelines.TargetTenant {
	var out []pipelines.TargetTenant
	if fc == nil || len(fc.tenants) == 0 {
		for _, k := range known {
			out = append(out, pipelines.TargetTenant{ID: k.ID, Name: k.Name})
		}
		return out
	}
	for _, e := range fc.tenants {
		v := map[string]string{}
		for _, s := range t.Settings {
			if s.PerTenant {
				v[s.Key] = entryValue(e, s.Key)
			}
		}
		out = append(out, pipelines.TargetTenant{ID: e.TenantID, Name: e.Name, Values: v})
	}
	return out
}

// entryValue is a tenant entry's value of a registered per-tenant setting.
func entryValue(e tenantFile, key string) string {
	if vs := e.Sources[key]; len(vs) > 0 {
		return vs[len(vs)-1]
	}
	return ""
}

// sectionTarget opens the target name as `seatlake sync <name>` would with no flag on the command line: its
// settings from the environment and the config file's sync.<name> section (range-checked as its flags), its tenants
// the file's, else known. secrets is false for a dry run. For --then-sync (run.go) and `seatlake check`.
func sectionTarget(name string, fc *fileConfig, known []pipelines.TenantRef, secrets bool, log *slog.Logger) (*pipelines.OpenedTarget, error) {
	t, ok := targetInfo(name)
	if !ok {
		return nil, &exitError{code: exitUsage, err: fmt.Errorf("sync target %q: want %s%s", name, strings.Join(pipelines.TargetNames(), " or "), pipelines.Suggest(name, pipelines.TargetNames()))}
	}
	var section *yaml.Node
	path := ""
	if fc != nil {
		section, path = fc.sync[name], fc.path
	}
	get, err := sectionSetting(name, section)
	if err != nil {
		return nil, &exitError{code: exitUsage, err: err}
	}
	if err := checkSection(name, get, path); err != nil {
		return nil, err
	}
	o, err := pipelines.OpenTarget(name, get, targetTenants(fc, known, t), secrets, log)
	if err != nil {
		return nil, &exitError{code: exitUsage, err: fmt.Errorf("sync.%s: %w", name, err)}
	}
	return o, nil
}

// sectionTargets are the targets of the config file's sync section, opened with their secrets, for `seatlake
// check` to probe (pipelines.CheckTargets).
func sectionTargets(fc *fileConfig, log *slog.Logger) ([]*pipelines.OpenedTarget, error) {
	var out []*pipelines.OpenedTarget
	if fc == nil {
		return nil, nil
	}
	for _, name := range pipelines.TargetNames() {
		if fc.sync[name] == nil {
			continue
		}
		o, err := sectionTarget(name, fc, nil, true, log)
		if err != nil {
			return nil, err
		}
		out = append(out, o)
	}
	return out, nil
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
		if !c.IsSet(name) {
			return "" // its default, from its declaration
		}
		if v := c.Value(name); v != nil {
			return fmt.Sprint(v)
		}
		return ""
	}
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

// checkSection checks a sync target's whole-number and true/false settings read through get (as --then-sync reads
// them from the config file's sync section) as its command checks its flags: a value that does not parse, or a
// number out of its range, is a usage error.
func checkSection(target string, get setting, configPath string) error {
	t, ok := targetInfo(target)
	if !ok {
		return nil
	}
	err := checkTargetBounds(t, get, func(name string, n, lo, hi int) error {
		return fmt.Errorf("sync %s: --%s %d: want %d to %d: see 'seatlake sync %s --help'", target, name, n, lo, hi, target)
	})
	if err != nil {
		return err
	}
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
				_, err = strconv.Atoi(v)
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
