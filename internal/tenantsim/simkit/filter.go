package simkit

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// An OData $filter as the Dataverse Web API takes it, for the properties the simulator serves: comparisons
// (eq ne gt ge lt le) of a property with a literal (integer, 'string', true/false, null, a GUID or a
// DateTimeOffset such as 2024-05-01T00:00:00Z), joined by and/or, negated by not, grouped by parentheses.

// Value is a property's or a literal's value.
type Value struct {
	Kind byte // 'i' integer or time (Unix microseconds), 's' string, 'b' bool, 'n' null
	I    int64
	S    string
}

// StringValue is a string value.
func StringValue(s string) Value { return Value{Kind: 's', S: s} }

// NullableString is s, or null when empty.
func NullableString(s string) Value {
	if s == "" {
		return Value{Kind: 'n'}
	}
	return StringValue(s)
}

// BoolValue is a boolean value.
func BoolValue(b bool) Value {
	if b {
		return Value{Kind: 'b', I: 1}
	}
	return Value{Kind: 'b'}
}

// Filter is a parsed filter: a comparison, or and/or/not of other nodes.
type Filter struct {
	op          string // "and", "or", "not", or a comparison operator
	left, right *Filter
	prop        string
	lit         Value
}

type fparser struct {
	toks []string
	pos  int
}

// ParseFilter parses f; props lists the properties that may be compared (lower case) and what kind each holds.
func ParseFilter(f string, props map[string]byte) (*Filter, error) {
	toks, err := ftokens(f)
	if err != nil {
		return nil, err
	}
	p := &fparser{toks: toks}
	n, err := p.or(props)
	if err != nil {
		return nil, err
	}
	if p.pos < len(p.toks) {
		return nil, fmt.Errorf("Syntax error at position %d in '%s'.", p.pos, f)
	}
	return n, nil
}

func ftokens(f string) ([]string, error) {
	toks, at := FilterTokens(f, "()", " ()")
	if at >= 0 {
		return nil, fmt.Errorf("Syntax error: unterminated string literal at position %d in '%s'.", at, f)
	}
	return toks, nil
}

// FilterTokens splits an OData $filter into words, quoted strings (quotes kept, doubled quotes left for the parser
// to undo) and the one-character tokens in punct; spaces and tabs between tokens are skipped, and a word ends at
// any character of wordEnds. Services differ in these sets (Graph's functions take commas), so each passes its
// own. at is the position of a string literal left unterminated, or -1.
func FilterTokens(f, punct, wordEnds string) (toks []string, at int) {
	for i := 0; i < len(f); {
		c := f[i]
		switch {
		case c == ' ' || c == '\t':
			i++
		case strings.IndexByte(punct, c) >= 0:
			toks = append(toks, f[i:i+1])
			i++
		case c == '\'':
			j := i + 1
			for ; j < len(f); j++ {
				if f[j] == '\'' {
					if j+1 < len(f) && f[j+1] == '\'' {
						j++
						continue
					}
					break
				}
			}
			if j >= len(f) {
				return nil, i
			}
			toks = append(toks, f[i:j+1])
			i = j + 1
		default:
			j := i
			for j < len(f) && strings.IndexByte(wordEnds, f[j]) < 0 {
				j++
			}
			toks = append(toks, f[i:j])
			i = j
		}
	}
	return toks, -1
}

func (p *fparser) peek() string {
	if p.pos < len(p.toks) {
		return p.toks[p.pos]
	}
	return ""
}

func (p *fparser) or(props map[string]byte) (*Filter, error) {
	l, err := p.and(props)
	if err != nil {
		return nil, err
	}
	for strings.EqualFold(p.peek(), "or") {
		p.pos++
		r, err := p.and(props)
		if err != nil {
			return nil, err
		}
		l = &Filter{op: "or", left: l, right: r}
	}
	return l, nil
}

func (p *fparser) and(props map[string]byte) (*Filter, error) {
	l, err := p.unary(props)
	if err != nil {
		return nil, err
	}
	for strings.EqualFold(p.peek(), "and") {
		p.pos++
		r, err := p.unary(props)
		if err != nil {
			return nil, err
		}
		l = &Filter{op: "and", left: l, right: r}
	}
	return l, nil
}

