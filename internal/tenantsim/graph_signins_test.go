package tenantsim

import (
	"fmt"
	"net/url"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/seatlake/seatlake/internal/tenantsim/simkit"
)

func signInsURL(filter string, extra string) string {
	u := "/v1.0/auditLogs/signIns"
	q := []string{}
	if filter != "" {
		q = append(q, "$filter="+url.PathEscape(filter))
	}
	if extra != "" {
		q = append(q, extra)
	}
	if len(q) > 0 {
		u += "?" + strings.Join(q, "&")
	}
	return u
}

// signInWindow is the $filter of sign-ins in [from, to) with the operators the signIn resource documents (ge, le): le
// the last tick (100 ns) before to.
func signInWindow(from, to string) string {
	t, err := time.Parse(time.RFC3339Nano, to)
	if err != nil {
		panic(err)
	}
	return "createdDateTime ge " + from + " and createdDateTime le " + t.Add(-100*time.Nanosecond).Format("2006-01-02T15:04:05.9999999Z")
}

func parseTime(t *testing.T, v any) time.Time {
	t.Helper()
	s, _ := v.(string)
	if !iso7.MatchString(s) {
		t.Fatalf("createdDateTime %q: want seven fractional digits, as Graph writes them", s)
	}
	tm, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		t.Fatal(err)
	}
	return tm
}

func TestSignInWindowsCoverEverySignInOnce(t *testing.T) {
	c := startSim(t, nil)
	truth := c.s.Truth()
	// Four adjacent windows [ge, lt) over the whole history, as a client fetching concurrently would ask.
	bounds := []string{"2026-11-10T00:00:00Z", "2026-11-17T06:00:00Z", "2026-11-18T12:34:56.5Z", "2026-11-19T23:59:59.9999999Z", "2026-11-21T00:00:00Z"}
	seen := map[string]bool{}
	var total, failed int
	for i := 0; i+1 < len(bounds); i++ {
		lo, _ := time.Parse(time.RFC3339Nano, bounds[i])
		hi, _ := time.Parse(time.RFC3339Nano, bounds[i+1])
		for _, top := range []string{"", "$top=333"} {
			rows, pages := c.all(signInsURL(signInWindow(bounds[i], bounds[i+1]), top))
			want := c.s.m.Events.CountBetween(max(lo.UnixMicro(), c.s.m.ServedFrom), hi.UnixMicro()-1)
			if int64(len(rows)) != want {
				t.Fatalf("window %d (%s): %d sign-ins in %d pages, want %d", i, top, len(rows), pages, want)
			}
			prev := hi
			for _, r := range rows {
				at := parseTime(t, r["createdDateTime"])
				if at.Before(lo) || !at.Before(hi) {
					t.Fatalf("sign-in at %s outside [%s, %s)", at, lo, hi)
				}
				if at.After(prev) {
					t.Fatalf("sign-ins not newest first: %s after %s", at, prev)
				}
				prev = at
				if top != "" {
					continue
				}
				id := r["id"].(string)
				if seen[id] {
					t.Fatalf("sign-in %s served twice", id)
				}
				seen[id] = true
				total++
				if r["status"].(map[string]any)["errorCode"].(float64) != 0 {
					failed++
				}
			}
		}
	}
	if int64(total) != truth.Tables["graph_signins"] || int64(failed) != truth.SignInsFailed {
		t.Errorf("served %d sign-ins (%d failed), truth says %d (%d failed)", total, failed, truth.Tables["graph_signins"], truth.SignInsFailed)
	}
}

func TestSignInFields(t *testing.T) {
	c := startSim(t, nil)
	rows, _ := c.all(signInWindowAll)
	want := []string{"id", "createdDateTime", "userDisplayName", "userPrincipalName", "userId", "appId", "appDisplayName",
		"ipAddress", "clientAppUsed", "correlationId", "conditionalAccessStatus", "isInteractive", "riskDetail",
		"riskLevelAggregated", "riskLevelDuringSignIn", "riskState", "riskEventTypes", "resourceDisplayName", "resourceId",
		"status", "deviceDetail", "location", "appliedConditionalAccessPolicies"}
	sort.Strings(want)
	resources := map[string]int{}
	var failures int
	for _, r := range rows {
		got := keys(r)
		sort.Strings(got)
		if !slices.Equal(got, want) {
			t.Fatalf("sign-in properties %v, want %v", got, want)
		}
		st := r["status"].(map[string]any)
		if st["errorCode"].(float64) != 0 {
			failures++
			if st["failureReason"] == nil {
				t.Errorf("failed sign-in without failureReason: %v", st)
			}
		}
		loc := r["location"].(map[string]any)
		if _, ok := loc["geoCoordinates"].(map[string]any)["latitude"].(float64); !ok || loc["countryOrRegion"] == "" {
			t.Errorf("location %v", loc)
		}
		if r["isInteractive"] != true {
			t.Errorf("v1.0 serves interactive sign-ins only: %v", r["isInteractive"])
		}
		resources[r["resourceId"].(string)]++
	}
	if failures == 0 || failures > len(rows)/10 {
		t.Errorf("%d failed sign-ins of %d: want a few", failures, len(rows))
	}
	for _, id := range []string{"00000007-0000-0000-c000-000000000000", "00000015-0000-0000-c000-000000000000", "00000003-0000-0000-c000-000000000000"} {
		if resources[id] == 0 {
			t.Errorf("no sign-ins to resource %s: %v", id, resources)
		}
	}
}

