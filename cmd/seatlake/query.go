package main

import (
	"errors"
	"fmt"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/seatlake/seatlake/pipelines"
)

func queryCommand() *cli.Command {
	var fc *fileConfig
	return &cli.Command{
		Name:      "query",
		Before:    loadConfigFile(&fc),
		Usage:     "run SQL against the warehouse's DuckDB views",
		ArgsUsage: `"SELECT …"`,
		Description: "Runs one SQL statement on warehouse/seatlake.duckdb (read-only). Views are named as the tables\n" +
			"(graph_users, graph_signins, …; *_history for every snapshot; runs). The duckdb CLI works on the same file.\n" +
			"--tenant shows only that tenant's rows in every view; --config names the warehouse (its warehouse key).",
		Flags: []cli.Flag{
			configFlag(),
			warehouseFlag(), catalogFlag(), storageFlag(),
			&cli.StringSliceFlag{Name: "tenant", Usage: "only this tenant's rows in every view: its name in the config file (or its tenant id); repeatable or a comma list (default: every tenant)"},
			&cli.StringFlag{Name: "format", Aliases: []string{"f"}, Value: "table", Usage: "output: table (readable), csv or json (for scripts)"},
			&cli.BoolFlag{Name: "rebuild", Usage: "rebuild the views first (after moving the warehouse directory)"},
		},
		Action: func(c *cli.Context) error {
			q := strings.TrimSpace(strings.Join(c.Args().Slice(), " "))
			if q == "" {
				return &exitError{code: exitUsage, err: errors.New(`query: give the SQL as an argument, e.g. seatlake query "SELECT count(*) FROM graph_users"`)}
			}
			switch c.String("format") {
			case "table", "csv", "json":
			default:
				return &exitError{code: exitUsage, err: fmt.Errorf("--format %q: want table, csv or json", c.String("format"))}
			}
			wh := c.String("warehouse")
			if !pipelines.HasViews(wh) && !(c.Bool("rebuild") && pipelines.HasWarehouse(wh)) {
				return noWarehouse(wh)
			}
			if c.Bool("rebuild") {
				if err := pipelines.RebuildViews(c.Context, wh); err != nil {
					return err
				}
			}
			picked, _, err := warehouseTenants(c, fc, wh)
			if err != nil {
				return &exitError{code: exitUsage, err: fmt.Errorf("query: %w", err)}
			}
			return pipelines.Query(c.Context, pipelines.QueryConfig{Warehouse: wh, SQL: q, Format: c.String("format"), Tenants: tenantIDs(picked)}, c.App.Writer)
		},
	}
}
