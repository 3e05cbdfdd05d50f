package warehouse

import (
	"bufio"
	"context"
	"fmt"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
	"github.com/apache/iceberg-go"
	itable "github.com/apache/iceberg-go/table"
	"github.com/google/uuid"

	"github.com/seatlake/seatlake/internal/table"
)

// WriteRun appends a record table's row(s) (runs, syncs, actions) for a run: one data file, one commit (retried
// on concurrent commits). It is outside the run's transaction on purpose: a failed run must leave its record too.
// Each call appends; nothing is replaced.
func (w *Warehouse) WriteRun(ctx context.Context, tbl *table.Table, tenantID, runID string, rec arrow.RecordBatch) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := checkName("tenant id", tenantID); err != nil {
		return fmt.Errorf("writing run summary: %w", err)
	}
	if err := checkName("run id", runID); err != nil {
		return fmt.Errorf("writing run summary: %w", err)
	}
	if tbl.Kind != table.Log {
		return fmt.Errorf("writing run summary: %s is a %s table, not a record table", tbl.Name, tbl.Kind)
	}
	if !rec.Schema().Equal(tbl.Schema()) {
		return fmt.Errorf("writing run summary: batch schema %s does not match the declaration of %s", rec.Schema(), tbl.Name)
	}
	if _, err := w.appendLog(ctx, tbl, tenantID, runID, rec, iceberg.Properties{propRunID: runID, propTenantID: tenantID}); err != nil {
		return fmt.Errorf("writing run summary to %s: %w", tbl.Name, err)
	}
	return nil
}

// appendLog writes rec as one data file of the record table tbl and appends it.
func (w *Warehouse) appendLog(ctx context.Context, tbl *table.Table, tenantID, runID string, rec arrow.RecordBatch, props iceberg.Properties) (commitResult, error) {
	it, err := w.ensureTable(ctx, tbl, Raw)
	if err != nil {
		return commitResult{}, err
	}
	df, err := w.writeLogFile(ctx, it, tbl, tenantID, runID, rec)
	if err != nil {
		return commitResult{}, err
	}
	return w.commitTable(ctx, tbl.Name, props, func(ctx context.Context, _ *itable.Table, txn *itable.Transaction, props iceberg.Properties) error {
		// The file's name is new (run id and a random part) and a retry after an unknown outcome looks the commit
		// up first (commitTable): iceberg-go's duplicate check, a read of every manifest of the table on every
		// commit, could find nothing, and it made each commit slower the more commits came before it.
		return txn.AddDataFiles(ctx, []iceberg.DataFile{df}, props, itable.WithoutDuplicateCheck())
	})
}

// writeLogFile writes rec as one data file of the record table it (declared as tbl) and describes it.
func (w *Warehouse) writeLogFile(ctx context.Context, it *itable.Table, tbl *table.Table, tenantID, runID string, rec arrow.RecordBatch) (iceberg.DataFile, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	ws, types, err := writeSchema(tbl, it.Schema())
	if err != nil {
		return nil, fmt.Errorf("%s: %w", tbl.Name, err)
	}
	loc := fmt.Sprintf("%s/data/%s=%s/%s-%s.parquet", it.Location(), table.TenantID.Name, tenantID, runID, uuid.NewString()[:8])
	out, err := w.create(loc)
	if err != nil {
		return nil, fmt.Errorf("creating %s: %w", loc, err)
	}
	cw := &countingWriter{w: out}
	buf := bufio.NewWriter(cw)
	o := WriterOptions{}.withDefaults()
	fw, err := pqarrow.NewFileWriter(ws, buf, parquetProps(tbl, o), pqarrow.NewArrowWriterProperties(pqarrow.WithStoreSchema()))
	if err != nil {
		out.Close()
		w.remove(loc)
		return nil, fmt.Errorf("starting %s: %w", loc, err)
	}
	cols := make([]arrow.Array, len(types))
	for i, typ := range types {
		cols[i] = relabel(rec.Column(i), typ)
	}
	frec := array.NewRecordBatch(ws, cols, rec.NumRows())
	for _, c := range cols {
		c.Release()
	}
	err = fw.Write(frec)
	frec.Release()
	if cerr := fw.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = buf.Flush()
	}
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		w.remove(loc)
		return nil, fmt.Errorf("writing %s: %w", loc, err)
	}
	md, err := fw.FileMetadata()
	if err != nil {
		return nil, err
	}
	tenantField, _ := partitionFieldIDs(it, tbl)
	df, err := itable.DataFileFromMetadata(itable.DataFileArgs{
		Schema: it.Schema(), Spec: it.Spec(), Format: iceberg.ParquetFile, Metadata: md, FilePath: loc, FileSize: cw.n,
		Content: iceberg.EntryContentData, PartitionValues: map[int]any{tenantField: tenantID},
		SortOrderID: it.SortOrder().OrderID(), Properties: it.Properties(), FormatVersion: it.Metadata().Version(),
	})
	if err != nil {
		return nil, fmt.Errorf("describing %s for the commit: %w", loc, err)
	}
	return df, nil
}
