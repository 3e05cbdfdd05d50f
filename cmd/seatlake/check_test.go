package main

import (
	"strings"
	"testing"

	"github.com/seatlake/seatlake/internal/tenantsim"
)

func TestCLICheck(t *testing.T) {
	cases := []struct {
		name   string
		mutate func(*tenantsim.Config)
		code   int
		want   []string
	}{
		{"complete", nil, 0, []string{"OK   ", "graph permission AuditLog.Read.All: held", "application user: WhoAmI answered", "entities: SystemUsers"}},
		{"narrowed permission", func(c *tenantsim.Config) { c.GraphPermissions = []string{"User.Read.All", "Organization.Read.All"} }, 1,
			[]string{"FAIL", "permission AuditLog.Read.All", "-> grant the app the Microsoft Graph application permission AuditLog.Read.All and admin consent"}},
		{"no P1", func(c *tenantsim.Config) { c.Premium = false }, 0, []string{"WARN", "no Entra ID P1/P2"}},
		{"no application user, auditing off", func(c *tenantsim.Config) {
			c.DataverseEnvs = 2
			c.NoApplicationUser = map[int]bool{0: true}
			c.AuditingOff = map[int]bool{1: true}
		}, 1, []string{"FAIL", "-> create an application user for client id", "WARN", "auditing is off", "-> turn on \"Start Auditing\""}},
		{"missing F&O entity", func(c *tenantsim.Config) { c.FinOpsMissingEntity = []string{"SecurityRoles"} }, 1, []string{"FAIL", "entity SecurityRoles"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, _, env := startSim(t, tc.mutate)
			r := seatlake(t, env, "check")
			if r.code != tc.code {
				t.Fatalf("exit %d, want %d\n%s\n%s", r.code, tc.code, r.stdout, r.stderr)
			}
			for _, w := range tc.want {
				if !strings.Contains(r.stdout, w) {
					t.Errorf("output lacks %q:\n%s", w, r.stdout)
				}
			}
			if strings.Contains(r.stdout, "eyJ") {
				t.Errorf("a token was printed:\n%s", r.stdout)
			}
			j := seatlake(t, env, "check", "--format", "json")
			if j.code != tc.code || !strings.Contains(j.stdout, `"status": "`) {
				t.Errorf("--format json: exit %d\n%s", j.code, j.stdout)
			}
		})
	}
}
