package pipelines

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"time"

	"github.com/seatlake/seatlake/internal/outbound"
	"github.com/seatlake/seatlake/load/warehouse"
	"github.com/seatlake/seatlake/transform/rules"

	"github.com/seatlake/seatlake/extract/finops"
	"github.com/seatlake/seatlake/extract/msauth"
	"github.com/seatlake/seatlake/extract/source"
)

// Config is everything a run needs, filled once by cmd/ and checked by Validate (which does no I/O).
type Config struct {
	Name     string // the tenant's name in the config file (default: its id)
	TenantID string
	// SetupErr, when set, says why this tenant's credentials could not be read (a secret file missing or readable
	// by others, an empty variable, a certificate that does not load): a run records the tenant as failed without
	// a request, check reports it, and the other tenants go on. It names the config file's key and the fix.
	SetupErr     error
	ClientID     string
	ClientSecret msauth.Secret
	// Assertion, when set, is the client credential instead of the secret (certificate, federated token).
	Assertion msauth.Assertion
	// ManagedIdentity: tokens from the Azure host's managed identity (ClientID, when set, picks a user-assigned one).
	ManagedIdentity bool
	AuthorityHost   string // https://login.microsoftonline.com
	// AllowAuthorityHosts are hosts beyond Microsoft's documented identity platform hosts (and loopback) that the
	// client secret may be sent to (--allow-authority-host).
	AllowAuthorityHosts []string
	GraphEndpoint       string // https://graph.microsoft.com
	Warehouse           string // the warehouse root directory
	// EventsDir is the events receiver's folder (callback secrets, status), which `check` reads; default
	// EventsDir(Warehouse).
	EventsDir string

	// Sources are this tenant's values of the registered sources' settings (extract/source), by key: Graph's
	// sign-in history and windows, the Dataverse and F&O environments, ….
	Sources source.Values

	BatchRows      int
	RequestTimeout time.Duration
	Retry          outbound.RetryPolicy

	// RootCAs, when set, are the only certificate authorities trusted (an in-process simulator's); nil trusts the
	// system's, which SSL_CERT_FILE and SSL_CERT_DIR can point elsewhere.
	RootCAs *x509.CertPool

	Now func() time.Time // the clock; time.Now when nil
	// Rules are the license rules of the marts (rules.Default() when nil); AsOf is the day the marts are computed
	// as of (the run's start date when zero), so that a run can be reproduced.
	Rules *rules.Rules
	AsOf  time.Time
	// Quiet logs only errors while the run goes (no warnings, no heartbeat): a condition that repeats every night
	// is recorded in the run row, and Summary.NewWarnings says which warnings are new since the last run.
	Quiet bool
	// Only, when set, names the only sources the run reads (graph, dataverse, finops, …): the other sources'
	// tables keep their last snapshots and the marts are recomputed over them. {"finops"} is the intraday refresh
	// a business event triggers; without graph the sign-in watermarks stay untouched, and a run with Only set never
	// compares or replaces the nightly warnings (the reference of "new since the last run").
	Only []string
	// ParquetCompression is the codec of the Parquet files written: gzip (default), snappy, zstd or none.
	ParquetCompression string
	Logger             *slog.Logger
	Progress           io.Writer // a terminal to draw progress on, or nil (then a heartbeat goes to the log)
	// Heartbeat is how often a progress line is logged when there is no terminal.
	Heartbeat time.Duration
}

// finOpsURLs are the tenant's F&O environments, which the business events receiver serves.
func (c *Config) finOpsURLs() []string {
	return source.Read(finops.Source{}.Settings(), c.Sources).Strings(finops.URLSetting)
}

// reads says whether the run reads the named source.
func (c *Config) reads(name string) bool { return len(c.Only) == 0 || slices.Contains(c.Only, name) }

// auth is the tenant's client-credentials setup; every resource's token source is made from it.
func (c *Config) auth(log *slog.Logger) msauth.Config {
	return msauth.Config{AuthorityHost: c.AuthorityHost, TenantID: c.TenantID, ClientID: c.ClientID, ClientSecret: c.ClientSecret, Assertion: c.Assertion, ManagedIdentity: c.ManagedIdentity,
		HTTPClient: c.httpClient(c.RequestTimeout), Logger: log}
}

// httpClient is an HTTP client trusting RootCAs (the system's when nil); timeout 0 leaves timeouts to the caller.
func (c *Config) httpClient(timeout time.Duration) *http.Client {
	hc := &http.Client{Timeout: timeout}
	if c.RootCAs != nil {
		t := http.DefaultTransport.(*http.Transport).Clone()
		t.TLSClientConfig = &tls.Config{RootCAs: c.RootCAs, MinVersion: tls.VersionTLS12}
		hc.Transport = t
	}
	return hc
}

// Defaults fills unset fields with the documented defaults.
func (c *Config) Defaults() {
	if c.AuthorityHost == "" {
		c.AuthorityHost = "https://login.microsoftonline.com"
	}
	if c.GraphEndpoint == "" {
		c.GraphEndpoint = "https://graph.microsoft.com"
	}
	if c.Name == "" {
		c.Name = c.TenantID
	}
	if c.RequestTimeout == 0 {
		c.RequestTimeout = 100 * time.Second
	}
	if c.Heartbeat == 0 {
		c.Heartbeat = 30 * time.Second
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
}

// Validate checks the configuration without I/O.
func (c *Config) Validate() error {
	var errs []error
	if c.Warehouse == "" {
		errs = append(errs, errors.New("warehouse directory is not set (--warehouse)"))
	}
	if err := c.auth(nil).Validate(); err != nil {
		errs = append(errs, err)
	}
	if err := msauth.CheckAuthorityHost(c.AuthorityHost, c.AllowAuthorityHosts); err != nil {
		errs = append(errs, err)
	}
	if err := msauth.CheckEndpoint(c.GraphEndpoint); err != nil {
		errs = append(errs, fmt.Errorf("graph endpoint: %w", err))
	}
	if c.ParquetCompression != "" {
		if err := warehouse.CheckCodec(c.ParquetCompression); err != nil {
			errs = append(errs, err)
		}
	}
	if err := CheckSourceValues(c.Sources); err != nil {
		errs = append(errs, err)
	}
	for _, src := range source.Default.Sources() {
		if v, ok := src.(source.Validator); ok {
			if err := v.Validate(c.Sources); err != nil {
				errs = append(errs, err)
			}
		}
	}
	return errors.Join(errs...)
}
