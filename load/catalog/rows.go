package catalog

import (
	"context"
	"database/sql"
	"fmt"
)

// Queryer runs a query: a *sql.DB, *sql.Conn or *sql.Tx over the views.
type Queryer interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

// EachRow runs q over the views and hands every row to scan; any error, the query's or a row's, reads as
// "reading the marts: …".
func EachRow(ctx context.Context, db Queryer, q string, args []any, scan func(*sql.Rows) error) error {
	rows, err := db.QueryContext(ctx, q, args...)
	if err != nil {
		return fmt.Errorf("reading the marts: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		if err := scan(rows); err != nil {
			return fmt.Errorf("reading the marts: %w", err)
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("reading the marts: %w", err)
	}
	return nil
}
