package pipelines

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"
)

// A windowed event stream (a source's Windows: sign-ins, an environment's audit records) is fetched here: the
// windows since its committed watermark, a bounded number at once, the watermark moved to the end of the unbroken
// run of fetched windows.

// window is a half-open time range [From, To) of events.
type window struct{ From, To time.Time }

func (w window) String() string {
	return w.From.Format(time.RFC3339) + ".." + w.To.Format(time.RFC3339)
}

// signInWindows splits [from, to) into windows of at most size that never cross a UTC midnight, so each window lands
// in exactly one event_date partition and can be retried or resumed on its own.
func signInWindows(from, to time.Time, size time.Duration) []window {
	var ws []window
	for t := from; t.Before(to); {
		end := t.Add(size)
		if midnight := t.Truncate(24 * time.Hour).Add(24 * time.Hour); end.After(midnight) {
			end = midnight
		}
		if end.After(to) {
			end = to
		}
		ws = append(ws, window{From: t, To: end})
		t = end
	}
	return ws
}

// windowState is the committed state of a windowed stream.
type windowState struct {
	Watermark time.Time `json:"watermark"` // events before this instant are in the warehouse
}

// windowOutcome is what a windowed stream leaves to commit: its state under key, when it moved.
type windowOutcome struct {
	key          string
	state        windowState
	stateChanged bool
}

// windowSpec describes one windowed event stream (sign-ins, one environment's audits).
type windowSpec struct {
	stream      string // named in missing lines, e.g. graph_signins
	key         string // state key (a file name)
	history     time.Duration
	lookback    time.Duration
	size        time.Duration
	concurrency int
	fetch       func(ctx context.Context, from, to time.Time) (rows int64, err error)
	// fatal says whether an error ends every window (e.g. no Entra ID P1): fetchWindows then returns it.
	fatal func(err error) bool
}

// fetchWindows fetches the windows since the stream's last committed watermark, a bounded number at once. A window
// that cannot be fetched is listed as missing (the run is then incomplete) and the watermark stops before it;
// windows that succeed are kept.
func (r *run) fetchWindows(ctx context.Context, spec windowSpec, p *streamProgress) (windowOutcome, error) {
	now := r.sum.StartedAt.Truncate(time.Second)
	out := windowOutcome{key: spec.key}
	raw, ok, err := r.wh.State(r.cfg.TenantID, spec.key)
	if err != nil {
		return out, fmt.Errorf("reading %s state: %w", spec.stream, err)
	}
	if ok {
		if err := json.Unmarshal(raw, &out.state); err != nil {
			return out, fmt.Errorf("reading %s state %s: %w", spec.stream, raw, err)
		}
	}
	prev := out.state
	retained := now.Add(-spec.history)
	if asOf := r.cfg.AsOf; !asOf.IsZero() && asOf.Before(now) {
		// A run as of an earlier day fetches the history those answers need: back from that day, not from today
		// (what the service no longer keeps simply is not there).
		retained = asOf.Add(-spec.history)
	}
	from := retained.Truncate(24 * time.Hour) // whole first day: the service keeps N days from now, not from midnight
	if ok && !prev.Watermark.IsZero() {
		from = prev.Watermark.Add(-spec.lookback)
		if from.Before(retained) {
			r.warn(fmt.Sprintf("%s: the last watermark %s is older than the history kept; events between it and %s are not fetched",
				spec.stream, prev.Watermark.Format(time.RFC3339), retained.Format(time.RFC3339)))
			from = retained
		}
	}
	ws := signInWindows(from, now, spec.size)
	p.total.Store(int64(len(ws)))
	if len(ws) > 0 {
		r.mu.Lock()
		ss := r.sum.Streams[p.name]
		ss.FirstWindow, ss.LastWindow = ws[0].From, ws[len(ws)-1].To
		r.sum.Streams[p.name] = ss
		r.mu.Unlock()
	}

	failed := make([]error, len(ws))
	var mu sync.Mutex
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(spec.concurrency)
	for i, w := range ws {
		g.Go(func() error {
			rows, err := spec.fetch(gctx, w.From, w.To)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				p.windowDone()
				return nil
			case spec.fatal != nil && spec.fatal(err):
				return err // stops the other windows: none of them can succeed
			case ctx.Err() != nil:
				return ctx.Err() // the run is being cancelled
			default:
				// Rows a half-read window already handed over are kept (views deduplicate them when the window
				// is fetched again); the watermark stops before this window, so the next run fetches it again.
				failed[i] = err
				if rows > 0 {
					failed[i] = fmt.Errorf("%w (after %d rows)", err, rows)
				}
				return nil
			}
		})
	}
	if err := g.Wait(); err != nil {
		return out, err
	}

	// The watermark advances to the end of the unbroken run of fetched windows, oldest first.
	var missing []string
	mark := from
	broken := false
	for i, w := range ws {
		if failed[i] != nil {
			broken = true
			missing = append(missing, fmt.Sprintf("%s %s: %v", spec.stream, w, failed[i]))
			continue
		}
		if !broken {
			mark = w.To
		}
	}
	sort.Strings(missing)
	r.mu.Lock()
	r.sum.Missing = append(r.sum.Missing, missing...)
	r.mu.Unlock()
	if mark.After(prev.Watermark) {
		out.state.Watermark = mark
		out.stateChanged = true
	}
	return out, nil
}
