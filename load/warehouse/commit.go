package warehouse

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"net"
	"strings"
	"time"

	"github.com/apache/iceberg-go"
	"github.com/apache/iceberg-go/catalog"
	itable "github.com/apache/iceberg-go/table"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/seatlake/seatlake/internal/outbound"
)

// CommitOptions bound the retries of one table commit.
type CommitOptions struct {
	// MaxAttempts is the number of attempts of one table commit, the first included (default 100: about four
	// minutes of losing to other jobs at the backoff's ceiling). Every conflict lost is another job's commit landed,
	// so jobs committing the same tables at once all get through, one by one; 12 left some of 24 jobs starting
	// together on a loaded 2-core machine failing on the first table they all commit (cmd/seatlake/scaleout).
	MaxAttempts int
	// MinBackoff and MaxBackoff bound the jittered exponential wait between attempts after a conflict (defaults
	// 50 ms and 5 s).
	MinBackoff, MaxBackoff time.Duration
	// MaxFailures bounds the attempts that failed otherwise than by a conflict: the catalog or the storage
	// unreachable or answering an error, or an answer lost (an unknown outcome, looked up before the next attempt);
	// default 4. The SDKs have already retried each storage request (see StorageMaxAttempts).
	MaxFailures int
	// FailureBackoff is the first wait after such a failure, doubling up to MaxBackoff, jittered (default 1 s):
	// with the defaults a catalog or storage outage of a few seconds (a PostgreSQL restart) is ridden out, a
	// longer one fails the commit within about 10 s, naming the catalog, and the next run redoes the night.
	FailureBackoff time.Duration
}

func (o CommitOptions) withDefaults() CommitOptions {
	if o.MaxAttempts <= 0 {
		o.MaxAttempts = 100
	}
	if o.MinBackoff <= 0 {
		o.MinBackoff = 50 * time.Millisecond
	}
	if o.MaxBackoff <= 0 {
		o.MaxBackoff = 5 * time.Second
	}
	if o.MaxFailures <= 0 {
		o.MaxFailures = 4
	}
	if o.FailureBackoff <= 0 {
		o.FailureBackoff = time.Second
	}
	return o
}

// backoff is the wait before attempt n (1 = the first retry) after a conflict: full jitter over an exponential
// ceiling, so that jobs that collided once do not collide again in step.
func (o CommitOptions) backoff(n int) time.Duration {
	return jittered(o.MinBackoff, o.MaxBackoff, n)
}

// failureBackoff is the wait after the nth failure.
func (o CommitOptions) failureBackoff(n int) time.Duration {
	return jittered(o.FailureBackoff, max(o.MaxBackoff, o.FailureBackoff), n)
}

func jittered(base, ceiling time.Duration, n int) time.Duration {
	ceil := base << min(max(n-1, 0), 20)
	if ceil > ceiling || ceil <= 0 {
		ceil = ceiling
	}
	return base/2 + rand.N(ceil)
}

// Snapshot summary properties seatlake writes on every commit.
const (
	propRunID    = "seatlake.run-id"
	propTenantID = "seatlake.tenant-id"
	propCommitID = "seatlake.commit-id" // unique per logical commit: how an unknown outcome is looked up
	propState    = "seatlake.state."    // + stream: the watermarks and other state the commit carries
)

// isConflict says whether err is a concurrent change that committed nothing: the catalog's optimistic lock
// lost (table.ErrCommitFailed, a REST 409), or, from iceberg-go's SQL catalog, a failed requirement, which it
// reports only as text ("requirement failed: branch "main" has changed", apache/iceberg-go#1079). That text is
// the one string seatlake matches on: the library gives no type for it.
func isConflict(err error) bool {
	if errors.Is(err, itable.ErrCommitFailed) {
		return true
	}
	msg := strings.ToLower(err.Error())
	return strings.Contains(msg, "requirement failed") && strings.Contains(msg, "has changed")
}

// isPermanent says whether retrying err cannot help: a missing table or namespace, or a request the catalog
// refuses as invalid.
func isPermanent(err error) bool {
	return errors.Is(err, catalog.ErrNoSuchTable) || errors.Is(err, catalog.ErrNoSuchNamespace) ||
		errors.Is(err, iceberg.ErrInvalidArgument) || errors.Is(err, itable.ErrInvalidOperation)
}

// commitPlan stages one commit in txn, planned against tbl (the table as just loaded).
type commitPlan func(ctx context.Context, tbl *itable.Table, txn *itable.Transaction, props iceberg.Properties) error

// commitResult is what a table commit did.
type commitResult struct {
	SnapshotID int64
	Retries    int // attempts after the first: conflicts and unknown outcomes
}

