package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
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
	runs := fs.Int("runs", 5, "runs per query (median)")
	only := fs.String("only", "", "run only queries whose name contains this")
	cpuprof := fs.String("cpuprofile", "", "write a CPU profile of the query runs here")
	fs.Parse(args)
	cfg := tsbs.Config{Hosts: *hosts, Start: tsbs.DefaultStart, End: tsbs.DefaultStart.Add(*dur), Seed: tsbs.DefaultSeed}
	db, err := ugnos.Open("")
	check(err)
	defer db.Close()
	for _, r := range ingest.Records(cfg, 10000, nil) {
		check(db.WriteRecord(context.Background(), "bench", "cpu", r))
	}
	files, err := filepath.Glob(filepath.Join(*dir, "*.sql"))
	check(err)
	if len(files) == 0 {
		check(fmt.Errorf("no query files in %s", *dir))
	}
	sort.Strings(files)
	if *cpuprof != "" {
		f, err := os.Create(*cpuprof)
		check(err)
		check(pprof.StartCPUProfile(f))
		defer pprof.StopCPUProfile()
	}
	fmt.Printf("ugnosbench queries: %d hosts, %v, %d runs each, median\n", *hosts, *dur, *runs)
	for _, f := range files {
		name := strings.TrimSuffix(filepath.Base(f), ".sql")
		if *only != "" && !strings.Contains(name, *only) {
			continue
		}
		q, err := os.ReadFile(f)
		check(err)
		var times []float64
		rows := 0
		for r := 0; r < *runs; r++ {
			start := time.Now()
			rd, err := db.SQL(context.Background(), "bench", string(q))
			if err != nil {
				fmt.Printf("%-24s error: %v\n", name, err)
				break
			}
			rows = 0
			for rd.Next() {
				rows += int(rd.RecordBatch().NumRows())
			}
			if err := rd.Err(); err != nil {
				fmt.Printf("%-24s error: %v\n", name, err)
				rd.Release()
				break
			}
			rd.Release()
			times = append(times, float64(time.Since(start).Microseconds())/1000)
		}
		if len(times) > 0 {
			fmt.Printf("%-24s %9.2f ms  %6d rows\n", name, median(times), rows)
		}
	}
}
