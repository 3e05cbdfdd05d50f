package odata

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
	"unicode/utf8"
)

// TokenProvider gives bearer tokens and takes back one a service refused.
type TokenProvider interface {
	Token(ctx context.Context) (string, error)
	Invalidate(token string)
}

// RetryPolicy bounds retries of one request.
type RetryPolicy struct {
	MaxAttempts  int           // attempts in all, the first included (default 8)
	BaseDelay    time.Duration // first backoff without Retry-After (default 1 s)
	MaxDelay     time.Duration // cap of one backoff (default 60 s)
	MaxTotalWait time.Duration // total waiting for one request before giving up (default 10 min)
}

func (p RetryPolicy) withDefaults() RetryPolicy {
	if p.MaxAttempts <= 0 {
		p.MaxAttempts = 8
	}
	if p.BaseDelay <= 0 {
		p.BaseDelay = time.Second
	}
	if p.MaxDelay <= 0 {
		p.MaxDelay = 60 * time.Second
	}
	if p.MaxTotalWait <= 0 {
		p.MaxTotalWait = 10 * time.Minute
	}
	return p
}

// Config configures a Client.
type Config struct {
	HTTPClient     *http.Client
	Tokens         TokenProvider
	Retry          RetryPolicy
	RequestTimeout time.Duration // one attempt, body included (default 100 s)
	Header         http.Header   // sent on every request (Prefer, OData-Version, ConsistencyLevel…)
	Gate           *Gate         // optional: requests sharing a gate pause together
	Logger         *slog.Logger
	Sleep          func(ctx context.Context, d time.Duration) error // tests inject; default waits on a timer
	Rand           func() float64                                   // jitter in [0,1); tests inject
}

// Stats counts what a stream's requests did. Safe for concurrent use.
type Stats struct {
	Requests, Retries, Throttled, AuthRefreshes, Bytes, WaitNanos atomic.Int64
}

// Waited is the total time spent waiting on Retry-After, backoff and gates.
func (s *Stats) Waited() time.Duration { return time.Duration(s.WaitNanos.Load()) }

// ErrBadPage marks a page body a decoder could not use (truncated, not JSON); the page is fetched again.
var ErrBadPage = errors.New("odata: malformed page")

// HTTPError is a service's non-success answer.
type HTTPError struct {
	Method     string // GET when empty
	Status     int
	Code       string // the service's error code: Graph "Authorization_RequestDenied", Dataverse "0x80072322"…
	Message    string
	RetryAfter time.Duration
	URL        string // without the query string
	RequestID  string
}

