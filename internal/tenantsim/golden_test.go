package tenantsim

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/golden")

// goldenNow anchors the golden tenants.
var goldenNow = time.Date(2026, 11, 20, 14, 30, 0, 0, time.UTC)

// TestGolden holds the simulator to what it answered before: for each case under testdata/golden (config.json, the
// Config fields that differ from DefaultConfig), GET /_sim/truth at start (truth.json) and after a few changes
// (truth_after.json), and a script of representative requests to Graph, the identity platform, Dataverse and F&O
// (responses.txt: status, the headers a client reads, the body). Only the exported API is used, so the test holds
// whatever the package's insides become. Ports, wall-clock dates and the usage report's expiring URL are replaced
// by placeholders; everything else, request ids included, must be byte for byte the same. -update rewrites them.
func TestGolden(t *testing.T) {
	dirs, err := filepath.Glob(filepath.Join("testdata", "golden", "*"))
	if err != nil || len(dirs) == 0 {
		t.Fatalf("no golden cases: %v", err)
	}
	for _, dir := range dirs {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			raw, err := os.ReadFile(filepath.Join(dir, "config.json"))
			if err != nil {
				t.Fatal(err)
			}
			cfg := DefaultConfig()
			if err := json.Unmarshal(raw, &cfg); err != nil {
				t.Fatalf("config.json: %v", err)
			}
			cfg.Now = func() time.Time { return goldenNow }
			s, err := New(cfg)
			if err != nil {
				t.Fatal(err)
			}
			base, err := s.Start("127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			g := &goldenRun{t: t, s: s, base: base, hc: &http.Client{Timeout: 30 * time.Second,
				CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
			g.names = map[string]string{base: "{graph}"}
			for i, u := range s.DataverseURLs() {
				g.names[u] = fmt.Sprintf("{dataverse%d}", i+1)
			}
			for i, u := range s.FinOpsURLs() {
				g.names[u] = fmt.Sprintf("{finops%d}", i+1)
			}
			truth := g.truth()
			g.script(cfg)
			after := g.truth()
			compareGolden(t, filepath.Join(dir, "truth.json"), truth)
			compareGolden(t, filepath.Join(dir, "responses.txt"), g.out.Bytes())
			compareGolden(t, filepath.Join(dir, "truth_after.json"), after)
		})
	}
}

type goldenRun struct {
	t     *testing.T
	s     *Sim
	base  string
	hc    *http.Client
	names map[string]string // URL -> placeholder
	out   bytes.Buffer
	quiet bool // do does not record
}

var (
	loopbackURL = regexp.MustCompile(`https?://127\.0\.0\.1:\d+`)
	reportToken = regexp.MustCompile(`/_sim/reports/[^/]+/`) // holds an expiry on the wall clock
	wallDates   = []*regexp.Regexp{
		regexp.MustCompile(`"date":"[0-9T:-]+"`),
		regexp.MustCompile(`"timestamp":"[0-9 :Z-]+"`),
		regexp.MustCompile(`Timestamp: [0-9 :Z-]+`),
	}
)

// normalize replaces the started URLs and the wall-clock dates.
func (g *goldenRun) normalize(b []byte) []byte {
	b = loopbackURL.ReplaceAllFunc(b, func(u []byte) []byte {
		if n, ok := g.names[string(u)]; ok {
			return []byte(n)
		}
		return []byte("{unknown-url}")
	})
	for i, re := range wallDates {
		b = re.ReplaceAll(b, []byte([]string{`"date":"{now}"`, `"timestamp":"{now}"`, `Timestamp: {now}`}[i]))
	}
	return b
}

func (g *goldenRun) truth() []byte {
	g.t.Helper()
	resp, err := g.hc.Get(g.base + "/_sim/truth")
	if err != nil {
		g.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		g.t.Fatal(err)
	}
	var v any // decoded after the URLs are named, so the environments are in the order of their names
	if err := json.Unmarshal(g.normalize(raw), &v); err != nil {
		g.t.Fatal(err)
	}
	b, _ := json.MarshalIndent(v, "", "  ")
	return append(b, '\n')
}

