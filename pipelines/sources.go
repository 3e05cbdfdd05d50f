package pipelines

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"golang.org/x/sync/errgroup"

	_ "github.com/seatlake/seatlake/extract/all" // the registered sources
	"github.com/seatlake/seatlake/extract/finops"
	"github.com/seatlake/seatlake/extract/msauth"
	"github.com/seatlake/seatlake/extract/source"
	"github.com/seatlake/seatlake/internal/outbound"
	"github.com/seatlake/seatlake/internal/table"
	"github.com/seatlake/seatlake/load/warehouse"
)

// The sources registered through extract/source run here generically: their tables, settings, streams and checks
// come from their declarations, never from code of this package.

// Settings are the settings of the registered sources, for cmd's flags and config keys.
func Settings() []source.Setting { return source.Default.Settings() }

// registered pairs a registered source with the streams it reads for this run.
type registered struct {
	src     source.Source
	streams []source.Stream
}

// registeredStreams are the registered sources' streams for this run's tenant (of the sources it reads).
func (r *run) registeredStreams() []registered {
	var out []registered
	for _, s := range source.Default.Sources() {
		if !r.cfg.reads(s.Name()) {
			continue
		}
		if ss := s.Streams(r.cfg.Sources); len(ss) > 0 {
			out = append(out, registered{s, ss})
		}
	}
	return out
}

// registeredTables are the tables of the registered sources this run reads.
func registeredTables(rs []registered) []*table.Table {
	var streams []source.Stream
	for _, x := range rs {
		streams = append(streams, x.streams...)
	}
	return streamTables(streams)
}

// streamTables are the tables streams write (Table, then Also), each once.
func streamTables(streams []source.Stream) []*table.Table {
	var ts []*table.Table
	for _, st := range streams {
		for _, t := range append([]*table.Table{st.Table}, st.Also...) {
			if t != nil && !slices.Contains(ts, t) {
				ts = append(ts, t)
			}
		}
	}
	return ts
}

// startRegistered runs the first steps of the sources that have one (source.Starter), in their order, before any
// stream starts or any table is opened: the first error is the run's, as the source words it.
func (r *run) startRegistered(ctx context.Context, rs []registered, txn *warehouse.Txn) error {
	for _, x := range rs {
		if st, ok := x.src.(source.Starter); ok {
			if err := st.Start(ctx, r.cfg.Sources, r.sourceEnv(x.src, &outbound.Stats{}, nil, nil, txn.PutState)); err != nil {
				return err
			}
		}
	}
	return nil
}

// goRegistered starts the registered sources' streams in g, each writing through its table's sink. A failed
// optional stream is recorded as missing; a failed stream of a scope drops the scope (see source.Stream.Scope);
// any other failure (a tenant-wide stream's: Graph's users, the roster) fails the run.
func (r *run) goRegistered(ctx context.Context, g *errgroup.Group, rs []registered, txn *warehouse.Txn, sinks map[*table.Table]*asyncSink) {
	for _, x := range rs {
		scopes := map[string][]source.Stream{}
		var order []string
		for _, st := range x.streams {
			if _, ok := scopes[st.Scope]; !ok {
				order = append(order, st.Scope)
			}
			scopes[st.Scope] = append(scopes[st.Scope], st)
		}
		for _, scope := range order {
			if scope == "" { // the tenant as a whole: each stream's failure is its own
				g.Go(func() error {
					return runOrdered(ctx, scopes[scope], func(ctx context.Context, st source.Stream) error {
						return r.runStream(ctx, x.src, st, func(t *table.Table) rowSink { return sinks[t] }, txn.PutState)
					})
				})
				continue
			}
			g.Go(func() error { return r.runScope(ctx, x.src, scope, scopes[scope], txn, sinks) })
		}
	}
}

// runOrdered runs streams side by side, each once the streams it comes after (Stream.After) have succeeded.
func runOrdered(ctx context.Context, streams []source.Stream, run func(context.Context, source.Stream) error) error {
	done := map[string]chan struct{}{}
	for _, st := range streams {
		done[st.Name] = make(chan struct{})
	}
	for _, st := range streams {
		for _, a := range st.After {
			if done[a] == nil {
				return fmt.Errorf("%s: comes after %s, which is not a stream of its scope", st.Name, a)
			}
		}
	}
	g, gctx := errgroup.WithContext(ctx)
	for _, st := range streams {
		g.Go(func() error {
			for _, a := range st.After {
				select {
				case <-done[a]:
				case <-gctx.Done():
					return gctx.Err() // the stream it needed failed, and said so
				}
			}
			if err := run(gctx, st); err != nil {
				return err
			}
			close(done[st.Name])
			return nil
		})
	}
	return g.Wait()
}

