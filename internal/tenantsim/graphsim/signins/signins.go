// Package signins is Graph's sign-in log (GET /v1.0/auditLogs/signIns, "List signIns", "signIn resource type"),
// rendered page by page from the model's generator: nothing is stored, a page token holds the filter's bounds and
// the position of the next sign-in, and a page is mostly copies of fragments joined once. Every fact it relies on
// is in extract/graph/testdata/README.md.
package signins

import (
	"fmt"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/seatlake/seatlake/internal/tenantsim/ids"
	"github.com/seatlake/seatlake/internal/tenantsim/model"
	"github.com/seatlake/seatlake/internal/tenantsim/simkit"
)

// Errors are Graph's answers to what the sign-in log refuses, rendered by the Graph emulator it is part of.
type Errors interface {
	QueryOptions(w http.ResponseWriter, r *http.Request, rep *simkit.Reply, allowed ...string) bool
	BadRequest(w http.ResponseWriter, rep *simkit.Reply, code, message string)
	NotPremium(w http.ResponseWriter, rep *simkit.Reply)
}

// Log serves the tenant's sign-in log.
type Log struct {
	m    *model.Tenant
	kit  *simkit.Kit
	errs Errors
	frag fragments
}

// New is the sign-in log of tenant m; errs renders Graph's refusals.
func New(m *model.Tenant, kit *simkit.Kit, errs Errors) *Log {
	return &Log{m: m, kit: kit, errs: errs, frag: newFragments(m)}
}

const tokSignIns = 's'

// fragments are the constant pieces of sign-in JSON, joined once so a page is mostly copies.
type fragments struct {
	app      [model.AppCount][]byte // `","appId":"…","appDisplayName":"…","ipAddress":"`
	resource [model.AppCount][]byte // `","isInteractive":true,…,"resourceId":"…","status":`
	client   [][]byte               // per device: `","clientAppUsed":"…","correlationId":"`
	device   [][]byte               // per device: `,"deviceDetail":{…},"location":`
	place    [][]byte               // per place: `{"city":…}},"appliedConditionalAccessPolicies":`
	failure  [][]byte               // per failure: the status object
	policies [3][]byte              // per conditionalAccessStatus: the policies and the closing brace
	caStatus [3]string
}

const (
	caSuccess = iota
	caFailure
	caNotApplied
)

func newFragments(m *model.Tenant) fragments {
	var f fragments
	for i, a := range model.SignInApps {
		f.app[i] = []byte(`","appId":"` + a.AppID + `","appDisplayName":"` + a.AppName + `","ipAddress":"`)
		f.resource[i] = []byte(`","isInteractive":true,"riskDetail":"none","riskLevelAggregated":"none","riskLevelDuringSignIn":"none",` +
			`"riskState":"none","riskEventTypes":[],"resourceDisplayName":"` + a.ResourceName + `","resourceId":"` + a.ResourceID + `","status":`)
	}
	for _, d := range model.Devices {
		f.client = append(f.client, []byte(`","clientAppUsed":"`+d.ClientApp+`","correlationId":"`))
		f.device = append(f.device, []byte(`,"deviceDetail":{"deviceId":"","displayName":null,"operatingSystem":"`+d.OS+
			`","browser":"`+d.Browser+`","isCompliant":null,"isManaged":null,"trustType":null},"location":`))
	}
	for _, p := range model.Places {
		f.place = append(f.place, []byte(`{"city":"`+p.City+`","state":"`+p.State+`","countryOrRegion":"`+p.Country+
			`","geoCoordinates":{"altitude":null,"latitude":`+p.Lat+`,"longitude":`+p.Lon+`}},"appliedConditionalAccessPolicies":`))
	}
	for _, x := range model.Failures {
		f.failure = append(f.failure, simkit.AppendJSONString([]byte(`{"errorCode":`+strconv.Itoa(x.Code)+`,"failureReason":`), x.Reason))
		f.failure[len(f.failure)-1] = append(f.failure[len(f.failure)-1], `,"additionalDetails":null}`...)
	}
	policy := func(result string) []byte {
		return []byte(`[{"id":"` + m.PolicyID + `","displayName":"Require multifactor authentication for all users",` +
			`"enforcedGrantControls":["Mfa"],"enforcedSessionControls":[],"result":"` + result + `"}]}`)
	}
	f.policies = [3][]byte{policy("success"), policy("failure"), []byte(`[]}`)}
	f.caStatus = [3]string{"success", "failure", "notApplied"}
	return f
}

