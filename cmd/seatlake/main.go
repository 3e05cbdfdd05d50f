// Command seatlake extracts Microsoft 365 and Dynamics 365 license usage into a Parquet warehouse with DuckDB views.
// It parses flags and the config file, calls one function of pipelines/ per command (the simulators for `seatlake
// sim`) and prints what it returns; it imports no extract/, load/ or transform/ package.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"sync/atomic"
	"syscall"

	"github.com/urfave/cli/v2"

	"github.com/seatlake/seatlake/pipelines"
)

// version is set at build time: -ldflags "-X main.version=…".
var version = "dev"

// exitError carries an exit code with the one-line message printed on stderr.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

// commandError gives a pipelines error its exit code: a configuration to fix is a usage error (2), anything else
// a failure (1); an error that has its code already keeps it.
func commandError(err error) error {
	var ee *exitError
	switch {
	case err == nil || errors.As(err, &ee):
		return err
	case errors.Is(err, pipelines.ErrInvalidConfig):
		return &exitError{code: exitUsage, err: err}
	}
	return &exitError{code: exitFailed, err: err}
}

const (
	exitFailed     = 1
	exitUsage      = 2
	exitIncomplete = 3
)

func main() {
	// The first SIGINT or SIGTERM cancels the work: requests stop, nothing partial is committed, the run row says
	// "interrupted", and the process exits 130 (SIGINT) or 143 (SIGTERM). A second one exits at once.
	ctx, cancel := context.WithCancel(context.Background())
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	var got atomic.Value
	go func() {
		s := <-sigs
		got.Store(s)
		cancel()
		s = <-sigs
		fmt.Fprintf(os.Stderr, "seatlake: %s again: exiting at once\n", signalName(s))
		os.Exit(signalCode(s))
	}()
	app := newApp(os.Stdout, os.Stderr)
	err := app.RunContext(ctx, oneFormPerFlag(app, os.Args))
	// A command the signal cut short returns an error: exit 130/143. One whose normal end is the signal (the
	// simulator serving until Ctrl-C) or that had finished returns nil and exits 0.
	if s, ok := got.Load().(os.Signal); ok && err != nil {
		fmt.Fprintf(os.Stderr, "seatlake: interrupted by %s: nothing partial was committed; the run row says what was fetched, and the next run resumes\n", signalName(s))
		os.Exit(signalCode(s))
	}
	if err != nil {
		code := exitFailed
		var ee *exitError
		if errors.As(err, &ee) {
			code = ee.code
		}
		fmt.Fprintf(os.Stderr, "seatlake: %v\n", err)
		os.Exit(code)
	}
}

func newApp(stdout, stderr io.Writer) *cli.App {
	app := &cli.App{
		Name:    "seatlake",
		Usage:   "which Microsoft 365 and Dynamics 365 licenses are used, idle, missing or wasted",
		Version: version,
		Description: "Every night, seatlake run pages Microsoft Graph, each Dataverse environment's audit log and each Finance and\n" +
			"Operations environment's users and roles into Iceberg tables (Parquet) in a warehouse you own, and computes the\n" +
			"marts: one identity per person, each license's use and evidence, what is idle or missing, the compliance position\n" +
			"and the findings, with DuckDB views over all of it. seatlake report prints them and writes the reclaim plan and an\n" +
			"HTML page; seatlake sync pushes them to JSM Assets and ServiceNow; seatlake reclaim removes the licenses an\n" +
			"approver marked; seatlake events serve receives F&O business events between runs.\n" +
			"Start with `seatlake demo` (no Microsoft account needed), then `seatlake query`.",
		Writer:         stdout,
		ErrWriter:      stderr,
		ExitErrHandler: func(*cli.Context, error) {}, // main prints the one-line cause and picks the exit code
		OnUsageError: func(c *cli.Context, err error, _ bool) error {
			return &exitError{code: exitUsage, err: fmt.Errorf("%w: see 'seatlake --help'", err)}
		},
		// Without a command: the help; with a word that is no command: one line and exit 2.
		Action: func(c *cli.Context) error {
			if c.Args().Present() {
				return &exitError{code: exitUsage, err: fmt.Errorf("unknown command %q: see 'seatlake --help'", c.Args().First())}
			}
			return cli.ShowAppHelp(c)
		},
		Commands: []*cli.Command{runCommand(), checkCommand(), configCommand(), martsCommand(), syncCommand(), reportCommand(), reclaimCommand(), eventsCommand(), warehouseCommand(), demoCommand(), simCommand(), queryCommand(), versionCommand()},
	}
	// A bad flag on a command is one line naming it and where the help is, exit 2: never 40 lines of help on
	// stderr that a cron mail buries the cause in.
	strict(app.Commands, "")
	return app
}

// strict gives every command and subcommand one-line usage errors and range-checked numeric flags (after its own
// Before, so a config file's values are checked too).
func strict(cmds []*cli.Command, parent string) {
	for _, cmd := range cmds {
		name := strings.TrimSpace(parent + " " + cmd.Name)
		cmd.HideHelpCommand = true
		before := cmd.Before
		cmd.Before = func(c *cli.Context) error {
			if before != nil {
				if err := before(c); err != nil {
					return err
				}
			}
			if err := checkRanges(c, name); err != nil {
				return err
			}
			return warehouseBefore(c, name)
		}
		cmd.OnUsageError = func(c *cli.Context, err error, _ bool) error {
			return &exitError{code: exitUsage, err: fmt.Errorf("%s: %w: see 'seatlake %s --help'", name, usageError(c, err), name)}
		}
		strict(cmd.Subcommands, name)
	}
}

func versionCommand() *cli.Command {
	return &cli.Command{
		Name:  "version",
		Usage: "print the version",
		Action: func(c *cli.Context) error {
			fmt.Fprintf(c.App.Writer, "seatlake %s\n", version)
			return nil
		},
	}
}

// logFlags are shared by the commands that log.
func logFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "log-format", Value: "text", Usage: "log format on stderr: text or json (for log collectors)", EnvVars: []string{"SEATLAKE_LOG_FORMAT"}},
		&cli.StringFlag{Name: "log-level", Value: "info", Usage: "debug, info, warn or error", EnvVars: []string{"SEATLAKE_LOG_LEVEL"}},
	}
}

func newLogger(c *cli.Context) (*slog.Logger, error) { return loggerAt(c, c.String("log-level")) }

// loggerAt is the logger of --log-format at the level given.
func loggerAt(c *cli.Context, levelName string) (*slog.Logger, error) {
	var level slog.Level
	if err := level.UnmarshalText([]byte(levelName)); err != nil {
		return nil, &exitError{code: exitUsage, err: fmt.Errorf("--log-level %q: want debug, info, warn or error", levelName)}
	}
	opts := &slog.HandlerOptions{Level: level}
	switch c.String("log-format") {
	case "text":
		return slog.New(slog.NewTextHandler(c.App.ErrWriter, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(c.App.ErrWriter, opts)), nil
	}
	return nil, &exitError{code: exitUsage, err: fmt.Errorf("--log-format %q: want text or json", c.String("log-format"))}
}

func signalCode(s os.Signal) int {
	if s == syscall.SIGTERM {
		return 143
	}
	return 130
}

func signalName(s os.Signal) string {
	if s == syscall.SIGTERM {
		return "SIGTERM"
	}
	return "SIGINT"
}
