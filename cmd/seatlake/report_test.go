package main

import (
	"bytes"
	"encoding/json"
	"html"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/seatlake/seatlake/internal/csvtest"
	"github.com/seatlake/seatlake/internal/tenantsim"
	"github.com/seatlake/seatlake/pipelines"
)

// reportWarehouse runs a seeded tenant with a config file that prices licenses, and returns the warehouse.
func reportWarehouse(t *testing.T) (wh string, env []string) {
	t.Helper()
	_, _, env = startSim(t, func(c *tenantsim.Config) { c.Users, c.Days, c.SignIns = 600, 30, 0 })
	dir := t.TempDir()
	prices := filepath.Join(dir, "prices.csv")
	os.WriteFile(prices, []byte("sku_part_number,monthly_price,currency\nDYN365_ENTERPRISE_SALES,95,EUR\nDYN365_ENTERPRISE_CUSTOMER_SERVICE,95,EUR\n"+
		"DYN365_TEAM_MEMBERS,8,EUR\nDynamics_365_for_Operations,180,EUR\nENTERPRISEPACK,23,EUR\nSPE_E3,36,EUR\nSPE_E5,57,EUR\nENTERPRISEPREMIUM,38,EUR\n"+
		"POWERAPPS_PER_USER,20,EUR\nAAD_PREMIUM,6,EUR\nFLOW_FREE,0,EUR\nfinops:Activity,50,EUR\n"), 0o644)
	cfg := filepath.Join(dir, "seatlake.yaml")
	os.WriteFile(cfg, []byte("rules:\n  prices: prices.csv\n  threshold-days: 60\n"), 0o644)
	wh = filepath.Join(dir, "wh")
	if r := seatlake(t, env, "run", "--quiet", "--config", cfg, "--warehouse", wh); r.code != 0 {
		t.Fatalf("run: exit %d: %s %s", r.code, r.stdout, r.stderr)
	}
	return wh, env
}

// The report: the position per SKU, the top candidates with their saving, the findings on the terminal; every
// candidate in the CSV plan; a page that needs no network.
func TestCLIReport(t *testing.T) {
	wh, _ := reportWarehouse(t)
	out := t.TempDir()
	page := filepath.Join(out, "report.html")
	r := seatlake(t, []string{"COLUMNS="}, "report", "--warehouse", wh, "--top", "3", "--csv", out, "--html", page)
	if r.code != 0 {
		t.Fatalf("report: exit %d: %s", r.code, r.stderr)
	}
	// Not a terminal and no $COLUMNS: 100 columns, reasons wrapped under their candidate (the plan keeps them whole).
	for i, l := range strings.Split(r.stdout, "\n") {
		if len([]rune(l)) > 100 && !strings.HasPrefix(l, "html=") && !strings.HasPrefix(l, "reclaim_plan=") {
			t.Errorf("line %d is %d characters wide, want at most 100: %q", i+1, len([]rune(l)), l)
		}
	}
	if wide := seatlake(t, []string{"COLUMNS=240"}, "report", "--warehouse", wh, "--top", "3"); !strings.Contains(wide.stdout,
		"Dynamics 365 for Sales Enterprise Edition (DYN365_ENTERPRISE_SALES)") {
		t.Errorf("with COLUMNS=240 the report does not name the SKU by its product name and part number on one line:\n%s", wide.stdout)
	}
	for _, want := range []string{"Compliance position per SKU", "DYN365_ENTERPRISE_SALES", "Dynamics 365 for Sales", "Per product", "Reclaim candidates (top 3 of",
		"Downgrade candidates (top 3 of", "Findings (", "finops_under_licensed", "EUR ", "reclaim_plan=", "html="} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("report output lacks %q:\n%s", want, r.stdout)
		}
	}
	// The plan holds every candidate: as many rows as license_usage has reclaim and downgrade candidates.
	want := csvRows(t, wh, "SELECT count(*) FILTER (WHERE reclaim_candidate) + count(*) FILTER (WHERE downgrade_to IS NOT NULL) FROM license_usage")[0][0]
	recs := csvtest.Read(t, filepath.Join(out, "reclaim-plan.csv"))
	if strconv.Itoa(len(recs)-1) != want || len(recs) < 10 {
		t.Errorf("reclaim-plan.csv has %d candidates, license_usage %s", len(recs)-1, want)
	}
	if strings.Join(recs[0], ",") != "tenant_id,tenant_name,user_id,user_principal_name,sku_part_number,product,status,action,days_inactive,last_activity,evidence,reason,yearly_saving,currency,sku_id,assigned_by_group,snapshot_date,approve" {
		t.Errorf("plan header: %v", recs[0])
	}
	for _, rec := range recs[1:] {
		if rec[7] == "" || rec[11] == "" {
			t.Fatalf("a plan row without action or reason: %v", rec)
		}
	}
	// The demo's "Licenses by status": each figure on its own row. A downgrade saving is not the active row's (an
	// active row with to_reclaim 0 beside a saving read as a contradiction); downgrades have their own row.
	byWhat := map[string][]string{}
	for _, row := range csvRows(t, wh, pipelines.DemoQueries()[0].SQL) {
		byWhat[strings.SplitN(row[0], " ", 2)[0]] = row
	}
	downgrades := csvRows(t, wh, "SELECT count(*), round(sum(yearly_saving), 0) FROM license_usage WHERE downgrade_to IS NOT NULL")[0]
	if a := byWhat["active"]; a == nil || a[2] != "0" || a[3] != "0.0" && a[3] != "0" {
		t.Errorf("demo status table: the active row is %v, want no reclaim and no saving on it", a)
	}
	if d := byWhat["downgrade"]; d == nil || d[1] != downgrades[0] || d[3] != downgrades[1] || downgrades[0] == "0" {
		t.Errorf("demo status table: the downgrade row is %v, want %v licenses and their saving %v", d, downgrades[0], downgrades[1])
	}

	html, err := os.ReadFile(page)
	if err != nil {
		t.Fatal(err)
	}
	s := string(html)
	if n := strings.Count(s, "<svg"); n < 3 {
		t.Errorf("the page has %d charts, want the seats, inactivity and savings charts", n)
	}
	// Self-contained: nothing to fetch (no script, stylesheet, image or font from anywhere).
	if loc := regexp.MustCompile(`(?i)<script|<link|<img|(src|href)\s*=\s*"(https?:)?//|@import|url\(`).FindStringIndex(s); loc != nil {
		t.Errorf("the page fetches something: %q", s[loc[0]:min(len(s), loc[1]+60)])
	}
	for _, want := range []string{"Compliance position per SKU", "Top reclaim candidates", "Findings", "finops_under_licensed"} {
		if !strings.Contains(s, want) {
			t.Errorf("the page lacks %q", want)
		}
	}
}

