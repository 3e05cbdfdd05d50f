package tenantsim

import (
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/seatlake/seatlake/internal/tenantsim/model"
	"github.com/seatlake/seatlake/internal/tenantsim/simkit"
)

// The query options of GET /users and /users/$count, as "Advanced query capabilities on directory objects" and "List
// users" describe them (facts in extract/graph/testdata/README.md):
//   - $filter with eq (and in) on accountEnabled, userType, id, userPrincipalName, mail, displayName, givenName,
//     surname, department, jobTitle, startsWith on the strings and assignedLicenses/any(x:x/skuId eq …) work by
//     default; ne, not, endsWith (mail, userPrincipalName), eq null and createdDateTime (eq, ge, le) need the advanced
//     query parameters: the ConsistencyLevel: eventual header and $count=true. Without them: 400
//     Request_UnsupportedQuery.
//   - $orderby userPrincipalName or displayName works by default; with $filter it needs the advanced parameters
//     (400 "Sorting not supported for current query." otherwise).
//   - $count=true adds @odata.count to the first page when ConsistencyLevel is eventual and is silently ignored
//     without it; /users/$count answers the number as text/plain with the header, 400 Request_BadRequest without.
//   - $search needs ConsistencyLevel (400 Request_UnsupportedQuery without it).

// userQuery is a parsed request on the users collection.
type userQuery struct {
	props  []string
	hasSel bool
	top    int
	match  func(u *model.User) bool // nil: every user
	order  int                      // orderNone, orderUPN, orderName
	desc   bool
	count  bool // @odata.count asked for and honoured
}

const (
	orderNone = iota
	orderUPN
	orderName
)

// advancedHeader reports whether the request carries ConsistencyLevel: eventual.
func advancedHeader(r *http.Request) bool {
	return strings.EqualFold(strings.TrimSpace(r.Header.Get("ConsistencyLevel")), "eventual")
}

// parseUserQuery reads the query options of GET /users (collection) or GET /users/$count (!collection), answering
// Graph's error and returning false when they are refused.
func (s *Sim) parseUserQuery(w http.ResponseWriter, r *http.Request, rep *simkit.Reply, collection bool) (userQuery, bool) {
	var q userQuery
	allowed := []string{"$filter", "$search"}
	if collection {
		allowed = append(allowed, "$select", "$top", "$skiptoken", "$orderby", "$count")
	}
	if !s.queryOptions(w, r, rep, allowed...) {
		return q, false
	}
	header := advancedHeader(r)
	countTrue := !collection // the $count segment is the count
	if v, ok := simkit.Query(r, "$count"); ok {
		switch strings.ToLower(v) {
		case "true":
			countTrue = true
		case "false":
		default:
			s.badRequest(w, rep, "Request_BadRequest", "Invalid value '"+v+"' for query option '$count': want true or false.")
			return q, false
		}
	}
	advanced := header && countTrue
	q.count = collection && advanced

	if collection {
		sel, hasSel := simkit.Query(r, "$select")
		props, ok := s.selectUserProps(w, rep, sel, hasSel, true)
		if !ok {
			return q, false
		}
		q.props, q.hasSel = props, hasSel
		q.top = 100
		if v, ok := simkit.Query(r, "$top"); ok {
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 || n > 999 {
				s.badRequest(w, rep, "Request_UnsupportedQuery", "Invalid page size specified: '"+v+"'. Must be between 1 and 999 inclusive.")
				return q, false
			}
			q.top = n
		}
		if contains(props, "signInActivity") {
			q.top = min(q.top, 500)
		}
	}

	var preds []func(*model.User) bool
	f, hasFilter := simkit.Query(r, "$filter")
	if hasFilter {
		p, needsAdvanced, err := parseUserFilter(f)
		if err != nil {
			s.badRequest(w, rep, err.code, err.msg)
			return q, false
		}
		if needsAdvanced && !advanced {
			s.badRequest(w, rep, "Request_UnsupportedQuery", "Unsupported Query.")
			return q, false
		}
		preds = append(preds, p)
	}
	if v, ok := simkit.Query(r, "$search"); ok {
		if !header {
			s.badRequest(w, rep, "Request_UnsupportedQuery", "Request with $search query parameter only works through MSGraph with a special request header: 'ConsistencyLevel: eventual'")
			return q, false
		}
		p, err := parseUserSearch(v)
		if err != nil {
			s.badRequest(w, rep, err.code, err.msg)
			return q, false
		}
		preds = append(preds, p)
	}
	switch len(preds) {
	case 1:
		q.match = preds[0]
	case 2:
		q.match = func(u *model.User) bool { return preds[0](u) && preds[1](u) }
	}
	if o, ok := simkit.Query(r, "$orderby"); ok {
		fields := strings.Fields(o)
		if len(fields) == 2 {
			switch strings.ToLower(fields[1]) {
			case "asc":
			case "desc":
				q.desc = true
			default:
				fields = nil
			}
		}
		if len(fields) >= 1 && len(fields) <= 2 {
			switch strings.ToLower(fields[0]) {
			case "userprincipalname":
				q.order = orderUPN
			case "displayname":
				q.order = orderName
			}
		}
		if q.order == orderNone || (hasFilter && !advanced) {
			s.badRequest(w, rep, "Request_UnsupportedQuery", "Sorting not supported for current query.")
			return q, false
		}
	}
	return q, true
}

