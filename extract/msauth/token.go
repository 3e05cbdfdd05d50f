package msauth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"
)

// DefaultAuthorityHost is the public cloud's identity platform.
const DefaultAuthorityHost = "https://login.microsoftonline.com"

// Config is what every token source of one app registration shares.
type Config struct {
	AuthorityHost string // default DefaultAuthorityHost; http:// only for loopback hosts
	TenantID      string
	ClientID      string
	ClientSecret  Secret
	HTTPClient    *http.Client  // for token requests; a 30 s timeout when nil
	ExpiryDelta   time.Duration // refresh this long before expiry (default 2 min)
	Now           func() time.Time
	Logger        *slog.Logger
}

var (
	guidRE   = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)
	domainRE = regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)+$`)
)

// Validate checks the configuration without I/O.
func (c Config) Validate() error {
	var errs []error
	switch {
	case c.TenantID == "":
		errs = append(errs, errors.New("tenant id is not set (--tenant-id or $AZURE_TENANT_ID)"))
	case !guidRE.MatchString(c.TenantID) && !domainRE.MatchString(c.TenantID):
		errs = append(errs, fmt.Errorf("tenant id %q is neither a GUID nor a domain like contoso.onmicrosoft.com", c.TenantID))
	}
	if c.ClientID == "" {
		errs = append(errs, errors.New("client id is not set (--client-id or $AZURE_CLIENT_ID)"))
	}
	if c.ClientSecret == "" {
		errs = append(errs, errors.New("client secret is not set ($AZURE_CLIENT_SECRET or --client-secret-file)"))
	}
	if c.AuthorityHost != "" {
		if err := CheckEndpoint(c.AuthorityHost); err != nil {
			errs = append(errs, fmt.Errorf("authority host: %w", err))
		}
	}
	return errors.Join(errs...)
}

// CheckEndpoint accepts https URLs, and http URLs only on loopback hosts (the simulator, tests): credentials and
// tenant data never cross a network in clear text.
func CheckEndpoint(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return fmt.Errorf("%q is not an absolute URL", raw)
	}
	switch u.Scheme {
	case "https":
		return nil
	case "http":
		if isLoopback(u.Hostname()) {
			return nil
		}
		return fmt.Errorf("%s: http:// is accepted only for loopback hosts (127.0.0.1, ::1, localhost); use https", raw)
	}
	return fmt.Errorf("%s: scheme %q, want https", raw, u.Scheme)
}

func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// TokenSource hands out access tokens for one resource. It is safe for concurrent use.
type TokenSource struct {
	cfg     Config
	cc      clientcredentials.Config
	log     *slog.Logger
	fetches atomic.Int64

	mu    sync.Mutex // held while fetching: concurrent callers wait for one request instead of each sending one
	token string
	exp   time.Time
}

// NewTokenSource returns a token source for resource (e.g. https://graph.microsoft.com).
func NewTokenSource(cfg Config, resource string) *TokenSource {
	if cfg.AuthorityHost == "" {
		cfg.AuthorityHost = DefaultAuthorityHost
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{Timeout: 30 * time.Second}
	}
	if cfg.ExpiryDelta == 0 {
		cfg.ExpiryDelta = 2 * time.Minute
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &TokenSource{
		cfg: cfg,
		log: log,
		cc: clientcredentials.Config{
			ClientID:     cfg.ClientID,
			ClientSecret: cfg.ClientSecret.Reveal(),
			TokenURL:     strings.TrimRight(cfg.AuthorityHost, "/") + "/" + url.PathEscape(cfg.TenantID) + "/oauth2/v2.0/token",
			Scopes:       []string{strings.TrimRight(resource, "/") + "/.default"},
			AuthStyle:    oauth2.AuthStyleInParams,
		},
	}
}

// Token returns a valid access token, fetching a new one when there is none or it expires within ExpiryDelta.
func (s *TokenSource) Token(ctx context.Context) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.token != "" && s.cfg.Now().Add(s.cfg.ExpiryDelta).Before(s.exp) {
		return s.token, nil
	}
	s.fetches.Add(1)
	tok, err := s.cc.Token(context.WithValue(ctx, oauth2.HTTPClient, s.cfg.HTTPClient))
	if err != nil {
		return "", s.explain(err)
	}
	s.token = tok.AccessToken
	// The library's Expiry is on the wall clock; keep the lifetime it announced, on our clock.
	life := time.Hour
	if !tok.Expiry.IsZero() {
		life = time.Until(tok.Expiry)
	}
	s.exp = s.cfg.Now().Add(life)
	s.log.Debug("access token acquired", "scope", s.cc.Scopes[0], "expires", s.exp)
	return s.token, nil
}

// Invalidate drops token if it is still the current one, so the next Token call fetches a new one (a service
// answered 401 with it: revoked, or expired earlier than announced).
func (s *TokenSource) Invalidate(token string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.token == token {
		s.token = ""
	}
}

// Fetches counts token requests made.
func (s *TokenSource) Fetches() int64 { return s.fetches.Load() }

// AuthError is the identity platform's refusal, with what to do about it.
type AuthError struct {
	Code        string // OAuth2 error, e.g. invalid_client
	AADSTS      int    // e.g. 7000215
	Description string // first line of error_description
	TraceID     string
	hint        string
}

func (e *AuthError) Error() string {
	if e.hint != "" {
		return fmt.Sprintf("%s (AADSTS%d)", e.hint, e.AADSTS)
	}
	if e.AADSTS != 0 {
		return fmt.Sprintf("token request refused: %s (AADSTS%d, %s)", e.Description, e.AADSTS, e.Code)
	}
	return fmt.Sprintf("token request refused: %s %s", e.Code, e.Description)
}

var hints = map[int]string{
	7000215: "the client secret is wrong: use the secret's Value, not its Secret ID",
	7000222: "the client secret has expired: create a new one in the app registration (Certificates & secrets)",
	700016:  "the application (client id) was not found in the tenant: check the client id and tenant id, and that an admin consented to the app in this tenant",
	90002:   "the tenant was not found: check the tenant id (a GUID or a domain such as contoso.onmicrosoft.com)",
	70011:   "the scope was refused: the resource URL is wrong for this cloud",
	1002012: "the scope was refused: client-credential scopes must end in /.default",
	7000218: "the request has no client secret or assertion",
}

func (s *TokenSource) explain(err error) error {
	var re *oauth2.RetrieveError
	if !errors.As(err, &re) {
		// Network failure or timeout: the URL (without query) is what a person needs. The secret is in the body,
		// never in the URL.
		return fmt.Errorf("requesting a token from %s: %w", s.cc.TokenURL, err)
	}
	var body struct {
		Error            string `json:"error"`
		ErrorDescription string `json:"error_description"`
		ErrorCodes       []int  `json:"error_codes"`
		TraceID          string `json:"trace_id"`
	}
	if jerr := json.Unmarshal(re.Body, &body); jerr != nil || body.Error == "" {
		status := 0
		if re.Response != nil {
			status = re.Response.StatusCode
		}
		return fmt.Errorf("requesting a token from %s: HTTP %d with an unexpected body (not an identity platform answer?)", s.cc.TokenURL, status)
	}
	ae := &AuthError{Code: body.Error, TraceID: body.TraceID}
	ae.Description, _, _ = strings.Cut(body.ErrorDescription, "\r\n")
	ae.Description, _, _ = strings.Cut(ae.Description, "\n")
	if len(body.ErrorCodes) > 0 {
		ae.AADSTS = body.ErrorCodes[0]
	}
	ae.hint = hints[ae.AADSTS]
	// Never echo the secret, even if a service put it into a description.
	if sec := s.cfg.ClientSecret.Reveal(); sec != "" {
		ae.Description = strings.ReplaceAll(ae.Description, sec, redacted)
	}
	return ae
}
