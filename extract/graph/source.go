package graph

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/seatlake/seatlake/extract/odata"
	"github.com/seatlake/seatlake/extract/pages"
	"github.com/seatlake/seatlake/extract/source"
	"github.com/seatlake/seatlake/internal/outbound"
	"github.com/seatlake/seatlake/internal/table"
)

// Setting keys: the sign-in settings keep the keys users wrote before the source contract (signin-…, a prefix
// the source declares), not graph-….
const (
	HistorySetting     = "signin-history"
	LookbackSetting    = "signin-lookback"
	WindowSetting      = "signin-window"
	ConcurrencySetting = "signin-concurrency"
)

// Source is Microsoft Graph as a seatlake source: the tenant as a whole is its one scope (users with their
// licenses, then the groups that assign them; subscribed SKUs, the report settings, the usage report and the
// sign-ins), read after a token for Graph was issued. The Graph endpoint is the tenant's cloud, core
// configuration (reclaim, check and the cloud table use it too): the source reads it from Env.GraphEndpoint, not
// from a setting of its own.
type Source struct{}

// Name is the source's name.
func (Source) Name() string { return "graph" }

// Tables are the source's tables.
func (Source) Tables() []*table.Table { return Tables() }

// KeyPrefixes are the prefixes of the sign-in settings' keys.
func (Source) KeyPrefixes() []string { return []string{"signin-"} }

// Settings are how the sign-in log is read.
func (Source) Settings() []source.Setting {
	return []source.Setting{
		{Key: HistorySetting, Kind: source.Duration, Default: "720h", Min: "0", Max: "720h", Help: "how far back a first run fetches sign-ins (Microsoft keeps 30 days)", PerTenant: true},
		{Key: LookbackSetting, Kind: source.Duration, Default: "2h", Min: "0", Max: "168h", Help: "re-read this much before the last watermark, for late-logged sign-ins (views deduplicate)"},
		{Key: WindowSetting, Kind: source.Duration, Default: "24h", Min: "1m", Max: "24h", Help: "length of one sign-in time window (windows never cross midnight UTC)"},
		{Key: ConcurrencySetting, Kind: source.Int, Default: "4", Min: "1", Max: "16", Help: "sign-in windows fetched at once (the reporting API allows 5 requests per 10 s)"},
	}
}

// Start gets a Graph token before anything is read: a wrong secret or tenant is the most common failure of a new
// set-up, and it should read as such, not as five streams failing at once. The streams then use that token
// (the run has one token source per resource).
func (Source) Start(ctx context.Context, _ source.Values, env source.Env) error {
	if _, err := env.HTTP(env.GraphEndpoint).Tokens.Token(ctx); err != nil {
		return fmt.Errorf("getting a Microsoft Graph token: %w", err)
	}
	return nil
}

// Streams are the tenant's: users (with their licenses), the groups that assign licenses (after the users, whose
// licenses name them), subscribed SKUs, the report settings, the usage report (optional: evidence, not the
// roster) and the sign-ins by time window since the watermark.
func (s Source) Streams(v source.Values) []source.Stream {
	r := source.Read(s.Settings(), v)
	t := &tenant{windows: source.Windows{Key: SignIns.Name, History: r.Duration(HistorySetting), Lookback: r.Duration(LookbackSetting),
		Size: r.Duration(WindowSetting), Concurrency: r.Int(ConcurrencySetting)}}
	return []source.Stream{
		{Name: Users.Name, Table: Users, Also: []*table.Table{UserLicenses}, Run: t.users},
		{Name: Groups.Name, Table: Groups, After: []string{Users.Name}, Run: t.groups},
		{Name: SubscribedSkus.Name, Table: SubscribedSkus, Run: t.subscribedSkus},
		{Name: ReportSettings.Name, Table: ReportSettings, Run: t.reportSettings},
		{Name: UsageReport.Name, Table: UsageReport, Optional: true, Run: t.usageReport},
		{Name: SignIns.Name, Table: SignIns, Run: t.signIns},
	}
}

// tenant is one run's Graph streams: their clients and what the users told the groups.
type tenant struct {
	windows source.Windows
	once    sync.Once
	client  *odata.Client
	// report shares one gate among the reporting APIs' requests (sign-ins, users with signInActivity): their
	// limit is much lower, and one 429 pauses every window instead of each window running into it.
	report *odata.Client

	mu       sync.Mutex
	groupIDs []string // the groups that assign licenses, from the users
}

// clients are the run's Graph clients, made on first use from the run's configuration for Graph.
func (t *tenant) clients(env source.Env) (client, report *odata.Client) {
	t.once.Do(func() {
		cfg := env.HTTP(env.GraphEndpoint)
		t.client = odata.NewClient(cfg)
		cfg.Gate = outbound.NewGate()
		t.report = odata.NewClient(cfg)
	})
	return t.client.WithStats(env.Stats), t.report.WithStats(env.Stats)
}

