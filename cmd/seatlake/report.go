package main

import (
	"fmt"
	"io"
	"os"
	"strconv"

	"github.com/urfave/cli/v2"
	"golang.org/x/term"

	"github.com/seatlake/seatlake/pipelines"
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
			if !pipelines.HasViews(c.String("warehouse")) {
				return noWarehouse(c.String("warehouse"))
			}
			picked, known, err := warehouseTenants(c, fc, c.String("warehouse"))
			if err != nil {
				return &exitError{code: exitUsage, err: fmt.Errorf("report: %w", err)}
			}
			return commandError(pipelines.Report(c.Context, pipelines.ReportConfig{Warehouse: c.String("warehouse"), Tenants: tenantIDs(picked), Names: tenantNames(known),
				Top: c.Int("top"), Width: terminalWidth(c.App.Writer), Quiet: c.Bool("quiet"), CSVDir: c.String("csv"), HTML: c.String("html")}, c.App.Writer))
		},
	}
}

// terminalWidth is how wide the terminal report may print: $COLUMNS, else the terminal's width, else 0 (a file or
// a pipe: the report's default width).
func terminalWidth(w io.Writer) int {
	if n, err := strconv.Atoi(os.Getenv("COLUMNS")); err == nil && n > 0 {
		return n
	}
	if f, ok := w.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		if width, _, err := term.GetSize(int(f.Fd())); err == nil && width > 0 {
			return width
		}
	}
	return 0
}
