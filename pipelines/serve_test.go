package pipelines

import (
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/seatlake/seatlake/extract/finops"
)

// new-endpoint: the one environment is picked without a name; the secret is written for its owner only and the
// callback URL carries it; making it again rotates it; a name that is no environment is a configuration to fix,
// naming those there are.
func TestNewEndpoint(t *testing.T) {
	dir := t.TempDir()
	one := []string{"https://contoso-prod.operations.dynamics.com"}
	cfg := EndpointConfig{FinOps: one, Dir: dir, PublicURL: "https://seatlake.contoso.com"}
	ep, err := NewEndpoint(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if ep.Name != "contoso-prod" || ep.SecretFile != SecretPathIn(dir, "contoso-prod") {
		t.Errorf("endpoint %+v: want contoso-prod with its secret under %s", ep, dir)
	}
	st, err := os.Stat(ep.SecretFile)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("the secret file: %v, mode %v: want 0600", err, st.Mode().Perm())
	}
	secret, _ := os.ReadFile(ep.SecretFile)
	if want := "https://seatlake.contoso.com" + CallbackPath("contoso-prod", strings.TrimSpace(string(secret))); ep.CallbackURL != want || len(strings.TrimSpace(string(secret))) != 64 {
		t.Errorf("callback URL %s, want %s (a 32-byte secret in hex)", ep.CallbackURL, want)
	}
	again, err := NewEndpoint(cfg)
	if err != nil || again.CallbackURL == ep.CallbackURL {
		t.Errorf("made again: %v, %s: want a new secret and URL", err, again.CallbackURL)
	}

	for _, tt := range []struct {
		name   string
		finops []string
		pick   string
		want   string
	}{
		{"a name that is no environment", one, "contoso-test", `--finops "contoso-test": no such F&O environment (configured: contoso-prod)`},
		{"two environments and no name", append(one, "https://contoso-test.operations.dynamics.com"), "", `--finops "": no such F&O environment (configured: contoso-prod, contoso-test)`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewEndpoint(EndpointConfig{FinOps: tt.finops, Name: tt.pick, Dir: t.TempDir()})
			if !errors.Is(err, ErrInvalidConfig) || err.Error() != tt.want {
				t.Errorf("error %v, want %q (a configuration to fix)", err, tt.want)
			}
		})
	}
}

// The receiver serves the environments that have a callback secret; one without is left out while the others are
// served; none, or --secret-file with several, is a configuration to fix that says what to run.
func TestEventsEnvs(t *testing.T) {
	dir := t.TempDir()
	prod, test := "https://contoso-prod.operations.dynamics.com", "https://contoso-test.operations.dynamics.com"
	os.MkdirAll(filepath.Join(dir, "secrets"), 0o700)
	os.WriteFile(SecretPathIn(dir, "contoso-prod"), []byte("s\n"), 0o600)
	for _, tt := range []struct {
		name       string
		finops     []string
		secretFile string
		served     string // the environments served, or the error
	}{
		{"one with a secret, one without", []string{prod, test}, "", "contoso-prod"},
		{"none with a secret", []string{test}, "", "no F&O environment has a callback secret yet (contoso-test): run `seatlake events new-endpoint --finops contoso-test`"},
		{"no environment", nil, "", "no F&O environment: give --finops-url, or tenants with finops in the config file"},
		{"--secret-file for two", []string{prod, test}, "x", "--secret-file is for one environment; with several, each has its own under <events-dir>/secrets"},
		{"--secret-file for one", []string{test}, SecretPathIn(dir, "contoso-prod"), "contoso-test"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			envs, err := eventsEnvs(ServeConfig{Events: EventsConfig{Dir: dir, Logger: slog.New(slog.DiscardHandler)},
				Tenants: []Config{{Name: "contoso", Sources: SourceValues{finops.URLSetting: tt.finops}}}, SecretFile: tt.secretFile})
			got := ""
			for _, e := range envs {
				got += e.Name
			}
			if err != nil {
				got = err.Error()
			}
			if got != tt.served {
				t.Errorf("served %q, want %q", got, tt.served)
			}
		})
	}
}

func TestPublicURL(t *testing.T) {
	for _, tt := range []struct {
		public, addr string
		tls          bool
		want         string
	}{
		{"", "127.0.0.1:8443", false, "http://127.0.0.1:8443"},
		{"", "127.0.0.1:8443", true, "https://127.0.0.1:8443"},
		{"https://seatlake.contoso.com/", "127.0.0.1:8443", false, "https://seatlake.contoso.com"},
	} {
		if got := PublicURL(tt.public, tt.addr, tt.tls); got != tt.want {
			t.Errorf("PublicURL(%q, %q, %t) = %s, want %s", tt.public, tt.addr, tt.tls, got, tt.want)
		}
	}
}
