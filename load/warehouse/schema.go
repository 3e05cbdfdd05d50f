package warehouse

import (
	"fmt"
	"strconv"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/iceberg-go"

	"github.com/seatlake/seatlake/internal/table"
)

// partitionColumn is the day column of a table's partition, written inside its files as Iceberg requires:
// snapshot_date for snapshot tables, event_date (the UTC day of the event time) for event tables, none for logs.
func partitionColumn(tbl *table.Table) string {
	switch tbl.Kind {
	case table.Snapshot:
		return "snapshot_date"
	case table.Event:
		return "event_date"
	}
	return ""
}

// icebergType is the Iceberg type of a declared Arrow type. ids hands out field ids for nested fields.
func icebergType(t arrow.DataType, ids *int) (iceberg.Type, error) {
	switch t := t.(type) {
	case *arrow.StringType:
		return iceberg.PrimitiveTypes.String, nil
	case *arrow.BooleanType:
		return iceberg.PrimitiveTypes.Bool, nil
	case *arrow.Int32Type:
		return iceberg.PrimitiveTypes.Int32, nil
	case *arrow.Int64Type:
		return iceberg.PrimitiveTypes.Int64, nil
	case *arrow.Float64Type:
		return iceberg.PrimitiveTypes.Float64, nil
	case *arrow.Date32Type:
		return iceberg.PrimitiveTypes.Date, nil
	case *arrow.TimestampType:
		if t.Unit != arrow.Microsecond {
			return nil, fmt.Errorf("timestamp unit %s: the warehouse stores microseconds", t.Unit)
		}
		if t.TimeZone == "" {
			return iceberg.PrimitiveTypes.Timestamp, nil
		}
		return iceberg.PrimitiveTypes.TimestampTz, nil
	case *arrow.ListType:
		*ids++
		id := *ids
		elem, err := icebergType(t.Elem(), ids)
		if err != nil {
			return nil, err
		}
		return &iceberg.ListType{ElementID: id, Element: elem, ElementRequired: !t.ElemField().Nullable}, nil
	}
	return nil, fmt.Errorf("no Iceberg type for %s", t)
}

// icebergSchema is the Iceberg schema of a declared table: its columns in declared order, then the partition day
// column. Field ids are assigned here; the catalog may reassign them, so writers take them from the table.
func icebergSchema(tbl *table.Table) (*iceberg.Schema, error) {
	n := len(tbl.Columns)
	if partitionColumn(tbl) != "" {
		n++
	}
	ids := n
	fields := make([]iceberg.NestedField, 0, n)
	for i, c := range tbl.Columns {
		typ, err := icebergType(c.Type, &ids)
		if err != nil {
			return nil, fmt.Errorf("column %s: %w", c.Name, err)
		}
		fields = append(fields, iceberg.NestedField{ID: i + 1, Name: c.Name, Type: typ, Required: !c.Nullable, Doc: c.Doc})
	}
	if p := partitionColumn(tbl); p != "" {
		doc := "UTC day of the snapshot"
		if tbl.Kind == table.Event {
			doc = "UTC date of " + tbl.EventTime
		}
		fields = append(fields, iceberg.NestedField{ID: n, Name: p, Type: iceberg.PrimitiveTypes.Date, Required: true, Doc: doc})
	}
	return iceberg.NewSchema(0, fields...), nil
}

// partitionSpec partitions by identity(tenant_id) and, for snapshot and event tables, identity of the day column.
func partitionSpec(sc *iceberg.Schema, tbl *table.Table) (*iceberg.PartitionSpec, error) {
	cols := []string{table.TenantID.Name}
	if p := partitionColumn(tbl); p != "" {
		cols = append(cols, p)
	}
	var fields []iceberg.PartitionField
	for i, c := range cols {
		f, ok := sc.FindFieldByName(c)
		if !ok {
			return nil, fmt.Errorf("partition column %s is not in the schema", c)
		}
		fields = append(fields, iceberg.PartitionField{SourceIDs: []int{f.ID}, FieldID: 1000 + i, Name: c, Transform: iceberg.IdentityTransform{}})
	}
	spec := iceberg.NewPartitionSpec(fields...)
	return &spec, nil
}

// fieldIDKey is the Arrow field metadata key pqarrow writes as the Parquet field id.
const fieldIDKey = "PARQUET:field_id"

func withFieldID(f arrow.Field, id int) arrow.Field {
	f.Metadata = arrow.NewMetadata([]string{fieldIDKey}, []string{strconv.Itoa(id)})
	return f
}

// writeSchema is the Arrow schema of the Parquet files of tbl in the Iceberg table whose schema is sc: the
// declared columns, then the partition day column (date32), each carrying its Iceberg field id (list elements
// too), so that every engine reads the columns by id. types lists, per declared column, the data type the
// column's arrays are relabelled with (a list's element field carries its id).
func writeSchema(tbl *table.Table, sc *iceberg.Schema) (*arrow.Schema, []arrow.DataType, error) {
	fields := make([]arrow.Field, 0, len(tbl.Columns)+1)
	types := make([]arrow.DataType, len(tbl.Columns))
	for i, c := range tbl.Columns {
		f, ok := sc.FindFieldByName(c.Name)
		if !ok {
			return nil, nil, fmt.Errorf("column %s is not in the Iceberg table's schema", c.Name)
		}
		typ := c.Type
		if lt, ok := c.Type.(*arrow.ListType); ok {
			il, ok := f.Type.(*iceberg.ListType)
			if !ok {
				return nil, nil, fmt.Errorf("column %s is a list, the Iceberg table has %s", c.Name, f.Type)
			}
			ef := lt.ElemField()
			typ = arrow.ListOfField(withFieldID(arrow.Field{Name: "element", Type: ef.Type, Nullable: ef.Nullable}, il.ElementID))
		}
		types[i] = typ
		fields = append(fields, withFieldID(arrow.Field{Name: c.Name, Type: typ, Nullable: c.Nullable}, f.ID))
	}
	if p := partitionColumn(tbl); p != "" {
		f, ok := sc.FindFieldByName(p)
		if !ok {
			return nil, nil, fmt.Errorf("partition column %s is not in the Iceberg table's schema", p)
		}
		fields = append(fields, withFieldID(arrow.Field{Name: p, Type: arrow.FixedWidthTypes.Date32, Nullable: false}, f.ID))
	}
	return arrow.NewSchema(fields, nil), types, nil
}

// relabel returns arr viewed as typ (same buffers; only a list's element field differs), retained.
func relabel(arr arrow.Array, typ arrow.DataType) arrow.Array {
	if arrow.TypeEqual(arr.DataType(), typ, arrow.CheckMetadata()) {
		arr.Retain()
		return arr
	}
	d := arr.Data()
	nd := array.NewData(typ, d.Len(), d.Buffers(), d.Children(), d.NullN(), d.Offset())
	defer nd.Release()
	return array.MakeFromData(nd)
}
