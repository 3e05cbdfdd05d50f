package dataverse

import (
	"bytes"
	"context"
	"strings"
	"unicode/utf8"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/seatlake/seatlake/extract/jsonscan"
	"github.com/seatlake/seatlake/extract/pages"
	"github.com/seatlake/seatlake/internal/table"
)

// The audit page scanner: it reads a page as the general decoder (pages.Rows, goccy/go-json into []auditJSON) reads
// it, without reflection and without copying the page, and appends straight into the Arrow builders. What the
// general decoder accepts, refuses and makes of a page, the scanner does too (FuzzAuditScanner holds it to that):
//   - a page is an object (or null, an empty page); anything else, and any syntax error, is a malformed page, of
//     which nothing is appended;
//   - keys match as encoding/json matches struct fields: exactly, or else after decoding escapes by Unicode case
//     folding;
//   - a value of the wrong type (a number for auditid, 1.0 or 1e0 for action) makes the page malformed;
//   - null leaves auditid and the nextLink (plain strings there) as they were and clears the other fields;
//   - a repeated "value" decodes into the records of the one before, index by index, as a decoder reusing a
//     slice does; a "value" of null drops them.

// auditDecoder decodes audit pages into a batcher of Audits. It is not safe for concurrent use.
type auditDecoder struct {
	x    *Extractor
	bt   *table.Batcher
	prov func()
	// rows is the page's records as sub-slices of the body; n of them are the page's "value" (see scanPage).
	rows []auditRef
	n    int
	tmp  []byte // scratch for decoding escapes
	// reserved is set once the current batch's builders are sized (see reserveBatch).
	reserved bool

	id, otype, oid, uid, calling *array.StringBuilder
	action, op                   *array.Int32Builder
	created                      *array.TimestampBuilder
}

// auditRef holds one audit record's fields as sub-slices of the page body.
type auditRef struct {
	id, created, otype, oid, uid, calling jsonscan.Field
	action, op                            int32
	hasAction, hasOp                      bool
}

func (x *Extractor) newAuditDecoder(bt *table.Batcher) *auditDecoder {
	return &auditDecoder{
		x: x, bt: bt, prov: x.provenance(bt, x.OrganizationID),
		id: bt.String("auditid"), otype: bt.String("object_type"), oid: bt.String("object_id"),
		uid: bt.String("user_id"), calling: bt.String("calling_user_id"),
		action: bt.Int32("action"), op: bt.Int32("operation"), created: bt.Timestamp("createdon"),
	}
}

// decodePage scans the whole page first and appends only if it parsed, so a truncated page appends nothing. It
// returns the nextLink, the rows appended and the records set aside.
func (d *auditDecoder) decodePage(ctx context.Context, body []byte) (next string, rows, rejected int64, err error) {
	nextRaw, err := d.scanPage(body)
	if err != nil {
		return "", 0, 0, pages.Bad("audits", err)
	}
	for i := range d.rows[:d.n] {
		r := &d.rows[i]
		if !d.reserved {
			d.reserveBatch(d.n-i, nextRaw.Set)
		}
		at, ok := d.createdOn(r)
		if len(r.id.Raw) == 0 || !ok {
			d.setAside(r) // without an id or a time a record can be neither deduplicated nor partitioned
			rejected++
			continue
		}
		d.prov()
		d.str(d.id, r.id)
		d.created.Append(at)
		appendInt32(d.action, r.action, r.hasAction)
		appendInt32(d.op, r.op, r.hasOp)
		d.str(d.uid, r.uid)
		d.str(d.calling, r.calling)
		d.str(d.otype, r.otype)
		d.str(d.oid, r.oid)
		rows++
		if err := d.bt.RowDone(ctx); err != nil {
			return "", rows, rejected, err
		}
		if d.id.Len() == 0 {
			d.reserved = false // the batch went to the sink: the next one starts empty
		}
	}
	if nextRaw.Set {
		return string(d.decoded(nextRaw)), rows, rejected, nil
	}
	return "", rows, rejected, nil
}

