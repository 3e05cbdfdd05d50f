package main

import (
	"errors"
	"fmt"

	"github.com/urfave/cli/v2"

	"github.com/seatlake/seatlake/pipelines"
)

// configCommand is `seatlake config validate`: the whole config file checked as a run would, without a request.
func configCommand() *cli.Command {
	var fc *fileConfig
	return &cli.Command{
		Name:  "config",
		Usage: "work with the config file",
		Subcommands: []*cli.Command{{
			Name:      "validate",
			Usage:     "check a config file as `seatlake run` would, with no network call: keys, values, ranges, tenants, secrets' files and variables, rules",
			ArgsUsage: "[FILE]",
			// The file's keys are applied as `seatlake run`'s flags, so the command has them, unlisted: its help is
			// about the file.
			Flags: func() []cli.Flag {
				own := []cli.Flag{configFlag(), tenantFlag(), runFlag("log-format"), runFlag("log-level")}
				return append(own, hidden(append(runFlagsBut(own), thenSyncFlag())...)...)
			}(),
			Before: func(c *cli.Context) error {
				if c.NArg() == 1 && !c.IsSet("config") {
					if err := c.Set("config", c.Args().First()); err != nil {
						return err
					}
				}
				if c.String("config") == "" {
					return &exitError{code: exitUsage, err: errors.New("config validate: name the file (seatlake config validate seatlake.yaml)")}
				}
				return loadConfigFile(&fc)(c) // then the ranges, as for every command
			},
			Action: func(c *cli.Context) error { return configValidate(c, fc) },
		}},
	}
}

// configValidate is `seatlake config validate`: the file's settings, tenants, credentials, rules and sync section
// checked as a run checks them, without a request.
func configValidate(c *cli.Context, fc *fileConfig) error {
	log, err := newLogger(c)
	if err != nil {
		return err
	}
	for _, w := range fc.warnings {
		log.Warn("a key of the config file under its older name", "fix", w)
	}
	if err := checkThenSync(c, fc); err != nil {
		return &exitError{code: exitUsage, err: fmt.Errorf("%s: %w", c.String("config"), errors.Unwrap(err))}
	}
	base := pipelines.Config{Warehouse: c.String("warehouse"), Logger: log}
	if err := applyTuning(c, &base); err != nil {
		return err
	}
	if base.Rules, base.AsOf, err = martRules(c, fc); err != nil {
		return err
	}
	cfgs, err := tenantConfigs(c, fc, base, true, log)
	if err != nil {
		return &exitError{code: exitUsage, err: fmt.Errorf("%s: %w", c.String("config"), err)}
	}
	for _, name := range pipelines.TargetNames() { // each target of the sync section, as it would be opened
		if fc == nil || fc.sync[name] == nil {
			continue
		}
		if _, err := sectionTarget(name, fc, nil, false, nil); err != nil {
			return &exitError{code: exitUsage, err: fmt.Errorf("%s: %w", c.String("config"), errors.Unwrap(err))}
		}
	}
	if err := validateTenants(cfgs); err != nil {
		return &exitError{code: exitUsage, err: fmt.Errorf("%s: %w", c.String("config"), err)}
	}
	fmt.Fprintf(c.App.Writer, "ok config=%s tenants=%d\n", c.String("config"), len(cfgs))
	return nil
}

// validateTenants checks each tenant's configuration, with its defaults, as a run would before any request.
func validateTenants(cfgs []pipelines.Config) error {
	var errs []error
	for i := range cfgs {
		cfgs[i].Defaults()
		if err := cfgs[i].Validate(); err != nil {
			errs = append(errs, fmt.Errorf("tenant %s: %w", cfgs[i].Name, err))
		}
	}
	return errors.Join(errs...)
}
