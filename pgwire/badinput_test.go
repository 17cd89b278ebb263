package pgwire_test

import (
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"
)

// Bad input over the PostgreSQL protocol (issue 8): each case sends one bad
// request and checks the SQLSTATE, that nothing of the request was stored,
// and that the server still answers on the same connection (where the
// protocol keeps it open) and on a fresh one.

const badSetup = `CREATE TABLE m (time timestamptz, host text, v double precision, n bigint, s varchar);
INSERT INTO m VALUES ('2024-01-01 00:00:00+00', 'a', 1, 1, 'x')`

// badRows is what must not change: acme's tables and m's rows.
func badRows(t *testing.T, ts *testServer) string {
	t.Helper()
	c := ts.connect(t, "acme")
	defer c.Close(ctx)
	var out []string
	rows, err := c.Query(ctx, "SELECT relname FROM pg_class WHERE relkind = 'r' AND relnamespace = 'public'::regnamespace ORDER BY 1")
	if err != nil {
		t.Fatalf("tables: %v", err)
	}
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			t.Fatal(err)
		}
		out = append(out, s)
	}
	if rows.Err() != nil {
		t.Fatal(rows.Err())
	}
	rows, err = c.Query(ctx, "SELECT time::text || ' ' || coalesce(host, '-') || ' ' || coalesce(v::text, '-') || ' ' || coalesce(length(s)::text, '-') FROM m ORDER BY time, v", pgx.QueryExecModeSimpleProtocol)
	if err != nil {
		t.Fatalf("rows: %v", err)
	}
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			t.Fatal(err)
		}
		out = append(out, s)
	}
	if rows.Err() != nil {
		t.Fatal(rows.Err())
	}
	return strings.Join(out, "|")
}

func pgBig(n int) string { return strings.Repeat("x", n) }

