package pgwire_test

import (
	"fmt"
	"net"
	"os"
	"sort"
	"strings"
	"testing"
	"time"

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

// tenantsServer serves databases acme and other. acme has tables cpu and
// secret, views v (of cpu) and sv (of secret), continuous aggregates
// cpu_1h and secret_1h, retention policies and rules (fired) on cpu and
// secret, and a rule on cpu with a webhook. reader may connect to acme and SELECT cpu, v and cpu_1h; admin
// is a superuser (both with password pw).
func tenantsServer(t *testing.T) *testServer {
	ts := startServerWith(t, pgwire.Config{Auth: pgwire.AuthSCRAM, Users: map[string]string{"boot": "bootpw"}})
	for _, db := range []string{"acme", "other"} {
		if err := ts.db.CreateDatabase(db); err != nil {
			t.Fatal(err)
		}
	}
	now := time.Now().UTC().Format(time.RFC3339)
	for db, qs := range map[string][]string{
		"other": {"CREATE TABLE far (time timestamptz, v double precision)", "INSERT INTO far VALUES ('" + now + "', 1)"},
		"acme": {
			"CREATE TABLE cpu (time timestamptz, host text, v double precision)",
			"INSERT INTO cpu VALUES ('" + now + "', 'a', 1)",
			"CREATE TABLE secret (time timestamptz, pin double precision)",
			"INSERT INTO secret VALUES ('" + now + "', 1234)",
			"CREATE VIEW v AS SELECT host, v FROM cpu",
			"CREATE VIEW sv AS SELECT pin FROM secret",
			"CREATE MATERIALIZED VIEW cpu_1h WITH (ugnos.continuous) AS SELECT time_bucket('1 hour', time) AS bucket, host, max(v) AS top FROM cpu GROUP BY bucket, host",
			"CREATE MATERIALIZED VIEW secret_1h WITH (ugnos.continuous) AS SELECT time_bucket('1 hour', time) AS bucket, max(pin) AS top FROM secret GROUP BY bucket",
			"SELECT add_retention_policy('cpu', INTERVAL '30 days')",
			"SELECT add_retention_policy('secret', INTERVAL '60 days')",
			"SELECT ugnos_create_rule('cpu_rule', 'SELECT host, max(v) FROM cpu GROUP BY host', INTERVAL '100 milliseconds')",
			"SELECT ugnos_create_rule('secret_rule', 'SELECT max(pin) FROM secret', INTERVAL '100 milliseconds')",
			"SELECT ugnos_create_rule('hook_rule', 'SELECT host, max(v) FROM cpu GROUP BY host', INTERVAL '1 hour', INTERVAL '0 s', 'http://127.0.0.1:1/?key=s3cret')",
			"CREATE USER reader PASSWORD 'pw'", "GRANT CONNECT ON DATABASE acme TO reader",
			"GRANT SELECT ON cpu, v, cpu_1h TO reader",
			"CREATE USER admin SUPERUSER PASSWORD 'pw'",
		},
	} {
		b, err := ts.login("boot", "bootpw", db)
		if err != nil {
			t.Fatal(err)
		}
		for _, q := range qs {
			if _, err := b.Exec(ctx, q); err != nil {
				t.Fatalf("%s: %v", q, err)
			}
		}
		b.Close(ctx)
	}
	// the rules fire (alerts of both)
	for deadline := time.Now().Add(10 * time.Second); len(ts.db.Alerts("acme")) < 2; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("alerts: %+v", ts.db.Alerts("acme"))
		}
	}
	return ts
}

