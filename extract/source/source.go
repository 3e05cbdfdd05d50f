// Package source is the contract between a source of data (a service seatlake reads) and the rest of seatlake.
//
// A source declares what it writes (its tables), what a user can set (its settings: each one becomes a flag of
// `seatlake run` and `seatlake check`, a key of the config file, at the top or per tenant, and a bound that
// `seatlake config validate` checks) and what it reads for one tenant (its streams, one or more per scope: the
// tenant, or each of its environments). A source may also check its set-up for `seatlake check`.
//
// A source plugs in with one line, a Register call in extract/all (as Telegraf's inputs.Add does; there rather than
// in each package's init, since Go initializes packages in the order of their import paths, and the order of
// registration is the order of tables, flags and check lines); pipelines runs the registered sources' streams
// generically and cmd derives its flags and keys from their settings, so neither changes for a new source.
package source

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/seatlake/seatlake/internal/outbound"
	"github.com/seatlake/seatlake/internal/plugin"
	"github.com/seatlake/seatlake/internal/table"
)

// Source is one service seatlake reads.
type Source interface {
	// Name is the source's short name: the prefix of its tables and settings, and the Source of its check lines.
	Name() string
	// Tables are every table the source writes.
	Tables() []*table.Table
	// Settings are what a user can set; their keys start with the source's name and - (or a prefix it declares,
	// see KeyPrefixer).
	Settings() []Setting
	// Streams are what one tenant's run reads, from the tenant's values of the settings (validated); none when the
	// source is not configured for the tenant (its tables then keep their last snapshots).
	Streams(v Values) []Stream
}

// Checker is a Source that can check a tenant's set-up before a run (`seatlake check`): reads only.
type Checker interface {
	Check(ctx context.Context, v Values, env Env) []Check
}

// Starter is a Source whose run begins with a step that must succeed before any stream of the run (of any source)
// starts and any table is opened: a precondition whose failure is the run's one error, as Start returns it (e.g. a
// token for the tenant: a wrong secret then reads as such, not as every stream failing at once). Reads only; Start
// runs only when the run reads the source.
type Starter interface {
	Start(ctx context.Context, v Values, env Env) error
}

// KeyPrefixer is a Source whose settings' keys may also start with the prefixes it declares (each ending in -),
// beyond its name and -: keys older than the contract that users already write (Graph's signin-…). No two sources
// may declare overlapping prefixes.
type KeyPrefixer interface {
	KeyPrefixes() []string
}

// Check is one line of `seatlake check` (its Tenant is left to the caller; Stop, on a failed line, skips the
// tenant's other checks).
type Check = plugin.Check

// Check statuses.
const (
	OK   = plugin.OK
	Warn = plugin.Warn
	Fail = plugin.Fail
)

// Stream is one read of a tenant's run: it writes the rows of Table through the sink it is given.
type Stream struct {
	Name string // unique within the run (progress, statistics): the table's name, then the scope if several
	// Table is what the stream writes; nil for a step that writes nothing (a check the scope's other streams
	// need to pass first, e.g. that the service has the entities the source reads).
	Table *table.Table
	// Also are further tables the stream writes, rows that come with Table's records (a user's licenses), each
	// through env.Sink(t). Progress counts Table's rows.
	Also []*table.Table
	// Scope names the part of the tenant the stream reads when the source reads several on their own (an
	// environment's URL); empty for the tenant as a whole. A scope's streams land together or not at all: when one
	// fails, the scope's snapshot rows are dropped (its tables keep their last snapshot for it), the scope is named
	// as missing and the run goes on with the other scopes, incomplete.
	Scope string
	// Optional streams are evidence, not the roster: a failure is recorded as missing and the run goes on.
	Optional bool
	// After names streams of the same scope that must succeed before this one starts (a first step whose answer
	// the others use, e.g. the environment's organization id).
	After []string
	Run   func(ctx context.Context, env Env, sink table.Sink) error
}

// Env is what the run gives a stream.
type Env struct {
	TenantID string
	ClientID string // the app registration's client id, for messages about granting it access
	RunID    string
	// AuthorityHost and GraphEndpoint are the tenant's cloud (the identity platform, Microsoft Graph): core
	// configuration rather than a source's settings, since reclaim, check and the cloud table use them too.
	AuthorityHost string
	GraphEndpoint string
	ExtractedAt   time.Time // the run's start, UTC: every row's extracted_at
	BatchRows     int       // rows per record batch handed to the sink
	Logger        *slog.Logger
	// Client returns the run's HTTP client, with bearer tokens for the resource (an https URL: its /.default
	// scope) or without credentials when resource is empty, the run's retry policy, timeouts and trusted roots,
	// counting into the stream's statistics.
	Client func(resource string) *outbound.Client
	// HTTP is the run's client configuration for resource, for a source that builds its own clients (headers, a
	// gate shared by a scope's streams): the token source of the resource (one per run and resource), the run's
	// HTTP client, retry policy, timeout and logger. Count a stream's requests with Client.WithStats(Stats).
	HTTP  func(resource string) outbound.Config
	Stats *outbound.Stats
	// Pages returns a pager that counts the pages p walks in the stream's progress and statistics.
	Pages func(p Pager) Pager
	// Windows fetches a windowed event stream since its last committed watermark (see Windows); the new
	// watermark is committed with the run's data.
	Windows func(ctx context.Context, w Windows) error
	// State reads what the source stored under key with the last committed run (a watermark); PutState stores
	// a new value, committed with this run's data and only then.
	State    func(key string) ([]byte, bool, error)
	PutState func(key string, value []byte)
	// Warn records a warning in the run's summary.
	Warn func(msg string)
	// Reject keeps aside a record of t that cannot be loaded (raw JSON) in the run's reject files, committed with
	// the run; the run's warnings say how many and where. It may be called concurrently and does not keep raw.
	Reject func(t *table.Table, raw []byte)
	// Sink is the sink of a table the stream writes beside its Table (Stream.Also); nil for any other table.
	Sink func(t *table.Table) table.Sink
}

