package testservices

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	_ "github.com/jackc/pgx/v5/stdlib"
)

// stopped is what a started server leaves for the check that its cleanup ended it.
type stopped struct {
	name string
	pgid int
	port int
	dir  string // a folder the cleanup removes ("" for t.TempDir's own)
}

// assertGone checks that nothing of a server outlived its test: no process in its group, its port free, its folder
// removed.
func assertGone(t *testing.T, s stopped) {
	t.Helper()
	if err := syscall.Kill(-s.pgid, 0); !errors.Is(err, syscall.ESRCH) {
		t.Errorf("%s: its process group %d is still alive after the test's cleanup (kill -0: %v)", s.name, s.pgid, err)
	}
	l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", s.port))
	if err != nil {
		t.Errorf("%s: port %d is still taken after the test's cleanup: %v", s.name, s.port, err)
	} else {
		l.Close()
	}
	if s.dir != "" {
		if _, err := os.Stat(s.dir); !os.IsNotExist(err) {
			t.Errorf("%s: its folder %s was not removed: %v", s.name, s.dir, err)
		}
	}
}

// A private PostgreSQL: a client reaches it with the URL alone (password authentication over TCP), a wrong
// password is refused, data survives Stop and Start, and nothing is left when the test ends.
func TestPostgres(t *testing.T) {
	var left *stopped
	t.Run("server", func(t *testing.T) {
		p := StartPostgres(t)
		left = &stopped{name: "postgres", pgid: p.proc.pid(), port: p.Port, dir: p.dir}
		if !strings.HasPrefix(p.URL, fmt.Sprintf("postgres://seatlake:%s@127.0.0.1:%d/seatlake?", p.Password, p.Port)) {
			t.Errorf("URL = %s", p.URL)
		}
		db := openPG(t, p.URL)
		ctx := context.Background()
		mustExec(t, db, "CREATE TABLE runs (id text PRIMARY KEY, rows bigint)")
		mustExec(t, db, "INSERT INTO runs VALUES ('r1', 42)")
		if got := queryInt(t, db, "SELECT rows FROM runs WHERE id = 'r1'"); got != 42 {
			t.Errorf("rows = %d, want 42", got)
		}
		if v := queryInt(t, db, "SELECT current_setting('server_version_num')::int"); v < 150000 {
			t.Errorf("server version %d: want PostgreSQL 15 or later", v)
		}

		wrong := strings.Replace(p.URL, p.Password, "wrong", 1)
		if err := openPG(t, wrong).PingContext(ctx); err == nil || !strings.Contains(err.Error(), "password authentication failed") {
			t.Errorf("a wrong password: %v, want password authentication failed", err)
		}

		second := p.CreateDatabase(t, "catalog_two")
		db2 := openPG(t, second)
		mustExec(t, db2, "CREATE TABLE t (x int)")
		if got := queryInt(t, db2, "SELECT count(*) FROM pg_tables WHERE tablename = 'runs'"); got != 0 {
			t.Errorf("the second database sees the first's table")
		}

		// The catalog going away mid-run, and coming back.
		p.Stop(t)
		db.SetMaxIdleConns(0)
		pingCtx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		if err := db.PingContext(pingCtx); err == nil {
			t.Errorf("the stopped server still answers")
		}
		p.Start(t)
		if got := queryInt(t, db, "SELECT rows FROM runs WHERE id = 'r1'"); got != 42 {
			t.Errorf("after a restart: rows = %d, want 42", got)
		}
		left.pgid = p.proc.pid()
	})
	if left != nil {
		assertGone(t, *left)
	}
}

func openPG(t *testing.T, url string) *sql.DB {
	t.Helper()
	db, err := sql.Open("pgx", url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() }) // before the server's stop (cleanups run last-registered first)
	return db
}

func mustExec(t *testing.T, db *sql.DB, q string) {
	t.Helper()
	if _, err := db.ExecContext(context.Background(), q); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
}

func queryInt(t *testing.T, db *sql.DB, q string) int64 {
	t.Helper()
	var n int64
	if err := db.QueryRowContext(context.Background(), q).Scan(&n); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return n
}

// Azurite: the Azure SDK puts a blob into the created container with the connection string and reads it back.
func TestAzurite(t *testing.T) {
	var left *stopped
	t.Run("server", func(t *testing.T) {
		a := StartAzurite(t)
		left = &stopped{name: "azurite", pgid: a.proc.pid(), port: a.Port, dir: a.proc.cmd.Dir}
		if want := fmt.Sprintf("BlobEndpoint=http://127.0.0.1:%d/devstoreaccount1;", a.Port); !strings.Contains(a.ConnectionString, want) {
			t.Errorf("connection string %q lacks %q", a.ConnectionString, want)
		}
		client, err := azblob.NewClientFromConnectionString(a.ConnectionString, nil)
		if err != nil {
			t.Fatal(err)
		}
		ctx := context.Background()
		body := []byte("PAR1 not really parquet")
		if _, err := client.UploadBuffer(ctx, a.Container, "warehouse/t/data/part-0.parquet", body, nil); err != nil {
			t.Fatalf("upload: %v", err)
		}
		resp, err := client.DownloadStream(ctx, a.Container, "warehouse/t/data/part-0.parquet", nil)
		if err != nil {
			t.Fatalf("download: %v", err)
		}
		got, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil || !bytes.Equal(got, body) {
			t.Errorf("downloaded %q (%v), want %q", got, err, body)
		}
		var names []string
		pager := client.NewListBlobsFlatPager(a.Container, nil)
		for pager.More() {
			page, err := pager.NextPage(ctx)
			if err != nil {
				t.Fatalf("list: %v", err)
			}
			for _, b := range page.Segment.BlobItems {
				names = append(names, *b.Name)
			}
		}
		if len(names) != 1 || names[0] != "warehouse/t/data/part-0.parquet" {
			t.Errorf("listed %q", names)
		}
	})
	if left != nil {
		assertGone(t, *left)
	}
}

