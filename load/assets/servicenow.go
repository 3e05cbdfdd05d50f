package assets

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/seatlake/seatlake/internal/outbound"
)

// ServiceNowConfig configures a sync into a ServiceNow instance through its Import Set API (reference §6): rows into
// one staging table per object kind, transformed by the administrator's transform maps (coalesce on
// u_external_id). Writes go through import sets only; samp_sw_subscription is never written directly. The facts
// this relies on, with their ServiceNow pages, are in internal/assetsim/servicenow/testdata/README.md.
type ServiceNowConfig struct {
	InstanceURL string // https://<instance>.service-now.com
	// Basic auth (User, Password) or OAuth client credentials (ClientID, ClientSecret, /oauth_token.do).
	User, Password         string
	ClientID, ClientSecret string
	Tables                 StagingTables
	// ColumnMapping says what insertMultiple's record keys are: ColumnLabels (ServiceNow's default; seatlake reads
	// each column's label from sys_dictionary) or ColumnNames (the instance has a REST Insert Multiples entry for
	// each staging table with Column mapping = Column name). Empty means ColumnLabels.
	ColumnMapping string
	BatchSize     int // records per insertMultiple request (default and at most 200)
	HTTPClient    *http.Client
	Logger        *slog.Logger
	MaxWait       time.Duration // how long to wait for the import sets to be transformed (default 10 min)
	Poll          time.Duration // status poll interval (default 2 s)
	Attempts      int           // per request, on 429/5xx/network errors (default 6)
}

// Column mappings of insertMultiple's record keys.
const (
	ColumnLabels = "label"
	ColumnNames  = "name"
)

// StagingTables are the import set tables seatlake writes, one per object kind.
type StagingTables struct{ User, Subscription, License string }

// DefaultStagingTables are the staging tables' default names.
var DefaultStagingTables = StagingTables{User: "u_seatlake_user", Subscription: "u_seatlake_subscription", License: "u_seatlake_license"}

// MaxServiceNowBatch is ServiceNow's guidance for records per insertMultiple request.
const MaxServiceNowBatch = 200

// ErrCredentialsRefused means the instance answered 401: the user's password or the OAuth client was refused.
var ErrCredentialsRefused = errors.New("ServiceNow refused the credentials (401): check the integration user and its password, or the OAuth client id and secret")

// ErrOAuthRefused means /oauth_token.do refused the client credentials grant. ServiceNow refuses it alike for a
// wrong secret and for an instance not set up for the grant.
var ErrOAuthRefused = errors.New("ServiceNow refused the OAuth client credentials grant: check the client id and secret " +
	"(System OAuth > Application Registry), that the system property glide.oauth.inbound.client.credential.grant_type.enabled " +
	"is true, and that the client's registry record names an OAuth Application User")

// ErrRowsRefused means some rows did not land (the transform maps marked them error, or skipped them) while others
// did: the sync names those and is partial.
var ErrRowsRefused = errors.New("the transform maps refused rows")

// AssignmentKey is a license assignment's identity: the user's Entra object id and the SKU id.
func AssignmentKey(a Assignment) string { return a.UserID + ":" + a.SkuID }

// subscriptionKey is a subscription's u_external_id in ServiceNow: the tenant and the SKU id (every tenant that buys
// a product has the same SKU id, and one instance may receive several tenants).
func subscriptionKey(tenant, sku string) string { return tenant + ":" + sku }

func num(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }

// coalesceColumn is the staging column the transform maps coalesce on.
const coalesceColumn = "u_external_id"

// The staging columns of each selector's rows, as strings.

func personStaging(tenant string, p Person) map[string]string {
	return map[string]string{"u_external_id": p.ID, "u_tenant_id": tenant, "u_entra_id": p.ID, "u_upn": p.UPN, "u_display_name": p.DisplayName,
		"u_department": p.Department, "u_enabled": strconv.FormatBool(p.Enabled), "u_dynamics_users": p.DynamicsUsers}
}

func subscriptionStaging(tenant string, s Subscription) map[string]string {
	return map[string]string{"u_external_id": subscriptionKey(tenant, s.SkuID), "u_tenant_id": tenant, "u_sku_id": s.SkuID, "u_part_number": s.Part,
		"u_product_name": s.ProductName, "u_product": s.Product,
		"u_purchased": strconv.FormatInt(s.Purchased, 10), "u_assigned": strconv.FormatInt(s.Assigned, 10),
		"u_active": strconv.FormatInt(s.Active, 10), "u_available": strconv.FormatInt(s.Available, 10), "u_monthly_price": num(s.MonthlyPrice)}
}

