package main

import (
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/urfave/cli/v2"

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
			Action: func(c *cli.Context) error { return eventsServe(c, fcServe) },
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
			Action: func(c *cli.Context) error { return newEndpoint(c, fcNew) },
		}},
	}
}

// eventsServe is `seatlake events serve`: the receiver's settings from the flags and the config file, served by
// pipelines.ServeEvents until SIGTERM; then its counters.
func eventsServe(c *cli.Context, fc *fileConfig) error {
	log, err := newLogger(c)
	if err != nil {
		return err
	}
	if fc != nil {
		for _, w := range fc.warnings {
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
	if base.Rules, base.AsOf, err = martRules(c, fc); err != nil {
		return err
	}
	cfgs, err := tenantConfigs(c, fc, base, false, log)
	if err != nil {
		return &exitError{code: exitUsage, err: err}
	}
	var routes []pipelines.Route
	if fc != nil {
		routes = fc.routes
	}
	st, err := pipelines.ServeEvents(c.Context, pipelines.ServeConfig{
		Events: pipelines.EventsConfig{Warehouse: c.String("warehouse"), Dir: eventsDir(c), Routes: routes, GroupCommit: c.Bool("group-commit"),
			CommitEvery: c.Duration("commit-interval"), CommitEvents: c.Int("commit-events"), MaxBody: c.Int64("max-body"), Logger: log},
		Tenants: cfgs, SecretFile: c.String("secret-file"), Listen: c.String("listen"),
		TLSCert: c.String("tls-cert"), TLSKey: c.String("tls-key"), PublicURL: c.String("public-url"),
	}, c.App.Writer)
	if err != nil {
		return commandError(fmt.Errorf("events serve: %w", err))
	}
	fmt.Fprintf(c.App.Writer, "events accepted=%d duplicates=%d malformed=%d unauthorized=%d too_large=%d wrong_type=%d committed=%d journaled=%d\n",
		st.Accepted, st.Duplicates, st.Malformed, st.Unauthorized, st.TooLarge, st.WrongType, st.Committed, st.Journaled)
	return nil
}

// newEndpoint is `seatlake events new-endpoint`: the environments of --finops-url and of the config file's
// tenants picked; pipelines.NewEndpoint writes the secret; the callback URL is printed.
func newEndpoint(c *cli.Context, fc *fileConfig) error {
	urls := c.StringSlice("finops-url")
	if fc != nil {
		picked, _, err := pickTenants(fileTenants(fc), c.StringSlice("tenant"), "the config file")
		if err != nil {
			return &exitError{code: exitUsage, err: fmt.Errorf("events new-endpoint: %w", err)}
		}
		for _, t := range fc.tenants {
			if slices.Contains(picked, pipelines.TenantRef{Name: t.Name, ID: t.TenantID}) {
				urls = append(urls, t.Sources[pipelines.FinOpsURLKey]...)
			}
		}
	}
	ep, err := pipelines.NewEndpoint(pipelines.EndpointConfig{FinOps: urls, Name: c.String("finops"), Dir: eventsDir(c),
		SecretFile: c.String("secret-file"), PublicURL: pipelines.PublicURL(c.String("public-url"), c.String("listen"), false)})
	if errors.Is(err, pipelines.ErrInvalidConfig) {
		return &exitError{code: exitUsage, err: fmt.Errorf("events new-endpoint: %w", err)}
	}
	if err != nil {
		return &exitError{code: exitFailed, err: err}
	}
	fmt.Fprintf(c.App.Writer, "callback_url=%s environment=%s secret_file=%s\n", ep.CallbackURL, ep.Name, ep.SecretFile)
	return nil
}
