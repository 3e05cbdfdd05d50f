package odata

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"time"

	"github.com/seatlake/seatlake/internal/outbound"
)

// Config configures a Client: its requests are the outbound client's. NewClient reads error answers in the OData
// shape unless ReadError is set.
type Config = outbound.Config

// ErrBadPage marks a page body a decoder could not use (truncated, not JSON); the page is fetched again.
var ErrBadPage = errors.New("odata: malformed page")

// Client pages OData collections, and sends the single requests of OData services (an entity, the POST of an
// action), through one outbound client: credentials, retries and accounting are its.
type Client struct {
	http *outbound.Client
	log  *slog.Logger
}

// NewClient returns a client; unset fields get their defaults.
func NewClient(cfg Config) *Client {
	if cfg.ReadError == nil {
		cfg.ReadError = ReadError
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &Client{http: outbound.New(cfg), log: cfg.Logger}
}

// WithStats returns a client that counts into s (one Stats per stream); it shares everything else.
func (c *Client) WithStats(s *outbound.Stats) *Client {
	return &Client{http: c.http.WithStats(s), log: c.log}
}

// Get sends one GET and leaves the body in buf (reset first); see outbound.Client.Get.
func (c *Client) Get(ctx context.Context, u string, buf *bytes.Buffer) error {
	return c.http.Get(ctx, u, buf)
}

// Post sends one POST with a JSON body (an OData action), retried as Get is: use it for actions that are safe to
// repeat, and check their effect when the answer is lost.
func (c *Client) Post(ctx context.Context, u string, body []byte, buf *bytes.Buffer) error {
	return c.http.Post(ctx, u, body, buf)
}

// Walk GETs firstURL and every nextLink the decoder returns, until it returns "". buf is reused across pages, so
// decode must not keep body.
//
// A nextLink must stay on firstURL's scheme and host: the bearer token goes with every page, and a link elsewhere
// (a tampered or misconfigured answer) is refused rather than followed.
func (c *Client) Walk(ctx context.Context, firstURL string, decode func(body []byte) (nextLink string, err error)) error {
	origin, err := url.Parse(firstURL)
	if err != nil {
		return fmt.Errorf("walking %s: %w", outbound.Redact(firstURL), err)
	}
	var buf bytes.Buffer
	for u := firstURL; u != ""; {
		next, err := c.page(ctx, u, &buf, decode)
		if err != nil {
			return err
		}
		if next != "" {
			if next == u {
				return fmt.Errorf("paging %s: the page names itself as its nextLink; stopping instead of looping", outbound.Redact(u))
			}
			if err := sameOrigin(origin, next); err != nil {
				return fmt.Errorf("paging %s: %w", outbound.Redact(u), err)
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
		if err := c.http.Get(ctx, u, buf); err != nil {
			return "", err
		}
		next, err := decode(buf.Bytes())
		if err == nil {
			return next, nil
		}
		if !errors.Is(err, ErrBadPage) {
			return "", fmt.Errorf("decoding %s: %w", outbound.Redact(u), err)
		}
		if attempt >= c.http.Policy().MaxAttempts {
			return "", fmt.Errorf("giving up on GET %s: the page was malformed %d times: %w", outbound.Redact(u), attempt, err)
		}
		wait, werr := c.http.Backoff(ctx, attempt)
		if werr != nil {
			return "", fmt.Errorf("waiting to fetch %s again: %w", outbound.Redact(u), werr)
		}
		c.log.Warn("malformed page, fetching it again", "url", outbound.Redact(u), "attempt", attempt,
			"wait", wait.Round(time.Millisecond), "err", err)
	}
}