func (p *fparser) unary(props map[string]byte) (*Filter, error) {
	switch t := p.peek(); {
	case strings.EqualFold(t, "not"):
		p.pos++
		n, err := p.unary(props)
		if err != nil {
			return nil, err
		}
		return &Filter{op: "not", left: n}, nil
	case t == "(":
		p.pos++
		n, err := p.or(props)
		if err != nil {
			return nil, err
		}
		if p.peek() != ")" {
			return nil, fmt.Errorf("Syntax error: ')' expected at position %d.", p.pos)
		}
		p.pos++
		return n, nil
	case t == "":
		return nil, fmt.Errorf("Syntax error: expression expected at the end of the filter.")
	}
	prop := strings.ToLower(p.peek())
	kind, ok := props[prop]
	if !ok {
		return nil, fmt.Errorf("Could not find a property named '%s' on type 'Microsoft.Dynamics.CRM'.", p.peek())
	}
	p.pos++
	op := strings.ToLower(p.peek())
	switch op {
	case "eq", "ne", "gt", "ge", "lt", "le":
	default:
		return nil, fmt.Errorf("Syntax error: comparison operator expected after '%s', found '%s'.", prop, p.peek())
	}
	p.pos++
	lit, err := fliteral(p.peek(), kind)
	if err != nil {
		return nil, err
	}
	p.pos++
	return &Filter{op: op, prop: prop, lit: lit}, nil
}

// fliteral reads a literal for a property of the given kind ('i' int, 't' time, 's' string/guid, 'b' bool).
func fliteral(t string, kind byte) (Value, error) {
	if t == "null" {
		return Value{Kind: 'n'}, nil
	}
	switch kind {
	case 'i':
		n, err := strconv.ParseInt(t, 10, 64)
		if err != nil {
			return Value{}, fmt.Errorf("A binary operator with incompatible types was detected. Found operand types 'Edm.Int32' and '%s'.", t)
		}
		return Value{Kind: 'i', I: n}, nil
	case 't':
		ts, err := time.Parse(time.RFC3339Nano, t)
		if err != nil {
			return Value{}, fmt.Errorf("The DateTimeOffset text '%s' should be in format 'yyyy-mm-ddThh:mm:ss('.'s+)?(zzzzzz)?' and each field value is within valid range.", t)
		}
		return Value{Kind: 'i', I: ts.UnixMicro()}, nil
	case 'b':
		switch t {
		case "true":
			return Value{Kind: 'b', I: 1}, nil
		case "false":
			return Value{Kind: 'b'}, nil
		}
		return Value{}, fmt.Errorf("A binary operator with incompatible types was detected. Found operand types 'Edm.Boolean' and '%s'.", t)
	default:
		if len(t) >= 2 && t[0] == '\'' && t[len(t)-1] == '\'' {
			return Value{Kind: 's', S: strings.ReplaceAll(t[1:len(t)-1], "''", "'")}, nil
		}
		if len(t) == 36 && strings.Count(t, "-") == 4 { // a GUID literal
			return Value{Kind: 's', S: strings.ToLower(t)}, nil
		}
		return Value{}, fmt.Errorf("A binary operator with incompatible types was detected. Found operand types 'Edm.String' and '%s'.", t)
	}
}

// Eval says whether a row matches; get returns a property's value.
func (n *Filter) Eval(get func(prop string) Value) bool {
	switch n.op {
	case "and":
		return n.left.Eval(get) && n.right.Eval(get)
	case "or":
		return n.left.Eval(get) || n.right.Eval(get)
	case "not":
		return !n.left.Eval(get)
	}
	v := get(n.prop)
	if v.Kind == 'n' || n.lit.Kind == 'n' {
		eq := v.Kind == n.lit.Kind
		switch n.op {
		case "eq":
			return eq
		case "ne":
			return !eq
		}
		return false
	}
	var c int
	switch v.Kind {
	case 's':
		c = strings.Compare(strings.ToLower(v.S), strings.ToLower(n.lit.S))
	default:
		switch {
		case v.I < n.lit.I:
			c = -1
		case v.I > n.lit.I:
			c = 1
		}
	}
	switch n.op {
	case "eq":
		return c == 0
	case "ne":
		return c != 0
	case "gt":
		return c > 0
	case "ge":
		return c >= 0
	case "lt":
		return c < 0
	}
	return c <= 0
}

// Bounds narrows [lo, hi) for prop from the comparisons a match must satisfy (those joined by and at the top),
// so a query on a time range reads only the hours it covers.
func (n *Filter) Bounds(prop string, lo, hi int64) (int64, int64) {
	if n == nil {
		return lo, hi
	}
	switch n.op {
	case "and":
		lo, hi = n.left.Bounds(prop, lo, hi)
		return n.right.Bounds(prop, lo, hi)
	case "ge", "gt", "eq":
		if n.prop == prop && n.lit.Kind == 'i' {
			lo = max(lo, n.lit.I)
		}
		if n.op == "eq" && n.prop == prop && n.lit.Kind == 'i' {
			hi = min(hi, n.lit.I+1)
		}
	case "lt", "le":
		if n.prop == prop && n.lit.Kind == 'i' {
			hi = min(hi, n.lit.I+1)
		}
	}
	return lo, hi
}
