package pipelines

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"sync"
	"sync/atomic"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"golang.org/x/sync/errgroup"

	"github.com/seatlake/seatlake/extract/dataverse"
	"github.com/seatlake/seatlake/extract/finops"
	"github.com/seatlake/seatlake/extract/msauth"
	"github.com/seatlake/seatlake/extract/odata"
	"github.com/seatlake/seatlake/extract/pages"
	"github.com/seatlake/seatlake/internal/table"
	"github.com/seatlake/seatlake/internal/outbound"
)

// envSink is one environment's share of a table. Snapshot rows are held until the environment's read is whole,
// then handed to the table's writer (commit) or dropped (discard): a failing environment never lands half a
// snapshot. Event rows (audits) go straight through, as sign-ins do. Holding is bounded by one environment's users
// and roles, which are small next to its audits.
type envSink struct {
	dst  *asyncSink
	hold bool
	mu   sync.Mutex
	held []arrow.RecordBatch
	rows atomic.Int64
}

func (s *envSink) Write(ctx context.Context, rec arrow.RecordBatch) error {
	if !s.hold {
		if err := s.dst.Write(ctx, rec); err != nil {
			return err
		}
		s.rows.Add(rec.NumRows())
		return nil
	}
	rec.Retain()
	s.mu.Lock()
	s.held = append(s.held, rec)
	s.mu.Unlock()
	s.rows.Add(rec.NumRows())
	return nil
}

func (s *envSink) commit(ctx context.Context) error {
	s.mu.Lock()
	held := s.held
	s.held = nil
	s.mu.Unlock()
	var err error
	for _, rec := range held {
		if err == nil {
			err = s.dst.Write(ctx, rec)
		}
		rec.Release()
	}
	return err
}

func (s *envSink) discard() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, rec := range s.held {
		rec.Release()
	}
	s.held = nil
	s.rows.Store(0)
}

// dynamicsRun collects what the environments leave to commit.
type dynamicsRun struct {
	mu   sync.Mutex
	outs []windowOutcome
}

func (d *dynamicsRun) outcomes() []windowOutcome {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.outs
}

// envKey is a file-name-safe key for an environment's state.
func envKey(prefix, env string) string {
	sum := sha256.Sum256([]byte(env))
	return prefix + "-" + hex.EncodeToString(sum[:6])
}

func envHost(env string) string {
	if u, err := url.Parse(env); err == nil && u.Host != "" {
		return u.Host
	}
	return env
}

// dynamics starts one goroutine per Dynamics environment in g. An environment that fails is named in the run's
// missing list (the run is then incomplete) and returns nil, so it never cancels Graph or another environment.
func (r *run) dynamics(ctx context.Context, g *errgroup.Group, sinks map[*table.Table]*asyncSink) *dynamicsRun {
	d := &dynamicsRun{}
	dataverse := r.cfg.Dataverse
	if r.cfg.FinOpsOnly {
		dataverse = nil
	}
	for _, env := range dataverse {
		g.Go(func() error {
			out, err := r.dataverseEnv(ctx, env, sinks)
			return r.envDone(ctx, d, "dataverse", env, out, err)
		})
	}
	for _, env := range r.cfg.FinOps {
		g.Go(func() error {
			return r.envDone(ctx, d, "finops", env, nil, r.finOpsEnv(ctx, env, sinks))
		})
	}
	return d
}

func (r *run) envDone(ctx context.Context, d *dynamicsRun, kind, env string, out *windowOutcome, err error) error {
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		r.missing(fmt.Sprintf("%s %s: %v", kind, env, err), "environment not extracted", "source", kind, "environment", env, "err", err)
		return nil
	}
	if out != nil {
		d.mu.Lock()
		d.outs = append(d.outs, *out)
		d.mu.Unlock()
	}
	return nil
}

// envClient is the authenticated OData client of one environment: its own token source (scope <env>/.default)
// and its own gate, since each environment's limits are its own.
func (r *run) envClient(env string, header http.Header) *odata.Client {
	cfg := r.cfg
	tokens := msauth.NewTokenSource(cfg.auth(r.log), env)
	return odata.NewClient(odata.Config{
		HTTPClient: cfg.httpClient(0), Tokens: tokens, Retry: cfg.Retry, RequestTimeout: cfg.RequestTimeout,
		Logger: r.log.With("environment", env), Header: header, Gate: outbound.NewGate(),
	})
}

// envSinks makes the environment's share of each table.
func (r *run) envSinks(sinks map[*table.Table]*asyncSink, tables []*table.Table) map[*table.Table]*envSink {
	out := map[*table.Table]*envSink{}
	for _, t := range tables {
		out[t] = &envSink{dst: sinks[t], hold: t.Kind == table.Snapshot}
	}
	return out
}

