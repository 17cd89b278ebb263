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
		{"memory limit", nil, []string{"--memory-limit", "lots"}, "--memory-limit"},
		{"memory unit", []string{"UGNOS_MEMORY_LIMIT=5 parsecs"}, nil, "unknown unit"},
		{"retention", nil, []string{"--retention", "-3d"}, "--retention"},
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

func TestParseSizesAndDays(t *testing.T) {
	for in, want := range map[string]int64{"0": 0, "1073741824": 1 << 30, "512MiB": 512 << 20, "2GB": 2e9, "1.5 GiB": 3 << 29, "64k": 64 << 10, "10b": 10} {
		if got, err := parseBytes(in); err != nil || got != want {
			t.Errorf("parseBytes(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "MiB", "-1MB", "3 parsecs", "1e40TB"} {
		if got, err := parseBytes(in); err == nil {
			t.Errorf("parseBytes(%q) = %d, want an error", in, got)
		}
	}
	for in, want := range map[string]time.Duration{"90d": 90 * 24 * time.Hour, "1w": 7 * 24 * time.Hour, "36h": 36 * time.Hour, "1.5d": 36 * time.Hour, "90m": 90 * time.Minute} {
		if got, err := parseDays(in); err != nil || got != want {
			t.Errorf("parseDays(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	c, err := parseServe(nil, func(k string) string {
		return map[string]string{"UGNOS_MEMORY_LIMIT": "256MiB", "UGNOS_RETENTION": "30d"}[k]
	}, io.Discard)
	if err != nil || c.memBytes != 256<<20 || c.retention != 30*24*time.Hour {
		t.Fatalf("config %+v, %v", c, err)
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

// runCLI runs the ugnos binary with a clean environment plus env and
// returns its exit code, stdout and stderr.
func runCLI(t *testing.T, env []string, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	cmd := exec.Command(binary, args...)
	cmd.Env, cmd.Stdout, cmd.Stderr = cleanEnv(env...), &stdout, &stderr
	err := cmd.Run()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode(), stdout.String(), stderr.String()
	}
	if err != nil {
		t.Fatal(err)
	}
	return 0, stdout.String(), stderr.String()
}

// dumpRows returns every row of a query as text, one line each.
func dumpRows(t *testing.T, c *pgx.Conn, q string) string {
	t.Helper()
	rows, err := c.Query(context.Background(), q)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var b strings.Builder
	for rows.Next() {
		vals, err := rows.Values()
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintln(&b, vals...)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// TestSnapshotRestoreCommands: rows written to a running server over
// pgwire survive ugnos snapshot --pg-addr, a stop, ugnos restore into a
// fresh data directory and a new server on it, exactly; an offline
// snapshot is refused while the server runs; a damaged snapshot is
// refused by verify-snapshot and restore, and the target keeps its data.
func TestSnapshotRestoreCommands(t *testing.T) {
	bg := context.Background()
	dataDir, root := t.TempDir(), t.TempDir()
	addr, pgAddr := freeAddr(t), freeAddr(t)
	s := startServe(t, cleanEnv(), "--data-dir", dataDir, "--http-addr", addr, "--pg-addr", pgAddr)
	s.waitHealthy(t, addr)

	pc, err := pgx.Connect(bg, "postgres://ugnos@"+pgAddr+"/postgres?sslmode=disable")
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close(bg)
	for _, q := range []string{
		"CREATE DATABASE acme",
		"CREATE TABLE mem (time timestamptz, host text, free bigint)",
		"INSERT INTO mem VALUES ('2024-02-01 00:00:00+00', 'x', 10), ('2024-02-01 00:00:10+00', 'y', 20)",
	} {
		if _, err := pc.Exec(bg, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	ac, err := pgx.Connect(bg, "postgres://ugnos@"+pgAddr+"/acme?sslmode=disable")
	if err != nil {
		t.Fatal(err)
	}
	defer ac.Close(bg)
	for _, q := range []string{
		"CREATE TABLE cpu (time timestamptz, host text, usage double precision, n bigint, ok boolean, note varchar)",
		"INSERT INTO cpu VALUES ('2024-01-01 00:00:00+00', 'a', 1.5, 1, true, 'x'), ('2024-01-01 00:01:00+00', 'b', 0.1, -2, false, NULL)",
		"CHECKPOINT", // some rows in segment files, the rest in memory
		"INSERT INTO cpu VALUES ('2024-01-01 00:02:00+00', 'a', NULL, 3, NULL, 'z'), ('2024-01-01 00:03:00+00', 'c', 1e300, 9007199254740993, true, 'é')",
	} {
		if _, err := ac.Exec(bg, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	const cpuQ, memQ = "SELECT time, host, usage, n, ok, note FROM cpu ORDER BY time", "SELECT time, host, free FROM mem ORDER BY time"
	wantCPU, wantMem := dumpRows(t, ac, cpuQ), dumpRows(t, pc, memQ)
	if strings.Count(wantCPU, "\n") != 4 || strings.Count(wantMem, "\n") != 2 {
		t.Fatalf("rows written:\n%s%s", wantCPU, wantMem)
	}

	// offline snapshot of a data directory a server holds: refused
	code, _, stderr := runCLI(t, nil, "snapshot", "--data-dir", dataDir, filepath.Join(root, "offline"))
	if code != 1 || !strings.Contains(stderr, "server") || !strings.Contains(stderr, "--pg-addr") {
		t.Fatalf("offline snapshot of a live data directory: exit %d, stderr %q", code, stderr)
	}
	snap := filepath.Join(root, "snap")
	code, stdout, stderr := runCLI(t, nil, "snapshot", "--pg-addr", pgAddr, snap)
	if code != 0 || !strings.Contains(stdout, snap) {
		t.Fatalf("ugnos snapshot: exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
	// the same through UGNOS_PG_ADDR, into a non-empty target: the server's error
	code, _, stderr = runCLI(t, []string{"UGNOS_PG_ADDR=" + pgAddr}, "snapshot", snap)
	if code != 1 || !strings.Contains(stderr, "58P02") {
		t.Fatalf("snapshot into a non-empty directory: exit %d, stderr %q", code, stderr)
	}
	// written after the snapshot: not restored
	if _, err := ac.Exec(bg, "INSERT INTO cpu VALUES ('2024-01-01 00:04:00+00', 'late', 0, 0, false, 'late')"); err != nil {
		t.Fatal(err)
	}
	if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if code := s.wait(t, 15*time.Second); code != 0 {
		t.Fatalf("exit code after SIGTERM = %d", code)
	}

	if code, stdout, stderr := runCLI(t, nil, "verify-snapshot", snap); code != 0 || !strings.Contains(stdout, "intact") {
		t.Fatalf("verify-snapshot: exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
	fresh := filepath.Join(t.TempDir(), "restored")
	if code, stdout, stderr := runCLI(t, nil, "restore", "--data-dir", fresh, snap); code != 0 {
		t.Fatalf("restore: exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
	addr2, pgAddr2 := freeAddr(t), freeAddr(t)
	s2 := startServe(t, cleanEnv(), "--data-dir", fresh, "--http-addr", addr2, "--pg-addr", pgAddr2)
	s2.waitHealthy(t, addr2)
	for _, q := range []struct{ db, sql, want string }{{"acme", cpuQ, wantCPU}, {"postgres", memQ, wantMem}} {
		c, err := pgx.Connect(bg, "postgres://ugnos@"+pgAddr2+"/"+q.db+"?sslmode=disable")
		if err != nil {
			t.Fatal(err)
		}
		got := dumpRows(t, c, q.sql)
		c.Close(bg)
		if got != q.want {
			t.Errorf("restored %s:\n%s\nwant:\n%s", q.db, got, q.want)
		}
	}
	if err := s2.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if code := s2.wait(t, 15*time.Second); code != 0 {
		t.Fatalf("exit code after SIGTERM = %d", code)
	}

	// offline snapshot of the stopped server's data, then damaged
	snap2 := filepath.Join(root, "snap2")
	if code, stdout, stderr := runCLI(t, nil, "snapshot", "--data-dir", fresh, snap2); code != 0 {
		t.Fatalf("offline snapshot: exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
	if code, _, stderr := runCLI(t, nil, "verify-snapshot", snap2); code != 0 {
		t.Fatalf("verify-snapshot of the offline snapshot: exit %d, stderr %q", code, stderr)
	}
	damageParquet(t, snap2)
	if code, _, stderr := runCLI(t, nil, "verify-snapshot", snap2); code != 1 || !strings.Contains(stderr, "checksum") {
		t.Fatalf("verify-snapshot of a damaged snapshot: exit %d, stderr %q", code, stderr)
	}
	target := t.TempDir()
	db, err := ugnos.Open(target)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Insert("keep", "m", 1e9, 42, ugnos.TagSet{"k": "v"}); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	code, _, stderr = runCLI(t, []string{"UGNOS_DATA_DIR=" + target}, "restore", snap2)
	if code != 1 || !strings.Contains(stderr, "refused") || !strings.Contains(stderr, "checksum") {
		t.Fatalf("restore of a damaged snapshot: exit %d, stderr %q", code, stderr)
	}
	db, err = ugnos.Open(target)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	pts, err := db.Query(bg, "keep", "m", ugnos.QueryOptions{Start: 0, End: 2e9})
	if err != nil || len(pts) != 1 || pts[0].Value != 42 {
		t.Fatalf("target after a refused restore: %v, %v", pts, err)
	}
	if m := db.Metrics(); m.Tenants > 2 || m.Tables != 1 {
		t.Errorf("target after a refused restore: %d tenants, %d tables", m.Tenants, m.Tables)
	}
}

// damageParquet flips a byte in one .parquet file of a snapshot. Segment
// files may be hard links to a data directory's, so the file is replaced,
// not written through.
func damageParquet(t *testing.T, snap string) {
	t.Helper()
	var seg string
	filepath.WalkDir(snap, func(p string, d os.DirEntry, err error) error {
		if err == nil && seg == "" && strings.HasSuffix(p, ".parquet") {
			seg = p
		}
		return nil
	})
	if seg == "" {
		t.Fatal("no .parquet file in the snapshot")
	}
	b, err := os.ReadFile(seg)
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)/2] ^= 0xff
	if err := os.Remove(seg); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(seg, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestBackupCommandUsage(t *testing.T) {
	for _, tc := range []struct {
		args []string
		code int
		errs string
	}{
		{[]string{"snapshot"}, 2, "exactly one snapshot PATH"},
		{[]string{"snapshot", "a", "b"}, 2, "exactly one snapshot PATH"},
		{[]string{"snapshot", "--data-dir", "d", "--pg-addr", "127.0.0.1:1", "p"}, 2, "exclude each other"},
		{[]string{"snapshot", "-h"}, 0, "UGNOS_PG_ADDR"},
		{[]string{"snapshot", "--data-dir", "/nonexistent/ugnos", "/tmp/x"}, 1, "not a ugnos data directory"},
		{[]string{"restore", "/tmp/x"}, 2, "--data-dir (or UGNOS_DATA_DIR) is required"},
		{[]string{"restore", "-h"}, 0, "UGNOS_DATA_DIR"},
		{[]string{"verify-snapshot"}, 2, "exactly one snapshot PATH"},
		{[]string{"verify-snapshot", "/nonexistent/snapshot"}, 1, "not usable"},
		{[]string{"help"}, 2, "verify-snapshot"},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			code, _, stderr := runCLI(t, nil, tc.args...)
			if code != tc.code || !strings.Contains(stderr, tc.errs) {
				t.Errorf("exit %d, stderr %q; want exit %d, stderr containing %q", code, stderr, tc.code, tc.errs)
			}
		})
	}
	// an unreachable server: a clear error, exit 1
	code, _, stderr := runCLI(t, nil, "snapshot", "--pg-addr", freeAddr(t), filepath.Join(t.TempDir(), "s"))
	if code != 1 || !strings.Contains(stderr, "connect to the server") {
		t.Errorf("snapshot of an unreachable server: exit %d, stderr %q", code, stderr)
	}
}
