package main

import (
	"errors"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/seatlake/seatlake/extract/msauth"
	"github.com/seatlake/seatlake/load/assets"
	"github.com/seatlake/seatlake/pipelines"
)

func syncCommand() *cli.Command {
	return &cli.Command{
		Name:  "sync",
		Usage: "push people, subscriptions and license usage into an asset system",
		Subcommands: []*cli.Command{{
			Name:  "jsm-assets",
			Usage: "sync into Jira Service Management Assets through an external import source (Imports REST API)",
			Description: "Sends every tenant's people (Person), subscribed SKUs (Subscription) and license assignments (License Assignment,\n" +
				"with status, last activity, reason and cost) from the latest committed marts: the full set every time, identified by\n" +
				"stable ids, so a repeated sync updates the same objects. The container token comes from $SEATLAKE_JSM_ASSETS_TOKEN\n" +
				"or --token-file. Every sync is recorded in the syncs table. Exit 0 only when Assets finished the import (DONE).",
			Flags: append([]cli.Flag{
				warehouseFlag(),
				&cli.StringFlag{Name: "url", Value: "https://api.atlassian.com", Usage: "the Assets API base URL (http:// only on loopback)", EnvVars: []string{"SEATLAKE_JSM_ASSETS_URL"}},
				&cli.StringFlag{Name: "token-file", Usage: "read the import source's container token from this file instead of $SEATLAKE_JSM_ASSETS_TOKEN"},
				&cli.IntFlag{Name: "chunk-size", Value: 500, Usage: "objects per submitResults request"},
				&cli.StringSliceFlag{Name: "tenant-id", Usage: "only this tenant; repeatable"},
				&cli.BoolFlag{Name: "dry-run", Usage: "send nothing: print and record what would be sent"},
				&cli.BoolFlag{Name: "allow-partial", Usage: "sync even when the tenant's latest run was incomplete"},
			}, logFlags()...),
			Action: func(c *cli.Context) error {
				log, err := newLogger(c)
				if err != nil {
					return err
				}
				if err := msauth.CheckEndpoint(c.String("url")); err != nil {
					return &exitError{code: exitUsage, err: fmt.Errorf("--url: %w", err)}
				}
				var token msauth.Secret
				if !c.Bool("dry-run") {
					if token, err = msauth.LoadSecret("SEATLAKE_JSM_ASSETS_TOKEN", c.String("token-file")); err != nil {
						return &exitError{code: exitUsage, err: fmt.Errorf("the Assets container token: %w", err)}
					}
				}
				res, err := pipelines.SyncJSMAssets(c.Context, pipelines.SyncConfig{
					Warehouse: c.String("warehouse"), Tenants: c.StringSlice("tenant-id"), DryRun: c.Bool("dry-run"),
					AllowPartial: c.Bool("allow-partial"), Logger: log,
					JSM: assets.Config{BaseURL: c.String("url"), Token: token.Reveal(), ChunkSize: c.Int("chunk-size"), Logger: log},
				})
				if err != nil {
					if errors.Is(err, pipelines.ErrInvalidConfig) {
						return &exitError{code: exitUsage, err: err}
					}
					return &exitError{code: exitFailed, err: fmt.Errorf("sync: %w", err)}
				}
				var failed []error
				code := exitFailed
				for _, r := range res {
					printSync(c.App.Writer, "jsm-assets tenant="+r.TenantID, r, c.Bool("dry-run"))
					if r.Err != nil {
						if errors.Is(r.Err, pipelines.ErrNotComplete) {
							code = exitUsage
						}
						failed = append(failed, fmt.Errorf("tenant %s: %w", r.TenantID, r.Err))
					}
				}
				if len(failed) > 0 {
					msgs := make([]string, len(failed))
					for i, f := range failed {
						msgs[i] = f.Error()
					}
					sort.Strings(msgs)
					return &exitError{code: code, err: fmt.Errorf("sync jsm-assets: %s", strings.Join(msgs, "; "))}
				}
				return nil
			},
		}},
	}
}

// printSync prints one line per object type of a sync: what was sent and what the target says it did (counts it
// did not report are "-"), or for a dry run what would be new, changed and gone against the last sync.
func printSync(w io.Writer, prefix string, r pipelines.SyncResult, dry bool) {
	for _, t := range assets.Types() {
		if dry {
			d := r.Diff[t.Selector]
			fmt.Fprintf(w, "%s type=%q would_send=%d new=%d changed=%d gone=%d dry_run=true (against the last successful sync)\n",
				prefix, t.Name, r.Sent[t.Selector], d["new"], d["changed"], d["gone"])
			continue
		}
		count := func(what string) string {
			if r.Counts == nil {
				return "-"
			}
			return strconv.Itoa(r.Counts[t.Name+":"+what])
		}
		fmt.Fprintf(w, "%s type=%q sent=%d created=%s updated=%s unchanged=%s dry_run=false status=%s\n",
			prefix, t.Name, r.Sent[t.Selector], count("created"), count("updated"), count("unchanged"), r.Status)
	}
}