// runStream runs one stream into the sinks of its tables (sinkOf gives a table's); put keeps the state it stores.
func (r *run) runStream(ctx context.Context, src source.Source, st source.Stream, sinkOf func(*table.Table) rowSink, put func(key string, value []byte)) error {
	stats := r.streamStats(st.Name)
	var p *streamProgress
	var sink table.Sink // nil for a step without a table
	if st.Table != nil {
		s := sinkOf(st.Table)
		p, sink = r.progress.stream(st.Name, 0, stats, s.rowCount()), s
	}
	also := map[*table.Table]table.Sink{}
	for _, t := range st.Also {
		also[t] = sinkOf(t)
	}
	err := st.Run(ctx, r.sourceEnv(src, stats, p, also, put), sink)
	if p != nil {
		p.done()
	}
	if err != nil && st.Optional && ctx.Err() == nil {
		r.missing(st.Name+": "+err.Error(), "optional stream not read", "stream", st.Name, "err", err)
		return nil
	}
	if err != nil {
		return fmt.Errorf("%s: %w", st.Name, err)
	}
	return nil
}

// rowSink is a table's sink that counts its rows for progress.
type rowSink interface {
	table.Sink
	rowCount() *atomic.Int64
}

// runScope runs one scope's streams side by side; they land together or not at all, their state with them.
func (r *run) runScope(ctx context.Context, src source.Source, scope string, streams []source.Stream, txn *warehouse.Txn, sinks map[*table.Table]*asyncSink) error {
	es := r.envSinks(sinks, streamTables(streams))
	var mu sync.Mutex
	state := map[string][]byte{}
	put := func(key string, value []byte) {
		mu.Lock()
		defer mu.Unlock()
		state[key] = value
	}
	err := runOrdered(ctx, streams, func(ctx context.Context, st source.Stream) error {
		st.Optional = false // a scope is whole
		return r.runStream(ctx, src, st, func(t *table.Table) rowSink { return es[t] }, put)
	})
	if serr := r.settle(ctx, scope, es, err == nil); err == nil {
		err = serr
	}
	if err == nil {
		for k, v := range state {
			txn.PutState(k, v)
		}
	}
	return r.envDone(ctx, src.Name(), scope, err) // named as missing as an environment is
}

// missing records a part of the run that could not be read.
func (r *run) missing(part, msg string, attrs ...any) {
	r.mu.Lock()
	r.sum.Missing = append(r.sum.Missing, part)
	r.mu.Unlock()
	r.log.Error(msg, attrs...)
}

// sourceEnv is what a registered source's stream gets from this run: also are the sinks of the tables it writes
// beside its own (Stream.Also). A source's state keys start with its name (dataverse_audits-…, graph_signins), or
// are prefixed with it, so sources never read each other's watermarks; put keeps what the stream stores for the
// commit.
func (r *run) sourceEnv(s source.Source, stats *outbound.Stats, p *streamProgress, also map[*table.Table]table.Sink, put func(key string, value []byte)) source.Env {
	key := func(k string) string { return stateKey(s.Name(), k) }
	env := source.Env{
		TenantID: r.cfg.TenantID, ClientID: r.cfg.ClientID, RunID: r.sum.RunID, ExtractedAt: r.sum.StartedAt, BatchRows: r.cfg.BatchRows,
		AuthorityHost: r.cfg.AuthorityHost, GraphEndpoint: r.cfg.GraphEndpoint,
		Logger: r.log.With("source", s.Name()),
		Reject: r.rejects.keep,
		Sink:   func(t *table.Table) table.Sink { return also[t] },
		Client: func(resource string) *outbound.Client { return r.clients.get(resource).WithStats(stats) },
		HTTP:   r.clients.config,
		Stats:  stats,
		Pages: func(pg source.Pager) source.Pager {
			if p == nil {
				return pg
			}
			return counting{pg, p}
		},
		State:    func(k string) ([]byte, bool, error) { return r.wh.State(r.cfg.TenantID, key(k)) },
		PutState: func(k string, value []byte) { put(key(k), value) },
		Warn:     r.warn,
	}
	env.Windows = func(ctx context.Context, w source.Windows) error {
		if p == nil {
			return errors.New("windows: a stream without a table has no windows")
		}
		out, err := r.fetchWindows(ctx, windowSpec{stream: p.name, key: key(w.Key), history: w.History, lookback: w.Lookback,
			size: w.Size, concurrency: w.Concurrency, fetch: w.Fetch, fatal: w.Fatal}, p)
		if err != nil {
			return err
		}
		if out.stateChanged {
			b, err := json.Marshal(out.state)
			if err != nil {
				return fmt.Errorf("encoding %s state: %w", out.key, err)
			}
			put(out.key, b)
		}
		return nil
	}
	return env
}

