package pipelines

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"strings"

	"github.com/seatlake/seatlake/load/catalog"
	"github.com/seatlake/seatlake/load/warehouse"
)

// WarehouseConfig says where the warehouse is: Root is the local directory (seatlake.duckdb, the embedded catalog,
// caches, the events journal by default); Catalog and Storage, when set, are the Iceberg catalog and the tables'
// storage (see warehouse.Config). Both empty: what Root's warehouse.json recorded, else the embedded default.
type WarehouseConfig struct {
	Root    string
	Catalog string
	Storage string
	Logger  *slog.Logger
}

// CatalogForms and StorageForms are the accepted --catalog and --storage values, for messages.
const (
	CatalogForms = "postgres://user@host:5432/db (the SQL catalog on PostgreSQL; password from PGPASSWORD or PGPASSFILE), " +
		"https://host/path (an Iceberg REST catalog), sqlite:///path/catalog.sqlite, or nothing (the SQLite catalog inside --warehouse)"
	StorageForms = "a local path, s3://bucket/prefix, abfss://container@account.dfs.core.windows.net/prefix, " +
		"or nothing (the --warehouse directory)"
)

// Check checks Catalog and Storage without I/O. The error wraps ErrInvalidConfig and names the accepted forms. A
// password in a URL is refused: secrets come from the environment (see warehouse.Config), never from a value that
// is stored, logged or shown by ps.
func (wc WarehouseConfig) Check() error {
	var errs []error
	switch {
	case wc.Root == "":
		errs = append(errs, errors.New("the warehouse directory is not set (--warehouse)"))
	case strings.Contains(wc.Root, "://"):
		errs = append(errs, fmt.Errorf("warehouse %s: the warehouse is the local directory (views, caches, the embedded catalog); give object storage as storage (--storage %s) and keep warehouse a local path", redact(wc.Root), redact(wc.Root)))
	}
	if err := checkCatalogURL(wc.Catalog); err != nil {
		errs = append(errs, fmt.Errorf("catalog %s: %w; want %s", redact(wc.Catalog), err, CatalogForms))
	}
	if err := checkStorageURL(wc.Storage); err != nil {
		errs = append(errs, fmt.Errorf("storage %s: %w; want %s", redact(wc.Storage), err, StorageForms))
	}
	if len(errs) > 0 {
		return fmt.Errorf("%w: %w", ErrInvalidConfig, errors.Join(errs...))
	}
	return nil
}

func checkCatalogURL(s string) error {
	if s == "" {
		return nil
	}
	if rest, ok := strings.CutPrefix(s, "sqlite://"); ok {
		if rest == "" {
			return errors.New("no file after sqlite://")
		}
		return nil
	}
	u, err := url.Parse(s)
	if err != nil || u.Scheme == "" {
		return errors.New("not a URL")
	}
	switch u.Scheme {
	case "postgres", "postgresql":
		if u.Host == "" {
			return errors.New("no host")
		}
		if _, ok := u.User.Password(); ok {
			return errors.New("a password in the URL: put it in PGPASSWORD or a pgpass file (PGPASSFILE)")
		}
		if q := u.Query(); q.Has("password") {
			return errors.New("a password in the URL: put it in PGPASSWORD or a pgpass file (PGPASSFILE)")
		}
	case "https", "http":
		if u.Host == "" {
			return errors.New("no host")
		}
		if u.User != nil {
			return errors.New("credentials in the URL: give them in SEATLAKE_CATALOG_CREDENTIAL or SEATLAKE_CATALOG_TOKEN")
		}
		if h := u.Hostname(); u.Scheme == "http" && !isLoopback(h) {
			return errors.New("plain http:// is allowed only on loopback; use https://")
		}
	default:
		return fmt.Errorf("unknown scheme %s://", u.Scheme)
	}
	return nil
}

