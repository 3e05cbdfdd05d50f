package tenantsim

import (
	"runtime"
	"testing"
)

// A tenant of 100,000 users and 10,000,000 sign-ins is served without holding the sign-ins.
func TestLargeTenantHoldsNoSignIns(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a 10M sign-in tenant")
	}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	s := newSim(t, func(c *Config) { c.Users, c.SignIns, c.Days = 100_000, 10_000_000, 30 })
	runtime.GC()
	runtime.ReadMemStats(&after)
	if grown := int64(after.HeapAlloc) - int64(before.HeapAlloc); grown > 100<<20 {
		t.Errorf("the tenant holds %d MiB: more than its users need", grown>>20)
	}
	if n := s.Truth().Tables["graph_signins"]; n != 10_000_000 {
		t.Errorf("truth counts %d sign-ins, want 10,000,000", n)
	}
	tok := issueToken(t, s, "https://graph.microsoft.com/.default")
	rec := serveDirect(s, tok, "/v1.0/auditLogs/signIns?$filter=createdDateTime%20ge%202026-11-03T10:00:00Z%20and%20createdDateTime%20le%202026-11-03T10:04:59.9999999Z")
	p := decodePage(t, rec.Body.Bytes())
	if rec.Code != 200 || len(p.Value) != 1000 || p.NextLink == "" {
		t.Fatalf("a page from the middle of the history: %d, %d rows, nextLink %q", rec.Code, len(p.Value), p.NextLink)
	}
	runtime.KeepAlive(s)
}
