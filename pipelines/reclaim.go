package pipelines

import (
	"cmp"
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/seatlake/seatlake/extract/msauth"
	"github.com/seatlake/seatlake/extract/odata"
	"github.com/seatlake/seatlake/internal/outbound"
	"github.com/seatlake/seatlake/internal/table"
	"github.com/seatlake/seatlake/load/catalog"
	"github.com/seatlake/seatlake/load/reclaim"
	"github.com/seatlake/seatlake/load/warehouse"
	"github.com/seatlake/seatlake/transform/rules"
)

// ActionsTable records every decision `seatlake reclaim` took on an approved plan row, previews included: who,
// what, when, the result and the plan row itself, so an audit can reproduce it.
var ActionsTable = recordTable("actions", "action_id", "the plan's tenant_name",
	"One row per approved reclaim plan row that seatlake reclaim looked at: who, what, when, the result and the plan row.",
	table.Column{Name: "reclaim_id", Type: arrow.BinaryTypes.String, Doc: "one per seatlake reclaim invocation"},
	table.Column{Name: "applied", Type: arrow.FixedWidthTypes.Boolean, Doc: "false for a preview (no --apply)"},
	table.Column{Name: "actor", Type: arrow.BinaryTypes.String, Doc: "who ran it (--actor, or the OS user and host) and with which app"},
	table.Column{Name: "acted_at", Type: table.Timestamp},
	table.Column{Name: "user_id", Type: arrow.BinaryTypes.String},
	table.Column{Name: "user_principal_name", Type: arrow.BinaryTypes.String, Nullable: true},
	table.Column{Name: "sku_id", Type: arrow.BinaryTypes.String},
	table.Column{Name: "sku_part_number", Type: arrow.BinaryTypes.String, Nullable: true},
	table.Column{Name: "action", Type: arrow.BinaryTypes.String, Doc: "remove_license, remove_from_group or none"},
	table.Column{Name: "result", Type: arrow.BinaryTypes.String, Doc: "removed, would_remove, group_removal_needed, skipped or failed"},
	table.Column{Name: "reason", Type: arrow.BinaryTypes.String, Nullable: true},
	table.Column{Name: "plan_file", Type: arrow.BinaryTypes.String},
	table.Column{Name: "plan_sha256", Type: arrow.BinaryTypes.String},
	table.Column{Name: "plan_line", Type: arrow.PrimitiveTypes.Int32},
	table.Column{Name: "plan_row_json", Type: arrow.BinaryTypes.String, Doc: "every column of the plan row, as approved"},
)

// ErrOverCap means the plan approves more removals than --max-removals allows: nothing is done.
var ErrOverCap = errors.New("the plan approves more removals than allowed")

// ReclaimConfig configures `seatlake reclaim`.
type ReclaimConfig struct {
	Warehouse   string
	Plan        string
	Apply       bool
	MaxRemovals int
	Actor       string
	Rules       *rules.Rules
	Tenants     []Config // credentials per tenant (matched on TenantID)
	Logger      *slog.Logger
	Now         func() time.Time
}

// ReclaimAction is what reclaim did with one approved plan row.
type ReclaimAction struct {
	Row                    reclaim.Row
	Action, Result, Reason string
}

