package tenantsim

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/seatlake/seatlake/internal/tenantsim/dataversesim"
	"github.com/seatlake/seatlake/internal/tenantsim/finopssim"
	"github.com/seatlake/seatlake/internal/tenantsim/graphsim"
	"github.com/seatlake/seatlake/internal/tenantsim/identity"
	"github.com/seatlake/seatlake/internal/tenantsim/ids"
	"github.com/seatlake/seatlake/internal/tenantsim/model"
	"github.com/seatlake/seatlake/internal/tenantsim/simkit"
	"github.com/seatlake/seatlake/internal/tenantsim/truth"
)

// Config describes the simulated tenant and how its services behave. Use DefaultConfig and change what matters:
// zero values of Days, TokenLifetime, Throttle, TenantID, ClientID, ClientSecret, Now and Logger get the defaults
// below, while IdleShare, Premium, ConcealedNames, DataverseEnvs and FinOpsEnvs are taken as given.
type Config struct {
	Seed    int64
	Users   int   // 1..1,000,000 users (about 0.5 KB of memory each)
	Days    int   // days of sign-in history, today included (default 30; at most 30 are served, as with P1)
	SignIns int64 // sign-ins in the history; 0 = about two a day per active user

	IdleShare      float64 // share of users whose last sign-in is 60-300 days old (0..0.9)
	Premium        bool    // Entra ID P1: off => signInActivity and the sign-in log answer 403
	ConcealedNames bool    // reportSettings.displayConcealedNames

	Throttle      string        // service limits: "realistic", "scaled" (10x faster windows, for demos) or "off"
	TokenLifetime time.Duration // lifetime of access tokens (default 1h)
	ExpiredSecret bool          // the token endpoint answers AADSTS7000222: the client secret has expired
	// ClientCertificate is the certificate registered on the app: client assertions signed with its key are
	// accepted (certificate credentials); nil accepts none.
	ClientCertificate *x509.Certificate

	TenantID, ClientID, ClientSecret string // defaults: a GUID and a secret derived from Seed, a fixed client id

	// GraphPermissions are the Graph application permissions in tokens' roles claim, which Graph enforces
	// (nil: AllGraphPermissions).
	GraphPermissions []string

	// Dynamics 365. Each environment is served on its own loopback port once started.
	DataverseEnvs int // Dataverse environments (DefaultConfig: 1; 0 serves none)
	FinOpsEnvs    int // Finance and Operations environments (DefaultConfig: 1; 0 serves none)
	// FinOpsEvents is the number of F&O business events of the plan this simulator sends or whose changes it
	// applies (POST /_sim/finops-events/apply); /_sim/truth reports it as finops_events_distinct.
	FinOpsEvents        int
	AuditsPerEnv        int64            // about this many user-driven audit records per Dataverse environment (0: realistic)
	AuditingOff         map[int]bool     // Dataverse environments (by index) with auditing off
	NoApplicationUser   map[int]bool     // Dataverse environments without seatlake's application user
	FinOpsMissingEntity []string         // per F&O environment: an entity left out of $metadata and the service
	FinOpsPageSize      int              // server-driven page size of F&O (default 10,000)
	DataverseLimits     *DataverseLimits // override the throttle mode's Dataverse limits
	PageLatency         time.Duration    // each Dataverse and F&O page takes at least this long, as at Microsoft
	TLS                 bool             // serve https with the simulator's own CA (CAPEM) instead of http

	// Now anchors the history: it is read once, in New, and the newest sign-in falls just before it (truncated to
	// the minute); the history starts at midnight UTC Days-1 days earlier. Default time.Now. Token expiry and service
	// limits run on the wall clock regardless, so a fixed Now still gives expiring tokens.
	Now    func() time.Time
	Logger *slog.Logger
}

