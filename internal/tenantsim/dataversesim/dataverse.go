package dataversesim

import (
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/seatlake/seatlake/internal/tenantsim/ids"
	"github.com/seatlake/seatlake/internal/tenantsim/model"
	"github.com/seatlake/seatlake/internal/tenantsim/simkit"
)

// API is the Web API's path in an environment's URL.
const API = "/api/data/v9.2/"

// Error codes of the Web API's JSON error body ({"error":{"code","message"}}, "Compose HTTP requests and handle
// errors"): "Troubleshoot Dataverse Web API client errors" shows 0x8006088a for a resource not found for a segment
// (404) and 0x0 for a property that does not exist (400). Other query-option errors are given 0x0 too (assumed, see
// extract/dataverse/testdata/README.md).
const (
	dvNotFound   = "0x8006088a"
	dvQueryError = "0x0"
)

// Limits are the service protection limits of one environment, per application user ("Service protection API limits").
type Limits struct {
	Requests   int           // requests per Window (6,000)
	Execution  time.Duration // combined execution time per Window (20 minutes)
	Window     time.Duration // the sliding window (300 s)
	Concurrent int           // requests in flight (52)
}

// LimitsOf are the limits of a throttle mode: "realistic", "scaled" (100x smaller, for demos) or "off" (none).
func LimitsOf(mode string) *Limits {
	switch mode {
	case "realistic":
		return &Limits{Requests: 6000, Execution: 20 * time.Minute, Window: 300 * time.Second, Concurrent: 52}
	case "scaled":
		return &Limits{Requests: 60, Execution: 12 * time.Second, Window: 3 * time.Second, Concurrent: 6}
	}
	return nil
}

// dvGuard applies Limits to one environment.
type dvGuard struct {
	lim      Limits
	mu       sync.Mutex
	starts   []time.Time
	execs    []execSpan
	inflight int
}

type execSpan struct {
	end time.Time
	d   time.Duration
}

// Admit lets a request start (code ""), or returns the error code, message and wait of the limit it exceeds.
func (g *dvGuard) Admit(now time.Time) (code, msg string, wait time.Duration) {
	g.mu.Lock()
	defer g.mu.Unlock()
	cut := now.Add(-g.lim.Window)
	i := 0
	for i < len(g.starts) && !g.starts[i].After(cut) {
		i++
	}
	g.starts = append(g.starts[:0], g.starts[i:]...)
	i = 0
	for i < len(g.execs) && !g.execs[i].end.After(cut) {
		i++
	}
	g.execs = append(g.execs[:0], g.execs[i:]...)
	if g.inflight >= g.lim.Concurrent {
		return "0x80072326", "Number of concurrent requests exceeded the limit of " + strconv.Itoa(g.lim.Concurrent) + ".", time.Second
	}
	if len(g.starts) >= g.lim.Requests {
		return "0x80072322", "Number of requests exceeded the limit of " + strconv.Itoa(g.lim.Requests) + " over time window of " +
			strconv.Itoa(int(g.lim.Window/time.Second)) + " seconds.", g.starts[len(g.starts)-g.lim.Requests].Add(g.lim.Window).Sub(now)
	}
	var used time.Duration
	for _, e := range g.execs {
		used += e.d
	}
	if used >= g.lim.Execution {
		// Wait until enough execution time has left the window.
		var freed time.Duration
		wait := g.lim.Window
		for _, e := range g.execs {
			freed += e.d
			if used-freed < g.lim.Execution {
				wait = e.end.Add(g.lim.Window).Sub(now)
				break
			}
		}
		return "0x80072321", "Combined execution time of incoming requests exceeded limit of " +
			thousands(g.lim.Execution.Milliseconds()) + " milliseconds over time window of " +
			strconv.Itoa(int(g.lim.Window/time.Second)) + " seconds. Decrease number of concurrent requests or reduce the duration of requests and try again later.", wait
	}
	g.inflight++
	g.starts = append(g.starts, now)
	return "", "", 0
}

