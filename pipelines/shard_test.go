package pipelines

import (
	"fmt"
	"strings"
	"testing"
)

func fakeTenants(n, from int) []Config {
	var cfgs []Config
	for i := from; i < from+n; i++ {
		cfgs = append(cfgs, Config{TenantID: fmt.Sprintf("%08x-1f2e-4d3c-8b7a-%012x", i*2654435761%(1<<32), i)})
	}
	return cfgs
}

// Every tenant is in exactly one of N shards, and a tenant added later moves no other tenant.
func TestShardEachTenantInOneShardStableWhenTenantsAreAdded(t *testing.T) {
	before := fakeTenants(200, 0)
	after := append(append([]Config(nil), before...), fakeTenants(50, 1000)...)
	for _, n := range []int{1, 2, 3, 8, 16} {
		where := map[string]int{}
		for i := 0; i < n; i++ {
			for _, c := range Shard(before, i, n) {
				if prev, ok := where[c.TenantID]; ok {
					t.Fatalf("N=%d: tenant %s in shards %d and %d", n, c.TenantID, prev, i)
				}
				where[c.TenantID] = i
			}
		}
		if len(where) != len(before) {
			t.Fatalf("N=%d: %d of %d tenants in a shard", n, len(where), len(before))
		}
		sizes := make([]int, n)
		for i := 0; i < n; i++ {
			got := Shard(after, i, n)
			sizes[i] = len(got)
			for _, c := range got {
				if prev, ok := where[c.TenantID]; ok && prev != i {
					t.Errorf("N=%d: adding tenants moved %s from shard %d to %d", n, c.TenantID, prev, i)
				}
			}
		}
		for i, s := range sizes {
			if s == 0 {
				t.Errorf("N=%d: shard %d of 250 tenants is empty (sizes %v)", n, i, sizes)
			}
		}
	}
	// The tenant id as written in the file, whatever its case, is one tenant.
	if a, b := ShardOf("Fabrikam.onmicrosoft.com", 8), ShardOf("fabrikam.onmicrosoft.com ", 8); a != b {
		t.Errorf("case and spaces move a tenant: %d, %d", a, b)
	}
	if got := ShardOf(strings.Repeat("x", 40), 1); got != 0 {
		t.Errorf("one shard: %d", got)
	}
}
