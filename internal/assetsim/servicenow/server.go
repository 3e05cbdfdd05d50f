// Package servicenow emulates the parts of a ServiceNow instance that seatlake's sync uses, as ServiceNow documents
// them (testdata/README.md lists each fact with its page, and says which are assumed): the Import Set API (one row,
// transformed at once; insertMultiple, transformed later unless a REST Insert Multiples entry makes it synchronous,
// its keys column labels unless that entry maps the table by column name, keys that match no column dropped
// silently), staging tables transformed by a transform map that coalesces on a column (inserted, updated, ignored
// when no field changed, skipped when the coalesce value is missing, error when a reference does not resolve or a
// transform script rejects the row), Table API reads of sys_import_set, the staging rows, sys_dictionary and
// sys_rest_insert_multiple (invalid query fields ignored, Link and X-Total-Count headers), basic auth and the OAuth
// client credentials grant (refused unless the instance is set up for it), rate limit rules (429 with Retry-After),
// and ACLs that refuse direct table writes. GET /_sim/servicenow returns what the target tables hold.
package servicenow

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Column is a staging table column: its name (u_external_id) and its label (External ID), which insertMultiple
// takes as the record keys by default.
type Column struct{ Name, Label string }

// Transform is one staging table and its transform map: rows become records of a target table, matched on a
// coalesce column; References are staging columns holding the coalesce value of a record in another target table
// (a license row's user): a value that does not resolve is a row error, as a transform script rejecting it is.
type Transform struct {
	Staging    string
	Target     string
	Coalesce   string
	Columns    []Column // every column a string, as seatlake's README asks an administrator to create them
	References map[string]string
}

// DefaultTransforms are the three staging tables seatlake writes, with the labels the README gives their columns,
// and the target tables an administrator maps them to.
func DefaultTransforms() []Transform {
	cols := func(pairs ...string) []Column {
		var out []Column
		for i := 0; i < len(pairs); i += 2 {
			out = append(out, Column{pairs[i], pairs[i+1]})
		}
		return out
	}
	common := []string{"u_external_id", "External ID", "u_tenant_id", "Tenant ID"}
	return []Transform{
		{Staging: "u_seatlake_user", Target: "u_m365_person", Coalesce: "u_external_id", Columns: cols(append(common,
			"u_entra_id", "Entra ID", "u_upn", "UPN", "u_display_name", "Display name", "u_department", "Department",
			"u_enabled", "Enabled", "u_dynamics_users", "Dynamics users")...)},
		{Staging: "u_seatlake_subscription", Target: "u_m365_subscription", Coalesce: "u_external_id", Columns: cols(append(common,
			"u_sku_id", "SKU ID", "u_part_number", "Part number", "u_product_name", "Product name", "u_product", "Product", "u_purchased", "Purchased",
			"u_assigned", "Assigned", "u_active", "Active", "u_available", "Available", "u_monthly_price", "Monthly price")...)},
		{Staging: "u_seatlake_license", Target: "u_m365_license", Coalesce: "u_external_id", Columns: cols(append(common,
			"u_user", "User", "u_subscription", "Subscription", "u_product_name", "Product name", "u_status", "Status", "u_last_activity", "Last activity",
			"u_evidence", "Evidence", "u_days_inactive", "Days inactive", "u_reason", "Reason", "u_monthly_cost", "Monthly cost",
			"u_reclaim_candidate", "Reclaim candidate", "u_under_licensed", "Under licensed", "u_required_license", "Required license",
			"u_true_up_monthly_cost", "True up monthly cost", "u_action", "Action")...),
			References: map[string]string{"u_user": "u_m365_person", "u_subscription": "u_m365_subscription"}},
	}
}

// InsertMultipleEntry is a REST Insert Multiples [sys_rest_insert_multiple] record for one staging table. Without
// one, insertMultiple takes column labels and transforms asynchronously.
type InsertMultipleEntry struct {
	ColumnNames bool // Column mapping: Column name instead of Label
	Synchronous bool // transform the rows as they are inserted
}

