package tenantsim

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

var anchor = time.Date(2026, 11, 22, 13, 37, 0, 0, time.UTC)

func newSim(t testing.TB, mut func(*Config)) (*Sim, string, string) {
	t.Helper()
	cfg := DefaultConfig()
	cfg.Users, cfg.Days, cfg.SignIns, cfg.Seed = 700, 3, 20000, 3
	cfg.Now = func() time.Time { return anchor }
	if mut != nil {
		mut(&cfg)
	}
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	base, err := s.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s, base, token(t, s, base, "")
}

func token(t testing.TB, s *Sim, base, secret string) string {
	t.Helper()
	tenant, client, sec := s.Credentials()
	if secret != "" {
		sec = secret
	}
	resp, err := http.PostForm(base+"/"+tenant+"/oauth2/v2.0/token", url.Values{
		"client_id": {client}, "client_secret": {sec}, "grant_type": {"client_credentials"}, "scope": {"https://graph.microsoft.com/.default"}})
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body map[string]any
	json.NewDecoder(resp.Body).Decode(&body)
	tok, _ := body["access_token"].(string)
	return tok
}

func get(t testing.TB, u, tok string) (int, map[string]any, http.Header) {
	t.Helper()
	req, _ := http.NewRequest("GET", u, nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var body map[string]any
	if err := json.Unmarshal(b, &body); err != nil {
		t.Fatalf("GET %s: status %d, not JSON: %.200s", u, resp.StatusCode, b)
	}
	return resp.StatusCode, body, resp.Header
}

// walk follows nextLinks and returns every item.
func walk(t testing.TB, u, tok string) ([]map[string]any, int) {
	t.Helper()
	var all []map[string]any
	pages := 0
	for u != "" {
		status, body, _ := get(t, u, tok)
		if status != 200 {
			t.Fatalf("GET %s: %d %v", u, status, body)
		}
		pages++
		for _, v := range body["value"].([]any) {
			all = append(all, v.(map[string]any))
		}
		u, _ = body["@odata.nextLink"].(string)
	}
	return all, pages
}

func TestUsersPagingAndSelect(t *testing.T) {
	s, base, tok := newSim(t, nil)
	tests := []struct {
		query    string
		pageSize int
		wantKeys string
	}{
		{"", 100, "businessPhones,displayName,givenName,id,jobTitle,mail,mobilePhone,officeLocation,preferredLanguage,surname,userPrincipalName"},
		{"$select=id,accountEnabled,assignedLicenses&$top=999", 999, "accountEnabled,assignedLicenses,id"},
		{"$select=id,signInActivity&$top=999", 500, "id,signInActivity"},
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			users, pages := walk(t, base+"/v1.0/users?"+tt.query, tok)
			if len(users) != 700 {
				t.Fatalf("%d users over %d pages, want 700", len(users), pages)
			}
			if want := (700 + tt.pageSize - 1) / tt.pageSize; pages != want {
				t.Errorf("%d pages, want %d (page size %d)", pages, want, tt.pageSize)
			}
			seen := map[string]bool{}
			for _, u := range users {
				seen[u["id"].(string)] = true
			}
			if len(seen) != 700 {
				t.Errorf("%d distinct ids: pages overlap", len(seen))
			}
			var keys []string
			for k := range users[0] {
				keys = append(keys, k)
			}
			if got := strings.Join(sortStrings(keys), ","); got != tt.wantKeys {
				t.Errorf("properties %s, want %s", got, tt.wantKeys)
			}
		})
	}
	if st, body, _ := get(t, base+"/v1.0/users?$skip=10", tok); st != 400 {
		t.Errorf("$skip: %d %v", st, body)
	}
	if got := s.Truth().Tables["graph_users"]; got != 700 {
		t.Errorf("truth users %d", got)
	}
}

func sortStrings(s []string) []string {
	for i := range s {
		for j := i + 1; j < len(s); j++ {
			if s[j] < s[i] {
				s[i], s[j] = s[j], s[i]
			}
		}
	}
	return s
}

