package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/seatlake/seatlake/internal/tenantsim"
)

// Certificate credentials end to end: the simulator has the app's certificate registered; a run holding that
// certificate and its key (no secret anywhere) gets its tokens and lands the tenant; a different certificate is
// refused with the platform's AADSTS code; a key file others can read is refused before any request.
func TestCLICertificateCredential(t *testing.T) {
	pemBytes, cert, err := tenantsim.NewClientCertificate("seatlake test", time.Now().AddDate(0, 1, 0))
	if err != nil {
		t.Fatal(err)
	}
	_, base, env := startSim(t, func(c *tenantsim.Config) { c.ClientCertificate = cert })
	dir := t.TempDir()
	good := filepath.Join(dir, "app.pem")
	os.WriteFile(good, pemBytes, 0o600)
	noSecret := append(append([]string{}, env...), "AZURE_CLIENT_SECRET=")
	wh := t.TempDir()
	if r := seatlake(t, noSecret, "run", "--quiet", "--warehouse", wh, "--client-certificate-file", good); r.code != 0 {
		t.Fatalf("run with the certificate: exit %d: %s", r.code, r.stderr)
	}
	if got, want := queryCount(t, wh, "graph_users"), truth(t, base)["graph_users"]; got != want {
		t.Errorf("graph_users %d, want %d", got, want)
	}

	otherPEM, _, _ := tenantsim.NewClientCertificate("someone else", time.Now().AddDate(0, 1, 0))
	other := filepath.Join(dir, "other.pem")
	os.WriteFile(other, otherPEM, 0o600)
	r := seatlake(t, append(noSecret, "AZURE_CLIENT_CERTIFICATE_PATH="+other), "run", "--warehouse", t.TempDir())
	if r.code != 1 || !strings.Contains(r.stderr, "AADSTS700027") || !strings.Contains(r.stderr, "not the one uploaded to the app registration") {
		t.Errorf("a wrong certificate: exit %d, %s", r.code, r.stderr)
	}
	expiredPEM, _, _ := tenantsim.NewClientCertificate("expired", time.Now().Add(-time.Minute))
	expired := filepath.Join(dir, "expired.pem")
	os.WriteFile(expired, expiredPEM, 0o600)
	if r := seatlake(t, noSecret, "run", "--warehouse", t.TempDir(), "--client-certificate-file", expired); r.code != 2 || !strings.Contains(r.stderr, "expired on") {
		t.Errorf("an expired certificate: exit %d, %s", r.code, r.stderr)
	}
	os.Chmod(good, 0o644)
	r = seatlake(t, noSecret, "run", "--warehouse", t.TempDir(), "--client-certificate-file", good)
	if r.code != 2 || !strings.Contains(r.stderr, "chmod 600") {
		t.Errorf("a readable key file: exit %d, %s", r.code, r.stderr)
	}
}

// Managed identity: on an Azure host the SDKs find the identity endpoint in IDENTITY_ENDPOINT and IDENTITY_HEADER;
// the simulator serves one, and a run with --managed-identity (no secret anywhere) lands the tenant through it.
func TestCLIManagedIdentity(t *testing.T) {
	sim, base, env := startSim(t, nil)
	_, _, secret := sim.Credentials()
	mi := append(append([]string{}, env...), "AZURE_CLIENT_SECRET=", "IDENTITY_ENDPOINT="+base+"/_sim/managed-identity/token", "IDENTITY_HEADER="+secret)
	wh := t.TempDir()
	if r := seatlake(t, mi, "run", "--quiet", "--warehouse", wh, "--managed-identity"); r.code != 0 {
		t.Fatalf("run with the managed identity: exit %d: %s", r.code, r.stderr)
	}
	if got, want := queryCount(t, wh, "graph_users"), truth(t, base)["graph_users"]; got != want {
		t.Errorf("graph_users %d, want %d", got, want)
	}
	wrong := append(append([]string{}, env...), "AZURE_CLIENT_SECRET=", "IDENTITY_ENDPOINT="+base+"/_sim/managed-identity/token", "IDENTITY_HEADER=not-it")
	if r := seatlake(t, wrong, "run", "--warehouse", t.TempDir(), "--managed-identity"); r.code != 1 || !strings.Contains(r.stderr, "managed identity") {
		t.Errorf("a wrong identity header: exit %d, %s", r.code, r.stderr)
	}
}
