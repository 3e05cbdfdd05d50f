package finopssim

import (
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/seatlake/seatlake/internal/tenantsim/model"
	"github.com/seatlake/seatlake/internal/tenantsim/simkit"
)

const foDefaultCompany = "USMF"

type foEntity struct {
	set, typ string
	props    []string
	kinds    map[string]byte // filterable properties (lower case) and their kinds
	edm      map[string]string
}

var foEntities = []foEntity{
	{set: "SystemUsers", typ: "SystemUser",
		props: []string{"UserID", "UserName", "Alias", "Email", "Enabled", "NetworkDomain", "Company", "PersonName", "AccountType", "ExternalUser", "Language"},
		edm:   map[string]string{"Enabled": "Edm.Boolean", "ExternalUser": "Edm.Boolean", "AccountType": "Microsoft.Dynamics.DataEntities.UserAccountType"}},
	{set: "SecurityRoles", typ: "SecurityRole",
		props: []string{"SecurityRoleIdentifier", "SecurityRoleName", "Description", "ContextString", "AccessToSensitiveData", "UserLicenseType"},
		edm:   map[string]string{"AccessToSensitiveData": "Edm.Boolean", "UserLicenseType": "Microsoft.Dynamics.DataEntities.UserLicenseType"}},
	{set: "SecurityUserRoles", typ: "SecurityUserRole",
		props: []string{"UserId", "SecurityRoleIdentifier", "SecurityRoleName", "AssignmentStatus", "AssignmentMode", "UserLicenseType"},
		edm: map[string]string{"AssignmentStatus": "Microsoft.Dynamics.DataEntities.RoleAssignmentStatus",
			"AssignmentMode": "Microsoft.Dynamics.DataEntities.RoleAssignmentMode", "UserLicenseType": "Microsoft.Dynamics.DataEntities.UserLicenseType"}},
}

var foKeys = map[string][]string{"SystemUser": {"UserID"}, "SecurityRole": {"SecurityRoleIdentifier"}, "SecurityUserRole": {"UserId", "SecurityRoleIdentifier"}}

// foGuard models resource-based service protection ("Service protection API limits", "Priority-based throttling
// FAQ"): when the environment's resources are over their threshold it answers 429 with Retry-After in seconds and
// the FAQ's message. Too many requests at once stands for that threshold here.
type foGuard struct {
	mu       sync.Mutex
	max      int
	inflight int
}

// Admit lets a request start unless too many run at once.
func (g *foGuard) Admit(time.Time) (code, msg string, wait time.Duration) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.inflight >= g.max {
		return "429", "This request could not be processed at this time due to system experiencing high resource utilization. Retry the request after 1 seconds", time.Second
	}
	g.inflight++
	return "", "", 0
}

// Done ends a request admitted earlier.
func (g *foGuard) Done(time.Time, time.Duration) {
	g.mu.Lock()
	g.inflight--
	g.mu.Unlock()
}

// guardOf is the service protection of a throttle mode (nil for "off").
func guardOf(mode string) *foGuard {
	switch mode {
	case "realistic":
		return &foGuard{max: 16}
	case "scaled":
		return &foGuard{max: 4}
	}
	return nil
}

// foError renders F&O's OData error body; its code is empty, as F&O sends it.
func foError(rep *simkit.Reply, status int, _, message string) {
	rep.Status, rep.ContentType = status, simkit.PlainJSON
	b := append(rep.B[:0], `{"error":{"code":"","message":`...)
	b = simkit.AppendJSONString(b, message)
	rep.B = append(b, `}}`...)
}

// serve answers /data/<name> ("" for any other path).
func (fo *environment) serve(r *http.Request, rep *simkit.Reply, name string) {
	env := fo.env
	fo.m.FinOpsMu.RLock() // business events' role changes may be applied meanwhile
	defer fo.m.FinOpsMu.RUnlock()
	if name == "$metadata" {
		fo.metadata(rep)
		return
	}
	for i := range foEntities {
		ent := &foEntities[i]
		if name == ent.set && env.MissingEntity != ent.set {
			fo.collection(r, rep, ent)
			return
		}
	}
	foError(rep, http.StatusNotFound, "", "No HTTP resource was found that matches the request URI '"+simkit.BaseURL(r)+r.URL.Path+"'.")
}

