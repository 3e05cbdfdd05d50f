package businessevents

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite the golden expected.json files")

// parsed is what a golden case expects of a payload: the envelope fields and the user, or the refusal.
type parsed struct {
	BusinessEventID string `json:"business_event_id,omitempty"`
	ControlNumber   string `json:"control_number,omitempty"`
	EventID         string `json:"event_id,omitempty"`
	EventTime       string `json:"event_time,omitempty"`
	LegalEntity     string `json:"legal_entity,omitempty"`
	MajorVersion    int32  `json:"major_version"`
	MinorVersion    int32  `json:"minor_version"`
	UserID          string `json:"user_id,omitempty"`
	Error           string `json:"error,omitempty"`
}

// Every payload under testdata/golden (the vendor's and public samples verbatim, and the documented alert shape the
// simulator sends) goes through the parser; expected.json is what it must find. -update rewrites them.
func TestParseGolden(t *testing.T) {
	dirs, _ := filepath.Glob("testdata/golden/*")
	if len(dirs) < 7 {
		t.Fatalf("golden cases: %v", dirs)
	}
	for _, dir := range dirs {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			body, err := os.ReadFile(filepath.Join(dir, "payload.json"))
			if err != nil {
				t.Fatal(err)
			}
			var got parsed
			e, err := Parse("contoso-prod", body, time.Unix(0, 0))
			if err != nil {
				got.Error = err.Error()
			} else {
				got = parsed{BusinessEventID: e.BusinessEventID, ControlNumber: e.ControlNumber, EventID: e.EventID, LegalEntity: e.LegalEntity,
					MajorVersion: e.MajorVersion, MinorVersion: e.MinorVersion, UserID: e.UserID}
				if !e.EventTime.IsZero() {
					got.EventTime = e.EventTime.Format(time.RFC3339Nano)
				}
				if !json.Valid(e.Payload) || bytes.HasPrefix(e.Payload, []byte("\xef\xbb\xbf")) {
					t.Errorf("the kept payload is not the JSON body: %q", e.Payload)
				}
			}
			want := filepath.Join(dir, "expected.json")
			if *update {
				b, _ := json.MarshalIndent(got, "", "  ")
				if err := os.WriteFile(want, append(b, '\n'), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			b, err := os.ReadFile(want)
			if err != nil {
				t.Fatalf("%v (run with -update)", err)
			}
			var exp parsed
			if err := json.Unmarshal(b, &exp); err != nil {
				t.Fatal(err)
			}
			if got != exp {
				t.Errorf("parsed %+v\nwant   %+v", got, exp)
			}
		})
	}
}

// Bodies that are no business event are refused with the reason, whatever their shape; none of them panics.
func TestParseRefuses(t *testing.T) {
	for _, tc := range []struct{ name, body, reason string }{
		{"not UTF-8", "{\"BusinessEventId\":\"X\",\"ControlNumber\":1,\"Name\":\"Caf\xe9\"}", "not UTF-8 (byte 52)"},
		{"an unpaired surrogate escape", `{"BusinessEventId":"X","ControlNumber":1,"Name":"\ud800"}`, `unpaired surrogate \uD800`},
		{"a low surrogate alone", `{"BusinessEventId":"X","ControlNumber":1,"Name":"a\\\udc00"}`, `unpaired surrogate \uDC00`},
		{"truncated JSON", `{"BusinessEventId":"X",`, "unexpected EOF"},
		{"empty", ``, "EOF"},
		{"an array", `[{"BusinessEventId":"X","ControlNumber":1}]`, "the body is an array, not a JSON object"},
		{"a string", `"BusinessEventId"`, "the body is a string, not a JSON object"},
		{"two values", `{"BusinessEventId":"X","ControlNumber":1} {}`, "more than one JSON value"},
		{"trailing garbage", `{"BusinessEventId":"X","ControlNumber":1}}`, "more than one JSON value"},
		{"no BusinessEventId", `{"ControlNumber":1}`, "no BusinessEventId string (got nothing)"},
		{"an empty BusinessEventId", `{"BusinessEventId":" ","ControlNumber":1}`, "an empty BusinessEventId"},
		{"a numeric BusinessEventId", `{"BusinessEventId":7,"ControlNumber":1}`, "no BusinessEventId string (got a number)"},
		{"no ControlNumber", `{"BusinessEventId":"X","EventId":"E-1"}`, "no integer ControlNumber (got nothing)"},
		{"a string ControlNumber", `{"BusinessEventId":"X","ControlNumber":"1"}`, "no integer ControlNumber (got a string)"},
		{"a fractional ControlNumber", `{"BusinessEventId":"X","ControlNumber":1.5}`, "no integer ControlNumber (got a number)"},
		{"a ControlNumber past int64", `{"BusinessEventId":"X","ControlNumber":99999999999999999999}`, "no integer ControlNumber (got a number)"},
	} {
		_, err := Parse("env", []byte(tc.body), time.Now())
		if !errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), tc.reason) {
			t.Errorf("%s: %v, want ErrMalformed saying %q", tc.name, err, tc.reason)
		}
	}
	// Paired surrogates and escaped backslashes are fine.
	if _, err := Parse("env", []byte(`{"BusinessEventId":"X","ControlNumber":1,"A":"\ud83d\ude00","B":"\\ud800"}`), time.Now()); err != nil {
		t.Errorf("a paired surrogate and an escaped backslash: %v", err)
	}
}