func assignmentStaging(tenant string, a Assignment) map[string]string {
	days := "" // unknown
	if a.DaysInactive != nil {
		days = strconv.FormatInt(*a.DaysInactive, 10)
	}
	return map[string]string{"u_external_id": AssignmentKey(a), "u_tenant_id": tenant, "u_user": a.UserID,
		"u_subscription": subscriptionKey(tenant, a.SkuID), "u_product_name": a.ProductName, "u_status": a.Status,
		"u_last_activity": a.LastActivity, "u_evidence": a.Evidence, "u_days_inactive": days,
		"u_reason": a.Reason, "u_monthly_cost": num(a.MonthlyCost), "u_reclaim_candidate": strconv.FormatBool(a.ReclaimCandidate),
		"u_under_licensed": strconv.FormatBool(a.UnderLicensed), "u_required_license": a.RequiredLicense,
		"u_true_up_monthly_cost": num(a.TrueUpMonthlyCost), "u_action": cmp.Or(a.Action, noAction)}
}

// eachStaging hands f one selector's rows as staging columns, made one at a time as they are read: a sync holds
// one request's rows as strings, not the tenant's.
func eachStaging(ctx context.Context, rows Rows, selector string, f func(map[string]string) error) error {
	t := rows.Tenant()
	switch selector {
	case "persons":
		return rows.EachPerson(ctx, func(p Person) error { return f(personStaging(t, p)) })
	case "subscriptions":
		return rows.EachSubscription(ctx, func(s Subscription) error { return f(subscriptionStaging(t, s)) })
	case "assignments":
		return rows.EachAssignment(ctx, func(a Assignment) error { return f(assignmentStaging(t, a)) })
	}
	return fmt.Errorf("no staging rows of %q", selector)
}

// stagingSource is one selector's rows of d as staging columns, by index.
type stagingSource struct {
	n   int
	row func(i int) map[string]string
}

func stagingRows(d Data) map[string]stagingSource {
	return map[string]stagingSource{
		"persons":       {len(d.Persons), func(i int) map[string]string { return personStaging(d.TenantID, d.Persons[i]) }},
		"subscriptions": {len(d.Subscriptions), func(i int) map[string]string { return subscriptionStaging(d.TenantID, d.Subscriptions[i]) }},
		"assignments":   {len(d.Assignments), func(i int) map[string]string { return assignmentStaging(d.TenantID, d.Assignments[i]) }},
	}
}

// stagingColumns are the columns seatlake sends to a selector's staging table, sorted.
func stagingColumns(selector string) []string {
	one := Data{Persons: make([]Person, 1), Subscriptions: make([]Subscription, 1), Assignments: make([]Assignment, 1)}
	var cols []string
	for c := range stagingRows(one)[selector].row(0) {
		cols = append(cols, c)
	}
	sort.Strings(cols)
	return cols
}

func (cfg ServiceNowConfig) tables() map[string]string {
	t := cfg.Tables
	return map[string]string{"persons": cmp.Or(t.User, DefaultStagingTables.User), "subscriptions": cmp.Or(t.Subscription, DefaultStagingTables.Subscription),
		"assignments": cmp.Or(t.License, DefaultStagingTables.License)}
}

func (cfg ServiceNowConfig) mapping() string { return cmp.Or(cfg.ColumnMapping, ColumnLabels) }

