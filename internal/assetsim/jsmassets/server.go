// Package jsmassets emulates the Jira Service Management Assets "Imports" REST API (an external import source), as
// Atlassian documents it: container-token auth, the imports info links, the configuration status, the schema and
// mapping (PUT once, PATCH to change, validated as the 2023_10_19 definition and the schema-and-mapping guide
// require), executions whose links it hands out, data chunks by selector, completion, cancel, recorded failures,
// the execution status with its progressResult, and 429 with Retry-After under load. Each attribute value must come
// in its type's form: one that does not is an object error in the result, and the object is left as it was.
// Every fact it follows is in testdata/README.md with its source. GET /_sim/assets returns what it holds.
package jsmassets

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Server is one Assets workspace with one external import source.
type Server struct {
	mu        sync.Mutex
	token     string
	base      string // the URL links point to, set by the caller after listening
	workspace string
	sourceID  string
	model     *model // nil until a mapping is put: MISSING_MAPPING
	execs     map[string]*execution
	latest    string
	objects   map[string]map[string]*Object // object type name -> identity -> object
	seq       int
	index     map[string]map[string]string // during an import: referenced type and attribute -> value -> object id

	// ForceStatus, when set, is the status the next completed execution reports, unprocessed, from then on: a
	// test's fault (Assets answering a status the documentation does not name, say).
	ForceStatus string
	// MaxChunk refuses a data request holding more objects (0: no limit; Assets documents none): a test's fault.
	MaxChunk int
	// RateLimit is the requests per second the API takes before answering 429 (0: no limit), with Retry-After
	// unless OmitRetryAfter; Throttled counts those answers.
	RateLimit      int
	OmitRetryAfter bool
	Throttled      int
	window         time.Time
	inWindow       int
}

// Object is an object Assets holds, its attribute values as text.
type Object struct {
	ID         string            `json:"id"`
	Type       string            `json:"type"`
	Identity   string            `json:"identity"`
	Attributes map[string]string `json:"attributes"`
	Updated    int               `json:"updated"` // times an import changed it
}

type execution struct {
	id        string
	status    string // INGESTING, PROCESSING, DONE, CANCELLED (or ForceStatus)
	chunks    []map[string]any
	chunkIDs  map[string]bool
	failure   string
	reads     int             // status reads left before a processed execution says DONE
	result    *progressResult // once processed
	started   time.Time
	completed time.Time
}

// New returns an emulator accepting token.
func New(token string) *Server {
	return &Server{token: token, execs: map[string]*execution{}, objects: map[string]map[string]*Object{},
		workspace: randomUUID(), sourceID: randomUUID()}
}

// SetBase sets the URL the links point to (http://127.0.0.1:port).
func (s *Server) SetBase(base string) {
	s.mu.Lock()
	s.base = strings.TrimRight(base, "/")
	s.mu.Unlock()
}

// RotateToken makes the old token invalid, as regenerating it in Assets does.
func (s *Server) RotateToken(newToken string) { s.mu.Lock(); s.token = newToken; s.mu.Unlock() }

// Execution returns an execution's status and the failure recorded on it (history/failed), for tests.
func (s *Server) Execution(id string) (status, failure string, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.execs[id]
	if !ok {
		return "", "", false
	}
	return e.status, e.failure, true
}

// Objects returns a copy of what Assets holds, by object type name.
func (s *Server) Objects() map[string][]Object {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string][]Object{}
	for t, byID := range s.objects {
		for _, o := range byID {
			c := *o
			c.Attributes = map[string]string{}
			for k, v := range o.Attributes {
				c.Attributes[k] = v
			}
			out[t] = append(out[t], c)
		}
		sort.Slice(out[t], func(i, j int) bool { return out[t][i].Identity < out[t][j].Identity })
	}
	return out
}

func randomUUID() string {
	b := make([]byte, 16)
	rand.Read(b)
	h := hex.EncodeToString(b)
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

// The import source's own paths: the info links use the /jsm/assets/ form of the imports guide, the execution links
// the /jsm/insight/ form of the "Start data ingestion" example, so a client that builds URLs instead of following
// links finds nothing.
func (s *Server) sourcePath(prefix string) string {
	return "/jsm/" + prefix + "/workspace/" + s.workspace + "/v1/importsource/" + s.sourceID
}

// ServeHTTP routes the Imports API and /_sim/assets.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/_sim/assets" {
		writeJSON(w, http.StatusOK, s.Objects())
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if r.Header.Get("Authorization") != "Bearer "+s.token {
		writeJSON(w, http.StatusUnauthorized, map[string]any{"errorMessages": []string{"The container token is invalid or was regenerated."}})
		return
	}
	if s.throttled(w) {
		return
	}
	s.route(r)(w, r)
}