// Which user an event is about: only an alert on the user or user-role table names one, by the alerted record's
// KeyValue1; the alert's UserId (the rule's owner) and fields of other events never do.
func TestParseUser(t *testing.T) {
	for _, tc := range []struct{ name, body, user string }{
		{"alert on UserInfo", `{"BusinessEventId":"BusinessEventsAlertEvent","ControlNumber":1,"TableName":"UserInfo","KeyValue1":"bob","UserId":"Admin"}`, "bob"},
		{"alert on SecurityUserRole, any case", `{"BusinessEventId":"BusinessEventsAlertEvent","ControlNumber":1,"TableName":"securityuserrole","KeyValue1":"adele","KeyValue2":"5637144590","UserId":"Admin"}`, "adele"},
		{"alert on another table", `{"BusinessEventId":"BusinessEventsAlertEvent","ControlNumber":1,"TableName":"CustTable","KeyValue1":"US-001","UserId":"Admin"}`, ""},
		{"alert without a table", `{"BusinessEventId":"BusinessEventsAlertEvent","ControlNumber":1,"UserId":"Admin"}`, ""},
		{"another event with user-like fields", `{"BusinessEventId":"X","ControlNumber":1,"TableName":"UserInfo","KeyValue1":"bob","UserId":"carol"}`, ""},
	} {
		e, err := Parse("env", []byte(tc.body), time.Now())
		if err != nil || e.UserID != tc.user {
			t.Errorf("%s: user %q (%v), want %q", tc.name, e.UserID, err, tc.user)
		}
	}
	e, _ := Parse("env", []byte(`{"BusinessEventId":"BusinessEventsAlertEvent","ControlNumber":1,"TableName":"SecurityUserRole","KeyValue1":"5637144601"}`), time.Now())
	if !e.RecIDShaped() {
		t.Errorf("an all-digit KeyValue1 on SecurityUserRole is not flagged")
	}
}

// Concurrent appends with group commit all land, byte for byte; a segment whose last line was cut short by a kill
// reads back without it; a line that no longer parses is returned as rejected and set aside as it was; rotation
// hands over closed segments only; a segment written before bodies were kept as strings still reads.
func TestJournal(t *testing.T) {
	dir := t.TempDir()
	j, err := OpenJournal(dir, true)
	if err != nil {
		t.Fatal(err)
	}
	var bodies []string
	for i := range 200 {
		bodies = append(bodies, `{ "BusinessEventId": "X", "ControlNumber": `+strconv.Itoa(i)+`, "Note": "<a & b>" }`)
	}
	segs := appendAtOnce(t, j, bodies, time.Now)
	evs, rej, err := ReadSegment(segs[0])
	if err != nil || len(evs) != 200 || len(rej) != 0 {
		t.Fatalf("read back %d events, %d rejected: %v", len(evs), len(rej), err)
	}
	if p := string(evs[0].Payload); !strings.HasPrefix(p, `{ "BusinessEventId": "X", "ControlNumber": `) || !strings.HasSuffix(p, `"Note": "<a & b>" }`) {
		t.Errorf("the payload is not kept as it came: %s", p)
	}
	j.Close()
	f, _ := os.OpenFile(segs[0], os.O_APPEND|os.O_WRONLY, 0)
	// An older receiver's line (body as a JSON value), one it journaled though it is not UTF-8, and a torn line.
	f.WriteString(`{"environment":"env","received_at":"2026-01-01T00:00:00Z","payload":{"BusinessEventId":"Old","ControlNumber":9}}` + "\n")
	f.WriteString("{\"environment\":\"env\",\"received_at\":\"2026-01-01T00:00:00Z\",\"payload\":{\"BusinessEventId\":\"Bad\",\"ControlNumber\":10,\"N\":\"\xff\"}}\n")
	f.WriteString(`{"environment":"env","received_at":"2026-`)
	f.Close()
	evs, rej, err = ReadSegment(segs[0])
	if err != nil || len(evs) != 201 || evs[200].BusinessEventID != "Old" || len(rej) != 1 || rej[0].Line != 202 || !strings.Contains(rej[0].Reason, "not UTF-8") {
		t.Fatalf("an old line, a rejected line and a torn line: %d events, rejected %+v, %v", len(evs), rej, err)
	}
	aside := filepath.Join(dir, "rejected")
	if err := SetAside(aside, segs[0], rej); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(filepath.Join(aside, filepath.Base(segs[0]))); !bytes.Equal(b, append(rej[0].Raw, '\n')) {
		t.Errorf("set aside: %q", b)
	}
	if m, _ := filepath.Glob(filepath.Join(dir, "seg-*")); len(m) != 2 {
		t.Errorf("segments: %v", m)
	}
}

