package main

import (
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/seatlake/seatlake/internal/assetsim"
	"github.com/seatlake/seatlake/internal/assetsim/servicenow"
	"github.com/seatlake/seatlake/internal/tenantsim"
)

func simFlags(defaultThrottle string, defaultTLS bool) []cli.Flag {
	return []cli.Flag{
		&cli.Int64Flag{Name: "seed", Value: 7, Usage: "generator seed: the same seed serves the same tenant"},
		&cli.IntFlag{Name: "users", Value: 2000, Usage: "users in the tenant"},
		&cli.IntFlag{Name: "days", Value: 30, Usage: "days of sign-in history"},
		&cli.Int64Flag{Name: "signins", Usage: "total sign-ins in the history (0: a realistic number for the users)"},
		&cli.Float64Flag{Name: "idle-share", Value: 0.2, Usage: "share of licensed users idle for months"},
		&cli.BoolFlag{Name: "premium", Value: true, Usage: "the tenant has Entra ID P1 (signInActivity and sign-in logs); --premium=false to simulate without"},
		&cli.BoolFlag{Name: "concealed-names", Value: true, Usage: "usage reports conceal user names (Microsoft's default since 2021)"},
		&cli.StringFlag{Name: "throttle", Value: defaultThrottle, Usage: "service limits: realistic (Microsoft's), scaled (lower, for demos) or off"},
		&cli.DurationFlag{Name: "token-lifetime", Value: time.Hour, Usage: "lifetime of issued access tokens"},
		&cli.IntFlag{Name: "dataverse-envs", Value: 1, Usage: "Dataverse environments to serve, each on its own port"},
		&cli.IntFlag{Name: "finops-envs", Value: 1, Usage: "Finance and Operations environments to serve, each on its own port"},
		&cli.Int64Flag{Name: "audits-per-env", Usage: "about this many user-driven audit records per Dataverse environment (0: realistic for the users)"},
		&cli.StringFlag{Name: "graph-permissions", Usage: "comma-separated Graph application permissions the app holds (default all seatlake needs), e.g. User.Read.All,Organization.Read.All"},
		&cli.IntSliceFlag{Name: "auditing-off", Usage: "Dataverse environment indexes (0-based) with auditing off; repeatable"},
		&cli.IntSliceFlag{Name: "no-application-user", Usage: "Dataverse environment indexes without seatlake's application user; repeatable"},
		&cli.StringFlag{Name: "finops-missing-entity", Usage: "leave this entity (e.g. SecurityUserRoles) out of the first F&O environment's $metadata and service"},
		&cli.BoolFlag{Name: "tls", Value: defaultTLS, Usage: "serve https with the simulator's own certificate authority (clients trust its CA file)"},
		&cli.DurationFlag{Name: "page-latency", Usage: "each Dataverse and F&O page takes at least this long, as at Microsoft (e.g. 500ms)"},
	}
}

func indexSet(v []int) map[int]bool {
	m := map[int]bool{}
	for _, i := range v {
		m[i] = true
	}
	return m
}

func simConfig(c *cli.Context) tenantsim.Config {
	cfg := tenantsim.DefaultConfig()
	cfg.Seed = c.Int64("seed")
	cfg.Users = c.Int("users")
	cfg.Days = c.Int("days")
	cfg.SignIns = c.Int64("signins")
	cfg.IdleShare = c.Float64("idle-share")
	cfg.Premium = c.Bool("premium")
	cfg.ConcealedNames = c.Bool("concealed-names")
	cfg.Throttle = c.String("throttle")
	cfg.TokenLifetime = c.Duration("token-lifetime")
	cfg.DataverseEnvs = c.Int("dataverse-envs")
	cfg.FinOpsEnvs = c.Int("finops-envs")
	cfg.AuditsPerEnv = c.Int64("audits-per-env")
	if v := c.String("graph-permissions"); v != "" {
		cfg.GraphPermissions = tenantsim.ParsePermissions(v)
	}
	cfg.AuditingOff = indexSet(c.IntSlice("auditing-off"))
	cfg.NoApplicationUser = indexSet(c.IntSlice("no-application-user"))
	if v := c.String("finops-missing-entity"); v != "" {
		cfg.FinOpsMissingEntity = []string{v}
	}
	cfg.PageLatency = c.Duration("page-latency")
	cfg.TLS = c.Bool("tls")
	return cfg
}

