package pipelines

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/seatlake/seatlake/internal/table"
)

// Run statuses.
const (
	StatusSucceeded  = "succeeded"
	StatusIncomplete = "incomplete" // committed what it fetched, but some windows or streams are missing
	StatusFailed     = "failed"     // nothing committed
	// StatusInterrupted: a signal (Ctrl-C, a CronJob's deadline, a systemd stop) stopped the run; nothing of it
	// was committed unless the commit had already happened, and the next run resumes from the last watermarks.
	StatusInterrupted = "interrupted"
)

// StreamStats is what one stream did.
type StreamStats struct {
	Rows          int64   `json:"rows"`
	Pages         int64   `json:"pages"`
	Requests      int64   `json:"requests"`
	Retries       int64   `json:"retries"`
	Throttled     int64   `json:"throttled"`
	WaitedSeconds float64 `json:"waited_seconds"`
	// Windows, for a windowed stream: how many it fetched, and the first window's start and the last one's end.
	Windows     int64     `json:"windows,omitempty"`
	FirstWindow time.Time `json:"first_window,omitzero"`
	LastWindow  time.Time `json:"last_window,omitzero"`
}

// Summary is the run summary: printed at the end and stored as one row in runs/.
type Summary struct {
	RunID     string                 `json:"run_id"`
	TenantID  string                 `json:"tenant_id"`
	Tenant    string                 `json:"tenant,omitempty"` // the tenant's name in the config file
	StartedAt time.Time              `json:"started_at"`
	EndedAt   time.Time              `json:"ended_at"`
	Status    string                 `json:"status"`
	Tables    map[string]int64       `json:"tables"`  // rows written per table
	Streams   map[string]StreamStats `json:"streams"` // requests and waits per stream
	Warnings  []string               `json:"warnings,omitempty"`
	// NewWarnings are the warnings the tenant's last committed run did not have: conditions that appeared or
	// changed. A quiet run prints only these.
	NewWarnings []string `json:"new_warnings,omitempty"`
	Missing     []string `json:"missing,omitempty"` // what was not fetched, precisely
	Error       string   `json:"error,omitempty"`
	// Environments has rows per table for each Dynamics environment, by environment URL.
	Environments map[string]map[string]int64 `json:"environments,omitempty"`
	// CommitRetries are the commit attempts past the first that the run's commits needed (other jobs committing
	// to the same tables at once, unknown outcomes looked up).
	CommitRetries int64 `json:"commit_retries"`
	// Snapshots is the Iceberg snapshot id of every table the run committed (its marts included), by table name.
	Snapshots map[string]int64 `json:"snapshots,omitempty"`
}

// Totals adds up the streams.
func (s *Summary) Totals() StreamStats {
	var t StreamStats
	for _, st := range s.Streams {
		t.Pages += st.Pages
		t.Requests += st.Requests
		t.Retries += st.Retries
		t.Throttled += st.Throttled
		t.WaitedSeconds += st.WaitedSeconds
	}
	return t
}

// Print writes the summary for a person.
func (s *Summary) Print(w io.Writer) {
	t := s.Totals()
	tenant := TenantRef{Name: s.Tenant, ID: s.TenantID}.Label()
	took := ""
	if !s.StartedAt.IsZero() && !s.EndedAt.Before(s.StartedAt) {
		took = " in " + s.EndedAt.Sub(s.StartedAt).Round(time.Millisecond).String()
	}
	fmt.Fprintf(w, "run %s  tenant %s  %s%s\n", s.RunID, tenant, strings.ToUpper(s.Status), took)
	header := "table\trows\t\n"
	if s.Status == StatusFailed {
		header = "table\trows fetched, not committed\t\n" // a failed run landed nothing: these are not rows in the warehouse
	}
	if len(s.Tables) > 0 {
		printRows(w, header, "", s.Tables)
	}
	for _, e := range slices.Sorted(maps.Keys(s.Environments)) {
		fmt.Fprintf(w, "environment %s\n", e)
		printRows(w, "", "  ", s.Environments[e])
	}
	fmt.Fprintf(w, "requests %d  throttled (429) %d  retries %d  waited %.1fs (summed over concurrent requests)\n", t.Requests, t.Throttled, t.Retries, t.WaitedSeconds)
	for _, m := range s.Missing {
		fmt.Fprintf(w, "MISSING: %s\n", m)
	}
	for _, warn := range s.Warnings {
		fmt.Fprintf(w, "warning: %s\n", warn)
	}
	if s.Error != "" {
		fmt.Fprintf(w, "error: %s\n", s.Error)
	}
}

// printRows prints rows per table, sorted by table, numbers aligned right.
func printRows(w io.Writer, header, indent string, rows map[string]int64) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprint(tw, header)
	for _, t := range slices.Sorted(maps.Keys(rows)) {
		fmt.Fprintf(tw, "%s%s\t%d\t\n", indent, t, rows[t])
	}
	tw.Flush()
}