// throttled answers 429 when the request is one more than RateLimit in the current second.
func (s *Server) throttled(w http.ResponseWriter) bool {
	if s.RateLimit <= 0 {
		return false
	}
	now := time.Now()
	if now.Sub(s.window) >= time.Second {
		s.window, s.inWindow = now, 0
	}
	s.inWindow++
	if s.inWindow <= s.RateLimit {
		return false
	}
	s.Throttled++
	if !s.OmitRetryAfter {
		w.Header().Set("Retry-After", "1")
	}
	writeJSON(w, http.StatusTooManyRequests, map[string]any{"errorMessages": []string{"Rate limit exceeded."}})
	return true
}

// route finds a request's handler: the import source's own paths by method and path, then an execution's paths
// under either form of the source's path.
func (s *Server) route(r *http.Request) http.HandlerFunc {
	assets, insight := s.sourcePath("assets"), s.sourcePath("insight")
	routes := map[string]http.HandlerFunc{
		"GET /jsm/assets/v1/imports/info":       s.info,
		"GET " + assets + "/configstatus":       s.configStatus,
		"PUT " + assets + "/mapping":            s.putMapping,
		"PATCH " + assets + "/mapping":          s.putMapping,
		"GET " + assets + "/schema-and-mapping": s.schemaAndMapping,
		"POST " + assets + "/executions":        func(w http.ResponseWriter, _ *http.Request) { s.start(w, insight) },
		"GET " + assets + "/executions/status":  s.latestStatus,
		"GET " + insight + "/executions/status": s.latestStatus,
	}
	if h := routes[r.Method+" "+r.URL.Path]; h != nil {
		return h
	}
	for _, prefix := range []string{insight + "/executions/", assets + "/executions/"} {
		if rest, ok := strings.CutPrefix(r.URL.Path, prefix); ok {
			return func(w http.ResponseWriter, r *http.Request) { s.execution(w, r, rest) }
		}
	}
	return notFound
}

func notFound(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusNotFound, map[string]any{"errorMessages": []string{"Not found: " + r.Method + " " + r.URL.Path}})
}

// info answers the imports info: the import source's links.
func (s *Server) info(w http.ResponseWriter, _ *http.Request) {
	assets := s.base + s.sourcePath("assets")
	writeJSON(w, http.StatusOK, map[string]any{"links": map[string]string{
		"getStatus": assets + "/configstatus", "start": assets + "/executions", "mapping": assets + "/mapping"}})
}

func (s *Server) configStatus(w http.ResponseWriter, _ *http.Request) {
	st := "IDLE"
	switch {
	case s.model == nil:
		st = "MISSING_MAPPING"
	case s.running() != nil:
		st = "RUNNING"
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": st})
}

func (s *Server) schemaAndMapping(w http.ResponseWriter, _ *http.Request) {
	if s.model == nil {
		writeJSON(w, http.StatusNotFound, map[string]any{"errorMessages": []string{"The import source has no schema and mapping."}})
		return
	}
	writeJSON(w, http.StatusOK, s.model.document())
}

// latestStatus answers the latest execution's status.
func (s *Server) latestStatus(w http.ResponseWriter, _ *http.Request) {
	if s.latest == "" {
		writeJSON(w, http.StatusNotFound, map[string]any{"errorMessages": []string{"No execution yet."}})
		return
	}
	writeJSON(w, http.StatusOK, s.execs[s.latest].statusAnswer())
}

func (s *Server) running() *execution {
	if e := s.execs[s.latest]; e != nil && (e.status == "INGESTING" || e.status == "PROCESSING") {
		return e
	}
	return nil
}

func (s *Server) putMapping(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	var d document
	if err := json.Unmarshal(body, &d); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]any{"errorMessages": []string{"Invalid JSON: " + err.Error()}})
		return
	}
	var next *model
	var err error
	switch {
	case r.Method == http.MethodPut && s.model != nil:
		writeJSON(w, http.StatusConflict, map[string]any{"errorMessages": []string{"A mapping already exists for this import: PATCH it."}})
		return
	case r.Method == http.MethodPut:
		next, err = build(&d)
	case s.model == nil:
		err = fmt.Errorf("the import source has no schema and mapping to update: PUT one")
	default:
		next, err = s.model.patch(&d)
	}
	if err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]any{"errorMessages": []string{err.Error()}})
		return
	}
	s.model = next
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) start(w http.ResponseWriter, insight string) {
	code := ""
	switch {
	case s.model == nil:
		code = "MISSING_MAPPING"
	case s.running() != nil:
		code = "IN_PROGRESS"
	}
	if code != "" {
		writeJSON(w, http.StatusConflict, map[string]any{"result": "error", "errorCode": code})
		return
	}
	id := randomUUID()
	s.execs[id] = &execution{id: id, status: "INGESTING", chunkIDs: map[string]bool{}, started: time.Now()}
	s.latest = id
	e := s.base + insight + "/executions/" + id
	writeJSON(w, http.StatusOK, map[string]any{"links": map[string]string{
		"submitProgress": e + "/progress", "submitResults": e + "/data", "getExecutionStatus": e + "/status", "cancel": e},
		"result": "success"})
}

