package pipelines

import (
	"cmp"
	"context"
	"database/sql"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"log/slog"
	"maps"
	"os"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/seatlake/seatlake/load/catalog"
	"github.com/seatlake/seatlake/load/target"
	"github.com/seatlake/seatlake/load/warehouse"
)

// ErrNotComplete means the tenant's latest run was not complete: a sync refuses it unless allowed.
var ErrNotComplete = errors.New("the latest run was not complete")

// SyncConfig configures a sync of the warehouse's latest committed marts.
type SyncConfig struct {
	Warehouse string
	Tenants   []string // every tenant with marts when empty
	// Names are the tenants' names by id (the config file's); a tenant without one is named as its latest run
	// recorded it, else by its id.
	Names        map[string]string
	DryRun       bool
	AllowPartial bool
	// Target is the registered target opened for this sync (OpenTarget).
	Target *OpenedTarget
	Logger *slog.Logger
	Now    func() time.Time
}

// SyncResult is one tenant's sync.
type SyncResult struct {
	SyncID, TenantID, TenantName, Status, ExecutionID string
	Sent, Counts                                      map[string]int
	// Diff is, per selector, what changed against the last successful sync's record of what it sent: new,
	// changed and gone objects (a dry run's answer; a real sync fills it too).
	Diff map[string]map[string]int
	Err  error
}

// syncTenants syncs each tenant into the target name (opened as sender) and records each sync in syncs/ before
// returning, whatever happened.
func syncTenants(ctx context.Context, cfg SyncConfig, name string, sender target.Sender) ([]SyncResult, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	wh, release, err := openLocked(ctx, cfg.Warehouse, cfg.Logger) // a sync and a run never interleave their commits
	if err != nil {
		return nil, err
	}
	defer release()
	views := &syncViews{root: wh.Root()}
	defer views.close()
	db, err := views.open(ctx)
	if err != nil {
		return nil, err
	}
	refs, err := syncRefs(ctx, cfg, wh, db)
	if err != nil {
		return nil, err
	}
	views.close() // each tenant opens the views again for its own reads
	if p, ok := sender.(target.Preflighter); ok && !cfg.DryRun {
		var ts []target.Tenant
		for _, r := range refs {
			ts = append(ts, target.Tenant{ID: r.ID, Name: r.Name})
		}
		if err := p.Preflight(ts); err != nil {
			return nil, invalidConfig{err}
		}
	}
	s := tenantSync{cfg: cfg, name: name, sender: sender, wh: wh, views: views}
	var out []SyncResult
	for _, ref := range refs {
		out = append(out, s.one(ctx, ref))
	}
	debug.FreeOSMemory() // the syncs' memory back before the rebuild reads the commit log again (the views are closed: each export closes them)
	if err := catalog.Build(ctx, wh.Root(), Tables()); err != nil {
		cfg.Logger.Error("could not rebuild the DuckDB catalog", "err", err)
	}
	return out, nil
}

// syncDuckDB are the DuckDB settings of a sync's reads: a sync's queries stream their rows into files (newMartRows),
// which needs little memory, and one thread keeps DuckDB's own buffers small (its memory grows with its threads).
const syncDuckDB = "SET memory_limit = '128MB'; SET threads = 1; SET enable_external_file_cache = false"

// syncViews are the warehouse's DuckDB views, open only while a sync reads them: a tenant's rows are exported
// (newMartRows) and the views closed before they are sent, so that DuckDB's memory (about 70 MB after exporting
// 100,000 people) is handed back before the sending and the commit of what was sent, and two DuckDB databases
// (the views' rebuild opens another) are never open at once.
type syncViews struct {
	root string
	db   *sql.DB
}

// open opens the views, or returns those open.
func (v *syncViews) open(ctx context.Context) (*sql.DB, error) {
	if v.db != nil {
		return v.db, nil
	}
	db, err := catalog.Open(v.root)
	if err != nil {
		return nil, fmt.Errorf("%w: run `seatlake run` first", err)
	}
	if _, err := db.ExecContext(ctx, syncDuckDB); err != nil {
		db.Close()
		return nil, fmt.Errorf("setting DuckDB's memory limit: %w", err)
	}
	v.db = db
	return db, nil
}