// TestCatalogsFiltered: an ordinary role sees in every catalog only the
// databases it may connect to and the tables, views and continuous
// aggregates it holds a privilege on (and what is defined on them), where
// a superuser sees everything; a hidden relation read by name is 42501.
func TestCatalogsFiltered(t *testing.T) {
	ts := tenantsServer(t)
	conns := map[string]*pgx.Conn{}
	for _, role := range []string{"reader", "admin"} {
		c, err := ts.login(role, "pw", "acme")
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close(ctx)
		conns[role] = c
	}
	list := func(c *pgx.Conn, q string) string {
		rows, err := c.Query(ctx, q)
		if err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		var out []string
		for rows.Next() {
			vals, err := rows.Values()
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, fmt.Sprint(vals...))
		}
		if err := rows.Err(); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		sort.Strings(out)
		return strings.Join(out, ",")
	}
	for _, tc := range []struct{ q, reader, admin string }{
		{"SELECT datname FROM pg_database", "acme", "acme,other,postgres"},
		{"SELECT relname || ':' || relkind FROM pg_class WHERE relnamespace = 'public'::regnamespace", "cpu:r,cpu_1h:m,v:v",
			"_cagg_cpu_1h:r,_cagg_secret_1h:r,cpu:r,cpu_1h:m,secret:r,secret_1h:m,sv:v,v:v"},
		{"SELECT count(*) FROM pg_attribute WHERE attname = 'pin'", "0", "2"}, // secret's and sv's
		{"SELECT tablename FROM pg_tables WHERE schemaname = 'public'", "cpu", "_cagg_cpu_1h,_cagg_secret_1h,cpu,secret"},
		{"SELECT viewname FROM pg_views WHERE schemaname = 'public'", "v", "sv,v"},
		{"SELECT matviewname FROM pg_matviews", "cpu_1h", "cpu_1h,secret_1h"},
		{"SELECT table_name || ':' || table_type FROM information_schema.tables WHERE table_schema = 'public'", "cpu:BASE TABLE,cpu_1h:VIEW,v:VIEW",
			"_cagg_cpu_1h:BASE TABLE,_cagg_secret_1h:BASE TABLE,cpu:BASE TABLE,cpu_1h:VIEW,secret:BASE TABLE,secret_1h:VIEW,sv:VIEW,v:VIEW"},
		{"SELECT table_name || '.' || column_name FROM information_schema.columns WHERE table_schema = 'public'",
			"cpu.host,cpu.time,cpu.v,cpu_1h.bucket,cpu_1h.host,cpu_1h.top,v.host,v.v",
			"_cagg_cpu_1h.host,_cagg_cpu_1h.time,_cagg_cpu_1h.top,_cagg_secret_1h.time,_cagg_secret_1h.top,cpu.host,cpu.time,cpu.v," +
				"cpu_1h.bucket,cpu_1h.host,cpu_1h.top,secret.pin,secret.time,secret_1h.bucket,secret_1h.top,sv.pin,v.host,v.v"},
		{"SELECT table_name FROM information_schema.views WHERE table_schema = 'public'", "v", "sv,v"},
		{"SELECT rolname FROM pg_roles", "reader", "admin,reader"}, // boot is no role
		{"SELECT view_name FROM ugnos.continuous_aggregates", "cpu_1h", "cpu_1h,secret_1h"},
		{"SELECT name FROM ugnos.rules", "cpu_rule", "cpu_rule,hook_rule,secret_rule"}, // reader may run cpu_rule's query; hook_rule's URL is hidden
		{"SELECT DISTINCT rule FROM ugnos.alerts", "cpu_rule", "cpu_rule,secret_rule"},
		{"SELECT coalesce(table_name, '(database)') FROM ugnos.retention_policies", "cpu", "cpu,secret"},
		{"SELECT DISTINCT tenant FROM ugnos.metrics WHERE tenant IS NOT NULL", "acme", "acme,other,postgres"},
		{"SELECT has_table_privilege('cpu', 'SELECT'), has_table_privilege('public.cpu', 'INSERT, DELETE'), has_table_privilege('pg_class', 'SELECT')",
			"true false true", "true true true"},
		{"SELECT has_database_privilege('acme', 'CONNECT'), has_database_privilege('other', 'CONNECT'), has_database_privilege('acme', 'CREATE')",
			"true false false", "true true true"},
		{"SELECT has_table_privilege('reader', 'cpu_1h', 'SELECT'), has_table_privilege('reader', 'v', 'INSERT')", "true false", "true false"},
	} {
		for _, role := range []string{"reader", "admin"} {
			want := map[string]string{"reader": tc.reader, "admin": tc.admin}[role]
			if got := list(conns[role], tc.q); got != want {
				t.Errorf("%s: %s\n got %q\nwant %q", role, tc.q, got, want)
			}
		}
	}
	// hidden relations read by name: 42501, as for any table without SELECT
	for _, rel := range []string{"secret", "sv", "secret_1h", "_cagg_secret_1h", "_cagg_cpu_1h"} {
		if _, err := conns["reader"].Exec(ctx, "SELECT * FROM "+rel); sqlState(err) != "42501" {
			t.Errorf("reader reads %s: %v, want 42501", rel, err)
		}
	}
	if _, err := conns["reader"].Exec(ctx, "SELECT has_table_privilege('secret', 'SELECT')"); sqlState(err) != "42P01" {
		t.Errorf("reader asks about secret: %v, want 42P01 (as for 'secret'::regclass)", err)
	}
	if _, err := conns["reader"].Exec(ctx, "SELECT * FROM cpu_1h"); err != nil {
		t.Errorf("reader reads cpu_1h: %v", err)
	}
}

// TestPsqlFiltered: psql's \l, \dt, \dv, \dm, \d and \d cpu (the
// queries of its describe.c) list for reader only what it may see
// (testdata/grants/psql_reader.out: acme; cpu, v, cpu_1h) and for admin
// everything.
func TestPsqlFiltered(t *testing.T) {
	need(t, "/usr/bin/psql", "postgresql-client")
	ts := tenantsServer(t)
	host, port, _ := net.SplitHostPort(ts.addr)
	psql := func(user string) string {
		env := []string{"PGHOST=" + host, "PGPORT=" + port, "PGUSER=" + user, "PGPASSWORD=pw", "PGDATABASE=acme", "PGTZ=UTC", "LC_ALL=C", "PAGER=", "PSQL_PAGER="}
		return run(t, t.TempDir(), env, "psql", "-X", "-c", `\l`, "-c", `\dt`, "-c", `\dv`, "-c", `\dm`, "-c", `\d`, "-c", `\d cpu`)
	}
	for _, user := range []string{"reader", "admin"} {
		want, err := os.ReadFile("testdata/grants/psql_" + user + ".out")
		if err != nil {
			t.Fatal(err)
		}
		if got := psql(user); got != string(want) {
			t.Errorf("psql as %s:\n%s\nwant (testdata/grants/psql_%s.out)\n%s", user, got, user, want)
		}
	}
}
