package tenantsim

import "time"

// Truth is what a default `seatlake run` against the simulator must load, and a summary of the tenant.
type Truth struct {
	TenantID       string           `json:"tenant_id"`
	Tables         map[string]int64 `json:"tables"` // rows per raw table
	SignInsFrom    time.Time        `json:"signins_from"`
	SignInsTo      time.Time        `json:"signins_to"`
	Premium        bool             `json:"premium"`
	ConcealedNames bool             `json:"concealed_names"`
	Users          UserTruth        `json:"users"`
	SignInsFailed  int64            `json:"signins_failed"` // served sign-ins with status.errorCode != 0
}

// UserTruth breaks the users down the way the license marts will.
type UserTruth struct {
	Total            int `json:"total"`
	Members          int `json:"members"`
	Guests           int `json:"guests"`
	Licensed         int `json:"licensed"`
	Active           int `json:"active"` // sign in during the history
	Idle             int `json:"idle"`   // last signed in 60-300 days ago
	Never            int `json:"never"`  // never signed in
	Disabled         int `json:"disabled"`
	DisabledLicensed int `json:"disabled_licensed"`
}

// Truth returns what a default run must load (also GET /_sim/truth).
func (s *Sim) Truth() Truth {
	t := s.truth
	t.Tables = make(map[string]int64, len(s.truth.Tables))
	for k, v := range s.truth.Tables {
		t.Tables[k] = v
	}
	return t
}

func (s *Sim) computeTruth() Truth {
	m := s.m
	t := Truth{TenantID: s.cfg.TenantID, Premium: s.cfg.Premium, ConcealedNames: s.cfg.ConcealedNames,
		SignInsFrom: time.UnixMicro(m.servedFrom).UTC(), SignInsTo: time.UnixMicro(m.servedTo).UTC()}
	var signIns int64
	if s.cfg.Premium {
		signIns = m.ev.countBetween(m.servedFrom, m.servedTo)
		t.SignInsFailed = m.failedServed
	}
	t.Tables = map[string]int64{
		"graph_users":           int64(len(m.users)),
		"graph_user_licenses":   m.licenses,
		"graph_subscribed_skus": int64(len(m.skus)),
		"graph_signins":         signIns,
		"graph_report_settings": 1,
	}
	for i := range m.users {
		u := &m.users[i]
		t.Users.Total++
		if u.guest {
			t.Users.Guests++
		} else {
			t.Users.Members++
		}
		if len(u.lic) > 0 {
			t.Users.Licensed++
		}
		switch u.act {
		case active:
			t.Users.Active++
		case idle:
			t.Users.Idle++
		default:
			t.Users.Never++
		}
		if !u.enabled {
			t.Users.Disabled++
			if len(u.lic) > 0 {
				t.Users.DisabledLicensed++
			}
		}
	}
	return t
}
