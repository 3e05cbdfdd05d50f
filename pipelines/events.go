package pipelines

import (
	"cmp"
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/seatlake/seatlake/extract/businessevents"
	"github.com/seatlake/seatlake/internal/table"
	"github.com/seatlake/seatlake/load/catalog"
	"github.com/seatlake/seatlake/load/warehouse"
)

// BusinessEventsTable holds every distinct F&O business event the receiver acknowledged: an event table by the day
// it was received, whose views deduplicate on the environment, BusinessEventId and ControlNumber.
var BusinessEventsTable = table.New("finops_business_events", table.Event, "received_at",
	"One row per distinct Finance and Operations business event received (F&O's retries land once): the envelope, the user it is about, and the body.",
	table.Column{Name: "business_event_id", Type: arrow.BinaryTypes.String, Key: true, Doc: "BusinessEventId, e.g. BusinessEventsAlertEvent"},
	table.Column{Name: "control_number", Type: arrow.BinaryTypes.String, Key: true, Doc: "ControlNumber: what F&O repeats when it retries"},
	table.Column{Name: "event_id", Type: arrow.BinaryTypes.String, Nullable: true, HighCardinality: true},
	table.Column{Name: "event_time", Type: table.Timestamp, Nullable: true, Doc: "EventTimeIso8601, else EventTime"},
	table.Column{Name: "legal_entity", Type: arrow.BinaryTypes.String, Nullable: true},
	table.Column{Name: "environment", Type: arrow.BinaryTypes.String, Key: true, Doc: "the F&O environment's name (its callback path)"},
	table.Column{Name: "environment_url", Type: arrow.BinaryTypes.String, Nullable: true},
	table.Column{Name: "received_at", Type: table.Timestamp},
	table.Column{Name: "major_version", Type: arrow.PrimitiveTypes.Int32},
	table.Column{Name: "minor_version", Type: arrow.PrimitiveTypes.Int32},
	table.Column{Name: "user_id", Type: arrow.BinaryTypes.String, Nullable: true, Doc: "the F&O user the event is about, when it names one"},
	table.Column{Name: "payload", Type: arrow.BinaryTypes.String, HighCardinality: true, Doc: "the body as received (JSON text)"},
)

// EventsEnv is one F&O environment the receiver has a callback path for.
type EventsEnv struct {
	Name       string // the callback path's name (the environment host's first label)
	URL        string // https://contoso.operations.dynamics.com
	SecretFile string // re-read when it changes: rotating it invalidates the old callback URL at once
	Tenant     *Config
}

// Route is a routing policy: when an event matches every condition given, its actions run (refresh-user, log).
type Route struct {
	// BusinessEventID is the kind of event (the column business_event_id, e.g. BusinessEventsAlertEvent), not the
	// instance's event_id.
	BusinessEventID string            `yaml:"business-event-id"`
	LegalEntity     string            `yaml:"legal-entity"`
	Environment     string            `yaml:"environment"`
	Fields          map[string]string `yaml:"fields"`
	Actions         []string          `yaml:"actions"`
}

// DefaultRoutes refresh the user of an alert on the user or user-role table, and log every event.
var DefaultRoutes = []Route{
	{BusinessEventID: "BusinessEventsAlertEvent", Fields: map[string]string{"TableName": "SecurityUserRole"}, Actions: []string{"refresh-user"}},
	{BusinessEventID: "BusinessEventsAlertEvent", Fields: map[string]string{"TableName": "UserInfo"}, Actions: []string{"refresh-user"}},
	{Actions: []string{"log"}},
}

// RouteActions are the actions a route may name.
var RouteActions = []string{"refresh-user", "log"}

func (rt Route) matches(e *businessevents.Event) bool {
	eq := func(want, got string) bool { return want == "" || strings.EqualFold(want, got) }
	if !eq(rt.BusinessEventID, e.BusinessEventID) || !eq(rt.LegalEntity, e.LegalEntity) || !eq(rt.Environment, e.Environment) {
		return false
	}
	for k, v := range rt.Fields {
		if !strings.EqualFold(v, e.Field(k)) {
			return false
		}
	}
	return true
}

