package pgwire_test

import (
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// TestQuotaOverPgwire: a database's CONNECTION LIMIT, statement_timeout,
// result limit, series and ingest-rate limits over the wire, each with
// its SQLSTATE and a message naming it; other databases and the server
// go on; ordinary roles cannot change or escape them.
func TestQuotaOverPgwire(t *testing.T) {
	ts := startServer(t)
	admin := ts.connect(t, "postgres")
	for _, q := range []string{
		"CREATE DATABASE acme", "CREATE DATABASE other",
		"CREATE ROLE ann LOGIN", "GRANT CONNECT ON DATABASE acme TO ann", "GRANT CONNECT ON DATABASE other TO ann",
		"ALTER DATABASE acme CONNECTION LIMIT 2",
		"ALTER DATABASE acme SET statement_timeout = '100ms'",
		"ALTER DATABASE acme SET ugnos.max_result_rows = 1000",
		"ALTER DATABASE acme SET ugnos.max_series = 2",
	} {
		if _, err := admin.Exec(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	ann1, err := ts.login("ann", "", "acme")
	if err != nil {
		t.Fatal(err)
	}
	defer ann1.Close(ctx)
	ann2, err := ts.login("ann", "", "acme")
	if err != nil {
		t.Fatal(err)
	}
	// the third connection of an ordinary role is refused, superusers are not
	_, err = ts.login("ann", "", "acme")
	if sqlState(err) != "53300" || !strings.Contains(err.Error(), `too many connections for database "acme"`) {
		t.Fatalf("third connection: %v", err)
	}
	if _, err := ts.login("ann", "", "other"); err != nil {
		t.Fatalf("another database: %v", err)
	}
	ann2.Close(ctx)
	time.Sleep(100 * time.Millisecond) // the server notices the close
	ann3, err := ts.login("ann", "", "acme")
	if err != nil {
		t.Fatalf("after one closed: %v", err)
	}
	defer ann3.Close(ctx)
	su := ts.connect(t, "acme")                                          // superusers count, and are never refused
	if _, err := su.Exec(ctx, "SET statement_timeout = 0"); err != nil { // nor bound by the database's timeout
		t.Fatal(err)
	}

	// non-superusers may not set quotas
	for _, q := range []string{"ALTER DATABASE acme SET ugnos.max_series = 0", "ALTER DATABASE acme CONNECTION LIMIT -1"} {
		if _, err := ann1.Exec(ctx, q); sqlState(err) != "42501" {
			t.Fatalf("%s as ann: %v", q, err)
		}
	}
	if _, err := ann1.Exec(ctx, "SET ugnos.max_result_rows = 0"); sqlState(err) != "55P02" {
		t.Fatalf("SET of a quota: %v", err)
	}
	// SHOW: the database's settings are the session's
	for name, want := range map[string]string{"statement_timeout": "100ms", "ugnos.max_result_rows": "1000", "ugnos.max_series": "2"} {
		var got string
		if err := ann1.QueryRow(ctx, "SHOW "+name).Scan(&got); err != nil || got != want {
			t.Fatalf("SHOW %s: %q, %v; want %q", name, got, err, want)
		}
	}

	// statement_timeout: the default, and a ceiling ann cannot lift
	slow := "SELECT count(*) FROM generate_series(1, 100000) a, generate_series(1, 100000) b"
	for _, set := range []string{"", "SET statement_timeout = 0", "SET statement_timeout = '1h'"} {
		if set != "" {
			if _, err := ann1.Exec(ctx, set); err != nil {
				t.Fatal(err)
			}
		}
		start := time.Now()
		_, err := ann1.Exec(ctx, slow)
		if sqlState(err) != "57014" || !strings.Contains(err.Error(), "statement timeout") || time.Since(start) > 10*time.Second {
			t.Fatalf("after %q: %v after %v", set, err, time.Since(start))
		}
	}
	var one int
	if err := ann1.QueryRow(ctx, "SELECT 1").Scan(&one); err != nil || one != 1 {
		t.Fatalf("after the timeouts: %v", err)
	}

	// max_series and max_result_rows
	if _, err := su.Exec(ctx, "CREATE TABLE m (time timestamptz, host text, v double precision)"); err != nil {
		t.Fatal(err)
	}
	if _, err := su.Exec(ctx, "INSERT INTO m VALUES (now(), 'a', 1), (now(), 'b', 1), (now(), 'c', 1)"); sqlState(err) != "53400" || !strings.Contains(err.Error(), "ugnos.max_series") {
		t.Fatalf("three series: %v", err)
	}
	var n int
	if err := su.QueryRow(ctx, "SELECT count(*) FROM m").Scan(&n); err != nil || n != 0 {
		t.Fatalf("rows after the refused insert: %d, %v", n, err)
	}
	// COPY of two series of 2000 rows: within max_series, over max_result_rows to read back
	var sb strings.Builder
	for i := range 2000 {
		sb.WriteString(time.Unix(int64(i), 0).UTC().Format(time.RFC3339) + "\t" + []string{"a", "b"}[i%2] + "\t1\n")
	}
	if _, err := su.PgConn().CopyFrom(ctx, strings.NewReader(sb.String()), "COPY m FROM STDIN"); err != nil {
		t.Fatal(err)
	}
	// a COPY that brings a third series is refused whole
	if _, err := su.PgConn().CopyFrom(ctx, strings.NewReader(sb.String()+"2024-01-01T00:00:00Z\tc\t1\n"), "COPY m FROM STDIN"); sqlState(err) != "53400" || !strings.Contains(err.Error(), "ugnos.max_series") {
		t.Fatalf("COPY with a third series: %v", err)
	}
	_, err = queryAll(su, "SELECT * FROM m")
	if sqlState(err) != "54000" || !strings.Contains(err.Error(), "ugnos.max_result_rows") {
		t.Fatalf("2000 rows over 1000: %v", err)
	}
	if rows, err := queryAll(su, "SELECT * FROM m LIMIT 1000"); err != nil || rows != 1000 {
		t.Fatalf("1000 rows: %d, %v", rows, err)
	}

	// ingest rate: a COPY is taken whole
	if _, err := su.Exec(ctx, "ALTER DATABASE acme SET ugnos.max_ingest_rows_per_second = 1500"); err != nil {
		t.Fatal(err)
	}
	_, err = su.PgConn().CopyFrom(ctx, strings.NewReader(sb.String()), "COPY m FROM STDIN")
	if sqlState(err) != "53400" || !strings.Contains(err.Error(), "ugnos.max_ingest_rows_per_second") {
		t.Fatalf("COPY over the rate: %v", err)
	}
	if err := su.QueryRow(ctx, "SELECT count(*) FROM m").Scan(&n); err != nil || n != 2000 {
		t.Fatalf("rows after the refused COPY: %d, %v", n, err)
	}
	// the other database is unaffected
	o := ts.connect(t, "other")
	if _, err := o.Exec(ctx, "CREATE TABLE m (time timestamptz, host text, v double precision)"); err != nil {
		t.Fatal(err)
	}
	if _, err := o.PgConn().CopyFrom(ctx, strings.NewReader(sb.String()+strings.ReplaceAll(sb.String(), "\ta\t", "\tc\t")), "COPY m FROM STDIN"); err != nil {
		t.Fatal(err)
	}
	if rows, err := queryAll(o, "SELECT * FROM m"); err != nil || rows != 4000 {
		t.Fatalf("other: %d, %v", rows, err)
	}
}

func queryAll(c *pgx.Conn, q string) (int, error) {
	rows, err := c.Query(ctx, q)
	if err != nil {
		return 0, err
	}
	n := 0
	for rows.Next() {
		n++
	}
	rows.Close()
	return n, rows.Err()
}
