package transform

import (
	"database/sql"
	"fmt"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/seatlake/seatlake/internal/table"
)

// scanCell holds one value of a mart column: rows.Scan fills it (it is a sql.Scanner) and appendTo appends it, or
// null, to the column's builder.
type scanCell interface {
	sql.Scanner
	appendTo(b array.Builder)
}

// newCells returns a scanCell per mart column, by its Arrow type: the types a mart may declare.
func newCells(mart *table.Table) ([]scanCell, error) {
	declared := martColumns(mart)
	cells := make([]scanCell, len(declared))
	for i, c := range declared {
		if cells[i] = cellFor(c.Type); cells[i] == nil {
			return nil, fmt.Errorf("computing %s: column %s has a type marts do not support (%s)", mart.Name, c.Name, c.Type)
		}
	}
	return cells, nil
}

// cellFor returns a scanCell for a column of type t, nil for a type marts do not support. An INTEGER column is
// scanned into 64 bits, and a timestamp is appended in UTC microseconds, the unit of every timestamp column.
func cellFor(t arrow.DataType) scanCell {
	switch t.ID() {
	case arrow.STRING:
		return &nullCell[string]{add: func(b array.Builder, v string) { b.(*array.StringBuilder).Append(v) }}
	case arrow.FLOAT64:
		return &nullCell[float64]{add: func(b array.Builder, v float64) { b.(*array.Float64Builder).Append(v) }}
	case arrow.BOOL:
		return &nullCell[bool]{add: func(b array.Builder, v bool) { b.(*array.BooleanBuilder).Append(v) }}
	case arrow.INT32:
		return &nullCell[int64]{add: func(b array.Builder, v int64) { b.(*array.Int32Builder).Append(int32(v)) }}
	case arrow.INT64:
		return &nullCell[int64]{add: func(b array.Builder, v int64) { b.(*array.Int64Builder).Append(v) }}
	case arrow.TIMESTAMP:
		return &nullCell[time.Time]{add: func(b array.Builder, v time.Time) {
			b.(*array.TimestampBuilder).Append(arrow.Timestamp(v.UTC().UnixMicro()))
		}}
	}
	return nil
}

// nullCell is a scanCell scanned as a sql.Null[T]; add appends a non-null value to the column's typed builder.
type nullCell[T any] struct {
	sql.Null[T]
	add func(b array.Builder, v T)
}

func (c *nullCell[T]) appendTo(b array.Builder) {
	if !c.Valid {
		b.AppendNull()
		return
	}
	c.add(b, c.V)
}
