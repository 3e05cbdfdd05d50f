package pipelines

import (
	"context"
	"database/sql"
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"

	_ "github.com/duckdb/duckdb-go/v2"

	"github.com/seatlake/seatlake/load/target"
)

// martsFixture is an in-memory DuckDB with the columns of the marts a sync reads, as plain tables: tenant t has
// 5 people (one with two Dynamics 365 accounts), 2 subscriptions (and an F&O license) and 5 assignments, tenant
// other has one of each.
func martsFixture(t *testing.T) *sql.DB {
	t.Helper()
	db, err := sql.Open("duckdb", "")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	for _, s := range []string{
		`CREATE TABLE graph_users (tenant_id VARCHAR, id VARCHAR, user_principal_name VARCHAR, display_name VARCHAR, department VARCHAR, account_enabled BOOLEAN)`,
		`INSERT INTO graph_users VALUES ('t', 'u3', 'c@x', 'C', 'Sales', true), ('t', 'u1', 'a@x', 'A', NULL, true), ('t', 'u5', 'e@x', NULL, 'IT', false),
			('t', 'u2', 'b@x', 'B', 'IT', true), ('t', 'u4', NULL, 'D', 'IT', true), ('other', 'u1', 'z@y', 'Z', 'IT', true)`,
		`CREATE TABLE identities (tenant_id VARCHAR, source VARCHAR, environment_url VARCHAR, account_name VARCHAR, account_id VARCHAR, entra_user_id VARCHAR)`,
		`INSERT INTO identities VALUES ('t', 'entra', NULL, NULL, 'u2', 'u2'), ('t', 'dataverse', 'https://org.crm.dynamics.com', 'B D', 'sys-2', 'u2'),
			('t', 'finops', 'https://fo.operations.dynamics.com', NULL, 'b.fo', 'u2'), ('t', 'dataverse', 'https://org.crm.dynamics.com', 'E', 'sys-5', 'u5'),
			('other', 'dataverse', 'https://y.crm.dynamics.com', 'Z', 'sys-9', 'u1')`,
		`CREATE TABLE license_position (tenant_id VARCHAR, kind VARCHAR, sku_id VARCHAR, sku_part_number VARCHAR, product_display_name VARCHAR, product_name VARCHAR,
			purchased BIGINT, warning BIGINT, assigned BIGINT, active BIGINT, available BIGINT, monthly_price DOUBLE)`,
		`INSERT INTO license_position VALUES ('t', 'sku', 's2', 'E5', 'Microsoft 365 E5', 'Microsoft 365', 10, 2, 2, 1, 10, 57),
			('t', 'sku', 's1', 'E3', NULL, 'Microsoft 365', 5, NULL, 3, 3, 2, 36), ('t', 'finops', NULL, NULL, NULL, NULL, 1, 0, 1, 1, 0, 0),
			('other', 'sku', 's1', 'E3', NULL, NULL, 1, 0, 1, 1, 0, 36)`,
		`CREATE TABLE license_usage (tenant_id VARCHAR, user_id VARCHAR, sku_id VARCHAR, sku_part_number VARCHAR, product_display_name VARCHAR, status VARCHAR,
			last_activity TIMESTAMP, evidence_detail VARCHAR, days_inactive BIGINT, reason VARCHAR, monthly_cost DOUBLE, reclaim_candidate BOOLEAN,
			under_licensed BOOLEAN, required_license VARCHAR, true_up_monthly_cost DOUBLE, action VARCHAR)`,
		`INSERT INTO license_usage VALUES
			('t', 'u2', 's2', 'E5', 'Microsoft 365 E5', 'active', '2026-11-30 08:00:00', 'sign-in log', 7, 'used 7 days ago', 57, false, false, NULL, 0, NULL),
			('t', 'u1', 's1', 'E3', NULL, 'never_used', NULL, NULL, NULL, 'no activity', 36, true, false, NULL, 0, 'remove license'),
			('t', 'u2', 's1', 'E3', NULL, 'low_usage', '2026-09-01 00:00:00', 'audit', 97, 'idle 97 days', 36, true, true, 'Operations', 180, 'assign Operations'),
			('t', 'u4', 's1', 'E3', NULL, 'active', '2026-12-01 00:00:00', 'sign-in log', 6, 'used', 36, false, false, NULL, 0, NULL),
			('t', 'u1', 's2', 'E5', 'Microsoft 365 E5', 'disabled_user_licensed', NULL, NULL, NULL, 'disabled', 57, true, NULL, NULL, NULL, 'remove license'),
			('other', 'u1', 's1', 'E3', NULL, 'active', NULL, NULL, 1, 'used', 36, false, false, NULL, 0, NULL)`,
	} {
		if _, err := db.Exec(s); err != nil {
			t.Fatalf("%v\n%s", err, s)
		}
	}
	return db
}