// The page as a person sees it, in a 1400-pixel window: Chromium renders it offline, the seats chart's three
// series (purchased, assigned, active) are on screen, and a script run in a copy of the page (the page itself has
// none) finds nothing wider than the window, nothing scrolling sideways, no table cell overflowing and no chart
// label cut by its chart or covering another. Runs when Chromium is installed (CI installs it;
// SEATLAKE_REQUIRE_CHROMIUM=1 makes its absence a failure).
func TestReportScreenshot(t *testing.T) {
	browser := ""
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			browser = p
			break
		}
	}
	if browser == "" {
		if os.Getenv("SEATLAKE_REQUIRE_CHROMIUM") != "" {
			t.Fatal("no chromium on PATH and SEATLAKE_REQUIRE_CHROMIUM is set (apt-get install chromium)")
		}
		t.Skip("no chromium on PATH: install Debian's chromium to run the report's screenshot check")
	}
	wh, _ := reportWarehouse(t)
	out := t.TempDir()
	page := filepath.Join(out, "report.html")
	if r := seatlake(t, nil, "report", "--quiet", "--warehouse", wh, "--html", page); r.code != 0 {
		t.Fatalf("report: exit %d: %s", r.code, r.stderr)
	}
	chromium := func(args ...string) []byte {
		t.Helper()
		cmd := exec.Command(browser, append([]string{"--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--no-first-run"}, args...)...)
		cmd.Env = append(os.Environ(), "HOME="+out)
		var stdout bytes.Buffer
		cmd.Stdout = &stdout
		done := make(chan error, 1)
		go func() { done <- cmd.Run() }()
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("chromium: %v", err)
			}
		case <-time.After(90 * time.Second):
			cmd.Process.Kill()
			t.Fatal("chromium did not render the page in 90 s")
		}
		return stdout.Bytes()
	}

	// The layout, measured in the browser.
	body, err := os.ReadFile(page)
	if err != nil {
		t.Fatal(err)
	}
	measured := filepath.Join(out, "measured.html")
	os.WriteFile(measured, bytes.Replace(body, []byte("</body>"), []byte("<script>"+layoutCheck+"</script></body>"), 1), 0o644)
	dom := chromium("--window-size=1400,1000", "--virtual-time-budget=10000", "--dump-dom", "file://"+measured)
	m := regexp.MustCompile(`(?s)<pre id="seatlake-metrics">(.*?)</pre>`).FindSubmatch(dom)
	if m == nil {
		t.Fatalf("the layout check did not run in Chromium: %.300s", dom)
	}
	var layout struct {
		Problems    []string `json:"problems"`
		ScrollWidth int      `json:"scrollWidth"`
		Window      int      `json:"window"`
		Texts       int      `json:"texts"`
	}
	if err := json.Unmarshal([]byte(html.UnescapeString(string(m[1]))), &layout); err != nil {
		t.Fatalf("layout check: %v: %s", err, m[1])
	}
	if layout.Window != 1400 || layout.Texts < 30 {
		t.Errorf("the layout check measured a %d px window and %d chart labels, want 1400 px and the charts' labels", layout.Window, layout.Texts)
	}
	if layout.ScrollWidth > 1400 {
		t.Errorf("the page is %d px wide in a 1400 px window: it scrolls sideways", layout.ScrollWidth)
	}
	for i, p := range layout.Problems {
		if i == 15 {
			t.Errorf("at 1400 px: and %d more problems", len(layout.Problems)-i)
			break
		}
		t.Errorf("at 1400 px: %s", p)
	}

	shot := filepath.Join(out, "report.png")
	chromium("--window-size=1400,1400", "--screenshot="+shot, "file://"+page)
	f, err := os.Open(shot)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatal(err)
	}
	series := map[string][3]uint32{"purchased": {84, 112, 198}, "assigned": {145, 204, 117}, "active": {250, 200, 88}}
	count := map[string]int{}
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			r, g, bl, _ := img.At(x, y).RGBA()
			for name, c := range series {
				if near(r>>8, c[0]) && near(g>>8, c[1]) && near(bl>>8, c[2]) {
					count[name]++
				}
			}
		}
	}
	for name := range series {
		if count[name] < 400 {
			t.Errorf("the rendered page shows %d pixels of the %s series: the seats chart is not on screen (%v)", count[name], name, count)
		}
	}
	if t.Failed() {
		keep := filepath.Join(os.TempDir(), "seatlake-report-failed.png")
		if b, err := os.ReadFile(shot); err == nil && os.WriteFile(keep, b, 0o644) == nil {
			t.Logf("screenshot kept at %s", keep)
		}
	}
}

