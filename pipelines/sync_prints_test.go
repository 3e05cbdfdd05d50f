package pipelines

import (
	"encoding/json"
	"reflect"
	"strconv"
	"testing"

	"github.com/seatlake/seatlake/load/target"
)

// TestSyncSentStateDiff: what a sync remembers it sent gives a dry run the same answer whether it was written in the
// compact form or the earlier JSON map of ids (a warehouse synced before the change): an object changed, one gone
// and one new are counted as such, the rest unchanged.
func TestSyncSentStateDiff(t *testing.T) {
	days := int64(40)
	before := target.Data{TenantID: "t",
		Persons:       []target.Person{{ID: "p1", UPN: "a@x"}, {ID: "p2", UPN: "b@x"}, {ID: "p3", UPN: "c@x"}},
		Subscriptions: []target.Subscription{{SkuID: "s1", Purchased: 10}},
		Assignments:   []target.Assignment{{UserID: "p1", SkuID: "s1", Status: "active"}, {UserID: "p2", SkuID: "s1", Status: "never_used", DaysInactive: &days}},
	}
	after := before
	after.Persons = []target.Person{{ID: "p1", UPN: "a@x"}, {ID: "p2", UPN: "b2@x"}, {ID: "p4", UPN: "d@x"}}
	want := map[string]map[string]int{
		"persons":       {"new": 1, "changed": 1, "gone": 1},
		"subscriptions": {"new": 0, "changed": 0, "gone": 0},
		"assignments":   {"new": 0, "changed": 0, "gone": 0},
	}
	// The earlier form: per selector, each object's identity and the base-36 FNV-64a hash of its JSON.
	earlier := map[string]map[string]string{"persons": {}, "subscriptions": {}, "assignments": {}}
	for _, p := range before.Persons {
		earlier["persons"][p.ID] = strconv.FormatUint(valueHash(p), 36)
	}
	for _, s := range before.Subscriptions {
		earlier["subscriptions"][s.SkuID] = strconv.FormatUint(valueHash(s), 36)
	}
	for _, a := range before.Assignments {
		earlier["assignments"][a.UserID+"|"+a.SkuID] = strconv.FormatUint(valueHash(a), 36)
	}
	old, _ := json.Marshal(earlier)
	for _, tc := range []struct {
		name  string
		state []byte
	}{
		{"compact", fingerprints(before).encode()},
		{"earlier JSON map", old},
	} {
		if got := diff(readPrints(tc.state), fingerprints(after)); !reflect.DeepEqual(got, want) {
			t.Errorf("%s: diff %v, want %v", tc.name, got, want)
		}
		if got := diff(readPrints(tc.state), fingerprints(before)); got["persons"]["changed"]+got["persons"]["new"]+got["persons"]["gone"]+got["assignments"]["changed"] != 0 {
			t.Errorf("%s: the same data again differs: %v", tc.name, got)
		}
	}
	if got := diff(readPrints([]byte("not json")), fingerprints(before)); got["persons"]["new"] != 3 {
		t.Errorf("an unreadable state: %v, want everything new", got)
	}
}
