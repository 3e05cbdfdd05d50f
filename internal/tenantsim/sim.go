package tenantsim

import (
	"crypto/x509"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/seatlake/seatlake/internal/tenantsim/dataversesim"
	"github.com/seatlake/seatlake/internal/tenantsim/finopssim"
	"github.com/seatlake/seatlake/internal/tenantsim/graphsim"
	"github.com/seatlake/seatlake/internal/tenantsim/identity"
	"github.com/seatlake/seatlake/internal/tenantsim/model"
	"github.com/seatlake/seatlake/internal/tenantsim/simkit"
	"github.com/seatlake/seatlake/internal/tenantsim/truth"
)

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
// stored; building walks them once to make signInActivity agree with the log (the cost is in doc.go).
func New(cfg Config) (*Sim, error) {
	if err := cfg.validate(); err != nil {
		return nil, fmt.Errorf("simulator config: %w", err)
	}
	cfg.setDefaults()
	s := &Sim{cfg: cfg, log: cfg.Logger, clock: time.Now}
	s.kit = simkit.NewKit(cfg.Seed, func() time.Time { return s.clock() }, cfg.Logger)
	s.m = model.New(cfg.tenant())
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

// dataverseHandler is Dataverse environment e's handler (Start serves it on the environment's port).
func (s *Sim) dataverseHandler(e int) http.Handler { return s.envs[e] }
