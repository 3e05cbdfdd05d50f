package assets

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/seatlake/seatlake/load/target"
)

// The two sinks as sync targets (load/target): their names, settings and help, how each is opened from its
// settings' values, and what each checks before a sync and for `seatlake check`.
func init() {
	target.Register(jsmTarget{})
	target.Register(serviceNowTarget{})
}

// Both sinks take a tenant's rows as a stream.
var (
	_ target.StreamSender = (*JSMSink)(nil)
	_ target.StreamSender = (*ServiceNowSink)(nil)
)

type jsmTarget struct{}

func (jsmTarget) Name() string { return "jsm-assets" }
func (jsmTarget) Usage() string {
	return "sync into Jira Service Management Assets through an external import source (Imports REST API)"
}
func (jsmTarget) Description() string {
	return "Sends every tenant's people (Person), subscribed SKUs (Subscription) and license assignments (License Assignment,\n" +
		"with status, last activity, reason and cost) from the latest committed marts: the full set every time, identified by\n" +
		"stable ids, so a repeated sync updates the same objects. The container token comes from $SEATLAKE_JSM_ASSETS_TOKEN\n" +
		"or --token-file. Settings may come from the config file's sync.jsm-assets section. Every sync is recorded in the\n" +
		"syncs table. Exit 0 only when Assets finished the import (DONE)."
}

// tenantTokenKey is the key of a tenant's entry naming its own import source's token file.
const tenantTokenKey = "jsm-assets-token-file"

func (jsmTarget) Settings() []target.Setting {
	return []target.Setting{
		{Key: "url", Kind: target.String, Default: "https://api.atlassian.com", Help: "the Assets API base URL (http:// only on loopback)", Env: "SEATLAKE_JSM_ASSETS_URL", Endpoint: true},
		{Key: "token-file", Kind: target.String, Help: "read the import source's container token from this file instead of $SEATLAKE_JSM_ASSETS_TOKEN"},
		{Key: "chunk-size", Kind: target.Int, Default: "500", Min: "1", Max: "1000", Help: "objects per submitResults request"},
		{Key: tenantTokenKey, Kind: target.String, PerTenant: true, Help: "this tenant's own import source's container token file"},
	}
}

// Open reads the shared container token and the tenants' own (with secrets), after refusing a set-up in which two
// tenants would send into one import source.
func (jsmTarget) Open(s target.Setup) (target.Sender, error) {
	if err := importSourceFiles(s.Tenants); err != nil {
		return nil, err
	}
	j := &JSMSink{Config: Config{BaseURL: s.Values["url"], ChunkSize: s.Values.Int("chunk-size"), Logger: s.Logger}, Tokens: map[string]string{}}
	if !s.Secrets {
		return j, nil
	}
	for _, t := range s.Tenants {
		file := t.Values[tenantTokenKey]
		if file == "" {
			continue
		}
		tok, err := s.Secret("JSM Assets token", tenantTokenKey, "", file)
		if err != nil {
			return nil, fmt.Errorf("tenant %q: %s: %w", t.Name, tenantTokenKey, err)
		}
		j.Tokens[t.ID] = tok
		j.own = append(j.own, t)
	}
	// The shared token is needed unless tenants have their own; a tenant left without one fails alone.
	tok, err := s.Secret("JSM Assets token", "token-file", "SEATLAKE_JSM_ASSETS_TOKEN", s.Values["token-file"])
	if err != nil && len(j.Tokens) == 0 {
		return nil, fmt.Errorf("the Assets container token: %w", err)
	}
	j.Config.Token = tok
	return j, nil
}

// ownImportSource is the fix for two tenants in one import source.
const ownImportSource = "give each tenant its own import source: tenants[].jsm-assets-token-file in the config file"

