// Package businessevents receives Finance and Operations business events: it parses F&O's JSON envelope (and its
// alert business event, which an administrator can set on the user and user-role tables), finds the user an event
// is about, and keeps every accepted event in a journal on disk, fsynced before the event is acknowledged, until
// it is committed to the warehouse. What the envelope looks like, with the source of each fact and whether it is
// verified: testdata/README.md.
package businessevents

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
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
	Payload         json.RawMessage `json:"payload"` // the body as it came (valid UTF-8 JSON); Field reads it
}

// Key identifies an event across F&O's retries: environment, business event id and control number (F&O documents
// the control number as what a consumer tracks to detect duplicates).
func (e *Event) Key() string {
	return e.Environment + "|" + e.BusinessEventID + "|" + e.ControlNumber
}

// ErrMalformed means the body is not a business event.
var ErrMalformed = errors.New("not a business event")

// AlertEventID is the business event F&O sends for an alert rule set to "Send externally".
const AlertEventID = "BusinessEventsAlertEvent"

// The tables whose alerts name a user through the alerted record's key (KeyValue1): the user table, whose key is
// the user id, and the user-role table, whose key starts with the user.
const (
	UserTable     = "UserInfo"
	UserRoleTable = "SecurityUserRole"
)

// Parse reads one business event body. A body that is not UTF-8, not one JSON object, without a BusinessEventId
// string or without an integer ControlNumber is ErrMalformed, with what was wrong; an event seatlake does not know
// is parsed all the same. A UTF-8 byte order mark before the object is dropped (RFC 8259 lets a parser ignore it).
//
// A well-formed event is read in one pass of the strict scanner, which keeps only the envelope's fields; anything
// else (every refusal) is read again by encoding/json (parseStd), so a refusal says exactly what it always said.
func Parse(env string, body []byte, received time.Time) (*Event, error) {
	if e, ok := parseFast(env, body, received); ok {
		return e, nil
	}
	e, _, err := parseStd(env, body, received)
	return e, err
}

