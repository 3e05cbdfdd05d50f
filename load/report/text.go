package report

import (
	"encoding/csv"
	"fmt"
	"io"
	"path/filepath"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/seatlake/seatlake/load/warehouse"
)

// WriteText prints the tenant's report for a terminal, with the top candidates of each kind.
func (t *Tenant) WriteText(w io.Writer, top int) {
	fmt.Fprintf(w, "seatlake report  tenant %s  as of %s\n\n", t.TenantID, t.AsOf)
	fmt.Fprintf(w, "%d licenses: %s\n", t.Licenses, statusLine(t.ByStatus))
	fmt.Fprintf(w, "reclaim %d, downgrade %d: %s a year (idle seats cost %s a month)\n\n", t.ReclaimCount, t.DowngradeCount,
		money(t.YearlySaving, t.Currency), money(t.IdleMonthly, t.Currency))

	fmt.Fprintln(w, "Compliance position per SKU")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "SKU\tproduct\tstatus\tpurchased\tassigned\tactive\tinactive\tundecided\tavailable\tshort\treclaim\tdowngrade\tsaving/year\t")
	for _, p := range t.Position {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%s\t\n", p.SKU, p.Product, p.Status, p.Purchased+p.Warning,
			p.Assigned, p.Active, p.Inactive, p.Undecided, p.Available, p.Shortfall, p.Reclaimable, p.Downgradable, money(p.YearlySaving, t.Currency))
	}
	tw.Flush()

	fmt.Fprintln(w, "\nPer product")
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "product\tassigned\tactive\treclaim\tdowngrade\tidle/month\tsaving/year\t")
	for _, p := range t.Products {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t%s\t%s\t\n", p.Product, p.Assigned, p.Active, p.Reclaimable, p.Downgradable,
			money(p.IdleMonthly, t.Currency), money(p.YearlySaving, t.Currency))
	}
	tw.Flush()

	if len(t.FinOps) > 0 {
		fmt.Fprintln(w, "\nF&O licenses: what the roles require against what users hold")
		tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintln(tw, "license\trequired\theld\tunder-licensed\t")
		for _, p := range t.FinOps {
			fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t\n", p.Product, p.Required, p.Assigned, p.UnderLicensed)
		}
		tw.Flush()
	}

	candidates := func(title string, cs []Candidate, total int64) {
		cs = cs[:min(len(cs), top)]
		fmt.Fprintf(w, "\n%s (top %d of %d)\n", title, len(cs), total)
		if len(cs) == 0 {
			fmt.Fprintln(w, "  none")
			return
		}
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "user\tSKU\tstatus\tinactive\tsaving/year\taction\treason")
		for _, c := range cs {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", c.UPN, c.SKU, c.Status, days(c), money(c.YearlySaving, c.Currency), c.Action, c.Reason)
		}
		tw.Flush()
	}
	candidates("Reclaim candidates", t.Reclaims, t.ReclaimCount)
	candidates("Downgrade candidates", t.Downgrades, t.DowngradeCount)

	fmt.Fprintf(w, "\nFindings (%d)\n", len(t.Findings))
	for _, f := range t.Findings {
		env := ""
		if f.Environment != "" {
			env = " [" + f.Environment + "]"
		}
		fmt.Fprintf(w, "  %-6s %s%s: %s\n         -> %s\n", strings.ToUpper(f.Severity), f.Code, env, f.Detail, f.Action)
	}
}

func statusLine(by map[string]int64) string {
	var parts []string
	for _, s := range statuses {
		if n := by[s]; n > 0 {
			parts = append(parts, fmt.Sprintf("%s %d", s, n))
		}
	}
	return strings.Join(parts, ", ")
}

// statuses in the order a reader wants them.
var statuses = []string{"active", "low_usage", "never_used", "disabled_user_licensed", "grace_period", "review_only", "excluded"}

func days(c Candidate) string {
	if !c.DaysInactive.Valid {
		return "-"
	}
	return strconv.FormatInt(c.DaysInactive.Int64, 10) + "d"
}

// PlanColumns are the reclaim plan's columns. An approver marks the rows to apply in the last one, approve (yes);
// `seatlake reclaim --plan` reads the file back by these names.
var PlanColumns = []string{"tenant_id", "user_id", "user_principal_name", "sku_part_number", "product", "status", "action",
	"days_inactive", "last_activity", "evidence", "reason", "yearly_saving", "currency", "sku_id", "assigned_by_group", "snapshot_date", "approve"}

// WritePlan writes every reclaim and downgrade candidate of the tenants to dir/reclaim-plan.csv, the largest saving
// first: the attachment of a change ticket. It returns the file's path.
func WritePlan(dir string, tenants []*Tenant) (string, error) {
	path := filepath.Join(dir, "reclaim-plan.csv")
	err := warehouse.WriteAtomic(path, func(f io.Writer) error {
		w := csv.NewWriter(f)
		w.Write(PlanColumns)
		for _, t := range tenants {
			for _, group := range [][]Candidate{t.Reclaims, t.Downgrades} {
				for _, c := range group {
					d := ""
					if c.DaysInactive.Valid {
						d = strconv.FormatInt(c.DaysInactive.Int64, 10)
					}
					w.Write([]string{c.TenantID, c.UserID, c.UPN, c.SKU, c.Product, c.Status, c.Action, d, c.LastActivity, c.Evidence,
						c.Reason, strconv.FormatFloat(c.YearlySaving, 'f', 2, 64), c.Currency, c.SkuID, c.AssignedByGroup, c.SnapshotDate, ""})
				}
			}
		}
		w.Flush()
		return w.Error()
	})
	if err != nil {
		return "", fmt.Errorf("writing the reclaim plan: %w", err)
	}
	return path, nil
}
