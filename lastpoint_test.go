package ugnos_test

import (
	"fmt"
	"math/rand/v2"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ugnos/ugnos"
)

// lastPointQueries are last-point queries with a %s where a WHERE clause
// (or AND ...) goes; with "time > '1970-01-01'" spliced in, the planner
// keeps the plain scan, whose result the LastPoint plan must equal.
var lastPointQueries = []string{
	"SELECT DISTINCT ON (host) * FROM cpu %s ORDER BY host, time DESC",
	"SELECT DISTINCT ON (host, dc) host, dc, time, usage, note FROM cpu %s ORDER BY host, dc, time DESC",
	"SELECT DISTINCT ON (dc) * FROM cpu WHERE host IN ('h1', 'h2', 'h3') %s ORDER BY dc, time DESC",
	"SELECT DISTINCT ON (dc, host) time, mem FROM cpu %s ORDER BY dc, host, time DESC, mem",
	"SELECT host, last(usage, time), last(mem, time), last(note, time), max(time) FROM cpu %s GROUP BY host ORDER BY host",
	"SELECT dc, last(usage, time) AS u, max(time) FROM cpu WHERE host <> 'h0' %s GROUP BY dc ORDER BY dc",
	"SELECT last(usage, time), last(time, time), max(time) FROM cpu %s",
}

// checkLastPoint runs every last-point query both ways and compares.
func checkLastPoint(t *testing.T, db *ugnos.DB, when string) {
	t.Helper()
	for _, q := range lastPointQueries {
		fast := strings.Replace(q, "%s", "", 1)
		cond := "WHERE time > '1970-01-01'"
		if strings.Contains(q, "WHERE") {
			cond = "AND time > '1970-01-01'"
		}
		slow := strings.Replace(q, "%s", cond, 1)
		plan, err := sltRun(db, "EXPLAIN "+fast)
		must(t, err)
		if !strings.Contains(strings.Join(plan, "\n"), "LastPoint") {
			t.Fatalf("%s: no LastPoint in the plan of %s:\n%s", when, fast, strings.Join(plan, "\n"))
		}
		got, err := sltRun(db, fast)
		must(t, err)
		want, err := sltRun(db, slow)
		must(t, err)
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("%s: %s\n got %q\nwant %q", when, fast, got, want)
		}
	}
}

// lastPointData writes random rows: 8 hosts, each with up to 4 series
// (dc d0..d2 or none), out of order, with NULL fields; times are unique
// (drawn from a shuffled range), so no two rows tie on time.
type lastPointData struct {
	rng   *rand.Rand
	base  int64
	times []int64
}

func newLastPointData(seed uint64, base time.Time, n int) *lastPointData {
	d := &lastPointData{rng: rand.New(rand.NewPCG(seed, 7)), base: base.UnixNano()}
	d.times = make([]int64, n)
	for i := range d.times {
		d.times[i] = d.base + int64(i)*int64(time.Millisecond)
	}
	d.rng.Shuffle(n, func(i, j int) { d.times[i], d.times[j] = d.times[j], d.times[i] })
	return d
}

func (d *lastPointData) insert(t *testing.T, db *ugnos.DB, n int) {
	t.Helper()
	var vals []string
	for range n {
		if len(d.times) == 0 {
			break
		}
		ts := d.times[len(d.times)-1]
		d.times = d.times[:len(d.times)-1]
		host := fmt.Sprintf("'h%d'", d.rng.IntN(8))
		dc := "NULL"
		if k := d.rng.IntN(4); k < 3 {
			dc = fmt.Sprintf("'d%d'", k)
		}
		usage, mem, note := "NULL", "NULL", "NULL"
		if d.rng.IntN(5) > 0 {
			usage = fmt.Sprint(d.rng.IntN(1000)) + ".5"
		}
		if d.rng.IntN(5) > 0 {
			mem = fmt.Sprint(d.rng.IntN(1000))
		}
		if d.rng.IntN(3) > 0 {
			note = fmt.Sprintf("'n%d'", d.rng.IntN(100))
		}
		vals = append(vals, fmt.Sprintf("('%s', %s, %s, %s, %s, %s)",
			time.Unix(0, ts).UTC().Format(time.RFC3339Nano), host, dc, usage, mem, note))
	}
	if len(vals) == 0 {
		return
	}
	_, err := sltRun(db, "INSERT INTO cpu (time, host, dc, usage, mem, note) VALUES "+strings.Join(vals, ", "))
	must(t, err)
}

