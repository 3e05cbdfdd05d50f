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

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"

	"github.com/seatlake/seatlake/internal/outbound"
)

// DefaultAuthorityHost is the public cloud's identity platform.
const DefaultAuthorityHost = "https://login.microsoftonline.com"

// Config is what every token source of one app registration shares.
type Config struct {
	AuthorityHost string // default DefaultAuthorityHost; http:// only for loopback hosts
	TenantID      string
	ClientID      string
	ClientSecret  Secret
	// Assertion, when set, is the credential instead of the secret: a certificate-signed JWT or a federated token
	// (CertificateAssertion, FederatedAssertion).
	Assertion Assertion
	// ManagedIdentity gets tokens from the Azure host's managed identity (IMDS on a VM, IDENTITY_ENDPOINT on App
	// Service, Functions, Container Apps, Arc…), through azidentity; with ClientID set, that user-assigned identity.
	ManagedIdentity bool
	HTTPClient      *http.Client  // for token requests; a 30 s timeout when nil
	ExpiryDelta     time.Duration // refresh this long before expiry (default 2 min)
	Now             func() time.Time
	Logger          *slog.Logger
	Sleep           func(ctx context.Context, d time.Duration) error // waits between token attempts; tests inject
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
	if c.ClientID == "" && !c.ManagedIdentity { // a system-assigned managed identity needs none
		errs = append(errs, errors.New("client id is not set (--client-id or $AZURE_CLIENT_ID)"))
	}
	if c.ClientSecret == "" && c.Assertion == nil && !c.ManagedIdentity {
		errs = append(errs, errors.New("no client credential: a secret ($AZURE_CLIENT_SECRET or --client-secret-file), a certificate ($AZURE_CLIENT_CERTIFICATE_PATH) or a federated token file ($AZURE_FEDERATED_TOKEN_FILE)"))
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
	miOnce  sync.Once
	mi      *azidentity.ManagedIdentityCredential
	miErr   error
	log     *slog.Logger
	retry   *outbound.Client // runs the token requests: retries, waits, log lines
	fetches atomic.Int64

	// fetching is held by the one caller requesting a token: the others wait for its answer instead of each sending
	// a request, and a waiting caller whose context ends stops waiting.
	fetching chan struct{}

	mu        sync.Mutex
	token     string
	refreshAt time.Time
}

// NewTokenSource returns a token source for resource (e.g. https://graph.microsoft.com).
func NewTokenSource(cfg Config, resource string) *TokenSource {
	if cfg.AuthorityHost == "" {
		cfg.AuthorityHost = DefaultAuthorityHost
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{Timeout: 30 * time.Second}
	}
	if cfg.ExpiryDelta <= 0 {
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
		retry: outbound.New(outbound.Config{Retry: tokenPolicy, Sleep: cfg.Sleep, Logger: log,
			Rand: func() float64 { return 1 }}),
		fetching: make(chan struct{}, 1),
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
	if tok, ok := s.cached(); ok {
		return tok, nil
	}
	select {
	case s.fetching <- struct{}{}:
	case <-ctx.Done():
		return "", fmt.Errorf("waiting for a token from %s: %w", s.cc.TokenURL, ctx.Err())
	}
	defer func() { <-s.fetching }()
	if tok, ok := s.cached(); ok { // fetched by the caller we waited for
		return tok, nil
	}
	tok, err := s.fetch(ctx)
	if err != nil {
		return "", err
	}
	life := time.Hour // no lifetime announced: a 401 will tell us sooner (Invalidate)
	switch {
	case tok.ExpiresIn > 0:
		life = time.Duration(tok.ExpiresIn) * time.Second
	case !tok.Expiry.IsZero():
		life = time.Until(tok.Expiry)
	}
	// Refresh ExpiryDelta ahead, but never later than half-way through a short lifetime: otherwise a token living
	// less than ExpiryDelta would be fetched again on every call.
	ahead := min(s.cfg.ExpiryDelta, life/2)
	now := s.cfg.Now()
	s.mu.Lock()
	s.token, s.refreshAt = tok.AccessToken, now.Add(life-ahead)
	s.mu.Unlock()
	s.log.Debug("access token acquired", "scope", s.cc.Scopes[0], "expires", now.Add(life))
	return tok.AccessToken, nil
}

func (s *TokenSource) cached() (string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.token, s.token != "" && s.cfg.Now().Before(s.refreshAt)
}

// tokenPolicy bounds requests for one token: the identity platform has brief outages and throttles too, and a
// nightly run should not fail on one blip; a refusal (bad secret, unknown tenant) is final at once. The waits are
// the backoff's ceilings, 1 s then 2 s, without jitter (one request per resource, rarely concurrent).
var tokenPolicy = outbound.RetryPolicy{MaxAttempts: 3, BaseDelay: time.Second, MaxDelay: 30 * time.Second, MaxTotalWait: time.Minute}

// fetch requests a token, retrying network failures, 429 and 5xx answers a few times (the outbound client's rules).
func (s *TokenSource) fetch(ctx context.Context) (*oauth2.Token, error) {
	var (
		tok       *oauth2.Token
		explained error // what the last attempt's failure means, for a person
		attempts  int
	)
	what := http.MethodPost + " " + s.cc.TokenURL
	if s.cfg.ManagedIdentity {
		what = "the managed identity's token for " + s.cc.Scopes[0]
	}
	err := s.retry.Retry(ctx, what, func(ctx context.Context) error {
		attempts++
		s.fetches.Add(1)
		cc, err := s.credentials(ctx)
		if err != nil {
			explained = err
			return outbound.Final(err)
		}
		if tok, err = s.request(ctx, cc); err == nil {
			return nil
		}
		explained, err = s.failure(err, attempts)
		return err
	})
	switch {
	case err == nil:
		return tok, nil
	case explained != nil && ctx.Err() == nil:
		return nil, explained
	}
	return nil, err
}

// credentials are the client credentials of one token request: the secret, or an assertion made for it.
func (s *TokenSource) credentials(ctx context.Context) (clientcredentials.Config, error) {
	cc := s.cc
	if s.cfg.Assertion != nil && !s.cfg.ManagedIdentity {
		a, err := s.cfg.Assertion(ctx, cc.TokenURL)
		if err != nil {
			return cc, err
		}
		cc.ClientSecret = ""
		cc.EndpointParams = url.Values{"client_assertion_type": {assertionType}, "client_assertion": {a}}
	}
	return cc, nil
}

// request makes one token request.
func (s *TokenSource) request(ctx context.Context, cc clientcredentials.Config) (*oauth2.Token, error) {
	if s.cfg.ManagedIdentity {
		return s.managed(ctx)
	}
	return cc.Token(context.WithValue(ctx, oauth2.HTTPClient, s.cfg.HTTPClient))
}

// failure says what a failed token request means (explained, for the caller), and what it is to the outbound
// client's retries (attempt): the platform's answer as an *outbound.Error, repeated on 429 and 5xx; no answer
// repeated, unless the certificate was not trusted.
func (s *TokenSource) failure(err error, attempts int) (explained, attempt error) {
	if s.cfg.ManagedIdentity {
		err = fmt.Errorf("getting a token from the managed identity for %s: %w", s.cc.Scopes[0], err)
		return err, err
	}
	explained = s.explain(err, attempts)
	var re *oauth2.RetrieveError
	switch {
	case !errors.As(err, &re):
		return explained, explained
	case re.Response == nil:
		return explained, outbound.Final(explained)
	}
	return explained, &outbound.Error{Method: http.MethodPost, URL: s.cc.TokenURL, Status: re.Response.StatusCode,
		RetryAfter: outbound.ParseRetryAfter(re.Response.Header.Get("Retry-After"), s.cfg.Now()), Message: explained.Error()}
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

// hint says what to do about the AADSTS codes a new setup meets most ("" for others). The codes and their meaning
// are those of Microsoft's "Microsoft Entra authentication and authorization error codes" page, except 700024, which
// that page does not list (see testdata/README.md).
func hint(code int) string {
	switch code {
	case 7000215:
		return "the client secret is wrong: use the secret's Value, not its Secret ID"
	case 7000222:
		return "the client secret has expired: create a new one in the app registration (Certificates & secrets)"
	case 7000218:
		return "the request has no client secret or assertion"
	case 7000112:
		return "the application is disabled in the tenant: enable its enterprise application (Properties > Enabled for users to sign-in)"
	case 700027:
		return "the client assertion's signature was refused: the certificate is not the one uploaded to the app registration (Certificates & secrets)"
	case 50027:
		return "the client assertion was refused: its audience must be the token endpoint and it must be within its valid time (check this machine's clock)"
	case 700024:
		return "the client assertion is outside its valid time: check this machine's clock, or that the federated token file is being refreshed"
	case 50048:
		return "the client assertion's subject does not match its issuer: both must be the client id"
	case 700016:
		return "the application (client id) was not found in the tenant: check the client id and tenant id, and that an admin consented to the app in this tenant"
	case 500011:
		return "the resource is not in the tenant: the service (Dynamics 365, Dataverse) is not provisioned there, or the environment URL is wrong"
	case 90002:
		return "the tenant was not found: check the tenant id (a GUID or a domain such as contoso.onmicrosoft.com) and that it is in this cloud"
	case 70011:
		return "the scope was refused: the resource URL is wrong for this cloud"
	case 700022:
		return "the scope names more than one resource: one token is requested per resource"
	case 700023:
		return "the scope has no resource: client-credential scopes are <resource>/.default"
	case 1002012:
		return "the scope was refused: client-credential scopes must end in /.default"
	}
	return ""
}

// explain turns a failed token request into a message a person can act on. It never includes the request body
// (it holds the secret) and scrubs the secret from anything the platform echoes back.
func (s *TokenSource) explain(err error, attempts int) error {
	tries := ""
	if attempts > 1 {
		tries = fmt.Sprintf(" (%d attempts)", attempts)
	}
	if ce := outbound.CertificateProblem(err); ce != nil {
		return fmt.Errorf("requesting a token from %s: %w", s.cc.TokenURL, ce)
	}
	var re *oauth2.RetrieveError
	if !errors.As(err, &re) {
		// Network failure or timeout: the token URL is what a person needs; the secret is in the body, never in it.
		return fmt.Errorf("requesting a token from %s%s: %w", s.cc.TokenURL, tries, err)
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
		return fmt.Errorf("requesting a token from %s%s: HTTP %d with an unexpected body (not an identity platform answer? check the authority host)", s.cc.TokenURL, tries, status)
	}
	ae := &AuthError{Code: body.Error, TraceID: body.TraceID}
	ae.Description, _, _ = strings.Cut(body.ErrorDescription, "\n")
	ae.Description = strings.TrimSpace(ae.Description)
	if len(body.ErrorCodes) > 0 {
		ae.AADSTS = body.ErrorCodes[0]
	}
	// "AADSTS7000215: Invalid client secret…": the code is reported apart, once.
	if rest, ok := strings.CutPrefix(ae.Description, fmt.Sprintf("AADSTS%d:", ae.AADSTS)); ok && ae.AADSTS != 0 {
		ae.Description = strings.TrimSpace(rest)
	}
	ae.hint = hint(ae.AADSTS)
	// Never echo the secret, even if a service put it into a description.
	if sec := s.cfg.ClientSecret.Reveal(); sec != "" {
		ae.Description = strings.ReplaceAll(ae.Description, sec, redacted)
	}
	return ae
}

// managed gets a token from the host's managed identity.
func (s *TokenSource) managed(ctx context.Context) (*oauth2.Token, error) {
	s.miOnce.Do(func() {
		opts := &azidentity.ManagedIdentityCredentialOptions{}
		if s.cfg.ClientID != "" {
			opts.ID = azidentity.ClientID(s.cfg.ClientID)
		}
		s.mi, s.miErr = azidentity.NewManagedIdentityCredential(opts)
	})
	if s.miErr != nil {
		return nil, s.miErr
	}
	at, err := s.mi.GetToken(ctx, policy.TokenRequestOptions{Scopes: s.cc.Scopes})
	if err != nil {
		return nil, err
	}
	return &oauth2.Token{AccessToken: at.Token, TokenType: "Bearer", Expiry: at.ExpiresOn}, nil
}
