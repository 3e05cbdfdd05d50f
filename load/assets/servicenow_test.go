package assets

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/seatlake/seatlake/internal/assetsim/servicenow"
)

// The rows sent to ServiceNow have exactly the staging columns the README tells an administrator to create, in
// the table the README names for them.
func TestStagingColumnsAreDocumented(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	tables := map[string]string{"persons": DefaultStagingTables.User, "subscriptions": DefaultStagingTables.Subscription, "assignments": DefaultStagingTables.License}
	for sel, src := range stagingRows(sample(1)) {
		line := ""
		for _, l := range strings.Split(string(readme), "\n") {
			if strings.HasPrefix(l, "| `"+tables[sel]+"` |") {
				line = l
			}
		}
		var documented []string
		cells := strings.SplitN(line, "|", 4) // "", the table, its columns, ""
		if len(cells) < 3 {
			t.Fatalf("the README has no row for %s", tables[sel])
		}
		for _, c := range regexp.MustCompile("`(u_[a-z_]+)`").FindAllStringSubmatch(cells[2], -1) {
			if !slices.Contains(documented, c[1]) {
				documented = append(documented, c[1])
			}
		}
		var sent []string
		for k := range src.row(0) {
			sent = append(sent, k)
		}
		if !slices.Equal(sorted(sent), sorted(documented)) || !slices.Equal(sorted(sent), stagingColumns(sel)) {
			t.Errorf("%s rows carry %v, the README documents %v", tables[sel], sorted(sent), sorted(documented))
		}
	}
}

func sorted(s []string) []string {
	out := slices.Clone(s)
	slices.Sort(out)
	return out
}

// ServiceNow's insertMultiple example (Import Set API page), through the client: the columns' labels read from
// the dictionary make the example's request body, key for key, and the example's answer gives the import set.
func TestInsertMultipleDocExample(t *testing.T) {
	golden := func(name string) []byte {
		b, err := os.ReadFile("../../internal/assetsim/servicenow/testdata/golden/insertmultiple/" + name)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	wantReq, answer, dictionary := golden("request.json"), golden("response.json"), golden("dictionary.json")
	var sentBody []byte
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		switch {
		case r.URL.Path == "/api/now/table/sys_dictionary" && r.URL.Query().Get("sysparm_query") == "name=u_employee_import_set_table":
			w.Write(dictionary)
		case r.URL.Path == "/api/now/import/u_employee_import_set_table/insertMultiple" && r.Method == http.MethodPost:
			sentBody, _ = io.ReadAll(r.Body)
			w.WriteHeader(http.StatusCreated)
			w.Write(answer)
		default:
			w.WriteHeader(http.StatusBadRequest)
		}
	}))
	defer srv.Close()
	c, err := newServiceNowClient(ServiceNowConfig{InstanceURL: srv.URL, User: "u", Password: "p", Attempts: 1})
	if err != nil {
		t.Fatal(err)
	}
	keys, err := c.columnKeys(context.Background(), ColumnLabels, "u_employee_import_set_table", []string{"u_address", "u_id", "u_name"})
	if err != nil {
		t.Fatal(err)
	}
	id, err := c.insertMultiple(context.Background(), "u_employee_import_set_table", keys, []map[string]string{
		{"u_address": "Hollywood", "u_name": "Tom", "u_id": "123"}, {"u_address": "Vine", "u_name": "Irene", "u_id": "456"}})
	var got, want any
	json.Unmarshal(sentBody, &got)
	json.Unmarshal(wantReq, &want)
	if err != nil || id != "<import_set_sys_id>" || !reflect.DeepEqual(got, want) {
		t.Errorf("import set %q, %v; sent %s, want the example's %s", id, err, sentBody, wantReq)
	}
}

// snInstance serves the ServiceNow emulator, set up by setup, and a configuration syncing into it.
func snInstance(t *testing.T, setup func(*servicenow.Server), transforms ...servicenow.Transform) (*servicenow.Server, ServiceNowConfig) {
	t.Helper()
	s := servicenow.New("seatlake.integration", "pw", "client", "secret", transforms...)
	s.ProcessAfter = 5 * time.Millisecond
	if setup != nil {
		setup(s)
	}
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	return s, ServiceNowConfig{InstanceURL: srv.URL, User: "seatlake.integration", Password: "pw", BatchSize: 7, Poll: 5 * time.Millisecond,
		MaxWait: 5 * time.Second, Attempts: 2}
}

