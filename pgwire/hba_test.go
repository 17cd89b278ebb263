package pgwire_test

import (
	"context"
	"crypto/tls"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgproto3"
	"github.com/xdg-go/scram"

	"github.com/ugnos/ugnos/internal/testcert"
	"github.com/ugnos/ugnos/pgwire"
)

// hbaClient connects as user with password to db from the local address
// from (127.0.0.x), with TLS when tlsCfg is set (verify-full against the
// test CA) presenting its certificates.
func hbaClient(ts *testServer, from, user, pw, db string, tlsCfg *tls.Config) (*pgx.Conn, error) {
	u := url.URL{Scheme: "postgres", User: url.UserPassword(user, pw), Host: ts.addr, Path: "/" + db, RawQuery: "sslmode=disable"}
	cfg, err := pgx.ParseConfig(u.String())
	if err != nil {
		return nil, err
	}
	cfg.TLSConfig = tlsCfg
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}, Timeout: 10 * time.Second}
	cfg.DialFunc = d.DialContext
	return pgx.ConnectConfig(ctx, cfg)
}

// TestHBA: pg_hba-style rules decide by address, TLS, database and user
// how a connection authenticates, and refuse what no rule allows. The
// clients dial from different loopback addresses (127.0.0.x), which the
// server sees as different hosts.
func TestHBA(t *testing.T) {
	ca := testcert.NewCA(t, "ugnos test CA")
	serverCert := ca.Server(t).TLS
	ann := ca.Client(t, "ann")
	annCert, bobCert := ann.TLS, ca.Client(t, "bob").TLS
	rogueAnn := testcert.NewCA(t, "rogue CA").Client(t, "ann").TLS
	pool := ca.Pool()

	rules, err := pgwire.ParseHBA(`
# TYPE    DATABASE  USER  ADDRESS        METHOD  [OPTIONS]
hostnossl all       all   127.0.0.3/32   reject            # no cleartext from this "remote" host
hostssl   all       all   127.0.0.3/32   scram-sha-256
hostssl   certdb    all   127.0.0.1      cert
hostssl   all       bob   127.0.0.1/32   scram-sha-256 clientcert=verify-full
host      all       all   127.0.0.1/32   scram-sha-256
host      postgres  all   127.0.0.2/32   trust
`)
	if err != nil {
		t.Fatal(err)
	}
	ts := startServerWith(t, pgwire.Config{HBA: rules, TLS: &tls.Config{Certificates: []tls.Certificate{serverCert},
		ClientCAs: pool, ClientAuth: tls.VerifyClientCertIfGiven}})
	for _, q := range []string{"CREATE DATABASE certdb", "CREATE ROLE ann LOGIN SUPERUSER PASSWORD 'ann-pw'",
		"CREATE ROLE bob LOGIN SUPERUSER PASSWORD 'bob-pw'"} {
		if _, err := ts.db.Exec(ctx, "postgres", q); err != nil {
			t.Fatal(err)
		}
	}
	tlsAs := func(certs ...tls.Certificate) *tls.Config {
		return &tls.Config{RootCAs: pool, ServerName: "127.0.0.1", Certificates: certs}
	}
	cases := []struct {
		name, from, user, pw, db string
		tls                      *tls.Config
		code                     string // "" ok
		msg                      string
	}{
		{"password from 127.0.0.1", "127.0.0.1", "ann", "ann-pw", "postgres", nil, "", ""},
		{"wrong password", "127.0.0.1", "ann", "nope", "postgres", nil, "28P01", "password authentication failed"},
		{"trust from 127.0.0.2", "127.0.0.2", "ann", "", "postgres", nil, "", ""},
		{"no rule for certdb from 127.0.0.2", "127.0.0.2", "ann", "", "certdb", nil, "28000", `no pg_hba.conf entry for host "127.0.0.2", user "ann", database "certdb", no encryption`},
		{"cleartext from 127.0.0.3", "127.0.0.3", "ann", "ann-pw", "postgres", nil, "28000", `pg_hba.conf rejects connection for host "127.0.0.3"`},
		{"TLS from 127.0.0.3", "127.0.0.3", "ann", "ann-pw", "postgres", tlsAs(), "", ""},
		{"TLS from 127.0.0.3, wrong password", "127.0.0.3", "ann", "x", "postgres", tlsAs(), "28P01", ""},
		{"cert", "127.0.0.1", "ann", "", "certdb", tlsAs(annCert), "", ""},
		{"cert names another user", "127.0.0.1", "bob", "", "certdb", tlsAs(annCert), "28000", `certificate authentication failed for user "bob"`},
		{"cert missing", "127.0.0.1", "ann", "ann-pw", "certdb", tlsAs(), "28000", "requires a valid client certificate"},
		{"certdb without TLS takes the host line", "127.0.0.1", "ann", "ann-pw", "certdb", nil, "", ""},
		// Go's client offers only certificates from the CAs the server
		// names, so this one is not sent at all
		{"cert from an untrusted CA", "127.0.0.1", "ann", "", "certdb", tlsAs(rogueAnn), "28000", "requires a valid client certificate"},
		{"verify-full: password and cert", "127.0.0.1", "bob", "bob-pw", "postgres", tlsAs(bobCert), "", ""},
		{"verify-full: password, no cert", "127.0.0.1", "bob", "bob-pw", "postgres", tlsAs(), "28000", "requires a valid client certificate"},
		{"verify-full: another's cert", "127.0.0.1", "bob", "bob-pw", "postgres", tlsAs(annCert), "28000", "certificate authentication failed"},
		{"verify-full: cert, wrong password", "127.0.0.1", "bob", "x", "postgres", tlsAs(bobCert), "28P01", ""},
		{"bob without TLS takes the host line", "127.0.0.1", "bob", "bob-pw", "postgres", nil, "", ""},
	}
	for _, tc := range cases {
		c, err := hbaClient(ts, tc.from, tc.user, tc.pw, tc.db, tc.tls)
		switch {
		case tc.code == "" && err != nil:
			t.Errorf("%s: %v", tc.name, err)
		case tc.code != "" && (sqlState(err) != tc.code || !strings.Contains(err.Error(), tc.msg)):
			t.Errorf("%s: %v, want SQLSTATE %s and %q", tc.name, err, tc.code, tc.msg)
		}
		if c != nil {
			var user string
			if err := c.QueryRow(ctx, "SELECT current_user").Scan(&user); err != nil || user != tc.user {
				t.Errorf("%s: current_user %q, %v", tc.name, user, err)
			}
			c.Close(ctx)
		}
	}

	// psql with sslmode=verify-full and a client certificate
	if _, err := os.Stat("/usr/bin/psql"); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("psql missing (postgresql-client)")
		}
		t.Skip("psql missing")
	}
	dir := t.TempDir()
	for name, b := range map[string][]byte{"ca.pem": ca.PEM, "ann.pem": ann.CertPEM, "ann.key": ann.KeyPEM} {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	host, port, _ := net.SplitHostPort(ts.addr)
	conninfo := "host=" + host + " port=" + port + " user=ann dbname=certdb sslmode=verify-full sslrootcert=" + filepath.Join(dir, "ca.pem") +
		" sslcert=" + filepath.Join(dir, "ann.pem") + " sslkey=" + filepath.Join(dir, "ann.key")
	cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(cctx, "psql", "-X", "-At", "-d", conninfo, "-c", "SELECT current_user").CombinedOutput()
	if err != nil || strings.TrimSpace(string(out)) != "ann" {
		t.Errorf("psql verify-full with a client certificate: %v\n%s", err, out)
	}
	out, err = exec.CommandContext(cctx, "psql", "-X", "-At", "-d", strings.Replace(conninfo, "sslmode=verify-full", "sslmode=disable", 1), "-c", "SELECT 1").CombinedOutput()
	if err == nil || !strings.Contains(string(out), "password") && !strings.Contains(string(out), "no pg_hba.conf entry") {
		t.Errorf("psql without TLS to certdb: %v\n%s", err, out)
	}
}

