package pipelines

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"testing"
)

// A run of one tenant writes the raw tables' catalog views while it computes its marts, and the catalog it puts in
// place holds the marts' and the run row's views as well: what a whole build after the run would hold.
func TestRunWritesTheCatalogAheadOfItsMarts(t *testing.T) {
	sim, base := startSim(t, nil)
	wh := t.TempDir()
	cfg := testConfig(sim, base, wh)
	var logs bytes.Buffer
	cfg.Logger = slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	sum, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	built := false
	for _, line := range bytes.Split(logs.Bytes(), []byte("\n")) {
		var rec struct {
			Msg   string `json:"msg"`
			Ahead *bool  `json:"ahead"`
		}
		if json.Unmarshal(line, &rec) == nil && rec.Msg == "catalog built" {
			built = true
			if rec.Ahead == nil || !*rec.Ahead {
				t.Errorf("the catalog of a one-tenant run was not written ahead of its marts: %s", line)
			}
		}
	}
	if !built {
		t.Fatal("no \"catalog built\" debug line")
	}
	assertMatchesTruth(t, sim, wh)
	if got, want := count(t, wh, "SELECT count(*) FROM license_usage"), sum.Tables["license_usage"]; got != want || want == 0 {
		t.Errorf("license_usage view: %d rows, the run computed %d", got, want)
	}
	if got := count(t, wh, "SELECT count(*) FROM runs WHERE run_id = '"+sum.RunID+"'"); got != 1 {
		t.Errorf("runs view: %d rows of the run, want 1", got)
	}
}
