package ugnos_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ugnos/ugnos"
)

// Continuous aggregates and rules run with their owner's rights
// (grants.go): the role that created them.

func as(user string) context.Context {
	return ugnos.WithSession(ctx, &ugnos.Session{User: user})
}

// rowsAs runs q in acme for the session of c and returns its rows sorted.
func rowsAs(c context.Context, db *ugnos.DB, q string) ([]string, error) {
	rows, err := sqlRows(c, db, "acme", q)
	slices.Sort(rows)
	return rows, err
}

func wantRows(t *testing.T, db *ugnos.DB, q string, want ...string) {
	t.Helper()
	if got := caggRows(t, db, q); !slices.Equal(got, want) {
		t.Fatalf("%s: got %q, want %q", q, got, want)
	}
}

func TestContinuousAggregateRunsWithOwnerRights(t *testing.T) {
	dir := t.TempDir()
	db := openDir(t, dir)
	defer func() { db.Close() }()
	pt := func(off time.Duration, v float64) ugnos.Point {
		return ugnos.Point{Timestamp: base + int64(off), Value: v, Tags: ugnos.TagSet{"host": "a"}}
	}
	must(t, db.InsertBatch("acme", "m", []ugnos.Point{pt(time.Minute, 1), pt(2*time.Minute, 3)}))
	mustExec(t, db, "CREATE ROLE ann SUPERUSER")
	if _, err := rowsAs(as("ann"), db, "CREATE MATERIALIZED VIEW m_1h WITH (ugnos.continuous, ugnos.refresh_interval = '100ms') AS "+caggDef); err != nil {
		t.Fatal(err)
	}
	const mat = "SELECT host, max_v, n FROM _cagg_m_1h"
	const status = "SELECT owner, coalesce(last_error, 'ok') FROM ugnos.continuous_aggregates"
	wantRows(t, db, mat, "a 3 2")
	wantRows(t, db, "SELECT owner FROM ugnos.continuous_aggregates", "ann")

	// ann stops being a superuser and has no SELECT on m: refreshes fail
	// and the late row does not reach the materialization
	mustExec(t, db, "ALTER ROLE ann NOSUPERUSER")
	must(t, db.InsertBatch("acme", "m", []ugnos.Point{pt(3*time.Minute, 7)}))
	denied := []string{"ann permission denied for table m"}
	poll(t, "the background refresh to fail", func() bool { return slices.Equal(caggRows(t, db, status), denied) })
	if _, err := db.Exec(ctx, "acme", "REFRESH MATERIALIZED VIEW m_1h"); sqlState(err) != "42501" {
		t.Fatalf("REFRESH with the owner lacking SELECT: %v, want 42501", err)
	}
	wantRows(t, db, mat, "a 3 2")
	// nor does a reader of the view get the raw rows through ann's rights
	mustExec(t, db, "CREATE ROLE rita")
	mustExec(t, db, "GRANT SELECT ON m_1h TO rita")
	if _, err := rowsAs(as("rita"), db, "SELECT * FROM m_1h"); sqlState(err) != "42501" {
		t.Fatalf("reading the view of an owner without SELECT on m: %v, want 42501", err)
	}

	// granted again: the refresher catches up
	mustExec(t, db, "GRANT SELECT ON m TO ann")
	if rows, err := rowsAs(as("rita"), db, "SELECT host, max_v, n FROM m_1h"); err != nil || !slices.Equal(rows, []string{"a 7 3"}) {
		t.Fatalf("rita reads m_1h: %q %v", rows, err)
	}
	poll(t, "the refresh to resume", func() bool {
		return slices.Equal(caggRows(t, db, mat), []string{"a 7 3"}) && slices.Equal(caggRows(t, db, status), []string{"ann ok"})
	})

	// a dropped owner has no rights at all
	mustExec(t, db, "DROP ROLE ann")
	must(t, db.InsertBatch("acme", "m", []ugnos.Point{pt(4*time.Minute, 9)}))
	poll(t, "the refresh to fail after DROP ROLE", func() bool { return slices.Equal(caggRows(t, db, status), denied) })
	if _, err := db.Exec(ctx, "acme", "REFRESH MATERIALIZED VIEW m_1h"); sqlState(err) != "42501" {
		t.Fatalf("REFRESH of a dropped owner's aggregate: %v, want 42501", err)
	}
	wantRows(t, db, mat, "a 7 3")

	// the owner is kept in caggs.json
	must(t, db.Close())
	db = openDir(t, dir)
	wantRows(t, db, "SELECT owner FROM ugnos.continuous_aggregates", "ann")
	if _, err := db.Exec(ctx, "acme", "REFRESH MATERIALIZED VIEW m_1h"); sqlState(err) != "42501" {
		t.Fatalf("REFRESH after reopening: %v, want 42501", err)
	}
	// a role of that name with SELECT refreshes it again
	mustExec(t, db, "CREATE ROLE ann")
	mustExec(t, db, "GRANT SELECT ON m TO ann")
	mustExec(t, db, "REFRESH MATERIALIZED VIEW m_1h")
	wantRows(t, db, mat, "a 9 4")

	// made by the embedded API: no owner, unrestricted
	mustExec(t, db, "CREATE MATERIALIZED VIEW m_2h WITH (ugnos.continuous) AS "+strings.Replace(caggDef, "1 hour", "2 hours", 1))
	wantRows(t, db, "SELECT view_name, owner IS NULL FROM ugnos.continuous_aggregates", "m_1h false", "m_2h true")
}

