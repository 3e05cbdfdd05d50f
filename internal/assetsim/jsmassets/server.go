// Package jsmassets emulates the Jira Service Management Assets "Imports" REST API (external import source):
// container-token auth, the info links, config status, schema and mapping (validated as the 2023_10_19 schema
// requires), executions INGESTING -> PROCESSING -> DONE, data chunks, cancel and recorded failures, and objects
// created or updated by their externalId. GET /_sim/assets returns what it holds, by object type.
package jsmassets

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"sort"
	"strings"
	"sync"
	"time"
)

// Server is one Assets workspace with one external import source.
type Server struct {
	mu        sync.Mutex
	token     string
	base      string // the URL links point to, set by the caller after listening
	mapping   *document
	execs     map[string]*execution
	latest    string
	objects   map[string]map[string]*Object // object type name -> identity -> object
	seq       int
	FailNext  bool // the next completed execution ends FAILED (a test's fault)
	MaxChunk  int  // objects accepted per data request (0: 1000)
	workspace string
	sourceID  string
	// RateLimit is the requests per second the API takes before answering 429 with Retry-After (0: no limit),
	// as Atlassian's rate limiting does under load; Throttled counts those answers.
	RateLimit int
	Throttled int
	window    time.Time
	inWindow  int
}

// Object is an object Assets holds.
type Object struct {
	ID         string            `json:"id"`
	Type       string            `json:"type"`
	Identity   string            `json:"identity"`
	Attributes map[string]string `json:"attributes"`
	Updated    int               `json:"updated"` // times an import changed it
}

type execution struct {
	id      string
	status  string // INGESTING, PROCESSING, DONE, FAILED, CANCELLED
	data    map[string][]map[string]any
	failure string
	counts  map[string]int
}

// document is the schema-and-mapping body.
type document struct {
	Schema struct {
		ObjectSchema struct {
			Name        string       `json:"name"`
			Description *string      `json:"description"`
			ObjectTypes []objectType `json:"objectTypes"`
		} `json:"objectSchema"`
	} `json:"schema"`
	Mapping struct {
		ObjectTypeMappings []typeMapping `json:"objectTypeMappings"`
	} `json:"mapping"`
}

type objectType struct {
	ExternalID  string      `json:"externalId"`
	Name        string      `json:"name"`
	Description *string     `json:"description"`
	Attributes  []attribute `json:"attributes"`
}

type attribute struct {
	ExternalID            string  `json:"externalId"`
	Name                  string  `json:"name"`
	Description           *string `json:"description"`
	Type                  string  `json:"type"`
	ReferenceObjectTypeID string  `json:"referenceObjectTypeExternalId"`
}

type typeMapping struct {
	ObjectTypeExternalID string         `json:"objectTypeExternalId"`
	ObjectTypeName       string         `json:"objectTypeName"`
	Selector             string         `json:"selector"`
	Description          *string        `json:"description"`
	AttributesMapping    []attributeMap `json:"attributesMapping"`
}

type attributeMap struct {
	AttributeExternalID string   `json:"attributeExternalId"`
	AttributeName       string   `json:"attributeName"`
	AttributeLocators   []string `json:"attributeLocators"`
	ExternalIDPart      bool     `json:"externalIdPart"`
	ObjectMappingIQL    string   `json:"objectMappingIQL"`
}

var attributeTypes = map[string]bool{"text": true, "integer": true, "boolean": true, "double": true, "date": true, "time": true,
	"date_time": true, "url": true, "email": true, "textarea": true, "select": true, "ipaddress": true, "referenced_object": true, "status": true}