// thousands writes n with comma separators, as the service protection page prints the execution-time limit
// ("1,200,000 milliseconds").
func thousands(n int64) string {
	s := strconv.FormatInt(n, 10)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

// Done ends a request admitted earlier that took d.
func (g *dvGuard) Done(now time.Time, d time.Duration) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.inflight--
	g.execs = append(g.execs, execSpan{end: now, d: d})
}

// dvError renders the Dataverse Web API error body.
func dvError(rep *simkit.Reply, status int, code, message string) {
	rep.Status, rep.ContentType = status, simkit.PlainJSON
	b := append(rep.B[:0], `{"error":{"code":`...)
	b = simkit.AppendJSONString(b, code)
	b = append(b, `,"message":`...)
	b = simkit.AppendJSONString(b, message)
	rep.B = append(b, `}}`...)
}

// dvPaging reads the paging options: the page size from Prefer odata.maxpagesize (default and cap 5,000), $top,
// and whether formatted values were asked for.
type dvPaging struct {
	size       int
	preferred  bool
	top        int // 0 = none
	formatted  bool
	skipCookie string
}

func pagingOf(w http.ResponseWriter, r *http.Request, rep *simkit.Reply) (dvPaging, bool) {
	p := dvPaging{size: 5000}
	for _, pref := range r.Header.Values("Prefer") {
		for _, part := range strings.Split(pref, ",") {
			part = strings.TrimSpace(part)
			if v, ok := strings.CutPrefix(part, "odata.maxpagesize="); ok {
				n, err := strconv.Atoi(v)
				if err != nil || n < 1 {
					dvError(rep, http.StatusBadRequest, dvQueryError, "The value of odata.maxpagesize preference must be a positive integer.")
					return p, false
				}
				p.size, p.preferred = min(n, 5000), true
			}
			if strings.HasPrefix(part, "odata.include-annotations=") &&
				(strings.Contains(part, "*") || strings.Contains(part, "FormattedValue")) {
				p.formatted = true
			}
		}
	}
	if v, ok := simkit.Query(r, "$top"); ok {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			dvError(rep, http.StatusBadRequest, dvQueryError, "Invalid value for $top: '"+v+"'.")
			return p, false
		}
		if !p.preferred { // with maxpagesize, $top is ignored ("Page results using OData")
			p.top = n
		}
	}
	if _, ok := simkit.Query(r, "$skip"); ok {
		dvError(rep, http.StatusBadRequest, dvQueryError, "The query parameter $skip is not supported")
		return p, false
	}
	p.skipCookie, _ = simkit.Query(r, "$skiptoken")
	if p.preferred {
		w.Header().Set("Preference-Applied", "odata.maxpagesize="+strconv.Itoa(p.size))
	}
	return p, true
}

// pagingCookie renders the $skiptoken of the page after one ending at lastID, as Dataverse writes it: an XML
// cookie whose pagingcookie attribute is itself an escaped cookie naming the first and last ids of the page.
func pagingCookie(entity string, page int, firstID, lastID string) string {
	inner := `<cookie page="` + strconv.Itoa(page) + `"><` + entity + ` last="{` + strings.ToUpper(lastID) + `}" first="{` +
		strings.ToUpper(firstID) + `}" /></cookie>`
	outer := `<cookie pagenumber="` + strconv.Itoa(page+1) + `" pagingcookie="` + cookieEscape(inner) + `" istracking="False" />`
	return url.PathEscape(outer)
}

// cookieEscape escapes as Dataverse does inside a paging cookie: every byte but letters, digits and '-' as %xx in
// lower case.
func cookieEscape(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(ids.HexDigits[c>>4])
		b.WriteByte(ids.HexDigits[c&15])
	}
	return b.String()
}

