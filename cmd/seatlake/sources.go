package main

import (
	"fmt"
	"maps"
	"math"
	"slices"
	"strconv"
	"time"

	"github.com/urfave/cli/v2"
	"gopkg.in/yaml.v3"

	"github.com/seatlake/seatlake/pipelines"
)

// The registered sources' settings are flags of the commands taking runFlags, keys of the config file (at the
// top, as every flag is, and in a tenant's entry for a per-tenant setting) and ranges checked as every flag's are:
// all derived here from their declarations.

// sourceFlags are one flag per registered setting, typed by its kind: a duration or a number that does not parse,
// or is outside the setting's bounds, is refused as any flag's is (naming the flag, its range and examples).
func sourceFlags() []cli.Flag {
	var flags []cli.Flag
	for _, s := range pipelines.Settings() {
		flags = append(flags, sourceFlag(s))
	}
	return flags
}

// sourceTuningFlags are the registered settings' flags but the URLs: what tunes a source's extraction (histories,
// windows, concurrency), which `seatlake demo` takes too, its environments being the simulator's.
func sourceTuningFlags() []cli.Flag {
	var flags []cli.Flag
	for _, s := range pipelines.Settings() {
		if s.Kind != pipelines.KindURL && s.Kind != pipelines.KindURLs {
			flags = append(flags, sourceFlag(s))
		}
	}
	return flags
}

func sourceFlag(s pipelines.Setting) cli.Flag {
	var env []string
	if s.Env != "" {
		env = []string{s.Env}
	}
	switch {
	case s.List():
		return &cli.StringSliceFlag{Name: s.Key, Usage: s.Usage(), EnvVars: env}
	case s.Kind == pipelines.KindDuration:
		d, _ := time.ParseDuration(s.Default)
		return &cli.DurationFlag{Name: s.Key, Value: d, Usage: s.Usage(), EnvVars: env}
	case s.Kind == pipelines.KindInt:
		n, _ := strconv.Atoi(s.Default)
		return &cli.IntFlag{Name: s.Key, Value: n, Usage: s.Usage(), EnvVars: env}
	}
	return &cli.StringFlag{Name: s.Key, Value: s.Default, Usage: s.Usage(), EnvVars: env}
}

// settingRange is a setting's bounds as a flag's range; false when it has none.
func settingRange(s pipelines.Setting) (flagRange, bool) {
	if s.Min == "" && s.Max == "" {
		return flagRange{}, false
	}
	r := flagRange{min: math.Inf(-1), max: math.Inf(1), dmin: math.MinInt64, dmax: math.MaxInt64}
	if s.Kind == pipelines.KindDuration {
		if s.Min != "" {
			r.dmin, _ = time.ParseDuration(s.Min)
		}
		if s.Max != "" {
			r.dmax, _ = time.ParseDuration(s.Max)
		}
		return r, true
	}
	if s.Min != "" {
		r.min, _ = strconv.ParseFloat(s.Min, 64)
	}
	if s.Max != "" {
		r.max, _ = strconv.ParseFloat(s.Max, 64)
	}
	return r, true
}

// sourceValues are the registered settings' values the command line, the environment or the config file's top
// level gave (a setting not given takes its default later).
func sourceValues(c *cli.Context) pipelines.SourceValues {
	v := pipelines.SourceValues{}
	for _, s := range pipelines.Settings() {
		switch {
		case !c.IsSet(s.Key):
		case s.List():
			v[s.Key] = c.StringSlice(s.Key)
		case s.Kind == pipelines.KindDuration:
			v[s.Key] = []string{c.Duration(s.Key).String()}
		case s.Kind == pipelines.KindInt:
			v[s.Key] = []string{strconv.Itoa(c.Int(s.Key))}
		default:
			v[s.Key] = []string{c.String(s.Key)}
		}
	}
	return v
}

// tenantSetting is the per-tenant setting of a registered source whose key in a tenant's entry is key.
func tenantSetting(key string) (pipelines.Setting, bool) {
	for _, s := range pipelines.Settings() {
		if s.PerTenant && s.InTenant() == key {
			return s, true
		}
	}
	return pipelines.Setting{}, false
}

// sourceValue reads a per-tenant setting's value from a tenant's entry: a list for a list setting (none for an
// empty key), else one value.
func sourceValue(s pipelines.Setting, v *yaml.Node) ([]string, error) {
	key := s.InTenant()
	if !s.List() {
		x, err := scalar(key, v, "a value")
		return []string{x}, err
	}
	if v.Kind == yaml.ScalarNode && v.Tag == "!!null" {
		return nil, nil
	}
	if v.Kind != yaml.SequenceNode {
		return nil, fmt.Errorf("key %q (line %d): want %s", key, v.Line, s.Wants())
	}
	var out []string
	for _, n := range v.Content {
		x, err := scalar(key, n, "a value")
		if err != nil {
			return nil, err
		}
		out = append(out, x)
	}
	return out, nil
}

// checkTenantSources checks a tenant entry's values of the registered settings as their flags would be: a URL as
// a service endpoint (https, http only on loopback), a duration or number by its form and range.
func checkTenantSources(v pipelines.SourceValues) *keyError {
	for _, s := range pipelines.Settings() {
		for _, x := range v[s.Key] {
			if s.Kind == pipelines.KindURL || s.Kind == pipelines.KindURLs {
				if err := pipelines.CheckEndpoint(x); err != nil {
					return keyErr(s.InTenant(), "%v", err) // the error names the URL
				}
				continue
			}
			if err := s.Validate(x); err != nil { // a duration or a number: named as its flag's value would be
				return keyErr(s.InTenant(), "%q: %s", x, wants(sourceFlag(s)))
			}
		}
	}
	return nil
}

// tenantSources are base's values for a tenant of the config file: without those only a tenant's own entry gives
// (its environments).
func tenantSources(base pipelines.SourceValues) pipelines.SourceValues {
	out := maps.Clone(base)
	for _, s := range pipelines.Settings() {
		if s.TenantOnly {
			delete(out, s.Key)
		}
	}
	return out
}

// targetTenantKey reports whether key is a registered sync target's per-tenant setting (a tenant's own Assets
// import source token file).
func targetTenantKey(key string) bool {
	for _, t := range pipelines.TargetInfos() {
		for _, s := range t.Settings {
			if s.PerTenant && s.Key == key {
				return true
			}
		}
	}
	return false
}

// allTenantKeys are the keys a tenant entry may have: its own and the registered per-tenant settings' (sources'
// and sync targets').
func allTenantKeys() []string {
	keys := slices.Clone(tenantKeys)
	for _, s := range pipelines.Settings() {
		if s.PerTenant {
			keys = append(keys, s.InTenant())
		}
	}
	for _, t := range pipelines.TargetInfos() {
		for _, s := range t.Settings {
			if s.PerTenant {
				keys = append(keys, s.Key)
			}
		}
	}
	return keys
}