// New returns an emulator accepting token.
func New(token string) *Server {
	return &Server{token: token, execs: map[string]*execution{}, objects: map[string]map[string]*Object{},
		workspace: "ws-" + randomID()[:8], sourceID: "is-" + randomID()[:8]}
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

func randomID() string {
	b := make([]byte, 16)
	rand.Read(b)
	return hex.EncodeToString(b)
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
	if s.RateLimit > 0 {
		now := time.Now()
		if now.Sub(s.window) >= time.Second {
			s.window, s.inWindow = now, 0
		}
		s.inWindow++
		if s.inWindow > s.RateLimit {
			s.Throttled++
			w.Header().Set("Retry-After", "1")
			writeJSON(w, http.StatusTooManyRequests, map[string]any{"errorMessages": []string{"Rate limit exceeded."}})
			return
		}
	}
	prefix := "/jsm/assets/workspace/" + s.workspace + "/v1/importsource/" + s.sourceID
	path := r.URL.Path
	switch {
	case r.Method == http.MethodGet && path == "/jsm/assets/v1/imports/info":
		writeJSON(w, http.StatusOK, map[string]any{"links": map[string]string{
			"getStatus": s.base + prefix + "/configstatus", "start": s.base + prefix + "/executions", "mapping": s.base + prefix + "/mapping"}})
	case r.Method == http.MethodGet && path == prefix+"/configstatus":
		st := "IDLE"
		switch {
		case s.mapping == nil:
			st = "MISSING_MAPPING"
		case s.latest != "" && (s.execs[s.latest].status == "INGESTING" || s.execs[s.latest].status == "PROCESSING"):
			st = "RUNNING"
		}
		writeJSON(w, http.StatusOK, map[string]string{"status": st})
	case (r.Method == http.MethodPut || r.Method == http.MethodPatch) && path == prefix+"/mapping":
		s.putMapping(w, r)
	case r.Method == http.MethodGet && path == prefix+"/schema-and-mapping":
		if s.mapping == nil {
			writeJSON(w, http.StatusNotFound, map[string]any{"errorMessages": []string{"No mapping."}})
			return
		}
		writeJSON(w, http.StatusOK, s.mapping)
	case r.Method == http.MethodPost && path == prefix+"/executions":
		s.start(w, prefix)
	case strings.HasPrefix(path, prefix+"/executions/"):
		s.execution(w, r, strings.TrimPrefix(path, prefix+"/executions/"))
	default:
		writeJSON(w, http.StatusNotFound, map[string]any{"errorMessages": []string{"Not found: " + r.Method + " " + path}})
	}
}

func (s *Server) putMapping(w http.ResponseWriter, r *http.Request) {
	var d document
	body, _ := io.ReadAll(r.Body)
	if err := json.Unmarshal(body, &d); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]any{"errorMessages": []string{"Invalid JSON: " + err.Error()}})
		return
	}
	if err := validate(&d); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]any{"errorMessages": []string{err.Error()}})
		return
	}
	if r.Method == http.MethodPatch && s.mapping != nil {
		if err := patchable(s.mapping, &d); err != nil {
			writeJSON(w, http.StatusBadRequest, map[string]any{"errorMessages": []string{err.Error()}})
			return
		}
	}
	s.mapping = &d
	w.WriteHeader(http.StatusNoContent)
}

// validate checks what the 2023_10_19 schema requires.
func validate(d *document) error {
	os := &d.Schema.ObjectSchema
	if os.Name == "" || os.Description == nil || len(os.ObjectTypes) == 0 {
		return fmt.Errorf("schema.objectSchema needs name, description and at least one object type")
	}
	types := map[string]bool{}
	for _, t := range os.ObjectTypes {
		if t.Name == "" || t.Description == nil || t.ExternalID == "" {
			return fmt.Errorf("object type %q: name, description and externalId are required", t.Name)
		}
		types[t.ExternalID] = true
	}
	for _, t := range os.ObjectTypes {
		for _, a := range t.Attributes {
			switch {
			case a.Name == "" || a.Description == nil || a.Type == "" || a.ExternalID == "":
				return fmt.Errorf("object type %s: attribute %q needs name, description, type and externalId", t.Name, a.Name)
			case !attributeTypes[a.Type]:
				return fmt.Errorf("object type %s: attribute %s: unknown type %q", t.Name, a.Name, a.Type)
			case a.Type == "referenced_object" && !types[a.ReferenceObjectTypeID]:
				return fmt.Errorf("object type %s: attribute %s references %q, which is not an object type of the schema", t.Name, a.Name, a.ReferenceObjectTypeID)
			}
		}
	}
	for _, m := range d.Mapping.ObjectTypeMappings {
		if m.ObjectTypeName == "" || m.Selector == "" || m.Description == nil {
			return fmt.Errorf("mapping of %q: objectTypeName, selector and description are required", m.ObjectTypeName)
		}
		ids := 0
		for _, am := range m.AttributesMapping {
			if am.AttributeName == "" || len(am.AttributeLocators) == 0 {
				return fmt.Errorf("mapping of %s: every attribute mapping needs attributeName and attributeLocators", m.ObjectTypeName)
			}
			if am.ExternalIDPart {
				ids++
			}
		}
		if ids == 0 {
			return fmt.Errorf("mapping of %s: no attribute is an externalIdPart: objects could not be identified", m.ObjectTypeName)
		}
	}
	return nil
}

