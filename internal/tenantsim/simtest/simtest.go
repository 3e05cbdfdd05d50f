// Package simtest starts the tenant simulator (internal/tenantsim) for other packages' tests, as net/http/httptest
// starts a server: on loopback, closed when the test ends.
package simtest

import (
	"testing"

	"github.com/seatlake/seatlake/internal/tenantsim"
)

// Start starts a simulator of tenantsim.DefaultConfig, changed by each non-nil mutate in order, on 127.0.0.1 and
// closes it when the test ends. It returns the simulator and its base URL (the authority host and Graph endpoint).
func Start(t testing.TB, mutate ...func(*tenantsim.Config)) (*tenantsim.Sim, string) {
	t.Helper()
	cfg := tenantsim.DefaultConfig()
	for _, m := range mutate {
		if m != nil {
			m(&cfg)
		}
	}
	sim, err := tenantsim.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	base, err := sim.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sim.Close() })
	return sim, base
}