// Server is one instance.
type Server struct {
	mu           sync.Mutex
	user, pass   string
	clientID     string
	clientSecret string
	ccGrant      bool   // glide.oauth.inbound.client.credential.grant_type.enabled
	appUser      string // the OAuth Application User on the client's registry record
	tokens       map[string]time.Time
	transforms   map[string]Transform
	entries      map[string]InsertMultipleEntry // staging table -> its REST Insert Multiples entry
	entryIDs     map[string]string
	noRead       map[string]bool // tables the integration user's read ACLs do not cover
	sets         map[string]*importSet
	order        []string // import set sys_ids, in creation order
	due          int      // the index in order of the first set processDue has to look at
	rows         []*row
	targets      map[string]map[string]*Record // target table -> coalesce value -> record
	seq          int
	maxBatch     int
	requests     int

	// ProcessAfter is how long an asynchronous import set stays loaded before it is transformed.
	ProcessAfter time.Duration
	// Reject, when set, is a transform script: a non-empty answer marks the row error with that message.
	Reject func(staging string, values map[string]string) string
	// ThrottleEvery answers every Nth API request 429 with Retry-After: 1 (0: never), as a rate limit rule does.
	ThrottleEvery int
}

// Record is a target table record.
type Record struct {
	SysID   string            `json:"sys_id"`
	Values  map[string]string `json:"values"`
	Updated int               `json:"updated"` // times a transform changed it
}

type importSet struct {
	sysID, number, table, state, mode string
	created                           time.Time
	rows                              []*row
}

type row struct {
	sysID, table, set string
	num               int
	seq               int               // its place in Server.rows: the instance's order of rows
	values            map[string]string // by column name
	state, comment    string            // sys_import_state: pending, inserted, updated, ignored, skipped, error
	target            string            // sys_target_sys_id
}

// New returns an instance taking basic auth user/password and, once SetClientCredentials sets the instance up for
// the grant, OAuth client credentials clientID/clientSecret, with the given staging tables and transform maps.
func New(user, password, clientID, clientSecret string, transforms ...Transform) *Server {
	if len(transforms) == 0 {
		transforms = DefaultTransforms()
	}
	s := &Server{user: user, pass: password, clientID: clientID, clientSecret: clientSecret, tokens: map[string]time.Time{},
		transforms: map[string]Transform{}, entries: map[string]InsertMultipleEntry{}, entryIDs: map[string]string{},
		noRead: map[string]bool{}, sets: map[string]*importSet{}, targets: map[string]map[string]*Record{},
		ProcessAfter: 20 * time.Millisecond}
	for _, t := range transforms {
		s.transforms[t.Staging] = t
		s.targets[t.Target] = map[string]*Record{}
	}
	return s
}

// SetPassword changes the integration user's password (a rotated credential).
func (s *Server) SetPassword(p string) { s.mu.Lock(); s.pass = p; s.mu.Unlock() }

// SetClientCredentials sets the system property glide.oauth.inbound.client.credential.grant_type.enabled (false on
// a new instance) and the OAuth Application User of the client's registry record (none on a new record): the
// instance issues client credentials tokens only with both.
func (s *Server) SetClientCredentials(enabled bool, appUser string) {
	s.mu.Lock()
	s.ccGrant, s.appUser = enabled, appUser
	s.mu.Unlock()
}

// SetInsertMultiple adds (or changes) the REST Insert Multiples entry of a staging table.
func (s *Server) SetInsertMultiple(staging string, e InsertMultipleEntry) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.entries[staging] = e
	if s.entryIDs[staging] == "" {
		s.entryIDs[staging] = sysID()
	}
}

// DenyRead takes the integration user's read access to a table away, as a missing ACL does.
func (s *Server) DenyRead(table string) { s.mu.Lock(); s.noRead[table] = true; s.mu.Unlock() }

// Held is what the instance holds: every target table's records, the import sets, the staging rows per state, and
// the largest insertMultiple batch received.
type Held struct {
	Targets    map[string][]Record       `json:"targets"`
	ImportSets int                       `json:"import_sets"`
	Rows       map[string]map[string]int `json:"rows"` // staging table -> sys_import_state -> rows
	MaxBatch   int                       `json:"max_batch"`
}

