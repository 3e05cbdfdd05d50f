// Package eventsim is the F&O side of business events: a plan of N distinct events for the first F&O environment
// of a tenant, the role changes they announce (applied to what that environment serves when the test or the
// operator says the changes happened), and a sender that posts them to a receiver's callback URL as F&O would,
// with retries' duplicates and one malformed body. The same seed and N give the same plan in every simulator, so
// one simulator can send while another serves F&O. The bodies' shape and every fact they rely on:
// extract/businessevents/testdata/README.md.
package eventsim

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/seatlake/seatlake/internal/tenantsim/ids"
	"github.com/seatlake/seatlake/internal/tenantsim/model"
)

// finOpsEventRole is the role the plan's role-change events assign: it requires the Enterprise license, so the
// change shows in the marts.
const finOpsEventRole = "LEDGERCHIEFFINANCIALOFFICER"

// PlannedEvent is one event of the plan.
type PlannedEvent struct {
	Body   []byte
	UserID string // the F&O user whose roles it changes ("" for events that change nobody)
}

// Plan is the plan of n distinct events: every third an alert on SecurityUserRole (a role assigned to a
// user), every third an alert on UserInfo (a user changed), the others business events seatlake does not know.
//
// The bodies have the documented shape (extract/businessevents/testdata/README.md): the envelope every business
// event carries, and for an alert ("Send externally" on an alert rule, BusinessEventsAlertEvent) the alert rule's
// context: the alerted record's table and key (TableName, KeyValue1, KeyValue2), the field, the company
// (DataAreaId), the rule (RuleId, Subject, Message) and its owner (UserId, Email: who is notified, not the user the
// record is about). Keys are in alphabetical order, as F&O's samples show them.
func Plan(m *model.Tenant, n int) []PlannedEvent {
	if len(m.FinOps) == 0 || n <= 0 {
		return nil
	}
	env := &m.FinOps[0]
	var candidates []int // real people, not the built-in accounts
	for i, u := range env.Users {
		if u.Entra >= 0 && u.Enabled {
			candidates = append(candidates, i)
		}
	}
	roleRecID := int64(5637144576)
	for i, r := range model.FinOpsRoles {
		if r.ID == finOpsEventRole {
			roleRecID += int64(i)
		}
	}
	base := m.Anchor / 1000 // ms
	out := make([]PlannedEvent, n)
	for i := range n {
		h := ids.Hash(m.Seed, 300, uint64(i))
		ms := base - int64(n-i)*1000
		company := model.FinOpsCompanies[h%uint64(len(model.FinOpsCompanies))]
		body := map[string]any{
			"BusinessEventLegalEntity":    strings.ToLower(company),
			"ContextRecordSubject":        "",
			"ControlNumber":               5637144576 + int64(i),
			"EventId":                     ids.GUID(h, ids.Hash(m.Seed, 301, uint64(i))),
			"EventTime":                   fmt.Sprintf("/Date(%d)/", ms),
			"EventTimeIso8601":            time.UnixMilli(ms).UTC().Format("2006-01-02T15:04:05.0000000Z"),
			"InitiatingUserAADObjectId":   "{00000000-0000-0000-0000-000000000000}",
			"MajorVersion":                0,
			"MinorVersion":                0,
			"ParentContextRecordSubjects": []string{},
		}
		alert := func(table, tableLabel string, tableID int, field, fieldLabel string, fieldID int, trigger, subject, key1, key2 string) {
			maps.Copy(body, map[string]any{
				"BusinessEventId": "BusinessEventsAlertEvent", "DataAreaId": strings.ToLower(company), "Email": "admin@contoso.com",
				"FieldId": fieldID, "FieldLabel": fieldLabel, "FieldName": field, "KeyValue1": key1, "KeyValue2": key2, "Link": "",
				"Message": subject, "MessageDetails": tableLabel + ": " + key1, "ParentTableId": tableID, "RuleId": fmt.Sprintf("%06d", 400+i%3),
				"Subject": subject, "TableId": tableID, "TableLabel": tableLabel, "TableName": table, "TypeTrigger": trigger, "UserId": "Admin",
			})
		}
		var user string
		switch {
		case i%3 == 0 && len(candidates) > 0:
			user = env.Users[candidates[int(h>>8)%len(candidates)]].UserID
			alert("SecurityUserRole", "Security user role", 65393, "SecurityRole", "Security role", 2, "RecordInsert",
				"Role "+finOpsEventRole+" assigned", user, strconv.FormatInt(roleRecID, 10))
			out[i].UserID = user
		case i%3 == 1 && len(candidates) > 0:
			u := env.Users[candidates[int(h>>8)%len(candidates)]].UserID
			alert("UserInfo", "User information", 65518, "enable", "Enabled", 5, "FieldChanged", "User changed", u, "")
		default:
			maps.Copy(body, map[string]any{"BusinessEventId": "SalesOrderInvoicedBusinessEvent",
				"InvoiceAccount": fmt.Sprintf("US-%03d", h%1000), "InvoiceAmount": json.Number(fmt.Sprintf("%d.5", h%100000))})
		}
		b, err := json.Marshal(body) // keys sorted
		if err != nil {
			panic(err) // the values above always marshal
		}
		out[i].Body = b
	}
	return out
}