// userAt is the index in model.users of the p-th user in the query's order.
func (s *Sim) userAt(q *userQuery, p int) int {
	n := len(s.m.Users)
	if q.desc {
		p = n - 1 - p
	}
	if q.order == orderNone {
		return p
	}
	return int(s.userOrder(q.order)[p])
}

// userOrder is the permutation of users sorted by userPrincipalName or displayName (case-insensitively, as the
// directory compares them), built once: names never change.
func (s *Sim) userOrder(order int) []int32 {
	s.lw.orderOnce[order].Do(func() {
		users := s.m.Users
		keys := make([]string, len(users))
		perm := make([]int32, len(users))
		for i := range users {
			keys[i], perm[i] = strings.ToLower(users[i].UPN), int32(i)
			if order == orderName {
				keys[i] = strings.ToLower(users[i].Name)
			}
		}
		sort.SliceStable(perm, func(a, b int) bool { return keys[perm[a]] < keys[perm[b]] })
		s.lw.order[order] = perm
	})
	return s.lw.order[order]
}

// queryError is a refused $filter or $search: Graph's code and message.
type queryError struct{ code, msg string }

func unsupported(prop string) *queryError {
	return &queryError{"Request_UnsupportedQuery", "Unsupported or invalid query filter clause specified for property '" + prop + "' of resource 'User'."}
}

func invalidFilter(why string) *queryError {
	return &queryError{"BadRequest", "Invalid filter clause: " + why}
}

// userProp is a filterable user property: its value as a string (null false) and whether eq needs the advanced
// query parameters; startsWith is supported by default on the properties that have it.
type userProp struct {
	name       string
	get        func(u *model.User) (string, bool)
	startsWith bool
	endsWith   bool // with the advanced query parameters
	nullable   bool // eq null, with the advanced query parameters
}

var userProps4Filter = []userProp{
	{name: "id", get: func(u *model.User) (string, bool) { return u.ID, true }},
	{name: "accountEnabled", get: func(u *model.User) (string, bool) { return strconv.FormatBool(u.Enabled), true }},
	{name: "userType", nullable: true, get: func(u *model.User) (string, bool) {
		if u.Guest {
			return "Guest", true
		}
		return "Member", true
	}},
	{name: "userPrincipalName", startsWith: true, endsWith: true, get: func(u *model.User) (string, bool) { return u.UPN, true }},
	{name: "mail", startsWith: true, endsWith: true, nullable: true, get: func(u *model.User) (string, bool) { return u.Mail, u.Mail != "" }},
	{name: "displayName", startsWith: true, nullable: true, get: func(u *model.User) (string, bool) { return u.Name, true }},
	{name: "givenName", startsWith: true, nullable: true, get: func(u *model.User) (string, bool) { return u.Given, true }},
	{name: "surname", startsWith: true, nullable: true, get: func(u *model.User) (string, bool) { return u.Surname, true }},
	{name: "department", startsWith: true, nullable: true, get: func(u *model.User) (string, bool) {
		if u.Dept < 0 {
			return "", false
		}
		return model.Departments[u.Dept], true
	}},
	{name: "jobTitle", startsWith: true, nullable: true, get: func(u *model.User) (string, bool) {
		if u.Dept < 0 {
			return "", false
		}
		return model.JobTitles[u.Dept], true
	}},
}

func filterProp(name string) *userProp {
	for i := range userProps4Filter {
		if strings.EqualFold(userProps4Filter[i].name, name) {
			return &userProps4Filter[i]
		}
	}
	return nil
}

// filterTokens splits a $filter into words, quoted strings (quotes kept, doubled quotes undone later), parentheses
// and commas.
func filterTokens(f string) ([]string, *queryError) {
	var toks []string
	for i := 0; i < len(f); {
		c := f[i]
		switch {
		case c == ' ' || c == '\t':
			i++
		case c == '(' || c == ')' || c == ',':
			toks = append(toks, f[i:i+1])
			i++
		case c == '\'':
			j := i + 1
			for {
				if j >= len(f) {
					return nil, invalidFilter("unterminated string literal")
				}
				if f[j] == '\'' {
					if j+1 < len(f) && f[j+1] == '\'' {
						j += 2
						continue
					}
					break
				}
				j++
			}
			toks = append(toks, f[i:j+1])
			i = j + 1
		default:
			j := i
			for j < len(f) && !strings.ContainsRune(" \t(),'", rune(f[j])) {
				j++
			}
			toks = append(toks, f[i:j])
			i = j
		}
	}
	return toks, nil
}

