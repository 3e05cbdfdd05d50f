// Package target is the contract between a sync target (an asset system seatlake pushes its answers into) and the
// rest of seatlake.
//
// A target declares its name (the `seatlake sync <name>` subcommand, the syncs table's target, the config file's
// sync.<name> section and the value of --then-sync), what a user can set (its settings: each one a flag of its
// subcommand and a key of its section, or a key of a tenant's entry) and how it is opened for one sync from their
// values. The opened target sends one tenant's rows (Sender; StreamSender when it takes them as a stream read from
// the marts as it sends); it may also refuse a set of tenants before anything is sent (Preflighter) and probe its
// set-up for `seatlake check` (Prober).
//
// A target plugs in with one line, Register in its package's init (as Telegraf's outputs.Add does), and is linked
// in by one blank import in load/target/all; pipelines reads the marts, diffs, records every sync in the syncs table
// and remembers what was sent, and cmd derives the subcommand, its flags and the config keys from the declaration,
// so neither changes for a new target.
package target

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"

	"github.com/seatlake/seatlake/internal/plugin"
)

// Target is one asset system seatlake syncs into.
type Target interface {
	// Name is the target's short name: lower-case letters, digits and -.
	Name() string
	// Usage is the subcommand's one-line help; Description its longer text.
	Usage() string
	Description() string
	// Settings are what a user can set.
	Settings() []Setting
	// Open readies one sync (or one check) from the settings' values. An error is a set-up to fix.
	Open(s Setup) (Sender, error)
}

// Sender is an opened target: it sends one tenant's full set of rows.
type Sender interface {
	// Send sends data, the tenant's latest rows, whole. The result's Sent counts, per selector, the rows the target
	// took: fewer than data holds (a row skipped or emptied) fails the sync, as an error wrapping ErrRowsRefused
	// does (the sync is then partial: the other rows landed).
	Send(ctx context.Context, env Env, data Data) (Result, error)
}

// StreamSender is a Sender that also takes a tenant's rows as a stream (Rows), read from the marts while it sends
// them, so that a sync's memory does not grow with the tenant: seatlake hands rows this way to every sender that
// implements it, and whole (Send) to the others. SendRows's result and errors mean what Send's do.
type StreamSender interface {
	Sender
	SendRows(ctx context.Context, env Env, rows Rows) (Result, error)
}

// Preflighter is a Sender that refuses, before anything is sent, a sync of these tenants it cannot take (two
// tenants into one import source): an error to fix in the set-up.
type Preflighter interface {
	Preflight(tenants []Tenant) error
}

// Prober is a Sender that checks its set-up without sending anything, for `seatlake check`.
type Prober interface {
	Probe(ctx context.Context) []Check
}

// Setup is what a target is opened with.
type Setup struct {
	Values Values
	// Tenants are the deployment's tenants (the config file's, else the warehouse's), with the values their entries
	// give the target's per-tenant settings.
	Tenants []Tenant
	// Secrets is false for a dry run: nothing is sent, so no secret is read (Secret is nil).
	Secrets bool
	// Secret reads a secret from file when it is set, else from the environment variable env (when not empty);
	// what names it in messages and key is the setting that names its file.
	Secret func(what, key, env, file string) (string, error)
	Logger *slog.Logger
}

// Tenant is a tenant as a target sees it.
type Tenant struct {
	ID, Name string
	// Values are its entry's values of the target's per-tenant settings.
	Values map[string]string
}

// Env is what a sync gives one Send.
type Env struct {
	Tenant Tenant
	// Note is the text the target left for this tenant with SetNote, "" when none; it outlives the process (an
	// import a killed sync started). SetNote("") removes it.
	Note    func() string
	SetNote func(text string) error
	Logger  *slog.Logger
}

// Result says what one Send did.
type Result struct {
	ExecutionID string         // the target's id of the import, when it has one
	Sent        map[string]int // rows the target took, per selector
	// Counts are the target's own counts, per object type name: <type>:created, :updated, :unchanged, :errors; nil
	// when it reports none.
	Counts map[string]int
}

