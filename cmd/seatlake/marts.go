package main

import (
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/seatlake/seatlake/pipelines"
)

func martsCommand() *cli.Command {
	var fc *fileConfig
	return &cli.Command{
		Name:   "marts",
		Before: loadConfigFile(&fc),
		Usage:  "compute the marts again from the committed data, as of a day, without calling any service",
		Description: "Recomputes identities, user_activity, license_usage, license_position and findings for every tenant in the\n" +
			"warehouse (or --tenant) from its committed raw tables, with the rules of --config (defaults otherwise), as of\n" +
			"--as-of. The result is the marts snapshot of that day: an earlier day adds to the history, today's replaces today's.\n" +
			"Exit codes: 0 done, 1 failed, 2 usage error.",
		Flags: append([]cli.Flag{
			configFlag(),
			warehouseFlag(), catalogFlag(), storageFlag(),
			asOfFlag(),
			tenantFlag(),
			&cli.StringSliceFlag{Name: "tenant-id", Hidden: true, Usage: "only this tenant id; repeatable (older spelling of --tenant)"},
			&cli.BoolFlag{Name: "quiet", Aliases: []string{"q"}, Usage: "print nothing on success"},
		}, logFlags()...),
		Action: func(c *cli.Context) error { return martsRecompute(c, fc) },
	}
}

// martsRecompute is `seatlake marts`: the marts of the tenants picked computed again, one line per tenant.
func martsRecompute(c *cli.Context, fc *fileConfig) error {
	log, err := newLogger(c)
	if err != nil {
		return err
	}
	r, asOf, err := martRules(c, fc) // the flags first: a mistake in them is told before anything is opened
	if err != nil {
		return err
	}
	if !pipelines.HasWarehouse(c.String("warehouse")) {
		return noWarehouse(c.String("warehouse"))
	}
	if asOf.IsZero() {
		asOf = time.Now().UTC()
	}
	picked, known, err := warehouseTenants(c, fc, c.String("warehouse"))
	if err != nil {
		return &exitError{code: exitUsage, err: fmt.Errorf("marts: %w", err)}
	}
	res, err := pipelines.RecomputeMarts(c.Context, pipelines.MartsConfig{
		Warehouse: c.String("warehouse"), Tenants: tenantIDs(picked), Names: tenantNames(known), Rules: r, AsOf: asOf, Logger: log,
	})
	if err != nil {
		if errors.Is(err, pipelines.ErrInvalidConfig) {
			return &exitError{code: exitUsage, err: err}
		}
		return &exitError{code: exitFailed, err: fmt.Errorf("marts: %w", err)}
	}
	var failed error
	for _, t := range res {
		if t.Err != nil {
			failed = errors.Join(failed, fmt.Errorf("tenant %s: %w", pipelines.TenantRef{Name: t.TenantName, ID: t.TenantID}.Label(), t.Err))
			continue
		}
		if !c.Bool("quiet") {
			printMarts(c.App.Writer, t, asOf)
		}
	}
	if failed != nil {
		return &exitError{code: exitFailed, err: fmt.Errorf("marts: %w", failed)}
	}
	return nil
}

// printMarts prints one tenant's recomputed marts: tenant=… tenant_id=… as_of=… and the rows of each table.
func printMarts(w io.Writer, t pipelines.MartsResult, asOf time.Time) {
	fmt.Fprintf(w, "tenant=%s tenant_id=%s as_of=%s", t.TenantName, t.TenantID, asOf.Format(time.DateOnly))
	for _, k := range slices.Sorted(maps.Keys(t.Tables)) {
		fmt.Fprintf(w, " %s=%d", k, t.Tables[k])
	}
	fmt.Fprintln(w)
}
