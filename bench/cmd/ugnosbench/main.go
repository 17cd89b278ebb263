// Command ugnosbench measures ugnos on the TSBS cpu-only workload.
//
//	go run ./cmd/ugnosbench ingest -hosts 100 -duration 24h
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"runtime"
	"runtime/pprof"
	"sync"
	"time"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/ugnos/ugnos"
	"github.com/ugnos/ugnos/bench/ingest"
	"github.com/ugnos/ugnos/bench/tsbs"
)

func main() {
	fs := flag.NewFlagSet("ingest", flag.ExitOnError)
	hosts := fs.Int("hosts", 100, "hosts (scale)")
	dur := fs.Duration("duration", 24*time.Hour, "time span")
	batch := fs.Int("batch", 10000, "rows per write")
	writers := fs.Int("writers", 1, "concurrent writers (disjoint hosts)")
	dir := fs.String("dir", "", "data directory (default: a temporary one)")
	cpuprof := fs.String("cpuprofile", "", "write a CPU profile here")
	if len(os.Args) > 1 && os.Args[1] == "ingest" {
		os.Args = os.Args[1:]
	}
	fs.Parse(os.Args[1:])
	cfg := tsbs.Config{Hosts: *hosts, Start: tsbs.DefaultStart, End: tsbs.DefaultStart.Add(*dur), Seed: tsbs.DefaultSeed}
	d := *dir
	if d == "" {
		var err error
		d, err = os.MkdirTemp("", "ugnosbench")
		check(err)
		defer os.RemoveAll(d)
	}
	parts := make([][]arrow.RecordBatch, *writers)
	rows := 0
	for w := range parts {
		w := w
		parts[w] = ingest.Records(cfg, *batch, func(h int) bool { return h%*writers == w })
		for _, r := range parts[w] {
			rows += int(r.NumRows())
		}
	}
	db, err := ugnos.Open(d)
	check(err)
	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	if *cpuprof != "" {
		f, err := os.Create(*cpuprof)
		check(err)
		check(pprof.StartCPUProfile(f))
		defer pprof.StopCPUProfile()
	}
	start := time.Now()
	var wg sync.WaitGroup
	for w := range parts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for _, r := range parts[w] {
				check(db.WriteRecord(context.Background(), "bench", "cpu", r))
			}
		}()
	}
	wg.Wait()
	el := time.Since(start)
	pprof.StopCPUProfile()
	m := db.Metrics()
	db.Flush()
	m2 := db.Metrics()
	runtime.GC()
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	metrics := rows * len(tsbs.FieldNames)
	fmt.Printf("ingest: %d rows (%d metrics), %d writers, batch %d: %v\n", rows, metrics, *writers, *batch, el.Round(time.Millisecond))
	fmt.Printf("  %.0f rows/s, %.0f metrics/s\n", float64(rows)/el.Seconds(), float64(metrics)/el.Seconds())
	fmt.Printf("  WAL: %d bytes (%.1f B/row), %d records, %d fsyncs\n", m.WALBytes, float64(m.WALBytes)/float64(rows), m.WALRecords, m.WALSyncs)
	fmt.Printf("  memory: %.2f bytes/metric sealed (%d batches), heap growth %.2f bytes/metric\n",
		float64(m2.MemoryBytes)/float64(metrics), m2.SealedBatches, float64(int64(after.HeapInuse)-int64(before.HeapInuse))/float64(metrics))
	runtime.KeepAlive(parts)
	check(db.Close())
}

func check(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, "ugnosbench:", err)
		os.Exit(1)
	}
}
