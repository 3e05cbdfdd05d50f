package main

import (
	"reflect"
	"slices"

	"github.com/urfave/cli/v2"
)

// requestFlags are the tuning flags of every command that calls Microsoft: one request's timeout and retries.
var requestFlags = []string{"request-timeout", "max-attempts", "max-retry-wait"}

// signInFlags are the flags of a command that signs in to the tenants as `seatlake run` does (config file, tenants,
// credentials, Graph, warehouse, logs) and makes a few requests (their timeout and retries), without the
// environments' URLs or what tunes an extraction (windows, concurrency, batch sizes, progress, --quiet):
// `seatlake reclaim`; `seatlake events serve` adds --finops-url.
func signInFlags() []cli.Flag {
	drop := []string{"parallel-tenants", "as-of"}
	for _, f := range append(tuningFlags(), sourceFlags()...) {
		if n := f.Names()[0]; !slices.Contains(requestFlags, n) {
			drop = append(drop, n)
		}
	}
	return slices.DeleteFunc(runFlags(), func(f cli.Flag) bool { return slices.Contains(drop, f.Names()[0]) })
}

// runFlag is the flag of `seatlake run` named name.
func runFlag(name string) cli.Flag {
	flags := runFlags()
	i := slices.IndexFunc(flags, func(f cli.Flag) bool { return f.Names()[0] == name })
	if i < 0 {
		panic("runFlag: seatlake run has no flag --" + name)
	}
	return flags[i]
}

// runFlagsBut are the flags of `seatlake run` not among have (by name).
func runFlagsBut(have []cli.Flag) []cli.Flag {
	return slices.DeleteFunc(runFlags(), func(f cli.Flag) bool {
		return slices.ContainsFunc(have, func(h cli.Flag) bool { return h.Names()[0] == f.Names()[0] })
	})
}

// hidden returns the flags unlisted by --help. A command that reads `seatlake run`'s settings from the config file
// (config validate checks them; events serve's refresh-user runs use them) takes them as flags, since the file's
// keys are applied as flags, but its help lists only its own.
func hidden(flags ...cli.Flag) []cli.Flag {
	for _, f := range flags {
		// Every urfave/cli flag type has a Hidden field; none has a setter.
		v := reflect.ValueOf(f).Elem().FieldByName("Hidden")
		if !v.IsValid() {
			panic("hidden: flag --" + f.Names()[0] + " has no Hidden field")
		}
		v.SetBool(true)
	}
	return flags
}
