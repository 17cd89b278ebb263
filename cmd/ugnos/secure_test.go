package main

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/ugnos/ugnos/internal/testcert"
)

// TestServeSecure runs ugnos serve as the README's secure deployment
// does: a superuser password, one certificate for HTTPS and pgwire, a
// client CA, and hba rules that allow only TLS. It checks what a client
// then can and cannot do over both protocols.
func TestServeSecure(t *testing.T) {
	dir := t.TempDir()
	ca := testcert.NewCA(t, "ugnos test CA")
	srv, ann := ca.Server(t), ca.Client(t, "ann")
	// ann logs in by certificate; everyone else by password over TLS;
	// nothing in the clear
	files := map[string][]byte{"ca.pem": ca.PEM, "server.pem": srv.CertPEM, "server.key": srv.KeyPEM,
		"hba.conf": []byte("hostssl all ann 127.0.0.1/32 cert\n" +
			"hostssl all all 127.0.0.1/32 scram-sha-256\n" +
			"host    all all all          reject\n")}
	for name, b := range files {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	addr, pgAddr := freeAddr(t), freeAddr(t)
	s := startServe(t, cleanEnv("UGNOS_PASSWORD=root-pw"), "--data-dir", filepath.Join(dir, "data"), "--http-addr", addr, "--pg-addr", pgAddr,
		"--tls-cert", filepath.Join(dir, "server.pem"), "--tls-key", filepath.Join(dir, "server.key"),
		"--tls-client-ca", filepath.Join(dir, "ca.pem"), "--hba-file", filepath.Join(dir, "hba.conf"))
	hc := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: ca.Pool()}}}
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := hc.Get("https://" + addr + "/ready")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("https /ready: %v", err)
		}
		select {
		case <-s.done:
			t.Fatalf("ugnos serve exited: %v", s.err)
		case <-time.After(50 * time.Millisecond):
		}
	}
	call := func(path, user, pw string) (int, string) {
		req, _ := http.NewRequest("GET", "https://"+addr+path, nil)
		if user != "" {
			req.SetBasicAuth(user, pw)
		}
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	q := func(sql string) string { return "/api/v1/query?" + url.Values{"db": {"postgres"}, "q": {sql}}.Encode() }
	for _, tc := range []struct {
		path, user, pw string
		status         int
	}{
		{"/health", "", "", 200},
		{q("SELECT 1"), "", "", 401},
		{q("SELECT 1"), "ugnos", "wrong", 401},
		{q("SELECT 1"), "ugnos", "root-pw", 200},
		{"/metrics", "", "", 401},
		{"/metrics", "ugnos", "root-pw", 200},
		{"/", "", "", 401}, // the console asks the browser for credentials
	} {
		if st, body := call(tc.path, tc.user, tc.pw); st != tc.status {
			t.Errorf("GET %s as %q: %d %s, want %d", tc.path, tc.user, st, body, tc.status)
		}
	}
	// plain HTTP to the HTTPS port is refused
	if resp, err := http.Get("http://" + addr + "/health"); err == nil {
		if resp.StatusCode != http.StatusBadRequest {
			t.Errorf("plain HTTP to the HTTPS port: %d", resp.StatusCode)
		}
		resp.Body.Close()
	}

	ctx := context.Background()
	connect := func(user, pw, mode string, cert *tls.Certificate) (*pgx.Conn, error) {
		u := url.URL{Scheme: "postgres", User: url.UserPassword(user, pw), Host: pgAddr, Path: "/postgres",
			RawQuery: "sslmode=" + mode + "&sslrootcert=" + filepath.Join(dir, "ca.pem")}
		cfg, err := pgx.ParseConfig(u.String())
		if err != nil {
			return nil, err
		}
		if cert != nil {
			cfg.TLSConfig.Certificates = []tls.Certificate{*cert}
		}
		return pgx.ConnectConfig(ctx, cfg)
	}
	root, err := connect("ugnos", "root-pw", "verify-full", nil)
	if err != nil {
		t.Fatalf("verify-full as ugnos: %v", err)
	}
	defer root.Close(ctx)
	if _, err := root.Exec(ctx, "CREATE ROLE ann LOGIN SUPERUSER"); err != nil {
		t.Fatal(err)
	}
	if _, err := connect("ugnos", "root-pw", "disable", nil); pgState(err) != "28000" {
		t.Errorf("pgwire without TLS: %v, want 28000 (hba)", err)
	}
	if _, err := connect("ugnos", "nope", "verify-full", nil); pgState(err) != "28P01" {
		t.Errorf("wrong password: %v, want 28P01", err)
	}
	c, err := connect("ann", "", "verify-full", &ann.TLS)
	if err != nil {
		t.Fatalf("ann by certificate: %v", err)
	}
	c.Close(ctx)
	if _, err := connect("ann", "", "verify-full", nil); pgState(err) != "28000" {
		t.Errorf("ann without a certificate: %v, want 28000", err)
	}
	// a token made over pgwire works over HTTPS
	var secret string
	if err := root.QueryRow(ctx, "SELECT ugnos_create_token('ci', 'postgres', 'read')").Scan(&secret); err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest("GET", "https://"+addr+q("SELECT 40 + 2"), nil)
	req.Header.Set("Authorization", "Token "+secret)
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(b), "42") {
		t.Errorf("query with a token: %d %s", resp.StatusCode, b)
	}
}

func pgState(err error) string {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code
	}
	return ""
}

// TestParseServeAuth: with authentication (a password or hba rules) the
// listeners may leave loopback; bad hba files are usage errors naming the
// line.
func TestParseServeAuth(t *testing.T) {
	dir := t.TempDir()
	good, bad := filepath.Join(dir, "good.conf"), filepath.Join(dir, "bad.conf")
	os.WriteFile(good, []byte("# comment\nhostssl all all 0.0.0.0/0 scram-sha-256\n"), 0o600)
	os.WriteFile(bad, []byte("host all all 0.0.0.0/0 scram-sha-256\nhost all all all kerberos\n"), 0o600)
	trust, trustLocal := filepath.Join(dir, "trust.conf"), filepath.Join(dir, "trustlocal.conf")
	os.WriteFile(trust, []byte("host all all 127.0.0.1/32 trust\nhost all all 10.0.0.0/8 trust\n"), 0o600)
	os.WriteFile(trustLocal, []byte("host all all 127.0.0.0/8 trust\nhost all all ::1 trust\nhost all all all scram-sha-256\n"), 0o600)
	env := func(string) string { return "" }
	for _, tc := range []struct {
		args []string
		err  string
	}{
		{[]string{"--password", "pw", "--http-addr", "0.0.0.0:8086", "--pg-addr", "[::]:5432"}, ""},
		{[]string{"--hba-file", good, "--http-addr", "0.0.0.0:8086", "--pg-addr", "0.0.0.0:5432"}, ""},
		{[]string{"--http-addr", "0.0.0.0:8086"}, "set --password"},
		{[]string{"--hba-file", bad}, "hba line 2"},
		{[]string{"--hba-file", trust, "--pg-addr", "0.0.0.0:5432"}, "line 2 trusts addresses beyond loopback"},
		{[]string{"--hba-file", trust}, ""}, // loopback listeners: trust rules are harmless
		{[]string{"--hba-file", trustLocal, "--pg-addr", "0.0.0.0:5432"}, ""},
	} {
		c, err := parseServe(tc.args, env, io.Discard)
		if tc.err == "" && (err != nil || !c.authenticates()) {
			t.Errorf("%v: %v", tc.args, err)
		}
		if tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)) {
			t.Errorf("%v: %v, want %q", tc.args, err, tc.err)
		}
	}
}