func TestRuleRunsWithOwnerRights(t *testing.T) {
	dir := t.TempDir()
	db := openDir(t, dir)
	defer func() { db.Close() }()
	now := time.Now().UnixNano()
	must(t, db.Insert("acme", "cpu", now, 5, ugnos.TagSet{"host": "a"}))
	for _, q := range []string{"CREATE TABLE out (time timestamptz, host text, value double precision)",
		"CREATE ROLE bob", "GRANT CONNECT ON DATABASE acme TO bob", "GRANT SELECT ON cpu TO bob", "GRANT INSERT ON out TO bob",
		"CREATE ROLE eve", "GRANT CONNECT ON DATABASE acme TO eve", "GRANT SELECT ON cpu TO eve"} {
		mustExec(t, db, q)
	}
	bob := as("bob")
	// bob may create a rule over what he may read, into what he may write
	if _, err := rowsAs(bob, db, "SELECT ugnos_create_rule('spy', 'SELECT host, max(value) FROM out GROUP BY host', INTERVAL '1 hour')"); sqlState(err) != "42501" {
		t.Fatalf("a rule reading a table without SELECT: %v, want 42501", err)
	}
	if _, err := rowsAs(bob, db, "SELECT ugnos_create_rule('fast', 'SELECT host, max(value) FROM cpu GROUP BY host', INTERVAL '1 millisecond')"); sqlState(err) != "22023" {
		t.Fatalf("an ordinary role's rule every 1ms: %v, want 22023", err)
	}
	if _, err := rowsAs(bob, db, "SELECT ugnos_create_rule('hook', 'SELECT host, max(value) FROM cpu GROUP BY host', INTERVAL '1 hour', INTERVAL '0 s', 'http://127.0.0.1:1/')"); sqlState(err) != "42501" {
		t.Fatalf("an ordinary role's webhook rule: %v, want 42501", err)
	}
	if _, err := rowsAs(bob, db, "SELECT ugnos_create_rule('hot', 'SELECT host, max(value) FROM cpu GROUP BY host', INTERVAL '100 milliseconds', INTERVAL '0 s', 'insert:out')"); err != nil {
		t.Fatal(err)
	}
	wantRows(t, db, "SELECT name, owner FROM ugnos.rules", "hot bob")
	id := ugnos.RuleID(1)
	firing := func(host string) bool {
		for _, e := range db.Alerts("acme") {
			if e.State == "firing" && e.Labels["host"] == host {
				return true
			}
		}
		return false
	}
	outRows := func(host string) int {
		rows := caggRows(t, db, "SELECT count(*) FROM out WHERE host = '"+host+"'")
		n, err := strconv.Atoi(rows[0])
		must(t, err)
		return n
	}
	poll(t, "host a firing", func() bool { return firing("a") && outRows("a") > 0 })

	// SELECT revoked: evaluations fail with 42501; host b neither fires
	// nor is written
	mustExec(t, db, "REVOKE SELECT ON cpu FROM bob")
	poll(t, "the evaluation to fail", func() bool {
		return strings.Contains(db.RuleStatuses("acme")[id].LastError, "permission denied for table cpu")
	})
	must(t, db.Insert("acme", "cpu", now+1, 6, ugnos.TagSet{"host": "b"}))
	waitEvals(t, db, "hot", 3)
	if st := db.RuleStatuses("acme")[id]; !strings.Contains(st.LastError, "permission denied for table cpu") {
		t.Fatalf("after REVOKE: last error %q", st.LastError)
	}
	if firing("b") || outRows("b") != 0 {
		t.Fatalf("host b reached alerts or out while bob lacked SELECT: %+v", db.Alerts("acme"))
	}
	if _, err := rowsAs(as("eve"), db, "SELECT ugnos_drop_rule('hot')"); sqlState(err) != "42501" {
		t.Fatalf("another role drops bob's rule: %v, want 42501", err)
	}

	// granted again: it resumes
	mustExec(t, db, "GRANT SELECT ON cpu TO bob")
	poll(t, "host b firing", func() bool { return firing("b") && outRows("b") > 0 })

	// INSERT on the action's table revoked: nothing more is written
	mustExec(t, db, "REVOKE INSERT ON out FROM bob")
	poll(t, "the insert to fail", func() bool {
		return strings.Contains(db.RuleStatuses("acme")[id].LastError, "insert into out: permission denied for table out")
	})
	n := outRows("a")
	waitEvals(t, db, "hot", 3)
	if outRows("a") != n {
		t.Fatalf("rows written into out after REVOKE INSERT")
	}

	// the owner is kept in rules.json; bob may drop his own rule
	must(t, db.Close())
	db = openDir(t, dir)
	wantRows(t, db, "SELECT name, owner FROM ugnos.rules", "hot bob")
	if _, err := rowsAs(bob, db, "SELECT ugnos_drop_rule('hot')"); err != nil {
		t.Fatal(err)
	}
	wantRows(t, db, "SELECT name FROM ugnos.rules")
}