// importSourceFiles refuses a set-up in which two tenants would send into one Assets import source, before any
// token is read: every tenant without its own token file shares the one of sync.jsm-assets.token-file (or
// $SEATLAKE_JSM_ASSETS_TOKEN), and two tenants may name the same file. An import source is one schema mapping, and
// a completed import marks the objects it did not receive as missing: each tenant's sync would replace the other's
// objects, and a SKU id is the same in every tenant that buys the product.
func importSourceFiles(tenants []target.Tenant) error {
	var shared, files []string
	byFile := map[string][]string{}
	for _, t := range tenants {
		f := t.Values[tenantTokenKey]
		if f == "" {
			shared = append(shared, t.Name)
			continue
		}
		if abs, err := filepath.Abs(f); err == nil {
			f = abs
		} else {
			f = filepath.Clean(f)
		}
		if len(byFile[f]) == 0 {
			files = append(files, f)
		}
		byFile[f] = append(byFile[f], t.Name)
	}
	if len(shared) > 1 {
		return fmt.Errorf("tenants %s would share one Assets import source (sync.jsm-assets.token-file or $SEATLAKE_JSM_ASSETS_TOKEN): "+
			"an import source is one schema mapping, so each tenant's sync would replace the other's objects; %s", andList(shared), ownImportSource)
	}
	for _, f := range files {
		if names := byFile[f]; len(names) > 1 {
			return fmt.Errorf("tenants %s name the same jsm-assets-token-file %s, one Assets import source: each tenant's sync would replace the other's objects; %s",
				andList(names), f, ownImportSource)
		}
	}
	return nil
}

// andList is "a", "a and b", "a, b and c".
func andList(xs []string) string {
	if len(xs) < 2 {
		return strings.Join(xs, "")
	}
	return strings.Join(xs[:len(xs)-1], ", ") + " and " + xs[len(xs)-1]
}

// JSMSink is the opened jsm-assets target: the shared import source's configuration and the tenants' own tokens
// (by tenant id; a tenant without one uses Config.Token).
type JSMSink struct {
	Config Config
	Tokens map[string]string
	own    []target.Tenant // the tenants with their own token, in order, for Probe
}

// Own are the tenants with their own import source.
func (j *JSMSink) Own() []target.Tenant { return j.own }

func (j *JSMSink) token(tenant string) string {
	if tok, ok := j.Tokens[tenant]; ok {
		return tok
	}
	return j.Config.Token
}

// Send syncs one tenant's rows, held whole (SendRows).
func (j *JSMSink) Send(ctx context.Context, env target.Env, data Data) (target.Result, error) {
	return j.SendRows(ctx, env, data)
}

// SendRows syncs one tenant, first cancelling the execution a killed sync of it left behind (its note).
func (j *JSMSink) SendRows(ctx context.Context, env target.Env, data Rows) (target.Result, error) {
	cfg := j.Config
	cfg.Token = j.token(env.Tenant.ID)
	if cfg.Token == "" {
		return target.Result{}, fmt.Errorf("%w: no Assets container token for tenant %s: give jsm-assets-token-file in its entry of the config file, or $SEATLAKE_JSM_ASSETS_TOKEN", target.ErrSetUp, env.Tenant.ID)
	}
	cfg.StaleExecution = strings.TrimSpace(env.Note())
	cfg.Started = func(link string) {
		if err := env.SetNote(link); err != nil && link != "" {
			env.Logger.Warn("could not record the started execution; a killed sync would leave it for Assets to time out", "err", err)
		}
	}
	return sent(Sync(ctx, cfg, data))
}

// Preflight refuses two tenants of one sync sending into the same import source (the same container token).
func (j *JSMSink) Preflight(tenants []target.Tenant) error {
	byToken := map[string][]string{}
	var order []string
	for _, t := range tenants {
		tok := j.token(t.ID)
		if tok == "" {
			continue // no token: that tenant's sync fails alone, saying so
		}
		if len(byToken[tok]) == 0 {
			order = append(order, tok)
		}
		byToken[tok] = append(byToken[tok], t.Name)
	}
	for _, tok := range order {
		if names := byToken[tok]; len(names) > 1 {
			return fmt.Errorf("%w: tenants %s would share one Assets import source (the same container token): each sync would replace "+
				"the other's objects; %s", target.ErrSetUp, strings.Join(names, " and "), ownImportSource)
		}
	}
	return nil
}

