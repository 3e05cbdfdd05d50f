package main

import (
	"path/filepath"
	"testing"

	"github.com/seatlake/seatlake/internal/csvtest"
	"github.com/seatlake/seatlake/internal/tenantsim"
)

// runInto runs `seatlake run --quiet` with the environment into a new temporary warehouse and returns the warehouse.
func runInto(t *testing.T, env []string) string {
	t.Helper()
	wh := t.TempDir()
	if r := seatlake(t, env, "run", "--quiet", "--warehouse", wh); r.code != 0 {
		t.Fatalf("run: exit %d: %s", r.code, r.stderr)
	}
	return wh
}

// ranWarehouse is a warehouse into which `seatlake run` loaded the default simulated tenant, and the environment
// that points seatlake at that tenant.
func ranWarehouse(t *testing.T) (string, []string) {
	t.Helper()
	_, _, env := startSim(t, nil)
	return runInto(t, env), env
}

// startSeeded starts a simulated tenant of the seed (so its own tenant id), as startSim does, and returns it, its
// base URL and its client secret, for a config file's tenants list.
func startSeeded(t *testing.T, seed int64) (*tenantsim.Sim, string, string) {
	t.Helper()
	sim, base, _ := startSim(t, func(c *tenantsim.Config) { c.Seed = seed })
	_, _, secret := sim.Credentials()
	return sim, base, secret
}

// planOf writes the report's CSV files of the warehouse into dir (`report --csv`) and returns the lines of
// reclaim-plan.csv, the header first, and the index of each column by its name.
func planOf(t *testing.T, wh, dir string) ([][]string, map[string]int) {
	t.Helper()
	if r := seatlake(t, nil, "report", "--warehouse", wh, "--csv", dir); r.code != 0 {
		t.Fatalf("report --csv: exit %d: %s", r.code, r.stderr)
	}
	recs := csvtest.Read(t, filepath.Join(dir, "reclaim-plan.csv"))
	col := map[string]int{}
	for i, h := range recs[0] {
		col[h] = i
	}
	return recs, col
}
