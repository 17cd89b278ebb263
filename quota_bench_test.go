package ugnos_test

import (
	"fmt"
	"testing"

	"github.com/ugnos/ugnos"
)

// BenchmarkQuotaIngest: the cost of quotas on the ingest path. Batches of
// 1000 points and of one point, of known series, into a memory-only
// database, with no quota, with ugnos.max_series set (not reached) and
// with the ingest rate set too (never binding).
//
//	go test -run '^$' -bench BenchmarkQuotaIngest -benchmem -count 6 . | tee new.txt
//	benchstat old.txt new.txt   (old.txt: the "none" case on the commit before quotas)
func BenchmarkQuotaIngest(b *testing.B) {
	for _, batch := range []int{1000, 1} {
		b.Run(fmt.Sprintf("batch=%d", batch), func(b *testing.B) { benchQuotaIngest(b, batch) })
	}
}

func benchQuotaIngest(b *testing.B, batch int) {
	for _, c := range []struct {
		name  string
		setup []string
	}{
		{"none", nil},
		{"max_series", []string{"ALTER DATABASE acme SET ugnos.max_series = 1000000"}},
		{"max_series+rate", []string{"ALTER DATABASE acme SET ugnos.max_series = 1000000",
			"ALTER DATABASE acme SET ugnos.max_ingest_rows_per_second = 1000000000000"}},
	} {
		b.Run(c.name, func(b *testing.B) {
			db, err := ugnos.Open("")
			if err != nil {
				b.Fatal(err)
			}
			defer db.Close()
			if err := db.CreateDatabase("acme"); err != nil {
				b.Fatal(err)
			}
			for _, q := range c.setup {
				if _, err := db.Exec(ctx, "acme", q); err != nil {
					b.Skip(err) // before quotas
				}
			}
			tags := make([]ugnos.TagSet, 100)
			for i := range tags {
				tags[i] = ugnos.TagSet{"host": fmt.Sprintf("h%03d", i), "dc": "eu"}
			}
			pts := make([]ugnos.Point, batch)
			ts := int64(0)
			fill := func() {
				for i := range pts {
					ts++
					pts[i] = ugnos.Point{Timestamp: ts, Value: float64(i), Tags: tags[i%len(tags)]}
				}
			}
			for range len(tags) { // the series exist from here on
				fill()
				if err := db.InsertBatch("acme", "cpu", pts); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportAllocs()
			for b.Loop() {
				fill()
				if err := db.InsertBatch("acme", "cpu", pts); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N*len(pts))/b.Elapsed().Seconds(), "rows/s")
		})
	}
}