func createLastPointTable(t *testing.T, db *ugnos.DB) {
	t.Helper()
	_, err := sltRun(db, "CREATE TABLE cpu (time timestamptz NOT NULL, host text, dc text, usage double precision, mem bigint, note varchar)")
	must(t, err)
}

// deleteLatest deletes the newest rows of a random host, or of all
// hosts, so that series lose their latest rows.
func (d *lastPointData) deleteLatest(t *testing.T, db *ugnos.DB) {
	t.Helper()
	rows, err := sltRun(db, "SELECT max(time) FROM cpu WHERE time > '1970-01-01'")
	must(t, err)
	if len(rows) != 1 || rows[0] == "NULL" {
		return
	}
	from := fmt.Sprintf("'%s'", rows[0])
	q := fmt.Sprintf("DELETE FROM cpu WHERE time >= %s::timestamptz - interval '%d milliseconds'", from, 1+d.rng.IntN(50))
	if d.rng.IntN(2) == 0 {
		q = fmt.Sprintf("DELETE FROM cpu WHERE host = 'h%d' AND time >= %s::timestamptz - interval '%d milliseconds'", d.rng.IntN(8), from, 1+d.rng.IntN(2000))
	}
	_, err = sltRun(db, q)
	must(t, err)
}

// TestLastPointMatchesScan compares the LastPoint plan with the plain scan
// over random data: out-of-order writes, deletes of latest rows, several
// series per DISTINCT ON key, NULL fields; in the write buffer, on
// segments after checkpoints, after reopening and after a restore.
func TestLastPointMatchesScan(t *testing.T) {
	dir := t.TempDir()
	opts := []ugnos.Option{ugnos.WithSyncMode(ugnos.SyncNever), ugnos.WithSealRows(64)}
	db, err := ugnos.Open(dir, opts...)
	must(t, err)
	defer func() { db.Close() }()
	must(t, db.CreateDatabase("t"))
	createLastPointTable(t, db)
	d := newLastPointData(1, time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC), 20000)
	checkLastPoint(t, db, "empty")
	for round := range 24 {
		d.insert(t, db, 1+d.rng.IntN(400))
		checkLastPoint(t, db, fmt.Sprintf("round %d after insert", round))
		if d.rng.IntN(2) == 0 {
			d.deleteLatest(t, db)
			checkLastPoint(t, db, fmt.Sprintf("round %d after delete", round))
		}
		switch round % 6 {
		case 2:
			must(t, db.Checkpoint(ctx))
			checkLastPoint(t, db, fmt.Sprintf("round %d after checkpoint", round))
		case 5:
			must(t, db.Close())
			db, err = ugnos.Open(dir, opts...)
			must(t, err)
			checkLastPoint(t, db, fmt.Sprintf("round %d after reopen", round))
		}
	}
	// deletes right after reopening, before any last-point query
	must(t, db.Checkpoint(ctx))
	must(t, db.Close())
	db, err = ugnos.Open(dir, opts...)
	must(t, err)
	d.deleteLatest(t, db)
	d.deleteLatest(t, db)
	checkLastPoint(t, db, "delete after reopen")
	// a snapshot restored into another database (restoring into this one,
	// whose checkpointer is busy, races in the engine: Restore replaces
	// e.wal while compactOnce reads it)
	snap := t.TempDir() + "/snap"
	must(t, db.Snapshot(snap))
	dst, err := ugnos.Open(t.TempDir(), opts...)
	must(t, err)
	defer dst.Close()
	must(t, dst.Restore(snap))
	checkLastPoint(t, dst, "after restore")
	d.insert(t, dst, 300)
	checkLastPoint(t, dst, "after restore and insert")
}

