package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/ugnos/ugnos"
	"github.com/ugnos/ugnos/bench/ingest"
	"github.com/ugnos/ugnos/bench/tsbs"
)

// runRules measures what alerting rules cost ingest (issue 7's target: 1,000
// rules evaluated every 10 s cost at most 10% of ingest throughput). Each
// run opens a fresh data directory (WAL fsynced per write, the default),
// registers the rules, then writes the TSBS cpu-only data set with
// -writers writers (disjoint hosts; WriteRecord, -batch rows a call) over
// and over for -ingest and reports rows/s. One writer is bound by fsync
// latency more than by CPU; with more writers than cores ingest is
// CPU-bound and the rules' CPU shows. Runs with 0 rules, with -rules rules and (-own) with the
// same rules each evaluated by its own query as before batching (the
// threshold rules registered as query rules of the SQL they run alone)
// alternate (A B C C B A …) so that machine noise hits all alike; medians
// and the median of each run's ratio to the run without rules are
// printed.
//
// The data set is the usual TSBS day (-span) shifted so that it ends a
// minute after the run ends: the rules' windows (relative to now) always
// hold data. Each pass writes the same rows again (duplicates are stored
// as rows), so the last minute holds 6 epochs × hosts × passes rows.
//
// Before writing, each run syncs the disks and pauses (-settle), so that
// neither mode pays for the writeback of the run before (registering
// 1,000 rules takes seconds, which would otherwise favour the runs with
// rules).
//
// The rules: threshold form, one per host and field, avg(field) over the
// last minute > 90 for 30 s; and -query-rules of query form, max(field)
// per host of a region over the last minute > 99 for 30 s.
//
//	go run ./cmd/ugnosbench rules                             # 1,000 rules, 40 s per run, 3 runs per mode
//	go run ./cmd/ugnosbench rules -runs 5 -ingest 30s -writers 4 -diag
func runRules(args []string) {
	fs := flag.NewFlagSet("rules", flag.ExitOnError)
	hosts := fs.Int("hosts", 100, "hosts (scale)")
	span := fs.Duration("span", 24*time.Hour, "time span of the data set written in one pass")
	dur := fs.Duration("ingest", 40*time.Second, "how long each run writes")
	nrules := fs.Int("rules", 1000, "rules registered in the runs with rules")
	nquery := fs.Int("query-rules", 100, "how many of the rules are of query form (the rest threshold form)")
	every := fs.Duration("every", 10*time.Second, "evaluation interval of every rule")
	batch := fs.Int("batch", 10000, "rows per write call")
	writers := fs.Int("writers", 1, "concurrent writers (disjoint hosts); more than the cores make ingest CPU-bound")
	runs := fs.Int("runs", 3, "runs per mode")
	settle := fs.Duration("settle", 5*time.Second, "pause before each run's writes (after a sync of the disks)")
	idle := fs.Duration("idle", 0, "after the writes, measure the CPU used this long with no writes (the rules' own cost)")
	diag := fs.Bool("diag", false, "print the engine's figures (fsyncs, checkpoints, …) after each run's writes")
	warmup := fs.Duration("warmup", 10*time.Second, "an uncounted run without rules first, this long")
	own := fs.Bool("own", true, "also run the rules with the threshold rules registered as query rules of the same SQL: one query per rule and round, as before batching")
	fs.Parse(args)

	fmt.Printf("ugnosbench rules: TSBS cpu-only, %d hosts, %v a pass, %d rows per write, %d writers for %v a run; %d rules (%d query form) every %v; GOMAXPROCS %d, %d runs per mode\n",
		*hosts, *span, *batch, *writers, *dur, *nrules, min(*nquery, *nrules), *every, runtime.GOMAXPROCS(0), *runs)
	if *warmup > 0 { // the first run of a process is slower (heap growth, page faults): not counted
		rulesOnce(*hosts, *writers, *span, *warmup, 0, 0, *batch, 0, 0, *every, false)
	}
	modes := []string{"none", "rules"}
	if *own {
		modes = append(modes, "own")
	}
	rate, cpu, idleCPU := map[string][]float64{}, map[string][]float64{}, map[string][]float64{}
	ratio := map[string][]float64{} // per run: the mode's rows/s over that run's rows/s without rules
	last := map[string]rulesRun{}
	for run := 0; run < *runs; run++ {
		order := slices.Clone(modes)
		if run%2 == 1 {
			slices.Reverse(order) // A B B A …: no mode always goes first
		}
		got := map[string]float64{}
		for _, mode := range order {
			n := *nrules
			if mode == "none" {
				n = 0
			}
			rr := rulesOnce(*hosts, *writers, *span, *dur, *settle, *idle, *batch, n, *nquery, *every, mode == "own")
			r := float64(rr.rows) / rr.elapsed.Seconds()
			c := rr.cpu.Seconds() / float64(rr.rows) * 1e6 // CPU seconds per million rows
			got[mode] = r
			rate[mode], cpu[mode] = append(rate[mode], r), append(cpu[mode], c)
			fmt.Printf("  run %d, %-5s: %d rows in %.1f s = %.3f M rows/s, %.2f CPU s per M rows", run+1, mode, rr.rows, rr.elapsed.Seconds(), r/1e6, c)
			if *diag {
				fmt.Printf(" [%s]", rr.diag)
			}
			if *idle > 0 {
				idleCPU[mode] = append(idleCPU[mode], rr.idleCPU)
				fmt.Printf("; idle afterwards: %.3f cores busy", rr.idleCPU)
			}
			if n == 0 {
				fmt.Println()
				continue
			}
			last[mode] = rr
			fmt.Printf("; registered in %.1f s; %d evaluations (%.2f rounds, %d failed); last evaluations' query time median %v (threshold rules %v, query rules %v), p99 %v, max %v; %d alert events\n",
				rr.register.Seconds(), rr.evals, float64(rr.evals)/float64(n), rr.failed, rr.median, rr.tMedian, rr.qMedian, rr.p99, rr.max, rr.alerts)
			if rr.firstErr != "" {
				fmt.Printf("    an error: %s\n", rr.firstErr)
			}
		}
		for _, mode := range modes[1:] {
			ratio[mode] = append(ratio[mode], got[mode]/got["none"])
		}
	}
	names := map[string]string{"none": "without rules", "rules": fmt.Sprintf("with %d rules", *nrules),
		"own": fmt.Sprintf("with %d rules, threshold rules as query rules (one query each, unbatched)", *nrules)}
	fmt.Println()
	for _, mode := range modes {
		fmt.Printf("ingest %s: median %.3f M rows/s (runs %s), %.2f CPU s per M rows\n", names[mode], median(rate[mode])/1e6, spread(rate[mode]), median(cpu[mode]))
	}
	for _, mode := range modes[1:] {
		m := median(ratio[mode])
		fmt.Printf("%s: rows/s ratio to without, median of per-run ratios %.3f (cost %.1f%%; ratio of medians %.3f; per run %s); CPU per row %.3f x   target: cost <= 10%%\n",
			names[mode], m, 100*(1-m), median(rate[mode])/median(rate["none"]), ratios(ratio[mode]), median(cpu[mode])/median(cpu["none"]))
	}
	if *idle > 0 {
		for _, mode := range modes {
			fmt.Printf("idle for %v after the writes, %s: median %.3f cores busy (runs %s)\n", *idle, names[mode], median(idleCPU[mode]), ratios(idleCPU[mode]))
		}
	}
	for _, mode := range modes[1:] {
		l := last[mode]
		fmt.Printf("last run %s: %d rows in the rules' last minute at the end; last evaluations' query time median %v (threshold %v, query %v), p99 %v, max %v\n",
			names[mode], l.windowRows, l.median, l.tMedian, l.qMedian, l.p99, l.max)
	}
}

