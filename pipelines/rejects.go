package pipelines

import (
	"fmt"
	"sync"

	"github.com/seatlake/seatlake/internal/table"
	"github.com/seatlake/seatlake/load/warehouse"
)

// rejectSet keeps aside, in the run's reject files committed with it, the records a source's stream cannot load
// (source.Env.Reject).
type rejectSet struct {
	txn     *warehouse.Txn
	mu      sync.Mutex
	err     error
	writers map[*table.Table]*warehouse.RejectWriter
}

func newRejectSet(txn *warehouse.Txn) *rejectSet {
	return &rejectSet{txn: txn, writers: map[*table.Table]*warehouse.RejectWriter{}}
}

func (s *rejectSet) keep(t *table.Table, raw []byte) {
	rw := s.txn.Rejects(t)
	err := rw.Write(raw)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.writers[t] = rw
	if err != nil && s.err == nil {
		s.err = err
	}
}

// report fails the run when a record could not be kept aside, and otherwise says where the kept ones are.
func (s *rejectSet) report(r *run) error {
	if s.err != nil {
		return fmt.Errorf("keeping aside records that could not be loaded: %w", s.err)
	}
	for t, rw := range s.writers {
		r.warn(fmt.Sprintf("%s: %d record(s) without a usable id or timestamp were not loaded; they are kept aside in %s",
			t.Name, rw.Count(), rw.Path()))
	}
	return nil
}
