// Package userfilter compiles Graph's $filter and $search on users into predicates on the simulated directory's
// users, with Graph's answers to what it refuses and whether a clause needs the advanced query parameters
// (ConsistencyLevel: eventual and $count=true), as "Advanced query capabilities on directory objects" and "List
// users" describe them (facts in extract/graph/testdata/README.md):
//   - eq (and in) on accountEnabled, userType, id, userPrincipalName, mail, displayName, givenName, surname,
//     department, jobTitle, startsWith on the strings and assignedLicenses/any(x:x/skuId eq …) work by default;
//   - ne, not, endsWith (mail, userPrincipalName), eq null and createdDateTime (eq, ge, le) need the advanced query
//     parameters;
//   - $search matches a word of the property that starts with the text, clauses joined by AND or OR.
package userfilter

import (
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/seatlake/seatlake/internal/tenantsim/model"
	"github.com/seatlake/seatlake/internal/tenantsim/simkit"
)

// Error is a refused $filter or $search: Graph's error code and message.
type Error struct{ Code, Msg string }

// unsupported is Graph's refusal of a property or operator it does not filter on.
func unsupported(prop string) *Error {
	return &Error{"Request_UnsupportedQuery", "Unsupported or invalid query filter clause specified for property '" + prop + "' of resource 'User'."}
}

// invalidFilter is Graph's refusal of a $filter it cannot parse.
func invalidFilter(why string) *Error {
	return &Error{"BadRequest", "Invalid filter clause: " + why}
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

// filterable are the user properties $filter and $search compare.
var filterable = []userProp{
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

// filterProp finds a filterable property by name, whatever its letter case.
func filterProp(name string) *userProp {
	for i := range filterable {
		if strings.EqualFold(filterable[i].name, name) {
			return &filterable[i]
		}
	}
	return nil
}

// filterTokens splits a $filter into words, quoted strings (quotes kept, doubled quotes undone later), parentheses
// and commas.
func filterTokens(f string) ([]string, *Error) {
	toks, at := simkit.FilterTokens(f, "(),", " \t(),'")
	if at >= 0 {
		return nil, invalidFilter("unterminated string literal")
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

func (p *filterParser) expect(t string) *Error {
	if got := p.next(); got != t {
		return invalidFilter("expected '" + t + "' but found '" + got + "'")
	}
	return nil
}

// Filter compiles a $filter on users into a predicate, and says whether it needs the advanced query parameters.
func Filter(f string) (func(*model.User) bool, bool, *Error) {
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
			return nil, false, &Error{"Request_UnsupportedQuery", "The simulator combines $filter clauses with 'and' only."}
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

// clause reads one clause: a comparison, a function, or not and a clause.
func (p *filterParser) clause() (func(*model.User) bool, *Error) {
	t := p.next()
	switch {
	case strings.EqualFold(t, "not"):
		return p.not()
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
		return p.equals(up, op == "ne")
	case "in":
		return p.in(up)
	}
	return nil, unsupported(up.name)
}

// not reads the clause after not, in parentheses or not (advanced queries only).
func (p *filterParser) not() (func(*model.User) bool, *Error) {
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
}

// equals reads the literal of eq (ne when neg; ne and eq null are advanced queries).
func (p *filterParser) equals(up *userProp, neg bool) (func(*model.User) bool, *Error) {
	lit := p.next()
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
}

// in reads the parenthesised list of in.
func (p *filterParser) in(up *userProp) (func(*model.User) bool, *Error) {
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

// literal reads a value for prop: a quoted string, or true/false for accountEnabled.
func literal(up *userProp, lit string) (string, *Error) {
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

func (p *filterParser) stringFunc(ends bool) (func(*model.User) bool, *Error) {
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
func (p *filterParser) anyLicense() (func(*model.User) bool, *Error) {
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
func (p *filterParser) created(op string) (func(*model.User) bool, *Error) {
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

// Search compiles $search="property:text" clauses joined by AND or OR (one kind per search): a user matches a
// clause when a word of the property starts with the text, case-insensitively.
func Search(v string) (func(*model.User) bool, *Error) {
	bad := &Error{"Request_UnsupportedQuery", `Invalid $search: want "property:text" clauses such as "displayName:wa".`}
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
			hit := ok && WordPrefix(strings.ToLower(got), t.text)
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

// WordPrefix reports whether a word of s (split on anything not a letter or digit) starts with prefix.
func WordPrefix(s, prefix string) bool {
	for _, w := range strings.FieldsFunc(s, func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) }) {
		if strings.HasPrefix(w, prefix) {
			return true
		}
	}
	return strings.HasPrefix(s, prefix)
}