// cookieLast reads the last id and page number back from a $skiptoken's value (already query-unescaped once).
func cookieLast(tok string) (lastID string, page int, ok bool) {
	i := strings.Index(tok, `pagingcookie="`)
	j := strings.Index(tok, `pagenumber="`)
	if i < 0 || j < 0 {
		return "", 0, false
	}
	n, err := strconv.Atoi(tok[j+len(`pagenumber="`) : j+len(`pagenumber="`)+strings.IndexByte(tok[j+len(`pagenumber="`):], '"')])
	if err != nil {
		return "", 0, false
	}
	rest := tok[i+len(`pagingcookie="`):]
	rest = rest[:max(0, strings.IndexByte(rest, '"'))]
	inner, err := url.PathUnescape(rest)
	if err != nil {
		return "", 0, false
	}
	if inner2, err := url.PathUnescape(inner); err == nil {
		inner = inner2
	}
	k := strings.Index(inner, `last="{`)
	if k < 0 || len(inner) < k+len(`last="{`)+36 {
		return "", 0, false
	}
	return strings.ToLower(inner[k+len(`last="{`) : k+len(`last="{`)+36]), n - 1, true
}

// selectProps reads $select against the properties an entity has; nil = all of them.
func selectProps(r *http.Request, rep *simkit.Reply, entity string, all []string) ([]string, bool) {
	v, ok := simkit.Query(r, "$select")
	if !ok {
		return all, true
	}
	var out []string
	for _, p := range strings.Split(v, ",") {
		p = strings.TrimSpace(p)
		found := false
		for _, a := range all {
			if strings.EqualFold(a, p) {
				out, found = append(out, a), true
				break
			}
		}
		if !found {
			dvError(rep, http.StatusBadRequest, dvQueryError, "Could not find a property named '"+p+"' on type 'Microsoft.Dynamics.CRM."+entity+"'.")
			return nil, false
		}
	}
	return out, true
}

// dvProps is an entity's properties in the order they are rendered, each with the kind a $filter compares
// ('s' string or GUID, 'b' boolean, 'i' integer, 't' DateTimeOffset).
type dvProps struct {
	names []string
	kinds map[string]byte
}

type dvProp struct {
	name string
	kind byte
}

func newDvProps(props []dvProp) dvProps {
	p := dvProps{kinds: map[string]byte{}}
	for _, d := range props {
		p.names = append(p.names, d.name)
		p.kinds[d.name] = d.kind
	}
	return p
}

var systemUserProps = newDvProps([]dvProp{
	{"systemuserid", 's'},
	{"domainname", 's'},
	{"internalemailaddress", 's'},
	{"fullname", 's'},
	{"azureactivedirectoryobjectid", 's'},
	{"isdisabled", 'b'},
	{"accessmode", 'i'},
	{"islicensed", 'b'},
	{"applicationid", 's'},
	{"isintegrationuser", 'b'},
	{"createdon", 't'},
})

var accessModes = []string{"Read-Write", "Administrative", "Read", "Support User", "Non-interactive", "Delegated Admin"}

// systemUserValue is one property of a systemuser, as a $filter compares it.
func systemUserValue(u *model.DataverseUser, prop string) simkit.Value {
	str, bl := simkit.NullableString, simkit.BoolValue
	switch prop {
	case "systemuserid":
		return str(u.ID)
	case "domainname":
		return str(u.DomainName)
	case "internalemailaddress":
		return str(u.Email)
	case "fullname":
		return str(u.FullName)
	case "azureactivedirectoryobjectid":
		return str(u.AADObjectID)
	case "applicationid":
		return str(u.AppID)
	case "isdisabled":
		return bl(u.Disabled)
	case "islicensed":
		return bl(u.Licensed)
	case "isintegrationuser":
		return bl(u.Integration)
	case "accessmode":
		return simkit.Value{Kind: 'i', I: int64(u.AccessMode)}
	case "createdon":
		return simkit.Value{Kind: 'i', I: u.Created}
	}
	return simkit.Value{Kind: 'n'}
}

func appendDvValue(b []byte, v simkit.Value, prop string) []byte {
	switch {
	case v.Kind == 'n':
		return append(b, "null"...)
	case v.Kind == 'b':
		if v.I == 1 {
			return append(b, "true"...)
		}
		return append(b, "false"...)
	case prop == "createdon":
		return simkit.AppendDate(b, v.I)
	case v.Kind == 'i':
		return strconv.AppendInt(b, v.I, 10)
	}
	return simkit.AppendJSONString(b, v.S)
}

