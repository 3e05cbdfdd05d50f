package target

import (
	"context"
	"strings"
	"testing"
)

type fake struct {
	name     string
	settings []Setting
}

func (f fake) Name() string                                    { return f.name }
func (f fake) Usage() string                                   { return "" }
func (f fake) Description() string                             { return "" }
func (f fake) Settings() []Setting                             { return f.settings }
func (f fake) Open(Setup) (Sender, error)                      { return f, nil }
func (f fake) Send(context.Context, Env, Data) (Result, error) { return Result{}, nil }

// A malformed target is refused when it registers, naming what is wrong: the binary does not start.
func TestRegisterRefusesMalformedTargets(t *testing.T) {
	for _, tc := range []struct {
		name string
		t    fake
		want string
	}{
		{"name", fake{name: "Example"}, `name "Example"`},
		{"kind", fake{name: "a", settings: []Setting{{Key: "x"}}}, "setting x: no kind"},
		{"key", fake{name: "a", settings: []Setting{{Key: "X", Kind: String}}}, `setting "X"`},
		{"default", fake{name: "a", settings: []Setting{{Key: "n", Kind: Int, Default: "many"}}}, `"many" is not a whole number`},
		{"twice", fake{name: "a", settings: []Setting{{Key: "n", Kind: Int}, {Key: "n", Kind: String}}}, "setting n declared twice"},
		{"taken", fake{name: "taken"}, "registered twice"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := New()
			r.Register(fake{name: "taken"})
			defer func() {
				if msg, _ := recover().(string); !strings.Contains(msg, tc.want) {
					t.Errorf("panic %q, want it naming %q", msg, tc.want)
				}
			}()
			r.Register(tc.t)
		})
	}
}

func TestSettingValidate(t *testing.T) {
	n := Setting{Key: "n", Kind: Int, Min: "1", Max: "10"}
	for v, want := range map[string]string{"1": "", "10": "", "0": "want 1 to 10", "11": "want 1 to 10", "x": "want a whole number"} {
		err := n.Validate(v)
		if (want == "" && err != nil) || (want != "" && (err == nil || err.Error() != want)) {
			t.Errorf("Validate(%q) = %v, want %q", v, err, want)
		}
	}
	if err := (Setting{Key: "s", Kind: String}).Validate("anything"); err != nil {
		t.Errorf("a text setting: %v", err)
	}
}