// FuzzParse: whatever the bytes, the one-pass parser makes of a body what encoding/json's parser makes of it: the
// same event with the same fields (Field), or it leaves the body to that parser, so every refusal is worded as it
// always was. The seeds are the golden payloads, the refusals above and shapes the scanner reads differently.
func FuzzParse(f *testing.F) {
	for _, b := range goldenPayloads(f) {
		f.Add(b)
	}
	for _, s := range []string{
		"{\"BusinessEventId\":\"X\",\"ControlNumber\":1,\"Name\":\"Caf\xe9\"}",
		`{"BusinessEventId":"X","ControlNumber":1,"Name":"\ud800"}`,
		`{"BusinessEventId":"X",`, ``, `[{"BusinessEventId":"X","ControlNumber":1}]`, `"BusinessEventId"`,
		`{"BusinessEventId":"X","ControlNumber":1} {}`, `{"BusinessEventId":"X","ControlNumber":1}}`,
		`{"BusinessEventId":" ","ControlNumber":1}`, `{"BusinessEventId":7,"ControlNumber":1}`,
		`{"BusinessEventId":"X","ControlNumber":"1"}`, `{"BusinessEventId":"X","ControlNumber":1.5}`,
		`{"BusinessEventId":"X","ControlNumber":99999999999999999999}`,
		`{"BusinessEventId":"X","ControlNumber":1,"A":"\ud83d\ude00","B":"\\ud800"}`,
		"\xef\xbb\xbf {\"Business\\u0045ventId\":\"X\",\"ControlNumber\":-0, \"ControlNumber\":2,\"MajorVersion\":\"7\",\"MinorVersion\":1e3}\n",
		`{"BusinessEventId":" BusinessEventsAlertEvent ","ControlNumber":1,"TableName":" userinfo","KeyValue1":" b\u00f6b ","KeyValue1":null}`,
		`{"BusinessEventId":"BusinessEventsAlertEvent","ControlNumber":1,"TableName":"SecurityUserRole","KeyValue1":42,"LegalEntity":"","DataAreaId":"usmf"}`,
		`{"BusinessEventId":"X","ControlNumber":1,"EventTimeIso8601":"2026-12-02T10:00:00+01:00","EventTime":"\/Date(1764684000000+0100)\/","N":{"a":[1,true,null,"x"]},"T":true,"F":false}`,
		`{"BusinessEventId":"X","ControlNumber":1,"MajorVersion":4294967297,"BusinessEventLegalEntity":{"x":1},"LegalEntity":"dat"}`,
		"{\"BusinessEventId\":\"X\",\"ControlNumber\":1,\"S\":\"a\tb\"}",
		`{"BusinessEventId":"X","ControlNumber":1,"S":"\u0000\"\\\/\b\f\n\r\t"}`,
	} {
		f.Add([]byte(s))
	}
	received := time.Date(2026, 12, 7, 16, 0, 0, 123456789, time.FixedZone("CET", 3600))
	f.Fuzz(func(t *testing.T, body []byte) {
		want, fields, wantErr := parseStd("env", body, received)
		got, err := Parse("env", body, received)
		if (err == nil) != (wantErr == nil) || (err != nil && err.Error() != wantErr.Error()) {
			t.Fatalf("Parse(%q): %v, encoding/json's parser: %v", body, err, wantErr)
		}
		fast, ok := parseFast("env", body, received)
		if ok && wantErr != nil {
			t.Fatalf("parseFast(%q) took a body encoding/json's parser refuses: %v", body, wantErr)
		}
		if !ok {
			return
		}
		if !reflect.DeepEqual(fast, want) || !reflect.DeepEqual(got, want) {
			t.Fatalf("parseFast(%q):\n%+v\nencoding/json's parser:\n%+v", body, fast, want)
		}
		for k, v := range fields {
			if fast.Field(k) != str(v) {
				t.Errorf("Field(%q) = %q, want %q", k, fast.Field(k), str(v))
			}
		}
		if fast.Field("NoSuchField") != "" {
			t.Errorf("Field of an absent field: %q", fast.Field("NoSuchField"))
		}
	})
}

