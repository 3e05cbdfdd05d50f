package warehouse_test

import (
	"bufio"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/seatlake/seatlake/internal/testservices"
	. "github.com/seatlake/seatlake/load/warehouse"
)

// TestPostgresStoppedMidRun stops the PostgreSQL catalog's server in the middle of a run's commit: once its data
// files are written, or between its two table commits. The commit fails with an error naming the PostgreSQL catalog,
// its address and the refused connection, within bounded time; readers and the watermark stay on the previous
// night. With the server started again (same data directory, same port), the next run completes the night
// exactly: nothing doubled, nothing lost.
func TestPostgresStoppedMidRun(t *testing.T) {
	pg := testservices.StartPostgres(t)
	t.Setenv("PGPASSWORD", pg.Password) // the warehouse directory records the catalog without its password
	for i, step := range []string{"sealed", "committed dataverse_users"} {
		t.Run(step, func(t *testing.T) {
			root := t.TempDir()
			cfg := Config{Root: root, Catalog: pg.CreateDatabase(t, []string{"stopped_sealed", "stopped_between"}[i])}
			if err := storageNight(t, cfg, "r1", 2, nil); err != nil {
				t.Fatal(err)
			}
			var stopped time.Time
			err := withWatchdog(t, 50*time.Second, func() error {
				return storageNight(t, cfg, "r2", 3, func(at string) {
					if at == step {
						pg.Stop(t)
						stopped = time.Now()
					}
				})
			})
			t.Logf("failed %s after the server stopped: %v", time.Since(stopped).Round(time.Millisecond), err)
			if err == nil {
				t.Fatal("the run committed with its catalog's server stopped")
			}
			addr := fmt.Sprintf("%s:%d", pg.Host, pg.Port)
			for _, want := range []string{"PostgreSQL", addr, "connection refused"} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("the error does not name %q: %v", want, err)
				}
			}
			pg.Start(t)
			afterFailedRun(t, cfg)
		})
	}
}

// TestPostgresRestartedMidRun restarts the PostgreSQL catalog's server once a run's data files are written: the
// connections the run holds are dead, and its commit goes through on new ones.
func TestPostgresRestartedMidRun(t *testing.T) {
	pg := testservices.StartPostgres(t)
	t.Setenv("PGPASSWORD", pg.Password)
	root := t.TempDir()
	cfg := Config{Root: root, Catalog: pg.URL}
	if err := storageNight(t, cfg, "r1", 2, nil); err != nil {
		t.Fatal(err)
	}
	err := withWatchdog(t, 50*time.Second, func() error {
		return storageNight(t, cfg, "r2", 3, func(at string) {
			if at == "sealed" {
				pg.Stop(t)
				pg.Start(t)
			}
		})
	})
	if err != nil {
		t.Fatalf("a run whose catalog restarted before its commit: %v", err)
	}
	if got, want := counts(t, root), "3 r2 / 3 r2"; got != want {
		t.Errorf("the views show %s, want %s", got, want)
	}
}

// pgAnswerDropper is a TCP proxy in front of PostgreSQL on 127.0.0.1. Once armed, it closes the connection that is
// about to hear "COMMIT" for a transaction that updated a row (the SQL catalog's commit of a table: UPDATE
// iceberg_tables …, then COMMIT) instead of passing that answer on: the commit landed, the client hears a broken
// connection. It reads the server's side as PostgreSQL's protocol messages (type byte, length, body).
type pgAnswerDropper struct {
	ln     net.Listener
	target string

	mu      sync.Mutex
	armed   bool
	dropped int
}

func newPGAnswerDropper(t *testing.T, target string) *pgAnswerDropper {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &pgAnswerDropper{ln: ln, target: target}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go p.serve(c)
		}
	}()
	return p
}

func (p *pgAnswerDropper) serve(client net.Conn) {
	defer client.Close()
	server, err := net.Dial("tcp", p.target)
	if err != nil {
		return
	}
	defer server.Close()
	go func() {
		_, _ = io.Copy(server, client)
		server.Close()
	}()
	r := bufio.NewReader(server)
	last := ""
	for {
		head := make([]byte, 5)
		if _, err := io.ReadFull(r, head); err != nil {
			return
		}
		body := make([]byte, int(binary.BigEndian.Uint32(head[1:]))-4)
		if _, err := io.ReadFull(r, body); err != nil {
			return
		}
		if head[0] == 'C' { // CommandComplete: the command's tag
			tag := strings.TrimRight(string(body), "\x00")
			p.mu.Lock()
			drop := p.armed && tag == "COMMIT" && strings.HasPrefix(last, "UPDATE")
			if drop {
				p.armed = false
				p.dropped++
			}
			p.mu.Unlock()
			if drop {
				return // the connection closes with the answer unsent
			}
			last = tag
		}
		if _, err := client.Write(append(head, body...)); err != nil {
			return
		}
	}
}

// TestPostgresCommitAnswerLost: PostgreSQL commits a table's new metadata and the answer never reaches the run (its
// connection breaks). The run looks the commit up, finds it, and does not commit it twice: one snapshot per run,
// the night's rows once.
func TestPostgresCommitAnswerLost(t *testing.T) {
	pg := testservices.StartPostgres(t)
	t.Setenv("PGPASSWORD", pg.Password)
	proxy := newPGAnswerDropper(t, fmt.Sprintf("%s:%d", pg.Host, pg.Port))
	root := t.TempDir()
	cfg := Config{Root: root, Catalog: strings.Replace(pg.URL, fmt.Sprintf("%s:%d", pg.Host, pg.Port), proxy.ln.Addr().String(), 1)}
	if err := storageNight(t, cfg, "r1", 2, nil); err != nil {
		t.Fatal(err)
	}
	err := storageNight(t, cfg, "r2", 3, func(at string) {
		if at == "sealed" {
			proxy.mu.Lock()
			proxy.armed = true
			proxy.mu.Unlock()
		}
	})
	if err != nil {
		t.Fatalf("a commit whose answer was lost: %v", err)
	}
	if proxy.dropped != 1 {
		t.Fatalf("%d answers dropped, want 1", proxy.dropped)
	}
	if got, want := counts(t, root), "3 r2 / 3 r2"; got != want {
		t.Errorf("the views show %s, want %s", got, want)
	}
	w, err := OpenConfig(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	for name, want := range map[string]int{"dataverse_users": 2, "finops_user_roles": 2, CommitsTable.Name: 2} {
		if n, err := SnapshotCount(context.Background(), w, name); err != nil || n != want {
			t.Errorf("%s: %d snapshots (%v), want %d: one per run", name, n, err, want)
		}
	}
}
