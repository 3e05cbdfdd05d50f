package graphsim

import (
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/seatlake/seatlake/internal/tenantsim/ids"
	"github.com/seatlake/seatlake/internal/tenantsim/model"
	"github.com/seatlake/seatlake/internal/tenantsim/simkit"
)

// userProps are the user properties the simulator serves, in Graph's spelling, each with how its value is written.
var userProps = []userProp{
	{"id", func(_ *Service, b []byte, u *model.User) []byte { return appendRaw(b, u.ID) }},
	{"userPrincipalName", func(_ *Service, b []byte, u *model.User) []byte { return appendRaw(b, u.UPN) }},
	{"displayName", func(_ *Service, b []byte, u *model.User) []byte { return appendRaw(b, u.Name) }},
	{"givenName", func(_ *Service, b []byte, u *model.User) []byte { return appendRaw(b, u.Given) }},
	{"surname", func(_ *Service, b []byte, u *model.User) []byte { return appendRaw(b, u.Surname) }},
	{"mail", func(_ *Service, b []byte, u *model.User) []byte { return appendNullable(b, u.Mail) }},
	{"accountEnabled", func(_ *Service, b []byte, u *model.User) []byte { return strconv.AppendBool(b, u.Enabled) }},
	{"userType", func(_ *Service, b []byte, u *model.User) []byte {
		if u.Guest {
			return appendRaw(b, "Guest")
		}
		return appendRaw(b, "Member")
	}},
	{"createdDateTime", func(_ *Service, b []byte, u *model.User) []byte { return simkit.AppendDate(b, u.Created) }},
	{"department", func(_ *Service, b []byte, u *model.User) []byte {
		return appendNullable(b, ofDept(u, model.Departments))
	}},
	{"jobTitle", func(_ *Service, b []byte, u *model.User) []byte { return appendNullable(b, ofDept(u, model.JobTitles)) }},
	{"assignedLicenses", func(_ *Service, b []byte, u *model.User) []byte { return appendLicenses(b, u) }},
	{"licenseAssignmentStates", (*Service).appendAssignmentStates},
	{"signInActivity", func(_ *Service, b []byte, u *model.User) []byte { return appendActivity(b, u) }},
	{"businessPhones", func(_ *Service, b []byte, _ *model.User) []byte { return append(b, "[]"...) }},
	{"mobilePhone", func(_ *Service, b []byte, _ *model.User) []byte { return append(b, "null"...) }},
	{"officeLocation", func(_ *Service, b []byte, u *model.User) []byte {
		return appendNullable(b, orNull(!u.Guest, model.Places[u.Place].City))
	}},
	{"preferredLanguage", func(_ *Service, b []byte, u *model.User) []byte { return appendNullable(b, orNull(!u.Guest, "en-US")) }},
	{"usageLocation", func(_ *Service, b []byte, u *model.User) []byte {
		return appendNullable(b, orNull(len(u.Licenses) > 0, model.Places[u.Place].Country))
	}},
}

// userProp is a user property and how its value is written.
type userProp struct {
	name   string
	append userValue
}

// userValue writes the value of one property of user u (g: the service, for the tenant's groups).
type userValue func(g *Service, b []byte, u *model.User) []byte

// userPropNames and userValues are userProps' names, and their writers by name.
var userPropNames, userValues = indexUserProps(userProps)

func indexUserProps(props []userProp) ([]string, map[string]userValue) {
	names, values := make([]string, len(props)), make(map[string]userValue, len(props))
	for i, p := range props {
		names[i], values[p.name] = p.name, p.append
	}
	return names, values
}

// ofDept is the user's entry in a list by department (its name, the job title), "" (null) for a user without one.
func ofDept(u *model.User, list []string) string {
	if u.Dept < 0 {
		return ""
	}
	return list[u.Dept]
}

// orNull is s where the user has the property, "" (null) where not.
func orNull(has bool, s string) string {
	if has {
		return s
	}
	return ""
}

// defaultUserProps is the property set of GET /users without $select (reference §2a).
var defaultUserProps = []string{"businessPhones", "displayName", "givenName", "jobTitle", "mail", "mobilePhone",
	"officeLocation", "preferredLanguage", "surname", "userPrincipalName", "id"}