// The golden events that parse, and the shapes F&O sends, are read by the one-pass parser (a body it left to
// encoding/json would be parsed right, but several times slower).
func TestParseFastTakesEvents(t *testing.T) {
	for p, b := range goldenPayloads(t) {
		if _, err := Parse("env", b, time.Now()); err != nil {
			continue // a refusal: parseStd words it
		}
		if _, ok := parseFast("env", b, time.Now()); !ok {
			t.Errorf("%s: left to encoding/json", p)
		}
	}
}

// BenchmarkParse reads the body the bench's clients post (go test -run X -bench Parse ./extract/businessevents/).
func BenchmarkParse(b *testing.B) {
	body := []byte(`{"BusinessEventId":"SalesOrderInvoicedBusinessEvent","ControlNumber":5637144576,"EventId":"bench-1","EventTimeIso8601":"2026-12-02T10:00:00Z","BusinessEventLegalEntity":"USMF","MajorVersion":1,"MinorVersion":0,"InvoiceAccount":"US-001","InvoiceAmount":1.5}`)
	now := time.Now()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Parse("contoso-prod", body, now); err != nil {
			b.Fatal(err)
		}
	}
}

// The events of a segment the journal wrote are read back as ReadSegment reads them from the file (what a
// restarted receiver recovers from): the same events, in the same order, without parsing the file again; a journal
// opened again on the folder (a restart) reads the file; a removed segment is gone from both.
func TestJournalReadsWhatItWrote(t *testing.T) {
	dir := t.TempDir()
	j, err := OpenJournal(dir, true)
	if err != nil {
		t.Fatal(err)
	}
	bodies := []string{
		`{"BusinessEventId":"X","ControlNumber":1,"Note":"<a & b>"}`,
		"\xef\xbb\xbf {\"BusinessEventId\":\"BusinessEventsAlertEvent\",\"ControlNumber\":2,\"TableName\":\"UserInfo\",\"KeyValue1\":\"b\\u00f6b\",\"EventTime\":\"\\/Date(1196865000000)\\/\"}\n",
		`{"BusinessEventId":"Y","ControlNumber":3,"S":"\ud83d\ude00 \u2028 \t"}`,
	}
	segs := appendAtOnce(t, j, bodies, func() time.Time { return time.Now().In(time.FixedZone("CET", 3600)) })
	held, rej, err := j.Read(segs[0])
	if err != nil || len(rej) != 0 || len(held) != len(bodies) {
		t.Fatalf("read: %d events, %v rejected, %v", len(held), rej, err)
	}
	fromFile, rej, err := ReadSegment(segs[0])
	if err != nil || len(rej) != 0 {
		t.Fatalf("the file: %v rejected, %v", rej, err)
	}
	if !reflect.DeepEqual(held, fromFile) {
		t.Errorf("held:\n%+v\nthe file:\n%+v", held, fromFile)
	}
	j.Close()
	j2, err := OpenJournal(dir, true)
	if err != nil {
		t.Fatal(err)
	}
	defer j2.Close()
	again, _, err := j2.Read(segs[0])
	if err != nil || !reflect.DeepEqual(again, fromFile) {
		t.Errorf("after a restart: %+v, %v", again, err)
	}
	if err := j.Remove(segs[0]); err != nil {
		t.Fatal(err)
	}
	if evs, _, err := j.Read(segs[0]); err == nil || len(evs) != 0 {
		t.Errorf("a removed segment still reads: %d events", len(evs))
	}
}

