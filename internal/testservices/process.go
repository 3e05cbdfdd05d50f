package testservices

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// RequireEnv is the environment variable that turns "this component is not installed here" from a skip into a
// failure. .ci/run sets it to 1, so a CI machine missing a component fails instead of passing on skipped tests.
const RequireEnv = "SEATLAKE_REQUIRE_SERVICES"

// readyTimeout bounds how long a server may take to accept requests. Generous: two cores are shared by the whole
// test suite, and node and Python start slowly under load.
const readyTimeout = 90 * time.Second

// stopTimeout bounds a graceful stop before the process group is killed.
const stopTimeout = 30 * time.Second

// unavailable ends the test because a component's program is not on this machine: a skip naming the component and
// how to install it, or, under SEATLAKE_REQUIRE_SERVICES=1, a failure.
func unavailable(t testing.TB, what, install string) {
	t.Helper()
	if os.Getenv(RequireEnv) == "1" {
		t.Fatalf("%s is not available: %s (%s=1: a missing service is a failure)", what, install, RequireEnv)
	}
	t.Skipf("%s is not available, skipping: %s (set %s=1 to make this a failure)", what, install, RequireEnv)
}

// UnavailableError says a component cannot start because its program is not on this machine, and how to install
// it. The Run functions return it; the Start functions turn it into a skip (or a failure under RequireEnv=1).
type UnavailableError struct {
	What    string // the component: PostgreSQL, Azurite, moto_server
	Install string // how to get it
}

func (e *UnavailableError) Error() string {
	return fmt.Sprintf("%s is not available: %s", e.What, e.Install)
}

// failStart ends the test after a Run function's error: a skip (or failure) for an *UnavailableError, a failure
// with the error otherwise.
func failStart(t testing.TB, err error) {
	t.Helper()
	var u *UnavailableError
	if errors.As(err, &u) {
		unavailable(t, u.What, u.Install)
	}
	t.Fatal(err)
}

// forTest runs a Run function for a test: an error ends the test (a skip when the program is missing, see
// failStart) and t.Cleanup stops what it started.
func forTest[T any](t testing.TB, run func() (T, func() error, error)) T {
	t.Helper()
	v, stop, err := run()
	if err != nil {
		failStart(t, err)
	}
	t.Cleanup(func() {
		if err := stop(); err != nil {
			t.Error(err)
		}
	})
	return v
}

// freePort returns a TCP port on 127.0.0.1 that nothing listened on a moment ago. Another process may take it
// before the server binds it: the starters retry on "address in use".
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("finding a free loopback port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// freePortRun returns a port such that it and the n-1 ports after it were free a moment ago, below the kernel's
// ephemeral range: the kernel hands ports of that range to every outgoing connection (the tests' own, other
// packages' tests running beside them), so the ports right after a free one there are often taken a moment later.
// Without such a run it falls back to a free port of the kernel's choice.
func freePortRun(n int) (int, error) {
	lo, hi := 20000, 32768
	if b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range"); err == nil {
		var first, last int
		if _, err := fmt.Sscan(string(b), &first, &last); err == nil {
			hi = first
		}
	}
	lo = min(lo, hi/2)
	for range 50 {
		if hi-lo <= n {
			break
		}
		base := lo + rand.IntN(hi-lo-n)
		if portsFree(base, n) {
			return base, nil
		}
	}
	return freePort()
}

// portsFree reports whether n loopback ports from base can be listened on.
func portsFree(base, n int) bool {
	for p := base; p < base+n; p++ {
		l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", p))
		if err != nil {
			return false
		}
		l.Close()
	}
	return true
}

// OnFreePort starts a test's own server on a port nothing listened on a moment ago and returns that port. start
// reports whether the server started there; one that also takes the ports after its own (the simulator's
// environments and emulators: up to eight) may find one of them taken, so start is tried on another run of free
// ports, five in all, before the test fails.
func OnFreePort(t testing.TB, start func(port int) bool) int {
	t.Helper()
	for try := 1; try <= 5; try++ {
		port, err := freePortRun(8)
		if err != nil {
			t.Fatal(err)
		}
		if start(port) {
			return port
		}
	}
	t.Fatal("the server did not start on 5 free ports")
	return 0
}

// process is one server started for a test, the leader of its own process group, writing its output to a log file.
type process struct {
	name    string
	cmd     *exec.Cmd
	logPath string
	done    chan struct{} // closed once the process has exited and been reaped
	waitErr error         // the exit status, valid once done is closed
}

