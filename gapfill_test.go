package ugnos_test

import (
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/ugnos/ugnos/errs"
	"github.com/ugnos/ugnos/pgwire"
)

// TestSQLGapfill checks the plan of a gap-filling query and gap filling
// with the range from parameters (the .slt file has the results).
func TestSQLGapfill(t *testing.T) {
	db := openMem(t)
	must(t, db.CreateDatabase("t"))
	for _, q := range []string{
		"CREATE TABLE m (time timestamptz, host text, v double precision)",
		"INSERT INTO m VALUES ('2024-01-01 01:00:00+00', 'a', 1), ('2024-01-01 03:00:00+00', 'a', 3)",
	} {
		if _, err := sltRun(db, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	plan, err := sltRun(db, "EXPLAIN SELECT time_bucket_gapfill('1 hour', time) AS b, host, locf(avg(v)), interpolate(avg(v)) FROM m WHERE time >= '2024-01-01 00:00:00+00' AND time < '2024-01-01 05:00:00+00' GROUP BY b, host ORDER BY b DESC")
	must(t, err)
	text := strings.Join(plan, "\n")
	for _, want := range []string{
		"GapFill bucket=#0 groups=[1] range=[2024-01-01 00:00:00+00, 2024-01-01 05:00:00+00) width=01:00:00 locf(#2) interpolate(#2)",
		"Sort group1, group0",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("EXPLAIN lacks %q:\n%s", want, text)
		}
	}
	got, err := sltRunArgs(db, "SELECT time_bucket_gapfill('1 hour', time) AS b, interpolate(avg(v)) FROM m WHERE time >= $1 AND time < $2 GROUP BY b",
		"2024-01-01 00:00:00+00", "2024-01-01 05:00:00+00")
	must(t, err)
	want := "2024-01-01 00:00:00+00 NULL|2024-01-01 01:00:00+00 1|2024-01-01 02:00:00+00 2|2024-01-01 03:00:00+00 3|2024-01-01 04:00:00+00 NULL"
	if g := strings.Join(got, "|"); g != want {
		t.Errorf("with parameters:\n got %s\nwant %s", g, want)
	}
	_, err = sltRun(db, "SELECT time_bucket_gapfill('1 hour', time) AS b, count(*) FROM m WHERE time < '2024-01-01 05:00:00+00' GROUP BY b")
	if errs.SQLState(err) != "22023" || !strings.Contains(err.Error(), "could not infer start from WHERE clause") {
		t.Errorf("no start: %v", err)
	}

	// over pgwire with the extended protocol: the parameters are typed
	// before their values give the range
	srv, err := pgwire.New(db, pgwire.Config{Version: "test"})
	must(t, err)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	must(t, err)
	go srv.Serve(l)
	defer srv.Shutdown(ctx)
	conn, err := pgx.Connect(ctx, "postgres://ugnos@"+l.Addr().String()+"/t?sslmode=disable")
	must(t, err)
	defer conn.Close(ctx)
	rows, err := conn.Query(ctx, "SELECT time_bucket_gapfill('1 hour', time) AS b, locf(avg(v)) FROM m WHERE time >= $1 AND time < $2 GROUP BY b",
		time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2024, 1, 1, 5, 0, 0, 0, time.UTC))
	must(t, err)
	var vals []string
	for rows.Next() {
		var b time.Time
		var v *float64
		must(t, rows.Scan(&b, &v))
		s := "NULL"
		if v != nil {
			s = strconv.FormatFloat(*v, 'g', -1, 64)
		}
		vals = append(vals, b.UTC().Format("15")+"h="+s)
	}
	must(t, rows.Err())
	if g := strings.Join(vals, " "); g != "00h=NULL 01h=1 02h=1 03h=3 04h=3" {
		t.Errorf("over pgwire with parameters: %s", g)
	}
}
