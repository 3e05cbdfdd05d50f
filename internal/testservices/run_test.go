package testservices

import (
	"database/sql"
	"errors"
	"testing"
)

// The Run functions serve a program that is not a test (make bench): the server answers, and stop leaves no
// process, no listening port and no folder behind; a missing program is an *UnavailableError, not a skip.
func TestRunWithoutATest(t *testing.T) {
	p, stop, err := RunPostgres()
	if err != nil {
		failStart(t, err)
	}
	left := stopped{name: "postgres", pgid: p.proc.pid(), port: p.Port, dir: p.dir}
	url, err := p.AddDatabase("bench_1")
	if err != nil {
		stop()
		t.Fatal(err)
	}
	db, err := sql.Open("pgx", url)
	if err == nil {
		err = db.Ping()
		db.Close()
	}
	if err != nil {
		t.Errorf("connecting to the added database: %v", err)
	}
	if err := stop(); err != nil {
		t.Errorf("stop: %v", err)
	}
	assertGone(t, left)

	a, stop, err := RunAzurite()
	if err != nil {
		failStart(t, err)
	}
	left = stopped{name: "azurite", pgid: a.proc.pid(), port: a.Port, dir: a.proc.cmd.Dir}
	if err := a.ready(); err != nil {
		t.Errorf("azurite does not answer: %v", err)
	}
	if err := stop(); err != nil {
		t.Errorf("stop: %v", err)
	}
	assertGone(t, left)

	t.Setenv("SEATLAKE_PG_BIN", t.TempDir()+"/nothing-here")
	if _, _, err := RunPostgres(); !errors.As(err, new(*UnavailableError)) {
		t.Errorf("without PostgreSQL's programs: %v, want an *UnavailableError", err)
	}
	t.Setenv("SEATLAKE_AZURITE", t.TempDir()+"/nothing-here")
	if _, _, err := RunAzurite(); !errors.As(err, new(*UnavailableError)) {
		t.Errorf("without Azurite: %v, want an *UnavailableError", err)
	}
}