func simCommand() *cli.Command {
	flags := append([]cli.Flag{
		&cli.StringFlag{Name: "addr", Value: "127.0.0.1:8400", Usage: "loopback address to listen on; the Dataverse, then F&O environments, then the JSM Assets and ServiceNow emulators take the ports right after it (127.0.0.1:0 picks free ports)"},
		&cli.IntFlag{Name: "finops-events", Usage: "the F&O business events plan's size: with --finops-events-to, send them; serving, POST /_sim/finops-events/apply applies their role changes"},
		&cli.StringFlag{Name: "finops-events-to", Usage: "post the plan's business events (with duplicates and one malformed body) to this callback URL (loopback only), print finops_events_distinct=N and exit"},
		&cli.Float64Flag{Name: "finops-events-rate", Value: 200, Usage: "events a second the sender posts"},
		&cli.StringFlag{Name: "finops-events-apply", Usage: "before sending, ask the simulator serving F&O at this URL to apply the plan's role changes"},
		&cli.StringFlag{Name: "tenant-id", Usage: "tenant id to serve (default: derived from the seed)"},
		&cli.StringFlag{Name: "client-id", Usage: "client id to accept (default: a fixed id)"},
		&cli.StringFlag{Name: "ca-file", Usage: "with --tls: write the CA certificate here (default: a file in the temporary directory)"},
		&cli.StringFlag{Name: "client-certificate", Usage: "accept client assertions signed with this certificate (PEM): certificate credentials"},
		&cli.StringFlag{Name: "client-certificate-out", Usage: "generate a certificate and its key, write them here (PEM, mode 0600) for the client, and accept assertions signed with it"},
		&cli.BoolFlag{Name: "servicenow-column-names", Usage: "the ServiceNow emulator has REST Insert Multiples entries mapping the staging tables by Column name (sync with --column-mapping name)"},
		&cli.BoolFlag{Name: "servicenow-no-client-credentials", Usage: "the ServiceNow emulator is not set up for the OAuth client credentials grant (the system property off, no OAuth Application User)"},
		&cli.StringFlag{Name: "as-of", Usage: "the simulator's clock: the tenant as it is at 00:00 UTC on this day (YYYY-MM-DD); /_sim/truth is as of it. Run seatlake with the same --as-of"},
	}, simFlags("realistic", false)...)
	flags = append(flags, logFlags()...)
	return &cli.Command{
		Name:  "sim",
		Usage: "serve a simulated tenant (token endpoint, Microsoft Graph, Dataverse and F&O environments) on loopback",
		Description: "Serves a deterministic fake tenant for seatlake and other tools. Prints one line with the credentials it\n" +
			"accepts (tenant_id=… client_id=… client_secret=…); the secret can be set with $SEATLAKE_SIM_CLIENT_SECRET.\n" +
			"Then it prints url=… (the token endpoint and Graph), and dataverse_url=… and finops_url=… lines, one per environment,\n" +
			"on the ports right after --addr's (8401, 8402… by default), then jsm_assets_url=… and servicenow_url=… on the next two\n" +
			"with their credentials: the same flags (and --seed) serve the same URLs and credentials on every start.\n" +
			"Point seatlake at it with --authority-host and --graph-endpoint set to url, and --dataverse-url/--finops-url.\n" +
			"With --tls it serves https and prints ca_file=…, the CA to trust (e.g. SSL_CERT_FILE=<ca_file> seatlake run …).\n" +
			"GET /_sim/truth returns the rows a default run must produce; POST /_sim/faults injects faults.",
		Flags:  flags,
		Action: simServe,
	}
}