// parseStd is Parse by encoding/json into a map: the reference parseFast is checked against (FuzzParse), and what
// explains a refusal. It returns the top-level fields too, for that check.
func parseStd(env string, body []byte, received time.Time) (*Event, map[string]any, error) {
	body = bytes.TrimPrefix(body, []byte(bom))
	if !utf8.Valid(body) {
		return nil, nil, fmt.Errorf("%w: the body is not UTF-8 (byte %d)", ErrMalformed, invalidUTF8At(body))
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, nil, fmt.Errorf("%w: more than one JSON value", ErrMalformed)
	}
	fields, ok := v.(map[string]any)
	if !ok {
		return nil, nil, fmt.Errorf("%w: the body is %s, not a JSON object", ErrMalformed, kind(v))
	}
	if err := loneSurrogate(body); err != nil {
		return nil, nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	e := &Event{Environment: env, ReceivedAt: received.UTC(), Payload: json.RawMessage(bytes.TrimSpace(body))}
	id, ok := fields["BusinessEventId"].(string)
	switch e.BusinessEventID = strings.TrimSpace(id); {
	case !ok:
		return nil, nil, fmt.Errorf("%w: no BusinessEventId string (got %s)", ErrMalformed, fieldKind(fields, "BusinessEventId"))
	case e.BusinessEventID == "":
		return nil, nil, fmt.Errorf("%w: an empty BusinessEventId", ErrMalformed)
	}
	cn, ok := fields["ControlNumber"].(json.Number)
	if _, err := strconv.ParseInt(string(cn), 10, 64); !ok || err != nil {
		return nil, nil, fmt.Errorf("%w: no integer ControlNumber (got %s)", ErrMalformed, fieldKind(fields, "ControlNumber"))
	}
	e.ControlNumber = string(cn)
	e.EventID = str(fields["EventId"])
	e.LegalEntity = strings.ToUpper(firstOf(fields, "BusinessEventLegalEntity", "LegalEntity", "DataAreaId"))
	e.MajorVersion, e.MinorVersion = int32(num(fields["MajorVersion"])), int32(num(fields["MinorVersion"]))
	if t, err := time.Parse(time.RFC3339Nano, str(fields["EventTimeIso8601"])); err == nil {
		e.EventTime = t.UTC()
	} else if ms, ok := msDate(str(fields["EventTime"])); ok {
		e.EventTime = time.UnixMilli(ms).UTC()
	}
	if e.BusinessEventID == AlertEventID {
		e.UserID = userOf(str(fields["TableName"]), str(fields["KeyValue1"]))
	}
	return e, fields, nil
}

// bom is UTF-8's byte order mark.
const bom = "\xef\xbb\xbf"

// userOf is the user an alert on the user or user-role table is about: the alerted record's first key value. The
// alert's own UserId is the owner of the alert rule (who is notified), not the user the record is about.
func userOf(table, keyValue1 string) string {
	if strings.EqualFold(table, UserTable) || strings.EqualFold(table, UserRoleTable) {
		return keyValue1
	}
	return ""
}

// RecIDShaped reports an alert on the user-role table whose KeyValue1 is all digits: a user id can be, but so would
// be the assignment's RecId if F&O keyed the table by it (its SecurityUserRoles entity has no RecId to map it back).
func (e *Event) RecIDShaped() bool {
	if e.UserID == "" || !strings.EqualFold(e.Field("TableName"), UserRoleTable) {
		return false
	}
	return strings.Trim(e.UserID, "0123456789") == ""
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

// fieldKind names what a field holds for an error message: nothing when it is absent.
func fieldKind(f map[string]any, name string) string {
	if v, ok := f[name]; ok {
		return kind(v)
	}
	return "nothing"
}

// kind names a JSON value's type for an error message.
func kind(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case string:
		return "a string"
	case json.Number:
		return "a number"
	case bool:
		return "a boolean"
	case []any:
		return "an array"
	case map[string]any:
		return "an object"
	}
	return fmt.Sprintf("%T", v)
}

func num(v any) int64 {
	n, _ := strconv.ParseInt(str(v), 10, 64)
	return n
}

// msDate reads the "/Date(1538011123000)/" form: milliseconds since 1970-01-01 UTC, possibly negative, possibly
// followed by an offset such as +0100.
func msDate(s string) (int64, bool) {
	s, ok := strings.CutPrefix(s, "/Date(")
	if !ok {
		return 0, false
	}
	s, ok = strings.CutSuffix(s, ")/")
	if !ok || s == "" {
		return 0, false
	}
	if i := strings.IndexAny(s[1:], "+-"); i >= 0 { // an offset after the milliseconds
		s = s[:i+1]
	}
	ms, err := strconv.ParseInt(s, 10, 64)
	return ms, err == nil
}

func invalidUTF8At(b []byte) int {
	for i := 0; i < len(b); {
		r, n := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && n <= 1 {
			return i
		}
		i += n
	}
	return len(b)
}

// loneSurrogate finds a \uD800-\uDFFF escape that is not part of a pair: valid JSON text, but no Unicode string,
// and readers that decode it strictly (DuckDB's JSON functions) refuse the whole value.
func loneSurrogate(b []byte) error {
	for i := 0; i+1 < len(b); i++ {
		if b[i] != '\\' {
			continue
		}
		if b[i+1] != 'u' || i+6 > len(b) {
			i++ // an escaped character: skip it (it may be a backslash)
			continue
		}
		hi, err := strconv.ParseUint(string(b[i+2:i+6]), 16, 16)
		if err != nil {
			return fmt.Errorf("a bad \\u escape at byte %d", i)
		}
		switch {
		case hi >= 0xD800 && hi <= 0xDBFF:
			if i+12 <= len(b) && b[i+6] == '\\' && b[i+7] == 'u' {
				if lo, err := strconv.ParseUint(string(b[i+8:i+12]), 16, 16); err == nil && lo >= 0xDC00 && lo <= 0xDFFF {
					i += 11
					continue
				}
			}
			return fmt.Errorf("an unpaired surrogate \\u%04X at byte %d", hi, i)
		case hi >= 0xDC00 && hi <= 0xDFFF:
			return fmt.Errorf("an unpaired surrogate \\u%04X at byte %d", hi, i)
		}
		i += 5
	}
	return nil
}
