package pgwire_test

import (
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/ugnos/ugnos"
	"github.com/ugnos/ugnos/internal/syncbuf"
	"github.com/ugnos/ugnos/pgwire"
)

// TestRoles: roles created in SQL log in with SCRAM-SHA-256 (and
// cleartext) against their stored verifiers; wrong passwords, unknown
// users and NOLOGIN roles are refused with PostgreSQL's SQLSTATEs; only
// superusers manage roles once one exists; nothing but verifiers is
// stored.
func TestRoles(t *testing.T) {
	for _, method := range []string{pgwire.AuthSCRAM, pgwire.AuthPassword, pgwire.AuthMD5} {
		t.Run(method, func(t *testing.T) {
			dir := t.TempDir()
			ts := startServerOn(t, dir, pgwire.Config{Auth: method, Users: map[string]string{"boot": "bootpw"}})
			login := func(user, pw string) (*pgx.Conn, error) { return ts.login(user, pw, "postgres") }
			exec := func(c *pgx.Conn, q, state string) {
				t.Helper()
				_, err := c.Exec(ctx, q)
				if state == "" && err != nil || state != "" && sqlState(err) != state {
					t.Fatalf("%s: %v (want %q)", q, err, state)
				}
			}
			boot, err := login("boot", "bootpw")
			if err != nil {
				t.Fatal(err)
			}
			defer boot.Close(ctx)
			exec(boot, "CREATE USER eve SUPERUSER PASSWORD 'eve pw'", "")
			exec(boot, "CREATE ROLE bob WITH LOGIN PASSWORD 'bob-pw'", "")
			exec(boot, "CREATE ROLE quiet PASSWORD 'quiet-pw'", "") // no LOGIN
			exec(boot, "CREATE ROLE bob LOGIN", "42710")
			exec(boot, "CREATE ROLE x PASSWORD 'md5f6b3d5e6e4c8bd6fb0a8d4c1e5c3a2b1'", "0A000")
			v, err := ugnos.SCRAMVerifier("given")
			if err != nil {
				t.Fatal(err)
			}
			exec(boot, "CREATE ROLE given LOGIN PASSWORD '"+v+"'", "")                // a verifier is kept as is
			exec(boot, "GRANT CONNECT ON DATABASE postgres TO bob, quiet, given", "") // ordinary roles need it to log in
			exec(boot, "CREATE ROLE late LOGIN", "")                                  // the server's configured user is a superuser

			for _, ok := range [][2]string{{"bob", "bob-pw"}, {"eve", "eve pw"}, {"given", "given"}} {
				c, err := login(ok[0], ok[1])
				if err != nil {
					t.Fatalf("%s: %v", ok[0], err)
				}
				var u string
				if err := c.QueryRow(ctx, "SELECT current_user").Scan(&u); err != nil || u != ok[0] {
					t.Fatalf("%s: current_user %q %v", ok[0], u, err)
				}
				c.Close(ctx)
			}
			for _, bad := range [][3]string{{"bob", "wrong", "28P01"}, {"bob", "", "28P01"}, {"nobody", "bob-pw", "28P01"},
				{"quiet", "quiet-pw", "28000"}, {"quiet", "wrong", "28P01"}} {
				if _, err := login(bad[0], bad[1]); sqlState(err) != bad[2] {
					t.Errorf("%s/%q: %v, want %s", bad[0], bad[1], err, bad[2])
				}
			}
			bob, err := login("bob", "bob-pw")
			if err != nil {
				t.Fatal(err)
			}
			defer bob.Close(ctx)
			exec(bob, "CREATE ROLE mallory LOGIN SUPERUSER PASSWORD 'm'", "42501")
			exec(bob, "ALTER ROLE bob SUPERUSER", "42501")
			exec(bob, "DROP ROLE eve", "42501")

			eve, err := login("eve", "eve pw")
			if err != nil {
				t.Fatal(err)
			}
			defer eve.Close(ctx)
			exec(eve, "ALTER ROLE bob WITH PASSWORD 'new-pw'", "")
			if _, err := login("bob", "bob-pw"); sqlState(err) != "28P01" {
				t.Errorf("old password after ALTER ROLE: %v", err)
			}
			if c, err := login("bob", "new-pw"); err != nil {
				t.Errorf("new password: %v", err)
			} else {
				c.Close(ctx)
			}
			exec(eve, "ALTER ROLE quiet LOGIN", "")
			if c, err := login("quiet", "quiet-pw"); err != nil {
				t.Errorf("after ALTER ROLE … LOGIN: %v", err)
			} else {
				c.Close(ctx)
			}
			exec(eve, "DROP ROLE eve", "55006")
			exec(eve, "DROP ROLE nobody", "42704")
			exec(eve, "DROP ROLE IF EXISTS nobody, given, late", "")
			if _, err := login("given", "given"); sqlState(err) != "28P01" {
				t.Errorf("dropped role: %v", err)
			}

			b, err := os.ReadFile(filepath.Join(dir, "roles.json"))
			if err != nil {
				t.Fatal(err)
			}
			for _, pw := range []string{"eve pw", "new-pw", "quiet-pw", "bob-pw"} {
				if strings.Contains(string(b), pw) {
					t.Errorf("roles.json holds the password %q", pw)
				}
			}
			if strings.Count(string(b), `"verifier": "SCRAM-SHA-256$4096:`) != 3 {
				t.Errorf("roles.json:\n%s", b)
			}
		})
	}
}

