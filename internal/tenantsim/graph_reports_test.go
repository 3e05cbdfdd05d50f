package tenantsim

import (
	"bytes"
	"encoding/csv"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/seatlake/seatlake/internal/tenantsim/graphsim"
)

// The usage report answers 302 to a download URL that needs no token and serves the documented CSV: a byte order
// mark, the documented header, one row per suite holder, names hashed exactly when reportSettings says so.
func TestUsageReportDownload(t *testing.T) {
	hex32 := regexp.MustCompile(`^[0-9A-F]{32}$`)
	for _, concealed := range []bool{true, false} {
		c := startSim(t, func(cfg *Config) { cfg.ConcealedNames = concealed })
		noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
		req, _ := http.NewRequest("GET", c.base+"/v1.0/reports/getOffice365ActiveUserDetail(period='D30')", nil)
		req.Header.Set("Authorization", "Bearer "+c.tok)
		resp, err := noRedirect.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		loc := resp.Header.Get("Location")
		if resp.StatusCode != http.StatusFound || loc == "" {
			t.Fatalf("report: %d, Location %q; want 302 with a download URL", resp.StatusCode, loc)
		}
		dl, err := http.Get(loc) // no Authorization header: the URL is pre-authenticated
		if err != nil {
			t.Fatal(err)
		}
		var body bytes.Buffer
		body.ReadFrom(dl.Body)
		dl.Body.Close()
		if dl.StatusCode != 200 || !bytes.HasPrefix(body.Bytes(), []byte("\ufeff"+graphsim.ReportHeader+"\r\n")) {
			t.Fatalf("download: %d, starts %q", dl.StatusCode, body.String()[:min(80, body.Len())])
		}
		recs, err := csv.NewReader(bytes.NewReader(bytes.TrimPrefix(body.Bytes(), []byte("\ufeff")))).ReadAll()
		if err != nil {
			t.Fatal(err)
		}
		if got, want := int64(len(recs)-1), c.s.Truth().Tables["graph_usage_report"]; got != want || want == 0 {
			t.Errorf("concealed=%v: %d rows, truth %d", concealed, got, want)
		}
		for _, r := range recs[1:] {
			if hex32.MatchString(r[1]) != concealed || (!concealed && !strings.Contains(r[1], "@")) {
				t.Fatalf("concealed=%v: user principal name %q", concealed, r[1])
			}
		}
		// The settings endpoint agrees with the report.
		_, rs := c.get("/v1.0/admin/reportSettings")
		if want := `"displayConcealedNames":` + map[bool]string{true: "true", false: "false"}[concealed]; !strings.Contains(string(rs), want) {
			t.Errorf("reportSettings %s lacks %s", rs, want)
		}
		// A forged download URL is refused, as an expired SAS URL is.
		if bad, err := http.Get(c.base + "/_sim/reports/AAAA/Office365ActiveUserDetail.csv"); err != nil || bad.StatusCode != http.StatusForbidden {
			t.Errorf("forged download: %v %v", bad.StatusCode, err)
		}
	}
}

func TestUsageReportNeedsPermissionAndAPeriod(t *testing.T) {
	c := startSim(t, func(cfg *Config) { cfg.GraphPermissions = []string{"User.Read.All"} })
	resp, body := c.get("/v1.0/reports/getOffice365ActiveUserDetail(period='D30')")
	if resp.StatusCode != http.StatusForbidden || !strings.Contains(string(body), "Authorization_RequestDenied") {
		t.Errorf("without Reports.Read.All: %d %s", resp.StatusCode, body)
	}
	c = startSim(t, nil)
	resp, body = c.get("/v1.0/reports/getOffice365ActiveUserDetail(period='D31')")
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(body), "D30") {
		t.Errorf("bad period: %d %s", resp.StatusCode, body)
	}
}
