package main

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

	"github.com/urfave/cli/v2"

	"github.com/seatlake/seatlake/load/warehouse"
	"github.com/seatlake/seatlake/pipelines"
)

// eventsFlags are the receiver's own flags (also keys of the config file's events section).
func eventsFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "listen", Value: "127.0.0.1:8443", Usage: "address to listen on"},
		&cli.StringFlag{Name: "tls-cert", Usage: "serve HTTPS with this certificate (PEM); without it, plain HTTP behind a TLS-terminating reverse proxy"},
		&cli.StringFlag{Name: "tls-key", Usage: "the certificate's private key (PEM)"},
		&cli.StringFlag{Name: "public-url", Usage: "the receiver's URL as F&O reaches it (https://seatlake.contoso.com behind a proxy); default: the listen address"},
		eventsDirFlag(),
		&cli.StringFlag{Name: "secret-file", Usage: "the callback secret of the one environment (default: <events-dir>/secrets/<name>.secret)"},
		&cli.DurationFlag{Name: "commit-interval", Value: 30 * time.Second, Usage: "commit journaled events to the warehouse this often"},
		&cli.IntFlag{Name: "commit-events", Value: 1000, Usage: "or as soon as this many events are journaled"},
		&cli.Int64Flag{Name: "max-body", Value: 1 << 20, Usage: "largest event body accepted, in bytes"},
		&cli.BoolFlag{Name: "group-commit", Value: true, Usage: "events arriving together share one fsync (false: one fsync per event)"},
	}
}