// EventsConfig configures the receiver.
type EventsConfig struct {
	Warehouse string
	// Dir is the receiver's own folder: its journal, the callback secrets, the lines set aside and its status
	// (default EventsDir(Warehouse)). In a pod it is a persistent volume: an event answered 2xx must survive the pod.
	Dir          string
	Envs         []EventsEnv
	Routes       []Route // DefaultRoutes when nil
	GroupCommit  bool    // share one fsync among the events that arrive during the previous one
	CommitEvery  time.Duration
	CommitEvents int
	MaxBody      int64
	Logger       *slog.Logger
	// Refresh is the refresh-user action: re-read the environment's F&O users and role assignments and commit
	// them as an intraday snapshot, marts recomputed (a run of the environment's tenant reading only F&O).
	Refresh func(ctx context.Context, env EventsEnv, users []string) error
	Now     func() time.Time
}

// EventsStats are the receiver's counters since it started.
type EventsStats struct {
	Accepted, Duplicates, Malformed, Unauthorized, TooLarge, WrongType, Committed, ActionFailures int64
	Journaled                                                                                     int64 // accepted, not yet committed
}

// Receiver is the business events endpoint: it authenticates the callback path's secret, journals each distinct
// event durably before its 2xx, and commits the journal to the warehouse every CommitEvery or CommitEvents events
// (and on shutdown); then the routes' actions run. An event whose action fails stays journaled and is retried.
type Receiver struct {
	cfg     EventsConfig
	wh      *warehouse.Warehouse
	journal *businessevents.Journal
	envs    map[string]*EventsEnv
	secrets map[string]*secretFile

	mu sync.Mutex
	// seen and committed hold the keys of the events received within DedupWindow, with when: a retry of one of
	// them is acknowledged as a duplicate; an older repeat is committed again and the views still show it once.
	seen      map[string]time.Time // committed or journaled
	committed map[string]time.Time
	last      map[string]time.Time // environment -> the last event's arrival
	pending   atomic.Int64
	kick      chan struct{}
	// viewsStale: events were committed since the catalog's views of finops_business_events were last rebuilt.
	viewsStale atomic.Bool
	views      catalog.ViewRebuilder // the committer's (Run's) alone

	accepted, duplicates, malformed, unauthorized, tooLarge, wrongType, committedN, actionFailures atomic.Int64
}

type secretFile struct {
	path  string
	mu    sync.Mutex
	mtime time.Time
	value []byte
}

// current re-reads the secret when the file changed (a rotation takes effect at once).
func (s *secretFile) current() []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	st, err := os.Stat(s.path)
	if err != nil {
		return nil
	}
	if !st.ModTime().Equal(s.mtime) || s.value == nil {
		b, err := os.ReadFile(s.path)
		if err != nil {
			return nil
		}
		s.value, s.mtime = []byte(strings.TrimSpace(string(b))), st.ModTime()
	}
	return s.value
}

// EventsDir is where the receiver keeps its journal, secrets and status, under the warehouse.
func EventsDir(warehouseRoot string) string { return warehouse.EventsDir(warehouseRoot) }

// RejectedDir is where journal lines that are no business event are set aside, as they were.
func RejectedDir(warehouseRoot string) string {
	return filepath.Join(EventsDir(warehouseRoot), "rejected")
}

// isJSON is a Content-Type of application/json, with or without parameters (charset=utf-8).
func isJSON(ct string) bool {
	if ct == "application/json" { // the type F&O is taken to send (fact H4, assumed): no need to parse it
		return true
	}
	mt, _, err := mime.ParseMediaType(ct)
	return err == nil && mt == "application/json"
}

// SecretPath is the default secret file of an environment's callback path.
func SecretPath(warehouseRoot, env string) string {
	return SecretPathIn(EventsDir(warehouseRoot), env)
}

