package pages

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/seatlake/seatlake/extract/odata"
	"github.com/seatlake/seatlake/internal/table"
)

var items = table.New("test_items", table.Snapshot, "", "rows for the pager loop's test",
	table.Column{Name: "id", Type: arrow.BinaryTypes.String, Key: true})

// bodies is a pager over fixed page bodies: page i's nextLink is the index of the next one.
type bodies []string

func (b bodies) Walk(_ context.Context, _ string, decode func([]byte) (string, error)) error {
	for i := 0; i < len(b); i++ {
		next, err := decode([]byte(b[i]))
		if err != nil {
			return err
		}
		if next == "" {
			return nil
		}
	}
	return nil
}

type records struct{ ids []string }

func (r *records) Write(_ context.Context, rec arrow.RecordBatch) error {
	col := rec.Column(rec.Schema().FieldIndices("id")[0]).(*array.String)
	for i := range col.Len() {
		r.ids = append(r.ids, col.Value(i))
	}
	return nil
}

// Rows appends each page's items in order, leaves out those the row function sets aside (they reach Reject as
// JSON), counts rows and pages, and reports a body that does not decode as a bad page, to be fetched again.
func TestRows(t *testing.T) {
	for _, tc := range []struct {
		name              string
		pages             bodies
		wantIDs, rejected string
		wantCount         Counts
		badPage           bool
	}{
		{name: "two pages", pages: bodies{`{"value":[{"id":"a"},{"id":"b"}],"@odata.nextLink":"1"}`, `{"value":[{"id":"c"}]}`},
			wantIDs: "a b c", wantCount: Counts{Rows: 3, Pages: 2}},
		{name: "an empty page", pages: bodies{`{"value":[]}`}, wantCount: Counts{Pages: 1}},
		{name: "an item without an id set aside", pages: bodies{`{"value":[{"id":"a"},{"id":""},{"id":"c"}]}`},
			wantIDs: "a c", wantCount: Counts{Rows: 2, Pages: 1}, rejected: `test_items {"id":""}`},
		{name: "a truncated page", pages: bodies{`{"value":[{"id":"a"},{"id`}, badPage: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mem := memory.NewCheckedAllocator(memory.DefaultAllocator)
			defer mem.AssertSize(t, 0)
			var rejected []string
			r := &Run{TenantID: "t", RunID: "r", ExtractedAt: time.Unix(0, 0), Alloc: mem, Reject: func(tb *table.Table, raw []byte) {
				rejected = append(rejected, tb.Name+" "+string(raw))
			}}
			var got records
			bt := r.NewBatcher(items, &got)
			defer bt.Release()
			prov, id := r.Provenance(bt.Builder()), bt.String("id")
			type item struct {
				ID string `json:"id"`
			}
			n, err := Rows(t.Context(), tc.pages, "first", "items", bt, func(v *item) bool {
				if v.ID == "" {
					r.SetAsideJSON(items, v)
					return false
				}
				prov.Append()
				id.Append(v.ID)
				return true
			})
			if tc.badPage {
				if !errors.Is(err, odata.ErrBadPage) || !strings.Contains(err.Error(), "decoding items page") {
					t.Fatalf("error %v: want a bad items page", err)
				}
				if n.Rows != 0 {
					t.Fatalf("%d rows appended from a page that did not decode", n.Rows)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if err := bt.Flush(t.Context()); err != nil {
				t.Fatal(err)
			}
			if n != tc.wantCount {
				t.Errorf("counts %+v, want %+v", n, tc.wantCount)
			}
			if ids := strings.Join(got.ids, " "); ids != tc.wantIDs {
				t.Errorf("rows %q, want %q", ids, tc.wantIDs)
			}
			if rej := strings.Join(rejected, "\n"); rej != tc.rejected {
				t.Errorf("rejected %q, want %q", rej, tc.rejected)
			}
		})
	}
}
