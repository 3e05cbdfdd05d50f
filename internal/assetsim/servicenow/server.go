// Package servicenow emulates the parts of a ServiceNow instance an import uses: the Import Set API (one row,
// and asynchronous insertMultiple), staging tables transformed by a transform map that inserts or updates its
// target table on a coalesce column (inserted, updated, ignored when nothing changed, error when a reference does
// not resolve or a transform script rejects the row), the Table API reads of sys_import_set and the staging rows,
// basic and OAuth client-credentials auth, and ACLs that refuse direct table writes. GET /_sim/servicenow returns
// what the target tables hold. Facts from memory where the reference is silent are listed in testdata/README.md.
package servicenow

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Transform is one transform map: rows of a staging table become records of a target table, matched on a
// coalesce column; References are staging columns holding the coalesce value of a record in another target table
// (a license row's user): a value that does not resolve is a row error, as a transform script rejecting it is.
type Transform struct {
	Staging    string
	Target     string
	Coalesce   string
	References map[string]string // staging column -> target table
}

// DefaultTransforms are the three staging tables seatlake writes and the target tables an administrator maps them to.
func DefaultTransforms() []Transform {
	return []Transform{
		{Staging: "u_seatlake_user", Target: "u_m365_person", Coalesce: "u_external_id"},
		{Staging: "u_seatlake_subscription", Target: "u_m365_subscription", Coalesce: "u_external_id"},
		{Staging: "u_seatlake_license", Target: "u_m365_license", Coalesce: "u_external_id",
			References: map[string]string{"u_user": "u_m365_person", "u_subscription": "u_m365_subscription"}},
	}
}

// Server is one instance.
type Server struct {
	mu           sync.Mutex
	user, pass   string
	clientID     string
	clientSecret string
	tokens       map[string]time.Time // OAuth access tokens -> expiry
	transforms   map[string]Transform
	sets         map[string]*importSet
	order        []string // import set sys_ids, in creation order
	rows         []*row
	targets      map[string]map[string]*Record // target table -> coalesce value -> record
	seq          int
	maxBatch     int
	requests     int

	// ProcessAfter is how long an import set stays loaded before it is transformed (asynchronous insertMultiple).
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
	sysID, number, table, state string
	created                     time.Time
	rows                        []*row
}

type row struct {
	sysID, table, set string
	values            map[string]string
	state, comment    string // sys_import_state: pending, inserted, updated, ignored, error
	target            string // sys_target_sys_id
}

// New returns an instance accepting basic auth user/password and OAuth client credentials clientID/clientSecret
// (empty: OAuth off), with the given transform maps.
func New(user, password, clientID, clientSecret string, transforms ...Transform) *Server {
	if len(transforms) == 0 {
		transforms = DefaultTransforms()
	}
	s := &Server{user: user, pass: password, clientID: clientID, clientSecret: clientSecret, tokens: map[string]time.Time{},
		transforms: map[string]Transform{}, sets: map[string]*importSet{}, targets: map[string]map[string]*Record{},
		ProcessAfter: 20 * time.Millisecond}
	for _, t := range transforms {
		s.transforms[t.Staging] = t
		s.targets[t.Target] = map[string]*Record{}
	}
	return s
}

// SetPassword changes the integration user's password (a rotated credential).
func (s *Server) SetPassword(p string) { s.mu.Lock(); s.pass = p; s.mu.Unlock() }

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
			c.Values = map[string]string{}
			for k, v := range r.Values {
				c.Values[k] = v
			}
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

// ServeHTTP routes the instance's endpoints.
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
		w.Header().Set("Retry-After", "1")
		fail(w, http.StatusTooManyRequests, "Rate limit exceeded", "The rate limit rule for this user was exceeded")
		return
	}
	s.processDue(time.Now())
	path := strings.Replace(r.URL.Path, "/api/now/v1/", "/api/now/", 1)
	switch {
	case strings.HasPrefix(path, "/api/now/import/"):
		rest := strings.Split(strings.TrimPrefix(path, "/api/now/import/"), "/")
		s.importAPI(w, r, rest)
	case strings.HasPrefix(path, "/api/now/table/"):
		rest := strings.Split(strings.TrimPrefix(path, "/api/now/table/"), "/")
		if r.Method != http.MethodGet {
			// The integration user has no table write ACLs: writes go through import sets.
			fail(w, http.StatusForbidden, "Operation Failed", "ACL Exception Insert Failed due to security constraints")
			return
		}
		s.tableAPI(w, r, rest)
	default:
		fail(w, http.StatusBadRequest, "Requested URI does not represent any resource", path)
	}
}

