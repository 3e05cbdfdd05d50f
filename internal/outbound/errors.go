package outbound

import (
	"cmp"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Error is a service's non-success answer.
type Error struct {
	Method     string // GET when empty
	Status     int
	Code       string // the service's error code: Graph "Authorization_RequestDenied", Dataverse "0x80072322"…
	Message    string
	RetryAfter time.Duration
	// RetryAfterStep is the Retry-After's resolution (RetryAfterStep): the service rounded its wait up to it.
	RetryAfterStep time.Duration
	URL            string // without the query string
	RequestID      string
}

func (e *Error) Error() string {
	msg := fmt.Sprintf("%s %s: HTTP %d", cmp.Or(e.Method, http.MethodGet), e.URL, e.Status)
	if e.Code != "" {
		msg += " " + e.Code
	}
	if e.Message != "" {
		msg += ": " + e.Message
	}
	if e.RequestID != "" {
		msg += " (request-id " + e.RequestID + ")"
	}
	return msg
}

// finalError is a failure no retry can change.
type finalError struct{ err error }

func (e *finalError) Error() string { return e.err.Error() }
func (e *finalError) Unwrap() error { return e.err }

// Final marks err, the failure of an attempt, as one no retry can change (a refused credential, an unusable
// request): Retry returns it (unmarked) at once.
func Final(err error) error { return &finalError{err} }

// unfinal takes the mark off a final error.
func unfinal(err error) error {
	if fe, ok := err.(*finalError); ok {
		return fe.err
	}
	return err
}

// RetryAfterStep is the resolution of a Retry-After header, to which the service rounded its wait: a second for
// whole seconds or an HTTP date, a tenth for "1.3", a thousandth for "2.128"; 0 when absent or unreadable.
func RetryAfterStep(v string) time.Duration {
	v = strings.TrimSpace(v)
	if s, err := strconv.ParseFloat(v, 64); err == nil && s >= 0 {
		_, frac, _ := strings.Cut(v, ".")
		step := time.Second
		for range min(len(frac), 9) {
			step /= 10
		}
		return step
	}
	if _, err := http.ParseTime(v); err == nil {
		return time.Second
	}
	return 0
}

// ParseRetryAfter reads a Retry-After header: seconds (Graph sends fractions such as 2.128) or an HTTP date; 0 when
// absent, past or unreadable.
func ParseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if s, err := strconv.ParseFloat(v, 64); err == nil && s >= 0 && !math.IsInf(s, 0) && !math.IsNaN(s) {
		return time.Duration(s * float64(time.Second))
	}
	if t, err := http.ParseTime(v); err == nil {
		if d := t.Sub(now); d > 0 {
			return d
		}
	}
	return 0
}

// OneLine collapses whitespace (an error is one log line) and cuts s to at most n bytes on a rune boundary.
func OneLine(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) <= n {
		return s
	}
	cut := n
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

// Redact drops a URL's query string and user: skiptokens and filters are noise in messages and logs, filters may
// hold user names, and a query may carry a signature.
func Redact(u string) string {
	pu, err := url.Parse(u)
	if err != nil {
		return "<unparsable url>"
	}
	pu.RawQuery = ""
	pu.ForceQuery = false
	pu.User = nil
	return pu.String()
}