func (s *Server) execution(w http.ResponseWriter, r *http.Request, rest string) {
	id, op, _ := strings.Cut(rest, "/")
	e, ok := s.execs[id]
	if !ok {
		writeJSON(w, http.StatusNotFound, map[string]any{"errorMessages": []string{"No execution " + id}})
		return
	}
	switch {
	case r.Method == http.MethodGet && op == "status":
		writeJSON(w, http.StatusOK, e.statusAnswer())
	case r.Method == http.MethodDelete && op == "":
		if e.status == "INGESTING" || e.status == "PROCESSING" {
			e.status = "CANCELLED"
		}
		w.WriteHeader(http.StatusOK)
	case r.Method == http.MethodPost && op == "history/failed":
		if e.status != "INGESTING" {
			writeJSON(w, http.StatusBadRequest, map[string]any{"errorMessages": []string{"A failure can be recorded only while the execution is INGESTING."}})
			return
		}
		var body struct {
			FailureReason string `json:"failureReason"`
		}
		if err := json.NewDecoder(r.Body).Decode(&body); err != nil || body.FailureReason == "" {
			writeJSON(w, http.StatusBadRequest, map[string]any{"errorMessages": []string{"failureReason is required."}})
			return
		}
		e.failure = body.FailureReason
		w.WriteHeader(http.StatusNoContent)
	case r.Method == http.MethodPut && op == "progress":
		if e.status != "INGESTING" {
			writeJSON(w, http.StatusBadRequest, map[string]any{"errorMessages": []string{"The execution is " + e.status + "."}})
			return
		}
		w.WriteHeader(http.StatusOK)
	case r.Method == http.MethodPost && op == "data":
		s.data(w, r, e)
	default:
		notFound(w, r)
	}
}

func (s *Server) data(w http.ResponseWriter, r *http.Request, e *execution) {
	if e.status != "INGESTING" {
		writeJSON(w, http.StatusBadRequest, map[string]any{"errorMessages": []string{"The execution is " + e.status + ": it accepts no more data."}})
		return
	}
	var body struct {
		Data              map[string]any `json:"data"`
		Completed         bool           `json:"completed"`
		ClientGeneratedID string         `json:"clientGeneratedId"`
	}
	dec := json.NewDecoder(r.Body)
	dec.UseNumber()
	if err := dec.Decode(&body); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]any{"errorMessages": []string{"Invalid JSON: " + err.Error()}})
		return
	}
	if s.MaxChunk > 0 {
		n := 0
		for _, v := range body.Data {
			if rows, ok := v.([]any); ok {
				n += len(rows)
			}
		}
		if n > s.MaxChunk {
			writeJSON(w, http.StatusRequestEntityTooLarge, map[string]any{"errorMessages": []string{fmt.Sprintf("A chunk holds %d objects: at most %d.", n, s.MaxChunk)}})
			return
		}
	}
	// A chunk sent again with the same clientGeneratedId (a retry) is taken once.
	if body.Data != nil && (body.ClientGeneratedID == "" || !e.chunkIDs[body.ClientGeneratedID]) {
		e.chunks = append(e.chunks, body.Data)
		if body.ClientGeneratedID != "" {
			e.chunkIDs[body.ClientGeneratedID] = true
		}
	}
	if body.Completed {
		e.completed = time.Now()
		if s.ForceStatus != "" {
			e.status, s.ForceStatus = s.ForceStatus, ""
		} else {
			s.process(e)
		}
	}
	w.WriteHeader(http.StatusOK)
}