// stateKey is a source's state key as stored: as given when it starts with the source's name, else prefixed.
func stateKey(name, key string) string {
	for _, sep := range []string{"_", "-", ":"} {
		if strings.HasPrefix(key, name+sep) {
			return key
		}
	}
	return name + ":" + key
}

// sourceClients are the HTTP clients of a run's (or a check's) registered sources, one per resource: its streams
// share its token source (one token until it expires, not one per stream) and its connections.
type sourceClients struct {
	cfg        *Config
	log        *slog.Logger
	mu         sync.Mutex
	byResource map[string]*outbound.Client
	tokens     map[string]*msauth.TokenSource
	http       *http.Client
}

func newSourceClients(cfg *Config, log *slog.Logger) *sourceClients {
	return &sourceClients{cfg: cfg, log: log, byResource: map[string]*outbound.Client{}, tokens: map[string]*msauth.TokenSource{}}
}

// get is the client of resource: tokens for it (none when empty), the run's retries, timeouts and trusted roots.
func (c *sourceClients) get(resource string) *outbound.Client {
	cfg := c.config(resource)
	c.mu.Lock()
	defer c.mu.Unlock()
	if oc, ok := c.byResource[resource]; ok {
		return oc
	}
	client := outbound.New(cfg)
	c.byResource[resource] = client
	return client
}

// config is the client configuration of resource: its token source (one per resource: one token until it
// expires), the run's HTTP client (connections), retries, timeouts and trusted roots.
func (c *sourceClients) config(resource string) outbound.Config {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.http == nil {
		c.http = c.cfg.httpClient(0)
	}
	oc := outbound.Config{HTTPClient: c.http, Retry: c.cfg.Retry, RequestTimeout: c.cfg.RequestTimeout, Logger: c.log}
	if resource != "" {
		ts, ok := c.tokens[resource]
		if !ok {
			ts = msauth.NewTokenSource(c.cfg.auth(c.log), resource)
			c.tokens[resource] = ts
		}
		oc.Tokens = ts
	}
	return oc
}

// checkRegistered runs the registered sources' checks for cfg's tenant, in their order; stopped is true when a
// failed line stopped them (source.Check.Stop): nothing else of the tenant is checked then.
func checkRegistered(ctx context.Context, cfg Config) (out []CheckResult, stopped bool) {
	clients := newSourceClients(&cfg, cfg.Logger)
	for _, s := range source.Default.Sources() {
		ck, ok := s.(source.Checker)
		if !ok || len(s.Streams(cfg.Sources)) == 0 {
			continue
		}
		env := source.Env{TenantID: cfg.TenantID, ClientID: cfg.ClientID, AuthorityHost: cfg.AuthorityHost, GraphEndpoint: cfg.GraphEndpoint,
			BatchRows: cfg.BatchRows, Logger: cfg.Logger, Client: clients.get, HTTP: clients.config}
		for _, c := range ck.Check(ctx, cfg.Sources, env) {
			out = append(out, CheckResult{Tenant: cfg.Name, Source: s.Name(), Target: c.Target, Check: c.Name,
				Status: c.Status, Detail: c.Detail, Action: c.Action})
			if c.Stop && c.Status == source.Fail {
				return out, true
			}
		}
	}
	return out, false
}

// Setting is a registered source's setting; the kinds cmd gives typed flags.
type Setting = source.Setting

// Kinds of settings' values.
const (
	KindDuration = source.Duration
	KindInt      = source.Int
	KindURL      = source.URL
	KindURLs     = source.URLs
)

// FinOpsURLKey is the setting of a tenant's F&O environments, whose business events the receiver takes.
const FinOpsURLKey = finops.URLSetting

// SourceValues are a tenant's values of the registered sources' settings, by key.
type SourceValues = source.Values

// CheckSourceValues checks values of the registered sources' settings, naming each bad key and value.
func CheckSourceValues(v SourceValues) error { return source.Validate(Settings(), v) }
