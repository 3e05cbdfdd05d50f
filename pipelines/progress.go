package pipelines

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/seatlake/seatlake/internal/outbound"
)

// progress shows what each stream is doing: one line per stream redrawn in place on a terminal, or a heartbeat log
// line every cfg.Heartbeat when there is no terminal (cron, CI), so a long run is never silent and never noisy.
type progress struct {
	out       io.Writer
	log       *slog.Logger
	heartbeat time.Duration
	started   time.Time

	mu      sync.Mutex
	streams []*streamProgress
	drawn   int // lines drawn last time, to move the cursor back over them
	cancel  context.CancelFunc
	wg      sync.WaitGroup
}

type streamProgress struct {
	name           string
	rows           *atomic.Int64 // the table's rows handed to the writer
	pages          atomic.Int64
	windows, total atomic.Int64
	finished       atomic.Bool
	stats          *outbound.Stats
}

func newProgress(cfg Config, log *slog.Logger) *progress {
	return &progress{out: cfg.Progress, log: log, heartbeat: cfg.Heartbeat}
}

func (p *progress) start(ctx context.Context) {
	ctx, p.cancel = context.WithCancel(ctx)
	p.started = time.Now()
	every, tick := p.heartbeat, p.logHeartbeat
	if p.out != nil {
		every, tick = 250*time.Millisecond, p.draw
	}
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				tick()
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

// draw rewrites the stream lines in place (cursor up, clear line): plain ANSI, which every terminal understands.
func (p *progress) draw() {
	p.mu.Lock()
	defer p.mu.Unlock()
	var b strings.Builder
	if p.drawn > 0 {
		fmt.Fprintf(&b, "\x1b[%dA", p.drawn)
	}
	for _, s := range p.streams {
		fmt.Fprintf(&b, "\r\x1b[2K%-22s %s\n", s.name, s.line())
	}
	fmt.Fprintf(&b, "\r\x1b[2K%-22s %s\n", "elapsed", time.Since(p.started).Round(time.Second))
	p.drawn = len(p.streams) + 1
	io.WriteString(p.out, b.String())
}

// stream registers a stream; windows > 0 when the stream is fetched in that many time windows.
func (p *progress) stream(name string, windows int, stats *outbound.Stats, rows *atomic.Int64) *streamProgress {
	s := &streamProgress{name: name, stats: stats, rows: rows}
	s.total.Store(int64(windows))
	p.mu.Lock()
	p.streams = append(p.streams, s)
	p.mu.Unlock()
	return s
}

// all returns the streams registered so far.
func (p *progress) all() []*streamProgress {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.streams)
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

func (s *streamProgress) done() { s.finished.Store(true) }

func (p *progress) stop() {
	if p.cancel != nil {
		p.cancel()
	}
	p.wg.Wait()
	if p.out != nil {
		p.draw() // the final state stays on screen above the summary
	}
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
