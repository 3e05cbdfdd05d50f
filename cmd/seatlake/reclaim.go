package main

import (
	"cmp"
	"errors"
	"fmt"
	"os"
	"os/user"
	"path/filepath"

	"github.com/urfave/cli/v2"

	"github.com/seatlake/seatlake/pipelines"
)

// reclaimCommand is `seatlake reclaim --plan plan.csv [--apply]`.
func reclaimCommand() *cli.Command {
	var fc *fileConfig
	flags := append(signInFlags(),
		&cli.StringFlag{Name: "plan", Usage: "the reclaim plan (reclaim-plan.csv from seatlake report --csv DIR) with the rows to apply marked yes in its approve column"},
		&cli.BoolFlag{Name: "apply", Usage: "remove the licenses; without it, show what would be done (and record the preview)"},
		&cli.IntFlag{Name: "max-removals", Value: 50, Usage: "refuse a plan approving more rows than this"},
		&cli.StringFlag{Name: "actor", Usage: "who is applying the plan, for the actions table (default: the OS user, the one behind sudo if any, at this host)", EnvVars: []string{"SEATLAKE_ACTOR"}},
	)
	return &cli.Command{
		Name:   "reclaim",
		Usage:  "remove the licenses an approver marked in a reclaim plan (preview without --apply)",
		Before: loadConfigFile(&fc),
		Description: "Reads the plan's approved rows (approve = yes). For each, it checks the latest marts (still a reclaim candidate?),\n" +
			"the rules (now excluded?) and re-reads the user from Microsoft Graph: a user who is gone, signed in since the plan,\n" +
			"or whose license changed is skipped with the reason. A direct assignment is removed with assignLicense\n" +
			"(removeLicenses); a license inherited from a group is never touched: the group to remove the user from is named.\n" +
			"Needs the Graph application permission LicenseAssignment.ReadWrite.All (seatlake check reports it). Every decision,\n" +
			"previews included, lands in the actions table with the plan row. Exit 0 when every approved row was removed or\n" +
			"would be, 1 when one failed, 2 for a bad plan or more approved rows than --max-removals.",
		Flags:  flags,
		Action: func(c *cli.Context) error { return reclaimPlan(c, fc) },
	}
}

// reclaimPlan is `seatlake reclaim`: the plan's approved rows decided (and applied with --apply), one line each,
// then the counts.
func reclaimPlan(c *cli.Context, fc *fileConfig) error {
	log, err := newLogger(c)
	if err != nil {
		return err
	}
	if c.String("plan") == "" {
		return &exitError{code: exitUsage, err: errors.New("reclaim: --plan is required (the reclaim-plan.csv `seatlake report --csv DIR` writes, with approved rows)")}
	}
	if !pipelines.HasViews(c.String("warehouse")) {
		return noWarehouse(c.String("warehouse"))
	}
	actor, err := reclaimActor(c.String("actor"), os.Getenv, user.Current, os.Hostname)
	if err != nil {
		return &exitError{code: exitUsage, err: fmt.Errorf("reclaim: %w", err)}
	}
	base := pipelines.Config{Warehouse: c.String("warehouse"), Logger: log}
	if err := applyTuning(c, &base); err != nil {
		return err
	}
	r, _, err := martRules(c, fc)
	if err != nil {
		return err
	}
	cfgs, err := tenantConfigs(c, fc, base, false, log)
	if err != nil {
		return &exitError{code: exitUsage, err: err}
	}
	for _, p := range setupProblems(cfgs) {
		log.Warn("its approved rows fail until its credential is fixed", "problem", p.Error())
	}
	acts, err := pipelines.Reclaim(c.Context, pipelines.ReclaimConfig{Warehouse: c.String("warehouse"), Plan: c.String("plan"),
		Apply: c.Bool("apply"), MaxRemovals: c.Int("max-removals"), Actor: actor, Rules: r, Tenants: cfgs, Logger: log})
	if err != nil {
		if errors.Is(err, pipelines.ErrInvalidConfig) || errors.Is(err, pipelines.ErrOverCap) {
			return &exitError{code: exitUsage, err: fmt.Errorf("reclaim: %w", err)}
		}
		return &exitError{code: exitFailed, err: fmt.Errorf("reclaim: %w", err)}
	}
	return printReclaim(c, acts)
}

// printReclaim prints a line per approved row and one with the counts; a row that failed fails the command.
func printReclaim(c *cli.Context, acts []pipelines.ReclaimAction) error {
	counts := map[string]int{}
	for _, a := range acts {
		counts[a.Result]++
		fmt.Fprintf(c.App.Writer, "reclaim line=%d user=%s sku=%s action=%s result=%s reason=%q\n",
			a.Row.Line, a.Row.UPN, a.Row.SkuPart, a.Action, a.Result, a.Reason)
	}
	plan, _ := filepath.Abs(c.String("plan"))
	fmt.Fprintf(c.App.Writer, "reclaim plan=%s approved=%d applied=%t removed=%d would_remove=%d group_removal_needed=%d skipped=%d failed=%d\n",
		plan, len(acts), c.Bool("apply"), counts["removed"], counts["would_remove"], counts["group_removal_needed"], counts["skipped"], counts["failed"])
	if counts["failed"] > 0 {
		return &exitError{code: exitFailed, err: fmt.Errorf("reclaim: %d of %d approved rows failed: see the lines above and the actions table", counts["failed"], len(acts))}
	}
	return nil
}

// reclaimActor is who applies the plan, as the actions table records it: --actor ($SEATLAKE_ACTOR) as given, else
// the OS user at this host. The user is the one behind sudo ($SUDO_USER), else the account the process runs as (the
// user database, so an unset $USER does not matter), else $USER or $LOGNAME; the host is os.Hostname's, left out
// when unknown. With no user at all it is an error asking for --actor: the record never names someone made up.
func reclaimActor(explicit string, getenv func(string) string, current func() (*user.User, error), hostname func() (string, error)) (string, error) {
	if explicit != "" {
		return explicit, nil
	}
	name := getenv("SUDO_USER")
	if name == "" {
		if u, err := current(); err == nil {
			name = u.Username
		}
	}
	name = cmp.Or(name, getenv("USER"), getenv("LOGNAME"))
	if name == "" {
		return "", errors.New("who is applying the plan? no OS user name was found: give --actor NAME (or $SEATLAKE_ACTOR)")
	}
	if host, err := hostname(); err == nil && host != "" {
		return name + "@" + host, nil
	}
	return name, nil
}
