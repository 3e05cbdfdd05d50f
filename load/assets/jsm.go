// Package assets pushes what the marts found into the asset systems: Jira Service Management Assets through its
// Imports REST API (jsm.go; the Atlassian facts it relies on are in internal/assetsim/jsmassets/testdata/README.md)
// and ServiceNow through its Import Set API (reference §6, servicenow.go).
// Both send the same rows: one Person per user, one Subscription per subscribed SKU, one License Assignment per user
// and SKU, each identified by stable ids, so a repeated sync updates the same objects and never duplicates them.
// Every sync sends the full set, as Assets importers do: objects absent from a completed import are marked missing
// by Assets, and a full send repairs objects someone edited. The two sinks share the rows and the way they use the
// outbound HTTP client (retries on 429 and 5xx, a 401 final), which is why they are one package. Both are sync
// targets of the load/target contract, registered in targets.go: their names, settings and help, how each is
// opened from its settings, and their checks before a sync and for `seatlake check`.
package assets

import (
	"bytes"
	"cmp"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"time"

	"github.com/seatlake/seatlake/internal/outbound"
	"github.com/seatlake/seatlake/load/target"
)

// Person, Subscription and Assignment are the rows a sync sends (selectors persons, subscriptions, assignments),
// declared by the sync target contract.
type (
	Person       = target.Person
	Subscription = target.Subscription
	Assignment   = target.Assignment
)

// noAction is what the syncs send as an assignment's action when there is nothing to do: an explicit value, because
// a value left out would leave the earlier one in place (Assets' empty-values setting, ServiceNow's transform maps
// not copying empty fields).
const noAction = "none"

// Data is one full send; Rows is one read as a stream.
type (
	Data = target.Data
	Rows = target.Rows
)

// Config configures a sync.
type Config struct {
	BaseURL    string // https://api.atlassian.com by default
	Token      string // the import source's container token; never logged
	ChunkSize  int    // objects per submitResults request (default 500)
	HTTPClient *http.Client
	Logger     *slog.Logger
	MaxWait    time.Duration // how long to wait for the execution to finish (default 10 min)
	Poll       time.Duration // status poll interval (default 2 s)
	Attempts   int           // per request, on 429/5xx/network errors (default 6)
	// StaleExecution is the cancel link of an execution an earlier sync started and never finished (it was
	// killed): when the import source is RUNNING, that execution is cancelled first, so this sync can start.
	StaleExecution string
	// Started, when set, is told the cancel link of the execution this sync starts (to record it), and told ""
	// once the execution has ended.
	Started func(cancelLink string)
}

// Result says what the sync did.
type Result struct {
	ExecutionID string
	MappingPut  bool
	Sent        map[string]int // per selector
	Status      string         // the execution's last status: DONE, CANCELLED, or one seatlake does not know
	// Counts are what Assets reported for the finished import, per object type name: <type>:created, :updated,
	// :unchanged and :errors (from the status answer's progressResult); nil when it reported none.
	Counts map[string]int
	Chunks int
}

// ErrTokenRefused means Assets answered 401: the container token is wrong or was regenerated.
var ErrTokenRefused = errors.New("the Assets container token was refused (401): regenerate it on the import source (Assets > Import > the external import source) and give seatlake the new one")

// objectErrors is a finished import in which Assets refused objects: the sync is partial (errors.Is
// ErrRowsRefused), and the error names what Assets said.
type objectErrors struct {
	n        int
	messages []string
}

func (e *objectErrors) Error() string {
	msg := e.messages
	if len(msg) > 5 {
		msg = append(msg[:5:5], fmt.Sprintf("and %d more", len(e.messages)-5))
	}
	return fmt.Sprintf("Assets refused %d object(s) of the import: %s (see the import source's history in Assets)", e.n, strings.Join(msg, "; "))
}

func (e *objectErrors) Is(target error) bool { return target == ErrRowsRefused }

// The links the imports info answer and an execution's start answer carry (Imports REST API guide; the Assets REST
// API's "Start data ingestion" example).
type infoLinks struct {
	GetStatus string `json:"getStatus"`
	Start     string `json:"start"`
	Mapping   string `json:"mapping"`
}

type executionLinks struct {
	SubmitProgress     string `json:"submitProgress"`
	SubmitResults      string `json:"submitResults"`
	GetExecutionStatus string `json:"getExecutionStatus"`
	Cancel             string `json:"cancel"`
}