// SyncServiceNow sends data to the staging tables with insertMultiple (users and subscriptions before licenses, at
// most 200 records a request), its keys the columns' labels read from sys_dictionary or their names (ColumnMapping),
// waits until each table's import sets are transformed, and reads what each row became before sending the next
// table. Counts has, per object type, created (inserted), updated, unchanged (ignored), errors (rows marked error or
// skipped, and rows that landed without u_external_id), and of those skipped and landed_empty. Rows that landed
// without u_external_id stop the sync with an error naming the column mapping to fix; refused and skipped rows are
// named in an error wrapping ErrRowsRefused when other rows landed. Each table's rows are read once, as they are sent.
func SyncServiceNow(ctx context.Context, cfg ServiceNowConfig, data Rows) (Result, error) {
	c, err := newServiceNowClient(cfg)
	if err != nil {
		return Result{}, err
	}
	if m := cfg.mapping(); m != ColumnLabels && m != ColumnNames {
		return Result{}, fmt.Errorf("column mapping %q: want %s or %s", m, ColumnLabels, ColumnNames)
	}
	tables := cfg.tables()
	res := Result{Sent: map[string]int{}, Counts: map[string]int{}}
	sizes := data.Sizes()
	var numbers, problems []string
	landed := 0
	done := func(err error) (Result, error) {
		res.ExecutionID = strings.Join(numbers, ",")
		if err == nil && len(problems) > 0 {
			err = fmt.Errorf("%s", strings.Join(problems, "; "))
			if landed > 0 {
				err = fmt.Errorf("%w: %s", ErrRowsRefused, strings.Join(problems, "; "))
			}
		}
		return res, err
	}
	for _, t := range Types() { // referenced kinds first: the license transform resolves users and subscriptions
		table, n := tables[t.Selector], sizes[t.Selector]
		if n == 0 {
			continue
		}
		keys, err := c.columnKeys(ctx, cfg.mapping(), table, stagingColumns(t.Selector))
		if err != nil {
			return done(err)
		}
		var sets []sentSet
		part := make([]map[string]string, 0, min(c.chunk, n))
		flush := func() error {
			from := res.Sent[t.Selector] + 1
			id, err := c.insertMultiple(ctx, table, keys, part)
			if err != nil {
				return fmt.Errorf("inserting %s rows %d-%d into %s: %w", t.Name, from, from+len(part)-1, table, err)
			}
			sets = append(sets, sentSet{id, len(part)})
			res.Sent[t.Selector] += len(part)
			res.Chunks++
			c.heartbeat("sending", "objects", t.Selector, "sent", res.Sent[t.Selector], "of", n)
			part = part[:0]
			return nil
		}
		err = eachStaging(ctx, data, t.Selector, func(r map[string]string) error {
			if part = append(part, r); len(part) == c.chunk {
				return flush()
			}
			return nil
		})
		if err == nil && len(part) > 0 {
			err = flush()
		}
		if err != nil {
			return done(err)
		}
		// Licenses reference users and subscriptions: their rows are transformed before the licenses are sent.
		nums, err := c.waitTransformed(ctx, table, sets)
		numbers = append(numbers, nums...)
		if err != nil {
			return done(err)
		}
		tally, err := c.rowResults(ctx, table, sets)
		if err != nil {
			return done(fmt.Errorf("reading the transform results of %s: %w", table, err))
		}
		for key, n := range map[string]int{"created": tally.states["inserted"], "updated": tally.states["updated"], "unchanged": tally.states["ignored"],
			"errors": tally.states["error"] + len(tally.skipped) + tally.empty, "skipped": len(tally.skipped), "landed_empty": tally.empty} {
			res.Counts[t.Name+":"+key] += n
		}
		landed += tally.states["inserted"] + tally.states["updated"] + tally.states["ignored"]
		if tally.empty > 0 {
			// Every row of the table lands the same way: sending the next tables would only add empty rows.
			problems = append(problems, fmt.Sprintf("%d of the %d rows sent to %s landed without %s (%s), so no transform map could take them: %s",
				tally.empty, tally.read, table, coalesceColumn, tally.emptyStates(), emptyRowsFix(cfg.mapping(), table)))
			return done(nil)
		}
		if len(tally.refused) > 0 {
			problems = append(problems, fmt.Sprintf("%d rows of %s marked error: %s", len(tally.refused), table, some(tally.refused)))
		}
		if len(tally.skipped) > 0 {
			problems = append(problems, fmt.Sprintf("%d rows of %s skipped (ServiceNow skips a row whose coalesce value is missing): %s: "+
				"make the transform map of %s coalesce on %s", len(tally.skipped), table, some(tally.skipped), table, coalesceColumn))
		}
	}
	res.Status = "processed"
	return done(nil)
}

// emptyRowsFix says why rows land without their values under a column mapping, and what to change.
func emptyRowsFix(mapping, table string) string {
	if mapping == ColumnNames {
		return "the instance took the keys as column labels (insertMultiple's default) and dropped the column names seatlake sent: " +
			"add a REST Insert Multiples [sys_rest_insert_multiple] entry for " + table + " with Column mapping = Column name, " +
			"or set column-mapping: label (seatlake then reads the labels from sys_dictionary)"
	}
	return "the instance dropped the column labels seatlake read from sys_dictionary, as it does when a REST Insert Multiples " +
		"[sys_rest_insert_multiple] entry for " + table + " sets Column mapping = Column name: set column-mapping: name " +
		"(--column-mapping name), or remove that entry"
}

// some names at most five items, sorted.
func some(items []string) string {
	sort.Strings(items)
	shown := items[:min(5, len(items))]
	s := strings.Join(shown, "; ")
	if len(items) > len(shown) {
		s += fmt.Sprintf(" (and %d more)", len(items)-len(shown))
	}
	return s
}

