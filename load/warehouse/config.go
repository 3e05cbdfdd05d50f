package warehouse

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/apache/iceberg-go"
	"github.com/apache/iceberg-go/catalog/rest"
	sqlcat "github.com/apache/iceberg-go/catalog/sql"
	icebergio "github.com/apache/iceberg-go/io"
	_ "github.com/apache/iceberg-go/io/gocloud/azure" // abfss:// and wasbs:// storage
	_ "github.com/apache/iceberg-go/io/gocloud/s3"    // s3:// storage
	"github.com/jackc/pgx/v5/pgconn"
	_ "github.com/jackc/pgx/v5/stdlib" // the PostgreSQL catalog's driver ("pgx")

	"github.com/seatlake/seatlake/internal/outbound"
)

// ConfigFile is where a warehouse directory records the catalog and storage it was opened with (never a secret),
// so that Open(root) (seatlake query --rebuild, the events receiver) finds them again.
const ConfigFile = "warehouse.json"

type savedConfig struct {
	Catalog        string            `json:"catalog,omitempty"`
	Storage        string            `json:"storage,omitempty"`
	StorageOptions map[string]string `json:"storage_options,omitempty"`
}

// Secrets are read from the environment, never from a URL or flag value seatlake stores or logs:
//   - PostgreSQL catalog: the password from PGPASSWORD or ~/.pgpass (pgx reads both), or the URL.
//   - REST catalog: SEATLAKE_CATALOG_CREDENTIAL (client_id:client_secret, OAuth client credentials) or
//     SEATLAKE_CATALOG_TOKEN (a bearer token); SEATLAKE_CATALOG_WAREHOUSE names the catalog's warehouse.
//   - S3: the AWS SDK's standard environment (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN,
//     AWS_PROFILE, AWS_REGION, web identity / IRSA, instance roles); AWS_ENDPOINT_URL_S3 (or AWS_ENDPOINT_URL) points
//     at an S3-compatible store, which is then addressed path-style.
//   - Azure (abfss://container@account.dfs.core.windows.net/prefix): AZURE_STORAGE_CONNECTION_STRING, or
//     AZURE_STORAGE_KEY (shared key), or AZURE_STORAGE_SAS_TOKEN, or SEATLAKE_STORAGE_MANAGED_IDENTITY_CLIENT_ID
//     (a user-assigned managed identity; "system" for the system-assigned one); otherwise DefaultAzureCredential:
//     workload identity (AZURE_FEDERATED_TOKEN_FILE, AZURE_CLIENT_ID, AZURE_TENANT_ID), a service principal
//     (AZURE_CLIENT_SECRET / AZURE_CLIENT_CERTIFICATE_PATH), managed identity, the Azure CLI.
func storageProps(storage string, env func(string) string) (iceberg.Properties, error) {
	props := iceberg.Properties{}
	u, err := url.Parse(storage)
	if err != nil {
		return nil, fmt.Errorf("storage location: %w", err)
	}
	switch u.Scheme {
	case "s3", "s3a":
		if ep := firstEnv(env, "AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL"); ep != "" {
			if err := checkPlainHTTP(ep); err != nil {
				return nil, err
			}
			props[icebergio.S3EndpointURL] = ep
			props[icebergio.S3ForceVirtualAddressing] = "false"
		}
		if r := firstEnv(env, "AWS_REGION", "AWS_DEFAULT_REGION"); r != "" {
			props[icebergio.S3Region] = r
		}
	case "abfss", "abfs", "wasbs", "wasb":
		account, _, _ := strings.Cut(u.Host, ".")
		if u.User == nil || u.User.Username() == "" || account == "" {
			return nil, fmt.Errorf("storage location %s: want abfss://container@account.dfs.core.windows.net/prefix", storage)
		}
		switch {
		case env("AZURE_STORAGE_CONNECTION_STRING") != "":
			props[icebergio.ADLSConnectionStringPrefix+account] = env("AZURE_STORAGE_CONNECTION_STRING")
		case env("AZURE_STORAGE_KEY") != "":
			props[icebergio.ADLSSharedKeyAccountName] = account
			props[icebergio.ADLSSharedKeyAccountKey] = env("AZURE_STORAGE_KEY")
		case env("AZURE_STORAGE_SAS_TOKEN") != "":
			props[icebergio.ADLSSasTokenPrefix+u.Host] = strings.TrimPrefix(env("AZURE_STORAGE_SAS_TOKEN"), "?")
		case env("SEATLAKE_STORAGE_MANAGED_IDENTITY_CLIENT_ID") != "":
			props[icebergio.ADLSManagedIdentityEnabled] = "true"
			if id := env("SEATLAKE_STORAGE_MANAGED_IDENTITY_CLIENT_ID"); id != "system" {
				props[icebergio.ADLSClientID] = id
			}
		}
	case "file", "", "mem": // mem://: iceberg-go's in-memory storage, for tests
	default:
		return nil, fmt.Errorf("storage location %s: want a local path, s3://bucket/prefix or abfss://container@account.dfs.core.windows.net/prefix", storage)
	}
	return props, nil
}