func TestBadInputPgwire(t *testing.T) {
	ts := startServer(t)
	if _, err := ts.db.Exec(ctx, "postgres", "CREATE DATABASE acme"); err != nil {
		t.Fatal(err)
	}
	if _, err := ts.connect(t, "acme").Exec(ctx, badSetup); err != nil {
		t.Fatal(err)
	}
	simple := func(q string) func(c *pgx.Conn) error {
		return func(c *pgx.Conn) error {
			_, err := c.Exec(ctx, q, pgx.QueryExecModeSimpleProtocol)
			return err
		}
	}
	extended := func(q string, args ...any) func(c *pgx.Conn) error {
		return func(c *pgx.Conn) error {
			_, err := c.Exec(ctx, q, args...)
			return err
		}
	}
	copyIn := func(q, data string) func(c *pgx.Conn) error {
		return func(c *pgx.Conn) error {
			_, err := c.PgConn().CopyFrom(ctx, strings.NewReader(data), q)
			return err
		}
	}
	copyBinary := func(rows ...[]any) func(c *pgx.Conn) error {
		return func(c *pgx.Conn) error {
			_, err := c.CopyFrom(ctx, pgx.Identifier{"m"}, []string{"time", "host", "v", "n", "s"}, pgx.CopyFromRows(rows))
			return err
		}
	}
	t0 := time.Date(2024, 1, 2, 0, 0, 0, 0, time.UTC)
	// 70,000 good rows, then a bad one: more than one record (64Ki rows
	// each), so the bad row is refused after other records were built
	manyRows := func(last string) string {
		var b strings.Builder
		for i := range 70000 {
			fmt.Fprintf(&b, "%s\tb\tok\n", t0.Add(time.Duration(i)*time.Second).Format(time.RFC3339))
		}
		return b.String() + last
	}
	long := strings.Repeat("t", 100<<10)
	hundredMB := pgBig(100 << 20)
	cases := []struct {
		name string
		code string // SQLSTATE; "" any error
		// closes: the server ends the connection (a message over
		// MaxMessageBytes); the client may see only a broken connection
		closes bool
		run    func(c *pgx.Conn) error
	}{
		// identifiers: truncated to 63 bytes as PostgreSQL does
		{name: "100KB table name", code: "42P01", run: simple("SELECT * FROM " + long)},
		{name: "100KB column name, extended", code: "42703", run: extended("SELECT " + long + " FROM m")},
		{name: "100KB quoted column in INSERT", code: "42703", run: simple(`INSERT INTO m (time, "` + long + `") VALUES ('2024-01-02', 1)`)},

		// size
		{name: "100MB string literal", code: "08P01", closes: true, run: func(c *pgx.Conn) error {
			return simple("INSERT INTO m (time, s) VALUES ('2024-01-02', '" + hundredMB + "')")(c)
		}},
		{name: "100MB parameter", code: "08P01", closes: true, run: extended("INSERT INTO m (time, s) VALUES ($1, $2)", t0, hundredMB)},
		{name: "20MB string literal (over the 16 MiB query limit)", code: "54000", run: func(c *pgx.Conn) error {
			return simple("INSERT INTO m (time, s) VALUES ('2024-01-02', '" + hundredMB[:20<<20] + "')")(c)
		}},
		{name: "20MB text parameter (over the 16 MiB text limit)", code: "54000", run: extended("INSERT INTO m (time, s) VALUES ($1, $2)", t0, hundredMB[:20<<20])},
		{name: "100KB tag parameter (over the 64 KiB tag limit)", code: "54000", run: extended("INSERT INTO m (time, host) VALUES ($1, $2)", t0, hundredMB[:100<<10])},

		// depth
		{name: "100k nested parentheses, simple", code: "54001", run: simple("SELECT " + strings.Repeat("(", 100000) + "1" + strings.Repeat(")", 100000))},
		{name: "100k nested parentheses, extended", code: "54001", run: extended("SELECT "+strings.Repeat("(", 100000)+"$1::int"+strings.Repeat(")", 100000), 1)},
		{name: "100k-term sum", code: "54001", run: simple("SELECT 1" + strings.Repeat("+1", 100000))},
		{name: "100k nested subqueries in INSERT", code: "54001", run: simple("INSERT INTO m (time, v) SELECT '2024-01-02', " + strings.Repeat("(SELECT ", 100000) + "1" + strings.Repeat(")", 100000))},

		// encoding
		{name: "invalid UTF-8 in simple query", code: "22021", run: simple("INSERT INTO m (time, s) VALUES ('2024-01-02', 'a\xffb')")},
		{name: "invalid UTF-8 in Parse", code: "22021", run: extended("INSERT INTO m (time, s) VALUES ($1, 'a\xc3')", t0)},
		{name: "invalid UTF-8 text parameter", code: "22021", run: extended("INSERT INTO m (time, s) VALUES ($1, $2)", t0, "a\xffb")},
		{name: "invalid UTF-8 tag parameter", code: "22021", run: extended("INSERT INTO m (time, host) VALUES ($1, $2)", t0, "\xed\xa0\x80")},
		{name: "NUL in text parameter", code: "22021", run: extended("INSERT INTO m (time, s) VALUES ($1, $2)", t0, "a\x00b")},
		// a NUL cuts the message's string short: PostgreSQL answers
		// "invalid string in message" (08P01); ugnos also closes, as for
		// every malformed message
		{name: "NUL in simple query text", code: "08P01", closes: true, run: simple("SELECT 'a\x00b'")},
		{name: "NUL by escape", code: "22021", run: simple(`INSERT INTO m (time, s) VALUES ('2024-01-02', E'a\000b')`)},
		{name: "COPY text invalid UTF-8 after a good row", code: "22021", run: copyIn("COPY m (time, host, s) FROM STDIN", "2024-01-02\tb\tok\n2024-01-03\tb\ta\xffb\n")},
		{name: "COPY text NUL by escape", code: "22021", run: copyIn("COPY m (time, host, s) FROM STDIN", "2024-01-02\tb\tok\n2024-01-03\tb\ta\\000b\n")},
		{name: "COPY csv invalid UTF-8 tag", code: "22021", run: copyIn("COPY m (time, host, v) FROM STDIN (FORMAT csv)", "2024-01-02,b,1\n2024-01-03,\xc3,2\n")},
		{name: "COPY csv NUL byte", code: "22021", run: copyIn("COPY m (time, host, s) FROM STDIN (FORMAT csv)", "2024-01-02,b,ok\n2024-01-03,b,a\x00b\n")},
		{name: "COPY binary invalid UTF-8", code: "22021", run: copyBinary([]any{t0, "b", 1.0, int64(1), "ok"}, []any{t0, "b", 1.0, int64(1), "a\xff"})},
		{name: "COPY binary NUL", code: "22021", run: copyBinary([]any{t0, "b", 1.0, int64(1), "ok"}, []any{t0, "a\x00", 1.0, int64(1), "x"})},
		{name: "COPY text 100MB field (CopyData messages stay small)", code: "54000", run: func(c *pgx.Conn) error {
			return copyIn("COPY m (time, s) FROM STDIN", "2024-01-02\tok\n2024-01-03\t"+hundredMB+"\n")(c)
		}},
		{name: "COPY text 70,000 rows, then invalid UTF-8", code: "22021", run: func(c *pgx.Conn) error {
			return copyIn("COPY m (time, host, s) FROM STDIN", manyRows("2025-01-01\tb\ta\xff\n"))(c)
		}},
		{name: "COPY text 70,000 rows, then a NUL tag", code: "22021", run: func(c *pgx.Conn) error {
			return copyIn("COPY m (time, host, s) FROM STDIN", manyRows("2025-01-01\ta\\000\tx\n"))(c)
		}},
		{name: "COPY text 70,000 rows, then a 100KB tag", code: "54000", run: func(c *pgx.Conn) error {
			return copyIn("COPY m (time, host, s) FROM STDIN", manyRows("2025-01-01\t"+hundredMB[:100<<10]+"\tx\n"))(c)
		}},
		{name: "COPY text 100KB tag", code: "54000", run: copyIn("COPY m (time, host) FROM STDIN", "2024-01-02\tb\n2024-01-03\t"+hundredMB[:100<<10]+"\n")},

		// time
		{name: "timestamp year 3000", code: "22008", run: simple("INSERT INTO m (time, v) VALUES ('3000-01-01 00:00:00+00', 2)")},
		{name: "timestamp infinity", code: "22008", run: simple("INSERT INTO m (time, v) VALUES ('infinity', 2)")},
		{name: "binary timestamp parameter year 3000", code: "22008", run: extended("INSERT INTO m (time, v) VALUES ($1, 2)", time.Date(3000, 1, 1, 0, 0, 0, 0, time.UTC))},
		{name: "binary timestamp parameter year 1000", code: "22008", run: extended("INSERT INTO m (time, v) VALUES ($1, 2)", time.Date(1000, 1, 1, 0, 0, 0, 0, time.UTC))},
		{name: "binary timestamp parameter infinity", code: "22008", run: extended("INSERT INTO m (time, v) VALUES ($1, 2)", pgtype.Timestamptz{InfinityModifier: pgtype.Infinity, Valid: true})},
		{name: "text timestamp parameter year 1600", code: "22008", run: extended("INSERT INTO m (time, v) VALUES ($1::text::timestamptz, 2)", "1600-01-01 00:00:00+00")},
		{name: "COPY text timestamp year 2300 after a good row", code: "22008", run: copyIn("COPY m (time, v) FROM STDIN", "2024-01-02\t1\n2300-01-01\t2\n")},
		{name: "COPY csv timestamp -infinity", code: "22008", run: copyIn("COPY m (time, v) FROM STDIN (FORMAT csv)", "2024-01-02,1\n-infinity,2\n")},
		{name: "COPY binary timestamp year 3000", code: "22008", run: copyBinary([]any{t0, "b", 1.0, int64(1), "ok"}, []any{time.Date(3000, 1, 1, 0, 0, 0, 0, time.UTC), "b", 1.0, int64(1), "x"})},

		// types and ranges
		{name: "text into double", code: "22P02", run: simple("INSERT INTO m (time, v) VALUES ('2024-01-02', 'abc')")},
		{name: "text parameter into double", code: "22P02", run: extended("INSERT INTO m (time, v) VALUES ($1, $2::text::float8)", t0, "abc")},
		{name: "bigint overflow", code: "22003", run: simple("INSERT INTO m (time, n) VALUES ('2024-01-02', 9223372036854775808)")},
		{name: "double overflow", code: "22003", run: simple("INSERT INTO m (time, v) VALUES ('2024-01-02', '1e400')")},
		{name: "COPY text into double after a good row", code: "22P02", run: copyIn("COPY m (time, v) FROM STDIN", "2024-01-02\t1\n2024-01-03\tabc\n")},
		{name: "COPY bigint overflow", code: "22003", run: copyIn("COPY m (time, n) FROM STDIN (FORMAT csv)", "2024-01-02,1\n2024-01-03,9223372036854775808\n")},
		{name: "COPY double overflow", code: "22003", run: copyIn("COPY m (time, v) FROM STDIN (FORMAT csv)", "2024-01-02,1\n2024-01-03,1e400\n")},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := badRows(t, ts)
			c := ts.connect(t, "acme")
			err := tc.run(c)
			if err == nil {
				t.Fatalf("accepted; want %s", tc.code)
			}
			var pe *pgconn.PgError
			switch {
			case errors.As(err, &pe) && pe.Code != tc.code:
				t.Errorf("SQLSTATE %s (%.200s), want %s", pe.Code, pe.Message, tc.code)
			case pe == nil && !tc.closes:
				t.Errorf("not a server error: %.200v", err)
			case pe == nil:
				t.Logf("connection broken before the error arrived: %.200v", err)
			}
			if after := badRows(t, ts); after != before {
				t.Errorf("state changed:\n before %.300s\n after  %.300s", before, after)
			}
			if !tc.closes {
				var one int
				if err := c.QueryRow(ctx, "SELECT 1").Scan(&one); err != nil || one != 1 {
					t.Errorf("same connection unhealthy: %v", err)
				}
			} else if !c.IsClosed() {
				if err := c.Ping(ctx); err == nil {
					t.Errorf("connection still open after an oversize message")
				}
			}
			var n int
			if err := ts.connect(t, "acme").QueryRow(ctx, "SELECT count(*) FROM m").Scan(&n); err != nil || n != 1 {
				t.Errorf("fresh connection: count %d %v", n, err)
			}
		})
	}
}