// TestLastPointRetention: rows expired by retention are never returned,
// whether the series' bound was raised before or after the period was
// set, in memory or on segments.
func TestLastPointRetention(t *testing.T) {
	for _, seg := range []bool{false, true} {
		t.Run(fmt.Sprint("segments=", seg), func(t *testing.T) {
			db, err := ugnos.Open(t.TempDir(), ugnos.WithSyncMode(ugnos.SyncNever), ugnos.WithSealRows(64))
			must(t, err)
			defer db.Close()
			must(t, db.CreateDatabase("t"))
			createLastPointTable(t, db)
			now := time.Now()
			old := newLastPointData(2, now.Add(-3*time.Hour), 500) // all expire
			recent := newLastPointData(3, now.Add(-20*time.Minute), 500)
			old.insert(t, db, 500)
			checkLastPoint(t, db, "before")
			recent.insert(t, db, 100)
			if seg {
				must(t, db.Checkpoint(ctx))
			}
			checkLastPoint(t, db, "recent")
			must(t, db.SetRetention("t", "cpu", time.Hour))
			checkLastPoint(t, db, "retention")
			rows, err := sltRun(db, "SELECT count(*) FROM (SELECT DISTINCT ON (host, dc) * FROM cpu ORDER BY host, dc, time DESC) s WHERE time < now() - interval '1 hour'")
			must(t, err)
			if rows[0] != "0" {
				t.Fatalf("expired rows returned: %v", rows)
			}
			// series left with expired rows only, then a longer period
			// (rows not yet removed come back, as in a scan)
			_, err = sltRun(db, "DELETE FROM cpu WHERE host IN ('h0', 'h1', 'h2') AND time > now() - interval '1 hour'")
			must(t, err)
			checkLastPoint(t, db, "expired only")
			must(t, db.SetRetention("t", "cpu", 0))
			checkLastPoint(t, db, "retention lifted")
		})
	}
}

// TestLastPointConcurrent runs last-point queries while rows are written
// and deleted (go test -race).
func TestLastPointConcurrent(t *testing.T) {
	db := openMem(t, ugnos.WithSealRows(128))
	must(t, db.CreateDatabase("t"))
	createLastPointTable(t, db)
	d := newLastPointData(4, time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC), 6000)
	d.insert(t, db, 100)
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				for _, q := range lastPointQueries {
					if _, err := sltRun(db, strings.Replace(q, "%s", "", 1)); err != nil {
						t.Error(err)
						return
					}
				}
			}
		}()
	}
	for i := range 40 {
		d.insert(t, db, 100)
		if i%5 == 0 {
			d.deleteLatest(t, db)
		}
	}
	close(stop)
	wg.Wait()
	checkLastPoint(t, db, "after concurrent writes")
}

// TestLastPointTies: rows tied at the latest time, within a series
// (duplicate timestamps) and across the series of one key, are resolved
// as the scan resolves them (the first in scan order).
func TestLastPointTies(t *testing.T) {
	for _, seg := range []bool{false, true} {
		t.Run(fmt.Sprint("segments=", seg), func(t *testing.T) {
			db, err := ugnos.Open(t.TempDir(), ugnos.WithSyncMode(ugnos.SyncNever), ugnos.WithSealRows(64))
			must(t, err)
			defer db.Close()
			must(t, db.CreateDatabase("t"))
			createLastPointTable(t, db)
			rng := rand.New(rand.NewPCG(5, 5))
			for round := range 6 {
				var vals []string
				for range 100 {
					ts := time.Date(2024, 1, 1, 0, 0, rng.IntN(5)+round, 0, time.UTC)
					vals = append(vals, fmt.Sprintf("('%s', 'h%d', 'd%d', %d.5, %d, 'n%d')",
						ts.Format(time.RFC3339), rng.IntN(3), rng.IntN(3), rng.IntN(100), rng.IntN(100), rng.IntN(100)))
				}
				_, err := sltRun(db, "INSERT INTO cpu (time, host, dc, usage, mem, note) VALUES "+strings.Join(vals, ", "))
				must(t, err)
				if seg && round%2 == 1 {
					must(t, db.Checkpoint(ctx))
				}
				checkLastPoint(t, db, fmt.Sprintf("round %d", round))
				// a series' latest rows deleted: its previous ones may tie
				// with another series of the same host
				_, err = sltRun(db, fmt.Sprintf("DELETE FROM cpu WHERE host = 'h%d' AND dc = 'd%d' AND time >= '2024-01-01 00:00:%02d+00'",
					rng.IntN(3), rng.IntN(3), round+3))
				must(t, err)
				checkLastPoint(t, db, fmt.Sprintf("round %d after delete", round))
			}
		})
	}
}