// Pager walks an OData collection; *odata.Client is one.
type Pager interface {
	Walk(ctx context.Context, firstURL string, decode func(body []byte) (nextLink string, err error)) error
}

// Windows is a windowed event stream (sign-ins, an environment's audit records): the time since its watermark,
// split into windows of at most Size that never cross a UTC midnight, fetched Concurrency at once. A window that
// fails is named as missing and the watermark stops before it; the run goes on.
type Windows struct {
	Key         string        // the state key of the watermark
	History     time.Duration // how far back a first run reads
	Lookback    time.Duration // re-read before the watermark, for events logged late (views deduplicate)
	Size        time.Duration
	Concurrency int
	Fetch       func(ctx context.Context, from, to time.Time) (rows int64, err error)
	// Fatal says whether an error ends every window (no window can succeed): Windows then returns it.
	Fatal func(err error) bool
}

// Validator is a Source that checks a tenant's values beyond each setting's kind and bounds (e.g. that a URL is a
// service's root): one error per problem, naming the value.
type Validator interface {
	Validate(v Values) error
}

// Registry holds the registered sources (internal/plugin's registry, with the contract's rules). The process has
// one, Default, filled by extract/all's init before main runs and only read after.
type Registry struct{ plugins *plugin.Registry[Source] }

// NewRegistry is an empty registry.
func NewRegistry() *Registry {
	return &Registry{plugins: plugin.New[Source]("source", conflict)}
}

// Default is the registry Register fills and seatlake reads.
var Default = NewRegistry()

// Register adds s to the default registry. It panics when s's name, a table or a setting key is already taken:
// a programming error, found the first time the binary starts.
func Register(s Source) { Default.Register(s) }

// Register adds s; see the package function.
func (r *Registry) Register(s Source) { r.plugins.Register(s) }

// conflict is the contract's rules for s (its tables, settings and key prefixes), against the sources registered
// before it.
func conflict(s Source, registered []Source) error {
	for _, t := range s.Tables() {
		if !strings.HasPrefix(t.Name, strings.ReplaceAll(s.Name(), "-", "_")+"_") {
			return fmt.Errorf("table %s: a source's tables start with its name and _", t.Name)
		}
	}
	extra := extraPrefixes(s)
	for _, p := range extra {
		if !plugin.ValidName(strings.TrimSuffix(p, "-")) || !strings.HasSuffix(p, "-") {
			return fmt.Errorf("key prefix %q: want lower-case letters, digits and -, ending in -", p)
		}
	}
	owns := func(key string) bool {
		return slices.ContainsFunc(append([]string{s.Name()}, extra...), func(p string) bool { return strings.HasPrefix(key, p) })
	}
	for _, st := range s.Settings() {
		if !strings.HasPrefix(st.Key, s.Name()+"-") && !slices.ContainsFunc(extra, func(p string) bool { return strings.HasPrefix(st.Key, p) }) {
			return fmt.Errorf("setting %s: a source's settings start with its name and - (or a prefix it declares)", st.Key)
		}
		if st.TenantKey != "" && !owns(st.TenantKey) {
			return fmt.Errorf("setting %s: its tenant key %s does not start with the source's name", st.Key, st.TenantKey)
		}
		if err := st.check(); err != nil {
			return err
		}
	}
	for _, o := range registered {
		for i, p := range append([]string{s.Name() + "-"}, extra...) {
			for j, q := range append([]string{o.Name() + "-"}, extraPrefixes(o)...) {
				if (i > 0 || j > 0) && (strings.HasPrefix(p, q) || strings.HasPrefix(q, p)) { // a declared prefix
					return fmt.Errorf("key prefix %s overlaps source %s's %s", p, o.Name(), q)
				}
			}
		}
	}
	return nil
}

// extraPrefixes are the key prefixes s declares beyond its name (KeyPrefixer).
func extraPrefixes(s Source) []string {
	if kp, ok := s.(KeyPrefixer); ok {
		return kp.KeyPrefixes()
	}
	return nil
}

// Sources are the registered sources, in the order they registered.
func (r *Registry) Sources() []Source { return r.plugins.All() }

// Tables are the registered sources' tables.
func (r *Registry) Tables() []*table.Table {
	var ts []*table.Table
	for _, s := range r.Sources() {
		ts = append(ts, s.Tables()...)
	}
	return ts
}

// Settings are the registered sources' settings.
func (r *Registry) Settings() []Setting {
	var out []Setting
	for _, s := range r.Sources() {
		out = append(out, s.Settings()...)
	}
	return out
}