// Reclaim acts on a plan's approved rows: each user is re-read first, and a row is skipped (with the reason) when
// the user is gone, became active since the plan, is now excluded or no longer a candidate, or the license
// changed; a group-inherited license is never removed (the group to remove the user from is named); a direct one
// is removed with assignLicense when Apply. Every decision lands in the actions table.
func Reclaim(ctx context.Context, cfg ReclaimConfig) ([]ReclaimAction, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Rules == nil {
		cfg.Rules = rules.Default()
	}
	raw, err := os.ReadFile(cfg.Plan)
	if err != nil {
		return nil, fmt.Errorf("%w: reading the plan: %v", ErrInvalidConfig, err)
	}
	rows, err := reclaim.ReadPlan(strings.NewReader(string(raw)))
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrInvalidConfig, cfg.Plan, err)
	}
	sum := sha256.Sum256(raw)
	planSum := hex.EncodeToString(sum[:])
	var approved []reclaim.Row
	for _, r := range rows {
		if r.Approved {
			approved = append(approved, r)
		}
	}
	if len(approved) > cfg.MaxRemovals {
		return nil, fmt.Errorf("%w: %d approved rows, --max-removals %d: approve fewer, or raise --max-removals after checking the plan", ErrOverCap, len(approved), cfg.MaxRemovals)
	}
	if len(approved) == 0 {
		return nil, nil
	}
	wh, db, release, err := openMarts(ctx, cfg.Warehouse, cfg.Logger)
	if err != nil {
		return nil, err
	}
	defer release()

	excludeRE, err := regexp.Compile(cfg.Rules.Exclude.UPNRegex)
	if err != nil {
		return nil, fmt.Errorf("%w: rules exclude upn-regex: %v", ErrInvalidConfig, err)
	}
	graphs := map[string]*reclaim.Graph{}
	clients := map[string]string{}
	names := map[string]string{}
	broken := map[string]error{}
	for i := range cfg.Tenants {
		t := cfg.Tenants[i]
		t.Defaults()
		names[t.TenantID] = t.Name
		if t.SetupErr != nil {
			broken[t.TenantID] = t.SetupErr
			continue
		}
		tokens := msauth.NewTokenSource(t.auth(cfg.Logger), t.GraphEndpoint)
		graphs[t.TenantID] = &reclaim.Graph{Endpoint: t.GraphEndpoint,
			Client: odata.NewClient(odata.Config{HTTPClient: t.httpClient(0), Tokens: tokens, RequestTimeout: t.RequestTimeout, Logger: cfg.Logger,
				Retry: outbound.RetryPolicy{MaxAttempts: 5, MaxTotalWait: 2 * time.Minute}})}
		clients[t.TenantID] = t.ClientID
	}
	start := cfg.Now().UTC()
	reclaimID := newRunID(start)
	var out []ReclaimAction
	for _, row := range approved {
		a := ReclaimAction{Row: row, Action: "none", Result: "skipped"}
		if err := broken[row.TenantID]; err != nil {
			a.Result, a.Reason = "failed", "the tenant's credentials could not be read: "+err.Error()
		} else {
			a.Reason = decide(ctx, db, graphs[row.TenantID], cfg, excludeRE, row, &a)
		}
		out = append(out, a)
		cfg.Logger.Debug("reclaim", "user", row.UPN, "sku", row.SkuPart, "action", a.Action, "result", a.Result, "reason", a.Reason)
	}
	actor := cfg.Actor
	if actor == "" {
		host, _ := os.Hostname()
		actor = cmp.Or(os.Getenv("SUDO_USER"), os.Getenv("USER"), os.Getenv("LOGNAME"), "unknown") + "@" + host
	}
	if err := writeActions(ctx, wh, reclaimID, actor, clients, names, cfg, planSum, start, out); err != nil {
		return out, fmt.Errorf("recording the actions (the removals above were done): %w", err)
	}
	if err := catalog.Build(ctx, wh.Root(), Tables()); err != nil {
		cfg.Logger.Error("could not rebuild the DuckDB catalog", "err", err)
	}
	return out, nil
}

