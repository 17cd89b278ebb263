package ugnos_test

import (
	"fmt"
	"runtime"
	"slices"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/ugnos/ugnos"
	"github.com/ugnos/ugnos/arrowstore"
)

// TestParallelAggregateReusesBuffers checks grouping scans whose workers
// reuse their per-batch buffers (time_bucket keys, tag dictionary indices,
// gathered columns) against the same queries on one core, and the counts
// and sums against a reference: sealed batches that the time range cuts,
// an unsealed tail, tag values that first appear late, and a host without
// the tag.
func TestParallelAggregateReusesBuffers(t *testing.T) {
	db, err := ugnos.Open("")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	const hosts, step = 60, 10 * time.Second
	fs := []arrow.Field{
		{Name: "time", Type: arrowstore.TimeType},
		{Name: "host", Type: arrow.BinaryTypes.String, Nullable: true},
		{Name: "dc", Type: arrow.BinaryTypes.String},
		{Name: "f", Type: arrow.PrimitiveTypes.Float64, Nullable: true},
		{Name: "i", Type: arrow.PrimitiveTypes.Int64},
		{Name: "b", Type: arrow.FixedWidthTypes.Boolean},
		{Name: "s", Type: arrow.BinaryTypes.String, Metadata: arrow.NewMetadata([]string{arrowstore.MetaKind}, []string{"field"})},
	}
	schema := arrow.NewSchema(fs, nil)
	type key struct {
		bucket int64
		host   string
	}
	count, sum := map[key]int64{}, map[key]int64{}
	winLo, winHi := int64(40*time.Minute+7*time.Second), int64(5*time.Hour+3*time.Second)
	epoch := 0
	write := func(rows int) {
		b := array.NewRecordBuilder(memory.DefaultAllocator, schema)
		defer b.Release()
		for r := 0; r < rows; r++ {
			h := r % hosts
			if epoch < 900 && h >= 40 { // hosts 40+ appear late: new dictionary values
				h %= 40
			}
			ts := int64(epoch+r/hosts) * int64(step)
			b.Field(0).(*array.TimestampBuilder).Append(arrow.Timestamp(ts))
			host := ""
			if h%13 == 5 {
				b.Field(1).(*array.StringBuilder).AppendNull() // no host tag
			} else {
				host = fmt.Sprintf("host_%02d", h)
				b.Field(1).(*array.StringBuilder).Append(host)
			}
			b.Field(2).(*array.StringBuilder).Append(fmt.Sprintf("dc_%d", h%3))
			v := (ts/int64(step) + int64(h)) % 100
			if v == 7 {
				b.Field(3).(*array.Float64Builder).AppendNull()
			} else {
				b.Field(3).(*array.Float64Builder).Append(float64(v))
			}
			b.Field(4).(*array.Int64Builder).Append(v * int64(h+1))
			b.Field(5).(*array.BooleanBuilder).Append(v%3 == 0)
			b.Field(6).(*array.StringBuilder).Append(fmt.Sprintf("s%d", v%5))
			if ts >= winLo && ts < winHi {
				k := key{bucket: ts / int64(time.Hour) * int64(time.Hour), host: host}
				count[k]++
				sum[k] += v * int64(h+1)
			}
		}
		epoch += rows / hosts
		rec := b.NewRecordBatch()
		defer rec.Release()
		if err := db.WriteRecord(ctx, "t", "m", rec); err != nil {
			t.Fatal(err)
		}
	}
	for range 20 {
		write(12000) // sealed as a batch each
	}
	write(3000) // stays in the write buffer

	const win = "time >= '1970-01-01 00:40:07Z' AND time < '1970-01-01 05:00:03Z'"
	queries := []string{
		`SELECT time_bucket('1 hour', time) AS h, host, count(*), sum(i), avg(f), count(f), min(i), max(s) FROM m WHERE ` + win + ` GROUP BY 1, 2 ORDER BY 1, 2`,
		`SELECT date_bin('15 minutes', time, '2000-01-01'), dc, max(f), bool_and(b), bool_or(b) FROM m WHERE ` + win + ` GROUP BY 1, 2 ORDER BY 1, 2`,
		`SELECT time_bucket('10 minutes', time, '5 minutes'::interval) AS t, count(*) FILTER (WHERE f > 50), sum(i) FILTER (WHERE b) FROM m GROUP BY t ORDER BY t`,
		`SELECT time_bucket('1 minute', time), max(f) FROM m WHERE ` + win + ` AND host IN ('host_03', 'host_45') GROUP BY 1 ORDER BY 1`,
		`SELECT host, first(f, time), last(s, time), last(i, time) FROM m WHERE ` + win + ` GROUP BY host ORDER BY host`,
		`SELECT s, host, count(*), min(time), max(time) FROM m WHERE f > 10 AND ` + win + ` GROUP BY s, host ORDER BY s, host`,
		`SELECT time_bucket('1 hour', time), host, dc, count(DISTINCT s), count(*) FILTER (WHERE i % 97 = 0) FROM m GROUP BY 1, 2, 3 ORDER BY 1, 2, 3`,
	}
	run := func(procs int) [][]string {
		defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(procs))
		var out [][]string
		for _, q := range queries {
			rows, err := sltRun(db, q)
			if err != nil {
				t.Fatalf("%s: %v", q, err)
			}
			out = append(out, rows)
		}
		return out
	}
	serial, parallel := run(1), run(4)
	for i, q := range queries {
		if !slices.Equal(serial[i], parallel[i]) {
			t.Errorf("%s:\none core:  %d rows %q\nfour cores: %d rows %q", q, len(serial[i]), head(serial[i]), len(parallel[i]), head(parallel[i]))
		}
	}
	// the first query's counts and sums against the reference
	var want []string
	keys := make([]key, 0, len(count))
	for k := range count {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b key) int {
		if a.bucket != b.bucket {
			return int(a.bucket/1e9 - b.bucket/1e9)
		}
		switch {
		case a.host == b.host:
			return 0
		case a.host == "": // NULL sorts last
			return 1
		case b.host == "":
			return -1
		case a.host < b.host:
			return -1
		}
		return 1
	})
	for _, k := range keys {
		h := k.host
		if h == "" {
			h = "NULL"
		}
		want = append(want, fmt.Sprintf("%s %s %d %d", time.Unix(0, k.bucket).UTC().Format("2006-01-02 15:04:05+00"), h, count[k], sum[k]))
	}
	if len(want) < 100 {
		t.Fatalf("only %d reference groups", len(want))
	}
	var got []string
	for _, r := range parallel[0] {
		var d, c, h string
		var n, s int64
		fmt.Sscanf(r, "%s %s %s %d %d", &d, &c, &h, &n, &s)
		got = append(got, fmt.Sprintf("%s %s %s %d %d", d, c, h, n, s))
	}
	if !slices.Equal(got, want) {
		t.Errorf("counts and sums:\ngot  %q\nwant %q", head(got), head(want))
	}
}