// simServe is `seatlake sim`: the simulator and the asset emulators served until Ctrl-C, their URLs and
// credentials printed (or, with --finops-events-to, the business events sent).
func simServe(c *cli.Context) error {
	log, err := newLogger(c)
	if err != nil {
		return err
	}
	cfg := simConfig(c)
	if v := c.String("as-of"); v != "" {
		d, err := parseAsOf(v)
		if err != nil {
			return &exitError{code: exitUsage, err: err}
		}
		cfg.Now = func() time.Time { return d }
	}
	certOut, err := simClientCertificate(c, &cfg)
	if err != nil {
		return err
	}
	cfg.TenantID = c.String("tenant-id")
	cfg.ClientID = c.String("client-id")
	cfg.ClientSecret = os.Getenv("SEATLAKE_SIM_CLIENT_SECRET")
	cfg.Logger = log
	cfg.FinOpsEvents = c.Int("finops-events")
	sim, err := tenantsim.New(cfg)
	if err != nil {
		return &exitError{code: exitUsage, err: fmt.Errorf("configuring the simulator: %w", err)}
	}
	if to := c.String("finops-events-to"); to != "" {
		return sendEvents(c, sim, to)
	}
	base, err := sim.Start(c.String("addr"))
	if err != nil {
		return fmt.Errorf("starting the simulator: %w", err)
	}
	defer sim.Close()
	fmt.Fprintln(c.App.Writer, sim.Banner())
	fmt.Fprintf(c.App.Writer, "url=%s\n", base)
	for _, l := range sim.URLLines() {
		fmt.Fprintln(c.App.Writer, l)
	}
	if certOut != "" {
		fmt.Fprintf(c.App.Writer, "client_certificate=%s\n", certOut)
	}
	stop, err := startSimEmulators(c, cfg)
	if err != nil {
		return err
	}
	defer stop()
	if err := writeSimCA(c, sim, base); err != nil {
		return err
	}
	log.Info("simulator serving; Ctrl-C stops it", "url", base, "users", cfg.Users, "throttle", cfg.Throttle)
	<-c.Context.Done()
	return nil
}

// simClientCertificate sets the client certificate the simulator accepts: --client-certificate's, or one made and
// written to --client-certificate-out (returned, to be printed).
func simClientCertificate(c *cli.Context, cfg *tenantsim.Config) (certOut string, err error) {
	if path := c.String("client-certificate"); path != "" {
		raw, err := os.ReadFile(path)
		if err != nil {
			return "", &exitError{code: exitUsage, err: fmt.Errorf("--client-certificate: %w", err)}
		}
		blk, _ := pem.Decode(raw)
		if blk == nil || blk.Type != "CERTIFICATE" {
			return "", &exitError{code: exitUsage, err: fmt.Errorf("--client-certificate %s: want a PEM certificate", path)}
		}
		if cfg.ClientCertificate, err = x509.ParseCertificate(blk.Bytes); err != nil {
			return "", &exitError{code: exitUsage, err: fmt.Errorf("--client-certificate %s: %w", path, err)}
		}
	}
	path := c.String("client-certificate-out")
	if path == "" {
		return "", nil
	}
	pemBytes, cert, err := tenantsim.NewClientCertificate("seatlake-sim client", time.Now().AddDate(1, 0, 0))
	if err != nil {
		return "", err
	}
	if err := os.WriteFile(path, pemBytes, 0o600); err != nil {
		return "", fmt.Errorf("--client-certificate-out: %w", err)
	}
	cfg.ClientCertificate = cert
	return path, nil
}

