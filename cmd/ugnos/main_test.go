package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/ugnos/ugnos"
)

// binary is the ugnos binary built once by TestMain.
var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "ugnos-cmd-test")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "ugnos")
	if out, err := exec.Command("go", "build", "-o", binary, ".").CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "go build: %v\n%s", err, out)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// cleanEnv is the test's environment without UGNOS_* variables, plus extra.
func cleanEnv(extra ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "UGNOS_") {
			env = append(env, kv)
		}
	}
	return append(env, extra...)
}

// server is a running ugnos serve process.
type server struct {
	cmd    *exec.Cmd
	stderr *syncBuffer
	done   chan struct{} // closed when the process has exited
	err    error         // cmd.Wait's result, valid after done
}

// syncBuffer is a bytes.Buffer written by the Cmd's copying goroutine
// and read by the test.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// startServe starts ugnos serve in a fresh working directory and kills it
// at the end of the test if it is still running.
func startServe(t *testing.T, env []string, args ...string) *server {
	t.Helper()
	s := &server{stderr: &syncBuffer{}, done: make(chan struct{})}
	s.cmd = exec.Command(binary, append([]string{"serve"}, args...)...)
	s.cmd.Dir = t.TempDir()
	s.cmd.Env = env
	s.cmd.Stderr = s.stderr
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { s.err = s.cmd.Wait(); close(s.done) }()
	t.Cleanup(func() {
		select {
		case <-s.done:
		default:
			s.cmd.Process.Kill()
			<-s.done
		}
		if t.Failed() {
			t.Logf("ugnos serve stderr:\n%s", s.stderr.String())
		}
	})
	return s
}

// wait waits up to d for the process to exit and returns its exit code.
func (s *server) wait(t *testing.T, d time.Duration) int {
	t.Helper()
	select {
	case <-s.done:
	case <-time.After(d):
		t.Fatalf("ugnos serve did not exit within %v", d)
	}
	var ee *exec.ExitError
	if errors.As(s.err, &ee) {
		return ee.ExitCode()
	}
	if s.err != nil {
		t.Fatal(s.err)
	}
	return 0
}