// SecretPathIn is the secret file of an environment's callback path in the receiver's folder dir (EventsConfig.Dir).
func SecretPathIn(dir, env string) string { return filepath.Join(dir, "secrets", env+".secret") }

// NewReceiver opens the warehouse and the journal; events a killed receiver journaled are committed by the first
// commit (they are known, so F&O's retries of them are duplicates).
func NewReceiver(ctx context.Context, cfg EventsConfig) (*Receiver, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Routes == nil {
		cfg.Routes = DefaultRoutes
	}
	if cfg.CommitEvery <= 0 {
		cfg.CommitEvery = 30 * time.Second
	}
	if cfg.CommitEvents <= 0 {
		cfg.CommitEvents = 1000
	}
	if cfg.MaxBody <= 0 {
		cfg.MaxBody = 1 << 20
	}
	if len(cfg.Envs) == 0 {
		return nil, fmt.Errorf("%w: no F&O environment to receive events for", ErrInvalidConfig)
	}
	wh, err := warehouse.Open(ctx, cfg.Warehouse, cfg.Logger)
	if err != nil {
		return nil, fmt.Errorf("opening warehouse: %w", err)
	}
	if cfg.Dir == "" {
		cfg.Dir = EventsDir(wh.Root())
	}
	r := &Receiver{cfg: cfg, wh: wh, envs: map[string]*EventsEnv{}, secrets: map[string]*secretFile{}, seen: map[string]time.Time{},
		committed: map[string]time.Time{}, last: map[string]time.Time{}, kick: make(chan struct{}, 1)}
	for i := range cfg.Envs {
		e := &cfg.Envs[i]
		if _, err := os.Stat(e.SecretFile); err != nil {
			return nil, fmt.Errorf("%w: environment %s: no secret at %s: run `seatlake events new-endpoint --finops %s`", ErrInvalidConfig, e.Name, e.SecretFile, e.Name)
		}
		r.envs[e.Name] = e
		r.secrets[e.Name] = &secretFile{path: e.SecretFile}
	}
	r.buildMissingCatalog(ctx)
	if err := r.loadCommitted(ctx); err != nil {
		return nil, err
	}
	if st, err := readEventsStatus(filepath.Join(cfg.Dir, "status.json")); err == nil && st.Environments != nil {
		r.last = st.Environments // what earlier receivers saw, read once; written at each commit
	}
	dir := filepath.Join(cfg.Dir, "journal")
	segs, err := businessevents.Segments(dir)
	if err != nil {
		return nil, err
	}
	for _, s := range segs {
		evs, rej, err := businessevents.ReadSegment(s)
		if err != nil {
			return nil, fmt.Errorf("replaying the journal: %w", err)
		}
		if len(rej) > 0 {
			cfg.Logger.Warn("journaled lines that are no business event: set aside at the next commit, never committed",
				"segment", filepath.Base(s), "lines", len(rej), "first", rej[0].Reason)
		}
		for _, e := range evs {
			if _, done := r.committed[e.Key()]; !done {
				r.pending.Add(1) // journaled, not committed: the first commit lands it
			}
			r.seen[e.Key()] = e.ReceivedAt
			r.arrived(e)
		}
	}
	if r.journal, err = businessevents.OpenJournal(dir, cfg.GroupCommit); err != nil {
		return nil, err
	}
	return r, nil
}

// buildMissingCatalog builds the catalog of a warehouse that has none yet (a receiver started before the first
// run), before the receiver takes events: its commits then rebuild only the views of finops_business_events. When
// a run holds the warehouse, that run builds it.
func (r *Receiver) buildMissingCatalog(ctx context.Context) {
	if _, err := os.Stat(filepath.Join(r.wh.Root(), catalog.FileName)); !errors.Is(err, os.ErrNotExist) {
		return
	}
	unlock, err := r.wh.Lock()
	if err != nil {
		return
	}
	defer unlock()
	if err := catalog.BuildFrom(ctx, r.wh, Tables()); err != nil {
		r.cfg.Logger.Warn("could not build the catalog; the first commit builds it", "err", err)
	}
}