// RunsTable is the declaration of runs/: one row per run.
var RunsTable = table.New("runs", table.Log, "",
	"One row per run: the tenant's name, status, rows per table, requests, throttling, warnings and what is missing.",
	table.Column{Name: "tenant_name", Type: arrow.BinaryTypes.String, Nullable: true, Doc: "the tenant's name in the config file (its id when run without one)"},
	table.Column{Name: "started_at", Type: table.Timestamp},
	table.Column{Name: "ended_at", Type: table.Timestamp},
	table.Column{Name: "status", Type: arrow.BinaryTypes.String, Doc: "succeeded, incomplete or failed"},
	table.Column{Name: "rows_total", Type: arrow.PrimitiveTypes.Int64},
	table.Column{Name: "requests", Type: arrow.PrimitiveTypes.Int64},
	table.Column{Name: "throttled", Type: arrow.PrimitiveTypes.Int64, Doc: "429 answers received (each retried)"},
	table.Column{Name: "retries", Type: arrow.PrimitiveTypes.Int64},
	table.Column{Name: "waited_seconds", Type: arrow.PrimitiveTypes.Float64},
	table.Column{Name: "tables_json", Type: arrow.BinaryTypes.String, Doc: `rows per table, e.g. {"graph_users": 2000}`},
	table.Column{Name: "streams_json", Type: arrow.BinaryTypes.String, Doc: "rows, pages, requests, retries, 429s and waits per stream"},
	table.Column{Name: "environments_json", Type: arrow.BinaryTypes.String, Nullable: true, Doc: "rows per table for each Dynamics environment"},
	table.Column{Name: "warnings", Type: arrow.ListOf(arrow.BinaryTypes.String), Nullable: true},
	table.Column{Name: "missing", Type: arrow.ListOf(arrow.BinaryTypes.String), Nullable: true},
	table.Column{Name: "error", Type: arrow.BinaryTypes.String, Nullable: true},
	table.Column{Name: "commit_retries", Type: arrow.PrimitiveTypes.Int64, Nullable: true, Doc: "commit attempts past the first: other jobs committing to the same tables at once, unknown outcomes looked up"},
	table.Column{Name: "snapshots_json", Type: arrow.BinaryTypes.String, Nullable: true, Doc: `the Iceberg snapshot id of every table the run committed, e.g. {"graph_users": 5083…}`},
)

// record builds the runs/ row. The caller releases it.
func (s *Summary) record(mem memory.Allocator) (arrow.RecordBatch, error) {
	b := array.NewRecordBuilder(mem, RunsTable.Schema())
	defer b.Release()
	tables, err := json.Marshal(s.Tables)
	if err != nil {
		return nil, fmt.Errorf("encoding run tables: %w", err)
	}
	streams, err := json.Marshal(s.Streams)
	if err != nil {
		return nil, fmt.Errorf("encoding run streams: %w", err)
	}
	var total int64
	for _, n := range s.Tables {
		total += n
	}
	t := s.Totals()
	str := func(i int) *array.StringBuilder { return b.Field(i).(*array.StringBuilder) }
	ts := func(i int, v time.Time) {
		b.Field(i).(*array.TimestampBuilder).Append(arrow.Timestamp(v.UTC().UnixMicro()))
	}
	i64 := func(i int, v int64) { b.Field(i).(*array.Int64Builder).Append(v) }
	list := func(i int, vs []string) {
		lb := b.Field(i).(*array.ListBuilder)
		if vs == nil {
			lb.AppendNull()
			return
		}
		lb.Append(true)
		for _, v := range vs {
			lb.ValueBuilder().(*array.StringBuilder).Append(v)
		}
	}
	str(0).Append(s.TenantID)
	str(1).Append(s.RunID)
	ts(2, s.EndedAt)
	if s.Tenant == "" {
		str(3).AppendNull()
	} else {
		str(3).Append(s.Tenant)
	}
	ts(4, s.StartedAt)
	ts(5, s.EndedAt)
	str(6).Append(s.Status)
	i64(7, total)
	i64(8, t.Requests)
	i64(9, t.Throttled)
	i64(10, t.Retries)
	b.Field(11).(*array.Float64Builder).Append(t.WaitedSeconds)
	str(12).Append(string(tables))
	str(13).Append(string(streams))
	if len(s.Environments) == 0 {
		str(14).AppendNull()
	} else {
		envs, err := json.Marshal(s.Environments)
		if err != nil {
			return nil, fmt.Errorf("encoding run environments: %w", err)
		}
		str(14).Append(string(envs))
	}
	list(15, s.Warnings)
	list(16, s.Missing)
	if s.Error == "" {
		str(17).AppendNull()
	} else {
		str(17).Append(s.Error)
	}
	i64(18, s.CommitRetries)
	if len(s.Snapshots) == 0 {
		str(19).AppendNull()
	} else {
		snaps, err := json.Marshal(s.Snapshots)
		if err != nil {
			return nil, fmt.Errorf("encoding run snapshots: %w", err)
		}
		str(19).Append(string(snaps))
	}
	return b.NewRecordBatch(), nil
}
