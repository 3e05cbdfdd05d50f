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

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// S3 is a private S3-compatible server (moto's, started as `moto_server -H 127.0.0.1 -p <port>`) with an empty
// bucket. moto accepts any key pair; the test gets its own random one so a test can assert it never leaks.
// t.Cleanup stops it.
type S3 struct {
	Endpoint        string // http://127.0.0.1:<port>: path-style addressing (the bucket is the first path segment)
	Region          string // us-east-1
	AccessKeyID     string
	SecretAccessKey string
	Bucket          string // created by StartS3
	Port            int

	proc *process
}

// Env is the AWS SDK's standard environment for a child process (a `seatlake run` under test) to reach this
// server: the keys, the region and the S3 endpoint override; instance metadata is not asked.
func (s *S3) Env() []string {
	return []string{
		"AWS_ACCESS_KEY_ID=" + s.AccessKeyID,
		"AWS_SECRET_ACCESS_KEY=" + s.SecretAccessKey,
		"AWS_REGION=" + s.Region,
		"AWS_ENDPOINT_URL_S3=" + s.Endpoint,
		"AWS_EC2_METADATA_DISABLED=true",
	}
}

// Client is an S3 client for this server (path-style, static keys), for a test to look at what landed.
func (s *S3) Client() *s3.Client {
	return s3.New(s3.Options{
		Region:       s.Region,
		BaseEndpoint: aws.String(s.Endpoint),
		UsePathStyle: true,
		Credentials:  credentials.NewStaticCredentialsProvider(s.AccessKeyID, s.SecretAccessKey, ""),
	})
}

// motoBin finds moto_server: SEATLAKE_MOTO_SERVER, or PATH.
func motoBin() (string, bool) {
	if p := os.Getenv("SEATLAKE_MOTO_SERVER"); p != "" {
		st, err := os.Stat(p)
		return p, err == nil && !st.IsDir()
	}
	p, err := exec.LookPath("moto_server")
	return p, err == nil
}

// StartS3 starts moto's S3 server for the test and returns once it answers, with Bucket created.
func StartS3(t testing.TB) *S3 {
	t.Helper()
	bin, ok := motoBin()
	if !ok {
		unavailable(t, "moto_server (S3)", "it comes with the Python package moto[server] "+
			"(pip install 'moto[server]'), or set SEATLAKE_MOTO_SERVER to the program")
	}
	dir := t.TempDir()
	s := &S3{Region: "us-east-1", AccessKeyID: "AKIA" + randomHex(8), SecretAccessKey: randomHex(20), Bucket: "seatlake"}
	err := startOnFreePort(func(port, attempt int) (string, error) {
		s.Port = port
		s.Endpoint = fmt.Sprintf("http://127.0.0.1:%d", port)
		cmd := exec.Command(bin, "-H", "127.0.0.1", "-p", strconv.Itoa(port))
		cmd.Dir = dir
		// PYENV_ROOT and PYENV_VERSION, when set, say which Python a pyenv shim runs.
		cmd.Env = minimalEnv(dir, passEnv("PYENV_ROOT", "PYENV_VERSION")...)
		logPath := filepath.Join(dir, fmt.Sprintf("moto-%d.log", attempt))
		proc, err := startReady("moto_server", cmd, logPath, s.ready)
		s.proc = proc
		return logPath, err
	})
	if err != nil {
		t.Fatalf("s3: %v", err)
	}
	t.Cleanup(func() {
		if err := s.proc.stop(syscall.SIGTERM); err != nil {
			t.Errorf("s3: %v", err)
		}
	})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := s.Client().CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(s.Bucket)}); err != nil {
		t.Fatalf("s3: creating bucket %q: %v\n%s", s.Bucket, err, s.proc.logTail())
	}
	return s
}

// ready: moto answers the service root (ListBuckets) once its routes are loaded.
func (s *S3) ready() error {
	c := http.Client{Timeout: 2 * time.Second}
	resp, err := c.Get(s.Endpoint + "/")
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET / answered %s", resp.Status)
	}
	return nil
}

func passEnv(names ...string) []string {
	var env []string
	for _, n := range names {
		if v, ok := os.LookupEnv(n); ok {
			env = append(env, n+"="+v)
		}
	}
	return env
}
