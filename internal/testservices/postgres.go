package testservices

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// Postgres is a private PostgreSQL server on a loopback port: its own data folder (initdb in a temporary folder),
// a login role and a database owned by it, password authentication over TCP. t.Cleanup stops it with
// `pg_ctl stop -m fast` and removes its folder.
type Postgres struct {
	URL      string // postgres://seatlake:<password>@127.0.0.1:<port>/seatlake?sslmode=disable
	Host     string // 127.0.0.1
	Port     int
	User     string // seatlake: owns Database; not a superuser
	Password string
	Database string

	// SocketDir holds the server's unix socket; the superuser "postgres" connects through it without a password.
	SocketDir string

	bin  string // initdb, postgres, pg_ctl, psql
	dir  string // the temporary folder: data/, the socket, postgres.log
	data string
	cred *syscall.Credential // the unprivileged user the server runs as when the tests run as root; nil otherwise
	proc *process
}

// pgBinDir finds a folder with PostgreSQL's server programs: SEATLAKE_PG_BIN, Debian's 15, Debian's newest other
// version, or the folder of an initdb on PATH.
func pgBinDir() (string, bool) {
	has := func(dir string) bool {
		for _, p := range []string{"initdb", "postgres", "pg_ctl", "psql"} {
			if st, err := os.Stat(filepath.Join(dir, p)); err != nil || st.IsDir() {
				return false
			}
		}
		return true
	}
	if dir := os.Getenv("SEATLAKE_PG_BIN"); dir != "" {
		return dir, has(dir)
	}
	if dir := "/usr/lib/postgresql/15/bin"; has(dir) {
		return dir, true
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(dirs, func(i, j int) bool { // newest major version first
		vi, _ := strconv.Atoi(filepath.Base(filepath.Dir(dirs[i])))
		vj, _ := strconv.Atoi(filepath.Base(filepath.Dir(dirs[j])))
		return vi > vj
	})
	for _, dir := range dirs {
		if has(dir) {
			return dir, true
		}
	}
	if p, err := exec.LookPath("initdb"); err == nil && has(filepath.Dir(p)) {
		return filepath.Dir(p), true
	}
	return "", false
}

// serverUser is who runs initdb and the server: initdb refuses root, so under root the "postgres" user Debian's
// package creates (or "nobody"); otherwise the current user.
func serverUser() (*syscall.Credential, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	for _, name := range []string{"postgres", "nobody"} {
		u, err := user.Lookup(name)
		if err != nil {
			continue
		}
		uid, err1 := strconv.ParseUint(u.Uid, 10, 32)
		gid, err2 := strconv.ParseUint(u.Gid, 10, 32)
		if err1 != nil || err2 != nil {
			continue
		}
		return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), Groups: []uint32{}}, nil
	}
	return nil, fmt.Errorf("running as root and neither a postgres nor a nobody user exists to run PostgreSQL as")
}

// StartPostgres starts a private PostgreSQL server for the test and returns once it accepts connections, with a
// database and a role ready for p.URL.
func StartPostgres(t testing.TB) *Postgres {
	t.Helper()
	return forTest(t, RunPostgres)
}

