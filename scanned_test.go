package ugnos_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/ugnos/ugnos"
	"github.com/ugnos/ugnos/arrowstore"
)

// TestOneHostOneHourTouchesLittle loads 100 hosts × 1 day at 10 s (the
// TSBS cpu-only shape, one field) and checks that a query for one host and
// one hour examines at most 2% of the stored rows, both in sealed batches
// and in the write buffer (the last hour).
func TestOneHostOneHourTouchesLittle(t *testing.T) {
	if testing.Short() {
		t.Skip("loads 864k rows")
	}
	// Large writes are sealed directly; one-epoch writes go through the
	// write buffer's chunks.
	for _, epochsPerWrite := range []int{100, 1} {
		t.Run(fmt.Sprint(epochsPerWrite), func(t *testing.T) { oneHostOneHour(t, epochsPerWrite) })
	}
}

func oneHostOneHour(t *testing.T, epochsPerWrite int) {
	db := openMem(t)
	const hosts, step = 100, 10 * time.Second
	start := time.Date(2016, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano()
	epochs := int(24 * time.Hour / step)
	hostNames := make([]string, hosts)
	for h := range hostNames {
		hostNames[h] = fmt.Sprintf("host_%d", h)
	}
	sc := arrow.NewSchema([]arrow.Field{
		{Name: "time", Type: arrowstore.TimeType},
		{Name: "hostname", Type: arrow.BinaryTypes.String},
		{Name: "region", Type: arrow.BinaryTypes.String},
		{Name: "value", Type: arrow.PrimitiveTypes.Float64},
	}, nil)
	b := array.NewRecordBuilder(memory.DefaultAllocator, sc)
	defer b.Release()
	perWrite := epochsPerWrite * hosts
	for e := 0; e < epochs; e++ {
		for h := 0; h < hosts; h++ {
			b.Field(0).(*array.TimestampBuilder).Append(arrow.Timestamp(start + int64(e)*int64(step)))
			b.Field(1).(*array.StringBuilder).Append(hostNames[h])
			b.Field(2).(*array.StringBuilder).Append(fmt.Sprint("r", h%9))
			b.Field(3).(*array.Float64Builder).Append(float64(e))
		}
		if (e+1)*hosts%perWrite == 0 || e == epochs-1 {
			rec := b.NewRecordBatch()
			must(t, db.WriteRecord(ctx, "t", "cpu", rec))
			rec.Release()
		}
	}
	stored := db.Metrics().Points
	if stored != int64(hosts*epochs) {
		t.Fatalf("stored %d rows, want %d", stored, hosts*epochs)
	}
	for _, hour := range []int{10, 23} {
		before := db.Metrics().RowsScanned
		from := start + int64(hour)*int64(time.Hour)
		pts, err := db.Query(ctx, "t", "cpu", ugnos.QueryOptions{Start: from, End: from + int64(time.Hour) - 1, Tags: ugnos.TagSet{"hostname": "host_42"}})
		must(t, err)
		if len(pts) != 360 || pts[0].Value != float64(hour*360) || pts[0].Tags["hostname"] != "host_42" {
			t.Fatalf("hour %d: %d points, first %+v", hour, len(pts), pts[0])
		}
		scanned := db.Metrics().RowsScanned - before
		if frac := float64(scanned) / float64(stored); frac > 0.02 {
			t.Errorf("hour %d: scanned %d of %d rows (%.2f%%), want <= 2%%", hour, scanned, stored, 100*frac)
		} else {
			t.Logf("hour %d: scanned %d of %d rows (%.3f%%)", hour, scanned, stored, 100*frac)
		}
	}
}
