package source

import (
	"strings"
	"testing"

	"github.com/seatlake/seatlake/internal/table"
)

func TestSettingValidate(t *testing.T) {
	window := Setting{Key: "x-window", Kind: Duration, Min: "1m", Max: "24h"}
	pages := Setting{Key: "x-page-size", Kind: Int, Min: "1"}
	url := Setting{Key: "x-url", Kind: URL}
	for _, tc := range []struct {
		s    Setting
		v    string
		want string // "" = valid
	}{
		{window, "90m", ""},
		{window, "30s", "must be between 1m and 24h"},
		{window, "25h", "must be between 1m and 24h"},
		{window, "a day", "want a duration such as 90m or 24h"},
		{pages, "1", ""},
		{pages, "0", "must be at least 1"},
		{pages, "1.5", "want a whole number"},
		{url, "https://contoso.example", ""},
		{url, "contoso.example", "want a URL"},
		{url, "ftp://contoso.example", "want a URL"},
	} {
		err := tc.s.Validate(tc.v)
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%s %q: %v; want valid", tc.s.Key, tc.v, err)
		case tc.want != "" && (err == nil || err.Error() != tc.want):
			t.Errorf("%s %q: %v; want %q", tc.s.Key, tc.v, err, tc.want)
		}
	}
}

func TestValidateNamesEveryBadValue(t *testing.T) {
	settings := []Setting{{Key: "x-page-size", Kind: Int, Min: "1", Max: "10"}, {Key: "x-urls", Kind: URLs}}
	err := Validate(settings, Values{"x-page-size": {"11"}, "x-urls": {"https://a.example", "b"}})
	want := "x-page-size \"11\": must be between 1 and 10\nx-urls \"b\": want a list of URLs"
	if err == nil || err.Error() != want {
		t.Errorf("Validate: %v; want\n%s", err, want)
	}
}

func TestReaderDefaultsAndOverrides(t *testing.T) {
	settings := []Setting{{Key: "x-page-size", Kind: Int, Default: "50"}, {Key: "x-urls", Kind: URLs}, {Key: "x-window", Kind: Duration, Default: "24h"}}
	top := Values{"x-page-size": {"20"}, "x-urls": {"https://a.example/ "}}
	r := Read(settings, top.With(Values{"x-page-size": {"30"}}))
	if r.Int("x-page-size") != 30 || r.Duration("x-window").Hours() != 24 || strings.Join(r.Strings("x-urls"), ",") != "https://a.example" {
		t.Errorf("read %d %s %q", r.Int("x-page-size"), r.Duration("x-window"), r.Strings("x-urls"))
	}
	if Read(settings, top).Int("x-page-size") != 20 {
		t.Error("the top-level value is not read")
	}
}

type named struct {
	name     string
	tables   []*table.Table
	settings []Setting
}

func (n named) Name() string            { return n.name }
func (n named) Tables() []*table.Table  { return n.tables }
func (n named) Settings() []Setting     { return n.settings }
func (n named) Streams(Values) []Stream { return nil }

func TestRegisterRefusesWhatWouldCollide(t *testing.T) {
	ok := named{name: "x", tables: []*table.Table{table.New("x_items", table.Snapshot, "", "")}, settings: []Setting{{Key: "x-url", Kind: URL}}}
	for _, tc := range []struct {
		name string
		s    Source
		want string
	}{
		{"same name", named{name: "x"}, "registered twice"},
		{"table of another prefix", named{name: "y", tables: []*table.Table{table.New("graph_users2", table.Snapshot, "", "")}}, "start with its name"},
		{"setting of another prefix", named{name: "y", settings: []Setting{{Key: "graph-endpoint", Kind: URL}}}, "start with its name"},
		{"bad default", named{name: "y", settings: []Setting{{Key: "y-n", Kind: Int, Default: "ten"}}}, "its own default"},
		{"bad name", named{name: "Y"}, "lower-case"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := NewRegistry()
			r.Register(ok)
			defer func() {
				msg, _ := recover().(string)
				if !strings.Contains(msg, tc.want) {
					t.Errorf("Register panicked with %q; want %q", msg, tc.want)
				}
			}()
			r.Register(tc.s)
		})
	}
}

// prefixed is a named source that declares key prefixes beyond its name.
type prefixed struct {
	named
	prefixes []string
}

func (p prefixed) KeyPrefixes() []string { return p.prefixes }

// A source may declare key prefixes beyond its name (keys older than the contract); a setting outside them, or a
// prefix another source's keys could take, is refused.
func TestRegisterTakesDeclaredKeyPrefixes(t *testing.T) {
	graphish := prefixed{named{name: "g", settings: []Setting{{Key: "signin-window", Kind: Duration, PerTenant: true}, {Key: "g-x", Kind: Int}}}, []string{"signin-"}}
	r := NewRegistry()
	r.Register(graphish)
	if got := len(r.Settings()); got != 2 {
		t.Fatalf("%d settings registered, want 2", got)
	}
	for _, tc := range []struct {
		name string
		s    Source
		want string
	}{
		{"a key outside the prefixes", prefixed{named{name: "h", settings: []Setting{{Key: "login-window", Kind: Duration}}}, []string{"signin-"}}, "start with its name"},
		{"a prefix another source declared", prefixed{named{name: "h"}, []string{"signin-x-"}}, "overlaps source g"},
		{"a prefix over another source's name", prefixed{named{name: "h"}, []string{"g-"}}, "overlaps source g"},
		{"a prefix without its dash", prefixed{named{name: "h"}, []string{"login"}}, "ending in -"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			defer func() {
				msg, _ := recover().(string)
				if !strings.Contains(msg, tc.want) {
					t.Errorf("Register panicked with %q; want %q", msg, tc.want)
				}
			}()
			r.Register(tc.s)
		})
	}
}
