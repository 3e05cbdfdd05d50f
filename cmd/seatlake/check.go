package main

import (
	"encoding/json"
	"fmt"
	"os"

	"github.com/urfave/cli/v2"
	"gopkg.in/yaml.v3"

	"github.com/seatlake/seatlake/pipelines"
)

func checkCommand() *cli.Command {
	flags := append(runFlags(), &cli.StringFlag{Name: "format", Value: "text", Usage: "text (one line per check) or json (for scripts)"}, eventsDirFlag())
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
			base := pipelines.Config{Warehouse: c.String("warehouse"), EventsDir: c.String("events-dir"), Logger: log}
			if err := applyTuning(c, &base); err != nil {
				return err
			}
			cfgs, err := tenantConfigs(c, fc, base, false, log)
			if err != nil {
				return &exitError{code: exitUsage, err: err}
			}
			// The sync targets' set-up first: one that tonight's sync would refuse is a usage error, before any request.
			targets, err := sectionTargets(fc, log)
			if err != nil {
				return err
			}
			var all []pipelines.CheckResult
			for _, cfg := range cfgs {
				all = append(all, pipelines.Check(c.Context, cfg)...)
			}
			all = append(all, pipelines.CheckTargets(c.Context, targets)...)
			switch c.String("format") {
			case "json":
				b, err := json.MarshalIndent(all, "", "  ")
				if err != nil {
					return err
				}
				fmt.Fprintln(c.App.Writer, string(b))
			case "text":
				pipelines.WriteChecks(c.App.Writer, all)
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

// sectionSetting reads a sync target's settings as its sync command would with no flag on the command line: the
// flag's environment variable, then the config file's key (n: the target's section, nil for none), then the
// flag's default.
func sectionSetting(target string, n *yaml.Node) (setting, error) {
	var keys map[string]string
	if n != nil {
		if err := n.Decode(&keys); err != nil {
			return nil, fmt.Errorf("sync.%s: %s", target, oneLine(err.Error()))
		}
	}
	flags := map[string]cli.Flag{}
	for _, sc := range syncCommand().Subcommands {
		if sc.Name == target {
			for _, f := range sc.Flags {
				flags[f.Names()[0]] = f
			}
		}
	}
	return func(name string) string {
		if f, ok := flags[name].(*cli.StringFlag); ok {
			for _, env := range f.EnvVars {
				if v := os.Getenv(env); v != "" {
					return v
				}
			}
		}
		if v := keys[name]; v != "" {
			return v
		}
		if f, ok := flags[name].(cli.DocGenerationFlag); ok {
			return f.GetValue()
		}
		return ""
	}, nil
}