func TestSignInsWindowsAreExactAndNewestFirst(t *testing.T) {
	s, base, tok := newSim(t, nil)
	truth := s.Truth()
	day := anchor.Truncate(24 * time.Hour)
	windows := [][2]time.Time{
		{day.AddDate(0, 0, -2), day.AddDate(0, 0, -1)},
		{day.AddDate(0, 0, -1), day},
		{day, anchor.Add(time.Minute)},
	}
	total := 0
	ids := map[string]bool{}
	for _, w := range windows {
		f := fmt.Sprintf("createdDateTime ge %s and createdDateTime lt %s", w[0].Format(time.RFC3339), w[1].Format(time.RFC3339))
		items, _ := walk(t, base+"/v1.0/auditLogs/signIns?$filter="+url.PathEscape(f), tok)
		prev := "9999"
		for _, it := range items {
			ts := it["createdDateTime"].(string)
			at, err := time.Parse(time.RFC3339Nano, ts)
			if err != nil || at.Before(w[0]) || !at.Before(w[1]) {
				t.Fatalf("sign-in at %s outside [%s, %s)", ts, w[0], w[1])
			}
			if ts > prev {
				t.Fatalf("not newest first: %s after %s", ts, prev)
			}
			prev = ts
			ids[it["id"].(string)] = true
		}
		total += len(items)
	}
	if int64(total) != truth.Tables["graph_signins"] || len(ids) != total {
		t.Errorf("%d sign-ins (%d distinct) served over the windows, truth %d", total, len(ids), truth.Tables["graph_signins"])
	}
	// $top pages are capped at 1000.
	_, body, _ := get(t, base+"/v1.0/auditLogs/signIns?$top=5000", tok)
	if n := len(body["value"].([]any)); n != 1000 {
		t.Errorf("page of %d, want 1000", n)
	}
}

func TestSignInActivityAgreesWithTheLog(t *testing.T) {
	_, base, tok := newSim(t, nil)
	signIns, _ := walk(t, base+"/v1.0/auditLogs/signIns", tok)
	last := map[string]string{}
	for _, s := range signIns {
		id, at := s["userId"].(string), s["createdDateTime"].(string)
		if at > last[id] {
			last[id] = at
		}
	}
	users, _ := walk(t, base+"/v1.0/users?$select=id,signInActivity&$top=500", tok)
	checked := 0
	for _, u := range users {
		want, ok := last[u["id"].(string)]
		if !ok {
			continue
		}
		act, _ := u["signInActivity"].(map[string]any)
		if act == nil || act["lastSignInDateTime"] != want {
			t.Fatalf("user %s: signInActivity %v, newest sign-in in the log %s", u["id"], act, want)
		}
		checked++
	}
	if checked < 100 {
		t.Errorf("only %d users with sign-ins checked", checked)
	}
}

func TestTokenErrors(t *testing.T) {
	s, base, _ := newSim(t, func(c *Config) { c.ClientSecret = "right" })
	tenant, client, _ := s.Credentials()
	tests := []struct {
		tenant, client, secret, scope string
		status                        int
		code                          float64
	}{
		{tenant, client, "wrong", "https://graph.microsoft.com/.default", 401, 7000215},
		{"00000000-0000-0000-0000-000000000000", client, "right", "https://graph.microsoft.com/.default", 400, 90002},
		{tenant, "11111111-1111-1111-1111-111111111111", "right", "https://graph.microsoft.com/.default", 400, 700016},
		{tenant, client, "right", "https://graph.microsoft.com/User.Read", 400, 1002012},
		{tenant, client, "right", "https://unknown.example.com/.default", 400, 70011},
	}
	for _, tt := range tests {
		resp, err := http.PostForm(base+"/"+tt.tenant+"/oauth2/v2.0/token", url.Values{
			"client_id": {tt.client}, "client_secret": {tt.secret}, "grant_type": {"client_credentials"}, "scope": {tt.scope}})
		if err != nil {
			t.Fatal(err)
		}
		var body map[string]any
		json.NewDecoder(resp.Body).Decode(&body)
		resp.Body.Close()
		codes, _ := body["error_codes"].([]any)
		desc, _ := body["error_description"].(string)
		if resp.StatusCode != tt.status || len(codes) != 1 || codes[0] != tt.code || !strings.Contains(desc, "Trace ID:") {
			t.Errorf("%v: %d %v", tt, resp.StatusCode, body)
		}
	}
}

func TestPremiumOffAnd401(t *testing.T) {
	s, base, tok := newSim(t, func(c *Config) { c.Premium = false })
	for _, u := range []string{"/v1.0/auditLogs/signIns", "/v1.0/users?$select=id,signInActivity"} {
		st, body, _ := get(t, base+u, tok)
		e, _ := body["error"].(map[string]any)
		if st != 403 || e["code"] != "Authentication_RequestFromNonPremiumTenantOrB2CTenant" {
			t.Errorf("%s without P1: %d %v", u, st, body)
		}
	}
	if s.Truth().Tables["graph_signins"] != 0 {
		t.Error("truth counts sign-ins without P1")
	}
	if st, _, _ := get(t, base+"/v1.0/users", "not-a-token"); st != 401 {
		t.Errorf("bad token: %d", st)
	}
	s.InjectFault(Fault{Path: "/v1.0/users", Kind: ExpireTokens, Count: 1})
	if st, _, _ := get(t, base+"/v1.0/users", tok); st != 401 {
		t.Errorf("after ExpireTokens: %d", st)
	}
	if st, _, _ := get(t, base+"/v1.0/users", token(t, s, base, "")); st != 200 {
		t.Errorf("a new token after ExpireTokens: %d", st)
	}
}