func ratios(xs []float64) string {
	var b []string
	for _, x := range xs {
		b = append(b, fmt.Sprintf("%.2f", x))
	}
	return strings.Join(b, " ")
}

type rulesRun struct {
	rows              int64
	elapsed, register time.Duration
	evals, failed     int64
	median, p99, max  time.Duration
	cpu               time.Duration
	alerts            int
	windowRows        int64
	firstErr          string
	diag              string                // the engine's figures after the writes
	idleCPU           float64               // cores busy while idle after the writes
	threshold         map[ugnos.RuleID]bool // by rule: threshold form
	tMedian, qMedian  time.Duration         // of the threshold and query rules
}

// rulesOnce is one run: a fresh database, n rules, writes for dur.
func rulesOnce(hosts, writers int, span, dur, settle, idle time.Duration, batch, n, nquery int, every time.Duration, own bool) rulesRun {
	end := time.Now().Add(dur + time.Minute).Truncate(tsbs.DefaultInterval)
	cfg := tsbs.Config{Hosts: hosts, Start: end.Add(-span), End: end, Seed: tsbs.DefaultSeed}
	parts := make([][]arrow.RecordBatch, max(writers, 1))
	for w := range parts {
		parts[w] = ingest.Records(cfg, batch, func(h int) bool { return h%len(parts) == w })
	}
	recs := parts[0]
	hostTags := tsbs.New(cfg).Hosts()
	defer func() {
		for _, p := range parts {
			for _, r := range p {
				r.Release()
			}
		}
	}()
	dir, err := os.MkdirTemp("", "ugnosbench-rules-")
	check(err)
	defer os.RemoveAll(dir)
	db, err := ugnos.Open(dir)
	check(err)
	// the table exists before the query-form rules are planned
	check(db.WriteRecord(context.Background(), "bench", "cpu", recs[0]))
	var rr rulesRun
	rr.rows = recs[0].NumRows()

	regStart := time.Now()
	rr.threshold = map[ugnos.RuleID]bool{}
	for _, def := range benchRules(hostTags, n, nquery, every) {
		if own && def.Query == "" {
			def = asQuery(def)
		}
		id, err := db.RegisterRule("bench", def)
		check(err)
		rr.threshold[id] = strings.HasPrefix(def.Name, "high_")
	}
	rr.register = time.Since(regStart)
	// both modes start alike: the last run's (and the registration's)
	// writes on disk, then a pause
	syncDisks()
	time.Sleep(settle)
	runtime.GC()

	start, cpu := time.Now(), cpuTime()
	var rows atomic.Int64
	var wg sync.WaitGroup
	for w, recs := range parts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 1 - min(w, 1); time.Since(start) < dur; i++ { // writer 0 wrote its first record
				r := recs[i%len(recs)]
				check(db.WriteRecord(context.Background(), "bench", "cpu", r))
				rows.Add(r.NumRows())
			}
		}()
	}
	wg.Wait()
	rr.elapsed, rr.cpu = time.Since(start), cpuTime()-cpu
	rr.rows += rows.Load()
	if idle > 0 { // no writes: the CPU the rules (and background work) take
		c0 := cpuTime()
		time.Sleep(idle)
		rr.idleCPU = (cpuTime() - c0).Seconds() / idle.Seconds()
	}
	m := db.Metrics()
	rr.diag = fmt.Sprintf("writes %d, WAL fsyncs %d taking %.1f s, checkpoints %d, compactions %d, segments %d, in memory %d MB, throttle waits %d, queries %d",
		m.Writes, m.WALSyncs, m.WALFsyncTotal.Seconds(), m.Checkpoints, m.Compactions, m.Segments, m.MemoryBytes>>20, m.ThrottleWaits, m.Queries)

	if n > 0 {
		rr.evalFigures(db.RuleStatuses("bench"))
		rr.alerts = len(db.Alerts("bench"))
		rr.windowRows = countValue(db, "SELECT count(*) FROM cpu WHERE time >= now() - INTERVAL '1 minute'")
	}
	check(db.Close())
	runtime.KeepAlive(parts)
	return rr
}

