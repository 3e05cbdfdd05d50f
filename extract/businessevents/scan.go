package businessevents

import (
	"bytes"
	"encoding/json"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/seatlake/seatlake/extract/jsonscan"
)

// value is a top-level field's value as the scanner found it: raw bytes of the body, and its kind.
type value struct {
	raw     []byte
	kind    byte // 0 absent, '"' string, '0' number, 't' true, 'f' false, 'n' null, '{' object or array
	escaped bool // a string's raw bytes must be decoded (jsonscan.Str)
}

// text is the value as str reads it from encoding/json's: a string decoded and trimmed, a number as written,
// a boolean as true/false, "" for null, objects, arrays and absent fields.
func (v value) text() string {
	switch v.kind {
	case '"':
		if !v.escaped {
			return strings.TrimSpace(string(v.raw))
		}
		b, err := jsonscan.Decode(make([]byte, 0, len(v.raw)), v.raw)
		if err != nil {
			return ""
		}
		return strings.TrimSpace(string(b))
	case '0':
		return string(v.raw)
	case 't':
		return "true"
	case 'f':
		return "false"
	}
	return ""
}

// scanValue reads one value of the scanner's next member.
func scanValue(s *jsonscan.Scanner) (value, error) {
	switch c := s.Peek(); c {
	case '"':
		raw, esc, err := s.Str()
		return value{raw: raw, kind: '"', escaped: esc}, err
	case '{', '[':
		return value{kind: '{'}, s.Skip()
	case 't', 'f', 'n':
		return value{kind: c}, s.Skip()
	default:
		raw, err := s.Number()
		return value{raw: raw, kind: '0'}, err
	}
}

// keyName is a member's raw key (as jsonscan.Object hands it) decoded: raw itself when it has no escape (nearly
// always), else a decoded copy.
func keyName(raw []byte) ([]byte, error) {
	if bytes.IndexByte(raw, '\\') < 0 {
		return raw, nil
	}
	return jsonscan.Decode(nil, raw)
}

// envelope are the fields Parse reads; the others are kept in the payload only (Field reads them when a route asks).
type envelope struct {
	id, controlNumber, eventID, eventTimeISO, eventTime, businessEventLegalEntity, legalEntity, dataAreaID,
	major, minor, tableName, keyValue1 value
}

// slot is where the envelope keeps the member named key (its decoded name), nil for a member it does not keep.
func (f *envelope) slot(key string) *value {
	switch key {
	case "BusinessEventId":
		return &f.id
	case "ControlNumber":
		return &f.controlNumber
	case "EventId":
		return &f.eventID
	case "EventTimeIso8601":
		return &f.eventTimeISO
	case "EventTime":
		return &f.eventTime
	case "BusinessEventLegalEntity":
		return &f.businessEventLegalEntity
	case "LegalEntity":
		return &f.legalEntity
	case "DataAreaId":
		return &f.dataAreaID
	case "MajorVersion":
		return &f.major
	case "MinorVersion":
		return &f.minor
	case "TableName":
		return &f.tableName
	case "KeyValue1":
		return &f.keyValue1
	}
	return nil
}

// parseFast is Parse of a well-formed business event in one pass of the strict scanner, without a map or
// reflection. It answers ok only where parseStd accepts the body and makes the same event of it (FuzzParse
// checks it); for anything else (an event to refuse, or a shape it does not read) it answers !ok and Parse asks
// parseStd, whose refusals name what is wrong.
func parseFast(env string, body []byte, received time.Time) (*Event, bool) {
	body = bytes.TrimPrefix(body, []byte(bom))
	if !utf8.Valid(body) {
		return nil, false
	}
	s := jsonscan.NewStrict(body)
	if s.Peek() != '{' {
		return nil, false
	}
	var f envelope
	err := s.Object(func(key []byte) error {
		name, err := keyName(key)
		if err != nil {
			return err
		}
		slot := f.slot(string(name)) // no allocation: the switch compares the bytes
		v, err := scanValue(&s)
		if err == nil && slot != nil {
			*slot = v // a repeated member: the last one counts, as it does in encoding/json's map
		}
		return err
	})
	if err != nil || s.End() != nil {
		return nil, false
	}
	// A \u escape outside a string is no JSON, so only bodies with a backslash can hold a lone surrogate.
	if bytes.IndexByte(body, '\\') >= 0 && loneSurrogate(body) != nil {
		return nil, false
	}
	if f.id.kind != '"' || f.controlNumber.kind != '0' {
		return nil, false
	}
	if _, err := strconv.ParseInt(string(f.controlNumber.raw), 10, 64); err != nil {
		return nil, false
	}
	e := &Event{Environment: env, ReceivedAt: received.UTC(), Payload: json.RawMessage(bytes.TrimSpace(body)),
		BusinessEventID: f.id.text(), ControlNumber: string(f.controlNumber.raw)}
	if e.BusinessEventID == "" {
		return nil, false
	}
	e.EventID = f.eventID.text()
	for _, v := range []value{f.businessEventLegalEntity, f.legalEntity, f.dataAreaID} {
		if t := v.text(); t != "" {
			e.LegalEntity = strings.ToUpper(t)
			break
		}
	}
	major, _ := strconv.ParseInt(f.major.text(), 10, 64)
	minor, _ := strconv.ParseInt(f.minor.text(), 10, 64)
	e.MajorVersion, e.MinorVersion = int32(major), int32(minor)
	if t, err := time.Parse(time.RFC3339Nano, f.eventTimeISO.text()); err == nil {
		e.EventTime = t.UTC()
	} else if ms, ok := msDate(f.eventTime.text()); ok {
		e.EventTime = time.UnixMilli(ms).UTC()
	}
	if e.BusinessEventID == AlertEventID {
		e.UserID = userOf(f.tableName.text(), f.keyValue1.text())
	}
	return e, true
}

// Field is a top-level field of the event as text, for routing conditions: a string trimmed, a number as written,
// true or false; "" for null, an object, an array or a field the event does not have. A field given twice is its
// last value. It reads the payload again: routes ask for few fields of few events.
func (e *Event) Field(name string) string {
	s := jsonscan.NewStrict(e.Payload)
	var found value
	s.Object(func(key []byte) error {
		v, err := scanValue(&s)
		if err == nil {
			if k, kerr := keyName(key); kerr == nil && string(k) == name {
				found = v
			}
		}
		return err
	})
	return found.text()
}
