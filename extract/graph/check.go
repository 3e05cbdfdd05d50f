package graph

import (
	"bytes"
	"context"
	"errors"
	"strings"

	"github.com/golang-jwt/jwt/v5"

	"github.com/seatlake/seatlake/extract/odata"
	"github.com/seatlake/seatlake/extract/source"
	"github.com/seatlake/seatlake/internal/outbound"
)

// permissions are the Graph application permissions seatlake needs, with what each is for. Alternatives are
// separated by " or ".
var permissions = []struct{ perm, why string }{
	{"User.Read.All", "users and their licenses"},
	{"AuditLog.Read.All", "signInActivity and the sign-in logs"},
	{"Organization.Read.All or LicenseAssignment.Read.All", "subscribed SKUs"},
	{"ReportSettings.Read.All", "whether usage reports conceal names"},
	{"Reports.Read.All", "Microsoft 365 usage reports"},
}

// Check checks the tenant's Graph set-up: a token (without one nothing else of the tenant can work, so its
// failure stops the tenant's checks), the permissions in its roles claim (the token itself is never printed) and
// Entra ID P1.
func (Source) Check(ctx context.Context, _ source.Values, env source.Env) []source.Check {
	var out []source.Check
	add := func(target, check, status, detail, action string) {
		out = append(out, source.Check{Target: target, Name: check, Status: status, Detail: detail, Action: action})
	}
	cfg := env.HTTP(env.GraphEndpoint)
	tok, err := cfg.Tokens.Token(ctx)
	if err != nil {
		detail, action := source.TokenProblem(err)
		return append(out, source.Check{Target: env.AuthorityHost, Name: "token", Status: source.Fail, Detail: detail, Action: action, Stop: true})
	}
	add(env.AuthorityHost, "token", source.OK, "a Microsoft Graph token was issued", "")
	roles := tokenRoles(tok)
	for _, p := range permissions {
		held := false
		for _, alt := range strings.Split(p.perm, " or ") {
			held = held || roles[alt] || roles["Directory.Read.All"] && (alt == "User.Read.All" || alt == "Organization.Read.All")
		}
		name := strings.Split(p.perm, " or ")[0]
		if held {
			add(env.GraphEndpoint, "permission "+name, source.OK, "held, for "+p.why, "")
			continue
		}
		add(env.GraphEndpoint, "permission "+name, source.Fail, "not in the token's roles: needed for "+p.why,
			"grant the app the Microsoft Graph application permission "+name+" and admin consent")
	}
	// Only `seatlake reclaim --apply` writes: without the permission everything else works, so it is a warning.
	if anyRole(roles, "LicenseAssignment.ReadWrite.All", "User.ReadWrite.All", "Directory.ReadWrite.All") {
		add(env.GraphEndpoint, "permission LicenseAssignment.ReadWrite.All", source.OK, "held, for seatlake reclaim --apply (removing licenses)", "")
	} else {
		add(env.GraphEndpoint, "permission LicenseAssignment.ReadWrite.All", source.Warn,
			"not in the token's roles: seatlake reclaim --apply cannot remove licenses (runs, syncs and reports do not need it)",
			"grant the app the Microsoft Graph application permission LicenseAssignment.ReadWrite.All and admin consent, only if it is to remove licenses")
	}
	// Group names are for people to read: without a permission that reads groups, runs name them by id.
	if anyRole(roles, GroupPermission, "Group.Read.All", "Directory.Read.All", "Group.ReadWrite.All", "Directory.ReadWrite.All") {
		add(env.GraphEndpoint, "permission "+GroupPermission, source.OK, "held, for the names of the groups that assign licenses", "")
	} else {
		add(env.GraphEndpoint, "permission "+GroupPermission, source.Warn,
			"not in the token's roles: the groups that assign licenses are named by id only (runs still succeed)",
			"grant the app the Microsoft Graph application permission "+GroupPermission+" and admin consent, so reasons and actions name the groups")
	}
	return append(out, premium(ctx, odata.NewClient(cfg), env.GraphEndpoint))
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
func premium(ctx context.Context, c *odata.Client, endpoint string) source.Check {
	line := func(status, detail, action string) source.Check {
		return source.Check{Target: endpoint, Name: "Entra ID P1", Status: status, Detail: detail, Action: action}
	}
	var buf bytes.Buffer
	err := c.Get(ctx, strings.TrimRight(endpoint, "/")+"/v1.0/users?$select=id,signInActivity&$top=1", &buf)
	var he *outbound.Error
	switch {
	case err == nil:
		return line(source.OK, "signInActivity is readable", "")
	case errors.As(err, &he) && he.Code == codeNonPremium:
		return line(source.Warn, "the tenant has no Entra ID P1/P2: no signInActivity and no sign-in logs",
			"license Entra ID P1 (or a suite with it) for last sign-in evidence; runs still succeed without it")
	case errors.As(err, &he) && he.Status == 403:
		return line(source.Fail, source.OneLine(err.Error()), "grant the app the Microsoft Graph application permission AuditLog.Read.All and admin consent")
	default:
		return line(source.Fail, source.OneLine(err.Error()), "check the Graph endpoint and the network")
	}
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
