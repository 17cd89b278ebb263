package pgwire_test

import (
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
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
