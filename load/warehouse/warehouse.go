package warehouse

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/apache/iceberg-go"
	"github.com/apache/iceberg-go/catalog"
	sqlcat "github.com/apache/iceberg-go/catalog/sql"
	icebergio "github.com/apache/iceberg-go/io"
	itable "github.com/apache/iceberg-go/table"
	"github.com/jackc/pgx/v5/pgconn"
	_ "modernc.org/sqlite" // the embedded catalog's pure-Go SQLite driver

	"github.com/seatlake/seatlake/internal/outbound"
	"github.com/seatlake/seatlake/internal/table"
)

// ErrLocked is returned (wrapped) by Lock when another process holds the warehouse's local lock.
var ErrLocked = errors.New("warehouse locked")

// Namespace is the Iceberg namespace of every seatlake table.
const Namespace = "seatlake"

// CatalogName is the name the catalog records for seatlake's tables (the SQL catalog's catalog_name column): an
// engine reading the SQL catalog must use it as its catalog's name.
const CatalogName = "seatlake"

// EmbeddedCatalogFile is the SQLite file of the embedded catalog, inside the warehouse directory.
const EmbeddedCatalogFile = "catalog.sqlite"

// Config says where a warehouse is. The zero value of every field but Root is the embedded default.
type Config struct {
	// Root is the local warehouse directory: seatlake.duckdb, the embedded catalog, the events receiver's journal,
	// and, when Storage is local, the tables themselves. Required.
	Root string
	// Catalog is the Iceberg catalog: "" for the SQL catalog in Root/catalog.sqlite (SQLite, the embedded
	// default), sqlite:///path/file for another SQLite file, postgres://… for the SQL (JDBC) catalog layout on
	// PostgreSQL, https://… for an Iceberg REST catalog. Secrets come from the environment (see storageProps).
	Catalog string
	// Storage is where the tables' files go: "" for Root, a local path, s3://bucket/prefix or
	// abfss://container@account.dfs.core.windows.net/prefix.
	Storage string
	// StorageOptions are extra FileIO properties, never secrets (e.g. adls.endpoint and adls.protocol for Azurite).
	StorageOptions map[string]string
	// Commit bounds the commit retries (zero values: the defaults).
	Commit CommitOptions
	Logger *slog.Logger
}

// Warehouse is a set of Iceberg tables in one catalog and one storage location. Its methods are safe for
// concurrent use.
type Warehouse struct {
	root    string
	storage string // location of the tables: file:///abs/path, or an object store's URL; no trailing slash
	local   string // the storage's local directory when it is local, else ""
	cat     catalog.Catalog
	db      *sql.DB // the embedded catalog's database, closed by Close
	props   iceberg.Properties
	fs      icebergio.IO
	commit  CommitOptions
	log     *slog.Logger

	mu      sync.Mutex
	ensured map[string]bool // tables whose existence and schema this process has checked

	// failpoint, set only by tests, is called at each step of a commit; a non-nil error stops the commit right
	// there, leaving everything as a killed process would.
	failpoint func(step string) error
}

// Open opens (creating it if needed) the embedded warehouse at root: the Iceberg SQL catalog in
// root/catalog.sqlite and the tables under root.
func Open(ctx context.Context, root string, logger *slog.Logger) (*Warehouse, error) {
	return OpenConfig(ctx, Config{Root: root, Logger: logger})
}

// OpenConfig opens the warehouse cfg describes, creating the namespace if needed. Tables are created on first
// use. Close releases the catalog.
func OpenConfig(ctx context.Context, cfg Config) (*Warehouse, error) {
	logger := cfg.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	abs, err := filepath.Abs(cfg.Root)
	if err != nil {
		return nil, fmt.Errorf("resolving warehouse path %s: %w", cfg.Root, err)
	}
	if err := os.MkdirAll(filepath.Join(abs, dirStaging), DirMode); err != nil {
		return nil, fmt.Errorf("creating warehouse directory: %w", err)
	}
	explicit, err := loadSaved(abs, &cfg)
	if err != nil {
		return nil, err
	}
	w := &Warehouse{root: abs, log: logger, commit: cfg.Commit.withDefaults(), ensured: map[string]bool{}, props: iceberg.Properties{}}
	if err := w.setStorage(cfg.Storage); err != nil {
		return nil, err
	}
	if err := w.setStorageProps(cfg.StorageOptions); err != nil {
		return nil, err
	}
	if err := w.openCatalog(ctx, cfg.Catalog); err != nil {
		return nil, err
	}
	w.cat = w.withStorageSettings(w.cat)       // object storage: request timeouts, failed tries logged (storage.go)
	w.cat = namedCatalog{Catalog: w.cat, w: w} // its errors name it (catalogname.go)
	if err := w.openStorage(ctx, cfg, explicit); err != nil {
		w.Close()
		return nil, err
	}
	return w, nil
}