func eventsCommand() *cli.Command {
	var fcServe, fcNew *fileConfig
	return &cli.Command{
		Name:  "events",
		Usage: "receive Finance and Operations business events between nightly runs",
		Subcommands: []*cli.Command{{
			Name:   "serve",
			Usage:  "the business events endpoint: journal, commit to finops_business_events, route (refresh-user, log)",
			Before: loadConfigFile(&fcServe),
			Description: "One callback path per F&O environment (/finops/events/<name>/<secret>), registered in F&O as an HTTPS business\n" +
				"event endpoint. Each distinct event is appended and fsynced to a journal before the 2xx; F&O's retries land once.\n" +
				"Journaled events are committed to finops_business_events every --commit-interval or --commit-events, and on\n" +
				"SIGTERM. Routes (the config file's events.routes) run refresh-user (an intraday re-read of the environment's F&O\n" +
				"users and roles, marts recomputed, with the config file's run settings) and log. Prints serving environment=…\n" +
				"receiver_url=… per environment when ready, without the secret: `seatlake events new-endpoint` prints the callback URL.",
			// The run settings of the config file apply to refresh-user's runs; they are not the receiver's flags.
			Flags: func() []cli.Flag {
				own := append(append(signInFlags(), runFlag("finops-url")), eventsFlags()...)
				return append(own, hidden(runFlagsBut(own)...)...)
			}(),
			Action: func(c *cli.Context) error {
				log, err := newLogger(c)
				if err != nil {
					return err
				}
				if fcServe != nil {
					for _, w := range fcServe.warnings {
						log.Warn("a key of the config file under its older name", "fix", w)
					}
				}
				if (c.String("tls-cert") == "") != (c.String("tls-key") == "") {
					return &exitError{code: exitUsage, err: errors.New("events serve: give both --tls-cert and --tls-key, or neither")}
				}
				base := pipelines.Config{Warehouse: c.String("warehouse"), Logger: log, Quiet: true}
				if err := applyTuning(c, &base); err != nil {
					return err
				}
				if base.Rules, base.AsOf, err = martRules(c, fcServe); err != nil {
					return err
				}
				cfgs, err := tenantConfigs(c, fcServe, base, false, log)
				if err != nil {
					return &exitError{code: exitUsage, err: err}
				}
				envs, err := eventsEnvs(c, cfgs, log)
				if err != nil {
					return err
				}
				var routes []pipelines.Route
				if fcServe != nil {
					routes = fcServe.routes
				}
				rcv, err := pipelines.NewReceiver(c.Context, pipelines.EventsConfig{Warehouse: c.String("warehouse"), Dir: eventsDir(c), Envs: envs, Routes: routes,
					GroupCommit: c.Bool("group-commit"), CommitEvery: c.Duration("commit-interval"), CommitEvents: c.Int("commit-events"),
					MaxBody: c.Int64("max-body"), Logger: log, Refresh: refreshUsers(c.String("warehouse"))})
				if err != nil {
					if errors.Is(err, pipelines.ErrInvalidConfig) {
						return &exitError{code: exitUsage, err: fmt.Errorf("events serve: %w", err)}
					}
					return &exitError{code: exitFailed, err: fmt.Errorf("events serve: %w", err)}
				}
				ln, err := net.Listen("tcp", c.String("listen"))
				if err != nil {
					return &exitError{code: exitFailed, err: fmt.Errorf("events serve: %w", err)}
				}
				srv := &http.Server{Handler: rcv, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: time.Minute, WriteTimeout: time.Minute}
				// The callback URL holds the environment's secret: it is printed by new-endpoint only, never here,
				// where stdout goes to the service's journal at every start.
				public := publicURL(c, ln.Addr().String())
				for _, e := range envs {
					fmt.Fprintf(c.App.Writer, "serving environment=%s receiver_url=%s finops_url=%s secret_file=%s\n", e.Name, public, e.URL, e.SecretFile)
				}
				ctx, cancel := context.WithCancel(c.Context)
				defer cancel()
				done := make(chan error, 1)
				go func() { done <- rcv.Run(ctx) }()
				serveErr := make(chan error, 1)
				go func() {
					if c.String("tls-cert") != "" {
						serveErr <- srv.ServeTLS(ln, c.String("tls-cert"), c.String("tls-key"))
					} else {
						serveErr <- srv.Serve(ln)
					}
				}()
				select {
				case <-c.Context.Done(): // SIGTERM or SIGINT: stop taking events, commit what is journaled, exit
				case err := <-serveErr:
					cancel()
					<-done
					return &exitError{code: exitFailed, err: fmt.Errorf("events serve: %w", err)}
				}
				sctx, scancel := context.WithTimeout(context.WithoutCancel(c.Context), 10*time.Second)
				srv.Shutdown(sctx)
				scancel()
				cancel()
				if err := <-done; err != nil {
					return &exitError{code: exitFailed, err: fmt.Errorf("events serve: the last commit: %w (the events stay journaled for the next start)", err)}
				}
				st := rcv.Stats()
				fmt.Fprintf(c.App.Writer, "events accepted=%d duplicates=%d malformed=%d unauthorized=%d too_large=%d wrong_type=%d committed=%d journaled=%d\n",
					st.Accepted, st.Duplicates, st.Malformed, st.Unauthorized, st.TooLarge, st.WrongType, st.Committed, st.Journaled)
				return nil
			},
		}, {
			Name:   "new-endpoint",
			Usage:  "make (or rotate) an environment's callback secret and print the URL to register in F&O",
			Before: loadConfigFile(&fcNew),
			Description: "Writes a new random secret for the F&O environment NAME (the first label of its host, as `events serve` prints)\n" +
				"and prints callback_url=…: register it in F&O under System administration > Setup > Business events >\n" +
				"Endpoints > New > HTTPS. Running it again rotates the secret: the old URL is refused (401) from then on.",
			Flags: []cli.Flag{warehouseFlag(), eventsDirFlag(), configFlag(), tenantFlag(),
				&cli.StringFlag{Name: "finops", Usage: "the environment's name"},
				&cli.StringSliceFlag{Name: "finops-url", Usage: "the environment's URL, without a config file", EnvVars: []string{"SEATLAKE_FINOPS_URL"}},
				&cli.StringFlag{Name: "secret-file", Usage: "where to write the secret (default: <events-dir>/secrets/<name>.secret)"},
				&cli.StringFlag{Name: "public-url", Usage: "the receiver's URL as F&O reaches it"},
				&cli.StringFlag{Name: "listen", Value: "127.0.0.1:8443", Usage: "the receiver's listen address (for the URL without --public-url)"},
			},
			Action: func(c *cli.Context) error {
				names := map[string]string{}
				for _, u := range c.StringSlice("finops-url") {
					names[pipelines.EventsEnvName(u)] = u
				}
				if fcNew != nil {
					picked, _, err := pickTenants(fileTenants(fcNew), c.StringSlice("tenant"), "the config file")
					if err != nil {
						return &exitError{code: exitUsage, err: fmt.Errorf("events new-endpoint: %w", err)}
					}
					for _, t := range fcNew.tenants {
						if !slices.Contains(picked, pipelines.TenantRef{Name: t.Name, ID: t.TenantID}) {
							continue
						}
						for _, u := range t.FinOps {
							names[pipelines.EventsEnvName(u)] = u
						}
					}
				}
				name := c.String("finops")
				if name == "" && len(names) == 1 {
					for n := range names {
						name = n
					}
				}
				if _, ok := names[name]; !ok {
					var known []string
					for n := range names {
						known = append(known, n)
					}
					slices.Sort(known)
					return &exitError{code: exitUsage, err: fmt.Errorf("events new-endpoint: --finops %q: no such F&O environment (configured: %s)", name, strings.Join(known, ", "))}
				}
				path := cmp.Or(c.String("secret-file"), pipelines.SecretPathIn(eventsDir(c), name))
				b := make([]byte, 32)
				rand.Read(b)
				secret := hex.EncodeToString(b)
				if err := os.MkdirAll(filepath.Dir(path), warehouse.DirMode); err != nil {
					return &exitError{code: exitFailed, err: err}
				}
				if err := warehouse.WriteAtomic(path, func(w io.Writer) error { _, err := io.WriteString(w, secret+"\n"); return err }); err != nil {
					return &exitError{code: exitFailed, err: fmt.Errorf("writing the secret: %w", err)}
				}
				if err := os.Chmod(path, 0o600); err != nil {
					return &exitError{code: exitFailed, err: err}
				}
				fmt.Fprintf(c.App.Writer, "callback_url=%s%s environment=%s secret_file=%s\n", publicURL(c, c.String("listen")), pipelines.CallbackPath(name, secret), name, path)
				return nil
			},
		}},
	}
}

