// Command ugnosbench measures ugnos on the TSBS devops cpu-only workload
// (../shared/bench/README.md) through the embedded API.
//
//	go run ./cmd/ugnosbench ingest                 # what `make bench` runs
//	go run ./cmd/ugnosbench ingest -runs 7 -hosts 100 -duration 24h
//	go run ./cmd/ugnosbench queries                # 15 TSBS queries vs DuckDB
//	go run ./cmd/ugnosbench pgwire                 # COPY, SELECT *, clients vs PostgreSQL
//	go run ./cmd/ugnosbench asof                   # ASOF join vs DuckDB's ASOF JOIN
//	go run ./cmd/ugnosbench cagg                   # a 1-hour continuous aggregate over a year
//	go run ./cmd/ugnosbench rules                  # ingest with 1,000 alerting rules vs none
//
// Each run writes the whole data set into a fresh data directory with the
// WAL fsynced on every acknowledged write (the default). Modes alternate
// run by run so that machine noise hits them alike; medians are printed.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"runtime"
	"runtime/pprof"
	"slices"
	"sync"
	"time"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/ugnos/ugnos"
	"github.com/ugnos/ugnos/arrowstore"
	"github.com/ugnos/ugnos/bench/ingest"
	"github.com/ugnos/ugnos/bench/tsbs"
)

func main() {
	fs := flag.NewFlagSet("ingest", flag.ExitOnError)
	hosts := fs.Int("hosts", 100, "hosts (scale)")
	dur := fs.Duration("duration", 24*time.Hour, "time span")
	batch := fs.Int("batch", 10000, "rows (or points) per write call")
	writers := fs.Int("writers", 8, "concurrent writers (disjoint hosts) in the many-writer mode")
	runs := fs.Int("runs", 5, "runs per mode")
	cpuprof := fs.String("cpuprofile", "", "write a CPU profile of the single-writer runs here")
	args := os.Args[1:]
	if len(args) > 0 && args[0] == "queries" {
		runQueries(args[1:])
		return
	}
	if len(args) > 0 && args[0] == "storage" {
		runStorage(args[1:])
		return
	}
	if len(args) > 0 && args[0] == "lineproto" {
		runLineProto(args[1:])
		return
	}
	if len(args) > 0 && args[0] == "asof" {
		runAsof(args[1:])
		return
	}
	if len(args) > 0 && args[0] == "cagg" {
		runCagg(args[1:])
		return
	}
	if len(args) > 0 && args[0] == "rules" {
		runRules(args[1:])
		return
	}
	if len(args) > 0 && args[0] == "pgwire" {
		runWire(args[1:])
		return
	}
	if len(args) > 0 && args[0] == "ingest" {
		args = args[1:]
	}
	fs.Parse(args)
	cfg := tsbs.Config{Hosts: *hosts, Start: tsbs.DefaultStart, End: tsbs.DefaultStart.Add(*dur), Seed: tsbs.DefaultSeed}

	fmt.Printf("ugnosbench ingest: TSBS cpu-only, %d hosts, %v, seed %d, %d rows per write, GOMAXPROCS %d, %d runs per mode\n",
		*hosts, *dur, cfg.Seed, *batch, runtime.GOMAXPROCS(0), *runs)
	one := [][]arrow.RecordBatch{ingest.Records(cfg, *batch, nil)}
	many := make([][]arrow.RecordBatch, *writers)
	for w := range many {
		many[w] = ingest.Records(cfg, *batch, func(h int) bool { return h%*writers == w })
	}
	points := ingest.Points(cfg, *batch)
	rows := 0
	for _, r := range one[0] {
		rows += int(r.NumRows())
	}
	metrics := rows * len(tsbs.FieldNames)

	var prof *os.File
	if *cpuprof != "" {
		var err error
		prof, err = os.Create(*cpuprof)
		check(err)
	}
	var r1, r8, rp []float64
	var mem memFigures
	for run := 0; run < *runs; run++ {
		if prof != nil && run == 0 {
			check(pprof.StartCPUProfile(prof))
		}
		el, m := writeRecords(one, rows, run == 0)
		if prof != nil && run == 0 {
			pprof.StopCPUProfile()
		}
		if run == 0 {
			mem = m
		}
		r1 = append(r1, float64(rows)/el.Seconds())
		el, _ = writeRecords(many, rows, false)
		r8 = append(r8, float64(rows)/el.Seconds())
		el = writePoints(points)
		rp = append(rp, float64(metrics)/el.Seconds())
	}
	m1, m8 := median(r1), median(r8)
	fmt.Printf("\nrecord path (WriteRecord), 1 writer:   median %9.0f rows/s = %10.0f metrics/s  (runs %s)   target >= 2,000,000 rows/s\n", m1, m1*10, spread(r1))
	fmt.Printf("record path (WriteRecord), %d writers:  median %9.0f rows/s = %10.0f metrics/s  (runs %s)   %.2fx one writer, target >= 1.6x\n", *writers, m8, m8*10, spread(r8), m8/m1)
	fmt.Printf("seed path (InsertBatch, 1 value/point): median %9.0f points/s                      (runs %s)   target >= 5,000,000\n", median(rp), spread(rp))
	fmt.Printf("\nmemory after the day is stored and sealed: %.2f bytes/metric held by the in-memory tier (%d sealed batches); Go heap growth %.2f bytes/metric   target <= 10\n",
		mem.accounted, mem.batches, mem.heap)
	fmt.Printf("WAL: %.1f bytes/row written, %d fsyncs for %d writes\n", mem.walPerRow, mem.fsyncs, mem.writes)
	fmt.Printf("query one host, one hour (Scan, all 21 columns): %d rows, %d of %d stored rows examined (%.3f%%), %v   target <= 2%%\n",
		mem.qPoints, mem.qScanned, rows, 100*float64(mem.qScanned)/float64(rows), mem.qTime)
}

