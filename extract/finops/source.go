package finops

import (
	"context"
	"net/http"

	"github.com/seatlake/seatlake/extract/odata"
	"github.com/seatlake/seatlake/extract/pages"
	"github.com/seatlake/seatlake/extract/source"
	"github.com/seatlake/seatlake/internal/table"
)

// URLSetting is the key of the F&O environment URLs.
const URLSetting = "finops-url"

// Source is Finance and Operations as a seatlake source: each environment is a scope of its own (users, security
// roles and role assignments land together or not at all), read after its $metadata shows the entities.
type Source struct{}

// Name is the source's name.
func (Source) Name() string { return "finops" }

// Tables are the source's tables.
func (Source) Tables() []*table.Table { return Tables() }

// Settings are the environments.
func (Source) Settings() []source.Setting {
	return []source.Setting{
		{Key: URLSetting, Kind: source.URLs, Help: "a Finance and Operations environment URL, e.g. https://contoso.operations.dynamics.com", Env: "SEATLAKE_FINOPS_URL",
			PerTenant: true, TenantKey: "finops", TenantOnly: true, Want: "a list of environment URLs, e.g. [https://contoso.operations.dynamics.com]"},
	}
}

// Validate checks that each environment URL is an environment's root and is listed once.
func (s Source) Validate(v source.Values) error {
	return source.CheckRoots(source.Read(s.Settings(), v).Strings(URLSetting))
}

// Streams are, per environment: the $metadata check, then its users, security roles and role assignments.
func (s Source) Streams(v source.Values) []source.Stream {
	var out []source.Stream
	for _, env := range source.Read(s.Settings(), v).Strings(URLSetting) {
		e := &environment{url: env, client: source.ScopeClient{URL: env, Header: http.Header{"Odata-Version": {"4.0"}, "Odata-Maxversion": {"4.0"}}}}
		host := source.Host(env)
		metadata := "finops_metadata " + host
		out = append(out, source.Stream{Name: metadata, Scope: env, Run: func(ctx context.Context, senv source.Env, _ table.Sink) error {
			return e.extractor(senv).CheckMetadata(ctx, e.client.For(senv))
		}})
		for _, read := range []struct {
			t *table.Table
			f func(*Extractor, context.Context, pages.Pager, table.Sink) (Result, error)
		}{{Users, (*Extractor).Users}, {SecurityRoles, (*Extractor).SecurityRoles}, {UserRoles, (*Extractor).UserRoles}} {
			out = append(out, source.Stream{Name: read.t.Name + " " + host, Table: read.t, Scope: env, After: []string{metadata},
				Run: func(ctx context.Context, senv source.Env, sink table.Sink) error {
					_, err := read.f(e.extractor(senv), ctx, senv.Pages(e.client.For(senv)), sink)
					return err
				}})
		}
	}
	return out
}

// environment is one environment's run.
type environment struct {
	url    string
	client source.ScopeClient
}

func (e *environment) extractor(env source.Env) *Extractor {
	return &Extractor{Environment: e.url, ClientID: env.ClientID, Run: pages.Run{TenantID: env.TenantID, RunID: env.RunID,
		ExtractedAt: env.ExtractedAt, BatchRows: env.BatchRows}}
}

// Check checks each environment: a token and the entities in $metadata.
func (s Source) Check(ctx context.Context, v source.Values, senv source.Env) []source.Check {
	var out []source.Check
	for _, env := range source.Read(s.Settings(), v).Strings(URLSetting) {
		add := func(check, status, detail, action string) {
			out = append(out, source.Check{Target: env, Name: check, Status: status, Detail: detail, Action: action})
		}
		cfg, failed := source.CheckToken(ctx, senv, env)
		if failed != nil {
			out = append(out, *failed)
			continue
		}
		x := &Extractor{Environment: env, ClientID: senv.ClientID}
		if err := x.CheckMetadata(ctx, odata.NewClient(cfg)); err != nil {
			add("entities", source.Fail, source.OneLine(err.Error()),
				"make SystemUsers, SecurityRoles and SecurityUserRoles available, and register client id "+senv.ClientID+" under System administration > Setup > Microsoft Entra applications")
			continue
		}
		add("entities", source.OK, "SystemUsers, SecurityRoles and SecurityUserRoles are in $metadata", "")
	}
	return out
}