// publicURL is the receiver's base URL as F&O reaches it.
func publicURL(c *cli.Context, addr string) string {
	if u := c.String("public-url"); u != "" {
		return strings.TrimRight(u, "/")
	}
	scheme := "http"
	if c.String("tls-cert") != "" {
		scheme = "https"
	}
	return scheme + "://" + addr
}

// eventsEnvs are the receiver's environments: every F&O environment of the tenants picked, each with its secret
// file. An environment without a callback secret yet is left out with a warning naming the command that makes one
// (the others receive their events meanwhile); with none left, serving would be pointless: a usage error. A tenant
// whose credential cannot be read still has its events received; only its refresh-user fails, and it is warned of.
func eventsEnvs(c *cli.Context, cfgs []pipelines.Config, log *slog.Logger) ([]pipelines.EventsEnv, error) {
	var envs []pipelines.EventsEnv
	for i := range cfgs {
		if cfgs[i].SetupErr != nil && len(cfgs[i].FinOps) > 0 {
			log.Warn("events are received, but refresh-user cannot re-read the tenant's F&O users until its credential is fixed",
				"tenant", cfgs[i].Name, "problem", cfgs[i].SetupErr.Error())
		}
		for _, u := range cfgs[i].FinOps {
			envs = append(envs, pipelines.EventsEnv{Name: pipelines.EventsEnvName(u), URL: u, Tenant: &cfgs[i],
				SecretFile: pipelines.SecretPathIn(eventsDir(c), pipelines.EventsEnvName(u))})
		}
	}
	if len(envs) == 0 {
		return nil, &exitError{code: exitUsage, err: errors.New("events serve: no F&O environment: give --finops-url, or tenants with finops in the config file")}
	}
	if f := c.String("secret-file"); f != "" {
		if len(envs) != 1 {
			return nil, &exitError{code: exitUsage, err: errors.New("events serve: --secret-file is for one environment; with several, each has its own under <events-dir>/secrets")}
		}
		envs[0].SecretFile = f
	}
	var ready []pipelines.EventsEnv
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
		return nil, &exitError{code: exitUsage, err: fmt.Errorf("events serve: no F&O environment has a callback secret yet (%s): run `seatlake events new-endpoint --finops %s`",
			strings.Join(missing, ", "), missing[0])}
	}
	return ready, nil
}

// refreshUsers is the refresh-user action: an F&O-only run of the environment's tenant, marts recomputed.
func refreshUsers(wh string) func(ctx context.Context, env pipelines.EventsEnv, users []string) error {
	return func(ctx context.Context, env pipelines.EventsEnv, users []string) error {
		cfg := *env.Tenant
		if cfg.SetupErr != nil {
			return fmt.Errorf("tenant %s: %w", cfg.Name, cfg.SetupErr)
		}
		cfg.FinOpsOnly, cfg.Warehouse, cfg.Quiet = true, wh, true
		sum, err := pipelines.Run(ctx, cfg)
		if err != nil {
			return err
		}
		cfg.Logger.Info("refreshed F&O users after business events", "environment", env.Name, "users", len(users), "run_id", sum.RunID)
		return nil
	}
}
