package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// The deployment files the README points to are valid: systemd verifies the service and timer (when
// systemd-analyze is here), the Kubernetes CronJob never overlaps runs and mounts the secret as a file only its
// user can read, and the cron line runs quietly.
func TestDeployFiles(t *testing.T) {
	if sa, err := exec.LookPath("systemd-analyze"); err == nil {
		dir := t.TempDir()
		for _, f := range []string{"seatlake.service", "seatlake.timer", "seatlake-events.service"} {
			b, err := os.ReadFile(filepath.Join("..", "..", "deploy", f))
			if err != nil {
				t.Fatal(err)
			}
			// The binary the unit starts must exist for verify: this test binary stands in for it.
			os.WriteFile(filepath.Join(dir, f), []byte(strings.ReplaceAll(string(b), "/usr/local/bin/seatlake", os.Args[0])), 0o644)
		}
		out, err := exec.Command(sa, "verify", filepath.Join(dir, "seatlake.service"), filepath.Join(dir, "seatlake.timer"), filepath.Join(dir, "seatlake-events.service")).CombinedOutput()
		if err != nil || strings.TrimSpace(string(out)) != "" {
			t.Errorf("systemd-analyze verify: %v\n%s", err, out)
		}
	} else {
		t.Log("no systemd-analyze here: the systemd units are not verified")
	}
	raw, err := os.ReadFile(filepath.Join("..", "..", "deploy", "cronjob.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var cj struct {
		Kind string
		Spec struct {
			ConcurrencyPolicy string `yaml:"concurrencyPolicy"`
			JobTemplate       struct {
				Spec struct {
					Template struct {
						Spec struct {
							Containers []struct{ Args []string }
							Volumes    []struct {
								Name   string
								Secret *struct {
									DefaultMode int `yaml:"defaultMode"`
								}
							}
						}
					}
				}
			} `yaml:"jobTemplate"`
		}
	}
	if err := yaml.Unmarshal(raw, &cj); err != nil {
		t.Fatal(err)
	}
	pod := cj.Spec.JobTemplate.Spec.Template.Spec
	if cj.Kind != "CronJob" || cj.Spec.ConcurrencyPolicy != "Forbid" || len(pod.Containers) != 1 || pod.Containers[0].Args[0] != "run" {
		t.Errorf("cronjob.yaml: %+v", cj)
	}
	for _, v := range pod.Volumes {
		if v.Secret != nil && v.Secret.DefaultMode&0o077 != 0 {
			t.Errorf("the secret volume's mode %o lets others read it: seatlake would refuse the file", v.Secret.DefaultMode)
		}
	}
	// The flags the deployment files pass exist (a renamed flag would break every install silently).
	for _, f := range []string{"seatlake.service", "seatlake.cron"} {
		b, _ := os.ReadFile(filepath.Join("..", "..", "deploy", f))
		for _, flag := range []string{"--config", "--quiet", "--result-json"} {
			if !strings.Contains(string(b), flag) {
				t.Errorf("%s does not pass %s", f, flag)
			}
		}
	}
	if r := seatlake(t, nil, append(pod.Containers[0].Args, "--help")...); r.code != 0 {
		t.Errorf("the CronJob's arguments are not a valid command line: %s", r.stderr)
	}
}