// filterParser reads a $filter: clauses joined by and, each optionally negated with not.
type filterParser struct {
	toks     []string
	i        int
	advanced bool // a clause needs the advanced query parameters
}

func (p *filterParser) peek() string {
	if p.i < len(p.toks) {
		return p.toks[p.i]
	}
	return ""
}

func (p *filterParser) next() string {
	t := p.peek()
	p.i++
	return t
}

func (p *filterParser) expect(t string) *queryError {
	if got := p.next(); got != t {
		return invalidFilter("expected '" + t + "' but found '" + got + "'")
	}
	return nil
}

// parseUserFilter compiles a $filter on users into a predicate, and says whether it needs the advanced query
// parameters.
func parseUserFilter(f string) (func(*model.User) bool, bool, *queryError) {
	toks, err := filterTokens(f)
	if err != nil {
		return nil, false, err
	}
	if len(toks) == 0 {
		return nil, false, invalidFilter("the filter is empty")
	}
	p := &filterParser{toks: toks}
	var preds []func(*model.User) bool
	for {
		pred, err := p.clause()
		if err != nil {
			return nil, false, err
		}
		preds = append(preds, pred)
		t := p.next()
		if t == "" {
			break
		}
		if strings.EqualFold(t, "or") {
			return nil, false, &queryError{"Request_UnsupportedQuery", "The simulator combines $filter clauses with 'and' only."}
		}
		if !strings.EqualFold(t, "and") {
			return nil, false, invalidFilter("unexpected '" + t + "'")
		}
	}
	return func(u *model.User) bool {
		for _, pr := range preds {
			if !pr(u) {
				return false
			}
		}
		return true
	}, p.advanced, nil
}

func (p *filterParser) clause() (func(*model.User) bool, *queryError) {
	t := p.next()
	switch {
	case strings.EqualFold(t, "not"):
		p.advanced = true
		paren := p.peek() == "("
		if paren {
			p.next()
		}
		inner, err := p.clause()
		if err != nil {
			return nil, err
		}
		if paren {
			if err := p.expect(")"); err != nil {
				return nil, err
			}
		}
		return func(u *model.User) bool { return !inner(u) }, nil
	case strings.EqualFold(t, "startswith"), strings.EqualFold(t, "endswith"):
		return p.stringFunc(strings.EqualFold(t, "endswith"))
	case strings.EqualFold(t, "assignedLicenses/any"):
		return p.anyLicense()
	case t == "" || t == "(" || t == ")" || t == ",":
		return nil, invalidFilter("expected a property, found '" + t + "'")
	}
	prop := t
	op := strings.ToLower(p.next())
	if strings.EqualFold(prop, "createdDateTime") {
		return p.created(op)
	}
	up := filterProp(prop)
	if up == nil {
		return nil, unsupported(prop)
	}
	switch op {
	case "eq", "ne":
		lit := p.next()
		neg := op == "ne"
		if neg {
			p.advanced = true
		}
		if lit == "null" {
			if !up.nullable {
				return nil, unsupported(up.name)
			}
			p.advanced = true
			return func(u *model.User) bool { _, ok := up.get(u); return ok == neg }, nil
		}
		v, err := literal(up, lit)
		if err != nil {
			return nil, err
		}
		return func(u *model.User) bool {
			got, ok := up.get(u)
			return (ok && strings.EqualFold(got, v)) != neg
		}, nil
	case "in":
		if err := p.expect("("); err != nil {
			return nil, err
		}
		var vals []string
		for {
			v, err := literal(up, p.next())
			if err != nil {
				return nil, err
			}
			vals = append(vals, v)
			if t := p.next(); t == ")" {
				break
			} else if t != "," {
				return nil, invalidFilter("expected ',' or ')' in the list of 'in'")
			}
		}
		return func(u *model.User) bool {
			got, ok := up.get(u)
			for _, v := range vals {
				if ok && strings.EqualFold(got, v) {
					return true
				}
			}
			return false
		}, nil
	}
	return nil, unsupported(up.name)
}

// literal reads a value for prop: a quoted string, or true/false for accountEnabled.
func literal(up *userProp, lit string) (string, *queryError) {
	if up.name == "accountEnabled" {
		if lit != "true" && lit != "false" {
			return "", invalidFilter("accountEnabled is compared with true or false, not " + lit)
		}
		return lit, nil
	}
	if len(lit) < 2 || lit[0] != '\'' || lit[len(lit)-1] != '\'' {
		return "", invalidFilter("expected a quoted string for " + up.name + ", found '" + lit + "'")
	}
	return strings.ReplaceAll(lit[1:len(lit)-1], "''", "'"), nil
}