// Probe checks each import source, the tenants' own and the shared one: the token is taken and an import can start.
func (j *JSMSink) Probe(ctx context.Context) []target.Check {
	var out []target.Check
	probe := func(tenant, token string) {
		cfg := j.Config
		cfg.Token = token
		status, err := ProbeJSM(ctx, cfg)
		c := target.Check{Tenant: tenant, Target: cfg.BaseURL, Name: "import source"}
		switch {
		case err != nil:
			c.Status, c.Detail, c.Action = target.Fail, err.Error(), "fix the container token or the import source in Assets before tonight's sync"
		case status == "RUNNING":
			c.Status, c.Detail, c.Action = target.Warn, "an import is RUNNING on the import source", "let it finish, or cancel it in Assets: a sync cannot start while it runs"
		default:
			c.Status, c.Detail = target.OK, "the container token is taken; the import source is "+status
		}
		out = append(out, c)
	}
	for _, t := range j.own {
		probe(t.Name, j.Tokens[t.ID])
	}
	if j.Config.Token != "" {
		probe("", j.Config.Token)
	}
	return out
}

type serviceNowTarget struct{}

func (serviceNowTarget) Name() string { return "servicenow" }
func (serviceNowTarget) Usage() string {
	return "sync into ServiceNow through the Import Set API (staging tables and your transform maps)"
}
func (serviceNowTarget) Description() string {
	return "Sends the same rows as strings into three staging tables (u_seatlake_user, u_seatlake_subscription,\n" +
		"u_seatlake_license by default), each carrying u_external_id, the coalesce key of your transform maps, with\n" +
		"insertMultiple (at most 200 records a request; keys are the columns' labels, read from sys_dictionary, unless\n" +
		"--column-mapping name), waits until every import set is transformed, and reads each row's result: rows marked\n" +
		"error or skipped, or landed without u_external_id, are counted and named, and fail the sync. Basic auth (--user with\n" +
		"$SEATLAKE_SERVICENOW_PASSWORD or --password-file) or OAuth client credentials (--client-id with\n" +
		"$SEATLAKE_SERVICENOW_CLIENT_SECRET or --client-secret-file). Settings may come from the config file's\n" +
		"sync.servicenow section. Every sync is recorded in the syncs table."
}

func (serviceNowTarget) Settings() []target.Setting {
	return []target.Setting{
		{Key: "instance-url", Kind: target.String, Help: "https://<instance>.service-now.com (http:// only on loopback)", Env: "SEATLAKE_SERVICENOW_URL", Endpoint: true},
		{Key: "user", Kind: target.String, Help: "the integration user (basic auth)", Env: "SEATLAKE_SERVICENOW_USER"},
		{Key: "password-file", Kind: target.String, Help: "read the user's password from this file instead of $SEATLAKE_SERVICENOW_PASSWORD"},
		{Key: "client-id", Kind: target.String, Help: "OAuth client credentials instead of basic auth: the application registry's client id", Env: "SEATLAKE_SERVICENOW_CLIENT_ID"},
		{Key: "client-secret-file", Kind: target.String, Help: "read the OAuth client secret from this file instead of $SEATLAKE_SERVICENOW_CLIENT_SECRET"},
		{Key: "user-table", Kind: target.String, Default: DefaultStagingTables.User, Help: "the staging table for people"},
		{Key: "subscription-table", Kind: target.String, Default: DefaultStagingTables.Subscription, Help: "the staging table for subscribed SKUs"},
		{Key: "license-table", Kind: target.String, Default: DefaultStagingTables.License, Help: "the staging table for license assignments"},
		{Key: "batch-size", Kind: target.Int, Default: fmt.Sprint(MaxServiceNowBatch), Min: "1", Max: fmt.Sprint(MaxServiceNowBatch), Help: "records per insertMultiple request"},
		{Key: "column-mapping", Kind: target.String, Default: ColumnLabels, Help: "insertMultiple's record keys: label (ServiceNow's default; " +
			"the labels are read from sys_dictionary) or name (when a REST Insert Multiples entry maps each staging table by Column name)"},
	}
}

