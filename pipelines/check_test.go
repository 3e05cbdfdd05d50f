package pipelines

import (
	"context"
	"strings"
	"testing"
)

// Graph's lines come first, in their order (the token, the permissions in its roles, Entra ID P1), then each
// environment's; a refused Graph token is the tenant's only line, since the same cause would repeat on every other.
func TestCheckGraphFirstAndARefusedTokenStops(t *testing.T) {
	sim, base := startSim(t, nil)
	cfg := testConfig(sim, base, t.TempDir())
	var got []string
	for _, l := range Check(context.Background(), cfg) {
		got = append(got, l.Source+" "+l.Check+" "+l.Status)
	}
	want := []string{"graph token ok", "graph permission User.Read.All ok", "graph permission AuditLog.Read.All ok",
		"graph permission Organization.Read.All ok", "graph permission ReportSettings.Read.All ok", "graph permission Reports.Read.All ok"}
	if len(got) < len(want)+3 || strings.Join(got[:len(want)], "\n") != strings.Join(want, "\n") {
		t.Fatalf("check lines:\n%s\nwant them to start with\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	p1 := -1
	for i, l := range got {
		if strings.HasPrefix(l, "graph Entra ID P1") {
			p1 = i
		}
		if !strings.HasPrefix(l, "graph ") && p1 < 0 {
			t.Errorf("line %q comes before Graph's Entra ID P1 line", l)
		}
	}

	cfg.ClientSecret = "not-the-secret-value-123"
	lines := Check(context.Background(), cfg)
	if len(lines) != 1 || lines[0].Source != "graph" || lines[0].Check != "token" || lines[0].Status != CheckFail ||
		lines[0].Target != base || !strings.Contains(lines[0].Detail, "AADSTS7000215") {
		t.Errorf("with a wrong secret: %+v; want the one failed Graph token line, naming the authority host and the AADSTS code", lines)
	}
}