func firstEnv(env func(string) string, keys ...string) string {
	for _, k := range keys {
		if v := env(k); v != "" {
			return v
		}
	}
	return ""
}

// checkPlainHTTP refuses http:// to anything but loopback: credentials and data would cross the network in clear.
func checkPlainHTTP(endpoint string) error {
	u, err := url.Parse(endpoint)
	if err != nil {
		return fmt.Errorf("endpoint %s: %w", redactURL(endpoint), err)
	}
	if u.Scheme != "http" {
		return nil
	}
	host := u.Hostname()
	if ip := net.ParseIP(host); (ip != nil && ip.IsLoopback()) || host == "localhost" {
		return nil
	}
	return fmt.Errorf("endpoint %s: plain http:// is allowed only on loopback; use https://", redactURL(endpoint))
}

// loadSaved fills an unset catalog and storage from root/warehouse.json; explicit reports whether cfg named them.
func loadSaved(root string, cfg *Config) (explicit bool, err error) {
	if cfg.Catalog != "" || cfg.Storage != "" {
		return true, nil
	}
	path := filepath.Join(root, ConfigFile)
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("reading %s: %w", path, err)
	}
	var s savedConfig
	if err := json.Unmarshal(b, &s); err != nil {
		return false, fmt.Errorf("reading %s: %w", path, err)
	}
	cfg.Catalog, cfg.Storage = s.Catalog, s.Storage
	if cfg.StorageOptions == nil {
		cfg.StorageOptions = s.StorageOptions
	}
	return false, nil
}

// saveConfig records the catalog and storage a warehouse was opened with in root/warehouse.json (without a
// password).
func saveConfig(root string, cfg Config) error {
	s := savedConfig{Catalog: withoutPassword(cfg.Catalog), Storage: cfg.Storage, StorageOptions: cfg.StorageOptions}
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return err
	}
	b = append(b, '\n')
	path := filepath.Join(root, ConfigFile)
	if old, err := os.ReadFile(path); err == nil && string(old) == string(b) {
		return nil
	}
	return writeFileAtomic(path, b)
}

// withoutPassword drops a URL's password (kept in the environment instead).
func withoutPassword(s string) string {
	u, err := url.Parse(s)
	if err != nil || u.User == nil {
		return s
	}
	if _, ok := u.User.Password(); ok {
		u.User = url.User(u.User.Username())
	}
	return u.String()
}

// openRemoteCatalog connects to a PostgreSQL (SQL/JDBC layout) or REST catalog.
func (w *Warehouse) openRemoteCatalog(ctx context.Context, spec string, env func(string) string) error {
	u, err := url.Parse(spec)
	if err != nil {
		return fmt.Errorf("catalog %s: %w", redactURL(spec), err)
	}
	switch u.Scheme {
	case "postgres", "postgresql":
		db, err := sql.Open("pgx", spec)
		if err != nil {
			return fmt.Errorf("opening the catalog %s: %w", redactURL(spec), err)
		}
		if err := db.PingContext(ctx); err != nil {
			db.Close()
			return fmt.Errorf("connecting to the PostgreSQL catalog %s: %w", redactURL(spec), err)
		}
		// Jobs starting together race to create the catalog's tables; PostgreSQL's CREATE TABLE IF NOT EXISTS is not
		// safe against that (the loser gets a duplicate type or key), so the loser tries again.
		var cat *sqlcat.Catalog
		for attempt := 1; ; attempt++ {
			cat, err = sqlcat.NewCatalog(CatalogName, db, sqlcat.Postgres, w.props)
			var pgErr *pgconn.PgError
			if err == nil || attempt == 5 || !errors.As(err, &pgErr) || (pgErr.Code != "42710" && pgErr.Code != "23505" && pgErr.Code != "42P07") {
				break
			}
			if err := outbound.Sleep(ctx, time.Duration(attempt)*100*time.Millisecond); err != nil {
				db.Close()
				return err
			}
		}
		if err != nil {
			db.Close()
			return fmt.Errorf("opening the PostgreSQL catalog %s: %w", redactURL(spec), err)
		}
		w.cat, w.db = cat, db
		return nil
	case "https", "http":
		if err := checkPlainHTTP(spec); err != nil {
			return err
		}
		opts := []rest.Option{rest.WithAdditionalProps(w.props)}
		if wh := env("SEATLAKE_CATALOG_WAREHOUSE"); wh != "" {
			opts = append(opts, rest.WithWarehouseLocation(wh))
		}
		switch {
		case env("SEATLAKE_CATALOG_CREDENTIAL") != "":
			opts = append(opts, rest.WithCredential(env("SEATLAKE_CATALOG_CREDENTIAL")))
		case env("SEATLAKE_CATALOG_TOKEN") != "":
			opts = append(opts, rest.WithOAuthToken(env("SEATLAKE_CATALOG_TOKEN")))
		}
		cat, err := rest.NewCatalog(ctx, CatalogName, spec, opts...)
		if err != nil {
			return fmt.Errorf("opening the REST catalog %s: %w", redactURL(spec), err)
		}
		w.cat = cat
		return nil
	}
	return fmt.Errorf("catalog %s: want postgres://…, https://… (REST) or nothing (the embedded SQLite catalog)", redactURL(spec))
}
