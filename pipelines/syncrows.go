package pipelines

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/seatlake/seatlake/load/catalog"
	"github.com/seatlake/seatlake/load/target"
)

// syncPageRows is how many rows a sync reads from the marts at a time: DuckDB materializes a query's whole result
// before the first row is read, so each selector is read a page at a time, in key order, and neither DuckDB nor
// seatlake holds a tenant's rows (150,000 assignments would be about 60 MB).
const syncPageRows = 5000

// martRows are one tenant's rows in the latest committed marts, read as a stream (target.Rows). The first complete
// read of each selector also fingerprints its rows: what the sync remembers it sent, and the dry run's diff.
type martRows struct {
	q      catalog.Queryer
	tenant string
	page   int
	sizes  map[string]int
	prints sentPrints // per selector, once a read of it was complete
}

// newMartRows counts the tenant's rows per selector.
func newMartRows(ctx context.Context, q catalog.Queryer, tenant string) (*martRows, error) {
	m := &martRows{q: q, tenant: tenant, page: syncPageRows, sizes: map[string]int{}, prints: sentPrints{}}
	for sel, query := range map[string]string{
		"persons":       `SELECT count(*) FROM graph_users WHERE tenant_id = $1`,
		"subscriptions": `SELECT count(*) FROM license_position WHERE tenant_id = $1 AND kind = 'sku'`,
		"assignments":   `SELECT count(*) FROM license_usage WHERE tenant_id = $1`,
	} {
		var n int
		if err := catalog.EachRow(ctx, q, query, []any{tenant}, func(r *sql.Rows) error { return r.Scan(&n) }); err != nil {
			return nil, err
		}
		m.sizes[sel] = n
	}
	return m, nil
}

func (m *martRows) Tenant() string { return m.tenant }

// Sizes are the rows per selector, as counted when the rows were opened.
func (m *martRows) Sizes() map[string]int { return m.sizes }

// The selectors' queries: %[1]s is the condition that starts a page after the last row of the one before ("" for
// the first page), on $2 (and $3), their ORDER BY the key it compares. A person's Dynamics 365 accounts are the
// identities mart's rows joined to them; days_inactive stays NULL when unknown (no activity and no other evidence):
// a nil, never a 0 ("active today").
const (
	personsPage = `SELECT g.id, coalesce(g.user_principal_name, ''), coalesce(g.display_name, ''), coalesce(g.department, ''), coalesce(g.account_enabled, false),
			coalesce(d.accounts, '')
		FROM graph_users g
		LEFT JOIN (SELECT entra_user_id, string_agg(source || ' ' || regexp_replace(coalesce(environment_url, ''), '^https?://', '') || ': ' ||
				coalesce(account_name, account_id), ', ' ORDER BY source, environment_url, account_id) AS accounts
			FROM identities WHERE tenant_id = $1 AND source <> 'entra' AND entra_user_id IS NOT NULL %[2]s GROUP BY entra_user_id) d ON d.entra_user_id = g.id
		WHERE g.tenant_id = $1 %[1]s ORDER BY g.id LIMIT %[3]d`
	subscriptionsPage = `SELECT sku_id, coalesce(sku_part_number, ''), coalesce(product_display_name, sku_part_number, ''), coalesce(product_name, ''),
		coalesce(purchased, 0) + coalesce(warning, 0), coalesce(assigned, 0), coalesce(active, 0), coalesce(available, 0), coalesce(monthly_price, 0)
		FROM license_position WHERE tenant_id = $1 AND kind = 'sku' %[1]s ORDER BY sku_id LIMIT %[3]d`
	assignmentsPage = `SELECT user_id, sku_id, coalesce(product_display_name, sku_part_number, sku_id), status,
		coalesce(strftime(last_activity, '%%Y-%%m-%%dT%%H:%%M:%%SZ'), ''), coalesce(evidence_detail, ''),
		days_inactive, coalesce(reason, ''), coalesce(monthly_cost, 0), reclaim_candidate,
		coalesce(under_licensed, false), coalesce(required_license, ''), coalesce(true_up_monthly_cost, 0), coalesce(action, '')
		FROM license_usage WHERE tenant_id = $1 %[1]s ORDER BY user_id, sku_id LIMIT %[3]d`
)

// EachPerson reads the tenant's people (graph_users), in id order.
func (m *martRows) EachPerson(ctx context.Context, f func(target.Person) error) error {
	var last string
	return read(ctx, m, "persons", personsPage, []string{"AND g.id > $2", "AND entra_user_id > $2"},
		func() []any { return []any{last} },
		func(r *sql.Rows) (target.Person, error) {
			var p target.Person
			err := r.Scan(&p.ID, &p.UPN, &p.DisplayName, &p.Department, &p.Enabled, &p.DynamicsUsers)
			last = p.ID
			return p, err
		}, func(p target.Person) (string, any) { return p.ID, p }, f)
}