// Apply makes the first F&O environment of m serve the role changes of the plan's first n events (the changes the
// events announce); it returns the users changed.
func Apply(m *model.Tenant, n int) []string {
	plan := Plan(m, n)
	m.FinOpsMu.Lock()
	defer m.FinOpsMu.Unlock()
	role := uint8(0)
	for i, r := range model.FinOpsRoles {
		if r.ID == finOpsEventRole {
			role = uint8(i)
		}
	}
	var changed []string
	env := &m.FinOps[0]
	for _, p := range plan {
		if p.UserID == "" {
			continue
		}
		for ui := range env.Users {
			u := &env.Users[ui]
			if u.UserID != p.UserID {
				continue
			}
			has := false
			for _, r := range u.Roles {
				has = has || r == role
			}
			if !has {
				u.Roles = append(u.Roles, role)
			}
			if !slices.Contains(changed, u.UserID) {
				changed = append(changed, u.UserID)
			}
		}
	}
	return changed
}

// SendResult is what the sender did.
type SendResult struct {
	Distinct, Sent, Duplicates, Malformed, Refused int
}

// Send posts the n events of m's plan to callback at rate events a second, as F&O does: each distinct event
// until it is acknowledged (a 5xx or a refused connection is retried), every fifth sent again (a retry whose first
// answer was lost: a duplicate), and one malformed body halfway, which must be refused with a 4xx.
func Send(ctx context.Context, m *model.Tenant, callback string, n int, rate float64, hc *http.Client) (SendResult, error) {
	var res SendResult
	if hc == nil {
		hc = &http.Client{Timeout: 30 * time.Second}
	}
	plan := Plan(m, n)
	if len(plan) == 0 {
		return res, fmt.Errorf("no F&O environment to send events for")
	}
	tick := time.NewTicker(time.Duration(float64(time.Second) / max(rate, 1)))
	defer tick.Stop()
	post := func(body []byte) (int, error) {
		select {
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-tick.C:
		}
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, callback, bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		resp, err := hc.Do(req)
		if err != nil {
			return 0, err
		}
		resp.Body.Close()
		return resp.StatusCode, nil
	}
	deliver := func(body []byte) error {
		for attempt := 1; ; attempt++ {
			code, err := post(body)
			switch {
			case err == nil && code < 300:
				res.Sent++
				return nil
			case ctx.Err() != nil:
				return ctx.Err()
			case err == nil && code < 500 && code != http.StatusTooManyRequests:
				res.Refused++
				return fmt.Errorf("the receiver refused an event: %d", code)
			case attempt >= 20:
				return fmt.Errorf("the receiver did not take an event after %d attempts: %v %d", attempt, err, code)
			}
			time.Sleep(time.Duration(attempt) * 100 * time.Millisecond)
		}
	}
	for i, p := range plan {
		if err := deliver(p.Body); err != nil {
			return res, err
		}
		res.Distinct++
		if i%5 == 4 {
			if err := deliver(p.Body); err != nil {
				return res, err
			}
			res.Duplicates++
		}
		if i == len(plan)/2 {
			code, err := post([]byte(`{"BusinessEventId":"BusinessEventsAlertEvent","ControlNumber":`))
			if err != nil {
				return res, err
			}
			if code < 400 || code >= 500 {
				return res, fmt.Errorf("the receiver answered %d to a malformed body, want a 4xx", code)
			}
			res.Malformed++
		}
	}
	return res, nil
}