// metadata renders enough CSDL for the three entities (and leaves out the missing one).
func (fo *environment) metadata(rep *simkit.Reply) {
	env := fo.env
	rep.ContentType = "application/xml"
	b := append(rep.B[:0], `<?xml version="1.0" encoding="utf-8"?><edmx:Edmx Version="4.0" xmlns:edmx="http://docs.oasis-open.org/odata/ns/edmx">`+
		`<edmx:DataServices><Schema Namespace="Microsoft.Dynamics.DataEntities" xmlns="http://docs.oasis-open.org/odata/ns/edm">`...)
	for _, ent := range foEntities {
		if ent.set == env.MissingEntity {
			continue
		}
		b = append(b, `<EntityType Name="`+ent.typ+`"><Key>`...)
		for _, k := range foKeys[ent.typ] {
			b = append(b, `<PropertyRef Name="`+k+`" />`...)
		}
		b = append(b, `</Key>`...)
		for _, p := range ent.props {
			t := ent.edm[p]
			if t == "" {
				t = "Edm.String"
			}
			nullable := "true"
			for _, k := range foKeys[ent.typ] {
				if k == p {
					nullable = "false"
				}
			}
			b = append(b, `<Property Name="`+p+`" Type="`+t+`" Nullable="`+nullable+`" />`...)
		}
		b = append(b, `</EntityType>`...)
	}
	b = append(b, `<EnumType Name="UserLicenseType">`...)
	for i, n := range []string{"None", "SelfServe", "Task", "Functional", "Enterprise", "Server", "Universal", "Activity", "Finance", "SCM", "Commerce", "Project", "HR"} {
		b = append(b, `<Member Name="`+n+`" Value="`+strconv.Itoa(i)+`" />`...)
	}
	b = append(b, `</EnumType><EntityContainer Name="Resources">`...)
	for _, ent := range foEntities {
		if ent.set == env.MissingEntity {
			continue
		}
		b = append(b, `<EntitySet Name="`+ent.set+`" EntityType="Microsoft.Dynamics.DataEntities.`+ent.typ+`" />`...)
	}
	rep.B = append(b, `</EntityContainer></Schema></edmx:DataServices></edmx:Edmx>`...)
}

// foRow is one row of an entity: its property values in ent.props order.
type foRow []simkit.Value

// rows lists an entity's rows visible to the query (the default company only without cross-company).
func (fo *environment) rows(ent *foEntity, cross bool) []foRow {
	env := fo.env
	var rows []foRow
	switch ent.set {
	case "SystemUsers":
		for _, u := range env.Users {
			if !cross && u.Company != foDefaultCompany {
				continue
			}
			rows = append(rows, foRow{simkit.StringValue(u.UserID), simkit.StringValue(u.Name), simkit.StringValue(u.Alias), simkit.StringValue(u.Email), simkit.BoolValue(u.Enabled),
				simkit.StringValue("https://sts.windows.net/"), simkit.StringValue(u.Company), simkit.StringValue(u.Name), simkit.StringValue(u.AccountType), simkit.BoolValue(u.External), simkit.StringValue("en-us")})
		}
	case "SecurityRoles":
		for _, r := range model.FinOpsRoles {
			rows = append(rows, foRow{simkit.StringValue(r.ID), simkit.StringValue(r.Name), simkit.StringValue(r.Name + " role"), simkit.StringValue(""), simkit.BoolValue(r.ID == "-SYSADMIN-"), simkit.StringValue(r.License)})
		}
	case "SecurityUserRoles":
		for _, u := range env.Users {
			if !cross && u.Company != foDefaultCompany {
				continue
			}
			for _, ri := range u.Roles {
				r := model.FinOpsRoles[ri]
				rows = append(rows, foRow{simkit.StringValue(u.UserID), simkit.StringValue(r.ID), simkit.StringValue(r.Name), simkit.StringValue("Enabled"), simkit.StringValue("Manual"), simkit.StringValue(r.License)})
			}
		}
	}
	return rows
}

// collection serves an entity set: server pages of FinOpsPageSize rows (default 10,000) with an opaque
// $skiptoken, or client paging with $top/$skip.
func (fo *environment) collection(r *http.Request, rep *simkit.Reply, ent *foEntity) {
	cross := false
	if v, ok := simkit.Query(r, "cross-company"); ok {
		cross = strings.EqualFold(v, "true")
	}
	props, idx, ok := selectColumns(r, rep, ent)
	if !ok {
		return
	}
	rows, ok := fo.filtered(r, rep, ent, cross)
	if !ok {
		return
	}
	start, end, ok := fo.window(r, rep, len(rows))
	if !ok {
		return
	}
	more := end-start > fo.pageSize
	if more {
		end = start + fo.pageSize
	}
	b := append(rep.B[:0], `{"@odata.context":"`...)
	b = append(b, simkit.BaseURL(r)...)
	b = append(b, `/data/$metadata#`+ent.set+`","value":[`...)
	for n, row := range rows[start:end] {
		if n > 0 {
			b = append(b, ',')
		}
		b = appendRow(b, row, props, idx)
	}
	b = append(b, ']')
	if more {
		b = append(b, `,"@odata.nextLink":`...)
		b = simkit.AppendJSONString(b, simkit.NextLink(r, fo.kit.SealToken('f', int64(end))))
	}
	rep.B = append(b, '}')
}

