package warehouse

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/apache/iceberg-go"
	"github.com/apache/iceberg-go/catalog"
	icebergio "github.com/apache/iceberg-go/io"
	icebergs3 "github.com/apache/iceberg-go/io/gocloud/s3"
	itable "github.com/apache/iceberg-go/table"
	"github.com/apache/iceberg-go/utils"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
)

// create opens a new file at a storage location for writing. A local file gets the warehouse's mode and is
// fsynced when closed; elsewhere the storage's FileIO writes it (an object store makes it visible on Close).
func (w *Warehouse) create(location string) (io.WriteCloser, error) {
	if p, ok := w.LocalPath(location); ok {
		if err := os.MkdirAll(filepath.Dir(p), DirMode); err != nil {
			return nil, err
		}
		f, err := os.OpenFile(p, os.O_CREATE|os.O_EXCL|os.O_WRONLY, FileMode)
		if err != nil {
			return nil, err
		}
		return syncingFile{f}, nil
	}
	wfs, ok := w.fs.(icebergio.WriteFileIO)
	if !ok {
		return nil, fmt.Errorf("the storage %s cannot be written", w.storage)
	}
	return wfs.Create(location)
}

// remove deletes a file at a storage location.
func (w *Warehouse) remove(location string) error {
	if p, ok := w.LocalPath(location); ok {
		return os.Remove(p)
	}
	return w.fs.Remove(location)
}

// open opens a file at a storage location for reading.
func (w *Warehouse) open(location string) (icebergio.File, error) {
	if p, ok := w.LocalPath(location); ok {
		return os.Open(p)
	}
	return w.fs.Open(location)
}

// syncingFile makes a local file durable before closing it: a commit must never name a file a crash could lose.
type syncingFile struct{ *os.File }

func (f syncingFile) Close() error {
	err := f.File.Sync()
	return errors.Join(err, f.File.Close())
}

// LocalCopy is a local path holding the file at a storage location: the file itself for local storage, else a
// copy in the warehouse directory's file cache (_cache/), downloaded once. Data files are immutable (written once,
// under unique names), so a cached copy never goes stale; maintenance removes copies no longer read.
func (w *Warehouse) LocalCopy(ctx context.Context, location string) (string, error) {
	if p, ok := w.LocalPath(location); ok {
		return p, nil
	}
	rel, ok := strings.CutPrefix(location, w.storage+"/")
	if !ok {
		return "", fmt.Errorf("file %s is outside the warehouse's storage %s", location, w.storage)
	}
	dst := filepath.Join(w.root, dirCache, filepath.FromSlash(rel))
	if _, err := os.Stat(dst); err == nil {
		return dst, nil
	}
	if err := ctx.Err(); err != nil {
		return "", err
	}
	src, err := w.fs.Open(location)
	if err != nil {
		return "", fmt.Errorf("reading %s: %w", location, err)
	}
	defer src.Close()
	if err := writeAtomic(dst, func(f *os.File) error { _, err := io.Copy(f, src); return err }); err != nil {
		return "", fmt.Errorf("caching %s: %w", location, err)
	}
	return dst, nil
}

// dirCache holds local copies of an object store's data files, for DuckDB.
const dirCache = "_cache"

// StorageRequestTimeout is the storage option (Config.StorageOptions) bounding how long one request to object
// storage may wait for its answer: a Go duration ("90s") or seconds ("90"); default DefaultStorageRequestTimeout.
// On S3 it is the wait for the response's headers once the request is sent; on Azure, the whole try (azcore's
// TryTimeout), the body included. A try that takes longer is abandoned and retried by the SDK, as a 503 is.
// Without it neither SDK ever gives up on a stalled connection (neither sets a response timeout by default).
const StorageRequestTimeout = "seatlake.storage.request-timeout"

// StorageMaxAttempts is the storage option setting how many times the SDK tries one request to object storage, the
// first included (default: the SDK's, 3 on S3 or AWS_MAX_ATTEMPTS, 4 on Azure).
const StorageMaxAttempts = "seatlake.storage.max-attempts"

// DefaultStorageRequestTimeout is the storage request timeout unless configured: long enough for an Azure try to
// download a large data file whole, short enough that a stalled connection costs minutes, not the night.
const DefaultStorageRequestTimeout = 5 * time.Minute

