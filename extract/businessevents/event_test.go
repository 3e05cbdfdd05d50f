package businessevents

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"
)

func TestParse(t *testing.T) {
	alert, _ := os.ReadFile("testdata/sample-alert.json")
	unknown, _ := os.ReadFile("testdata/sample-unknown.json")
	for _, tc := range []struct {
		name                                 string
		body                                 string
		malformed                            bool
		id, control, entity, user, eventTime string
	}{
		{name: "an alert on the user-role table names its user", body: string(alert), id: "BusinessEventsAlertEvent", control: "5637144577",
			entity: "USMF", user: "adele", eventTime: "2025-12-02T14:00:00Z"},
		{name: "an event seatlake does not know is kept; /Date(ms)/ time", body: string(unknown), id: "SalesOrderInvoicedBusinessEvent",
			control: "5637144600", entity: "USRT", eventTime: "2025-12-02T14:10:00Z"},
		{name: "an alert on UserInfo keyed by id", body: `{"BusinessEventId":"BusinessEventsAlertEvent","ControlNumber":1,"TableName":"UserInfo","KeyFieldName1":"id","KeyFieldValue1":"bob"}`,
			id: "BusinessEventsAlertEvent", control: "1", user: "bob"},
		{name: "no control number: the event id stands in", body: `{"BusinessEventId":"X","EventId":"E-1"}`, id: "X", control: "E-1"},
		{name: "truncated JSON", body: `{"BusinessEventId":"X",`, malformed: true},
		{name: "no BusinessEventId", body: `{"ControlNumber":1}`, malformed: true},
		{name: "an array", body: `[{"BusinessEventId":"X"}]`, malformed: true},
		{name: "two values", body: `{"BusinessEventId":"X"} {}`, malformed: true},
	} {
		e, err := Parse("contoso-prod", []byte(tc.body), time.Unix(0, 0))
		if tc.malformed {
			if !errors.Is(err, ErrMalformed) {
				t.Errorf("%s: %v, want ErrMalformed", tc.name, err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		got := ""
		if !e.EventTime.IsZero() {
			got = e.EventTime.Format(time.RFC3339)
		}
		if e.BusinessEventID != tc.id || e.ControlNumber != tc.control || e.LegalEntity != tc.entity || e.UserID != tc.user || got != tc.eventTime {
			t.Errorf("%s: %+v", tc.name, e)
		}
	}
}

// Concurrent appends with group commit all land; a segment whose last line was cut short by a kill reads back
// without it; rotation hands over closed segments only.
func TestJournal(t *testing.T) {
	dir := t.TempDir()
	j, err := OpenJournal(dir, true)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for i := range 200 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			e, _ := Parse("env", []byte(`{"BusinessEventId":"X","ControlNumber":`+strconv.Itoa(i)+`}`), time.Now())
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
	evs, err := ReadSegment(segs[0])
	if err != nil || len(evs) != 200 {
		t.Fatalf("read back %d events: %v", len(evs), err)
	}
	j.Close()
	f, _ := os.OpenFile(segs[0], os.O_APPEND|os.O_WRONLY, 0)
	f.WriteString(`{"environment":"env","received_at":"2026-`)
	f.Close()
	if evs, err := ReadSegment(segs[0]); err != nil || len(evs) != 200 {
		t.Errorf("a torn last line: %d events, %v", len(evs), err)
	}
	if m, _ := filepath.Glob(filepath.Join(dir, "seg-*")); len(m) != 2 {
		t.Errorf("segments: %v", m)
	}
}

func itoa(i int) string {
	return string(rune('0'+i/100)) + string(rune('0'+i/10%10)) + string(rune('0'+i%10))
}