func TestSignInFilterOperators(t *testing.T) {
	c := startSim(t, nil)
	_, body := c.get(signInsURL("", "$top=50"))
	var at string
	for _, v := range decodePage(t, body).Value {
		if s := string(v); strings.Contains(s, `"createdDateTime":"`) {
			at = strings.SplitN(strings.SplitN(s, `"createdDateTime":"`, 2)[1], `"`, 2)[0]
			break
		}
	}
	instant, _ := time.Parse(time.RFC3339Nano, at)
	dayBefore := instant.Add(-24 * time.Hour).Format(time.RFC3339)
	count := func(f string) int {
		rows, _ := c.all(signInsURL(f, ""))
		return len(rows)
	}
	base := count("createdDateTime ge " + dayBefore + " and createdDateTime le " + at)
	after := instant.Add(100 * time.Nanosecond).Format(time.RFC3339Nano)
	tests := []struct {
		filter string
		want   int
	}{
		{"createdDateTime ge " + dayBefore + " and createdDateTime le " + after, base}, // no sign-in in the tick after
		{"createdDateTime eq " + at, 1},
		{"createdDateTime ge " + at + " and createdDateTime le " + at, 1},
		{"createdDateTime ge " + after + " and createdDateTime le " + at, 0},
		{"createdDateTime GE " + at + " AND createdDateTime LE " + at, 1}, // operators in any case
		{"createdDateTime ge '" + at + "' and createdDateTime le '" + at + "'", 1},
	}
	for _, tt := range tests {
		t.Run(tt.filter, func(t *testing.T) {
			if got := count(tt.filter); got != tt.want {
				t.Errorf("%d sign-ins, want %d", got, tt.want)
			}
		})
	}
	if base < 2 {
		t.Fatalf("a day of sign-ins holds %d", base)
	}
	// gt and lt are not among the operators the signIn resource documents for createdDateTime (eq, le, ge).
	for _, bad := range []string{"createdDateTime ge yesterday", "appId eq 'x'", "createdDateTime between 1 and 2", "createdDateTime ge 2026-11-19",
		"createdDateTime lt " + at, "createdDateTime gt " + dayBefore, "userId ne 'x'", "userId eq x"} {
		resp, body := c.get(signInsURL(bad, ""))
		if resp.StatusCode != 400 {
			t.Errorf("%q: status %d, want 400", bad, resp.StatusCode)
			continue
		}
		decodeGraphErr(t, body)
	}
}

func TestSignInPageSizes(t *testing.T) {
	c := startSim(t, func(cfg *Config) { cfg.SignIns = 2500 })
	for _, tt := range []struct {
		top  string
		want int
	}{{"", 1000}, {"$top=5000", 1000}, {"$top=10", 10}} {
		resp, body := c.get(signInsURL("", tt.top))
		if resp.StatusCode != 200 {
			t.Fatalf("%s: %d", tt.top, resp.StatusCode)
		}
		if p := decodePage(t, body); len(p.Value) != tt.want || p.NextLink == "" {
			t.Errorf("%q: %d rows (nextLink %q), want %d and a nextLink", tt.top, len(p.Value), p.NextLink, tt.want)
		}
	}
	for _, bad := range []string{"$top=0", "$top=x", "$skip=5", "$skiptoken=AAAA", "$orderby=userId"} {
		if resp, _ := c.get(signInsURL("", bad)); resp.StatusCode != 400 {
			t.Errorf("%s: status %d, want 400", bad, resp.StatusCode)
		}
	}
	// The last page carries no nextLink, and no page is empty.
	rows, pages := c.all(signInsURL("", ""))
	if len(rows) != 2500 || pages != 3 {
		t.Errorf("%d rows in %d pages, want 2500 in 3", len(rows), pages)
	}
}

