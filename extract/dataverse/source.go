package dataverse

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/seatlake/seatlake/extract/odata"
	"github.com/seatlake/seatlake/extract/pages"
	"github.com/seatlake/seatlake/extract/source"
	"github.com/seatlake/seatlake/internal/outbound"
	"github.com/seatlake/seatlake/internal/table"
)

// Setting keys.
const (
	URLSetting         = "dataverse-url"
	HistorySetting     = "dataverse-history"
	LookbackSetting    = "dataverse-lookback"
	WindowSetting      = "dataverse-window"
	ConcurrencySetting = "dataverse-concurrency"
)

// Source is Dataverse as a seatlake source: each environment of a tenant is a scope of its own (its users, audit
// settings and audits land together or not at all), read after its audit settings.
type Source struct{}

// Name is the source's name.
func (Source) Name() string { return "dataverse" }

// Tables are the source's tables.
func (Source) Tables() []*table.Table { return Tables() }

// Settings are the environments and how their audit log is read.
func (Source) Settings() []source.Setting {
	return []source.Setting{
		{Key: URLSetting, Kind: source.URLs, Help: "a Dataverse environment URL, e.g. https://contoso.crm.dynamics.com", Env: "SEATLAKE_DATAVERSE_URL",
			PerTenant: true, TenantKey: "dataverse", TenantOnly: true, Want: "a list of environment URLs, e.g. [https://contoso.crm.dynamics.com]"},
		{Key: HistorySetting, Kind: source.Duration, Default: "720h", Min: "0", Max: "87600h", Help: "how far back a first run fetches Dataverse audit records", PerTenant: true},
		{Key: LookbackSetting, Kind: source.Duration, Default: "4h", Min: "0", Max: "168h", Help: "re-read this much before the last audit watermark, for records logged late (views deduplicate)"},
		{Key: WindowSetting, Kind: source.Duration, Default: "24h", Min: "1m", Max: "24h", Help: "length of one audit time window (windows never cross midnight UTC)"},
		{Key: ConcurrencySetting, Kind: source.Int, Default: "4", Min: "1", Max: "52", Help: "audit windows of one environment fetched at once"},
	}
}

// Validate checks that each environment URL is an environment's root and is listed once.
func (s Source) Validate(v source.Values) error {
	return source.CheckRoots(source.Read(s.Settings(), v).Strings(URLSetting))
}

// Streams are, per environment: its audit settings (first: they give the organization id), its users and its
// audit windows.
func (s Source) Streams(v source.Values) []source.Stream {
	r := source.Read(s.Settings(), v)
	var out []source.Stream
	for _, env := range r.Strings(URLSetting) {
		e := &environment{url: env, client: source.ScopeClient{URL: env, Header: Headers()}, windows: source.Windows{
			Key: StateKey(env), History: r.Duration(HistorySetting), Lookback: r.Duration(LookbackSetting),
			Size: r.Duration(WindowSetting), Concurrency: r.Int(ConcurrencySetting),
		}}
		host := source.Host(env)
		settings := AuditSettings.Name + " " + host
		out = append(out,
			source.Stream{Name: settings, Table: AuditSettings, Scope: env, Run: e.settings},
			source.Stream{Name: Users.Name + " " + host, Table: Users, Scope: env, After: []string{settings}, Run: e.users},
			source.Stream{Name: Audits.Name + " " + host, Table: Audits, Scope: env, After: []string{settings}, Run: e.audits},
		)
	}
	return out
}

// StateKey is the state key of an environment's audit watermark: a file-name-safe key per environment.
func StateKey(env string) string {
	sum := sha256.Sum256([]byte(env))
	return "dataverse_audits-" + hex.EncodeToString(sum[:6])
}

// environment is one environment's run: its client and the organization id its settings give.
type environment struct {
	url     string
	windows source.Windows
	client  source.ScopeClient
	orgID   atomic.Value // string
}

func (e *environment) extractor(env source.Env) *Extractor {
	org, _ := e.orgID.Load().(string)
	return &Extractor{Environment: e.url, ClientID: env.ClientID, OrganizationID: org, Run: pages.Run{TenantID: env.TenantID, RunID: env.RunID,
		ExtractedAt: env.ExtractedAt, BatchRows: env.BatchRows}}
}

