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

// Provenance returns a function appending the three provenance columns every raw row starts with.
func (bt *Batcher) Provenance(tenantID, runID string, extractedAt time.Time) func() {
	tb, rb, ab := bt.String(TenantID.Name), bt.String(RunID.Name), bt.Timestamp(ExtractedAt.Name)
	at := arrow.Timestamp(extractedAt.UTC().UnixMicro())
	return func() {
		tb.Append(tenantID)
		rb.Append(runID)
		ab.Append(at)
	}
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

// AppendTime appends an OData DateTimeOffset (RFC 3339) as UTC microseconds, or null when absent. A value that does
// not parse is stored as null and reported (false), so the caller can count it: one odd value must not cost the
// run, nor vanish silently.
func AppendTime(b *array.TimestampBuilder, s *string) bool {
	if s == nil || *s == "" {
		b.AppendNull()
		return true
	}
	t, err := time.Parse(time.RFC3339Nano, *s)
	if err != nil {
		b.AppendNull()
		return false
	}
	b.Append(arrow.Timestamp(t.UnixMicro()))
	return true
}
