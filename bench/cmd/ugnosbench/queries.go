package main

import (
	"context"
	"flag"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"sort"
	"strings"
	"time"

	"github.com/ugnos/ugnos"
	"github.com/ugnos/ugnos/bench/ingest"
	"github.com/ugnos/ugnos/bench/tsbs"
)

// runQueries loads the data set in memory and times the TSBS cpu-only
// queries through the embedded SQL engine.
func runQueries(args []string) {
	fs := flag.NewFlagSet("queries", flag.ExitOnError)
	hosts := fs.Int("hosts", 100, "hosts (scale)")
	dur := fs.Duration("duration", 24*time.Hour, "time span")
	dir := fs.String("dir", "../../shared/bench/tsbs-cpu-only", "directory of the query files")
	runs := fs.Int("runs", 9, "timed runs per query (median)")
	warmup := fs.Int("warmup", 5, "untimed runs per query first (hot runs are what is compared)")
	only := fs.String("only", "", "run only queries whose name contains this")
	cpuprof := fs.String("cpuprofile", "", "write a CPU profile of the query runs here")
	memprof := fs.String("memprofile", "", "write an allocation profile of the query runs here (every allocation sampled)")
	peer := fs.Bool("duckdb", true, "also run every query on DuckDB (same data, same threads) and print ratios")
	each := fs.Bool("each", false, "print every timed run's latency (to see the first runs after the load)")
	onDisk := fs.Bool("segments", false, "query the data from Parquet segments (a checkpoint in a temporary data directory) instead of memory")
	fs.Parse(args)
	warmupRuns = *warmup
	printEach = *each
	cfg := tsbs.Config{Hosts: *hosts, Start: tsbs.DefaultStart, End: tsbs.DefaultStart.Add(*dur), Seed: tsbs.DefaultSeed}
	dataDir := ""
	if *onDisk {
		tmp, err := os.MkdirTemp("", "ugnosbench-seg")
		check(err)
		defer os.RemoveAll(tmp)
		dataDir = tmp
	}
	db, err := ugnos.Open(dataDir)
	check(err)
	defer db.Close()
	for _, r := range ingest.Records(cfg, 10000, nil) {
		check(db.WriteRecord(context.Background(), "bench", "cpu", r))
	}
	if *onDisk {
		check(db.Checkpoint(context.Background()))
		m := db.Metrics()
		fmt.Printf("data in %d segment files, %.1f MB (%d rows, %.2f bytes per row)\n", m.Segments, float64(m.SegmentBytes)/1e6, m.DiskRows, float64(m.SegmentBytes)/float64(m.DiskRows))
	}
	files, err := filepath.Glob(filepath.Join(*dir, "*.sql"))
	check(err)
	if len(files) == 0 {
		check(fmt.Errorf("no query files in %s", *dir))
	}
	sort.Strings(files)
	if *memprof != "" {
		runtime.MemProfileRate = 512
		defer func() {
			f, err := os.Create(*memprof)
			check(err)
			check(pprof.Lookup("allocs").WriteTo(f, 0))
			check(f.Close())
		}()
	}
	if *cpuprof != "" {
		f, err := os.Create(*cpuprof)
		check(err)
		check(pprof.StartCPUProfile(f))
		defer pprof.StopCPUProfile()
	}
	// Each engine runs all its queries while the other is idle: DuckDB's
	// worker threads keep spinning for a while after each query and would
	// otherwise take the cores ugnos is measured on.
	type result struct {
		name       string
		ms, dms    float64
		rows, drow int
		err, derr  error
	}
	var results []result
	queries := map[string]string{}
	for _, f := range files {
		name := strings.TrimSuffix(filepath.Base(f), ".sql")
		if *only != "" && !strings.Contains(name, *only) {
			continue
		}
		q, err := os.ReadFile(f)
		check(err)
		queries[name] = string(q)
		r := result{name: name}
		r.ms, r.rows, r.err = timeIt(*runs, func() (int, error) { return ugnosQuery(db, string(q)) })
		results = append(results, r)
	}
	ugnosScan := scanTime(db, *runs)
	var duck *duckDB
	var duckScan float64
	if *peer {
		duck, err = openDuck(cfg)
		check(err)
		for i := range results {
			r := &results[i]
			q := queries[r.name]
			r.dms, r.drow, r.derr = timeIt(*runs, func() (int, error) { return duck.run(q) })
		}
		duckScan, _, err = timeIt(*runs, func() (int, error) { return duck.run(scanQuery) })
		check(err)
	}
	fmt.Printf("ugnosbench queries: %d hosts, %v, GOMAXPROCS %d, %d warm-up + %d timed runs each, median\n", *hosts, *dur, runtime.GOMAXPROCS(0), *warmup, *runs)
	fmt.Printf("%-24s %12s %12s %8s %7s\n", "query", "ugnos ms", "duckdb ms", "ratio", "rows")
	var ratios []float64
	worst, worstName := 0.0, ""
	for _, r := range results {
		switch {
		case r.err != nil:
			fmt.Printf("%-24s ugnos error: %v\n", r.name, r.err)
			continue
		case duck == nil:
			fmt.Printf("%-24s %12.2f %12s %8s %7d\n", r.name, r.ms, "-", "-", r.rows)
			continue
		case r.derr != nil:
			fmt.Printf("%-24s %12.2f duckdb error: %v\n", r.name, r.ms, r.derr)
			continue
		}
		ratio := r.ms / r.dms
		ratios = append(ratios, ratio)
		if ratio > worst {
			worst, worstName = ratio, r.name
		}
		mark := ""
		if r.rows != r.drow {
			mark = fmt.Sprintf("  ROW COUNT DIFFERS: duckdb %d", r.drow)
		}
		fmt.Printf("%-24s %12.2f %12.2f %8.3f %7d%s\n", r.name, r.ms, r.dms, ratio, r.rows, mark)
	}
	if len(ratios) > 0 {
		g := 0.0
		for _, r := range ratios {
			g += math.Log(r)
		}
		fmt.Printf("\ngeometric mean of ugnos/DuckDB ratios: %.3f over %d queries (target <= 1.0); worst %.3f (%s; target <= 2.0)\n",
			math.Exp(g/float64(len(ratios))), len(ratios), worst, worstName)
	}
	n := float64(tsbs.New(cfg).Rows())
	cores := float64(runtime.GOMAXPROCS(0))
	bw := memoryBandwidth()
	fmt.Printf("\nscan: %s\n  ugnos  %.2f ms = %.0f M values/s per core\n", scanQuery, ugnosScan, n/(ugnosScan/1e3)/cores/1e6)
	if duck != nil {
		fmt.Printf("  duckdb %.2f ms = %.0f M values/s per core\n", duckScan, n/(duckScan/1e3)/cores/1e6)
	}
	fmt.Printf("  memory-bandwidth bound (measured copy %.1f GB/s, 8 bytes/value): %.0f M values/s\n", bw/1e9, bw/8/1e6)
}