// columnKeys gives the record key insertMultiple takes for each column seatlake sends to a staging table: the
// column's name when a REST Insert Multiples entry maps the table by column name, else (the default) its label,
// read from sys_dictionary.
func (c *client) columnKeys(ctx context.Context, mapping, table string, cols []string) (map[string]string, error) {
	keys := map[string]string{}
	if mapping == ColumnNames {
		for _, col := range cols {
			keys[col] = col
		}
		return keys, nil
	}
	labels, err := c.labels(ctx, table)
	if err != nil {
		return nil, fmt.Errorf("reading the labels of %s's columns from sys_dictionary (insertMultiple takes column labels unless a "+
			"REST Insert Multiples entry maps the table by column name): %w: let the integration user read sys_dictionary, "+
			"or add that entry and set column-mapping: name", table, err)
	}
	return labelKeys(table, cols, labels)
}

// labels reads a table's own columns and their labels from the dictionary: element -> column_label.
func (c *client) labels(ctx context.Context, table string) (map[string]string, error) {
	var ans struct {
		Result []struct {
			Name        string `json:"name"`
			Element     string `json:"element"`
			ColumnLabel string `json:"column_label"`
		} `json:"result"`
	}
	u := c.base + "/api/now/table/sys_dictionary?" + url.Values{"sysparm_query": {"name=" + table},
		"sysparm_fields": {"name,element,column_label"}, "sysparm_limit": {"10000"}}.Encode()
	if err := c.call(ctx, http.MethodGet, u, nil, &ans); err != nil {
		return nil, err
	}
	labels := map[string]string{}
	for _, e := range ans.Result {
		if e.Name != table {
			// The instance drops the query's invalid parts: the answer is not this table's dictionary.
			return nil, fmt.Errorf("sys_dictionary answered an entry of table %q to a query for name=%s", e.Name, table)
		}
		if e.Element != "" { // the table's own entry has no element
			labels[e.Element] = e.ColumnLabel
		}
	}
	return labels, nil
}

// labelKeys maps each column to its label; a missing column, or a label that is empty or shared by two columns, is
// an error naming the fix.
func labelKeys(table string, cols []string, labels map[string]string) (map[string]string, error) {
	owners := map[string][]string{}
	for el, lb := range labels {
		owners[lb] = append(owners[lb], el)
	}
	keys := map[string]string{}
	var missing, unlabelled []string
	for _, col := range cols {
		lb, ok := labels[col]
		switch {
		case !ok:
			missing = append(missing, col)
		case strings.TrimSpace(lb) == "":
			unlabelled = append(unlabelled, col+" has no label")
		case len(owners[lb]) > 1:
			o := append([]string(nil), owners[lb]...)
			sort.Strings(o)
			unlabelled = append(unlabelled, fmt.Sprintf("label %q is shared by %s", lb, strings.Join(o, ", ")))
		default:
			keys[col] = lb
		}
	}
	var errs []string
	if len(missing) > 0 {
		errs = append(errs, fmt.Sprintf("%s has no column %s: add the missing columns (type String) as the README lists them", table, strings.Join(missing, ", ")))
	}
	if len(unlabelled) > 0 {
		sort.Strings(unlabelled)
		unlabelled = slices.Compact(unlabelled)
		errs = append(errs, fmt.Sprintf("in %s, %s: insertMultiple finds a column by its label, so give each column its own label "+
			"(System Definition > Dictionary)", table, strings.Join(unlabelled, "; ")))
	}
	if len(errs) > 0 {
		return nil, errors.New(strings.Join(errs, "; "))
	}
	return keys, nil
}

// insertMultiple posts one request of rows (keyed by column name) to a staging table, each key replaced by keys, and
// returns the import set it made.
func (c *client) insertMultiple(ctx context.Context, table string, keys map[string]string, rows []map[string]string) (string, error) {
	records := make([]map[string]string, len(rows))
	for i, r := range rows {
		records[i] = make(map[string]string, len(r))
		for col, v := range r {
			records[i][keys[col]] = v
		}
	}
	var ans struct {
		ImportSetID string `json:"import_set_id"`
	}
	u := c.base + "/api/now/import/" + url.PathEscape(table) + "/insertMultiple"
	if err := c.call(ctx, http.MethodPost, u, map[string]any{"records": records}, &ans); err != nil {
		return "", err
	}
	if ans.ImportSetID == "" {
		return "", errors.New("the answer names no import set (no import_set_id)")
	}
	return ans.ImportSetID, nil
}

// sentSet is an import set insertMultiple made and how many rows it carries.
type sentSet struct {
	id string
	n  int
}

