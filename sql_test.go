package ugnos_test

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/ugnos/ugnos"
)

func TestSQLParamsAndExplain(t *testing.T) {
	db := openMem(t)
	base := time.Date(2016, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := 0; i < 10; i++ {
		must(t, db.Insert("t", "m", base.Add(time.Duration(i)*time.Minute).UnixNano(), float64(i), ugnos.TagSet{"host": []string{"a", "b"}[i%2]}))
	}
	got, err := sltRunArgs(db, "SELECT count(*), sum(value) FROM m WHERE host = $1 AND time >= $2 AND value > $3", "a", base.Add(2*time.Minute), 3)
	must(t, err)
	// host a has values 0,2,4,6,8; time >= 2 min keeps 2,4,6,8; value > 3 keeps 4,6,8
	if strings.Join(got, "|") != "3 18" {
		t.Fatalf("params: %v", got)
	}
	got, err = sltRunArgs(db, "SELECT count(*) FROM m WHERE time >= $1", "2016-01-01 00:05:00+00")
	must(t, err)
	if strings.Join(got, "|") != "5" {
		t.Fatalf("text timestamp param: %v", got)
	}
	if _, err := sltRunArgs(db, "SELECT $2"); err == nil {
		t.Fatal("missing parameter accepted")
	}
	plan, err := sltRunArgs(db, "EXPLAIN SELECT max(value) FROM m WHERE host = 'a' AND time >= '2016-01-01 00:02:00+00' AND value > 1 GROUP BY time_bucket('1 minute', time)")
	must(t, err)
	text := strings.Join(plan, "\n")
	for _, want := range []string{
		"Scan m columns=[time, value] time=[2016-01-01 00:02:00+00, +inf] host = (a)",
		"Filter (value#1 > 1)",
		"Aggregate groups=[time_bucket('00:01:00'::interval, time#0)] aggs=[max(value#1)]",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("EXPLAIN lacks %q:\n%s", want, text)
		}
	}
}

