package main

import (
	"fmt"
	"slices"

	"github.com/urfave/cli/v2"
	"gopkg.in/yaml.v3"

	"github.com/seatlake/seatlake/pipelines"
)

// The registered sources' settings are flags of the commands taking runFlags, keys of the config file (at the
// top, as every flag is, and in a tenant's entry for a per-tenant setting): derived here from their declarations.

// sourceFlags are one flag per registered setting. Values stay text here: pipelines checks them against the
// setting's kind and bounds, naming the key.
func sourceFlags() []cli.Flag {
	var flags []cli.Flag
	for _, s := range pipelines.Settings() {
		var env []string
		if s.Env != "" {
			env = []string{s.Env}
		}
		if s.List() {
			flags = append(flags, &cli.StringSliceFlag{Name: s.Key, Usage: s.Usage(), EnvVars: env})
			continue
		}
		flags = append(flags, &cli.StringFlag{Name: s.Key, Value: s.Default, Usage: s.Usage(), EnvVars: env})
	}
	return flags
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
		default:
			v[s.Key] = []string{c.String(s.Key)}
		}
	}
	return v
}

// tenantSourceKey reports whether key is a per-tenant setting of a registered source, and whether it is a list.
func tenantSourceKey(key string) (ok, list bool) {
	for _, s := range pipelines.Settings() {
		if s.Key == key && s.PerTenant {
			return true, s.List()
		}
	}
	return false, false
}

// sourceValue reads a per-tenant setting's value from a tenant's entry: a list for a list setting, else one value.
func sourceValue(key string, list bool, v *yaml.Node) ([]string, error) {
	if !list {
		s, err := scalar(key, v, "a value")
		return []string{s}, err
	}
	if v.Kind != yaml.SequenceNode {
		return nil, fmt.Errorf("key %q (line %d): want a list of values", key, v.Line)
	}
	var out []string
	for _, n := range v.Content {
		s, err := scalar(key, n, "a value")
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, nil
}

// allTenantKeys are the keys a tenant entry may have: its own and the registered per-tenant settings.
func allTenantKeys() []string {
	keys := slices.Clone(tenantKeys)
	for _, s := range pipelines.Settings() {
		if s.PerTenant {
			keys = append(keys, s.Key)
		}
	}
	return keys
}
