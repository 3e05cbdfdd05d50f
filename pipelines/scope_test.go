package pipelines

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/seatlake/seatlake/extract/dataverse"
	"github.com/seatlake/seatlake/internal/tenantsim"
	"github.com/seatlake/seatlake/load/warehouse"
)

// TestEnvironmentFailing runs a tenant with three Dynamics environments, one of which has no application user:
// it is named as missing, the others are committed whole with their own watermarks, and a later run (the
// application user added) lands it without duplicating anything.
func TestEnvironmentFailing(t *testing.T) {
	sim, base := startSim(t, func(c *tenantsim.Config) {
		c.DataverseEnvs = 2
		c.NoApplicationUser = map[int]bool{1: true}
	})
	wh := t.TempDir()
	cfg := testConfig(sim, base, wh)
	dv := sim.DataverseURLs()
	sum, err := Run(context.Background(), cfg)
	if !errors.Is(err, ErrIncomplete) {
		t.Fatalf("run error = %v, want ErrIncomplete", err)
	}
	if len(sum.Missing) != 1 || !strings.Contains(sum.Missing[0], "dataverse "+dv[1]) || !strings.Contains(sum.Missing[0], "create an application user") {
		t.Fatalf("missing = %q: want the environment named with what to do", sum.Missing)
	}
	tr := sim.Truth()
	for _, env := range []string{dv[0], sim.FinOpsURLs()[0]} {
		for table, want := range tr.Environments[env] {
			if got := count(t, wh, fmt.Sprintf("SELECT count(*) FROM %s WHERE environment_url = '%s'", table, env)); got != want {
				t.Errorf("%s %s: %d rows, truth %d", table, env, got, want)
			}
		}
	}
	for _, table := range []string{"dataverse_users", "dataverse_audits", "dataverse_audit_settings"} {
		if got := count(t, wh, fmt.Sprintf("SELECT count(*) FROM %s WHERE environment_url = '%s'", table, dv[1])); got != 0 {
			t.Errorf("%s: %d rows of the failed environment landed", table, got)
		}
	}
	// Per-environment watermarks: the healthy environment's was committed, the failed one's was not.
	if _, ok, err := openState(t, wh, cfg.TenantID, dataverse.StateKey(dv[0])); err != nil || !ok {
		t.Errorf("no committed watermark for %s (%v)", dv[0], err)
	}
	if _, ok, _ := openState(t, wh, cfg.TenantID, dataverse.StateKey(dv[1])); ok {
		t.Errorf("a watermark was committed for the failed environment %s", dv[1])
	}

	// Run again and again: every environment whole, and the audits never duplicated.
	sim.SetApplicationUser(1, true)
	for i := range 2 {
		if _, err := Run(context.Background(), cfg); err != nil {
			t.Fatalf("run %d: %v", i+2, err)
		}
	}
	assertMatchesTruth(t, sim, wh)
	if got := count(t, wh, "SELECT count(*) - count(DISTINCT (environment_url, auditid)) FROM dataverse_audits"); got != 0 {
		t.Errorf("%d duplicate audit records in the view", got)
	}
}

func openState(t *testing.T, wh, tenant, key string) ([]byte, bool, error) {
	t.Helper()
	w, err := warehouse.Open(context.Background(), wh, nil)
	if err != nil {
		return nil, false, err
	}
	return w.State(tenant, key)
}
