package main

import (
	"bufio"
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/seatlake/seatlake/pipelines"
)

// receiver is a running `seatlake events serve`.
type receiver struct {
	cmd      *exec.Cmd
	callback string
	stdout   *bytes.Buffer
	stderr   *bytes.Buffer
}

func startReceiver(t *testing.T, env []string, args ...string) *receiver {
	t.Helper()
	cmd := command(env, append([]string{"events", "serve", "--listen", "127.0.0.1:0"}, args...)...)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	r := &receiver{cmd: cmd, stdout: &bytes.Buffer{}, stderr: &bytes.Buffer{}}
	cmd.Stderr = r.stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	// The receiver prints where it serves, never the secret: the callback URL is made here as F&O has it, from the
	// receiver's URL and the secret file.
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "serving ") {
			kv := keyValues(line)
			secret, err := os.ReadFile(kv["secret_file"])
			if err != nil {
				t.Fatalf("the receiver's secret file: %v", err)
			}
			r.callback = kv["receiver_url"] + pipelines.CallbackPath(kv["environment"], strings.TrimSpace(string(secret)))
			if strings.Contains(line, strings.TrimSpace(string(secret))) {
				t.Errorf("the receiver printed its callback secret: %s", line)
			}
			break
		}
	}
	if r.callback == "" {
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatalf("the receiver printed no serving line: %s", r.stderr)
	}
	go func() {
		for sc.Scan() {
			r.stdout.WriteString(sc.Text() + "\n")
		}
	}()
	return r
}

// keyValues reads a printed key=value line.
func keyValues(line string) map[string]string {
	kv := map[string]string{}
	for _, f := range strings.Fields(line) {
		if k, v, ok := strings.Cut(f, "="); ok {
			kv[k] = v
		}
	}
	return kv
}

