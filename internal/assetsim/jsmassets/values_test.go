package jsmassets

import (
	"encoding/json"
	"strings"
	"testing"
)

// Every attribute type's form, value by value: the text Assets shows for a value in its type's form, and the exact
// object error for one that is not.
func TestValueOf(t *testing.T) {
	statuses := []string{"Active", "Retired"}
	for _, tc := range []struct {
		typ        string
		typeValues []string
		value      string // JSON, numbers kept as json.Number as the data decoder does
		want, err  string
	}{
		{typ: "text", value: `"abc"`, want: "abc"},
		{typ: "text", value: `42`, want: "42"},
		{typ: "text", value: `1.50`, want: "1.50"},
		{typ: "text", value: `true`, want: "true"},
		{typ: "text", value: `"` + strings.Repeat("é", 255) + `"`, want: strings.Repeat("é", 255)},
		{typ: "text", value: `"` + strings.Repeat("é", 256) + `"`, err: "256 characters: a text attribute holds at most 255"},
		{typ: "text", value: strings.Repeat("9", 300), want: strings.Repeat("9", 300)},
		{typ: "text", value: `["a"]`, err: "a []interface {} is not text"},
		{typ: "text", value: `{"a":1}`, err: "a map[string]interface {} is not text"},
		{typ: "textarea", value: `"` + strings.Repeat("x", 300) + `"`, want: strings.Repeat("x", 300)},
		{typ: "select", value: `false`, want: "false"},
		{typ: "referenced_object", value: `"macOS"`, want: "macOS"},
		{typ: "status", typeValues: statuses, value: `"Active"`, want: "Active"},
		{typ: "status", typeValues: statuses, value: `""`, want: ""},
		{typ: "status", typeValues: statuses, value: `"Gone"`, err: `"Gone" is not one of the attribute's statuses`},
		{typ: "status", value: `"Gone"`, want: "Gone"},
		{typ: "status", typeValues: statuses, value: `7`, want: "7"},
		{typ: "integer", value: `42`, want: "42"},
		{typ: "integer", value: `-2147483648`, want: "-2147483648"},
		{typ: "integer", value: `2147483647`, want: "2147483647"},
		{typ: "integer", value: `2147483648`, err: "2147483648 is not an integer within -2147483648..2147483647"},
		{typ: "integer", value: `4.5`, err: "4.5 is not an integer within -2147483648..2147483647"},
		{typ: "integer", value: `1e3`, err: "1e3 is not an integer within -2147483648..2147483647"},
		{typ: "integer", value: `"42"`, err: `"42" is not an integer`},
		{typ: "integer", value: `true`, err: `true is not an integer`},
		{typ: "double", value: `1.50`, want: "1.5"},
		{typ: "double", value: `1e3`, want: "1000"},
		{typ: "double", value: `1e999`, err: "1e999 is not a number"},
		{typ: "double", value: `"1.5"`, err: `"1.5" is not a number`},
		{typ: "boolean", value: `true`, want: "true"},
		{typ: "boolean", value: `false`, want: "false"},
		{typ: "boolean", value: `"true"`, err: `"true" is not a boolean (true or false)`},
		{typ: "boolean", value: `1`, err: `1 is not a boolean (true or false)`},
		{typ: "date_time", value: `"2024-05-01T10:30:00.5+02:00"`, want: "2024-05-01T08:30:00.5Z"},
		{typ: "date_time", value: `""`, err: `"" is not an ISO 8601 date_time`},
		{typ: "date_time", value: `"2024-05-01"`, err: `"2024-05-01" is not an ISO 8601 date_time`},
		{typ: "date_time", value: `5`, err: `5 is not an ISO 8601 date_time`},
		{typ: "date", value: `"2024-05-01"`, want: "2024-05-01"},
		{typ: "date", value: `"2024-02-30"`, err: `"2024-02-30" is not a date`},
		{typ: "date", value: `"2024-5-1"`, err: `"2024-5-1" is not an ISO 8601 date`},
		{typ: "date", value: `20240501`, err: `20240501 is not an ISO 8601 date`},
		{typ: "time", value: `"08:30"`, want: "08:30"},
		{typ: "time", value: `"08:30:15.25"`, want: "08:30:15.25"},
		{typ: "time", value: `"8:30"`, err: `"8:30" is not an ISO 8601 time`},
		{typ: "time", value: `830`, err: `830 is not an ISO 8601 time`},
		{typ: "url", value: `"http://x.test"`, want: "http://x.test"},
		{typ: "url", value: `"https://x.test/a"`, want: "https://x.test/a"},
		{typ: "url", value: `"ftp://x.test"`, err: `"ftp://x.test" is not a URL starting with http:// or https://`},
		{typ: "url", value: `false`, err: `false is not a URL starting with http:// or https://`},
		{typ: "email", value: `"a@x.test"`, want: "a@x.test"},
		{typ: "email", value: `"a.x.test"`, err: `"a.x.test" is not an email address`},
		{typ: "email", value: `1`, err: `1 is not an email address`},
		{typ: "ipaddress", value: `"10.0.0.1"`, want: "10.0.0.1"},
		{typ: "ipaddress", value: `"::ffff:10.0.0.1"`, want: "::ffff:10.0.0.1"},
		{typ: "ipaddress", value: `"::1"`, err: `"::1" is not an IPv4 address`},
		{typ: "ipaddress", value: `""`, err: `"" is not an IPv4 address`},
		{typ: "ipaddress", value: `7`, err: `7 is not an IPv4 address`},
		{typ: "user", value: `"x"`, err: `unknown attribute type "user"`},
	} {
		t.Run(tc.typ+" "+tc.value[:min(len(tc.value), 20)], func(t *testing.T) {
			dec := json.NewDecoder(strings.NewReader(tc.value))
			dec.UseNumber()
			var v any
			if err := dec.Decode(&v); err != nil {
				t.Fatal(err)
			}
			got, err := valueOf(&attrDef{typ: tc.typ, typeValues: tc.typeValues}, v)
			gotErr := ""
			if err != nil {
				gotErr = err.Error()
			}
			if got != tc.want || gotErr != tc.err {
				t.Errorf("valueOf(%s %s) = %q, %q; want %q, %q", tc.typ, tc.value, got, gotErr, tc.want, tc.err)
			}
		})
	}
}

// Every type the 2023_10_19 definition names has a form, and a type it does not name is refused when the mapping is
// put, before any value is read.
func TestEveryAttributeTypeHasAForm(t *testing.T) {
	for _, typ := range []string{"text", "integer", "boolean", "double", "date", "time", "date_time", "url", "email", "textarea",
		"select", "ipaddress", "referenced_object", "status"} {
		if _, err := valueOf(&attrDef{typ: typ}, json.Number("1")); err != nil && strings.HasPrefix(err.Error(), "unknown attribute type") {
			t.Errorf("%s: %v", typ, err)
		}
		if _, err := newAttr(&typeDef{name: "T"}, attribute{Name: "A", Description: new(string), Type: typ}); err != nil {
			t.Errorf("%s refused: %v", typ, err)
		}
	}
	if _, err := newAttr(&typeDef{name: "T"}, attribute{Name: "A", Description: new(string), Type: "user"}); err == nil ||
		err.Error() != `object type T: attribute A: unknown type "user"` {
		t.Errorf("an unknown type: %v", err)
	}
}