// benchRules builds n rules over the hosts: n-nquery threshold rules (host
// by host, then field by field) and nquery query rules.
func benchRules(hosts [][10]string, n, nquery int, every time.Duration) []ugnos.RuleDefinition {
	nquery = min(nquery, n)
	var defs []ugnos.RuleDefinition
	for i := range n - nquery {
		h, f := hosts[i%len(hosts)], tsbs.FieldNames[(i/len(hosts))%len(tsbs.FieldNames)]
		defs = append(defs, ugnos.RuleDefinition{
			Name: fmt.Sprintf("high_%s_%s_%d", f, h[tsbs.TagHostname], i), Table: "cpu", Tags: ugnos.TagSet{"hostname": h[tsbs.TagHostname]},
			Field: f, Aggregation: "avg", Window: time.Minute, Condition: ">", Threshold: 90, For: 30 * time.Second, Every: every,
		})
	}
	for i := range nquery {
		region, f := hosts[i%len(hosts)][tsbs.TagRegion], tsbs.FieldNames[i%len(tsbs.FieldNames)]
		defs = append(defs, ugnos.RuleDefinition{
			Name:      fmt.Sprintf("peak_%s_%s_%d", f, region, i),
			Query:     fmt.Sprintf("SELECT hostname, max(%s) AS value FROM cpu WHERE time >= now() - INTERVAL '1 minute' AND region = '%s' GROUP BY hostname", f, region),
			Condition: ">", Threshold: 99, For: 30 * time.Second, Every: every,
		})
	}
	return defs
}

