package dataverse

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/seatlake/seatlake/extract/odata"
	"github.com/seatlake/seatlake/extract/pages"
	"github.com/seatlake/seatlake/internal/table"
)

// decodedPage is what a decoder made of one audit page: what a user of the table would notice.
type decodedPage struct {
	next     string
	rows     []string // the rows appended, as JSON lines (even those of a page refused, which must be none)
	rejected []string // the records set aside, as Reject received them
	n, bad   int64    // rows counted and records counted as rejected
	err      error
}

func (p decodedPage) String() string {
	return fmt.Sprintf("next %q, %d rows %q, %d rejected %q, err %v", p.next, p.n, p.rows, p.bad, p.rejected, p.err)
}

// auditExtractor is an extractor whose Reject records what it receives into *rejected.
func auditExtractor(mem memory.Allocator, rejected *[]string) *Extractor {
	return &Extractor{Environment: "https://x", OrganizationID: "org", Run: pages.Run{TenantID: "t", RunID: "r", ExtractedAt: fixedNow, Alloc: mem,
		Reject: func(tb *table.Table, raw []byte) {
			*rejected = append(*rejected, tb.Name+" "+string(raw))
		}}}
}

// decodeWith runs decode on a batcher of Audits and flushes whatever it appended, even after an error.
func decodeWith(t testing.TB, mem memory.Allocator, decode func(x *Extractor, bt *table.Batcher) (string, int64, int64, error)) decodedPage {
	var p decodedPage
	x := auditExtractor(mem, &p.rejected)
	bt := table.NewBatcher(mem, Audits, 1<<20, table.SinkFunc(func(_ context.Context, rec arrow.RecordBatch) error {
		p.rows = append(p.rows, jsonLines(t, rec)...)
		return nil
	}))
	defer bt.Release()
	p.next, p.n, p.bad, p.err = decode(x, bt)
	if err := bt.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	return p
}

// scannedAudits decodes body with the audit scanner.
func scannedAudits(t testing.TB, mem memory.Allocator, body []byte) decodedPage {
	return decodeWith(t, mem, func(x *Extractor, bt *table.Batcher) (string, int64, int64, error) {
		return x.newAuditDecoder(bt).decodePage(context.Background(), body)
	})
}

// generalAudits decodes body with the general decoder, as Audits did before the scanner: pages.Rows (goccy/go-json
// into []auditJSON) and this row function.
func generalAudits(t testing.TB, mem memory.Allocator, body []byte) decodedPage {
	return decodeWith(t, mem, func(x *Extractor, bt *table.Batcher) (string, int64, int64, error) {
		var next string
		var rejected int64
		walk := pagerFunc(func(ctx context.Context, decode func([]byte) (string, error)) error {
			var err error
			next, err = decode(body)
			return err
		})
		n, err := generalRows(context.Background(), x, walk, bt, &rejected)
		return next, n.Rows, rejected, err
	})
}

func generalRows(ctx context.Context, x *Extractor, p pages.Pager, bt *table.Batcher, rejected *int64) (pages.Counts, error) {
	prov := x.provenance(bt, x.OrganizationID)
	id, otype, oid, uid, calling := bt.String("auditid"), bt.String("object_type"), bt.String("object_id"), bt.String("user_id"), bt.String("calling_user_id")
	action, op, created := bt.Int32("action"), bt.Int32("operation"), bt.Timestamp("createdon")
	return pages.Rows(ctx, p, "", "audits", bt, func(v *auditJSON) bool {
		var at arrow.Timestamp
		var err error
		if v.CreatedOn != nil {
			at, err = table.ParseTimestamp(*v.CreatedOn)
		}
		if v.ID == "" || v.CreatedOn == nil || err != nil {
			x.SetAsideJSON(Audits, v)
			*rejected++
			return false
		}
		prov()
		id.Append(v.ID)
		created.Append(at)
		table.AppendInt32(action, v.Action)
		table.AppendInt32(op, v.Operation)
		table.AppendString(uid, v.UserID)
		table.AppendString(calling, v.Calling)
		table.AppendString(otype, v.ObjectType)
		table.AppendString(oid, v.ObjectID)
		return true
	})
}

type pagerFunc func(ctx context.Context, decode func([]byte) (string, error)) error

func (f pagerFunc) Walk(ctx context.Context, _ string, decode func([]byte) (string, error)) error {
	return f(ctx, decode)
}

func jsonLines(t testing.TB, rec arrow.RecordBatch) []string {
	var buf bytes.Buffer
	if err := array.RecordToJSON(rec, &buf); err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, l := range bytes.Split(buf.Bytes(), []byte("\n")) {
		if len(l) > 0 {
			out = append(out, string(l))
		}
	}
	return out
}