// decide checks one approved row against the marts, the rules and the user as Graph has them now, and removes the
// license when it may; it fills a's action and result and returns the reason.
func decide(ctx context.Context, db *sql.DB, g *reclaim.Graph, cfg ReclaimConfig, excludeRE *regexp.Regexp, row reclaim.Row, a *ReclaimAction) string {
	if g == nil {
		return "no credentials for tenant " + row.TenantID + ": run reclaim with that tenant's configuration"
	}
	if strings.HasPrefix(row.Action, "downgrade") {
		return "a downgrade is not a removal: assign the cheaper license first, then remove this one"
	}
	if reason, ok := stillCandidate(ctx, db, row, a); !ok {
		return reason
	}
	u, err := g.ReadUser(ctx, row.UserID, true)
	var he *outbound.Error
	if errors.As(err, &he) && he.Code == "Authentication_RequestFromNonPremiumTenantOrB2CTenant" {
		u, err = g.ReadUser(ctx, row.UserID, false)
	}
	switch {
	case errors.Is(err, reclaim.ErrNotFound):
		return "the user no longer exists"
	case err != nil:
		a.Result = "failed"
		return err.Error()
	}
	group, has := u.Licenses[strings.ToLower(row.SkuID)]
	if reason := keptNow(cfg.Rules, excludeRE, row, u, group, has); reason != "" {
		return reason
	}
	if group != "" {
		a.Action, a.Result = "remove_from_group", "group_removal_needed"
		return "inherited from group " + g.GroupLabel(ctx, group) + ": remove the user from that group (seatlake never changes groups)"
	}
	a.Action = "remove_license"
	if !cfg.Apply {
		a.Result = "would_remove"
		return "a direct assignment, idle as the plan says"
	}
	return remove(ctx, g, row, a)
}

// stillCandidate reports whether the latest marts still make the row a reclaim candidate, and the reason when not.
func stillCandidate(ctx context.Context, db *sql.DB, row reclaim.Row, a *ReclaimAction) (string, bool) {
	var status string
	var candidate bool
	err := db.QueryRowContext(ctx, `SELECT status, reclaim_candidate FROM license_usage WHERE tenant_id = $1 AND user_id = $2 AND sku_id = $3`,
		row.TenantID, row.UserID, row.SkuID).Scan(&status, &candidate)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return "no longer in the latest marts: the license or the user is gone since the plan", false
	case err != nil:
		a.Result = "failed"
		return "reading the marts: " + err.Error(), false
	case !candidate:
		return "no longer a reclaim candidate in the latest marts: now " + status, false
	}
	return "", true
}

// keptNow is why the license must stay as the user is now (the rules exclude them, the license is gone, they
// became active), or empty. group is the group the license comes from, has whether the user still holds it.
func keptNow(r *rules.Rules, excludeRE *regexp.Regexp, row reclaim.Row, u reclaim.User, group string, has bool) string {
	upn := strings.ToLower(u.UPN)
	switch {
	case r.Exclude.UPNRegex != "" && excludeRE.MatchString(upn):
		return "now excluded by the rules (upn-regex " + r.Exclude.UPNRegex + ")"
	case slices.ContainsFunc(r.Exclude.Users, func(s string) bool { return strings.EqualFold(s, u.UPN) || strings.EqualFold(s, u.ID) }):
		return "now excluded by the rules (exclude users)"
	case !has:
		return "the license changed since the plan: it is no longer assigned"
	case group != "" && slices.ContainsFunc(r.Exclude.Groups, func(s string) bool { return strings.EqualFold(s, group) }):
		return "now excluded by the rules (the license comes from excluded group " + group + ")"
	}
	// signInActivity is evidence of a product whose use is any sign-in (Microsoft 365, Entra ID); a Dynamics license
	// is used in Dynamics, which the latest marts (checked before) say from its own evidence.
	if since := activeSince(row); signInIsEvidence(r, row.SkuPart) && !u.LastSignIn.IsZero() && !since.IsZero() && u.LastSignIn.After(since) {
		return "became active since the plan: signed in " + u.LastSignIn.Format(time.RFC3339)
	}
	return ""
}