// Configuration statuses ("Status of Import configuration") and execution statuses seatlake knows.
const (
	configIdle           = "IDLE"
	configRunning        = "RUNNING"
	configDisabled       = "DISABLED"
	configMissingMapping = "MISSING_MAPPING"

	execIngesting  = "INGESTING"
	execProcessing = "PROCESSING"
	execDone       = "DONE"
	execCancelled  = "CANCELLED"
)

// discover reads the import source's links and its configuration status, refusing a status it does not know.
func (c *client) discover(ctx context.Context) (infoLinks, string, error) {
	var info struct {
		Links infoLinks `json:"links"`
	}
	if err := c.call(ctx, http.MethodGet, c.base+"/jsm/assets/v1/imports/info", nil, &info); err != nil {
		return info.Links, "", fmt.Errorf("discovering the import source: %w", err)
	}
	for name, link := range map[string]string{"getStatus": info.Links.GetStatus, "start": info.Links.Start, "mapping": info.Links.Mapping} {
		if link == "" {
			return info.Links, "", fmt.Errorf("discovering the import source: the imports info answer has no links.%s", name)
		}
	}
	status, err := c.configStatus(ctx, info.Links.GetStatus)
	return info.Links, status, err
}

func (c *client) configStatus(ctx context.Context, link string) (string, error) {
	var st struct {
		Status string `json:"status"`
	}
	if err := c.call(ctx, http.MethodGet, link, nil, &st); err != nil {
		return "", fmt.Errorf("reading the import source's status: %w", err)
	}
	switch st.Status {
	case configIdle, configRunning, configDisabled, configMissingMapping:
		return st.Status, nil
	}
	return st.Status, fmt.Errorf("the import source's status is %q, which seatlake does not know (IDLE, RUNNING, DISABLED, MISSING_MAPPING): look at the import source in Assets", st.Status)
}

// Sync sends data to the import source, following the links the Imports REST API guide names: discover them, put
// the schema and mapping when missing (or patch it), start an execution, submit the data in chunks to its
// submitResults link, complete it, and read its getExecutionStatus link until DONE. When seatlake itself fails
// after the execution started, it records the failure on the execution and cancels it (its cancel link), so the
// next sync can start.
// The rows are read twice: once to check every object before anything is sent, once as they are sent.
func Sync(ctx context.Context, cfg Config, rows Rows) (Result, error) {
	c := newClient(cfg)
	res := Result{Sent: map[string]int{}}
	if err := checkObjects(ctx, rows); err != nil { // every value in its type's form before anything is sent
		return res, fmt.Errorf("preparing the objects: %w", err)
	}
	links, status, err := c.discover(ctx)
	if err != nil {
		return res, err
	}
	if status, err = c.clearStale(ctx, cfg, links, status); err != nil {
		return res, err
	}
	if res.MappingPut, err = c.applyMapping(ctx, links.Mapping, status); err != nil {
		return res, err
	}
	exec, id, err := c.startExecution(ctx, links.Start)
	if err != nil {
		return res, err
	}
	res.ExecutionID = id
	if cfg.Started != nil {
		cfg.Started(exec.Cancel)
		defer cfg.Started("")
	}
	if err := c.submit(ctx, exec.SubmitResults, rows, &res); err != nil {
		c.abort(ctx, exec, err)
		res.Status = execCancelled
		return res, err
	}
	return res, c.wait(ctx, exec.GetExecutionStatus, &res)
}

// clearStale refuses an import source that cannot start an import (DISABLED, or RUNNING an import that is not
// this sync's to cancel) and cancels the execution a killed sync left RUNNING; it returns the status to go on from.
func (c *client) clearStale(ctx context.Context, cfg Config, links infoLinks, status string) (string, error) {
	switch {
	case status == configDisabled:
		return status, errors.New("the import source is DISABLED in Assets: enable it (Assets > Import)")
	case status != configRunning:
		return status, nil
	case cfg.StaleExecution == "":
		return status, errors.New("an import is RUNNING on this import source: wait for it, or cancel it in Assets, then sync again")
	}
	// Ours, left by a sync that was killed: cancel it and go on.
	_ = c.call(ctx, http.MethodDelete, cfg.StaleExecution, nil, nil)
	status, err := c.configStatus(ctx, links.GetStatus)
	if err != nil {
		return status, err
	}
	if status == configRunning {
		return status, errors.New("an import is RUNNING on this import source and it is not seatlake's: wait for it, or cancel it in Assets")
	}
	if cfg.Started != nil {
		cfg.Started("")
	}
	return status, nil
}

