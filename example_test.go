package ugnos_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/ugnos/ugnos"
	"github.com/ugnos/ugnos/arrowstore"
)

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano()

func ExampleOpen() {
	dir, _ := os.MkdirTemp("", "ugnos-example")
	defer os.RemoveAll(dir)
	db, err := ugnos.Open(dir) // durable: writes are fsynced before they return
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()
	fmt.Println(db.Databases())
	// Output: [postgres]
}

func ExampleDB_Insert() {
	db, _ := ugnos.Open("") // memory only
	defer db.Close()
	err := db.Insert("acme", "temperature", t0, 21.5, ugnos.TagSet{"room": "lab"})
	fmt.Println(err)
	pts, _ := db.Query(context.Background(), "acme", "temperature", ugnos.QueryOptions{})
	fmt.Println(pts[0].Value, pts[0].Tags["room"])
	// Output:
	// <nil>
	// 21.5 lab
}

func ExampleDB_InsertBatch() {
	db, _ := ugnos.Open("")
	defer db.Close()
	host := ugnos.TagSet{"host": "a"} // share one TagSet per series
	var pts []ugnos.Point
	for i := 0; i < 3; i++ {
		pts = append(pts, ugnos.Point{Timestamp: t0 + int64(i)*int64(time.Second), Value: float64(i), Tags: host})
	}
	fmt.Println(db.InsertBatch("acme", "cpu", pts))
	fmt.Println(db.Metrics().Points)
	// Output:
	// <nil>
	// 3
}

func ExampleDB_Query() {
	db, _ := ugnos.Open("")
	defer db.Close()
	for i := 0; i < 6; i++ {
		db.Insert("acme", "cpu", t0+int64(i)*int64(10*time.Second), float64(i), ugnos.TagSet{"host": "a"})
	}
	// average per 30 seconds over the first minute
	pts, err := db.Query(context.Background(), "acme", "cpu", ugnos.QueryOptions{
		Start: t0, End: t0 + int64(time.Minute) - 1,
		Aggregation: "avg", Downsample: 30 * time.Second,
	})
	if err != nil {
		log.Fatal(err)
	}
	for _, p := range pts {
		fmt.Println(time.Unix(0, p.Timestamp).UTC().Format(time.TimeOnly), p.Value, p.Tags["host"])
	}
	// Output:
	// 00:00:00 1 a
	// 00:00:30 4 a
}

func ExampleDB_ListSeries() {
	db, _ := ugnos.Open("")
	defer db.Close()
	db.Insert("acme", "cpu", t0, 1, ugnos.TagSet{"host": "a"})
	db.Insert("acme", "mem", t0, 1, ugnos.TagSet{"host": "b"})
	all, _ := db.ListSeries("acme", nil)
	hostB, _ := db.ListSeries("acme", ugnos.TagSet{"host": "b"})
	fmt.Println(all, hostB)
	// Output: [cpu mem] [mem]
}

func ExampleDB_Delete() {
	db, _ := ugnos.Open("")
	defer db.Close()
	for i := 0; i < 10; i++ {
		db.Insert("acme", "cpu", t0+int64(i), float64(i), ugnos.TagSet{"host": "a"})
	}
	n, err := db.Delete("acme", "cpu", t0, t0+4, ugnos.TagSet{"host": "a"})
	fmt.Println(n, err)
	// Output: 5 <nil>
}

func ExampleDB_Metrics() {
	db, _ := ugnos.Open("")
	defer db.Close()
	db.Insert("acme", "cpu", t0, 1, ugnos.TagSet{"host": "a"})
	db.Insert("acme", "cpu", t0, 2, ugnos.TagSet{"host": "b"})
	m := db.Metrics()
	fmt.Println(m.Tenants, m.Tables, m.Series, m.Points)
	// Output: 2 1 2 2
}

func ExampleDB_Close() {
	db, _ := ugnos.Open("")
	fmt.Println(db.Close())
	err := db.Insert("acme", "cpu", t0, 1, nil)
	fmt.Println(err)
	// Output:
	// <nil>
	// database is closed
}

func ExampleDB_WriteRecord() {
	db, _ := ugnos.Open("")
	defer db.Close()
	schema := arrow.NewSchema([]arrow.Field{
		{Name: "time", Type: arrowstore.TimeType},
		{Name: "host", Type: arrow.BinaryTypes.String}, // text: a tag
		{Name: "usage_user", Type: arrow.PrimitiveTypes.Float64},
		{Name: "usage_system", Type: arrow.PrimitiveTypes.Float64},
	}, nil)
	b := array.NewRecordBuilder(memory.DefaultAllocator, schema)
	defer b.Release()
	b.Field(0).(*array.TimestampBuilder).AppendValues([]arrow.Timestamp{arrow.Timestamp(t0), arrow.Timestamp(t0)}, nil)
	b.Field(1).(*array.StringBuilder).AppendValues([]string{"a", "b"}, nil)
	b.Field(2).(*array.Float64Builder).AppendValues([]float64{12, 40}, nil)
	b.Field(3).(*array.Float64Builder).AppendValues([]float64{3, 7}, nil)
	rec := b.NewRecordBatch()
	defer rec.Release()
	if err := db.WriteRecord(context.Background(), "acme", "cpu", rec); err != nil {
		log.Fatal(err)
	}
	cols, _ := db.Columns("acme", "cpu")
	for _, c := range cols {
		fmt.Println(c.Name, c.Kind)
	}
	// Output:
	// time time
	// host tag
	// usage_user field
	// usage_system field
}

