package pipelines

import (
	"cmp"
	"context"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/seatlake/seatlake/extract/finops"
	"github.com/seatlake/seatlake/extract/source"
	"github.com/seatlake/seatlake/internal/outbound"
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
	// Each F&O environment's business events endpoint, first among its lines (events.go receives them).
	for _, env := range cfg.finOpsURLs() {
		i := slices.IndexFunc(k.out, func(c CheckResult) bool { return c.Source == finops.Source{}.Name() && c.Target == env })
		if i < 0 {
			i = len(k.out)
		}
		var lines []CheckResult
		checkEventsEndpoint(cmp.Or(cfg.EventsDir, eventsDirOf(cfg.Warehouse)), env, func(source, target, check, status, detail, action string) {
			lines = append(lines, CheckResult{Tenant: cfg.Name, Source: source, Target: target, Check: check, Status: status, Detail: detail, Action: action})
		})
		k.out = slices.Insert(k.out, i, lines...)
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
