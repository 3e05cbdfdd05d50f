package pipelines

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/apache/arrow-go/v18/arrow/memory"
	"golang.org/x/sync/errgroup"

	"github.com/seatlake/seatlake/extract/msauth"
	"github.com/seatlake/seatlake/extract/source"
	"github.com/seatlake/seatlake/internal/outbound"
	"github.com/seatlake/seatlake/internal/table"
	"github.com/seatlake/seatlake/load/warehouse"
	"github.com/seatlake/seatlake/transform"
)

// ErrInvalidConfig is returned (wrapped) when the configuration is unusable; nothing was attempted.
var ErrInvalidConfig = errors.New("invalid configuration")

// ErrInterrupted is returned (wrapped) when a signal stopped the run; its run row says "interrupted".
var ErrInterrupted = errors.New("run interrupted")

// ErrIncomplete is returned (wrapped) by Run when the run committed what it fetched but some of it is missing.
var ErrIncomplete = errors.New("run incomplete")

// Tables lists every table the pipeline writes, for the catalog.
func Tables() []*table.Table {
	var ts []*table.Table
	ts = append(ts, source.Default.Tables()...)
	ts = append(ts, transform.Marts()...)
	return append(ts, RunsTable, SyncsTable, ActionsTable, BusinessEventsTable)
}

// newRun prepares one tenant's nightly run in wh (whose lock the caller holds).
func newRun(cfg Config, wh *warehouse.Warehouse) *run {
	start := cfg.Now().UTC()
	sum := &Summary{
		RunID:        newRunID(start),
		TenantID:     cfg.TenantID,
		Tenant:       cfg.Name,
		StartedAt:    start,
		Status:       StatusFailed,
		Tables:       map[string]int64{},
		Streams:      map[string]StreamStats{},
		Environments: map[string]map[string]int64{},
	}
	logger := cfg.Logger
	if cfg.Quiet {
		logger = slog.New(minLevel{slog.LevelError, logger.Handler()})
	}
	log := logger.With("run_id", sum.RunID, "tenant_id", cfg.TenantID)
	if cfg.Name != "" && cfg.Name != cfg.TenantID {
		log = log.With("tenant", cfg.Name)
	}
	if len(cfg.AllowAuthorityHosts) > 0 && msauth.CheckAuthorityHost(cfg.AuthorityHost, nil) != nil {
		log.Warn("the client secret goes to an authority host outside Microsoft's documented ones, as --allow-authority-host allows", "authority_host", cfg.AuthorityHost)
	}
	return &run{cfg: cfg, log: log, wh: wh, sum: sum, stats: map[string]*outbound.Stats{}, progress: newProgress(cfg, log)}
}

// finish closes the run's summary and stores it in runs/, whatever happened: a failed nightly run must leave a
// record, not silence. runErr is the raw stage's error. The error returned is nil only when the run succeeded; it
// wraps ErrIncomplete when data was committed with gaps.
func (r *run) finish(ctx context.Context, runErr error) (*Summary, error) {
	sum := r.sum
	sum.EndedAt = r.cfg.Now().UTC()
	if runErr != nil {
		sum.Error = runErr.Error()
	}
	if ctx.Err() != nil {
		// Interrupted: the record of it is written all the same, with a few seconds of its own.
		if sum.Status == StatusFailed {
			sum.Status = StatusInterrupted
		}
		if runErr == nil {
			runErr = fmt.Errorf("%w: %w", ErrInterrupted, ctx.Err())
		} else {
			runErr = fmt.Errorf("%w: %w", ErrInterrupted, runErr)
		}
		sum.Error = runErr.Error()
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
	}
	r.mu.Lock()
	for name, st := range r.stats {
		ss := sum.Streams[name]
		ss.Requests, ss.Retries, ss.Throttled = st.Requests.Load(), st.Retries.Load(), st.Throttled.Load()
		ss.WaitedSeconds = st.Waited().Seconds()
		sum.Streams[name] = ss
	}
	for _, p := range r.progress.all() {
		ss := sum.Streams[p.name]
		ss.Rows, ss.Pages = p.rows.Load(), p.pages.Load()
		if n := p.windows.Load(); n > 0 {
			ss.Windows = n
		}
		sum.Streams[p.name] = ss
	}
	r.mu.Unlock()
	if err := r.writeRunRow(ctx); err != nil {
		r.log.Error("could not store the run summary", "err", err)
		if runErr == nil {
			runErr = err
			sum.Status = StatusFailed
		}
	}
	if runErr == nil && sum.Status == StatusIncomplete {
		runErr = fmt.Errorf("%w: %d part(s) missing, see the run summary", ErrIncomplete, len(sum.Missing))
	}
	return sum, runErr
}

