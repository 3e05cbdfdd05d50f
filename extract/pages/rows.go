package pages

import (
	"bytes"
	"context"
	"fmt"

	json "github.com/goccy/go-json"

	"github.com/seatlake/seatlake/extract/odata"
	"github.com/seatlake/seatlake/internal/table"
)

// Pager walks an OData collection, calling decode with each page's body and following the nextLink it returns.
// *odata.Client implements it.
type Pager interface {
	Walk(ctx context.Context, firstURL string, decode func(body []byte) (nextLink string, err error)) error
}

// Getter fetches one answer (a function's, $metadata); *odata.Client implements it.
type Getter interface {
	Get(ctx context.Context, u string, buf *bytes.Buffer) error
}

// Bad marks a decode failure of a page of what as a malformed page, so the pager fetches it again (a truncated body
// is the usual cause).
func Bad(what string, err error) error {
	return fmt.Errorf("%w: decoding %s page: %v", odata.ErrBadPage, what, err)
}

// Counts says what Rows read.
type Counts struct{ Rows, Pages int64 }

// Rows walks the collection at firstURL (what names it in errors), decoding each page's value as []T (goccy/go-json,
// several times faster than encoding/json) and calling row with each item in order. row appends the item's columns
// and returns true, or sets the item aside and returns false; each appended row is counted and handed to bt. The
// error is the pager's or the sink's, unwrapped: the caller says what it was reading. The caller flushes bt.
func Rows[T any](ctx context.Context, p Pager, firstURL, what string, bt *table.Batcher, row func(v *T) bool) (Counts, error) {
	var n Counts
	var page struct {
		NextLink string `json:"@odata.nextLink"`
		Value    []T    `json:"value"`
	}
	decode := func(body []byte) (string, error) {
		page.NextLink, page.Value = "", table.ResetSlice(page.Value)
		if err := json.Unmarshal(body, &page); err != nil {
			return "", Bad(what, err)
		}
		for i := range page.Value {
			if !row(&page.Value[i]) {
				continue
			}
			n.Rows++
			if err := bt.RowDone(ctx); err != nil {
				return "", err
			}
		}
		n.Pages++
		return page.NextLink, nil
	}
	err := p.Walk(ctx, firstURL, decode)
	return n, err
}
