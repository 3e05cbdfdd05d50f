package dataversesim

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/seatlake/seatlake/internal/tenantsim/ids"
	"github.com/seatlake/seatlake/internal/tenantsim/model"
	"github.com/seatlake/seatlake/internal/tenantsim/simkit"
)

// auditProps are the properties of an audit record; _callinguserid_value, attributemask and useradditionalinfo are
// always null.
var auditProps = newDvProps([]dvProp[auditAt]{
	{"auditid", 's', func(x auditAt) simkit.Value { return simkit.Value{Kind: 's', S: x.a.AuditID(x.k, x.j)} }},
	{"createdon", 't', func(x auditAt) simkit.Value { return simkit.Value{Kind: 'i', I: x.r.At} }},
	{"action", 'i', func(x auditAt) simkit.Value { return simkit.Value{Kind: 'i', I: int64(x.r.Action)} }},
	{"operation", 'i', func(x auditAt) simkit.Value { return simkit.Value{Kind: 'i', I: int64(auditOperation(x.r))} }},
	{"objecttypecode", 's', func(x auditAt) simkit.Value { return simkit.Value{Kind: 's', S: model.ObjectTypes[x.r.OTC]} }},
	{"_objectid_value", 's', func(x auditAt) simkit.Value { return simkit.Value{Kind: 's', S: auditObjectID(x.a, x.r)} }},
	{"_userid_value", 's', func(x auditAt) simkit.Value { return simkit.Value{Kind: 's', S: x.a.Env.Users[x.r.User].ID} }},
	{"_callinguserid_value", 's', nil},
	{"transactionid", 's', func(x auditAt) simkit.Value {
		return simkit.Value{Kind: 's', S: ids.GUID(ids.Mix(x.r.H^0x7a1), ids.Mix(x.r.H^0x7a2))}
	}},
	{"attributemask", 's', nil},
	{"useradditionalinfo", 's', nil},
})

// auditAt is record r, the j-th of hour k of audit log a: what an audit property is read from.
type auditAt struct {
	a    *model.AuditLog
	k, j int
	r    *model.AuditRecord
}

var auditActionNames = map[uint8]string{1: "Create", 2: "Update", 3: "Delete", 55: "Assign Role To User", 64: "User Access via Web",
	65: "User Access via Web Services"}

var auditOperationNames = map[uint8]string{1: "Create", 2: "Update", 3: "Delete", 4: "Access"}

// auditOperation is the operation of a record: Create, Update, Delete for changes, Access for user access.
func auditOperation(r *model.AuditRecord) uint8 {
	switch r.Action {
	case 1, 2, 3:
		return r.Action
	case 64, 65:
		return 4
	}
	return 2
}

// auditObjectID is the _objectid_value of a record: the user for user access and role assignments.
func auditObjectID(a *model.AuditLog, r *model.AuditRecord) string {
	if r.OTC == 0 {
		if r.Action == 55 {
			return a.Env.Users[int(r.H%uint64(len(a.Env.Users)))].ID
		}
		return a.Env.Users[r.User].ID
	}
	return ids.GUID(ids.Mix(r.H^0x0b1), ids.Mix(r.H^0x0b2))
}

// audits is GET audits: records in createdon order (asc by default, desc with $orderby=createdon desc), $filter
// on action, operation, createdon, objecttypecode and the lookups, paged by cookie.
func (d *environment) audits(w http.ResponseWriter, r *http.Request, rep *simkit.Reply) {
	a := &d.env.Audits
	q, ok := parseAuditQuery(w, r, rep, a)
	if !ok {
		return
	}
	c, ok := q.cursor(rep, a)
	if !ok {
		return
	}
	pg := auditPage{a: a, q: &q, size: q.p.size}
	if q.p.top > 0 {
		pg.size = q.p.top
	}
	b := append(rep.B[:0], `{"@odata.context":"`...)
	b = append(b, simkit.BaseURL(r)...)
	b = append(b, API+`$metadata#audits(`...)
	b = append(b, strings.Join(q.props, ",")...)
	b = append(b, `)","value":[`...)
	b = pg.walk(b, c)
	b = append(b, ']')
	if pg.more && q.p.top == 0 {
		b = append(b, `,"@odata.nextLink":`...)
		b = simkit.AppendJSONString(b, simkit.NextLink(r, pagingCookie("auditid", c.page, a.AuditID(pg.firstK, pg.firstJ), a.AuditID(pg.lastK, pg.lastJ))))
	}
	rep.B = append(b, '}')
}