func (e *environment) pager(env source.Env) source.Pager {
	return env.Pages(e.client.For(env))
}

func (e *environment) settings(ctx context.Context, env source.Env, sink table.Sink) error {
	s, err := e.extractor(env).Settings(ctx, e.pager(env), sink)
	if err != nil {
		return err
	}
	for _, w := range s.Warnings(e.url) {
		env.Warn(w)
	}
	e.orgID.Store(s.OrganizationID)
	return nil
}

func (e *environment) users(ctx context.Context, env source.Env, sink table.Sink) error {
	res, err := e.extractor(env).Users(ctx, e.pager(env), sink)
	if res.BadValues > 0 {
		env.Warn(fmt.Sprintf("dataverse_users %s: %d record(s) without an id or with an unreadable createdon", e.url, res.BadValues))
	}
	return err
}

func (e *environment) audits(ctx context.Context, env source.Env, sink table.Sink) error {
	x, pager := e.extractor(env), e.pager(env)
	var rejected atomic.Int64
	w := e.windows
	w.Fetch = func(ctx context.Context, from, to time.Time) (int64, error) {
		res, err := x.Audits(ctx, pager, from, to, sink)
		rejected.Add(res.Rejected)
		return res.Rows, err
	}
	// Refused (no application user, no privilege, a token the environment does not take): no window can succeed,
	// so the environment fails as one.
	w.Fatal = func(err error) bool {
		var he *outbound.Error
		return errors.As(err, &he) && (he.Status == 401 || he.Status == 403)
	}
	err := env.Windows(ctx, w)
	if n := rejected.Load(); n > 0 {
		env.Warn(fmt.Sprintf("dataverse_audits %s: %d record(s) without an id or a readable createdon were not loaded", e.url, n))
	}
	return err
}

// Check checks each environment: a token, the application user, reading audits, the audit settings.
func (s Source) Check(ctx context.Context, v source.Values, env source.Env) []source.Check {
	var out []source.Check
	for _, u := range source.Read(s.Settings(), v).Strings(URLSetting) {
		out = append(out, checkEnvironment(ctx, u, env)...)
	}
	return out
}

func checkEnvironment(ctx context.Context, env string, senv source.Env) []source.Check {
	var out []source.Check
	add := func(check, status, detail, action string) {
		out = append(out, source.Check{Target: env, Name: check, Status: status, Detail: detail, Action: action})
	}
	cfg, failed := source.CheckToken(ctx, senv, env)
	if failed != nil {
		return append(out, *failed)
	}
	cfg.Header = Headers()
	c := odata.NewClient(cfg)
	x := &Extractor{Environment: env, ClientID: senv.ClientID}
	if _, err := x.WhoAmI(ctx, c); err != nil {
		action := "check the environment URL"
		if errors.Is(err, ErrNoApplicationUser) {
			action = "create an application user for client id " + senv.ClientID + " (Power Platform admin center > Environments > the environment > Settings > Users + permissions > Application users)"
		}
		add("application user", source.Fail, source.OneLine(err.Error()), action)
		return out
	}
	add("application user", source.OK, "WhoAmI answered", "")
	var buf bytes.Buffer
	if err := c.Get(ctx, x.OneAuditURL(), &buf); err != nil {
		add("read audits", source.Fail, source.OneLine(err.Error()), "give the application user a security role that reads audit summaries (prvReadAuditSummary)")
	} else {
		add("read audits", source.OK, "a one-row audits request succeeded", "")
	}
	st, err := x.Settings(ctx, c, table.SinkFunc(func(context.Context, arrow.RecordBatch) error { return nil }))
	missing, action := st.Gap()
	switch {
	case err != nil:
		add("audit settings", source.Fail, source.OneLine(err.Error()), "give the application user read access to the organization table")
	case missing != "":
		add("audit settings", source.Warn, missing, action)
	default:
		add("audit settings", source.OK, fmt.Sprintf("auditing and user access auditing on (every %d h, kept %d days)", st.UserAccessIntervalHours, st.RetentionDays), "")
	}
	return out
}
