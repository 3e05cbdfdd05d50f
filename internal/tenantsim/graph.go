package tenantsim

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

var bufPool = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// graphHandler writes a successful answer's JSON into buf, or an error straight to w (then it returns false).
type graphHandler func(w http.ResponseWriter, r *http.Request, buf *bytes.Buffer) bool

// graph wraps a Graph endpoint with what every Graph request goes through: faults, authentication, limits.
func (s *Sim) graph(family string, h graphHandler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		f, faulty := s.takeFault(r.URL.Path)
		if faulty {
			switch f.Kind {
			case Status500, Status503, Status504:
				s.count(family, false)
				code := map[FaultKind]int{Status500: 500, Status503: 503, Status504: 504}[f.Kind]
				graphError(w, code, map[int]string{500: "InternalServerError", 503: "ServiceUnavailable", 504: "GatewayTimeout"}[code], "The service is temporarily unavailable. Please retry.")
				return
			case Throttle429:
				s.count(family, true)
				tooMany(w, time.Second)
				return
			case ConnReset:
				s.count(family, false)
				reset(w)
				return
			case SlowPage:
				select {
				case <-time.After(f.Delay):
				case <-r.Context().Done():
					s.count(family, false)
					return
				}
			case ExpireTokens:
				s.expireTokens()
			}
		}
		if !s.authorized(r, "graph") {
			s.count(family, false)
			graphError(w, http.StatusUnauthorized, "InvalidAuthenticationToken", "Access token has expired or is not yet valid.")
			return
		}
		class, ru := "directory", 1.0
		switch {
		case family == "signIns":
			class = "reports"
		case family == "users" && strings.Contains(r.URL.Query().Get("$select"), "signInActivity"):
			class = "signInActivity"
		case family == "subscribedSkus":
			ru = 2
		}
		if wait, ok := s.limit.admit(class, ru); !ok {
			s.count(family, true)
			tooMany(w, wait)
			return
		}
		s.count(family, false)
		buf := bufPool.Get().(*bytes.Buffer)
		buf.Reset()
		defer bufPool.Put(buf)
		if !h(w, r, buf) {
			return
		}
		w.Header().Set("Content-Type", "application/json;odata.metadata=minimal;odata.streaming=true;IEEE754Compatible=false;charset=utf-8")
		w.Header().Set("Content-Length", strconv.Itoa(buf.Len()))
		if faulty && f.Kind == TruncatedBody {
			w.WriteHeader(http.StatusOK)
			w.Write(buf.Bytes()[:buf.Len()/2])
			if fl, ok := w.(http.Flusher); ok {
				fl.Flush()
			}
			panic(http.ErrAbortHandler) // closes the connection: the client reads an unexpected EOF
		}
		w.WriteHeader(http.StatusOK)
		w.Write(buf.Bytes())
	}
}

// tooMany is Graph's 429 (reference §2e), Retry-After in seconds with a fraction, as the service sometimes sends.
func tooMany(w http.ResponseWriter, wait time.Duration) {
	secs := wait.Seconds()
	if secs < 0.05 {
		secs = 0.05
	}
	now := time.Now().UTC()
	id := guid(mix(uint64(now.UnixNano())), mix(uint64(now.UnixNano())^7))
	w.Header().Set("Retry-After", strconv.FormatFloat(secs, 'f', 3, 64))
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusTooManyRequests)
	fmt.Fprintf(w, `{"error":{"code":"TooManyRequests","innerError":{"code":"429","date":%q,"message":"Please retry after","request-id":%q,"status":"429"},"message":"Please retry again later."}}`,
		now.Format("2006-01-02T15:04:05"), id)
}

// reset closes the connection without an answer, with a TCP RST where possible.
func reset(w http.ResponseWriter) {
	hj, ok := w.(http.Hijacker)
	if !ok {
		panic(http.ErrAbortHandler)
	}
	conn, _, err := hj.Hijack()
	if err != nil {
		return
	}
	if tc, ok := conn.(*net.TCPConn); ok {
		tc.SetLinger(0)
	}
	conn.Close()
}

// skiptokens are opaque to clients: base64 of the position and a check value.
func (s *Sim) encodeToken(kind string, a, b int64) string {
	raw := fmt.Sprintf("%s:%d:%d:%x", kind, a, b, hash(s.cfg.Seed, 77, uint64(a), uint64(b))&0xffff)
	return base64.RawURLEncoding.EncodeToString([]byte(raw))
}