// statusAnswer is an execution's status answer, shaped as the "Status of Import Execution" example: the status,
// and once processed the progressResult with a result per object type.
func (e *execution) statusAnswer() map[string]any {
	if e.status == "PROCESSING" && e.result != nil {
		if e.reads > 0 {
			e.reads--
		} else {
			e.status = "DONE"
		}
	}
	out := map[string]any{"status": e.status}
	if e.status == "DONE" && e.result != nil {
		out["progressResult"] = e.result
	}
	return out
}

type progressResult struct {
	Type                       string                       `json:"type"`
	Started                    string                       `json:"started"`
	Ended                      string                       `json:"ended"`
	Result                     string                       `json:"result"`
	Status                     string                       `json:"status"`
	PopulatedObjectTypes       []string                     `json:"populatedObjectTypes"`
	ObjectTypeResultMap        map[string]*objectTypeResult `json:"objectTypeResultMap"`
	ErrorMessages              []string                     `json:"errorMessages"`
	TotalNumberEntriesInImport int                          `json:"totalNumberEntriesInImport"`
}

type objectTypeResult struct {
	ObjectTypeName   string   `json:"objectTypeName"`
	ObjectTypeID     int      `json:"objectTypeId"`
	ObjectsUpdated   int      `json:"objectsUpdated"`
	ObjectsCreated   int      `json:"objectsCreated"`
	ObjectsIdentical int      `json:"objectsIdentical"`
	EntriesInSource  int      `json:"entriesInSource"`
	ErrorMessages    []string `json:"errorMessages"` // null when none, as in the example
}

// process applies a completed execution: each mapping's entries become objects, created or updated by identity,
// references resolved by their objectMappingIQL; an entry with a value not in its attribute type's form is an
// object error and changes nothing. Assets processes asynchronously: the emulator does it at once and says
// PROCESSING on the first status read, DONE after.
func (s *Server) process(e *execution) {
	e.status, e.reads = "PROCESSING", 1
	s.index = map[string]map[string]string{}
	res := &progressResult{Type: "IMPORT", Started: e.started.UTC().Format(time.RFC3339Nano), Ended: time.Now().UTC().Format(time.RFC3339Nano),
		Result: "OK", Status: "FINISHED", ObjectTypeResultMap: map[string]*objectTypeResult{}}
	for _, m := range s.model.order() {
		t := m.typ
		tr := &objectTypeResult{ObjectTypeName: t.name, ObjectTypeID: t.seq}
		res.ObjectTypeResultMap[strconv.Itoa(t.seq)] = tr
		if s.objects[t.name] == nil {
			s.objects[t.name] = map[string]*Object{}
		}
		entries := select_(e.chunks, m.selector)
		if len(entries) > 0 {
			res.PopulatedObjectTypes = append(res.PopulatedObjectTypes, t.name)
		}
		for _, entry := range entries {
			tr.EntriesInSource++
			res.TotalNumberEntriesInImport++
			attrs, identity, err := s.entry(m, entry)
			if err != nil {
				tr.ErrorMessages = append(tr.ErrorMessages, err.Error())
				continue
			}
			if o, ok := s.objects[t.name][identity]; ok {
				if maps.Equal(o.Attributes, attrs) {
					tr.ObjectsIdentical++
					continue
				}
				o.Attributes = attrs
				o.Updated++
				tr.ObjectsUpdated++
				continue
			}
			s.seq++
			s.objects[t.name][identity] = &Object{ID: strconv.Itoa(s.seq), Type: t.name, Identity: identity, Attributes: attrs}
			tr.ObjectsCreated++
		}
	}
	e.result = res
}