// token gets an access token for scope (not recorded: tokens are random).
func (g *goldenRun) token(scope string) string {
	g.t.Helper()
	ten, cid, sec := g.s.Credentials()
	resp, err := g.hc.PostForm(g.base+"/"+ten+"/oauth2/v2.0/token", url.Values{"client_id": {cid}, "client_secret": {sec},
		"grant_type": {"client_credentials"}, "scope": {scope}})
	if err != nil {
		g.t.Fatal(err)
	}
	defer resp.Body.Close()
	var tr struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&tr); err != nil || tr.AccessToken == "" {
		g.t.Fatalf("token for %s: %d %v", scope, resp.StatusCode, err)
	}
	return tr.AccessToken
}

// do sends a request and records it; it returns the answer's headers and body.
func (g *goldenRun) do(method, target, tok string, header map[string]string, body io.Reader) (http.Header, []byte) {
	g.t.Helper()
	if !strings.HasPrefix(target, "http") {
		target = g.base + target
	}
	req, err := http.NewRequest(method, target, body)
	if err != nil {
		g.t.Fatal(err)
	}
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := g.hc.Do(req)
	if err != nil {
		g.t.Fatalf("%s %s: %v", method, target, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		g.t.Fatalf("%s %s: %v", method, target, err)
	}
	var rec bytes.Buffer
	fmt.Fprintf(&rec, "### %s %s\n%d\n", method, reportToken.ReplaceAllString(target, "/_sim/reports/{token}/"), resp.StatusCode)
	for _, h := range []string{"Content-Type", "Content-Length", "request-id", "client-request-id", "OData-Version", "Location",
		"Retry-After", "Preference-Applied", "WWW-Authenticate", "x-ms-resource-unit", "x-ms-service-request-id", "REQ_ID", "Cache-Control"} {
		if v := resp.Header.Get(h); v != "" {
			if h == "Location" && strings.Contains(v, "/_sim/reports/") {
				v = "{report-download-url}" // its token holds an expiry on the wall clock
			}
			fmt.Fprintf(&rec, "%s: %s\n", h, v)
		}
	}
	if strings.HasPrefix(resp.Header.Get("Content-Type"), "application/octet-stream") { // the usage report CSV
		sum := sha256.Sum256(b)
		lines := strings.SplitAfterN(string(b), "\r\n", 4)
		fmt.Fprintf(&rec, "sha256 %s, %d lines, first:\n%s", hex.EncodeToString(sum[:]), bytes.Count(b, []byte("\r\n")), strings.Join(lines[:min(3, len(lines))], ""))
	} else {
		rec.Write(b)
	}
	rec.WriteString("\n\n")
	if !g.quiet {
		g.out.Write(g.normalize(rec.Bytes()))
	}
	return resp.Header, b
}

func (g *goldenRun) get(target, tok string, header map[string]string) []byte {
	_, b := g.do("GET", target, tok, header, nil)
	return b
}

// next is the nextLink of a page ("" at the end, or for a body that is not a page).
func next(b []byte) string {
	var p struct {
		Next string `json:"@odata.nextLink"`
	}
	json.Unmarshal(b, &p)
	return p.Next
}

// script runs the representative requests of every service.
func (g *goldenRun) script(cfg Config) {
	t := g.t
	tok := g.token("https://graph.microsoft.com/.default")
	eventual := map[string]string{"ConsistencyLevel": "eventual"}

	// Graph: users with every property, paged; default properties; advanced queries; one user; $count.
	b := g.get("/v1.0/users?$select=id,userPrincipalName,displayName,givenName,surname,mail,accountEnabled,userType,createdDateTime,"+
		"department,jobTitle,assignedLicenses,licenseAssignmentStates,signInActivity,usageLocation,officeLocation,preferredLanguage,"+
		"businessPhones,mobilePhone&$top=4", tok, nil)
	if n := next(b); n != "" {
		g.get(n, tok, nil)
	}
	g.get("/v1.0/users?$top=3", tok, nil)
	g.get("/v1.0/users?$filter="+url.QueryEscape("startswith(displayName,'a') and accountEnabled eq true")+
		"&$orderby="+url.QueryEscape("displayName desc")+"&$count=true&$top=3", tok, eventual)
	g.get("/v1.0/users?$search="+url.QueryEscape(`"displayName:ma"`)+"&$top=2&$select=id,displayName", tok, eventual)
	g.get("/v1.0/users/$count?$filter="+url.QueryEscape("accountEnabled eq false"), tok, eventual)
	g.get("/v1.0/users?$top=0", tok, nil)
	var all struct {
		Value []struct {
			ID     string `json:"id"`
			States []struct {
				Group *string `json:"assignedByGroup"`
				SkuID string  `json:"skuId"`
			} `json:"licenseAssignmentStates"`
		} `json:"value"`
	}
	g.quiet = true // a long page: read, not recorded
	err := json.Unmarshal(g.get("/v1.0/users?$select=id,licenseAssignmentStates&$top=999", tok, nil), &all)
	g.quiet = false
	if err != nil {
		t.Fatal(err)
	}
	var group, direct, directSku string
	for _, u := range all.Value {
		for _, st := range u.States {
			if st.Group != nil && group == "" {
				group = *st.Group
			}
			if st.Group == nil && direct == "" {
				direct, directSku = u.ID, st.SkuID
			}
		}
	}
	if len(all.Value) == 0 || group == "" || direct == "" {
		t.Fatalf("no user, group or direct license to script with: %d users", len(all.Value))
	}
	g.get("/v1.0/users/"+all.Value[0].ID+"?$select=id,displayName,signInActivity,assignedLicenses", tok, nil)
	g.get("/v1.0/users/"+strings.ToUpper(direct), tok, nil)
	g.get("/v1.0/subscribedSkus", tok, nil)
	g.get("/v1.0/admin/reportSettings", tok, nil)
	g.get("/v1.0/groups/"+group+"?$select=id,displayName,description", tok, nil)
	g.get("/v1.0/groups/"+group, tok, nil)

	// Sign-ins: newest first, paged; a window oldest first; a refused operator.
	b = g.get("/v1.0/auditLogs/signIns?$top=3", tok, nil)
	if n := next(b); n != "" {
		g.get(n, tok, nil)
	}
	win := "createdDateTime ge 2026-11-18T00:00:00Z and createdDateTime le 2026-11-19T12:00:00Z"
	g.get("/v1.0/auditLogs/signIns?$filter="+url.QueryEscape(win)+"&$orderby="+url.QueryEscape("createdDateTime asc")+"&$top=2", tok, nil)
	g.get("/v1.0/auditLogs/signIns?$filter="+url.QueryEscape("createdDateTime gt 2026-11-18T00:00:00Z"), tok, nil)

	// The usage report: 302 to a download that needs no token.
	if h, _ := g.do("GET", "/v1.0/reports/getOffice365ActiveUserDetail(period='D30')", tok, nil, nil); h.Get("Location") != "" {
		g.get(h.Get("Location"), "", nil)
	}

	// Errors: an unknown path, no token, a wrong secret, a write.
	g.get("/v1.0/devices", tok, nil)
	g.get("/v1.0/users", "", nil)
	ten, cid, _ := g.s.Credentials()
	g.do("POST", "/"+ten+"/oauth2/v2.0/token", "", map[string]string{"Content-Type": "application/x-www-form-urlencoded"},
		strings.NewReader(url.Values{"client_id": {cid}, "client_secret": {"wrong"}, "grant_type": {"client_credentials"},
			"scope": {"https://graph.microsoft.com/.default"}}.Encode()))
	g.do("POST", "/v1.0/users/"+direct+"/assignLicense", tok, map[string]string{"Content-Type": "application/json"},
		strings.NewReader(`{"addLicenses":[],"removeLicenses":["`+directSku+`"]}`))

	// Dataverse: users paged with annotations, audits newest first, the organization, WhoAmI, an unknown segment.
	for _, env := range g.s.DataverseURLs() {
		etok := g.token(env + "/.default")
		prefer := map[string]string{"Prefer": `odata.include-annotations="*",odata.maxpagesize=3`}
		b := g.get(env+"/api/data/v9.2/systemusers?$select=fullname,domainname,azureactivedirectoryobjectid,accessmode,isdisabled,createdon", etok, prefer)
		if n := next(b); n != "" {
			g.get(n, etok, prefer)
		}
		g.get(env+"/api/data/v9.2/systemusers?$filter="+url.QueryEscape("isdisabled eq true and applicationid eq null")+"&$top=2", etok, nil)
		prefer = map[string]string{"Prefer": `odata.include-annotations="*",odata.maxpagesize=4`}
		b = g.get(env+"/api/data/v9.2/audits?$filter="+url.QueryEscape("(action eq 64 or action eq 65 or action eq 2) and createdon ge 2026-11-17T00:00:00Z")+
			"&$orderby="+url.QueryEscape("createdon desc"), etok, prefer)
		if n := next(b); n != "" {
			g.get(n, etok, prefer)
		}
		g.get(env+"/api/data/v9.2/audits?$select=auditid,action,createdon&$top=3", etok, nil)
		g.get(env+"/api/data/v9.2/organizations", etok, nil)
		g.get(env+"/api/data/v9.2/WhoAmI", etok, nil)
		g.get(env+"/api/data/v9.2/accounts", etok, nil)
	}

	// F&O: $metadata, users across companies and in the default one, roles filtered, role assignments paged.
	for _, env := range g.s.FinOpsURLs() {
		etok := g.token(env + "/.default")
		g.get(env+"/data/$metadata", etok, nil)
		g.get(env+"/data/SystemUsers?cross-company=true&$top=3", etok, nil)
		g.get(env+"/data/SystemUsers?$select=UserID,Company,Enabled&$filter="+url.QueryEscape("Enabled eq false"), etok, nil)
		g.get(env+"/data/SecurityRoles?$select=SecurityRoleIdentifier,UserLicenseType&$filter="+url.QueryEscape("UserLicenseType eq 'Functional'"), etok, nil)
		b := g.get(env+"/data/SecurityUserRoles?cross-company=true&$skip=2", etok, nil)
		if n := next(b); n != "" {
			g.get(n, etok, nil)
		}
	}

	// The simulator's own endpoints: events applied, an application user added back, the counts.
	if len(g.s.FinOpsURLs()) > 0 {
		g.do("POST", "/_sim/finops-events/apply?n="+fmt.Sprint(max(cfg.FinOpsEvents, 4)), "", nil, nil)
	}
	for e := range cfg.NoApplicationUser {
		g.s.SetApplicationUser(e, true)
	}
	g.get("/_sim/stats", "", nil)
}

func compareGolden(t *testing.T, path string, got []byte) {
	t.Helper()
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to write it)", err)
	}
	if !bytes.Equal(got, want) {
		gl, wl := strings.Split(string(got), "\n"), strings.Split(string(want), "\n")
		for i := range max(len(gl), len(wl)) {
			var a, b string
			if i < len(gl) {
				a = gl[i]
			}
			if i < len(wl) {
				b = wl[i]
			}
			if a != b {
				t.Fatalf("%s differs at line %d:\n got: %.400s\nwant: %.400s", path, i+1, a, b)
			}
		}
	}
}
