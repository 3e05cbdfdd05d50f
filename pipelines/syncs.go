package pipelines

import (
	"context"
	"encoding/json"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/seatlake/seatlake/internal/table"
	"github.com/seatlake/seatlake/load/warehouse"
)

// recordTable is a table of what seatlake itself did (syncs, reclaim actions): a log of one row per act, keyed by
// id, with the tenant's name as the config file names it (or, unnamed there, as named records it), then cols.
func recordTable(name, id, named, doc string, cols ...table.Column) *table.Table {
	return table.New(name, table.Log, "", doc, append([]table.Column{
		{Name: id, Type: arrow.BinaryTypes.String, Key: true},
		{Name: "tenant_name", Type: arrow.BinaryTypes.String, Nullable: true, Doc: "the tenant's name in the config file (or " + named + ")"},
	}, cols...)...)
}

// SyncsTable is the record of every sync to an asset system, dry runs included, whatever its outcome.
var SyncsTable = recordTable("syncs", "sync_id", "as its latest run recorded it",
	"One row per sync to an asset system: target, dry run, when, what was sent per object type, the target's counts, status and error.",
	table.Column{Name: "target", Type: arrow.BinaryTypes.String, Doc: "the sync target's name: jsm-assets, servicenow or another registered one"},
	table.Column{Name: "dry_run", Type: arrow.FixedWidthTypes.Boolean},
	table.Column{Name: "started_at", Type: table.Timestamp},
	table.Column{Name: "ended_at", Type: table.Timestamp},
	table.Column{Name: "execution_id", Type: arrow.BinaryTypes.String, Nullable: true, Doc: "the Assets execution (or ServiceNow import sets)"},
	table.Column{Name: "sent_json", Type: arrow.BinaryTypes.String, Doc: "objects sent per type"},
	table.Column{Name: "counts_json", Type: arrow.BinaryTypes.String, Nullable: true, Doc: "the target's own counts, where it reports them"},
	table.Column{Name: "status", Type: arrow.BinaryTypes.String, Doc: "succeeded, failed or partial"},
	table.Column{Name: "error", Type: arrow.BinaryTypes.String, Nullable: true},
)

// writeSync stores one syncs row (never a token: the row holds ids, counts and the error's text).
func writeSync(ctx context.Context, wh *warehouse.Warehouse, target string, r SyncResult, dry bool, start, end time.Time) error {
	bt := table.NewBatcher(memory.DefaultAllocator, SyncsTable, 1, table.SinkFunc(func(ctx context.Context, rec arrow.RecordBatch) error {
		return wh.WriteRun(ctx, SyncsTable, r.TenantID, r.SyncID, rec)
	}))
	defer bt.Release()
	table.NewProvenance(bt.Builder(), r.TenantID, r.SyncID, start).Append()
	sent, _ := json.Marshal(r.Sent)
	bt.String("sync_id").Append(r.SyncID)
	appendOpt(bt.String("tenant_name"), r.TenantName)
	bt.String("target").Append(target)
	bt.Bool("dry_run").Append(dry)
	bt.Timestamp("started_at").Append(arrow.Timestamp(start.UnixMicro()))
	bt.Timestamp("ended_at").Append(arrow.Timestamp(end.UnixMicro()))
	appendOpt(bt.String("execution_id"), r.ExecutionID)
	bt.String("sent_json").Append(string(sent))
	counts := ""
	if r.Counts != nil {
		c, _ := json.Marshal(r.Counts)
		counts = string(c)
	}
	appendOpt(bt.String("counts_json"), counts)
	bt.String("status").Append(r.Status)
	errText := ""
	if r.Err != nil {
		errText = r.Err.Error()
	}
	appendOpt(bt.String("error"), errText)
	return bt.RowDone(ctx) // one row: the batch is full and goes to the sink
}

func appendOpt(b *array.StringBuilder, s string) {
	if s == "" {
		b.AppendNull()
		return
	}
	b.Append(s)
}
