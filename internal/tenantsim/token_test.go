package tenantsim

import (
	"encoding/base64"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"
)

func TestTokenEndpoint(t *testing.T) {
	c := startSim(t, nil)
	ten, cid, sec := c.s.Credentials()
	tests := []struct {
		name    string
		tenant  string
		form    url.Values
		status  int
		error   string
		aadsts  float64
		errDesc string // a piece of error_description
	}{
		{"success", "", nil, 200, "", 0, ""},
		{"tenant by domain name", c.s.m.Domain, nil, 200, "", 0, ""},
		{"scope on the simulator's own URL", "", url.Values{"scope": {c.base + "/.default"}}, 200, "", 0, ""},
		{"bad secret", "", url.Values{"client_secret": {"nope"}}, 401, "invalid_client", 7000215, "Invalid client secret provided"},
		{"missing secret", "", url.Values{"client_secret": {""}}, 401, "invalid_client", 7000218, "client_secret"},
		{"unknown tenant", "11111111-2222-3333-4444-555555555555", nil, 400, "invalid_request", 90002, "Tenant '11111111-2222-3333-4444-555555555555' not found"},
		{"unknown client id", "", url.Values{"client_id": {"00000000-0000-0000-0000-000000000001"}}, 400, "unauthorized_client", 700016, "was not found in the directory"},
		{"scope without /.default", "", url.Values{"scope": {"https://graph.microsoft.com/User.Read.All"}}, 400, "invalid_scope", 1002012, "/.default suffixed"},
		{"unknown resource", "", url.Values{"scope": {"https://foo.microsoft.com/.default"}}, 400, "invalid_scope", 70011, "The scope https://foo.microsoft.com/.default is not valid"},
		{"wrong grant type", "", url.Values{"grant_type": {"password"}}, 400, "unsupported_grant_type", 70003, "unsupported grant type"},
		{"two resources", "", url.Values{"scope": {"https://graph.microsoft.com/.default " + c.base + "/.default"}}, 400, "invalid_scope", 700022, "more than one resource"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, body := c.postToken(tt.tenant, tt.form)
			if status != tt.status {
				t.Fatalf("status %d, want %d: %v", status, tt.status, body)
			}
			if tt.status == 200 {
				if body["token_type"] != "Bearer" || body["expires_in"] != float64(3600) || body["ext_expires_in"] != float64(3600) || body["access_token"] == "" {
					t.Errorf("token response %v", body)
				}
				if _, ok := body["refresh_token"]; ok {
					t.Error("client credentials never grant a refresh token")
				}
				return
			}
			checkAADError(t, body, tt.error, tt.aadsts, tt.errDesc)
		})
	}
	// HTTP Basic client authentication (RFC 6749 §2.3.1) is accepted too.
	req, _ := http.NewRequest("POST", c.base+"/"+ten+"/oauth2/v2.0/token",
		strings.NewReader(url.Values{"grant_type": {"client_credentials"}, "scope": {"https://graph.microsoft.com/.default"}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(cid+":"+sec)))
	resp, err := c.hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("basic auth: status %d", resp.StatusCode)
	}
}

func TestExpiredSecret(t *testing.T) {
	c := &client{t: t}
	c.s = newSim(t, func(cfg *Config) { cfg.ExpiredSecret = true })
	base, err := c.s.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.s.Close() })
	c.base, c.hc = base, http.DefaultClient
	status, body := c.postToken("", nil)
	if status != 401 {
		t.Fatalf("status %d, want 401: %v", status, body)
	}
	checkAADError(t, body, "invalid_client", 7000222, "client secret keys for app")
}

var aadDesc = regexp.MustCompile(`^AADSTS(\d+): .+\r\nTrace ID: [0-9a-f-]{36}\r\nCorrelation ID: [0-9a-f-]{36}\r\nTimestamp: \d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ$`)

func checkAADError(t *testing.T, body map[string]any, code string, aadsts float64, desc string) {
	t.Helper()
	if body["error"] != code {
		t.Errorf("error %v, want %s", body["error"], code)
	}
	d, _ := body["error_description"].(string)
	if !aadDesc.MatchString(d) || !strings.Contains(d, desc) {
		t.Errorf("error_description %q: want AADSTS…: …%s… with Trace ID, Correlation ID and Timestamp lines", d, desc)
	}
	if codes, _ := body["error_codes"].([]any); len(codes) != 1 || codes[0] != aadsts {
		t.Errorf("error_codes %v, want [%v]", body["error_codes"], aadsts)
	}
	for _, k := range []string{"timestamp", "trace_id", "correlation_id"} {
		if s, _ := body[k].(string); s == "" || !strings.Contains(d, s) {
			t.Errorf("%s %q missing or not the one in error_description", k, s)
		}
	}
	if body["error_uri"] != "https://login.microsoftonline.com/error?code="+strings.TrimPrefix(regexp.MustCompile(`AADSTS\d+`).FindString(d), "AADSTS") {
		t.Errorf("error_uri %v", body["error_uri"])
	}
}

func TestGraphRejectsBadTokens(t *testing.T) {
	s := newSim(t, func(c *Config) { c.TokenLifetime = 30 * time.Second })
	clk := &fakeClock{now: time.Now()}
	s.clock = clk.Now
	tok := issueToken(t, s, "https://graph.microsoft.com/.default")
	if rec := serveDirect(s, tok, "/v1.0/users"); rec.Code != 200 {
		t.Fatalf("fresh token: %d %s", rec.Code, rec.Body)
	}
	tests := []struct {
		name, tok, msg string
		before         func()
	}{
		{"no token", "", "Access token is empty.", nil},
		{"unknown token", "eyJ0eXAiOiJKV1QiLCJhbGciOi", "CompactToken parsing failed with error code: 80049217", nil},
		{"expired token", tok, "Access token has expired or is not yet valid.", func() { clk.Advance(31 * time.Second) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.before != nil {
				tt.before()
			}
			rec := serveDirect(s, tt.tok, "/v1.0/auditLogs/signIns")
			if rec.Code != 401 {
				t.Fatalf("status %d, want 401", rec.Code)
			}
			e := decodeGraphErr(t, rec.Body.Bytes())
			if e.Error.Code != "InvalidAuthenticationToken" || e.Error.Message != tt.msg {
				t.Errorf("error %+v, want InvalidAuthenticationToken %q", e.Error, tt.msg)
			}
			if !strings.HasPrefix(rec.Header().Get("WWW-Authenticate"), "Bearer ") {
				t.Errorf("WWW-Authenticate %q", rec.Header().Get("WWW-Authenticate"))
			}
		})
	}
	// A new token works again, as for a client that refreshes on 401.
	if rec := serveDirect(s, issueToken(t, s, "https://graph.microsoft.com/.default"), "/v1.0/users"); rec.Code != 200 {
		t.Errorf("refreshed token: %d", rec.Code)
	}
}