// close closes the views and hands the memory of DuckDB and of what was read back to the OS; closing closed views
// does nothing.
func (v *syncViews) close() {
	if v.db == nil {
		return
	}
	v.db.Close()
	v.db = nil
	debug.FreeOSMemory()
}

// syncRefs are the tenants to sync: cfg's, or every tenant with marts, named as the config file or their latest
// run names them.
func syncRefs(ctx context.Context, cfg SyncConfig, wh *warehouse.Warehouse, db *sql.DB) ([]TenantRef, error) {
	tenants := cfg.Tenants
	if len(tenants) == 0 {
		var err error
		if tenants, err = catalog.Tenants(ctx, db, "license_usage"); err != nil {
			return nil, catalog.Explain(wh.Root(), err)
		}
	}
	if len(tenants) == 0 {
		return nil, fmt.Errorf("%w: the warehouse has no marts yet: run `seatlake run` first", ErrInvalidConfig)
	}
	recorded, err := tenantNames(ctx, db)
	if err != nil {
		return nil, err
	}
	refs := make([]TenantRef, len(tenants))
	for i, t := range tenants {
		refs[i] = TenantRef{Name: cmp.Or(cfg.Names[t], recorded[t], t), ID: t}
	}
	return refs, nil
}

// tenantSync syncs one tenant after another to one target.
type tenantSync struct {
	cfg    SyncConfig
	name   string // syncs.target
	sender target.Sender
	wh     *warehouse.Warehouse
	views  *syncViews
}

// sentKey is the state key of what the target's last successful sync sent (per selector, each object's identity
// and a hash of its fields).
func (s tenantSync) sentKey() string { return strings.ReplaceAll(s.name, "-", "_") + "_sent" }

// one syncs one tenant and records the sync, whatever happened: a sync that fails says so in its record.
func (s tenantSync) one(ctx context.Context, ref TenantRef) SyncResult {
	start := s.cfg.Now().UTC()
	res := SyncResult{SyncID: newRunID(start), TenantID: ref.ID, TenantName: ref.Name, Status: "failed", Sent: map[string]int{}}
	res.Err = s.send(ctx, start, ref, &res)
	if err := writeSync(ctx, s.wh, s.name, res, s.cfg.DryRun, start, s.cfg.Now().UTC()); err != nil {
		s.cfg.Logger.Error("could not record the sync", "err", err)
		if res.Err == nil {
			res.Err, res.Status = fmt.Errorf("recording the sync: %w", err), "failed"
		}
	}
	return res
}

// send reads the tenant's latest marts, diffs them against what was sent last and, unless a dry run, sends them
// and remembers what was sent.
func (s tenantSync) send(ctx context.Context, start time.Time, ref TenantRef, res *SyncResult) error {
	t := res.TenantID
	// What the last sync sent, read first, and the memory its reading took handed back before DuckDB opens.
	var prev sentPrints
	if raw, ok, err := s.wh.StateContext(ctx, t, s.sentKey()); err == nil && ok {
		prev = readPrints(raw)
	}
	debug.FreeOSMemory()
	dir, err := os.MkdirTemp("", "seatlake-sync-")
	if err != nil {
		return fmt.Errorf("reading the marts: %w", err)
	}
	defer os.RemoveAll(dir)
	rows, err := s.export(ctx, t, dir)
	if err != nil {
		return err
	}
	res.Sent = maps.Clone(rows.Sizes())
	if s.cfg.DryRun {
		now, err := rows.fingerprints(ctx)
		if err != nil {
			return err
		}
		res.Diff, res.Status = diff(prev, now), "succeeded"
		return nil
	}
	var r target.Result
	if ss, ok := s.sender.(target.StreamSender); ok {
		r, err = ss.SendRows(ctx, s.env(ref), rows)
	} else {
		var data target.Data
		if data, err = rows.data(ctx); err != nil {
			return err
		}
		r, err = s.sender.Send(ctx, s.env(ref), data)
	}
	// The diff against the last sync: the rows' fingerprints, taken as the target read them (the rows it did not
	// read to their end are read again for it).
	now, perr := rows.fingerprints(ctx)
	if perr == nil {
		res.Diff = diff(prev, now)
	}
	res.ExecutionID, res.Counts = r.ExecutionID, r.Counts
	if err == nil {
		err = shortfall(rows, r)
	}
	if err != nil {
		if errors.Is(err, target.ErrRowsRefused) {
			res.Sent, res.Status = r.Sent, "partial" // the target took the other rows
		}
		if errors.Is(err, target.ErrSetUp) {
			err = invalidConfig{err}
		}
		return err
	}
	if perr != nil {
		return fmt.Errorf("the target took every row, but what was sent could not be fingerprinted for the next sync's diff: %w", perr)
	}
	res.Sent, res.Status = r.Sent, "succeeded"
	debug.FreeOSMemory() // the sending's garbage handed back before what was sent is committed
	return s.remember(ctx, res.SyncID, t, start, now)
}

