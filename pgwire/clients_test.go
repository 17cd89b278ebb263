package pgwire_test

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgtype"
)

// Real clients against a real server: psql, the PostgreSQL JDBC driver
// and psycopg2 with SQLAlchemy. Each needs its Debian package (see
// .ci/run); without it the test is skipped, except under CI=true, where
// it fails.

func need(t *testing.T, path, pkg string) {
	t.Helper()
	if _, err := os.Stat(path); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s not found (Debian package %s); CI=true, so this test must run", path, pkg)
		}
		t.Skipf("%s not found; install the Debian package %s", path, pkg)
	}
}

// run runs a client command in dir and returns its combined output.
func run(t *testing.T, dir string, env []string, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s %v: %v\n%s", name, args, err, out)
	}
	return string(out)
}

// TestPsql runs scripted psql sessions (testdata/psql/*.sql) and compares
// their output with the .out files (timings masked).
func TestPsql(t *testing.T) {
	need(t, "/usr/bin/psql", "postgresql-client")
	scripts, err := filepath.Glob("testdata/psql/*.sql")
	if err != nil || len(scripts) == 0 {
		t.Fatalf("no psql scripts: %v", err)
	}
	for _, script := range scripts {
		t.Run(filepath.Base(script), func(t *testing.T) {
			ts := startServer(t)
			host, port, _ := net.SplitHostPort(ts.addr)
			dir := t.TempDir()
			for _, f := range []string{script, strings.TrimSuffix(script, ".sql") + ".out", "testdata/psql/cpu.csv"} {
				b, err := os.ReadFile(f)
				if err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(filepath.Join(dir, filepath.Base(f)), b, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			env := []string{"PGHOST=" + host, "PGPORT=" + port, "PGUSER=ugnos", "PGDATABASE=postgres", "PGTZ=UTC", "LC_ALL=C", "PAGER=", "PSQL_PAGER="}
			got := run(t, dir, env, "psql", "-X", "-f", filepath.Base(script))
			got = regexp.MustCompile(`(?m)^Time: [0-9.]+ ms$`).ReplaceAllString(got, "Time: X ms")
			want, _ := os.ReadFile(filepath.Join(dir, strings.TrimSuffix(filepath.Base(script), ".sql")+".out"))
			if got != string(want) {
				t.Errorf("psql output differs from %s:\n--- got\n%s\n--- want\n%s", strings.TrimSuffix(script, ".sql")+".out", got, want)
			}
		})
	}
}

// TestJDBC runs testdata/jdbc/ClientTest.java with the PostgreSQL JDBC
// driver: prepared statements crossing prepareThreshold into binary
// transfer, setFetchSize cursors (portals with row limits), batches,
// DatabaseMetaData, errors.
func TestJDBC(t *testing.T) {
	need(t, "/usr/bin/java", "default-jdk-headless")
	need(t, "/usr/share/java/postgresql.jar", "libpostgresql-jdbc-java")
	ts := startServer(t)
	url := "jdbc:postgresql://" + ts.addr + "/postgres?user=ugnos&prepareThreshold=2"
	out := run(t, "testdata/jdbc", nil, "java", "-cp", "/usr/share/java/postgresql.jar", "ClientTest.java", url)
	if !strings.Contains(out, "ALL OK") {
		t.Fatalf("JDBC client:\n%s", out)
	}
	t.Logf("JDBC client:\n%s", out)
}

// TestPsycopg2 runs testdata/python/client_test.py with psycopg2 and
// SQLAlchemy (reflection of tables and columns).
func TestPsycopg2(t *testing.T) {
	need(t, "/usr/bin/python3", "python3")
	if err := exec.Command("/usr/bin/python3", "-c", "import psycopg2, sqlalchemy").Run(); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("python3-psycopg2 / python3-sqlalchemy missing; CI=true, so this test must run")
		}
		t.Skip("python3-psycopg2 / python3-sqlalchemy missing")
	}
	ts := startServer(t)
	host, port, _ := net.SplitHostPort(ts.addr)
	out := run(t, "testdata/python", nil, "/usr/bin/python3", "client_test.py", host, port)
	if !strings.Contains(out, "ALL OK") {
		t.Fatalf("python client:\n%s", out)
	}
	t.Logf("python client:\n%s", out)
}

