package assets

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// scripted is an import source that answers as a case says: configuration statuses and execution statuses in turn,
// a refusal (400) of the request a case names, and the start answer's links. It records every request as
// "METHOD path" and the failure reason recorded on the execution.
type scripted struct {
	mu       sync.Mutex
	base     string
	config   []string // configstatus answers, in turn (the last one repeats)
	statuses []string // execution status answers, in turn (the last one repeats)
	refuse   string   // "METHOD path", or "POST /executions/e1/data completed" for the closing chunk
	start    string   // the start answer; "" for the documented links under /executions/e1
	requests []string
	failure  string
}

func next(xs *[]string) string {
	s := (*xs)[0]
	if len(*xs) > 1 {
		*xs = (*xs)[1:]
	}
	return s
}

func (s *scripted) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	body, _ := io.ReadAll(r.Body)
	req := r.Method + " " + r.URL.Path
	s.requests = append(s.requests, req)
	if req == s.refuse || (strings.Contains(string(body), `"completed":true`) && req+" completed" == s.refuse) {
		http.Error(w, `{"errorMessages":["refused"]}`, http.StatusBadRequest)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	switch req {
	case "GET /jsm/assets/v1/imports/info":
		io.WriteString(w, `{"links":{"getStatus":"`+s.base+`/src/configstatus","start":"`+s.base+`/src/executions","mapping":"`+s.base+`/src/mapping"}}`)
	case "GET /src/configstatus":
		io.WriteString(w, `{"status":"`+next(&s.config)+`"}`)
	case "POST /src/executions":
		if s.start != "" {
			io.WriteString(w, strings.ReplaceAll(s.start, "BASE", s.base))
			return
		}
		e := s.base + "/executions/e1"
		io.WriteString(w, `{"result":"success","links":{"submitProgress":"`+e+`/progress","submitResults":"`+e+`/data","getExecutionStatus":"`+e+`/status","cancel":"`+e+`"}}`)
	case "GET /executions/e1/status":
		io.WriteString(w, `{"status":"`+next(&s.statuses)+`"}`)
	case "POST /executions/e1/history/failed":
		var f struct {
			FailureReason string `json:"failureReason"`
		}
		json.Unmarshal(body, &f)
		s.failure = f.FailureReason
		w.WriteHeader(http.StatusNoContent)
	default:
		w.WriteHeader(http.StatusOK)
	}
}

