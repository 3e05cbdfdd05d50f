package pipelines

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/seatlake/seatlake/extract/finops"
	"github.com/seatlake/seatlake/extract/graph"
	"github.com/seatlake/seatlake/extract/msauth"
	"github.com/seatlake/seatlake/extract/odata"
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

// graphPermissions are the Graph application permissions seatlake needs, with what each is for. Alternatives are
// separated by " or ".
var graphPermissions = []struct{ perm, why string }{
	{"User.Read.All", "users and their licenses"},
	{"AuditLog.Read.All", "signInActivity and the sign-in logs"},
	{"Organization.Read.All or LicenseAssignment.Read.All", "subscribed SKUs"},
	{"ReportSettings.Read.All", "whether usage reports conceal names"},
	{"Reports.Read.All", "Microsoft 365 usage reports"},
}

// Check validates a tenant's setup before a run: tokens for each resource, the Graph permissions in the token's
// roles claim (the token itself is never printed), Entra ID P1, and for each Dataverse environment the application
// user, audit read access and audit settings, for each F&O environment the entities in $metadata. It sends only
// reads and a handful of requests.
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
	k.auth = cfg.auth(cfg.Logger)
	if !k.graph(ctx) {
		return k.out // nothing else can work without a token: the same cause would repeat on every line
	}
	cfg.Retry = k.retry
	k.out = append(k.out, checkRegistered(ctx, cfg)...)
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
	auth  msauth.Config
	retry outbound.RetryPolicy
	out   []CheckResult
}

func (k *checker) add(source, target, check, status, detail, action string) {
	k.out = append(k.out, CheckResult{Tenant: k.cfg.Name, Source: source, Target: target, Check: check, Status: status, Detail: detail, Action: action})
}

func (k *checker) client(tokens *msauth.TokenSource, header http.Header) *odata.Client {
	return odata.NewClient(odata.Config{HTTPClient: k.cfg.httpClient(0), Tokens: tokens, Retry: k.retry, RequestTimeout: k.cfg.RequestTimeout, Header: header, Logger: k.cfg.Logger})
}

// graph checks the Graph token, the permissions in its roles and Entra ID P1; false when no token was issued.
func (k *checker) graph(ctx context.Context) bool {
	cfg := k.cfg
	graphTokens := msauth.NewTokenSource(k.auth, cfg.GraphEndpoint)
	tok, err := graphTokens.Token(ctx)
	if err != nil {
		detail, action := source.TokenProblem(err)
		k.add("graph", cfg.AuthorityHost, "token", CheckFail, detail, action)
		return false
	}
	k.add("graph", cfg.AuthorityHost, "token", CheckOK, "a Microsoft Graph token was issued", "")
	k.graphPermissions(tokenRoles(tok))
	k.premium(ctx, graphTokens)
	return true
}

// graphPermissions checks the Graph application permissions in the token's roles.
func (k *checker) graphPermissions(roles map[string]bool) {
	cfg := k.cfg
	for _, p := range graphPermissions {
		held := false
		for _, alt := range strings.Split(p.perm, " or ") {
			held = held || roles[alt] || roles["Directory.Read.All"] && (alt == "User.Read.All" || alt == "Organization.Read.All")
		}
		name := strings.Split(p.perm, " or ")[0]
		if held {
			k.add("graph", cfg.GraphEndpoint, "permission "+name, CheckOK, "held, for "+p.why, "")
			continue
		}
		k.add("graph", cfg.GraphEndpoint, "permission "+name, CheckFail, "not in the token's roles: needed for "+p.why,
			"grant the app the Microsoft Graph application permission "+name+" and admin consent")
	}
	// Only `seatlake reclaim --apply` writes: without the permission everything else works, so it is a warning.
	if anyRole(roles, "LicenseAssignment.ReadWrite.All", "User.ReadWrite.All", "Directory.ReadWrite.All") {
		k.add("graph", cfg.GraphEndpoint, "permission LicenseAssignment.ReadWrite.All", CheckOK, "held, for seatlake reclaim --apply (removing licenses)", "")
	} else {
		k.add("graph", cfg.GraphEndpoint, "permission LicenseAssignment.ReadWrite.All", CheckWarn,
			"not in the token's roles: seatlake reclaim --apply cannot remove licenses (runs, syncs and reports do not need it)",
			"grant the app the Microsoft Graph application permission LicenseAssignment.ReadWrite.All and admin consent, only if it is to remove licenses")
	}
	// Group names are for people to read: without a permission that reads groups, runs name them by id.
	if anyRole(roles, graph.GroupPermission, "Group.Read.All", "Directory.Read.All", "Group.ReadWrite.All", "Directory.ReadWrite.All") {
		k.add("graph", cfg.GraphEndpoint, "permission "+graph.GroupPermission, CheckOK, "held, for the names of the groups that assign licenses", "")
	} else {
		k.add("graph", cfg.GraphEndpoint, "permission "+graph.GroupPermission, CheckWarn,
			"not in the token's roles: the groups that assign licenses are named by id only (runs still succeed)",
			"grant the app the Microsoft Graph application permission "+graph.GroupPermission+" and admin consent, so reasons and actions name the groups")
	}
}

func anyRole(roles map[string]bool, names ...string) bool {
	for _, n := range names {
		if roles[n] {
			return true
		}
	}
	return false
}

// premium checks that signInActivity is readable: Entra ID P1 and AuditLog.Read.All.
func (k *checker) premium(ctx context.Context, tokens *msauth.TokenSource) {
	cfg := k.cfg
	var buf bytes.Buffer
	err := k.client(tokens, nil).Get(ctx, strings.TrimRight(cfg.GraphEndpoint, "/")+"/v1.0/users?$select=id,signInActivity&$top=1", &buf)
	var he *outbound.Error
	switch {
	case err == nil:
		k.add("graph", cfg.GraphEndpoint, "Entra ID P1", CheckOK, "signInActivity is readable", "")
	case errors.As(err, &he) && he.Code == "Authentication_RequestFromNonPremiumTenantOrB2CTenant":
		k.add("graph", cfg.GraphEndpoint, "Entra ID P1", CheckWarn, "the tenant has no Entra ID P1/P2: no signInActivity and no sign-in logs",
			"license Entra ID P1 (or a suite with it) for last sign-in evidence; runs still succeed without it")
	case errors.As(err, &he) && he.Status == 403:
		k.add("graph", cfg.GraphEndpoint, "Entra ID P1", CheckFail, oneLine(err.Error()),
			"grant the app the Microsoft Graph application permission AuditLog.Read.All and admin consent")
	default:
		k.add("graph", cfg.GraphEndpoint, "Entra ID P1", CheckFail, oneLine(err.Error()), "check the Graph endpoint and the network")
	}
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

// tokenRoles reads the roles claim of an access token. The token comes straight from the identity platform over
// TLS, so its signature is not what is checked here: only what permissions it says the app holds.
func tokenRoles(tok string) map[string]bool {
	roles := map[string]bool{}
	claims := jwt.MapClaims{}
	if _, _, err := jwt.NewParser().ParseUnverified(tok, claims); err != nil {
		return roles
	}
	if rs, ok := claims["roles"].([]any); ok {
		for _, r := range rs {
			if s, ok := r.(string); ok {
				roles[s] = true
			}
		}
	}
	return roles
}

func oneLine(s string) string { return source.OneLine(s) }