// auditQuery is a parsed GET audits.
type auditQuery struct {
	p      dvPaging
	props  []string
	desc   bool
	filter *simkit.Filter // nil: every record
	lo, hi int64          // the createdon range the filter allows, Unix microseconds [lo, hi)
}

// parseAuditQuery reads the paging options, $select, $orderby and $filter of GET audits, answering the error of
// the first one refused.
func parseAuditQuery(w http.ResponseWriter, r *http.Request, rep *simkit.Reply, a *model.AuditLog) (auditQuery, bool) {
	var q auditQuery
	var ok bool
	if q.p, ok = pagingOf(w, r, rep); !ok {
		return q, false
	}
	if q.props, ok = selectProps(r, rep, "audit", auditProps.names); !ok {
		return q, false
	}
	if o, ok := simkit.Query(r, "$orderby"); ok {
		switch strings.ToLower(strings.Join(strings.Fields(o), " ")) {
		case "createdon desc":
			q.desc = true
		case "createdon asc", "createdon":
		default:
			dvError(rep, http.StatusBadRequest, dvQueryError, "The simulated audits entity set orders by createdon only, not '"+o+"'.")
			return q, false
		}
	}
	q.lo, q.hi = a.Start, a.Anchor+1
	if f, ok := simkit.Query(r, "$filter"); ok {
		var err error
		if q.filter, err = simkit.ParseFilter(f, auditProps.kinds); err != nil {
			dvError(rep, http.StatusBadRequest, dvQueryError, err.Error())
			return q, false
		}
		q.lo, q.hi = q.filter.Bounds("createdon", q.lo, q.hi)
	}
	return q, true
}

// auditCursor is where a page starts: hour k, record j (-1: the hour's last, newest first), within hours
// kLo..kHi; page is the page's number in the paging cookie.
type auditCursor struct{ k, j, kLo, kHi, page int }

// cursor places the page's start: the first hour of the range in the order asked for, or the record after the one
// the paging cookie names.
func (q *auditQuery) cursor(rep *simkit.Reply, a *model.AuditLog) (auditCursor, bool) {
	c := auditCursor{kLo: a.HourOf(q.lo), kHi: min(a.HourOf(q.hi-1), a.Hours-1), page: 1}
	c.k = c.kLo
	if q.desc {
		c.k, c.j = c.kHi, -1
	}
	if q.p.skipCookie == "" {
		return c, true
	}
	last, pg, ok := cookieLast(q.p.skipCookie)
	var lk, lj int
	if ok {
		lk, lj, ok = a.Position(last)
	}
	if !ok {
		dvError(rep, http.StatusBadRequest, "0x80040203", "Invalid paging cookie.")
		return c, false
	}
	c.k, c.j, c.page = lk, lj+1, pg+1
	if q.desc {
		c.j = lj - 1
	}
	return c, true
}

// auditPage renders one page of audit records and remembers where it began and ended, for the next page's cookie.
type auditPage struct {
	a    *model.AuditLog
	q    *auditQuery
	size int

	n                            int  // records rendered
	more                         bool // a record matches after the page
	firstK, firstJ, lastK, lastJ int
}

// walk renders the matching records from c on, hour after hour in the order asked for, until the page is full.
func (pg *auditPage) walk(b []byte, c auditCursor) []byte {
	k, j := c.k, c.j
	for k >= c.kLo && k <= c.kHi && k >= 0 && !pg.more {
		recs := pg.a.Hour(k)
		if pg.q.desc && j < 0 {
			j = len(recs) - 1
		}
		b = pg.hour(b, k, j, recs)
		if pg.more {
			break
		}
		if pg.q.desc {
			k, j = k-1, -1
		} else {
			k, j = k+1, 0
		}
	}
	return b
}