// sameDecoding says how the scanner's decoding of a page differs from the general decoder's ("" if it does not):
// the same rows, rejects, counts and nextLink, and a refusal exactly when the general decoder refuses, as a
// malformed page that appended nothing.
func sameDecoding(got, want decodedPage) string {
	switch {
	case (got.err == nil) != (want.err == nil):
		return "one refused the page, the other did not"
	case got.err != nil && !errors.Is(got.err, odata.ErrBadPage):
		return "the refusal is not odata.ErrBadPage"
	case got.err != nil && (len(got.rows) != 0 || got.n != 0 || len(got.rejected) != 0):
		return "a refused page appended or set aside records"
	case got.err != nil:
		return ""
	case got.next != want.next || got.n != want.n || got.bad != want.bad ||
		fmt.Sprint(got.rows) != fmt.Sprint(want.rows) || fmt.Sprint(got.rejected) != fmt.Sprint(want.rejected):
		return "different decoding"
	}
	return ""
}

// trickyAuditPages are pages where a scanner could part from the general decoder.
var trickyAuditPages = []string{
	`{"value":[]}`,
	`null`,
	`{}`,
	`{"value":null}`,
	`{"@odata.nextLink":"https://x/api/data/v9.2/audits?$skiptoken=%3Ccookie%20pagenumber=%222%22%20pagingcookie=%22%253ccookie%2520page%253d%25221%2522%253e%253c%252fcookie%253e%22%20istracking=%22False%22%20/%3E\u0026a\/b","value":[]}`,
	`{"@odata.nextLink":null,"value":[]}`,
	`{"@odata.nextLink":"a","@odata.nextLink":null}`,
	`{"value":[{"auditid":"1","createdon":"2026-11-20T10:00:00Z","action":64,"operation":4,"objecttypecode":"systemuser","_objectid_value":"o","_userid_value":"u","_callinguserid_value":null}]}`,
	`{ "value" : [ { "auditid" : "2" , "createdon" : "2026-11-20T10:00:00.1234567Z" , "action" : null , "operation" : -0 , "x" : {"a":[1,2.5e-3,true,false,null,"]}"]} } ] , "@odata.context" : "x" }`,
	`{"value":[{"auditid":"J\u00f6rg \"JJ\" \\ \ud83d\ude00 \ud800x \udc00\ud800","createdon":"2026-11-20T00:00:00\u005a","objecttypecode":"a\tb\/"}]}`,
	"{\"value\":[{\"auditid\":\"a\xffb\xc3\",\"createdon\":\"2026-11-20T00:00:00Z\",\"_userid_value\":\"\xed\xa0\x80\"}]}",
	`{"value":[{"auditid":"3","createdon":"not a time"},{"createdon":"2026-11-20T00:00:00Z"},{"auditid":"","createdon":"2026-11-20T00:00:00Z"},{"auditid":"4"},{"auditid":"5","createdon":"2026-11-20T01:00:00+02:00","action":2147483647,"operation":-2147483648}]}`,
	`{"value":[null,{"auditid":"6","createdon":"2026-11-20T00:00:00Z"}]}`,
	`{"value":[{"AuditId":"7","CREATEDON":"2026-11-20T00:00:00Z","_uſerid_value":"s","audit\u0069d":"8","Actıon":1}],"Value":[{"action":3}],"@ODATA.NEXTLINK":"n"}`,
	`{"value":[{"auditid":"x","auditid":null,"createdon":"2026-11-20T00:00:00Z","createdon":"bad","createdon":"2026-11-21T00:00:00Z","action":3,"action":null,"operation":null,"operation":2}]}`,
	`{"value":[{"auditid":"a","createdon":"2026-11-20T00:00:00Z"},{"auditid":"b","createdon":"2026-11-20T00:00:00Z","action":2}],"value":[{"auditid":"c"}],"value":[{},{}]}`,
	`{"value":[{"auditid":"a","createdon":"2026-11-20T00:00:00Z"}],"value":null,"value":[{"auditid":"d"}]}`,
	`{"value":[{"auditid":"a","createdon":"2026-11-20T00:00:00Z"}],"value":[],"value":[{}]}`,
	`{"value":[{"auditid":"a","createdon":"2026-11-20T00:00:00Z"}],"value":[null]}`,
	"{\"@odata.nextLin\u212a\":\"k\",\"value\":[{\"auditid\":\"k\",\"createdon\":\"2026-11-20T00:00:00Z\",\"_u\\u017ferid_value\":\"s\",\"ACTİON\":1}]}",
	`{"value":[{"auditid":"<&>","createdon":"2026-11-20T00:00:00Z","x":1e400}]}`,
}