// commitTable commits plan to the table name with optimistic concurrency: load the table, plan, commit; on a
// conflict, wait (jittered backoff), reload, re-plan and commit again, up to MaxAttempts. Only metadata is redone:
// the data files the plan adds were written once, before. Other failures (the catalog or the storage unreachable,
// a timeout, a 5xx) are retried the same way, at most MaxFailures times, after longer waits. After an error whose
// outcome is unknown, the reloaded table is searched for a snapshot carrying this commit's id first: if it landed,
// it is not committed twice. props go into the snapshot's summary, with the commit id. An error names the catalog.
func (w *Warehouse) commitTable(ctx context.Context, name string, props iceberg.Properties, plan commitPlan) (commitResult, error) {
	ctx = w.storageContext(ctx) // the manifests and metadata files the commit writes: timeouts, failed tries logged
	var res commitResult
	commitID := uuid.NewString()
	summary := iceberg.Properties{propCommitID: commitID}
	maps.Copy(summary, props)
	tries := &commitTries{opts: w.commit}
	for attempt := 1; ; attempt++ {
		if attempt > 1 {
			res.Retries++
			if err := outbound.Sleep(ctx, tries.wait()); err != nil {
				return res, fmt.Errorf("committing %s: %w (after: %w)", name, err, tries.lastErr)
			}
		}
		tbl, err := w.cat.LoadTable(ctx, ident(name))
		if err != nil {
			if ctx.Err() != nil || isPermanent(err) {
				return res, fmt.Errorf("committing %s: loading the table from %s: %w", name, w.catalogName(), err)
			}
			if !tries.retry(err, true) {
				return res, tries.gaveUp(name, w.catalogName(), "loading the table", err)
			}
			w.log.Warn("loading the table failed; retrying", "table", name, "attempt", attempt, "catalog", w.catalogName(), "err", err)
			continue
		}
		if tries.unknown {
			if id, ok := landed(tbl, commitID); ok {
				w.log.Info("the commit whose outcome was unknown had landed", "table", name, "snapshot_id", id)
				res.SnapshotID = id
				return res, nil
			}
		}
		txn := tbl.NewTransaction()
		if err := plan(ctx, tbl, txn, summary); err != nil {
			// Planning reads the table's manifests: the storage may fail it.
			if ctx.Err() != nil || isPermanent(err) || !tries.retry(err, true) {
				return res, fmt.Errorf("committing %s: %w", name, err)
			}
			w.log.Warn("planning the commit failed; retrying", "table", name, "attempt", attempt, "err", err)
			continue
		}
		next, err := txn.Commit(ctx)
		if err == nil {
			snap := next.CurrentSnapshot()
			if snap == nil {
				return res, fmt.Errorf("committing %s: the table has no snapshot after the commit", name)
			}
			res.SnapshotID = snap.SnapshotID
			return res, nil
		}
		if err := w.commitFailed(ctx, name, attempt, err, tries); err != nil {
			return res, err
		}
	}
}

// commitFailed takes a commit attempt that failed with err: a conflict lost, or an outcome not heard (the next
// attempt first looks for the commit), is tried again while tries allow. It returns the error to stop with, nil to
// try again.
func (w *Warehouse) commitFailed(ctx context.Context, name string, attempt int, err error, tries *commitTries) error {
	if ctx.Err() != nil {
		return fmt.Errorf("committing %s: %w", name, err)
	}
	var again bool
	switch {
	case isConflict(err):
		again = tries.retry(err, false)
		w.log.Debug("concurrent commit; retrying", "table", name, "attempt", attempt)
	case isPermanent(err):
		return fmt.Errorf("committing %s: %w", name, err)
	default:
		tries.unknown = true
		again = tries.retry(err, true)
		w.log.Warn("commit failed with an unknown outcome; checking and retrying", "table", name, "attempt", attempt,
			"catalog", w.catalogName(), "err", err, "timeout", isTimeout(err))
	}
	if !again {
		return tries.gaveUp(name, w.catalogName(), "committing", err)
	}
	return nil
}

// commitTries are the failed attempts of one table commit so far.
type commitTries struct {
	opts                CommitOptions
	conflicts, failures int
	lastErr             error
	lastFailed          bool // the last attempt failed (rather than lost a conflict)
	unknown             bool // a commit attempt's outcome was not heard
}

// retry counts a failed attempt and says whether another is allowed.
func (t *commitTries) retry(err error, failed bool) bool {
	t.lastErr, t.lastFailed = err, failed
	if failed {
		t.failures++
	} else {
		t.conflicts++
	}
	return t.failures < t.opts.MaxFailures && t.conflicts+t.failures < t.opts.MaxAttempts
}

// wait is the wait before the next attempt: longer after a failure than after a conflict.
func (t *commitTries) wait() time.Duration {
	if t.lastFailed {
		return t.opts.failureBackoff(t.failures)
	}
	return t.opts.backoff(t.conflicts)
}

// gaveUp is the error of a commit of table to the catalog cat that gave up on err while doing what.
func (t *commitTries) gaveUp(table, cat, what string, err error) error {
	return fmt.Errorf("committing %s to %s: %s; gave up after %d attempts (%d failed, %d conflicts): %w",
		table, cat, what, t.conflicts+t.failures, t.failures, t.conflicts, err)
}

// catalogName names the catalog for messages: the PostgreSQL, SQLite or REST catalog.
func (w *Warehouse) catalogName() string {
	if w.cat != nil && w.cat.CatalogType() == catalog.REST {
		return "the REST catalog"
	}
	if w.db != nil {
		if _, ok := w.db.Driver().(*stdlib.Driver); ok {
			return "the PostgreSQL catalog"
		}
		return "the SQLite catalog"
	}
	return "the catalog"
}

// landed finds the snapshot carrying commitID, newest first.
func landed(tbl *itable.Table, commitID string) (int64, bool) {
	snaps := tbl.Metadata().Snapshots()
	for i := len(snaps) - 1; i >= 0; i-- {
		s := snaps[i]
		if s.Summary != nil && s.Summary.Properties[propCommitID] == commitID {
			return s.SnapshotID, true
		}
	}
	return 0, false
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout())
}