// waitTransformed waits, bounded, until each import set is transformed: its state processed, or, for an import set
// still loading (a synchronous one stays loading until ServiceNow closes it at midnight), each of its rows past
// pending. It returns the sets' numbers.
func (c *client) waitTransformed(ctx context.Context, table string, sets []sentSet) ([]string, error) {
	deadline := time.Now().Add(c.maxWait)
	var numbers []string
	next := c.pollWaits()
	for len(sets) > 0 {
		batch := sets[:min(100, len(sets))]
		ids := make([]string, len(batch))
		for i, s := range batch {
			ids[i] = s.id
		}
		var ans struct {
			Result []struct {
				SysID  string `json:"sys_id"`
				Number string `json:"number"`
				State  string `json:"state"`
			} `json:"result"`
		}
		u := c.base + "/api/now/table/sys_import_set?" + url.Values{"sysparm_query": {"sys_idIN" + strings.Join(ids, ",")},
			"sysparm_fields": {"sys_id,number,state"}, "sysparm_limit": {strconv.Itoa(len(ids))}}.Encode()
		if err := c.call(ctx, http.MethodGet, u, nil, &ans); err != nil {
			return numbers, fmt.Errorf("reading the import sets' state: %w", err)
		}
		state, number := map[string]string{}, map[string]string{}
		var loading []sentSet
		for _, s := range ans.Result {
			state[s.SysID], number[s.SysID] = s.State, s.Number
		}
		done := map[string]bool{}
		for _, s := range batch {
			switch state[s.id] {
			case "processed":
				done[s.id] = true
			case "loading":
				loading = append(loading, s)
			case "loaded":
			case "cancelled":
				return numbers, fmt.Errorf("ServiceNow cancelled import set %s of %s: see System Import Sets > Import Sets", number[s.id], table)
			case "":
				return numbers, fmt.Errorf("import set %s of %s is not in sys_import_set, or the integration user cannot read it", s.id, table)
			default:
				return numbers, fmt.Errorf("import set %s of %s is in state %q, which seatlake does not know (loading, loaded, processed, cancelled)",
					number[s.id], table, state[s.id])
			}
		}
		if len(loading) > 0 {
			final, err := c.finalRows(ctx, table, loading)
			if err != nil {
				return numbers, fmt.Errorf("reading the rows of the loading import sets of %s: %w", table, err)
			}
			for _, s := range loading {
				done[s.id] = final[s.id] == s.n
			}
		}
		var left []sentSet
		for _, s := range sets {
			if done[s.id] {
				numbers = append(numbers, number[s.id])
			} else {
				left = append(left, s)
			}
		}
		if len(left) == len(sets) {
			if time.Now().After(deadline) {
				return numbers, fmt.Errorf("%d import sets of %s are still not transformed after %s: the instance's import scheduler is slow or stopped", len(left), table, c.maxWait)
			}
			c.heartbeat("waiting for the import sets to be transformed", "table", table, "left", len(left), "waited", time.Since(deadline.Add(-c.maxWait)).Round(time.Second))
			if err := outbound.Sleep(ctx, next()); err != nil {
				return numbers, err
			}
		}
		sets = left
	}
	return numbers, nil
}

// finalRows counts, per import set, the rows past pending.
func (c *client) finalRows(ctx context.Context, table string, sets []sentSet) (map[string]int, error) {
	final := map[string]int{}
	err := c.eachRow(ctx, table, sets, "sys_import_set,sys_import_state", func(r map[string]string) error {
		if r["sys_import_state"] != "pending" {
			final[r["sys_import_set"]]++
		}
		return nil
	})
	return final, err
}

// rowsPerRead is the Table API's default sysparm_limit, the most rows eachRow asks for at once; setsPerRead bounds
// the import sets one request names (the query's length).
const (
	rowsPerRead = 10000
	setsPerRead = 100
)

// eachRow reads the staging rows of the given import sets, a page at a time: as many sets a request as their rows
// fill a page of rowsPerRead.
func (c *client) eachRow(ctx context.Context, table string, sets []sentSet, fields string, f func(map[string]string) error) error {
	for len(sets) > 0 {
		k, rows := 1, sets[0].n
		for k < len(sets) && k < setsPerRead && rows+sets[k].n <= rowsPerRead {
			rows += sets[k].n
			k++
		}
		batch := sets[:k]
		sets = sets[len(batch):]
		ids, expect := make([]string, len(batch)), 0
		for i, s := range batch {
			ids[i], expect = s.id, expect+s.n
		}
		page := min(max(expect, 1), rowsPerRead)
		for offset := 0; ; offset += page {
			var ans struct {
				Result []map[string]string `json:"result"`
			}
			u := c.base + "/api/now/table/" + url.PathEscape(table) + "?" + url.Values{
				"sysparm_query":                  {"sys_import_setIN" + strings.Join(ids, ",")},
				"sysparm_fields":                 {fields},
				"sysparm_exclude_reference_link": {"true"},
				"sysparm_limit":                  {strconv.Itoa(page)}, "sysparm_offset": {strconv.Itoa(offset)}}.Encode()
			if err := c.call(ctx, http.MethodGet, u, nil, &ans); err != nil {
				return err
			}
			for _, r := range ans.Result {
				if err := f(r); err != nil {
					return err
				}
			}
			if len(ans.Result) < page {
				break
			}
		}
	}
	return nil
}