// Held processes every import set that is due and returns a copy of what the instance holds.
func (s *Server) Held() Held {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.processDue(time.Now())
	h := Held{Targets: map[string][]Record{}, ImportSets: len(s.sets), Rows: map[string]map[string]int{}, MaxBatch: s.maxBatch}
	for t, recs := range s.targets {
		h.Targets[t] = []Record{}
		for _, r := range recs {
			c := *r
			c.Values = copyValues(r.Values)
			h.Targets[t] = append(h.Targets[t], c)
		}
		sort.Slice(h.Targets[t], func(i, j int) bool { return h.Targets[t][i].SysID < h.Targets[t][j].SysID })
	}
	for _, r := range s.rows {
		if h.Rows[r.table] == nil {
			h.Rows[r.table] = map[string]int{}
		}
		h.Rows[r.table][r.state]++
	}
	return h
}

func sysID() string {
	b := make([]byte, 16)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// ServeHTTP routes the instance's endpoints: /api/now/[v1/|v2/]import/… and /api/now/[v1/|v2/]table/….
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/_sim/servicenow" {
		writeJSON(w, http.StatusOK, s.Held())
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if r.URL.Path == "/oauth_token.do" && r.Method == http.MethodPost {
		s.token(w, r)
		return
	}
	if !s.authorized(r) {
		fail(w, http.StatusUnauthorized, "User Not Authenticated", "Required to provide Auth information")
		return
	}
	s.requests++
	if s.ThrottleEvery > 0 && s.requests%s.ThrottleEvery == 0 {
		w.Header().Set("X-RateLimit-Limit", "1000")
		w.Header().Set("X-RateLimit-Reset", strconv.FormatInt(time.Now().Add(time.Hour).Unix(), 10))
		w.Header().Set("X-RateLimit-Rule", "0c8b53ab0f3a4b0e9d0f5d2a1e2f3a4b")
		w.Header().Set("Retry-After", "1")
		fail(w, http.StatusTooManyRequests, "Rate limit exceeded", "Rate limit of 1000 requests per hour for Table API exceeded")
		return
	}
	s.processDue(time.Now())
	rest, ok := strings.CutPrefix(r.URL.Path, "/api/now/")
	version := 0 // the latest, which answers an empty list 200
	for v, p := range map[int]string{1: "v1/", 2: "v2/"} {
		if after, found := strings.CutPrefix(rest, p); found {
			version, rest = v, after
		}
	}
	switch {
	case ok && strings.HasPrefix(rest, "import/"):
		s.importAPI(w, r, strings.Split(strings.TrimPrefix(rest, "import/"), "/"))
	case ok && strings.HasPrefix(rest, "table/"):
		if r.Method != http.MethodGet {
			// The integration user has no table write ACLs: writes go through import sets.
			fail(w, http.StatusForbidden, "Operation Failed", "ACL Exception Insert Failed due to security constraints")
			return
		}
		s.tableAPI(w, r, strings.Split(strings.TrimPrefix(rest, "table/"), "/"), version)
	default:
		fail(w, http.StatusBadRequest, "Requested URI does not represent any resource", r.URL.Path)
	}
}

// token is POST /oauth_token.do. Only the client credentials grant is served; it is refused, with the same answer
// as a wrong secret, unless the instance enables it and the client's record names an OAuth Application User.
func (s *Server) token(w http.ResponseWriter, r *http.Request) {
	if !strings.HasPrefix(r.Header.Get("Content-Type"), "application/x-www-form-urlencoded") {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "invalid_request", "error_description": "invalid_request"})
		return
	}
	if err := r.ParseForm(); err != nil || r.PostForm.Get("grant_type") != "client_credentials" {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "unsupported_grant_type", "error_description": "unsupported_grant_type"})
		return
	}
	known := s.clientID != "" && r.PostForm.Get("client_id") == s.clientID && r.PostForm.Get("client_secret") == s.clientSecret
	if !known || !s.ccGrant || s.appUser == "" {
		writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "server_error", "error_description": "access_denied"})
		return
	}
	tok := sysID() + sysID()
	s.tokens[tok] = time.Now().Add(30 * time.Minute)
	writeJSON(w, http.StatusOK, map[string]any{"access_token": tok, "token_type": "Bearer", "expires_in": 1799, "scope": "useraccount"})
}