// export checks that the tenant's latest run was complete (unless partial runs are allowed) and exports its rows
// into dir, then closes the views: the rows are read from dir as they are sent.
func (s tenantSync) export(ctx context.Context, tenant, dir string) (*martRows, error) {
	defer s.views.close()
	db, err := s.views.open(ctx)
	if err != nil {
		return nil, err
	}
	var status string
	err = db.QueryRowContext(ctx, "SELECT status FROM runs WHERE tenant_id = $1 ORDER BY started_at DESC LIMIT 1", tenant).Scan(&status)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("reading the latest run: %w", err)
	}
	if status != StatusSucceeded && !s.cfg.AllowPartial {
		return nil, fmt.Errorf("%w (status %q): sync after a complete run, or pass --allow-partial", ErrNotComplete, status)
	}
	return newMartRows(ctx, db, tenant, dir)
}

// env is what one Send gets: the tenant, and its note kept beside the syncs.
func (s tenantSync) env(ref TenantRef) target.Env {
	marker := warehouse.ExecutionMarker(s.wh.Root(), ref.ID, s.name)
	return target.Env{Tenant: target.Tenant{ID: ref.ID, Name: ref.Name}, Logger: s.cfg.Logger,
		Note: func() string {
			b, _ := os.ReadFile(marker)
			return string(b)
		},
		SetNote: func(text string) error {
			if text == "" {
				if err := os.Remove(marker); err != nil && !errors.Is(err, os.ErrNotExist) {
					return err
				}
				return nil
			}
			return warehouse.WriteAtomic(marker, func(w io.Writer) error { _, err := io.WriteString(w, text+"\n"); return err })
		}}
}

// shortfall fails a send that returned no error yet did not take every row, or counted errors: a row a target
// skipped or emptied is never a success.
func shortfall(data target.Rows, r target.Result) error {
	var short []string
	took := 0
	for _, t := range target.Types() {
		n, want := r.Sent[t.Selector], data.Sizes()[t.Selector]
		took += n
		if n < want {
			short = append(short, fmt.Sprintf("took %d of the %d %s rows", n, want, t.Name))
		}
		if e := r.Counts[t.Name+":errors"]; e > 0 {
			short = append(short, fmt.Sprintf("counted %d %s errors", e, t.Name))
		}
	}
	if len(short) == 0 {
		return nil
	}
	if took > 0 {
		return fmt.Errorf("%w: it %s", target.ErrRowsRefused, strings.Join(short, ", "))
	}
	return fmt.Errorf("the target %s", strings.Join(short, ", "))
}

// remember commits what was sent, like a run's state: the next dry run diffs against it.
func (s tenantSync) remember(ctx context.Context, syncID, tenant string, start time.Time, sent sentPrints) error {
	b := sent.encode()
	txn, err := s.wh.Begin(syncID+"-sent", tenant, start, warehouse.WriterOptions{})
	if err != nil {
		return fmt.Errorf("recording what was sent: %w", err)
	}
	txn.PutState(s.sentKey(), b)
	if err := txn.Commit(ctx); err != nil {
		txn.Abort()
		return fmt.Errorf("recording what was sent: %w", err)
	}
	return nil
}

// sentPrints is, per selector, each object sent: a hash of its identity and a hash of everything sent for it.
type sentPrints map[string]map[uint64]uint64