// S3 (moto): the AWS SDK puts an object into the created bucket with the returned endpoint and keys, and reads it
// back; Env carries the SDK's standard variables.
func TestS3(t *testing.T) {
	var left *stopped
	t.Run("server", func(t *testing.T) {
		s := StartS3(t)
		left = &stopped{name: "moto_server", pgid: s.proc.pid(), port: s.Port}
		client := s.Client()
		ctx := context.Background()
		body := []byte("PAR1 not really parquet")
		key := "warehouse/t/data/part-0.parquet"
		if _, err := client.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(s.Bucket), Key: aws.String(key), Body: bytes.NewReader(body)}); err != nil {
			t.Fatalf("put: %v", err)
		}
		out, err := client.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(s.Bucket), Key: aws.String(key)})
		if err != nil {
			t.Fatalf("get: %v", err)
		}
		got, err := io.ReadAll(out.Body)
		out.Body.Close()
		if err != nil || !bytes.Equal(got, body) {
			t.Errorf("got %q (%v), want %q", got, err, body)
		}
		list, err := client.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String(s.Bucket), Prefix: aws.String("warehouse/")})
		if err != nil || len(list.Contents) != 1 || *list.Contents[0].Key != key {
			t.Errorf("list: %v %+v", err, list)
		}
		env := strings.Join(s.Env(), "\n")
		for _, want := range []string{"AWS_ENDPOINT_URL_S3=" + s.Endpoint, "AWS_SECRET_ACCESS_KEY=" + s.SecretAccessKey, "AWS_REGION=us-east-1"} {
			if !strings.Contains(env, want) {
				t.Errorf("Env() lacks %s", want)
			}
		}
	})
	if left != nil {
		assertGone(t, *left)
	}
}

// recorder stands in for a test to see whether a starter skipped or failed it.
type recorder struct {
	testing.TB
	skipped, failed string
}

func (r *recorder) Helper() {}
func (r *recorder) Skipf(format string, args ...any) {
	r.skipped = fmt.Sprintf(format, args...)
	runtime.Goexit()
}
func (r *recorder) Fatalf(format string, args ...any) {
	r.failed = fmt.Sprintf(format, args...)
	runtime.Goexit()
}

func runStarter(start func(testing.TB)) *recorder {
	r := &recorder{}
	done := make(chan struct{})
	go func() {
		defer close(done)
		start(r)
	}()
	<-done
	return r
}

// A component whose program is missing skips the test saying how to install it, and fails it under
// SEATLAKE_REQUIRE_SERVICES=1 (as .ci/run sets).
func TestMissingComponentSkipsOrFails(t *testing.T) {
	missing := t.TempDir() + "/nothing-here"
	starters := []struct {
		name, env, install string
		start              func(testing.TB)
	}{
		{"PostgreSQL", "SEATLAKE_PG_BIN", "apt-get install postgresql", func(tb testing.TB) { StartPostgres(tb) }},
		{"Azurite", "SEATLAKE_AZURITE", "make azurite", func(tb testing.TB) { StartAzurite(tb) }},
		{"moto_server", "SEATLAKE_MOTO_SERVER", "moto[server]", func(tb testing.TB) { StartS3(tb) }},
	}
	for _, s := range starters {
		t.Run(s.name, func(t *testing.T) {
			t.Setenv(s.env, missing)
			t.Setenv(RequireEnv, "")
			r := runStarter(s.start)
			if r.failed != "" || !strings.Contains(r.skipped, s.name) || !strings.Contains(r.skipped, s.install) {
				t.Errorf("without %s=1: skipped %q, failed %q; want a skip naming %s and %q", RequireEnv, r.skipped, r.failed, s.name, s.install)
			}
			t.Setenv(RequireEnv, "1")
			r = runStarter(s.start)
			if r.skipped != "" || !strings.Contains(r.failed, s.install) || !strings.Contains(r.failed, RequireEnv+"=1") {
				t.Errorf("with %s=1: skipped %q, failed %q; want a failure", RequireEnv, r.skipped, r.failed)
			}
		})
	}
}

// The Azurite `make azurite` installs is the one this package names in its messages.
func TestAzuriteVersionMatchesMakefile(t *testing.T) {
	root, err := repoRoot()
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(root + "/Makefile")
	if err != nil {
		t.Fatal(err)
	}
	if want := "AZURITE_VERSION := " + AzuriteVersion + "\n"; !strings.Contains(string(b), want) {
		t.Errorf("the Makefile does not install Azurite %s (want a line %q)", AzuriteVersion, strings.TrimSpace(want))
	}
}