// settle commits or discards an environment's held snapshots and records its rows per table.
func (r *run) settle(ctx context.Context, env string, es map[*table.Table]*envSink, ok bool) error {
	var err error
	for _, s := range es {
		if ok {
			err = errors.Join(err, s.commit(ctx))
		} else {
			s.discard()
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	rows := map[string]int64{}
	for t, s := range es {
		rows[t.Name] = s.rows.Load()
	}
	r.sum.Environments[env] = rows
	return err
}

// dataverseEnv extracts one Dataverse environment: its audit settings, its users and its audit windows.
func (r *run) dataverseEnv(ctx context.Context, env string, sinks map[*table.Table]*asyncSink) (out *windowOutcome, err error) {
	cfg := r.cfg
	client := r.envClient(env, dataverse.Headers())
	es := r.envSinks(sinks, dataverse.Tables())
	defer func() {
		if serr := r.settle(ctx, env, es, err == nil); serr != nil && err == nil {
			err = serr
		}
	}()
	x := &dataverse.Extractor{Environment: env, ClientID: cfg.ClientID, Run: pages.Run{TenantID: cfg.TenantID, RunID: r.sum.RunID,
		ExtractedAt: r.sum.StartedAt, BatchRows: cfg.BatchRows}}
	host := envHost(env)
	stream := func(t *table.Table) (string, *outbound.Stats, *streamProgress) {
		name := t.Name + " " + host
		st := r.streamStats(name)
		return name, st, r.progress.stream(name, 0, st, &es[t].rows)
	}
	_, st, p := stream(dataverse.AuditSettings)
	settings, err := x.Settings(ctx, counting{client.WithStats(st), p}, es[dataverse.AuditSettings])
	p.done()
	if err != nil {
		return nil, err
	}
	for _, w := range settings.Warnings(env) {
		r.warn(w)
	}
	x.OrganizationID = settings.OrganizationID

	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		_, st, p := stream(dataverse.Users)
		defer p.done()
		res, err := x.Users(gctx, counting{client.WithStats(st), p}, es[dataverse.Users])
		if res.BadValues > 0 {
			r.warn(fmt.Sprintf("dataverse_users %s: %d record(s) without an id or with an unreadable createdon", env, res.BadValues))
		}
		return err
	})
	var audits windowOutcome
	g.Go(func() error {
		name, st, p := stream(dataverse.Audits)
		defer p.done()
		pager := counting{client.WithStats(st), p}
		var rejected atomic.Int64
		var err error
		audits, err = r.fetchWindows(gctx, windowSpec{
			stream: name, key: envKey("dataverse_audits", env),
			history: cfg.DataverseHistory, lookback: cfg.DataverseLookback, size: cfg.DataverseWindow, concurrency: cfg.DataverseConcurrency,
			fetch: func(ctx context.Context, from, to time.Time) (int64, error) {
				res, err := x.Audits(ctx, pager, from, to, es[dataverse.Audits])
				rejected.Add(res.Rejected)
				return res.Rows, err
			},
			// Refused (no application user, no privilege, a token the environment does not take): no window can
			// succeed, so the environment fails as one.
			fatal: func(err error) bool {
				var he *outbound.Error
				return errors.As(err, &he) && (he.Status == 401 || he.Status == 403)
			},
		}, p)
		if n := rejected.Load(); n > 0 {
			r.warn(fmt.Sprintf("dataverse_audits %s: %d record(s) without an id or a readable createdon were not loaded", env, n))
		}
		return err
	})
	if err := g.Wait(); err != nil {
		return nil, err
	}
	return &audits, nil
}

// finOpsEnv extracts one F&O environment after checking its $metadata.
func (r *run) finOpsEnv(ctx context.Context, env string, sinks map[*table.Table]*asyncSink) (err error) {
	cfg := r.cfg
	client := r.envClient(env, http.Header{"Odata-Version": {"4.0"}, "Odata-Maxversion": {"4.0"}})
	es := r.envSinks(sinks, finops.Tables())
	defer func() {
		if serr := r.settle(ctx, env, es, err == nil); serr != nil && err == nil {
			err = serr
		}
	}()
	x := &finops.Extractor{Environment: env, ClientID: cfg.ClientID, Run: pages.Run{TenantID: cfg.TenantID, RunID: r.sum.RunID,
		ExtractedAt: r.sum.StartedAt, BatchRows: cfg.BatchRows}}
	if err := x.CheckMetadata(ctx, client.WithStats(r.streamStats("finops_metadata "+envHost(env)))); err != nil {
		return err
	}
	g, gctx := errgroup.WithContext(ctx)
	read := func(t *table.Table, f func(context.Context, pages.Pager, table.Sink) (finops.Result, error)) {
		g.Go(func() error {
			name := t.Name + " " + envHost(env)
			st := r.streamStats(name)
			p := r.progress.stream(name, 0, st, &es[t].rows)
			defer p.done()
			_, err := f(gctx, counting{client.WithStats(st), p}, es[t])
			return err
		})
	}
	read(finops.Users, x.Users)
	read(finops.SecurityRoles, x.SecurityRoles)
	read(finops.UserRoles, x.UserRoles)
	return g.Wait()
}
