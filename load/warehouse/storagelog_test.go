package warehouse

import (
	"context"
	"net/url"
	"strings"
	"testing"
)

// A failed Azure try is logged without its URL's query, where a SAS token travels.
func TestStorageLogOmitsTheSASToken(t *testing.T) {
	err := &url.Error{Op: "Get", URL: "https://acct.blob.core.windows.net/c/raw/x.parquet?sv=2024&sig=SECRET", Err: context.DeadlineExceeded}
	got := withoutQuery(err).Error()
	if strings.Contains(got, "SECRET") || !strings.Contains(got, "https://acct.blob.core.windows.net/c/raw/x.parquet") ||
		!strings.Contains(got, "deadline exceeded") {
		t.Errorf("logged as %q", got)
	}
}
