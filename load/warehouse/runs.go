package warehouse

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"

	"github.com/seatlake/seatlake/extract/table"
)

// WriteRun stores a run's summary row(s) as runs/tenant=<tenant>/<run_id>.parquet, atomically (temporary file,
// fsync, rename). It is outside the run's transaction on purpose: a failed run must leave its record too.
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
	if !rec.Schema().Equal(tbl.Schema()) {
		return fmt.Errorf("writing run summary: batch schema %s does not match the declaration of %s", rec.Schema(), tbl.Name)
	}
	o := WriterOptions{}.withDefaults()
	dst := filepath.Join(w.root, tbl.Name, "tenant="+tenantID, runID+".parquet") // runs/, syncs/: the record tables
	err := writeAtomic(dst, func(f *os.File) error {
		buf := bufio.NewWriter(f)
		fw, err := pqarrow.NewFileWriter(tbl.Schema(), buf, parquetProps(tbl, o), pqarrow.NewArrowWriterProperties(pqarrow.WithStoreSchema()))
		if err != nil {
			return err
		}
		err = fw.Write(rec)
		if cerr := fw.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return err
		}
		return buf.Flush()
	})
	if err != nil {
		return fmt.Errorf("writing run summary %s: %w", dst, err)
	}
	return nil
}