// startProcess starts cmd in its own process group with its output appended to logPath. The kernel sends it
// deathSignal if the test binary dies first (a -timeout panic runs no t.Cleanup).
func startProcess(name string, cmd *exec.Cmd, logPath string, deathSignal syscall.Signal) (*process, error) {
	logFile, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("starting %s: %w", name, err)
	}
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Setpgid = true
	cmd.SysProcAttr.Pdeathsig = deathSignal
	if err := cmd.Start(); err != nil {
		logFile.Close()
		return nil, fmt.Errorf("starting %s: %w", name, err)
	}
	p := &process{name: name, cmd: cmd, logPath: logPath, done: make(chan struct{})}
	go func() {
		p.waitErr = cmd.Wait()
		logFile.Close()
		close(p.done)
	}()
	return p, nil
}

func (p *process) pid() int { return p.cmd.Process.Pid }

func (p *process) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// waitReady polls ready every 100 ms until it succeeds, the process exits, or the timeout passes.
func (p *process) waitReady(timeout time.Duration, ready func() error) error {
	deadline := time.Now().Add(timeout)
	for {
		err := ready()
		if err == nil {
			return nil
		}
		if p.exited() {
			return fmt.Errorf("%s exited before it was ready (%v)", p.name, p.waitErr)
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s not ready after %s: %w", p.name, timeout, err)
		}
		select {
		case <-p.done:
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// stop asks the process group to end with sig, waits up to stopTimeout, then kills whatever is left of the group.
// It returns an error when the group had to be killed.
func (p *process) stop(sig syscall.Signal) error {
	pgid := p.pid()
	if !p.exited() {
		_ = syscall.Kill(-pgid, sig)
	}
	var err error
	select {
	case <-p.done:
	case <-time.After(stopTimeout):
		err = fmt.Errorf("%s did not stop within %s of %s: killed", p.name, stopTimeout, sig)
	}
	// Children of the leader (PostgreSQL's backends, a shell's child) may outlive it: end the whole group. Once the
	// leader is reaped, a signal the group still receives means something was left behind.
	if e := syscall.Kill(-pgid, syscall.SIGKILL); e == nil && err == nil {
		err = fmt.Errorf("%s: processes were left in its group after it stopped: killed", p.name)
	}
	<-p.done
	return err
}

// logTail returns the last lines of the process's log, for an error message.
func (p *process) logTail() string { return fileTail(p.logPath, 20) }

func fileTail(path string, lines int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Sprintf("(no log: %v)", err)
	}
	all := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(all) > lines {
		all = all[len(all)-lines:]
	}
	return filepath.Base(path) + ":\n\t" + strings.Join(all, "\n\t")
}

// startOnFreePort runs launch on a port nothing listened on a moment ago. launch starts the server on port (its
// log at logPath, attempt numbering the tries) and waits until it is ready, leaving nothing running when it fails;
// another process may take the port before the server binds it, so a failure whose log says the address is in use
// is tried again on another port, up to three tries.
func startOnFreePort(launch func(port, attempt int) (logPath string, err error)) error {
	for attempt := 1; ; attempt++ {
		port, err := freePort()
		if err != nil {
			return err
		}
		logPath, err := launch(port, attempt)
		if err == nil {
			return nil
		}
		if attempt < 3 && addressInUse(logPath) {
			continue
		}
		return err
	}
}

// startReady starts cmd as startProcess does (SIGTERM if the test binary dies) and waits until ready answers; when
// it does not, the process is killed and the error carries the end of its log.
func startReady(name string, cmd *exec.Cmd, logPath string, ready func() error) (*process, error) {
	proc, err := startProcess(name, cmd, logPath, syscall.SIGTERM)
	if err != nil {
		return nil, err
	}
	if err := proc.waitReady(readyTimeout, ready); err != nil {
		_ = proc.stop(syscall.SIGKILL)
		return nil, fmt.Errorf("%w\n%s", err, proc.logTail())
	}
	return proc, nil
}

// addressInUse reports whether a server's log says its port was taken between freePort and its bind.
func addressInUse(logPath string) bool {
	b, _ := os.ReadFile(logPath)
	s := strings.ToLower(string(b))
	return strings.Contains(s, "address already in use") || strings.Contains(s, "eaddrinuse")
}

// dialable reports whether something accepts TCP connections on 127.0.0.1:port.
func dialable(port int) error {
	c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), time.Second)
	if err != nil {
		return err
	}
	return c.Close()
}

// repoRoot is the folder holding the module's go.mod, found upwards from the test's working directory (a package
// folder under go test).
func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.mod above the working directory")
		}
		dir = parent
	}
}

// minimalEnv is the environment handed to the servers: enough to run, nothing from the developer's shell that
// could point them elsewhere (PGHOST, AWS_PROFILE, proxies).
func minimalEnv(home string, extra ...string) []string {
	env := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + home, "LC_ALL=C", "LANG=C", "TZ=UTC"}
	return append(env, extra...)
}
