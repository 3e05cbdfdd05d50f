package testservices

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob"
)

// AzuriteVersion is the Azurite release `make azurite` installs from the npm registry into .cache/azurite.
const AzuriteVersion = "3.37.0"

// The storage emulator's one account and its key, the same in every Azurite and documented by Microsoft
// ("Use the Azurite emulator for local Azure Storage development", Authorization for tools and SDKs): not a secret.
const (
	AzuriteAccountName = "devstoreaccount1"
	AzuriteAccountKey  = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
)

// Azurite is a private Azure Blob Storage emulator on a loopback port, with an empty container. t.Cleanup stops it.
type Azurite struct {
	// ConnectionString is what the Azure SDKs take:
	// DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=…;BlobEndpoint=http://127.0.0.1:<port>/devstoreaccount1;
	ConnectionString string
	AccountName      string
	AccountKey       string
	BlobEndpoint     string // http://127.0.0.1:<port>/devstoreaccount1 (the account is the first path segment)
	Container        string // created by StartAzurite
	Port             int

	proc *process
}

// Env is the environment a child process (a `seatlake run` under test) needs to reach this Azurite through the
// Azure SDK's connection string variable.
func (a *Azurite) Env() []string {
	return []string{"AZURE_STORAGE_CONNECTION_STRING=" + a.ConnectionString}
}

// azuriteBin finds azurite-blob: SEATLAKE_AZURITE (the program, or the folder npm installed into), the repository's
// .cache/azurite (make azurite), or PATH.
func azuriteBin() (string, bool) {
	isFile := func(p string) bool { st, err := os.Stat(p); return err == nil && !st.IsDir() }
	if p := os.Getenv("SEATLAKE_AZURITE"); p != "" {
		if st, err := os.Stat(p); err == nil && st.IsDir() {
			p = filepath.Join(p, "node_modules", ".bin", "azurite-blob")
		}
		return p, isFile(p)
	}
	if root, err := repoRoot(); err == nil {
		if p := filepath.Join(root, ".cache", "azurite", "node_modules", ".bin", "azurite-blob"); isFile(p) {
			return p, true
		}
	}
	if p, err := exec.LookPath("azurite-blob"); err == nil {
		return p, true
	}
	return "", false
}

// StartAzurite starts Azurite's blob service for the test and returns once it answers, with Container created.
// Telemetry is off (Azurite otherwise reports to an outside host).
func StartAzurite(t testing.TB) *Azurite {
	t.Helper()
	bin, ok := azuriteBin()
	if !ok {
		unavailable(t, "Azurite", "run `make azurite` (npm install --prefix .cache/azurite azurite@"+AzuriteVersion+
			"), or set SEATLAKE_AZURITE to azurite-blob")
	}
	if _, err := exec.LookPath("node"); err != nil {
		unavailable(t, "Azurite", "it needs Node.js: apt-get install nodejs")
	}
	dir := t.TempDir()
	a := &Azurite{AccountName: AzuriteAccountName, AccountKey: AzuriteAccountKey, Container: "seatlake"}
	for attempt := 1; ; attempt++ {
		port, err := freePort()
		if err != nil {
			t.Fatalf("azurite: %v", err)
		}
		a.Port = port
		a.BlobEndpoint = fmt.Sprintf("http://127.0.0.1:%d/%s", port, a.AccountName)
		cmd := exec.Command(bin, "--blobHost", "127.0.0.1", "--blobPort", strconv.Itoa(port),
			"--location", filepath.Join(dir, "data"), "--disableTelemetry", "--skipApiVersionCheck", "--loose")
		cmd.Dir = dir
		cmd.Env = minimalEnv(dir)
		logPath := filepath.Join(dir, fmt.Sprintf("azurite-%d.log", attempt))
		proc, err := startProcess("azurite", cmd, logPath, syscall.SIGTERM)
		if err != nil {
			t.Fatalf("azurite: %v", err)
		}
		err = proc.waitReady(readyTimeout, a.ready)
		if err == nil {
			a.proc = proc
			break
		}
		_ = proc.stop(syscall.SIGKILL)
		if attempt < 3 && addressInUse(logPath) {
			continue
		}
		t.Fatalf("azurite: %v\n%s", err, proc.logTail())
	}
	t.Cleanup(func() {
		if err := a.proc.stop(syscall.SIGTERM); err != nil {
			t.Errorf("azurite: %v", err)
		}
	})
	a.ConnectionString = fmt.Sprintf("DefaultEndpointsProtocol=http;AccountName=%s;AccountKey=%s;BlobEndpoint=%s;",
		a.AccountName, a.AccountKey, a.BlobEndpoint)
	client, err := azblob.NewClientFromConnectionString(a.ConnectionString, nil)
	if err != nil {
		t.Fatalf("azurite: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := client.CreateContainer(ctx, a.Container, nil); err != nil {
		t.Fatalf("azurite: creating container %q: %v\n%s", a.Container, err, a.proc.logTail())
	}
	return a
}

// ready: any HTTP answer from the account's endpoint (403 without credentials) means the service is listening.
func (a *Azurite) ready() error {
	c := http.Client{Timeout: 2 * time.Second}
	resp, err := c.Get(a.BlobEndpoint + "?comp=list")
	if err != nil {
		return err
	}
	resp.Body.Close()
	return nil
}
