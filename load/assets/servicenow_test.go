package assets

import (
	"os"
	"regexp"
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
	for sel, src := range stagingRows(sample(1)) {
		line := ""
		for _, l := range strings.Split(string(readme), "\n") {
			if strings.HasPrefix(l, "| `"+tables[sel]+"` |") {
				line = l
			}
		}
		var documented []string
		cells := strings.SplitN(line, "|", 4) // "", the table, its columns, ""
		if len(cells) < 3 {
			t.Fatalf("the README has no row for %s", tables[sel])
		}
		for _, c := range regexp.MustCompile("`(u_[a-z_]+)`").FindAllStringSubmatch(cells[2], -1) {
			if !slices.Contains(documented, c[1]) {
				documented = append(documented, c[1])
			}
		}
		var sent []string
		for k := range src.row(0) {
			sent = append(sent, k)
		}
		if !slices.Equal(sorted(sent), sorted(documented)) {
			t.Errorf("%s rows carry %v, the README documents %v", tables[sel], sorted(sent), sorted(documented))
		}
	}
}

func sorted(s []string) []string {
	out := slices.Clone(s)
	slices.Sort(out)
	return out
}