// brokenAuditPages are pages the general decoder refuses.
var brokenAuditPages = []string{
	``, ` `, `[]`, `"x"`, `{`, `{"value":[]} x`, `{"value":[]}}`, "\ufeff{\"value\":[]}", "{\"value\":[]}\x00", "\v{}",
	`{"value":[{"auditid":"1"}]`, `{"value":{}}`, `{"value":"x"}`, `{"value":[1]}`, `{"value":[{"auditid":1}]}`,
	`{"value":[{"action":1e2}]}`, `{"value":[{"action":1.0}]}`, `{"value":[{"action":2147483648}]}`, `{"value":[{"action":"2"}]}`,
	`{"value":[{"action":true}]}`, `{"value":[{"action":01}]}`, `{"value":[{"x":tru}]}`, `{"value":[{"x":[1,]}]}`,
	`{"value":[{"x":"\q"}]}`, `{"value":[{"x":"\u00"}]}`, "{\"value\":[{\"x\":\"\x01\"}]}", "{\"value\":[{\"x\x1f\":1}]}",
	`{"@odata.nextLink":5,"value":[]}`, `{"value":[{"createdon":5}]}`, `{"value":[{"x":-}]}`, `{"value":[{"x":.5}]}`,
	`{,"value":[]}`, `{"value":[{"auditid":"a"},]}`,
}

// nested is a page whose ignored property nests d arrays in a record: the general decoder refuses more than 10,000
// levels in all (the page, "value" and the record are three).
func nested(d int) string {
	return `{"value":[{"auditid":"a","createdon":"2026-11-20T00:00:00Z","x":` + strings.Repeat("[", d) + strings.Repeat("]", d) + `}]}`
}

func auditTestdataPages(t testing.TB) []string {
	files, err := filepath.Glob(filepath.Join("testdata", "*.json"))
	if err != nil || len(files) == 0 {
		t.Fatalf("testdata pages: %v", err)
	}
	var bodies []string
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		bodies = append(bodies, string(b))
	}
	return bodies
}

func TestAuditScannerMatchesGeneralDecoder(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	good := append(append([]string{string(pageOf(3)), nested(9997)}, trickyAuditPages...), auditTestdataPages(t)...)
	bad := append([]string{nested(9998)}, brokenAuditPages...)
	for i, body := range append(good, bad...) {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			got, want := scannedAudits(t, mem, []byte(body)), generalAudits(t, mem, []byte(body))
			if refused := i >= len(good); (want.err != nil) != refused {
				t.Fatalf("the general decoder refused %.200q: %v, want refused %v", body, want.err, refused)
			}
			if d := sameDecoding(got, want); d != "" {
				t.Errorf("%s on %.200q\nscanner: %v\ngeneral: %v", d, body, got, want)
			}
		})
	}
}

// FuzzAuditScanner: whatever the bytes, the scanner makes of a page what the general decoder makes of it: the same
// rows, rejects, counts and nextLink, or a malformed page when the general decoder refuses it, of which nothing is
// appended.
func FuzzAuditScanner(f *testing.F) {
	for _, p := range append(append(append([]string{string(pageOf(2))}, trickyAuditPages...), brokenAuditPages...), auditTestdataPages(f)...) {
		f.Add([]byte(p))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		got, want := scannedAudits(t, memory.DefaultAllocator, body), generalAudits(t, memory.DefaultAllocator, body)
		if d := sameDecoding(got, want); d != "" {
			t.Errorf("%s\nscanner: %v\ngeneral: %v", d, got, want)
		}
	})
}

// TestAuditsAcrossBatches: pages that fill batches of a few rows, with records set aside among them, land the same
// rows in the same batches through Audits as through the general decoder, and the checked allocator sees every
// buffer released.
func TestAuditsAcrossBatches(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	rejects := `{"value":[{"auditid":"3","createdon":"not a time"},{"auditid":"4","createdon":"2026-11-20T00:00:00Z"},{"createdon":"2026-11-20T00:00:00Z"}]}`
	bodies := [][]byte{pageOf(20), []byte(rejects), pageOf(1), []byte(rejects), pageOf(13)}
	batches := func(p *[]string) table.Sink {
		return table.SinkFunc(func(_ context.Context, rec arrow.RecordBatch) error {
			*p = append(*p, fmt.Sprint(rec.NumRows(), jsonLines(t, rec)))
			return nil
		})
	}
	var got, want, gotRejects, wantRejects []string
	x := auditExtractor(mem, &gotRejects)
	x.BatchRows = 7
	res, err := x.Audits(context.Background(), repeat{bodies, len(bodies)}, fixedNow, fixedNow, batches(&got))
	if err != nil {
		t.Fatal(err)
	}
	g := auditExtractor(mem, &wantRejects)
	bt := table.NewBatcher(mem, Audits, 7, batches(&want))
	defer bt.Release()
	var rejected int64
	n, err := generalRows(context.Background(), g, repeat{bodies, len(bodies)}, bt, &rejected)
	if err == nil {
		err = bt.Flush(context.Background())
	}
	if err != nil {
		t.Fatal(err)
	}
	if res.Rows != n.Rows || res.Pages != n.Pages || res.Rejected != rejected || res.Rejected == 0 ||
		fmt.Sprint(got) != fmt.Sprint(want) || fmt.Sprint(gotRejects) != fmt.Sprint(wantRejects) {
		t.Errorf("Audits: %+v, batches\n%v\nthe general decoder: %+v, %d rejected, batches\n%v", res, got, n, rejected, want)
	}
}
