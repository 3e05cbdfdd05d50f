package outbound

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"math/rand/v2"
	"net/http"
	"sync/atomic"
	"time"
)

// TokenSource gives bearer tokens and takes back one a service refused.
type TokenSource interface {
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
	HTTPClient *http.Client
	// Tokens gives bearer tokens: a 401 drops the token and the request is sent once more with a new one.
	Tokens TokenSource
	// Authorize puts fixed credentials on a request instead (basic auth, a static token): a 401 is final.
	Authorize      func(req *http.Request)
	Retry          RetryPolicy
	RequestTimeout time.Duration // one attempt, body included (default 100 s)
	Header         http.Header   // sent on every request (Prefer, OData-Version, ConsistencyLevel…)
	Gate           *Gate         // optional: requests sharing a gate pause together
	// ReadError reads the service's error code, message and request id from an error answer (its shape is the
	// service's). When it leaves code and message empty, the body, on one line, is the message.
	ReadError func(h http.Header, body []byte, e *Error)
	Logger    *slog.Logger
	Sleep     func(ctx context.Context, d time.Duration) error // tests inject; default Sleep
	Rand      func() float64                                   // jitter in [0,1]; tests inject
}

// Stats counts what requests did (a stream's, for the run summary). Safe for concurrent use.
type Stats struct {
	Requests, Retries, Throttled, AuthRefreshes, Bytes, WaitNanos atomic.Int64
}

// Waited is the total time spent waiting on Retry-After, backoff and gates.
func (s *Stats) Waited() time.Duration { return time.Duration(s.WaitNanos.Load()) }

// Client sends requests with credentials, retries and accounting. Safe for concurrent use.
type Client struct {
	cfg   Config
	stats *Stats
}