func (t *tenant) extractor(env source.Env) *Extractor {
	return &Extractor{Endpoint: env.GraphEndpoint, Run: pages.Run{TenantID: env.TenantID, RunID: env.RunID, ExtractedAt: env.ExtractedAt,
		BatchRows: env.BatchRows, Logger: env.Logger, Reject: env.Reject}}
}

func (t *tenant) users(ctx context.Context, env source.Env, sink table.Sink) error {
	_, report := t.clients(env)
	// With signInActivity, /users counts against the reporting APIs' limit too: it shares the sign-ins' gate.
	res, err := t.extractor(env).Users(ctx, env.Pages(report), true, sink, env.Sink(UserLicenses))
	if err != nil {
		return err
	}
	t.mu.Lock()
	t.groupIDs = res.Groups
	t.mu.Unlock()
	if !res.SignInActivity {
		env.Warn("tenant has no Entra ID P1/P2: users were read without signInActivity (no last sign-in dates)")
	}
	if res.BadValues > 0 {
		env.Warn(fmt.Sprintf("graph_users: %d timestamp value(s) did not parse and were stored as null", res.BadValues))
	}
	return nil
}

// groups reads the display names of the groups that assign licenses. Names are for people to read: a missing
// permission or a failure is a run warning (and the group_names_unknown finding), the licenses keep their group
// ids, and the run goes on; only a cancelled run stops here.
func (t *tenant) groups(ctx context.Context, env source.Env, sink table.Sink) error {
	t.mu.Lock()
	ids := t.groupIDs
	t.mu.Unlock()
	if len(ids) == 0 {
		return nil
	}
	client, _ := t.clients(env)
	res, err := t.extractor(env).Groups(ctx, client, ids, sink)
	switch {
	case err == nil:
	case ctx.Err() != nil:
		return err
	case errors.Is(err, ErrGroupsDenied):
		// A stable text (no request id): the same condition every night is reported once, as new warnings are.
		env.Warn(fmt.Sprintf("%s: the app may not read groups, so the %d group(s) that assign licenses are named by id only: "+
			"grant the app the Microsoft Graph application permission %s and admin consent", Groups.Name, len(ids), GroupPermission))
	default:
		env.Logger.Error("group names not read", "stream", Groups.Name, "err", err)
		env.Warn(fmt.Sprintf("%s: the names of the groups that assign licenses could not be read this run (the log says why); the licenses keep their group ids", Groups.Name))
	}
	if res.NotFound > 0 {
		env.Logger.Info("groups that assign licenses no longer exist (deleted since the users were read)", "stream", Groups.Name, "not_found", res.NotFound)
	}
	return nil
}

func (t *tenant) subscribedSkus(ctx context.Context, env source.Env, sink table.Sink) error {
	client, _ := t.clients(env)
	_, err := t.extractor(env).SubscribedSkus(ctx, env.Pages(client), sink)
	return err
}

func (t *tenant) reportSettings(ctx context.Context, env source.Env, sink table.Sink) error {
	client, _ := t.clients(env)
	concealed, err := t.extractor(env).ReportSettings(ctx, client, sink)
	if err != nil {
		return err
	}
	if concealed {
		env.Warn("Microsoft 365 usage reports conceal user names (reportSettings.displayConcealedNames = true): report rows cannot be joined to users")
	}
	return nil
}

// usageReport reads the Microsoft 365 usage report (an optional stream: without it the run goes on and says what
// is missing).
func (t *tenant) usageReport(ctx context.Context, env source.Env, sink table.Sink) error {
	client, _ := t.clients(env)
	res, err := t.extractor(env).UsageReport(ctx, env.Pages(client), sink)
	if res.BadValues > 0 {
		env.Warn(fmt.Sprintf("%s: %d value(s) did not parse and were stored as null", UsageReport.Name, res.BadValues))
	}
	return err
}

// signIns fetches the sign-in windows since the watermark. No Entra ID P1/P2 skips the stream with a warning.
func (t *tenant) signIns(ctx context.Context, env source.Env, sink table.Sink) error {
	x := t.extractor(env)
	_, report := t.clients(env)
	pager := env.Pages(report)
	w := t.windows
	w.Fetch = func(ctx context.Context, from, to time.Time) (int64, error) {
		res, err := x.SignIns(ctx, pager, from, to, sink)
		return res.Rows, err
	}
	w.Fatal = func(err error) bool { return errors.Is(err, ErrNoPremium) }
	err := env.Windows(ctx, w)
	if errors.Is(err, ErrNoPremium) {
		env.Warn("graph_signins skipped: the tenant has no Entra ID P1/P2, which Microsoft requires for sign-in logs")
		return nil
	}
	return err
}