func (s *Server) authorized(r *http.Request) bool {
	if u, p, ok := r.BasicAuth(); ok {
		return u == s.user && p == s.pass && s.user != ""
	}
	if tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok {
		exp, ok := s.tokens[tok]
		return ok && time.Now().Before(exp)
	}
	return false
}

// importAPI serves GET /api/now/import/{table}/{sys_id}, POST /api/now/import/{table} and
// POST /api/now/import/{table}/insertMultiple.
func (s *Server) importAPI(w http.ResponseWriter, r *http.Request, rest []string) {
	tr, ok := s.transforms[rest[0]]
	if !ok {
		fail(w, http.StatusBadRequest, "Invalid table "+rest[0], "The staging table does not exist or is not an import set table")
		return
	}
	base := "http://" + r.Host
	if r.Method == http.MethodGet && len(rest) == 2 {
		for _, rw := range s.rows {
			if rw.table == tr.Staging && rw.sysID == rest[1] {
				writeJSON(w, http.StatusOK, map[string]any{"import_set": s.sets[rw.set].number, "staging_table": tr.Staging,
					"result": []any{s.result(base, tr, rw)}})
				return
			}
		}
		fail(w, http.StatusNotFound, "No Record found", "Record doesn't exist or ACL restricts the record retrieval")
		return
	}
	if r.Method != http.MethodPost || len(rest) > 2 || len(rest) == 2 && rest[1] != "insertMultiple" {
		fail(w, http.StatusMethodNotAllowed, "Method not supported", r.Method+" "+r.URL.Path)
		return
	}
	if !strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") {
		fail(w, http.StatusUnsupportedMediaType, "Unsupported Media Type", "application/json expected")
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 32<<20))
	if err != nil {
		fail(w, http.StatusBadRequest, "Bad request", err.Error())
		return
	}
	if len(rest) == 1 { // one row, by column name, transformed at once in the table's synchronous import set
		values, err := flat(body)
		if err != nil {
			fail(w, http.StatusBadRequest, "Exception while reading request", err.Error())
			return
		}
		set := s.loadingSynchronous(tr.Staging)
		rw := s.load(set, columnValues(tr, values, false))
		s.transform(set)
		writeJSON(w, http.StatusCreated, map[string]any{"import_set": set.number, "staging_table": tr.Staging, "result": []any{s.result(base, tr, rw)}})
		return
	}
	var req struct {
		Records []json.RawMessage `json:"records"`
	}
	if err := json.Unmarshal(body, &req); err != nil || req.Records == nil {
		fail(w, http.StatusBadRequest, "Exception while reading request", "the body must be {\"records\":[…]}")
		return
	}
	entry := s.entries[tr.Staging]
	var all []map[string]string
	for i, rec := range req.Records {
		values, err := flat(rec)
		if err != nil {
			fail(w, http.StatusBadRequest, "Exception while reading request", fmt.Sprintf("record %d: %v", i, err))
			return
		}
		all = append(all, columnValues(tr, values, !entry.ColumnNames))
	}
	s.maxBatch = max(s.maxBatch, len(all))
	set := s.newSet(tr.Staging, "asynchronous")
	for _, v := range all {
		s.load(set, v)
	}
	if entry.Synchronous {
		// Transformed as inserted; a synchronous import set stays loading (ServiceNow marks it processed at midnight).
		set.mode = "synchronous"
		s.transform(set)
		set.state = "loading"
	} else {
		set.state = "loaded" // transformed later, by processDue
	}
	multi := r.URL.Query().Get("multi_import_set_id")
	if multi == "" {
		multi = sysID()
	}
	writeJSON(w, http.StatusCreated, map[string]any{"import_set_id": set.sysID, "multi_import_set_id": multi})
}

