package main

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/urfave/cli/v2"
)

// A warehouse that is not there is a usage problem on every command that reads one: exit 2 and the same line
// saying what to run first, and, when the demo's warehouse is in the current directory, the flag that reads it.
func TestCLIMissingWarehouseIsAUsageError(t *testing.T) {
	dir := t.TempDir()
	missing := filepath.Join(dir, "warehouse")
	plan := filepath.Join(dir, "plan.csv")
	os.WriteFile(plan, []byte("approve\n"), 0o600)
	env := []string{"SEATLAKE_JSM_ASSETS_TOKEN=t", "SEATLAKE_SERVICENOW_PASSWORD=p"}
	want := "seatlake: no warehouse at " + missing + ": run `seatlake run` or `seatlake demo` first\n"
	for _, args := range [][]string{
		{"query", "--warehouse", missing, "SELECT 1"},
		{"report", "--warehouse", missing},
		{"marts", "--warehouse", missing},
		{"sync", "jsm-assets", "--warehouse", missing, "--url", "http://127.0.0.1:9"},
		{"sync", "servicenow", "--warehouse", missing, "--instance-url", "http://127.0.0.1:9", "--user", "u"},
		{"reclaim", "--warehouse", missing, "--plan", plan},
	} {
		t.Run(strings.Join(args[:2], " "), func(t *testing.T) {
			r := seatlake(t, env, args...)
			if r.code != exitUsage || r.stderr != want {
				t.Errorf("exit %d, stderr %q; want exit 2, %q", r.code, r.stderr, want)
			}
			if _, err := os.Stat(missing); err == nil {
				t.Errorf("the command created %s", missing)
			}
		})
	}
	// Right after `seatlake demo`, in the same directory: the default ./warehouse is not there, the demo's is.
	cmd := command(nil, "query", "SELECT 1")
	cmd.Dir = dir
	os.MkdirAll(filepath.Join(dir, "seatlake-demo"), 0o750)
	os.WriteFile(filepath.Join(dir, "seatlake-demo", "seatlake.duckdb"), nil, 0o600)
	var errb bytes.Buffer
	cmd.Stderr = &errb
	cmd.Run()
	if got := errb.String(); cmd.ProcessState.ExitCode() != exitUsage || !strings.Contains(got, "no warehouse at ./warehouse") ||
		!strings.Contains(got, "add --warehouse ./seatlake-demo") {
		t.Errorf("beside the demo's warehouse: exit %d, %q", cmd.ProcessState.ExitCode(), got)
	}
}

// A flag given in both its forms (-q --quiet) is the flag given twice, on every command that has such a flag.
func TestCLIFlagInBothForms(t *testing.T) {
	var walk func(path []string, cmds []*cli.Command)
	n := 0
	walk = func(path []string, cmds []*cli.Command) {
		for _, c := range cmds {
			p := append(slices.Clone(path), c.Name)
			walk(p, c.Subcommands)
			for _, f := range c.Flags {
				names := f.Names()
				if len(names) < 2 {
					continue
				}
				n++
				args := append(slices.Clone(p), "-"+names[1])
				if v, ok := f.(interface{ TakesValue() bool }); ok && v.TakesValue() {
					args = append(args, "x")
				}
				args = append(args, "--"+names[0])
				if v, ok := f.(interface{ TakesValue() bool }); ok && v.TakesValue() {
					args = append(args, "x")
				}
				args = append(args, "--help")
				t.Run(strings.Join(args, " "), func(t *testing.T) {
					if r := seatlake(t, nil, args...); r.code != 0 || r.stderr != "" {
						t.Errorf("exit %d: %s", r.code, r.stderr)
					}
				})
			}
		}
	}
	walk(nil, newApp(&bytes.Buffer{}, &bytes.Buffer{}).Commands)
	if n == 0 {
		t.Fatal("no command has a flag with two forms")
	}
}

