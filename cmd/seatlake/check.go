package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/seatlake/seatlake/pipelines"
)

// printChecks writes one line per check: status, tenant, source (with the environment), what, detail, and the
// action after "->".
func printChecks(w io.Writer, results []pipelines.CheckResult) {
	for _, r := range results {
		where := r.Source
		if r.Target != "" && r.Source != "graph" {
			where += " " + r.Target
		}
		line := fmt.Sprintf("%-4s %s %s %s: %s", strings.ToUpper(r.Status), r.Tenant, where, r.Check, r.Detail)
		if r.Action != "" {
			line += " -> " + r.Action
		}
		fmt.Fprintln(w, line)
	}
}

func checkCommand() *cli.Command {
	flags := append(runFlags(), &cli.StringFlag{Name: "format", Value: "text", Usage: "text (one line per check) or json (for scripts)"})
	var fc *fileConfig
	return &cli.Command{
		Name:   "check",
		Before: loadConfigFile(&fc),
		Usage:  "validate the connection before the night fails: tokens, permissions, P1, application users, audit settings, F&O entities",
		Description: "Takes the same settings as `seatlake run` (flags, environment, --config). For each tenant and source it prints\n" +
			"one line: OK, WARN or FAIL, what was checked, and the action to take. Exit 0 only when nothing fails.",
		Flags: flags,
		Action: func(c *cli.Context) error {
			log, err := newLogger(c)
			if err != nil {
				return err
			}
			base := pipelines.Config{Warehouse: c.String("warehouse"), Logger: log}
			if err := applyTuning(c, &base); err != nil {
				return err
			}
			cfgs, err := tenantConfigs(c, fc, base)
			if err != nil {
				return &exitError{code: exitUsage, err: err}
			}
			var all []pipelines.CheckResult
			for _, cfg := range cfgs {
				all = append(all, pipelines.Check(c.Context, cfg)...)
			}
			switch c.String("format") {
			case "json":
				b, err := json.MarshalIndent(all, "", "  ")
				if err != nil {
					return err
				}
				fmt.Fprintln(c.App.Writer, string(b))
			case "text":
				printChecks(c.App.Writer, all)
			default:
				return &exitError{code: exitUsage, err: fmt.Errorf("--format %q: want text or json", c.String("format"))}
			}
			failed := 0
			for _, r := range all {
				if r.Status == pipelines.CheckFail {
					failed++
				}
			}
			if failed > 0 {
				return &exitError{code: exitFailed, err: fmt.Errorf("check: %d check(s) failed", failed)}
			}
			return nil
		},
	}
}