// setStorage sets where the warehouse's tables are from the storage location s: "" the warehouse directory, a
// file:// URL or a path a local directory (created if needed), anything else an object store's URL.
func (w *Warehouse) setStorage(s string) error {
	switch {
	case s == "":
		w.local = w.root
	case strings.HasPrefix(s, "file://"):
		u, err := url.Parse(s)
		if err != nil {
			return fmt.Errorf("storage location %s: %w", s, err)
		}
		w.local = filepath.Clean(u.Path)
	case !strings.Contains(s, "://"):
		local, err := filepath.Abs(s)
		if err != nil {
			return fmt.Errorf("storage location %s: %w", s, err)
		}
		w.local = local
	default:
		w.storage = strings.TrimRight(s, "/")
	}
	if w.local != "" {
		if err := os.MkdirAll(w.local, DirMode); err != nil {
			return fmt.Errorf("creating the storage directory: %w", err)
		}
		w.storage = "file://" + filepath.ToSlash(w.local)
	}
	return nil
}

// setStorageProps sets the FileIO properties of the storage: those the environment gives (storageProps), then
// the configured options over them.
func (w *Warehouse) setStorageProps(options map[string]string) error {
	props, err := storageProps(w.storage, os.Getenv)
	if err != nil {
		return err
	}
	maps.Copy(w.props, props)
	maps.Copy(w.props, options)
	w.props["warehouse"] = w.storage
	if w.local != "" {
		w.props[propLocalName], w.props[propLocalDir] = w.storage, w.local
	}
	return nil
}

// openStorage loads the storage's FileIO, creates the namespace if needed and, for a configuration given
// explicitly, records it in the warehouse directory.
func (w *Warehouse) openStorage(ctx context.Context, cfg Config, explicit bool) error {
	var err error
	if w.fs, err = icebergio.LoadFS(w.storageContext(ctx), w.props, w.storage); err != nil {
		return fmt.Errorf("opening the storage %s: %w", w.storage, err)
	}
	if err := w.retryWhile(ctx, isSerializationFailure, func() error {
		return w.cat.CreateNamespace(ctx, itable.Identifier{Namespace}, iceberg.Properties{"comment": "seatlake: Microsoft 365 and Dynamics 365 license usage"})
	}); err != nil && !errors.Is(err, catalog.ErrNamespaceAlreadyExists) {
		return fmt.Errorf("creating the namespace %s: %w", Namespace, err)
	}
	if explicit {
		if err := saveConfig(w.root, cfg); err != nil {
			return fmt.Errorf("recording the warehouse's catalog and storage: %w", err)
		}
	}
	return nil
}

// openCatalog connects to the catalog named by spec ("" = the embedded SQLite file).
func (w *Warehouse) openCatalog(ctx context.Context, spec string) error {
	path := filepath.Join(w.root, EmbeddedCatalogFile)
	switch {
	case spec == "":
	case strings.HasPrefix(spec, "sqlite://"):
		path = strings.TrimPrefix(spec, "sqlite://")
	default:
		return w.openRemoteCatalog(ctx, spec, os.Getenv)
	}
	// WAL and a busy timeout let several processes and goroutines commit through one file; an immediate
	// transaction lock avoids the deadlock of two readers upgrading to writers at once.
	dsn := "file:" + filepath.ToSlash(path) + "?_pragma=busy_timeout(60000)&_pragma=journal_mode(WAL)&_pragma=synchronous(FULL)&_txlock=immediate"
	if err := createPrivate(path); err != nil {
		return fmt.Errorf("opening the catalog %s: %w", path, err)
	}
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return fmt.Errorf("opening the catalog %s: %w", path, err)
	}
	if spec == "" && w.local == w.root {
		// The embedded warehouse's tables name their files as they were when it was created: a copy or a moved
		// warehouse reads its own directory under those names (see localFS).
		name, err := storageName(ctx, db, w.root)
		if err != nil {
			db.Close()
			return fmt.Errorf("opening the catalog %s: %w", path, err)
		}
		w.storage, w.props["warehouse"], w.props[propLocalName] = name, name, name
	}
	cat, err := sqlcat.NewCatalog(CatalogName, db, sqlcat.SQLite, w.props)
	if err != nil {
		db.Close()
		return fmt.Errorf("opening the catalog %s: %w", path, err)
	}
	if err := os.Chmod(path, FileMode); err != nil && !errors.Is(err, os.ErrNotExist) {
		db.Close()
		return fmt.Errorf("opening the catalog %s: %w", path, err)
	}
	w.cat, w.db = cat, db
	return nil
}

