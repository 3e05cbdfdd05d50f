package graphsim

import (
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/seatlake/seatlake/internal/tenantsim/simkit"
)

// limits models Microsoft Graph's service limits for one app in one tenant ("Microsoft Graph service-specific
// throttling limits"; extract/graph/testdata/README.md has the facts and their pages):
//   - identity and access reports (auditLogs/signIns, and users when signInActivity is selected): 5 requests in any
//     10 s, and signInActivity 10 requests a minute;
//   - directory reads (users, subscribedSkus): a token bucket of resource units per 10 s (3,500 for tenants under 50
//     users, 5,000 up to 500, 8,000 above), GET users costing 2, subscribedSkus 3, any other path 1, $select -1,
//     $expand +1, $top < 20 -1, at least 1;
//   - usage reports (/reports, CSV): 14 requests per 10 minutes.
//
// "scaled" runs the same shapes ten times faster (windows of 1 s, 6 s and 1 minute, a directory bucket of 50 RU per
// second) so a demo sees 429s and still finishes quickly. Every 429 carries Retry-After rounded up to the first
// moment at which the limit that refused the request has room again: in whole seconds, and in tenths for the
// scaled request windows (the same share of the window as the service's whole seconds; the scaled directory
// bucket is sized for demos rather than scaled from the service's, so it keeps whole seconds). Throttled requests do not use the budget: a client that
// waits exactly Retry-After gets through, unless others took the room first (the Graph fact file says why: how
// throttled requests accrue is not documented, and counting them as admitted ones would make a client that waits
// Retry-After, as Learn advises, fail in a burst).
type limits struct {
	mu         sync.Mutex
	resolution time.Duration // of the request windows' Retry-After
	reports    simkit.Window
	activity   simkit.Window
	usage      simkit.Window // usage reports
	dir        simkit.Bucket
	scope      string // x-ms-throttle-scope of directory throttling
}

func newLimits(mode string, users int, appID, tenantID string) *limits {
	ru := 8000.0
	switch {
	case users < 50:
		ru = 3500
	case users <= 500:
		ru = 5000
	}
	l := &limits{scope: "Tenant_Application/ReadWrite/" + appID + "/" + tenantID, resolution: time.Second}
	switch mode {
	case "realistic":
		l.reports = simkit.Window{N: 5, Per: 10 * time.Second}
		l.activity = simkit.Window{N: 10, Per: time.Minute}
		l.usage = simkit.Window{N: 14, Per: 10 * time.Minute}
		l.dir = simkit.Bucket{Capacity: ru, Level: ru, Per: 10 * time.Second}
	case "scaled":
		l.reports = simkit.Window{N: 5, Per: time.Second}
		l.activity = simkit.Window{N: 10, Per: 6 * time.Second}
		l.usage = simkit.Window{N: 14, Per: time.Minute}
		l.dir = simkit.Bucket{Capacity: 50, Level: 50, Per: time.Second}
		l.resolution = 100 * time.Millisecond
	default:
		return nil
	}
	return l
}

// cost is what one request uses of each limit.
type cost struct {
	reports, activity, usage bool
	ru                       float64 // directory resource units, 0 = not a directory request
}

// costOf classifies a request by its path family and query.
func costOf(family string, r *http.Request) cost {
	sel, hasSel := simkit.Query(r, "$select")
	_, hasExpand := simkit.Query(r, "$expand")
	top, _ := simkit.Query(r, "$top")
	ru := func(base float64) float64 {
		if hasSel {
			base--
		}
		if hasExpand {
			base++
		}
		if n, err := strconv.Atoi(top); err == nil && n < 20 {
			base--
		}
		return max(base, 1)
	}
	switch family {
	case "signIns":
		return cost{reports: true}
	case "users":
		act := strings.Contains(strings.ToLower(sel), "signinactivity")
		base := 2.0 // GET users; users/{id} and users/$count are paths the table does not list: 1
		if r.URL.Path != "/v1.0/users" {
			base = 1
		}
		return cost{reports: act, activity: act, ru: ru(base)}
	case "subscribedSkus":
		return cost{ru: ru(3)}
	case "reportSettings":
		return cost{ru: 1}
	case "reports":
		return cost{usage: true}
	}
	return cost{}
}

// admit takes c from the limits at now, or says how long to wait and whether the directory bucket refused.
func (l *limits) admit(now time.Time, c cost) (wait time.Duration, directory, ok bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.admitLocked(now, c)
}

// admitClock is admit at clock's time, read under the lock so that the times the limits see never go back: a
// request refused after another was admitted is told to wait from the later time.
func (l *limits) admitClock(clock func() time.Time, c cost) (wait time.Duration, directory, ok bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.admitLocked(clock(), c)
}

func (l *limits) admitLocked(now time.Time, c cost) (wait time.Duration, directory, ok bool) {
	if wait, directory = l.waitLocked(now, c); wait > 0 {
		return wait, directory, false
	}
	l.take(now, c)
	return 0, false, true
}

// waitLocked is how long a request costing c waits at now, and whether the directory bucket is (one of) the cause.
func (l *limits) waitLocked(now time.Time, c cost) (wait time.Duration, directory bool) {
	if c.reports {
		wait = max(wait, l.reports.Wait(now))
	}
	if c.activity {
		wait = max(wait, l.activity.Wait(now))
	}
	if c.usage {
		wait = max(wait, l.usage.Wait(now))
	}
	if c.ru > 0 {
		if d := l.dir.Wait(now, c.ru); d > 0 {
			wait, directory = max(wait, d), true
		}
	}
	return wait, directory
}

// take records an admitted request at now in every limit it counts against.
func (l *limits) take(now time.Time, c cost) {
	if c.reports {
		l.reports.Take(now)
	}
	if c.activity {
		l.activity.Take(now)
	}
	if c.usage {
		l.usage.Take(now)
	}
	if c.ru > 0 {
		l.dir.Level -= c.ru
	}
}

// admit applies the service limits to a request and renders the 429 when one is exceeded.
func (g *Service) admit(w http.ResponseWriter, r *http.Request, family string, rep *simkit.Reply, reqID string) bool {
	if g.limits == nil {
		return true
	}
	c := costOf(family, r)
	if c.ru > 0 {
		w.Header().Set("x-ms-resource-unit", strconv.Itoa(int(c.ru)))
	}
	wait, directory, ok := g.limits.admitClock(g.kit.Now, c)
	if ok {
		return true
	}
	if directory {
		w.Header().Set("x-ms-throttle-scope", g.limits.scope)
		w.Header().Set("x-ms-throttle-information", "ResourceUnitLimitExceeded")
	}
	resolution := g.limits.resolution
	if directory { // the scaled bucket is sized for demos, not the service's scaled: whole seconds, as the service
		resolution = time.Second
	}
	w.Header().Set("Retry-After", simkit.RetryAfter(wait, resolution))
	g.tooMany(rep, reqID)
	return false
}