// result is a row's transformation result as the one-row Import Set API answers it. A row that was not transformed
// (skipped) names the import set row instead of a target record.
func (s *Server) result(base string, tr Transform, rw *row) map[string]any {
	res := map[string]any{"transform_map": tr.Target, "table": tr.Target, "display_name": tr.Coalesce, "display_value": rw.values[tr.Coalesce],
		"status": rw.state, "sys_id": rw.sysID}
	if rw.target != "" {
		res["sys_id"] = rw.target
		res["record_link"] = base + "/api/now/table/" + tr.Target + "/" + rw.target
	}
	switch {
	case rw.state == "error":
		res["error_message"] = rw.comment
	case rw.comment != "":
		res["status_message"] = rw.comment
	}
	return res
}

// flat decodes a flat JSON object. The Import Set API takes string values; others are stored as text (a nested
// object's ":" becoming "="), not refused.
func flat(b []byte) (map[string]string, error) {
	var strs map[string]string // every value a string (or null: ""), as seatlake sends them
	if json.Unmarshal(b, &strs) == nil && strs != nil {
		return strs, nil
	}
	var raw map[string]any
	if err := json.Unmarshal(b, &raw); err != nil {
		return nil, fmt.Errorf("not a JSON object: %v", err)
	}
	out := map[string]string{}
	for k, v := range raw {
		switch x := v.(type) {
		case string:
			out[k] = x
		case map[string]any:
			var parts []string
			for kk, vv := range x {
				parts = append(parts, fmt.Sprintf("%s=%v", kk, vv))
			}
			sort.Strings(parts)
			out[k] = "{" + strings.Join(parts, ", ") + "}"
		case nil:
			out[k] = ""
		default:
			out[k] = fmt.Sprint(x)
		}
	}
	return out, nil
}

// columnValues keeps the values of in whose key is a column's name (byLabel false) or a column's label, under the
// column's name. Other keys are dropped without a word, as the instance drops them.
func columnValues(tr Transform, in map[string]string, byLabel bool) map[string]string {
	out := map[string]string{}
	for _, c := range tr.Columns {
		key := c.Name
		if byLabel {
			key = c.Label
		}
		if v, ok := in[key]; ok {
			out[c.Name] = v
		}
	}
	return out
}

func (s *Server) newSet(table, mode string) *importSet {
	s.seq++
	set := &importSet{sysID: sysID(), number: fmt.Sprintf("ISET%07d", 10000+s.seq), table: table, state: "loading", mode: mode, created: time.Now()}
	s.sets[set.sysID] = set
	s.order = append(s.order, set.sysID)
	return set
}

// loadingSynchronous is the table's synchronous import set in the loading state, made when there is none.
func (s *Server) loadingSynchronous(table string) *importSet {
	for _, id := range s.order {
		if set := s.sets[id]; set.table == table && set.mode == "synchronous" && set.state == "loading" {
			return set
		}
	}
	return s.newSet(table, "synchronous")
}

func (s *Server) load(set *importSet, values map[string]string) *row {
	rw := &row{sysID: sysID(), table: set.table, set: set.sysID, num: len(set.rows), seq: len(s.rows), values: values, state: "pending"}
	set.rows = append(set.rows, rw)
	s.rows = append(s.rows, rw)
	return rw
}

// processDue transforms, in creation order, every loaded asynchronous import set that has waited ProcessAfter. A set
// is loaded only from its creation until it is processed, so the sets before the first one still loaded (due) are
// not looked at again.
func (s *Server) processDue(now time.Time) {
	for ; s.due < len(s.order); s.due++ {
		set := s.sets[s.order[s.due]]
		if set.state != "loaded" {
			continue
		}
		if now.Sub(set.created) < s.ProcessAfter {
			return // later sets wait for this one, as one scheduled import processes them in order
		}
		s.transform(set)
		set.state = "processed"
	}
}

