package assets

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"
)

// ServiceNowConfig configures a sync into a ServiceNow instance through its Import Set API (reference §6): rows into
// one staging table per object kind, transformed by the administrator's transform maps (coalesce on
// u_external_id). Writes go through import sets only; samp_sw_subscription is never written directly.
type ServiceNowConfig struct {
	InstanceURL string // https://<instance>.service-now.com
	// Basic auth (User, Password) or OAuth client credentials (ClientID, ClientSecret, /oauth_token.do).
	User, Password         string
	ClientID, ClientSecret string
	Tables                 StagingTables
	BatchSize              int // records per insertMultiple request (default and at most 200)
	HTTPClient             *http.Client
	Logger                 *slog.Logger
	MaxWait                time.Duration // how long to wait for the import sets to be processed (default 10 min)
	Poll                   time.Duration // status poll interval (default 2 s)
	Attempts               int           // per request, on 429/5xx/network errors (default 6)
}

// StagingTables are the import set tables seatlake writes, one per object kind.
type StagingTables struct{ User, Subscription, License string }

// DefaultStagingTables are the staging tables' default names.
var DefaultStagingTables = StagingTables{User: "u_seatlake_user", Subscription: "u_seatlake_subscription", License: "u_seatlake_license"}

// MaxServiceNowBatch is ServiceNow's guidance for records per insertMultiple request.
const MaxServiceNowBatch = 200

// ErrCredentialsRefused means the instance answered 401: the user's password or the OAuth client was refused.
var ErrCredentialsRefused = errors.New("ServiceNow refused the credentials (401): check the integration user and its password, or the OAuth client id and secret")

// ErrRowsRefused means the transform maps marked rows error: the sync landed the others and names those.
var ErrRowsRefused = errors.New("the transform maps refused rows")

// AssignmentKey is a license assignment's identity: the user's Entra object id and the SKU id.
func AssignmentKey(a Assignment) string { return a.UserID + ":" + a.SkuID }

// subscriptionKey is a subscription's u_external_id in ServiceNow: the tenant and the SKU id (every tenant that buys
// a product has the same SKU id, and one instance may receive several tenants).
func subscriptionKey(tenant, sku string) string { return tenant + ":" + sku }

func num(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }

// stagingSource is one selector's rows as staging columns, made one at a time: a sync holds one request's rows as
// strings, not the tenant's.
type stagingSource struct {
	n   int
	row func(i int) map[string]string
}

func stagingRows(d Data) map[string]stagingSource {
	return map[string]stagingSource{
		"persons": {len(d.Persons), func(i int) map[string]string {
			p := d.Persons[i]
			return map[string]string{"u_external_id": p.ID, "u_tenant_id": d.TenantID, "u_entra_id": p.ID, "u_upn": p.UPN, "u_display_name": p.DisplayName,
				"u_department": p.Department, "u_enabled": strconv.FormatBool(p.Enabled), "u_dynamics_users": p.DynamicsUsers}
		}},
		"subscriptions": {len(d.Subscriptions), func(i int) map[string]string {
			s := d.Subscriptions[i]
			return map[string]string{"u_external_id": subscriptionKey(d.TenantID, s.SkuID), "u_tenant_id": d.TenantID, "u_sku_id": s.SkuID, "u_part_number": s.Part, "u_product": s.Product,
				"u_purchased": strconv.FormatInt(s.Purchased, 10), "u_assigned": strconv.FormatInt(s.Assigned, 10),
				"u_active": strconv.FormatInt(s.Active, 10), "u_available": strconv.FormatInt(s.Available, 10), "u_monthly_price": num(s.MonthlyPrice)}
		}},
		"assignments": {len(d.Assignments), func(i int) map[string]string {
			a := d.Assignments[i]
			return map[string]string{"u_external_id": AssignmentKey(a), "u_tenant_id": d.TenantID, "u_user": a.UserID,
				"u_subscription": subscriptionKey(d.TenantID, a.SkuID), "u_status": a.Status,
				"u_last_activity": a.LastActivity, "u_evidence": a.Evidence, "u_days_inactive": strconv.FormatInt(a.DaysInactive, 10),
				"u_reason": a.Reason, "u_monthly_cost": num(a.MonthlyCost), "u_reclaim_candidate": strconv.FormatBool(a.ReclaimCandidate)}
		}},
	}
}