func newRunID(t time.Time) string {
	var b [3]byte
	_, _ = rand.Read(b[:])
	return t.Format("20060102T150405Z") + "-" + hex.EncodeToString(b[:])
}

type run struct {
	cfg      Config
	log      *slog.Logger
	wh       *warehouse.Warehouse
	sum      *Summary
	progress *progress
	// stage is shared by the tenants of one RunTenants: their commits, marts and run rows take turns.
	stage *sync.Mutex
	// ahead writes the catalog's views of the raw tables during the last tenant's marts.
	ahead *catalogAhead

	mu    sync.Mutex
	stats map[string]*outbound.Stats
	// clients are the registered sources' HTTP clients, one per resource.
	clients *sourceClients
	// rejects are the records the streams could not load, kept aside with the run.
	rejects *rejectSet
}

func (r *run) streamStats(name string) *outbound.Stats {
	r.mu.Lock()
	defer r.mu.Unlock()
	s, ok := r.stats[name]
	if !ok {
		s = &outbound.Stats{}
		r.stats[name] = s
	}
	return s
}

func (r *run) warn(msg string) {
	r.mu.Lock()
	r.sum.Warnings = append(r.sum.Warnings, msg)
	r.mu.Unlock()
	r.log.Warn(msg)
}

func (r *run) writeRunRow(ctx context.Context) error {
	rec, err := r.sum.record(memory.DefaultAllocator)
	if err != nil {
		return err
	}
	defer rec.Release()
	return r.wh.WriteRun(ctx, RunsTable, r.sum.TenantID, r.sum.RunID, rec)
}

// recordCommit adds a transaction's commit retries and snapshots to the run's summary.
func (r *run) recordCommit(txn *warehouse.Txn) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.sum.CommitRetries += int64(txn.Retries())
	for t, id := range txn.Snapshots() {
		if r.sum.Snapshots == nil {
			r.sum.Snapshots = map[string]int64{}
		}
		r.sum.Snapshots[t] = id
	}
}

// execute extracts every stream into one transaction and commits it. It sets the summary's status.
func (r *run) execute(ctx context.Context) error {
	cfg := r.cfg
	txn, err := r.wh.Begin(r.sum.RunID, cfg.TenantID, r.sum.StartedAt, warehouse.WriterOptions{Codec: cfg.ParquetCompression})
	if err != nil {
		return fmt.Errorf("starting the warehouse transaction: %w", err)
	}
	defer txn.Abort() // a no-op after Commit

	// The sources a run reads (a source not read keeps its tables' snapshots: opening its writers would replace
	// today's with nothing), and their first steps before anything is opened.
	plugged := r.registeredStreams()
	r.clients, r.rejects = newSourceClients(&r.cfg, r.log), newRejectSet(txn)
	if err := r.startRegistered(ctx, plugged, txn); err != nil {
		return err
	}
	// One writer goroutine per table; streams hand batches over through a short queue.
	writers, wctx := errgroup.WithContext(ctx)
	sinks, err := r.openWriters(wctx, writers, txn, registeredTables(plugged))
	if err != nil {
		return err
	}
	r.progress.start(ctx)
	streams, sctx := errgroup.WithContext(wctx)
	// Each scope (a Dynamics environment) on its own: one failing is named as missing and never stops the others
	// or the tenant-wide streams.
	r.goRegistered(sctx, streams, plugged, txn, sinks)
	if err := r.waitStreams(streams, writers, sinks); err != nil {
		return err
	}
	r.log.Debug("streams and writers done")
	err = r.rejects.report(r)
	r.rejects = nil // it holds the transaction: let the writers go once the run is committed, before the marts
	if err != nil {
		return err
	}
	// A full nightly run's warnings stay the reference of "new since the last run"; a run of some sources only
	// (Only: the intraday refresh) neither compares nor replaces them.
	if len(cfg.Only) == 0 {
		if err := r.compareWarnings(txn); err != nil {
			return err
		}
	}
	return r.commit(ctx, txn)
}