// A sync lands every row with its values or fails naming what to change: the column mapping insertMultiple uses
// (labels unless a REST Insert Multiples entry maps the table by column name), the staging columns and their labels,
// the dictionary's read access. A row that lands without u_external_id is never taken as success.
func TestSyncServiceNowColumnMapping(t *testing.T) {
	byNames := func(s *servicenow.Server) {
		for _, tr := range servicenow.DefaultTransforms() {
			s.SetInsertMultiple(tr.Staging, servicenow.InsertMultipleEntry{ColumnNames: true})
		}
	}
	withColumns := func(f func(tr *servicenow.Transform)) []servicenow.Transform {
		trs := servicenow.DefaultTransforms()
		f(&trs[0])
		return trs
	}
	for _, tc := range []struct {
		name       string
		mapping    string
		setup      func(*servicenow.Server)
		transforms []servicenow.Transform
		wantErr    []string // empty: every row lands
	}{
		{name: "labels, the instance's default", mapping: ""},
		{name: "names, with an entry per table", mapping: ColumnNames, setup: byNames},
		{name: "labels, synchronous entries", mapping: ColumnLabels, setup: func(s *servicenow.Server) {
			for _, tr := range servicenow.DefaultTransforms() {
				s.SetInsertMultiple(tr.Staging, servicenow.InsertMultipleEntry{Synchronous: true})
			}
		}},
		{name: "labels, but entries map by column name", mapping: ColumnLabels, setup: byNames,
			wantErr: []string{"20 of the 20 rows sent to u_seatlake_user landed without u_external_id (skipped: 20)", "set column-mapping: name"}},
		{name: "names, but no entry", mapping: ColumnNames,
			wantErr: []string{"landed without u_external_id", "add a REST Insert Multiples [sys_rest_insert_multiple] entry for u_seatlake_user with Column mapping = Column name"}},
		{name: "the dictionary unreadable", setup: func(s *servicenow.Server) { s.DenyRead("sys_dictionary") },
			wantErr: []string{"reading the labels of u_seatlake_user's columns from sys_dictionary", "403", "let the integration user read sys_dictionary"}},
		{name: "a column missing", transforms: withColumns(func(tr *servicenow.Transform) { tr.Columns = tr.Columns[:len(tr.Columns)-1] }),
			wantErr: []string{"u_seatlake_user has no column u_dynamics_users: add the missing columns"}},
		{name: "a label shared", transforms: withColumns(func(tr *servicenow.Transform) { tr.Columns[1].Label = tr.Columns[0].Label }),
			wantErr: []string{`label "External ID" is shared by u_external_id, u_tenant_id`, "give each column its own label"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, cfg := snInstance(t, tc.setup, tc.transforms...)
			cfg.ColumnMapping = tc.mapping
			data := sample(20)
			data.TenantID = "tenant-1"
			res, err := SyncServiceNow(context.Background(), cfg, data)
			held := s.Held()
			if len(tc.wantErr) == 0 {
				people := map[string]string{}
				for _, r := range held.Targets["u_m365_person"] {
					people[r.Values["u_external_id"]] = r.Values["u_upn"]
				}
				if err != nil || res.Counts["Person:created"] != 20 || res.Counts["License Assignment:created"] != 20 || res.Counts["Person:errors"] != 0 ||
					len(people) != 20 || people["user-007"] != "user-007@contoso.com" || len(held.Targets["u_m365_license"]) != 20 {
					t.Fatalf("%v; counts %v; ServiceNow holds %v", err, res.Counts, people)
				}
				return
			}
			if err == nil || errors.Is(err, ErrRowsRefused) {
				t.Fatalf("want a failure (not partial: nothing landed), got %v", err)
			}
			for _, w := range tc.wantErr {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("the error does not say %q:\n%v", w, err)
				}
			}
			if len(held.Targets["u_m365_person"]) != 0 || res.Sent["subscriptions"] != 0 {
				t.Errorf("after the people failed, %d people landed and %d subscriptions were sent", len(held.Targets["u_m365_person"]), res.Sent["subscriptions"])
			}
		})
	}
}

