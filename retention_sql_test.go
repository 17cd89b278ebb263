package ugnos_test

import (
	"testing"
	"time"

	"github.com/ugnos/ugnos"
)

func TestRetentionPolicySQL(t *testing.T) {
	db, err := ugnos.Open("")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	now := time.Now().UnixNano()
	for _, tb := range []string{"cpu", "mem"} {
		if err := db.Insert("acme", tb, now, 1, ugnos.TagSet{"host": "a"}); err != nil {
			t.Fatal(err)
		}
	}
	one := func(q string, want ...string) {
		t.Helper()
		rows, err := sltRunArgs2(db, "acme", q)
		if err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		if len(rows) != len(want) {
			t.Fatalf("%s: got %q, want %q", q, rows, want)
		}
		for i := range want {
			if rows[i] != want[i] {
				t.Fatalf("%s: got %q, want %q", q, rows, want)
			}
		}
	}
	fails := func(q, state string) {
		t.Helper()
		_, err := sltRunArgs2(db, "acme", q)
		if sqlState(err) != state {
			t.Fatalf("%s: got %v (%s), want SQLSTATE %s", q, err, sqlState(err), state)
		}
	}
	rows, err := sltRunArgs2(db, "acme", "SELECT add_retention_policy('cpu', INTERVAL '90 days')")
	if err != nil || len(rows) != 1 {
		t.Fatal(rows, err)
	}
	job := rows[0]
	if p, _ := db.Retention("acme", "cpu"); p != 90*24*time.Hour {
		t.Fatalf("retention %v", p)
	}
	// stable id; if_not_exists (positional and named) keeps the period
	one("SELECT add_retention_policy('cpu', INTERVAL '7 days', if_not_exists => true)", job)
	one("SELECT add_retention_policy('cpu', INTERVAL '7 days', true)", job)
	if p, _ := db.Retention("acme", "cpu"); p != 90*24*time.Hour {
		t.Fatalf("retention %v after if_not_exists", p)
	}
	fails("SELECT add_retention_policy('cpu', INTERVAL '7 days')", "42710")
	fails("SELECT add_retention_policy('nope', INTERVAL '7 days')", "42P01")
	fails("SELECT remove_retention_policy('nope')", "42P01")
	fails("SELECT remove_retention_policy('mem')", "42704")
	one("SELECT remove_retention_policy('mem', if_exists => true)", "")
	fails("SELECT add_retention_policy('cpu', drop_after => INTERVAL '7 days', bogus => true)", "42883")

	if err := db.SetRetention("acme", "", 30*24*time.Hour); err != nil {
		t.Fatal(err)
	}
	one("SELECT table_name, drop_after::text, job_id FROM ugnos.retention_policies ORDER BY table_name NULLS FIRST",
		"(null) 30 days (null)", "cpu 90 days "+job)
	one("SELECT remove_retention_policy('cpu')", "")
	if p, _ := db.Retention("acme", "cpu"); p != 30*24*time.Hour {
		t.Fatalf("retention %v after remove: want the default", p)
	}
	one("SELECT count(*) FROM ugnos.retention_policies WHERE table_name IS NOT NULL", "0")
	// the job id stays the table's
	one("SELECT add_retention_policy(relation => 'cpu', drop_after => INTERVAL '1 day')", job)
}