// openWriters opens a writer per table and its queue, drained by a goroutine of writers.
func (r *run) openWriters(ctx context.Context, writers *errgroup.Group, txn *warehouse.Txn, tables []*table.Table) (map[*table.Table]*asyncSink, error) {
	sinks := map[*table.Table]*asyncSink{}
	for _, t := range tables {
		tw, err := txn.Writer(t)
		if err != nil {
			return nil, fmt.Errorf("opening %s writer: %w", t.Name, err)
		}
		s := newAsyncSink(2, WriteLanes())
		sinks[t] = s
		writers.Go(func() error {
			if err := s.drain(ctx, tw); err != nil {
				return fmt.Errorf("writing %s: %w", t.Name, err)
			}
			return nil
		})
	}
	return sinks, nil
}

// waitStreams waits for the streams, then for the writers once their queues are closed, and counts each table's
// rows into the summary. The streams' error comes first: a writer failing after it is its consequence.
func (r *run) waitStreams(streams, writers *errgroup.Group, sinks map[*table.Table]*asyncSink) error {
	streamErr := streams.Wait()
	for _, s := range sinks {
		s.close()
	}
	writeErr := writers.Wait()
	r.progress.stop()
	for t, s := range sinks {
		r.sum.Tables[t.Name] = s.rows.Load()
	}
	if streamErr != nil {
		return streamErr
	}
	return writeErr
}

// commit commits the run's transaction and sets the summary's status.
func (r *run) commit(ctx context.Context, txn *warehouse.Txn) error {
	if r.stage != nil { // another tenant's marts may be reading the views this commit changes
		r.stage.Lock()
		defer r.stage.Unlock()
	}
	start := time.Now()
	err := txn.Commit(ctx)
	r.recordCommit(txn)
	if err != nil {
		return fmt.Errorf("committing the run: %w", err)
	}
	r.log.Debug("run committed", "took", time.Since(start).Round(time.Millisecond))
	r.sum.Status = StatusSucceeded
	if len(r.sum.Missing) > 0 {
		r.sum.Status = StatusIncomplete
	}
	return nil
}

// warningsKey is the state key of the last committed run's warnings.
const warningsKey = "run_warnings"

// compareWarnings sets Summary.NewWarnings from the last committed run's warnings and stores this run's with the
// commit, so "new since the last run" holds across crashes as the watermarks do.
func (r *run) compareWarnings(txn *warehouse.Txn) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	var prev []string
	raw, ok, err := r.wh.State(r.cfg.TenantID, warningsKey)
	if err != nil {
		return fmt.Errorf("reading the last run's warnings: %w", err)
	}
	if ok {
		if err := json.Unmarshal(raw, &prev); err != nil {
			return fmt.Errorf("reading the last run's warnings %s: %w", raw, err)
		}
	}
	r.sum.NewWarnings = nil
	for _, w := range r.sum.Warnings {
		if !slices.Contains(prev, w) {
			r.sum.NewWarnings = append(r.sum.NewWarnings, w)
		}
	}
	b, err := json.Marshal(append([]string{}, r.sum.Warnings...))
	if err != nil {
		return err
	}
	txn.PutState(warningsKey, b)
	return nil
}

// minLevel drops records below its level: a quiet run's logger.
type minLevel struct {
	level slog.Level
	h     slog.Handler
}

func (m minLevel) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= m.level && m.h.Enabled(ctx, l)
}
func (m minLevel) Handle(ctx context.Context, r slog.Record) error { return m.h.Handle(ctx, r) }
func (m minLevel) WithAttrs(as []slog.Attr) slog.Handler           { return minLevel{m.level, m.h.WithAttrs(as)} }
func (m minLevel) WithGroup(n string) slog.Handler                 { return minLevel{m.level, m.h.WithGroup(n)} }
