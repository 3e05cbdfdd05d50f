package pipelines

import (
	"cmp"
	"context"
	"os"
	"path/filepath"
	"time"

	"github.com/seatlake/seatlake/extract/source"
	"github.com/seatlake/seatlake/internal/outbound"
	"github.com/seatlake/seatlake/load/assets"
)

// Check results.
const (
	CheckOK   = "ok"
	CheckWarn = "warn"
	CheckFail = "fail"
)

// CheckResult is one line of `seatlake check`: what was checked, where, how it went and what to do.
type CheckResult struct {
	Tenant string `json:"tenant"`
	Source string `json:"source"` // graph, dataverse or finops
	Target string `json:"target"` // the endpoint or environment URL
	Check  string `json:"check"`
	Status string `json:"status"`
	Detail string `json:"detail,omitempty"`
	Action string `json:"action,omitempty"`
}

// Check validates a tenant's setup before a run: the registered sources' checks, in their order (Graph's token,
// the permissions in its roles claim and Entra ID P1; for each Dataverse environment the application user, audit
// read access and audit settings; for each F&O environment the entities in $metadata), then each F&O
// environment's business events endpoint. It sends only reads and a handful of requests.
func Check(ctx context.Context, cfg Config) []CheckResult {
	cfg.Defaults()
	k := &checker{cfg: cfg, retry: outbound.RetryPolicy{MaxAttempts: 3, MaxTotalWait: 30 * time.Second}}
	if cfg.SetupErr != nil {
		k.add("config", "", "credentials", CheckFail, oneLine(cfg.SetupErr.Error()), "fix the tenant's credential as the detail says; the other tenants are checked")
		return k.out
	}
	if err := cfg.Validate(); err != nil {
		k.add("config", "", "configuration", CheckFail, oneLine(err.Error()), "fix the configuration")
		return k.out
	}
	cfg.Retry = k.retry
	lines, stopped := checkRegistered(ctx, cfg)
	k.out = append(k.out, lines...)
	if stopped {
		return k.out // nothing else can work without a token: the same cause would repeat on every line
	}
	for _, env := range cfg.finOpsURLs() {
		checkEventsEndpoint(cmp.Or(cfg.EventsDir, eventsDirOf(cfg.Warehouse)), env, k.add)
	}
	return k.out
}

// checker gathers one tenant's check lines.
type checker struct {
	cfg   Config
	retry outbound.RetryPolicy
	out   []CheckResult
}

func (k *checker) add(source, target, check, status, detail, action string) {
	k.out = append(k.out, CheckResult{Tenant: k.cfg.Name, Source: source, Target: target, Check: check, Status: status, Detail: detail, Action: action})
}

// checkEventsEndpoint says whether the environment has a business events endpoint (a callback secret made by
// `seatlake events new-endpoint`) and when the receiver last got an event from it. Neither is needed for a run.
func checkEventsEndpoint(dir, env string, add func(source, target, check, status, detail, action string)) {
	name := EventsEnvName(env)
	if dir == "" {
		return
	}
	if _, err := os.Stat(SecretPathIn(dir, name)); err != nil {
		add("finops", env, "events endpoint", CheckOK, "not configured (optional: without it, user and role changes are seen by the nightly run; "+
			"seatlake events new-endpoint --finops "+name+" makes one)", "")
		return
	}
	st, err := readEventsStatus(filepath.Join(dir, "status.json"))
	last, ok := st.Environments[name]
	if err != nil || !ok {
		add("finops", env, "events endpoint", CheckWarn, "configured ("+name+"), but no event has been received yet (no last event)",
			"register the callback URL in F&O (Business events > Endpoints > HTTPS), activate events for it, and keep seatlake events serve running")
		return
	}
	add("finops", env, "events endpoint", CheckOK, "configured ("+name+"); last event received "+last.UTC().Format(time.RFC3339), "")
}

// eventsDirOf is the default events folder of a warehouse, "" without a warehouse.
func eventsDirOf(wh string) string {
	if wh == "" {
		return ""
	}
	return EventsDir(wh)
}

func oneLine(s string) string { return source.OneLine(s) }

// SyncTargets are the asset systems the config file syncs into, as `seatlake check` probes them.
type SyncTargets struct {
	JSM        []JSMTarget // one per import source: the shared one, or each tenant's own
	ServiceNow *assets.ServiceNowConfig
}

// JSMTarget is one Assets import source and the tenant whose it is ("-" for the shared one).
type JSMTarget struct {
	Tenant string
	Config assets.Config
}

// CheckSyncTargets probes each configured asset system without sending anything: a token or a password that would
// fail tonight's sync fails here today.
func CheckSyncTargets(ctx context.Context, t SyncTargets) []CheckResult {
	var out []CheckResult
	add := func(source, target, check, status, detail, action string) {
		out = append(out, CheckResult{Tenant: "-", Source: source, Target: target, Check: check, Status: status, Detail: detail, Action: action})
	}
	for _, j := range t.JSM {
		status, err := assets.ProbeJSM(ctx, j.Config)
		res := func(status, detail, action string) {
			out = append(out, CheckResult{Tenant: j.Tenant, Source: "jsm-assets", Target: j.Config.BaseURL, Check: "import source", Status: status, Detail: detail, Action: action})
		}
		switch {
		case err != nil:
			res(CheckFail, oneLine(err.Error()), "fix the container token or the import source in Assets before tonight's sync")
		case status == "RUNNING":
			res(CheckWarn, "an import is RUNNING on the import source", "let it finish, or cancel it in Assets: a sync cannot start while it runs")
		default:
			res(CheckOK, "the container token is taken; the import source is "+status, "")
		}
	}
	if t.ServiceNow != nil {
		// The credentials (the OAuth grant's set-up included), read access, and the column mapping insertMultiple uses.
		status := map[string]string{assets.ProbeOK: CheckOK, assets.ProbeWarn: CheckWarn, assets.ProbeFail: CheckFail}
		for _, p := range assets.ProbeServiceNow(ctx, *t.ServiceNow) {
			add("servicenow", t.ServiceNow.InstanceURL, p.Check, status[p.Status], oneLine(p.Detail), p.Action)
		}
	}
	return out
}
