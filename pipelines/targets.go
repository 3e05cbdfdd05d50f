package pipelines

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"

	"github.com/seatlake/seatlake/extract/msauth"
	"github.com/seatlake/seatlake/load/target"
	_ "github.com/seatlake/seatlake/load/target/all" // the registered sync targets
)

// The sync targets registered through load/target are opened, run and checked here generically: their names,
// settings, set-up checks and probes come from their declarations. cmd derives `seatlake sync <name>`, its flags
// and the config file's sync.<name> keys from TargetInfos.

// TargetSetting is one setting of a registered sync target: a flag of its subcommand and a key of its section of
// the config file, or, PerTenant, a key of a tenant's entry.
type TargetSetting = target.Setting

// TargetTenant is a tenant as a target is opened with it: its id, name and its entry's values of the target's
// per-tenant settings.
type TargetTenant = target.Tenant

// TargetInfo is a registered sync target as cmd shows it.
type TargetInfo struct {
	Name, Usage, Description string
	Settings                 []TargetSetting
}

// TargetInfos are the registered sync targets, in the order they registered.
func TargetInfos() []TargetInfo {
	var out []TargetInfo
	for _, t := range target.Default.All() {
		out = append(out, TargetInfo{Name: t.Name(), Usage: t.Usage(), Description: t.Description(), Settings: t.Settings()})
	}
	return out
}

// TargetNames are the registered sync targets' names.
func TargetNames() []string { return target.Default.Names() }

// OpenedTarget is a registered sync target readied for syncs (SyncConfig.Target) or a check (CheckTargets).
type OpenedTarget struct {
	name   string
	sender target.Sender
}

// OpenTarget readies the registered target name from its settings (get reads one by key, "" when unset: its default
// applies) and the deployment's tenants. Without secrets (a dry run) no secret is read. The error, which does not
// name the target, wraps ErrInvalidConfig: a configuration to fix.
func OpenTarget(name string, get func(key string) string, tenants []TargetTenant, secrets bool, log *slog.Logger) (*OpenedTarget, error) {
	t, ok := target.Default.Lookup(name)
	if !ok {
		return nil, fmt.Errorf("%w: sync target %q: want %s%s", ErrInvalidConfig, name, strings.Join(TargetNames(), " or "), Suggest(name, TargetNames()))
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := target.Setup{Values: target.Values{}, Tenants: tenants, Secrets: secrets, Logger: log}
	for _, st := range t.Settings() {
		if st.PerTenant {
			continue
		}
		v := cmp.Or(get(st.Key), st.Default)
		if v == "" {
			continue
		}
		if err := st.Validate(v); err != nil {
			return nil, invalidConfig{fmt.Errorf("%s %q: %w", st.Key, v, err)}
		}
		if st.Endpoint {
			if err := msauth.CheckEndpoint(v); err != nil {
				return nil, invalidConfig{fmt.Errorf("%s: %w", st.Key, err)}
			}
		}
		s.Values[st.Key] = v
	}
	if secrets {
		s.Secret = func(what, key, env, file string) (string, error) {
			sec, err := msauth.LoadNamedSecret(what, key, env, file)
			return sec.Reveal(), err
		}
	}
	sender, err := t.Open(s)
	if err != nil {
		return nil, invalidConfig{err}
	}
	return &OpenedTarget{name: name, sender: sender}, nil
}

// invalidConfig marks a set-up error as ErrInvalidConfig without adding to its message.
type invalidConfig struct{ error }

func (e invalidConfig) Is(t error) bool { return t == ErrInvalidConfig }
func (e invalidConfig) Unwrap() error   { return e.error }

// CheckTargets probes each opened target that can be probed, without sending anything: a token or a password that
// would fail tonight's sync fails here today.
func CheckTargets(ctx context.Context, targets []*OpenedTarget) []CheckResult {
	var out []CheckResult
	for _, t := range targets {
		p, ok := t.sender.(target.Prober)
		if !ok {
			continue
		}
		for _, c := range p.Probe(ctx) {
			out = append(out, CheckResult{Tenant: cmp.Or(c.Tenant, "-"), Source: t.name, Target: c.Target, Check: c.Name, Status: c.Status,
				Detail: oneLine(c.Detail), Action: c.Action})
		}
	}
	return out
}

// Sync syncs into target (its opened set-up in cfg.Target) and writes a line per tenant and object type to out
// (WriteSyncs). The error wraps ErrInvalidConfig for a configuration to fix (as it is), and ErrNotComplete when a
// tenant's latest run was not complete; any other names the target.
func Sync(ctx context.Context, target string, cfg SyncConfig, out io.Writer) error {
	sender, err := cfg.sender(target)
	if err != nil {
		return err
	}
	res, err := syncTenants(ctx, cfg, target, sender)
	if errors.Is(err, ErrInvalidConfig) {
		return err
	}
	if err != nil {
		return fmt.Errorf("sync %s: %w", target, err)
	}
	return WriteSyncs(out, target, res, cfg.DryRun)
}

// TargetSync is one sync a run is followed by: the target and its configuration.
type TargetSync struct {
	Target string
	Config SyncConfig
}

// RunThenSync is what follows a successful run (`seatlake run --then-sync`): each sync in turn, over the tenants
// just run, its lines written to out (io.Discard when quiet); the first that fails stops, with Sync's error.
func RunThenSync(ctx context.Context, syncs []TargetSync, out io.Writer) error {
	for _, s := range syncs {
		if err := Sync(ctx, s.Target, s.Config, out); err != nil {
			return err
		}
	}
	return nil
}

// sender is the opened target cfg names.
func (cfg SyncConfig) sender(name string) (target.Sender, error) {
	if cfg.Target == nil {
		return nil, fmt.Errorf("%w: sync %s: the target is not set up (OpenTarget)", ErrInvalidConfig, name)
	}
	if cfg.Target.name != name {
		return nil, fmt.Errorf("%w: sync %s with the set-up of %s", ErrInvalidConfig, name, cfg.Target.name)
	}
	return cfg.Target.sender, nil
}
