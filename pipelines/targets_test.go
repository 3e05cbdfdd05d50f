package pipelines

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/seatlake/seatlake/load/target"
)

// probeTarget is a registered target with a probe: a line for the shared set-up and one per tenant given.
type probeTarget struct{}

func init() { target.Register(probeTarget{}) }

func (probeTarget) Name() string        { return "probe-example" }
func (probeTarget) Usage() string       { return "" }
func (probeTarget) Description() string { return "" }
func (probeTarget) Settings() []target.Setting {
	return []target.Setting{
		{Key: "endpoint", Kind: target.String, Default: "https://example.test", Endpoint: true},
		{Key: "batch", Kind: target.Int, Default: "2", Min: "1", Max: "5"},
	}
}

func (probeTarget) Open(s target.Setup) (target.Sender, error) {
	if s.Values["batch"] == "3" {
		return nil, errors.New("batch 3 is unlucky")
	}
	return probeSender{s}, nil
}

type probeSender struct{ s target.Setup }

func (probeSender) Send(context.Context, target.Env, target.Data) (target.Result, error) {
	return target.Result{}, nil
}

func (p probeSender) Probe(context.Context) []target.Check {
	out := []target.Check{{Target: p.s.Values["endpoint"], Name: "reachable", Status: target.OK, Detail: "batch " + p.s.Values["batch"] + "\nof\trows"}}
	for _, t := range p.s.Tenants {
		out = append(out, target.Check{Tenant: t.Name, Target: p.s.Values["endpoint"], Name: "token", Status: target.Fail, Detail: "refused", Action: "renew " + t.Values["token"]})
	}
	return out
}

// OpenTarget checks the values against the settings' declarations before the target sees them; every refusal is a
// configuration to fix (ErrInvalidConfig) naming the setting.
func TestOpenTargetRefusesBadSettings(t *testing.T) {
	for _, tc := range []struct {
		name, target string
		values       map[string]string
		want         string
	}{
		{"unknown target", "probe-exampel", nil, `sync target "probe-exampel"`},
		{"out of bounds", "probe-example", map[string]string{"batch": "9"}, `batch "9": want 1 to 5`},
		{"not a number", "probe-example", map[string]string{"batch": "two"}, `batch "two": want a whole number`},
		{"clear text", "probe-example", map[string]string{"endpoint": "http://example.test"}, "endpoint: http://example.test: http:// is accepted only for loopback hosts"},
		{"the target's own", "probe-example", map[string]string{"batch": "3"}, "batch 3 is unlucky"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := OpenTarget(tc.target, func(k string) string { return tc.values[k] }, nil, true, nil)
			if !errors.Is(err, ErrInvalidConfig) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("OpenTarget: %v; want ErrInvalidConfig naming %q", err, tc.want)
			}
		})
	}
}

// `seatlake check` shows a registered target's probe as lines of its own: the target's name as their source, "-" for
// the shared set-up, the tenant's name for its own, each detail on one line.
func TestCheckTargetsShowsTheProbe(t *testing.T) {
	o, err := OpenTarget("probe-example", func(k string) string { return map[string]string{"batch": "4"}[k] },
		[]TargetTenant{{ID: "t1", Name: "contoso", Values: map[string]string{"token": "contoso.token"}}}, true, nil)
	if err != nil {
		t.Fatal(err)
	}
	got := CheckTargets(context.Background(), []*OpenedTarget{o})
	want := []CheckResult{
		{Tenant: "-", Source: "probe-example", Target: "https://example.test", Check: "reachable", Status: CheckOK, Detail: "batch 4 of rows"},
		{Tenant: "contoso", Source: "probe-example", Target: "https://example.test", Check: "token", Status: CheckFail, Detail: "refused", Action: "renew contoso.token"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("CheckTargets:\n%+v\nwant\n%+v", got, want)
	}
}

// A send that returns no error yet did not take every row, or counted errors, fails: partial when other rows landed.
func TestSyncShortfallFailsTheSync(t *testing.T) {
	data := target.Data{Persons: make([]target.Person, 3), Subscriptions: make([]target.Subscription, 1)}
	for _, tc := range []struct {
		name    string
		res     target.Result
		want    string // "" for no error
		partial bool
	}{
		{"every row", target.Result{Sent: map[string]int{"persons": 3, "subscriptions": 1}}, "", false},
		{"a skipped row", target.Result{Sent: map[string]int{"persons": 2, "subscriptions": 1}}, "took 2 of the 3 Person rows", true},
		{"nothing taken", target.Result{Sent: map[string]int{}}, "took 0 of the 3 Person rows, took 0 of the 1 Subscription rows", false},
		{"counted errors", target.Result{Sent: map[string]int{"persons": 3, "subscriptions": 1}, Counts: map[string]int{"Person:errors": 1}}, "counted 1 Person errors", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := shortfall(data, tc.res)
			if tc.want == "" {
				if err != nil {
					t.Errorf("shortfall: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) || errors.Is(err, target.ErrRowsRefused) != tc.partial {
				t.Errorf("shortfall: %v; want %q, partial %v", err, tc.want, tc.partial)
			}
		})
	}
}
