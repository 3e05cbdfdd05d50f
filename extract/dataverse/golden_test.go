package dataverse

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/seatlake/seatlake/extract/odata"
	"github.com/seatlake/seatlake/extract/pages"
	"github.com/seatlake/seatlake/internal/outbound"
	"github.com/seatlake/seatlake/internal/table"
)

// replay serves one documented answer (testdata/README.md), "[Organization URI]" being the server, and records the
// request.
func replay(t *testing.T, file string, status int) (*Extractor, *odata.Client, *http.Request) {
	t.Helper()
	body, err := os.ReadFile(filepath.Join("testdata", file))
	if err != nil {
		t.Fatal(err)
	}
	got := &http.Request{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		*got = *r.Clone(context.Background())
		w.Header().Set("Content-Type", "application/json; odata.metadata=minimal")
		w.Header().Set("OData-Version", "4.0")
		w.WriteHeader(status)
		w.Write(bytes.ReplaceAll(body, []byte("[Organization URI]"), []byte("http://"+r.Host)))
	}))
	t.Cleanup(srv.Close)
	c := odata.NewClient(odata.Config{Header: Headers(), Retry: outbound.RetryPolicy{MaxAttempts: 1},
		Sleep: func(context.Context, time.Duration) error { return nil }})
	x := &Extractor{Environment: srv.URL, ClientID: "app", Run: pages.Run{TenantID: "t", RunID: "r1", ExtractedAt: fixedNow, BatchRows: 100,
		Alloc: memory.NewCheckedAllocator(memory.DefaultAllocator)}}
	t.Cleanup(func() { x.Alloc.(*memory.CheckedAllocator).AssertSize(t, 0) })
	return x, c, got
}

// The organization row of "Configure auditing" reads as the environment's audit settings, nothing missing.
func TestDocumentedAuditSettingsReplay(t *testing.T) {
	x, c, req := replay(t, "organizations.json", 200)
	var rows rowCounter
	s, err := x.Settings(context.Background(), c, &rows)
	if err != nil {
		t.Fatal(err)
	}
	want := Settings{OrganizationID: "<organizationid value>", AuditEnabled: true, UserAccessAuditEnabled: true,
		UserAccessIntervalHours: 4, RetentionDays: 30}
	if s != want || rows.n.Load() != 1 {
		t.Errorf("settings %+v (%d rows), want %+v", s, rows.n.Load(), want)
	}
	if missing, _ := s.Gap(); missing != "" {
		t.Errorf("the documented settings leave out %q", missing)
	}
	if req.URL.Path != "/api/data/v9.2/organizations" || req.Header.Get("OData-MaxVersion") != "4.0" ||
		req.Header.Get("OData-Version") != "4.0" || req.Header.Get("If-None-Match") != "null" || req.Header.Get("Accept") != "application/json" {
		t.Errorf("request %s with headers %v: want the documented headers", req.URL, req.Header)
	}
}

// The audit page of "Retrieve the history of audited data changes", annotations and all, decodes; its record
// carries no auditid (that query did not select it), so it is kept aside and counted, never loaded keyless.
func TestDocumentedAuditPageReplay(t *testing.T) {
	x, c, req := replay(t, "audits_deleted_contacts.json", 200)
	var rejected [][]byte
	x.Reject = func(tb *table.Table, raw []byte) {
		if tb != Audits {
			t.Errorf("rejected into %s", tb.Name)
		}
		rejected = append(rejected, append([]byte(nil), raw...))
	}
	var rows rowCounter
	res, err := x.Audits(context.Background(), c, fixedNow.AddDate(0, 0, -1), fixedNow, &rows)
	if err != nil {
		t.Fatal(err)
	}
	if res.Rows != 0 || res.Rejected != 1 || res.Pages != 1 || len(rejected) != 1 ||
		!bytes.Contains(rejected[0], []byte("4026be43-6b69-e111-8f65-78e7d1620f5e")) || !bytes.Contains(rejected[0], []byte("2022-05-12T22:19:12Z")) {
		t.Fatalf("result %+v, rejected %s", res, rejected)
	}
	q := req.URL.Query()
	for _, want := range []string{"auditid", "createdon", "action", "objecttypecode", "_objectid_value", "_userid_value"} {
		if !strings.Contains(","+q.Get("$select")+",", ","+want+",") {
			t.Errorf("$select %q lacks %s", q.Get("$select"), want)
		}
	}
	if f := q.Get("$filter"); !strings.Contains(f, "action eq 64") || !strings.Contains(f, "action eq 65") || !strings.Contains(f, "createdon ge ") {
		t.Errorf("$filter %q: want user access (64, 65) in a createdon window", f)
	}
}

// The client errors of "Troubleshoot Dataverse Web API client errors" come back with their code and message.
func TestDocumentedErrorsReplay(t *testing.T) {
	for _, tc := range []struct {
		file   string
		status int
		code   string
		msg    string
	}{
		{"error_404_segment.json", 404, "0x8006088a", "Resource not found for the segment 'Account'."},
		{"error_400_property.json", 400, "0x0", "Could not find a property named 'Name' on type 'Microsoft.Dynamics.CRM.account'."},
	} {
		t.Run(tc.file, func(t *testing.T) {
			x, c, _ := replay(t, tc.file, tc.status)
			_, err := x.Users(context.Background(), c, &rowCounter{})
			var he *outbound.Error
			if !errors.As(err, &he) || he.Status != tc.status || he.Code != tc.code || he.Message != tc.msg {
				t.Fatalf("error %v, want HTTP %d %s %q", err, tc.status, tc.code, tc.msg)
			}
			if !strings.Contains(err.Error(), "reading systemusers from "+x.Environment) {
				t.Errorf("error %q does not say what was read from where", err)
			}
		})
	}
}