// ErrRowsRefused means the target refused some rows and took the others: the sync is partial, and fails.
var ErrRowsRefused = errors.New("the target refused rows")

// ErrSetUp marks an error of Preflight or Send that is the set-up's to fix, not the target's (a tenant without a
// token): the command exits as for a usage error. Open's errors are always the set-up's.
var ErrSetUp = errors.New("invalid configuration")

// Check is one line of `seatlake check`; Tenant is "" for a set-up every tenant shares.
type Check = plugin.Check

// Check statuses.
const (
	OK   = plugin.OK
	Warn = plugin.Warn
	Fail = plugin.Fail
)

// Kind is the type of a setting's value.
type Kind int

const (
	String Kind = iota + 1 // any text
	Int                    // a whole number
)

// Setting is one thing a user can set for a target: a flag of `seatlake sync <name>` and a key of the config file's
// sync.<name> section, or, PerTenant, a key of a tenant's entry.
type Setting struct {
	Key      string
	Kind     Kind
	Default  string // in the value's own syntax; empty: unset
	Min, Max string // bounds of an Int; empty: none
	Help     string
	Env      string // environment variable, optional
	// Endpoint marks a URL a target sends credentials to: https, or http:// on loopback only.
	Endpoint  bool
	PerTenant bool
}

// Number reports whether the setting is a whole number.
func (s Setting) Number() bool { return s.Kind == Int }

// Bounds are an Int setting's bounds; ok is false when it has none.
func (s Setting) Bounds() (lo, hi int, ok bool) {
	if s.Kind != Int || s.Min == "" || s.Max == "" {
		return 0, 0, false
	}
	lo, _ = strconv.Atoi(s.Min)
	hi, _ = strconv.Atoi(s.Max)
	return lo, hi, true
}

// Validate checks one value of the setting: its syntax and bounds. The error names neither key nor value.
func (s Setting) Validate(v string) error {
	if s.Kind != Int {
		return nil
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		return errors.New("want a whole number")
	}
	if lo, hi, ok := s.Bounds(); ok && (n < lo || n > hi) {
		return fmt.Errorf("want %d to %d", lo, hi)
	}
	return nil
}

func (s Setting) check() error {
	if s.Kind != String && s.Kind != Int {
		return fmt.Errorf("setting %s: no kind", s.Key)
	}
	if !plugin.ValidName(s.Key) {
		return fmt.Errorf("setting %q: want lower-case letters, digits and -", s.Key)
	}
	for _, v := range []string{s.Default, s.Min, s.Max} {
		if _, err := strconv.Atoi(v); v != "" && s.Kind == Int && err != nil {
			return fmt.Errorf("setting %s: its own default or bound %q is not a whole number", s.Key, v)
		}
	}
	return nil
}

// Values are a target's settings' values by key, defaults filled in ("" for a setting unset without a default).
type Values map[string]string

// Int is a whole-number setting's value (0 when unset).
func (v Values) Int(key string) int {
	n, _ := strconv.Atoi(v[key])
	return n
}

// Registry holds the registered targets.
type Registry = plugin.Registry[Target]

// Default is the registry Register fills and seatlake reads: the one package-level variable of the contract, as a
// plugin registry is.
var Default = New()

// New is an empty registry of targets.
func New() *Registry {
	return plugin.New[Target]("sync target", func(t Target, _ []Target) error { return checkTarget(t) })
}

// Register adds t to the default plugin. It panics when t's name is taken or a setting is malformed: a
// programming error, found the first time the binary starts.
func Register(t Target) { Default.Register(t) }

// checkTarget refuses a malformed setting.
func checkTarget(t Target) error {
	var keys []string
	for _, s := range t.Settings() {
		if err := s.check(); err != nil {
			return err
		}
		if slices.Contains(keys, s.Key) {
			return fmt.Errorf("setting %s declared twice", s.Key)
		}
		keys = append(keys, s.Key)
	}
	return nil
}
