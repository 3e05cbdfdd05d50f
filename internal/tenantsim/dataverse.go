package tenantsim

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
)

// The Dataverse Web API of one environment (reference §3): /api/data/v9.2/systemusers, /audits, /organizations and
// /WhoAmI, with Prefer odata.maxpagesize (at most 5,000, echoed in Preference-Applied), paging-cookie nextLinks,
// @odata.etag on items, formatted values when annotations are asked for, and the three service protection limits.

const dvAPI = "/api/data/v9.2/"

// DataverseLimits are the service protection limits of one environment, per application user (reference §3).
type DataverseLimits struct {
	Requests   int           // requests per Window (6,000)
	Execution  time.Duration // combined execution time per Window (20 minutes)
	Window     time.Duration // the sliding window (300 s)
	Concurrent int           // requests in flight (52)
}

// dataverseLimits are the limits of a throttle mode ("off": none).
func dataverseLimits(mode string) *DataverseLimits {
	switch mode {
	case "realistic":
		return &DataverseLimits{Requests: 6000, Execution: 20 * time.Minute, Window: 300 * time.Second, Concurrent: 52}
	case "scaled":
		return &DataverseLimits{Requests: 60, Execution: 12 * time.Second, Window: 3 * time.Second, Concurrent: 6}
	}
	return nil
}

// dvGuard applies DataverseLimits to one environment.
type dvGuard struct {
	lim      DataverseLimits
	mu       sync.Mutex
	starts   []time.Time
	execs    []execSpan
	inflight int
}

type execSpan struct {
	end time.Time
	d   time.Duration
}

// admit lets a request start, or returns the error code, message and wait of the limit it exceeds.
func (g *dvGuard) admit(now time.Time) (code, msg string, wait time.Duration) {
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
			strconv.FormatInt(g.lim.Execution.Milliseconds(), 10) + " milliseconds over time window of " +
			strconv.Itoa(int(g.lim.Window/time.Second)) + " seconds. Decrease number of concurrent requests or reduce the duration of requests and try again later.", wait
	}
	g.inflight++
	g.starts = append(g.starts, now)
	return "", "", 0
}

func (g *dvGuard) done(now time.Time, d time.Duration) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.inflight--
	g.execs = append(g.execs, execSpan{end: now, d: d})
}

// dataverseHandler serves environment e.
func (s *Sim) dataverseHandler(e int) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+dvAPI+"systemusers", s.dvServe(e, "systemusers", s.dvSystemUsers))
	mux.HandleFunc("GET "+dvAPI+"audits", s.dvServe(e, "audits", s.dvAudits))
	mux.HandleFunc("GET "+dvAPI+"organizations", s.dvServe(e, "organizations", s.dvOrganizations))
	mux.HandleFunc("GET "+dvAPI+"WhoAmI", s.dvServe(e, "WhoAmI", s.dvWhoAmI))
	mux.HandleFunc("GET "+dvAPI+"WhoAmI()", s.dvServe(e, "WhoAmI", s.dvWhoAmI))
	mux.HandleFunc("/", s.dvServe(e, "other", func(w http.ResponseWriter, r *http.Request, rep *reply, env *dvEnv) {
		seg := r.URL.Path[strings.LastIndexByte(r.URL.Path, '/')+1:]
		dvError(rep, http.StatusNotFound, "0x80060888", "Resource not found for the segment '"+seg+"'.")
	}))
	return mux
}

type dvEndpoint func(w http.ResponseWriter, r *http.Request, rep *reply, env *dvEnv)