// reserveBatch sizes the builders at the start of a batch for the rows it is about to receive (the rest of this
// page, or a whole batch when more pages follow), so that a batch is not grown and copied again and again as it
// fills. String data is sized from the page's average length, at most maxReserveBytes a value, so that a few long
// values cannot make a batch huge (longer ones grow the builder as before).
func (d *auditDecoder) reserveBatch(rest int, more bool) {
	d.reserved = true
	rows := d.x.BatchRows
	if rows <= 0 {
		rows = table.DefaultBatchRows
	}
	if !more {
		rows = min(rows, rest)
	}
	d.bt.Builder().Reserve(rows)
	var sum [5]int
	cols := [5]*array.StringBuilder{d.id, d.otype, d.oid, d.uid, d.calling}
	for i := range d.rows[:d.n] {
		r := &d.rows[i]
		for c, f := range [5]jsonscan.Field{r.id, r.otype, r.oid, r.uid, r.calling} {
			sum[c] += len(f.Raw)
		}
	}
	for c, b := range cols {
		b.ReserveData(rows * min(sum[c]/d.n, maxReserveBytes))
	}
	for _, c := range []struct{ name, value string }{
		{table.TenantID.Name, d.x.TenantID}, {table.RunID.Name, d.x.RunID}, {envColumn.Name, d.x.Environment}, {orgColumn.Name, d.x.OrganizationID},
	} {
		d.bt.String(c.name).ReserveData(rows * len(c.value))
	}
}

// maxReserveBytes bounds the length reserved for each string value of a batch (an id is 36 bytes).
const maxReserveBytes = 64

func (d *auditDecoder) createdOn(r *auditRef) (arrow.Timestamp, bool) {
	if !r.created.Set {
		return 0, false
	}
	at, err := table.ParseTimestamp(d.decoded(r.created))
	return at, err == nil
}

// decoded is f's value: its raw bytes when they are plain ASCII, else their decoding in d.tmp (valid until the next
// call), invalid UTF-8 replaced.
func (d *auditDecoder) decoded(f jsonscan.Field) []byte {
	if !f.Escaped { // the strict scanner marks escapes and bytes beyond ASCII alike
		return f.Raw
	}
	d.tmp, _ = jsonscan.Decode(d.tmp[:0], f.Raw) // the scanner accepted the escapes, so they decode
	return d.tmp
}

func (d *auditDecoder) str(b *array.StringBuilder, f jsonscan.Field) {
	if !f.Set {
		b.AppendNull()
		return
	}
	b.BinaryBuilder.Append(d.decoded(f))
}

func appendInt32(b *array.Int32Builder, v int32, ok bool) {
	if ok {
		b.Append(v)
	} else {
		b.AppendNull()
	}
}

// setAside hands the record to Reject as the general decoder would have encoded it.
func (d *auditDecoder) setAside(r *auditRef) {
	if d.x.Reject == nil {
		return
	}
	opt := func(f jsonscan.Field) *string {
		if !f.Set {
			return nil
		}
		s := string(d.decoded(f))
		return &s
	}
	v := auditJSON{CreatedOn: opt(r.created), ObjectType: opt(r.otype), ObjectID: opt(r.oid), UserID: opt(r.uid), Calling: opt(r.calling)}
	if r.id.Set {
		v.ID = string(d.decoded(r.id))
	}
	if r.hasAction {
		v.Action = &r.action
	}
	if r.hasOp {
		v.Operation = &r.op
	}
	d.x.SetAsideJSON(Audits, &v)
}

// The keys the scanner reads, in the order of auditJSON's fields, then the page's.
const (
	keyAuditID = iota
	keyCreatedOn
	keyAction
	keyOperation
	keyObjectType
	keyObjectID
	keyUserID
	keyCalling
	keyValue
	keyNextLink
	keyOther
)

var (
	recordKeys = []string{"auditid", "createdon", "action", "operation", "objecttypecode", "_objectid_value", "_userid_value", "_callinguserid_value"}
	pageKeys   = []string{"value", "@odata.nextLink"} // keyValue, keyNextLink
)

func (d *auditDecoder) recordKey(key []byte) int {
	switch string(key) {
	case "auditid":
		return keyAuditID
	case "createdon":
		return keyCreatedOn
	case "action":
		return keyAction
	case "operation":
		return keyOperation
	case "objecttypecode":
		return keyObjectType
	case "_objectid_value":
		return keyObjectID
	case "_userid_value":
		return keyUserID
	case "_callinguserid_value":
		return keyCalling
	}
	return d.foldKey(key, recordKeys, 0)
}