func TestRealisticReportingLimit(t *testing.T) {
	var clock atomic.Int64
	clock.Store(anchor.UnixNano())
	s, base, tok := newSim(t, func(c *Config) {
		c.Throttle = "realistic"
		c.Now = func() time.Time { return time.Unix(0, clock.Load()) }
	})
	var statuses []int
	for i := 0; i < 6; i++ {
		st, _, h := get(t, base+"/v1.0/auditLogs/signIns?$top=1", tok)
		statuses = append(statuses, st)
		if st == 429 && h.Get("Retry-After") == "" {
			t.Error("429 without Retry-After")
		}
	}
	if fmt.Sprint(statuses) != "[200 200 200 200 200 429]" {
		t.Errorf("statuses %v: want 5 per 10 s, then 429", statuses)
	}
	clock.Add(int64(10 * time.Second))
	if st, _, _ := get(t, base+"/v1.0/auditLogs/signIns?$top=1", tok); st != 200 {
		t.Errorf("after the window: %d", st)
	}
	if s.Stats().Throttled["signIns"] != 1 {
		t.Errorf("stats %+v", s.Stats())
	}
}

func TestFaults(t *testing.T) {
	s, base, tok := newSim(t, nil)
	tests := []struct {
		kind FaultKind
		want string
	}{
		{Status503, "503"},
		{Status504, "504"},
		{Status500, "500"},
		{Throttle429, "429"},
		{ConnReset, "transport error"},
		{TruncatedBody, "body error"},
	}
	for _, tt := range tests {
		t.Run(string(tt.kind), func(t *testing.T) {
			s.InjectFault(Fault{Path: "/v1.0/subscribedSkus", Kind: tt.kind, Count: 1})
			req, _ := http.NewRequest("GET", base+"/v1.0/subscribedSkus", nil)
			req.Header.Set("Authorization", "Bearer "+tok)
			// A fresh connection: Go's client silently retries a GET that failed on a reused one.
			client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
			resp, err := client.Do(req)
			got := ""
			switch {
			case err != nil:
				got = "transport error"
			default:
				_, rerr := io.ReadAll(resp.Body)
				resp.Body.Close()
				got = fmt.Sprint(resp.StatusCode)
				if rerr != nil {
					got = "body error"
				}
			}
			if got != tt.want {
				t.Errorf("got %s, want %s", got, tt.want)
			}
			if st, _, _ := get(t, base+"/v1.0/subscribedSkus", tok); st != 200 {
				t.Errorf("the fault outlived its count: %d", st)
			}
		})
	}
	// A slow page waits, and gives up when the client does.
	s.InjectFault(Fault{Path: "/v1.0/admin", Kind: SlowPage, Count: 1, Delay: 50 * time.Millisecond})
	start := time.Now()
	if st, _, _ := get(t, base+"/v1.0/admin/reportSettings", tok); st != 200 || time.Since(start) < 50*time.Millisecond {
		t.Errorf("slow page: %d after %v", st, time.Since(start))
	}
}

func TestDeterministic(t *testing.T) {
	page := func() string {
		cfg := DefaultConfig()
		cfg.Users, cfg.Days, cfg.SignIns, cfg.Seed = 50, 2, 500, 11
		cfg.Now = func() time.Time { return anchor }
		s, err := New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		srv := httptest.NewServer(s.Handler())
		defer srv.Close()
		tok := token(t, s, srv.URL, "")
		var out strings.Builder
		for _, u := range []string{"/v1.0/users?$select=id,userPrincipalName,signInActivity,assignedLicenses", "/v1.0/auditLogs/signIns?$top=50", "/v1.0/subscribedSkus"} {
			_, body, _ := get(t, srv.URL+u, tok)
			delete(body, "@odata.context")
			delete(body, "@odata.nextLink")
			b, _ := json.Marshal(body)
			out.Write(b)
		}
		return out.String()
	}
	if a, b := page(), page(); a != b {
		t.Error("the same seed served different data")
	}
}

func BenchmarkSignInPages(b *testing.B) {
	s, err := New(Config{Seed: 1, Users: 20000, Days: 30, SignIns: 1_000_000, Premium: true, Throttle: "off", Now: func() time.Time { return anchor }})
	if err != nil {
		b.Fatal(err)
	}
	srv := httptest.NewServer(s.Handler())
	defer srv.Close()
	tok := token(b, s, srv.URL, "")
	b.ResetTimer()
	rows := 0
	for i := 0; i < b.N; i++ {
		req, _ := http.NewRequest("GET", srv.URL+"/v1.0/auditLogs/signIns", nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		rows += 1000
	}
	b.ReportMetric(float64(rows)/b.Elapsed().Seconds(), "signins/s")
}