// entry is one data entry as attribute values and identity, or the object error refusing it.
func (s *Server) entry(m *mappingDef, entry map[string]any) (map[string]string, string, error) {
	attrs := map[string]string{}
	var idParts []string
	label := ""
	for _, am := range m.attrs {
		var vals []string
		for _, loc := range am.locators {
			v, ok := entry[loc]
			if !ok || v == nil {
				continue
			}
			text, err := valueOf(am.attr, v)
			if err != nil {
				return nil, "", fmt.Errorf("entry %s: attribute %q (%s): %v", describe(entry, m), am.attr.name, am.attr.typ, err)
			}
			vals = append(vals, text)
		}
		if len(vals) == 0 {
			continue // an empty data locator: the attribute is left empty
		}
		val := strings.Join(vals, " ")
		if am.attr.typ == "referenced_object" && am.iql != "" {
			val = s.resolve(am, val)
		}
		attrs[am.attr.name] = val
		if am.externalIDPart {
			idParts = append(idParts, val)
		}
		if am.attr.label {
			label = val
		}
	}
	identity := strings.Join(idParts, "|")
	if identity == "" {
		identity = label
	}
	if identity == "" {
		return nil, "", fmt.Errorf("entry %s: no externalIdPart attribute nor label has a value: the object cannot be identified", describe(entry, m))
	}
	return attrs, identity, nil
}

func describe(entry map[string]any, m *mappingDef) string {
	for _, am := range m.attrs {
		if am.externalIDPart || am.attr.label {
			for _, loc := range am.locators {
				if v, ok := entry[loc]; ok {
					return fmt.Sprintf("%q", fmt.Sprint(v))
				}
			}
		}
	}
	b, _ := json.Marshal(entry)
	if len(b) > 80 {
		b = append(b[:80], "…"...)
	}
	return string(b)
}

// select_ finds a selector's entries in the submitted data: "hardDrives" is the top-level array of that name,
// "hardDrives.files" each hard drive's files.
func select_(chunks []map[string]any, selector string) []map[string]any {
	var out []map[string]any
	var walk func(v any, path []string)
	walk = func(v any, path []string) {
		rows, ok := v.([]any)
		if !ok {
			return
		}
		for _, row := range rows {
			obj, ok := row.(map[string]any)
			if !ok {
				continue
			}
			if len(path) == 0 {
				out = append(out, obj)
				continue
			}
			walk(obj[path[0]], path[1:])
		}
	}
	parts := strings.Split(selector, ".")
	for _, c := range chunks {
		walk(c[parts[0]], parts[1:])
	}
	return out
}

var iqlRE = regexp.MustCompile(`^\s*("[^"]+"|\S+)\s*(=|==|Like|LIKE|like)\s*\$\{([^}]+)\}\s*$`)

// resolve finds the object a reference names: `Attr = ${x}` or `Attr Like ${x}` against the referenced type's
// attribute Attr; the value held is "ref:<object id>", or "unresolved:<value>" when none matches.
func (s *Server) resolve(am *attrMapDef, val string) string {
	m := iqlRE.FindStringSubmatch(am.iql)
	target := am.attr.refType
	if m == nil || target == nil {
		return "unresolved:" + val
	}
	name := strings.Trim(m[1], `"`)
	like := !strings.HasPrefix(m[2], "=")
	if !like && target != am.owner {
		// Equality on another type, whose objects are all in place (referenced types are applied first): one
		// index per type and attribute serves the whole import.
		key := target.name + "\x00" + name
		byValue, ok := s.index[key]
		if !ok {
			byValue = map[string]string{}
			for _, o := range s.objects[target.name] {
				if old, dup := byValue[o.Attributes[name]]; !dup || o.ID < old {
					byValue[o.Attributes[name]] = o.ID
				}
			}
			s.index[key] = byValue
		}
		if id, ok := byValue[val]; ok {
			return "ref:" + id
		}
		return "unresolved:" + val
	}
	ids := make([]string, 0, 1)
	for _, o := range s.objects[target.name] {
		v := o.Attributes[name]
		if v == val || (like && strings.Contains(strings.ToLower(v), strings.ToLower(val))) {
			ids = append(ids, o.ID)
		}
	}
	if len(ids) == 0 {
		return "unresolved:" + val
	}
	sort.Strings(ids)
	return "ref:" + ids[0]
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	var buf bytes.Buffer
	json.NewEncoder(&buf).Encode(v)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	w.Write(buf.Bytes())
}