// asQuery is a threshold rule as a query rule of the same SQL (the query
// a threshold rule runs on its own): it is evaluated alone, never in a
// batch, at the same cost a threshold rule had before batching.
func asQuery(d ugnos.RuleDefinition) ugnos.RuleDefinition {
	return ugnos.RuleDefinition{Name: d.Name, Condition: d.Condition, Threshold: d.Threshold, For: d.For, Every: d.Every,
		Query: fmt.Sprintf("SELECT %s(%q) AS value FROM %q WHERE time >= now() - INTERVAL '%d microseconds' AND \"hostname\" = '%s'",
			d.Aggregation, d.Field, d.Table, d.Window.Microseconds(), d.Tags["hostname"])}
}

// evalFigures summarises the rules' evaluations: how many, errors, and
// the durations of each rule's last one.
func (rr *rulesRun) evalFigures(st map[ugnos.RuleID]ugnos.RuleStatus) {
	var durs, tDurs, qDurs []time.Duration
	for id, s := range st {
		rr.evals += s.Evaluations
		if s.LastError != "" {
			rr.failed++
			if rr.firstErr == "" {
				rr.firstErr = s.LastError
			}
		}
		if s.Evaluations == 0 {
			continue
		}
		durs = append(durs, s.LastDuration)
		if rr.threshold[id] {
			tDurs = append(tDurs, s.LastDuration)
		} else {
			qDurs = append(qDurs, s.LastDuration)
		}
	}
	if len(durs) == 0 {
		return
	}
	for _, d := range []*struct {
		ds  []time.Duration
		out *time.Duration
	}{{tDurs, &rr.tMedian}, {qDurs, &rr.qMedian}} {
		if len(d.ds) > 0 {
			slices.Sort(d.ds)
			*d.out = d.ds[len(d.ds)/2]
		}
	}
	slices.Sort(durs)
	rr.median, rr.p99, rr.max = durs[len(durs)/2], durs[len(durs)*99/100], durs[len(durs)-1]
}

// countValue is the first value of a one-row bigint result.
func countValue(db *ugnos.DB, q string) int64 {
	rd, err := db.SQL(context.Background(), "bench", q)
	check(err)
	defer rd.Release()
	if !rd.Next() {
		check(fmt.Errorf("%s: no rows: %v", q, rd.Err()))
	}
	return rd.RecordBatch().Column(0).(*array.Int64).Value(0)
}