// dvServe wraps a Dataverse endpoint: injected faults, the bearer token for this environment, the application
// user, the service protection limits, the simulated page latency, then the endpoint.
func (s *Sim) dvServe(e int, family string, h dvEndpoint) http.HandlerFunc {
	env := &s.m.dv[e]
	family = "dataverse." + family
	return func(w http.ResponseWriter, r *http.Request) {
		reqID := s.requestID()
		w.Header().Set("x-ms-service-request-id", reqID)
		w.Header().Set("REQ_ID", reqID)
		if c := r.Header.Get("client-request-id"); c != "" {
			w.Header().Set("client-request-id", c)
		}
		w.Header().Set("OData-Version", "4.0")
		rep := s.getReply()
		defer s.pages.Put(rep)
		f, faulty := s.faults.take(r.URL.Path)
		if faulty && s.dynamicsFault(w, r, rep, f, family) {
			return
		}
		started := s.clock()
		guard := s.dvGuards[e]
		switch {
		case !s.authorizeResource(w, r, dvAudience(e), rep):
		case env.noAppUser.Load():
			dvError(rep, http.StatusForbidden, "0x80072560", "The user is not a member of the organization.")
		default:
			if guard != nil {
				if code, msg, wait := guard.admit(started); code != "" {
					w.Header().Set("Retry-After", strconv.Itoa(max(1, int(wait.Seconds()+0.999))))
					dvError(rep, http.StatusTooManyRequests, code, msg)
					break
				}
			}
			if s.cfg.PageLatency > 0 {
				time.Sleep(s.cfg.PageLatency)
			}
			h(w, r, rep, env)
			if guard != nil {
				now := s.clock()
				guard.done(now, now.Sub(started))
			}
		}
		s.stats.request(family, rep.status)
		writeReply(w, rep, faulty && f.Kind == TruncatedBody)
	}
}

// writeReply sends a rendered answer with its Content-Length; truncate sends half of the body and breaks the
// connection, so the client sees an unexpected EOF.
func writeReply(w http.ResponseWriter, rep *reply, truncate bool) {
	w.Header().Set("Content-Type", rep.contentType)
	w.Header().Set("Content-Length", strconv.Itoa(len(rep.b)))
	w.WriteHeader(rep.status)
	if truncate {
		w.Write(rep.b[:len(rep.b)/2])
		if fl, ok := w.(http.Flusher); ok {
			fl.Flush()
		}
		panic(http.ErrAbortHandler)
	}
	w.Write(rep.b)
}

// dynamicsFault applies an injected fault to a Dataverse or F&O request; true when the answer is complete.
func (s *Sim) dynamicsFault(w http.ResponseWriter, r *http.Request, rep *reply, f Fault, family string) bool {
	s.stats.fault(f.Kind)
	switch f.Kind {
	case ConnReset:
		s.stats.request(family, 0)
		resetConn(w)
		return true
	case SlowPage:
		t := time.NewTimer(f.Delay)
		defer t.Stop()
		select {
		case <-t.C:
		case <-r.Context().Done():
			return true
		}
		return false
	case ExpireTokens:
		s.tokens.expireAll()
		return false
	case TruncatedBody:
		return false // handled by the generic path below: cut after rendering
	}
	status := map[FaultKind]int{Status500: 500, Status503: 503, Status504: 504, Throttle429: 429}[f.Kind]
	if f.Kind == Throttle429 {
		w.Header().Set("Retry-After", strconv.Itoa(max(1, int(f.Delay.Seconds()+0.999))))
	}
	dvError(rep, status, "0x80040216", "An unexpected error occurred.")
	s.stats.request(family, status)
	w.Header().Set("Content-Type", rep.contentType)
	w.WriteHeader(status)
	w.Write(rep.b)
	return true
}