// A row skipped (no coalesce value) or refused is counted in errors and named, and makes the sync partial when other
// rows landed.
func TestSyncServiceNowSkippedRows(t *testing.T) {
	trs := servicenow.DefaultTransforms()
	trs[2].Coalesce, trs[2].References = "u_user", nil // a transform map coalescing on the user: a license without one is skipped
	_, cfg := snInstance(t, nil, trs...)
	data := sample(5)
	data.Assignments[3].UserID = ""
	res, err := SyncServiceNow(context.Background(), cfg, data)
	if !errors.Is(err, ErrRowsRefused) || !strings.Contains(err.Error(), "1 rows of u_seatlake_license skipped") ||
		res.Counts["License Assignment:errors"] != 1 || res.Counts["License Assignment:skipped"] != 1 || res.Counts["License Assignment:created"] != 4 {
		t.Errorf("%v; counts %v", err, res.Counts)
	}
}

// OAuth client credentials on an instance not set up for the grant: the sync and the probe name the system property
// and the OAuth Application User; once set up, the probe reports the column mapping it found.
func TestServiceNowOAuthAndProbe(t *testing.T) {
	s, cfg := snInstance(t, nil)
	cfg.User, cfg.Password, cfg.ClientID, cfg.ClientSecret = "", "", "client", "secret"
	_, err := SyncServiceNow(context.Background(), cfg, sample(2))
	if !errors.Is(err, ErrOAuthRefused) || !strings.Contains(err.Error(), "glide.oauth.inbound.client.credential.grant_type.enabled") ||
		!strings.Contains(err.Error(), "OAuth Application User") {
		t.Errorf("sync with the grant off: %v", err)
	}
	probe := ProbeServiceNow(context.Background(), cfg)
	if len(probe) != 1 || probe[0].Status != ProbeFail || !strings.Contains(probe[0].Action, "glide.oauth.inbound.client.credential.grant_type.enabled") {
		t.Errorf("probe with the grant off: %+v", probe)
	}
	s.SetClientCredentials(true, "seatlake.integration")
	lines := func(p []ProbeResult) map[string]string {
		out := map[string]string{}
		for _, r := range p {
			out[r.Check] = r.Status
		}
		return out
	}
	if got := lines(ProbeServiceNow(context.Background(), cfg)); got["OAuth client credentials"] != ProbeOK || got["import set API"] != ProbeOK || got["column mapping"] != ProbeOK {
		t.Errorf("probe set up: %v", got)
	}
	s.SetInsertMultiple(DefaultStagingTables.User, servicenow.InsertMultipleEntry{ColumnNames: true})
	if got := lines(ProbeServiceNow(context.Background(), cfg)); got["column mapping"] != ProbeWarn {
		t.Errorf("probe, labels with an entry: %v", got)
	}
	cfg.ColumnMapping = ColumnNames
	if got := lines(ProbeServiceNow(context.Background(), cfg)); got["column mapping"] != ProbeWarn {
		t.Errorf("probe, names with one entry for three tables: %v", got)
	}
	_, cfg = snInstance(t, func(s *servicenow.Server) { s.SetClientCredentials(true, "seatlake.integration") })
	cfg.ColumnMapping = ColumnNames
	if p := ProbeServiceNow(context.Background(), cfg); lines(p)["column mapping"] != ProbeFail || !strings.Contains(p[len(p)-1].Action, "Column mapping = Column name") {
		t.Errorf("probe, names without an entry: %+v", p)
	}
}

// An OAuth token the instance refuses before its announced expiry (revoked) is dropped and a new one fetched once:
// the sync goes on. Under basic auth a 401 stays final (TestSyncFailures' rotated token is its Assets twin).
func TestServiceNowOAuthTokenRefusedIsFetchedAgain(t *testing.T) {
	s := servicenow.New("seatlake.integration", "pw", "client", "secret")
	s.ProcessAfter = 5 * time.Millisecond
	s.SetClientCredentials(true, "seatlake.integration")
	var tokens, refused atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/oauth_token.do" {
			tokens.Add(1)
		} else if tokens.Load() == 1 && refused.Add(1) == 1 { // the first token is revoked after its first use
			w.WriteHeader(http.StatusUnauthorized)
			io.WriteString(w, `{"error":{"message":"User Not Authenticated","detail":"Required to provide Auth information"},"status":"failure"}`)
			return
		}
		s.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	cfg := ServiceNowConfig{InstanceURL: srv.URL, ClientID: "client", ClientSecret: "secret", Poll: 5 * time.Millisecond, MaxWait: 5 * time.Second, Attempts: 2}
	res, err := SyncServiceNow(context.Background(), cfg, sample(3))
	if err != nil || res.Sent["persons"] != 3 || tokens.Load() != 2 {
		t.Errorf("sync after a revoked token: %+v, %v; %d token requests, want 2", res, err, tokens.Load())
	}
}