// TestOwnersSnapshotRestore: owners travel with snapshots (roles do not:
// they are the server's, so until a role of that name exists the
// aggregate refreshes with no rights).
func TestOwnersSnapshotRestore(t *testing.T) {
	src := openDir(t, t.TempDir())
	defer src.Close()
	must(t, src.InsertBatch("acme", "m", []ugnos.Point{{Timestamp: base, Value: 2, Tags: ugnos.TagSet{"host": "a"}}}))
	mustExec(t, src, "CREATE ROLE ann SUPERUSER")
	for _, q := range []string{"CREATE MATERIALIZED VIEW m_1h WITH (ugnos.continuous, ugnos.refresh_interval = '1 hour') AS " + caggDef,
		"SELECT ugnos_create_rule('r', 'SELECT host, max(value) FROM m GROUP BY host', INTERVAL '1 hour')"} {
		if _, err := rowsAs(as("ann"), src, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	snap := filepath.Join(t.TempDir(), "snap")
	must(t, src.Snapshot(snap))
	db := openDir(t, t.TempDir())
	defer db.Close()
	must(t, db.Restore(snap))
	wantRows(t, db, "SELECT owner FROM ugnos.continuous_aggregates", "ann")
	wantRows(t, db, "SELECT name, owner FROM ugnos.rules", "r ann")
	if _, err := db.Exec(ctx, "acme", "REFRESH MATERIALIZED VIEW m_1h"); sqlState(err) != "42501" {
		t.Fatalf("REFRESH without the owner's role: %v, want 42501", err)
	}
	mustExec(t, db, "CREATE ROLE ann SUPERUSER")
	mustExec(t, db, "REFRESH MATERIALIZED VIEW m_1h")
	wantRows(t, db, "SELECT host, max_v, n FROM _cagg_m_1h", "a 2 1")
}

// TestTokenSessions: an API token's session sees the catalogs of its
// database's tables and itself as its role; a rule it creates runs with
// the token's privileges, none once it is revoked.
func TestTokenSessions(t *testing.T) {
	dir := t.TempDir()
	db := openDir(t, dir)
	defer func() { db.Close() }()
	must(t, db.Insert("acme", "cpu", time.Now().UnixNano(), 1, ugnos.TagSet{"host": "a"}))
	must(t, db.Insert("other", "far", time.Now().UnixNano(), 1, nil))
	mustExec(t, db, "CREATE ROLE ann")
	if _, err := db.CreateToken("tk", "acme", "read"); err != nil {
		t.Fatal(err)
	}
	tok := ugnos.WithSession(ctx, &ugnos.Session{User: "token:tk", Token: "tk"})
	for q, want := range map[string][]string{
		"SELECT tablename FROM pg_tables WHERE schemaname = 'public'": {"cpu"},
		"SELECT datname FROM pg_database":                             {"acme"},
		"SELECT rolname, rolsuper FROM pg_roles":                      {"token:tk false"}, // itself, no superuser
		"SELECT has_database_privilege('acme', 'CONNECT'), has_database_privilege('other', 'CONNECT'), has_table_privilege('cpu', 'INSERT')": {"true false false"},
	} {
		if got, err := rowsAs(tok, db, q); err != nil || !slices.Equal(got, want) {
			t.Errorf("%s: %q %v, want %q", q, got, err, want)
		}
	}
	if _, err := rowsAs(tok, db, "SELECT ugnos_create_rule('w', 'SELECT host, max(value) FROM cpu GROUP BY host', INTERVAL '1 hour', INTERVAL '0 s', 'insert:cpu')"); sqlState(err) != "42501" {
		t.Fatalf("a read token's rule inserting: %v, want 42501", err)
	}
	if _, err := rowsAs(tok, db, "SELECT ugnos_create_rule('r', 'SELECT host, max(value) FROM cpu GROUP BY host', INTERVAL '100 milliseconds')"); err != nil {
		t.Fatal(err)
	}
	wantRows(t, db, "SELECT name, owner FROM ugnos.rules", "r token:tk")
	if got, err := rowsAs(tok, db, "SELECT name FROM ugnos.rules"); err != nil || !slices.Equal(got, []string{"r"}) {
		t.Fatalf("the token lists its rule: %q %v", got, err)
	}
	poll(t, "the token's rule firing", func() bool { return len(db.Alerts("acme")) == 1 })
	must(t, db.RevokeToken("tk"))
	poll(t, "the revoked token's rule failing", func() bool {
		for _, st := range db.RuleStatuses("acme") {
			return strings.Contains(st.LastError, "permission denied for table cpu")
		}
		return false
	})
	// the owner is kept as a token across reopening
	must(t, db.Close())
	db = openDir(t, dir)
	wantRows(t, db, "SELECT name, owner FROM ugnos.rules", "r token:tk")
	waitEvals(t, db, "r", 1)
	wantRows(t, db, "SELECT last_error FROM ugnos.rules", "permission denied for table cpu")
	if _, err := rowsAs(as("ann"), db, "SELECT ugnos_drop_rule('r')"); sqlState(err) != "42501" {
		t.Fatalf("ann drops the token's rule: %v, want 42501", err)
	}
}

// TestFilesWithoutOwnersLoad: caggs.json and rules.json written before
// owners were kept (no owner fields) load with no owner: unrestricted.
func TestFilesWithoutOwnersLoad(t *testing.T) {
	dir := t.TempDir()
	db := openDir(t, dir)
	must(t, db.InsertBatch("acme", "m", []ugnos.Point{{Timestamp: base, Value: 2, Tags: ugnos.TagSet{"host": "a"}}}))
	mustExec(t, db, "CREATE ROLE ann SUPERUSER")
	for _, q := range []string{"CREATE MATERIALIZED VIEW m_1h WITH (ugnos.continuous, ugnos.refresh_interval = '1 hour') AS " + caggDef,
		"SELECT ugnos_create_rule('r', 'SELECT host, max(value) FROM m GROUP BY host', INTERVAL '1 hour')"} {
		if _, err := rowsAs(as("ann"), db, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	must(t, db.Close())
	for _, f := range []string{"caggs.json", "rules.json"} {
		p := filepath.Join(dir, f)
		b, err := os.ReadFile(p)
		must(t, err)
		old := regexp.MustCompile(`,?\s*"owner": "ann"`).ReplaceAll(b, nil)
		if bytes.Equal(old, b) || bytes.Contains(old, []byte("owner")) {
			t.Fatalf("%s: no owner to remove, or one left:\n%s", f, old)
		}
		must(t, os.WriteFile(p, old, 0o600))
	}
	db = openDir(t, dir)
	defer db.Close()
	mustExec(t, db, "DROP ROLE ann") // would leave an owned aggregate without rights
	wantRows(t, db, "SELECT owner IS NULL FROM ugnos.continuous_aggregates", "true")
	wantRows(t, db, "SELECT name, owner IS NULL FROM ugnos.rules", "r true")
	mustExec(t, db, "REFRESH MATERIALIZED VIEW m_1h")
	wantRows(t, db, "SELECT host, max_v, n FROM _cagg_m_1h", "a 2 1")
}
