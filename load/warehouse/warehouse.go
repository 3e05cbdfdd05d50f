package warehouse

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// ErrLocked is returned (wrapped) by Lock when another run holds the warehouse.
var ErrLocked = errors.New("warehouse locked")

// Warehouse is a warehouse directory. Its methods are safe for concurrent use.
type Warehouse struct {
	root string
	log  *slog.Logger
	// failpoint, set only by tests, is called at each step of a commit; a non-nil error stops the commit right
	// there, leaving everything on disk as a killed process would.
	failpoint func(step string) error
}

const (
	dirStaging = "_staging"
	dirCommits = "_commits"
	dirState   = "_state"
	dirRuns    = "runs"
	tmpPrefix  = ".tmp-" // files being written by writeFileAtomic; never read, removed by Open
)

// Open prepares root (creating it if needed) and finishes what a crashed run left: a commit whose marker was
// written is applied (rolled forward); the staging of a run without a marker is deleted. Recovery runs only if
// the warehouse lock is free: a live run's staging is its work in progress, not debris.
func Open(ctx context.Context, root string, logger *slog.Logger) (*Warehouse, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	abs, err := filepath.Abs(root)
	if err != nil {
		return nil, fmt.Errorf("resolving warehouse path %s: %w", root, err)
	}
	for _, d := range []string{abs, filepath.Join(abs, dirStaging), filepath.Join(abs, dirCommits), filepath.Join(abs, dirState)} {
		if err := os.MkdirAll(d, DirMode); err != nil {
			return nil, fmt.Errorf("creating warehouse directory: %w", err)
		}
	}
	w := &Warehouse{root: abs, log: logger}
	unlock, err := w.Lock()
	if errors.Is(err, ErrLocked) {
		w.log.Info("another run holds the warehouse; leaving recovery to it", "warehouse", abs)
		return w, nil
	}
	if err != nil {
		return nil, err
	}
	defer unlock()
	if err := w.recover(ctx); err != nil {
		return nil, fmt.Errorf("recovering warehouse %s: %w", abs, err)
	}
	return w, nil
}

// Root is the warehouse's absolute path.
func (w *Warehouse) Root() string { return w.root }

// Lock takes the warehouse's exclusive lock (<root>/_state/.lock): one run at a time. It does not wait: when
// another process, or another Lock in this one, holds it, the error wraps ErrLocked. The lock dies with the
// process, so a killed run never leaves it behind.
func (w *Warehouse) Lock() (unlock func() error, err error) {
	path := filepath.Join(w.root, dirState, ".lock")
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, FileMode)
	if err != nil {
		return nil, fmt.Errorf("opening lock file: %w", err)
	}
	held, err := tryLock(f)
	if err != nil || !held {
		f.Close()
		if err != nil {
			return nil, fmt.Errorf("locking %s: %w", path, err)
		}
		return nil, fmt.Errorf("%w: another seatlake run is using the warehouse %s (lock %s)", ErrLocked, w.root, path)
	}
	return func() error {
		// Closing the file releases the lock; unlocking first only makes it explicit.
		uerr := unlockFile(f)
		return errors.Join(uerr, f.Close())
	}, nil
}

// LockWait takes the lock as Lock does, waiting up to max while another process holds it: the events receiver
// commits for a moment every half minute, and a nightly run, a sync or a reclaim starting then waits for it
// rather than failing. Past max, the error wraps ErrLocked.
func (w *Warehouse) LockWait(ctx context.Context, max time.Duration) (unlock func() error, err error) {
	deadline := time.Now().Add(max)
	logged := false
	for {
		unlock, err := w.Lock()
		if !errors.Is(err, ErrLocked) {
			return unlock, err
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("%w (waited %s)", err, max)
		}
		if !logged {
			w.log.Info("waiting for the warehouse lock: another seatlake process (a run, a sync, the events receiver) holds it", "warehouse", w.root, "up_to", max)
			logged = true
		}
		t := time.NewTimer(250 * time.Millisecond)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, ctx.Err()
		case <-t.C:
		}
	}
}

// LockPatience is how long a run, a sync, a reclaim or a marts recomputation waits for the warehouse lock.
const LockPatience = 2 * time.Minute

