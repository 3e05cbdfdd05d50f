package main

import (
	"bufio"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/seatlake/seatlake/internal/testservices"
)

// With a fixed --addr the asset emulators, like the Dynamics environments, are served on the ports right after it,
// and their credentials come from the seed: a second start prints the very same lines, so a config file written
// once keeps working.
func TestCLISimFixedAddrGivesStableAssetEmulators(t *testing.T) {
	start := func(port int) (lines map[string]string, ok bool) {
		sim := command(nil, "sim", "--addr", fmt.Sprintf("127.0.0.1:%d", port), "--users", "50", "--days", "1",
			"--throttle", "off", "--dataverse-envs", "1", "--finops-envs", "1", "--log-level", "error")
		out, _ := sim.StdoutPipe()
		if err := sim.Start(); err != nil {
			t.Fatal(err)
		}
		defer func() {
			sim.Process.Signal(os.Interrupt)
			sim.Wait()
		}()
		lines = map[string]string{}
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			key, _, _ := strings.Cut(sc.Text(), "=")
			lines[key] = sc.Text()
			if key == "servicenow_url" {
				return lines, true
			}
		}
		return lines, false // it could not start: a port after --addr's was taken
	}
	var first map[string]string
	port := testservices.OnFreePort(t, func(port int) (ok bool) {
		first, ok = start(port)
		return ok
	})
	wantAssets := fmt.Sprintf("jsm_assets_url=http://127.0.0.1:%d jsm_assets_token=sim-assets-", port+3)
	wantSN := fmt.Sprintf("servicenow_url=http://127.0.0.1:%d servicenow_user=seatlake.integration servicenow_password=sim-", port+4)
	if !strings.HasPrefix(first["jsm_assets_url"], wantAssets) || !strings.HasPrefix(first["servicenow_url"], wantSN) {
		t.Fatalf("first start:\n%s\n%s\nwant the ports after the 2 environments' (%d, %d)", first["jsm_assets_url"], first["servicenow_url"], port+3, port+4)
	}
	time.Sleep(100 * time.Millisecond) // the first one's ports are free again
	again, ok := start(port)
	if !ok {
		t.Fatalf("second start on the same --addr failed: %v", again)
	}
	for _, key := range []string{"tenant_id", "url", "jsm_assets_url", "servicenow_url"} {
		if again[key] != first[key] {
			t.Errorf("second start: %q, first %q", again[key], first[key])
		}
	}
}