// Open reads the instance, the staging tables, and basic auth or OAuth client credentials (with secrets).
func (serviceNowTarget) Open(s target.Setup) (target.Sender, error) {
	v := s.Values
	sn := ServiceNowConfig{InstanceURL: v["instance-url"], Logger: s.Logger, BatchSize: v.Int("batch-size"), ColumnMapping: v["column-mapping"],
		Tables: StagingTables{User: v["user-table"], Subscription: v["subscription-table"], License: v["license-table"]}}
	switch sn.ColumnMapping {
	case ColumnLabels, ColumnNames:
	default:
		return nil, fmt.Errorf("column-mapping %q: want %s or %s", sn.ColumnMapping, ColumnLabels, ColumnNames)
	}
	if sn.InstanceURL == "" {
		return nil, errors.New("instance-url is required (https://<instance>.service-now.com)")
	}
	if !s.Secrets {
		return &ServiceNowSink{sn}, nil
	}
	user, client := v["user"], v["client-id"]
	switch {
	case client != "" && user != "":
		return nil, errors.New("give user (basic auth) or client-id (OAuth), not both")
	case client != "":
		sec, err := s.Secret("ServiceNow client secret", "client-secret-file", "SEATLAKE_SERVICENOW_CLIENT_SECRET", v["client-secret-file"])
		if err != nil {
			return nil, fmt.Errorf("the OAuth client secret: %w", err)
		}
		sn.ClientID, sn.ClientSecret = client, sec
	case user != "":
		pw, err := s.Secret("ServiceNow password", "password-file", "SEATLAKE_SERVICENOW_PASSWORD", v["password-file"])
		if err != nil {
			return nil, fmt.Errorf("the password of %s: %w", user, err)
		}
		sn.User, sn.Password = user, pw
	default:
		return nil, errors.New("give user (basic auth, password from $SEATLAKE_SERVICENOW_PASSWORD or password-file) or client-id (OAuth)")
	}
	return &ServiceNowSink{sn}, nil
}

// ServiceNowSink is the opened servicenow target.
type ServiceNowSink struct{ Config ServiceNowConfig }

// Send syncs one tenant's rows, held whole, into the staging tables.
func (s *ServiceNowSink) Send(ctx context.Context, env target.Env, data Data) (target.Result, error) {
	return s.SendRows(ctx, env, data)
}

// SendRows syncs one tenant's rows into the staging tables, read as they are sent.
func (s *ServiceNowSink) SendRows(ctx context.Context, _ target.Env, data Rows) (target.Result, error) {
	return sent(SyncServiceNow(ctx, s.Config, data))
}

// Probe checks the credentials, read access and the column mapping (ProbeServiceNow).
func (s *ServiceNowSink) Probe(ctx context.Context) []target.Check {
	var out []target.Check
	for _, p := range ProbeServiceNow(ctx, s.Config) {
		out = append(out, target.Check{Target: s.Config.InstanceURL, Name: p.Check, Status: p.Status, Detail: p.Detail, Action: p.Action})
	}
	return out
}

// sent is a sink's result and error as the contract has them: refused rows are target.ErrRowsRefused too.
func sent(r Result, err error) (target.Result, error) {
	if errors.Is(err, ErrRowsRefused) {
		err = rowsRefused{err}
	}
	return target.Result{ExecutionID: r.ExecutionID, Sent: r.Sent, Counts: r.Counts}, err
}

// rowsRefused is a sink's ErrRowsRefused, also the contract's, its message unchanged.
type rowsRefused struct{ error }

func (e rowsRefused) Is(t error) bool { return t == target.ErrRowsRefused }
func (e rowsRefused) Unwrap() error   { return e.error }
