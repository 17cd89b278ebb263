package ugnos_test

// Micro-benchmarks of the embedded API. Reproduce and compare with:
//
//	go test -run '^$' -bench . -benchmem -count 6 . > new.txt && benchstat old.txt new.txt
//
// The TSBS workload figures come from the bench module: `make bench`.

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/ugnos/ugnos"
	"github.com/ugnos/ugnos/arrowstore"
)

// cpuRecord builds rows (100 hosts per epoch) with 2 tags and 10 fields.
func cpuRecord(rows int, epoch0 int) arrow.RecordBatch {
	fs := []arrow.Field{{Name: "time", Type: arrowstore.TimeType}, {Name: "host", Type: arrow.BinaryTypes.String}, {Name: "dc", Type: arrow.BinaryTypes.String}}
	for f := 0; f < 10; f++ {
		fs = append(fs, arrow.Field{Name: fmt.Sprintf("f%d", f), Type: arrow.PrimitiveTypes.Float64})
	}
	b := array.NewRecordBuilder(memory.DefaultAllocator, arrow.NewSchema(fs, nil))
	defer b.Release()
	for i := 0; i < rows; i++ {
		h := i % 100
		b.Field(0).(*array.TimestampBuilder).Append(arrow.Timestamp(int64(epoch0+i/100) * int64(10*time.Second)))
		b.Field(1).(*array.StringBuilder).Append(fmt.Sprintf("host_%d", h))
		b.Field(2).(*array.StringBuilder).Append(fmt.Sprintf("dc_%d", h%7))
		for f := 0; f < 10; f++ {
			b.Field(3 + f).(*array.Float64Builder).Append(float64((i * (f + 1)) % 100))
		}
	}
	return b.NewRecordBatch()
}

// BenchmarkWriteRecord: 10,000-row writes with the WAL fsynced.
func BenchmarkWriteRecord(b *testing.B) {
	db, err := ugnos.Open(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	rec := cpuRecord(10000, 0)
	defer rec.Release()
	b.ReportAllocs()
	for b.Loop() {
		if err := db.WriteRecord(ctx, "b", "cpu", rec); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)*10000/b.Elapsed().Seconds(), "rows/s")
}

// BenchmarkInsertBatch: 10,000 single-value points per call, WAL fsynced.
func BenchmarkInsertBatch(b *testing.B) {
	db, err := ugnos.Open(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	tags := make([]ugnos.TagSet, 100)
	for h := range tags {
		tags[h] = ugnos.TagSet{"host": fmt.Sprintf("host_%d", h), "dc": fmt.Sprintf("dc_%d", h%7)}
	}
	pts := make([]ugnos.Point, 10000)
	for i := range pts {
		pts[i] = ugnos.Point{Timestamp: int64(i/100) * int64(10*time.Second), Value: float64(i % 100), Tags: tags[i%100]}
	}
	b.ReportAllocs()
	for b.Loop() {
		if err := db.InsertBatch("b", "cpu", pts); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)*10000/b.Elapsed().Seconds(), "points/s")
}

// BenchmarkQueryOneHostHour: a one-host, one-hour downsampled query over
// a day of 100 hosts (in memory).
func BenchmarkQueryOneHostHour(b *testing.B) {
	db, _ := ugnos.Open("")
	defer db.Close()
	tags := make([]ugnos.TagSet, 100)
	for h := range tags {
		tags[h] = ugnos.TagSet{"host": fmt.Sprintf("host_%d", h)}
	}
	pts := make([]ugnos.Point, 0, 100*360)
	for hour := 0; hour < 24; hour++ {
		pts = pts[:0]
		for e := hour * 360; e < (hour+1)*360; e++ {
			for h := 0; h < 100; h++ {
				pts = append(pts, ugnos.Point{Timestamp: int64(e) * int64(10*time.Second), Value: float64(e % 100), Tags: tags[h]})
			}
		}
		if err := db.InsertBatch("b", "cpu", pts); err != nil {
			b.Fatal(err)
		}
	}
	q := ugnos.QueryOptions{Start: int64(10 * time.Hour), End: int64(11*time.Hour) - 1, Tags: ugnos.TagSet{"host": "host_42"}, Aggregation: "max", Downsample: time.Minute}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := db.Query(ctx, "b", "cpu", q); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSQLDoubleGroupby: TSBS double-groupby-1, -5 and -all (avg of
// 1, 5 or 10 fields per hour and host over 12 of 24 hours, 100 hosts at
// 10 s) through DB.SQL: the parallel partial hash aggregate with a
// time_bucket and a tag key. B/op and allocs/op show the per-batch garbage
// of the aggregation path, which right after a load lands on fresh pages.
//
//	go test -run '^$' -bench SQL -benchmem -count 6 . > new.txt && benchstat old.txt new.txt
func BenchmarkSQLDoubleGroupby(b *testing.B) {
	db := tsbsLikeDB(b)
	defer db.Close()
	for _, m := range []int{1, 5, 10} {
		avgs := make([]string, m)
		for f := range avgs {
			avgs[f] = fmt.Sprintf("avg(f%d)", f)
		}
		q := `SELECT time_bucket('1 hour', time) AS hour, host, ` + strings.Join(avgs, ", ") + ` FROM cpu
			WHERE time >= '1970-01-01 06:16:22Z' AND time < '1970-01-01 18:16:22Z'
			GROUP BY 1, 2 ORDER BY 1, 2`
		b.Run(fmt.Sprint(m), func(b *testing.B) { benchSQL(b, db, q, 1300) })
	}
}

// BenchmarkSQLHighCPUAll: TSBS high-cpu-all (every column of the rows with
// f0 > 90 over 12 hours): a filtered scan of all columns.
func BenchmarkSQLHighCPUAll(b *testing.B) {
	db := tsbsLikeDB(b)
	defer db.Close()
	benchSQL(b, db, `SELECT * FROM cpu WHERE f0 > 90 AND time >= '1970-01-01 06:16:22Z' AND time < '1970-01-01 18:16:22Z'`, 38880)
}

// tsbsLikeDB loads a day of 100 hosts at 10 s (864,000 rows, 2 tags, 10
// fields) in 10,000-row writes.
func tsbsLikeDB(b *testing.B) *ugnos.DB {
	db, _ := ugnos.Open("")
	for e := 0; e < 8640; e += 100 {
		rec := cpuRecord(10000, e)
		if err := db.WriteRecord(ctx, "b", "cpu", rec); err != nil {
			b.Fatal(err)
		}
		rec.Release()
	}
	return db
}

func benchSQL(b *testing.B, db *ugnos.DB, q string, want int) {
	b.ReportAllocs()
	for b.Loop() {
		rd, err := db.SQL(ctx, "b", q)
		if err != nil {
			b.Fatal(err)
		}
		rows := 0
		for rd.Next() {
			rows += int(rd.RecordBatch().NumRows())
		}
		if err := rd.Err(); err != nil || rows != want {
			b.Fatal(rows, err)
		}
		rd.Release()
	}
}
