//go:build linux

package ugnos_test

import (
	"strings"
	"testing"
)

// Gap filling against PostgreSQL 15, which has no time_bucket_gapfill:
// there the same answers come from generate_series of the buckets (start
// aligned as time_bucket, buckets starting before finish) cross joined with
// the groups that have data, LEFT JOIN the aggregate; locf is the latest
// aggregate at or before the bucket, interpolate a line between the
// neighbouring buckets with data. The filter usage_user > 95 leaves many
// 10-minute buckets empty.

const (
	gfStart  = "'2016-01-01 00:07:00+00'"
	gfFinish = "'2016-01-01 03:00:00+00'"
	gfWidth  = "'10 minutes'"
	gfOrigin = "'2000-01-03 00:00:00+00'"
	gfWhere  = "usage_user > 95 AND time >= " + gfStart + " AND time < " + gfFinish
)

// gfPGAgg is the aggregate per bucket and host, the hosts with data, and
// the buckets, as PostgreSQL CTEs.
var gfPGAgg = `WITH agg AS (
  SELECT date_bin(` + gfWidth + `, time, ` + gfOrigin + `) AS b, hostname, avg(usage_user) AS v, count(*) AS n
  FROM cpu WHERE ` + gfWhere + ` GROUP BY 1, 2),
hosts AS (SELECT DISTINCT hostname FROM agg),
buckets AS (SELECT generate_series(date_bin(` + gfWidth + `, timestamptz ` + gfStart + `, ` + gfOrigin + `),
  timestamptz ` + gfFinish + ` - interval '1 microsecond', ` + gfWidth + `) AS b),
grid AS (SELECT buckets.b, hosts.hostname, agg.v, agg.n FROM buckets CROSS JOIN hosts
  LEFT JOIN agg ON agg.b = buckets.b AND agg.hostname = hosts.hostname)
`

var gfCases = []struct {
	name, ugnos, pg string
}{
	{"plain",
		`SELECT time_bucket_gapfill(` + gfWidth + `, time, ` + gfStart + `, ` + gfFinish + `) AS b, hostname, avg(usage_user), count(*)
		 FROM cpu WHERE ` + gfWhere + ` GROUP BY b, hostname ORDER BY hostname, b`,
		gfPGAgg + `SELECT b, hostname, v, n FROM grid ORDER BY hostname, b`},
	{"inferred",
		`SELECT time_bucket_gapfill(` + gfWidth + `, time) AS b, hostname, avg(usage_user)
		 FROM cpu WHERE ` + gfWhere + ` GROUP BY b, hostname ORDER BY b DESC, hostname`,
		gfPGAgg + `SELECT b, hostname, v FROM grid ORDER BY b DESC, hostname`},
	{"locf",
		`SELECT time_bucket_gapfill(` + gfWidth + `, time) AS b, hostname, locf(avg(usage_user))
		 FROM cpu WHERE ` + gfWhere + ` GROUP BY b, hostname ORDER BY hostname, b`,
		gfPGAgg + `SELECT g.b, g.hostname, (SELECT a.v FROM agg a WHERE a.hostname = g.hostname AND a.b <= g.b ORDER BY a.b DESC LIMIT 1)
		 FROM grid g ORDER BY 2, 1`},
	{"interpolate",
		`SELECT time_bucket_gapfill(` + gfWidth + `, time) AS b, hostname, interpolate(avg(usage_user))
		 FROM cpu WHERE ` + gfWhere + ` GROUP BY b, hostname ORDER BY hostname, b`,
		gfPGAgg + `SELECT g.b, g.hostname, CASE WHEN g.v IS NOT NULL THEN g.v
		   ELSE p.v + (n.v - p.v) * extract(epoch FROM g.b - p.b)::float8 / extract(epoch FROM n.b - p.b)::float8 END
		 FROM grid g
		 LEFT JOIN LATERAL (SELECT a.b, a.v FROM agg a WHERE a.hostname = g.hostname AND a.b < g.b ORDER BY a.b DESC LIMIT 1) p ON true
		 LEFT JOIN LATERAL (SELECT a.b, a.v FROM agg a WHERE a.hostname = g.hostname AND a.b > g.b ORDER BY a.b LIMIT 1) n ON true
		 ORDER BY 2, 1`},
	{"no groups",
		`SELECT time_bucket_gapfill(` + gfWidth + `, time) AS b, locf(max(usage_user)), count(*)
		 FROM cpu WHERE ` + gfWhere + ` AND hostname = 'host_3' GROUP BY b`,
		`WITH agg AS (SELECT date_bin(` + gfWidth + `, time, ` + gfOrigin + `) AS b, max(usage_user) AS v, count(*) AS n
		   FROM cpu WHERE ` + gfWhere + ` AND hostname = 'host_3' GROUP BY 1),
		 buckets AS (SELECT generate_series(date_bin(` + gfWidth + `, timestamptz ` + gfStart + `, ` + gfOrigin + `),
		   timestamptz ` + gfFinish + ` - interval '1 microsecond', ` + gfWidth + `) AS b)
		 SELECT buckets.b, (SELECT a.v FROM agg a WHERE a.b <= buckets.b ORDER BY a.b DESC LIMIT 1), agg.n
		 FROM buckets LEFT JOIN agg ON agg.b = buckets.b ORDER BY 1`},
}

func TestPGDiffGapfill(t *testing.T) {
	conn, db, _ := pgdLoaded(t)
	for _, c := range gfCases {
		t.Run(strings.ReplaceAll(c.name, " ", "_"), func(t *testing.T) {
			pg, err := pgdRunPG(conn, c.pg)
			if err != nil {
				t.Fatalf("PostgreSQL: %v\n%s", err, c.pg)
			}
			ug, err := pgdRunUgnos(db, c.ugnos)
			if err != nil {
				t.Fatalf("ugnos: %v\n%s", err, c.ugnos)
			}
			if len(pg.rows) < 15 {
				t.Fatalf("only %d rows: the case tests little", len(pg.rows))
			}
			gaps := 0
			for _, r := range pg.rows {
				if r[len(r)-1].kind == 0 {
					gaps++
				}
			}
			if gaps == 0 {
				t.Errorf("no NULLs in the last column: the case has no unfilled gaps")
			}
			if d := pgdCompareValues(pg, ug, true); d != "" {
				t.Errorf("%s\n  PostgreSQL:\n%s  ugnos:\n%s", d, pg.head(12), ug.head(12))
			}
		})
	}
}
