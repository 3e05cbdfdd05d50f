package catalog

import (
	"bytes"
	"context"
	"database/sql"
	"testing"

	"github.com/duckdb/duckdb-go/v2"
)

// Intervals print as DuckDB itself writes them: the test asks DuckDB for its own text of each interval and compares.
func TestIntervalsPrintAsDuckDBDoes(t *testing.T) {
	db, err := sql.Open("duckdb", "")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, lit := range []string{
		"INTERVAL 217363555 MICROSECONDS", "INTERVAL 0 SECONDS", "INTERVAL 2 DAYS + INTERVAL 13057 SECONDS",
		"INTERVAL 1 DAY", "INTERVAL 14 MONTHS + INTERVAL 3 DAYS + INTERVAL 4 HOURS + INTERVAL 500 MILLISECONDS",
		"INTERVAL 1 MONTH", "INTERVAL 12 MONTHS", "INTERVAL 27 HOURS", "INTERVAL (-90) SECONDS", "INTERVAL (-1) DAY",
		"INTERVAL (-14) MONTHS", "INTERVAL 1 MICROSECOND", "INTERVAL 10 MILLISECONDS",
		"TIMESTAMP '2026-12-06 17:33:10' - TIMESTAMP '2026-12-06 17:29:32.636445'",
	} {
		var v duckdb.Interval
		var want string
		if err := db.QueryRow("SELECT "+lit+", CAST("+lit+" AS VARCHAR)").Scan(&v, &want); err != nil {
			t.Fatalf("%s: %v", lit, err)
		}
		if got := formatInterval(v); got != want {
			t.Errorf("%s: %q, DuckDB writes %q", lit, got, want)
		}
	}
}

// In every output format an interval reads as a duration, never as its months, days and microseconds.
func TestQueryPrintsIntervalsReadably(t *testing.T) {
	root := t.TempDir()
	ctx := context.Background()
	if err := Build(ctx, root, nil); err != nil {
		t.Fatal(err)
	}
	q := `SELECT INTERVAL 217363555 MICROSECONDS AS took, INTERVAL 2 DAYS + INTERVAL 13057 SECONDS AS waited, NULL::INTERVAL AS none`
	for format, want := range map[string]string{
		"table": "took             waited           none\n---------------  ---------------  ----\n00:03:37.363555  2 days 03:37:37  NULL\n(1 row)\n",
		"csv":   "took,waited,none\n00:03:37.363555,2 days 03:37:37,\n",
		"json":  "[\n{\"took\":\"00:03:37.363555\",\"waited\":\"2 days 03:37:37\",\"none\":null}\n]\n",
	} {
		var out bytes.Buffer
		if err := Query(ctx, root, q, format, &out); err != nil {
			t.Fatal(err)
		}
		if out.String() != want {
			t.Errorf("%s:\n%s\nwant\n%s", format, out.String(), want)
		}
	}
}