// A sync reads the marts through files of its own: every row of the tenant comes once (in the marts' order, which
// a sync does not promise), the same rows as read whole, and the fingerprints are those of the rows read.
func TestMartRowsReadEveryRowOnce(t *testing.T) {
	ctx := context.Background()
	db := martsFixture(t)
	days7, days97 := int64(7), int64(97)
	want := target.Data{TenantID: "t",
		Persons: []target.Person{
			{ID: "u1", UPN: "a@x", DisplayName: "A", Enabled: true},
			{ID: "u2", UPN: "b@x", DisplayName: "B", Department: "IT", Enabled: true,
				DynamicsUsers: "dataverse org.crm.dynamics.com: B D, finops fo.operations.dynamics.com: b.fo"},
			{ID: "u3", UPN: "c@x", DisplayName: "C", Department: "Sales", Enabled: true},
			{ID: "u4", DisplayName: "D", Department: "IT", Enabled: true},
			{ID: "u5", UPN: "e@x", Department: "IT", DynamicsUsers: "dataverse org.crm.dynamics.com: E"},
		},
		Subscriptions: []target.Subscription{
			{SkuID: "s1", Part: "E3", ProductName: "E3", Product: "Microsoft 365", Purchased: 5, Assigned: 3, Active: 3, Available: 2, MonthlyPrice: 36},
			{SkuID: "s2", Part: "E5", ProductName: "Microsoft 365 E5", Product: "Microsoft 365", Purchased: 12, Assigned: 2, Active: 1, Available: 10, MonthlyPrice: 57},
		},
		Assignments: []target.Assignment{
			{UserID: "u1", SkuID: "s1", ProductName: "E3", Status: "never_used", Reason: "no activity", MonthlyCost: 36, ReclaimCandidate: true, Action: "remove license"},
			{UserID: "u1", SkuID: "s2", ProductName: "Microsoft 365 E5", Status: "disabled_user_licensed", Reason: "disabled", MonthlyCost: 57, ReclaimCandidate: true, Action: "remove license"},
			{UserID: "u2", SkuID: "s1", ProductName: "E3", Status: "low_usage", LastActivity: "2026-09-01T00:00:00Z", Evidence: "audit", DaysInactive: &days97,
				Reason: "idle 97 days", MonthlyCost: 36, ReclaimCandidate: true, UnderLicensed: true, RequiredLicense: "Operations", TrueUpMonthlyCost: 180, Action: "assign Operations"},
			{UserID: "u2", SkuID: "s2", ProductName: "Microsoft 365 E5", Status: "active", LastActivity: "2026-11-30T08:00:00Z", Evidence: "sign-in log", DaysInactive: &days7,
				Reason: "used 7 days ago", MonthlyCost: 57},
			{UserID: "u4", SkuID: "s1", ProductName: "E3", Status: "active", LastActivity: "2026-12-01T00:00:00Z", Evidence: "sign-in log", DaysInactive: ptr(int64(6)),
				Reason: "used", MonthlyCost: 36},
		},
	}
	m, err := newMartRows(ctx, db, "t", t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if got := m.Sizes(); !reflect.DeepEqual(got, want.Sizes()) {
		t.Errorf("sizes %v, want %v", got, want.Sizes())
	}
	for pass := range 2 { // a target may read the rows twice
		got, err := m.data(ctx)
		if err != nil {
			t.Fatal(err)
		}
		slices.SortFunc(got.Persons, func(a, b target.Person) int { return strings.Compare(a.ID, b.ID) })
		slices.SortFunc(got.Assignments, func(a, b target.Assignment) int {
			return strings.Compare(a.UserID+"|"+a.SkuID, b.UserID+"|"+b.SkuID)
		})
		if !reflect.DeepEqual(got, want) {
			t.Errorf("read %d:\n%+v\nwant\n%+v", pass+1, got, want)
		}
	}
	prints, err := m.fingerprints(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(prints, fingerprints(want)) {
		t.Errorf("the fingerprints are not those of the rows read")
	}
}

// A read that stops early fingerprints nothing (what was sent is not known whole), and a sender's error is returned
// as it is; a later complete read fingerprints the rows.
func TestMartRowsStopEarly(t *testing.T) {
	ctx := context.Background()
	m, err := newMartRows(ctx, martsFixture(t), "t", t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	stop := errors.New("the target is gone")
	n := 0
	err = m.EachAssignment(ctx, func(target.Assignment) error {
		if n++; n == 3 {
			return stop
		}
		return nil
	})
	if !errors.Is(err, stop) || m.prints["assignments"] != nil {
		t.Errorf("stopped read: %v, fingerprinted %v", err, m.prints["assignments"] != nil)
	}
	prints, err := m.fingerprints(ctx)
	if err != nil || len(prints["assignments"]) != 5 {
		t.Errorf("fingerprints after it: %d assignments, %v", len(prints["assignments"]), err)
	}
}

// A mart column of a type the sync does not read as its field's (a cost as a decimal) fails the read, naming it:
// a value is never sent as a zero.
func TestMartRowsRefuseAnUnexpectedType(t *testing.T) {
	ctx := context.Background()
	db := martsFixture(t)
	if _, err := db.Exec(`ALTER TABLE license_usage ALTER monthly_cost TYPE DECIMAL(10, 2)`); err != nil {
		t.Fatal(err)
	}
	m, err := newMartRows(ctx, db, "t", t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	err = m.EachAssignment(ctx, func(target.Assignment) error { return nil })
	if err == nil || !strings.Contains(err.Error(), "column 9 of assignments is decimal") {
		t.Errorf("EachAssignment: %v", err)
	}
}

func ptr[T any](v T) *T { return &v }
