package pgwire_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/ugnos/ugnos/pgwire"
)

// TestPrivilegeMatrix: roles with no privileges, read, write and admin
// (superuser) try every operation on their own database and on another
// one over pgwire; only the allowed cells succeed, the others fail with
// 42501 (after logging in) or cannot connect. The catalog cell also
// checks what pg_tables and pg_database list: the tables the role holds
// a privilege on and the databases it may connect to.
func TestPrivilegeMatrix(t *testing.T) {
	ts := startServerWith(t, pgwire.Config{Auth: pgwire.AuthSCRAM, Users: map[string]string{"boot": "bootpw"}})
	login := ts.login
	boot, err := login("boot", "bootpw", "postgres")
	if err != nil {
		t.Fatal(err)
	}
	defer boot.Close(ctx)
	for _, db := range []string{"acme", "other"} {
		if err := ts.db.CreateDatabase(db); err != nil {
			t.Fatal(err)
		}
		b, err := login("boot", "bootpw", db)
		if err != nil {
			t.Fatal(err)
		}
		for _, q := range []string{"CREATE TABLE cpu (time timestamptz, host text, v double precision)",
			"INSERT INTO cpu VALUES ('2024-01-01 00:00:00+00', 'a', 1)", "CREATE TABLE secret (time timestamptz, v double precision)"} {
			if _, err := b.Exec(ctx, q); err != nil {
				t.Fatal(err)
			}
		}
		b.Close(ctx)
	}
	acme, err := login("boot", "bootpw", "acme")
	if err != nil {
		t.Fatal(err)
	}
	defer acme.Close(ctx)
	for _, q := range []string{
		"CREATE USER nobody PASSWORD 'pw'",
		"CREATE USER reader PASSWORD 'pw'", "GRANT CONNECT ON DATABASE acme TO reader", "GRANT SELECT ON ALL TABLES IN SCHEMA public TO reader",
		"CREATE USER writer PASSWORD 'pw'", "GRANT CONNECT ON DATABASE acme TO writer", "GRANT SELECT, INSERT, DELETE ON cpu TO writer",
		"CREATE USER admin SUPERUSER PASSWORD 'pw'",
	} {
		if _, err := acme.Exec(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	n := 0
	listing := map[string][2]string{ // role → tables, databases listed in acme (admin: in both)
		"reader": {"cpu,secret", "acme"},
		"writer": {"cpu", "acme"},
		"admin":  {"cpu,secret", "acme,other,postgres"},
	}
	var role string
	ops := []struct {
		name string
		run  func(c *pgx.Conn) error
	}{
		{"catalog", func(c *pgx.Conn) error {
			list := func(q string) (string, error) {
				rows, err := c.Query(ctx, q)
				if err != nil {
					return "", err
				}
				names, err := pgx.CollectRows(rows, pgx.RowTo[string])
				return strings.Join(names, ","), err
			}
			tables, err := list("SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename")
			if err != nil {
				return err
			}
			dbs, err := list("SELECT datname FROM pg_database ORDER BY datname")
			if err != nil {
				return err
			}
			if want := listing[role]; tables != want[0] || dbs != want[1] {
				t.Errorf("%s lists tables %q, databases %q; want %q, %q", role, tables, dbs, want[0], want[1])
			}
			return nil
		}},
		{"select", func(c *pgx.Conn) error { _, err := c.Exec(ctx, "SELECT count(*) FROM cpu"); return err }},
		{"insert", func(c *pgx.Conn) error {
			_, err := c.Exec(ctx, "INSERT INTO cpu VALUES ('2024-01-02 00:00:00+00', 'b', 2)")
			return err
		}},
		{"copy", func(c *pgx.Conn) error {
			_, err := c.PgConn().CopyFrom(ctx, strings.NewReader("2024-01-03 00:00:00+00,c,3\n"), "COPY cpu FROM STDIN (FORMAT csv)")
			return err
		}},
		{"delete", func(c *pgx.Conn) error {
			_, err := c.Exec(ctx, "DELETE FROM cpu WHERE time > '2024-01-01 12:00:00+00'")
			return err
		}},
		{"ddl", func(c *pgx.Conn) error {
			n++
			_, err := c.Exec(ctx, fmt.Sprintf("CREATE TABLE t%d (time timestamptz, v double precision)", n))
			return err
		}},
		{"rule", func(c *pgx.Conn) error {
			n++
			_, err := c.Exec(ctx, fmt.Sprintf("SELECT ugnos_create_rule('r%d', 'SELECT host, max(v) FROM cpu GROUP BY host', INTERVAL '1 hour')", n))
			return err
		}},
		{"rule_insert", func(c *pgx.Conn) error { // a continuous query into cpu: INSERT on it too
			n++
			_, err := c.Exec(ctx, fmt.Sprintf("SELECT ugnos_create_rule('r%d', 'SELECT host, max(v) FROM cpu GROUP BY host', INTERVAL '1 hour', INTERVAL '0 s', 'insert:cpu')", n))
			return err
		}},
		{"role", func(c *pgx.Conn) error { _, err := c.Exec(ctx, "ALTER ROLE nobody LOGIN"); return err }},
	}
	allowed := map[string]map[string]bool{ // role → operations allowed in acme
		"nobody": {},
		"reader": {"connect": true, "catalog": true, "select": true, "rule": true},
		"writer": {"connect": true, "catalog": true, "select": true, "insert": true, "copy": true, "delete": true, "rule": true, "rule_insert": true},
		"admin":  {"connect": true, "catalog": true, "select": true, "insert": true, "copy": true, "delete": true, "ddl": true, "rule": true, "rule_insert": true, "role": true},
	}
	for _, role = range []string{"nobody", "reader", "writer", "admin"} {
		for _, db := range []string{"acme", "other"} {
			want := func(op string) bool { return allowed[role][op] && (db == "acme" || role == "admin") }
			c, err := login(role, "pw", db)
			if (err == nil) != want("connect") {
				t.Errorf("%s connect %s: %v, want allowed=%v", role, db, err, want("connect"))
			}
			if err != nil {
				if sqlState(err) != "42501" {
					t.Errorf("%s connect %s: %v, want 42501", role, db, err)
				}
				continue
			}
			for _, op := range ops {
				err := op.run(c)
				if (err == nil) != want(op.name) {
					t.Errorf("%s %s in %s: %v, want allowed=%v", role, op.name, db, err, want(op.name))
				} else if err != nil && sqlState(err) != "42501" {
					t.Errorf("%s %s in %s: %v, want 42501", role, op.name, db, err)
				}
			}
			c.Close(ctx)
		}
	}
	// REVOKE takes it back
	if _, err := acme.Exec(ctx, "REVOKE SELECT ON ALL TABLES IN SCHEMA public FROM reader"); err != nil {
		t.Fatal(err)
	}
	c, err := login("reader", "pw", "acme")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(ctx)
	if _, err := c.Exec(ctx, "SELECT count(*) FROM cpu"); sqlState(err) != "42501" {
		t.Errorf("reader after REVOKE: %v", err)
	}
}