// transform runs the transform map over a set's pending rows: insert or update the target record on the coalesce
// column; a row without a coalesce value is skipped.
func (s *Server) transform(set *importSet) {
	tr := s.transforms[set.table]
	target := s.targets[tr.Target]
	for _, rw := range set.rows {
		if rw.state != "pending" {
			continue
		}
		key := rw.values[tr.Coalesce]
		if key == "" {
			rw.state = "skipped"
			continue
		}
		if msg := s.unresolved(tr, rw.values); msg != "" {
			rw.state, rw.comment = "error", msg
			continue
		}
		if s.Reject != nil {
			if msg := s.Reject(tr.Staging, rw.values); msg != "" {
				rw.state, rw.comment = "error", msg
				continue
			}
		}
		rec, ok := target[key]
		switch {
		case !ok:
			rec = &Record{SysID: sysID(), Values: copyValues(rw.values)}
			target[key] = rec
			rw.state = "inserted"
		case maps.Equal(rec.Values, rw.values):
			rw.state, rw.comment = "ignored", "No field values changed"
		default:
			rec.Values = copyValues(rw.values)
			rec.Updated++
			rw.state = "updated"
		}
		rw.target = rec.SysID
	}
}

func (s *Server) unresolved(tr Transform, values map[string]string) string {
	cols := make([]string, 0, len(tr.References))
	for c := range tr.References {
		cols = append(cols, c)
	}
	sort.Strings(cols)
	for _, c := range cols {
		if _, ok := s.targets[tr.References[c]][values[c]]; !ok {
			return fmt.Sprintf("Unable to resolve reference %s: no %s record with %s = %q", c, tr.References[c], tr.Coalesce, values[c])
		}
	}
	return ""
}

func copyValues(v map[string]string) map[string]string {
	out := make(map[string]string, len(v))
	for k, x := range v {
		out[k] = x
	}
	return out
}

// records are a table's rows as the Table API returns them; ok is false for a table the instance does not have.
// With sets not nil, only those import sets, or the staging rows of those import sets, are made (the query's
// condition on sys_id or sys_import_set, which filter applies again): a read of one page of rows, or a poll of a
// few import sets, does not build every record the instance holds.
func (s *Server) records(table string, ref func(tbl, id string) any, sets map[string]bool) (records []map[string]any, ok bool) {
	switch {
	case table == "sys_import_set":
		for _, id := range s.order {
			if sets != nil && !sets[id] {
				continue
			}
			set := s.sets[id]
			records = append(records, map[string]any{"sys_id": set.sysID, "number": set.number, "state": set.state, "mode": set.mode,
				"table_name": set.table, "sys_created_on": set.created.UTC().Format("2006-01-02 15:04:05")})
		}
	case table == "sys_import_set_row" || s.transforms[table].Staging != "":
		for _, rw := range s.rowsOf(sets) {
			if table != "sys_import_set_row" && rw.table != table || sets != nil && !sets[rw.set] {
				continue
			}
			tr := s.transforms[rw.table]
			var target any = ""
			if rw.target != "" {
				target = ref(tr.Target, rw.target)
			}
			rec := map[string]any{"sys_id": rw.sysID, "sys_import_set": ref("sys_import_set", rw.set), "sys_import_row": strconv.Itoa(rw.num),
				"sys_import_state": rw.state, "sys_import_state_comment": rw.comment, "sys_target_sys_id": target,
				"sys_target_table": tr.Target, "sys_row_error": "", "sys_class_name": rw.table}
			if table != "sys_import_set_row" {
				for _, c := range tr.Columns {
					rec[c.Name] = rw.values[c.Name]
				}
			}
			records = append(records, rec)
		}
	case table == "sys_dictionary":
		entry := func(tbl, element, label, typ string) map[string]any {
			return map[string]any{"sys_id": sysID(), "name": tbl, "element": element, "column_label": label,
				"internal_type": ref("sys_glide_object", typ), "max_length": "255"}
		}
		for _, rowCol := range [][2]string{{"sys_import_set", "Set"}, {"sys_import_row", "Row"}, {"sys_import_state", "State"},
			{"sys_import_state_comment", "Comment"}, {"sys_target_sys_id", "Target record"}, {"sys_target_table", "Target table"},
			{"sys_row_error", "Row error"}} {
			records = append(records, entry("sys_import_set_row", rowCol[0], rowCol[1], "string"))
		}
		for _, st := range sortedKeys(s.transforms) {
			tr := s.transforms[st]
			records = append(records, entry(st, "", st, "collection"))
			for _, c := range tr.Columns {
				records = append(records, entry(st, c.Name, c.Label, "string"))
			}
		}
	case table == "sys_rest_insert_multiple":
		// Its fields other than sys_id are not documented; seatlake counts the entries and reads nothing else.
		for _, st := range sortedKeys(s.entries) {
			records = append(records, map[string]any{"sys_id": s.entryIDs[st]})
		}
	default:
		return nil, false
	}
	return records, true
}