type memFigures struct {
	accounted, heap, walPerRow float64
	batches                    int
	fsyncs, writes             int64
	qPoints                    int
	qScanned                   int64
	qTime                      time.Duration
}

// writeRecords writes each writer's records concurrently into a fresh DB
// and checks the row count; with measure it also takes memory and query
// figures.
func writeRecords(parts [][]arrow.RecordBatch, rows int, measure bool) (time.Duration, memFigures) {
	dir, err := os.MkdirTemp("", "ugnosbench")
	check(err)
	defer os.RemoveAll(dir)
	db, err := ugnos.Open(dir)
	check(err)
	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	el := writeParts(db, parts)
	var f memFigures
	if got := db.Metrics().Points; got != int64(rows) {
		check(fmt.Errorf("stored %d rows, wrote %d", got, rows))
	}
	if measure {
		db.Flush()
		m := db.Metrics()
		runtime.GC()
		var after runtime.MemStats
		runtime.ReadMemStats(&after)
		metrics := float64(rows * len(tsbs.FieldNames))
		f.accounted = float64(m.MemoryBytes) / metrics
		f.heap = float64(int64(after.HeapInuse)-int64(before.HeapInuse)) / metrics
		f.batches = m.SealedBatches
		f.walPerRow = float64(m.WALBytes) / float64(rows)
		f.fsyncs, f.writes = m.WALSyncs, m.Writes
		from := tsbs.DefaultStart.Add(10 * time.Hour).UnixNano()
		qs := time.Now()
		var st arrowstore.ScanStats
		rd, err := db.Scan(context.Background(), "bench", "cpu", arrowstore.ScanRequest{
			MinT: from, MaxT: from + int64(time.Hour) - 1, Stats: &st,
			Filters: []arrowstore.Filter{{Column: "hostname", Op: arrowstore.OpEq, Values: []string{"host_42"}}}})
		check(err)
		for rd.Next() {
			f.qPoints += int(rd.RecordBatch().NumRows())
		}
		check(rd.Err())
		rd.Release()
		f.qTime = time.Since(qs)
		f.qScanned = st.RowsScanned.Load()
	}
	runtime.KeepAlive(parts)
	check(db.Close())
	return el, f
}

func writePoints(batches []ingest.PointBatch) time.Duration {
	dir, err := os.MkdirTemp("", "ugnosbench")
	check(err)
	defer os.RemoveAll(dir)
	db, err := ugnos.Open(dir)
	check(err)
	start := time.Now()
	for _, b := range batches {
		check(db.InsertBatch("bench", b.Table, b.Points))
	}
	el := time.Since(start)
	check(db.Close())
	return el
}

func median(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func spread(xs []float64) string {
	s := slices.Clone(xs)
	slices.Sort(s)
	return fmt.Sprintf("%.2fM..%.2fM", s[0]/1e6, s[len(s)-1]/1e6)
}

func check(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, "ugnosbench:", err)
		os.Exit(1)
	}
}

// writeParts writes each writer's records into table bench.cpu, the
// writers concurrently, and returns the time until the last write was
// acknowledged.
func writeParts(db *ugnos.DB, parts [][]arrow.RecordBatch) time.Duration {
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
	return time.Since(start)
}