// SyncServiceNow sends data to the staging tables with insertMultiple (users and subscriptions before licenses, at
// most 200 records a request), waits until every import set is processed, and reads the rows' transform results:
// Counts has, per object type, created (inserted), updated, unchanged (ignored), skipped and errors. Rows the
// transform maps marked error are named in an error wrapping ErrRowsRefused.
func SyncServiceNow(ctx context.Context, cfg ServiceNowConfig, data Data) (Result, error) {
	c, err := newServiceNowClient(ctx, cfg)
	if err != nil {
		return Result{}, err
	}
	if cfg.Tables.User == "" {
		cfg.Tables.User = DefaultStagingTables.User
	}
	if cfg.Tables.Subscription == "" {
		cfg.Tables.Subscription = DefaultStagingTables.Subscription
	}
	if cfg.Tables.License == "" {
		cfg.Tables.License = DefaultStagingTables.License
	}
	tables := map[string]string{"persons": cfg.Tables.User, "subscriptions": cfg.Tables.Subscription, "assignments": cfg.Tables.License}
	res := Result{Sent: map[string]int{}, Counts: map[string]int{}}
	rows := stagingRows(data)
	sets := map[string][]string{} // selector -> import set sys_ids
	var numbers []string
	for _, t := range Types() { // referenced kinds first: the license transform resolves users and subscriptions
		src := rows[t.Selector]
		for i := 0; i < src.n; i += c.chunk {
			part := make([]map[string]string, 0, min(c.chunk, src.n-i))
			for k := i; k < min(i+c.chunk, src.n); k++ {
				part = append(part, src.row(k))
			}
			var ans struct {
				ImportSetID string `json:"import_set_id"`
			}
			u := c.base + "/api/now/import/" + url.PathEscape(tables[t.Selector]) + "/insertMultiple"
			if err := c.call(ctx, http.MethodPost, u, map[string]any{"records": part}, &ans); err != nil {
				return res, fmt.Errorf("inserting %s rows %d-%d into %s: %w", t.Name, i+1, i+len(part), tables[t.Selector], err)
			}
			if ans.ImportSetID == "" {
				return res, fmt.Errorf("inserting into %s: the answer names no import set", tables[t.Selector])
			}
			sets[t.Selector] = append(sets[t.Selector], ans.ImportSetID)
			res.Sent[t.Selector] += len(part)
			res.Chunks++
			c.heartbeat("sending", "objects", t.Selector, "sent", res.Sent[t.Selector], "of", src.n)
		}
		// Licenses reference users and subscriptions: their sets are processed before the licenses are sent.
		nums, err := c.waitProcessed(ctx, sets[t.Selector])
		numbers = append(numbers, nums...)
		if err != nil {
			res.ExecutionID = strings.Join(numbers, ",")
			return res, err
		}
	}
	res.ExecutionID = strings.Join(numbers, ",")
	var refused []string
	nRefused := 0
	for _, t := range Types() {
		states, errs, err := c.rowResults(ctx, tables[t.Selector], sets[t.Selector])
		if err != nil {
			return res, fmt.Errorf("reading the transform results of %s: %w", tables[t.Selector], err)
		}
		for state, n := range states {
			key := map[string]string{"inserted": "created", "updated": "updated", "ignored": "unchanged", "error": "errors", "skipped": "skipped"}[state]
			if key == "" {
				key = state
			}
			res.Counts[t.Name+":"+key] += n
		}
		nRefused += len(errs)
		refused = append(refused, errs...)
	}
	res.Status = "processed"
	if nRefused > 0 {
		sort.Strings(refused)
		shown := refused[:min(5, len(refused))]
		more := ""
		if len(refused) > len(shown) {
			more = fmt.Sprintf(" (and %d more)", len(refused)-len(shown))
		}
		return res, fmt.Errorf("%w: %d rows marked error: %s%s", ErrRowsRefused, nRefused, strings.Join(shown, "; "), more)
	}
	return res, nil
}

// waitProcessed polls sys_import_set until each set is processed, within the bounded wait; it returns their numbers.
func (c *client) waitProcessed(ctx context.Context, ids []string) ([]string, error) {
	deadline := time.Now().Add(c.maxWait)
	var numbers []string
	next := c.pollWaits()
	for len(ids) > 0 {
		batch := ids[:min(100, len(ids))]
		var ans struct {
			Result []struct {
				SysID  string `json:"sys_id"`
				Number string `json:"number"`
				State  string `json:"state"`
			} `json:"result"`
		}
		u := c.base + "/api/now/table/sys_import_set?" + url.Values{"sysparm_query": {"sys_idIN" + strings.Join(batch, ",")},
			"sysparm_fields": {"sys_id,number,state"}, "sysparm_limit": {strconv.Itoa(len(batch))}}.Encode()
		if err := c.call(ctx, http.MethodGet, u, nil, &ans); err != nil {
			return numbers, fmt.Errorf("reading the import sets' state: %w", err)
		}
		done := map[string]string{}
		for _, s := range ans.Result {
			switch s.State {
			case "processed":
				done[s.SysID] = s.Number
			case "cancelled":
				return numbers, fmt.Errorf("ServiceNow cancelled import set %s: see System Import Sets > Import Sets", s.Number)
			}
		}
		var left []string
		for _, id := range ids {
			if n, ok := done[id]; ok {
				numbers = append(numbers, n)
			} else {
				left = append(left, id)
			}
		}
		if len(left) == len(ids) {
			if time.Now().After(deadline) {
				return numbers, fmt.Errorf("%d import sets are still not processed after %s: the instance's import scheduler is slow or stopped", len(left), c.maxWait)
			}
			c.heartbeat("waiting for the import sets to be processed", "left", len(left), "waited", time.Since(deadline.Add(-c.maxWait)).Round(time.Second))
			if err := sleep(ctx, next()); err != nil {
				return numbers, err
			}
		}
		ids = left
	}
	return numbers, nil
}