// applyMapping puts the schema and mapping on an import source missing it, and patches it otherwise; it says
// whether it put it.
func (c *client) applyMapping(ctx context.Context, link, status string) (bool, error) {
	doc := Mapping()
	if status == configMissingMapping {
		if err := c.call(ctx, http.MethodPut, link, doc, nil); err != nil {
			return false, fmt.Errorf("putting the schema and mapping: %w", err)
		}
		return true, nil
	}
	if err := c.call(ctx, http.MethodPatch, link, doc, nil); err != nil {
		// PATCH adds what is new; what it cannot change is an error saying so.
		return false, fmt.Errorf("updating the schema and mapping (PATCH cannot rename object types or change attribute types: remove the import source's mapping in Assets to start over): %w", err)
	}
	return false, nil
}

// startExecution starts an import execution: its links, every one this sync follows present, and its id.
func (c *client) startExecution(ctx context.Context, link string) (executionLinks, string, error) {
	var started struct {
		ID    string         `json:"id"`
		Links executionLinks `json:"links"`
	}
	if err := c.call(ctx, http.MethodPost, link, nil, &started); err != nil {
		return started.Links, "", fmt.Errorf("starting an import execution: %w", err)
	}
	exec := started.Links
	for name, link := range map[string]string{"submitResults": exec.SubmitResults, "getExecutionStatus": exec.GetExecutionStatus, "cancel": exec.Cancel} {
		if link == "" {
			return exec, "", fmt.Errorf("starting an import execution: the answer has no links.%s", name)
		}
	}
	// The execution is the one whose data goes to submitResults: …/executions/{id}/data.
	return exec, cmp.Or(started.ID, executionID(exec.SubmitResults)), nil
}

// submit sends every type's objects to the submitResults link, referenced objects before the objects referencing
// them, then completes the import.
func (c *client) submit(ctx context.Context, link string, rows Rows, res *Result) error {
	for _, t := range Types() {
		if err := c.send(ctx, link, t.Selector, rows, res); err != nil {
			return err
		}
	}
	if err := c.call(ctx, http.MethodPost, link, map[string]any{"completed": true, "clientGeneratedId": newChunkID()}, nil); err != nil {
		return fmt.Errorf("completing the import: %w", err)
	}
	return nil
}

// send submits one selector's objects in chunks, each chunk's objects made as it is sent, counting them in res.
func (c *client) send(ctx context.Context, link, selector string, rows Rows, res *Result) error {
	t, _ := typeOf(selector)
	n := rows.Sizes()[selector]
	part := make([]map[string]any, 0, min(c.chunk, n))
	flush := func() error {
		body := map[string]any{"data": map[string]any{selector: part}, "clientGeneratedId": newChunkID()}
		if err := c.call(ctx, http.MethodPost, link, body, nil); err != nil {
			return fmt.Errorf("submitting %s %d-%d: %w", selector, res.Sent[selector]+1, res.Sent[selector]+len(part), err)
		}
		res.Sent[selector] += len(part)
		res.Chunks++
		c.heartbeat("sending", "objects", selector, "sent", res.Sent[selector], "of", n)
		part = part[:0]
		return nil
	}
	err := eachObject(ctx, t, rows, func(obj map[string]any) error {
		if part = append(part, obj); len(part) == c.chunk {
			return flush()
		}
		return nil
	})
	if err == nil && len(part) > 0 {
		err = flush()
	}
	return err
}

// abort records the sync's failure on the execution and cancels it, with time of its own: a cancelled context
// must not leave the import source RUNNING.
func (c *client) abort(ctx context.Context, exec executionLinks, cause error) {
	actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	reason := cause.Error()
	if len(reason) > 1024 {
		reason = reason[:1024]
	}
	// No link names history/failed: it sits beside data under the execution (Assets REST API
	// "Create failed import history": …/executions/{executionId}/history/failed).
	if base, ok := strings.CutSuffix(outbound.Redact(exec.SubmitResults), "/data"); ok {
		if err := c.call(actx, http.MethodPost, base+"/history/failed", map[string]string{"failureReason": reason}, nil); err != nil {
			c.log.Warn("could not record the failure on the Assets execution", "err", err)
		}
	}
	if err := c.call(actx, http.MethodDelete, exec.Cancel, nil, nil); err != nil {
		c.log.Warn("could not cancel the Assets execution; Assets will time it out", "err", err)
	}
}

