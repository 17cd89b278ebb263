package wal

import (
	"testing"
)

// Reproduce and compare:
//
//	go test -run xxx -bench . -benchtime 2s -count 6 ./arrowstore/wal/ > new.txt
//	benchstat old.txt new.txt
//
// The figures depend on the disk: fdatasync dominates every SyncAlways case.

func benchWAL(b *testing.B, o Options) *WAL {
	b.Helper()
	w, _, err := Open(b.TempDir(), quiet(o), nil)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { w.Close() })
	return w
}

func reportSyncs(b *testing.B, w *WAL) {
	st := w.Stats()
	b.ReportMetric(float64(st.Fsyncs)/float64(b.N), "fsyncs/op")
	if st.Writes > 0 {
		b.ReportMetric(float64(st.WrittenRecs)/float64(st.Writes), "recs/write")
	}
}

// BenchmarkLog1MiB is one engine write batch (~10k rows) per Log: one write
// and one fdatasync per op.
func BenchmarkLog1MiB(b *testing.B) {
	w := benchWAL(b, Options{})
	p := make([]byte, 1<<20)
	b.SetBytes(int64(len(p)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := w.Log(p); err != nil {
			b.Fatal(err)
		}
	}
	reportSyncs(b, w)
}

// BenchmarkLogParallel4KiB has 8 goroutines per CPU logging 4 KiB records;
// group commit shares each fdatasync among them.
func BenchmarkLogParallel4KiB(b *testing.B) {
	w := benchWAL(b, Options{})
	b.SetBytes(4 << 10)
	b.SetParallelism(8)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		p := make([]byte, 4<<10)
		for pb.Next() {
			if _, err := w.Log(p); err != nil {
				b.Error(err)
				return
			}
		}
	})
	reportSyncs(b, w)
}

// BenchmarkAppend100B measures the in-memory cost of Append (mutex, CRC and
// copy), with one Sync per 1000 records as an engine batch would do.
func BenchmarkAppend100B(b *testing.B) {
	w := benchWAL(b, Options{SyncMode: SyncNever})
	p := make([]byte, 100)
	b.SetBytes(int64(len(p)))
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		lsn, err := w.Append(p)
		if err != nil {
			b.Fatal(err)
		}
		if i++; i%1000 == 0 {
			if err := w.Sync(lsn); err != nil {
				b.Fatal(err)
			}
		}
	}
}
