package transform

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/seatlake/seatlake/extract/table"
	seatsql "github.com/seatlake/seatlake/sql"
)

var (
	str = arrow.BinaryTypes.String
	f64 = arrow.PrimitiveTypes.Float64
)

// Identities is the identities mart: one row per Entra user and per Dynamics 365 account.
var Identities = table.New("identities", table.Snapshot, "",
	"One row per Entra user and per Dynamics 365 account (Dataverse and F&O users of each environment), joined into persons: "+
		"the match method and confidence, or why an account matches no Entra user.",
	table.Column{Name: "person_id", Type: str, Key: true, Doc: "the Entra user id, or source:environment:account for an account that matches nobody"},
	table.Column{Name: "entra_user_id", Type: str, Nullable: true},
	table.Column{Name: "user_principal_name", Type: str, Nullable: true},
	table.Column{Name: "display_name", Type: str, Nullable: true},
	table.Column{Name: "source", Type: str, Key: true, Doc: "entra, dataverse or finops"},
	table.Column{Name: "environment_url", Type: str, Nullable: true, Key: true},
	table.Column{Name: "account_id", Type: str, Key: true, Doc: "Entra id, Dataverse systemuserid or F&O UserID"},
	table.Column{Name: "account_name", Type: str, Nullable: true, Doc: "UPN, domainname or Alias"},
	table.Column{Name: "match_method", Type: str, Nullable: true, Doc: "object_id, upn, alias or email; null for Entra rows and unmatched accounts"},
	table.Column{Name: "confidence", Type: f64, Nullable: true, Doc: "1.0 object id, 0.95/0.9 alias (exact/other case), 0.9 UPN, 0.7 e-mail"},
	table.Column{Name: "unmatched_reason", Type: str, Nullable: true, Doc: "application_user, built_in, not_in_entra, conflict or no_match"},
	table.Column{Name: "detail", Type: str, Nullable: true, Doc: "what a person needs to check the row"},
)

// Marts lists the marts in the order they are computed.
func Marts() []*table.Table { return []*table.Table{Identities} }

// Queryer runs a query; *sql.DB and *sql.Conn implement it.
type Queryer interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

// Run identifies the computation: its rows carry the tenant, the run id and the time as their provenance.
type Run struct {
	TenantID  string
	RunID     string
	At        time.Time
	BatchRows int
	Alloc     memory.Allocator
}

// Compute runs mart's query (sql/marts/<name>.sql) for the run's tenant over db and writes its rows to sink. The
// query's columns must be the mart's declared columns, in order; a mismatch is an error naming both.
func Compute(ctx context.Context, db Queryer, mart *table.Table, run Run, sink table.Sink) (int64, error) {
	q, err := seatsql.Marts.ReadFile("marts/" + mart.Name + ".sql")
	if err != nil {
		return 0, fmt.Errorf("mart %s: %w", mart.Name, err)
	}
	rows, err := db.QueryContext(ctx, string(q), run.TenantID)
	if err != nil {
		return 0, fmt.Errorf("computing %s: %w", mart.Name, err)
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return 0, fmt.Errorf("computing %s: %w", mart.Name, err)
	}
	declared := mart.Columns[3:]
	names := make([]string, len(declared))
	for i, c := range declared {
		names[i] = c.Name
	}
	if strings.Join(cols, ",") != strings.Join(names, ",") {
		return 0, fmt.Errorf("computing %s: the query returns (%s), the mart declares (%s)", mart.Name, strings.Join(cols, ", "), strings.Join(names, ", "))
	}
	mem := run.Alloc
	if mem == nil {
		mem = memory.DefaultAllocator
	}
	bt := table.NewBatcher(mem, mart, run.BatchRows, sink)
	defer bt.Release()
	prov := table.NewProvenance(bt.Builder(), run.TenantID, run.RunID, run.At)
	b := bt.Builder()
	dest := make([]any, len(declared))
	for i, c := range declared {
		switch c.Type.ID() {
		case arrow.STRING:
			dest[i] = new(sql.NullString)
		case arrow.FLOAT64:
			dest[i] = new(sql.NullFloat64)
		case arrow.BOOL:
			dest[i] = new(sql.NullBool)
		case arrow.INT32, arrow.INT64:
			dest[i] = new(sql.NullInt64)
		case arrow.TIMESTAMP:
			dest[i] = new(sql.NullTime)
		default:
			return 0, fmt.Errorf("computing %s: column %s has a type marts do not support (%s)", mart.Name, c.Name, c.Type)
		}
	}
	var n int64
	for rows.Next() {
		if err := rows.Scan(dest...); err != nil {
			return n, fmt.Errorf("computing %s: %w", mart.Name, err)
		}
		prov.Append()
		for i := range declared {
			fb := b.Field(i + 3)
			switch v := dest[i].(type) {
			case *sql.NullString:
				if v.Valid {
					fb.(*array.StringBuilder).Append(v.String)
				} else {
					fb.AppendNull()
				}
			case *sql.NullFloat64:
				if v.Valid {
					fb.(*array.Float64Builder).Append(v.Float64)
				} else {
					fb.AppendNull()
				}
			case *sql.NullBool:
				if v.Valid {
					fb.(*array.BooleanBuilder).Append(v.Bool)
				} else {
					fb.AppendNull()
				}
			case *sql.NullInt64:
				switch {
				case !v.Valid:
					fb.AppendNull()
				case declared[i].Type.ID() == arrow.INT32:
					fb.(*array.Int32Builder).Append(int32(v.Int64))
				default:
					fb.(*array.Int64Builder).Append(v.Int64)
				}
			case *sql.NullTime:
				if v.Valid {
					fb.(*array.TimestampBuilder).Append(arrow.Timestamp(v.Time.UTC().UnixMicro()))
				} else {
					fb.AppendNull()
				}
			}
		}
		n++
		if err := bt.RowDone(ctx); err != nil {
			return n, err
		}
	}
	if err := rows.Err(); err != nil {
		return n, fmt.Errorf("computing %s: %w", mart.Name, err)
	}
	return n, bt.Flush(ctx)
}
