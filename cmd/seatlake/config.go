package main

import (
	"fmt"
	"os"
	"strings"

	"github.com/urfave/cli/v2"
	"github.com/urfave/cli/v2/altsrc"
)

// configFlag names a YAML file whose keys are the command's flag names, for the nightly job's settings:
//
//	tenant-id: 72f988bf-86f1-41af-91ab-2d7cd011db47
//	client-id: 535fb089-9ff3-47b6-9bfb-4f1264799865
//	client-secret-file: /run/secrets/seatlake
//	warehouse: /data/seatlake
//	signin-concurrency: 4
//
// Command-line flags and environment variables win over the file. There is no key for the secret's value, as there
// is no flag for it: the file names a secret file instead.
func configFlag() cli.Flag {
	return &cli.StringFlag{Name: "config", Usage: "YAML file of settings, keys named as these flags (e.g. tenant-id, warehouse); flags and environment variables win", EnvVars: []string{"SEATLAKE_CONFIG"}}
}

// fromConfigFile lets every flag also be read from the --config file.
func fromConfigFile(flags []cli.Flag) []cli.Flag {
	out := make([]cli.Flag, 0, len(flags))
	for _, f := range flags {
		switch f := f.(type) {
		case *cli.StringFlag:
			if f.Name == "config" {
				out = append(out, f)
				continue
			}
			out = append(out, altsrc.NewStringFlag(f))
		case *cli.IntFlag:
			out = append(out, altsrc.NewIntFlag(f))
		case *cli.Int64Flag:
			out = append(out, altsrc.NewInt64Flag(f))
		case *cli.Float64Flag:
			out = append(out, altsrc.NewFloat64Flag(f))
		case *cli.DurationFlag:
			out = append(out, altsrc.NewDurationFlag(f))
		case *cli.BoolFlag:
			out = append(out, altsrc.NewBoolFlag(f))
		default:
			out = append(out, f)
		}
	}
	return out
}

// loadConfigFile is the Before hook that applies the --config file to the flags not set otherwise.
func loadConfigFile(flags []cli.Flag) cli.BeforeFunc {
	apply := altsrc.InitInputSourceWithContext(flags, altsrc.NewYamlSourceFromFlagFunc("config"))
	return func(c *cli.Context) error {
		path := c.String("config")
		if path == "" {
			return nil
		}
		if _, err := os.Stat(path); err != nil {
			return &exitError{code: exitUsage, err: fmt.Errorf("--config: %w", err)}
		}
		if err := apply(c); err != nil {
			// altsrc nests its causes over several lines; one line is what a log collector keeps.
			msg := strings.Join(strings.Fields(err.Error()), " ")
			return &exitError{code: exitUsage, err: fmt.Errorf("--config %s: %s", path, msg)}
		}
		return nil
	}
}
