package tenantsim

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"strconv"
	"time"
)

// The F&O side of business events: a plan of N distinct events for the first F&O environment, the role changes
// they announce (applied to what that environment serves, when the test or the operator says the changes
// happened), and a sender that posts them to a receiver's callback URL as F&O would, with retries' duplicates
// and one malformed body. The same seed and N give the same plan in every simulator, so one simulator can send
// while another serves F&O.

// finOpsEventRole is the role the plan's role-change events assign: it requires the Enterprise license, so the
// change shows in the marts.
const finOpsEventRole = "LEDGERCHIEFFINANCIALOFFICER"

// PlannedEvent is one event of the plan.
type PlannedEvent struct {
	Body   []byte
	UserID string // the F&O user whose roles it changes ("" for events that change nobody)
}

// FinOpsEventPlan is the plan of n distinct events: every third an alert on SecurityUserRole (a role assigned to a
// user), every third an alert on UserInfo (a user changed), the others business events seatlake does not know.
func (s *Sim) FinOpsEventPlan(n int) []PlannedEvent {
	if len(s.m.fo) == 0 || n <= 0 {
		return nil
	}
	env := &s.m.fo[0]
	var candidates []int // real people, not the built-in accounts
	for i, u := range env.users {
		if u.entra >= 0 && u.enabled {
			candidates = append(candidates, i)
		}
	}
	base := s.m.anchor / 1000 // ms
	out := make([]PlannedEvent, n)
	for i := range n {
		h := hash(s.cfg.Seed, 300, uint64(i))
		cn := 5637144576 + int64(i)
		id := guid(h, hash(s.cfg.Seed, 301, uint64(i)))
		ms := base - int64(n-i)*1000
		iso := time.UnixMilli(ms).UTC().Format("2006-01-02T15:04:05.0000000Z")
		company := foCompanies[h%uint64(len(foCompanies))]
		envelope := fmt.Sprintf(`"ControlNumber":%d,"EventId":"%s","EventTime":"/Date(%d)/","EventTimeIso8601":"%s","BusinessEventLegalEntity":"%s","MajorVersion":0,"MinorVersion":0,"InitiatingUserAADObjectId":"{00000000-0000-0000-0000-000000000000}","ParentContextRecordSubjects":[]`,
			cn, id, ms, iso, company)
		switch {
		case i%3 == 0 && len(candidates) > 0:
			u := env.users[candidates[int(h>>8)%len(candidates)]]
			out[i] = PlannedEvent{UserID: u.userID, Body: []byte(fmt.Sprintf(`{"BusinessEventId":"BusinessEventsAlertEvent",%s,"AlertId":"%d","RuleId":"5637144576","TableName":"SecurityUserRole","FieldLabel":"Security role","EventType":"Created","KeyFieldName1":"User","KeyFieldValue1":"%s","Subject":"Role %s assigned","UserId":"%s","CompanyId":"%s"}`,
				envelope, cn, u.userID, finOpsEventRole, u.userID, company))}
		case i%3 == 1 && len(candidates) > 0:
			u := env.users[candidates[int(h>>8)%len(candidates)]]
			out[i] = PlannedEvent{Body: []byte(fmt.Sprintf(`{"BusinessEventId":"BusinessEventsAlertEvent",%s,"AlertId":"%d","RuleId":"5637144577","TableName":"UserInfo","FieldLabel":"Enabled","EventType":"Field changed","KeyFieldName1":"id","KeyFieldValue1":"%s","Subject":"User changed","UserId":"%s","CompanyId":"%s"}`,
				envelope, cn, u.userID, u.userID, company))}
		default:
			out[i] = PlannedEvent{Body: []byte(fmt.Sprintf(`{"BusinessEventId":"SalesOrderInvoicedBusinessEvent",%s,"InvoiceAccount":"US-%03d","InvoiceAmount":%d.5}`,
				envelope, h%1000, h%100000))}
		}
	}
	return out
}

// ApplyFinOpsEvents makes the first F&O environment serve the role changes of the plan's first n events (the
// changes the events announce); it returns the users changed.
func (s *Sim) ApplyFinOpsEvents(n int) []string {
	plan := s.FinOpsEventPlan(n)
	s.foMu.Lock()
	defer s.foMu.Unlock()
	role := uint8(0)
	for i, r := range foRoles {
		if r.id == finOpsEventRole {
			role = uint8(i)
		}
	}
	var changed []string
	env := &s.m.fo[0]
	for _, p := range plan {
		if p.UserID == "" {
			continue
		}
		for ui := range env.users {
			u := &env.users[ui]
			if u.userID != p.UserID {
				continue
			}
			has := false
			for _, r := range u.roles {
				has = has || r == role
			}
			if !has {
				u.roles = append(u.roles, role)
			}
			if !contains(changed, u.userID) {
				changed = append(changed, u.userID)
			}
		}
	}
	s.truthMu.Lock()
	s.eventsApplied, s.eventsPlanned = changed, n
	s.truthMu.Unlock()
	return changed
}

// SendResult is what the sender did.
type SendResult struct {
	Distinct, Sent, Duplicates, Malformed, Refused int
}

// SendFinOpsEvents posts the plan's n events to callback at rate events a second, as F&O does: each distinct event
// until it is acknowledged (a 5xx or a refused connection is retried), every fifth sent again (a retry whose first
// answer was lost: a duplicate), and one malformed body halfway, which must be refused with a 4xx.
func (s *Sim) SendFinOpsEvents(ctx context.Context, callback string, n int, rate float64, hc *http.Client) (SendResult, error) {
	var res SendResult
	if hc == nil {
		hc = &http.Client{Timeout: 30 * time.Second}
	}
	plan := s.FinOpsEventPlan(n)
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

func eventsApplyHandler(s *Sim) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		n, err := strconv.Atoi(r.URL.Query().Get("n"))
		if err != nil {
			n = s.cfg.FinOpsEvents
		}
		writeJSON(w, http.StatusOK, map[string]any{"users_changed": s.ApplyFinOpsEvents(n)})
	}
}
