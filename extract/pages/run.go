package pages

import (
	"log/slog"
	"time"

	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	json "github.com/goccy/go-json"

	"github.com/seatlake/seatlake/internal/table"
)

// Run is what an extractor is told of the run it reads for. Fields are set once; methods may run concurrently.
type Run struct {
	TenantID    string
	RunID       string
	ExtractedAt time.Time // every row's extracted_at
	BatchRows   int       // rows per record batch (table.DefaultBatchRows when <= 0)
	Alloc       memory.Allocator
	Logger      *slog.Logger
	// Reject, when set, receives each record that cannot be loaded (raw JSON), so it is kept aside rather than
	// dropped. It may be called from concurrent streams and must not keep raw.
	Reject func(t *table.Table, raw []byte)
}

// Allocator is Alloc, or Go's allocator when it is unset.
func (r *Run) Allocator() memory.Allocator {
	if r.Alloc == nil {
		return memory.DefaultAllocator
	}
	return r.Alloc
}

// Log is Logger, or a logger that discards when it is unset.
func (r *Run) Log() *slog.Logger {
	if r.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return r.Logger
}

// NewBatcher returns a batcher of t flushing every BatchRows rows into sink; the caller releases it.
func (r *Run) NewBatcher(t *table.Table, sink table.Sink) *table.Batcher {
	return table.NewBatcher(r.Allocator(), t, r.BatchRows, sink)
}

// Provenance appends the run's tenant_id, run_id and extracted_at to b's first three columns.
func (r *Run) Provenance(b *array.RecordBuilder) table.Provenance {
	return table.NewProvenance(b, r.TenantID, r.RunID, r.ExtractedAt)
}

// SetAside hands raw, a record of t that cannot be loaded, to Reject when it is set.
func (r *Run) SetAside(t *table.Table, raw []byte) {
	if r.Reject != nil {
		r.Reject(t, raw)
	}
}

// SetAsideJSON is SetAside with the decoded record v encoded again as JSON (only when Reject is set).
func (r *Run) SetAsideJSON(t *table.Table, v any) {
	if r.Reject != nil {
		raw, _ := json.Marshal(v) // v was decoded from JSON, so it encodes
		r.Reject(t, raw)
	}
}
