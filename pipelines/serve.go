package pipelines

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/seatlake/seatlake/load/warehouse"
)

// ServeConfig is the business events receiver as a service (`seatlake events serve`): the receiver, the tenants
// whose F&O environments it receives for, and where and how it listens.
type ServeConfig struct {
	// Events configures the receiver. Its Envs are left empty: they are the F&O environments of Tenants that have a
	// callback secret. Refresh nil is the refresh-user action of a run reading only F&O (RefreshUsers).
	Events     EventsConfig
	Tenants    []Config
	SecretFile string // the one environment's secret, instead of <Events.Dir>/secrets/<name>.secret
	Listen     string // host:port
	// TLSCert and TLSKey serve HTTPS; without them, plain HTTP behind a TLS-terminating reverse proxy.
	TLSCert, TLSKey string
	PublicURL       string // the receiver's URL as F&O reaches it; default: the listen address
}

// ServeEvents runs the receiver until ctx is cancelled (SIGTERM): it listens, writes one line per environment to
// out when ready (serving environment=… receiver_url=… finops_url=… secret_file=…, never the secret: stdout goes
// to the service's journal at every start), commits what is journaled on the way out, and returns the counters.
// A configuration to fix wraps ErrInvalidConfig.
func ServeEvents(ctx context.Context, cfg ServeConfig, out io.Writer) (EventsStats, error) {
	if cfg.Events.Logger == nil {
		cfg.Events.Logger = slog.New(slog.DiscardHandler)
	}
	envs, err := eventsEnvs(cfg)
	if err != nil {
		return EventsStats{}, invalid(err)
	}
	cfg.Events.Envs = envs
	if cfg.Events.Refresh == nil {
		cfg.Events.Refresh = RefreshUsers(cfg.Events.Warehouse)
	}
	rcv, err := NewReceiver(ctx, cfg.Events)
	if err != nil {
		return EventsStats{}, err
	}
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return EventsStats{}, err
	}
	srv := &http.Server{Handler: rcv, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: time.Minute, WriteTimeout: time.Minute}
	public := PublicURL(cfg.PublicURL, ln.Addr().String(), cfg.TLSCert != "")
	for _, e := range envs {
		fmt.Fprintf(out, "serving environment=%s receiver_url=%s finops_url=%s secret_file=%s\n", e.Name, public, e.URL, e.SecretFile)
	}
	rctx, cancel := context.WithCancel(ctx)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- rcv.Run(rctx) }()
	serveErr := make(chan error, 1)
	go func() {
		if cfg.TLSCert != "" {
			serveErr <- srv.ServeTLS(ln, cfg.TLSCert, cfg.TLSKey)
		} else {
			serveErr <- srv.Serve(ln)
		}
	}()
	select {
	case <-ctx.Done(): // SIGTERM or SIGINT: stop taking events, commit what is journaled, return
	case err := <-serveErr:
		cancel()
		<-done
		return rcv.Stats(), err
	}
	sctx, scancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	srv.Shutdown(sctx)
	scancel()
	cancel()
	if err := <-done; err != nil {
		return rcv.Stats(), fmt.Errorf("the last commit: %w (the events stay journaled for the next start)", err)
	}
	return rcv.Stats(), nil
}

// PublicURL is the receiver's base URL as F&O reaches it: public when given, else the listen address (https with
// a certificate).
func PublicURL(public, addr string, tls bool) string {
	if public != "" {
		return strings.TrimRight(public, "/")
	}
	if tls {
		return "https://" + addr
	}
	return "http://" + addr
}

