package tenantsim

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// Config describes the simulated tenant and how the services behave.
type Config struct {
	Seed           int64
	Users          int
	Days           int     // days of sign-in history, today included
	SignIns        int64   // sign-ins in the history; 0 = about two per active user and day
	IdleShare      float64 // share of users whose last sign-in is months old
	Premium        bool    // Entra ID P1: off => signInActivity and sign-in logs answer 403
	ConcealedNames bool    // reportSettings.displayConcealedNames
	Throttle       string  // "realistic", "scaled" or "off"
	TokenLifetime  time.Duration
	ExpiredSecret  bool // the token endpoint answers AADSTS7000222

	TenantID, ClientID, ClientSecret string // defaults derived from Seed

	Now    func() time.Time // the anchor clock: the newest sign-in is at Now() at New
	Logger *slog.Logger
}

// DefaultConfig is a 2,000-user tenant with 30 days of history, P1, concealed report names and no throttling.
func DefaultConfig() Config {
	return Config{Seed: 1, Users: 2000, Days: 30, IdleShare: 0.2, Premium: true, ConcealedNames: true, Throttle: "off", TokenLifetime: time.Hour}
}

const defaultClientID = "5f3a8e2c-1b7d-4c9e-a6f0-3d2b1c0e9a87"

// Truth is what a default run against the simulator must load.
type Truth struct {
	TenantID       string           `json:"tenant_id"`
	Tables         map[string]int64 `json:"tables"`
	SignInsFrom    time.Time        `json:"signins_from"`
	SignInsTo      time.Time        `json:"signins_to"`
	Premium        bool             `json:"premium"`
	ConcealedNames bool             `json:"concealed_names"`
	Users          struct {
		Active, Idle, Never, Disabled, Guests int
	} `json:"users"`
}

// Stats counts what the simulator served.
type Stats struct {
	Requests  map[string]int64 `json:"requests"`  // by path family
	Throttled map[string]int64 `json:"throttled"` // 429s sent, by path family
	Tokens    int64            `json:"tokens"`    // tokens issued
}

// Sim is a running simulated tenant.
type Sim struct {
	cfg   Config
	m     *model
	log   *slog.Logger
	mux   *http.ServeMux
	base  atomic.Value // string: the URL nextLinks point at
	srv   *http.Server
	ln    net.Listener
	limit *limits

	tokMu    sync.Mutex
	tokens   map[string]issued
	tokenGen int64
	minGen   int64
	issuedN  atomic.Int64

	faultMu sync.Mutex
	faults  []*Fault

	statMu    sync.Mutex
	requests  map[string]int64
	throttled map[string]int64
}

type issued struct {
	resource string
	expires  time.Time
	gen      int64
}

// New builds the tenant model (users, SKUs, signInActivity); sign-ins are generated per request.
func New(cfg Config) (*Sim, error) {
	if cfg.Users < 1 || cfg.Users > 5_000_000 {
		return nil, fmt.Errorf("users %d: want 1..5,000,000", cfg.Users)
	}
	if cfg.Days < 1 || cfg.Days > 365 {
		return nil, fmt.Errorf("days %d: want 1..365", cfg.Days)
	}
	if cfg.SignIns < 0 {
		return nil, fmt.Errorf("signins %d: want >= 0", cfg.SignIns)
	}
	if cfg.IdleShare < 0 || cfg.IdleShare > 0.9 {
		return nil, fmt.Errorf("idle share %.2f: want 0..0.9", cfg.IdleShare)
	}
	switch cfg.Throttle {
	case "":
		cfg.Throttle = "off"
	case "realistic", "scaled", "off":
	default:
		return nil, fmt.Errorf("throttle %q: want realistic, scaled or off", cfg.Throttle)
	}
	if cfg.TokenLifetime <= 0 {
		cfg.TokenLifetime = time.Hour
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.ClientID == "" {
		cfg.ClientID = defaultClientID
	}
	if cfg.ClientSecret == "" {
		cfg.ClientSecret = fmt.Sprintf("sim~%016x", hash(cfg.Seed, 9))
	}
	s := &Sim{
		cfg: cfg, log: cfg.Logger, m: newModel(cfg), tokens: map[string]issued{},
		requests: map[string]int64{}, throttled: map[string]int64{},
	}
	if cfg.TenantID == "" {
		s.cfg.TenantID = s.m.tenantID
	}
	s.limit = newLimits(cfg.Throttle, cfg.Now)
	s.base.Store("http://127.0.0.1")
	s.routes()
	return s, nil
}

// Credentials are the tenant id, client id and secret the token endpoint accepts.
func (s *Sim) Credentials() (tenantID, clientID, clientSecret string) {
	return s.cfg.TenantID, s.cfg.ClientID, s.cfg.ClientSecret
}

// Banner is the line `seatlake sim` prints on start.
func (s *Sim) Banner() string {
	return fmt.Sprintf("tenant_id=%s client_id=%s client_secret=%s", s.cfg.TenantID, s.cfg.ClientID, s.cfg.ClientSecret)
}

// Handler serves the simulator; nextLinks point at the base URL given to Start (or http://127.0.0.1).
func (s *Sim) Handler() http.Handler { return s.mux }

// Start listens on addr, which must be a loopback address, and serves in the background.
func (s *Sim) Start(addr string) (string, error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return "", fmt.Errorf("address %q: %w", addr, err)
	}
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return "", fmt.Errorf("address %q: the simulator listens on loopback only (127.0.0.1, ::1, localhost)", addr)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return "", fmt.Errorf("listening on %s: %w", addr, err)
	}
	s.ln = ln
	base := "http://" + ln.Addr().String()
	s.base.Store(base)
	s.srv = &http.Server{Handler: s.mux, ReadHeaderTimeout: 10 * time.Second}
	go s.srv.Serve(ln)
	return base, nil
}

