package table

import (
	"fmt"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
)

// Typed access to a batcher's builders by column name, resolved once per stream, so decoders append by field and
// never by position. Each panics when the column is not declared with that type: a mistake in the code, caught by
// any test that runs the decoder.

func (bt *Batcher) builder(name string) array.Builder {
	i := bt.table.ColumnIndex(name)
	if i < 0 {
		panic(fmt.Sprintf("table %s: no column %s", bt.table.Name, name))
	}
	return bt.b.Field(i)
}

// String is the builder of a string column.
func (bt *Batcher) String(name string) *array.StringBuilder {
	return bt.builder(name).(*array.StringBuilder)
}

// Bool is the builder of a boolean column.
func (bt *Batcher) Bool(name string) *array.BooleanBuilder {
	return bt.builder(name).(*array.BooleanBuilder)
}

// Int32 is the builder of an int32 column.
func (bt *Batcher) Int32(name string) *array.Int32Builder {
	return bt.builder(name).(*array.Int32Builder)
}

// Timestamp is the builder of a timestamp column.
func (bt *Batcher) Timestamp(name string) *array.TimestampBuilder {
	return bt.builder(name).(*array.TimestampBuilder)
}

// Provenance appends the three columns every raw row starts with (tenant_id, run_id, extracted_at), from the typed
// builders taken once.
type Provenance struct {
	tenant, run *array.StringBuilder
	at          *array.TimestampBuilder
	tenantID    string
	runID       string
	extractedAt arrow.Timestamp
}

// NewProvenance takes b's first three builders, which New declares as the provenance columns.
func NewProvenance(b *array.RecordBuilder, tenantID, runID string, extractedAt time.Time) Provenance {
	return Provenance{
		tenant:      b.Field(0).(*array.StringBuilder),
		run:         b.Field(1).(*array.StringBuilder),
		at:          b.Field(2).(*array.TimestampBuilder),
		tenantID:    tenantID,
		runID:       runID,
		extractedAt: arrow.Timestamp(extractedAt.UTC().UnixMicro()),
	}
}

// Append appends one row's provenance.
func (p Provenance) Append() {
	p.tenant.Append(p.tenantID)
	p.run.Append(p.runID)
	p.at.Append(p.extractedAt)
}

// AppendString appends s, or null when the service sent null (nil).
func AppendString(b *array.StringBuilder, s *string) {
	if s == nil {
		b.AppendNull()
		return
	}
	b.Append(*s)
}

// AppendBool appends v, or null.
func AppendBool(b *array.BooleanBuilder, v *bool) {
	if v == nil {
		b.AppendNull()
		return
	}
	b.Append(*v)
}

// AppendInt32 appends v, or null.
func AppendInt32(b *array.Int32Builder, v *int32) {
	if v == nil {
		b.AppendNull()
		return
	}
	b.Append(*v)
}

// AppendStrings appends a list of strings (an empty list for nil).
func AppendStrings(b *array.ListBuilder, vs []string) {
	b.Append(true)
	vb := b.ValueBuilder().(*array.StringBuilder)
	for _, v := range vs {
		vb.Append(v)
	}
}

// AppendTime appends an OData DateTimeOffset as UTC microseconds, or null when absent. A value that does not parse
// is stored as null and counted in bad: one odd value must not cost the run, and must not vanish silently either.
func AppendTime(b *array.TimestampBuilder, s *string, bad *int64) {
	if s == nil || *s == "" {
		b.AppendNull()
		return
	}
	ts, err := ParseTimestamp(*s)
	if err != nil {
		*bad++
		b.AppendNull()
		return
	}
	b.Append(ts)
}

// ResetSlice empties a reused page slice, zeroing it first: a JSON decoder appending into existing capacity would
// otherwise leave a previous record's values in the fields a new record does not carry.
func ResetSlice[T any](s []T) []T {
	clear(s[:cap(s)])
	return s[:0]
}

// Date32 is the builder of a date column.
func (bt *Batcher) Date32(name string) *array.Date32Builder {
	return bt.builder(name).(*array.Date32Builder)
}

// List is the builder of a list<string> column.
func (bt *Batcher) List(name string) *array.ListBuilder {
	return bt.builder(name).(*array.ListBuilder)
}