// TestBadInputPgwireLegal: inputs PostgreSQL accepts that look bad: NaN and
// infinities in double precision (stored, ordered with NaN last), a
// 1,000,000-element IN list.
func TestBadInputPgwireLegal(t *testing.T) {
	ts := startServer(t)
	c := ts.connect(t, "postgres")
	if _, err := c.Exec(ctx, badSetup); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Exec(ctx, "INSERT INTO m (time, v) VALUES ($1, $2), ($3, $4), ($5, $6)",
		time.Unix(1704153600, 0), math.NaN(), time.Unix(1704153601, 0), math.Inf(1), time.Unix(1704153602, 0), math.Inf(-1)); err != nil {
		t.Fatal(err)
	}
	if _, err := c.PgConn().CopyFrom(ctx, strings.NewReader("2024-01-03,NaN\n2024-01-04,-Infinity\n"), "COPY m (time, v) FROM STDIN (FORMAT csv)"); err != nil {
		t.Fatal(err)
	}
	var got []string
	rows, err := c.Query(ctx, "SELECT v::text FROM m ORDER BY v")
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			t.Fatal(err)
		}
		got = append(got, s)
	}
	if want := "-Infinity|-Infinity|1|Infinity|NaN|NaN"; strings.Join(got, "|") != want || rows.Err() != nil {
		t.Errorf("ORDER BY v: %q %v, want %s", got, rows.Err(), want)
	}
	if testing.Short() {
		return
	}
	nums := make([]string, 1000000)
	for i := range nums {
		nums[i] = fmt.Sprint(i)
	}
	start := time.Now()
	var n int
	// v = 1 is in 0..999999; NaN and the infinities are not
	if err := c.QueryRow(ctx, "SELECT count(*) FROM m WHERE v IN ("+strings.Join(nums, ",")+")").Scan(&n); err != nil || n != 1 {
		t.Errorf("1M IN list: %d %v", n, err)
	}
	t.Logf("1M-element IN list over pgwire: %v", time.Since(start))
}

