package assets

import (
	"os"
	"slices"
	"strings"
	"testing"
)

// The rows sent to ServiceNow have exactly the staging columns the README tells an administrator to create, in
// the table the README names for them.
func TestStagingColumnsAreDocumented(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	tables := map[string]string{"persons": DefaultStagingTables.User, "subscriptions": DefaultStagingTables.Subscription, "assignments": DefaultStagingTables.License}
	rows := stagingRows(sample(1))
	for sel, cols := range stagingColumns() {
		var got []string
		for k := range rows[sel].row(0) {
			got = append(got, k)
		}
		if !slices.Equal(sorted(got), sorted(cols)) {
			t.Errorf("%s rows carry %v, the documented columns are %v", sel, sorted(got), sorted(cols))
		}
		line := ""
		for _, l := range strings.Split(string(readme), "\n") {
			if strings.HasPrefix(l, "| `"+tables[sel]+"` |") {
				line = l
			}
		}
		for _, c := range cols {
			if !strings.Contains(line, "`"+c+"`") {
				t.Errorf("the README's row for %s does not document %s", tables[sel], c)
			}
		}
	}
}

func sorted(s []string) []string {
	out := slices.Clone(s)
	slices.Sort(out)
	return out
}