// EachSubscription reads the tenant's subscribed SKUs (license_position), in SKU id order.
func (m *martRows) EachSubscription(ctx context.Context, f func(target.Subscription) error) error {
	var last string
	return read(ctx, m, "subscriptions", subscriptionsPage, []string{"AND sku_id > $2", ""},
		func() []any { return []any{last} },
		func(r *sql.Rows) (target.Subscription, error) {
			var s target.Subscription
			err := r.Scan(&s.SkuID, &s.Part, &s.ProductName, &s.Product, &s.Purchased, &s.Assigned, &s.Active, &s.Available, &s.MonthlyPrice)
			last = s.SkuID
			return s, err
		}, func(s target.Subscription) (string, any) { return s.SkuID, s }, f)
}

// EachAssignment reads the tenant's license assignments (license_usage), in user and SKU order.
func (m *martRows) EachAssignment(ctx context.Context, f func(target.Assignment) error) error {
	var lastUser, lastSku string
	return read(ctx, m, "assignments", assignmentsPage, []string{"AND (user_id > $2 OR (user_id = $2 AND sku_id > $3))", ""},
		func() []any { return []any{lastUser, lastSku} },
		func(r *sql.Rows) (target.Assignment, error) {
			var a target.Assignment
			var days sql.NullInt64
			err := r.Scan(&a.UserID, &a.SkuID, &a.ProductName, &a.Status, &a.LastActivity, &a.Evidence, &days, &a.Reason, &a.MonthlyCost,
				&a.ReclaimCandidate, &a.UnderLicensed, &a.RequiredLicense, &a.TrueUpMonthlyCost, &a.Action)
			if days.Valid {
				a.DaysInactive = &days.Int64
			}
			lastUser, lastSku = a.UserID, a.SkuID
			return a, err
		}, func(a target.Assignment) (string, any) { return a.UserID + "|" + a.SkuID, a }, f)
}

// read reads one selector's rows a page at a time: page is its query (see personsPage), after the conditions that
// start a later page (on the keys after gives, which scan keeps of the last row read). Each row goes to f; the first
// complete read also fingerprints them (identity and value as print gives them). A read whose row count differs from
// the count taken when the rows were opened fails: nothing is sent short or twice without saying so.
func read[T any](ctx context.Context, m *martRows, sel, page string, after []string, keys func() []any,
	scan func(*sql.Rows) (T, error), print func(T) (string, any), f func(T) error) error {
	var prints map[uint64]uint64
	if m.prints[sel] == nil {
		prints = make(map[uint64]uint64, m.sizes[sel])
	}
	n := 0
	for {
		q, args := fmt.Sprintf(page, "", "", m.page), []any{m.tenant}
		if n > 0 {
			q, args = fmt.Sprintf(page, after[0], after[1], m.page), append(args, keys()...)
		}
		got := 0
		err := catalog.EachRow(ctx, m.q, q, args, func(r *sql.Rows) error {
			row, err := scan(r)
			if err != nil {
				return err
			}
			got++
			if prints != nil {
				id, v := print(row)
				prints[hash64(id)] = valueHash(v)
			}
			return f(row)
		})
		if err != nil {
			return err
		}
		n += got
		if got < m.page {
			break
		}
	}
	if n != m.sizes[sel] {
		return fmt.Errorf("reading the marts: %d %s rows read where %d were counted: the tenant's marts changed while the sync read them, "+
			"or hold a key twice; sync again", n, sel, m.sizes[sel])
	}
	if prints != nil {
		m.prints[sel] = prints
	}
	return nil
}

// fingerprints are the rows' sentPrints, reading the selectors no complete read fingerprinted yet.
func (m *martRows) fingerprints(ctx context.Context) (sentPrints, error) {
	for _, t := range target.Types() {
		if m.prints[t.Selector] != nil {
			continue
		}
		var err error
		switch t.Selector {
		case "persons":
			err = m.EachPerson(ctx, func(target.Person) error { return nil })
		case "subscriptions":
			err = m.EachSubscription(ctx, func(target.Subscription) error { return nil })
		case "assignments":
			err = m.EachAssignment(ctx, func(target.Assignment) error { return nil })
		default:
			err = fmt.Errorf("no rows of selector %s", t.Selector)
		}
		if err != nil {
			return nil, err
		}
	}
	return m.prints, nil
}

// data is the rows held whole, for a sender that takes them so (target.Sender without StreamSender). Values that
// repeat across rows (SKU ids, product names, statuses, reasons, departments) are held once each.
func (m *martRows) data(ctx context.Context) (target.Data, error) {
	d := target.Data{TenantID: m.tenant}
	seen := map[string]string{}
	intern := func(ps ...*string) {
		for _, p := range ps {
			if v, ok := seen[*p]; ok {
				*p = v
			} else if len(seen) < 1<<16 {
				seen[*p] = *p
			}
		}
	}
	err := m.EachPerson(ctx, func(p target.Person) error {
		intern(&p.Department)
		d.Persons = append(d.Persons, p)
		return nil
	})
	if err == nil {
		err = m.EachSubscription(ctx, func(s target.Subscription) error { d.Subscriptions = append(d.Subscriptions, s); return nil })
	}
	if err == nil {
		err = m.EachAssignment(ctx, func(a target.Assignment) error {
			intern(&a.SkuID, &a.ProductName, &a.Status, &a.Evidence, &a.Reason, &a.RequiredLicense, &a.Action)
			d.Assignments = append(d.Assignments, a)
			return nil
		})
	}
	return d, err
}