// waitHealthy polls GET /health until it answers 200.
func (s *server) waitHealthy(t *testing.T, addr string) {
	t.Helper()
	c := &http.Client{Timeout: time.Second}
	deadline := time.Now().Add(30 * time.Second)
	for {
		select {
		case <-s.done:
			t.Fatalf("ugnos serve exited early: %v", s.err)
		default:
		}
		resp, err := c.Get("http://" + addr + "/health")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("/health not ready after 30s: last error %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func get(t *testing.T, url string) (*http.Response, []byte) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, body
}

// metricValues parses the samples of a Prometheus text exposition and
// checks that every sample has HELP and TYPE lines before it.
func metricValues(t *testing.T, body []byte) map[string]string {
	t.Helper()
	vals := map[string]string{}
	described := map[string]int{}
	sc := bufio.NewScanner(bytes.NewReader(body))
	for sc.Scan() {
		line := sc.Text()
		if f := strings.Fields(line); len(f) >= 3 && f[0] == "#" && (f[1] == "HELP" || f[1] == "TYPE") {
			described[f[2]]++
			if f[1] == "TYPE" && strings.HasSuffix(f[2], "_total") != (len(f) > 3 && f[3] == "counter") {
				t.Errorf("metric %s: type %v and name disagree about being a counter", f[2], f[3:])
			}
			continue
		}
		name, value, ok := strings.Cut(line, " ")
		if !ok || !strings.HasPrefix(name, "ugnos_") {
			t.Errorf("bad sample line %q", line)
			continue
		}
		if described[name] != 2 {
			t.Errorf("metric %s lacks HELP or TYPE", name)
		}
		vals[name] = value
	}
	return vals
}

func TestServeHealthMetricsShutdown(t *testing.T) {
	// Write a few points first, so the metrics show data replayed from the
	// WAL of the --data-dir.
	dataDir := t.TempDir()
	db, err := ugnos.Open(dataDir)
	if err != nil {
		t.Fatal(err)
	}
	for i, host := range []string{"a", "b", "a"} {
		if err := db.Insert("acme", "cpu", int64(i+1)*1e9, float64(i), ugnos.TagSet{"host": host}); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	addr, pgAddr := freeAddr(t), freeAddr(t)
	s := startServe(t, cleanEnv(), "--data-dir", dataDir, "--http-addr", addr, "--pg-addr", pgAddr, "--sync", "interval")
	s.waitHealthy(t, addr)

	// the data answers over the PostgreSQL protocol, and a client
	// connected at SIGTERM is told why it is disconnected
	pc, err := pgx.Connect(context.Background(), "postgres://ugnos@"+pgAddr+"/acme?sslmode=disable")
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close(context.Background())
	var n int64
	if err := pc.QueryRow(context.Background(), "SELECT count(*) FROM cpu WHERE host = $1", "a").Scan(&n); err != nil || n != 2 {
		t.Fatalf("pgwire count = %d, %v", n, err)
	}

	resp, body := get(t, "http://"+addr+"/health")
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("/health Content-Type = %q", ct)
	}
	var h struct {
		Status  string   `json:"status"`
		Version string   `json:"version"`
		UptimeS *float64 `json:"uptime_s"`
	}
	if err := json.Unmarshal(body, &h); err != nil {
		t.Fatalf("/health body %q: %v", body, err)
	}
	if h.Status != "ok" || h.Version != version || h.UptimeS == nil || *h.UptimeS < 0 {
		t.Errorf("/health = %s", body)
	}

	resp, body = get(t, "http://"+addr+"/metrics")
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain; version=0.0.4") {
		t.Errorf("/metrics: status %d, Content-Type %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	vals := metricValues(t, body)
	for name, want := range map[string]string{"ugnos_series": "2", "ugnos_points": "3", "ugnos_tables": "1"} {
		if vals[name] != want {
			t.Errorf("%s = %q, want %q\n%s", name, vals[name], want, body)
		}
	}
	for _, name := range []string{"ugnos_uptime_seconds", "ugnos_writes_total", "ugnos_wal_syncs_total", "ugnos_queries_total"} {
		if _, ok := vals[name]; !ok {
			t.Errorf("/metrics lacks %s", name)
		}
	}

	resp, _ = get(t, "http://"+addr+"/nope")
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("GET /nope: status %d, want 404", resp.StatusCode)
	}

	if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if code := s.wait(t, 10*time.Second); code != 0 {
		t.Fatalf("exit code after SIGTERM = %d, want 0", code)
	}
	if log := s.stderr.String(); !strings.Contains(log, "database closed") || !strings.Contains(log, "pgwire listening") {
		t.Errorf("stderr lacks the shutdown or pgwire lines:\n%s", log)
	}
	if err := pc.Ping(context.Background()); err == nil {
		t.Error("a pgwire connection still works after shutdown")
	}
	// The data directory is unlocked and intact after the shutdown.
	db, err = ugnos.Open(dataDir)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if m := db.Metrics(); m.Points != 3 {
		t.Errorf("points after restart = %d, want 3", m.Points)
	}
}

func TestServeEnvHTTPAddrAndSIGINT(t *testing.T) {
	addr := freeAddr(t)
	s := startServe(t, cleanEnv("UGNOS_HTTP_ADDR="+addr, "UGNOS_DATA_DIR="+t.TempDir(), "UGNOS_PG_ADDR="+freeAddr(t)))
	s.waitHealthy(t, addr)
	if err := s.cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	if code := s.wait(t, 10*time.Second); code != 0 {
		t.Fatalf("exit code after SIGINT = %d, want 0", code)
	}
}

func TestServeRefuses(t *testing.T) {
	for _, tc := range []struct {
		name string
		env  []string
		args []string
		msg  string
	}{
		{"any address", nil, []string{"--http-addr", "0.0.0.0:0"}, "not a loopback address"},
		{"empty host", nil, []string{"--http-addr", ":8086"}, "not a loopback address"},
		{"env", []string{"UGNOS_HTTP_ADDR=[::]:0"}, nil, "not a loopback address"},
		{"pg address", []string{"UGNOS_PG_ADDR=0.0.0.0:5432"}, nil, "--pg-addr"},
		{"sync", nil, []string{"--sync", "sometimes"}, "--sync"},
		{"argument", nil, []string{"extra"}, "unexpected arguments"},
		{"flag", nil, []string{"--nope"}, "not defined"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := startServe(t, cleanEnv(tc.env...), tc.args...)
			if code := s.wait(t, 10*time.Second); code != 2 {
				t.Errorf("exit code = %d, want 2", code)
			}
			if log := s.stderr.String(); !strings.Contains(log, tc.msg) {
				t.Errorf("stderr lacks %q:\n%s", tc.msg, log)
			}
			if _, err := os.Stat(filepath.Join(s.cmd.Dir, "ugnos-data")); err == nil {
				t.Error("a refused start created the data directory")
			}
		})
	}
}

func TestCommands(t *testing.T) {
	for _, tc := range []struct {
		args         []string
		code         int
		stdout, errs string
	}{
		{[]string{"version"}, 0, "ugnos " + version + "\n", ""},
		{nil, 2, "", "Usage:"},
		{[]string{"help"}, 2, "", "Usage:"},
		{[]string{"frobnicate"}, 2, "", `unknown command "frobnicate"`},
		{[]string{"serve", "-h"}, 0, "", "UGNOS_HTTP_ADDR"},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			cmd := exec.Command(binary, tc.args...)
			cmd.Env, cmd.Stdout, cmd.Stderr = cleanEnv(), &stdout, &stderr
			err := cmd.Run()
			code := 0
			var ee *exec.ExitError
			if errors.As(err, &ee) {
				code = ee.ExitCode()
			} else if err != nil {
				t.Fatal(err)
			}
			if code != tc.code || stdout.String() != tc.stdout || !strings.Contains(stderr.String(), tc.errs) {
				t.Errorf("exit %d, stdout %q, stderr %q; want exit %d, stdout %q, stderr containing %q",
					code, stdout.String(), stderr.String(), tc.code, tc.stdout, tc.errs)
			}
		})
	}
}