// fingerprints are the objects of d as sentPrints.
func fingerprints(d target.Data) sentPrints {
	out := sentPrints{"persons": make(map[uint64]uint64, len(d.Persons)), "subscriptions": make(map[uint64]uint64, len(d.Subscriptions)),
		"assignments": make(map[uint64]uint64, len(d.Assignments))}
	for _, p := range d.Persons {
		out["persons"][hash64(p.ID)] = valueHash(p)
	}
	for _, s := range d.Subscriptions {
		out["subscriptions"][hash64(s.SkuID)] = valueHash(s)
	}
	for _, a := range d.Assignments {
		out["assignments"][hash64(a.UserID+"|"+a.SkuID)] = valueHash(a)
	}
	return out
}

func hash64(s string) uint64 {
	f := fnv.New64a()
	io.WriteString(f, s)
	return f.Sum64()
}

// valueHash is the hash of an object's JSON form.
func valueHash(v any) uint64 {
	b, _ := json.Marshal(v)
	f := fnv.New64a()
	f.Write(b)
	return f.Sum64()
}

// printsFormat marks the state's compact form: per selector, base64 of 16 bytes per object (the identity's hash,
// then the value's, big-endian), sorted. 150,000 objects take 3.2 MB, where a JSON map of ids took 20 MB, and the
// commit log, which every reader of the warehouse reads, holds one such state per sync.
const printsFormat = "fnv64a-pairs"

// encode is the state's compact form, written into one buffer: the state is megabytes (16 bytes an object), and
// each copy of it is one more while the sync commits it.
func (p sentPrints) encode() []byte {
	sels := slices.Sorted(maps.Keys(p))
	size := len(`{"format":"` + printsFormat + `"}`)
	for _, sel := range sels {
		size += len(`,"":""`) + len(sel) + base64.StdEncoding.EncodedLen(16*len(p[sel]))
	}
	out := make([]byte, 0, size)
	out = append(out, `{"format":"`+printsFormat+`"`...)
	var bin []byte
	for _, sel := range sels {
		objs := p[sel]
		keys := slices.Sorted(maps.Keys(objs))
		bin = bin[:0]
		for _, k := range keys {
			bin = binary.BigEndian.AppendUint64(bin, k)
			bin = binary.BigEndian.AppendUint64(bin, objs[k])
		}
		out = append(out, `,"`+sel+`":"`...) // selectors are plain names
		out = base64.StdEncoding.AppendEncode(out, bin)
		out = append(out, '"')
	}
	return append(out, '}')
}

// readPrints reads a state in the compact form, or in the earlier one (per selector, each object's identity and the
// base-36 hash of its JSON form: the same value hash, so a diff across the change is exact). A state it cannot
// read is taken as none: everything is new.
func readPrints(raw []byte) sentPrints {
	var compact map[string]string
	if json.Unmarshal(raw, &compact) == nil && compact["format"] == printsFormat {
		out := sentPrints{}
		for sel, enc := range compact {
			if sel == "format" {
				continue
			}
			b, err := base64.StdEncoding.DecodeString(enc)
			if err != nil || len(b)%16 != 0 {
				return nil
			}
			objs := make(map[uint64]uint64, len(b)/16)
			for i := 0; i < len(b); i += 16 {
				objs[binary.BigEndian.Uint64(b[i:])] = binary.BigEndian.Uint64(b[i+8:])
			}
			out[sel] = objs
		}
		return out
	}
	var old map[string]map[string]string
	if json.Unmarshal(raw, &old) != nil {
		return nil
	}
	out := sentPrints{}
	for sel, objs := range old {
		out[sel] = make(map[uint64]uint64, len(objs))
		for id, h := range objs {
			v, _ := strconv.ParseUint(h, 36, 64)
			out[sel][hash64(id)] = v
		}
	}
	return out
}

// diff counts, per selector, the objects new, changed and gone between two fingerprints.
func diff(prev, now sentPrints) map[string]map[string]int {
	out := map[string]map[string]int{}
	for sel, objs := range now {
		c := map[string]int{"new": 0, "changed": 0, "gone": 0}
		for id, hsh := range objs {
			switch old, ok := prev[sel][id]; {
			case !ok:
				c["new"]++
			case old != hsh:
				c["changed"]++
			}
		}
		for id := range prev[sel] {
			if _, ok := objs[id]; !ok {
				c["gone"]++
			}
		}
		out[sel] = c
	}
	return out
}