// TestGrafanaQueries runs what Grafana's PostgreSQL data source sends:
// its health check and its macro expansions ($__timeFilter with
// RFC 3339 literals at ns precision, $__timeGroupAlias in both its plain
// and TimescaleDB forms, $__timeEpoch, $__unixEpochNanoFilter), through
// pgx as Grafana does. Expected values are worked out from the rows.
func TestGrafanaQueries(t *testing.T) {
	ts := startServer(t)
	c := ts.connect(t, "postgres")
	if _, err := c.Exec(ctx, `CREATE TABLE cpu (time timestamptz, hostname text, usage_user double precision);
INSERT INTO cpu VALUES ('2016-01-01 00:00:05+00', 'a', 10), ('2016-01-01 00:00:50+00', 'a', 20),
 ('2016-01-01 00:01:10+00', 'a', 30), ('2016-01-01 00:02:00+00', 'b', 40), ('2016-01-01 00:03:00+00', 'b', 50)`); err != nil {
		t.Fatal(err)
	}
	var one int64
	if err := c.QueryRow(ctx, "SELECT 1").Scan(&one); err != nil || one != 1 {
		t.Fatalf("health check: %v", err)
	}
	rows := func(q string) []string {
		t.Helper()
		rs, err := c.Query(ctx, q)
		if err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		var out []string
		for rs.Next() {
			v, err := rs.Values()
			if err != nil {
				t.Fatal(err)
			}
			cells := make([]string, len(v))
			for i, x := range v {
				switch x := x.(type) {
				case time.Time:
					cells[i] = x.UTC().Format("15:04:05")
				case pgtype.Numeric:
					f, _ := x.Float64Value()
					cells[i] = strconv.FormatFloat(f.Float64, 'f', -1, 64)
				case float64:
					cells[i] = strconv.FormatFloat(x, 'f', -1, 64)
				default:
					cells[i] = fmt.Sprint(x)
				}
			}
			out = append(out, strings.Join(cells, " "))
		}
		if err := rs.Err(); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		return out
	}
	filter := `time BETWEEN '2016-01-01T00:00:00.123456789Z' AND '2016-01-01T00:02:00Z'`
	for _, tc := range []struct {
		q    string
		want string
	}{
		// $__timeGroupAlias(time, '1m') without TimescaleDB: epoch seconds
		{`SELECT floor(extract(epoch from time)/60)*60 AS "time", avg(usage_user) AS "usage" FROM cpu WHERE ` + filter + ` GROUP BY 1 ORDER BY 1`,
			"1451606400 15|1451606460 30|1451606520 40"},
		// the same with TimescaleDB enabled in the data source
		{`SELECT time_bucket('60.000s',time) AS "time", hostname AS metric, max(usage_user) FROM cpu WHERE ` + filter + ` GROUP BY 1, 2 ORDER BY 1, 2`,
			"00:00:00 a 20|00:01:00 a 30|00:02:00 b 40"},
		// $__timeEpoch(time) and $__unixEpochNanoFilter over a bigint column
		{`SELECT extract(epoch from time) as "time", usage_user FROM cpu WHERE hostname = 'b' ORDER BY 1`,
			"1451606520 40|1451606580 50"},
		{`SELECT count(*) FROM cpu WHERE (extract(epoch from time) * 1000000000)::bigint >= 1451606460000000000 AND (extract(epoch from time) * 1000000000)::bigint <= 1451606520000000000`,
			"2"},
	} {
		if got := strings.Join(rows(tc.q), "|"); got != tc.want {
			t.Errorf("%s:\n got %s\nwant %s", tc.q, got, tc.want)
		}
	}
}