// hour renders the matching records of hour k from record j on.
func (pg *auditPage) hour(b []byte, k, j int, recs []model.AuditRecord) []byte {
	a, q := pg.a, pg.q
	for j >= 0 && j < len(recs) {
		rec := &recs[j]
		jj := j
		if q.desc {
			j--
		} else {
			j++
		}
		if rec.At < q.lo || rec.At >= q.hi {
			continue
		}
		if q.filter != nil && !q.filter.Eval(func(prop string) simkit.Value { return auditProps.value(auditAt{a, k, jj, rec}, prop) }) {
			continue
		}
		if pg.n == pg.size {
			pg.more = true
			break
		}
		if pg.n > 0 {
			b = append(b, ',')
		}
		b = appendAudit(b, a, k, jj, rec, q.props, q.p.formatted)
		if pg.n == 0 {
			pg.firstK, pg.firstJ = k, jj
		}
		pg.lastK, pg.lastJ = k, jj
		pg.n++
	}
	return b
}

func appendAudit(b []byte, a *model.AuditLog, k, j int, rec *model.AuditRecord, props []string, formatted bool) []byte {
	b = append(b, `{"@odata.etag":"W/\"`...)
	b = strconv.AppendUint(b, rec.H%100000000, 10)
	b = append(b, `\""`...)
	for _, prop := range props {
		if formatted {
			var fv string
			switch prop {
			case "createdon":
				fv = time.UnixMicro(rec.At).UTC().Format("1/2/2006 3:04 PM")
			case "action":
				fv = auditActionNames[rec.Action]
			case "operation":
				fv = auditOperationNames[auditOperation(rec)]
			case "_userid_value":
				fv = a.Env.Users[rec.User].FullName
				b = append(b, `,"_userid_value@Microsoft.Dynamics.CRM.lookuplogicalname":"systemuser"`...)
			case "_objectid_value":
				b = append(b, `,"_objectid_value@Microsoft.Dynamics.CRM.lookuplogicalname":"`...)
				b = append(b, model.ObjectTypes[rec.OTC]...)
				b = append(b, '"')
			}
			if fv != "" {
				b = append(b, `,"`...)
				b = append(b, prop...)
				b = append(b, `@OData.Community.Display.V1.FormattedValue":`...)
				b = simkit.AppendJSONString(b, fv)
			}
		}
		b = append(b, `,"`...)
		b = append(b, prop...)
		b = append(b, `":`...)
		b = appendAuditValue(b, a, k, j, rec, prop)
	}
	return append(b, '}')
}

// appendAuditValue writes one property of an audit record: its value in auditProps, appended without building
// strings (the hot path of an audit page).
func appendAuditValue(b []byte, a *model.AuditLog, k, j int, rec *model.AuditRecord, prop string) []byte {
	quoted := func(b []byte, f func([]byte) []byte) []byte { return append(f(append(b, '"')), '"') }
	switch prop {
	case "auditid":
		return quoted(b, func(b []byte) []byte { return a.AppendAuditID(b, k, j) })
	case "createdon":
		return simkit.AppendDate(b, rec.At)
	case "action":
		return strconv.AppendInt(b, int64(rec.Action), 10)
	case "operation":
		return strconv.AppendInt(b, int64(auditOperation(rec)), 10)
	case "objecttypecode":
		return append(append(append(b, '"'), model.ObjectTypes[rec.OTC]...), '"')
	case "_userid_value":
		return append(append(append(b, '"'), a.Env.Users[rec.User].ID...), '"')
	case "_objectid_value":
		if rec.OTC == 0 {
			return append(append(append(b, '"'), auditObjectID(a, rec)...), '"')
		}
		return quoted(b, func(b []byte) []byte { return ids.AppendGUID(b, ids.Mix(rec.H^0x0b1), ids.Mix(rec.H^0x0b2)) })
	case "transactionid":
		return quoted(b, func(b []byte) []byte { return ids.AppendGUID(b, ids.Mix(rec.H^0x7a1), ids.Mix(rec.H^0x7a2)) })
	}
	return append(b, "null"...)
}
