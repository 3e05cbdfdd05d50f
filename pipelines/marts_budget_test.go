package pipelines

import (
	"context"
	"database/sql"
	"fmt"
	"testing"
)

func TestMartsBudget(t *testing.T) {
	for _, tc := range []struct {
		licenses, events int64
		large            bool
		want             martsBudget
	}{
		{licenses: 30_267, events: 1_001_000, want: martsBudget{memory: "128MB", threads: 1}},
		{licenses: smallTenantLicenses, events: smallTenantEvents, want: martsBudget{memory: "128MB", threads: 1}},
		{licenses: 150_840, want: martsBudget{memory: "256MB"}},
		{licenses: 30_267, events: 10_000_000, want: martsBudget{memory: "256MB"}},
		{licenses: 10, large: true, want: martsBudget{memory: "256MB"}},
	} {
		if got := budgetFor(tc.licenses, tc.events, tc.large); got != tc.want {
			t.Errorf("budgetFor(%d, %d, %v) = %+v, want %+v", tc.licenses, tc.events, tc.large, got, tc.want)
		}
	}
}

// TestMartsOutOfMemory: what DuckDB says when a query needs more than its limit is what makes the marts retry with
// the large budget; any other error is not.
func TestMartsOutOfMemory(t *testing.T) {
	ctx := context.Background()
	db, err := sql.Open("duckdb", "")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	conn, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	for _, s := range []string{"SET memory_limit = '8MB'", "SET threads = 1", "SET temp_directory = ''"} {
		if _, err := conn.ExecContext(ctx, s); err != nil {
			t.Fatal(err)
		}
	}
	_, oom := conn.ExecContext(ctx, "CREATE TEMP TABLE big AS SELECT range AS i, repeat('x', 100) || range AS s FROM range(2000000) ORDER BY s DESC")
	_, syntax := conn.ExecContext(ctx, "SELEC 1")
	for _, tc := range []struct {
		name string
		err  error
		want bool
	}{
		{"out of memory, wrapped as the marts wrap it", fmt.Errorf("computing license_usage: %w", oom), true},
		{"a syntax error", syntax, false},
		{"no error", nil, false},
	} {
		if got := outOfMemory(tc.err); got != tc.want {
			t.Errorf("%s: outOfMemory(%v) = %v, want %v", tc.name, tc.err, got, tc.want)
		}
	}
}

// TestBudgetGivenAgainAfterSpilling: the large budget is given on the connection on which the small one ran out,
// after DuckDB spilled; giving it must not touch the spill directory, which DuckDB refuses to switch once used (a
// 1,000,000-audit run failed its marts so: "Cannot switch temporary directory after the current one has been used").
func TestBudgetGivenAgainAfterSpilling(t *testing.T) {
	ctx := context.Background()
	pool, err := sql.Open("duckdb", "")
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	db, err := pool.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	spill := t.TempDir()
	small, large := budgetFor(1, 1, false), budgetFor(1, 1, true)
	for _, set := range append(spillSettings(spill), small.settings()...) {
		if _, err := db.ExecContext(ctx, set); err != nil {
			t.Fatalf("%s: %v", set, err)
		}
	}
	// A sort larger than the small budget: DuckDB spills it to the directory.
	var n int64
	if err := db.QueryRowContext(ctx, "SELECT count(*) FROM (SELECT repeat('x', 60) || i AS s FROM range(4000000) t(i) ORDER BY s DESC LIMIT 5000000)").Scan(&n); err != nil {
		t.Fatalf("the spilling sort: %v", err)
	}
	if n != 4_000_000 {
		t.Fatalf("the sort counted %d rows, want 4000000", n)
	}
	for _, set := range large.settings() {
		if _, err := db.ExecContext(ctx, set); err != nil {
			t.Fatalf("giving the large budget after spilling: %s: %v", set, err)
		}
	}
}