func post(t *testing.T, url, ctype, body string) int {
	t.Helper()
	resp, err := http.Post(url, ctype, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// Business events end to end: the simulator's sender posts the plan's events in the documented shape (alerts on
// SecurityUserRole and UserInfo, with retries' duplicates and one malformed body) to `events serve`; the receiver is
// killed -9 after acknowledging them all, before any commit; restarted, it replays its journal and commits every
// distinct event once, each alert with the user of the alerted record; F&O's retries after the outage are
// duplicates; a wrong secret, a wrong content type and an oversized body are refused and counted; refresh-user
// re-reads the environment, so the warehouse's F&O role assignments equal what F&O serves before any nightly run;
// bodies that are no business event (not UTF-8, an unpaired surrogate, truncated, nested past reason, ...) are
// refused with 400 and every query over finops_business_events keeps working; SIGTERM commits what is journaled.
func TestCLIEventsServe(t *testing.T) {
	const n = 30
	sim, base, env := startSim(t, nil) // the plan comes from the sender, which has this simulator apply it
	wh := runInto(t, env)
	name := "finops-" + sim.FinOpsURLs()[0][strings.LastIndexByte(sim.FinOpsURLs()[0], ':')+1:]
	if r := seatlake(t, env, "events", "new-endpoint", "--warehouse", wh); r.code != 0 || !strings.Contains(r.stdout, "/finops/events/"+name+"/") {
		t.Fatalf("new-endpoint: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if st, err := os.Stat(filepath.Join(wh, "_events", "secrets", name+".secret")); err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("the secret file: %v %v", st, err)
	}
	// Nothing is committed while the receiver runs (long interval): then kill -9.
	rcv := startReceiver(t, env, "--warehouse", wh, "--commit-interval", "1h", "--commit-events", "100000")
	// A second simulator, same seed, plays F&O: it has the serving simulator apply the changes the events
	// announce, then posts the events.
	sender := []string{"sim", "--seed", "7", "--users", "250", "--days", "4", "--signins", "5000", "--throttle", "off",
		"--finops-events", strconv.Itoa(n), "--finops-events-rate", "500", "--finops-events-apply", base, "--finops-events-to", rcv.callback}
	s := seatlake(t, nil, sender...)
	if s.code != 0 || !strings.Contains(s.stdout, "finops_events_distinct="+strconv.Itoa(n)) || !strings.Contains(s.stdout, "finops_events_malformed=1") {
		t.Fatalf("the sender: exit %d\n%s%s", s.code, s.stdout, s.stderr)
	}
	changed := sim.Truth().FinOpsEventsUsers
	if len(changed) == 0 {
		t.Fatal("the plan changed no user")
	}
	inList := "'" + strings.Join(changed, "','") + "'"
	roleQuery := "SELECT count(DISTINCT user_id) FROM finops_user_roles WHERE security_role_identifier = 'LEDGERCHIEFFINANCIALOFFICER' AND user_id IN (" + inList + ")"
	if before, _ := strconv.Atoi(csvRows(t, wh, roleQuery)[0][0]); before == len(changed) {
		t.Fatalf("the nightly run already sees every change")
	}
	bad := strings.Replace(rcv.callback, "/"+name+"/", "/"+name+"/x", 1)
	if code := post(t, bad, "application/json", `{}`); code != 401 {
		t.Errorf("a wrong secret: %d, want 401", code)
	}
	if code := post(t, rcv.callback, "text/plain", `{}`); code != 415 {
		t.Errorf("a wrong content type: %d, want 415", code)
	}
	if code := post(t, rcv.callback, "application/json", `{"BusinessEventId":"x","Pad":"`+strings.Repeat("a", 2<<20)+`"}`); code != 413 {
		t.Errorf("an oversized body: %d, want 413", code)
	}
	resp, err := http.Get(strings.SplitN(rcv.callback, "/finops/", 2)[0] + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	var st struct{ Accepted, Duplicates, Malformed, Unauthorized, TooLarge, WrongType, Journaled int64 }
	json.NewDecoder(resp.Body).Decode(&st)
	resp.Body.Close()
	if st.Accepted != n || st.Duplicates == 0 || st.Malformed != 1 || st.Unauthorized != 1 || st.TooLarge != 1 || st.WrongType != 1 {
		t.Errorf("counters: %+v", st)
	}
	if strings.Contains(rcv.stderr.String(), strings.TrimPrefix(rcv.callback[strings.LastIndexByte(rcv.callback, '/'):], "/")) {
		t.Errorf("the secret is in the receiver's log")
	}
	rcv.cmd.Process.Signal(syscall.SIGKILL)
	rcv.cmd.Wait()

	// Restarted: the journal is replayed and committed, the routes run; F&O's retries are duplicates.
	rcv = startReceiver(t, env, "--warehouse", wh, "--commit-interval", "1s")
	sender[len(sender)-1] = rcv.callback
	sender = slices.Delete(sender, len(sender)-4, len(sender)-2) // the changes are applied already
	s = seatlake(t, nil, sender...)
	if s.code != 0 {
		t.Fatalf("the sender after the restart: exit %d\n%s%s\nreceiver: %s", s.code, s.stdout, s.stderr, rcv.stderr)
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		after, _ := strconv.Atoi(csvRows(t, wh, roleQuery)[0][0])
		if after == len(changed) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("refresh-user did not land the changed users' role rows: %d of %d\n%s", after, len(changed), rcv.stderr)
		}
		time.Sleep(300 * time.Millisecond)
	}
	// What F&O serves now, role assignment for role assignment, is what the warehouse holds.
	foURL := sim.FinOpsURLs()[0]
	var served struct {
		Environments map[string]map[string]int64 `json:"environments"`
	}
	resp, err = http.Get(base + "/_sim/truth")
	if err != nil {
		t.Fatal(err)
	}
	json.NewDecoder(resp.Body).Decode(&served)
	resp.Body.Close()
	if got := csvRows(t, wh, "SELECT count(*) FROM finops_user_roles")[0][0]; got != strconv.FormatInt(served.Environments[foURL]["finops_user_roles"], 10) {
		t.Errorf("finops_user_roles after refresh-user: %s rows, F&O serves %d", got, served.Environments[foURL]["finops_user_roles"])
	}

	// Bodies that are no business event: refused before they are journaled, whatever they hold. A BOM before a
	// valid event is allowed (RFC 8259 lets a parser ignore it) and lands without it.
	for _, bad := range []string{
		"{\"BusinessEventId\":\"BusinessEventsAlertEvent\",\"ControlNumber\":900001,\"TableName\":\"UserInfo\",\"KeyValue1\":\"caf\xe9\"}",
		"{\"BusinessEventId\":\"X\",\"ControlNumber\":900002,\"Name\":\"\xff\xfe\"}",
		`{"BusinessEventId":"X","ControlNumber":900003,"Name":"\udc00"}`,
		"{\"BusinessEventId\":\"X\",\"ControlNumber\":900004,\"Name\":\"a\x00b\"}",
		`{"BusinessEventId":"X","ControlNumber":900005`,
		`{"BusinessEventId":"X","ControlNumber":"900006"}`,
		`{"BusinessEventId":"X"}`,
		`{"BusinessEventId":"X","ControlNumber":900008}]`,
		strings.Repeat("[", 20000),
		`null`,
		``,
	} {
		if code := post(t, rcv.callback, "application/json", bad); code != 400 {
			t.Errorf("%.40q: %d, want 400", bad, code)
		}
	}
	if code := post(t, rcv.callback, "application/json; charset=utf-8", "\xef\xbb\xbf"+`{"BusinessEventId":"VendorInvoicePostedBusinessEvent","ControlNumber":900100,"EventTime":"\/Date(1196865000000)\/","Note":"\ud83d\ude00 <&>"}`); code != 202 {
		t.Errorf("a valid event after a BOM: %d, want 202", code)
	}
	rcv.cmd.Process.Signal(syscall.SIGTERM)
	if err := rcv.cmd.Wait(); err != nil {
		t.Fatalf("after SIGTERM: %v\n%s", err, rcv.stderr)
	}
	time.Sleep(100 * time.Millisecond)
	if c := strings.Count(rcv.stderr.String(), "business event refused"); c != 12 { // and the sender's malformed body
		t.Errorf("%d refusals logged, want 12:\n%s", c, rcv.stderr)
	}
	// Every query over the table works: every column, the payload as text and as JSON, the history view.
	for _, q := range []string{
		"SELECT * FROM finops_business_events",
		"SELECT * FROM finops_business_events_history",
		"SELECT max(length(payload)), count(DISTINCT payload), string_agg(payload, ',') IS NOT NULL FROM finops_business_events",
		"SELECT count(*) FROM finops_business_events WHERE json_valid(payload) AND json_extract_string(payload, '$.BusinessEventId') = business_event_id",
	} {
		if r := seatlake(t, nil, "query", "--warehouse", wh, "--format", "csv", q); r.code != 0 {
			t.Errorf("%s: exit %d: %s", q, r.code, r.stderr)
		}
	}
	if got := csvRows(t, wh, "SELECT count(*) FROM finops_business_events WHERE json_valid(payload) AND json_extract_string(payload, '$.BusinessEventId') = business_event_id")[0][0]; got != strconv.Itoa(n+1) {
		t.Errorf("events whose payload is the JSON they came as: %s, want %d", got, n+1)
	}
	if got := csvRows(t, wh, "SELECT event_time, json_extract_string(payload, '$.Note') FROM finops_business_events WHERE control_number = '900100'"); len(got) != 1 || got[0][0] != "2007-12-05T14:30:00Z" || got[0][1] != "\U0001F600 <&>" {
		t.Errorf("the event after a BOM: %v", got)
	}
	// Each alert names the user of the alerted record (KeyValue1), never the rule's owner (UserId); the role
	// alerts name exactly the users whose roles changed.
	if got := csvRows(t, wh, `SELECT count(*), count(*) FILTER (WHERE user_id = json_extract_string(payload, '$.KeyValue1') AND user_id <> json_extract_string(payload, '$.UserId'))
		FROM finops_business_events WHERE business_event_id = 'BusinessEventsAlertEvent'`); got[0][0] == "0" || got[0][0] != got[0][1] {
		t.Errorf("alerts (all, with the alerted record's user): %v", got)
	}
	var roleUsers []string
	for _, r := range csvRows(t, wh, "SELECT DISTINCT user_id FROM finops_business_events WHERE json_extract_string(payload, '$.TableName') = 'SecurityUserRole' ORDER BY 1") {
		roleUsers = append(roleUsers, r[0])
	}
	if want := slices.Sorted(slices.Values(changed)); !slices.Equal(roleUsers, want) {
		t.Errorf("users of the role alerts: %v, want %v", roleUsers, want)
	}
	// The replayed events refreshed the tenant once, whatever their number; the duplicates, never.
	if c := strings.Count(rcv.stderr.String(), "refreshed F&O users"); c != 1 {
		t.Errorf("refresh-user ran %d times, want once", c)
	}
	if !strings.Contains(rcv.stdout.String(), "accepted=1 duplicates="+strconv.Itoa(n+n/5)+" malformed=12") {
		t.Errorf("every event the sender posted after the restart is a duplicate: %s", rcv.stdout)
	}
	// Each distinct event is stored once: the history view shows every stored copy, not only the deduplicated view.
	rows := csvRows(t, wh, "SELECT (SELECT count(*) FROM finops_business_events_history), count(*), count(DISTINCT business_event_id || control_number) FROM finops_business_events")
	if rows[0][0] != strconv.Itoa(n+1) || rows[0][1] != strconv.Itoa(n+1) || rows[0][2] != strconv.Itoa(n+1) {
		t.Errorf("finops_business_events (stored, shown, distinct): %v, want %d each", rows, n+1)
	}
	resp, err = http.Get(base + "/_sim/truth")
	if err != nil {
		t.Fatal(err)
	}
	var tr struct { // the plan's truth
		Distinct int      `json:"finops_events_distinct"`
		Users    []string `json:"finops_events_users"`
	}
	json.NewDecoder(resp.Body).Decode(&tr)
	resp.Body.Close()
	if tr.Distinct != n || len(tr.Users) != len(changed) {
		t.Errorf("truth: %+v", tr)
	}
	// An OK line naming the endpoint and when its last event came (the warning for "no event yet" would not do).
	if r := seatlake(t, env, "check", "--warehouse", wh); !strings.Contains(r.stdout, "events endpoint: configured ("+name+"); last event received 20") {
		t.Errorf("check says nothing of the events endpoint:\n%s", r.stdout)
	}
}

// The events section of the config file: its keys and its routes are checked, naming what is wrong.
func TestCLIEventsConfig(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct{ name, events, want string }{
		{"a misspelled key", "  comit-interval: 5s\n", `"events.comit-interval"`},
		{"an unknown action", "  routes:\n    - business-event-id: X\n      actions: [delete-user]\n", `action "delete-user"`},
		{"a route without actions", "  routes:\n    - business-event-id: X\n", "no actions"},
		{"an unknown route key", "  routes:\n    - eventid: X\n      actions: [log]\n", `unknown key "eventid"`},
	} {
		f := filepath.Join(dir, "c.yaml")
		os.WriteFile(f, []byte("warehouse: "+dir+"\nevents:\n"+tc.events), 0o600)
		r := seatlake(t, []string{"SEATLAKE_FINOPS_URL=https://contoso-prod.operations.dynamics.com"}, "events", "serve", "--config", f)
		if r.code != 2 || !strings.Contains(r.stderr, tc.want) || strings.Count(strings.TrimSpace(r.stderr), "\n") > 0 {
			t.Errorf("%s: exit %d: %s", tc.name, r.code, r.stderr)
		}
	}
}

// HTTPS with the receiver's own certificate, and a rotated secret: the old callback URL is refused at once, the
// new one works, without restarting the receiver.
func TestCLIEventsTLSAndRotation(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile, pool := selfSigned(t, dir)
	env := []string{"AZURE_TENANT_ID=t1", "AZURE_CLIENT_ID=c1", "AZURE_CLIENT_SECRET=never-sent", "SEATLAKE_FINOPS_URL=https://contoso-prod.operations.dynamics.com"}
	wh := filepath.Join(dir, "wh")
	if r := seatlake(t, env, "events", "new-endpoint", "--warehouse", wh, "--finops", "contoso-prod"); r.code != 0 {
		t.Fatalf("new-endpoint: exit %d: %s", r.code, r.stderr)
	}
	rcv := startReceiver(t, env, "--warehouse", wh, "--tls-cert", certFile, "--tls-key", keyFile)
	if !strings.HasPrefix(rcv.callback, "https://127.0.0.1:") {
		t.Fatalf("callback %s: want https", rcv.callback)
	}
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	send := func(url string, cn int) int {
		resp, err := hc.Post(url, "application/json", strings.NewReader(`{"BusinessEventId":"X","ControlNumber":`+strconv.Itoa(cn)+`}`))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := send(rcv.callback, 1); code != 202 {
		t.Fatalf("an event over https: %d", code)
	}
	r := seatlake(t, env, "events", "new-endpoint", "--warehouse", wh, "--finops", "contoso-prod")
	newURL := strings.Fields(strings.TrimPrefix(r.stdout, "callback_url="))[0]
	newURL = rcv.callback[:strings.Index(rcv.callback, "/finops/")] + newURL[strings.Index(newURL, "/finops/"):]
	if code := send(rcv.callback, 2); code != 401 {
		t.Errorf("the old URL after a rotation: %d, want 401", code)
	}
	if code := send(newURL, 3); code != 202 {
		t.Errorf("the new URL: %d, want 202", code)
	}
	rcv.cmd.Process.Signal(syscall.SIGTERM)
	if err := rcv.cmd.Wait(); err != nil {
		t.Fatalf("after SIGTERM: %v\n%s", err, rcv.stderr)
	}
	if rows := csvRows(t, wh, "SELECT control_number FROM finops_business_events ORDER BY 1"); len(rows) != 2 || rows[0][0] != "1" || rows[1][0] != "3" {
		t.Errorf("finops_business_events after SIGTERM: %v, want events 1 and 3", rows)
	}
}

// selfSigned writes a certificate for 127.0.0.1 and its key; it returns their paths and a pool trusting it.
func selfSigned(t *testing.T, dir string) (string, string, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "seatlake events"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IPAddresses: []net.IP{net.ParseIP("127.0.0.1")},
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kb, _ := x509.MarshalECPrivateKey(key)
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600)
	cert, _ := x509.ParseCertificate(der)
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return certFile, keyFile, pool
}

// A receiver whose folder is not the warehouse's (--events-dir, events.events-dir in the config file, as in a pod
// with a persistent volume): check finds its callback secret there, by flag and by config file.
func TestCLICheckReadsTheEventsDir(t *testing.T) {
	_, _, env := startSim(t, nil)
	dir := t.TempDir()
	wh, events := filepath.Join(dir, "wh"), filepath.Join(dir, "events")
	if r := seatlake(t, env, "events", "new-endpoint", "--warehouse", wh, "--events-dir", events); r.code != 0 {
		t.Fatalf("new-endpoint --events-dir: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	cfg := filepath.Join(dir, "seatlake.yaml")
	if err := os.WriteFile(cfg, []byte("warehouse: "+wh+"\nevents:\n  events-dir: "+events+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{
		{"check", "--warehouse", wh, "--events-dir", events},
		{"check", "--config", cfg},
	} {
		r := seatlake(t, env, args...)
		if !strings.Contains(r.stdout, "events endpoint: configured (") {
			t.Errorf("%v does not find the endpoint made in %s:\n%s%s", args, events, r.stdout, r.stderr)
		}
	}
	if r := seatlake(t, env, "check", "--warehouse", wh); !strings.Contains(r.stdout, "events endpoint: not configured") {
		t.Errorf("check without --events-dir looks elsewhere than <warehouse>/_events:\n%s", r.stdout)
	}
}