// redactURL drops the password of a URL, for messages.
func redactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return "(an unparsable URL)"
	}
	return u.Redacted()
}

// Close releases the catalog.
func (w *Warehouse) Close() error {
	var err error
	if c, ok := w.cat.(catalog.Closer); ok {
		err = c.Close()
	}
	if w.db != nil {
		err = errors.Join(err, w.db.Close())
	}
	return err
}

// Root is the warehouse's local directory (absolute).
func (w *Warehouse) Root() string { return w.root }

// Storage is the location of the tables' files (file:///… for local storage).
func (w *Warehouse) Storage() string { return w.storage }

// LocalPath is the local file of a storage location, and whether the location is local.
func (w *Warehouse) LocalPath(location string) (string, bool) {
	if w.local == "" {
		return "", false
	}
	if rest, ok := strings.CutPrefix(location, w.storage); ok && (rest == "" || rest[0] == '/') {
		return filepath.Join(w.local, filepath.FromSlash(rest)), true
	}
	if p, ok := strings.CutPrefix(location, "file://"); ok {
		return filepath.FromSlash(p), true
	}
	if filepath.IsAbs(location) {
		return location, true
	}
	return "", false
}

func ident(name string) itable.Identifier { return itable.Identifier{Namespace, name} }

// tableLocation is where a table's files live: <storage>/<layer>/<table> for raw and marts tables,
// <storage>/<table> for record tables.
func (w *Warehouse) tableLocation(tbl *table.Table, layer Layer) string {
	if tbl.Kind == table.Log {
		return w.storage + "/" + tbl.Name
	}
	return w.storage + "/" + string(layer) + "/" + tbl.Name
}

// ensureTable loads tbl's Iceberg table, creating it (in layer) if it does not exist and adding the columns the
// declaration gained since. Columns are only ever added (as optional), never changed or dropped.
func (w *Warehouse) ensureTable(ctx context.Context, tbl *table.Table, layer Layer) (*itable.Table, error) {
	if err := checkName("table name", tbl.Name); err != nil {
		return nil, err
	}
	w.mu.Lock()
	checked := w.ensured[tbl.Name]
	w.mu.Unlock()
	it, err := w.cat.LoadTable(ctx, ident(tbl.Name))
	if errors.Is(err, catalog.ErrNoSuchTable) {
		it, err = w.createTable(ctx, tbl, layer)
	}
	if err != nil {
		return nil, fmt.Errorf("loading table %s: %w", tbl.Name, err)
	}
	if checked {
		return it, nil
	}
	if it, err = w.evolve(ctx, tbl, it); err != nil {
		return nil, err
	}
	w.mu.Lock()
	w.ensured[tbl.Name] = true
	w.mu.Unlock()
	return it, nil
}

func (w *Warehouse) createTable(ctx context.Context, tbl *table.Table, layer Layer) (*itable.Table, error) {
	sc, err := icebergSchema(tbl)
	if err != nil {
		return nil, err
	}
	spec, err := partitionSpec(sc, tbl)
	if err != nil {
		return nil, err
	}
	props := iceberg.Properties{
		itable.PropertyFormatVersion: "2",
		// seatlake retries conflicts itself, re-planning each attempt (see commitTable).
		itable.CommitNumRetriesKey:                 "0",
		itable.MetadataDeleteAfterCommitEnabledKey: "true",
		itable.MetadataPreviousVersionsMaxKey:      "20",
		itable.ParquetCompressionKey:               DefaultCodec,
		"seatlake.kind":                            tbl.Kind.String(),
	}
	if tbl.Doc != "" {
		props["comment"] = tbl.Doc
	}
	var it *itable.Table
	err = w.retryWhile(ctx, isSerializationFailure, func() (err error) {
		it, err = w.cat.CreateTable(ctx, ident(tbl.Name), sc,
			catalog.WithLocation(w.tableLocation(tbl, layer)), catalog.WithPartitionSpec(spec), catalog.WithProperties(props))
		return err
	})
	if errors.Is(err, catalog.ErrTableAlreadyExists) { // another process created it first
		return w.cat.LoadTable(ctx, ident(tbl.Name))
	}
	if err != nil {
		return nil, fmt.Errorf("creating table %s: %w", tbl.Name, err)
	}
	w.log.Debug("created Iceberg table", "table", Namespace+"."+tbl.Name, "location", it.Location())
	return it, nil
}

