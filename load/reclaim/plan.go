// Package reclaim removes licenses an approver marked in a reclaim plan, through Microsoft Graph: it reads the plan
// (the CSV `seatlake report --csv` writes, with an approve column), re-reads each user before acting on them, and
// removes a direct assignment with assignLicense. Which rows to act on is decided in pipelines; this package reads
// the plan and talks to Graph.
package reclaim

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strings"
)

// Row is one row of a reclaim plan, with its line number and every column as written (the audit record keeps it).
type Row struct {
	Line                                    int
	TenantID, UserID, UPN, SkuID, SkuPart   string
	Status, Action, LastActivity            string
	AssignedByGroup, SnapshotDate, Approval string
	Approved                                bool
	Columns                                 map[string]string
}

// required are the columns a plan must have.
var required = []string{"tenant_id", "user_id", "sku_id", "action", "approve"}

// ReadPlan reads a plan. approve is yes, y, true, x or 1 (any case) for an approved row and empty, no, n, false or
// 0 for one that is not; anything else is an error naming the line, never a guess.
func ReadPlan(r io.Reader) ([]Row, error) {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1
	header, err := cr.Read()
	if err != nil {
		return nil, fmt.Errorf("reading the plan's header: %w", err)
	}
	col := map[string]int{}
	for i, h := range header {
		col[strings.TrimSpace(strings.TrimPrefix(strings.ToLower(h), "\ufeff"))] = i
	}
	for _, c := range required {
		if _, ok := col[c]; !ok {
			return nil, fmt.Errorf("the plan has no %q column: write it with `seatlake report --csv DIR` and mark the rows to apply in its approve column", c)
		}
	}
	var out []Row
	for line := 2; ; line++ {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("reading the plan: %w", err)
		}
		get := func(name string) string {
			if i, ok := col[name]; ok && i < len(rec) {
				return strings.TrimSpace(rec[i])
			}
			return ""
		}
		row := Row{Line: line, TenantID: get("tenant_id"), UserID: get("user_id"), UPN: get("user_principal_name"), SkuID: get("sku_id"),
			SkuPart: get("sku_part_number"), Status: get("status"), Action: get("action"), LastActivity: get("last_activity"),
			AssignedByGroup: get("assigned_by_group"), SnapshotDate: get("snapshot_date"), Approval: get("approve"), Columns: map[string]string{}}
		for name, i := range col {
			if i < len(rec) {
				row.Columns[name] = rec[i]
			}
		}
		switch strings.ToLower(row.Approval) {
		case "yes", "y", "true", "x", "1", "approved":
			row.Approved = true
		case "", "no", "n", "false", "0":
		default:
			return nil, fmt.Errorf("plan line %d: approve is %q: write yes to apply the row, or leave it empty", line, row.Approval)
		}
		if row.Approved && (row.TenantID == "" || row.UserID == "" || row.SkuID == "") {
			return nil, fmt.Errorf("plan line %d: an approved row needs tenant_id, user_id and sku_id", line)
		}
		out = append(out, row)
	}
}