const statusOK = `{"errorCode":0,"failureReason":null,"additionalDetails":null}`

// Page is GET /v1.0/auditLogs/signIns ("List signIns", "signIn resource type"): interactive sign-ins newest first
// ($orderby createdDateTime asc for oldest first), $filter on createdDateTime (eq, le, ge: the operators the resource
// documents) and userId (eq), joined by and; $top (default and at most 1000), opaque $skiptoken nextLinks, 30 days
// of retention, 403 without Entra ID P1.
func (l *Log) Page(w http.ResponseWriter, r *http.Request, rep *simkit.Reply) {
	if !l.m.Premium {
		l.errs.NotPremium(w, rep)
		return
	}
	if !l.errs.QueryOptions(w, r, rep, "$filter", "$top", "$skiptoken", "$orderby") {
		return
	}
	asc, top, ok := l.orderAndTop(w, r, rep)
	if !ok {
		return
	}
	e := &l.m.Events
	wk, ok := l.start(w, r, rep, asc)
	if !ok {
		return
	}

	// Where does this page end? A walk over times only, so the nextLink can precede the values.
	ahead := wk
	for i := 0; i < top; i++ {
		if _, _, ok := ahead.next(); !ok {
			break
		}
	}
	b := append(rep.B, `{"@odata.context":"`...)
	b = append(b, simkit.BaseURL(r)...)
	b = append(b, `/v1.0/$metadata#auditLogs/signIns",`...)
	if _, _, ok := ahead.next(); ok {
		// ahead.j has moved past the event that opens the next page: the token points back at it.
		j := ahead.j + 1
		dir := int64(0)
		if ahead.asc {
			j, dir = ahead.j-1, 1
		}
		b = append(b, `"@odata.nextLink":`...)
		b = simkit.AppendJSONString(b, simkit.NextLink(r, l.kit.SealToken(tokSignIns, wk.lo, wk.hi, int64(ahead.k), j, int64(wk.user), dir)))
		b = append(b, ',')
	}
	b = append(b, `"value":[`...)
	var rd renderer
	for i := 0; i < top; i++ {
		at, h, ok := wk.next()
		if !ok {
			break
		}
		if i > 0 {
			b = append(b, ',')
		}
		b = slices.Grow(b, 2048)
		b = l.appendSignIn(b, &rd, e.SignIn(at, h))
	}
	rep.B = append(b, "]}"...)
}

// orderAndTop reads $orderby (createdDateTime, newest first by default) and $top (default and at most 1000).
func (l *Log) orderAndTop(w http.ResponseWriter, r *http.Request, rep *simkit.Reply) (asc bool, top int, ok bool) {
	if o, ok := simkit.Query(r, "$orderby"); ok {
		switch strings.ToLower(strings.Join(strings.Fields(o), " ")) {
		case "createddatetime desc":
		case "createddatetime", "createddatetime asc":
			asc = true
		default:
			l.errs.BadRequest(w, rep, "BadRequest", "Invalid $orderby: sign-ins are ordered by createdDateTime (asc or desc) only.")
			return false, 0, false
		}
	}
	top = 1000
	if v, ok := simkit.Query(r, "$top"); ok {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			l.errs.BadRequest(w, rep, "BadRequest", "Invalid value '"+v+"' for query option '$top'.")
			return false, 0, false
		}
		top = min(n, 1000)
	}
	return asc, top, true
}

// start is where the page starts: at the position a $skiptoken holds, or at the end of the $filter's window
// that comes first in the order asked for.
func (l *Log) start(w http.ResponseWriter, r *http.Request, rep *simkit.Reply, asc bool) (walker, bool) {
	e := &l.m.Events
	if tok, ok := simkit.Query(r, "$skiptoken"); ok {
		v, ok := l.kit.OpenToken(tokSignIns, tok, 6)
		if !ok || v[2] < 0 || v[2] >= int64(e.Buckets) || v[3] < 0 || v[4] < -1 || v[4] >= int64(len(l.m.Users)) {
			l.errs.BadRequest(w, rep, "BadRequest", "Invalid $skiptoken: the page token is not valid.")
			return walker{}, false
		}
		return walker{e: e, lo: v[0], hi: v[1], k: int(v[2]), j: v[3], user: int32(v[4]), asc: v[5] == 1}, true
	}
	f, _ := simkit.Query(r, "$filter")
	sf, err := l.parseFilter(f)
	if err != nil {
		l.errs.BadRequest(w, rep, "BadRequest", "Invalid filter clause: "+err.Error())
		return walker{}, false
	}
	lo, hi := max(sf.lo, l.m.ServedFrom), min(sf.hi, l.m.ServedTo)
	wk := walker{e: e, lo: lo, hi: hi, j: -1, user: sf.user, asc: asc}
	switch {
	case lo > hi || sf.none:
		wk.k = -1
	case asc:
		wk.k, wk.j = max(e.BucketOf(lo), 0), 0
	default:
		wk.k = min(e.BucketOf(hi), e.Buckets-1)
	}
	return wk, true
}

