package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/jackc/pgx/v5"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/ugnos/ugnos"
	"github.com/ugnos/ugnos/internal/servetest"
	"github.com/ugnos/ugnos/internal/snaptest"
	"github.com/ugnos/ugnos/internal/syncbuf"
)

// binary is the ugnos binary built once by TestMain.
var binary string

func TestMain(m *testing.M) { servetest.Main(m, ".", &binary) }

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
	stderr *syncbuf.Buffer
	done   chan struct{} // closed when the process has exited
	err    error         // cmd.Wait's result, valid after done
}

// startServe starts ugnos serve in a fresh working directory and kills it
// at the end of the test if it is still running.
func startServe(t *testing.T, env []string, args ...string) *server {
	t.Helper()
	s := &server{stderr: &syncbuf.Buffer{}, done: make(chan struct{})}
	s.cmd = exec.Command(binary, append([]string{"serve"}, args...)...)
	s.cmd.Dir = t.TempDir()
	s.cmd.Env = env
	s.cmd.Stderr = s.stderr
	servetest.Run(t, s.cmd, s.done, &s.err, func() string { return "ugnos serve stderr:\n" + s.stderr.String() })
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

// waitReady polls GET /ready until it answers 200: the database is open
// and the PostgreSQL listener is up (/health answers as soon as HTTP
// listens, before either).
func (s *server) waitReady(t *testing.T, addr string) {
	t.Helper()
	c := &http.Client{Timeout: time.Second}
	deadline := time.Now().Add(30 * time.Second)
	for {
		select {
		case <-s.done:
			t.Fatalf("ugnos serve exited early: %v", s.err)
		default:
		}
		resp, err := c.Get("http://" + addr + "/ready")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("/ready not 200 after 30s: last error %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func freeAddr(t *testing.T) string { return servetest.FreeAddr(t) }

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

// metricValues parses a Prometheus text exposition with the Prometheus
// text parser and returns the values of its counters and gauges by
// name{label="value"}; it checks that every family has HELP and that
// counters, and only they, end in _total.
func metricValues(t *testing.T, body []byte) map[string]string {
	t.Helper()
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(bytes.NewReader(body))
	if err != nil {
		t.Fatalf("parse /metrics: %v", err)
	}
	vals := map[string]string{}
	for name, f := range fams {
		if !strings.HasPrefix(name, "ugnos_") || f.GetHelp() == "" {
			t.Errorf("metric %s: not ugnos's, or without HELP", name)
		}
		if strings.HasSuffix(name, "_total") != (f.GetType() == dto.MetricType_COUNTER) {
			t.Errorf("metric %s: type %v and name disagree about being a counter", name, f.GetType())
		}
		for _, m := range f.GetMetric() {
			key := name
			for _, l := range m.GetLabel() {
				key += "{" + l.GetName() + `="` + l.GetValue() + `"}`
			}
			switch f.GetType() {
			case dto.MetricType_COUNTER:
				vals[key] = strconv.FormatFloat(m.GetCounter().GetValue(), 'g', -1, 64)
			case dto.MetricType_GAUGE:
				vals[key] = strconv.FormatFloat(m.GetGauge().GetValue(), 'g', -1, 64)
			}
		}
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
	s.waitReady(t, addr)

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
	for _, name := range []string{"ugnos_uptime_seconds", "ugnos_writes_total", "ugnos_wal_syncs_total", "ugnos_queries_total",
		`ugnos_tenant_series{tenant="acme"}`, `ugnos_storage_bytes{tier="disk"}`} {
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
	s.waitReady(t, addr)
	if err := s.cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	if code := s.wait(t, 10*time.Second); code != 0 {
		t.Fatalf("exit code after SIGINT = %d, want 0", code)
	}
}

// TestServeReadyDuringReplay starts ugnos serve on a data directory whose
// write-ahead log takes a while to replay (200,000 series): the HTTP
// listener is up before the database is open, /ready answers 503 with the
// reason until then and 200 after, never going back. Whether a probe lands
// during the replay depends on timing, so the test requires only the
// order (the log's "http listening" before "database open") and the
// answers' consistency, and logs whether it saw a 503.
func TestServeReadyDuringReplay(t *testing.T) {
	dataDir := t.TempDir()
	db, err := ugnos.Open(dataDir, ugnos.WithSyncMode(ugnos.SyncNever))
	if err != nil {
		t.Fatal(err)
	}
	schema := arrow.NewSchema([]arrow.Field{
		{Name: "time", Type: arrow.FixedWidthTypes.Timestamp_ns},
		{Name: "host", Type: arrow.BinaryTypes.String},
		{Name: "v", Type: arrow.PrimitiveTypes.Float64},
	}, nil)
	for r := range 4 {
		b := array.NewRecordBuilder(memory.DefaultAllocator, schema)
		for i := range 50_000 {
			b.Field(0).(*array.TimestampBuilder).Append(arrow.Timestamp(i))
			b.Field(1).(*array.StringBuilder).Append(fmt.Sprintf("h%d-%d", r, i))
			b.Field(2).(*array.Float64Builder).Append(float64(i))
		}
		rec := b.NewRecordBatch()
		b.Release()
		if err := db.WriteRecord(context.Background(), "acme", "cpu", rec); err != nil {
			t.Fatal(err)
		}
		rec.Release()
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	addr := freeAddr(t)
	s := startServe(t, cleanEnv(), "--data-dir", dataDir, "--http-addr", addr, "--pg-addr", freeAddr(t), "--log-format", "json")
	s.waitReady(t, addr)
	c := &http.Client{Timeout: 5 * time.Second}
	saw503, deadline := false, time.Now().Add(60*time.Second)
	for {
		resp, err := c.Get("http://" + addr + "/ready")
		if err != nil {
			t.Fatal(err)
		}
		var body struct{ Status, Reason string }
		err = json.NewDecoder(resp.Body).Decode(&body)
		resp.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode == http.StatusOK {
			if body.Status != "ready" {
				t.Errorf("/ready 200 with %+v", body)
			}
			break
		}
		if resp.StatusCode != http.StatusServiceUnavailable || body.Reason != "replaying the write-ahead log" {
			t.Fatalf("/ready = %d %+v", resp.StatusCode, body)
		}
		if !saw503 {
			// the rest of the API waits for the database too
			resp, err := c.Get("http://" + addr + "/api/v1/query?db=acme&q=SELECT+1")
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusServiceUnavailable {
				t.Errorf("query before the database is open: %d", resp.StatusCode)
			}
		}
		saw503 = true
		if time.Now().After(deadline) {
			t.Fatal("/ready not 200 after 60s")
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Logf("saw /ready 503 during the replay: %v", saw503)

	// once ready, it stays ready, and the query API answers
	resp, body := get(t, "http://"+addr+"/api/v1/query?db=acme&q=SELECT+count(*)+FROM+cpu")
	if resp.StatusCode != 200 || string(body) != `{"columns":[{"name":"count","type":"bigint"}],"rows":[[200000]]}`+"\n" {
		t.Errorf("query: %d %s", resp.StatusCode, body)
	}
	if resp, _ := get(t, "http://"+addr+"/ready"); resp.StatusCode != 200 {
		t.Errorf("/ready went back to %d", resp.StatusCode)
	}

	if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if code := s.wait(t, 20*time.Second); code != 0 {
		t.Fatalf("exit code after SIGTERM = %d, want 0", code)
	}
	// --log-format json: one JSON object per line; HTTP listened before
	// the database was open
	var msgs []string
	for _, line := range strings.Split(strings.TrimSpace(s.stderr.String()), "\n") {
		var rec struct{ Msg string }
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("log line %q is not JSON: %v", line, err)
		}
		msgs = append(msgs, rec.Msg)
	}
	listening, open := slices.Index(msgs, "http listening"), slices.Index(msgs, "database open")
	if listening < 0 || open < 0 || listening > open {
		t.Errorf("log order: http listening at %d, database open at %d: %q", listening, open, msgs)
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
		{"log format", []string{"UGNOS_LOG_FORMAT=xml"}, nil, "--log-format"},
		{"hba file missing", nil, []string{"--hba-file", "/nonexistent/hba.conf"}, "--hba-file"},
		{"client CA without a certificate", nil, []string{"--tls-client-ca", "/tmp/ca.pem"}, "--tls-client-ca needs --tls-cert"},
		{"password, bad address", []string{"UGNOS_PASSWORD=pw"}, []string{"--http-addr", "nohost"}, "--http-addr"},
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
	want := serveConfig{dataDir: "/env/data", pgAddr: "127.0.0.1:5432", httpAddr: "[::1]:2", sync: "never", syncMode: ugnos.SyncNever, logFormat: "text"}
	if !reflect.DeepEqual(*c, want) {
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
	s.waitReady(t, addr)

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
	s2.waitReady(t, addr2)
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
	snaptest.DamageSegment(t, snap2)
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