// patchable refuses what PATCH cannot change: an object type's name, an attribute's name or type.
func patchable(old, d *document) error {
	for _, ot := range old.Schema.ObjectSchema.ObjectTypes {
		for _, nt := range d.Schema.ObjectSchema.ObjectTypes {
			if nt.ExternalID != ot.ExternalID {
				continue
			}
			if nt.Name != ot.Name {
				return fmt.Errorf("PATCH cannot rename object type %s (to %s)", ot.Name, nt.Name)
			}
			for _, oa := range ot.Attributes {
				for _, na := range nt.Attributes {
					if na.ExternalID == oa.ExternalID && (na.Name != oa.Name || na.Type != oa.Type) {
						return fmt.Errorf("PATCH cannot change attribute %s of %s (name or type)", oa.Name, ot.Name)
					}
				}
			}
		}
	}
	return nil
}

func (s *Server) start(w http.ResponseWriter, prefix string) {
	if s.mapping == nil {
		writeJSON(w, http.StatusBadRequest, map[string]any{"errorMessages": []string{"The import source has no mapping (MISSING_MAPPING)."}})
		return
	}
	if s.latest != "" && (s.execs[s.latest].status == "INGESTING" || s.execs[s.latest].status == "PROCESSING") {
		writeJSON(w, http.StatusConflict, map[string]any{"errorMessages": []string{"An execution is already running: cancel it or wait."}})
		return
	}
	id := randomID()
	s.execs[id] = &execution{id: id, status: "INGESTING", data: map[string][]map[string]any{}}
	s.latest = id
	e := s.base + prefix + "/executions/" + id
	writeJSON(w, http.StatusOK, map[string]any{"links": map[string]string{
		"submitProgress": e + "/progress", "submitResults": e + "/data", "getExecutionStatus": e + "/status", "cancel": e}})
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
		body := map[string]any{"executionId": id, "status": e.status}
		if e.counts != nil {
			body["counts"] = e.counts
		}
		writeJSON(w, http.StatusOK, body)
	case r.Method == http.MethodDelete && op == "":
		if e.status == "INGESTING" || e.status == "PROCESSING" {
			e.status = "CANCELLED"
		}
		w.WriteHeader(http.StatusNoContent)
	case r.Method == http.MethodPost && op == "history/failed":
		if e.status != "INGESTING" {
			writeJSON(w, http.StatusBadRequest, map[string]any{"errorMessages": []string{"A failure can be recorded only while INGESTING."}})
			return
		}
		var body struct {
			FailureReason string `json:"failureReason"`
		}
		json.NewDecoder(r.Body).Decode(&body)
		e.failure, e.status = body.FailureReason, "FAILED"
		w.WriteHeader(http.StatusNoContent)
	case r.Method == http.MethodPost && op == "data":
		s.data(w, r, e)
	default:
		writeJSON(w, http.StatusNotFound, map[string]any{"errorMessages": []string{"Not found: " + r.Method + " " + r.URL.Path}})
	}
}

func (s *Server) data(w http.ResponseWriter, r *http.Request, e *execution) {
	if e.status != "INGESTING" {
		writeJSON(w, http.StatusBadRequest, map[string]any{"errorMessages": []string{"The execution is " + e.status + ": it accepts no more data."}})
		return
	}
	var body struct {
		Data      map[string][]map[string]any `json:"data"`
		Completed bool                        `json:"completed"`
	}
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]any{"errorMessages": []string{"Invalid JSON: " + err.Error()}})
		return
	}
	n := 0
	for _, rows := range body.Data {
		n += len(rows)
	}
	max := s.MaxChunk
	if max == 0 {
		max = 1000
	}
	if n > max {
		writeJSON(w, http.StatusRequestEntityTooLarge, map[string]any{"errorMessages": []string{fmt.Sprintf("A chunk holds %d objects: at most %d.", n, max)}})
		return
	}
	for sel, rows := range body.Data {
		e.data[sel] = append(e.data[sel], rows...)
	}
	if body.Completed {
		s.process(e)
	}
	w.WriteHeader(http.StatusOK)
	io.WriteString(w, "{}")
}

var iqlRE = regexp.MustCompile(`^\s*"?([^"=]+?)"?\s*(=|Like|LIKE|like)\s*\$\{([^}]+)\}\s*$`)