// walker walks the events of [lo, hi] from bucket k, index j: newest first (j -1: the bucket's newest), or oldest
// first when asc. When user is not -1 it yields that user's events only.
type walker struct {
	e      *model.Events
	lo, hi int64
	k      int
	j      int64
	user   int32
	asc    bool
	loaded bool
	n, bs  int64
	seed   uint64
}

// next returns the next event's time and hash.
func (w *walker) next() (int64, uint64, bool) {
	for {
		var at int64
		var h uint64
		var ok bool
		if w.asc {
			at, h, ok = w.nextAsc()
		} else {
			at, h, ok = w.nextDesc()
		}
		if !ok || w.user < 0 || w.e.SignIn(at, h).User == w.user {
			return at, h, ok
		}
	}
}

func (w *walker) nextDesc() (int64, uint64, bool) {
	for w.k >= 0 {
		if !w.loaded {
			w.bs = w.e.BucketStart(w.k)
			if w.bs+model.MicrosPerMinute <= w.lo {
				w.k = -1
				return 0, 0, false
			}
			w.n, w.seed, w.loaded = w.e.Count(w.k), w.e.BucketSeed(w.k), true
			if w.j < 0 || w.j >= w.n {
				w.j = w.n - 1
			}
		}
		if w.j < 0 {
			w.k, w.j, w.loaded = w.k-1, -1, false
			continue
		}
		at, h := w.e.At(w.bs, w.seed, w.j, w.n)
		w.j--
		if at > w.hi {
			continue
		}
		if at < w.lo {
			w.k = -1
			return 0, 0, false
		}
		return at, h, true
	}
	return 0, 0, false
}

func (w *walker) nextAsc() (int64, uint64, bool) {
	for w.k >= 0 && w.k < w.e.Buckets {
		if !w.loaded {
			w.bs = w.e.BucketStart(w.k)
			if w.bs > w.hi {
				w.k = -1
				return 0, 0, false
			}
			w.n, w.seed, w.loaded = w.e.Count(w.k), w.e.BucketSeed(w.k), true
			w.j = max(w.j, 0)
		}
		if w.j >= w.n {
			w.k, w.j, w.loaded = w.k+1, 0, false
			continue
		}
		at, h := w.e.At(w.bs, w.seed, w.j, w.n)
		w.j++
		if at < w.lo {
			continue
		}
		if at > w.hi {
			w.k = -1
			return 0, 0, false
		}
		return at, h, true
	}
	w.k = -1
	return 0, 0, false
}

// renderer caches the formatted minute of createdDateTime: consecutive events share it.
type renderer struct {
	minute int64
	prefix []byte // "2006-01-02T15:04:"
}

