package dataversesim

import (
	"strconv"
	"sync"
	"time"

	"github.com/seatlake/seatlake/internal/tenantsim/simkit"
)

// Limits are the service protection limits of one environment, per application user ("Service protection API limits").
type Limits struct {
	Requests   int           // requests per Window (6,000)
	Execution  time.Duration // combined execution time per Window (20 minutes)
	Window     time.Duration // the sliding window (300 s)
	Concurrent int           // requests in flight (52)
}

// LimitsOf are the limits of a throttle mode: "realistic", "scaled" (100x smaller, for demos) or "off" (none).
func LimitsOf(mode string) *Limits {
	switch mode {
	case "realistic":
		return &Limits{Requests: 6000, Execution: 20 * time.Minute, Window: 300 * time.Second, Concurrent: 52}
	case "scaled":
		return &Limits{Requests: 60, Execution: 12 * time.Second, Window: 3 * time.Second, Concurrent: 6}
	}
	return nil
}

// dvGuard applies Limits to one environment.
type dvGuard struct {
	lim      Limits
	mu       sync.Mutex
	starts   simkit.Window // the requests started in the window
	execs    []execSpan
	inflight int
}

func newGuard(lim Limits) *dvGuard {
	return &dvGuard{lim: lim, starts: simkit.Window{N: lim.Requests, Per: lim.Window}}
}

type execSpan struct {
	end time.Time
	d   time.Duration
}

// Admit lets a request start (code ""), or returns the error code, message and wait of the limit it exceeds.
func (g *dvGuard) Admit(now time.Time) (code, msg string, wait time.Duration) {
	g.mu.Lock()
	defer g.mu.Unlock()
	cut := now.Add(-g.lim.Window)
	i := 0
	for i < len(g.execs) && !g.execs[i].end.After(cut) {
		i++
	}
	g.execs = append(g.execs[:0], g.execs[i:]...)
	startWait := g.starts.Wait(now)
	if g.inflight >= g.lim.Concurrent {
		return "0x80072326", "Number of concurrent requests exceeded the limit of " + strconv.Itoa(g.lim.Concurrent) + ".", time.Second
	}
	if startWait > 0 {
		return "0x80072322", "Number of requests exceeded the limit of " + strconv.Itoa(g.lim.Requests) + " over time window of " +
			strconv.Itoa(int(g.lim.Window/time.Second)) + " seconds.", startWait
	}
	var used time.Duration
	for _, e := range g.execs {
		used += e.d
	}
	if used >= g.lim.Execution {
		// Wait until enough execution time has left the window.
		var freed time.Duration
		wait := g.lim.Window
		for _, e := range g.execs {
			freed += e.d
			if used-freed < g.lim.Execution {
				wait = e.end.Add(g.lim.Window).Sub(now)
				break
			}
		}
		return "0x80072321", "Combined execution time of incoming requests exceeded limit of " +
			thousands(g.lim.Execution.Milliseconds()) + " milliseconds over time window of " +
			strconv.Itoa(int(g.lim.Window/time.Second)) + " seconds. Decrease number of concurrent requests or reduce the duration of requests and try again later.", wait
	}
	g.inflight++
	g.starts.Take(now)
	return "", "", 0
}

// thousands writes n with comma separators, as the service protection page prints the execution-time limit
// ("1,200,000 milliseconds").
func thousands(n int64) string {
	s := strconv.FormatInt(n, 10)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

// Done ends a request admitted earlier that took d.
func (g *dvGuard) Done(now time.Time, d time.Duration) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.inflight--
	g.execs = append(g.execs, execSpan{end: now, d: d})
}
