package tenantsim

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// fixedNow anchors every test tenant: same seed, same bytes.
var fixedNow = time.Date(2026, 11, 20, 14, 30, 0, 0, time.UTC)

type page struct {
	Context  string            `json:"@odata.context"`
	NextLink string            `json:"@odata.nextLink"`
	Value    []json.RawMessage `json:"value"`
}

func decodePage(t testing.TB, body []byte) page {
	t.Helper()
	var p page
	if err := json.Unmarshal(body, &p); err != nil {
		t.Fatalf("decoding page: %v\n%.500s", err, body)
	}
	return p
}

// graphErr is Graph's error body.
type graphErr struct {
	Error struct {
		Code       string            `json:"code"`
		Message    string            `json:"message"`
		InnerError map[string]string `json:"innerError"`
	} `json:"error"`
}

func decodeGraphErr(t testing.TB, body []byte) graphErr {
	t.Helper()
	var e graphErr
	if err := json.Unmarshal(body, &e); err != nil || e.Error.Code == "" {
		t.Fatalf("not a Graph error body (%v): %s", err, body)
	}
	if e.Error.InnerError["request-id"] == "" || e.Error.InnerError["date"] == "" {
		t.Errorf("Graph error without innerError date and request-id: %s", body)
	}
	return e
}

// fakeClock replaces the simulator's wall clock, so expiry and throttling windows need no sleeping.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// throttledSim is newSim with its limits in mode (realistic, scaled) on a fake clock, and a Graph token.
func throttledSim(t testing.TB, mode string) (*Sim, *fakeClock, string) {
	t.Helper()
	s := newSim(t, func(c *Config) { c.Throttle = mode })
	clk := &fakeClock{now: time.Date(2026, 11, 20, 15, 0, 0, 0, time.UTC)}
	s.clock = clk.Now
	return s, clk, issueToken(t, s, "https://graph.microsoft.com/.default")
}

// admitted sends n requests to path, every apart on the fake clock (the clock advanced after each), and fails the
// test unless each is answered 200.
func admitted(t testing.TB, s *Sim, clk *fakeClock, tok, path string, n int, every time.Duration) {
	t.Helper()
	for i := range n {
		if rec := serveDirect(s, tok, path); rec.Code != 200 {
			t.Fatalf("request %d of %s: %d", i+1, path, rec.Code)
		}
		clk.Advance(every)
	}
}

// newSim builds a small fixed tenant; mutate adjusts the config.
func newSim(t testing.TB, mutate func(*Config)) *Sim {
	t.Helper()
	cfg := DefaultConfig()
	cfg.Seed, cfg.Users, cfg.Days, cfg.SignIns = 42, 300, 5, 6000
	cfg.Now = func() time.Time { return fixedNow }
	if mutate != nil {
		mutate(&cfg)
	}
	s, err := New(cfg)
	if err != nil {
		t.Fatalf("new simulator: %v", err)
	}
	return s
}

// issueToken gets an access token through the handler, as a client would.
func issueToken(t testing.TB, s *Sim, scope string) string {
	t.Helper()
	ten, cid, sec := s.Credentials()
	form := url.Values{"client_id": {cid}, "client_secret": {sec}, "grant_type": {"client_credentials"}, "scope": {scope}}
	req := httptest.NewRequest("POST", "/"+ten+"/oauth2/v2.0/token", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	rec := httptest.NewRecorder()
	s.Handler().ServeHTTP(rec, req)
	if rec.Code != 200 {
		t.Fatalf("token: %d %s", rec.Code, rec.Body.String())
	}
	var tr struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &tr); err != nil {
		t.Fatal(err)
	}
	return tr.AccessToken
}

// serveDirect runs one GET through the handler (no network): for byte comparisons and throttling tests.
func serveDirect(s *Sim, tok, target string) *httptest.ResponseRecorder {
	req := httptest.NewRequest("GET", target, nil)
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	rec := httptest.NewRecorder()
	s.Handler().ServeHTTP(rec, req)
	return rec
}

// client talks to a started simulator over loopback HTTP, as seatlake would.
type client struct {
	t    testing.TB
	s    *Sim
	base string
	tok  string
	hc   *http.Client
}

func startSim(t testing.TB, mutate func(*Config)) *client {
	t.Helper()
	s := newSim(t, mutate)
	base, err := s.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	c := &client{t: t, s: s, base: base, hc: &http.Client{Timeout: 20 * time.Second}}
	status, body := c.postToken("", nil)
	if status != 200 {
		t.Fatalf("token: %d %v", status, body)
	}
	c.tok = body["access_token"].(string)
	return c
}

// postToken posts a client-credentials request with the simulator's credentials, overridden by form.
func (c *client) postToken(tenant string, form url.Values) (int, map[string]any) {
	c.t.Helper()
	ten, cid, sec := c.s.Credentials()
	if tenant == "" {
		tenant = ten
	}
	f := url.Values{"client_id": {cid}, "client_secret": {sec}, "grant_type": {"client_credentials"}, "scope": {"https://graph.microsoft.com/.default"}}
	for k, v := range form {
		f[k] = v
	}
	resp, err := c.hc.PostForm(c.base+"/"+tenant+"/oauth2/v2.0/token", f)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	var body map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		c.t.Fatal(err)
	}
	return resp.StatusCode, body
}

// get fetches a path (or an absolute URL) with the client's token.
func (c *client) get(path string) (*http.Response, []byte) {
	c.t.Helper()
	resp, b, err := c.try(path)
	if err != nil {
		c.t.Fatalf("GET %s: %v", path, err)
	}
	return resp, b
}

func (c *client) try(path string) (*http.Response, []byte, error) {
	u := path
	if !strings.HasPrefix(u, "http") {
		u = c.base + path
	}
	req, _ := http.NewRequest("GET", u, nil)
	if c.tok != "" {
		req.Header.Set("Authorization", "Bearer "+c.tok)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp, b, err
}

// all follows nextLinks from path and returns every row, checking each page on the way.
func (c *client) all(path string) ([]map[string]any, int) {
	c.t.Helper()
	rows, resps := walkPages(c.t, c.get, path, c.base+"/v1.0/")
	return rows, len(resps)
}

// walkPages follows nextLinks from path with get and returns every row and each page's response. A page that is
// not 200, or a nextLink that is not an absolute URL starting with prefix, fails the test.
func walkPages(t testing.TB, get func(path string) (*http.Response, []byte), path, prefix string) ([]map[string]any, []*http.Response) {
	t.Helper()
	var rows []map[string]any
	var resps []*http.Response
	for next := path; next != ""; {
		resp, body := get(next)
		if resp.StatusCode != 200 {
			t.Fatalf("GET %s: %d %s", next, resp.StatusCode, body)
		}
		p := decodePage(t, body)
		if p.NextLink != "" && !strings.HasPrefix(p.NextLink, prefix) {
			t.Fatalf("nextLink %s is not an absolute URL under %s", p.NextLink, prefix)
		}
		for _, v := range p.Value {
			var m map[string]any
			if err := json.Unmarshal(v, &m); err != nil {
				t.Fatal(err)
			}
			rows = append(rows, m)
		}
		resps = append(resps, resp)
		next = p.NextLink
	}
	return rows, resps
}

func keys(m map[string]any) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	return ks
}

const signInWindowAll = "/v1.0/auditLogs/signIns?$filter=createdDateTime%20ge%202026-10-01T00:00:00Z"

var (
	isoSeconds = regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$`)
	iso7       = regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{7}Z$`)
)