// process applies a completed execution: objects created or updated by identity, references resolved by IQL.
// Assets processes asynchronously; the emulator does it at once and reports DONE on the next status read. Its
// status answer adds "counts" (<type>:created/updated/unchanged), which Assets' documented status does not have.
func (s *Server) process(e *execution) {
	e.status = "PROCESSING"
	if s.FailNext {
		s.FailNext = false
		e.status, e.failure = "FAILED", "the emulator was told to fail this execution"
		return
	}
	typeName := map[string]string{}
	attrName := map[string]string{}
	for _, t := range s.mapping.Schema.ObjectSchema.ObjectTypes {
		typeName[t.ExternalID] = t.Name
		for _, a := range t.Attributes {
			attrName[a.ExternalID] = a.Name
		}
	}
	e.counts = map[string]int{}
	index := map[string]map[string]string{} // IQL lookups of this execution: type and attribute -> value -> object id
	// Referenced types first: a mapping whose IQL names another type is applied after it.
	maps := append([]typeMapping(nil), s.mapping.Mapping.ObjectTypeMappings...)
	sort.SliceStable(maps, func(i, j int) bool { return refs(maps[i]) < refs(maps[j]) })
	for _, m := range maps {
		tname := m.ObjectTypeName
		if s.objects[tname] == nil {
			s.objects[tname] = map[string]*Object{}
		}
		for _, row := range e.data[m.Selector] {
			attrs := map[string]string{}
			var idParts []string
			for _, am := range m.AttributesMapping {
				name := am.AttributeName
				if n := attrName[am.AttributeExternalID]; n != "" {
					name = n
				}
				var vals []string
				for _, loc := range am.AttributeLocators {
					if v, ok := row[loc]; ok && v != nil {
						vals = append(vals, fmt.Sprint(v))
					}
				}
				val := strings.Join(vals, " ")
				if am.ObjectMappingIQL != "" && val != "" {
					val = s.resolve(index, am.ObjectMappingIQL, am.AttributeExternalID, val)
				}
				attrs[name] = val
				if am.ExternalIDPart {
					idParts = append(idParts, val)
				}
			}
			identity := strings.Join(idParts, "|")
			if o, ok := s.objects[tname][identity]; ok {
				if !sameAttrs(o.Attributes, attrs) {
					o.Attributes = attrs
					o.Updated++
					e.counts[tname+":updated"]++
				} else {
					e.counts[tname+":unchanged"]++
				}
				continue
			}
			s.seq++
			s.objects[tname][identity] = &Object{ID: fmt.Sprint(s.seq), Type: tname, Identity: identity, Attributes: attrs}
			e.counts[tname+":created"]++
		}
	}
	e.status = "DONE"
}

func refs(m typeMapping) int {
	n := 0
	for _, am := range m.AttributesMapping {
		if am.ObjectMappingIQL != "" {
			n++
		}
	}
	return n
}

// resolve finds the object a reference names: "Attr = ${x}" against the referenced type's attribute Attr; the value
// stored is the referenced object's id, or "unresolved:<value>" when none matches.
func (s *Server) resolve(index map[string]map[string]string, iql, attrExternalID, val string) string {
	m := iqlRE.FindStringSubmatch(iql)
	if m == nil {
		return "unresolved:" + val
	}
	target := ""
	for _, t := range s.mapping.Schema.ObjectSchema.ObjectTypes {
		for _, a := range t.Attributes {
			if a.ExternalID == attrExternalID {
				for _, rt := range s.mapping.Schema.ObjectSchema.ObjectTypes {
					if rt.ExternalID == a.ReferenceObjectTypeID {
						target = rt.Name
					}
				}
			}
		}
	}
	// The referenced type's objects are all in place before the first reference to them (referenced types are
	// applied first), so one index per type and attribute serves the whole execution, as Assets' own index would.
	attr := strings.TrimSpace(m[1])
	key := target + "\x00" + attr
	byValue, ok := index[key]
	if !ok {
		byValue = map[string]string{}
		for _, o := range s.objects[target] {
			if _, dup := byValue[o.Attributes[attr]]; !dup {
				byValue[o.Attributes[attr]] = o.ID
			}
		}
		index[key] = byValue
	}
	if id, ok := byValue[val]; ok {
		return "ref:" + id
	}
	return "unresolved:" + val
}

func sameAttrs(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}