// TestSQLDDLSurvivesReopen checks that tables created, dropped and written
// through SQL come back the same after a reopen (WAL replay).
func TestSQLDDLSurvivesReopen(t *testing.T) {
	dir := t.TempDir()
	db, err := ugnos.Open(dir)
	must(t, err)
	exec := func(q string) {
		t.Helper()
		if _, err := db.Exec(ctx, "postgres", q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	exec("CREATE TABLE a (time timestamptz, host text, v double precision)")
	exec("CREATE TABLE b (time timestamptz, v bigint)")
	exec("INSERT INTO a VALUES ('2020-01-01 00:00:00+00', 'h', 1), ('2020-01-01 00:00:01+00', 'h', 2)")
	exec("INSERT INTO b VALUES ('2020-01-01 00:00:00+00', 5)")
	exec("DROP TABLE b")
	exec("CREATE TABLE b (time timestamptz, w boolean)") // same name, new table
	exec("CREATE VIEW av AS SELECT sum(v) AS s FROM a")
	exec("CREATE DATABASE gone")
	exec("DROP DATABASE gone")
	must(t, db.Close())
	db, err = ugnos.Open(dir)
	must(t, err)
	defer db.Close()
	rd, err := db.SQL(ctx, "postgres", "SELECT sum(v), count(*) FROM a")
	must(t, err)
	defer rd.Release()
	if !rd.Next() || rd.RecordBatch().Column(0).ValueStr(0) != "3" {
		t.Fatalf("table a after reopen: %v", rd.Err())
	}
	rv, err := db.SQL(ctx, "postgres", "SELECT s FROM av")
	must(t, err)
	if !rv.Next() || rv.RecordBatch().Column(0).ValueStr(0) != "3" {
		t.Fatalf("view after reopen: %v", rv.Err())
	}
	rv.Release()
	cols, err := db.Columns("postgres", "b")
	must(t, err)
	if len(cols) != 2 || cols[1].Name != "w" {
		t.Fatalf("table b after reopen: %v", cols)
	}
	if strings.Contains(strings.Join(db.Databases(), ","), "gone") {
		t.Fatalf("dropped database came back: %v", db.Databases())
	}
}

// TestSQLQueryMemoryLimit checks that a query over its memory limit fails
// with 53200 and the database keeps answering.
func TestSQLQueryMemoryLimit(t *testing.T) {
	db, err := ugnos.Open("", ugnos.WithQueryMemoryLimit(256<<10))
	must(t, err)
	defer db.Close()
	pts := make([]ugnos.Point, 50000)
	for i := range pts {
		pts[i] = ugnos.Point{Timestamp: int64(i) * sec, Value: float64(i % 977), Tags: ugnos.TagSet{"h": "x"}}
	}
	must(t, db.InsertBatch("t", "m", pts))
	for _, q := range []string{
		"SELECT value FROM m ORDER BY value LIMIT 10000000",      // beyond top-N: a full sort                     // sort materialises 800 KB
		"SELECT time, count(*) FROM m GROUP BY time",             // 50,000 groups
		"SELECT value, row_number() OVER (ORDER BY time) FROM m", // window
	} {
		_, err := sltRunArgs2(db, "t", q)
		if err == nil || !strings.Contains(err.Error(), "out of memory") {
			t.Errorf("%s: got %v, want 53200", q, err)
		}
	}
	got, err := sltRunArgs2(db, "t", "SELECT count(*), max(value) FROM m")
	must(t, err)
	if strings.Join(got, "|") != "50000 976" {
		t.Fatalf("after refused queries: %v", got)
	}
}

func TestSQLExplainAnalyze(t *testing.T) {
	db := openMem(t)
	for i := 0; i < 100; i++ {
		must(t, db.Insert("t", "m", int64(i)*sec, float64(i), ugnos.TagSet{"h": []string{"a", "b"}[i%2]}))
	}
	got, err := sltRunArgs(db, "EXPLAIN ANALYZE SELECT h, count(*) FROM m WHERE h = 'a' GROUP BY h")
	must(t, err)
	text := strings.Join(got, "\n")
	for _, want := range []string{"Aggregate", "rows=1 ", "Scan m", "scanned=50 ", "Execution Time:"} {
		if !strings.Contains(text, want) {
			t.Errorf("EXPLAIN ANALYZE lacks %q:\n%s", want, text)
		}
	}
}

// sltRunArgs2 runs a statement for a tenant with arguments and returns its
// rows as text, cells joined by spaces.
func sltRunArgs2(db *ugnos.DB, tenant, q string, args ...any) ([]string, error) {
	return sqlRows(ctx, db, tenant, q, args...)
}

// sqlRows runs a statement in c (its session) and returns its rows as
// text, cells joined by spaces.
func sqlRows(c context.Context, db *ugnos.DB, tenant, q string, args ...any) ([]string, error) {
	rd, err := db.SQL(c, tenant, q, args...)
	if err != nil {
		return nil, err
	}
	defer rd.Release()
	var rows []string
	for rd.Next() {
		rec := rd.RecordBatch()
		for i := 0; i < int(rec.NumRows()); i++ {
			var cells []string
			for c := 0; c < int(rec.NumCols()); c++ {
				cells = append(cells, rec.Column(c).ValueStr(i))
			}
			rows = append(rows, strings.Join(cells, " "))
		}
	}
	return rows, rd.Err()
}

// TestZoneMapPruning checks that field predicates skip sealed batches
// whose zone maps rule them out, and never skip rows that match (NaN is
// above every number, as in PostgreSQL).
func TestZoneMapPruning(t *testing.T) {
	db := openMem(t, ugnos.WithSealRows(64))
	low := make([]ugnos.Point, 100) // values 0..99, one sealed batch
	high := make([]ugnos.Point, 100)
	for i := range low {
		low[i] = ugnos.Point{Timestamp: int64(i) * sec, Value: float64(i), Tags: ugnos.TagSet{"h": "a"}}
		high[i] = ugnos.Point{Timestamp: int64(1000+i) * sec, Value: float64(1000 + i), Tags: ugnos.TagSet{"h": "a"}}
	}
	must(t, db.InsertBatch("t", "m", low))
	must(t, db.InsertBatch("t", "m", high))
	got, err := sltRunArgs(db, "SELECT count(*) FROM m WHERE value > 500")
	must(t, err)
	if strings.Join(got, "") != "100" {
		t.Fatalf("value > 500: %v", got)
	}
	plan, err := sltRunArgs(db, "EXPLAIN ANALYZE SELECT count(*) FROM m WHERE value > 500")
	must(t, err)
	if text := strings.Join(plan, "\n"); !strings.Contains(text, "prune value in [500, +Inf]") || !strings.Contains(text, "pruned=1") {
		t.Fatalf("zone map not used:\n%s", text)
	}
	// a batch holding NaN must not be skipped for an open-ended upper range
	_, err = db.Exec(ctx, "t", "CREATE TABLE f (time timestamptz, v double precision)")
	must(t, err)
	_, err = db.Exec(ctx, "t", "INSERT INTO f VALUES ('2020-01-01 00:00:00+00', 1), ('2020-01-01 00:00:01+00', 'NaN'), ('2020-01-01 00:00:02+00', 2)")
	must(t, err)
	db.Flush()
	got, err = sltRunArgs(db, "SELECT count(*) FROM f WHERE v > 100")
	must(t, err)
	if strings.Join(got, "") != "1" {
		t.Fatalf("NaN > 100 must count (PostgreSQL orders NaN last): %v", got)
	}
}

// TestTopN checks ORDER BY ... LIMIT ... OFFSET (run as a top-N heap)
// against a sort done here, over several batches with ties and NULLs.
func TestTopN(t *testing.T) {
	db := openMem(t, ugnos.WithSealRows(64))
	must(t, db.CreateDatabase("t"))
	_, err := db.Exec(ctx, "t", "CREATE TABLE r (time timestamptz, v bigint)")
	must(t, err)
	type row struct {
		ts int64
		v  *int64
	}
	var rows []row
	for b := 0; b < 5; b++ {
		q := "INSERT INTO r VALUES "
		for i := 0; i < 40; i++ {
			ts := int64(b*40+i) * sec
			var v *int64
			val := "NULL"
			if (b*40+i)%9 != 0 {
				x := int64((b*40 + i) * 7 % 13)
				v, val = &x, fmt.Sprint(x)
			}
			rows = append(rows, row{ts, v})
			if i > 0 {
				q += ", "
			}
			q += fmt.Sprintf("(to_timestamp(%d), %s)", ts/sec, val)
		}
		_, err := db.Exec(ctx, "t", q)
		must(t, err)
	}
	// expected: v DESC (NULLs first, PostgreSQL's default for DESC), then time
	sort.SliceStable(rows, func(i, j int) bool {
		a, b := rows[i], rows[j]
		if (a.v == nil) != (b.v == nil) {
			return a.v == nil
		}
		if a.v != nil && *a.v != *b.v {
			return *a.v > *b.v
		}
		return a.ts < b.ts
	})
	var want []string
	for _, r := range rows[3:17] {
		s := "NULL"
		if r.v != nil {
			s = fmt.Sprint(*r.v)
		}
		want = append(want, fmt.Sprintf("%d %s", r.ts/sec, s))
	}
	got, err := sltRunArgs(db, "SELECT extract(epoch FROM time)::bigint, v FROM r ORDER BY v DESC, time LIMIT 14 OFFSET 3")
	must(t, err)
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("got  %v\nwant %v", got, want)
	}
}

func TestDescribeInfersParameterTypes(t *testing.T) {
	db := openMem(t)
	must(t, db.CreateDatabase("t"))
	_, err := db.Exec(ctx, "t", "CREATE TABLE m (time timestamptz, host text, v double precision, n bigint)")
	must(t, err)
	f := func(q string, params, cols string) {
		t.Helper()
		d, err := db.Describe(ctx, "t", q)
		if err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		var cs []string
		for _, c := range d.Columns {
			cs = append(cs, c.Name+":"+c.Type)
		}
		if got := strings.Join(d.Params, ","); got != params {
			t.Errorf("%s: params %s, want %s", q, got, params)
		}
		if got := strings.Join(cs, ","); got != cols {
			t.Errorf("%s: columns %s, want %s", q, got, cols)
		}
	}
	f("SELECT host, avg(v) FROM m WHERE time >= $1 AND host = $2 AND n > $3 GROUP BY host LIMIT $4",
		"timestamp with time zone,text,bigint,bigint", "host:text,avg:double precision")
	f("SELECT $1", "text", "?column?:text")
	f("SELECT v * $1 AS x FROM m", "double precision", "x:double precision")
	f("SELECT time_bucket($1, time) FROM m", "interval", "time_bucket:timestamp with time zone")
	f("INSERT INTO m (time, host, v) VALUES ($1, $2, $3)", "timestamp with time zone,text,double precision", "")
	f("DELETE FROM m WHERE host = $1 AND time < $2", "text,timestamp with time zone", "")
}
