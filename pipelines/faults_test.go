package pipelines

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/seatlake/seatlake/internal/tenantsim"
)

// sourcePaths are one endpoint of every source a run reads, as the simulator's fault injection names them (a path
// prefix, whichever port serves it).
var sourcePaths = []struct{ source, path string }{
	{"graph users", "/v1.0/users"},
	{"graph sign-ins", "/v1.0/auditLogs/signIns"},
	{"graph usage report", "/v1.0/reports/"},
	{"dataverse users", "/api/data/v9.2/systemusers"},
	{"dataverse audits", "/api/data/v9.2/audits"},
	{"dataverse audit settings", "/api/data/v9.2/organizations"},
	{"finops users", "/data/SystemUsers"},
	{"finops roles", "/data/SecurityRoles"},
	{"finops role assignments", "/data/SecurityUserRoles"},
}

// Every transient fault on every source's path: the run retries through it, succeeds and lands exactly the
// tenant. A second source never weakens the guarantee the first one had.
func TestEverySourceSurvivesTransientFaults(t *testing.T) {
	// Three in a row at most: one request's attempts (4 in these tests) outlast them, as they outlast a blip.
	groups := [][]tenantsim.FaultKind{
		{tenantsim.Status500, tenantsim.Status503, tenantsim.Status504},
		{tenantsim.Throttle429, tenantsim.ConnReset, tenantsim.TruncatedBody},
		{tenantsim.ExpireTokens},
	}
	sim, base := startSim(t, func(c *tenantsim.Config) { c.Users = 120 })
	for _, src := range sourcePaths {
		for _, kinds := range groups {
			t.Run(src.source+" "+string(kinds[0]), func(t *testing.T) {
				for _, k := range kinds {
					sim.InjectFault(tenantsim.Fault{Path: src.path, Kind: k, Count: 1, Delay: 50 * time.Millisecond})
				}
				defer sim.ClearFaults()
				wh := t.TempDir()
				sum, err := Run(context.Background(), testConfig(sim, base, wh))
				if err != nil || sum.Status != StatusSucceeded {
					t.Fatalf("faults %v on %s: status %v, err %v, missing %v", kinds, src.path, sum.Status, err, sum.Missing)
				}
				assertMatchesTruth(t, sim, wh)
			})
		}
	}
}

// A source that keeps failing: the run commits everything else, names exactly what is missing, and is incomplete
// (exit 3), never green; Graph's users are the roster, so their failure fails the run.
func TestEverySourcePersistentFaultIsNamed(t *testing.T) {
	sim, base := startSim(t, func(c *tenantsim.Config) { c.Users = 120 })
	for _, src := range sourcePaths {
		t.Run(src.source, func(t *testing.T) {
			sim.InjectFault(tenantsim.Fault{Path: src.path, Kind: tenantsim.Status503, Count: 1000})
			defer sim.ClearFaults()
			wh := t.TempDir()
			cfg := testConfig(sim, base, wh)
			cfg.Retry.MaxTotalWait = time.Second
			sum, err := Run(context.Background(), cfg)
			switch {
			case src.path == "/v1.0/users":
				if err == nil || errors.Is(err, ErrIncomplete) || sum.Status != StatusFailed {
					t.Fatalf("users failing: status %s, err %v: want a failed run", sum.Status, err)
				}
				return
			case !errors.Is(err, ErrIncomplete) || sum.Status != StatusIncomplete:
				t.Fatalf("%s failing: status %s, err %v: want incomplete", src.path, sum.Status, err)
			}
			if len(sum.Missing) == 0 || !strings.Contains(strings.Join(sum.Missing, "\n"), "503") && !strings.Contains(strings.Join(sum.Missing, "\n"), "Service") {
				t.Errorf("missing %q does not name the failure", sum.Missing)
			}
			if got, want := count(t, wh, "SELECT count(*) FROM graph_users"), sim.Truth().Tables["graph_users"]; got != want {
				t.Errorf("the rest was not committed: graph_users %d, want %d", got, want)
			}
		})
	}
}