func head(rows []string) []string {
	if len(rows) > 8 {
		return rows[:8]
	}
	return rows
}

// TestUnionAggregate: aggregates over UNION ALL branches (scans split
// across workers, a branch that is itself an aggregate, filters above
// and below the union) equal the same aggregates over the table, and the
// same query run on one core.
func TestUnionAggregate(t *testing.T) {
	db, err := ugnos.Open("", ugnos.WithSealRows(256))
	must(t, err)
	defer db.Close()
	var pts []ugnos.Point
	for i := 0; i < 20000; i++ {
		pts = append(pts, ugnos.Point{Timestamp: int64(i) * int64(time.Second), Value: float64(i % 997),
			Tags: ugnos.TagSet{"host": fmt.Sprintf("h%d", i%13), "dc": fmt.Sprintf("d%d", i%3)}})
	}
	must(t, db.InsertBatch("acme", "m", pts))
	const split = "'1970-01-01 02:00:00+00'"
	cases := []struct{ union, direct string }{
		{`SELECT host, count(*), sum(value), min(value), max(value), avg(value) FROM
			(SELECT * FROM m WHERE time < ` + split + ` UNION ALL SELECT * FROM m WHERE time >= ` + split + `) u GROUP BY host`,
			`SELECT host, count(*), sum(value), min(value), max(value), avg(value) FROM m GROUP BY host`},
		{`SELECT dc, host, count(*) FROM (SELECT host, dc, value FROM m WHERE time < ` + split + `
			UNION ALL SELECT host, dc, value FROM m WHERE time >= ` + split + ` AND value > 3) u WHERE value < 900 GROUP BY dc, host`,
			`SELECT dc, host, count(*) FROM m WHERE value < 900 AND (time < ` + split + ` OR value > 3) GROUP BY dc, host`},
		{`SELECT h, sum(n) FROM (SELECT host AS h, count(*) AS n FROM m GROUP BY host UNION ALL SELECT host, 1 FROM m WHERE value = 5) u GROUP BY h`,
			`SELECT host, count(*) + count(*) FILTER (WHERE value = 5) FROM m GROUP BY host`},
		{`SELECT count(*), sum(value) FROM (SELECT value FROM m UNION ALL SELECT value FROM m WHERE host = 'h3') u`,
			`SELECT count(*) + count(*) FILTER (WHERE host = 'h3'), sum(value) + coalesce(sum(value) FILTER (WHERE host = 'h3'), 0) FROM m`},
	}
	for _, c := range cases {
		got := caggRows(t, db, c.union)
		want := caggRows(t, db, c.direct)
		if !slices.Equal(got, want) || len(got) == 0 {
			t.Errorf("%s\n got %q\nwant %q", c.union, head(got), head(want))
		}
		old := runtime.GOMAXPROCS(1)
		one := caggRows(t, db, c.union)
		runtime.GOMAXPROCS(old)
		if !slices.Equal(got, one) {
			t.Errorf("%s: on one core %q, on %d %q", c.union, head(one), old, head(got))
		}
	}
}