// Close stops the server.
func (s *Sim) Close() error {
	if s.srv == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := s.srv.Shutdown(ctx); err != nil {
		return s.srv.Close()
	}
	return nil
}

func (s *Sim) baseURL() string { return s.base.Load().(string) }

// Truth returns what a default run must load.
func (s *Sim) Truth() Truth {
	m := s.m
	t := Truth{TenantID: s.cfg.TenantID, Premium: s.cfg.Premium, ConcealedNames: s.cfg.ConcealedNames,
		SignInsFrom: time.UnixMicro(m.servedFrom).UTC(), SignInsTo: time.UnixMicro(m.anchor).UTC()}
	signIns := int64(0)
	if s.cfg.Premium {
		signIns = m.countRange(m.servedFrom, m.anchor)
	}
	t.Tables = map[string]int64{
		"graph_users":           int64(len(m.users)),
		"graph_user_licenses":   m.licenses,
		"graph_subscribed_skus": int64(len(m.skus)),
		"graph_signins":         signIns,
		"graph_report_settings": 1,
	}
	for _, u := range m.users {
		switch u.act {
		case active:
			t.Users.Active++
		case idle:
			t.Users.Idle++
		default:
			t.Users.Never++
		}
		if !u.enabled {
			t.Users.Disabled++
		}
		if u.guest {
			t.Users.Guests++
		}
	}
	return t
}

// Stats returns request and throttling counts.
func (s *Sim) Stats() Stats {
	s.statMu.Lock()
	defer s.statMu.Unlock()
	st := Stats{Requests: map[string]int64{}, Throttled: map[string]int64{}, Tokens: s.issuedN.Load()}
	for k, v := range s.requests {
		st.Requests[k] = v
	}
	for k, v := range s.throttled {
		st.Throttled[k] = v
	}
	return st
}

func (s *Sim) count(family string, throttled bool) {
	s.statMu.Lock()
	defer s.statMu.Unlock()
	s.requests[family]++
	if throttled {
		s.throttled[family]++
	}
}

func (s *Sim) routes() {
	s.mux = http.NewServeMux()
	s.mux.HandleFunc("POST /{tenant}/oauth2/v2.0/token", s.token)
	s.mux.HandleFunc("GET /v1.0/users", s.graph("users", s.users))
	s.mux.HandleFunc("GET /v1.0/subscribedSkus", s.graph("subscribedSkus", s.subscribedSkus))
	s.mux.HandleFunc("GET /v1.0/auditLogs/signIns", s.graph("signIns", s.signIns))
	s.mux.HandleFunc("GET /v1.0/admin/reportSettings", s.graph("reportSettings", s.reportSettings))
	s.mux.HandleFunc("GET /_sim/truth", func(w http.ResponseWriter, r *http.Request) { writeJSON(w, http.StatusOK, s.Truth()) })
	s.mux.HandleFunc("GET /_sim/stats", func(w http.ResponseWriter, r *http.Request) { writeJSON(w, http.StatusOK, s.Stats()) })
	s.mux.HandleFunc("POST /_sim/faults", func(w http.ResponseWriter, r *http.Request) {
		var f Fault
		if err := json.NewDecoder(r.Body).Decode(&f); err != nil || f.Count < 1 || !f.Kind.valid() {
			http.Error(w, `{"error":"want {\"path\":\"/v1.0/...\",\"kind\":\"Status503\",\"count\":1,\"delay\":\"1s\"}"}`, http.StatusBadRequest)
			return
		}
		s.InjectFault(f)
		w.WriteHeader(http.StatusNoContent)
	})
	s.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		graphError(w, http.StatusNotFound, "Request_ResourceNotFound", "Resource '"+r.URL.Path+"' does not exist or one of its queried reference-property objects are not present.")
	})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

// graphError writes Graph's error body.
func graphError(w http.ResponseWriter, status int, code, message string) {
	now := time.Now().UTC()
	id := guid(uint64(now.UnixNano()), mix(uint64(now.UnixNano())))
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("request-id", id)
	w.WriteHeader(status)
	fmt.Fprintf(w, `{"error":{"code":%q,"message":%q,"innerError":{"date":%q,"request-id":%q,"client-request-id":%q}}}`,
		code, message, now.Format("2006-01-02T15:04:05"), id, id)
}

var errBadQuery = errors.New("bad query")