// rowsOf are the staging rows of the given import sets (every row when sets is nil), in the instance's order: a
// read of a few import sets' rows looks at those sets, not at every row the instance ever took.
func (s *Server) rowsOf(sets map[string]bool) []*row {
	if sets == nil {
		return s.rows
	}
	var out []*row
	for id := range sets {
		if set, ok := s.sets[id]; ok {
			out = append(out, set.rows...)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].seq < out[j].seq })
	return out
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// tableAPI serves Table API reads: GET /api/now/table/{table}[/{sys_id}].
func (s *Server) tableAPI(w http.ResponseWriter, r *http.Request, rest []string, version int) {
	table := rest[0]
	q := r.URL.Query()
	refLinks := q.Get("sysparm_exclude_reference_link") != "true"
	base := "http://" + r.Host
	ref := func(tbl, id string) any {
		if !refLinks {
			return id
		}
		return map[string]string{"link": base + "/api/now/table/" + tbl + "/" + id, "value": id}
	}
	if s.noRead[table] {
		fail(w, http.StatusForbidden, "Operation Failed", "ACL Exception Read Failed due to security constraints: "+table)
		return
	}
	setField := "sys_import_set" // the staging rows' reference to their set
	if table == "sys_import_set" {
		setField = "sys_id"
	}
	records, ok := s.records(table, ref, importSets(q.Get("sysparm_query"), setField))
	if !ok {
		fail(w, http.StatusBadRequest, "Invalid table "+table, "")
		return
	}
	if len(rest) == 2 { // GET /api/now/table/{table}/{sys_id}
		for _, rec := range records {
			if rec["sys_id"] == rest[1] {
				writeJSON(w, http.StatusOK, map[string]any{"result": pick(rec, q.Get("sysparm_fields"))})
				return
			}
		}
		fail(w, http.StatusNotFound, "No Record found", "Record doesn't exist or ACL restricts the record retrieval")
		return
	}
	filtered, err := filter(records, q.Get("sysparm_query"))
	if err != nil {
		fail(w, http.StatusBadRequest, "Invalid query", err.Error())
		return
	}
	offset, _ := strconv.Atoi(q.Get("sysparm_offset"))
	limit, err := strconv.Atoi(q.Get("sysparm_limit"))
	if err != nil || limit <= 0 {
		limit = 10000
	}
	total := len(filtered)
	page := filtered[min(offset, total):min(offset+limit, total)]
	out := make([]map[string]any, 0, len(page))
	for _, rec := range page {
		out = append(out, pick(rec, q.Get("sysparm_fields")))
	}
	if version == 1 && total == 0 {
		fail(w, http.StatusNotFound, "No Record found", "Records matching query not found. Check query parameter or offset parameter")
		return
	}
	link := func(off int, rel string) string {
		u := *r.URL
		nq := u.Query()
		nq.Set("sysparm_offset", strconv.Itoa(off))
		nq.Set("sysparm_limit", strconv.Itoa(limit))
		u.RawQuery = nq.Encode()
		return fmt.Sprintf(`<%s%s>;rel="%s"`, base, u.RequestURI(), rel)
	}
	links := []string{link(0, "first")}
	if offset > 0 {
		links = append(links, link(max(0, offset-limit), "prev"))
	}
	if offset+limit < total {
		links = append(links, link(offset+limit, "next"))
	}
	links = append(links, link(max(0, (total-1)/limit*limit), "last"))
	w.Header().Set("Link", strings.Join(links, ","))
	w.Header().Set("X-Total-Count", strconv.Itoa(total))
	writeJSON(w, http.StatusOK, map[string]any{"result": out})
}