// DefaultConfig is a 2,000-user tenant with 30 days of history, Entra ID P1, concealed report names and no
// throttling (the library default; `seatlake sim` and `seatlake demo` choose their own).
func DefaultConfig() Config {
	return Config{Seed: 1, Users: 2000, Days: 30, IdleShare: 0.2, Premium: true, ConcealedNames: true,
		Throttle: "off", TokenLifetime: time.Hour, DataverseEnvs: 1, FinOpsEnvs: 1}
}

// DefaultClientID is the application (client) id the simulator accepts unless Config.ClientID says otherwise.
const DefaultClientID = "5f3a8e2c-1b7d-4c9e-a6f0-3d2b1c0e9a87"

func (c *Config) validate() error {
	switch {
	case c.DataverseEnvs < 0 || c.DataverseEnvs > 16 || c.FinOpsEnvs < 0 || c.FinOpsEnvs > 16:
		return fmt.Errorf("environments %d Dataverse, %d F&O: want 0..16 of each", c.DataverseEnvs, c.FinOpsEnvs)
	case c.Users < 1 || c.Users > 1_000_000:
		return fmt.Errorf("users %d: want 1..1,000,000", c.Users)
	case c.Days < 0 || c.Days > 365:
		return fmt.Errorf("days %d: want 1..365", c.Days)
	case c.SignIns < 0:
		return fmt.Errorf("sign-ins %d: want >= 0", c.SignIns)
	case c.SignIns/int64(max(c.Days, 1)) > 1_000_000_000:
		return fmt.Errorf("sign-ins %d: more than a billion a day", c.SignIns)
	case c.IdleShare < 0 || c.IdleShare > 0.9:
		return fmt.Errorf("idle share %.2f: want 0..0.9", c.IdleShare)
	case c.TokenLifetime < 0:
		return fmt.Errorf("token lifetime %s: want > 0", c.TokenLifetime)
	}
	switch c.Throttle {
	case "", "realistic", "scaled", "off":
	default:
		return fmt.Errorf("throttle %q: want realistic, scaled or off", c.Throttle)
	}
	return nil
}

// Sim is a simulated tenant. Its methods are safe for concurrent use.
type Sim struct {
	cfg     Config
	m       *model.Tenant
	log     *slog.Logger
	clock   func() time.Time // the wall clock of token expiry and service limits; tests replace it
	mux     *http.ServeMux
	truth   Truth
	truthMu sync.Mutex
	usage   *UsageTruth // computed on the first Truth call (truthMu)
	// eventsApplied are the F&O users whose role changes ApplyFinOpsEvents applied (truthMu).
	eventsApplied []string
	eventsPlanned int // the plan size ApplyFinOpsEvents applied (truthMu)

	kit   *simkit.Kit
	id    *identity.Platform
	graph *graphsim.Service
	envs  []http.Handler // the Dataverse environments', then the F&O environments'

	tls *identity.ServerTLS // nil: plain http

	mu             sync.Mutex
	srv            *http.Server
	extra          []*http.Server // the Dynamics environments' servers
	base           string
	dvURLs, foURLs []string
	done           chan struct{}
}