func (s *Sim) decodeToken(kind, tok string) (int64, int64, bool) {
	raw, err := base64.RawURLEncoding.DecodeString(tok)
	if err != nil {
		return 0, 0, false
	}
	parts := strings.Split(string(raw), ":")
	if len(parts) != 4 || parts[0] != kind {
		return 0, 0, false
	}
	a, err1 := strconv.ParseInt(parts[1], 10, 64)
	b, err2 := strconv.ParseInt(parts[2], 10, 64)
	if err1 != nil || err2 != nil || parts[3] != fmt.Sprintf("%x", hash(s.cfg.Seed, 77, uint64(a), uint64(b))&0xffff) {
		return 0, 0, false
	}
	return a, b, true
}

// nextLink rebuilds the request's query with a new $skiptoken, on the simulator's base URL.
func (s *Sim) nextLink(r *http.Request, token string) string {
	var parts []string
	for _, kv := range strings.Split(r.URL.RawQuery, "&") {
		if kv == "" || strings.HasPrefix(kv, "$skiptoken=") || strings.HasPrefix(kv, "%24skiptoken=") {
			continue
		}
		parts = append(parts, kv)
	}
	parts = append(parts, "$skiptoken="+token)
	return s.baseURL() + r.URL.Path + "?" + strings.Join(parts, "&")
}

func appendStr(b []byte, s string) []byte { return strconv.AppendQuote(b, s) }

func appendKey(b []byte, k string) []byte {
	b = append(b, '"')
	b = append(b, k...)
	return append(b, '"', ':')
}

// appendTime writes Graph's DateTimeOffset: 7 fractional digits when the value has a fraction.
func appendTime(b []byte, us int64, frac bool) []byte {
	t := time.UnixMicro(us).UTC()
	b = append(b, '"')
	b = t.AppendFormat(b, "2006-01-02T15:04:05")
	if frac {
		b = append(b, '.')
		f := us % 1_000_000
		if f < 0 {
			f += 1_000_000
		}
		s := strconv.AppendInt(nil, f*10, 10)
		for i := len(s); i < 7; i++ {
			b = append(b, '0')
		}
		b = append(b, s...)
	}
	return append(b, 'Z', '"')
}

func (s *Sim) reportSettings(w http.ResponseWriter, r *http.Request, buf *bytes.Buffer) bool {
	fmt.Fprintf(buf, `{"@odata.context":"%s/v1.0/$metadata#admin/reportSettings/$entity","displayConcealedNames":%t}`, s.baseURL(), s.cfg.ConcealedNames)
	return true
}

