package pipelines

import (
	"context"
	"fmt"
	"io"
	"path/filepath"
	"time"

	"github.com/seatlake/seatlake/load/catalog"
	"github.com/seatlake/seatlake/load/report"
	"github.com/seatlake/seatlake/load/warehouse"
)

// ReportConfig is `seatlake report`: which tenants' marts, and what to write.
type ReportConfig struct {
	Warehouse string
	Tenants   []string          // nil: every tenant with marts
	Names     map[string]string // tenant names by id (the config file's), over those the runs recorded
	Top       int               // candidates of each kind on the terminal and the page
	Width     int               // the terminal's width (0: report.DefaultWidth)
	Quiet     bool              // print only the paths written
	CSVDir    string            // write the reclaim plan (reclaim-plan.csv) here
	HTML      string            // write the page here
}

// Report prints each tenant's report to out (unless Quiet) and writes the reclaim plan and the page, printing
// reclaim_plan=PATH and html=PATH. A tenant picked that has no marts wraps ErrInvalidConfig.
func Report(ctx context.Context, cfg ReportConfig, out io.Writer) error {
	db, err := catalog.Open(cfg.Warehouse)
	if err != nil {
		return err
	}
	defer db.Close()
	tenants := cfg.Tenants
	if len(tenants) == 0 {
		if tenants, err = catalog.Tenants(ctx, db, "license_usage"); err != nil {
			return err
		}
	}
	if len(tenants) == 0 {
		return fmt.Errorf("the warehouse %s has no marts yet: run `seatlake run` or `seatlake marts`", cfg.Warehouse)
	}
	var all []*report.Tenant
	for _, id := range tenants {
		t, err := report.Load(ctx, db, id, 0)
		if err != nil {
			return fmt.Errorf("tenant %s: %w", id, err)
		}
		if n := cfg.Names[id]; n != "" {
			t.TenantName = n // the config file's name, as today
		}
		if t.Licenses == 0 && t.AsOf == "" {
			return invalid(fmt.Errorf("tenant %s has no marts in %s", t.Label(), cfg.Warehouse))
		}
		all = append(all, t)
	}
	top := max(cfg.Top, 0)
	if !cfg.Quiet {
		for i, t := range all {
			if i > 0 {
				fmt.Fprintln(out)
			}
			t.WriteText(out, top, cfg.Width)
		}
	}
	if cfg.CSVDir != "" {
		path, err := report.WritePlan(cfg.CSVDir, all)
		if err != nil {
			return err
		}
		fmt.Fprintf(out, "reclaim_plan=%s\n", path)
	}
	if cfg.HTML != "" {
		if err := writeHTML(cfg.HTML, all, top); err != nil {
			return err
		}
		abs, _ := filepath.Abs(cfg.HTML)
		fmt.Fprintf(out, "html=%s\n", abs)
	}
	return nil
}

// writeHTML writes the page whole (a temporary name, then a rename), so a reader never opens half a page.
func writeHTML(path string, all []*report.Tenant, top int) error {
	err := warehouse.WriteAtomic(path, func(w io.Writer) error { return report.WriteHTML(w, all, top, time.Now()) })
	if err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return nil
}

// QueryConfig is `seatlake query`: one SQL statement over the warehouse's views.
type QueryConfig struct {
	Warehouse string
	SQL       string
	Format    string   // table, csv or json
	Tenants   []string // only these tenants' rows in every view (nil: every tenant)
}

// Query runs the statement on the views (read-only) and writes the answer to out.
func Query(ctx context.Context, cfg QueryConfig, out io.Writer) error {
	return catalog.Query(ctx, cfg.Warehouse, cfg.SQL, cfg.Format, out, cfg.Tenants...)
}

// RebuildViews builds the warehouse's views again (after moving its directory).
func RebuildViews(ctx context.Context, root string) error {
	if err := catalog.Build(ctx, root, Tables()); err != nil {
		return fmt.Errorf("rebuilding the views: %w", err)
	}
	return nil
}
