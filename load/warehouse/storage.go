package warehouse

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	icebergio "github.com/apache/iceberg-go/io"
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
