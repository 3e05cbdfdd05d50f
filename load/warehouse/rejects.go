package warehouse

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sync"

	"github.com/seatlake/seatlake/extract/table"
)

// RejectWriter keeps aside the records of one table that could not be loaded, one JSON object per line, in
// rejects/<table>/tenant=<id>/<run_id>.jsonl. The file is committed with the run (and vanishes with an aborted run),
// so a record is never silently lost and never shown twice. Safe for concurrent use.
type RejectWriter struct {
	txn   *Txn
	table string

	mu     sync.Mutex
	f      *os.File
	staged string
	final  string
	n      int64
	buf    bytes.Buffer
}

// Rejects returns the run's reject file for tbl (created on the first record).
func (t *Txn) Rejects(tbl *table.Table) *RejectWriter {
	t.mu.Lock()
	defer t.mu.Unlock()
	if rw, ok := t.rejects[tbl.Name]; ok {
		return rw
	}
	final := filepath.Join("rejects", tbl.Name, "tenant="+t.tenantID, t.runID+".jsonl")
	rw := &RejectWriter{txn: t, table: tbl.Name, final: final, staged: filepath.Join(dirStaging, t.runID, final)}
	t.rejects[tbl.Name] = rw
	return rw
}

// Write keeps one record aside. raw is the record as the service sent it; it is compacted onto one line.
func (r *RejectWriter) Write(raw []byte) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.f == nil {
		abs := filepath.Join(r.txn.w.root, r.staged)
		if err := os.MkdirAll(filepath.Dir(abs), DirMode); err != nil {
			return err
		}
		f, err := os.OpenFile(abs, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, FileMode)
		if err != nil {
			return fmt.Errorf("creating the reject file of %s: %w", r.table, err)
		}
		r.f = f
	}
	r.buf.Reset()
	if err := json.Compact(&r.buf, raw); err != nil {
		// Not even JSON: keep it as a JSON string, so the file stays one valid JSON value per line.
		r.buf.Reset()
		b, _ := json.Marshal(string(raw))
		r.buf.Write(b)
	}
	r.buf.WriteByte('\n')
	if _, err := r.f.Write(r.buf.Bytes()); err != nil {
		return fmt.Errorf("writing the reject file of %s: %w", r.table, err)
	}
	r.n++
	return nil
}

// Count is the number of records kept aside.
func (r *RejectWriter) Count() int64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.n
}

// Path is where the records are once the run commits, relative to the warehouse root.
func (r *RejectWriter) Path() string { return r.final }

// close makes the file durable; it returns whether there is a file to commit.
func (r *RejectWriter) close() (bool, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.f == nil {
		return false, nil
	}
	err := r.f.Sync()
	if cerr := r.f.Close(); err == nil {
		err = cerr
	}
	r.f = nil
	return err == nil, err
}
