package main

import (
	"context"
	"flag"
	"fmt"
	"math/rand"
	"os"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/ugnos/ugnos"
	"github.com/ugnos/ugnos/arrowstore"
)

// runCagg measures reads of a 1-hour continuous aggregate over a year of
// 100-host data (issue 7's target: ≤ 10 ms), against the same questions
// asked of the raw table.
func runCagg(args []string) {
	fs := flag.NewFlagSet("cagg", flag.ExitOnError)
	hosts := fs.Int("hosts", 100, "hosts")
	days := fs.Int("days", 365, "days of data, ending now")
	every := fs.Duration("interval", 5*time.Minute, "time between a host's points")
	runs := fs.Int("runs", 21, "timed runs per query (median)")
	rawRuns := fs.Int("raw-runs", 3, "timed runs per query over the raw table")
	memLimit := fs.Int64("memory-limit", 512<<20, "the database's memory limit (bytes): older rows go to segment files")
	explain := fs.Bool("explain", false, "print EXPLAIN ANALYZE of each view query")
	procs := fs.String("procs", "", "comma-separated GOMAXPROCS values to time the queries at (default: as is)")
	fs.Parse(args)
	warmupRuns = 2
	dir, err := os.MkdirTemp("", "ugnosbench-cagg")
	check(err)
	defer os.RemoveAll(dir)
	db, err := ugnos.Open(dir, ugnos.WithMemoryLimit(*memLimit))
	check(err)
	defer db.Close()

	end := time.Now().Truncate(*every)
	start := end.Add(-time.Duration(*days) * 24 * time.Hour)
	steps := int(end.Sub(start) / *every)
	fmt.Printf("ugnosbench cagg: %d hosts, %d days to now, a point per host every %v (%d rows), memory limit %d MiB\n",
		*hosts, *days, *every, steps**hosts, *memLimit>>20)
	t0 := time.Now()
	caggLoad(db, *hosts, start, *every, steps)
	fmt.Printf("loaded in %v\n", time.Since(t0).Round(time.Millisecond))
	ctx := context.Background()
	const def = `SELECT time_bucket('1 hour', time) AS bucket, hostname,
		avg(usage_user) AS avg_user, max(usage_user) AS max_user, avg(usage_system) AS avg_system, count(*) AS n
		FROM cpu GROUP BY bucket, hostname`
	t0 = time.Now()
	_, err = db.Exec(ctx, "bench", "CREATE MATERIALIZED VIEW cpu_1h WITH (ugnos.continuous) AS "+def)
	check(err)
	fmt.Printf("CREATE MATERIALIZED VIEW (materializes the year) in %v\n", time.Since(t0).Round(time.Millisecond))
	_, err = db.Exec(ctx, "bench", "CHECKPOINT")
	check(err)
	queries := []struct{ name, view, raw string }{
		{"last day, all hosts (2,400 rows)",
			"SELECT * FROM cpu_1h WHERE bucket >= now() - interval '24 hours'",
			"SELECT * FROM (" + def + ") v WHERE bucket >= now() - interval '24 hours'"},
		{"one host, whole year, daily (365 rows)",
			"SELECT time_bucket('1 day', bucket) AS day, avg(avg_user) FROM cpu_1h WHERE hostname = 'host_7' GROUP BY day",
			"SELECT time_bucket('1 day', time) AS day, avg(usage_user) FROM cpu WHERE hostname = 'host_7' GROUP BY day"},
		{"all hosts, whole year, max per host (100 rows)",
			"SELECT hostname, max(max_user) FROM cpu_1h GROUP BY hostname",
			"SELECT hostname, max(usage_user) FROM cpu GROUP BY hostname"},
		{"the same over the materialization table itself",
			"SELECT hostname, max(max_user) FROM _cagg_cpu_1h GROUP BY hostname",
			"SELECT hostname, max(usage_user) FROM cpu GROUP BY hostname"},
		{"all hosts, last 7 days, hourly avg (168 rows)",
			"SELECT bucket, avg(avg_user) FROM cpu_1h WHERE bucket >= now() - interval '7 days' GROUP BY bucket",
			"SELECT time_bucket('1 hour', time) AS bucket, avg(usage_user) FROM cpu WHERE time >= now() - interval '7 days' GROUP BY bucket"},
	}
	if *procs != "" {
		for _, f := range strings.Split(*procs, ",") {
			p, err := strconv.Atoi(strings.TrimSpace(f))
			check(err)
			runtime.GOMAXPROCS(p)
			fmt.Printf("GOMAXPROCS %d, refreshed:\n", p)
			caggQueries(db, queries, *runs, *rawRuns, false)
		}
		return
	}
	for phase := 0; phase < 2; phase++ {
		if phase == 1 {
			// a late point: its bucket is read from the raw table until the next refresh
			check(db.Insert("bench", "cpu", end.Add(-40*24*time.Hour).UnixNano(), 1, ugnos.TagSet{"hostname": "host_0"}))
			fmt.Println("with a late point not yet refreshed:")
		} else {
			fmt.Println("refreshed:")
		}
		caggQueries(db, queries, *runs, *rawRuns, *explain && phase == 0)
	}
}