// New validates cfg and builds the tenant: users, licenses, subscriptions and signInActivity. Sign-ins are not
// stored; building walks them once (about 10 M a second) to make signInActivity agree with the log.
func New(cfg Config) (*Sim, error) {
	if err := cfg.validate(); err != nil {
		return nil, fmt.Errorf("simulator config: %w", err)
	}
	if cfg.Days == 0 {
		cfg.Days = 30
	}
	if cfg.Throttle == "" {
		cfg.Throttle = "off"
	}
	if cfg.TokenLifetime == 0 {
		cfg.TokenLifetime = time.Hour
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.FinOpsPageSize <= 0 {
		cfg.FinOpsPageSize = 10000
	}
	if cfg.TenantID == "" {
		cfg.TenantID = ids.GUID(ids.Hash(cfg.Seed, 1), ids.Hash(cfg.Seed, 2))
	}
	if cfg.ClientID == "" {
		cfg.ClientID = DefaultClientID
	}
	if cfg.ClientSecret == "" {
		cfg.ClientSecret = "sim~" + strconv.FormatUint(ids.Hash(cfg.Seed, 9), 36) + "." + strconv.FormatUint(ids.Hash(cfg.Seed, 10), 36)
	}
	s := &Sim{cfg: cfg, log: cfg.Logger, clock: time.Now}
	s.kit = simkit.NewKit(cfg.Seed, func() time.Time { return s.clock() }, cfg.Logger)
	s.m = model.New(model.Params{Seed: cfg.Seed, TenantID: cfg.TenantID, Users: cfg.Users, Days: cfg.Days, SignIns: cfg.SignIns,
		IdleShare: cfg.IdleShare, Premium: cfg.Premium, ConcealedNames: cfg.ConcealedNames, DataverseEnvs: cfg.DataverseEnvs,
		FinOpsEnvs: cfg.FinOpsEnvs, AuditsPerEnv: cfg.AuditsPerEnv, AuditingOff: cfg.AuditingOff,
		NoApplicationUser: cfg.NoApplicationUser, FinOpsMissingEntity: cfg.FinOpsMissingEntity, Now: cfg.Now()})
	if cfg.TLS {
		t, err := identity.NewServerTLS(time.Now())
		if err != nil {
			return nil, fmt.Errorf("simulator TLS: %w", err)
		}
		s.tls = t
	}
	s.id = identity.New(s.m, s.kit, identity.Options{ClientID: cfg.ClientID, ClientSecret: cfg.ClientSecret,
		ExpiredSecret: cfg.ExpiredSecret, ClientCertificate: cfg.ClientCertificate, TokenLifetime: cfg.TokenLifetime,
		GraphRoles: s.graphRoles(), Resources: s.resources})
	s.graph = graphsim.New(s.m, s.kit, s.id, graphsim.Options{Throttle: cfg.Throttle, ClientID: cfg.ClientID, Permissions: s.graphRoles()})
	// Every Dynamics environment is a host of its own (Start gives each a port), answering through one pipeline.
	dyn := &simkit.EnvServer{Kit: s.kit, Tokens: s.id, TenantID: cfg.TenantID, PageLatency: cfg.PageLatency}
	lim := dataversesim.LimitsOf(cfg.Throttle)
	if cfg.DataverseLimits != nil {
		lim = cfg.DataverseLimits
	}
	for e := range cfg.DataverseEnvs {
		s.envs = append(s.envs, dataversesim.New(s.m, e, dyn, lim))
	}
	for e := range cfg.FinOpsEnvs {
		s.envs = append(s.envs, finopssim.New(s.m, e, dyn, cfg.FinOpsPageSize, cfg.Throttle))
	}
	s.truth = truth.Of(s.m, s.groupsReadable())
	s.routes()
	s.log.Info("tenant simulated", "tenant_id", cfg.TenantID, "users", cfg.Users, "signins", s.truth.Tables["graph_signins"],
		"premium", cfg.Premium, "throttle", cfg.Throttle)
	return s, nil
}

// Credentials are the tenant id, client id and client secret the token endpoint accepts.
func (s *Sim) Credentials() (tenantID, clientID, clientSecret string) {
	return s.cfg.TenantID, s.cfg.ClientID, s.cfg.ClientSecret
}

// Banner is the line `seatlake sim` prints on start.
func (s *Sim) Banner() string {
	return "tenant_id=" + s.cfg.TenantID + " client_id=" + s.cfg.ClientID + " client_secret=" + s.cfg.ClientSecret
}

// Handler serves everything: the token endpoint, Graph under /v1.0 and the simulator's own /_sim endpoints.
// nextLinks and @odata.context point at the host the request was sent to.
func (s *Sim) Handler() http.Handler { return s.mux }

// Start listens on addr, which must be a loopback address ("127.0.0.1:0" picks a free port), and serves in the
// background until Close. It returns the base URL, e.g. http://127.0.0.1:41234.
//
// Each Dynamics environment gets a port of its own: with a fixed port P, the Dataverse environments take P+1, P+2…
// and the F&O environments the ports after them, so the same flags serve the same URLs on every start (a config
// file written once keeps working); with port 0 every port is picked free.
func (s *Sim) Start(addr string) (string, error) {
	host, portText, err := net.SplitHostPort(addr)
	if err != nil {
		return "", fmt.Errorf("simulator address %q: %w", addr, err)
	}
	port, err := strconv.Atoi(portText)
	if err != nil || port < 0 || port+s.cfg.DataverseEnvs+s.cfg.FinOpsEnvs > 65535 {
		return "", fmt.Errorf("simulator address %q: want a port from 0 to %d (the environments take the ports after it)", addr, 65535-s.cfg.DataverseEnvs-s.cfg.FinOpsEnvs)
	}
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return "", fmt.Errorf("simulator address %q: the simulator listens on loopback only (127.0.0.1, ::1, localhost)", addr)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.srv != nil {
		return "", errors.New("simulator already started")
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return "", fmt.Errorf("listening on %s: %w", addr, err)
	}
	// Every Dynamics environment has its own host, as at Microsoft: a port of its own on the same loopback address.
	var lns []net.Listener
	var urls []string
	for i := range s.cfg.DataverseEnvs + s.cfg.FinOpsEnvs {
		envPort := 0
		if port != 0 {
			envPort = port + 1 + i
		}
		l, err := net.Listen("tcp", net.JoinHostPort(host, strconv.Itoa(envPort)))
		if err != nil {
			ln.Close()
			for _, l := range lns {
				l.Close()
			}
			what := fmt.Sprintf("Dataverse environment %d", i+1)
			if i >= s.cfg.DataverseEnvs {
				what = fmt.Sprintf("F&O environment %d", i-s.cfg.DataverseEnvs+1)
			}
			if envPort != 0 {
				return "", fmt.Errorf("listening for %s on port %d (the environments take the %d ports after --addr's): %w; choose another --addr",
					what, envPort, s.cfg.DataverseEnvs+s.cfg.FinOpsEnvs, err)
			}
			return "", fmt.Errorf("listening for %s on %s: %w", what, host, err)
		}
		lns = append(lns, l)
	}
	scheme := "http://"
	if s.tls != nil {
		// HTTP/1.1 only, as the services answer this client: an HTTP/2 connection could not be reset by a fault.
		scheme = "https://"
		ln = tls.NewListener(ln, s.tls.Config())
		for i := range lns {
			lns[i] = tls.NewListener(lns[i], s.tls.Config())
		}
	}
	for _, l := range lns {
		urls = append(urls, scheme+l.Addr().String())
	}
	s.base = scheme + ln.Addr().String()
	s.dvURLs, s.foURLs = urls[:s.cfg.DataverseEnvs], urls[s.cfg.DataverseEnvs:]
	errLog := slog.NewLogLogger(s.log.Handler(), slog.LevelDebug)
	s.srv = &http.Server{Handler: s.mux, ReadHeaderTimeout: 10 * time.Second, ErrorLog: errLog}
	s.extra = nil
	for i := range lns {
		s.extra = append(s.extra, &http.Server{Handler: s.envs[i], ReadHeaderTimeout: 10 * time.Second, ErrorLog: errLog})
	}
	s.done = make(chan struct{})
	var wg sync.WaitGroup
	serve := func(srv *http.Server, l net.Listener) {
		defer wg.Done()
		if err := srv.Serve(l); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.log.Error("simulator stopped serving", "err", err)
		}
	}
	wg.Add(1 + len(lns))
	go serve(s.srv, ln)
	for i, l := range lns {
		go serve(s.extra[i], l)
	}
	go func() {
		wg.Wait()
		close(s.done)
	}()
	s.log.Info("simulator listening", "url", s.base, "dataverse", s.dvURLs, "finops", s.foURLs)
	return s.base, nil
}