// New returns a client; unset fields get their defaults.
func New(cfg Config) *Client {
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
		cfg.Sleep = Sleep
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

// Policy is the retry policy in force, defaults filled in.
func (c *Client) Policy() RetryPolicy { return c.cfg.Retry }

// Sleep waits d, or until ctx ends.
func Sleep(ctx context.Context, d time.Duration) error {
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

// Get sends one GET and leaves the answer's body in buf (reset first).
//
// Retry bounds: answers without Retry-After (5xx, resets, timeouts) are tried at most RetryPolicy.MaxAttempts
// times; a 429 with Retry-After is the service saying exactly when to come back, so it is bounded by
// RetryPolicy.MaxTotalWait (and a generous attempt cap). Either way the request gives up by name, never silently.
func (c *Client) Get(ctx context.Context, u string, buf *bytes.Buffer) error {
	return c.Do(ctx, http.MethodGet, u, nil, buf)
}

// Post sends one POST with a JSON body, retried as Get is: use it for what is safe to repeat, and check the
// effect when the answer is lost.
func (c *Client) Post(ctx context.Context, u string, body []byte, buf *bytes.Buffer) error {
	return c.Do(ctx, http.MethodPost, u, body, buf)
}

// Do sends one request (a JSON body, or none) with credentials, retries and accounting, and leaves the answer's
// body in buf (reset first). A non-success answer is an *Error.
func (c *Client) Do(ctx context.Context, method, u string, body []byte, buf *bytes.Buffer) error {
	what := method + " " + Redact(u)
	refreshed := false
	return c.retry(ctx, what, func(ctx context.Context) (bool, error) {
		var token string
		if c.cfg.Tokens != nil {
			var err error
			if token, err = c.cfg.Tokens.Token(ctx); err != nil {
				return false, Final(fmt.Errorf("%s: %w", what, err))
			}
		}
		err := c.do(ctx, method, u, body, token, buf)
		var he *Error
		if errors.As(err, &he) && he.Status == http.StatusUnauthorized && c.cfg.Tokens != nil && !refreshed {
			// Expired or revoked earlier than announced: one new token, then the answer stands.
			c.cfg.Tokens.Invalidate(token)
			c.stats.AuthRefreshes.Add(1)
			refreshed = true
			c.cfg.Logger.Info("access token refused, fetching a new one", "request", what)
			return true, err
		}
		return false, err
	})
}

// Retry runs op, one attempt of something that is not a plain request (a token request through a library), under
// the client's policy, logging and accounting. op's error decides: an *Error is retried as a request's answer is
// (429 and 5xx, after its RetryAfter), a Final one or a certificate problem is not, and any other is a failure
// without a complete answer, retried. what names the attempt in logs and in the error when giving up.
func (c *Client) Retry(ctx context.Context, what string, op func(ctx context.Context) error) error {
	return c.retry(ctx, what, func(ctx context.Context) (bool, error) { return false, op(ctx) })
}

// Backoff counts a retry the caller makes on top of a request that succeeded (a page its decoder found
// malformed) and waits the backoff before retry n; it returns how long it waited.
func (c *Client) Backoff(ctx context.Context, n int) (time.Duration, error) {
	c.stats.Retries.Add(1)
	d := c.backoff(n)
	return d, c.wait(ctx, d)
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

// retry runs try until it succeeds, fails for good or the policy's bounds are reached. try returns again when it
// wants to be run once more at once (after a new token), without counting a failure.
func (c *Client) retry(ctx context.Context, what string, try func(context.Context) (again bool, err error)) error {
	p := c.cfg.Retry
	gate := c.cfg.Gate
	var waited time.Duration
	failures := 0 // attempts that failed without the service saying when to retry
	for attempt := 1; ; attempt++ {
		var started time.Time
		if gate != nil {
			d, start, err := gate.wait(ctx, c.cfg.Sleep)
			started = start
			c.stats.WaitNanos.Add(int64(d))
			waited += d
			if err != nil {
				return fmt.Errorf("%s: waiting for the throttling gate: %w", what, err)
			}
		}
		again, err := try(ctx)
		if err == nil {
			if gate != nil {
				gate.succeeded(started)
			}
			return nil
		}
		status, retryAfter, step, retry := decide(err)
		throttled := status == http.StatusTooManyRequests
		if gate != nil && !throttled {
			gate.failed(started)
		}
		if again {
			continue
		}
		if !retry || ctx.Err() != nil {
			return unfinal(err)
		}
		if throttled {
			c.stats.Throttled.Add(1)
			if gate != nil {
				gate.throttled(started, retryAfter, step)
			}
		}
		wait := retryAfter
		if wait <= 0 || !throttled {
			failures++
		}
		if wait <= 0 {
			wait = c.backoff(failures)
		}
		if failures >= p.MaxAttempts || attempt >= throttledAttemptsFactor*p.MaxAttempts || waited+wait > p.MaxTotalWait {
			return fmt.Errorf("giving up on %s after %d attempts and %s waited: %w", what, attempt, waited.Round(time.Millisecond), err)
		}
		c.stats.Retries.Add(1)
		level := slog.LevelInfo
		if throttled {
			level = slog.LevelDebug // expected under load; counted in Stats and the run summary
		}
		c.cfg.Logger.Log(ctx, level, "request failed, retrying", "request", what, "status", status,
			"attempt", attempt, "wait", wait.Round(time.Millisecond), "err", err)
		if gate != nil && throttled && retryAfter > 0 {
			continue // the gate holds this request (and every other) until Retry-After has passed
		}
		if err := c.wait(ctx, wait); err != nil {
			return fmt.Errorf("%s: waiting to retry: %w", what, err)
		}
		waited += wait
	}
}

// decide says whether a failed attempt is worth another, and what the service answered: its status and
// Retry-After.
func decide(err error) (status int, retryAfter, step time.Duration, retry bool) {
	var fe *finalError
	if errors.As(err, &fe) || CertificateProblem(err) != nil { // a certificate stays untrusted however often asked
		return 0, 0, 0, false
	}
	var he *Error
	if errors.As(err, &he) {
		return he.Status, he.RetryAfter, he.RetryAfterStep, retryableStatus(he.Status)
	}
	return 0, 0, 0, true // no complete answer: a reset, a timeout, a truncated body
}

func retryableStatus(status int) bool {
	switch status {
	case http.StatusTooManyRequests, http.StatusInternalServerError, http.StatusBadGateway,
		http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return true
	}
	return false
}

// do performs one attempt.
func (c *Client) do(ctx context.Context, method, u string, body []byte, token string, buf *bytes.Buffer) error {
	actx, cancel := context.WithTimeout(ctx, c.cfg.RequestTimeout)
	defer cancel()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(actx, method, u, rd)
	if err != nil {
		return Final(fmt.Errorf("building request for %s: %w", Redact(u), err))
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
	} else if c.cfg.Authorize != nil {
		c.cfg.Authorize(req)
	}
	c.stats.Requests.Add(1)
	resp, err := c.cfg.HTTPClient.Do(req)
	if err != nil {
		if ce := CertificateProblem(err); ce != nil { // not transient: said once, with the fix
			return fmt.Errorf("%s %s: %w", method, Redact(u), ce)
		}
		return fmt.Errorf("%s %s: %w", method, Redact(u), c.timeoutError(ctx, actx, err))
	}
	defer resp.Body.Close()
	buf.Reset()
	if resp.ContentLength > 0 {
		buf.Grow(int(min(resp.ContentLength, 64<<20)))
	}
	n, rerr := buf.ReadFrom(resp.Body)
	c.stats.Bytes.Add(n)
	if resp.StatusCode/100 == 2 {
		if rerr != nil { // reset, truncated body, per-attempt timeout while reading
			return fmt.Errorf("reading the answer to %s %s: %w", method, Redact(u), c.timeoutError(ctx, actx, rerr))
		}
		return nil
	}
	ra := resp.Header.Get("Retry-After")
	he := &Error{Status: resp.StatusCode, RetryAfter: ParseRetryAfter(ra, time.Now()), RetryAfterStep: RetryAfterStep(ra), URL: Redact(u)}
	if method != http.MethodGet {
		he.Method = method
	}
	if c.cfg.ReadError != nil {
		c.cfg.ReadError(resp.Header, buf.Bytes(), he)
	}
	if he.Code == "" && he.Message == "" {
		he.Message = OneLine(string(buf.Bytes()[:min(buf.Len(), 4096)]), 200)
	}
	return he
}

// timeoutError names the per-attempt timeout when it, not the caller, ended the attempt.
func (c *Client) timeoutError(ctx, actx context.Context, err error) error {
	if ctx.Err() == nil && errors.Is(actx.Err(), context.DeadlineExceeded) {
		return fmt.Errorf("no complete answer within the request timeout of %s: %w", c.cfg.RequestTimeout, err)
	}
	return err
}