func (e *HTTPError) Error() string {
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

// Client sends authenticated requests (GETs, and the POST of an action) with retries and accounting.
type Client struct {
	cfg   Config
	stats *Stats
}

// NewClient returns a client; unset fields get their defaults.
func NewClient(cfg Config) *Client {
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{}
	}
	cfg.Retry = cfg.Retry.withDefaults()
	if cfg.RequestTimeout <= 0 {
		cfg.RequestTimeout = 100 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Sleep == nil {
		cfg.Sleep = sleep
	}
	if cfg.Rand == nil {
		cfg.Rand = rand.Float64
	}
	return &Client{cfg: cfg, stats: &Stats{}}
}

// WithStats returns a client that counts into s (one Stats per stream); it shares everything else.
func (c *Client) WithStats(s *Stats) *Client {
	cp := *c
	cp.stats = s
	return &cp
}

func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Walk GETs firstURL and every nextLink the decoder returns, until it returns "". buf is reused across pages, so
// decode must not keep body.
//
// A nextLink must stay on firstURL's scheme and host: the bearer token goes with every page, and a link elsewhere
// (a tampered or misconfigured answer) is refused rather than followed.
func (c *Client) Walk(ctx context.Context, firstURL string, decode func(body []byte) (nextLink string, err error)) error {
	origin, err := url.Parse(firstURL)
	if err != nil {
		return fmt.Errorf("walking %s: %w", redactQuery(firstURL), err)
	}
	var buf bytes.Buffer
	for u := firstURL; u != ""; {
		next, err := c.page(ctx, u, &buf, decode)
		if err != nil {
			return err
		}
		if next != "" {
			if next == u {
				return fmt.Errorf("paging %s: the page names itself as its nextLink; stopping instead of looping", redactQuery(u))
			}
			if err := sameOrigin(origin, next); err != nil {
				return fmt.Errorf("paging %s: %w", redactQuery(u), err)
			}
		}
		u = next
	}
	return nil
}

// sameOrigin checks that next is on origin's scheme, host and port.
func sameOrigin(origin *url.URL, next string) error {
	nu, err := url.Parse(next)
	if err != nil {
		return fmt.Errorf("unusable nextLink: %w", err)
	}
	if !strings.EqualFold(nu.Scheme, origin.Scheme) || !strings.EqualFold(nu.Hostname(), origin.Hostname()) ||
		port(nu) != port(origin) {
		return fmt.Errorf("the nextLink leads to %s://%s, not %s://%s: refusing to send the token to another host",
			nu.Scheme, nu.Host, origin.Scheme, origin.Host)
	}
	return nil
}

func port(u *url.URL) string {
	if p := u.Port(); p != "" {
		return p
	}
	switch strings.ToLower(u.Scheme) {
	case "https":
		return "443"
	case "http":
		return "80"
	}
	return ""
}

// page fetches and decodes one page, fetching again (after a backoff) when the decoder rejects the body as
// malformed.
func (c *Client) page(ctx context.Context, u string, buf *bytes.Buffer, decode func([]byte) (string, error)) (string, error) {
	for attempt := 1; ; attempt++ {
		if err := c.Get(ctx, u, buf); err != nil {
			return "", err
		}
		next, err := decode(buf.Bytes())
		if err == nil {
			return next, nil
		}
		if !errors.Is(err, ErrBadPage) {
			return "", fmt.Errorf("decoding %s: %w", redactQuery(u), err)
		}
		if attempt >= c.cfg.Retry.MaxAttempts {
			return "", fmt.Errorf("giving up on GET %s: the page was malformed %d times: %w", redactQuery(u), attempt, err)
		}
		c.stats.Retries.Add(1)
		wait := c.backoff(attempt)
		c.cfg.Logger.Warn("malformed page, fetching it again", "url", redactQuery(u), "attempt", attempt,
			"wait", wait.Round(time.Millisecond), "err", err)
		if err := c.wait(ctx, wait); err != nil {
			return "", fmt.Errorf("waiting to fetch %s again: %w", redactQuery(u), err)
		}
	}
}

// backoff is the capped exponential backoff with full jitter before retry n (1-based): concurrent clients backing
// off do not come back in step.
func (c *Client) backoff(n int) time.Duration {
	p := c.cfg.Retry
	ceil := math.Min(float64(p.MaxDelay), float64(p.BaseDelay)*math.Pow(2, float64(n-1)))
	return time.Duration(c.cfg.Rand() * ceil)
}

// wait sleeps d (honouring ctx) and counts it.
func (c *Client) wait(ctx context.Context, d time.Duration) error {
	if err := c.cfg.Sleep(ctx, d); err != nil {
		return err
	}
	c.stats.WaitNanos.Add(int64(d))
	return nil
}

// throttledAttemptsFactor bounds attempts answered 429 + Retry-After at this many times MaxAttempts: those are
// otherwise bounded by MaxTotalWait only, which a server sending tiny Retry-After values would turn into a hot loop.
const throttledAttemptsFactor = 10

// Get sends one GET (auth, retries, accounting) and leaves the body in buf (reset first).
//
// Retry bounds: answers without Retry-After (5xx, resets, timeouts) are tried at most RetryPolicy.MaxAttempts
// times; a 429 with Retry-After is the service saying exactly when to come back, so it is bounded by
// RetryPolicy.MaxTotalWait (and a generous attempt cap). Either way the request gives up by name, never silently.
func (c *Client) Get(ctx context.Context, u string, buf *bytes.Buffer) error {
	return c.send(ctx, http.MethodGet, u, nil, buf)
}

// Post sends one POST with a JSON body (an OData action), retried as Get is: use it for actions that are safe to
// repeat, and check their effect when the answer is lost.
func (c *Client) Post(ctx context.Context, u string, body []byte, buf *bytes.Buffer) error {
	return c.send(ctx, http.MethodPost, u, body, buf)
}

func (c *Client) send(ctx context.Context, method, u string, body []byte, buf *bytes.Buffer) error {
	p := c.cfg.Retry
	gate := c.cfg.Gate
	var waited time.Duration
	refreshed := false
	failures := 0 // attempts that failed without the service saying when to retry
	for attempt := 1; ; attempt++ {
		var started time.Time
		if gate != nil {
			d, start, err := gate.wait(ctx, c.cfg.Sleep)
			started = start
			c.stats.WaitNanos.Add(int64(d))
			waited += d
			if err != nil {
				return fmt.Errorf("%s %s: waiting for the throttling gate: %w", method, redactQuery(u), err)
			}
		}
		var token string
		if c.cfg.Tokens != nil {
			var err error
			if token, err = c.cfg.Tokens.Token(ctx); err != nil {
				return fmt.Errorf("%s %s: %w", method, redactQuery(u), err)
			}
		}
		res, err := c.do(ctx, method, u, body, token, buf)
		switch {
		case err == nil:
			if gate != nil {
				gate.succeeded()
			}
			return nil
		case res.status == http.StatusUnauthorized && !refreshed && c.cfg.Tokens != nil:
			// Expired or revoked earlier than announced: one new token, then the answer stands.
			c.cfg.Tokens.Invalidate(token)
			c.stats.AuthRefreshes.Add(1)
			refreshed = true
			c.cfg.Logger.Info("access token refused, fetching a new one", "url", redactQuery(u))
			continue
		case !res.retry || ctx.Err() != nil:
			return err
		}
		throttled := res.status == http.StatusTooManyRequests
		if throttled {
			c.stats.Throttled.Add(1)
			if gate != nil {
				gate.throttled(started, res.retryAfter)
			}
		}
		wait := res.retryAfter
		if wait <= 0 || !throttled {
			failures++
		}
		if wait <= 0 {
			wait = c.backoff(failures)
		}
		if failures >= p.MaxAttempts || attempt >= throttledAttemptsFactor*p.MaxAttempts || waited+wait > p.MaxTotalWait {
			return fmt.Errorf("giving up on %s %s after %d attempts and %s waited: %w", method, redactQuery(u), attempt, waited.Round(time.Millisecond), err)
		}
		c.stats.Retries.Add(1)
		level := slog.LevelInfo
		if throttled {
			level = slog.LevelDebug // expected under load; counted in Stats and the run summary
		}
		c.cfg.Logger.Log(ctx, level, "request will be retried", "url", redactQuery(u), "status", res.status,
			"attempt", attempt, "wait", wait.Round(time.Millisecond), "err", err)
		if gate != nil && throttled && res.retryAfter > 0 {
			continue // the gate holds this request (and every other) until Retry-After has passed
		}
		if err := c.wait(ctx, wait); err != nil {
			return fmt.Errorf("%s %s: waiting to retry: %w", method, redactQuery(u), err)
		}
		waited += wait
	}
}

// attempt is what one try of a request came to.
type attempt struct {
	status     int           // 0 when there was no complete answer
	retryAfter time.Duration // the server's Retry-After
	retry      bool          // worth trying again
}

// do performs one attempt.
func (c *Client) do(ctx context.Context, method, u string, body []byte, token string, buf *bytes.Buffer) (attempt, error) {
	actx, cancel := context.WithTimeout(ctx, c.cfg.RequestTimeout)
	defer cancel()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(actx, method, u, rd)
	if err != nil {
		return attempt{}, fmt.Errorf("building request for %s: %w", redactQuery(u), err)
	}
	for k, vs := range c.cfg.Header {
		req.Header[k] = vs
	}
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	c.stats.Requests.Add(1)
	resp, err := c.cfg.HTTPClient.Do(req)
	if err != nil {
		if ce := CertificateProblem(err); ce != nil { // not transient: said once, with the fix
			return attempt{}, fmt.Errorf("%s %s: %w", method, redactQuery(u), ce)
		}
		return attempt{retry: true}, fmt.Errorf("%s %s: %w", method, redactQuery(u), c.timeoutError(ctx, actx, err))
	}
	defer resp.Body.Close()
	buf.Reset()
	if resp.ContentLength > 0 {
		buf.Grow(int(min(resp.ContentLength, 64<<20)))
	}
	n, rerr := buf.ReadFrom(resp.Body)
	c.stats.Bytes.Add(n)
	retryAfter := parseRetryAfter(resp.Header.Get("Retry-After"), time.Now())
	if resp.StatusCode/100 == 2 {
		if rerr != nil { // reset, truncated body, per-attempt timeout while reading
			return attempt{retry: true}, fmt.Errorf("reading the answer to %s %s: %w", method, redactQuery(u), c.timeoutError(ctx, actx, rerr))
		}
		return attempt{status: resp.StatusCode}, nil
	}
	he := &HTTPError{Status: resp.StatusCode, RetryAfter: retryAfter, URL: redactQuery(u)}
	if method != http.MethodGet {
		he.Method = method
	}
	parseErrorBody(buf.Bytes(), he)
	for _, h := range []string{"request-id", "x-ms-service-request-id", "x-ms-request-id"} {
		if he.RequestID != "" {
			break
		}
		he.RequestID = resp.Header.Get(h)
	}
	return attempt{status: resp.StatusCode, retryAfter: retryAfter, retry: retryableStatus(resp.StatusCode)}, he
}

// timeoutError names the per-attempt timeout when it, not the caller, ended the attempt.
func (c *Client) timeoutError(ctx, actx context.Context, err error) error {
	if ctx.Err() == nil && errors.Is(actx.Err(), context.DeadlineExceeded) {
		return fmt.Errorf("no complete answer within the request timeout of %s: %w", c.cfg.RequestTimeout, err)
	}
	return err
}

func retryableStatus(status int) bool {
	switch status {
	case http.StatusTooManyRequests, http.StatusInternalServerError, http.StatusBadGateway,
		http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return true
	}
	return false
}

// parseRetryAfter reads seconds (Graph sends fractions such as 2.128) or an HTTP date.
func parseRetryAfter(v string, now time.Time) time.Duration {
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

// parseErrorBody reads the OData error shape shared by Graph ({"error":{"code","message","innerError":
// {"request-id"}}}) and Dataverse ({"error":{"code":"0x80072322","message"}}); any other body becomes the message,
// shortened to one line.
func parseErrorBody(body []byte, he *HTTPError) {
	var e struct {
		Error struct {
			Code       string `json:"code"`
			Message    string `json:"message"`
			InnerError struct {
				RequestID string `json:"request-id"`
			} `json:"innerError"`
		} `json:"error"`
	}
	if json.Unmarshal(body, &e) == nil && (e.Error.Code != "" || e.Error.Message != "") {
		he.Code, he.Message, he.RequestID = e.Error.Code, oneLine(e.Error.Message, 500), e.Error.InnerError.RequestID
		return
	}
	he.Message = oneLine(string(body[:min(len(body), 4096)]), 200)
}

// oneLine collapses whitespace (an error is one log line) and cuts s to at most n bytes on a rune boundary.
func oneLine(s string, n int) string {
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

// redactQuery drops the query string: skiptokens and filters are noise in messages and logs, and filters may hold
// user names.
func redactQuery(u string) string {
	pu, err := url.Parse(u)
	if err != nil {
		return "<unparsable url>"
	}
	pu.RawQuery = ""
	pu.ForceQuery = false
	pu.User = nil
	return pu.String()
}
