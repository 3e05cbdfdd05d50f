package odata

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
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
	Status     int
	Code       string // the service's error code: Graph "Authorization_RequestDenied", Dataverse "0x80072322"…
	Message    string
	RetryAfter time.Duration
	URL        string // without the query string
	RequestID  string
}

func (e *HTTPError) Error() string {
	msg := fmt.Sprintf("GET %s: HTTP %d", e.URL, e.Status)
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

// Client sends authenticated GETs with retries and accounting.
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
func (c *Client) Walk(ctx context.Context, firstURL string, decode func(body []byte) (nextLink string, err error)) error {
	var buf bytes.Buffer
	next := firstURL
	for next != "" {
		var err error
		next, err = c.page(ctx, next, &buf, decode)
		if err != nil {
			return err
		}
	}
	return nil
}

// page fetches and decodes one page, fetching again when the decoder rejects the body as malformed.
func (c *Client) page(ctx context.Context, u string, buf *bytes.Buffer, decode func([]byte) (string, error)) (string, error) {
	for attempt := 1; ; attempt++ {
		if err := c.Get(ctx, u, buf); err != nil {
			return "", err
		}
		next, err := decode(buf.Bytes())
		if err == nil {
			return next, nil
		}
		if !errors.Is(err, ErrBadPage) || attempt >= c.cfg.Retry.MaxAttempts {
			return "", fmt.Errorf("decoding %s: %w", redactQuery(u), err)
		}
		c.stats.Retries.Add(1)
		c.cfg.Logger.Warn("malformed page, fetching it again", "url", redactQuery(u), "attempt", attempt, "err", err)
	}
}

// Get sends one GET (auth, retries, accounting) and leaves the body in buf.
//
// Retry bounds: answers without Retry-After (5xx, resets, timeouts) are tried at most RetryPolicy.MaxAttempts
// times; a 429 with Retry-After is the service saying exactly when to come back, so it is bounded by
// RetryPolicy.MaxTotalWait only. Either way the request gives up by name, never silently.
func (c *Client) Get(ctx context.Context, u string, buf *bytes.Buffer) error {
	p := c.cfg.Retry
	var waited time.Duration
	var last error
	refreshed := false
	failures := 0 // attempts that failed without the service saying when to retry
	for attempt := 1; ; attempt++ {
		if c.cfg.Gate != nil {
			d, err := c.cfg.Gate.wait(ctx, c.cfg.Sleep)
			c.stats.WaitNanos.Add(int64(d))
			waited += d
			if err != nil {
				return err
			}
		}
		token, err := c.cfg.Tokens.Token(ctx)
		if err != nil {
			return err
		}
		status, retryAfter, err := c.do(ctx, u, token, buf)
		switch {
		case err == nil:
			if c.cfg.Gate != nil {
				c.cfg.Gate.succeeded()
			}
			return nil
		case status == http.StatusUnauthorized && !refreshed:
			// Expired or revoked earlier than announced: one new token, then the answer stands.
			c.cfg.Tokens.Invalidate(token)
			c.stats.AuthRefreshes.Add(1)
			refreshed = true
			continue
		case !retryable(status, err) || ctx.Err() != nil:
			return err
		}
		last = err
		throttled := status == http.StatusTooManyRequests
		if throttled {
			c.stats.Throttled.Add(1)
			if c.cfg.Gate != nil {
				c.cfg.Gate.throttled(retryAfter)
			}
		}
		wait := retryAfter
		if wait <= 0 || !throttled {
			failures++
		}
		if wait <= 0 {
			// Full jitter: concurrent clients backing off do not come back in step.
			ceil := math.Min(float64(p.MaxDelay), float64(p.BaseDelay)*math.Pow(2, float64(failures-1)))
			wait = time.Duration(c.cfg.Rand() * ceil)
		}
		if failures >= p.MaxAttempts || waited+wait > p.MaxTotalWait {
			return fmt.Errorf("giving up on GET %s after %d attempts and %s waited: %w", redactQuery(u), attempt, waited.Round(time.Millisecond), last)
		}
		c.stats.Retries.Add(1)
		level := slog.LevelInfo
		if throttled {
			level = slog.LevelDebug // expected under load; counted in the run summary
		}
		c.cfg.Logger.Log(ctx, level, "request will be retried", "url", redactQuery(u), "status", status, "attempt", attempt, "wait", wait.Round(time.Millisecond), "err", err)
		if c.cfg.Gate != nil && throttled {
			continue // the gate holds this request (and every other) until Retry-After has passed
		}
		if err := c.cfg.Sleep(ctx, wait); err != nil {
			return err
		}
		waited += wait
		c.stats.WaitNanos.Add(int64(wait))
	}
}

// do performs one attempt. It returns the HTTP status (0 for transport errors) and the server's Retry-After.
func (c *Client) do(ctx context.Context, u, token string, buf *bytes.Buffer) (int, time.Duration, error) {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.RequestTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return 0, 0, fmt.Errorf("building request for %s: %w", redactQuery(u), err)
	}
	for k, vs := range c.cfg.Header {
		req.Header[k] = vs
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("Authorization", "Bearer "+token)
	c.stats.Requests.Add(1)
	resp, err := c.cfg.HTTPClient.Do(req)
	if err != nil {
		return 0, 0, fmt.Errorf("GET %s: %w", redactQuery(u), err)
	}
	defer resp.Body.Close()
	buf.Reset()
	n, rerr := buf.ReadFrom(resp.Body)
	c.stats.Bytes.Add(n)
	retryAfter := parseRetryAfter(resp.Header.Get("Retry-After"), time.Now())
	if resp.StatusCode/100 == 2 {
		if rerr != nil {
			return 0, retryAfter, fmt.Errorf("reading GET %s: %w", redactQuery(u), rerr)
		}
		return resp.StatusCode, 0, nil
	}
	he := &HTTPError{Status: resp.StatusCode, RetryAfter: retryAfter, URL: redactQuery(u)}
	parseErrorBody(buf.Bytes(), he)
	if he.RequestID == "" {
		he.RequestID = resp.Header.Get("request-id")
	}
	return resp.StatusCode, retryAfter, he
}

func retryable(status int, err error) bool {
	switch status {
	case 0:
		return err != nil // transport error, reset, truncated body, per-attempt timeout
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

// parseErrorBody reads the OData error shape shared by Graph and Dataverse: {"error":{"code","message",
// "innerError":{"request-id"}}}.
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
		he.Code, he.Message, he.RequestID = e.Error.Code, e.Error.Message, e.Error.InnerError.RequestID
		return
	}
	if len(body) > 0 {
		he.Message = strings.TrimSpace(string(body[:min(len(body), 200)]))
	}
}

// redactQuery drops the query string: skiptokens and filters are noise in messages and logs.
func redactQuery(u string) string {
	pu, err := url.Parse(u)
	if err != nil {
		return "<unparsable url>"
	}
	pu.RawQuery = ""
	pu.User = nil
	return pu.String()
}
