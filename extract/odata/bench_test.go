package odata

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"

	"github.com/seatlake/seatlake/internal/outbound"
)

// BenchmarkWalk pages ~1 MB pages (1,000 sign-in-sized rows each) over loopback; one op is one page. The decoder
// only finds the nextLink, so this measures the pager: request, body read into the reused buffer, accounting.
func BenchmarkWalk(b *testing.B) {
	var rows bytes.Buffer
	for i := 0; i < 1000; i++ {
		if i > 0 {
			rows.WriteByte(',')
		}
		fmt.Fprintf(&rows, `{"id":"%08d-0000-0000-0000-000000000000","userPrincipalName":"user%d@contoso.com","pad":"%s"}`, i, i, bytes.Repeat([]byte("x"), 900))
	}
	pages := b.N
	var srvURL string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, _ := strconv.Atoi(r.URL.Query().Get("p"))
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"value":[`))
		w.Write(rows.Bytes())
		w.Write([]byte(`]`))
		if p+1 < pages {
			fmt.Fprintf(w, `,"@odata.nextLink":"%s/v1.0/x?p=%d"`, srvURL, p+1)
		}
		w.Write([]byte("}"))
	}))
	defer srv.Close()
	srvURL = srv.URL
	st := &outbound.Stats{}
	c := NewClient(Config{Tokens: &tokens{}, HTTPClient: srv.Client()}).WithStats(st)
	b.SetBytes(int64(rows.Len()))
	b.ReportAllocs()
	b.ResetTimer()
	err := c.Walk(context.Background(), srv.URL+"/v1.0/x?p=0", func(body []byte) (string, error) {
		// The nextLink is at the end of the page, as Graph and Dataverse put it.
		i := bytes.LastIndex(body, []byte(`"@odata.nextLink":"`))
		if i < 0 {
			return "", nil
		}
		rest := body[i+len(`"@odata.nextLink":"`):]
		return string(rest[:bytes.IndexByte(rest, '"')]), nil
	})
	if err != nil {
		b.Fatal(err)
	}
	if st.Requests.Load() != int64(pages) {
		b.Fatalf("%d requests for %d pages", st.Requests.Load(), pages)
	}
}