// systemUsers is GET systemusers: users in creation order, paged by cookie.
func (d *environment) systemUsers(w http.ResponseWriter, r *http.Request, rep *simkit.Reply) {
	env := d.env
	p, ok := pagingOf(w, r, rep)
	if !ok {
		return
	}
	props, ok := selectProps(r, rep, "systemuser", systemUserProps.names)
	if !ok {
		return
	}
	// The primary key comes back whether selected or not, after the selected columns ("Page results using OData":
	// contactid on a $select=fullname page).
	selected := props
	if !slices.Contains(props, "systemuserid") {
		props = append(slices.Clip(props), "systemuserid")
	}
	var filter *simkit.Filter
	if f, ok := simkit.Query(r, "$filter"); ok {
		var err error
		if filter, err = simkit.ParseFilter(f, systemUserProps.kinds); err != nil {
			dvError(rep, http.StatusBadRequest, dvQueryError, err.Error())
			return
		}
	}
	start, page := 0, 1
	if p.skipCookie != "" {
		last, pg, ok := cookieLast(p.skipCookie)
		idx := -1
		for i := range env.Users {
			if ok && env.Users[i].ID == last {
				idx = i
				break
			}
		}
		if idx < 0 {
			dvError(rep, http.StatusBadRequest, "0x80040203", "Invalid paging cookie.")
			return
		}
		start, page = idx+1, pg+1
	}
	size := p.size
	if p.top > 0 {
		size = p.top
	}
	b := append(rep.B[:0], `{"@odata.context":"`...)
	b = append(b, simkit.BaseURL(r)...)
	b = append(b, API+`$metadata#systemusers(`...)
	b = append(b, strings.Join(selected, ",")...)
	b = append(b, `)","value":[`...)
	n, first, last, more := 0, "", "", false
	for i := start; i < len(env.Users); i++ {
		u := &env.Users[i]
		if filter != nil && !filter.Eval(func(prop string) simkit.Value { return systemUserValue(u, prop) }) {
			continue
		}
		if n == size {
			more = true
			break
		}
		if n > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"@odata.etag":"W/\"`...)
		b = strconv.AppendUint(b, ids.Hash(d.seed, 0xe7, uint64(i))%100000000, 10)
		b = append(b, `\""`...)
		for _, prop := range props {
			v := systemUserValue(u, prop)
			if p.formatted && v.Kind != 'n' {
				switch prop {
				case "accessmode":
					b = append(b, `,"accessmode@OData.Community.Display.V1.FormattedValue":"`...)
					b = append(b, accessModes[u.AccessMode]...)
					b = append(b, '"')
				case "isdisabled":
					b = append(b, `,"isdisabled@OData.Community.Display.V1.FormattedValue":"`...)
					b = append(b, map[bool]string{true: "Disabled", false: "Enabled"}[u.Disabled]...)
					b = append(b, '"')
				}
			}
			b = append(b, `,"`...)
			b = append(b, prop...)
			b = append(b, `":`...)
			b = appendDvValue(b, v, prop)
		}
		b = append(b, '}')
		if first == "" {
			first = u.ID
		}
		last = u.ID
		n++
	}
	b = append(b, ']')
	if more && p.top == 0 {
		b = append(b, `,"@odata.nextLink":`...)
		b = simkit.AppendJSONString(b, simkit.NextLink(r, pagingCookie("systemuserid", page, first, last)))
	}
	rep.B = append(b, '}')
}

var auditProps = newDvProps([]dvProp{
	{"auditid", 's'},
	{"createdon", 't'},
	{"action", 'i'},
	{"operation", 'i'},
	{"objecttypecode", 's'},
	{"_objectid_value", 's'},
	{"_userid_value", 's'},
	{"_callinguserid_value", 's'},
	{"transactionid", 's'},
	{"attributemask", 's'},
	{"useradditionalinfo", 's'},
})

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