// TestRolesInCatalogs: pg_roles and pg_user list the roles with their
// flags (psql's \du reads pg_roles); the session user is OID 10.
func TestRolesInCatalogs(t *testing.T) {
	ts := startServer(t)
	c := ts.connect(t, "postgres")
	for _, q := range []string{"CREATE ROLE ro PASSWORD 'x'", "CREATE USER su SUPERUSER PASSWORD 'y'"} {
		if _, err := c.Exec(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	rows, err := c.Query(ctx, "SELECT rolname, rolsuper, rolcanlogin, oid = 10 FROM pg_roles ORDER BY rolname")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for rows.Next() {
		var name string
		var super, login, ten bool
		if err := rows.Scan(&name, &super, &login, &ten); err != nil {
			t.Fatal(err)
		}
		got = append(got, strings.TrimSpace(fmt.Sprintln(name, super, login, ten)))
	}
	want := []string{"ro false false false", "su true true false", "ugnos true true true"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("pg_roles: %q, want %q", got, want)
	}
	var users string
	if err := c.QueryRow(ctx, "SELECT string_agg(usename, ',') FROM (SELECT usename FROM pg_user ORDER BY usename) u").Scan(&users); err != nil || users != "su,ugnos" {
		t.Fatalf("pg_user: %q %v", users, err)
	}
}

// TestAuditLog: failed logins and privilege errors are logged with who,
// where and why, never the password; an unknown database is not revealed
// before authentication.
func TestAuditLog(t *testing.T) {
	var buf syncbuf.Buffer
	log := slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelWarn}))
	ts := startServerWith(t, pgwire.Config{Auth: pgwire.AuthSCRAM, Users: map[string]string{"boot": "bootpw"}, Logger: log})
	login := ts.login
	boot, err := login("boot", "bootpw", "postgres")
	if err != nil {
		t.Fatal(err)
	}
	defer boot.Close(ctx)
	for _, q := range []string{"CREATE USER bob PASSWORD 'bob-pw'", "GRANT CONNECT ON DATABASE postgres TO bob"} {
		if _, err := boot.Exec(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := login("bob", "secret-guess", "postgres"); sqlState(err) != "28P01" {
		t.Fatalf("wrong password: %v", err)
	}
	if _, err := login("bob", "wrong", "no_such_db"); sqlState(err) != "28P01" {
		t.Fatalf("unknown database, wrong password: %v (must not say the database is missing)", err)
	}
	if _, err := login("bob", "bob-pw", "no_such_db"); sqlState(err) != "3D000" {
		t.Fatalf("unknown database after login: %v", err)
	}
	bob, err := login("bob", "bob-pw", "postgres")
	if err != nil {
		t.Fatal(err)
	}
	defer bob.Close(ctx)
	if _, err := bob.Exec(ctx, "DROP ROLE boot"); sqlState(err) != "42501" {
		t.Fatalf("privilege error: %v", err)
	}
	out := buf.String()
	for _, want := range []string{`"msg":"audit: authentication failed","user":"bob","database":"postgres"`, `"sqlstate":"28P01"`,
		`"msg":"audit: privilege error","user":"bob"`, `"sqlstate":"42501"`, `"remote":"127.0.0.1:`} {
		if !strings.Contains(out, want) {
			t.Errorf("audit log lacks %s:\n%s", want, out)
		}
	}
	if strings.Contains(out, "secret-guess") || strings.Contains(out, "bob-pw") {
		t.Errorf("audit log holds a password:\n%s", out)
	}
}

// login connects as user with a password (any characters) to db.
func (ts *testServer) login(user, pw, db string) (*pgx.Conn, error) {
	u := url.URL{Scheme: "postgres", User: url.UserPassword(user, pw), Host: ts.addr, Path: "/" + db, RawQuery: "sslmode=disable"}
	return pgx.Connect(ctx, u.String())
}
