package tenantsim

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"github.com/seatlake/seatlake/internal/testservices"
)

func TestStartListensOnLoopbackOnly(t *testing.T) {
	s := newSim(t, nil)
	for _, addr := range []string{"0.0.0.0:0", ":0", "192.168.1.10:0", "example.com:80", "nonsense"} {
		if _, err := s.Start(addr); err == nil {
			s.Close()
			t.Errorf("Start(%q) listened; want a refusal", addr)
		}
	}
	base, err := s.Start("127.0.0.1:0")
	if err != nil || !regexp.MustCompile(`^http://127\.0\.0\.1:\d+$`).MatchString(base) {
		t.Fatalf("Start: %q %v", base, err)
	}
	if _, err := s.Start("127.0.0.1:0"); err == nil {
		t.Error("a second Start succeeded")
	}
	if err := s.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if _, err := http.Get(base + "/_sim/truth"); err == nil {
		t.Error("still serving after Close")
	}
}

func TestBannerAndCredentials(t *testing.T) {
	a, b := newSim(t, nil), newSim(t, nil)
	tenant, client, secret := a.Credentials()
	if want := "tenant_id=" + tenant + " client_id=" + client + " client_secret=" + secret; a.Banner() != want {
		t.Errorf("banner %q, want %q", a.Banner(), want)
	}
	if a.Banner() != b.Banner() {
		t.Error("the same seed gave different credentials")
	}
	if !regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`).MatchString(tenant) || client != DefaultClientID || secret == "" {
		t.Errorf("credentials %q %q %q", tenant, client, secret)
	}
	c := newSim(t, func(c *Config) { c.TenantID, c.ClientID, c.ClientSecret = "t-1", "c-1", "s-1" })
	if got := c.Banner(); got != "tenant_id=t-1 client_id=c-1 client_secret=s-1" {
		t.Errorf("banner with given credentials: %q", got)
	}
}

func TestConfigValidation(t *testing.T) {
	for name, mutate := range map[string]func(*Config){
		"no users":         func(c *Config) { c.Users = 0 },
		"negative days":    func(c *Config) { c.Days = -1 },
		"too many days":    func(c *Config) { c.Days = 400 },
		"idle share":       func(c *Config) { c.IdleShare = 1.5 },
		"throttle mode":    func(c *Config) { c.Throttle = "sometimes" },
		"negative signins": func(c *Config) { c.SignIns = -5 },
	} {
		cfg := DefaultConfig()
		mutate(&cfg)
		if _, err := New(cfg); err == nil {
			t.Errorf("%s: New accepted %+v", name, cfg)
		}
	}
}

func TestUnknownPaths(t *testing.T) {
	c := startSim(t, nil)
	for _, path := range []string{"/v1.0/groups", "/v1.0/users/delta/x", "/beta/users"} {
		resp, body := c.get(path)
		if resp.StatusCode != 404 {
			t.Errorf("%s: %d, want 404", path, resp.StatusCode)
			continue
		}
		decodeGraphErr(t, body)
	}
	// Graph checks the token first.
	c.tok = ""
	if resp, _ := c.get("/v1.0/groups"); resp.StatusCode != 401 {
		t.Errorf("unknown Graph path without a token: %d, want 401", resp.StatusCode)
	}
}

func TestTruthOverHTTP(t *testing.T) {
	c := startSim(t, nil)
	resp, body := c.get("/_sim/truth")
	if resp.StatusCode != 200 {
		t.Fatal(resp.StatusCode)
	}
	var got map[string]any
	if err := json.Unmarshal(body, &got); err != nil {
		t.Fatal(err)
	}
	tables := got["tables"].(map[string]any)
	for _, k := range []string{"graph_users", "graph_user_licenses", "graph_subscribed_skus", "graph_signins", "graph_report_settings"} {
		if tables[k] != float64(c.s.Truth().Tables[k]) {
			t.Errorf("%s: %v over HTTP, %d from Truth()", k, tables[k], c.s.Truth().Tables[k])
		}
	}
	if got["tenant_id"] == "" || got["premium"] != true || got["concealed_names"] != true || got["signins_from"] == nil || got["signins_to"] != "2026-11-20T14:30:00Z" {
		t.Errorf("truth %s", body)
	}
	if tables["graph_report_settings"] != float64(1) || tables["graph_users"] != float64(300) || tables["graph_signins"] != float64(6000) {
		t.Errorf("tables %v", tables)
	}
	// Truth() hands out a copy.
	tr := c.s.Truth()
	tr.Tables["graph_users"] = 0
	if c.s.Truth().Tables["graph_users"] != 300 {
		t.Error("changing a Truth changed the simulator's")
	}
}

func TestHandlerMountedElsewhere(t *testing.T) {
	s := newSim(t, nil)
	srv := httptest.NewServer(s.Handler())
	defer srv.Close()
	c := &client{t: t, s: s, base: srv.URL, hc: srv.Client()}
	status, tok := c.postToken("", map[string][]string{"scope": {srv.URL + "/.default"}})
	if status != 200 {
		t.Fatalf("token for the server's own URL: %d %v", status, tok)
	}
	c.tok = tok["access_token"].(string)
	rows, pages := c.all("/v1.0/users?$top=100") // nextLinks point at srv.URL, checked by all
	if len(rows) != 300 || pages != 3 {
		t.Errorf("%d users in %d pages", len(rows), pages)
	}
	if st := s.Stats(); st.Requests["users"] != 3 || st.Requests["token"] != 1 || st.Tokens != 1 {
		t.Errorf("stats %+v", st)
	}
	if !strings.HasPrefix(s.Banner(), "tenant_id=") {
		t.Error(s.Banner())
	}
}

// With a fixed --addr the Dynamics environments are served on the ports right after it, the same on every start,
// so a config file naming their URLs keeps working; a port already taken is named with the fix.
func TestFixedAddrGivesStableEnvironmentPorts(t *testing.T) {
	mutate := func(c *Config) { c.DataverseEnvs, c.FinOpsEnvs = 2, 1 }
	var first []string
	port := testservices.OnFreePort(t, func(port int) bool {
		s := newSim(t, mutate)
		base, err := s.Start(fmt.Sprintf("127.0.0.1:%d", port))
		if err != nil {
			t.Logf("port %d: %v", port, err) // a neighbouring port is someone else's: pick another
			return false
		}
		first = append([]string{base}, s.URLLines()...)
		s.Close()
		return true
	})
	want := []string{
		fmt.Sprintf("http://127.0.0.1:%d", port),
		fmt.Sprintf("dataverse_url=http://127.0.0.1:%d", port+1),
		fmt.Sprintf("dataverse_url=http://127.0.0.1:%d", port+2),
		fmt.Sprintf("finops_url=http://127.0.0.1:%d", port+3),
	}
	if fmt.Sprint(first) != fmt.Sprint(want) {
		t.Fatalf("first start: %v, want %v", first, want)
	}
	s := newSim(t, mutate)
	base, err := s.Start(fmt.Sprintf("127.0.0.1:%d", port))
	if err != nil {
		t.Fatalf("second start on the same --addr: %v", err)
	}
	defer s.Close()
	if again := append([]string{base}, s.URLLines()...); fmt.Sprint(again) != fmt.Sprint(want) {
		t.Errorf("second start: %v, want %v", again, want)
	}
	// A third simulator on the port of the first's F&O environment cannot have its own environments there.
	_, err = newSim(t, mutate).Start(fmt.Sprintf("127.0.0.1:%d", port+3))
	if err == nil || !strings.Contains(err.Error(), "choose another --addr") && !strings.Contains(err.Error(), "listening on") {
		t.Errorf("a taken port: %v", err)
	}
}