func (l *Log) appendSignIn(b []byte, rd *renderer, ev model.SignIn) []byte {
	sg := &l.m.Signers[ev.User]
	f := &l.frag
	h3 := ids.Mix(ev.H2 ^ 0x6a09e667f3bcc909)
	app := sg.App(h3)
	dev := int(sg.Dev)
	if (h3>>8)%10 < 2 {
		dev = int((h3 >> 12) % uint64(len(model.Devices)))
	}
	pl := int(sg.Place)
	if (h3>>20)%100 < 8 {
		pl = int((h3 >> 24) % uint64(len(model.Places)))
	}
	ca := caSuccess
	switch {
	case ev.Fail >= 0 && model.Failures[ev.Fail].CA:
		ca = caFailure
	case (h3>>32)%4 == 0:
		ca = caNotApplied
	}

	b = append(b, `{"id":"`...)
	b = ids.AppendGUID(b, ev.H, ev.H2)
	b = append(b, `","createdDateTime":"`...)
	if minute := ev.At / model.MicrosPerMinute; minute != rd.minute || rd.prefix == nil {
		rd.minute = minute
		rd.prefix = time.UnixMicro(minute*model.MicrosPerMinute).UTC().AppendFormat(rd.prefix[:0], "2006-01-02T15:04:")
	}
	b = append(b, rd.prefix...)
	inMin := ev.At - rd.minute*model.MicrosPerMinute
	sec := inMin / 1_000_000
	b = append(b, byte('0'+sec/10), byte('0'+sec%10), '.')
	b = simkit.AppendFrac7(b, inMin%1_000_000)
	b = append(b, `Z","userDisplayName":"`...)
	b = append(b, l.m.Arena[sg.Off:sg.Off+uint32(sg.N)]...)
	b = append(b, f.app[app]...)
	uh := uint64(ev.User) * 0x9e3779b97f4a7c15
	b = strconv.AppendUint(b, model.Places[pl].IPFirst, 10)
	b = append(b, '.')
	b = strconv.AppendUint(b, (uh>>40)&255, 10)
	b = append(b, '.')
	b = strconv.AppendUint(b, (uh>>48)&255, 10)
	b = append(b, '.')
	b = strconv.AppendUint(b, 1+(h3>>40)%254, 10)
	b = append(b, f.client[dev]...)
	b = ids.AppendGUID(b, ev.H2, h3)
	b = append(b, `","conditionalAccessStatus":"`...)
	b = append(b, f.caStatus[ca]...)
	b = append(b, f.resource[app]...)
	if ev.Fail < 0 {
		b = append(b, statusOK...)
	} else {
		b = append(b, f.failure[ev.Fail]...)
	}
	b = append(b, f.device[dev]...)
	b = append(b, f.place[pl]...)
	return append(b, f.policies[ca]...)
}

// signInFilter is a parsed $filter on sign-ins: createdDateTime in [lo, hi] (Unix microseconds), and one user's
// sign-ins (user -1: everyone's; none: a user the tenant does not have).
type signInFilter struct {
	lo, hi int64
	user   int32
	none   bool
}

// parseFilter reads a $filter on sign-ins: createdDateTime eq, le or ge a DateTimeOffset, and userId eq a
// quoted id, joined by and. gt and lt are not among the operators the signIn resource documents, and are refused.
func (l *Log) parseFilter(f string) (signInFilter, error) {
	sf := signInFilter{lo: math.MinInt64, hi: math.MaxInt64, user: -1}
	if strings.TrimSpace(f) == "" {
		return sf, nil
	}
	for _, clause := range splitAnd(f) {
		fields := strings.Fields(clause)
		if len(fields) != 3 {
			return sf, fmt.Errorf("unsupported clause %q: the simulator filters on createdDateTime (eq, le, ge) and userId (eq)", clause)
		}
		switch {
		case strings.EqualFold(fields[0], "userId"):
			id, quoted := strings.CutPrefix(fields[2], "'")
			id, closed := strings.CutSuffix(id, "'")
			if !strings.EqualFold(fields[1], "eq") || !quoted || !closed {
				return sf, fmt.Errorf("unsupported clause %q: userId supports eq with a quoted id", clause)
			}
			if i, ok := l.m.UserIndex(id); ok {
				sf.user = int32(i)
			} else {
				sf.none = true
			}
			continue
		case !strings.EqualFold(fields[0], "createdDateTime"):
			return sf, fmt.Errorf("unsupported clause %q: the simulator filters on createdDateTime (eq, le, ge) and userId (eq)", clause)
		}
		v := strings.Trim(fields[2], "'")
		t, err := time.Parse(time.RFC3339Nano, v)
		if err != nil {
			return sf, fmt.Errorf("%q is not a DateTimeOffset such as 2024-05-01T00:00:00Z", v)
		}
		ns := t.UnixNano()
		floor := ns / 1000
		if ns%1000 < 0 {
			floor--
		}
		ceil := floor
		if ns%1000 != 0 {
			ceil++
		}
		switch strings.ToLower(fields[1]) {
		case "ge":
			sf.lo = max(sf.lo, ceil)
		case "le":
			sf.hi = min(sf.hi, floor)
		case "eq":
			sf.lo, sf.hi = max(sf.lo, ceil), min(sf.hi, floor)
		default:
			return sf, fmt.Errorf("unsupported operator %q: createdDateTime supports eq, le and ge", fields[1])
		}
	}
	return sf, nil
}

// splitAnd splits a filter on the "and" operator, whatever its case.
func splitAnd(f string) []string {
	var out []string
	fields := strings.Fields(f)
	start := 0
	for i, w := range fields {
		if strings.EqualFold(w, "and") {
			out = append(out, strings.Join(fields[start:i], " "))
			start = i + 1
		}
	}
	return append(out, strings.Join(fields[start:], " "))
}