// retryWhile runs op again while retryable says its error wrote nothing and may pass on another try, up to the
// commit's MaxAttempts with its jittered backoff.
func (w *Warehouse) retryWhile(ctx context.Context, retryable func(error) bool, op func() error) error {
	for attempt := 1; ; attempt++ {
		err := op()
		if err == nil || attempt >= w.commit.MaxAttempts || !retryable(err) {
			return err
		}
		if serr := outbound.Sleep(ctx, w.commit.backoff(attempt)); serr != nil {
			return fmt.Errorf("%w (after: %w)", serr, err)
		}
	}
}

// isSerializationFailure says whether PostgreSQL aborted a transaction as a serialization failure (SQLSTATE 40001)
// or a deadlock (40P01), which wrote nothing. iceberg-go's SQL catalog creates namespaces and tables in
// serializable transactions and retries those only three times within 30 ms, which jobs starting together on a
// new catalog exhaust: seatlake retries them (retryWhile).
func isSerializationFailure(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && (pgErr.Code == "40001" || pgErr.Code == "40P01")
}

// evolve adds the declared columns the table lacks.
func (w *Warehouse) evolve(ctx context.Context, tbl *table.Table, it *itable.Table) (*itable.Table, error) {
	for attempt := 0; ; attempt++ {
		sc := it.Schema()
		txn := it.NewTransaction()
		upd := txn.UpdateSchema(true, false)
		added := 0
		ids := 1 << 20 // placeholders: the update assigns the real ids
		for _, c := range tbl.Columns {
			if _, ok := sc.FindFieldByName(c.Name); ok {
				continue
			}
			typ, err := icebergType(c.Type, &ids)
			if err != nil {
				return nil, fmt.Errorf("table %s column %s: %w", tbl.Name, c.Name, err)
			}
			upd.AddColumn([]string{c.Name}, typ, c.Doc, false, nil)
			added++
		}
		if added == 0 {
			return it, nil
		}
		if err := upd.Commit(); err != nil {
			return nil, fmt.Errorf("adding columns to %s: %w", tbl.Name, err)
		}
		next, err := txn.Commit(ctx)
		if err == nil {
			w.log.Info("added the declaration's new columns to the Iceberg table", "table", tbl.Name, "columns", added)
			return next, nil
		}
		if !isConflict(err) || attempt >= w.commit.MaxAttempts {
			return nil, fmt.Errorf("adding columns to %s: %w", tbl.Name, err)
		}
		if it, err = w.cat.LoadTable(ctx, ident(tbl.Name)); err != nil {
			return nil, fmt.Errorf("loading table %s: %w", tbl.Name, err)
		}
	}
}

// Lock takes the warehouse directory's local lock (<root>/.lock) without waiting: one holder per machine. Iceberg
// commits do not need it (they use optimistic concurrency); what it still serializes is work on the local
// directory that two processes must not do at once. The error wraps ErrLocked when another holder has it. The
// lock dies with the process.
func (w *Warehouse) Lock() (unlock func() error, err error) {
	path := filepath.Join(w.root, ".lock")
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
		return nil, fmt.Errorf("%w: another seatlake process is using the warehouse %s (lock %s)", ErrLocked, w.root, path)
	}
	return func() error {
		uerr := unlockFile(f)
		return errors.Join(uerr, f.Close())
	}, nil
}

// LockWait takes the lock as Lock does, waiting up to max while another process holds it. Past max, the error
// wraps ErrLocked.
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
			w.log.Info("waiting for the warehouse lock: another seatlake process holds it", "warehouse", w.root, "up_to", max)
			logged = true
		}
		if err := outbound.Sleep(ctx, 250*time.Millisecond); err != nil {
			return nil, err
		}
	}
}

// LockPatience is how long a run, a sync, a reclaim or a marts recomputation waits for the warehouse lock.
const LockPatience = 2 * time.Minute

func (w *Warehouse) fail(step string) error {
	if w.failpoint == nil {
		return nil
	}
	return w.failpoint(step)
}

const tmpPrefix = ".tmp-" // files being written by writeAtomic; never read

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
