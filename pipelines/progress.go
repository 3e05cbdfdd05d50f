package pipelines

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/vbauerster/mpb/v8"
	"github.com/vbauerster/mpb/v8/decor"

	"github.com/seatlake/seatlake/extract/odata"
)

// progress shows what each stream is doing: live lines on a terminal, or a heartbeat log line every
// cfg.Heartbeat when there is no terminal (cron, CI), so a long run is never silent and never noisy.
type progress struct {
	out       io.Writer
	log       *slog.Logger
	heartbeat time.Duration

	mu      sync.Mutex
	streams []*streamProgress
	bars    *mpb.Progress
	cancel  context.CancelFunc
	wg      sync.WaitGroup
}

type streamProgress struct {
	name           string
	rows           *atomic.Int64 // the table's rows handed to the writer
	pages          atomic.Int64
	windows, total atomic.Int64
	finished       atomic.Bool
	stats          *odata.Stats
	bar            *mpb.Bar
}

func newProgress(cfg Config, log *slog.Logger) *progress {
	return &progress{out: cfg.Progress, log: log, heartbeat: cfg.Heartbeat}
}

func (p *progress) start(ctx context.Context) {
	ctx, p.cancel = context.WithCancel(ctx)
	if p.out != nil {
		p.bars = mpb.NewWithContext(ctx, mpb.WithOutput(p.out), mpb.WithRefreshRate(200*time.Millisecond))
		return
	}
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		t := time.NewTicker(p.heartbeat)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				p.logHeartbeat()
			}
		}
	}()
}

func (p *progress) logHeartbeat() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, s := range p.streams {
		if s.finished.Load() {
			continue
		}
		attrs := []any{"stream", s.name, "rows", s.rows.Load(), "pages", s.pages.Load()}
		if n := s.total.Load(); n > 0 {
			attrs = append(attrs, "windows_done", s.windows.Load(), "windows", n)
		}
		if s.stats != nil {
			attrs = append(attrs, "throttled", s.stats.Throttled.Load(), "retries", s.stats.Retries.Load())
		}
		p.log.Info("progress", attrs...)
	}
}

// stream registers a stream; windows > 0 when the stream is fetched in that many time windows.
func (p *progress) stream(name string, windows int, stats *odata.Stats, rows *atomic.Int64) *streamProgress {
	s := &streamProgress{name: name, stats: stats, rows: rows}
	s.total.Store(int64(windows))
	p.mu.Lock()
	p.streams = append(p.streams, s)
	p.mu.Unlock()
	if p.bars != nil {
		s.bar = p.bars.New(0, mpb.NopStyle(),
			mpb.PrependDecorators(decor.Name(fmt.Sprintf("%-22s", name))),
			mpb.AppendDecorators(decor.Any(func(decor.Statistics) string { return s.line() }),
				decor.Name("  "), decor.Elapsed(decor.ET_STYLE_GO)),
		)
	}
	return s
}

func (s *streamProgress) line() string {
	txt := fmt.Sprintf("%10d rows %6d pages", s.rows.Load(), s.pages.Load())
	if n := s.total.Load(); n > 0 {
		txt += fmt.Sprintf("  %d/%d windows", s.windows.Load(), n)
	}
	if s.stats != nil {
		if t := s.stats.Throttled.Load(); t > 0 {
			txt += fmt.Sprintf("  %d throttled", t)
		}
	}
	if s.finished.Load() {
		txt += "  done"
	}
	return txt
}

func (s *streamProgress) windowDone() { s.windows.Add(1) }

func (s *streamProgress) done() {
	s.finished.Store(true)
	if s.bar != nil {
		s.bar.SetTotal(-1, true)
	}
}

func (p *progress) stop() {
	p.mu.Lock()
	for _, s := range p.streams {
		if s.bar != nil && !s.bar.Completed() {
			s.bar.Abort(false)
		}
	}
	p.mu.Unlock()
	if p.bars != nil {
		p.bars.Wait()
	}
	if p.cancel != nil {
		p.cancel()
	}
	p.wg.Wait()
}

// counting is a Pager that tells a stream's progress about every page.
type counting struct {
	pager interface {
		Walk(ctx context.Context, firstURL string, decode func(body []byte) (string, error)) error
	}
	p *streamProgress
}

func (c counting) Walk(ctx context.Context, firstURL string, decode func(body []byte) (string, error)) error {
	return c.pager.Walk(ctx, firstURL, func(body []byte) (string, error) {
		next, err := decode(body)
		if err == nil {
			c.p.pages.Add(1)
		}
		return next, err
	})
}