// DataverseURLs are the started Dataverse environments' URLs (the environment URL: the Web API is under
// /api/data/v9.2/ and the token scope is the URL + /.default).
func (s *Sim) DataverseURLs() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.dvURLs...)
}

// FinOpsURLs are the started F&O environments' URLs (OData under /data/).
func (s *Sim) FinOpsURLs() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.foURLs...)
}

// URLLines are the lines `seatlake sim` prints after the credentials: one per environment.
func (s *Sim) URLLines() []string {
	var out []string
	for _, u := range s.DataverseURLs() {
		out = append(out, "dataverse_url="+u)
	}
	for _, u := range s.FinOpsURLs() {
		out = append(out, "finops_url="+u)
	}
	return out
}

// Close stops serving: it waits up to two seconds for requests in flight, then closes every connection.
func (s *Sim) Close() error {
	s.mu.Lock()
	srv, extra, done := s.srv, s.extra, s.done
	s.mu.Unlock()
	if srv == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	var err error
	for _, sv := range append([]*http.Server{srv}, extra...) {
		if e := sv.Shutdown(ctx); e != nil {
			if e = sv.Close(); e != nil && err == nil {
				err = e
			}
		}
	}
	<-done
	if err != nil {
		return fmt.Errorf("closing the simulator: %w", err)
	}
	return nil
}