// wait reads the execution's status until it is DONE, fails on one that says it will never be, and gives up after
// maxWait; res gets the last status and, once DONE, the counts.
func (c *client) wait(ctx context.Context, link string, res *Result) error {
	deadline := time.Now().Add(c.maxWait)
	next := c.pollWaits()
	for {
		var st executionStatus
		if err := c.call(ctx, http.MethodGet, link, nil, &st); err != nil {
			return fmt.Errorf("reading the execution's status: %w", err)
		}
		res.Status = st.Status
		switch st.Status {
		case execDone:
			res.Counts = st.counts()
			return st.outcome()
		case execCancelled:
			return errors.New("Assets reports the import CANCELLED (cancelled in Assets, or by Assets): see the import source's history in Assets, then sync again")
		case execIngesting, execProcessing:
		default:
			return fmt.Errorf("Assets reports the import execution %q, a status seatlake does not know (INGESTING, PROCESSING, DONE, CANCELLED): see the import source's history in Assets", st.Status)
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the import is still %s after %s: Assets will finish it; the next sync waits for it", st.Status, c.maxWait)
		}
		c.heartbeat("waiting for Assets to finish the import", "status", st.Status, "waited", time.Since(deadline.Add(-c.maxWait)).Round(time.Second))
		if err := outbound.Sleep(ctx, next()); err != nil {
			return err
		}
	}
}

// executionStatus is the answer of an execution's getExecutionStatus link. Its progressResult is documented by the
// Assets REST API's example ("Status of Import Execution"), not by a schema: seatlake reads the per-type results
// and their error messages from it, and nothing else.
type executionStatus struct {
	Status         string `json:"status"`
	ProgressResult *struct {
		Result              string `json:"result"`
		ObjectTypeResultMap map[string]struct {
			ObjectTypeName   string          `json:"objectTypeName"`
			ObjectsCreated   int             `json:"objectsCreated"`
			ObjectsUpdated   int             `json:"objectsUpdated"`
			ObjectsIdentical int             `json:"objectsIdentical"`
			ErrorMessages    json.RawMessage `json:"errorMessages"`
		} `json:"objectTypeResultMap"`
		ErrorMessages json.RawMessage `json:"errorMessages"`
	} `json:"progressResult"`
}

func (s executionStatus) counts() map[string]int {
	if s.ProgressResult == nil || s.ProgressResult.ObjectTypeResultMap == nil {
		return nil
	}
	out := map[string]int{}
	for _, r := range s.ProgressResult.ObjectTypeResultMap {
		out[r.ObjectTypeName+":created"] += r.ObjectsCreated
		out[r.ObjectTypeName+":updated"] += r.ObjectsUpdated
		out[r.ObjectTypeName+":unchanged"] += r.ObjectsIdentical
		out[r.ObjectTypeName+":errors"] += len(messages(r.ErrorMessages))
	}
	return out
}

// outcome is a DONE execution's verdict: its error messages (per object type, then the import's own) make it
// partial; a result other than OK fails it by name.
func (s executionStatus) outcome() error {
	p := s.ProgressResult
	if p == nil {
		return nil
	}
	e := &objectErrors{}
	for _, r := range p.ObjectTypeResultMap {
		for _, m := range messages(r.ErrorMessages) {
			e.n++
			e.messages = append(e.messages, r.ObjectTypeName+": "+m)
		}
	}
	for _, m := range messages(p.ErrorMessages) {
		e.messages = append(e.messages, m)
	}
	sort.Strings(e.messages)
	if len(e.messages) > 0 {
		return e
	}
	if p.Result != "" && p.Result != "OK" {
		return fmt.Errorf("Assets finished the import with result %q: see the import source's history in Assets", p.Result)
	}
	return nil
}

// messages reads an errorMessages value: null (none), a string, or a list of strings; anything else is kept as its
// JSON text, so a message is never lost to an unexpected shape.
func messages(raw json.RawMessage) []string {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return nil
	}
	var one string
	if json.Unmarshal(raw, &one) == nil {
		if one == "" {
			return nil
		}
		return []string{one}
	}
	var many []string
	if json.Unmarshal(raw, &many) == nil {
		return many
	}
	return []string{outbound.OneLine(string(raw), 300)}
}