// State returns a stream's committed state; ok is false when none was ever committed.
func (w *Warehouse) State(tenantID, stream string) (value []byte, ok bool, err error) {
	if err := checkName("tenant id", tenantID); err != nil {
		return nil, false, err
	}
	if err := checkName("stream", stream); err != nil {
		return nil, false, err
	}
	b, err := os.ReadFile(w.statePath(tenantID, stream))
	if errors.Is(err, os.ErrNotExist) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("reading state %s: %w", stream, err)
	}
	return b, true, nil
}

func (w *Warehouse) statePath(tenantID, stream string) string {
	return filepath.Join(w.root, dirState, "tenant="+tenantID, stream+".json")
}

func (w *Warehouse) fail(step string) error {
	if w.failpoint == nil {
		return nil
	}
	return w.failpoint(step)
}

// manifest is the commit marker: everything applying a commit does, so that it can be redone after a crash.
type manifest struct {
	Version  int               `json:"version"`
	RunID    string            `json:"run_id"`
	TenantID string            `json:"tenant_id"`
	Created  time.Time         `json:"created"`
	Moves    []move            `json:"moves"`   // staged file -> final file, slash paths relative to the root
	Replace  []string          `json:"replace"` // snapshot partition dirs whose other files the commit removes
	State    map[string]string `json:"state"`   // stream -> value
}

type move struct {
	From string `json:"from"`
	To   string `json:"to"`
}

func (w *Warehouse) abs(rel string) string { return filepath.Join(w.root, filepath.FromSlash(rel)) }

func (w *Warehouse) recover(ctx context.Context) error {
	entries, err := os.ReadDir(filepath.Join(w.root, dirCommits))
	if err != nil {
		return fmt.Errorf("reading commit markers: %w", err)
	}
	var pending []*manifest
	for _, e := range entries {
		p := filepath.Join(w.root, dirCommits, e.Name())
		if strings.HasPrefix(e.Name(), tmpPrefix) {
			// A marker that never got its name: the run did not commit.
			if err := os.Remove(p); err != nil {
				return fmt.Errorf("removing unfinished marker %s: %w", p, err)
			}
			continue
		}
		if !strings.HasSuffix(e.Name(), ".json") {
			continue
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return fmt.Errorf("reading commit marker %s: %w", p, err)
		}
		var m manifest
		if err := json.Unmarshal(b, &m); err != nil {
			// Markers are renamed into place complete, so this is damage, not a crash; the data may be fine.
			return fmt.Errorf("commit marker %s is unreadable (%w): inspect it, or move it away to drop that run's commit", p, err)
		}
		pending = append(pending, &m)
	}
	// Oldest first: a later run's snapshot must win over an earlier one's of the same day.
	slices.SortFunc(pending, func(a, b *manifest) int {
		return cmp.Or(a.Created.Compare(b.Created), cmp.Compare(a.RunID, b.RunID))
	})
	for _, m := range pending {
		if err := ctx.Err(); err != nil {
			return err
		}
		w.log.Warn("finishing the commit of an interrupted run", "run_id", m.RunID, "files", len(m.Moves))
		if err := w.apply(m); err != nil {
			return fmt.Errorf("finishing the commit of run %s: %w", m.RunID, err)
		}
	}
	runs, err := os.ReadDir(filepath.Join(w.root, dirStaging))
	if err != nil {
		return fmt.Errorf("reading staging: %w", err)
	}
	for _, r := range runs {
		w.log.Warn("removing the files of a run that did not commit", "run_id", r.Name())
		if err := os.RemoveAll(filepath.Join(w.root, dirStaging, r.Name())); err != nil {
			return fmt.Errorf("removing staging of run %s: %w", r.Name(), err)
		}
	}
	// Temporary files of interrupted atomic writes (run summaries, state).
	for _, pattern := range []string{
		filepath.Join(w.root, dirRuns, "*", tmpPrefix+"*"),
		filepath.Join(w.root, "syncs", "*", tmpPrefix+"*"),
		filepath.Join(w.root, dirState, "*", tmpPrefix+"*"),
	} {
		tmps, _ := filepath.Glob(pattern)
		for _, t := range tmps {
			if err := os.Remove(t); err != nil && !errors.Is(err, os.ErrNotExist) {
				return fmt.Errorf("removing temporary file %s: %w", t, err)
			}
		}
	}
	return nil
}