// remove removes a direct assignment. A removal whose answer was lost and whose retry was refused has still
// happened: the user says.
func remove(ctx context.Context, g *reclaim.Graph, row reclaim.Row, a *ReclaimAction) string {
	if err := g.RemoveLicense(ctx, row.UserID, row.SkuID); err != nil {
		if now, rerr := g.ReadUser(ctx, row.UserID, false); rerr == nil {
			if _, still := now.Licenses[strings.ToLower(row.SkuID)]; !still {
				a.Result = "removed"
				return "removed with assignLicense (its answer was lost; the user no longer holds it)"
			}
		}
		a.Result = "failed"
		return err.Error()
	}
	a.Result = "removed"
	return "removed with assignLicense"
}

// signInIsEvidence reports whether the product of a SKU counts any sign-in (signInActivity) as use; an unknown SKU
// is treated as one that does, so the check errs on keeping the license.
func signInIsEvidence(r *rules.Rules, skuPart string) bool {
	for _, p := range r.Products {
		if slices.ContainsFunc(p.SKUs, func(s string) bool { return strings.EqualFold(s, skuPart) }) {
			return slices.Contains(p.Evidence, "sign_in_activity")
		}
	}
	return true
}

// activeSince is the instant after which a sign-in means the user became active since the plan: the end of the
// plan's last-activity day, and never before the plan's own day (signInActivity does not say which app was used,
// so any sign-in after the plan was made counts).
func activeSince(row reclaim.Row) time.Time {
	var t time.Time
	if d, err := time.Parse("2006-01-02", row.SnapshotDate); err == nil {
		t = d
	}
	if d, err := time.Parse("2006-01-02", row.LastActivity); err == nil && d.Add(24*time.Hour).After(t) {
		t = d.Add(24 * time.Hour)
	}
	return t
}

func writeActions(ctx context.Context, wh *warehouse.Warehouse, reclaimID, actor string, clients, names map[string]string, cfg ReclaimConfig,
	planSum string, start time.Time, acts []ReclaimAction) error {
	byTenant := map[string][]ReclaimAction{}
	for _, a := range acts {
		byTenant[a.Row.TenantID] = append(byTenant[a.Row.TenantID], a)
	}
	for tenant, list := range byTenant {
		bt := table.NewBatcher(memory.DefaultAllocator, ActionsTable, len(list), table.SinkFunc(func(ctx context.Context, rec arrow.RecordBatch) error {
			return wh.WriteRun(ctx, ActionsTable, tenant, reclaimID, rec)
		}))
		for i, a := range list {
			table.NewProvenance(bt.Builder(), tenant, reclaimID, start).Append()
			plan, _ := json.Marshal(a.Row.Columns)
			bt.String("action_id").Append(fmt.Sprintf("%s-%d", reclaimID, i+1))
			appendOpt(bt.String("tenant_name"), cmp.Or(names[tenant], a.Row.Columns["tenant_name"]))
			bt.String("reclaim_id").Append(reclaimID)
			bt.Bool("applied").Append(cfg.Apply)
			bt.String("actor").Append(actor + " (app " + clients[tenant] + ")")
			bt.Timestamp("acted_at").Append(arrow.Timestamp(cfg.Now().UTC().UnixMicro()))
			bt.String("user_id").Append(a.Row.UserID)
			appendOpt(bt.String("user_principal_name"), a.Row.UPN)
			bt.String("sku_id").Append(a.Row.SkuID)
			appendOpt(bt.String("sku_part_number"), a.Row.SkuPart)
			bt.String("action").Append(a.Action)
			bt.String("result").Append(a.Result)
			appendOpt(bt.String("reason"), a.Reason)
			bt.String("plan_file").Append(cfg.Plan)
			bt.String("plan_sha256").Append(planSum)
			bt.Int32("plan_line").Append(int32(a.Row.Line))
			bt.String("plan_row_json").Append(string(plan))
			if err := bt.RowDone(ctx); err != nil { // the last row fills the batch: it is written
				bt.Release()
				return err
			}
		}
		bt.Release()
	}
	return nil
}