// resources are the URLs tokens can be issued for: where the simulator listens ("" and none before Start).
func (s *Sim) resources() (base string, dataverse, finops []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.base, s.dvURLs, s.foURLs
}

func (s *Sim) routes() {
	s.mux = http.NewServeMux()
	s.id.Register(s.mux, s.graph.Unauthenticated)
	s.mux.HandleFunc("GET /_sim/truth", func(w http.ResponseWriter, r *http.Request) { simkit.WriteJSON(w, http.StatusOK, s.Truth()) })
	s.mux.HandleFunc("POST /_sim/finops-events/apply", eventsApplyHandler(s))
	s.mux.HandleFunc("POST /_sim/users/{id}/sign-in", func(w http.ResponseWriter, r *http.Request) {
		if !s.SignInNow(r.PathValue("id")) {
			http.NotFound(w, r)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
	s.mux.HandleFunc("GET /_sim/stats", func(w http.ResponseWriter, r *http.Request) { simkit.WriteJSON(w, http.StatusOK, s.Stats()) })
	s.mux.HandleFunc("POST /_sim/faults", s.postFault)
	s.mux.HandleFunc("DELETE /_sim/faults", func(w http.ResponseWriter, r *http.Request) {
		s.ClearFaults()
		w.WriteHeader(http.StatusNoContent)
	})
	// Graph under /v1.0/, and Graph's 404 for anything else.
	s.mux.Handle("/", s.graph.Handler())
}

// CAPEM is the PEM of the certificate authority a TLS simulator's certificates chain to (nil without TLS).
func (s *Sim) CAPEM() []byte {
	if s.tls == nil {
		return nil
	}
	return s.tls.CAPEM()
}

// CertPool is a pool holding only the simulator's CA, for clients in the same process (nil without TLS).
func (s *Sim) CertPool() *x509.CertPool {
	if s.tls == nil {
		return nil
	}
	p := x509.NewCertPool()
	p.AppendCertsFromPEM(s.tls.CAPEM())
	return p
}

// NewClientCertificate generates a self-signed certificate and its key, as `New-SelfSignedCertificate` or openssl
// would for an app registration, and returns both PEM-encoded (certificate, then PKCS#8 private key) with the
// certificate: what a test or `seatlake sim --client-certificate-out` hands to the client.
func NewClientCertificate(cn string, notAfter time.Time) ([]byte, *x509.Certificate, error) {
	return identity.NewClientCertificate(cn, notAfter)
}

// DataverseLimits are the service protection limits of one environment, per application user ("Service protection
// API limits").
type DataverseLimits = dataversesim.Limits

// dataverseHandler is Dataverse environment e's handler (Start serves it on the environment's port).
func (s *Sim) dataverseHandler(e int) http.Handler { return s.envs[e] }
