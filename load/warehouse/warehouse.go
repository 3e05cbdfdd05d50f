package warehouse

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// Warehouse is a warehouse directory.
type Warehouse struct {
	root string
	log  *slog.Logger
}

const (
	dirStaging = "_staging"
	dirCommits = "_commits"
	dirState   = "_state"
	dirRuns    = "runs"
)

// Open prepares root, creating it if needed. Recovery from a crashed run happens when a run takes the lock.
func Open(ctx context.Context, root string, logger *slog.Logger) (*Warehouse, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	abs, err := filepath.Abs(root)
	if err != nil {
		return nil, fmt.Errorf("resolving warehouse path %s: %w", root, err)
	}
	for _, d := range []string{abs, filepath.Join(abs, dirStaging), filepath.Join(abs, dirCommits), filepath.Join(abs, dirState)} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return nil, fmt.Errorf("creating warehouse directory: %w", err)
		}
	}
	return &Warehouse{root: abs, log: logger}, nil
}

// Root is the warehouse's absolute path.
func (w *Warehouse) Root() string { return w.root }

// Lock takes the warehouse's exclusive lock (one run at a time; it does not wait) and then finishes what a crashed
// run left: a commit whose marker was written is applied, staging without a marker is deleted. Only the lock
// holder recovers, so a second process can never delete the staging of a run in progress.
func (w *Warehouse) Lock(ctx context.Context) (unlock func() error, err error) {
	path := filepath.Join(w.root, dirState, ".lock")
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, fmt.Errorf("opening lock file: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("another seatlake run is using the warehouse %s (lock %s)", w.root, path)
		}
		return nil, fmt.Errorf("locking %s: %w", path, err)
	}
	unlock = func() error {
		syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		return f.Close()
	}
	if err := w.recover(ctx); err != nil {
		unlock()
		return nil, err
	}
	return unlock, nil
}

// State returns a stream's committed state.
func (w *Warehouse) State(tenantID, stream string) ([]byte, bool, error) {
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

// manifest is the commit marker: everything applying a commit does, so that it can be redone after a crash.
type manifest struct {
	RunID    string            `json:"run_id"`
	TenantID string            `json:"tenant_id"`
	Moves    []move            `json:"moves"`   // staged file -> final file, paths relative to the root
	Replace  []string          `json:"replace"` // snapshot partition dirs whose files from other runs go
	State    map[string]string `json:"state"`   // stream -> value
	Created  time.Time         `json:"created"`
}

type move struct {
	From string `json:"from"`
	To   string `json:"to"`
}

func (w *Warehouse) recover(ctx context.Context) error {
	markers, err := filepath.Glob(filepath.Join(w.root, dirCommits, "*.json"))
	if err != nil {
		return err
	}
	for _, m := range markers {
		b, err := os.ReadFile(m)
		if err != nil {
			return fmt.Errorf("reading commit marker %s: %w", m, err)
		}
		var man manifest
		if err := json.Unmarshal(b, &man); err != nil {
			return fmt.Errorf("commit marker %s is corrupt: %w", m, err)
		}
		w.log.Warn("finishing the commit of an interrupted run", "run_id", man.RunID)
		if err := w.apply(&man); err != nil {
			return fmt.Errorf("finishing the commit of run %s: %w", man.RunID, err)
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
	return nil
}

// apply performs a committed manifest. It is idempotent: after a crash it is simply run again.
func (w *Warehouse) apply(m *manifest) error {
	dirs := map[string]bool{}
	for _, mv := range m.Moves {
		from, to := filepath.Join(w.root, mv.From), filepath.Join(w.root, mv.To)
		if err := os.MkdirAll(filepath.Dir(to), 0o755); err != nil {
			return err
		}
		if err := os.Rename(from, to); err != nil {
			if _, serr := os.Stat(to); errors.Is(err, os.ErrNotExist) && serr == nil {
				continue // moved before the crash
			}
			return fmt.Errorf("moving %s into place: %w", mv.To, err)
		}
		dirs[filepath.Dir(to)] = true
	}
	// New snapshot files are in place before the superseded ones go: a reader never finds a partition empty.
	keep := map[string]bool{}
	for _, mv := range m.Moves {
		keep[filepath.Join(w.root, mv.To)] = true
	}
	for _, p := range m.Replace {
		dir := filepath.Join(w.root, p)
		entries, err := os.ReadDir(dir)
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
		for _, e := range entries {
			f := filepath.Join(dir, e.Name())
			if !keep[f] && strings.HasSuffix(e.Name(), ".parquet") {
				if err := os.Remove(f); err != nil && !errors.Is(err, os.ErrNotExist) {
					return fmt.Errorf("removing superseded snapshot file %s: %w", f, err)
				}
			}
		}
		dirs[dir] = true
	}
	for stream, v := range m.State {
		if err := writeFileAtomic(w.statePath(m.TenantID, stream), []byte(v)); err != nil {
			return fmt.Errorf("writing state %s: %w", stream, err)
		}
	}
	for d := range dirs {
		syncDir(d)
	}
	if err := os.RemoveAll(filepath.Join(w.root, dirStaging, m.RunID)); err != nil {
		return err
	}
	if err := os.Remove(filepath.Join(w.root, dirCommits, m.RunID+".json")); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	syncDir(filepath.Join(w.root, dirCommits))
	return nil
}

// writeFileAtomic writes data to a temporary file next to path, fsyncs it and renames it over path.
func writeFileAtomic(path string, data []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".tmp-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return err
	}
	syncDir(filepath.Dir(path))
	return nil
}

// syncDir makes a rename durable. Errors are ignored: some filesystems do not support fsync on directories.
func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
}
