package graph

import (
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strings"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/seatlake/seatlake/extract/pages"
	"github.com/seatlake/seatlake/internal/table"
)

// UsageReportPath is the Microsoft 365 active user detail report over the last 30 days. Graph answers 302 with a
// pre-authenticated download URL; the HTTP client follows it (and drops the bearer token when the download is on
// another host, as it is in Microsoft's cloud).
const UsageReportPath = "reports/getOffice365ActiveUserDetail(period='D30')"

// concealedName is how a concealed report writes a user: 32 uppercase hex characters (reference §2d).
var concealedName = regexp.MustCompile(`^[0-9A-F]{32}$`)

// usageColumns maps the report's CSV header (as documented) to the table's columns. The report may add columns;
// those it lacks are an error naming them, since a silently empty column would read as "no activity".
var usageColumns = []struct{ header, column string }{
	{"Report Refresh Date", "report_refresh_date"},
	{"User Principal Name", "user_principal_name"},
	{"Display Name", "display_name"},
	{"Is Deleted", "is_deleted"},
	{"Deleted Date", "deleted_date"},
	{"Has Exchange License", "has_exchange_license"},
	{"Has OneDrive License", "has_onedrive_license"},
	{"Has SharePoint License", "has_sharepoint_license"},
	{"Has Skype For Business License", "has_skype_license"},
	{"Has Yammer License", "has_yammer_license"},
	{"Has Teams License", "has_teams_license"},
	{"Exchange Last Activity Date", "exchange_last_activity"},
	{"OneDrive Last Activity Date", "onedrive_last_activity"},
	{"SharePoint Last Activity Date", "sharepoint_last_activity"},
	{"Skype For Business Last Activity Date", "skype_last_activity"},
	{"Yammer Last Activity Date", "yammer_last_activity"},
	{"Teams Last Activity Date", "teams_last_activity"},
	{"Assigned Products", "assigned_products"},
}

// UsageReportResult says what the report held.
type UsageReportResult struct {
	Rows, Concealed int64
	BadValues       int64 // dates or booleans that did not parse (stored as null)
}

// UsageReport downloads the Office 365 active user detail report (CSV) into graph_usage_report. The CSV is read
// with encoding/csv (quoted fields, a leading UTF-8 byte order mark); a body that does not parse whole is fetched
// again, so a truncated download never lands half a report.
func (x *Extractor) UsageReport(ctx context.Context, p pages.Pager, sink table.Sink) (UsageReportResult, error) {
	var res UsageReportResult
	bt := x.NewBatcher(UsageReport, sink)
	defer bt.Release()
	prov := x.Provenance(bt.Builder())
	decode := func(body []byte) (string, error) {
		body = bytes.TrimPrefix(body, []byte("\ufeff"))
		// Check the whole body first: a bad one appends nothing and is fetched again.
		idx, err := usageIndex(body)
		if err != nil {
			return "", pages.Bad("usage report", err)
		}
		r := csv.NewReader(bytes.NewReader(body))
		r.ReuseRecord = true
		if _, err := r.Read(); err != nil { // the header, checked above
			return "", pages.Bad("usage report", err)
		}
		for {
			rec, err := r.Read()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				return "", pages.Bad("usage report", err)
			}
			prov.Append()
			for i, c := range usageColumns {
				v := rec[idx[i]]
				switch c.column {
				case "user_principal_name":
					bt.String(c.column).Append(v)
					concealed := concealedName.MatchString(v)
					bt.Bool("name_concealed").Append(concealed)
					if concealed {
						res.Concealed++
					}
				case "display_name":
					appendText(bt.String(c.column), v)
				case "assigned_products":
					lb := bt.List(c.column)
					if v == "" {
						lb.AppendNull()
						continue
					}
					lb.Append(true)
					vb := lb.ValueBuilder().(*array.StringBuilder)
					for _, p := range strings.Split(v, "+") {
						vb.Append(strings.TrimSpace(p))
					}
				default:
					switch b := bt.Builder().Field(UsageReport.ColumnIndex(c.column)).(type) {
					case *array.Date32Builder:
						appendDate(b, v, &res.BadValues)
					case *array.BooleanBuilder:
						appendCSVBool(b, v, &res.BadValues)
					}
				}
			}
			if err := bt.RowDone(ctx); err != nil {
				return "", err
			}
			res.Rows++
		}
		return "", nil
	}
	if err := p.Walk(ctx, x.url(UsageReportPath, ""), decode); err != nil {
		return res, explain(err, "the Microsoft 365 usage report", "Reports.Read.All")
	}
	return res, bt.Flush(ctx)
}

// usageIndex reads the header and every record once, and returns each column's position in the header.
func usageIndex(body []byte) ([]int, error) {
	r := csv.NewReader(bytes.NewReader(body))
	r.ReuseRecord = true
	header, err := r.Read()
	if err != nil {
		return nil, fmt.Errorf("reading the header: %w", err)
	}
	pos := map[string]int{}
	for i, h := range header {
		pos[strings.TrimSpace(h)] = i
	}
	idx := make([]int, len(usageColumns))
	var missing []string
	for i, c := range usageColumns {
		p, ok := pos[c.header]
		if !ok {
			missing = append(missing, c.header)
		}
		idx[i] = p
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("the report has no column %s", strings.Join(missing, ", "))
	}
	for {
		_, err := r.Read() // FieldsPerRecord (set by the first Read) checks every record has the header's width
		if errors.Is(err, io.EOF) {
			return idx, nil
		}
		if err != nil {
			return nil, err
		}
	}
}

func appendText(b *array.StringBuilder, v string) {
	if v == "" {
		b.AppendNull()
		return
	}
	b.Append(v)
}

func appendDate(b *array.Date32Builder, v string, bad *int64) {
	if v == "" {
		b.AppendNull()
		return
	}
	t, err := time.Parse(time.DateOnly, v)
	if err != nil {
		*bad++
		b.AppendNull()
		return
	}
	b.Append(arrow.Date32FromTime(t))
}

func appendCSVBool(b *array.BooleanBuilder, v string, bad *int64) {
	switch strings.ToLower(v) {
	case "":
		b.AppendNull()
	case "true":
		b.Append(true)
	case "false":
		b.Append(false)
	default:
		*bad++
		b.AppendNull()
	}
}