const scanQuery = "SELECT sum(usage_user) FROM cpu"

func scanTime(db *ugnos.DB, runs int) float64 {
	ms, _, err := timeIt(runs, func() (int, error) { return ugnosQuery(db, scanQuery) })
	check(err)
	return ms
}

func ugnosQuery(db *ugnos.DB, q string) (int, error) {
	rd, err := db.SQL(context.Background(), "bench", q)
	if err != nil {
		return 0, err
	}
	defer rd.Release()
	rows := 0
	for rd.Next() {
		rows += int(rd.RecordBatch().NumRows())
	}
	return rows, rd.Err()
}

// warmupRuns is how many untimed runs timeIt makes first.
var warmupRuns = 5

// printEach makes timeIt print the latency of every timed run.
var printEach bool

// timeIt runs f warmupRuns times untimed, then runs times, and returns the
// median time in ms.
func timeIt(runs int, f func() (int, error)) (float64, int, error) {
	for i := 0; i < warmupRuns; i++ {
		if _, err := f(); err != nil {
			return 0, 0, err
		}
	}
	var times []float64
	rows := 0
	for r := 0; r < runs; r++ {
		faults := minorFaults()
		var ms0 runtime.MemStats
		if printEach {
			runtime.ReadMemStats(&ms0)
		}
		start := time.Now()
		n, err := f()
		if err != nil {
			return 0, 0, err
		}
		rows = n
		times = append(times, float64(time.Since(start).Nanoseconds())/1e6)
		if printEach {
			// to stderr as it happens, so that GODEBUG=gctrace=1 lines interleave
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			fmt.Fprintf(os.Stderr, "run %d: %.2f ms, %d minor page faults, %.2f MB allocated\n",
				r+1, times[r], minorFaults()-faults, float64(ms.TotalAlloc-ms0.TotalAlloc)/1e6)
		}
	}
	return median(times), rows, nil
}

// memoryBandwidth measures a large copy in bytes per second (read + write).
func memoryBandwidth() float64 {
	src := make([]byte, 256<<20)
	dst := make([]byte, len(src))
	for i := range src {
		src[i] = byte(i)
	}
	best := 0.0
	for r := 0; r < 3; r++ {
		start := time.Now()
		copy(dst, src)
		el := time.Since(start).Seconds()
		best = max(best, float64(len(src))/el)
	}
	return best
}