func (s *Sim) subscribedSkus(w http.ResponseWriter, r *http.Request, buf *bytes.Buffer) bool {
	b := buf.AvailableBuffer()
	b = append(b, `{"@odata.context":"`...)
	b = append(b, s.baseURL()...)
	b = append(b, `/v1.0/$metadata#subscribedSkus","value":[`...)
	for i, k := range s.m.skus {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"accountName":"Contoso","accountId":`...)
		b = appendStr(b, guid(hash(s.cfg.Seed, 50), hash(s.cfg.Seed, 51)))
		b = append(b, `,"appliesTo":`...)
		b = appendStr(b, k.AppliesTo)
		b = append(b, `,"capabilityStatus":`...)
		b = appendStr(b, k.Status)
		b = append(b, `,"consumedUnits":`...)
		b = strconv.AppendInt(b, int64(k.Holders), 10)
		b = append(b, `,"id":`...)
		b = appendStr(b, s.cfg.TenantID+"_"+k.ID)
		b = fmt.Appendf(b, `,"prepaidUnits":{"enabled":%d,"lockedOut":0,"suspended":0,"warning":%d}`, k.Enabled, k.Warning)
		b = append(b, `,"servicePlans":[`...)
		for j, p := range k.Plans {
			if j > 0 {
				b = append(b, ',')
			}
			b = fmt.Appendf(b, `{"servicePlanId":%q,"servicePlanName":%q,"provisioningStatus":"Success","appliesTo":"User"}`, p, k.PlanNames[j])
		}
		b = append(b, `],"skuId":`...)
		b = appendStr(b, k.ID)
		b = append(b, `,"skuPartNumber":`...)
		b = appendStr(b, k.PartNumber)
		b = append(b, `,"subscriptionIds":[`...)
		b = appendStr(b, guid(hash(s.cfg.Seed, 60, uint64(i)), hash(s.cfg.Seed, 61, uint64(i))))
		b = append(b, "]}"...)
	}
	b = append(b, "]}"...)
	buf.Write(b)
	return true
}

var userProps = map[string]bool{
	"id": true, "userPrincipalName": true, "displayName": true, "givenName": true, "surname": true, "mail": true,
	"accountEnabled": true, "userType": true, "createdDateTime": true, "department": true, "jobTitle": true,
	"assignedLicenses": true, "signInActivity": true, "businessPhones": true, "mobilePhone": true,
	"officeLocation": true, "preferredLanguage": true,
}

// The default property set of GET /users without $select (reference §2a).
var defaultUserProps = []string{"businessPhones", "displayName", "givenName", "jobTitle", "mail", "mobilePhone", "officeLocation", "preferredLanguage", "surname", "userPrincipalName", "id"}

func (s *Sim) users(w http.ResponseWriter, r *http.Request, buf *bytes.Buffer) bool {
	q := r.URL.Query()
	if q.Has("$skip") {
		graphError(w, http.StatusBadRequest, "Request_BadRequest", "'$skip' is not supported by the service.")
		return false
	}
	props := defaultUserProps
	if sel := q.Get("$select"); sel != "" {
		props = strings.Split(sel, ",")
		for _, p := range props {
			if !userProps[p] {
				graphError(w, http.StatusBadRequest, "Request_BadRequest", fmt.Sprintf("Could not find a property named '%s' on type 'microsoft.graph.user'.", p))
				return false
			}
		}
	}
	activity := false
	for _, p := range props {
		activity = activity || p == "signInActivity"
	}
	if activity && !s.cfg.Premium {
		graphError(w, http.StatusForbidden, "Authentication_RequestFromNonPremiumTenantOrB2CTenant", "Neither tenant is B2C or tenant doesn't have premium license")
		return false
	}
	top := 100
	if v := q.Get("$top"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 999 {
			graphError(w, http.StatusBadRequest, "Request_UnsupportedQuery", "Invalid page size specified: '"+v+"'. Must be between 1 and 999 inclusive.")
			return false
		}
		top = n
	}
	if activity && top > 500 {
		top = 500
	}
	from := int64(0)
	if tok := q.Get("$skiptoken"); tok != "" {
		var ok bool
		if from, _, ok = s.decodeToken("users", tok); !ok || from < 0 || from > int64(len(s.m.users)) {
			graphError(w, http.StatusBadRequest, "Directory_InvalidSkipToken", "The specified page token value has expired and can no longer be included in your request.")
			return false
		}
	}
	to := min(from+int64(top), int64(len(s.m.users)))
	b := buf.AvailableBuffer()
	b = append(b, `{"@odata.context":"`...)
	b = append(b, s.baseURL()...)
	b = append(b, "/v1.0/$metadata#users"...)
	if q.Get("$select") != "" {
		b = append(b, "("+q.Get("$select")+")"...)
	}
	b = append(b, `",`...)
	if to < int64(len(s.m.users)) {
		b = appendKey(b, "@odata.nextLink")
		b = appendStr(b, s.nextLink(r, s.encodeToken("users", to, 0)))
		b = append(b, ',')
	}
	b = append(b, `"value":[`...)
	for i := from; i < to; i++ {
		if i > from {
			b = append(b, ',')
		}
		b = s.appendUser(b, &s.m.users[i], props)
	}
	b = append(b, "]}"...)
	buf.Write(b)
	return true
}

func (s *Sim) appendUser(b []byte, u *user, props []string) []byte {
	b = append(b, '{')
	for i, p := range props {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendKey(b, p)
		switch p {
		case "id":
			b = appendStr(b, u.id)
		case "userPrincipalName":
			b = appendStr(b, u.upn)
		case "displayName":
			b = appendStr(b, u.name)
		case "givenName":
			b = appendStr(b, u.given)
		case "surname":
			b = appendStr(b, u.sur)
		case "mail":
			b = appendStr(b, u.mail)
		case "accountEnabled":
			b = strconv.AppendBool(b, u.enabled)
		case "userType":
			if u.guest {
				b = appendStr(b, "Guest")
			} else {
				b = appendStr(b, "Member")
			}
		case "createdDateTime":
			b = appendTime(b, u.created.UnixMicro(), false)
		case "department":
			if u.guest {
				b = append(b, "null"...)
			} else {
				b = appendStr(b, departments[u.dept])
			}
		case "jobTitle":
			if u.guest {
				b = append(b, "null"...)
			} else {
				b = appendStr(b, jobTitles[u.title])
			}
		case "businessPhones":
			b = append(b, "[]"...)
		case "mobilePhone", "officeLocation":
			b = append(b, "null"...)
		case "preferredLanguage":
			b = appendStr(b, "en-US")
		case "assignedLicenses":
			b = append(b, '[')
			for j, k := range u.skus {
				if j > 0 {
					b = append(b, ',')
				}
				b = append(b, `{"disabledPlans":[`...)
				for x, d := range u.disabled[j] {
					if x > 0 {
						b = append(b, ',')
					}
					b = appendStr(b, d)
				}
				b = append(b, `],"skuId":`...)
				b = appendStr(b, s.m.skus[k].ID)
				b = append(b, '}')
			}
			b = append(b, ']')
		case "signInActivity":
			b = s.appendActivity(b, u)
		}
	}
	return append(b, '}')
}

func (s *Sim) appendActivity(b []byte, u *user) []byte {
	if u.lastSignIn == 0 && u.lastNonInteractive == 0 {
		return append(b, "null"...)
	}
	field := func(b []byte, name string, us int64, n uint64) []byte {
		b = appendKey(b, name+"DateTime")
		if us == 0 {
			b = append(b, "null,"...)
			b = appendKey(b, name+"RequestId")
			return append(b, "null"...)
		}
		b = appendTime(b, us, true)
		b = append(b, ',')
		b = appendKey(b, name+"RequestId")
		b = append(b, '"')
		b = appendGUID(b, mix(u.reqID^n), uint64(us))
		return append(b, '"')
	}
	b = append(b, '{')
	b = field(b, "lastSignIn", u.lastSignIn, 1)
	b = append(b, ',')
	b = field(b, "lastNonInteractiveSignIn", u.lastNonInteractive, 2)
	b = append(b, ',')
	b = field(b, "lastSuccessfulSignIn", u.lastSuccess, 3)
	return append(b, '}')
}

// signInFilter is the createdDateTime range of a $filter, inclusive, in microseconds.
type signInFilter struct{ lo, hi int64 }

func parseSignInFilter(f string, m *model) (signInFilter, error) {
	r := signInFilter{lo: m.servedFrom, hi: m.anchor}
	if strings.TrimSpace(f) == "" {
		return r, nil
	}
	for _, clause := range strings.Split(f, " and ") {
		fields := strings.Fields(clause)
		if len(fields) != 3 || fields[0] != "createdDateTime" {
			return r, fmt.Errorf("unsupported filter clause %q", clause)
		}
		t, err := time.Parse(time.RFC3339Nano, fields[2])
		if err != nil {
			return r, fmt.Errorf("invalid DateTimeOffset %q", fields[2])
		}
		us := t.UnixMicro()
		switch fields[1] {
		case "ge":
			r.lo = max(r.lo, us)
		case "gt":
			r.lo = max(r.lo, us+1)
		case "le":
			r.hi = min(r.hi, us)
		case "lt":
			r.hi = min(r.hi, us-1)
		case "eq":
			r.lo, r.hi = max(r.lo, us), min(r.hi, us)
		default:
			return r, fmt.Errorf("unsupported operator %q", fields[1])
		}
	}
	return r, nil
}

func (s *Sim) signIns(w http.ResponseWriter, r *http.Request, buf *bytes.Buffer) bool {
	if !s.cfg.Premium {
		graphError(w, http.StatusForbidden, "Authentication_RequestFromNonPremiumTenantOrB2CTenant", "Neither tenant is B2C or tenant doesn't have premium license")
		return false
	}
	q := r.URL.Query()
	flt, err := parseSignInFilter(q.Get("$filter"), s.m)
	if err != nil {
		graphError(w, http.StatusBadRequest, "BadRequest", "Invalid filter clause: "+err.Error())
		return false
	}
	top := 1000
	if v := q.Get("$top"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			graphError(w, http.StatusBadRequest, "BadRequest", "Invalid $top value: "+v)
			return false
		}
		top = min(n, 1000)
	}
	m := s.m
	// Position: the next event to emit, walking newest first: bucket k, index j within it.
	k, j := int64(-1), int64(-1)
	if tok := q.Get("$skiptoken"); tok != "" {
		var ok bool
		if k, j, ok = s.decodeToken("signins", tok); !ok || k >= int64(m.buckets) {
			graphError(w, http.StatusBadRequest, "BadRequest", "Invalid $skiptoken.")
			return false
		}
	} else if flt.hi >= m.start {
		k = min((flt.hi-m.start)/minuteUS, int64(m.buckets)-1)
	}
	b := buf.AvailableBuffer()
	b = append(b, `{"@odata.context":"`...)
	b = append(b, s.baseURL()...)
	b = append(b, `/v1.0/$metadata#auditLogs/signIns",`...)
	vals := make([]byte, 0, top*1400)
	n := 0
	done := false
	for ; k >= 0 && !done; k-- {
		bs := m.start + k*minuteUS
		if bs+minuteUS <= flt.lo {
			done = true
			break
		}
		c := m.count(int(k))
		if j < 0 || j >= c {
			j = c - 1
		}
		for ; j >= 0; j-- {
			e := m.event(int(k), j, c)
			if e.at > flt.hi {
				continue
			}
			if e.at < flt.lo {
				done = true
				break
			}
			if n == top {
				break
			}
			if n > 0 {
				vals = append(vals, ',')
			}
			vals = s.appendSignIn(vals, e)
			n++
		}
		if n == top && j >= 0 && !done {
			break
		}
		j = -1
	}
	if !done && k >= 0 && m.start+k*minuteUS+minuteUS > flt.lo {
		b = appendKey(b, "@odata.nextLink")
		b = appendStr(b, s.nextLink(r, s.encodeToken("signins", k, j)))
		b = append(b, ',')
	}
	b = append(b, `"value":[`...)
	b = append(b, vals...)
	b = append(b, "]}"...)
	buf.Write(b)
	return true
}

func (s *Sim) appendSignIn(b []byte, e event) []byte {
	u := &s.m.users[e.user]
	a := apps[e.app]
	h2 := mix(e.h)
	c := countries[(h2>>12)%uint64(len(countries))]
	b = append(b, `{"id":"`...)
	b = appendGUID(b, e.h, h2)
	b = append(b, `","createdDateTime":`...)
	b = appendTime(b, e.at, true)
	b = append(b, `,"userDisplayName":`...)
	b = appendStr(b, u.name)
	b = append(b, `,"userPrincipalName":`...)
	b = appendStr(b, u.upn)
	b = append(b, `,"userId":"`...)
	b = append(b, u.id...)
	b = append(b, `","appId":"`...)
	b = append(b, a.appID...)
	b = append(b, `","appDisplayName":`...)
	b = appendStr(b, a.appName)
	b = append(b, `,"ipAddress":"`...)
	b = strconv.AppendUint(b, 20+(h2>>20)%200, 10)
	b = append(b, '.')
	b = strconv.AppendUint(b, (h2>>28)%256, 10)
	b = append(b, '.')
	b = strconv.AppendUint(b, (h2>>36)%256, 10)
	b = append(b, '.')
	b = strconv.AppendUint(b, 1+(h2>>44)%254, 10)
	b = append(b, `","clientAppUsed":`...)
	b = appendStr(b, clientApps[(h2>>52)%uint64(len(clientApps))])
	b = append(b, `,"correlationId":"`...)
	b = appendGUID(b, h2, e.h)
	b = append(b, `","conditionalAccessStatus":"notApplied","isInteractive":true,"riskDetail":"none","riskLevelAggregated":"none","riskLevelDuringSignIn":"none","riskState":"none","riskEventTypes":[],"resourceDisplayName":`...)
	b = appendStr(b, a.resName)
	b = append(b, `,"resourceId":"`...)
	b = append(b, a.resID...)
	if e.fail < 0 {
		b = append(b, `","status":{"errorCode":0,"failureReason":null,"additionalDetails":null}`...)
	} else {
		f := failures[e.fail]
		b = append(b, `","status":{"errorCode":`...)
		b = strconv.AppendInt(b, int64(f.code), 10)
		b = append(b, `,"failureReason":`...)
		b = appendStr(b, f.reason)
		b = append(b, `,"additionalDetails":null}`...)
	}
	b = append(b, `,"deviceDetail":{"deviceId":"","displayName":null,"operatingSystem":"Windows 10","browser":"Edge 120.0.2210","isCompliant":null,"isManaged":null,"trustType":null},"location":{"city":`...)
	b = appendStr(b, c.city)
	b = append(b, `,"state":`...)
	b = appendStr(b, c.state)
	b = append(b, `,"countryOrRegion":"`...)
	b = append(b, c.code...)
	b = append(b, `","geoCoordinates":{"altitude":null,"latitude":47.68050003051758,"longitude":-122.12094116210938}},"appliedConditionalAccessPolicies":[]}`...)
	return b
}
