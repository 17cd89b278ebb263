package ugnos_test

import (
	"context"
	"fmt"
	"math/rand"
	"path/filepath"
	"slices"
	"strings"
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
		pts[i] = ugnos.Point{Timestamp: base + r.Int63n(int64(span)), Value: float64(r.Intn(1000)), // integers: sums are exact in any order
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
	// a point past the watermark (the raw part was left out while the
	// raw table had nothing there)
	must(t, db.Insert("acme", "m", time.Now().Add(time.Hour).UnixNano(), 7, ugnos.TagSet{"host": "future"}))
	caggEqual(t, db, "m_1h", caggDef)
	// deletes invalidate
	mustExec(t, db, "DELETE FROM m WHERE host = 'h1' AND time < '2024-03-01 12:00:00+00'")
	caggEqual(t, db, "m_1h", caggDef)
	mustExec(t, db, "REFRESH MATERIALIZED VIEW m_1h")
	caggEqual(t, db, "m_1h", caggDef)
	// a delete without a time range invalidates everything before W
	mustExec(t, db, "DELETE FROM m WHERE host = 'h2'")
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
	if _, err := sltRunArgs2(db, "acme", q); err != nil { // rows read: SELECT f() runs f
		t.Fatalf("%s: %v", q, err)
	}
}

var _ = sync.Mutex{}

// TestContinuousAggregateConcurrent: late writes and deletes race the
// background refresh (every 100ms) and explicit refreshes; at every
// check — writers paused, refreshes still running — the view equals its
// query computed from scratch.
func TestContinuousAggregateConcurrent(t *testing.T) {
	db, err := ugnos.Open(t.TempDir())
	must(t, err)
	defer db.Close()
	r := rand.New(rand.NewSource(2))
	must(t, db.InsertBatch("acme", "m", caggPoints(2000, r, 72*time.Hour)))
	mustExec(t, db, "CREATE MATERIALIZED VIEW m_1h WITH (ugnos.continuous, ugnos.refresh_interval = '100ms') AS "+caggDef)
	mustExec(t, db, "CREATE MATERIALIZED VIEW m_10m WITH (ugnos.continuous, ugnos.refresh_interval = '100ms') AS "+
		strings.ReplaceAll(caggDef, "'1 hour'", "'10 minutes'"))
	rounds := 12
	if testing.Short() {
		rounds = 4
	}
	for round := 0; round < rounds; round++ {
		var wg sync.WaitGroup
		for w := 0; w < 3; w++ {
			wg.Add(1)
			go func(seed int64) {
				defer wg.Done()
				r := rand.New(rand.NewSource(seed))
				for i := 0; i < 20; i++ {
					if err := db.InsertBatch("acme", "m", caggPoints(1+r.Intn(50), r, 72*time.Hour)); err != nil {
						t.Error(err)
						return
					}
				}
			}(int64(round*10 + w))
		}
		wg.Add(1)
		go func(seed int64) {
			defer wg.Done()
			r := rand.New(rand.NewSource(seed))
			for i := 0; i < 3; i++ {
				lo := time.Unix(0, base+r.Int63n(int64(72*time.Hour))).UTC()
				q := fmt.Sprintf("DELETE FROM m WHERE host = 'h%d' AND time >= '%s' AND time < '%s'", r.Intn(4),
					lo.Format(time.RFC3339Nano), lo.Add(time.Duration(r.Int63n(int64(3*time.Hour)))).Format(time.RFC3339Nano))
				if _, err := db.Exec(ctx, "acme", q); err != nil {
					t.Error(err)
					return
				}
			}
		}(int64(round))
		if round%4 == 3 {
			mustExec(t, db, "CHECKPOINT")
		}
		wg.Wait()
		// check while a refresh rewrites what the writes invalidated
		done := make(chan error, 1)
		go func() {
			_, err := db.Exec(ctx, "acme", "REFRESH MATERIALIZED VIEW m_1h")
			done <- err
		}()
		for i := 0; i < 3; i++ {
			caggEqual(t, db, "m_1h", caggDef)
			caggEqual(t, db, "m_10m", strings.ReplaceAll(caggDef, "'1 hour'", "'10 minutes'"))
		}
		must(t, <-done)
		if t.Failed() {
			return
		}
	}
	st := caggRows(t, db, "SELECT view_name, refreshes > 1, last_error IS NULL FROM ugnos.continuous_aggregates")
	if !slices.Equal(st, []string{"m_10m true true", "m_1h true true"}) {
		t.Fatalf("state: %q", st)
	}
}

// TestContinuousAggregateRetention: the raw table keeps a day, the
// aggregate longer; expired raw rows and their deletes do not take the
// downsampled history with them.
func TestContinuousAggregateRetention(t *testing.T) {
	db, err := ugnos.Open(t.TempDir())
	must(t, err)
	defer db.Close()
	now := time.Now()
	var pts []ugnos.Point
	for h := 1; h <= 72; h++ { // a point in each of 72 hours, value = hours ago; half an hour from the retention cut
		ts := now.Add(-time.Duration(h)*time.Hour + 30*time.Minute)
		pts = append(pts, ugnos.Point{Timestamp: ts.UnixNano(), Value: float64(h), Tags: ugnos.TagSet{"host": "a"}})
	}
	must(t, db.InsertBatch("acme", "m", pts))
	mustExec(t, db, "CREATE MATERIALIZED VIEW m_1h WITH (ugnos.continuous) AS "+caggDef)
	count := func(q string) string { return caggRows(t, db, q)[0] }
	if n := count("SELECT count(*) FROM m_1h"); n != "72" {
		t.Fatalf("buckets: %s", n)
	}
	mustExec(t, db, "SELECT add_retention_policy('m', INTERVAL '1 day')")
	if n := count("SELECT count(*) FROM m"); n != "24" {
		t.Fatalf("raw rows kept: %s", n)
	}
	// expired rows deleted explicitly (as retention does): no recompute below the horizon
	mustExec(t, db, fmt.Sprintf("DELETE FROM m WHERE time < '%s'", now.Add(-30*time.Hour).Format(time.RFC3339Nano)))
	mustExec(t, db, "REFRESH MATERIALIZED VIEW m_1h")
	if n := count("SELECT count(*) FROM m_1h"); n != "72" {
		t.Fatalf("buckets after the raw rows expired: %s", n)
	}
	if s := count("SELECT sum(max_v) FROM m_1h"); s != fmt.Sprint(72*73/2) {
		t.Fatalf("sum of buckets: %s", s)
	}
	// recent buckets still follow the raw table
	b := time.Unix(0, pts[1].Timestamp).UTC().Truncate(time.Hour)
	must(t, db.Insert("acme", "m", b.Add(time.Second).UnixNano(), 100, ugnos.TagSet{"host": "a"}))
	if got := count(fmt.Sprintf("SELECT max_v FROM m_1h WHERE bucket = '%s'", b.Format(time.RFC3339))); got != "100" {
		t.Fatalf("late point in a recent bucket: %s", got)
	}
	// the aggregate's own retention hides its buckets older than 2 days
	mustExec(t, db, "SELECT add_retention_policy('m_1h', INTERVAL '2 days')")
	want := 0
	for _, p := range pts {
		if !time.Unix(0, p.Timestamp).Truncate(time.Hour).Before(time.Now().Add(-48 * time.Hour)) {
			want++
		}
	}
	if n := count("SELECT count(*) FROM m_1h"); n != fmt.Sprint(want) {
		t.Fatalf("buckets under the aggregate's retention: %s, want %d", n, want)
	}
}

// TestContinuousAggregateGapfill: a view with time_bucket_gapfill, locf
// and interpolate (which TimescaleDB refuses) equals its query.
func TestContinuousAggregateGapfill(t *testing.T) {
	db, err := ugnos.Open("")
	must(t, err)
	defer db.Close()
	r := rand.New(rand.NewSource(3))
	must(t, db.InsertBatch("acme", "m", caggPoints(40, r, 24*time.Hour))) // sparse: most hours empty
	def := `SELECT time_bucket_gapfill('1 hour', time, '2024-03-01', '2024-03-02') AS bucket, host,
		locf(avg(value)) AS a, interpolate(max(value)) AS mx, count(*) AS n FROM m GROUP BY bucket, host`
	mustExec(t, db, "CREATE MATERIALIZED VIEW m_gf WITH (ugnos.continuous) AS "+def)
	caggEqual(t, db, "m_gf", def)
	if n := caggRows(t, db, "SELECT count(*) FROM m_gf"); n[0] != "96" { // 24 buckets × 4 hosts
		t.Fatalf("rows: %s", n)
	}
	must(t, db.InsertBatch("acme", "m", caggPoints(10, r, 24*time.Hour)))
	caggEqual(t, db, "m_gf", def)
	mustExec(t, db, "REFRESH MATERIALIZED VIEW m_gf")
	caggEqual(t, db, "m_gf", def)
}

// TestContinuousAggregateErrors: what cannot be kept incrementally is
// refused with 0A000 naming it, and nothing is created.
func TestContinuousAggregateErrors(t *testing.T) {
	db, err := ugnos.Open("")
	must(t, err)
	defer db.Close()
	must(t, db.Insert("acme", "m", base, 1, ugnos.TagSet{"host": "a"}))
	mustExec(t, db, "CREATE MATERIALIZED VIEW m_1h WITH (ugnos.continuous) AS "+caggDef)
	for _, c := range []struct{ q, state string }{
		{"CREATE MATERIALIZED VIEW v AS SELECT host FROM m", "0A000"},
		{"CREATE MATERIALIZED VIEW v WITH (ugnos.continuous) AS SELECT host, avg(value) FROM m GROUP BY host", "0A000"},
		{"CREATE MATERIALIZED VIEW v WITH (ugnos.continuous) AS SELECT time_bucket('1 hour', time) b, avg(value) FROM m GROUP BY b ORDER BY b", "0A000"},
		{"CREATE MATERIALIZED VIEW v WITH (ugnos.continuous) AS SELECT time_bucket('1 month', time) b, avg(value) FROM m GROUP BY b", "0A000"},
		{"CREATE MATERIALIZED VIEW v WITH (ugnos.continuous) AS SELECT time_bucket('1 hour', time) b, max(time) FROM m GROUP BY b", "0A000"},
		{"CREATE MATERIALIZED VIEW v WITH (ugnos.continuous) AS SELECT time_bucket('1 hour', time) b, avg(value) a, max(value) a FROM m GROUP BY b", "42701"},
		{"CREATE MATERIALIZED VIEW v WITH (ugnos.continuous) AS SELECT time_bucket_gapfill('1 hour', time) b, avg(value) FROM m GROUP BY b", "22023"},
		{"CREATE MATERIALIZED VIEW v WITH (ugnos.continuous) AS SELECT time_bucket_gapfill('1 hour', time) b, avg(value) FROM m WHERE time > '2024-01-01' AND time < '2024-02-01' GROUP BY b", "0A000"},
		{"CREATE MATERIALIZED VIEW v WITH (ugnos.continuous, ugnos.nonsense = 1) AS SELECT time_bucket('1 hour', time) b, avg(value) FROM m GROUP BY b", "22023"},
		{"CREATE MATERIALIZED VIEW v WITH (ugnos.continuous) AS SELECT time_bucket('1 hour', time) b, avg(value) FROM nope GROUP BY b", "42P01"},
		{"CREATE MATERIALIZED VIEW m WITH (ugnos.continuous) AS SELECT time_bucket('1 hour', time) b, avg(value) FROM m GROUP BY b", "42P07"},
		{"REFRESH MATERIALIZED VIEW m", "42809"},
		{"CREATE TABLE m_1h (host text, value double precision)", "42P07"},
		{"CREATE VIEW m_1h AS SELECT * FROM m", "42P07"},
		{"DROP MATERIALIZED VIEW nope", "42P01"},
	} {
		if _, err := db.Exec(ctx, "acme", c.q); sqlState(err) != c.state {
			t.Errorf("%s: got %v, want SQLSTATE %s", c.q, err, c.state)
		}
	}
	if got := caggRows(t, db, "SELECT view_name FROM ugnos.continuous_aggregates"); !slices.Equal(got, []string{"m_1h"}) {
		t.Fatalf("aggregates after refusals: %q", got)
	}
	if tables := caggRows(t, db, "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' AND table_type = 'BASE TABLE'"); !slices.Equal(tables, []string{"_cagg_m_1h", "m"}) {
		t.Fatalf("tables after refusals: %q", tables)
	}
	mustExec(t, db, "DROP MATERIALIZED VIEW IF EXISTS nope")
}

// TestContinuousAggregateCatalog: the view is a relation of kind 'm' with
// its columns, as psql's \dm and \d read them.
func TestContinuousAggregateCatalog(t *testing.T) {
	db, err := ugnos.Open("")
	must(t, err)
	defer db.Close()
	must(t, db.Insert("acme", "m", base, 1, ugnos.TagSet{"host": "a"}))
	mustExec(t, db, "CREATE MATERIALIZED VIEW m_1h WITH (ugnos.continuous) AS "+caggDef)
	got := caggRows(t, db, "SELECT relname, relkind FROM pg_class WHERE relnamespace = 'public'::regnamespace")
	if !slices.Equal(got, []string{"_cagg_m_1h r", "m r", "m_1h m"}) {
		t.Fatalf("pg_class: %q", got)
	}
	got = caggRows(t, db, "SELECT attnum, attname, format_type(atttypid, atttypmod) FROM pg_attribute WHERE attrelid = 'm_1h'::regclass")
	want := []string{"1 bucket timestamp with time zone", "2 host text", "3 avg_v double precision", "4 max_v double precision", "5 n bigint"}
	if !slices.Equal(got, want) {
		t.Fatalf("pg_attribute: %q", got)
	}
	if got := caggRows(t, db, "SELECT count(*) FROM pg_views WHERE viewname = 'm_1h'"); got[0] != "0" {
		t.Fatalf("pg_views lists a materialized view")
	}
	if got := caggRows(t, db, "SELECT pg_get_viewdef('m_1h'::regclass) LIKE 'SELECT time_bucket(%'"); got[0] != "true" {
		t.Fatalf("pg_get_viewdef: %q", got)
	}
	// reading the catalogs planned the view: no lock of it is left held,
	// so a refresh that rewrites a bucket and a DROP go through
	must(t, db.Insert("acme", "m", base+1, 2, ugnos.TagSet{"host": "a"}))
	tctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	for _, q := range []string{"REFRESH MATERIALIZED VIEW m_1h", "DROP MATERIALIZED VIEW m_1h"} {
		if _, err := db.Exec(tctx, "acme", q); err != nil {
			t.Fatalf("%s after reading the catalogs: %v", q, err)
		}
	}
}

// TestContinuousAggregateNarrowing: a time bound or tag comparison on the
// view narrows the materialization's scan (the view is a union; the WHERE
// stays above it).
func TestContinuousAggregateNarrowing(t *testing.T) {
	db, err := ugnos.Open("")
	must(t, err)
	defer db.Close()
	r := rand.New(rand.NewSource(4))
	must(t, db.InsertBatch("acme", "m", caggPoints(2000, r, 48*time.Hour)))
	mustExec(t, db, "CREATE MATERIALIZED VIEW m_1h WITH (ugnos.continuous) AS "+caggDef)
	q := "SELECT * FROM m_1h WHERE bucket >= '2024-03-02 00:00:00+00' AND host = 'h2'"
	plan := strings.Join(caggRows(t, db, "EXPLAIN "+q), "\n")
	if !strings.Contains(plan, "Scan _cagg_m_1h") || !strings.Contains(plan, "time=[2024-03-02 00:00:00+00,") || !strings.Contains(plan, "host = (h2)") {
		t.Fatalf("the materialization's scan is not narrowed:\n%s", plan)
	}
	got := caggRows(t, db, q)
	want := caggRows(t, db, "SELECT * FROM ("+caggDef+") v WHERE bucket >= '2024-03-02 00:00:00+00' AND host = 'h2'")
	if !slices.Equal(got, want) || len(got) != 24 {
		t.Fatalf("narrowed read: got %d rows, want %d (24)", len(got), len(want))
	}
}

// TestContinuousAggregateSnapshot: a snapshot carries the aggregates; a
// database restored from it (in place, and a new one) reads them equal to
// their queries, including a late write pending when the snapshot was
// taken, and refreshes them.
func TestContinuousAggregateSnapshot(t *testing.T) {
	dir := t.TempDir()
	db, err := ugnos.Open(dir)
	must(t, err)
	defer func() { db.Close() }()
	r := rand.New(rand.NewSource(5))
	must(t, db.InsertBatch("acme", "m", caggPoints(3000, r, 48*time.Hour)))
	mustExec(t, db, "CREATE MATERIALIZED VIEW m_1h WITH (ugnos.continuous) AS "+caggDef)
	must(t, db.InsertBatch("acme", "m", caggPoints(50, r, 48*time.Hour))) // pending
	want := caggRows(t, db, "SELECT * FROM m_1h")
	snap := filepath.Join(t.TempDir(), "snap")
	must(t, db.Snapshot(snap))
	must(t, ugnos.VerifySnapshot(snap))
	// changes after the snapshot go away with the restore
	must(t, db.InsertBatch("acme", "m", caggPoints(50, r, 48*time.Hour)))
	mustExec(t, db, "DROP MATERIALIZED VIEW m_1h")
	must(t, db.Restore(snap))
	if got := caggRows(t, db, "SELECT * FROM m_1h"); !slices.Equal(got, want) {
		t.Fatalf("restored in place: %d rows, want %d", len(got), len(want))
	}
	caggEqual(t, db, "m_1h", caggDef)
	mustExec(t, db, "REFRESH MATERIALIZED VIEW m_1h")
	caggEqual(t, db, "m_1h", caggDef)
	must(t, db.Close())
	db, err = ugnos.Open(dir)
	must(t, err)
	caggEqual(t, db, "m_1h", caggDef)

	// into a new database
	db2, err := ugnos.Open(t.TempDir())
	must(t, err)
	defer db2.Close()
	must(t, db2.Restore(snap))
	if got := caggRows(t, db2, "SELECT * FROM m_1h"); !slices.Equal(got, want) {
		t.Fatalf("restored into a new database: %d rows, want %d", len(got), len(want))
	}
	mustExec(t, db2, "REFRESH MATERIALIZED VIEW m_1h")
	caggEqual(t, db2, "m_1h", caggDef)
}
