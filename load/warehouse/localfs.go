package warehouse

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	icebergio "github.com/apache/iceberg-go/io"
)

// Properties of the local FileIO (see localFS): the name the tables' metadata gives the storage, and the directory
// holding it now. They differ when an embedded warehouse was copied or moved: Iceberg metadata names files by
// absolute URI, so the copy keeps the original's names and reads them from its own directory.
const (
	propLocalName = "seatlake.local.name"
	propLocalDir  = "seatlake.local.dir"
)

// The local FileIO replaces iceberg-go's for file:// locations, process-wide (iceberg-go chooses a FileIO by
// scheme from one registry, as database/sql chooses drivers): it creates files and directories with the
// warehouse's modes (FileMode, DirMode) instead of 0644/0755, and maps a moved warehouse's names to its directory.
func init() {
	for _, scheme := range []string{"file", ""} {
		icebergio.Unregister(scheme)
		icebergio.Register(scheme, func(_ context.Context, _ *url.URL, props map[string]string) (icebergio.IO, error) {
			return localFS{name: strings.TrimRight(props[propLocalName], "/"), dir: props[propLocalDir]}, nil
		})
	}
}

// localFS is a local FileIO. A location under name (file:///original/path) is the same path under dir; other
// locations are plain local paths.
type localFS struct {
	name string // file:///… the metadata's name of the storage; "" maps nothing
	dir  string // its directory now
}

var (
	_ icebergio.ReadFileIO  = localFS{}
	_ icebergio.WriteFileIO = localFS{}
	_ icebergio.ListableIO  = localFS{}
	_ icebergio.StatIO      = localFS{}
)

// path is the local file of a location.
func (l localFS) path(location string) (string, error) {
	if l.name != "" {
		if rest, ok := strings.CutPrefix(location, l.name); ok && (rest == "" || rest[0] == '/') {
			return filepath.Join(l.dir, filepath.FromSlash(rest)), nil
		}
	}
	if !strings.Contains(location, "://") {
		return filepath.FromSlash(location), nil
	}
	u, err := url.Parse(location)
	if err != nil {
		return "", err
	}
	if u.Scheme != "file" {
		return "", fmt.Errorf("%s is not a local file", location)
	}
	return filepath.FromSlash(u.Path), nil
}

// location is the name a local path has under root, the location a walk started from.
func (l localFS) location(root, rootPath, p string) string {
	rel, err := filepath.Rel(rootPath, p)
	if err != nil || rel == "." {
		return root
	}
	return strings.TrimRight(root, "/") + "/" + filepath.ToSlash(rel)
}

func (l localFS) Open(name string) (icebergio.File, error) {
	p, err := l.path(name)
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: name, Err: err}
	}
	return os.Open(p)
}

func (l localFS) ReadFile(name string) ([]byte, error) {
	p, err := l.path(name)
	if err != nil {
		return nil, &fs.PathError{Op: "read", Path: name, Err: err}
	}
	return os.ReadFile(p)
}

func (l localFS) Create(name string) (icebergio.FileWriter, error) {
	p, err := l.path(name)
	if err != nil {
		return nil, &fs.PathError{Op: "create", Path: name, Err: err}
	}
	if err := os.MkdirAll(filepath.Dir(p), DirMode); err != nil {
		return nil, err
	}
	return os.OpenFile(p, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, FileMode)
}

func (l localFS) WriteFile(name string, content []byte) error {
	p, err := l.path(name)
	if err != nil {
		return &fs.PathError{Op: "write", Path: name, Err: err}
	}
	if err := os.MkdirAll(filepath.Dir(p), DirMode); err != nil {
		return err
	}
	return os.WriteFile(p, content, FileMode)
}

func (l localFS) Remove(name string) error {
	p, err := l.path(name)
	if err != nil {
		return &fs.PathError{Op: "remove", Path: name, Err: err}
	}
	return os.Remove(p)
}

func (l localFS) Stat(name string) (fs.FileInfo, error) {
	p, err := l.path(name)
	if err != nil {
		return nil, &fs.PathError{Op: "stat", Path: name, Err: err}
	}
	return os.Stat(p)
}

// WalkDir walks the directory of root, giving fn each entry under root's name (so that a moved warehouse's files
// compare equal to the metadata's names: orphan removal depends on it).
func (l localFS) WalkDir(root string, fn fs.WalkDirFunc) error {
	rootPath, err := l.path(root)
	if err != nil {
		return &fs.PathError{Op: "walk", Path: root, Err: err}
	}
	return filepath.WalkDir(rootPath, func(p string, d fs.DirEntry, err error) error {
		return fn(l.location(root, rootPath, p), d, err)
	})
}

// storageName is the name the embedded catalog's tables give the storage at dir: the name they were created with,
// found from the commit log table's location (<storage>/seatlake_commits), or dir's own file:// URL for a new
// warehouse. A warehouse copied or moved to dir keeps reading its own files under the original names.
func storageName(ctx context.Context, db *sql.DB, dir string) (string, error) {
	own := "file://" + filepath.ToSlash(dir)
	var loc string
	err := db.QueryRowContext(ctx, `SELECT metadata_location FROM iceberg_tables WHERE catalog_name = ? AND table_namespace = ? AND table_name = ?`,
		CatalogName, Namespace, CommitsTable.Name).Scan(&loc)
	if errors.Is(err, sql.ErrNoRows) || (err != nil && strings.Contains(err.Error(), "no such table")) {
		return own, nil
	}
	if err != nil {
		return "", fmt.Errorf("reading the catalog: %w", err)
	}
	tableLoc, _, ok := strings.Cut(loc, "/metadata/")
	name, found := strings.CutSuffix(tableLoc, "/"+CommitsTable.Name)
	if !ok || !found || !strings.HasPrefix(name, "file://") {
		return own, nil
	}
	return name, nil
}

// createPrivate creates an empty file with FileMode if none is at path. SQLite creates its -wal and -shm files
// with the database file's mode, so the catalog's companions are as private as the catalog.
func createPrivate(path string) error {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, FileMode)
	if errors.Is(err, os.ErrExist) {
		return nil
	}
	if err != nil {
		return err
	}
	return f.Close()
}