// importSets are the import sets a query's field=… or fieldIN… condition allows (every condition must hold, so the
// first one bounds the records), or nil when it has none.
func importSets(query, field string) map[string]bool {
	for _, part := range strings.Split(query, "^") {
		var ids string
		if v, ok := strings.CutPrefix(part, field+"IN"); ok {
			ids = v
		} else if v, ok := strings.CutPrefix(part, field+"="); ok {
			ids = v
		} else {
			continue
		}
		sets := map[string]bool{}
		for _, id := range strings.Split(ids, ",") {
			sets[id] = true
		}
		return sets
	}
	return nil
}

// pick keeps the fields sysparm_fields names (all when empty); fields the table does not have are ignored.
func pick(rec map[string]any, fields string) map[string]any {
	if fields == "" {
		return rec
	}
	out := map[string]any{}
	for _, k := range strings.Split(fields, ",") {
		if v, ok := rec[k]; ok {
			out[k] = v
		}
	}
	return out
}

// filter applies an encoded query of conditions joined by ^ (AND): field=value, field!=value, fieldINa,b,c and
// fieldSTARTSWITHx; ORDERBY clauses are accepted and not applied. A condition on a field the table does not have is
// ignored, as the instance ignores invalid parts of a query. Other operators are refused: the emulator does not know
// them.
func filter(records []map[string]any, query string) ([]map[string]any, error) {
	type cond struct {
		field, op string
		vals      map[string]bool
	}
	known := map[string]bool{}
	for _, rec := range records {
		for k := range rec {
			known[k] = true
		}
	}
	var conds []cond
	for _, part := range strings.Split(query, "^") {
		if part == "" || strings.HasPrefix(part, "ORDERBY") {
			continue
		}
		i := strings.IndexFunc(part, func(r rune) bool { return !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '_' || r == '.') })
		if i <= 0 {
			return nil, fmt.Errorf("the emulator cannot read the condition %q", part)
		}
		field, rest := part[:i], part[i:]
		var c cond
		switch {
		case strings.HasPrefix(rest, "!="):
			c = cond{field, "!=", map[string]bool{rest[2:]: true}}
		case strings.HasPrefix(rest, "="):
			c = cond{field, "=", map[string]bool{rest[1:]: true}}
		case strings.HasPrefix(rest, "IN"):
			c = cond{field, "=", map[string]bool{}}
			for _, x := range strings.Split(rest[2:], ",") {
				c.vals[x] = true
			}
		case strings.HasPrefix(rest, "STARTSWITH"):
			c = cond{field, "STARTSWITH", map[string]bool{rest[len("STARTSWITH"):]: true}}
		default:
			return nil, fmt.Errorf("the emulator does not support the condition %q", part)
		}
		if known[field] {
			conds = append(conds, c)
		}
	}
	var out []map[string]any
	for _, rec := range records {
		ok := true
		for _, c := range conds {
			v := rec[c.field]
			if m, isRef := v.(map[string]string); isRef {
				v = m["value"]
			}
			s, _ := v.(string)
			match := c.vals[s]
			if c.op == "STARTSWITH" {
				for p := range c.vals {
					match = strings.HasPrefix(s, p)
				}
			}
			if match != (c.op != "!=") {
				ok = false
				break
			}
		}
		if ok {
			out = append(out, rec)
		}
	}
	return out, nil
}

// fail writes ServiceNow's error body.
func fail(w http.ResponseWriter, status int, message, detail string) {
	writeJSON(w, status, map[string]any{"error": map[string]string{"message": message, "detail": detail}, "status": "failure"})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}
