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
	return forTest(t, RunAzurite)
}

// RunAzurite starts Azurite as StartAzurite does, for a program that is not a test (make bench): stop ends it
// and removes its folder. An *UnavailableError says Azurite or Node.js is not on this machine.
func RunAzurite() (a *Azurite, stop func() error, err error) {
	bin, err := azuriteProgram()
	if err != nil {
		return nil, nil, err
	}
	dir, err := os.MkdirTemp("", "seatlake-azurite-")
	if err != nil {
		return nil, nil, fmt.Errorf("azurite: %w", err)
	}
	if a, err = startAzurite(bin, dir); err != nil {
		os.RemoveAll(dir)
		return nil, nil, err
	}
	return a, func() error {
		err := a.proc.stop(syscall.SIGTERM)
		if e := os.RemoveAll(dir); e != nil && err == nil {
			err = e
		}
		if err != nil {
			return fmt.Errorf("azurite: %w", err)
		}
		return nil
	}, nil
}

// azuriteProgram is azurite-blob, or an *UnavailableError saying how to install what is missing.
func azuriteProgram() (string, error) {
	bin, ok := azuriteBin()
	if !ok {
		return "", &UnavailableError{What: "Azurite", Install: "run `make azurite` (npm install --prefix .cache/azurite azurite@" +
			AzuriteVersion + "), or set SEATLAKE_AZURITE to azurite-blob"}
	}
	if _, err := exec.LookPath("node"); err != nil {
		return "", &UnavailableError{What: "Azurite", Install: "it needs Node.js: apt-get install nodejs"}
	}
	return bin, nil
}

// startAzurite starts Azurite (the program bin) with its files in dir and creates the container; on an error
// nothing is left running.
func startAzurite(bin, dir string) (*Azurite, error) {
	a := &Azurite{AccountName: AzuriteAccountName, AccountKey: AzuriteAccountKey, Container: "seatlake"}
	err := startOnFreePort(func(port, attempt int) (string, error) {
		a.Port = port
		a.BlobEndpoint = fmt.Sprintf("http://127.0.0.1:%d/%s", port, a.AccountName)
		cmd := exec.Command(bin, "--blobHost", "127.0.0.1", "--blobPort", strconv.Itoa(port),
			"--location", filepath.Join(dir, "data"), "--disableTelemetry", "--skipApiVersionCheck", "--loose")
		cmd.Dir = dir
		cmd.Env = minimalEnv(dir)
		logPath := filepath.Join(dir, fmt.Sprintf("azurite-%d.log", attempt))
		proc, err := startReady("azurite", cmd, logPath, a.ready)
		a.proc = proc
		return logPath, err
	})
	if err != nil {
		return nil, fmt.Errorf("azurite: %w", err)
	}
	a.ConnectionString = fmt.Sprintf("DefaultEndpointsProtocol=http;AccountName=%s;AccountKey=%s;BlobEndpoint=%s;",
		a.AccountName, a.AccountKey, a.BlobEndpoint)
	fail := func(err error) (*Azurite, error) {
		_ = a.proc.stop(syscall.SIGKILL)
		return nil, err
	}
	client, err := azblob.NewClientFromConnectionString(a.ConnectionString, nil)
	if err != nil {
		return fail(fmt.Errorf("azurite: %w", err))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := client.CreateContainer(ctx, a.Container, nil); err != nil {
		return fail(fmt.Errorf("azurite: creating container %q: %w\n%s", a.Container, err, a.proc.logTail()))
	}
	return a, nil
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
