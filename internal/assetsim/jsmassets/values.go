package jsmassets

import (
	"encoding/json"
	"fmt"
	"math"
	"net"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// valueForm checks a value against its attribute's type and returns it as the text Assets shows.
type valueForm func(a *attrDef, v any) (string, error)

// attributeTypes are the attribute types of the 2023_10_19 definition, each with the form its values take: text
// types take a string (or a number or boolean, as text); every other type takes its own JSON form and refuses an
// empty string.
var attributeTypes = map[string]valueForm{
	"text":              shortTextForm,
	"textarea":          textForm,
	"select":            textForm,
	"referenced_object": textForm,
	"status":            statusForm,
	"integer":           integerForm,
	"double":            doubleForm,
	"boolean":           booleanForm,
	"date_time":         dateTimeForm,
	"date":              dateForm,
	"time":              stringForm("an ISO 8601 time", isoTime.MatchString),
	"url":               stringForm("a URL starting with http:// or https://", isWebURL),
	"email":             stringForm("an email address", func(s string) bool { return strings.Contains(s, "@") }),
	"ipaddress":         stringForm("an IPv4 address", isIPv4),
}

var (
	isoDate = regexp.MustCompile(`^\d{4}-\d{2}-\d{2}$`)
	isoTime = regexp.MustCompile(`^\d{2}:\d{2}(:\d{2}(\.\d+)?)?$`)
)

// valueOf checks a value against its attribute's type and returns it as the text Assets shows.
func valueOf(a *attrDef, v any) (string, error) {
	form := attributeTypes[a.typ]
	if form == nil {
		return "", fmt.Errorf("unknown attribute type %q", a.typ)
	}
	return form(a, v)
}

// textForm takes a string, or a number or boolean as text.
func textForm(_ *attrDef, v any) (string, error) {
	switch x := v.(type) {
	case string:
		return x, nil
	case json.Number:
		return x.String(), nil
	case bool:
		return strconv.FormatBool(x), nil
	}
	return "", fmt.Errorf("a %T is not text", v)
}

// shortTextForm is a text attribute's: a string holds at most 255 characters.
func shortTextForm(a *attrDef, v any) (string, error) {
	if s, ok := v.(string); ok && len([]rune(s)) > 255 {
		return "", fmt.Errorf("%d characters: a text attribute holds at most 255", len([]rune(s)))
	}
	return textForm(a, v)
}

// statusForm is a status attribute's: a string other than "" is one of its typeValues, when it has any.
func statusForm(a *attrDef, v any) (string, error) {
	if s, ok := v.(string); ok && len(a.typeValues) > 0 && s != "" && !contains(a.typeValues, s) {
		return "", fmt.Errorf("%q is not one of the attribute's statuses", s)
	}
	return textForm(a, v)
}

// integerForm takes a JSON number holding a 32-bit integer.
func integerForm(_ *attrDef, v any) (string, error) {
	n, ok := v.(json.Number)
	if !ok {
		return "", fmt.Errorf("%s is not an integer", show(v))
	}
	i, err := strconv.ParseInt(n.String(), 10, 64)
	if err != nil || i < math.MinInt32 || i > math.MaxInt32 {
		return "", fmt.Errorf("%s is not an integer within -2147483648..2147483647", n)
	}
	return strconv.FormatInt(i, 10), nil
}

// doubleForm takes a JSON number.
func doubleForm(_ *attrDef, v any) (string, error) {
	n, ok := v.(json.Number)
	if !ok {
		return "", fmt.Errorf("%s is not a number", show(v))
	}
	f, err := n.Float64()
	if err != nil {
		return "", fmt.Errorf("%s is not a number", n)
	}
	return strconv.FormatFloat(f, 'f', -1, 64), nil
}

// booleanForm takes JSON true or false.
func booleanForm(_ *attrDef, v any) (string, error) {
	b, ok := v.(bool)
	if !ok {
		return "", fmt.Errorf("%s is not a boolean (true or false)", show(v))
	}
	return strconv.FormatBool(b), nil
}

// dateTimeForm takes an RFC 3339 string and shows it in UTC.
func dateTimeForm(_ *attrDef, v any) (string, error) {
	s, ok := v.(string)
	if !ok {
		return "", fmt.Errorf("%s is not an ISO 8601 date_time", show(v))
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return "", fmt.Errorf("%s is not an ISO 8601 date_time", show(v))
	}
	return t.UTC().Format(time.RFC3339Nano), nil
}

// dateForm takes a YYYY-MM-DD string naming a day of the calendar.
func dateForm(_ *attrDef, v any) (string, error) {
	s, ok := v.(string)
	if !ok || !isoDate.MatchString(s) {
		return "", fmt.Errorf("%s is not an ISO 8601 date", show(v))
	}
	if _, err := time.Parse("2006-01-02", s); err != nil {
		return "", fmt.Errorf("%s is not a date", show(v))
	}
	return s, nil
}

// stringForm is the form of a type whose values are strings kept as sent: accept says whether one is in the
// type's form, what names that form in the error.
func stringForm(what string, accept func(string) bool) valueForm {
	return func(_ *attrDef, v any) (string, error) {
		s, ok := v.(string)
		if !ok || !accept(s) {
			return "", fmt.Errorf("%s is not %s", show(v), what)
		}
		return s, nil
	}
}

func isWebURL(s string) bool {
	return strings.HasPrefix(s, "http://") || strings.HasPrefix(s, "https://")
}

func isIPv4(s string) bool {
	ip := net.ParseIP(s)
	return ip != nil && ip.To4() != nil
}

func show(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

func contains(xs []string, x string) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}