func TestParseHBARefuses(t *testing.T) {
	for _, text := range []string{
		"host all all",                                   // too few fields
		"local all all all trust",                        // no Unix sockets
		"hostgssenc all all all trust",                   // unknown type
		"host all all example.com trust",                 // host names
		"host all all 10.0.0.0/33 trust",                 // bad CIDR
		"host all all all ident",                         // unknown method
		"host all all all cert",                          // cert needs hostssl
		"hostssl all all all scram-sha-256 clientcert=1", // bad option
		"host all all all scram-sha-256 clientcert=verify-full",
	} {
		if _, err := pgwire.ParseHBA(text); err == nil || !strings.Contains(err.Error(), "hba line 1") {
			t.Errorf("ParseHBA(%q) = %v, want an error naming line 1", text, err)
		}
	}
}

// scramStart starts a connection as user and returns the frontend after
// AuthenticationSASL.
func scramStart(t *testing.T, addr, user string) (*pgproto3.Frontend, net.Conn) {
	t.Helper()
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	nc.SetDeadline(time.Now().Add(30 * time.Second))
	fe := pgproto3.NewFrontend(nc, nc)
	fe.Send(&pgproto3.StartupMessage{ProtocolVersion: pgproto3.ProtocolVersion30, Parameters: map[string]string{"user": user, "database": "postgres"}})
	if err := fe.Flush(); err != nil {
		t.Fatal(err)
	}
	msg, err := fe.Receive()
	if _, ok := msg.(*pgproto3.AuthenticationSASL); !ok || err != nil {
		t.Fatalf("want AuthenticationSASL, got %T %v", msg, err)
	}
	return fe, nc
}