// eventsEnvs are the receiver's environments: every F&O environment of the tenants, each with its secret file. An
// environment without a callback secret yet is left out with a warning naming the command that makes one (the
// others receive their events meanwhile); with none left, serving would be pointless: an error. A tenant whose
// credential cannot be read still has its events received; only its refresh-user fails, and it is warned of.
func eventsEnvs(cfg ServeConfig) ([]EventsEnv, error) {
	log := cfg.Events.Logger
	var envs []EventsEnv
	for i := range cfg.Tenants {
		t := &cfg.Tenants[i]
		if t.SetupErr != nil && len(t.finOpsURLs()) > 0 {
			log.Warn("events are received, but refresh-user cannot re-read the tenant's F&O users until its credential is fixed",
				"tenant", t.Name, "problem", t.SetupErr.Error())
		}
		for _, u := range t.finOpsURLs() {
			envs = append(envs, EventsEnv{Name: EventsEnvName(u), URL: u, Tenant: t, SecretFile: SecretPathIn(cfg.Events.Dir, EventsEnvName(u))})
		}
	}
	if len(envs) == 0 {
		return nil, errors.New("no F&O environment: give --finops-url, or tenants with finops in the config file")
	}
	if cfg.SecretFile != "" {
		if len(envs) != 1 {
			return nil, errors.New("--secret-file is for one environment; with several, each has its own under <events-dir>/secrets")
		}
		envs[0].SecretFile = cfg.SecretFile
	}
	var ready []EventsEnv
	var missing []string
	for _, e := range envs {
		if _, err := os.Stat(e.SecretFile); err != nil {
			missing = append(missing, e.Name)
			log.Warn("no callback secret for this F&O environment yet: its events are not received until one is made",
				"environment", e.Name, "secret_file", e.SecretFile, "fix", "seatlake events new-endpoint --finops "+e.Name)
			continue
		}
		ready = append(ready, e)
	}
	if len(ready) == 0 {
		return nil, fmt.Errorf("no F&O environment has a callback secret yet (%s): run `seatlake events new-endpoint --finops %s`",
			strings.Join(missing, ", "), missing[0])
	}
	return ready, nil
}

// RefreshUsers is the refresh-user action over the warehouse wh: a run of the environment's tenant reading only F&O,
// marts recomputed.
func RefreshUsers(wh string) func(ctx context.Context, env EventsEnv, users []string) error {
	return func(ctx context.Context, env EventsEnv, users []string) error {
		cfg := *env.Tenant
		if cfg.SetupErr != nil {
			return fmt.Errorf("tenant %s: %w", cfg.Name, cfg.SetupErr)
		}
		cfg.Only, cfg.Warehouse, cfg.Quiet = []string{"finops"}, wh, true
		sum, err := Run(ctx, cfg)
		if err != nil {
			return err
		}
		cfg.Logger.Info("refreshed F&O users after business events", "environment", env.Name, "users", len(users), "run_id", sum.RunID)
		return nil
	}
}

// EndpointConfig is an F&O environment's business events endpoint to make (or rotate).
type EndpointConfig struct {
	FinOps     []string // the F&O environments' URLs that may be named
	Name       string   // the environment's name (EventsEnvName); empty picks the only one
	Dir        string   // the receiver's folder (EventsConfig.Dir)
	SecretFile string   // where to write the secret, instead of SecretPathIn(Dir, Name)
	PublicURL  string   // the receiver's base URL as F&O reaches it (PublicURL)
}

// Endpoint is a callback endpoint made: the URL to register in F&O (it holds the secret) and where the secret is.
type Endpoint struct {
	Name, CallbackURL, SecretFile string
}

// NewEndpoint writes a new random callback secret for the environment (replacing the old one: its URL is refused
// from then on) and returns the callback URL. An environment that is not one of FinOps wraps ErrInvalidConfig.
func NewEndpoint(cfg EndpointConfig) (Endpoint, error) {
	names := map[string]bool{}
	for _, u := range cfg.FinOps {
		names[EventsEnvName(u)] = true
	}
	name := cfg.Name
	if name == "" && len(names) == 1 {
		for n := range names {
			name = n
		}
	}
	if !names[name] {
		known := make([]string, 0, len(names))
		for n := range names {
			known = append(known, n)
		}
		slices.Sort(known)
		return Endpoint{}, invalid(fmt.Errorf("--finops %q: no such F&O environment (configured: %s)", name, strings.Join(known, ", ")))
	}
	path := cmp.Or(cfg.SecretFile, SecretPathIn(cfg.Dir, name))
	b := make([]byte, 32)
	rand.Read(b)
	secret := hex.EncodeToString(b)
	if err := os.MkdirAll(filepath.Dir(path), warehouse.DirMode); err != nil {
		return Endpoint{}, err
	}
	if err := warehouse.WriteAtomic(path, func(w io.Writer) error { _, err := io.WriteString(w, secret+"\n"); return err }); err != nil {
		return Endpoint{}, fmt.Errorf("writing the secret: %w", err)
	}
	if err := os.Chmod(path, 0o600); err != nil {
		return Endpoint{}, err
	}
	return Endpoint{Name: name, CallbackURL: cfg.PublicURL + CallbackPath(name, secret), SecretFile: path}, nil
}
