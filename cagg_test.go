package ugnos_test

import (
	"fmt"
	"math/rand"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/ugnos/ugnos"
)

const caggDef = `SELECT time_bucket('1 hour', time) AS bucket, host, avg(value) AS avg_v, max(value) AS max_v, count(*) AS n
	FROM m GROUP BY bucket, host`

// caggRows runs q and returns its rows sorted (the order of a view's rows
// is not defined).
func caggRows(t *testing.T, db *ugnos.DB, q string) []string {
	t.Helper()
	rows, err := sltRunArgs2(db, "acme", q)
	if err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	slices.Sort(rows)
	return rows
}

// caggEqual checks the view against its query computed from scratch.
func caggEqual(t *testing.T, db *ugnos.DB, view, def string) {
	t.Helper()
	got, want := caggRows(t, db, "SELECT * FROM "+view), caggRows(t, db, def)
	if !slices.Equal(got, want) {
		t.Fatalf("view %s differs from its query:\n got %d rows %q\nwant %d rows %q", view, len(got), head(got), len(want), head(want))
	}
}

var base = time.Date(2024, 3, 1, 0, 0, 0, 0, time.UTC).UnixNano()

func caggPoints(n int, r *rand.Rand, span time.Duration) []ugnos.Point {
	pts := make([]ugnos.Point, n)
	for i := range pts {
		pts[i] = ugnos.Point{Timestamp: base + r.Int63n(int64(span)), Value: float64(r.Intn(1000)) / 10,
			Tags: ugnos.TagSet{"host": fmt.Sprintf("h%d", r.Intn(4))}}
	}
	return pts
}

func TestContinuousAggregateBasics(t *testing.T) {
	dir := t.TempDir()
	db, err := ugnos.Open(dir)
	must(t, err)
	defer func() { db.Close() }()
	r := rand.New(rand.NewSource(1))
	must(t, db.InsertBatch("acme", "m", caggPoints(5000, r, 48*time.Hour)))
	mustExec(t, db, "CREATE MATERIALIZED VIEW m_1h WITH (ugnos.continuous) AS "+caggDef)
	// hand-computed: one bucket, one host
	must(t, db.InsertBatch("acme", "m", []ugnos.Point{
		{Timestamp: base - 2*int64(time.Hour) + 10, Value: 1, Tags: ugnos.TagSet{"host": "x"}},
		{Timestamp: base - 2*int64(time.Hour) + 20, Value: 3, Tags: ugnos.TagSet{"host": "x"}},
	}))
	want := "2024-02-29T22:00:00Z x 2 3 2" // avg, max, count of 1 and 3
	if got := caggRows(t, db, "SELECT * FROM m_1h WHERE host = 'x'"); !slices.Equal(got, []string{want}) {
		t.Fatalf("late bucket: got %q, want %q", got, want)
	}
	caggEqual(t, db, "m_1h", caggDef)
	st := caggRows(t, db, "SELECT invalid_ranges, watermark IS NOT NULL FROM ugnos.continuous_aggregates")
	if !slices.Equal(st, []string{"1 true"}) {
		t.Fatalf("state before refresh: %q", st)
	}
	mustExec(t, db, "REFRESH MATERIALIZED VIEW m_1h")
	st = caggRows(t, db, "SELECT invalid_ranges FROM ugnos.continuous_aggregates")
	if !slices.Equal(st, []string{"0"}) {
		t.Fatalf("state after refresh: %q", st)
	}
	caggEqual(t, db, "m_1h", caggDef)
	// the materialization holds the rows
	if got := caggRows(t, db, "SELECT count(*) FROM _cagg_m_1h"); got[0] != fmt.Sprint(len(caggRows(t, db, caggDef))) {
		t.Fatalf("materialized rows %s", got)
	}
	// deletes invalidate
	mustExec(t, db, "DELETE FROM m WHERE host = 'h1' AND time < '2024-03-01 12:00:00+00'")
	caggEqual(t, db, "m_1h", caggDef)
	mustExec(t, db, "REFRESH MATERIALIZED VIEW m_1h")
	caggEqual(t, db, "m_1h", caggDef)
	// survives reopening, with a pending invalidation
	must(t, db.InsertBatch("acme", "m", caggPoints(100, r, 48*time.Hour)))
	must(t, db.Close())
	db, err = ugnos.Open(dir)
	must(t, err)
	caggEqual(t, db, "m_1h", caggDef)
	mustExec(t, db, "REFRESH MATERIALIZED VIEW m_1h")
	caggEqual(t, db, "m_1h", caggDef)
	mustExec(t, db, "CHECKPOINT")
	must(t, db.InsertBatch("acme", "m", caggPoints(100, r, 48*time.Hour)))
	mustExec(t, db, "CHECKPOINT") // the WAL with those writes goes: the state must be saved
	must(t, db.Close())
	db, err = ugnos.Open(dir)
	must(t, err)
	caggEqual(t, db, "m_1h", caggDef)
	// dependencies
	if _, err := db.Exec(ctx, "acme", "DROP TABLE m"); sqlState(err) != "2BP01" {
		t.Fatalf("DROP TABLE of a source: %v", err)
	}
	if _, err := db.Exec(ctx, "acme", "DROP TABLE _cagg_m_1h"); sqlState(err) != "2BP01" {
		t.Fatalf("DROP TABLE of a materialization: %v", err)
	}
	mustExec(t, db, "DROP MATERIALIZED VIEW m_1h")
	if _, err := db.Exec(ctx, "acme", "SELECT * FROM m_1h"); sqlState(err) != "42P01" {
		t.Fatalf("after DROP: %v", err)
	}
	if _, err := db.Exec(ctx, "acme", "SELECT * FROM _cagg_m_1h"); sqlState(err) != "42P01" {
		t.Fatalf("materialization after DROP: %v", err)
	}
}

func mustExec(t *testing.T, db *ugnos.DB, q string) {
	t.Helper()
	if _, err := db.Exec(ctx, "acme", q); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
}

var _ = sync.Mutex{}