// What the SDKs do with a failed request, which seatlake keeps: S3 (aws-sdk-go-v2's standard retryer; an adaptive
// AWS_RETRY_MODE is not applied) tries a request 3 times (AWS_MAX_ATTEMPTS), retrying 500, 502, 503, 504, throttling
// and connection errors, timeouts included; Azure (azcore's retry policy) tries 4 times, retrying 408, 429, 500, 502,
// 503, 504 and transport errors, 0.8 s, 2.4 s, 5.6 s apart (jittered). seatlake adds the timeout above and logs every
// failed try ("storage request failed"); what the SDK gives up on fails the write, or is retried by the commit loop
// (commitTable).

// storageCtxKey marks a context already carrying the storage settings.
type storageCtxKey struct{}

// storageContext returns ctx carrying seatlake's settings for the object store's SDK (the request timeout and the
// logging of failed tries): iceberg-go's S3 FileIO takes its AWS configuration from the context (utils.WithAwsConfig)
// and azcore its retry options (policy.WithRetryOptions). The FileIO keeps the context it was loaded with, so every
// request of a FileIO loaded with such a context gets them. Local and in-memory storage: ctx as it is.
func (w *Warehouse) storageContext(ctx context.Context) context.Context {
	if ctx.Value(storageCtxKey{}) != nil {
		return ctx
	}
	kind := objectStore(w.storage)
	if kind == "" {
		return ctx
	}
	timeout, attempts := w.storageRequestOptions()
	failed := func(err error) {
		w.log.Warn("storage request failed", "storage", w.storage, "err", err)
	}
	switch kind {
	case "S3":
		cfg, err := icebergs3.ParseAWSConfig(ctx, w.props)
		if err != nil {
			return ctx // iceberg-go's FileIO reports the same error
		}
		ctx = utils.WithAwsConfig(ctx, s3Config(cfg, timeout, attempts, failed))
	case "Azure":
		ctx = policy.WithRetryOptions(ctx, azureRetryOptions(timeout, attempts, failed))
	}
	return context.WithValue(ctx, storageCtxKey{}, true)
}

// storageRequestOptions are the request timeout and the tries per request (0: the SDK's default) the storage
// options set; an invalid one is logged and ignored.
func (w *Warehouse) storageRequestOptions() (timeout time.Duration, attempts int) {
	timeout = DefaultStorageRequestTimeout
	if v := w.props[StorageRequestTimeout]; v != "" {
		if d, err := parseDuration(v); err == nil && d > 0 {
			timeout = d
		} else {
			w.log.Warn("ignoring an invalid storage option", "option", StorageRequestTimeout, "value", v, "default", timeout)
		}
	}
	if v := w.props[StorageMaxAttempts]; v != "" {
		if n, err := strconv.Atoi(v); err == nil && n > 0 {
			attempts = n
		} else {
			w.log.Warn("ignoring an invalid storage option", "option", StorageMaxAttempts, "value", v)
		}
	}
	return timeout, attempts
}

// s3Config is cfg with the request timeout, the tries per request (0: AWS_MAX_ATTEMPTS, max_attempts, else the
// SDK's default) and failed tries logged.
func s3Config(cfg *aws.Config, timeout time.Duration, attempts int, failed func(error)) *aws.Config {
	bc, ok := cfg.HTTPClient.(*awshttp.BuildableClient)
	if !ok || bc == nil {
		bc = awshttp.NewBuildableClient()
	}
	cfg.HTTPClient = bc.WithTransportOptions(func(t *http.Transport) {
		// iceberg-go's own S3 transport tuning (io/gocloud/s3), which a configured client replaces.
		t.MaxIdleConns, t.MaxIdleConnsPerHost, t.MaxConnsPerHost, t.IdleConnTimeout = 256, 256, 2048, 90*time.Second
		t.ResponseHeaderTimeout = timeout
	})
	if attempts == 0 {
		attempts = cfg.RetryMaxAttempts // AWS_MAX_ATTEMPTS, max_attempts
	}
	cfg.Retryer = func() aws.Retryer {
		return loggingRetryer{Retryer: retry.NewStandard(func(o *retry.StandardOptions) {
			if attempts > 0 {
				o.MaxAttempts = attempts
			}
		}), failed: failed}
	}
	return cfg
}

