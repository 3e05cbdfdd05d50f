package pipelines

import (
	"cmp"
	"errors"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"

	"github.com/seatlake/seatlake/load/assets"
)

// The lines the commands print of what pipelines return, so that a command and the demo print them alike.

// WriteChecks writes one line per check: status, tenant, source (with the environment), what, detail, and the
// action after "->".
func WriteChecks(w io.Writer, results []CheckResult) {
	for _, r := range results {
		where := r.Source
		if r.Target != "" && r.Source != "graph" {
			where += " " + r.Target
		}
		line := fmt.Sprintf("%-4s %s %s %s: %s", strings.ToUpper(r.Status), r.Tenant, where, r.Check, r.Detail)
		if r.Action != "" {
			line += " -> " + r.Action
		}
		fmt.Fprintln(w, line)
	}
}

// WriteSync writes one line per object type of a sync: what was sent and what the target says it did (counts it
// did not report are "-"), or for a dry run what would be new, changed and gone against the last sync.
func WriteSync(w io.Writer, prefix string, r SyncResult, dry bool) {
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
		fmt.Fprintf(w, "%s type=%q sent=%d created=%s updated=%s unchanged=%s errors=%s dry_run=false status=%s\n",
			prefix, t.Name, r.Sent[t.Selector], count("created"), count("updated"), count("unchanged"), count("errors"), r.Status)
	}
}

// WriteSyncs writes a sync's lines, each tenant's prefixed with the target and the tenant, and returns its failures
// as one error ("sync TARGET: tenant a: …; tenant b: …"), which wraps ErrNotComplete when a tenant's latest run was
// not complete.
func WriteSyncs(w io.Writer, target string, res []SyncResult, dry bool) error {
	var msgs []string
	notComplete := false
	for _, r := range res {
		WriteSync(w, target+" tenant="+cmp.Or(r.TenantName, r.TenantID)+" tenant_id="+r.TenantID, r, dry)
		if r.Err != nil {
			notComplete = notComplete || errors.Is(r.Err, ErrNotComplete)
			msgs = append(msgs, fmt.Sprintf("tenant %s: %v", TenantRef{Name: r.TenantName, ID: r.TenantID}.Label(), r.Err))
		}
	}
	if len(msgs) == 0 {
		return nil
	}
	sort.Strings(msgs)
	err := fmt.Errorf("sync %s: %s", target, strings.Join(msgs, "; "))
	if notComplete {
		return notCompleteError{err}
	}
	return err
}

// notCompleteError marks a sync's failures as ErrNotComplete without adding to their message.
type notCompleteError struct{ error }

func (e notCompleteError) Is(target error) bool { return target == ErrNotComplete }
func (e notCompleteError) Unwrap() error        { return e.error }
