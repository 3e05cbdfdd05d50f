package pipelines

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/seatlake/seatlake/extract/graph"
	"github.com/seatlake/seatlake/extract/odata"
)

// window is a half-open time range [From, To) of sign-ins.
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

type signInOutcome struct {
	state        signInState
	stateChanged bool
}

// signIns fetches the sign-in windows since the last committed watermark, a bounded number at once. A window that
// cannot be fetched is listed as missing (the run is then incomplete) and the watermark stops before it; windows
// that succeed are kept. No Entra ID P1/P2 skips the stream with a warning.
func (r *run) signIns(ctx context.Context, x *graph.Extractor, client *odata.Client, sink *asyncSink) (signInOutcome, error) {
	cfg := r.cfg
	now := r.sum.StartedAt.Truncate(time.Second)
	var prev signInState
	raw, ok, err := r.wh.State(cfg.TenantID, signInStream)
	if err != nil {
		return signInOutcome{}, fmt.Errorf("reading sign-in state: %w", err)
	}
	if ok {
		if err := json.Unmarshal(raw, &prev); err != nil {
			return signInOutcome{}, fmt.Errorf("reading sign-in state %s: %w", raw, err)
		}
	}
	retained := now.Add(-cfg.SignInHistory)
	from := retained.Truncate(24 * time.Hour) // whole first day: the service keeps 30 days from now, not from midnight
	if ok && !prev.Watermark.IsZero() {
		from = prev.Watermark.Add(-cfg.SignInLookback)
		if from.Before(retained) {
			r.warn(fmt.Sprintf("graph_signins: the last watermark %s is older than Microsoft's retention; sign-ins between it and %s are gone from the service",
				prev.Watermark.Format(time.RFC3339), retained.Format(time.RFC3339)))
			from = retained
		}
	}
	ws := signInWindows(from, now, cfg.SignInWindow)
	st := r.streamStats(graph.SignIns.Name)
	p := r.progress.stream(graph.SignIns.Name, len(ws), st, &sink.rows)
	defer p.done()
	pager := counting{client.WithStats(st), p}

	failed := make([]error, len(ws))
	var noPremium bool
	var mu sync.Mutex
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(cfg.SignInConcurrency)
	for i, w := range ws {
		g.Go(func() error {
			res, err := x.SignIns(gctx, pager, w.From, w.To, sink)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				p.windowDone()
				return nil
			case errors.Is(err, graph.ErrNoPremium):
				noPremium = true
				return err // stops the other windows: none of them can succeed
			case ctx.Err() != nil:
				return ctx.Err() // the run is being cancelled
			default:
				// Rows a half-read window already handed over are kept (views deduplicate them when the window
				// is fetched again); the watermark stops before this window, so the next run fetches it again.
				failed[i] = err
				if res.Rows > 0 {
					failed[i] = fmt.Errorf("%w (after %d rows)", err, res.Rows)
				}
				return nil
			}
		})
	}
	err = g.Wait()
	if noPremium {
		r.warn("graph_signins skipped: the tenant has no Entra ID P1/P2, which Microsoft requires for sign-in logs")
		return signInOutcome{}, nil
	}
	if err != nil {
		return signInOutcome{}, err
	}

	// The watermark advances to the end of the unbroken run of fetched windows, oldest first.
	out := signInOutcome{state: prev}
	var missing []string
	mark := from
	broken := false
	for i, w := range ws {
		if failed[i] != nil {
			broken = true
			missing = append(missing, fmt.Sprintf("graph_signins %s: %v", w, failed[i]))
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