// notInCollections are user properties Graph only returns for a single user: selecting them on the collection
// answers 501 (reference §2a).
var notInCollections = []string{"aboutMe", "birthday", "hireDate", "interests", "mySite", "pastProjects",
	"preferredName", "responsibilities", "schools", "skills", "mailboxSettings"}

const tokUsers = 'u'

// users is GET /v1.0/users: $select, $top (default 100, at most 999, 500 with signInActivity), $skiptoken, and the
// $filter, $orderby, $count and $search of userquery.go. The skiptoken is the position in the query's order
// of the next user that matches, found before the page is answered so that no page comes back empty.
func (g *Service) users(w http.ResponseWriter, r *http.Request, rep *simkit.Reply) {
	q, ok := g.parseUserQuery(w, r, rep, true)
	if !ok {
		return
	}
	users := g.m.Users
	n := len(users)
	from := 0
	tok, paged := simkit.Query(r, "$skiptoken")
	if paged {
		v, ok := g.kit.OpenToken(tokUsers, tok, 1)
		if !ok || v[0] < 0 || v[0] > int64(n) {
			g.badRequest(w, rep, "Directory_InvalidSkipToken", "The specified page token value has expired and can no longer be included in your request.")
			return
		}
		from = int(v[0])
	}
	matches := func(p int) bool { return q.match == nil || q.match(&users[g.userAt(&q, p)]) }

	b := append(rep.B, `{"@odata.context":"`...)
	b = append(b, simkit.BaseURL(r)...)
	b = append(b, "/v1.0/$metadata#users"...)
	if q.hasSel {
		b = append(b, '(')
		b = append(b, strings.Join(q.props, ",")...)
		b = append(b, ')')
	}
	b = append(b, `",`...)
	if q.count && !paged { // on the first page only ("Paging Microsoft Graph data in your app")
		total := 0
		for p := 0; p < n; p++ {
			if matches(p) {
				total++
			}
		}
		b = append(b, `"@odata.count":`...)
		b = strconv.AppendInt(b, int64(total), 10)
		b = append(b, ',')
	}
	page := make([]int, 0, min(q.top, n))
	p := from
	for ; p < n && len(page) < q.top; p++ {
		if matches(p) {
			page = append(page, g.userAt(&q, p))
		}
	}
	for p < n && !matches(p) {
		p++
	}
	if p < n {
		b = append(b, `"@odata.nextLink":`...)
		b = simkit.AppendJSONString(b, simkit.NextLink(r, g.kit.SealToken(tokUsers, int64(p))))
		b = append(b, ',')
	}
	b = append(b, `"value":[`...)
	for k, i := range page {
		if k > 0 {
			b = append(b, ',')
		}
		b = g.appendUser(b, &users[i], q.props)
	}
	rep.B = append(b, "]}"...)
}

// usersCount is GET /v1.0/users/$count: the number of users (matching $filter or $search) as text/plain, with
// ConsistencyLevel: eventual; without it, Graph's 400.
func (g *Service) usersCount(w http.ResponseWriter, r *http.Request, rep *simkit.Reply) {
	if !advancedHeader(r) {
		g.badRequest(w, rep, "Request_BadRequest", "$count is not currently supported.")
		return
	}
	q, ok := g.parseUserQuery(w, r, rep, false)
	if !ok {
		return
	}
	total := 0
	for i := range g.m.Users {
		if q.match == nil || q.match(&g.m.Users[i]) {
			total++
		}
	}
	rep.ContentType = "text/plain"
	rep.B = strconv.AppendInt(rep.B, int64(total), 10)
}

// selectUserProps reads $select for /users (collection true) or /users/{id}: the properties in Graph's spelling, or
// the default set without $select. It answers the error and returns false for an unknown property, a property
// Graph serves only for one user (on the collection), and signInActivity without Entra ID P1.
func (g *Service) selectUserProps(w http.ResponseWriter, rep *simkit.Reply, sel string, hasSel, collection bool) ([]string, bool) {
	if !hasSel {
		return defaultUserProps, true
	}
	var props []string
	for _, p := range strings.Split(sel, ",") {
		p = strings.TrimSpace(p)
		name := canonical(p, userPropNames)
		switch {
		case collection && canonical(p, notInCollections) != "":
			g.graphError(rep, http.StatusNotImplemented, "NotImplemented", "This operation target is not yet supported.", w.Header().Get("request-id"))
			return nil, false
		case name == "":
			g.badRequest(w, rep, "Request_BadRequest", "Could not find a property named '"+p+"' on type 'Microsoft.DirectoryServices.User'.")
			return nil, false
		case !slices.Contains(props, name):
			props = append(props, name)
		}
	}
	if slices.Contains(props, "signInActivity") && !g.m.Premium {
		g.notPremium(w, rep)
		return nil, false
	}
	return props, true
}