// startSimEmulators starts the JSM Assets and ServiceNow emulators and prints their URLs and credentials. They
// follow the environments' ports when --addr fixes one, and their credentials come from the seed: a config file
// written once keeps working.
func startSimEmulators(c *cli.Context, cfg tenantsim.Config) (stop func(), err error) {
	host, portText, _ := net.SplitHostPort(c.String("addr"))
	assetsPort, _ := strconv.Atoi(portText)
	snPort := 0
	if assetsPort != 0 {
		assetsPort += 1 + cfg.DataverseEnvs + cfg.FinOpsEnvs
		snPort = assetsPort + 1
	}
	secrets := assetsim.SecretsFor(cfg.Seed)
	assetsURL, _, stopAssets, err := assetsim.StartAssets(host, assetsPort, secrets.AssetsToken)
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(c.App.Writer, "jsm_assets_url=%s jsm_assets_token=%s\n", assetsURL, secrets.AssetsToken)
	sn, err := assetsim.StartServiceNow(host, snPort, secrets, func(s *servicenow.Server) {
		if c.Bool("servicenow-column-names") {
			for _, t := range servicenow.DefaultTransforms() {
				s.SetInsertMultiple(t.Staging, servicenow.InsertMultipleEntry{ColumnNames: true})
			}
		}
		if c.Bool("servicenow-no-client-credentials") {
			s.SetClientCredentials(false, "")
		}
	})
	if err != nil {
		stopAssets()
		return nil, err
	}
	fmt.Fprintf(c.App.Writer, "servicenow_url=%s servicenow_user=%s servicenow_password=%s servicenow_client_id=%s servicenow_client_secret=%s\n",
		sn.URL, sn.User, sn.Password, sn.ClientID, sn.ClientSecret)
	return func() { sn.Stop(); stopAssets() }, nil
}

// writeSimCA writes the simulator's CA (with --tls) to --ca-file, or a file in the temporary directory, and
// prints where.
func writeSimCA(c *cli.Context, sim *tenantsim.Sim, base string) error {
	pem := sim.CAPEM()
	if pem == nil {
		return nil
	}
	path := c.String("ca-file")
	if path == "" {
		path = filepath.Join(os.TempDir(), "seatlake-sim-ca-"+base[strings.LastIndexByte(base, ':')+1:]+".pem")
	}
	if err := os.WriteFile(path, pem, 0o644); err != nil {
		return fmt.Errorf("writing the simulator's CA: %w", err)
	}
	fmt.Fprintf(c.App.Writer, "ca_file=%s\n", path)
	return nil
}

// parseAsOf reads an --as-of day: YYYY-MM-DD, midnight UTC.
func parseAsOf(v string) (time.Time, error) {
	d, err := time.Parse(time.DateOnly, v)
	if err != nil {
		return time.Time{}, fmt.Errorf("--as-of %q: want a day such as 2026-11-30", v)
	}
	return d, nil
}

// sendEvents plays F&O's side of business events: the plan's events posted to a receiver, then one line.
func sendEvents(c *cli.Context, sim *tenantsim.Sim, to string) error {
	n := c.Int("finops-events")
	if n <= 0 {
		return &exitError{code: exitUsage, err: errors.New("sim: --finops-events-to needs --finops-events N (N > 0)")}
	}
	if u, err := url.Parse(to); err != nil || !loopbackHost(u.Hostname()) {
		return &exitError{code: exitUsage, err: fmt.Errorf("sim: --finops-events-to %s: the simulator sends to loopback only", to)}
	}
	if apply := c.String("finops-events-apply"); apply != "" {
		resp, err := http.Post(strings.TrimRight(apply, "/")+"/_sim/finops-events/apply?n="+strconv.Itoa(n), "application/json", nil)
		if err != nil {
			return fmt.Errorf("applying the events' changes: %w", err)
		}
		resp.Body.Close()
	}
	res, err := sim.SendFinOpsEvents(c.Context, to, n, c.Float64("finops-events-rate"), nil)
	fmt.Fprintf(c.App.Writer, "finops_events_distinct=%d finops_events_sent=%d finops_events_duplicates=%d finops_events_malformed=%d\n",
		res.Distinct, res.Sent, res.Duplicates, res.Malformed)
	if err != nil {
		return &exitError{code: exitFailed, err: fmt.Errorf("sim: sending business events: %w", err)}
	}
	return nil
}

// loopbackHost reports whether host is this machine: the simulator sends nowhere else.
func loopbackHost(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