// serverFirst sends the client's first message and returns the server's.
func serverFirst(t *testing.T, fe *pgproto3.Frontend, clientFirst string) string {
	t.Helper()
	fe.Send(&pgproto3.SASLInitialResponse{AuthMechanism: "SCRAM-SHA-256", Data: []byte(clientFirst)})
	if err := fe.Flush(); err != nil {
		t.Fatal(err)
	}
	msg, err := fe.Receive()
	c, ok := msg.(*pgproto3.AuthenticationSASLContinue)
	if !ok || err != nil {
		t.Fatalf("want AuthenticationSASLContinue, got %T %v", msg, err)
	}
	return string(c.Data)
}

// TestSCRAMReplay: a recorded successful SCRAM exchange, replayed on a
// new connection, is refused: the server's nonce differs, so the old
// proof does not fit.
func TestSCRAMReplay(t *testing.T) {
	ts := startServerWith(t, pgwire.Config{Auth: pgwire.AuthSCRAM, Users: map[string]string{"ugnos": "s3cret"}})
	for _, q := range []string{"CREATE ROLE ann LOGIN PASSWORD 'ann-pw'", "GRANT CONNECT ON DATABASE postgres TO ann"} {
		if _, err := ts.db.Exec(ctx, "postgres", q); err != nil {
			t.Fatal(err)
		}
	}
	for _, user := range []string{"ann", "ugnos"} { // a role, a configured user
		pw := map[string]string{"ann": "ann-pw", "ugnos": "s3cret"}[user]
		client, err := scram.SHA256.NewClient(user, pw, "")
		if err != nil {
			t.Fatal(err)
		}
		conv := client.NewConversation()
		first, _ := conv.Step("")
		fe, _ := scramStart(t, ts.addr, user)
		final, err := conv.Step(serverFirst(t, fe, first))
		if err != nil {
			t.Fatal(err)
		}
		fe.Send(&pgproto3.SASLResponse{Data: []byte(final)})
		fe.Flush()
		if msg, err := fe.Receive(); err != nil {
			t.Fatal(err)
		} else if _, ok := msg.(*pgproto3.AuthenticationSASLFinal); !ok {
			t.Fatalf("%s: the recorded exchange failed: %T %+v", user, msg, msg)
		}

		// replay both client messages on a new connection
		fe2, _ := scramStart(t, ts.addr, user)
		second := serverFirst(t, fe2, first)
		if second == first || strings.Contains(final, strings.Split(second, ",")[0]) {
			t.Errorf("%s: the server reused its nonce", user)
		}
		fe2.Send(&pgproto3.SASLResponse{Data: []byte(final)})
		fe2.Flush()
		msg, err := fe2.Receive()
		e, ok := msg.(*pgproto3.ErrorResponse)
		if err != nil || !ok || e.Code != "28P01" {
			t.Errorf("%s: replayed SCRAM: %T %+v %v, want ErrorResponse 28P01", user, msg, msg, err)
		}
	}
}