func caggQueries(db *ugnos.DB, queries []struct{ name, view, raw string }, runs, rawRuns int, explain bool) {
	ctx := context.Background()
	for _, q := range queries {
		if explain {
			rd, err := db.SQL(ctx, "bench", "EXPLAIN ANALYZE "+q.view)
			check(err)
			for rd.Next() {
				col := rd.RecordBatch().Column(0)
				for i := 0; i < col.Len(); i++ {
					fmt.Println(col.ValueStr(i))
				}
			}
			rd.Release()
		}
		vms, vrows, err := timeIt(runs, func() (int, error) { return countRows(db, q.view) })
		check(err)
		rms, rrows, err := timeIt(rawRuns, func() (int, error) { return countRows(db, q.raw) })
		check(err)
		fmt.Printf("  %-48s view %7.2f ms (%d rows)   raw %8.1f ms (%d rows)   raw/view %.1fx\n", q.name, vms, vrows, rms, rrows, rms/vms)
	}
}

func countRows(db *ugnos.DB, q string) (int, error) {
	rd, err := db.SQL(context.Background(), "bench", q)
	if err != nil {
		return 0, err
	}
	defer rd.Release()
	n := 0
	for rd.Next() {
		n += int(rd.RecordBatch().NumRows())
	}
	return n, rd.Err()
}

// caggLoad writes the hosts' points, a day of all hosts per record.
func caggLoad(db *ugnos.DB, hosts int, start time.Time, every time.Duration, steps int) {
	schema := arrow.NewSchema([]arrow.Field{{Name: "time", Type: arrowstore.TimeType},
		{Name: "hostname", Type: arrow.BinaryTypes.String, Nullable: true},
		{Name: "usage_user", Type: arrow.PrimitiveTypes.Float64, Nullable: true},
		{Name: "usage_system", Type: arrow.PrimitiveTypes.Float64, Nullable: true}}, nil)
	names := make([]string, hosts)
	for h := range names {
		names[h] = fmt.Sprintf("host_%d", h)
	}
	r := rand.New(rand.NewSource(1))
	perRec := max(1, int(24*time.Hour/every))
	for s := 0; s < steps; s += perRec {
		rb := array.NewRecordBuilder(memory.DefaultAllocator, schema)
		tb := rb.Field(0).(*array.TimestampBuilder)
		hb := rb.Field(1).(*array.StringBuilder)
		ub := rb.Field(2).(*array.Float64Builder)
		sb := rb.Field(3).(*array.Float64Builder)
		for h := 0; h < hosts; h++ {
			for i := s; i < min(s+perRec, steps); i++ {
				tb.Append(arrow.Timestamp(start.Add(time.Duration(i) * every).UnixNano()))
				hb.Append(names[h])
				ub.Append(float64(r.Intn(10000)) / 100)
				sb.Append(float64(r.Intn(10000)) / 100)
			}
		}
		rec := rb.NewRecordBatch()
		rb.Release()
		check(db.WriteRecord(context.Background(), "bench", "cpu", rec))
		rec.Release()
	}
}