// loadCommitted reads the keys of the events the warehouse holds, from its committed snapshots (not from the
// catalog, whose views may lag the last commit by a commit interval).
func (r *Receiver) loadCommitted(ctx context.Context) error {
	db, err := catalog.Views(ctx, r.wh, []*table.Table{BusinessEventsTable})
	if err != nil {
		r.cfg.Logger.Warn("could not read the committed business events; F&O's retries of them will land again (the views show each once)", "err", err)
		return nil
	}
	defer db.Close()
	rows, err := db.QueryContext(ctx, `SELECT environment, business_event_id, control_number, received_at FROM finops_business_events
		WHERE received_at >= $1`, r.cfg.Now().Add(-DedupWindow).UTC())
	if err != nil {
		return nil // the table does not exist yet
	}
	defer rows.Close()
	for rows.Next() {
		var env, id, cn string
		var at time.Time
		if err := rows.Scan(&env, &id, &cn, &at); err != nil {
			return fmt.Errorf("reading the committed events: %w", err)
		}
		k := env + "|" + id + "|" + cn
		r.seen[k], r.committed[k] = at, at
	}
	return rows.Err()
}

// Stats returns the counters.
func (r *Receiver) Stats() EventsStats {
	return EventsStats{Accepted: r.accepted.Load(), Duplicates: r.duplicates.Load(), Malformed: r.malformed.Load(),
		Unauthorized: r.unauthorized.Load(), TooLarge: r.tooLarge.Load(), WrongType: r.wrongType.Load(),
		Committed: r.committedN.Load(), ActionFailures: r.actionFailures.Load(), Journaled: r.pending.Load()}
}

// CallbackPath is the path F&O posts an environment's events to.
func CallbackPath(env, secret string) string { return "/finops/events/" + env + "/" + secret }

// ServeHTTP takes POST /finops/events/{environment}/{secret}; GET /healthz answers the counters.
func (r *Receiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	if req.URL.Path == "/healthz" && req.Method == http.MethodGet {
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(r.Stats())
		return
	}
	rest, ok := strings.CutPrefix(req.URL.Path, "/finops/events/")
	name, secret, _ := strings.Cut(rest, "/")
	env := r.envs[name]
	if !ok || env == nil {
		http.Error(w, "no such callback path", http.StatusNotFound)
		return
	}
	want := r.secrets[name].current()
	if len(want) == 0 || subtle.ConstantTimeCompare([]byte(secret), want) != 1 {
		r.unauthorized.Add(1)
		// Logged without the secret: only the environment and where the request came from.
		r.cfg.Logger.Warn("business event refused: wrong or missing secret", "environment", name, "remote", req.RemoteAddr)
		http.Error(w, "wrong or missing secret in the callback URL", http.StatusUnauthorized)
		return
	}
	if req.Method != http.MethodPost {
		w.Header().Set("Allow", "POST")
		http.Error(w, "POST a business event", http.StatusMethodNotAllowed)
		return
	}
	if ct := req.Header.Get("Content-Type"); !isJSON(ct) {
		r.wrongType.Add(1)
		r.cfg.Logger.Warn("business event refused: not application/json", "environment", name, "content_type", ct, "remote", req.RemoteAddr)
		http.Error(w, fmt.Sprintf("Content-Type %q: a business event is application/json", ct), http.StatusUnsupportedMediaType)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, req.Body, r.cfg.MaxBody))
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &tooBig):
		r.tooLarge.Add(1)
		http.Error(w, fmt.Sprintf("the body is over %d bytes", r.cfg.MaxBody), http.StatusRequestEntityTooLarge)
		return
	case err != nil:
		r.malformed.Add(1)
		http.Error(w, "reading the body: "+err.Error(), http.StatusBadRequest)
		return
	}
	e, err := businessevents.Parse(name, body, r.cfg.Now())
	if err != nil {
		// Refused before it is journaled: nothing of it reaches the warehouse. F&O keeps it in its business events
		// error log (Download payload), so the reason is logged, not the body.
		r.malformed.Add(1)
		r.cfg.Logger.Warn("business event refused", "environment", name, "bytes", len(body), "reason", err.Error(), "remote", req.RemoteAddr)
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	key := e.Key()
	r.mu.Lock()
	r.arrived(e) // a retry is an arrival too: the endpoint works
	_, dup := r.seen[key]
	if !dup {
		r.seen[key] = e.ReceivedAt // a retry racing this request is a duplicate; if journaling fails, it is forgotten again
	}
	r.mu.Unlock()
	if dup {
		r.duplicates.Add(1)
		w.WriteHeader(http.StatusOK) // F&O stops retrying: the event is already kept
		return
	}
	if err := r.journal.Append(e); err != nil {
		r.mu.Lock()
		delete(r.seen, key)
		r.mu.Unlock()
		r.cfg.Logger.Error("could not journal a business event: F&O will retry it", "environment", name, "err", err)
		http.Error(w, "could not store the event; retry", http.StatusServiceUnavailable)
		return
	}
	r.accepted.Add(1)
	if r.pending.Add(1) >= int64(r.cfg.CommitEvents) {
		select {
		case r.kick <- struct{}{}:
		default:
		}
	}
	w.WriteHeader(http.StatusAccepted)
}

