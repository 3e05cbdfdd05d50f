package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/seatlake/seatlake/pipelines"
)

func demoCommand() *cli.Command {
	flags := []cli.Flag{
		// Not ./warehouse and not $SEATLAKE_WAREHOUSE: a fake tenant never lands in the warehouse of a real run.
		&cli.StringFlag{Name: "warehouse", Aliases: []string{"w"}, Value: demoWarehouse, Usage: "the demo's own warehouse directory, emptied at start (the previous demo's data replaced)"},
		&cli.BoolFlag{Name: "force", Usage: "write the demo into a directory that holds other tenants' data or other files (nothing there is removed)"},
	}
	flags = append(flags, simFlags("scaled", true)...)
	flags = append(flags, tuningFlags()...)
	flags = append(flags, sourceTuningFlags()...)
	flags = append(flags, logFlags()...)
	return &cli.Command{
		Name:  "demo",
		Usage: "run the whole pipeline against the built-in tenant simulator (no Microsoft account needed)",
		Description: "Starts the simulator on a random loopback port (scaled-down service limits, so throttling shows),\n" +
			"over https with its own CA (--tls=false for http), runs the nightly pipeline into --warehouse, prints the run summary and a few sample answers.\n" +
			"The demo starts from an empty warehouse: the previous demo's data in --warehouse is removed first. A directory that\n" +
			"holds another tenant's data, or files that are no warehouse, is refused (exit 2) unless --force, which writes into it\n" +
			"and removes nothing.",
		Flags: flags,
		Action: func(c *cli.Context) error {
			log, err := newLogger(c)
			if err != nil {
				return err
			}
			scfg := simConfig(c)
			if !c.IsSet("dataverse-envs") {
				scfg.DataverseEnvs = 2 // a main org and a sales org, as many tenants have
			}
			run := pipelines.Config{Logger: log}
			if err := applyTuning(c, &run); err != nil {
				return err
			}
			return commandError(pipelines.Demo(c.Context, pipelines.DemoConfig{Sim: scfg, Warehouse: c.String("warehouse"), Force: c.Bool("force"), Run: run,
				Results: func(res []pipelines.TenantResult) error { return reportRuns(c, res) },
				Self:    invokedAs(os.Args[0]), Width: terminalWidth(c.App.Writer)}, c.App.Writer))
		},
	}
}

// invokedAs is how a person runs this binary again: "seatlake" when $PATH finds this very executable, `go run
// ./cmd/seatlake` for one go run built, else the path it was started by (./bin/seatlake after make).
func invokedAs(arg0 string) string {
	exe, err := os.Executable()
	if err != nil {
		return "seatlake"
	}
	if p, err := exec.LookPath("seatlake"); err == nil && sameFile(p, exe) {
		return "seatlake"
	}
	if strings.Contains(filepath.ToSlash(exe), "/go-build") {
		return "go run ./cmd/seatlake"
	}
	if strings.ContainsRune(arg0, filepath.Separator) {
		return pipelines.ShellQuote(arg0)
	}
	return pipelines.ShellQuote(exe)
}

func sameFile(a, b string) bool {
	sa, errA := os.Stat(a)
	sb, errB := os.Stat(b)
	return errA == nil && errB == nil && os.SameFile(sa, sb)
}