// rowResults reads a staging table's rows of the given import sets: the count per sys_import_state, and each error
// row named by its u_external_id and message.
func (c *client) rowResults(ctx context.Context, table string, ids []string) (map[string]int, []string, error) {
	states := map[string]int{}
	var errs []string
	const page = 1000
	for len(ids) > 0 {
		batch := ids[:min(20, len(ids))]
		ids = ids[len(batch):]
		for offset := 0; ; offset += page {
			var ans struct {
				Result []map[string]string `json:"result"`
			}
			u := c.base + "/api/now/table/" + url.PathEscape(table) + "?" + url.Values{
				"sysparm_query":                  {"sys_import_setIN" + strings.Join(batch, ",")},
				"sysparm_fields":                 {"u_external_id,sys_import_state,sys_import_state_comment"},
				"sysparm_exclude_reference_link": {"true"},
				"sysparm_limit":                  {strconv.Itoa(page)}, "sysparm_offset": {strconv.Itoa(offset)}}.Encode()
			if err := c.call(ctx, http.MethodGet, u, nil, &ans); err != nil {
				return nil, nil, err
			}
			for _, r := range ans.Result {
				states[r["sys_import_state"]]++
				if r["sys_import_state"] == "error" {
					errs = append(errs, fmt.Sprintf("%s %s: %s", table, r["u_external_id"], r["sys_import_state_comment"]))
				}
			}
			if len(ans.Result) < page {
				break
			}
		}
	}
	return states, errs, nil
}

func newServiceNowClient(ctx context.Context, cfg ServiceNowConfig) (*client, error) {
	base := strings.TrimRight(cfg.InstanceURL, "/")
	if base == "" {
		return nil, errors.New("no ServiceNow instance URL")
	}
	c := &client{base: base, hc: cfg.HTTPClient, log: cfg.Logger, chunk: cfg.BatchSize, maxWait: cfg.MaxWait, poll: cfg.Poll,
		attempts: cfg.Attempts, refused: ErrCredentialsRefused, service: "ServiceNow"}
	if c.chunk <= 0 || c.chunk > MaxServiceNowBatch {
		c.chunk = MaxServiceNowBatch
	}
	c.defaults()
	switch {
	case cfg.ClientID != "":
		cc := clientcredentials.Config{ClientID: cfg.ClientID, ClientSecret: cfg.ClientSecret, TokenURL: base + "/oauth_token.do",
			AuthStyle: oauth2.AuthStyleInParams}
		// The token source is shared by the sync's requests and refreshes itself before the token expires.
		src := cc.TokenSource(context.WithValue(context.WithoutCancel(ctx), oauth2.HTTPClient, c.hc))
		var mu sync.Mutex
		c.authorize = func(_ context.Context, req *http.Request) error {
			mu.Lock()
			tok, err := src.Token()
			mu.Unlock()
			if err != nil {
				var re *oauth2.RetrieveError
				if errors.As(err, &re) && (re.Response.StatusCode == http.StatusUnauthorized || re.Response.StatusCode == http.StatusBadRequest) {
					return fmt.Errorf("ServiceNow refused the OAuth client %q (%d %s): check the client id and secret in System OAuth > Application Registry",
						cfg.ClientID, re.Response.StatusCode, re.ErrorCode)
				}
				return fmt.Errorf("getting a ServiceNow OAuth token: %w", err)
			}
			tok.SetAuthHeader(req)
			return nil
		}
	case cfg.User != "":
		c.authorize = func(_ context.Context, req *http.Request) error {
			req.SetBasicAuth(cfg.User, cfg.Password)
			return nil
		}
	default:
		return nil, errors.New("no ServiceNow credentials: a user (basic auth) or an OAuth client id")
	}
	return c, nil
}

// ProbeServiceNow checks, before a night depends on it, that the credentials are taken and that the integration
// user can read what a sync reads: sys_import_set and the three staging tables (which must exist). It sends
// nothing.
func ProbeServiceNow(ctx context.Context, cfg ServiceNowConfig) error {
	if cfg.Attempts == 0 {
		cfg.Attempts = 2
	}
	c, err := newServiceNowClient(ctx, cfg)
	if err != nil {
		return err
	}
	tables := cfg.Tables
	if tables.User == "" {
		tables = DefaultStagingTables
	}
	for _, t := range []string{"sys_import_set", tables.User, tables.Subscription, tables.License} {
		var ans struct {
			Result []map[string]any `json:"result"`
		}
		if err := c.call(ctx, http.MethodGet, c.base+"/api/now/table/"+url.PathEscape(t)+"?sysparm_limit=1", nil, &ans); err != nil {
			if errors.Is(err, ErrCredentialsRefused) {
				return err
			}
			return fmt.Errorf("reading %s: %w: create the staging tables as the README says, and let the integration user read them", t, err)
		}
	}
	return nil
}