// dvError renders the Dataverse Web API error body.
func dvError(rep *reply, status int, code, message string) {
	rep.status, rep.contentType = status, plainJSON
	b := append(rep.b[:0], `{"error":{"code":`...)
	b = appendJSONString(b, code)
	b = append(b, `,"message":`...)
	b = appendJSONString(b, message)
	rep.b = append(b, `}}`...)
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

func (s *Sim) dvPagingOf(w http.ResponseWriter, r *http.Request, rep *reply) (dvPaging, bool) {
	p := dvPaging{size: 5000}
	for _, pref := range r.Header.Values("Prefer") {
		for _, part := range strings.Split(pref, ",") {
			part = strings.TrimSpace(part)
			if v, ok := strings.CutPrefix(part, "odata.maxpagesize="); ok {
				n, err := strconv.Atoi(v)
				if err != nil || n < 1 {
					dvError(rep, http.StatusBadRequest, "0x80060888", "The value of odata.maxpagesize preference must be a positive integer.")
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
	if v, ok := query(r, "$top"); ok {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			dvError(rep, http.StatusBadRequest, "0x80060888", "Invalid value for $top: '"+v+"'.")
			return p, false
		}
		if !p.preferred { // with maxpagesize, $top is ignored (reference §3)
			p.top = n
		}
	}
	if _, ok := query(r, "$skip"); ok {
		dvError(rep, http.StatusBadRequest, "0x80060888", "The query parameter $skip is not supported")
		return p, false
	}
	p.skipCookie, _ = query(r, "$skiptoken")
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
		b.WriteByte(hexDigits[c>>4])
		b.WriteByte(hexDigits[c&15])
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

// dvNextLink is the request's URL with a new $skiptoken, the other options kept verbatim.
func dvNextLink(r *http.Request, cookie string) string {
	var sb strings.Builder
	sb.WriteString(baseURL(r))
	sb.WriteString(r.URL.EscapedPath())
	sep := byte('?')
	for _, kv := range strings.Split(r.URL.RawQuery, "&") {
		if kv == "" || strings.HasPrefix(kv, "$skiptoken=") || strings.HasPrefix(strings.ToLower(kv), "%24skiptoken=") {
			continue
		}
		sb.WriteByte(sep)
		sb.WriteString(kv)
		sep = '&'
	}
	sb.WriteByte(sep)
	sb.WriteString("$skiptoken=")
	sb.WriteString(cookie)
	return sb.String()
}

// selectProps reads $select against the properties an entity has; nil = all of them.
func selectProps(r *http.Request, rep *reply, entity string, all []string) ([]string, bool) {
	v, ok := query(r, "$select")
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
			dvError(rep, http.StatusBadRequest, "0x80060888", "Could not find a property named '"+p+"' on type 'Microsoft.Dynamics.CRM."+entity+"'.")
			return nil, false
		}
	}
	return out, true
}

var systemUserProps = []string{"systemuserid", "domainname", "internalemailaddress", "fullname", "azureactivedirectoryobjectid",
	"isdisabled", "accessmode", "islicensed", "applicationid", "isintegrationuser", "createdon"}

var systemUserFilterProps = map[string]byte{"systemuserid": 's', "domainname": 's', "internalemailaddress": 's', "fullname": 's',
	"azureactivedirectoryobjectid": 's', "isdisabled": 'b', "accessmode": 'i', "islicensed": 'b', "applicationid": 's',
	"isintegrationuser": 'b', "createdon": 't'}

var accessModes = []string{"Read-Write", "Administrative", "Read", "Support User", "Non-interactive", "Delegated Admin"}

func (u *dvUser) value(prop string) fvalue {
	str := func(s string) fvalue {
		if s == "" {
			return fvalue{kind: 'n'}
		}
		return fvalue{kind: 's', s: s}
	}
	bl := func(b bool) fvalue {
		if b {
			return fvalue{kind: 'b', i: 1}
		}
		return fvalue{kind: 'b'}
	}
	switch prop {
	case "systemuserid":
		return str(u.id)
	case "domainname":
		return str(u.domain)
	case "internalemailaddress":
		return str(u.email)
	case "fullname":
		return str(u.fullname)
	case "azureactivedirectoryobjectid":
		return str(u.aad)
	case "applicationid":
		return str(u.appID)
	case "isdisabled":
		return bl(u.disabled)
	case "islicensed":
		return bl(u.licensed)
	case "isintegrationuser":
		return bl(u.integration)
	case "accessmode":
		return fvalue{kind: 'i', i: int64(u.accessMode)}
	case "createdon":
		return fvalue{kind: 'i', i: u.created}
	}
	return fvalue{kind: 'n'}
}

func appendDvValue(b []byte, v fvalue, prop string) []byte {
	switch {
	case v.kind == 'n':
		return append(b, "null"...)
	case v.kind == 'b':
		if v.i == 1 {
			return append(b, "true"...)
		}
		return append(b, "false"...)
	case prop == "createdon":
		return appendDate(b, v.i)
	case v.kind == 'i':
		return strconv.AppendInt(b, v.i, 10)
	}
	return appendJSONString(b, v.s)
}

// dvSystemUsers is GET systemusers: users in creation order, paged by cookie.
func (s *Sim) dvSystemUsers(w http.ResponseWriter, r *http.Request, rep *reply, env *dvEnv) {
	p, ok := s.dvPagingOf(w, r, rep)
	if !ok {
		return
	}
	props, ok := selectProps(r, rep, "systemuser", systemUserProps)
	if !ok {
		return
	}
	var filter *fnode
	if f, ok := query(r, "$filter"); ok {
		var err error
		if filter, err = parseFilter(f, systemUserFilterProps); err != nil {
			dvError(rep, http.StatusBadRequest, "0x80060888", err.Error())
			return
		}
	}
	start, page := 0, 1
	if p.skipCookie != "" {
		last, pg, ok := cookieLast(p.skipCookie)
		idx := -1
		for i := range env.users {
			if ok && env.users[i].id == last {
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
	b := append(rep.b[:0], `{"@odata.context":"`...)
	b = append(b, baseURL(r)...)
	b = append(b, dvAPI+`$metadata#systemusers(`...)
	b = append(b, strings.Join(props, ",")...)
	b = append(b, `)","value":[`...)
	n, first, last, more := 0, "", "", false
	for i := start; i < len(env.users); i++ {
		u := &env.users[i]
		if filter != nil && !filter.eval(u.value) {
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
		b = strconv.AppendUint(b, hash(s.cfg.Seed, 0xe7, uint64(i))%100000000, 10)
		b = append(b, `\""`...)
		for _, prop := range props {
			v := u.value(prop)
			if p.formatted && v.kind != 'n' {
				switch prop {
				case "accessmode":
					b = append(b, `,"accessmode@OData.Community.Display.V1.FormattedValue":"`...)
					b = append(b, accessModes[u.accessMode]...)
					b = append(b, '"')
				case "isdisabled":
					b = append(b, `,"isdisabled@OData.Community.Display.V1.FormattedValue":"`...)
					b = append(b, map[bool]string{true: "Disabled", false: "Enabled"}[u.disabled]...)
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
			first = u.id
		}
		last = u.id
		n++
	}
	b = append(b, ']')
	if more && p.top == 0 {
		b = append(b, `,"@odata.nextLink":`...)
		b = appendJSONString(b, dvNextLink(r, pagingCookie("systemuserid", page, first, last)))
	}
	rep.b = append(b, '}')
}

var auditProps = []string{"auditid", "createdon", "action", "operation", "objecttypecode", "_objectid_value", "_userid_value",
	"_callinguserid_value", "transactionid", "attributemask", "useradditionalinfo"}

var auditFilterProps = map[string]byte{"auditid": 's', "createdon": 't', "action": 'i', "operation": 'i', "objecttypecode": 's',
	"_objectid_value": 's', "_userid_value": 's', "_callinguserid_value": 's'}

var auditActionNames = map[uint8]string{1: "Create", 2: "Update", 3: "Delete", 55: "Assign Role To User", 64: "User Access via Web",
	65: "User Access via Web Services"}
var auditOperationNames = map[uint8]string{1: "Create", 2: "Update", 3: "Delete", 4: "Access"}

func (a *auditLog) operation(r *auditRec) uint8 {
	switch r.action {
	case 1, 2, 3:
		return r.action
	case 64, 65:
		return 4
	}
	return 2
}

func (a *auditLog) objectID(r *auditRec) string {
	if r.otc == 0 {
		if r.action == 55 {
			return a.env.users[int(r.h%uint64(len(a.env.users)))].id
		}
		return a.env.users[r.user].id
	}
	return guid(mix(r.h^0x0b1), mix(r.h^0x0b2))
}

func (a *auditLog) value(k, j int, r *auditRec, prop string) fvalue {
	switch prop {
	case "auditid":
		return fvalue{kind: 's', s: a.auditID(k, j)}
	case "createdon":
		return fvalue{kind: 'i', i: r.at}
	case "action":
		return fvalue{kind: 'i', i: int64(r.action)}
	case "operation":
		return fvalue{kind: 'i', i: int64(a.operation(r))}
	case "objecttypecode":
		return fvalue{kind: 's', s: objectTypes[r.otc]}
	case "_objectid_value":
		return fvalue{kind: 's', s: a.objectID(r)}
	case "_userid_value":
		return fvalue{kind: 's', s: a.env.users[r.user].id}
	case "transactionid":
		return fvalue{kind: 's', s: guid(mix(r.h^0x7a1), mix(r.h^0x7a2))}
	}
	return fvalue{kind: 'n'}
}

// dvAudits is GET audits: records in createdon order (asc by default, desc with $orderby=createdon desc), $filter
// on action, operation, createdon, objecttypecode and the lookups, paged by cookie.
func (s *Sim) dvAudits(w http.ResponseWriter, r *http.Request, rep *reply, env *dvEnv) {
	p, ok := s.dvPagingOf(w, r, rep)
	if !ok {
		return
	}
	props, ok := selectProps(r, rep, "audit", auditProps)
	if !ok {
		return
	}
	desc := false
	if o, ok := query(r, "$orderby"); ok {
		switch strings.ToLower(strings.Join(strings.Fields(o), " ")) {
		case "createdon desc":
			desc = true
		case "createdon asc", "createdon":
		default:
			dvError(rep, http.StatusBadRequest, "0x80060888", "The simulated audits entity set orders by createdon only, not '"+o+"'.")
			return
		}
	}
	a := &env.audits
	var filter *fnode
	lo, hi := a.start, a.anchor+1
	if f, ok := query(r, "$filter"); ok {
		var err error
		if filter, err = parseFilter(f, auditFilterProps); err != nil {
			dvError(rep, http.StatusBadRequest, "0x80060888", err.Error())
			return
		}
		lo, hi = filter.bounds("createdon", lo, hi)
	}
	kLo, kHi := a.hourOf(lo), min(a.hourOf(hi-1), a.hours-1)
	// The cursor walks hours kLo..kHi in the requested direction; (k, j) is the next record to look at.
	k, j, page := kLo, 0, 1
	if desc {
		k, j = kHi, -1
	}
	if p.skipCookie != "" {
		last, pg, ok := cookieLast(p.skipCookie)
		var lk, lj int
		if ok {
			lk, lj, ok = a.position(last)
		}
		if !ok {
			dvError(rep, http.StatusBadRequest, "0x80040203", "Invalid paging cookie.")
			return
		}
		k, j, page = lk, lj+1, pg+1
		if desc {
			j = lj - 1
		}
	}
	size := p.size
	if p.top > 0 {
		size = p.top
	}
	b := append(rep.b[:0], `{"@odata.context":"`...)
	b = append(b, baseURL(r)...)
	b = append(b, dvAPI+`$metadata#audits(`...)
	b = append(b, strings.Join(props, ",")...)
	b = append(b, `)","value":[`...)
	n, first, last, more := 0, "", "", false
	for k >= kLo && k <= kHi && k >= 0 && !more {
		recs := a.hour(k)
		if desc && j < 0 {
			j = len(recs) - 1
		}
		for j >= 0 && j < len(recs) {
			rec := &recs[j]
			kk, jj := k, j
			if desc {
				j--
			} else {
				j++
			}
			if rec.at < lo || rec.at >= hi {
				continue
			}
			if filter != nil && !filter.eval(func(prop string) fvalue { return a.value(kk, jj, rec, prop) }) {
				continue
			}
			if n == size {
				more = true
				break
			}
			if n > 0 {
				b = append(b, ',')
			}
			b = s.appendAudit(b, a, kk, jj, rec, props, p.formatted)
			id := a.auditID(kk, jj)
			if first == "" {
				first = id
			}
			last = id
			n++
		}
		if more {
			break
		}
		if desc {
			k, j = k-1, -1
		} else {
			k, j = k+1, 0
		}
	}
	b = append(b, ']')
	if more && p.top == 0 {
		b = append(b, `,"@odata.nextLink":`...)
		b = appendJSONString(b, dvNextLink(r, pagingCookie("auditid", page, first, last)))
	}
	rep.b = append(b, '}')
}

func (s *Sim) appendAudit(b []byte, a *auditLog, k, j int, rec *auditRec, props []string, formatted bool) []byte {
	b = append(b, `{"@odata.etag":"W/\"`...)
	b = strconv.AppendUint(b, rec.h%100000000, 10)
	b = append(b, `\""`...)
	for _, prop := range props {
		if formatted {
			var fv string
			switch prop {
			case "createdon":
				fv = time.UnixMicro(rec.at).UTC().Format("1/2/2006 3:04 PM")
			case "action":
				fv = auditActionNames[rec.action]
			case "operation":
				fv = auditOperationNames[a.operation(rec)]
			case "_userid_value":
				fv = a.env.users[rec.user].fullname
				b = append(b, `,"_userid_value@Microsoft.Dynamics.CRM.lookuplogicalname":"systemuser"`...)
			case "_objectid_value":
				b = append(b, `,"_objectid_value@Microsoft.Dynamics.CRM.lookuplogicalname":"`...)
				b = append(b, objectTypes[rec.otc]...)
				b = append(b, '"')
			}
			if fv != "" {
				b = append(b, `,"`...)
				b = append(b, prop...)
				b = append(b, `@OData.Community.Display.V1.FormattedValue":`...)
				b = appendJSONString(b, fv)
			}
		}
		b = append(b, `,"`...)
		b = append(b, prop...)
		b = append(b, `":`...)
		v := a.value(k, j, rec, prop)
		b = appendDvValue(b, v, prop)
	}
	return append(b, '}')
}

// dvOrganizations is GET organizations: the one row, with its audit settings.
func (s *Sim) dvOrganizations(w http.ResponseWriter, r *http.Request, rep *reply, env *dvEnv) {
	all := []string{"organizationid", "name", "isauditenabled", "isuseraccessauditenabled", "useraccessauditinginterval", "auditretentionperiodv2"}
	props, ok := selectProps(r, rep, "organization", all)
	if !ok {
		return
	}
	b := append(rep.b[:0], `{"@odata.context":"`...)
	b = append(b, baseURL(r)...)
	b = append(b, dvAPI+`$metadata#organizations","value":[{"@odata.etag":"W/\"`...)
	b = strconv.AppendUint(b, hash(s.cfg.Seed, 0x0e, uint64(env.idx))%100000000, 10)
	b = append(b, `\""`...)
	hasID := false
	for _, prop := range props {
		b = append(b, `,"`...)
		b = append(b, prop...)
		b = append(b, `":`...)
		switch prop {
		case "organizationid":
			hasID = true
			b = appendJSONString(b, env.orgID)
		case "name":
			b = appendJSONString(b, env.orgName)
		case "isauditenabled":
			b = strconv.AppendBool(b, env.auditOn)
		case "isuseraccessauditenabled":
			b = strconv.AppendBool(b, env.accessOn)
		case "useraccessauditinginterval":
			b = strconv.AppendInt(b, int64(env.interval), 10)
		case "auditretentionperiodv2":
			b = strconv.AppendInt(b, int64(env.retention), 10)
		}
	}
	if !hasID { // the key always comes back, as from Dataverse
		b = append(b, `,"organizationid":`...)
		b = appendJSONString(b, env.orgID)
	}
	rep.b = append(b, `}]}`...)
}

// dvWhoAmI is GET WhoAmI: the caller's application user, business unit and organization.
func (s *Sim) dvWhoAmI(w http.ResponseWriter, r *http.Request, rep *reply, env *dvEnv) {
	b := append(rep.b[:0], `{"@odata.context":"`...)
	b = append(b, baseURL(r)...)
	b = append(b, dvAPI+`$metadata#Microsoft.Dynamics.CRM.WhoAmIResponse","BusinessUnitId":"`...)
	b = appendGUID(b, hash(s.cfg.Seed, 0xb0, uint64(env.idx)), hash(s.cfg.Seed, 0xb1, uint64(env.idx)))
	b = append(b, `","UserId":"`...)
	b = append(b, env.users[2].id...) // the "# seatlake" application user
	b = append(b, `","OrganizationId":"`...)
	b = append(b, env.orgID...)
	rep.b = append(b, `"}`...)
}