// Each step of a sync, as the import source answers: the exact error (the sync's own words, before the service's
// answer where it wraps one), what the result says, every request in order, the failure recorded on the execution
// and what the Started hook was told.
func TestSyncSteps(t *testing.T) {
	const (
		info, config, patch, put, start = "GET /jsm/assets/v1/imports/info", "GET /src/configstatus", "PATCH /src/mapping", "PUT /src/mapping", "POST /src/executions"
		data, status, failed, cancel    = "POST /executions/e1/data", "GET /executions/e1/status", "POST /executions/e1/history/failed", "DELETE /executions/e1"
		stale                           = "DELETE /stale/e0"
	)
	sent := []string{data, data, data, data} // persons, subscriptions, assignments, then completed
	upTo := func(steps ...[]string) []string {
		var out []string
		for _, s := range steps {
			out = append(out, s...)
		}
		return out
	}
	for _, tc := range []struct {
		name                string
		src                 *scripted
		stale               bool
		maxWait             time.Duration
		err                 string // exact, or a prefix when wraps
		wraps               bool   // err is followed by the service's answer
		status, executionID string
		mappingPut          bool
		sent                int // objects sent
		requests            []string
		failure             string   // recorded on the execution
		started             []string // what Started was told, BASE for the server
	}{
		{name: "done", src: &scripted{config: []string{"IDLE"}, statuses: []string{"INGESTING", "PROCESSING", "DONE"}},
			status: "DONE", executionID: "e1", sent: 5, requests: upTo([]string{info, config, patch, start}, sent, []string{status, status, status}),
			started: []string{"BASE/executions/e1", ""}},
		{name: "mapping missing", src: &scripted{config: []string{"MISSING_MAPPING"}, statuses: []string{"DONE"}},
			status: "DONE", executionID: "e1", mappingPut: true, sent: 5, requests: upTo([]string{info, config, put, start}, sent, []string{status}),
			started: []string{"BASE/executions/e1", ""}},
		{name: "disabled", src: &scripted{config: []string{"DISABLED"}},
			err: "the import source is DISABLED in Assets: enable it (Assets > Import)", requests: []string{info, config}},
		{name: "a status seatlake does not know", src: &scripted{config: []string{"PAUSED"}},
			err:      `the import source's status is "PAUSED", which seatlake does not know (IDLE, RUNNING, DISABLED, MISSING_MAPPING): look at the import source in Assets`,
			requests: []string{info, config}},
		{name: "running", src: &scripted{config: []string{"RUNNING"}},
			err: "an import is RUNNING on this import source: wait for it, or cancel it in Assets, then sync again", requests: []string{info, config}},
		{name: "running, ours cancelled", src: &scripted{config: []string{"RUNNING", "IDLE"}, statuses: []string{"DONE"}}, stale: true,
			status: "DONE", executionID: "e1", sent: 5, requests: upTo([]string{info, config, stale, config, patch, start}, sent, []string{status}),
			started: []string{"", "BASE/executions/e1", ""}},
		{name: "running, not ours", src: &scripted{config: []string{"RUNNING", "RUNNING"}}, stale: true,
			err: "an import is RUNNING on this import source and it is not seatlake's: wait for it, or cancel it in Assets", requests: []string{info, config, stale, config}},
		{name: "PUT refused", src: &scripted{config: []string{"MISSING_MAPPING"}, refuse: put},
			err: "putting the schema and mapping: ", wraps: true, requests: []string{info, config, put}},
		{name: "PATCH refused", src: &scripted{config: []string{"IDLE"}, refuse: patch},
			err: "updating the schema and mapping (PATCH cannot rename object types or change attribute types: remove the import source's mapping in Assets to start over): ", wraps: true,
			requests: []string{info, config, patch}},
		{name: "start refused", src: &scripted{config: []string{"IDLE"}, refuse: start},
			err: "starting an import execution: ", wraps: true, requests: []string{info, config, patch, start}},
		{name: "start answer without a cancel link", src: &scripted{config: []string{"IDLE"},
			start: `{"links":{"submitResults":"BASE/executions/e1/data","getExecutionStatus":"BASE/executions/e1/status"}}`},
			err: "starting an import execution: the answer has no links.cancel", requests: []string{info, config, patch, start}},
		{name: "start answer with an id", src: &scripted{config: []string{"IDLE"}, statuses: []string{"DONE"},
			start: `{"id":"given","links":{"submitResults":"BASE/executions/e1/data","getExecutionStatus":"BASE/executions/e1/status","cancel":"BASE/executions/e1"}}`},
			status: "DONE", executionID: "given", sent: 5, requests: upTo([]string{info, config, patch, start}, sent, []string{status}),
			started: []string{"BASE/executions/e1", ""}},
		{name: "a chunk refused", src: &scripted{config: []string{"IDLE"}, refuse: data},
			err: "submitting persons 1-2: ", wraps: true, status: "CANCELLED", executionID: "e1",
			requests: []string{info, config, patch, start, data, failed, cancel}, failure: "submitting persons 1-2: ",
			started: []string{"BASE/executions/e1", ""}},
		{name: "completion refused", src: &scripted{config: []string{"IDLE"}, refuse: data + " completed"},
			err: "completing the import: ", wraps: true, status: "CANCELLED", executionID: "e1", sent: 5,
			requests: upTo([]string{info, config, patch, start}, sent, []string{failed, cancel}), failure: "completing the import: ",
			started: []string{"BASE/executions/e1", ""}},
		{name: "status unreadable", src: &scripted{config: []string{"IDLE"}, refuse: status},
			err: "reading the execution's status: ", wraps: true, executionID: "e1", sent: 5,
			requests: upTo([]string{info, config, patch, start}, sent, []string{status}), started: []string{"BASE/executions/e1", ""}},
		{name: "cancelled in Assets", src: &scripted{config: []string{"IDLE"}, statuses: []string{"PROCESSING", "CANCELLED"}},
			err:    "Assets reports the import CANCELLED (cancelled in Assets, or by Assets): see the import source's history in Assets, then sync again",
			status: "CANCELLED", executionID: "e1", sent: 5, requests: upTo([]string{info, config, patch, start}, sent, []string{status, status}),
			started: []string{"BASE/executions/e1", ""}},
		{name: "an execution status seatlake does not know", src: &scripted{config: []string{"IDLE"}, statuses: []string{"FAILED"}},
			err:    `Assets reports the import execution "FAILED", a status seatlake does not know (INGESTING, PROCESSING, DONE, CANCELLED): see the import source's history in Assets`,
			status: "FAILED", executionID: "e1", sent: 5, requests: upTo([]string{info, config, patch, start}, sent, []string{status}),
			started: []string{"BASE/executions/e1", ""}},
		{name: "not done within MaxWait", src: &scripted{config: []string{"IDLE"}, statuses: []string{"PROCESSING"}}, maxWait: time.Nanosecond,
			err:    "the import is still PROCESSING after 1ns: Assets will finish it; the next sync waits for it",
			status: "PROCESSING", executionID: "e1", sent: 5, requests: upTo([]string{info, config, patch, start}, sent, []string{status}),
			started: []string{"BASE/executions/e1", ""}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src := tc.src
			srv := httptest.NewServer(src)
			t.Cleanup(srv.Close)
			src.base = srv.URL
			var told []string
			cfg := Config{BaseURL: srv.URL, Token: "tok", ChunkSize: 7, Poll: time.Millisecond, MaxWait: tc.maxWait, Attempts: 1,
				Started: func(link string) { told = append(told, strings.ReplaceAll(link, srv.URL, "BASE")) }}
			if tc.stale {
				cfg.StaleExecution = srv.URL + "/stale/e0"
			}
			res, err := Sync(context.Background(), cfg, sample(2))
			got := ""
			if err != nil {
				got = err.Error()
			}
			if (tc.wraps && (!strings.HasPrefix(got, tc.err) || got == tc.err)) || (!tc.wraps && got != tc.err) {
				t.Errorf("error %q, want %q (followed by the answer: %v)", got, tc.err, tc.wraps)
			}
			n := 0
			for _, k := range res.Sent {
				n += k
			}
			if res.Status != tc.status || res.ExecutionID != tc.executionID || res.MappingPut != tc.mappingPut || n != tc.sent {
				t.Errorf("result %+v, want status %q, execution %q, mapping put %v, %d sent", res, tc.status, tc.executionID, tc.mappingPut, tc.sent)
			}
			src.mu.Lock()
			defer src.mu.Unlock()
			if strings.Join(src.requests, "\n") != strings.Join(tc.requests, "\n") {
				t.Errorf("requests:\n%s\nwant:\n%s", strings.Join(src.requests, "\n"), strings.Join(tc.requests, "\n"))
			}
			if !strings.HasPrefix(src.failure, tc.failure) || (tc.failure == "") != (src.failure == "") || (tc.failure != "" && src.failure != got) {
				t.Errorf("failure recorded %q, want the error %q", src.failure, got)
			}
			if strings.Join(told, ",") != strings.Join(tc.started, ",") {
				t.Errorf("Started told %q, want %q", told, tc.started)
			}
		})
	}
}