func checkStorageURL(s string) error {
	if s == "" || !strings.Contains(s, "://") {
		return nil // a local path
	}
	u, err := url.Parse(s)
	if err != nil {
		return errors.New("not a URL")
	}
	switch u.Scheme {
	case "file":
		if u.Path == "" {
			return errors.New("no path after file://")
		}
	case "s3", "s3a":
		if u.Host == "" {
			return errors.New("no bucket")
		}
		if u.User != nil {
			return errors.New("credentials in the URL: give them in the AWS environment (AWS_ACCESS_KEY_ID, AWS_PROFILE, web identity)")
		}
	case "abfss", "abfs", "wasbs", "wasb":
		account, _, _ := strings.Cut(u.Host, ".")
		if u.User == nil || u.User.Username() == "" || account == "" || !strings.Contains(u.Host, ".") {
			return errors.New("want container@account.dfs.core.windows.net")
		}
		if _, ok := u.User.Password(); ok {
			return errors.New("a key in the URL: give it in AZURE_STORAGE_KEY, AZURE_STORAGE_SAS_TOKEN or a workload identity")
		}
	default:
		return fmt.Errorf("unknown scheme %s://", u.Scheme)
	}
	return nil
}

func isLoopback(host string) bool {
	ip := net.ParseIP(host)
	return host == "localhost" || (ip != nil && ip.IsLoopback())
}

// redact drops a URL's password, for messages.
func redact(s string) string {
	u, err := url.Parse(s)
	if err != nil || u.User == nil {
		return s
	}
	return u.Redacted()
}

// OpenWarehouse checks wc and opens the warehouse it describes. Named catalog and storage are recorded in the
// directory's warehouse.json, so every later open of the directory (the views' rebuild, the events receiver, a
// command given only --warehouse) finds them again.
func OpenWarehouse(ctx context.Context, wc WarehouseConfig) (*warehouse.Warehouse, error) {
	if err := wc.Check(); err != nil {
		return nil, err
	}
	wh, err := warehouse.OpenConfig(ctx, warehouse.Config{Root: wc.Root, Catalog: wc.Catalog, Storage: wc.Storage, Logger: wc.Logger})
	if err != nil {
		return nil, fmt.Errorf("opening the warehouse: %w", err)
	}
	return wh, nil
}

// UseWarehouse makes the catalog and storage wc names the warehouse's for the commands that open it by its
// directory: it opens it once (checking that the catalog and storage answer) and records them. With neither set it
// only checks wc: the directory's recorded ones, or the embedded default, are used.
func UseWarehouse(ctx context.Context, wc WarehouseConfig) error {
	if err := wc.Check(); err != nil {
		return err
	}
	if wc.Catalog == "" && wc.Storage == "" {
		return nil
	}
	wh, err := OpenWarehouse(ctx, wc)
	if err != nil {
		return err
	}
	return wh.Close()
}

// ErrNeedsMigration is returned (wrapped) when a command needs the Iceberg warehouse and the directory still holds
// the folder layout of earlier versions.
var ErrNeedsMigration = errors.New("the warehouse is in the folder layout of an earlier seatlake: run `seatlake warehouse migrate` first")

// openLocked opens the warehouse at root and takes its lock, waiting up to warehouse.LockPatience for another
// command's; release unlocks and closes it.
func openLocked(ctx context.Context, root string, log *slog.Logger) (wh *warehouse.Warehouse, release func(), err error) {
	if wh, err = warehouse.Open(ctx, root, log); err != nil {
		return nil, nil, fmt.Errorf("opening warehouse: %w", err)
	}
	unlock, err := lockWarehouse(ctx, wh)
	if err != nil {
		wh.Close()
		return nil, nil, err
	}
	return wh, func() { unlock(); wh.Close() }, nil
}

// openMarts opens the warehouse at root locked (openLocked) with its DuckDB catalog, to read the latest committed
// marts; release closes both.
func openMarts(ctx context.Context, root string, log *slog.Logger) (*warehouse.Warehouse, *sql.DB, func(), error) {
	wh, unlock, err := openLocked(ctx, root, log)
	if err != nil {
		return nil, nil, nil, err
	}
	db, err := catalog.Open(wh.Root())
	if err != nil {
		unlock()
		return nil, nil, nil, fmt.Errorf("%w: run `seatlake run` first", err)
	}
	return wh, db, func() { db.Close(); unlock() }, nil
}

