package warehouse

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"strings"
	"time"

	"github.com/apache/iceberg-go"
	"github.com/apache/iceberg-go/catalog"
	itable "github.com/apache/iceberg-go/table"
	"github.com/google/uuid"
)

// CommitOptions bound the retries of one table commit.
type CommitOptions struct {
	// MaxAttempts is the number of attempts of one table commit, the first included (default 12).
	MaxAttempts int
	// MinBackoff and MaxBackoff bound the jittered exponential wait between attempts (defaults 50 ms and 5 s).
	MinBackoff, MaxBackoff time.Duration
}

func (o CommitOptions) withDefaults() CommitOptions {
	if o.MaxAttempts <= 0 {
		o.MaxAttempts = 12
	}
	if o.MinBackoff <= 0 {
		o.MinBackoff = 50 * time.Millisecond
	}
	if o.MaxBackoff <= 0 {
		o.MaxBackoff = 5 * time.Second
	}
	return o
}

// backoff is the wait before attempt n (1 = the first retry): full jitter over an exponential ceiling, so that
// jobs that collided once do not collide again in step.
func (o CommitOptions) backoff(n int) time.Duration {
	ceil := o.MinBackoff << min(n-1, 20)
	if ceil > o.MaxBackoff || ceil <= 0 {
		ceil = o.MaxBackoff
	}
	return o.MinBackoff/2 + rand.N(ceil)
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
// the data files the plan adds were written once, before. After an error whose outcome is unknown (a timeout, a
// broken connection, a 5xx), the reloaded table is searched for a snapshot carrying this commit's id first: if it
// landed, it is not committed twice. props go into the snapshot's summary, with the commit id.
func (w *Warehouse) commitTable(ctx context.Context, name string, props iceberg.Properties, plan commitPlan) (commitResult, error) {
	ctx = w.storageContext(ctx) // the manifests and metadata files the commit writes: timeouts, failed tries logged
	var res commitResult
	commitID := uuid.NewString()
	summary := iceberg.Properties{propCommitID: commitID}
	for k, v := range props {
		summary[k] = v
	}
	var lastErr error
	unknown := false
	for attempt := 1; ; attempt++ {
		if attempt > 1 {
			res.Retries++
			t := time.NewTimer(w.commit.backoff(attempt - 1))
			select {
			case <-ctx.Done():
				t.Stop()
				return res, fmt.Errorf("committing %s: %w (after: %w)", name, ctx.Err(), lastErr)
			case <-t.C:
			}
		}
		tbl, err := w.cat.LoadTable(ctx, ident(name))
		if err != nil {
			if ctx.Err() != nil || isPermanent(err) || attempt >= w.commit.MaxAttempts {
				return res, fmt.Errorf("committing %s: loading the table (attempt %d of %d): %w", name, attempt, w.commit.MaxAttempts, err)
			}
			lastErr = err
			w.log.Warn("loading the table failed; retrying", "table", name, "attempt", attempt, "err", err)
			continue
		}
		if unknown {
			if id, ok := landed(tbl, commitID); ok {
				w.log.Info("the commit whose outcome was unknown had landed", "table", name, "snapshot_id", id)
				res.SnapshotID = id
				return res, nil
			}
		}
		txn := tbl.NewTransaction()
		if err := plan(ctx, tbl, txn, summary); err != nil {
			return res, fmt.Errorf("committing %s: %w", name, err)
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
		if ctx.Err() != nil {
			return res, fmt.Errorf("committing %s: %w", name, err)
		}
		switch {
		case isConflict(err):
			w.log.Debug("concurrent commit; retrying", "table", name, "attempt", attempt)
		case isPermanent(err):
			return res, fmt.Errorf("committing %s: %w", name, err)
		default:
			unknown = true
			w.log.Warn("commit failed with an unknown outcome; checking and retrying", "table", name, "attempt", attempt, "err", err, "timeout", isTimeout(err))
		}
		lastErr = err
		if attempt >= w.commit.MaxAttempts {
			return res, fmt.Errorf("committing %s: gave up after %d attempts: %w", name, attempt, err)
		}
	}
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
