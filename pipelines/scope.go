package pipelines

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/seatlake/seatlake/internal/table"
)

// A scope (an environment a source reads on its own) lands whole or not at all: its snapshot rows wait in envSinks
// until its streams are all done.

// envSink is one environment's share of a table. Snapshot rows are held until the environment's read is whole,
// then handed to the table's writer (commit) or dropped (discard): a failing environment never lands half a
// snapshot. Event rows (audits) go straight through, as sign-ins do. Holding is bounded by one environment's users
// and roles, which are small next to its audits.
type envSink struct {
	dst  *asyncSink
	hold bool
	mu   sync.Mutex
	held []arrow.RecordBatch
	rows atomic.Int64
}

func (s *envSink) Write(ctx context.Context, rec arrow.RecordBatch) error {
	if !s.hold {
		if err := s.dst.Write(ctx, rec); err != nil {
			return err
		}
		s.rows.Add(rec.NumRows())
		return nil
	}
	rec.Retain()
	s.mu.Lock()
	s.held = append(s.held, rec)
	s.mu.Unlock()
	s.rows.Add(rec.NumRows())
	return nil
}

func (s *envSink) commit(ctx context.Context) error {
	s.mu.Lock()
	held := s.held
	s.held = nil
	s.mu.Unlock()
	var err error
	for _, rec := range held {
		if err == nil {
			err = s.dst.Write(ctx, rec)
		}
		rec.Release()
	}
	return err
}

func (s *envSink) rowCount() *atomic.Int64 { return &s.rows }

func (s *envSink) discard() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, rec := range s.held {
		rec.Release()
	}
	s.held = nil
	s.rows.Store(0)
}

// envDone records how a scope (an environment) went: a failed one is named in the run's missing list (the run is
// then incomplete) and returns nil, so it never cancels the other scopes or Graph.
func (r *run) envDone(ctx context.Context, kind, env string, err error) error {
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		r.missing(fmt.Sprintf("%s %s: %v", kind, env, err), "environment not extracted", "source", kind, "environment", env, "err", err)
	}
	return nil
}

// envSinks makes the environment's share of each table.
func (r *run) envSinks(sinks map[*table.Table]*asyncSink, tables []*table.Table) map[*table.Table]*envSink {
	out := map[*table.Table]*envSink{}
	for _, t := range tables {
		out[t] = &envSink{dst: sinks[t], hold: t.Kind == table.Snapshot}
	}
	return out
}

// settle commits or discards an environment's held snapshots and records its rows per table.
func (r *run) settle(ctx context.Context, env string, es map[*table.Table]*envSink, ok bool) error {
	var err error
	for _, s := range es {
		if ok {
			err = errors.Join(err, s.commit(ctx))
		} else {
			s.discard()
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	rows := map[string]int64{}
	for t, s := range es {
		rows[t.Name] = s.rows.Load()
	}
	r.sum.Environments[env] = rows
	return err
}
