package soak_test

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"time"
)

// tsbsQuery is one of the 15 TSBS devops cpu-only query types
// (/work/shared/bench/tsbs-cpu-only, bench/README.md) with random hosts
// and a random window in the day, as TSBS's generator draws them.
type tsbsQueryType struct {
	name string
	sql  func(r *rand.Rand) string
}

func tsbsQuery(r *rand.Rand) (string, string) {
	q := tsbsQueries[r.IntN(len(tsbsQueries))]
	return q.name, q.sql(r)
}

const tsbsTime = "2006-01-02 15:04:05.000000 -0700"

// window returns a random [start, end) of d as TSBS literals, starting in
// the first 6 hours of the day, where a short run's rows are (rowTime).
func window(r *rand.Rand, d time.Duration) (string, string) {
	start := day0.Add(max(0, time.Duration(r.Int64N(int64(6*time.Hour)))-d/2))
	return start.Format(tsbsTime), start.Add(d).Format(tsbsTime)
}

func hosts(r *rand.Rand, n int) string {
	hs := make([]string, n)
	for i, p := range r.Perm(100)[:n] {
		hs[i] = fmt.Sprintf("'host_%d'", p)
	}
	return strings.Join(hs, ",")
}

func maxes(m int) string {
	var s []string
	for _, f := range fieldNames[:m] {
		s = append(s, fmt.Sprintf("max(%s) as max_%s", f, f))
	}
	return strings.Join(s, ", ")
}

func singleGroupby(m, h int, d time.Duration) func(r *rand.Rand) string {
	return func(r *rand.Rand) string {
		from, to := window(r, d)
		return fmt.Sprintf(`SELECT time_bucket('60 seconds', time) AS minute, %s FROM cpu
			WHERE hostname IN (%s) AND time >= '%s' AND time < '%s'
			GROUP BY minute ORDER BY minute ASC`, maxes(m), hosts(r, h), from, to)
	}
}

func cpuMaxAll(h int) func(r *rand.Rand) string {
	return func(r *rand.Rand) string {
		from, to := window(r, 8*time.Hour)
		return fmt.Sprintf(`SELECT time_bucket('3600 seconds', time) AS hour, %s FROM cpu
			WHERE hostname IN (%s) AND time >= '%s' AND time < '%s'
			GROUP BY hour ORDER BY hour`, maxes(10), hosts(r, h), from, to)
	}
}

func doubleGroupby(m int) func(r *rand.Rand) string {
	return func(r *rand.Rand) string {
		from, to := window(r, 12*time.Hour)
		var avgs, outs []string
		for _, f := range fieldNames[:m] {
			avgs = append(avgs, fmt.Sprintf("avg(%s) as mean_%s", f, f))
			outs = append(outs, "mean_"+f)
		}
		return fmt.Sprintf(`WITH cpu_avg AS (
			SELECT time_bucket('3600 seconds', time) as hour, hostname, %s
			FROM cpu WHERE time >= '%s' AND time < '%s' GROUP BY 1, 2)
			SELECT hour, hostname, %s FROM cpu_avg ORDER BY hour, hostname`,
			strings.Join(avgs, ", "), from, to, strings.Join(outs, ", "))
	}
}

func highCPU(h int) func(r *rand.Rand) string {
	return func(r *rand.Rand) string {
		from, to := window(r, 12*time.Hour)
		hostCond := ""
		if h > 0 {
			hostCond = " AND hostname IN (" + hosts(r, h) + ")"
		}
		return fmt.Sprintf(`SELECT * FROM cpu WHERE usage_user > 90.0 and time >= '%s' AND time < '%s'%s`, from, to, hostCond)
	}
}

var tsbsQueries = []tsbsQueryType{
	{"single-groupby-1-1-1", singleGroupby(1, 1, time.Hour)},
	{"single-groupby-1-1-12", singleGroupby(1, 1, 12*time.Hour)},
	{"single-groupby-1-8-1", singleGroupby(1, 8, time.Hour)},
	{"single-groupby-5-1-1", singleGroupby(5, 1, time.Hour)},
	{"single-groupby-5-1-12", singleGroupby(5, 1, 12*time.Hour)},
	{"single-groupby-5-8-1", singleGroupby(5, 8, time.Hour)},
	{"cpu-max-all-1", cpuMaxAll(1)},
	{"cpu-max-all-8", cpuMaxAll(8)},
	{"lastpoint", func(*rand.Rand) string {
		return `SELECT DISTINCT ON (hostname) * FROM cpu ORDER BY hostname, time DESC`
	}},
	{"double-groupby-1", doubleGroupby(1)},
	{"double-groupby-5", doubleGroupby(5)},
	{"double-groupby-all", doubleGroupby(10)},
	{"high-cpu-1", highCPU(1)},
	{"high-cpu-all", highCPU(0)},
	{"groupby-orderby-limit", func(r *rand.Rand) string {
		_, to := window(r, time.Hour)
		return fmt.Sprintf(`SELECT time_bucket('60 seconds', time) AS minute, max(usage_user) FROM cpu
			WHERE time < '%s' GROUP BY minute ORDER BY minute DESC LIMIT 5`, to)
	}},
}