// encodedRecord is a journal line as encoding/json's Encoder writes it (what Append wrote before appendRecord).
func encodedRecord(t testing.TB, e *Event) []byte {
	var line bytes.Buffer
	enc := json.NewEncoder(&line)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(record{Environment: e.Environment, ReceivedAt: e.ReceivedAt, Body: string(e.Payload)}); err != nil {
		t.Fatal(err)
	}
	return line.Bytes()
}

// A journal line is written byte for byte as encoding/json wrote it, whatever the body holds and whenever it came.
func TestAppendRecord(t *testing.T) {
	for _, tc := range []struct {
		name, env, body string
		at              time.Time
	}{
		{"the bench's event", "contoso-prod", `{"BusinessEventId":"X","ControlNumber":1,"Note":"<a & b>"}`, time.Date(2026, 12, 7, 16, 0, 0, 123456789, time.UTC)},
		{"escapes and control characters", "env", "{\"S\":\"\\\"q\\\" \\\\ \\/ \x7f\",\n\t\"T\":\"\\u2028\u2028\u2029\"}\r", time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)},
		{"beyond ASCII", "caf\u00e9", `{"S":"` + "\U0001F600 \u00e9 \u4e2d" + `"}`, time.Date(2026, 1, 1, 0, 0, 0, 100, time.UTC)},
		{"not UTF-8", "e\xff", "{\"S\":\"\xff\xfe\xc3\"}", time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)},
		{"no body", "env", "", time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)},
		{"a zone", "env", `{}`, time.Date(2026, 1, 1, 0, 0, 0, 5, time.FixedZone("CET", 3600))},
	} {
		e := &Event{Environment: tc.env, ReceivedAt: tc.at, Payload: json.RawMessage(tc.body)}
		got, err := appendRecord([]byte("prefix"), e)
		if want := append([]byte("prefix"), encodedRecord(t, e)...); err != nil || !bytes.Equal(got, want) {
			t.Errorf("%s: %q (%v)\nwant %q", tc.name, got, err, want)
		}
	}
}

// FuzzAppendRecord: appendRecord writes what encoding/json's Encoder writes, for any environment, body and time.
func FuzzAppendRecord(f *testing.F) {
	f.Add("contoso-prod", []byte(`{"BusinessEventId":"X","ControlNumber":1,"Note":"<a & b>"}`), int64(1764684000123456789))
	f.Add("e\x00\u2028", []byte("{\"S\":\"\\u00e9\xff\b\f\n\r\t\x01\x1f\\\"\u2029\U0001F600\"}"), int64(-62135596800000000))
	f.Fuzz(func(t *testing.T, env string, body []byte, ns int64) {
		e := &Event{Environment: env, ReceivedAt: time.Unix(0, ns).UTC(), Payload: body}
		got, err := appendRecord(nil, e)
		if err != nil {
			t.Fatal(err)
		}
		if want := encodedRecord(t, e); !bytes.Equal(got, want) {
			t.Fatalf("%q\nwant %q", got, want)
		}
	})
}

// appendAtOnce appends the events of bodies to j from a goroutine each, as concurrent requests do (received gives
// each its time), and returns the segments Rotate hands over then: one.
func appendAtOnce(t *testing.T, j *Journal, bodies []string, received func() time.Time) []string {
	t.Helper()
	var wg sync.WaitGroup
	for _, b := range bodies {
		wg.Add(1)
		go func() {
			defer wg.Done()
			e, err := Parse("env", []byte(b), received())
			if err != nil {
				t.Error(err)
				return
			}
			if err := j.Append(e); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	segs, err := j.Rotate()
	if err != nil || len(segs) != 1 {
		t.Fatalf("rotate: %v %v", segs, err)
	}
	return segs
}

// goldenPayloads are the bodies of the golden events, by file.
func goldenPayloads(tb testing.TB) map[string][]byte {
	tb.Helper()
	paths, _ := filepath.Glob("testdata/golden/*/payload.json")
	bodies := map[string][]byte{}
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			tb.Fatal(err)
		}
		bodies[p] = b
	}
	if len(bodies) == 0 {
		tb.Fatal("no golden payloads under testdata/golden")
	}
	return bodies
}
