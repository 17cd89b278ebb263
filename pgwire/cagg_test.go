package pgwire_test

import (
	"testing"
	"time"

	"github.com/ugnos/ugnos"
)

// TestContinuousAggregateOverWire: a continuous aggregate created,
// refreshed, read (extended protocol, binary results) and dropped through
// pgx, with PostgreSQL's command tags.
func TestContinuousAggregateOverWire(t *testing.T) {
	ts := startServer(t)
	if err := ts.db.CreateDatabase("acme"); err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2024, 5, 1, 0, 0, 0, 0, time.UTC)
	for i, v := range []float64{1, 2, 3, 10, 20} { // 00:00, 00:25, 00:50 | 01:15, 01:40
		if err := ts.db.Insert("acme", "cpu", t0.Add(time.Duration(i)*25*time.Minute).UnixNano(), v, ugnos.TagSet{"host": "a"}); err != nil {
			t.Fatal(err)
		}
	}
	c := ts.connect(t, "acme")
	tag, err := c.Exec(ctx, `CREATE MATERIALIZED VIEW cpu_1h WITH (timescaledb.continuous) AS
		SELECT time_bucket('1 hour', time) AS bucket, host, avg(value) AS avg, count(*) AS n FROM cpu GROUP BY bucket, host`)
	if err != nil || tag.String() != "CREATE MATERIALIZED VIEW" {
		t.Fatalf("create: %q %v", tag, err)
	}
	type row struct {
		b   time.Time
		h   string
		avg float64
		n   int64
	}
	read := func() []row {
		t.Helper()
		rows, err := c.Query(ctx, "SELECT bucket, host, avg, n FROM cpu_1h WHERE host = $1 ORDER BY bucket", "a")
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		var out []row
		for rows.Next() {
			var r row
			if err := rows.Scan(&r.b, &r.h, &r.avg, &r.n); err != nil {
				t.Fatal(err)
			}
			out = append(out, r)
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		return out
	}
	check := func(want []row) {
		t.Helper()
		got := read()
		if len(got) != len(want) {
			t.Fatalf("got %v, want %v", got, want)
		}
		for i := range want {
			if !got[i].b.Equal(want[i].b) || got[i].h != want[i].h || got[i].avg != want[i].avg || got[i].n != want[i].n {
				t.Fatalf("got %v, want %v", got, want)
			}
		}
	}
	check([]row{{t0, "a", 2, 3}, {t0.Add(time.Hour), "a", 15, 2}})
	// a late point changes hour 0 at once, and after the refresh
	if _, err := c.Exec(ctx, "INSERT INTO cpu (time, host, value) VALUES ($1, 'a', 6)", t0.Add(5*time.Minute)); err != nil {
		t.Fatal(err)
	}
	check([]row{{t0, "a", 3, 4}, {t0.Add(time.Hour), "a", 15, 2}})
	if tag, err := c.Exec(ctx, "REFRESH MATERIALIZED VIEW cpu_1h"); err != nil || tag.String() != "REFRESH MATERIALIZED VIEW" {
		t.Fatalf("refresh: %q %v", tag, err)
	}
	check([]row{{t0, "a", 3, 4}, {t0.Add(time.Hour), "a", 15, 2}})
	var kind string
	if err := c.QueryRow(ctx, "SELECT relkind::text FROM pg_class WHERE relname = 'cpu_1h'").Scan(&kind); err != nil || kind != "m" {
		t.Fatalf("relkind %q %v", kind, err)
	}
	if tag, err := c.Exec(ctx, "DROP MATERIALIZED VIEW cpu_1h"); err != nil || tag.String() != "DROP MATERIALIZED VIEW" {
		t.Fatalf("drop: %q %v", tag, err)
	}
}
