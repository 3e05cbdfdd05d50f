package table

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

var people = New("test_people", Snapshot, "", "people",
	Column{Name: "id", Type: arrow.BinaryTypes.String, Key: true},
	Column{Name: "age", Type: arrow.PrimitiveTypes.Int32, Nullable: true},
)

func TestSchemaIsDerivedFromTheDeclaration(t *testing.T) {
	got := people.Schema().String()
	want := arrow.NewSchema([]arrow.Field{
		{Name: "tenant_id", Type: arrow.BinaryTypes.String},
		{Name: "run_id", Type: arrow.BinaryTypes.String},
		{Name: "extracted_at", Type: Timestamp},
		{Name: "id", Type: arrow.BinaryTypes.String},
		{Name: "age", Type: arrow.PrimitiveTypes.Int32, Nullable: true},
	}, nil).String()
	if got != want {
		t.Errorf("schema\n%s\nwant\n%s", got, want)
	}
	if k := people.Keys(); len(k) != 1 || k[0] != "id" {
		t.Errorf("keys %v, want [id]", k)
	}
}

func TestDeclarationMistakesPanic(t *testing.T) {
	tests := []struct {
		name string
		decl func()
	}{
		{"nanosecond timestamp", func() {
			New("x", Snapshot, "", "", Column{Name: "t", Type: &arrow.TimestampType{Unit: arrow.Nanosecond, TimeZone: "UTC"}})
		}},
		{"local timestamp", func() {
			New("x", Snapshot, "", "", Column{Name: "t", Type: &arrow.TimestampType{Unit: arrow.Microsecond}})
		}},
		{"duplicate column", func() {
			New("x", Snapshot, "", "", Column{Name: "a", Type: arrow.BinaryTypes.String}, Column{Name: "a", Type: arrow.BinaryTypes.String})
		}},
		{"event table without its time column", func() { New("x", Event, "at", "") }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Error("declaration accepted")
				}
			}()
			tt.decl()
		})
	}
}

func TestBatcherFlushesEveryNRows(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	var got []arrow.RecordBatch
	sink := SinkFunc(func(_ context.Context, rec arrow.RecordBatch) error {
		rec.Retain()
		got = append(got, rec)
		return nil
	})
	bt := NewBatcher(mem, people, 2, sink)
	b := bt.Builder()
	for i, id := range []string{"a", "b", "c"} {
		b.Field(0).(*array.StringBuilder).Append("t1")
		b.Field(1).(*array.StringBuilder).Append("r1")
		b.Field(2).(*array.TimestampBuilder).Append(0)
		b.Field(3).(*array.StringBuilder).Append(id)
		b.Field(4).(*array.Int32Builder).Append(int32(i))
		if err := bt.RowDone(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	if err := bt.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	bt.Release()
	if len(got) != 2 || got[0].NumRows() != 2 || got[1].NumRows() != 1 || bt.Rows() != 3 {
		t.Fatalf("batches %d (%v): want 2 then 1 rows", len(got), got)
	}
	want, _, err := array.RecordFromJSON(mem, people.Schema(), strings.NewReader(`[{"tenant_id":"t1","run_id":"r1","extracted_at":"1970-01-01T00:00:00Z","id":"c","age":2}]`))
	if err != nil {
		t.Fatal(err)
	}
	defer want.Release()
	if !array.RecordEqual(got[1], want) {
		t.Errorf("last batch %v, want %v", got[1], want)
	}
	for _, r := range got {
		r.Release()
	}
}

func TestBatcherReportsSinkErrors(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	boom := errors.New("disk full")
	bt := NewBatcher(mem, people, 1, SinkFunc(func(context.Context, arrow.RecordBatch) error { return boom }))
	defer bt.Release()
	b := bt.Builder()
	b.Field(0).(*array.StringBuilder).Append("t")
	b.Field(1).(*array.StringBuilder).Append("r")
	b.Field(2).(*array.TimestampBuilder).Append(0)
	b.Field(3).(*array.StringBuilder).Append("a")
	b.Field(4).(*array.Int32Builder).AppendNull()
	if err := bt.RowDone(context.Background()); !errors.Is(err, boom) {
		t.Errorf("error %v, want the sink's error", err)
	}
}