func (s *Server) token(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil || r.PostForm.Get("grant_type") != "client_credentials" {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "invalid_request", "error_description": "grant_type client_credentials expected"})
		return
	}
	if s.clientID == "" || r.PostForm.Get("client_id") != s.clientID || r.PostForm.Get("client_secret") != s.clientSecret {
		writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "access_denied", "error_description": "access_denied"})
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

// importAPI serves POST /api/now/import/{table} and /api/now/import/{table}/insertMultiple.
func (s *Server) importAPI(w http.ResponseWriter, r *http.Request, rest []string) {
	tr, ok := s.transforms[rest[0]]
	if !ok {
		fail(w, http.StatusBadRequest, "Invalid table "+rest[0], "The staging table does not exist or is not an import set table")
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
	switch {
	case r.Method == http.MethodPost && len(rest) == 1:
		values, err := stringsOnly(body)
		if err != nil {
			fail(w, http.StatusBadRequest, "Exception while reading request", err.Error())
			return
		}
		set := s.newSet(tr.Staging)
		rw := s.load(set, values)
		set.state = "loaded"
		s.transform(set)
		res := map[string]any{"transform_map": tr.Target, "table": tr.Target, "status": rw.state, "sys_id": rw.target}
		if rw.comment != "" {
			res["error_message"] = rw.comment
		}
		writeJSON(w, http.StatusCreated, map[string]any{"import_set": set.number, "staging_table": tr.Staging, "result": []any{res}})
	case r.Method == http.MethodPost && len(rest) == 2 && rest[1] == "insertMultiple":
		var req struct {
			Records []json.RawMessage `json:"records"`
		}
		if err := json.Unmarshal(body, &req); err != nil || req.Records == nil {
			fail(w, http.StatusBadRequest, "Exception while reading request", "the body must be {\"records\":[…]}")
			return
		}
		var all []map[string]string
		for i, rec := range req.Records {
			values, err := stringsOnly(rec)
			if err != nil {
				fail(w, http.StatusBadRequest, "Exception while reading request", fmt.Sprintf("record %d: %v", i, err))
				return
			}
			all = append(all, values)
		}
		s.maxBatch = max(s.maxBatch, len(all))
		set := s.newSet(tr.Staging)
		for _, v := range all {
			s.load(set, v)
		}
		set.state = "loaded" // transformed later, by processDue: insertMultiple is asynchronous
		writeJSON(w, http.StatusCreated, map[string]any{"import_set_id": set.sysID, "multi_import_set_id": sysID()})
	default:
		fail(w, http.StatusMethodNotAllowed, "Method not supported", r.Method+" "+r.URL.Path)
	}
}

// stringsOnly decodes a flat JSON object whose values are all strings, as the Import Set API takes them.
func stringsOnly(b []byte) (map[string]string, error) {
	var raw map[string]any
	if err := json.Unmarshal(b, &raw); err != nil {
		return nil, fmt.Errorf("not a JSON object: %v", err)
	}
	out := map[string]string{}
	for k, v := range raw {
		sv, ok := v.(string)
		if !ok {
			return nil, fmt.Errorf("field %s: the Import Set API takes string values only", k)
		}
		out[k] = sv
	}
	return out, nil
}

func (s *Server) newSet(table string) *importSet {
	s.seq++
	set := &importSet{sysID: sysID(), number: fmt.Sprintf("ISET%07d", 10000+s.seq), table: table, state: "loading", created: time.Now()}
	s.sets[set.sysID] = set
	s.order = append(s.order, set.sysID)
	return set
}

func (s *Server) load(set *importSet, values map[string]string) *row {
	rw := &row{sysID: sysID(), table: set.table, set: set.sysID, values: values, state: "pending"}
	set.rows = append(set.rows, rw)
	s.rows = append(s.rows, rw)
	return rw
}

// processDue transforms, in creation order, every loaded import set that has waited ProcessAfter.
func (s *Server) processDue(now time.Time) {
	for _, id := range s.order {
		set := s.sets[id]
		if set.state != "loaded" {
			continue
		}
		if now.Sub(set.created) < s.ProcessAfter {
			return // later sets wait for this one, as one scheduled import processes them in order
		}
		s.transform(set)
	}
}

// transform runs the transform map over a set's rows: insert or update the target record on the coalesce column.
func (s *Server) transform(set *importSet) {
	tr := s.transforms[set.table]
	target := s.targets[tr.Target]
	for _, rw := range set.rows {
		key := rw.values[tr.Coalesce]
		if key == "" {
			rw.state, rw.comment = "error", "Coalesce field "+tr.Coalesce+" is empty"
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
		case equalValues(rec.Values, rw.values):
			rw.state = "ignored"
		default:
			rec.Values = copyValues(rw.values)
			rec.Updated++
			rw.state = "updated"
		}
		rw.target = rec.SysID
	}
	set.state = "processed"
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

func equalValues(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

// tableAPI serves Table API reads of sys_import_set, sys_import_set_row and the staging tables.
func (s *Server) tableAPI(w http.ResponseWriter, r *http.Request, rest []string) {
	table := rest[0]
	q := r.URL.Query()
	refLinks := q.Get("sysparm_exclude_reference_link") != "true"
	ref := func(tbl, id string) any {
		if !refLinks {
			return id
		}
		return map[string]string{"link": "/api/now/table/" + tbl + "/" + id, "value": id}
	}
	var records []map[string]any
	switch {
	case table == "sys_import_set":
		for _, id := range s.order {
			set := s.sets[id]
			records = append(records, map[string]any{"sys_id": set.sysID, "number": set.number, "state": set.state,
				"table_name": set.table, "sys_created_on": set.created.UTC().Format("2006-01-02 15:04:05")})
		}
	case table == "sys_import_set_row" || s.transforms[table].Staging != "":
		for _, rw := range s.rows {
			if table != "sys_import_set_row" && rw.table != table {
				continue
			}
			rec := map[string]any{"sys_id": rw.sysID, "sys_import_set": ref("sys_import_set", rw.set), "sys_import_state": rw.state,
				"sys_import_state_comment": rw.comment, "sys_target_sys_id": rw.target, "sys_target_table": s.transforms[rw.table].Target,
				"sys_class_name": rw.table}
			if table != "sys_import_set_row" {
				for k, v := range rw.values {
					rec[k] = v
				}
			}
			records = append(records, rec)
		}
	default:
		fail(w, http.StatusForbidden, "Operation Failed", "ACL Exception Read Failed due to security constraints: "+table)
		return
	}
	if len(rest) == 2 { // GET /api/now/table/{table}/{sys_id}
		for _, rec := range records {
			if rec["sys_id"] == rest[1] {
				writeJSON(w, http.StatusOK, map[string]any{"result": rec})
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
	if f := q.Get("sysparm_fields"); f != "" {
		keep := strings.Split(f, ",")
		for i, rec := range page {
			c := map[string]any{}
			for _, k := range keep {
				if v, ok := rec[k]; ok {
					c[k] = v
				}
			}
			page[i] = c
		}
	}
	if offset+limit < total {
		next := *r.URL
		nq := next.Query()
		nq.Set("sysparm_offset", strconv.Itoa(offset+limit))
		next.RawQuery = nq.Encode()
		w.Header().Set("Link", fmt.Sprintf(`<%s>;rel="next"`, next.String()))
	}
	w.Header().Set("X-Total-Count", strconv.Itoa(total))
	if page == nil {
		page = []map[string]any{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"result": page})
}

// filter applies an encoded query of conditions joined by ^ (AND): field=value, field!=value and fieldINa,b,c.
func filter(records []map[string]any, query string) ([]map[string]any, error) {
	type cond struct {
		field, op string
		vals      map[string]bool
	}
	var conds []cond
	for _, part := range strings.Split(query, "^") {
		if part == "" {
			continue
		}
		var c cond
		switch {
		case strings.Contains(part, "!="):
			f, v, _ := strings.Cut(part, "!=")
			c = cond{f, "!=", map[string]bool{v: true}}
		case strings.Contains(part, "="):
			f, v, _ := strings.Cut(part, "=")
			c = cond{f, "=", map[string]bool{v: true}}
		case strings.Contains(part, "IN"):
			f, v, _ := strings.Cut(part, "IN")
			c = cond{f, "=", map[string]bool{}}
			for _, x := range strings.Split(v, ",") {
				c.vals[x] = true
			}
		default:
			return nil, fmt.Errorf("unsupported condition %q", part)
		}
		conds = append(conds, c)
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
			if c.vals[s] != (c.op == "=") {
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