// azureRetryOptions are azcore's retry options with the try timeout, the tries per request (0: the default) and
// failed tries logged.
func azureRetryOptions(timeout time.Duration, attempts int, failed func(error)) policy.RetryOptions {
	retries := int32(0) // the default, 3
	switch {
	case attempts == 1:
		retries = -1 // azcore: one try
	case attempts > 1:
		retries = int32(attempts - 1)
	}
	return policy.RetryOptions{
		MaxRetries: retries,
		TryTimeout: timeout,
		// azcore's own rule (these status codes and transport errors, timeouts included), plus the log line.
		ShouldRetry: func(resp *http.Response, err error) bool {
			switch {
			case err != nil:
				failed(withoutQuery(err))
				return true
			case resp != nil && azureRetryStatus[resp.StatusCode]:
				failed(azureStatusError(resp))
				return true
			}
			return false
		},
	}
}

// azureStatusError names a failed Azure request by its method, its URL without query or user (a SAS token travels
// in the query) and its status.
func azureStatusError(resp *http.Response) error {
	if resp.Request == nil || resp.Request.URL == nil {
		return errors.New(resp.Status)
	}
	u := *resp.Request.URL
	u.RawQuery, u.User = "", nil // a SAS token travels in the query
	return fmt.Errorf("%s %s: %s", resp.Request.Method, u.String(), resp.Status)
}

// objectStore names the object store a storage location is on: "S3", "Azure", or "" (local or in-memory storage).
func objectStore(storage string) string {
	u, err := url.Parse(storage)
	if err != nil {
		return ""
	}
	switch u.Scheme {
	case "s3", "s3a":
		return "S3"
	case "abfss", "abfs", "wasbs", "wasb":
		return "Azure"
	}
	return ""
}

// withoutQuery drops the query of the URL a request error names: a SAS token travels there.
func withoutQuery(err error) error {
	var ue *url.Error
	if !errors.As(err, &ue) {
		return err
	}
	u, perr := url.Parse(ue.URL)
	if perr != nil {
		return errors.New("a request to the storage failed") // nothing of an unparsable URL is logged
	}
	u.RawQuery, u.User = "", nil
	return fmt.Errorf("%s %s: %w", ue.Op, u, ue.Err)
}

// azureRetryStatus are the status codes azcore retries by default (policy.RetryOptions.StatusCodes).
var azureRetryStatus = map[int]bool{
	http.StatusRequestTimeout: true, http.StatusTooManyRequests: true, http.StatusInternalServerError: true,
	http.StatusBadGateway: true, http.StatusServiceUnavailable: true, http.StatusGatewayTimeout: true,
}

// loggingRetryer is the SDK's retryer, logging each failed try it retries.
type loggingRetryer struct {
	aws.Retryer
	failed func(error)
}

func (r loggingRetryer) RetryDelay(attempt int, err error) (time.Duration, error) {
	r.failed(err)
	return r.Retryer.RetryDelay(attempt, err)
}

// parseDuration reads a Go duration or a number of seconds.
func parseDuration(v string) (time.Duration, error) {
	if s, err := strconv.ParseFloat(v, 64); err == nil {
		return time.Duration(s * float64(time.Second)), nil
	}
	return time.ParseDuration(v)
}

// storageCatalog gives the catalog's calls that read or write the tables' metadata files the storage settings
// (storageContext); the other calls pass through.
type storageCatalog struct {
	catalog.Catalog
	w *Warehouse
}

// withStorageSettings wraps cat when the storage is an object store.
func (w *Warehouse) withStorageSettings(cat catalog.Catalog) catalog.Catalog {
	if objectStore(w.storage) == "" {
		return cat
	}
	return storageCatalog{Catalog: cat, w: w}
}

func (c storageCatalog) LoadTable(ctx context.Context, id itable.Identifier) (*itable.Table, error) {
	return c.Catalog.LoadTable(c.w.storageContext(ctx), id)
}

func (c storageCatalog) CreateTable(ctx context.Context, id itable.Identifier, sc *iceberg.Schema, opts ...catalog.CreateTableOpt) (*itable.Table, error) {
	return c.Catalog.CreateTable(c.w.storageContext(ctx), id, sc, opts...)
}

func (c storageCatalog) CommitTable(ctx context.Context, id itable.Identifier, reqs []itable.Requirement, upds []itable.Update) (itable.Metadata, string, error) {
	return c.Catalog.CommitTable(c.w.storageContext(ctx), id, reqs, upds)
}

func (c storageCatalog) Close() error { return closeCatalog(c.Catalog) }

// Remote says whether the tables' files are on object storage (S3, Azure), not on a local disk: readers then read
// copies in the warehouse directory's file cache, downloaded on first use.
func (w *Warehouse) Remote() bool { return w.local == "" }