// rowTally is what the rows of one staging table's import sets became.
type rowTally struct {
	read    int
	states  map[string]int // inserted, updated, ignored, error (rows with u_external_id)
	refused []string       // "<table> <u_external_id>: <comment>" of rows marked error
	skipped []string       // u_external_id of rows skipped
	empty   int            // rows that landed without u_external_id, whatever their state
	emptyBy map[string]int // their states
}

func (t rowTally) emptyStates() string {
	var parts []string
	for _, st := range sortedKeys(t.emptyBy) {
		parts = append(parts, fmt.Sprintf("%s: %d", st, t.emptyBy[st]))
	}
	return strings.Join(parts, ", ")
}

func sortedKeys(m map[string]int) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// rowResults reads what each staging row of the import sets became. A row in a state seatlake does not know, or
// fewer rows than were sent, is an error: nothing is taken as success unread.
func (c *client) rowResults(ctx context.Context, table string, sets []sentSet) (rowTally, error) {
	t := rowTally{states: map[string]int{}, emptyBy: map[string]int{}}
	sent := 0
	for _, s := range sets {
		sent += s.n
	}
	err := c.eachRow(ctx, table, sets, coalesceColumn+",sys_import_state,sys_import_state_comment,sys_import_row", func(r map[string]string) error {
		t.read++
		state, id := r["sys_import_state"], r[coalesceColumn]
		switch state {
		case "inserted", "updated", "ignored", "error", "skipped":
		default:
			return fmt.Errorf("row %s (%s=%q) of %s is in state %q after its import set was transformed; seatlake knows inserted, updated, ignored, skipped and error",
				r["sys_import_row"], coalesceColumn, id, table, state)
		}
		switch {
		case id == "":
			t.empty++
			t.emptyBy[state]++
		case state == "skipped":
			t.skipped = append(t.skipped, id)
		case state == "error":
			t.states[state]++
			t.refused = append(t.refused, fmt.Sprintf("%s %s: %s", table, id, r["sys_import_state_comment"]))
		default:
			t.states[state]++
		}
		return nil
	})
	if err != nil {
		return t, err
	}
	if t.read != sent {
		return t, fmt.Errorf("read %d of the %d rows sent to %s: let the integration user read every row of the staging table", t.read, sent, table)
	}
	return t, nil
}

func newServiceNowClient(cfg ServiceNowConfig) (*client, error) {
	base := strings.TrimRight(cfg.InstanceURL, "/")
	if base == "" {
		return nil, errors.New("no ServiceNow instance URL")
	}
	c := &client{base: base, log: cfg.Logger, chunk: cfg.BatchSize, maxWait: cfg.MaxWait, poll: cfg.Poll,
		refused: ErrCredentialsRefused, service: "ServiceNow"}
	if c.chunk <= 0 || c.chunk > MaxServiceNowBatch {
		c.chunk = MaxServiceNowBatch
	}
	c.defaults()
	hc := cfg.HTTPClient
	if hc == nil {
		hc = &http.Client{Timeout: 60 * time.Second}
	}
	switch {
	case cfg.ClientID != "":
		cc := clientcredentials.Config{ClientID: cfg.ClientID, ClientSecret: cfg.ClientSecret, TokenURL: base + "/oauth_token.do",
			AuthStyle: oauth2.AuthStyleInParams}
		c.connect(hc, cfg.Attempts, outbound.Config{Tokens: &oauthTokens{cc: cc, hc: hc}})
	case cfg.User != "":
		c.connect(hc, cfg.Attempts, outbound.Config{Authorize: func(req *http.Request) { req.SetBasicAuth(cfg.User, cfg.Password) }})
	default:
		return nil, errors.New("no ServiceNow credentials: a user (basic auth) or an OAuth client id")
	}
	return c, nil
}

// oauthTokens are a sync's ServiceNow OAuth tokens (the client credentials grant at /oauth_token.do): shared by its
// requests, fetched again shortly before they expire, and dropped when the instance refuses one (401). A token
// request runs under the context of the request that needs it.
type oauthTokens struct {
	cc  clientcredentials.Config
	hc  *http.Client // sends the token requests
	mu  sync.Mutex
	tok *oauth2.Token
}