func TestVersionLdflags(t *testing.T) {
	if testing.Short() {
		t.Skip("builds another binary")
	}
	bin := filepath.Join(t.TempDir(), "ugnos")
	if out, err := exec.Command("go", "build", "-ldflags", "-X main.version=9.9.9-test", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	out, err := exec.Command(bin, "version").Output()
	if err != nil || string(out) != "ugnos 9.9.9-test\n" {
		t.Fatalf("version = %q, %v", out, err)
	}
}

func TestParseServePrecedence(t *testing.T) {
	env := map[string]string{"UGNOS_DATA_DIR": "/env/data", "UGNOS_HTTP_ADDR": "127.0.0.1:1", "UGNOS_SYNC": "never"}
	c, err := parseServe([]string{"--http-addr", "[::1]:2"}, func(k string) string { return env[k] }, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	want := serveConfig{dataDir: "/env/data", pgAddr: "127.0.0.1:5432", httpAddr: "[::1]:2", sync: "never", syncMode: ugnos.SyncNever}
	if *c != want {
		t.Errorf("config = %+v, want %+v", *c, want)
	}
}

func TestCheckLoopbackAddr(t *testing.T) {
	f := func(addr string, ok bool) {
		t.Helper()
		if err := checkLoopbackAddr(addr); (err == nil) != ok {
			t.Errorf("checkLoopbackAddr(%q) = %v, want ok=%v", addr, err, ok)
		}
	}
	f("127.0.0.1:8086", true)
	f("127.1.2.3:0", true)
	f("[::1]:5432", true)
	f("localhost:8086", true)
	f("0.0.0.0:8086", false)
	f("[::]:8086", false)
	f(":8086", false)
	f("10.0.0.1:8086", false)
	f("example.com:8086", false)
	f("127.0.0.1", false)
	f("127.0.0.1:http", false)
	f("127.0.0.1:65536", false)
	f("127.0.0.1:-1", false)
}