// TestBadInputPgwireStartup: a 100 KB database or user name in the startup
// packet is refused, and the server goes on accepting connections; invalid
// UTF-8 in a startup parameter is 22021, except in application_name, which
// PostgreSQL cleans to printable ASCII.
func TestBadInputPgwireStartup(t *testing.T) {
	ts := startServer(t)
	for _, param := range []string{"user", "database", "search_path", "my.custom"} {
		cfg, err := pgx.ParseConfig(ts.connString("postgres"))
		if err != nil {
			t.Fatal(err)
		}
		switch param {
		case "user":
			cfg.User = "a\xffb"
		case "database":
			cfg.Database = "a\xffb"
		default:
			cfg.RuntimeParams[param] = "a\xffb"
		}
		c, err := pgx.ConnectConfig(ctx, cfg)
		if err == nil {
			c.Close(ctx)
		}
		if sqlState(err) != "22021" {
			t.Errorf("%s not UTF-8: %v, want 22021", param, err)
		}
	}
	cfg, err := pgx.ParseConfig(ts.connString("postgres"))
	if err != nil {
		t.Fatal(err)
	}
	cfg.RuntimeParams["application_name"] = "a\xffb\tc"
	c, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(ctx)
	var s string
	if err := c.QueryRow(ctx, "SHOW application_name").Scan(&s); err != nil || s != "a?b?c" {
		t.Errorf("application_name %q %v, want a?b?c", s, err)
	}
	if _, err := c.Exec(ctx, "SET my.custom = 'ok'"); err != nil {
		t.Errorf("custom setting: %v", err)
	}
	long := strings.Repeat("d", 100<<10)
	for _, param := range []string{"database", "user"} {
		cfg, err := pgx.ParseConfig(ts.connString("postgres"))
		if err != nil {
			t.Fatal(err)
		}
		if param == "database" {
			cfg.Database = long
		} else {
			cfg.User = long
		}
		c, err := pgx.ConnectConfig(ctx, cfg)
		if err == nil {
			c.Close(ctx)
			t.Errorf("%s of 100 KB: accepted", param)
			continue
		}
		t.Logf("%s of 100 KB: %s %s", param, sqlState(err), err.Error()[len(err.Error())-150:])
		var one int
		if err := ts.connect(t, "postgres").QueryRow(ctx, "SELECT 1").Scan(&one); err != nil {
			t.Errorf("after a %s of 100 KB: %v", param, err)
		}
	}
}

// TestBadInputPgwireMultiStatement documents a difference from PostgreSQL:
// a simple Query message of several statements is not one implicit
// transaction in ugnos (every statement is autocommitted), so statements
// before a failing one stay stored; PostgreSQL would roll them back. The
// failing statement itself stores nothing, and later ones do not run.
func TestBadInputPgwireMultiStatement(t *testing.T) {
	ts := startServer(t)
	c := ts.connect(t, "postgres")
	if _, err := c.Exec(ctx, badSetup); err != nil {
		t.Fatal(err)
	}
	_, err := c.Exec(ctx, "INSERT INTO m (time, v) VALUES ('2024-01-02', 2); INSERT INTO m (time, v) VALUES ('2024-01-03', 3), ('2024-01-04', 'x'); INSERT INTO m (time, v) VALUES ('2024-01-05', 5)", pgx.QueryExecModeSimpleProtocol)
	if sqlState(err) != "22P02" {
		t.Fatalf("%v, want 22P02", err)
	}
	var n int
	if err := c.QueryRow(ctx, "SELECT count(*) FROM m").Scan(&n); err != nil || n != 2 {
		t.Errorf("count %d %v, want 2 (the setup row and the first INSERT's)", n, err)
	}
}