func near(a, b uint32) bool { return a+6 >= b && a <= b+6 }

// layoutCheck runs in a copy of the report page once it is laid out, and writes what it finds into
// <pre id="seatlake-metrics"> as JSON: the page's width, the window's, how many chart labels it measured, and the
// problems a reader would see (anything past the window's right edge, a box that scrolls sideways, a table cell
// whose text is wider than the cell, a chart label cut by its chart or by a clipping box, a label over a bar, two
// labels overlapping).
const layoutCheck = `window.addEventListener('load', () => {
  const problems = [];
  const vw = window.innerWidth;
  const de = document.documentElement;
  const name = el => el.tagName.toLowerCase() + (el.id ? '#' + el.id : '') +
    (typeof el.className === 'string' && el.className.trim() ? '.' + el.className.trim().split(/\s+/).join('.') : '');
  if (de.scrollWidth > vw) problems.push('the page is ' + de.scrollWidth + ' px wide in a ' + vw + ' px window');
  for (const el of document.querySelectorAll('body *')) {
    const cs = getComputedStyle(el);
    const r = el.getBoundingClientRect();
    if (r.width > 0 && r.right > vw + 0.5) problems.push(name(el) + ' ends at ' + Math.round(r.right) + ' px, past the window');
    if (['auto', 'scroll'].includes(cs.overflowX) && el.scrollWidth > el.clientWidth + 1) problems.push(name(el) + ' scrolls sideways');
    if ((el.tagName === 'TD' || el.tagName === 'TH') && el.scrollWidth > el.clientWidth + 1)
      problems.push(name(el) + ' "' + el.textContent.trim().slice(0, 40) + '" is wider than its cell');
  }
  let texts = 0;
  const inside = (r, c) => r.left >= c.left - 0.5 && r.right <= c.right + 0.5 && r.top >= c.top - 0.5 && r.bottom <= c.bottom + 0.5;
  for (const chart of document.querySelectorAll('.chart, svg')) {
    const cr = chart.getBoundingClientRect();
    const seen = [];
    const bars = chart.tagName === 'svg' ? [] : Array.from(chart.querySelectorAll('svg')).map(b => b.getBoundingClientRect());
    const walker = document.createTreeWalker(chart, NodeFilter.SHOW_TEXT);
    for (let n = walker.nextNode(); n; n = walker.nextNode()) {
      const t = n.textContent.trim();
      if (!t) continue;
      const range = document.createRange();
      range.selectNodeContents(n);
      for (const r of range.getClientRects()) {
        if (r.width < 0.5 || r.height < 0.5) continue;
        texts++;
        if (!inside(r, cr)) problems.push(name(chart) + ': "' + t + '" is cut by the chart\'s edge');
        for (let p = n.parentElement; p && p !== chart; p = p.parentElement) {
          const ps = getComputedStyle(p);
          if ((ps.overflowX !== 'visible' || ps.overflowY !== 'visible') && !inside(r, p.getBoundingClientRect()))
            problems.push(name(chart) + ': "' + t + '" is cut by ' + name(p));
        }
        for (const b of bars) {
          const w = Math.min(r.right, b.right) - Math.max(r.left, b.left), h = Math.min(r.bottom, b.bottom) - Math.max(r.top, b.top);
          if (w > 0.5 && h > 0.5) problems.push(name(chart) + ': "' + t + '" covers a bar');
        }
        for (const s of seen) {
          const w = Math.min(r.right, s.r.right) - Math.max(r.left, s.r.left), h = Math.min(r.bottom, s.r.bottom) - Math.max(r.top, s.r.top);
          if (w > 0.5 && h > 0.5) problems.push(name(chart) + ': "' + t + '" overlaps "' + s.t + '"');
        }
        seen.push({ r, t });
      }
    }
  }
  const out = document.createElement('pre');
  out.id = 'seatlake-metrics';
  out.textContent = JSON.stringify({ problems, scrollWidth: de.scrollWidth, window: vw, texts });
  document.body.appendChild(out);
});`
