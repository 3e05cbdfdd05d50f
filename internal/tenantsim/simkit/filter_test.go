package simkit

import (
	"strings"
	"testing"
)

// FilterTokens splits a $filter as each service's parser reads it: Graph's with commas (function arguments) and
// words ending at a quote, Dataverse's with parentheses only; an unterminated string literal gives its position.
func TestFilterTokens(t *testing.T) {
	const graphPunct, graphEnds, dvPunct, dvEnds = "(),", " \t(),'", "()", " ()"
	for _, tc := range []struct {
		f, punct, ends string
		want           string // tokens joined by |
		at             int
	}{
		{f: "startswith(displayName,'O''Neil') and\taccountEnabled eq true", punct: graphPunct, ends: graphEnds,
			want: "startswith|(|displayName|,|'O''Neil'|)|and|accountEnabled|eq|true", at: -1},
		{f: "(action eq 64 or action eq 65) and createdon ge 2026-11-01T00:00:00Z", punct: dvPunct, ends: dvEnds,
			want: "(|action|eq|64|or|action|eq|65|)|and|createdon|ge|2026-11-01T00:00:00Z", at: -1},
		{f: "a'b' c,d", punct: graphPunct, ends: graphEnds, want: "a|'b'|c|,|d", at: -1},
		{f: "a'b' c,d", punct: dvPunct, ends: dvEnds, want: "a'b'|c,d", at: -1},
		{f: "fullname eq 'O''Ne", punct: dvPunct, ends: dvEnds, at: 12},
		{f: "mail eq 'x", punct: graphPunct, ends: graphEnds, at: 8},
	} {
		toks, at := FilterTokens(tc.f, tc.punct, tc.ends)
		if got := strings.Join(toks, "|"); got != tc.want || at != tc.at {
			t.Errorf("FilterTokens(%q, %q, %q) = %q, %d; want %q, %d", tc.f, tc.punct, tc.ends, got, at, tc.want, tc.at)
		}
	}
}