func TestSignInRetention(t *testing.T) {
	c := startSim(t, func(cfg *Config) { cfg.Days, cfg.SignIns = 45, 9000 })
	truth := c.s.Truth()
	if want := fixedNow.Add(-30 * 24 * time.Hour); !truth.SignInsFrom.Equal(want) {
		t.Errorf("signins_from %s, want %s (30 days of retention)", truth.SignInsFrom, want)
	}
	rows, _ := c.all(signInsURL("createdDateTime ge 2026-09-01T00:00:00Z", ""))
	if int64(len(rows)) != truth.Tables["graph_signins"] || len(rows) >= 9000 {
		t.Errorf("%d sign-ins served of 9000 in 45 days; truth %d", len(rows), truth.Tables["graph_signins"])
	}
	for _, r := range rows {
		if parseTime(t, r["createdDateTime"]).Before(truth.SignInsFrom) {
			t.Fatalf("sign-in older than the retention: %v", r["createdDateTime"])
		}
	}
	old, _ := c.all(signInsURL("createdDateTime le 2026-10-14T23:59:59.9999999Z", ""))
	if len(old) != 0 {
		t.Errorf("%d sign-ins older than 30 days served", len(old))
	}
}

func TestSignInActivityAgreesWithTheLog(t *testing.T) {
	c := startSim(t, func(cfg *Config) { cfg.Users, cfg.SignIns, cfg.Days = 400, 20000, 30 })
	signIns, _ := c.all(signInWindowAll)
	type last struct {
		any, ok  time.Time
		anyID    string
		inTheLog bool
	}
	byUser := map[string]*last{}
	for _, r := range signIns {
		uid := r["userId"].(string)
		l := byUser[uid]
		if l == nil {
			l = &last{inTheLog: true}
			byUser[uid] = l
		}
		at := parseTime(t, r["createdDateTime"])
		if at.After(l.any) {
			l.any, l.anyID = at, r["id"].(string)
		}
		if r["status"].(map[string]any)["errorCode"].(float64) == 0 && at.After(l.ok) {
			l.ok = at
		}
	}
	users, _ := c.all("/v1.0/users?$select=id,createdDateTime,accountEnabled,signInActivity&$top=500")
	truth := c.s.Truth()
	anchor := truth.SignInsTo
	var idle, never int
	for _, u := range users {
		id := u["id"].(string)
		created, _ := time.Parse(time.RFC3339, u["createdDateTime"].(string))
		act, _ := u["signInActivity"].(map[string]any)
		l := byUser[id]
		if act == nil {
			never++
			if l != nil {
				t.Fatalf("user %s has sign-ins in the log and no signInActivity", id)
			}
			continue
		}
		lastSI := parseTime(t, act["lastSignInDateTime"])
		if !lastSI.After(created) {
			t.Errorf("user %s last signed in (%s) before it was created (%s)", id, lastSI, created)
		}
		if l == nil {
			if lastSI.After(truth.SignInsFrom) {
				t.Errorf("user %s: lastSignInDateTime %s is within the log, which has none of its sign-ins", id, lastSI)
			}
			if anchor.Sub(lastSI) >= 60*24*time.Hour {
				idle++
			}
			continue
		}
		if !lastSI.Equal(l.any) || act["lastSignInRequestId"] != l.anyID {
			t.Errorf("user %s: lastSignIn %s (%v), newest sign-in in the log %s (%s)", id, lastSI, act["lastSignInRequestId"], l.any, l.anyID)
		}
		lastOK := parseTime(t, act["lastSuccessfulSignInDateTime"])
		lastNI := parseTime(t, act["lastNonInteractiveSignInDateTime"])
		if !l.ok.IsZero() && (lastOK.Before(l.ok) || (!lastOK.Equal(l.ok) && !lastOK.Equal(lastNI))) {
			t.Errorf("user %s: lastSuccessfulSignIn %s, newest successful sign-in %s, last non-interactive %s", id, lastOK, l.ok, lastNI)
		}
		if lastOK.After(anchor) || lastNI.After(anchor) {
			t.Errorf("user %s: activity after the anchor %s: %v", id, anchor, act)
		}
	}
	if idle != truth.Users.Idle || never != truth.Users.Never {
		t.Errorf("%d idle (60+ days) and %d never-signed-in users served; truth %+v", idle, never, truth.Users)
	}
	if idle == 0 || never == 0 || len(byUser) == 0 {
		t.Errorf("want idle (%d), never-signed-in (%d) and active (%d) users", idle, never, len(byUser))
	}
}