// auditValue is one property of record j of hour k, as a $filter compares it.
func auditValue(a *model.AuditLog, k, j int, r *model.AuditRecord, prop string) simkit.Value {
	switch prop {
	case "auditid":
		return simkit.Value{Kind: 's', S: a.AuditID(k, j)}
	case "createdon":
		return simkit.Value{Kind: 'i', I: r.At}
	case "action":
		return simkit.Value{Kind: 'i', I: int64(r.Action)}
	case "operation":
		return simkit.Value{Kind: 'i', I: int64(auditOperation(r))}
	case "objecttypecode":
		return simkit.Value{Kind: 's', S: model.ObjectTypes[r.OTC]}
	case "_objectid_value":
		return simkit.Value{Kind: 's', S: auditObjectID(a, r)}
	case "_userid_value":
		return simkit.Value{Kind: 's', S: a.Env.Users[r.User].ID}
	case "transactionid":
		return simkit.Value{Kind: 's', S: ids.GUID(ids.Mix(r.H^0x7a1), ids.Mix(r.H^0x7a2))}
	}
	return simkit.Value{Kind: 'n'}
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
		if q.filter != nil && !q.filter.Eval(func(prop string) simkit.Value { return auditValue(a, k, jj, rec, prop) }) {
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

// appendAuditValue writes one property of an audit record: what auditValue says, appended without building strings (the
// hot path of an audit page).
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

// organizations is GET organizations: the one row, with its audit settings.
func (d *environment) organizations(w http.ResponseWriter, r *http.Request, rep *simkit.Reply) {
	env := d.env
	all := []string{"organizationid", "name", "isauditenabled", "isuseraccessauditenabled", "useraccessauditinginterval", "auditretentionperiodv2"}
	props, ok := selectProps(r, rep, "organization", all)
	if !ok {
		return
	}
	b := append(rep.B[:0], `{"@odata.context":"`...)
	b = append(b, simkit.BaseURL(r)...)
	b = append(b, API+`$metadata#organizations`...)
	if _, selected := simkit.Query(r, "$select"); selected {
		b = append(b, '(')
		b = append(b, strings.Join(props, ",")...)
		b = append(b, ')')
	}
	b = append(b, `","value":[{"@odata.etag":"W/\"`...)
	b = strconv.AppendUint(b, ids.Hash(d.seed, 0x0e, uint64(env.Index))%100000000, 10)
	b = append(b, `\""`...)
	hasID := false
	for _, prop := range props {
		b = append(b, `,"`...)
		b = append(b, prop...)
		b = append(b, `":`...)
		switch prop {
		case "organizationid":
			hasID = true
			b = simkit.AppendJSONString(b, env.OrgID)
		case "name":
			b = simkit.AppendJSONString(b, env.OrgName)
		case "isauditenabled":
			b = strconv.AppendBool(b, env.AuditOn)
		case "isuseraccessauditenabled":
			b = strconv.AppendBool(b, env.AccessOn)
		case "useraccessauditinginterval":
			b = strconv.AppendInt(b, int64(env.Interval), 10)
		case "auditretentionperiodv2":
			b = strconv.AppendInt(b, int64(env.Retention), 10)
		}
	}
	if !hasID { // the key always comes back, as from Dataverse
		b = append(b, `,"organizationid":`...)
		b = simkit.AppendJSONString(b, env.OrgID)
	}
	rep.B = append(b, `}]}`...)
}

// whoAmI is GET WhoAmI: the caller's application user, business unit and organization.
func (d *environment) whoAmI(w http.ResponseWriter, r *http.Request, rep *simkit.Reply) {
	env := d.env
	b := append(rep.B[:0], `{"@odata.context":"`...)
	b = append(b, simkit.BaseURL(r)...)
	b = append(b, API+`$metadata#Microsoft.Dynamics.CRM.WhoAmIResponse","BusinessUnitId":"`...)
	b = ids.AppendGUID(b, ids.Hash(d.seed, 0xb0, uint64(env.Index)), ids.Hash(d.seed, 0xb1, uint64(env.Index)))
	b = append(b, `","UserId":"`...)
	b = append(b, env.Users[2].ID...) // the "# seatlake" application user
	b = append(b, `","OrganizationId":"`...)
	b = append(b, env.OrgID...)
	rep.B = append(b, `"}`...)
}
