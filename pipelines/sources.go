package pipelines

import (
	"context"
	"fmt"
	"log/slog"
	"sync/atomic"

	"golang.org/x/sync/errgroup"

	_ "github.com/seatlake/seatlake/extract/all" // the registered sources
	"github.com/seatlake/seatlake/extract/msauth"
	"github.com/seatlake/seatlake/extract/source"
	"github.com/seatlake/seatlake/extract/table"
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
	var ts []*table.Table
	for _, x := range rs {
		for _, st := range x.streams {
			if !containsTable(ts, st.Table) {
				ts = append(ts, st.Table)
			}
		}
	}
	return ts
}

func containsTable(ts []*table.Table, t *table.Table) bool {
	for _, x := range ts {
		if x == t {
			return true
		}
	}
	return false
}

// goRegistered starts the registered sources' streams in g, each writing through its table's sink. A failed
// optional stream is recorded as missing; a failed stream of a scope drops the scope (see source.Stream.Scope);
// any other failure fails the run, as a Graph stream's does.
func (r *run) goRegistered(ctx context.Context, g *errgroup.Group, rs []registered, txn *warehouse.Txn, sinks map[*table.Table]*asyncSink) {
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
	var tables []*table.Table
	for _, st := range streams {
		if !containsTable(tables, st.Table) {
			tables = append(tables, st.Table)
		}
	}
	es := r.envSinks(sinks, tables)
	g, gctx := errgroup.WithContext(ctx)
	for _, st := range streams {
		st.Optional = false // a scope is whole
		g.Go(func() error { return r.runStream(gctx, src, st, es[st.Table], &es[st.Table].rows, txn) })
	}
	err := g.Wait()
	if serr := r.settle(ctx, scope, es, err == nil); err == nil {
		err = serr
	}
	if err != nil && ctx.Err() == nil {
		r.missing(fmt.Sprintf("%s %s: %v", src.Name(), scope, err), "scope not read", "source", src.Name(), "scope", scope, "err", err)
		return nil
	}
	return err
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
		Client: func(resource string) *outbound.Client { return r.cfg.sourceClient(r.log, resource).WithStats(stats) },
		State: func(key string) ([]byte, bool, error) {
			return r.wh.State(r.cfg.TenantID, prefix+key)
		},
		PutState: func(key string, value []byte) { txn.PutState(prefix+key, value) },
		Warn:     r.warn,
	}
}

// sourceClient is the HTTP client a registered source gets: tokens for resource (none when empty), the run's
// retries, timeouts and trusted roots.
func (c *Config) sourceClient(log *slog.Logger, resource string) *outbound.Client {
	oc := outbound.Config{HTTPClient: c.httpClient(0), Retry: c.Retry, RequestTimeout: c.RequestTimeout, Logger: log}
	if resource != "" {
		oc.Tokens = msauth.NewTokenSource(c.auth(log), resource)
	}
	return outbound.New(oc)
}

// validateSources checks the registered sources' values.
func (c *Config) validateSources() error { return source.Validate(Settings(), c.Sources) }

// checkRegistered runs the registered sources' checks for cfg's tenant.
func checkRegistered(ctx context.Context, cfg Config) []CheckResult {
	var out []CheckResult
	for _, s := range source.Default.Sources() {
		ck, ok := s.(source.Checker)
		if !ok || len(s.Streams(cfg.Sources)) == 0 {
			continue
		}
		env := source.Env{TenantID: cfg.TenantID, BatchRows: cfg.BatchRows, Logger: cfg.Logger,
			Client: func(resource string) *outbound.Client { return cfg.sourceClient(cfg.Logger, resource) }}
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