// RunPostgres starts a private PostgreSQL server as StartPostgres does, for a program that is not a test (make
// bench): stop ends it (if it is running) and removes its folder. An *UnavailableError says PostgreSQL's programs
// are not on this machine, or there is no user to run them as.
func RunPostgres() (p *Postgres, stop func() error, err error) {
	bin, ok := pgBinDir()
	if !ok {
		return nil, nil, &UnavailableError{What: "PostgreSQL", Install: "apt-get install postgresql (its server programs go to " +
			"/usr/lib/postgresql/15/bin), or set SEATLAKE_PG_BIN to a folder holding initdb, postgres, pg_ctl and psql"}
	}
	cred, err := serverUser()
	if err != nil {
		return nil, nil, &UnavailableError{What: "PostgreSQL", Install: err.Error()}
	}
	// Not a test's TempDir: its parent folder is private to the test's user, and the server runs as another one.
	dir, err := os.MkdirTemp("", "seatlake-pg-")
	if err != nil {
		return nil, nil, fmt.Errorf("postgres: %w", err)
	}
	p = &Postgres{
		Host: "127.0.0.1", User: "seatlake", Password: randomHex(12), Database: "seatlake",
		SocketDir: dir, bin: bin, dir: dir, data: filepath.Join(dir, "data"), cred: cred,
	}
	stop = func() error {
		var err error
		if p.proc != nil && !p.proc.exited() {
			err = p.stop()
		}
		if e := os.RemoveAll(dir); e != nil && err == nil { // after the server has stopped
			err = e
		}
		if err != nil {
			return fmt.Errorf("postgres: %w", err)
		}
		return nil
	}
	fail := func(err error) (*Postgres, func() error, error) {
		_ = stop()
		return nil, nil, fmt.Errorf("postgres: %w", err)
	}
	if len(dir) > 80 {
		return fail(fmt.Errorf("the temporary folder %s is too long for a unix socket path (TMPDIR)", dir))
	}
	if cred != nil {
		if err := os.Chown(dir, int(cred.Uid), int(cred.Gid)); err != nil {
			return fail(fmt.Errorf("giving %s to the server's user: %w", dir, err))
		}
	}
	// Password authentication over TCP as a deployed catalog has; trust on the socket for the set-up below.
	// --no-sync: the folder is thrown away with the test.
	if out, err := p.command("initdb", "-D", p.data, "-U", "postgres", "-E", "UTF8", "--locale=C",
		"--auth-local=trust", "--auth-host=scram-sha-256", "--no-sync").CombinedOutput(); err != nil {
		return fail(fmt.Errorf("initdb in %s: %w\n%s", p.data, err, out))
	}
	if err := startOnFreePort(func(port, _ int) (string, error) {
		p.Port = port
		return filepath.Join(dir, "postgres.log"), p.start()
	}); err != nil {
		return fail(err)
	}
	if err := p.psql(fmt.Sprintf("CREATE ROLE %s LOGIN PASSWORD '%s'", p.User, p.Password)); err != nil {
		return fail(err)
	}
	if p.URL, err = p.AddDatabase(p.Database); err != nil {
		return fail(err)
	}
	return p, stop, nil
}

// CreateDatabase creates another database owned by p.User (a second catalog, say) and returns its URL.
func (p *Postgres) CreateDatabase(t testing.TB, name string) string {
	t.Helper()
	u, err := p.AddDatabase(name)
	if err != nil {
		t.Fatalf("postgres: %v", err)
	}
	return u
}

// AddDatabase is CreateDatabase for a program that is not a test.
func (p *Postgres) AddDatabase(name string) (string, error) {
	if !regexp.MustCompile(`^[a-z_][a-z0-9_]*$`).MatchString(name) {
		return "", fmt.Errorf("database name %q: use lower-case letters, digits and _", name)
	}
	if err := p.psql(fmt.Sprintf("CREATE DATABASE %s OWNER %s", name, p.User)); err != nil {
		return "", err
	}
	u := url.URL{
		Scheme: "postgres", User: url.UserPassword(p.User, p.Password),
		Host: fmt.Sprintf("%s:%d", p.Host, p.Port), Path: "/" + name, RawQuery: "sslmode=disable",
	}
	return u.String(), nil
}

// Stop stops the server as an operator would (`pg_ctl stop -m fast`: open sessions are ended, committed data is
// kept), to test what a client does when its catalog goes away. Start brings it back on the same port.
func (p *Postgres) Stop(t testing.TB) {
	t.Helper()
	if err := p.stop(); err != nil {
		t.Fatalf("postgres: %v", err)
	}
}