func (t *oauthTokens) Token(ctx context.Context) (string, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.tok.Valid() {
		return t.tok.AccessToken, nil
	}
	tok, err := t.cc.Token(context.WithValue(ctx, oauth2.HTTPClient, t.hc))
	if err != nil {
		var re *oauth2.RetrieveError
		if errors.As(err, &re) && re.Response != nil && re.Response.StatusCode >= 400 && re.Response.StatusCode < 500 {
			return "", fmt.Errorf("%w (client %q: %d %s)", ErrOAuthRefused, t.cc.ClientID, re.Response.StatusCode,
				strings.TrimSpace(re.ErrorCode+" "+re.ErrorDescription))
		}
		if ce := outbound.CertificateProblem(err); ce != nil {
			err = ce
		}
		return "", fmt.Errorf("getting a ServiceNow OAuth token: %w", err)
	}
	t.tok = tok
	return tok.AccessToken, nil
}

func (t *oauthTokens) Invalidate(token string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.tok != nil && t.tok.AccessToken == token {
		t.tok = nil
	}
}

// Probe results.
const (
	ProbeOK   = "ok"
	ProbeWarn = "warn"
	ProbeFail = "fail"
)

// ProbeResult is one thing ProbeServiceNow checked: how it went, what it saw, and what to do.
type ProbeResult struct{ Check, Status, Detail, Action string }

// ProbeServiceNow checks, before a night depends on it and without sending anything, what a sync needs: the
// credentials (the OAuth client credentials grant's set-up included), read access to sys_import_set and the three
// staging tables, and the column mapping: under labels, each column seatlake sends exists with its own label in
// sys_dictionary, and the instance has no REST Insert Multiples entry that would make it expect names; under names,
// the instance has such entries.
func ProbeServiceNow(ctx context.Context, cfg ServiceNowConfig) []ProbeResult {
	if cfg.Attempts == 0 {
		cfg.Attempts = 2
	}
	c, err := newServiceNowClient(cfg)
	if err != nil {
		return []ProbeResult{{"configuration", ProbeFail, err.Error(), "fix the sync.servicenow settings"}}
	}
	p := &serviceNowProbe{c: c, cfg: cfg}
	tables := cfg.tables()
	names := []string{tables["persons"], tables["subscriptions"], tables["assignments"]}
	if !p.credentials(ctx) || !p.stagingTables(ctx, names) {
		return p.out
	}
	entries, entriesErr := p.read(ctx, "sys_rest_insert_multiple", "sysparm_fields=sys_id&sysparm_limit=1000")
	if cfg.mapping() == ColumnNames {
		p.namesMapping(names, entries, entriesErr)
	} else {
		p.labelsMapping(ctx, tables, names, entries, entriesErr)
	}
	return p.out
}

// serviceNowProbe is one ProbeServiceNow: its client and settings, and the lines so far.
type serviceNowProbe struct {
	c   *client
	cfg ServiceNowConfig
	out []ProbeResult
}

func (p *serviceNowProbe) add(check, status, detail, action string) {
	p.out = append(p.out, ProbeResult{check, status, detail, action})
}

// read reads a table's records as the query says, returning how many came.
func (p *serviceNowProbe) read(ctx context.Context, table, query string) (int, error) {
	var ans struct {
		Result []map[string]any `json:"result"`
	}
	err := p.c.call(ctx, http.MethodGet, p.c.base+"/api/now/table/"+url.PathEscape(table)+"?"+query, nil, &ans)
	return len(ans.Result), err
}

// credentials reads sys_import_set: the credentials are taken and the import set API answers, or the line says
// why not and the probe goes no further (false).
func (p *serviceNowProbe) credentials(ctx context.Context) bool {
	_, err := p.read(ctx, "sys_import_set", "sysparm_limit=1&sysparm_fields=sys_id")
	switch {
	case errors.Is(err, ErrOAuthRefused):
		p.add("OAuth client credentials", ProbeFail, err.Error(), "set the system property glide.oauth.inbound.client.credential.grant_type.enabled "+
			"to true (sys_properties.list), add the OAuth Application User field to the client's registry record and name the integration "+
			"user in it, and check the client id and secret")
		return false
	case errors.Is(err, ErrCredentialsRefused):
		p.add("credentials", ProbeFail, err.Error(), "fix the integration user's password, or the OAuth client")
		return false
	case err != nil:
		p.add("import set API", ProbeFail, "reading sys_import_set: "+err.Error(), "check the instance URL, and let the integration user read sys_import_set")
		return false
	case p.cfg.ClientID != "":
		p.add("OAuth client credentials", ProbeOK, fmt.Sprintf("client %s got a token with the client credentials grant, and the API takes it", p.cfg.ClientID), "")
	default:
		p.add("credentials", ProbeOK, "basic auth as "+p.cfg.User+" is taken", "")
	}
	return true
}