func (p *filterParser) stringFunc(ends bool) (func(*model.User) bool, *queryError) {
	if err := p.expect("("); err != nil {
		return nil, err
	}
	name := p.next()
	if err := p.expect(","); err != nil {
		return nil, err
	}
	lit := p.next()
	if err := p.expect(")"); err != nil {
		return nil, err
	}
	up := filterProp(name)
	switch {
	case up == nil || (!ends && !up.startsWith) || (ends && !up.endsWith):
		return nil, unsupported(name)
	case ends:
		p.advanced = true
	}
	v, err := literal(up, lit)
	if err != nil {
		return nil, err
	}
	v = strings.ToLower(v)
	return func(u *model.User) bool {
		got, ok := up.get(u)
		got = strings.ToLower(got)
		if ends {
			return ok && strings.HasSuffix(got, v)
		}
		return ok && strings.HasPrefix(got, v)
	}, nil
}

// anyLicense reads assignedLicenses/any(x:x/skuId eq <guid>) (supported by default).
func (p *filterParser) anyLicense() (func(*model.User) bool, *queryError) {
	if err := p.expect("("); err != nil {
		return nil, err
	}
	lambda := p.next() // x:x/skuId
	v, path, ok := strings.Cut(lambda, ":")
	if !ok || !strings.EqualFold(path, v+"/skuId") || !strings.EqualFold(p.next(), "eq") {
		return nil, unsupported("assignedLicenses")
	}
	sku := strings.ToLower(strings.Trim(p.next(), "'"))
	if err := p.expect(")"); err != nil {
		return nil, err
	}
	return func(u *model.User) bool {
		for _, l := range u.Licenses {
			if model.SKUCatalog[l.SKU].ID == sku {
				return true
			}
		}
		return false
	}, nil
}

// created reads createdDateTime eq|ge|le <DateTimeOffset>: advanced queries only.
func (p *filterParser) created(op string) (func(*model.User) bool, *queryError) {
	p.advanced = true
	lit := p.next()
	t, err := time.Parse(time.RFC3339Nano, strings.Trim(lit, "'"))
	if err != nil {
		return nil, invalidFilter("'" + lit + "' is not a DateTimeOffset such as 2024-05-01T00:00:00Z")
	}
	at := t.UnixMicro()
	switch op {
	case "eq":
		return func(u *model.User) bool { return u.Created == at }, nil
	case "ge":
		return func(u *model.User) bool { return u.Created >= at }, nil
	case "le":
		return func(u *model.User) bool { return u.Created <= at }, nil
	}
	return nil, unsupported("createdDateTime")
}

// parseUserSearch reads $search="property:text" clauses joined by AND or OR (one kind per search): a user matches a
// clause when a word of the property starts with the text, case-insensitively.
func parseUserSearch(v string) (func(*model.User) bool, *queryError) {
	bad := &queryError{"Request_UnsupportedQuery", `Invalid $search: want "property:text" clauses such as "displayName:wa".`}
	var terms []struct {
		up   *userProp
		text string
	}
	and, or := false, false
	rest := strings.TrimSpace(v)
	for rest != "" {
		if rest[0] != '"' {
			return nil, bad
		}
		end := strings.IndexByte(rest[1:], '"')
		if end < 0 {
			return nil, bad
		}
		name, text, ok := strings.Cut(rest[1:end+1], ":")
		up := filterProp(name)
		if !ok || up == nil || text == "" {
			return nil, bad
		}
		terms = append(terms, struct {
			up   *userProp
			text string
		}{up, strings.ToLower(text)})
		rest = strings.TrimSpace(rest[end+2:])
		if rest == "" {
			break
		}
		op, after, _ := strings.Cut(rest, " ")
		switch strings.ToUpper(op) {
		case "AND":
			and = true
		case "OR":
			or = true
		default:
			return nil, bad
		}
		rest = strings.TrimSpace(after)
	}
	if len(terms) == 0 || (and && or) {
		return nil, bad
	}
	return func(u *model.User) bool {
		for _, t := range terms {
			got, ok := t.up.get(u)
			hit := ok && wordPrefix(strings.ToLower(got), t.text)
			if hit && !and {
				return true
			}
			if !hit && and {
				return false
			}
		}
		return and
	}, nil
}

// wordPrefix reports whether a word of s (split on anything not a letter or digit) starts with prefix.
func wordPrefix(s, prefix string) bool {
	for _, w := range strings.FieldsFunc(s, func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) }) {
		if strings.HasPrefix(w, prefix) {
			return true
		}
	}
	return strings.HasPrefix(s, prefix)
}