func (d *auditDecoder) pageKey(key []byte) int {
	switch string(key) {
	case "value":
		return keyValue
	case "@odata.nextLink":
		return keyNextLink
	}
	return d.foldKey(key, pageKeys, keyValue)
}

// foldKey finds the name that key matches as encoding/json matches a key that is no field's name exactly: its
// escapes decoded, by Unicode case folding ("AuditId", or "_uſerid_value" with a long s, is a field). It returns
// base plus the name's index, or keyOther.
func (d *auditDecoder) foldKey(key []byte, names []string, base int) int {
	if bytes.IndexByte(key, '\\') >= 0 {
		d.tmp, _ = jsonscan.Decode(d.tmp[:0], key)
		key = d.tmp
	}
	ascii := true
	for _, c := range key {
		if c >= utf8.RuneSelf {
			ascii = false
			break
		}
	}
	for i, name := range names {
		if ascii && len(key) == len(name) && asciiEqualFold(key, name) || !ascii && strings.EqualFold(string(key), name) {
			return base + i
		}
	}
	return keyOther
}

func asciiEqualFold(a []byte, b string) bool {
	for i := range a {
		x, y := a[i], b[i]
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}

// scanPage fills d.rows with the page's records and returns the nextLink (unset when absent or null).
func (d *auditDecoder) scanPage(body []byte) (jsonscan.Field, error) {
	d.rows, d.n = d.rows[:0], 0
	var next jsonscan.Field
	sc := jsonscan.NewStrict(body)
	if sc.Peek() == 'n' {
		if !sc.Null() {
			return next, jsonscan.ErrSyntax
		}
		return next, sc.End() // null: a page without records, as the general decoder reads it
	}
	err := sc.Object(func(key []byte) error {
		switch d.pageKey(key) {
		case keyNextLink:
			if sc.Null() {
				return nil
			}
			raw, esc, err := sc.Str()
			next = jsonscan.Field{Raw: raw, Escaped: esc, Set: true}
			return err
		case keyValue:
			if sc.Null() {
				d.rows, d.n = d.rows[:0], 0
				return nil
			}
			n := 0
			err := sc.Array(func() error {
				if n == len(d.rows) {
					d.rows = append(d.rows, auditRef{})
				}
				r := &d.rows[n]
				n++
				if sc.Null() {
					return nil
				}
				return d.scanAudit(&sc, r)
			})
			d.n = n
			return err
		}
		return sc.Skip()
	})
	if err != nil {
		return next, err
	}
	return next, sc.End()
}

// scanAudit reads one record into r, over what r holds already (see scanPage).
func (d *auditDecoder) scanAudit(sc *jsonscan.Scanner, r *auditRef) error {
	return sc.Object(func(key []byte) error {
		switch d.recordKey(key) {
		case keyAuditID:
			if sc.Null() {
				return nil
			}
			raw, esc, err := sc.Str()
			r.id = jsonscan.Field{Raw: raw, Escaped: esc, Set: true}
			return err
		case keyCreatedOn:
			return sc.StrOrNull(&r.created)
		case keyAction:
			return int32OrNull(sc, &r.action, &r.hasAction)
		case keyOperation:
			return int32OrNull(sc, &r.op, &r.hasOp)
		case keyObjectType:
			return sc.StrOrNull(&r.otype)
		case keyObjectID:
			return sc.StrOrNull(&r.oid)
		case keyUserID:
			return sc.StrOrNull(&r.uid)
		case keyCalling:
			return sc.StrOrNull(&r.calling)
		}
		return sc.Skip()
	})
}

// int32OrNull reads an Int32 property as Dataverse sends it: an integer in range, or null.
func int32OrNull(sc *jsonscan.Scanner, v *int32, ok *bool) error {
	if sc.Null() {
		*ok = false
		return nil
	}
	if c := sc.Peek(); c != '-' && (c < '0' || c > '9') {
		return jsonscan.ErrSyntax
	}
	num, err := sc.Number()
	if err != nil {
		return err
	}
	n, inRange := jsonscan.Atoi32(num)
	if !inRange {
		return jsonscan.ErrSyntax
	}
	*v, *ok = n, true
	return nil
}
