package warehouse

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/apache/iceberg-go"
	"github.com/apache/iceberg-go/catalog"
	itable "github.com/apache/iceberg-go/table"
)

// namedCatalog names the catalog in the errors of its calls that reach it for a table (loading, creating): a
// catalog that cannot be reached fails the run with "the PostgreSQL catalog: failed to connect …", not with a
// driver's message a reader must trace to the catalog. A missing table passes as it is.
type namedCatalog struct {
	catalog.Catalog
	w *Warehouse
}

func (c namedCatalog) name(err error) error {
	if err == nil || errors.Is(err, catalog.ErrNoSuchTable) || errors.Is(err, catalog.ErrNoSuchNamespace) ||
		errors.Is(err, catalog.ErrTableAlreadyExists) || errors.Is(err, context.Canceled) {
		return err
	}
	n := c.w.catalogName()
	if strings.Contains(err.Error(), n) {
		return err
	}
	return fmt.Errorf("%s: %w", n, err)
}

func (c namedCatalog) LoadTable(ctx context.Context, id itable.Identifier) (*itable.Table, error) {
	t, err := c.Catalog.LoadTable(ctx, id)
	return t, c.name(err)
}

func (c namedCatalog) CreateTable(ctx context.Context, id itable.Identifier, sc *iceberg.Schema, opts ...catalog.CreateTableOpt) (*itable.Table, error) {
	t, err := c.Catalog.CreateTable(ctx, id, sc, opts...)
	return t, c.name(err)
}

func (c namedCatalog) Close() error { return closeCatalog(c.Catalog) }

// closeCatalog closes a catalog that holds connections (a wrapper's inner one); the others need nothing.
func closeCatalog(c catalog.Catalog) error {
	if cl, ok := c.(catalog.Closer); ok {
		return cl.Close()
	}
	return nil
}
