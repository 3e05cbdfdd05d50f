package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/seatlake/seatlake/internal/tenantsim"
)

// TestCLICheckOverTLS: against `seatlake sim --tls` without SSL_CERT_FILE, check names the certificate problem and
// the fix on its first line, at once (no token retries, no "check the network"); with SSL_CERT_FILE it passes.
func TestCLICheckOverTLS(t *testing.T) {
	sim, _, env := startSim(t, func(c *tenantsim.Config) { c.TLS = true })
	start := time.Now()
	r := seatlake(t, append(env, "SSL_CERT_FILE="+filepath.Join(t.TempDir(), "none.pem")), "check")
	if r.code != 1 {
		t.Fatalf("without the CA: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	for _, want := range []string{"the server's certificate is signed by an unknown authority", "-> set SSL_CERT_FILE to the file of the CA that signed it (seatlake sim --tls prints it"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("check's output lacks %q:\n%s", want, r.stdout)
		}
	}
	if strings.Contains(r.stdout, "attempts") || strings.Contains(r.stdout, "the network") || strings.Contains(r.stderr, "retrying") {
		t.Errorf("a certificate error was retried or blamed on the network:\n%s\n%s", r.stdout, r.stderr)
	}
	if d := time.Since(start); d > 20*time.Second {
		t.Errorf("check took %s to report a certificate error", d)
	}
	ca := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(ca, sim.CAPEM(), 0o644); err != nil {
		t.Fatal(err)
	}
	if r := seatlake(t, append(env, "SSL_CERT_FILE="+ca), "check"); r.code != 0 {
		t.Fatalf("with SSL_CERT_FILE: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
}