// apply performs a committed manifest. Every step is idempotent, so after a crash it is simply run again.
func (w *Warehouse) apply(m *manifest) error {
	dirs := map[string]bool{}
	keep := map[string]bool{}
	for i, mv := range m.Moves {
		from, to := w.abs(mv.From), w.abs(mv.To)
		keep[to] = true
		dirs[filepath.Dir(to)] = true
		if err := os.MkdirAll(filepath.Dir(to), DirMode); err != nil {
			return fmt.Errorf("creating %s: %w", filepath.Dir(to), err)
		}
		if err := os.Rename(from, to); err != nil {
			if _, serr := os.Stat(to); errors.Is(err, os.ErrNotExist) && serr == nil {
				continue // moved before the crash
			}
			return fmt.Errorf("moving %s into place: %w", mv.To, err)
		}
		if i == 0 {
			if err := w.fail("first-move"); err != nil {
				return err
			}
		}
	}
	for d := range dirs {
		if err := syncDir(d); err != nil {
			return err
		}
	}
	if err := w.fail("moved"); err != nil {
		return err
	}
	// The new snapshot files are in place before the superseded ones go: a reader never finds a partition empty.
	for _, p := range m.Replace {
		dir := w.abs(p)
		entries, err := os.ReadDir(dir)
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("listing %s: %w", p, err)
		}
		removed := false
		for _, e := range entries {
			f := filepath.Join(dir, e.Name())
			if keep[f] || !strings.HasSuffix(e.Name(), ".parquet") {
				continue
			}
			if err := os.Remove(f); err != nil && !errors.Is(err, os.ErrNotExist) {
				return fmt.Errorf("removing superseded snapshot file %s: %w", f, err)
			}
			removed = true
		}
		if removed {
			if err := syncDir(dir); err != nil {
				return err
			}
		}
	}
	if err := w.fail("replaced"); err != nil {
		return err
	}
	for _, stream := range slices.Sorted(maps.Keys(m.State)) {
		if err := writeFileAtomic(w.statePath(m.TenantID, stream), []byte(m.State[stream])); err != nil {
			return fmt.Errorf("writing state %s: %w", stream, err)
		}
	}
	if err := w.fail("state"); err != nil {
		return err
	}
	if err := os.RemoveAll(filepath.Join(w.root, dirStaging, m.RunID)); err != nil {
		return fmt.Errorf("removing staging: %w", err)
	}
	if err := os.Remove(filepath.Join(w.root, dirCommits, m.RunID+".json")); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("removing commit marker: %w", err)
	}
	return syncDir(filepath.Join(w.root, dirCommits))
}

// writeFileAtomic writes data to a temporary file next to path, fsyncs it and renames it over path: readers see
// the old content or the new, never a part.
func writeFileAtomic(path string, data []byte) error {
	return writeAtomic(path, func(f *os.File) error {
		_, err := f.Write(data)
		return err
	})
}

// WriteAtomic writes a file as the warehouse writes its own, for what is written beside it (a report, a plan, a
// result): fill writes a temporary file next to path (mode FileMode), which is fsynced and renamed over path, so
// readers see the old content or the new, never a part.
func WriteAtomic(path string, fill func(io.Writer) error) error {
	return writeAtomic(path, func(f *os.File) error { return fill(f) })
}

// writeAtomic is writeFileAtomic with the content written by fill.
func writeAtomic(path string, fill func(*os.File) error) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, DirMode); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(dir, tmpPrefix+"*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // after a successful rename this finds nothing
	err = tmp.Chmod(FileMode)
	if err == nil {
		err = fill(tmp)
	}
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return err
	}
	return syncDir(dir)
}

// syncDir makes renames and removals in dir durable. Filesystems (and systems) that cannot fsync a directory
// report EINVAL or a permission error; there is nothing more to do on them, so those are not errors.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("syncing %s: %w", dir, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil && !ignorableSyncError(err) {
		return fmt.Errorf("syncing %s: %w", dir, err)
	}
	return nil
}

// checkName rejects identifiers that would escape or corrupt the layout: they become path elements.
func checkName(what, s string) error {
	if s == "" || s == "." || s == ".." || strings.ContainsAny(s, `/\`+"\x00") || strings.HasPrefix(s, tmpPrefix) {
		return fmt.Errorf("invalid %s %q: it must be a non-empty name without path separators", what, s)
	}
	return nil
}

// The warehouse's file modes: who signed in from where is personal data, so files are readable by the owner and the
// group (the analysts one shares the warehouse with), never by other users of the machine; a stricter umask
// narrows them further (it only ever removes bits).
const (
	FileMode os.FileMode = 0o640
	DirMode  os.FileMode = 0o750
)