// TestUnknownUsersLookKnown: the SCRAM exchange of an unknown user shows
// the same iterations and salt length as a known user's, and its salt
// stays the same across attempts (as a stored verifier's does), so the
// exchange does not tell who exists; failed logins of known and unknown
// users take about as long (medians of interleaved attempts).
func TestUnknownUsersLookKnown(t *testing.T) {
	ts := startServerWith(t, pgwire.Config{Auth: pgwire.AuthSCRAM, Users: map[string]string{"ugnos": "s3cret"}})
	for _, q := range []string{"CREATE ROLE ann LOGIN PASSWORD 'ann-pw'", "CREATE ROLE nopw LOGIN"} {
		if _, err := ts.db.Exec(ctx, "postgres", q); err != nil {
			t.Fatal(err)
		}
	}
	shape := func(user string) (salt, iters string) {
		client, _ := scram.SHA256.NewClient(user, "guess", "")
		first, _ := client.NewConversation().Step("")
		fe, _ := scramStart(t, ts.addr, user)
		var s, i string
		for _, kv := range strings.Split(serverFirst(t, fe, first), ",") {
			switch {
			case strings.HasPrefix(kv, "s="):
				s = kv[2:]
			case strings.HasPrefix(kv, "i="):
				i = kv[2:]
			}
		}
		return s, i
	}
	for _, user := range []string{"ann", "ugnos", "nopw", "nobody", "mallory"} {
		s1, i1 := shape(user)
		s2, i2 := shape(user)
		if s1 != s2 || i1 != "4096" || i2 != "4096" || len(s1) != 24 {
			t.Errorf("%s: salts %q %q, iterations %s %s; want one 16-byte salt and 4096", user, s1, s2, i1, i2)
		}
	}
	if a, _ := shape("nobody"); a == func() string { s, _ := shape("mallory"); return s }() {
		t.Error("two unknown users share a salt")
	}

	// timing: wrong passwords for a known and an unknown user
	attempt := func(user string) time.Duration {
		start := time.Now()
		c, err := ts.login(user, "wrong", "postgres")
		if err == nil {
			c.Close(ctx)
			t.Fatalf("%s logged in with a wrong password", user)
		}
		return time.Since(start)
	}
	var known, unknown []time.Duration
	for range 15 {
		known = append(known, attempt("ann"))
		unknown = append(unknown, attempt("nobody"))
	}
	slices.Sort(known)
	slices.Sort(unknown)
	k, u := known[len(known)/2], unknown[len(unknown)/2]
	ratio := float64(u) / float64(k)
	t.Logf("failed login medians: known %v, unknown %v (ratio %.2f)", k, u, ratio)
	// the work is the same by construction; the bound only catches a
	// path that skips or adds a key derivation (a multiple)
	if ratio < 0.5 || ratio > 2 {
		t.Errorf("failed logins of unknown users take %.2f× as long as of known ones", ratio)
	}
}
