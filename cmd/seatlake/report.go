package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/urfave/cli/v2"
	"golang.org/x/term"

	"github.com/seatlake/seatlake/load/catalog"
	"github.com/seatlake/seatlake/load/report"
	"github.com/seatlake/seatlake/load/warehouse"
)

func reportCommand() *cli.Command {
	var fc *fileConfig
	return &cli.Command{
		Name:   "report",
		Before: loadConfigFile(&fc),
		Usage:  "print the compliance position, the top reclaim and downgrade candidates and the findings; write the reclaim plan and an HTML page",
		Description: "Reads the marts of the warehouse (the latest snapshot of each tenant). On stdout: the position per SKU and\n" +
			"product, the top --top reclaim and downgrade candidates with their saving, and the findings. --csv DIR writes\n" +
			"DIR/reclaim-plan.csv (every candidate: user, SKU, status, action, reason, evidence, saving) for a change ticket;\n" +
			"--html FILE writes one self-contained page with charts (no network needed to open it). It prints\n" +
			"reclaim_plan=PATH and html=PATH for what it wrote.",
		Flags: []cli.Flag{
			configFlag(),
			warehouseFlag(), catalogFlag(), storageFlag(),
			tenantFlag(),
			&cli.StringSliceFlag{Name: "tenant-id", Hidden: true, Usage: "only this tenant id; repeatable (older spelling of --tenant)"},
			&cli.IntFlag{Name: "top", Value: 10, Usage: "candidates of each kind shown on the terminal and the page"},
			&cli.StringFlag{Name: "csv", Usage: "write the reclaim plan to this directory (reclaim-plan.csv)"},
			&cli.StringFlag{Name: "html", Usage: "write the report page to this file, e.g. report.html"},
			&cli.BoolFlag{Name: "quiet", Aliases: []string{"q"}, Usage: "print only the paths written"},
		},
		Action: func(c *cli.Context) error {
			if !hasViews(c.String("warehouse")) {
				return noWarehouse(c.String("warehouse"))
			}
			db, err := catalog.Open(c.String("warehouse"))
			if err != nil {
				return err
			}
			defer db.Close()
			picked, known, err := warehouseTenants(c, fc, c.String("warehouse"))
			if err != nil {
				return &exitError{code: exitUsage, err: fmt.Errorf("report: %w", err)}
			}
			names := tenantNames(known)
			tenants := tenantIDs(picked)
			if len(tenants) == 0 {
				if tenants, err = catalog.Tenants(c.Context, db, "license_usage"); err != nil {
					return err
				}
			}
			if len(tenants) == 0 {
				return &exitError{code: exitFailed, err: fmt.Errorf("the warehouse %s has no marts yet: run `seatlake run` or `seatlake marts`", c.String("warehouse"))}
			}
			var all []*report.Tenant
			for _, id := range tenants {
				t, err := report.Load(c.Context, db, id, 0)
				if err != nil {
					return fmt.Errorf("tenant %s: %w", id, err)
				}
				if n := names[id]; n != "" {
					t.TenantName = n // the config file's name, as today
				}
				if t.Licenses == 0 && t.AsOf == "" {
					return &exitError{code: exitUsage, err: fmt.Errorf("tenant %s has no marts in %s", t.Label(), c.String("warehouse"))}
				}
				all = append(all, t)
			}
			top := max(c.Int("top"), 0)
			if !c.Bool("quiet") {
				for i, t := range all {
					if i > 0 {
						fmt.Fprintln(c.App.Writer)
					}
					t.WriteText(c.App.Writer, top, terminalWidth(c.App.Writer))
				}
			}
			if dir := c.String("csv"); dir != "" {
				path, err := report.WritePlan(dir, all)
				if err != nil {
					return err
				}
				fmt.Fprintf(c.App.Writer, "reclaim_plan=%s\n", path)
			}
			if path := c.String("html"); path != "" {
				if err := writeHTML(path, all, top); err != nil {
					return err
				}
				abs, _ := filepath.Abs(path)
				fmt.Fprintf(c.App.Writer, "html=%s\n", abs)
			}
			return nil
		},
	}
}

// writeHTML writes the page whole (a temporary name, then a rename), so a reader never opens half a page.
func writeHTML(path string, all []*report.Tenant, top int) error {
	err := warehouse.WriteAtomic(path, func(w io.Writer) error { return report.WriteHTML(w, all, top, time.Now()) })
	if err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return nil
}

// terminalWidth is how wide the terminal report may print: $COLUMNS, else the terminal's width, else
// report.DefaultWidth (a file or a pipe).
func terminalWidth(w io.Writer) int {
	if n, err := strconv.Atoi(os.Getenv("COLUMNS")); err == nil && n > 0 {
		return n
	}
	if f, ok := w.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		if width, _, err := term.GetSize(int(f.Fd())); err == nil && width > 0 {
			return width
		}
	}
	return report.DefaultWidth
}
