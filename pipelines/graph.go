package pipelines

import (
	"context"
	"fmt"
	"sync"

	"golang.org/x/sync/errgroup"

	"github.com/seatlake/seatlake/extract/graph"
	"github.com/seatlake/seatlake/extract/msauth"
	"github.com/seatlake/seatlake/extract/odata"
	"github.com/seatlake/seatlake/extract/pages"
	"github.com/seatlake/seatlake/internal/outbound"
	"github.com/seatlake/seatlake/internal/table"
	"github.com/seatlake/seatlake/load/warehouse"
)

// graphRun is one run's Microsoft Graph streams: users with their licenses (then the groups that assign them),
// subscribed SKUs, the report settings, the usage report and the sign-ins, and what they found out.
type graphRun struct {
	r      *run
	x      *graph.Extractor
	client *odata.Client
	// report shares one gate among the reporting APIs' requests (sign-ins, users with signInActivity): their
	// limit is much lower, and one 429 pauses every window instead of each window running into it.
	report  *odata.Client
	rejects *rejectSet

	users     graph.UsersResult
	concealed bool
	usage     graph.UsageReportResult
	signIns   windowOutcome
}

// newGraphRun sets up the Graph clients and extractor. A token first (when the run reads Graph): a wrong
// secret or tenant is the most common failure of a new setup, and it should read as such, not as five streams
// failing at once.
func (r *run) newGraphRun(ctx context.Context, txn *warehouse.Txn) (*graphRun, error) {
	cfg := r.cfg
	httpClient := cfg.httpClient(0) // per-attempt timeouts come from the pager's RequestTimeout
	tokens := msauth.NewTokenSource(cfg.auth(r.log), cfg.GraphEndpoint)
	if cfg.reads("graph") {
		if _, err := tokens.Token(ctx); err != nil {
			return nil, fmt.Errorf("getting a Microsoft Graph token: %w", err)
		}
	}
	oc := odata.Config{HTTPClient: httpClient, Tokens: tokens, Retry: cfg.Retry, RequestTimeout: cfg.RequestTimeout, Logger: r.log}
	report := oc
	report.Gate = outbound.NewGate()
	rejects := &rejectSet{txn: txn, writers: map[*table.Table]*warehouse.RejectWriter{}}
	return &graphRun{
		r: r, client: odata.NewClient(oc), report: odata.NewClient(report), rejects: rejects,
		x: &graph.Extractor{
			Endpoint: cfg.GraphEndpoint, Run: pages.Run{TenantID: cfg.TenantID, RunID: r.sum.RunID, ExtractedAt: r.sum.StartedAt,
				BatchRows: cfg.BatchRows, Logger: r.log, Reject: rejects.keep},
		},
	}, nil
}

// start runs the Graph streams in g.
func (g *graphRun) start(ctx context.Context, eg *errgroup.Group, sinks map[*table.Table]*asyncSink) {
	r, x := g.r, g.x
	eg.Go(func() error {
		st := r.streamStats(graph.Users.Name)
		p := r.progress.stream(graph.Users.Name, 0, st, &sinks[graph.Users].rows)
		// With signInActivity, /users counts against the reporting APIs' limit too: it shares the sign-ins' gate.
		res, err := x.Users(ctx, counting{g.report.WithStats(st), p}, true, sinks[graph.Users], sinks[graph.UserLicenses])
		p.done()
		g.users = res
		if err != nil {
			return err
		}
		return r.groups(ctx, x, g.client, res.Groups, sinks[graph.Groups])
	})
	eg.Go(func() error {
		st := r.streamStats(graph.SubscribedSkus.Name)
		p := r.progress.stream(graph.SubscribedSkus.Name, 0, st, &sinks[graph.SubscribedSkus].rows)
		_, err := x.SubscribedSkus(ctx, counting{g.client.WithStats(st), p}, sinks[graph.SubscribedSkus])
		p.done()
		return err
	})
	eg.Go(func() error {
		var err error
		g.concealed, err = x.ReportSettings(ctx, g.client.WithStats(r.streamStats(graph.ReportSettings.Name)), sinks[graph.ReportSettings])
		return err
	})
	eg.Go(func() error { return g.usageReport(ctx, sinks[graph.UsageReport]) })
	eg.Go(func() error {
		var err error
		g.signIns, err = r.signIns(ctx, x, g.report, sinks[graph.SignIns])
		return err
	})
}

// usageReport reads the Microsoft 365 usage report. It is evidence, not the roster: without it the run goes on
// and says what is missing.
func (g *graphRun) usageReport(ctx context.Context, sink *asyncSink) error {
	r := g.r
	st := r.streamStats(graph.UsageReport.Name)
	p := r.progress.stream(graph.UsageReport.Name, 0, st, &sink.rows)
	var err error
	g.usage, err = g.x.UsageReport(ctx, counting{g.client.WithStats(st), p}, sink)
	p.done()
	if err != nil && ctx.Err() == nil {
		r.missing(graph.UsageReport.Name+": "+err.Error(), "usage report not read", "err", err)
		return nil
	}
	return err
}

// warnings records what the Graph streams found that a person should know.
func (g *graphRun) warnings(r *run) {
	if !g.users.SignInActivity {
		r.warn("tenant has no Entra ID P1/P2: users were read without signInActivity (no last sign-in dates)")
	}
	if g.users.BadValues > 0 {
		r.warn(fmt.Sprintf("graph_users: %d timestamp value(s) did not parse and were stored as null", g.users.BadValues))
	}
	if g.usage.BadValues > 0 {
		r.warn(fmt.Sprintf("%s: %d value(s) did not parse and were stored as null", graph.UsageReport.Name, g.usage.BadValues))
	}
	if g.concealed {
		r.warn("Microsoft 365 usage reports conceal user names (reportSettings.displayConcealedNames = true): report rows cannot be joined to users")
	}
}

// rejectSet keeps aside, in the run's reject files committed with it, the records that cannot be loaded.
type rejectSet struct {
	txn     *warehouse.Txn
	mu      sync.Mutex
	err     error
	writers map[*table.Table]*warehouse.RejectWriter
}

func (s *rejectSet) keep(t *table.Table, raw []byte) {
	rw := s.txn.Rejects(t)
	err := rw.Write(raw)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.writers[t] = rw
	if err != nil && s.err == nil {
		s.err = err
	}
}

// report fails the run when a record could not be kept aside, and otherwise says where the kept ones are.
func (s *rejectSet) report(r *run) error {
	if s.err != nil {
		return fmt.Errorf("keeping aside records that could not be loaded: %w", s.err)
	}
	for t, rw := range s.writers {
		r.warn(fmt.Sprintf("%s: %d record(s) without a usable id or timestamp were not loaded; they are kept aside in %s",
			t.Name, rw.Count(), rw.Path()))
	}
	return nil
}