// Start starts a stopped server again, with the same data, port and password.
func (p *Postgres) Start(t testing.TB) {
	t.Helper()
	if p.proc != nil && !p.proc.exited() {
		t.Fatalf("postgres: Start: the server is running")
	}
	if err := p.start(); err != nil {
		t.Fatalf("postgres: %v", err)
	}
}

// start runs the postmaster itself rather than through `pg_ctl start`, so that it is the test binary's child and
// gets a parent-death signal (SIGINT: fast shutdown) if the test binary is killed; readiness is what `pg_ctl -w`
// waits for, the "ready" status in postmaster.pid, plus the TCP port answering.
func (p *Postgres) start() error {
	cmd := p.command("postgres", "-D", p.data,
		"-c", "listen_addresses=127.0.0.1",
		"-c", "port="+strconv.Itoa(p.Port),
		"-c", "unix_socket_directories="+p.dir,
		"-c", "max_connections=200", // dozens of concurrent seatlake processes, each with a small pool
		// Throwaway data: skip fsync. A killed server still loses nothing it acknowledged (the OS has it), so
		// synchronous_commit stays on and crash tests keep their meaning.
		"-c", "fsync=off", "-c", "full_page_writes=off")
	proc, err := startProcess("postgres", cmd, filepath.Join(p.dir, "postgres.log"), syscall.SIGINT)
	if err != nil {
		return err
	}
	p.proc = proc
	if err := proc.waitReady(readyTimeout, p.ready); err != nil {
		_ = proc.stop(syscall.SIGQUIT)
		return fmt.Errorf("%w\n%s", err, proc.logTail())
	}
	return nil
}

func (p *Postgres) ready() error {
	b, err := os.ReadFile(filepath.Join(p.data, "postmaster.pid"))
	if err != nil {
		return err
	}
	// Line 8 of postmaster.pid is the server's status (PostgreSQL 10 and later); pg_ctl -w waits for "ready".
	lines := strings.Split(string(b), "\n")
	if len(lines) < 8 || strings.TrimSpace(lines[7]) != "ready" {
		return fmt.Errorf("postmaster.pid does not say ready yet")
	}
	return dialable(p.Port)
}

func (p *Postgres) stop() error {
	if p.proc == nil || p.proc.exited() {
		return nil
	}
	out, err := p.command("pg_ctl", "stop", "-D", p.data, "-m", "fast", "-w", "-t", "60").CombinedOutput()
	if err != nil {
		// The group is ended below either way; say why the graceful stop did not do it.
		err = fmt.Errorf("pg_ctl stop -m fast: %v: %s", err, strings.TrimSpace(string(out)))
	}
	if e := p.proc.stop(syscall.SIGQUIT); e != nil && err == nil {
		err = e
	}
	return err
}

// psql runs one statement as the superuser through the unix socket.
func (p *Postgres) psql(sql string) error {
	out, err := p.command("psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-h", p.dir, "-p", strconv.Itoa(p.Port),
		"-U", "postgres", "-d", "postgres", "-c", sql).CombinedOutput()
	if err != nil {
		return fmt.Errorf("psql %q: %v: %s", redactPassword(sql), err, strings.TrimSpace(string(out)))
	}
	return nil
}

// command is one of PostgreSQL's programs, run as the server's user in its folder.
func (p *Postgres) command(program string, args ...string) *exec.Cmd {
	cmd := exec.Command(filepath.Join(p.bin, program), args...)
	cmd.Dir = p.dir
	cmd.Env = minimalEnv(p.dir, "PGCONNECT_TIMEOUT=10")
	if p.cred != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: p.cred}
	}
	return cmd
}

func redactPassword(sql string) string {
	return regexp.MustCompile(`PASSWORD '[^']*'`).ReplaceAllString(sql, "PASSWORD '…'")
}

func randomHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand does not fail on Linux
	}
	return hex.EncodeToString(b)
}
