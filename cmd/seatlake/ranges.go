package main

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/seatlake/seatlake/pipelines"
	"github.com/urfave/cli/v2"
)

// flagRange is the accepted range of a numeric flag (and of its config-file key).
type flagRange struct {
	min, max float64
	dmin     time.Duration // durations
	dmax     time.Duration
}

// ranges bounds every numeric flag of every command (the registered sources' settings bring their own, rangeOf): a value outside is a usage error naming the flag and its range,
// never a run that does something odd with it (a negative batch size, no attempts, a zero timeout).
var ranges = map[string]flagRange{
	"batch-rows":       {min: 1, max: 1_000_000},
	"max-attempts":     {min: 1, max: 100},
	"parallel-tenants": {min: 1, max: 64},
	"top":              {min: 0, max: 1_000_000},
	"commit-events":    {min: 1, max: 1_000_000},
	"max-body":         {min: 1024, max: 64 << 20},
	"commit-interval":  {dmin: time.Second, dmax: 24 * time.Hour},
	"max-removals":     {min: 0, max: 100_000},
	"users":            {min: 0, max: 10_000_000},
	"days":             {min: 1, max: 365},
	"signins":          {min: 0, max: 100_000_000_000},
	"audits-per-env":   {min: 0, max: 10_000_000_000},
	"dataverse-envs":   {min: 0, max: 16},
	"finops-envs":      {min: 0, max: 16},
	"idle-share":       {min: 0, max: 1},
	"request-timeout":  {dmin: time.Second, dmax: time.Hour},
	"max-retry-wait":   {dmin: 0, dmax: 24 * time.Hour},
	"heartbeat":        {dmin: time.Second, dmax: 24 * time.Hour},
	"token-lifetime":   {dmin: time.Minute, dmax: 24 * time.Hour},
	"page-latency":     {dmin: 0, dmax: time.Minute},
}

// rangeOf is the range of the flag named name: from ranges, or the bounds of a registered source's or sync
// target's setting.
func rangeOf(name string) (flagRange, bool) {
	if r, ok := ranges[name]; ok {
		return r, true
	}
	for _, s := range pipelines.Settings() {
		if s.Key == name {
			return settingRange(s)
		}
	}
	for _, t := range pipelines.TargetInfos() {
		for _, s := range t.Settings {
			if lo, hi, ok := s.Bounds(); ok && s.Key == name {
				return flagRange{min: float64(lo), max: float64(hi)}, true
			}
		}
	}
	return flagRange{}, false
}

// checkRanges checks the numeric flags of command (its full name, for the message) against ranges.
func checkRanges(c *cli.Context, command string) error {
	for _, f := range c.Command.Flags {
		name := f.Names()[0]
		r, ok := rangeOf(name)
		if !ok {
			continue
		}
		if bad := r.violation(c, f); bad != "" {
			return &exitError{code: exitUsage, err: fmt.Errorf("--%s %s: see 'seatlake %s --help'", name, bad, command)}
		}
	}
	return nil
}

// violation says what is wrong with the value c holds for flag f, outside r: the value and the range in the flag's
// own form; empty when it is within.
func (r flagRange) violation(c *cli.Context, f cli.Flag) string {
	name := f.Names()[0]
	switch f.(type) {
	case *cli.IntFlag:
		if v := c.Int(name); r.outside(float64(v)) {
			return fmt.Sprintf("%d: want %.0f to %.0f", v, r.min, r.max)
		}
	case *cli.Int64Flag:
		if v := c.Int64(name); r.outside(float64(v)) {
			return fmt.Sprintf("%d: want %.0f to %.0f", v, r.min, r.max)
		}
	case *cli.Float64Flag:
		if v := c.Float64(name); r.outside(v) {
			return fmt.Sprintf("%g: want %g to %g", v, r.min, r.max)
		}
	case *cli.DurationFlag:
		if v := c.Duration(name); v < r.dmin || v > r.dmax {
			return fmt.Sprintf("%s: want %s to %s", v, r.dmin, r.dmax)
		}
	}
	return ""
}

// outside says whether a number is outside the range.
func (r flagRange) outside(v float64) bool { return v < r.min || v > r.max }

// sizeForms is what a size flag (--memory-limit) accepts.
const sizeForms = "want auto, or a whole number of B, KiB, MiB or GiB such as 512MiB or 2GiB"

// wants says what flag f accepts, for a value that does not parse as its type: the form and, when bounded, the
// range (the flag package says only "parse error").
func wants(f cli.Flag) string {
	r, bounded := rangeOf(f.Names()[0])
	switch f.(type) {
	case *cli.DurationFlag:
		if !bounded {
			return "want a duration like 72h, 90m or 30s (hours, minutes, seconds: 2 days is 48h)"
		}
		return r.wantsDuration()
	case *cli.IntFlag, *cli.Int64Flag, *cli.UintFlag, *cli.Uint64Flag:
		if bounded {
			return fmt.Sprintf("want a whole number from %.0f to %.0f", r.min, r.max)
		}
		return "want a whole number"
	case *cli.Float64Flag:
		if bounded {
			return fmt.Sprintf("want a number from %g to %g", r.min, r.max)
		}
		return "want a number"
	case *cli.BoolFlag:
		return "want true or false"
	}
	return "see its help"
}

// wantsDuration says what a bounded duration flag accepts: its range, with up to three examples within it.
func (r flagRange) wantsDuration() string {
	var eg []string
	for _, e := range []string{"72h", "24h", "6h", "90m", "15m", "30s", "5s"} {
		if d, _ := time.ParseDuration(e); d >= r.dmin && d <= r.dmax && len(eg) < 3 {
			eg = append(eg, e)
		}
	}
	days := ""
	if r.dmax >= 48*time.Hour {
		days = ": 2 days is 48h"
	}
	return fmt.Sprintf("want a duration from %s to %s, like %s or %s (hours, minutes, seconds%s)", shortDuration(r.dmin), shortDuration(r.dmax),
		strings.Join(eg[:len(eg)-1], ", "), eg[len(eg)-1], days)
}

// shortDuration is d as a person writes it: 24h, 1m, 90s (not 24h0m0s).
func shortDuration(d time.Duration) string {
	if d == 0 {
		return "0"
	}
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

// flagParseError matches the flag package's message for a value that does not parse (an untyped error: its text is
// all there is to read). Only the message is rewritten from it; no decision is made on it.
var flagParseError = regexp.MustCompile(`^invalid (?:boolean )?value "(.*)" for (?:flag )?-([A-Za-z0-9-]+): `)

// usageError is a command line's error as the user should read it: a value that does not parse names the flag,
// the value and what the flag accepts.
func usageError(c *cli.Context, err error) error {
	m := flagParseError.FindStringSubmatch(err.Error())
	if m == nil || c.Command == nil {
		return err
	}
	i := slices.IndexFunc(c.Command.Flags, func(f cli.Flag) bool { return slices.Contains(f.Names(), m[2]) })
	if i < 0 {
		return err
	}
	return errors.New(fmt.Sprintf("--%s %q: %s", c.Command.Flags[i].Names()[0], m[1], wants(c.Command.Flags[i])))
}
