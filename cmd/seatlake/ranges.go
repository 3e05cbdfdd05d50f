package main

import (
	"fmt"
	"time"

	"github.com/urfave/cli/v2"
)

// flagRange is the accepted range of a numeric flag (and of its config-file key).
type flagRange struct {
	min, max float64
	dmin     time.Duration // durations
	dmax     time.Duration
}

// ranges bounds every numeric flag of every command: a value outside is a usage error naming the flag and its range,
// never a run that does something odd with it (a negative batch size, no attempts, a zero timeout).
var ranges = map[string]flagRange{
	"batch-rows":            {min: 1, max: 1_000_000},
	"signin-concurrency":    {min: 1, max: 16},
	"dataverse-concurrency": {min: 1, max: 52},
	"max-attempts":          {min: 1, max: 100},
	"parallel-tenants":      {min: 1, max: 64},
	"top":                   {min: 0, max: 1_000_000},
	"chunk-size":            {min: 1, max: 1000},
	"batch-size":            {min: 1, max: 200},
	"commit-events":         {min: 1, max: 1_000_000},
	"max-body":              {min: 1024, max: 64 << 20},
	"commit-interval":       {dmin: time.Second, dmax: 24 * time.Hour},
	"max-removals":          {min: 0, max: 100_000},
	"users":                 {min: 0, max: 10_000_000},
	"days":                  {min: 1, max: 365},
	"signins":               {min: 0, max: 100_000_000_000},
	"audits-per-env":        {min: 0, max: 10_000_000_000},
	"dataverse-envs":        {min: 0, max: 16},
	"finops-envs":           {min: 0, max: 16},
	"idle-share":            {min: 0, max: 1},
	"request-timeout":       {dmin: time.Second, dmax: time.Hour},
	"max-retry-wait":        {dmin: 0, dmax: 24 * time.Hour},
	"heartbeat":             {dmin: time.Second, dmax: 24 * time.Hour},
	"signin-history":        {dmin: 0, dmax: 30 * 24 * time.Hour},
	"signin-lookback":       {dmin: 0, dmax: 7 * 24 * time.Hour},
	"signin-window":         {dmin: time.Minute, dmax: 24 * time.Hour},
	"dataverse-history":     {dmin: 0, dmax: 3650 * 24 * time.Hour},
	"dataverse-window":      {dmin: time.Minute, dmax: 24 * time.Hour},
	"token-lifetime":        {dmin: time.Minute, dmax: 24 * time.Hour},
	"page-latency":          {dmin: 0, dmax: time.Minute},
}

// checkRanges checks the numeric flags of command (its full name, for the message) against ranges.
func checkRanges(c *cli.Context, command string) error {
	for _, f := range c.Command.Flags {
		name := f.Names()[0]
		r, ok := ranges[name]
		if !ok {
			continue
		}
		bad := ""
		switch f.(type) {
		case *cli.IntFlag:
			if v := float64(c.Int(name)); v < r.min || v > r.max {
				bad = fmt.Sprintf("%d: want %.0f to %.0f", c.Int(name), r.min, r.max)
			}
		case *cli.Int64Flag:
			if v := float64(c.Int64(name)); v < r.min || v > r.max {
				bad = fmt.Sprintf("%d: want %.0f to %.0f", c.Int64(name), r.min, r.max)
			}
		case *cli.Float64Flag:
			if v := c.Float64(name); v < r.min || v > r.max {
				bad = fmt.Sprintf("%g: want %g to %g", v, r.min, r.max)
			}
		case *cli.DurationFlag:
			if v := c.Duration(name); v < r.dmin || v > r.dmax {
				bad = fmt.Sprintf("%s: want %s to %s", v, r.dmin, r.dmax)
			}
		}
		if bad != "" {
			return &exitError{code: exitUsage, err: fmt.Errorf("--%s %s: see 'seatlake %s --help'", name, bad, command)}
		}
	}
	return nil
}

// sizeForms is what a size flag (--memory-limit) accepts.
const sizeForms = "want auto, or a whole number of B, KiB, MiB or GiB such as 512MiB or 2GiB"
