package pipelines

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strconv"

	"github.com/seatlake/seatlake/extract/msauth"
	"github.com/seatlake/seatlake/load/assets"
)

// TenantTokenFile names a tenant's own Assets import source token file (the config file's jsm-assets-token-file).
type TenantTokenFile struct{ Name, TenantID, File string }

// TenantToken is a tenant's own Assets import source token.
type TenantToken struct{ Name, TenantID, Token string }

// JSMAssetsTarget is the Assets sink's configuration from its settings (get reads one by its flag's name, "" when
// unset): the API, the shared container token, and the tokens of the tenants that name their own import source.
// Without secrets (a dry run) no token is read.
func JSMAssetsTarget(get func(name string) string, tenants []TenantTokenFile, secrets bool, log *slog.Logger) (assets.Config, []TenantToken, error) {
	cfg := assets.Config{BaseURL: cmp.Or(get("url"), "https://api.atlassian.com"), Logger: log}
	if n, err := strconv.Atoi(get("chunk-size")); err == nil {
		cfg.ChunkSize = n
	}
	if err := CheckEndpoint(cfg.BaseURL); err != nil {
		return cfg, nil, fmt.Errorf("url: %w", err)
	}
	if !secrets {
		return cfg, nil, nil
	}
	var own []TenantToken
	for _, t := range tenants {
		if t.File == "" {
			continue
		}
		tok, err := msauth.LoadNamedSecret("JSM Assets token", "jsm-assets-token-file", "", t.File)
		if err != nil {
			return cfg, nil, fmt.Errorf("tenant %q: jsm-assets-token-file: %w", t.Name, err)
		}
		own = append(own, TenantToken{t.Name, t.TenantID, tok.Reveal()})
	}
	// The shared token is needed unless tenants have their own; a tenant left without one fails alone.
	tok, err := msauth.LoadNamedSecret("JSM Assets token", "token-file", "SEATLAKE_JSM_ASSETS_TOKEN", get("token-file"))
	if err != nil && len(own) == 0 {
		return cfg, nil, fmt.Errorf("the Assets container token: %w", err)
	}
	cfg.Token = tok.Reveal()
	return cfg, own, nil
}

// ServiceNowTarget is the ServiceNow sink's configuration from its settings (as JSMAssetsTarget's): the instance,
// the staging tables, and basic auth or OAuth client credentials (read only with secrets: a dry run sends nothing).
func ServiceNowTarget(get func(name string) string, secrets bool, log *slog.Logger) (assets.ServiceNowConfig, error) {
	sn := assets.ServiceNowConfig{InstanceURL: get("instance-url"), Logger: log,
		Tables: assets.StagingTables{User: cmp.Or(get("user-table"), assets.DefaultStagingTables.User),
			Subscription: cmp.Or(get("subscription-table"), assets.DefaultStagingTables.Subscription),
			License:      cmp.Or(get("license-table"), assets.DefaultStagingTables.License)}}
	if n, err := strconv.Atoi(get("batch-size")); err == nil {
		sn.BatchSize = n
	}
	switch sn.ColumnMapping = cmp.Or(get("column-mapping"), assets.ColumnLabels); sn.ColumnMapping {
	case assets.ColumnLabels, assets.ColumnNames:
	default:
		return sn, fmt.Errorf("column-mapping %q: want %s or %s", sn.ColumnMapping, assets.ColumnLabels, assets.ColumnNames)
	}
	if sn.InstanceURL == "" {
		return sn, errors.New("instance-url is required (https://<instance>.service-now.com)")
	}
	if err := CheckEndpoint(sn.InstanceURL); err != nil {
		return sn, fmt.Errorf("instance-url: %w", err)
	}
	if !secrets {
		return sn, nil
	}
	return serviceNowCredentials(sn, get)
}

// serviceNowCredentials reads basic auth's password or the OAuth client secret into sn.
func serviceNowCredentials(sn assets.ServiceNowConfig, get func(name string) string) (assets.ServiceNowConfig, error) {
	user, client := get("user"), get("client-id")
	switch {
	case client != "" && user != "":
		return sn, errors.New("give user (basic auth) or client-id (OAuth), not both")
	case client != "":
		sec, err := msauth.LoadNamedSecret("ServiceNow client secret", "client-secret-file", "SEATLAKE_SERVICENOW_CLIENT_SECRET", get("client-secret-file"))
		if err != nil {
			return sn, fmt.Errorf("the OAuth client secret: %w", err)
		}
		sn.ClientID, sn.ClientSecret = client, sec.Reveal()
	case user != "":
		pw, err := msauth.LoadNamedSecret("ServiceNow password", "password-file", "SEATLAKE_SERVICENOW_PASSWORD", get("password-file"))
		if err != nil {
			return sn, fmt.Errorf("the password of %s: %w", user, err)
		}
		sn.User, sn.Password = user, pw.Reveal()
	default:
		return sn, errors.New("give user (basic auth, password from $SEATLAKE_SERVICENOW_PASSWORD or password-file) or client-id (OAuth)")
	}
	return sn, nil
}

// Sync syncs into target (jsm-assets or servicenow, whose settings cfg holds) and writes a line per tenant and
// object type to out (WriteSyncs). The error wraps ErrInvalidConfig for a configuration to fix (as it is), and
// ErrNotComplete when a tenant's latest run was not complete; any other names the target.
func Sync(ctx context.Context, target string, cfg SyncConfig, out io.Writer) error {
	var res []SyncResult
	var err error
	switch target {
	case "jsm-assets":
		res, err = SyncJSMAssets(ctx, cfg)
	case "servicenow":
		res, err = SyncServiceNow(ctx, cfg)
	default:
		return fmt.Errorf("%w: sync target %q: want jsm-assets or servicenow", ErrInvalidConfig, target)
	}
	if errors.Is(err, ErrInvalidConfig) {
		return err
	}
	if err != nil {
		return fmt.Errorf("sync %s: %w", target, err)
	}
	return WriteSyncs(out, target, res, cfg.DryRun)
}

// TargetSync is one sync a run is followed by: the target and its configuration.
type TargetSync struct {
	Target string
	Config SyncConfig
}

// RunThenSync is what follows a successful run (`seatlake run --then-sync`): each sync in turn, over the tenants
// just run, its lines written to out (io.Discard when quiet); the first that fails stops, with Sync's error.
func RunThenSync(ctx context.Context, syncs []TargetSync, out io.Writer) error {
	for _, s := range syncs {
		if err := Sync(ctx, s.Target, s.Config, out); err != nil {
			return err
		}
	}
	return nil
}