// Run commits every CommitEvery, or when CommitEvents are journaled, until ctx ends; then it commits what is
// journaled (with time of its own) and closes the journal.
func (r *Receiver) Run(ctx context.Context) error {
	t := time.NewTicker(r.cfg.CommitEvery)
	defer t.Stop()
	if r.pending.Load() > 0 {
		r.commitLogged(ctx, true) // what a killed receiver left
	}
	for {
		views := true
		select {
		case <-ctx.Done():
			fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
			defer cancel()
			err := r.Commit(fctx)
			return errors.Join(err, r.journal.Close(), r.views.Close())
		case <-t.C:
		case <-r.kick:
			// A commit for the journal's size: the views follow at the next tick, so that they are rebuilt once
			// per CommitEvery however fast events come.
			views = false
		}
		r.commitLogged(ctx, views)
	}
}

func (r *Receiver) commitLogged(ctx context.Context, views bool) {
	// A commit that has begun finishes even when a signal comes meanwhile: cut short, it could leave the catalog
	// half rebuilt; the signal is served right after it.
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Minute)
	defer cancel()
	if err := r.commit(cctx, views); err != nil {
		r.cfg.Logger.Error("business events not committed yet; they stay journaled and are retried", "err", err)
	}
}

// Commit lands every closed journal segment in the warehouse (each distinct event once), rebuilds the catalog's
// views of finops_business_events, runs the routes' actions, and removes a segment once its events are committed
// and their actions done.
func (r *Receiver) Commit(ctx context.Context) error { return r.commit(ctx, true) }

// commit is Commit; without views, the catalog's views are left for a later commit (the events are committed all
// the same, and the receiver's memory of them does not depend on the views).
func (r *Receiver) commit(ctx context.Context, views bool) error {
	err := r.commitJournal(ctx, views)
	if views && r.viewsStale.Load() { // events an earlier commit left out of the views (whatever this one's actions did)
		unlock, lerr := r.wh.Lock()
		if lerr != nil {
			return errors.Join(err, fmt.Errorf("locking the warehouse to rebuild the views (a run holds it; retried at the next commit): %w", lerr))
		}
		defer unlock()
		return errors.Join(err, r.rebuildViews(ctx))
	}
	return err
}

// rebuildViews replaces the catalog's views of finops_business_events (the warehouse lock held).
func (r *Receiver) rebuildViews(ctx context.Context) error {
	// Only this table's views change: the others are kept as the last build left them.
	if err := r.views.Rebuild(ctx, r.wh, Tables(), []*table.Table{BusinessEventsTable}); err != nil {
		return fmt.Errorf("rebuilding the catalog: %w", err)
	}
	r.viewsStale.Store(false)
	return nil
}

