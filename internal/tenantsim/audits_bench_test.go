package tenantsim

import (
	"bytes"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/seatlake/seatlake/internal/tenantsim/dataversesim"
)

// BenchmarkAuditPages serves every user-driven audit page of an environment through its handler (no network, no
// client decoding): the simulator's own speed, which bounds what an end-to-end run can show.
func BenchmarkAuditPages(b *testing.B) {
	c := startSim(b, func(c *Config) { c.Users = 5000; c.AuditsPerEnv = 200_000 })
	dv := c.s.DataverseURLs()[0]
	e := c.env(dv)
	h := c.s.dataverseHandler(0)
	first := dv + dataversesim.API + "audits?$filter=" + url.QueryEscape(userDrivenFilter)
	marker := []byte(`"@odata.nextLink":"`)
	rows := int64(0)
	per := c.s.Truth().Environments[dv]["dataverse_audits"]
	b.ResetTimer()
	for range b.N {
		for next := first; next != ""; {
			req := httptest.NewRequest("GET", next, nil)
			req.Header.Set("Authorization", "Bearer "+e.tok)
			req.Header.Set("Prefer", "odata.maxpagesize=5000")
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			body := rec.Body.Bytes()
			next = ""
			if i := bytes.LastIndex(body, marker); i >= 0 {
				rest := body[i+len(marker):]
				next = strings.ReplaceAll(string(rest[:bytes.IndexByte(rest, '"')]), `\u0026`, "&")
			}
		}
		rows += per
	}
	b.ReportMetric(float64(rows)/b.Elapsed().Seconds(), "rows/s")
}