func ExampleDB_Scan() {
	db, _ := ugnos.Open("")
	defer db.Close()
	db.Insert("acme", "cpu", t0, 1, ugnos.TagSet{"host": "a"})
	db.Insert("acme", "cpu", t0+1, 2, ugnos.TagSet{"host": "b"})
	rd, err := db.Scan(context.Background(), "acme", "cpu", arrowstore.ScanRequest{
		MinT: t0, MaxT: t0 + 10,
		Columns: []string{"time", "value"},
		Filters: []arrowstore.Filter{{Column: "host", Op: arrowstore.OpEq, Values: []string{"b"}}},
	})
	if err != nil {
		log.Fatal(err)
	}
	defer rd.Release()
	for rd.Next() {
		rec := rd.RecordBatch()
		fmt.Println(rec.NumRows(), rec.Column(1).(*array.Float64).Value(0))
	}
	// Output: 1 2
}

func ExampleDB_CreateDatabase() {
	db, _ := ugnos.Open("", ugnos.WithAutoCreateTenants(false))
	defer db.Close()
	err := db.Insert("acme", "cpu", t0, 1, nil)
	fmt.Println(err)
	fmt.Println(db.CreateDatabase("acme"), db.Insert("acme", "cpu", t0, 1, nil))
	fmt.Println(db.Databases())
	// Output:
	// database "acme" does not exist
	// <nil> <nil>
	// [acme postgres]
}

func ExampleDB_Columns() {
	db, _ := ugnos.Open("")
	defer db.Close()
	db.Insert("acme", "cpu", t0, 1, ugnos.TagSet{"host": "a"})
	cols, _ := db.Columns("acme", "cpu")
	for _, c := range cols {
		fmt.Println(c.Name, c.Kind, c.ArrowType())
	}
	// Output:
	// time time timestamp[ns, tz=UTC]
	// host tag dictionary<values=utf8, indices=int32, ordered=false>
	// value field float64
}

func ExampleDB_Flush() {
	db, _ := ugnos.Open("")
	defer db.Close()
	db.Insert("acme", "cpu", t0, 1, ugnos.TagSet{"host": "a"})
	fmt.Println(db.Metrics().SealedBatches)
	db.Flush() // seal the write buffers into immutable batches
	fmt.Println(db.Metrics().SealedBatches)
	// Output:
	// 0
	// 1
}

func ExampleDB_Recovery() {
	dir, _ := os.MkdirTemp("", "ugnos-example")
	defer os.RemoveAll(dir)
	db, _ := ugnos.Open(dir)
	db.Insert("acme", "cpu", t0, 1, nil)
	db.Close()
	db, _ = ugnos.Open(dir) // replays the write-ahead log
	defer db.Close()
	rep := db.Recovery()
	fmt.Println(rep.Records > 0, rep.Truncated, db.Metrics().Points)
	// Output: true false 1
}

func ExampleDB_Checkpoint() {
	dir, _ := os.MkdirTemp("", "ugnos-example")
	defer os.RemoveAll(dir)
	db, _ := ugnos.Open(dir, ugnos.WithMemoryLimit(64<<20)) // checkpoints also run on their own past 64 MiB
	defer db.Close()
	db.Insert("acme", "cpu", t0, 1, ugnos.TagSet{"host": "a"})
	err := db.Checkpoint(context.Background()) // rows move to Parquet segments, the WAL is truncated
	m := db.Metrics()
	fmt.Println(err, m.Segments, m.DiskRows)
	// Output: <nil> 1 1
}

func ExampleDB_Compact() {
	dir, _ := os.MkdirTemp("", "ugnos-example")
	defer os.RemoveAll(dir)
	db, _ := ugnos.Open(dir)
	defer db.Close()
	for i := range 3 { // three checkpoints: three small files of one day
		db.Insert("acme", "cpu", t0+int64(i), 1, ugnos.TagSet{"host": "a"})
		db.Checkpoint(context.Background())
	}
	db.Compact(context.Background()) // usually done in the background
	fmt.Println(db.Metrics().Segments)
	// Output: 1
}

func ExampleDB_Snapshot() {
	dir, _ := os.MkdirTemp("", "ugnos-example")
	defer os.RemoveAll(dir)
	db, _ := ugnos.Open("")
	defer db.Close()
	db.Insert("acme", "cpu", t0, 1, ugnos.TagSet{"host": "a"})
	err := db.Snapshot(dir + "/snap") // writes may go on meanwhile
	fmt.Println(err)
	// Output: <nil>
}

func ExampleDB_Restore() {
	dir, _ := os.MkdirTemp("", "ugnos-example")
	defer os.RemoveAll(dir)
	db, _ := ugnos.Open("")
	defer db.Close()
	db.Insert("acme", "cpu", t0, 1, ugnos.TagSet{"host": "a"})
	db.Snapshot(dir + "/snap")
	db.Insert("acme", "cpu", t0+1, 2, ugnos.TagSet{"host": "a"})
	err := db.Restore(dir + "/snap") // verified first; a damaged snapshot changes nothing
	fmt.Println(err, db.Metrics().Points)
	// Output: <nil> 1
}

func ExampleDB_SetRetention() {
	db, _ := ugnos.Open("")
	defer db.Close()
	now := time.Now().UnixNano()
	db.Insert("acme", "cpu", now-int64(48*time.Hour), 1, ugnos.TagSet{"host": "a"})
	db.Insert("acme", "cpu", now, 2, ugnos.TagSet{"host": "a"})
	db.SetRetention("acme", "cpu", 24*time.Hour) // table "" would set the tenant's default
	pts, _ := db.Query(context.Background(), "acme", "cpu", ugnos.QueryOptions{Start: 0, End: now})
	period, _ := db.Retention("acme", "cpu")
	fmt.Println(len(pts), period)
	// Output: 1 24h0m0s
}
