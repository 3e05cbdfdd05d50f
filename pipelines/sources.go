package pipelines

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"

	"golang.org/x/sync/errgroup"

	_ "github.com/seatlake/seatlake/extract/all" // the registered sources
	"github.com/seatlake/seatlake/extract/msauth"
	"github.com/seatlake/seatlake/extract/source"
	"github.com/seatlake/seatlake/internal/table"
	"github.com/seatlake/seatlake/internal/outbound"
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

// registeredStreams are the registered sources' streams for this run's tenant (none for an F&O-only refresh).
func (r *run) registeredStreams() []registered {
	if r.cfg.FinOpsOnly {
		return nil
	}
	var out []registered
	for _, s := range source.Default.Sources() {
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

// streamTables are the tables streams write, each once.
func streamTables(streams []source.Stream) []*table.Table {
	var ts []*table.Table
	for _, st := range streams {
		if !slices.Contains(ts, st.Table) {
			ts = append(ts, st.Table)
		}
	}
	return ts
}

// goRegistered starts the registered sources' streams in g, each writing through its table's sink. A failed
// optional stream is recorded as missing; a failed stream of a scope drops the scope (see source.Stream.Scope);
// any other failure fails the run, as a Graph stream's does.
func (r *run) goRegistered(ctx context.Context, g *errgroup.Group, rs []registered, txn *warehouse.Txn, sinks map[*table.Table]*asyncSink) {
	r.clients = newSourceClients(&r.cfg, r.log)
	for _, x := range rs {
		scopes := map[string][]source.Stream{}
		var order []string
		for _, st := range x.streams {
			if st.Scope == "" {
				g.Go(func() error { return r.runStream(ctx, x.src, st, sinks[st.Table], &sinks[st.Table].rows, txn) })
				continue
			}
			if _, ok := scopes[st.Scope]; !ok {
				order = append(order, st.Scope)
			}
			scopes[st.Scope] = append(scopes[st.Scope], st)
		}
		for _, scope := range order {
			g.Go(func() error { return r.runScope(ctx, x.src, scope, scopes[scope], txn, sinks) })
		}
	}
}

// runStream runs one stream into sink.
func (r *run) runStream(ctx context.Context, src source.Source, st source.Stream, sink table.Sink, rows *atomic.Int64, txn *warehouse.Txn) error {
	stats := r.streamStats(st.Name)
	p := r.progress.stream(st.Name, 0, stats, rows)
	err := st.Run(ctx, r.sourceEnv(src, stats, txn), sink)
	p.done()
	if err != nil && st.Optional && ctx.Err() == nil {
		r.missing(st.Name+": "+err.Error(), "optional stream not read", "stream", st.Name, "err", err)
		return nil
	}
	if err != nil {
		return fmt.Errorf("%s: %w", st.Name, err)
	}
	return nil
}

// runScope runs one scope's streams side by side; they land together or not at all.
func (r *run) runScope(ctx context.Context, src source.Source, scope string, streams []source.Stream, txn *warehouse.Txn, sinks map[*table.Table]*asyncSink) error {
	es := r.envSinks(sinks, streamTables(streams))
	g, gctx := errgroup.WithContext(ctx)
	for _, st := range streams {
		st.Optional = false // a scope is whole
		g.Go(func() error { return r.runStream(gctx, src, st, es[st.Table], &es[st.Table].rows, txn) })
	}
	err := g.Wait()
	if serr := r.settle(ctx, scope, es, err == nil); err == nil {
		err = serr
	}
	return r.envDone(ctx, nil, src.Name(), scope, nil, err) // named as missing as an environment is
}

// missing records a part of the run that could not be read.
func (r *run) missing(part, msg string, attrs ...any) {
	r.mu.Lock()
	r.sum.Missing = append(r.sum.Missing, part)
	r.mu.Unlock()
	r.log.Error(msg, attrs...)
}

// sourceEnv is what a registered source's stream gets from this run; its state keys are prefixed with the
// source's name, so sources never read each other's watermarks.
func (r *run) sourceEnv(s source.Source, stats *outbound.Stats, txn *warehouse.Txn) source.Env {
	prefix := s.Name() + ":"
	return source.Env{
		TenantID: r.cfg.TenantID, RunID: r.sum.RunID, ExtractedAt: r.sum.StartedAt, BatchRows: r.cfg.BatchRows,
		Logger: r.log.With("source", s.Name()),
		Client: func(resource string) *outbound.Client { return r.clients.get(resource).WithStats(stats) },
		State: func(key string) ([]byte, bool, error) {
			return r.wh.State(r.cfg.TenantID, prefix+key)
		},
		PutState: func(key string, value []byte) { txn.PutState(prefix+key, value) },
		Warn:     r.warn,
	}
}

// sourceClients are the HTTP clients of a run's (or a check's) registered sources, one per resource: its streams
// share its token source (one token until it expires, not one per stream) and its connections.
type sourceClients struct {
	cfg        *Config
	log        *slog.Logger
	mu         sync.Mutex
	byResource map[string]*outbound.Client
}

func newSourceClients(cfg *Config, log *slog.Logger) *sourceClients {
	return &sourceClients{cfg: cfg, log: log, byResource: map[string]*outbound.Client{}}
}

// get is the client of resource: tokens for it (none when empty), the run's retries, timeouts and trusted roots.
func (c *sourceClients) get(resource string) *outbound.Client {
	c.mu.Lock()
	defer c.mu.Unlock()
	if oc, ok := c.byResource[resource]; ok {
		return oc
	}
	oc := outbound.Config{HTTPClient: c.cfg.httpClient(0), Retry: c.cfg.Retry, RequestTimeout: c.cfg.RequestTimeout, Logger: c.log}
	if resource != "" {
		oc.Tokens = msauth.NewTokenSource(c.cfg.auth(c.log), resource)
	}
	client := outbound.New(oc)
	c.byResource[resource] = client
	return client
}

// checkRegistered runs the registered sources' checks for cfg's tenant.
func checkRegistered(ctx context.Context, cfg Config) []CheckResult {
	var out []CheckResult
	clients := newSourceClients(&cfg, cfg.Logger)
	for _, s := range source.Default.Sources() {
		ck, ok := s.(source.Checker)
		if !ok || len(s.Streams(cfg.Sources)) == 0 {
			continue
		}
		env := source.Env{TenantID: cfg.TenantID, BatchRows: cfg.BatchRows, Logger: cfg.Logger, Client: clients.get}
		for _, c := range ck.Check(ctx, cfg.Sources, env) {
			out = append(out, CheckResult{Tenant: cfg.Name, Source: s.Name(), Target: c.Target, Check: c.Name,
				Status: c.Status, Detail: c.Detail, Action: c.Action})
		}
	}
	return out
}

// SourceValues are a tenant's values of the registered sources' settings, by key.
type SourceValues = source.Values

// CheckSourceValues checks values of the registered sources' settings, naming each bad key and value.
func CheckSourceValues(v SourceValues) error { return source.Validate(Settings(), v) }