func TestDeterministic(t *testing.T) {
	paths := []string{
		"/v1.0/users?$top=50",
		"/v1.0/users?$select=id,assignedLicenses,signInActivity,createdDateTime&$top=999",
		"/v1.0/subscribedSkus",
		signInsURL(signInWindow("2026-11-18T00:00:00Z", "2026-11-19T00:00:00Z"), ""),
	}
	bodies := func(seed int64) []string {
		s := newSim(t, func(c *Config) { c.Seed = seed })
		tok := issueToken(t, s, "https://graph.microsoft.com/.default")
		var out []string
		for _, p := range paths {
			rec := serveDirect(s, tok, p)
			if rec.Code != 200 {
				t.Fatalf("%s: %d %s", p, rec.Code, rec.Body)
			}
			out = append(out, rec.Body.String())
			// and the page after, through the nextLink
			if next := decodePage(t, rec.Body.Bytes()).NextLink; next != "" {
				out = append(out, serveDirect(s, tok, next).Body.String())
			}
		}
		tr := s.Truth()
		return append(out, fmt.Sprint(s.Banner(), tr.Tables, tr.Users))
	}
	a, b, other := bodies(7), bodies(7), bodies(8)
	if !slices.Equal(a, b) {
		t.Error("the same seed served different bytes")
	}
	for i := range a {
		if a[i] == other[i] {
			t.Errorf("seeds 7 and 8 served the same response %d", i)
		}
	}
}

func TestGeneratedStringsNeedNoEscaping(t *testing.T) {
	s := newSim(t, func(c *Config) { c.Users = 5000 })
	for _, u := range s.m.Users {
		for _, v := range []string{u.ID, u.UPN, u.Name, u.Given, u.Surname, u.Mail} {
			if string(simkit.AppendJSONString(nil, v)) != `"`+v+`"` {
				t.Fatalf("user string %q needs escaping: it is copied raw into JSON", v)
			}
		}
	}
}

// $filter on userId (documented filterable with eq), with the createdDateTime window, as a client reading one
// person's sign-ins asks: exactly that user's sign-ins, across pages, none empty.
func TestSignInsOfOneUser(t *testing.T) {
	c := startSim(t, nil)
	win := signInWindow("2026-11-16T00:00:00Z", "2026-11-21T00:00:00Z")
	all, _ := c.all(signInsURL(win, ""))
	perUser := map[string]int{}
	for _, r := range all {
		perUser[r["userId"].(string)]++
	}
	var busiest string
	for id, n := range perUser {
		if n > perUser[busiest] {
			busiest = id
		}
	}
	if perUser[busiest] < 4 {
		t.Fatalf("the busiest user has %d sign-ins: want several pages of 3", perUser[busiest])
	}
	for _, f := range []string{
		"userId eq '" + busiest + "' and " + win,
		win + " and userId eq '" + strings.ToUpper(busiest) + "'",
	} {
		rows, pages := c.all(signInsURL(f, "$top=3"))
		if len(rows) != perUser[busiest] || pages != (len(rows)+2)/3 {
			t.Errorf("%s: %d sign-ins in %d pages, want %d in pages of 3", f, len(rows), pages, perUser[busiest])
		}
		prev := time.Now()
		for _, r := range rows {
			at := parseTime(t, r["createdDateTime"])
			if r["userId"] != busiest || at.After(prev) {
				t.Fatalf("%s: served %v at %s (after %s)", f, r["userId"], at, prev)
			}
			prev = at
		}
	}
	resp, body := c.get(signInsURL("userId eq '00000000-0000-0000-0000-000000000000'", ""))
	if p := decodePage(t, body); resp.StatusCode != 200 || len(p.Value) != 0 || p.NextLink != "" {
		t.Errorf("a user the tenant does not have: %d, %d rows, nextLink %q", resp.StatusCode, len(p.Value), p.NextLink)
	}
}

// $orderby=createdDateTime asc (the resource supports $orderby on createdDateTime) serves the same sign-ins oldest
// first.
func TestSignInsOldestFirst(t *testing.T) {
	c := startSim(t, nil)
	win := signInWindow("2026-11-18T00:00:00Z", "2026-11-20T00:00:00Z")
	desc, _ := c.all(signInsURL(win, "$top=333"))
	asc, pages := c.all(signInsURL(win, "$top=333&$orderby=createdDateTime%20asc"))
	if len(asc) != len(desc) || pages != (len(asc)+332)/333 {
		t.Fatalf("oldest first: %d sign-ins in %d pages, newest first %d", len(asc), pages, len(desc))
	}
	for i := range asc {
		if asc[i]["id"] != desc[len(desc)-1-i]["id"] {
			t.Fatalf("sign-in %d oldest first is %v, want %v", i, asc[i]["id"], desc[len(desc)-1-i]["id"])
		}
	}
}