// commitJournal lands the closed segments (rebuilding the views with views) and runs their actions.
func (r *Receiver) commitJournal(ctx context.Context, views bool) error {
	r.forgetOld()
	segs, err := r.journal.Rotate()
	if err != nil || len(segs) == 0 {
		return err
	}
	type segment struct {
		path     string
		events   []*businessevents.Event
		rejected []businessevents.Rejected
	}
	var all []segment
	var fresh []*businessevents.Event
	var freshKeys []string
	inBatch := map[string]bool{}
	for _, s := range segs {
		evs, rej, err := r.journal.Read(s) // the segments this receiver wrote are not parsed again
		if err != nil {
			return err
		}
		all = append(all, segment{s, evs, rej})
		r.mu.Lock()
		for _, e := range evs {
			k := e.Key()
			if _, done := r.committed[k]; !done && !inBatch[k] {
				fresh, freshKeys = append(fresh, e), append(freshKeys, k)
				inBatch[k] = true
			}
		}
		r.mu.Unlock()
	}
	if len(fresh) > 0 {
		if err := r.land(ctx, fresh, views); err != nil {
			return err
		}
		r.mu.Lock()
		for i, e := range fresh {
			r.committed[freshKeys[i]] = e.ReceivedAt
		}
		r.mu.Unlock()
		r.committedN.Add(int64(len(fresh)))
		r.pending.Add(-int64(len(fresh)))
		st := r.Stats()
		r.cfg.Logger.Info("business events committed", "events", len(fresh), "accepted", st.Accepted, "duplicates", st.Duplicates,
			"refused", st.Malformed+st.Unauthorized+st.TooLarge+st.WrongType, "committed", st.Committed)
	}
	r.writeStatus()
	// The routes: every event of the commit is routed, and each tenant is refreshed once, whatever the number of
	// its events and segments.
	jobs := routed{}
	needs := make([][]string, len(all)) // per segment, the tenants whose refresh it waits for
	for i, seg := range all {
		needs[i] = r.route(seg.events, jobs)
	}
	failedTenants := r.refresh(ctx, jobs)
	var failed error
	for _, err := range failedTenants {
		failed = errors.Join(failed, err)
	}
	for i, seg := range all {
		var segErr error
		for _, t := range needs[i] {
			segErr = errors.Join(segErr, failedTenants[t])
		}
		if segErr != nil {
			r.actionFailures.Add(1)
			// The segment stays, with its error beside it: its actions are retried at the next commit.
			werr := warehouse.WriteAtomic(seg.path+".error", func(w io.Writer) error {
				_, err := fmt.Fprintf(w, "%s %v\n", r.cfg.Now().UTC().Format(time.RFC3339), segErr)
				return err
			})
			if werr != nil {
				r.cfg.Logger.Warn("could not record the action's error beside the journal", "err", werr)
			}
			continue
		}
		if err := businessevents.SetAside(filepath.Join(r.cfg.Dir, "rejected"), seg.path, seg.rejected); err != nil {
			return err
		}
		if len(seg.rejected) > 0 {
			r.cfg.Logger.Warn("journaled lines that are no business event set aside", "segment", filepath.Base(seg.path),
				"lines", len(seg.rejected), "dir", filepath.Join(r.cfg.Dir, "rejected"), "first", seg.rejected[0].Reason)
		}
		if err := r.journal.Remove(seg.path); err != nil {
			return fmt.Errorf("removing a committed journal segment: %w", err)
		}
		os.Remove(seg.path + ".error")
	}
	return failed
}

// arrived notes when the environment's last event came, for `seatlake check` (r.mu held).
func (r *Receiver) arrived(e *businessevents.Event) {
	if e.ReceivedAt.After(r.last[e.Environment]) {
		r.last[e.Environment] = e.ReceivedAt
	}
}

// DedupWindow is how long the receiver remembers an event's key to answer F&O's retries as duplicates: memory is
// bounded by a week of events, not by every event ever received.
const DedupWindow = 7 * 24 * time.Hour

