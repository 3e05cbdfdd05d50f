// Package source is the contract between a source of data (a service seatlake reads) and the rest of seatlake.
//
// A source declares what it writes (its tables), what a user can set (its settings: each one becomes a flag of
// `seatlake run` and `seatlake check`, a key of the config file, at the top or per tenant, and a bound that
// `seatlake config validate` checks) and what it reads for one tenant (its streams, one or more per scope: the
// tenant, or each of its environments). A source may also check its set-up for `seatlake check`.
//
// A source plugs in with one line, Register in its package's init (as Telegraf's inputs.Add does), and is linked in
// by one blank import; pipelines runs the registered sources' streams generically and cmd derives its flags and
// keys from their settings, so neither changes for a new source.
package source

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/seatlake/seatlake/internal/outbound"
	"github.com/seatlake/seatlake/internal/table"
)

// Source is one service seatlake reads.
type Source interface {
	// Name is the source's short name: the prefix of its tables and settings, and the Source of its check lines.
	Name() string
	// Tables are every table the source writes.
	Tables() []*table.Table
	// Settings are what a user can set.
	Settings() []Setting
	// Streams are what one tenant's run reads, from the tenant's values of the settings (validated); none when the
	// source is not configured for the tenant (its tables then keep their last snapshots).
	Streams(v Values) []Stream
}

// Checker is a Source that can check a tenant's set-up before a run (`seatlake check`): reads only.
type Checker interface {
	Check(ctx context.Context, v Values, env Env) []Check
}

// Check is one line of `seatlake check`.
type Check struct {
	Target string // the endpoint or environment checked
	Name   string // what was checked
	Status string // ok, warn or fail
	Detail string
	Action string // what to do about a warn or fail
}

// Check statuses.
const (
	OK   = "ok"
	Warn = "warn"
	Fail = "fail"
)

// Stream is one read of a tenant's run: it writes the rows of Table through the sink it is given.
type Stream struct {
	Name string // unique within the run (progress, statistics): the table's name, then the scope if several
	// Table is what the stream writes; nil for a step that writes nothing (a check the scope's other streams
	// need to pass first, e.g. that the service has the entities the source reads).
	Table *table.Table
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
	TenantID    string
	ClientID    string // the app registration's client id, for messages about granting it access
	RunID       string
	ExtractedAt time.Time // the run's start, UTC: every row's extracted_at
	BatchRows   int       // rows per record batch handed to the sink
	Logger      *slog.Logger
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

// Registry holds the registered sources. The process has one, Default, filled by the sources' init functions
// before main runs and only read after: the one package-level variable of the contract, as a plugin registry is.
type Registry struct {
	mu      sync.RWMutex
	sources []Source
}

// Default is the registry Register fills and seatlake reads.
var Default = &Registry{}

// Register adds s to the default registry. It panics when s's name, a table or a setting key is already taken:
// a programming error, found the first time the binary starts.
func Register(s Source) { Default.Register(s) }

// Register adds s; see the package function.
func (r *Registry) Register(s Source) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.conflict(s); err != nil {
		panic(fmt.Sprintf("source %s: %v", s.Name(), err))
	}
	r.sources = append(r.sources, s)
}

func (r *Registry) conflict(s Source) error {
	if !validName(s.Name()) {
		return fmt.Errorf("name %q: want lower-case letters, digits and -", s.Name())
	}
	for _, t := range s.Tables() {
		if !strings.HasPrefix(t.Name, strings.ReplaceAll(s.Name(), "-", "_")+"_") {
			return fmt.Errorf("table %s: a source's tables start with its name and _", t.Name)
		}
	}
	for _, st := range s.Settings() {
		if !strings.HasPrefix(st.Key, s.Name()+"-") {
			return fmt.Errorf("setting %s: a source's settings start with its name and -", st.Key)
		}
		if st.TenantKey != "" && !strings.HasPrefix(st.TenantKey, s.Name()) {
			return fmt.Errorf("setting %s: its tenant key %s does not start with the source's name", st.Key, st.TenantKey)
		}
		if err := st.check(); err != nil {
			return err
		}
	}
	for _, o := range r.sources {
		if o.Name() == s.Name() {
			return fmt.Errorf("registered twice")
		}
	}
	return nil
}

func validName(n string) bool {
	return n != "" && strings.Trim(n, "abcdefghijklmnopqrstuvwxyz0123456789-") == "" && !strings.HasPrefix(n, "-")
}

// Sources are the registered sources, in the order they registered.
func (r *Registry) Sources() []Source {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return slices.Clone(r.sources)
}

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
