package pipelines

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/seatlake/seatlake/internal/outbound"
)

func TestProgressOnATerminalAndInLogs(t *testing.T) {
	t.Run("terminal", func(t *testing.T) {
		var out bytes.Buffer
		p := newProgress(Config{Progress: &out, Heartbeat: time.Hour}, slog.New(slog.DiscardHandler))
		p.start(context.Background())
		var rows atomic.Int64
		st := &outbound.Stats{}
		s := p.stream("graph_signins", 31, st, &rows)
		rows.Store(12345)
		s.pages.Store(13)
		s.windowDone()
		st.Throttled.Store(2)
		s.done()
		p.stop()
		got := out.String()
		for _, want := range []string{"graph_signins", "12345 rows", "13 pages", "1/31 windows", "2 throttled", "done", "\x1b[2K"} {
			if !strings.Contains(got, want) {
				t.Errorf("progress output lacks %q: %q", want, got)
			}
		}
	})
	t.Run("no terminal: heartbeat in the log", func(t *testing.T) {
		var logs bytes.Buffer
		p := newProgress(Config{Heartbeat: 10 * time.Millisecond}, slog.New(slog.NewTextHandler(&logs, nil)))
		p.start(context.Background())
		var rows atomic.Int64
		rows.Store(77)
		p.stream("graph_users", 0, nil, &rows)
		time.Sleep(50 * time.Millisecond)
		p.stop()
		if !strings.Contains(logs.String(), "msg=progress stream=graph_users rows=77") {
			t.Errorf("no heartbeat: %q", logs.String())
		}
	})
}