// selectColumns reads $select (F&O property names are case-sensitive): the properties to render and their
// indexes in the entity's rows; all of them without $select.
func selectColumns(r *http.Request, rep *simkit.Reply, ent *foEntity) (props []string, idx []int, ok bool) {
	props = ent.props
	idx = make([]int, 0, len(props))
	v, selected := simkit.Query(r, "$select")
	if !selected {
		for i := range props {
			idx = append(idx, i)
		}
		return props, idx, true
	}
	props = nil
	for _, p := range strings.Split(v, ",") {
		p = strings.TrimSpace(p)
		found := false
		for i, q := range ent.props {
			if q == p {
				props, idx, found = append(props, q), append(idx, i), true
			}
		}
		if !found {
			foError(rep, http.StatusBadRequest, "", "Could not find a property named '"+p+"' on type 'Microsoft.Dynamics.DataEntities."+ent.typ+"'.")
			return nil, nil, false
		}
	}
	return props, idx, true
}

// filtered is the entity's rows the query sees (cross-company or the default company's) that match $filter.
func (fo *environment) filtered(r *http.Request, rep *simkit.Reply, ent *foEntity, cross bool) ([]foRow, bool) {
	f, ok := simkit.Query(r, "$filter")
	if !ok {
		return fo.rows(ent, cross), true
	}
	kinds := map[string]byte{}
	for _, p := range ent.props {
		kinds[strings.ToLower(p)] = 's'
		if ent.edm[p] == "Edm.Boolean" {
			kinds[strings.ToLower(p)] = 'b'
		}
	}
	filter, err := simkit.ParseFilter(f, kinds)
	if err != nil {
		foError(rep, http.StatusBadRequest, "", err.Error())
		return nil, false
	}
	rows := fo.rows(ent, cross)
	kept := rows[:0]
	for _, row := range rows {
		get := func(prop string) simkit.Value {
			for i, p := range ent.props {
				if strings.ToLower(p) == prop {
					return row[i]
				}
			}
			return simkit.Value{Kind: 'n'}
		}
		if filter.Eval(get) {
			kept = append(kept, row)
		}
	}
	return kept, true
}

// window is the rows [start, end) that $skip, $skiptoken and $top leave of n, before the server's page size.
func (fo *environment) window(r *http.Request, rep *simkit.Reply, n int) (start, end int, ok bool) {
	start, end = 0, n
	if v, ok := simkit.Query(r, "$skip"); ok {
		k, err := strconv.Atoi(v)
		if err != nil || k < 0 {
			foError(rep, http.StatusBadRequest, "", "Invalid $skip value '"+v+"'.")
			return 0, 0, false
		}
		start = min(k, n)
	}
	if tok, ok := simkit.Query(r, "$skiptoken"); ok {
		vals, ok := fo.kit.OpenToken('f', tok, 1)
		if !ok || vals[0] < 0 || vals[0] > int64(n) {
			foError(rep, http.StatusBadRequest, "", "The $skiptoken is not valid.")
			return 0, 0, false
		}
		start = int(vals[0])
	}
	if v, ok := simkit.Query(r, "$top"); ok {
		k, err := strconv.Atoi(v)
		if err != nil || k < 0 {
			foError(rep, http.StatusBadRequest, "", "Invalid $top value '"+v+"'.")
			return 0, 0, false
		}
		end = min(end, start+k)
	}
	return start, end, true
}

// appendRow writes one entity as F&O does: a fixed etag, then the selected properties.
func appendRow(b []byte, row foRow, props []string, idx []int) []byte {
	b = append(b, `{"@odata.etag":"W/\"JzEsNTYzNzE0NDU3Nic=\""`...)
	for k, p := range props {
		b = append(b, `,"`...)
		b = append(b, p...)
		b = append(b, `":`...)
		v := row[idx[k]]
		switch v.Kind {
		case 'b':
			b = strconv.AppendBool(b, v.I == 1)
		default:
			b = simkit.AppendJSONString(b, v.S)
		}
	}
	return append(b, '}')
}
