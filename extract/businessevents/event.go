// Package businessevents receives Finance and Operations business events: it parses F&O's JSON envelope (and its
// alert business event, which an administrator can set on the user and user-role tables), finds the user an event
// is about, and keeps every accepted event in a journal on disk, fsynced before the event is acknowledged, until
// it is committed to the warehouse. What the envelope looks like, and how sure that is: testdata/README.md.
package businessevents

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Event is one business event as received.
type Event struct {
	Environment     string          `json:"environment"` // the F&O environment's name (its callback path)
	ReceivedAt      time.Time       `json:"received_at"`
	BusinessEventID string          `json:"business_event_id"`
	ControlNumber   string          `json:"control_number"`
	EventID         string          `json:"event_id"`
	EventTime       time.Time       `json:"event_time"` // zero when the payload has none that parses
	LegalEntity     string          `json:"legal_entity"`
	MajorVersion    int32           `json:"major_version"`
	MinorVersion    int32           `json:"minor_version"`
	UserID          string          `json:"user_id"` // the user the event is about, "" when none
	Fields          map[string]any  `json:"-"`       // every top-level field, for routing
	Payload         json.RawMessage `json:"payload"` // the body as it came
}

// Key identifies an event across F&O's retries: environment, business event id and control number.
func (e *Event) Key() string {
	return e.Environment + "|" + e.BusinessEventID + "|" + e.ControlNumber
}

// ErrMalformed means the body is not a business event.
var ErrMalformed = errors.New("not a business event")

// Parse reads one business event body. A body that is not a JSON object, or has no BusinessEventId, is
// ErrMalformed; an event seatlake does not know is parsed all the same.
func Parse(env string, body []byte, received time.Time) (*Event, error) {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var fields map[string]any
	if err := dec.Decode(&fields); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	if dec.More() {
		return nil, fmt.Errorf("%w: more than one JSON value", ErrMalformed)
	}
	e := &Event{Environment: env, ReceivedAt: received.UTC(), Fields: fields, Payload: json.RawMessage(bytes.TrimSpace(body))}
	e.BusinessEventID = str(fields["BusinessEventId"])
	if e.BusinessEventID == "" {
		return nil, fmt.Errorf("%w: no BusinessEventId", ErrMalformed)
	}
	e.ControlNumber = str(fields["ControlNumber"])
	e.EventID = str(fields["EventId"])
	if e.ControlNumber == "" {
		e.ControlNumber = e.EventID // no control number: the event id is what a retry repeats
	}
	e.LegalEntity = strings.ToUpper(firstOf(fields, "BusinessEventLegalEntity", "LegalEntity", "CompanyId", "DataAreaId"))
	e.MajorVersion, e.MinorVersion = int32(num(fields["MajorVersion"])), int32(num(fields["MinorVersion"]))
	if t, err := time.Parse(time.RFC3339Nano, str(fields["EventTimeIso8601"])); err == nil {
		e.EventTime = t.UTC()
	} else if ms, ok := msDate(str(fields["EventTime"])); ok {
		e.EventTime = time.UnixMilli(ms).UTC()
	}
	e.UserID = userOf(fields)
	return e, nil
}

// userOf is the user an event is about: an alert on the user or user-role table names it.
func userOf(f map[string]any) string {
	if u := firstOf(f, "UserId", "User", "UserID"); u != "" {
		return u
	}
	if k := strings.ToLower(str(f["KeyFieldName1"])); k == "user" || k == "userid" || k == "id" && strings.EqualFold(str(f["TableName"]), "UserInfo") {
		return str(f["KeyFieldValue1"])
	}
	return ""
}

func firstOf(f map[string]any, names ...string) string {
	for _, n := range names {
		if v := str(f[n]); v != "" {
			return v
		}
	}
	return ""
}

// str is a scalar field as text ("" for null, objects and arrays).
func str(v any) string {
	switch x := v.(type) {
	case string:
		return strings.TrimSpace(x)
	case json.Number:
		return x.String()
	case bool:
		return strconv.FormatBool(x)
	}
	return ""
}

func num(v any) int64 {
	n, _ := strconv.ParseInt(str(v), 10, 64)
	return n
}

// msDate reads the "/Date(1538011123000)/" form.
func msDate(s string) (int64, bool) {
	s, ok := strings.CutPrefix(s, "/Date(")
	if !ok {
		return 0, false
	}
	s, ok = strings.CutSuffix(s, ")/")
	if !ok {
		return 0, false
	}
	if i := strings.IndexAny(s[1:], "+-"); i >= 0 { // an offset after the milliseconds
		s = s[:i+1]
	}
	ms, err := strconv.ParseInt(s, 10, 64)
	return ms, err == nil
}

// Field is a top-level field of the event as text, for routing conditions.
func (e *Event) Field(name string) string { return str(e.Fields[name]) }