func TestOneFormPerFlag(t *testing.T) {
	app := newApp(&bytes.Buffer{}, &bytes.Buffer{})
	tests := []struct{ in, want string }{
		{"seatlake report -q --quiet", "seatlake report --quiet --quiet"},
		{"seatlake query -f csv --format=json -w ./x SELECT -q", "seatlake query --format csv --format=json --warehouse ./x SELECT -q"},
		{"seatlake query -w -q SELECT", "seatlake query --warehouse -q SELECT"},
		{"seatlake run --quiet -- -q", "seatlake run --quiet -- -q"},
		{"seatlake nosuch -q", "seatlake nosuch -q"},
		{"seatlake", "seatlake"},
	}
	for _, tt := range tests {
		if got := strings.Join(oneFormPerFlag(app, strings.Fields(tt.in)), " "); got != tt.want {
			t.Errorf("%s: %s, want %s", tt.in, got, tt.want)
		}
	}
}

// The demo starts from an empty warehouse: a second demo into the same directory shows only its own simulator's
// environments, not the first one's too; its last lines are the commands that read that directory.
func TestCLIDemoTwiceShowsTheSameEnvironments(t *testing.T) {
	wh := filepath.Join(t.TempDir(), "demo")
	var answers [][][]string // per demo: the newest sign-in and the license answers
	environments := func() []string {
		r := seatlake(t, nil, "demo", "--warehouse", wh, "--users", "60", "--days", "2", "--throttle", "off", "--tls=false", "--log-level", "error")
		if r.code != 0 {
			t.Fatalf("demo: exit %d\n%s%s", r.code, r.stdout, r.stderr)
		}
		var printed []string
		for _, l := range strings.Split(r.stdout, "\n") {
			if u, ok := strings.CutPrefix(l, "environment "); ok {
				printed = append(printed, u)
			}
		}
		if !strings.Contains(r.stdout, "query --warehouse "+wh+` "SELECT`) || !strings.Contains(r.stdout, "report --warehouse "+wh) {
			t.Errorf("the demo's closing lines do not name its warehouse:\n%s", r.stdout[max(0, len(r.stdout)-600):])
		}
		if strings.Contains(r.stdout, "NULL") {
			t.Errorf("the demo prints NULL:\n%s", r.stdout)
		}
		stored := csvRows(t, wh, "SELECT DISTINCT environment_url FROM dataverse_users UNION SELECT DISTINCT environment_url FROM finops_users ORDER BY 1")
		var got []string
		for _, row := range stored {
			got = append(got, row[0])
		}
		slices.Sort(printed)
		if len(printed) != 3 || !slices.Equal(got, printed) {
			t.Errorf("the warehouse holds the environments %v; the demo printed %v (2 Dataverse, 1 F&O)", got, printed)
		}
		answers = append(answers, csvRows(t, wh, `SELECT 'newest sign-in', CAST(max(created_at) AS VARCHAR) FROM graph_signins
			UNION ALL SELECT status || ' ' || count(*), CAST(sum(days_inactive) AS VARCHAR) FROM license_usage GROUP BY status ORDER BY 1`))
		return printed
	}
	first := environments()
	second := environments()
	if len(first) != len(second) {
		t.Errorf("first demo %v, second %v", first, second)
	}
	// The simulated history ends at today's midnight (UTC), whenever the demo starts: two demos of a day agree.
	if !slices.EqualFunc(answers[0], answers[1], slices.Equal) {
		t.Errorf("two demos of one day answer differently:\n%v\n%v", answers[0], answers[1])
	}
	midnight := time.Now().UTC().Truncate(24 * time.Hour)
	i := slices.IndexFunc(answers[0], func(row []string) bool { return row[0] == "newest sign-in" })
	if i < 0 {
		t.Fatalf("no newest sign-in in %v", answers[0])
	}
	if newest, err := time.Parse("2006-01-02 15:04:05.999999-07", answers[0][i][1]); err != nil || !newest.Before(midnight) || newest.Before(midnight.Add(-time.Hour)) {
		t.Errorf("the newest simulated sign-in is %q (%v); want within the hour before today's midnight UTC, %s", answers[0][i][1], err, midnight)
	}
}
