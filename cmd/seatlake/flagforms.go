package main

import (
	"slices"
	"strings"

	"github.com/urfave/cli/v2"
)

// oneFormPerFlag spells every flag of the command line by its first name (-q becomes --quiet, -w=dir
// --warehouse=dir). urfave/cli refuses a flag given in two forms ("Cannot use two forms of the same flag: q
// quiet"), which `-q --quiet` (a wrapper adding --quiet to a user's -q) should never meet; spelt alike, a flag given
// twice keeps its later value, as when it is given twice by one name. Only the flags before the first argument are
// read, as urfave/cli reads them; a flag's value is never rewritten.
func oneFormPerFlag(app *cli.App, args []string) []string {
	out := slices.Clone(args)
	var cmd *cli.Command
	cmds := app.Commands
	i := 1
	for ; i < len(out); i++ {
		next := commandNamed(cmds, out[i])
		if next == nil {
			break
		}
		cmd, cmds = next, next.Subcommands
	}
	if cmd == nil {
		return out
	}
	for ; i < len(out); i++ {
		a := out[i]
		if a == "--" || a == "-" || !strings.HasPrefix(a, "-") {
			break
		}
		name, value, hasValue := strings.Cut(strings.TrimLeft(a, "-"), "=")
		f := flagNamed(cmd.Flags, name)
		if f == nil {
			continue // --help, or a flag urfave/cli will name as unknown
		}
		out[i] = "--" + f.Names()[0]
		if hasValue {
			out[i] += "=" + value
		} else if v, ok := f.(interface{ TakesValue() bool }); ok && v.TakesValue() {
			i++ // its value is the next argument, whatever it looks like
		}
	}
	return out
}

func commandNamed(cmds []*cli.Command, name string) *cli.Command {
	for _, c := range cmds {
		if c.HasName(name) {
			return c
		}
	}
	return nil
}

func flagNamed(flags []cli.Flag, name string) cli.Flag {
	for _, f := range flags {
		if slices.Contains(f.Names(), name) {
			return f
		}
	}
	return nil
}
