package warehouse

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"

	"github.com/seatlake/seatlake/internal/table"
)

// RejectWriter keeps aside the records of one table that could not be loaded, one JSON object per line, beside
// the data: rejects/<table>/tenant=<id>/<run_id>.jsonl in the warehouse's storage. Records go to a local file
// first (under the warehouse directory's _staging/<run_id>/), stored when the run commits, removed when it aborts,
// so a record is never silently lost and never shown twice. Safe for concurrent use.
type RejectWriter struct {
	txn   *Txn
	table string

	mu     sync.Mutex
	f      *os.File
	staged string // local file
	final  string // slash path relative to the storage
	n      int64
	buf    bytes.Buffer
}

const dirStaging = "_staging"

// Rejects returns the run's reject file for tbl (created on the first record).
func (t *Txn) Rejects(tbl *table.Table) *RejectWriter {
	t.mu.Lock()
	defer t.mu.Unlock()
	if rw, ok := t.rejects[tbl.Name]; ok {
		return rw
	}
	final := "rejects/" + tbl.Name + "/tenant=" + t.tenantID + "/" + t.runID + ".jsonl"
	rw := &RejectWriter{txn: t, table: tbl.Name, final: final, staged: filepath.Join(t.w.root, dirStaging, t.runID, filepath.FromSlash(final))}
	t.rejects[tbl.Name] = rw
	return rw
}

// Write keeps one record aside. raw is the record as the service sent it; it is compacted onto one line.
func (r *RejectWriter) Write(raw []byte) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.f == nil {
		if err := os.MkdirAll(filepath.Dir(r.staged), DirMode); err != nil {
			return err
		}
		f, err := os.OpenFile(r.staged, os.O_CREATE|os.O_TRUNC|os.O_RDWR, FileMode)
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

// Path is where the records are once the run commits, relative to the warehouse's storage.
func (r *RejectWriter) Path() string { return r.final }

// publish stores the file at its final place in the storage.
func (r *RejectWriter) publish(ctx context.Context) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.f == nil {
		return nil
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if _, err := r.f.Seek(0, io.SeekStart); err != nil {
		return err
	}
	loc := r.txn.w.storage + "/" + r.final
	if err := r.txn.w.remove(loc); err != nil && !errors.Is(err, os.ErrNotExist) && !isNotFound(err) {
		return err
	}
	out, err := r.txn.w.create(loc)
	if err != nil {
		return err
	}
	_, err = io.Copy(out, r.f)
	return errors.Join(err, out.Close())
}

// cleanup removes the local file.
func (r *RejectWriter) cleanup() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.f != nil {
		r.f.Close()
		r.f = nil
	}
	// The run's whole staging folder: every reject file of the run is stored (or discarded) by now.
	os.RemoveAll(filepath.Join(r.txn.w.root, dirStaging, r.txn.runID))
}

// abort removes the local file and a stored copy, if a failed commit got that far.
func (r *RejectWriter) abort() {
	stored := r.f != nil
	r.cleanup()
	if stored {
		_ = r.txn.w.remove(r.txn.w.storage + "/" + r.final)
	}
}

// isNotFound says whether a storage error means the object does not exist.
func isNotFound(err error) bool { return errors.Is(err, os.ErrNotExist) }