// lockWarehouse takes wh's lock, waiting up to warehouse.LockPatience for another command's.
func lockWarehouse(ctx context.Context, wh *warehouse.Warehouse) (unlock func() error, err error) {
	if unlock, err = wh.LockWait(ctx, warehouse.LockPatience); err != nil {
		return nil, fmt.Errorf("locking warehouse: %w", err)
	}
	return unlock, nil
}

// MigrateWarehouse moves a warehouse of the earlier folder layout into the Iceberg tables (warehouse.Migrate) and
// rebuilds the views. A warehouse already migrated gives nil and no error.
func MigrateWarehouse(ctx context.Context, wc WarehouseConfig) (*warehouse.Migration, error) {
	wh, err := OpenWarehouse(ctx, wc)
	if err != nil {
		return nil, err
	}
	defer wh.Close()
	unlock, err := lockWarehouse(ctx, wh)
	if err != nil {
		return nil, err
	}
	defer unlock()
	return migrateIfNeeded(ctx, wh)
}

// migrateIfNeeded migrates wh (whose lock the caller holds) when it is in the folder layout, and rebuilds the views.
func migrateIfNeeded(ctx context.Context, wh *warehouse.Warehouse) (*warehouse.Migration, error) {
	if !wh.NeedsMigration(Tables()) {
		return nil, nil
	}
	m, err := wh.Migrate(ctx, Tables())
	if err != nil {
		return nil, err
	}
	if err := catalog.BuildFrom(ctx, wh, Tables()); err != nil {
		return m, fmt.Errorf("migrated, but the DuckDB views could not be rebuilt (`seatlake query --rebuild` does it): %w", err)
	}
	return m, nil
}

// MaintainWarehouse runs the warehouse's maintenance (warehouse.Maintain; small files of every table of Tables
// compacted unless opts names the tables) and rebuilds the views. A warehouse still
// in the folder layout is refused (ErrNeedsMigration): its files would be taken for orphans.
func MaintainWarehouse(ctx context.Context, wc WarehouseConfig, opts warehouse.MaintainOptions) ([]warehouse.TableMaintenance, error) {
	wh, err := OpenWarehouse(ctx, wc)
	if err != nil {
		return nil, err
	}
	defer wh.Close()
	if wh.NeedsMigration(Tables()) {
		return nil, fmt.Errorf("%s: %w", wh.Root(), ErrNeedsMigration)
	}
	if opts.Tables == nil {
		opts.Tables = Tables()
	}
	res, err := wh.Maintain(ctx, opts)
	if err != nil {
		return res, err
	}
	unlock, err := lockWarehouse(ctx, wh)
	if err != nil {
		return res, err
	}
	defer unlock()
	if err := catalog.BuildFrom(ctx, wh, Tables()); err != nil {
		return res, fmt.Errorf("maintained, but the DuckDB views could not be rebuilt (`seatlake query --rebuild` does it): %w", err)
	}
	return res, nil
}

// ExportWarehouse writes the views' current state as plain Hive-partitioned Parquet under dir (catalog.Export),
// for tools that read only a folder of Parquet files. The views are rebuilt first, so the export is what the
// catalog holds now.
func ExportWarehouse(ctx context.Context, wc WarehouseConfig, dir string) error {
	wh, err := OpenWarehouse(ctx, wc)
	if err != nil {
		return err
	}
	defer wh.Close()
	if wh.NeedsMigration(Tables()) {
		return fmt.Errorf("%s: %w", wh.Root(), ErrNeedsMigration)
	}
	unlock, err := lockWarehouse(ctx, wh)
	if err != nil {
		return err
	}
	defer unlock()
	if err := catalog.BuildFrom(ctx, wh, Tables()); err != nil {
		return fmt.Errorf("rebuilding the views: %w", err)
	}
	return catalog.Export(ctx, wh.Root(), dir, Tables())
}