// forgetOld drops the keys of events received before the window; journaled events are kept whatever their age.
func (r *Receiver) forgetOld() {
	cut := r.cfg.Now().Add(-DedupWindow)
	r.mu.Lock()
	defer r.mu.Unlock()
	for k, at := range r.committed {
		if at.Before(cut) {
			delete(r.committed, k)
			delete(r.seen, k)
		}
	}
}

// land writes the events to finops_business_events, one file per tenant, under the warehouse lock, and with views
// rebuilds the catalog's views of the table (else a later commit does).
func (r *Receiver) land(ctx context.Context, evs []*businessevents.Event, views bool) error {
	unlock, err := r.wh.Lock()
	if err != nil {
		return fmt.Errorf("locking the warehouse (a run holds it; retried at the next commit): %w", err)
	}
	defer unlock()
	byTenant := map[string][]*businessevents.Event{}
	for _, e := range evs {
		t := r.envs[e.Environment].Tenant.TenantID
		byTenant[t] = append(byTenant[t], e)
	}
	now := r.cfg.Now().UTC()
	for tenant, list := range byTenant {
		// Committed as a run's raw data is: staged, then made visible at once with a commit marker.
		id := "events-" + newRunID(now)
		txn, err := r.wh.Begin(id, tenant, now, warehouse.WriterOptions{})
		if err != nil {
			return fmt.Errorf("committing business events: %w", err)
		}
		if err := r.write(ctx, txn, tenant, id, now, list); err != nil {
			txn.Abort()
			return fmt.Errorf("writing finops_business_events: %w", err)
		}
		if err := txn.Commit(ctx); err != nil {
			txn.Abort()
			return fmt.Errorf("committing business events: %w", err)
		}
		r.viewsStale.Store(true)
	}
	if views {
		return r.rebuildViews(ctx)
	}
	return nil
}

// write adds the events to the transaction's finops_business_events.
func (r *Receiver) write(ctx context.Context, txn *warehouse.Txn, tenant, runID string, now time.Time, list []*businessevents.Event) error {
	tw, err := txn.Writer(BusinessEventsTable)
	if err != nil {
		return err
	}
	bt := table.NewBatcher(memory.DefaultAllocator, BusinessEventsTable, 1024, tw)
	defer bt.Release()
	for _, e := range list {
		table.NewProvenance(bt.Builder(), tenant, runID, now).Append()
		bt.String("business_event_id").Append(e.BusinessEventID)
		bt.String("control_number").Append(e.ControlNumber)
		appendOpt(bt.String("event_id"), e.EventID)
		if e.EventTime.IsZero() {
			bt.Timestamp("event_time").AppendNull()
		} else {
			bt.Timestamp("event_time").Append(arrow.Timestamp(e.EventTime.UnixMicro()))
		}
		appendOpt(bt.String("legal_entity"), e.LegalEntity)
		bt.String("environment").Append(e.Environment)
		appendOpt(bt.String("environment_url"), r.envs[e.Environment].URL)
		bt.Timestamp("received_at").Append(arrow.Timestamp(e.ReceivedAt.UnixMicro()))
		bt.Int32("major_version").Append(e.MajorVersion)
		bt.Int32("minor_version").Append(e.MinorVersion)
		appendOpt(bt.String("user_id"), e.UserID)
		bt.String("payload").Append(string(e.Payload))
		if err := bt.RowDone(ctx); err != nil {
			return err
		}
	}
	return bt.Flush(ctx)
}

// routed is what the routes ask of a set of events: the users to refresh, per tenant (a refresh re-reads every F&O
// environment of the tenant), with the environment they came from.
type routed map[string]*refreshJob

type refreshJob struct {
	env   EventsEnv
	users []string
}