// executionID is the execution a submitResults link belongs to (…/executions/{id}/data), for the record.
func executionID(submitResults string) string {
	u, err := url.Parse(submitResults)
	if err != nil {
		return ""
	}
	parts := strings.Split(strings.Trim(u.Path, "/"), "/")
	if len(parts) >= 3 && parts[len(parts)-1] == "data" && parts[len(parts)-3] == "executions" {
		return parts[len(parts)-2]
	}
	return ""
}

// newChunkID is a chunk's clientGeneratedId: random, and the same on each retry of that chunk.
func newChunkID() string {
	b := make([]byte, 16)
	rand.Read(b)
	b[6], b[8] = b[6]&0x0f|0x40, b[8]&0x3f|0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}

// pollWaits gives the waits between status polls: a small import is done in a moment, so the first poll comes
// soon and the next ones less often, up to the poll interval.
func (c *client) pollWaits() func() time.Duration {
	wait := min(250*time.Millisecond, c.poll)
	return func() time.Duration {
		w := wait
		wait = min(2*wait, c.poll)
		return w
	}
}

// client is what the two sinks share: the outbound client (credentials, retries on 429 and 5xx with Retry-After,
// a 401 final), what a 401 means to this service, and the send's limits and progress lines.
type client struct {
	base     string
	http     *outbound.Client
	refused  error  // what a 401 means: the credentials are wrong (final, never retried)
	service  string // who answers, for the log
	log      *slog.Logger
	chunk    int
	maxWait  time.Duration
	poll     time.Duration
	lastBeat time.Time // the client's start, then the last progress line
}

// heartbeat logs how far a sync is every 10 seconds: a long sync is never silent, a short one says nothing
// until its summary.
func (c *client) heartbeat(msg string, args ...any) {
	if time.Since(c.lastBeat) < 10*time.Second {
		return
	}
	c.lastBeat = time.Now()
	c.log.Info(c.service+" sync: "+msg, args...)
}

func newClient(cfg Config) *client {
	c := &client{base: strings.TrimRight(cfg.BaseURL, "/"), log: cfg.Logger, chunk: cfg.ChunkSize, maxWait: cfg.MaxWait, poll: cfg.Poll,
		refused: ErrTokenRefused, service: "Assets"}
	if c.base == "" {
		c.base = "https://api.atlassian.com"
	}
	c.defaults()
	c.connect(cfg.HTTPClient, cfg.Attempts, outbound.Config{Authorize: func(req *http.Request) {
		req.Header.Set("Authorization", "Bearer "+cfg.Token)
	}})
	return c
}

// defaults fills what the caller left unset.
func (c *client) defaults() {
	c.lastBeat = time.Now()
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	if c.chunk <= 0 {
		c.chunk = 500
	}
	if c.maxWait <= 0 {
		c.maxWait = 10 * time.Minute
	}
	if c.poll <= 0 {
		c.poll = 2 * time.Second
	}
}

// connect makes the outbound client with the credentials in creds: attempts per request (default 6) on 429, 5xx
// and network errors, each within a minute; Assets has answered 429 without Retry-After, so the backoff starts at
// half a second.
func (c *client) connect(hc *http.Client, attempts int, creds outbound.Config) {
	if attempts <= 0 {
		attempts = 6
	}
	creds.HTTPClient, creds.Logger, creds.RequestTimeout = hc, c.log, 60*time.Second
	creds.Retry = outbound.RetryPolicy{MaxAttempts: attempts, BaseDelay: 500 * time.Millisecond, MaxDelay: 10 * time.Second}
	c.http = outbound.New(creds)
}

// call sends one request with body as JSON (nil: none) and decodes the answer into out (nil: not read). A 401 is
// the service's refusal of the credentials (c.refused), and a certificate this machine does not trust is final.
func (c *client) call(ctx context.Context, method, url string, body, out any) error {
	err := c.http.JSON(ctx, method, url, body, out)
	var he *outbound.Error
	if errors.As(err, &he) && he.Status == http.StatusUnauthorized {
		return c.refused
	}
	return err
}

// ProbeJSM checks, before a night depends on it, that the container token is taken and that the import source can
// start an import: its status is neither DISABLED nor RUNNING. It sends nothing and returns the status.
func ProbeJSM(ctx context.Context, cfg Config) (string, error) {
	if cfg.Attempts == 0 {
		cfg.Attempts = 2
	}
	_, status, err := newClient(cfg).discover(ctx)
	if err != nil {
		return status, err
	}
	if status == configDisabled {
		return status, errors.New("the import source is DISABLED in Assets: enable it (Assets > Import)")
	}
	return status, nil
}
