package table

import (
	"fmt"

	"github.com/apache/arrow-go/v18/arrow"
)

// Kind says how a table is partitioned in the warehouse.
type Kind int

const (
	// Snapshot tables hold the state of a source on one day: raw/<table>/tenant=<id>/snapshot_date=YYYY-MM-DD/.
	// A later run of the same day replaces that day's snapshot.
	Snapshot Kind = iota + 1
	// Event tables hold immutable events: raw/<table>/tenant=<id>/event_date=YYYY-MM-DD/, the date taken from the
	// table's EventTime column. Views deduplicate them on the key.
	Event
	// Log tables keep one file per run under <name>/tenant=<id>/<run_id>.parquet (the run summaries).
	Log
)

func (k Kind) String() string {
	switch k {
	case Snapshot:
		return "snapshot"
	case Event:
		return "event"
	case Log:
		return "log"
	}
	return fmt.Sprintf("Kind(%d)", int(k))
}

// Column is one declared column.
type Column struct {
	Name        string
	Type        arrow.DataType
	Nullable    bool
	Key         bool // part of the row's identity (deduplication key)
	Incremental bool // the column incremental extraction advances on
	// HighCardinality marks columns whose values rarely repeat (ids, IP addresses): Parquet dictionary encoding
	// would only cost time and space there, so writers turn it off for them.
	HighCardinality bool
	Doc             string
}

// Table is one declared warehouse table.
type Table struct {
	Name    string // source-prefixed snake_case, e.g. graph_users: the contract for views and BI
	Kind    Kind
	Columns []Column
	// EventTime names the timestamp column whose UTC date is the event_date partition (Event tables only).
	EventTime string
	Doc       string

	schema *arrow.Schema
}

// Timestamp is the only timestamp type the warehouse uses: microseconds, UTC.
var Timestamp = &arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: "UTC"}

// Common columns every raw row carries.
var (
	TenantID    = Column{Name: "tenant_id", Type: arrow.BinaryTypes.String, Doc: "Entra tenant id"}
	RunID       = Column{Name: "run_id", Type: arrow.BinaryTypes.String, Doc: "the run that extracted the row"}
	ExtractedAt = Column{Name: "extracted_at", Type: Timestamp, Doc: "when the run extracted the row (UTC)"}
)

// New declares a raw table: the provenance columns tenant_id, run_id and extracted_at come first, then cols.
// It panics on a malformed declaration, since declarations are package-level constants of the code.
func New(name string, kind Kind, eventTime string, doc string, cols ...Column) *Table {
	all := append([]Column{TenantID, RunID, ExtractedAt}, cols...)
	t := &Table{Name: name, Kind: kind, Columns: all, EventTime: eventTime, Doc: doc}
	fields := make([]arrow.Field, len(all))
	seen := map[string]bool{}
	for i, c := range all {
		if seen[c.Name] {
			panic(fmt.Sprintf("table %s: duplicate column %s", name, c.Name))
		}
		seen[c.Name] = true
		if ts, ok := c.Type.(*arrow.TimestampType); ok && (ts.Unit != arrow.Microsecond || ts.TimeZone != "UTC") {
			panic(fmt.Sprintf("table %s: column %s must be timestamp[us, UTC]", name, c.Name))
		}
		fields[i] = arrow.Field{Name: c.Name, Type: c.Type, Nullable: c.Nullable}
	}
	if kind == Event {
		i := t.ColumnIndex(eventTime)
		if i < 0 {
			panic(fmt.Sprintf("table %s: event time column %q not declared", name, eventTime))
		}
		if _, ok := all[i].Type.(*arrow.TimestampType); !ok {
			panic(fmt.Sprintf("table %s: event time column %q is not a timestamp", name, eventTime))
		}
	}
	t.schema = arrow.NewSchema(fields, nil)
	return t
}

// Schema is the Arrow schema derived from the declaration.
func (t *Table) Schema() *arrow.Schema { return t.schema }

// ColumnIndex returns the position of the named column, or -1.
func (t *Table) ColumnIndex(name string) int {
	for i, c := range t.Columns {
		if c.Name == name {
			return i
		}
	}
	return -1
}

// Keys lists the key columns' names.
func (t *Table) Keys() []string {
	var ks []string
	for _, c := range t.Columns {
		if c.Key {
			ks = append(ks, c.Name)
		}
	}
	return ks
}