// stagingTables reads each staging table; false when one cannot be read.
func (p *serviceNowProbe) stagingTables(ctx context.Context, names []string) bool {
	var unreadable []string
	for _, t := range names {
		if _, err := p.read(ctx, t, "sysparm_limit=1&sysparm_fields=sys_id"); err != nil {
			unreadable = append(unreadable, t+": "+err.Error())
		}
	}
	if len(unreadable) > 0 {
		p.add("import set API", ProbeFail, strings.Join(unreadable, "; "), "create the staging tables as the README says (extend Import Set Row), and let the integration user read them")
		return false
	}
	p.add("import set API", ProbeOK, "sys_import_set and the staging tables "+strings.Join(names, ", ")+" are readable", "")
	return true
}

// namesMapping checks column-mapping: name, which needs a REST Insert Multiples entry per staging table.
func (p *serviceNowProbe) namesMapping(names []string, entries int, entriesErr error) {
	switch {
	case entriesErr != nil:
		p.add("column mapping", ProbeWarn, "names (column-mapping: name), but sys_rest_insert_multiple is not readable, so the REST Insert Multiples entries cannot be confirmed: "+entriesErr.Error(),
			"let the integration user read sys_rest_insert_multiple; a sync whose rows land empty fails naming this")
	case entries == 0:
		p.add("column mapping", ProbeFail, "names (column-mapping: name), but the instance has no REST Insert Multiples entry: insertMultiple takes column labels, so the names seatlake would send match no column",
			"add a REST Insert Multiples [sys_rest_insert_multiple] entry for each of "+strings.Join(names, ", ")+" with Column mapping = Column name, or remove column-mapping: name")
	case entries < len(names):
		p.add("column mapping", ProbeWarn, fmt.Sprintf("names (column-mapping: name), but the instance has %d REST Insert Multiples entries for %d staging tables", entries, len(names)),
			"give each of "+strings.Join(names, ", ")+" an entry with Column mapping = Column name")
	default:
		p.add("column mapping", ProbeOK, fmt.Sprintf("names: the instance has %d REST Insert Multiples entries (their fields are not documented, so a sync checks that rows land with their values)", entries), "")
	}
}

// labelsMapping checks insertMultiple's default, labels: each column seatlake sends has its own label in
// sys_dictionary, and no REST Insert Multiples entry may make the instance expect names.
func (p *serviceNowProbe) labelsMapping(ctx context.Context, tables map[string]string, names []string, entries int, entriesErr error) {
	problems, found := p.labelProblems(ctx, tables)
	switch {
	case len(problems) > 0:
		p.add("column mapping", ProbeFail, "labels (insertMultiple's default): "+strings.Join(problems, "; "),
			"fix the staging columns as said, or let the integration user read sys_dictionary; or add REST Insert Multiples entries with Column mapping = Column name and set column-mapping: name")
	case entriesErr == nil && entries > 0:
		p.add("column mapping", ProbeWarn, fmt.Sprintf("labels read from sys_dictionary (%s), but the instance has %d REST Insert Multiples entries: "+
			"one that maps a staging table by Column name makes the instance drop labels", strings.Join(found, ", "), entries),
			"if an entry maps "+strings.Join(names, ", ")+" by Column name, set column-mapping: name (seatlake cannot see which table an entry is for); a sync whose rows land empty fails naming this")
	default:
		detail := "labels, insertMultiple's default, each column with its own label in sys_dictionary (" + strings.Join(found, ", ") + ")"
		if entriesErr != nil {
			detail += "; sys_rest_insert_multiple is not readable, so an entry mapping by Column name would show only when rows land empty, which a sync reports"
		} else {
			detail += "; no REST Insert Multiples entry changes it"
		}
		p.add("column mapping", ProbeOK, detail, "")
	}
}

// labelProblems reads each staging table's labels: what is wrong with them (sorted), and for each table whose
// labels are right, its column count (sorted).
func (p *serviceNowProbe) labelProblems(ctx context.Context, tables map[string]string) (problems, found []string) {
	for sel, t := range tables {
		cols := stagingColumns(sel)
		labels, err := p.c.labels(ctx, t)
		if err == nil {
			_, err = labelKeys(t, cols, labels)
		}
		if err != nil {
			problems = append(problems, err.Error())
			continue
		}
		found = append(found, fmt.Sprintf("%s: %d columns", t, len(cols)))
	}
	sort.Strings(found)
	sort.Strings(problems)
	return problems, found
}