// route logs the events the routes say to log and adds the refreshes they ask for to jobs; it returns the tenants
// whose refresh these events need.
func (r *Receiver) route(evs []*businessevents.Event, jobs routed) []string {
	var tenants []string
	for _, e := range evs {
		for _, rt := range r.cfg.Routes {
			if !rt.matches(e) {
				continue
			}
			for _, a := range rt.Actions {
				switch a {
				case "log":
					r.cfg.Logger.Info("business event", "environment", e.Environment, "business_event_id", e.BusinessEventID,
						"control_number", e.ControlNumber, "legal_entity", e.LegalEntity, "user_id", e.UserID)
				case "refresh-user":
					// The refresh re-reads the environment whole, so it runs for an alert that names no user too;
					// the user is what the log and the stored row say.
					if e.RecIDShaped() {
						r.cfg.Logger.Warn("an alert on SecurityUserRole whose KeyValue1 is all digits: if it is the assignment's RecId and not a user id, user_id holds that number; the environment is refreshed whole either way",
							"environment", e.Environment, "control_number", e.ControlNumber, "key_value1", e.UserID)
					}
					env := r.envs[e.Environment]
					job := jobs[env.Tenant.TenantID]
					if job == nil {
						job = &refreshJob{env: *env}
						jobs[env.Tenant.TenantID] = job
					}
					if e.UserID != "" && !slices.Contains(job.users, e.UserID) {
						job.users = append(job.users, e.UserID)
					}
					if !slices.Contains(tenants, env.Tenant.TenantID) {
						tenants = append(tenants, env.Tenant.TenantID)
					}
				}
			}
		}
	}
	return tenants
}

// refresh runs each tenant's refresh once; it returns the tenants whose refresh failed, with the error.
func (r *Receiver) refresh(ctx context.Context, jobs routed) map[string]error {
	tenants := make([]string, 0, len(jobs))
	for t := range jobs {
		tenants = append(tenants, t)
	}
	sort.Strings(tenants)
	failed := map[string]error{}
	for _, t := range tenants {
		if r.cfg.Refresh == nil {
			continue
		}
		job := jobs[t]
		if err := r.cfg.Refresh(ctx, job.env, job.users); err != nil {
			failed[t] = fmt.Errorf("refresh-user for tenant %s (%d users): %w", t, len(job.users), err)
		}
	}
	return failed
}

// EventsStatus is what `seatlake check` reads of a receiver: per environment, when the last event arrived.
type EventsStatus struct {
	UpdatedAt    time.Time            `json:"updated_at"`
	Environments map[string]time.Time `json:"last_event_at"`
}

// StatusPath is the receiver's status file.
func StatusPath(warehouseRoot string) string {
	return filepath.Join(EventsDir(warehouseRoot), "status.json")
}

func (r *Receiver) writeStatus() {
	r.mu.Lock()
	st := EventsStatus{UpdatedAt: r.cfg.Now().UTC(), Environments: map[string]time.Time{}}
	for k, v := range r.last {
		st.Environments[k] = v
	}
	r.mu.Unlock()
	err := warehouse.WriteAtomic(filepath.Join(r.cfg.Dir, "status.json"), func(w io.Writer) error { return json.NewEncoder(w).Encode(st) })
	if err != nil {
		r.cfg.Logger.Warn("could not write the receiver's status", "err", err)
	}
}

// ReadEventsStatus reads the receiver's status file.
func ReadEventsStatus(warehouseRoot string) (EventsStatus, error) {
	return readEventsStatus(StatusPath(warehouseRoot))
}

func readEventsStatus(path string) (EventsStatus, error) {
	var st EventsStatus
	b, err := os.ReadFile(path)
	if err != nil {
		return st, err
	}
	return st, json.Unmarshal(b, &st)
}

// EventsEnvName is an F&O environment's name in its callback path: the first label of its host
// (contoso-prod for https://contoso-prod.operations.dynamics.com), or finops-<port> for an address.
func EventsEnvName(envURL string) string {
	u, err := url.Parse(envURL)
	if err != nil || u.Host == "" {
		return strings.ToLower(envURL)
	}
	h := u.Hostname()
	if net.ParseIP(h) != nil || !strings.Contains(h, ".") {
		return "finops-" + cmp.Or(u.Port(), "443")
	}
	return strings.ToLower(h[:strings.IndexByte(h, '.')])
}
