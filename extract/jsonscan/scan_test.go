package jsonscan

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestStrictRefusesWhatEncodingJSONRefuses: the strict scanner refuses control characters in strings and nesting
// beyond MaxDepth, which the lenient one lets through; both accept the rest alike.
func TestStrictRefusesWhatEncodingJSONRefuses(t *testing.T) {
	deep := func(d int) string { return strings.Repeat("[", d) + strings.Repeat("]", d) }
	for _, tc := range []struct {
		body        string
		strict, lax bool // accepted
	}{
		{`{"a":"b\tc","d":[1,-2.5e+3,true,false,null,{}]}`, true, true},
		{"{\"a\":\"b\tc\"}", false, true},
		{"{\"a\x01\":1}", false, true},
		{"[\"\\u00e9\x1f\"]", false, true},
		{`["\"\\\/\b\f\n\r\t\u00e9"]`, true, true},
		{`["\x"]`, false, false},
		{`["\u12"]`, false, false},
		{"[\"a\x7f\xff\"]", true, true},
		{deep(MaxDepth), true, true},
		{deep(MaxDepth + 1), false, true},
		{`{"a":1,}`, false, false},
		{`[01]`, false, false},
		{`{"a":1} x`, false, false},
	} {
		for _, strict := range []bool{true, false} {
			s := New([]byte(tc.body))
			want := tc.lax
			if strict {
				s, want = NewStrict([]byte(tc.body)), tc.strict
			}
			err := s.Skip()
			if err == nil {
				err = s.End()
			}
			if (err == nil) != want {
				t.Errorf("strict %v: %.60q accepted %v, want %v", strict, tc.body, err == nil, want)
			}
		}
	}
}

// TestDecodeAsEncodingJSON: a string's value is what encoding/json makes of it, invalid UTF-8 and lone surrogates
// included.
func TestDecodeAsEncodingJSON(t *testing.T) {
	for _, raw := range []string{
		`plain`, `J\u00f6rg \"JJ\" \\ \/ \b\f\n\r\t`, `\ud83d\ude00`, `\ud800x`, `\udc00\ud800`, `\ud800\ud800\udc00`,
		`\uDBFF\uDFFF`, `\u0000`, "a\xffb\xc3", "\xed\xa0\x80", "\xf0\x9f\x98", "\u00e9\\u00e9", "\xc3\\u00a9",
	} {
		var want string
		if err := json.Unmarshal([]byte(`"`+raw+`"`), &want); err != nil {
			t.Fatalf("%q: %v", raw, err)
		}
		s := NewStrict([]byte(`"` + raw + `"`))
		r, esc, err := s.Str()
		if err != nil {
			t.Fatalf("%q: %v", raw, err)
		}
		got, err := Decode(nil, r)
		if err != nil || string(got) != want {
			t.Errorf("%q: Decode %q %v, encoding/json %q", raw, got, err, want)
		}
		if !esc && string(r) != want {
			t.Errorf("%q: taken as it is, but encoding/json makes %q of it", raw, want)
		}
	}
}

// FuzzSpecial: the eight-bytes-at-a-time search finds the same byte as a plain loop, and sees the same bytes beyond
// ASCII before it.
func FuzzSpecial(f *testing.F) {
	f.Add([]byte(`abcdefgh"ijk`))
	f.Add([]byte("0123456789abcdef\x1f"))
	f.Add([]byte(`\`))
	f.Fuzz(func(t *testing.T, b []byte) {
		want, wantNonASCII := -1, false
		for i, c := range b {
			if c == '"' || c == '\\' || c < 0x20 {
				want = i
				break
			}
			wantNonASCII = wantNonASCII || c >= 0x80
		}
		if want < 0 {
			wantNonASCII = false
		}
		if got, nonASCII := special(b); got != want || nonASCII != wantNonASCII {
			t.Errorf("special(%q) = %d, %v, want %d, %v", b, got, nonASCII, want, wantNonASCII)
		}
	})
}