// canonical is Graph's spelling of a property name, matched case-insensitively ("" when unknown).
func canonical(p string, names []string) string {
	for _, n := range names {
		if strings.EqualFold(p, n) {
			return n
		}
	}
	return ""
}

func appendRaw(b []byte, s string) []byte {
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

func appendNullable(b []byte, s string) []byte {
	if s == "" {
		return append(b, "null"...)
	}
	return appendRaw(b, s)
}

func (g *Service) appendUser(b []byte, u *model.User, props []string) []byte {
	b = append(b, '{')
	for i, p := range props {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, '"')
		b = append(b, p...)
		b = append(b, '"', ':')
		b = userValues[p](g, b, u)
	}
	return append(b, '}')
}

func appendLicenses(b []byte, u *model.User) []byte {
	b = append(b, '[')
	for i, l := range u.Licenses {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"disabledPlans":`...)
		b = appendDisabledPlans(b, l)
		b = append(b, `,"skuId":"`...)
		b = append(b, model.SKUCatalog[l.SKU].ID...)
		b = append(b, `"}`...)
	}
	return append(b, ']')
}

// appendDisabledPlans writes the servicePlanIds switched off in a license, as assignedLicenses and
// licenseAssignmentStates both show them.
func appendDisabledPlans(b []byte, l model.License) []byte {
	def := &model.SKUCatalog[l.SKU]
	b = append(b, '[')
	first := true
	for p := range def.Plans {
		if l.Disabled&(1<<p) == 0 {
			continue
		}
		if !first {
			b = append(b, ',')
		}
		first = false
		b = appendRaw(b, def.Plans[p].ID)
	}
	return append(b, ']')
}

// appendActivity writes signInActivity: null for a user who never signed in. Times carry Graph's seven
// fractional digits so lastSignInDateTime equals, to the tick, the createdDateTime of the user's newest sign-in in
// the log, and lastSignInRequestId is that sign-in's id.
func appendActivity(b []byte, u *model.User) []byte {
	if u.LastSignIn == 0 && u.LastNonInteractive == 0 {
		return append(b, "null"...)
	}
	field := func(b []byte, name string, us int64, req [2]uint64) []byte {
		b = append(b, '"')
		b = append(b, name...)
		b = append(b, `DateTime":`...)
		if us == 0 {
			b = append(b, `null,"`...)
			b = append(b, name...)
			return append(b, `RequestId":null`...)
		}
		b = simkit.AppendTime7(b, us)
		b = append(b, `,"`...)
		b = append(b, name...)
		b = append(b, `RequestId":"`...)
		b = ids.AppendGUID(b, req[0], req[1])
		return append(b, '"')
	}
	b = append(b, '{')
	b = field(b, "lastSignIn", u.LastSignIn, u.LastSignInReq)
	b = append(b, ',')
	b = field(b, "lastNonInteractiveSignIn", u.LastNonInteractive, u.LastNIReq)
	b = append(b, ',')
	b = field(b, "lastSuccessfulSignIn", u.LastSuccess, u.LastSuccessReq)
	return append(b, '}')
}

// appendAssignmentStates writes licenseAssignmentStates: one entry per license, with the group that assigns it.
func (g *Service) appendAssignmentStates(b []byte, u *model.User) []byte {
	b = append(b, '[')
	for i, l := range u.Licenses {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"assignedByGroup":`...)
		if l.Group < 0 {
			b = append(b, "null"...)
		} else {
			b = appendRaw(b, g.m.GroupID(int(l.Group)))
		}
		// error is null for a license assigned successfully ("licenseAssignmentState resource type").
		b = append(b, `,"disabledPlans":`...)
		b = appendDisabledPlans(b, l)
		b = append(b, `,"error":null,"lastUpdatedDateTime":`...)
		b = simkit.AppendTime7(b, l.Assigned)
		b = append(b, `,"skuId":"`...)
		b = append(b, model.SKUCatalog[l.SKU].ID...)
		b = append(b, `","state":"Active"}`...)
	}
	return append(b, ']')
}
