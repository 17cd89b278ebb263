package ugnos_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/ugnos/ugnos"
	"github.com/ugnos/ugnos/errs"
)

// quotaErr checks that err is the refusal of limit for tenant with its
// SQLSTATE and a message naming both.
func quotaErr(t *testing.T, err error, tenant, limit, code string) *ugnos.QuotaError {
	t.Helper()
	var qe *ugnos.QuotaError
	if !errors.As(err, &qe) || qe.Limit != limit || qe.Tenant != tenant || errs.SQLState(err) != code ||
		!strings.Contains(err.Error(), limit) || !strings.Contains(err.Error(), `"`+tenant+`"`) {
		t.Fatalf("got %v (%s), want the %s refusal %s of %s", err, errs.SQLState(err), limit, code, tenant)
	}
	return qe
}

func quotaRows(t *testing.T, db *ugnos.DB, tenant string) map[string]string {
	t.Helper()
	rows, err := sltRunArgs2(db, tenant, "SELECT name, setting FROM ugnos.quotas")
	must(t, err)
	out := map[string]string{}
	for _, r := range rows {
		k, v, _ := strings.Cut(r, " ")
		out[k] = v
	}
	return out
}

func countRows(t *testing.T, db *ugnos.DB, tenant, table string) string {
	t.Helper()
	rows, err := sltRunArgs2(db, tenant, "SELECT count(*) FROM "+table)
	if err != nil {
		if errors.Is(err, errs.ErrNotFound) {
			return "0"
		}
		t.Fatal(err)
	}
	return strings.Join(rows, "|")
}

// TestQuotaSQL: ALTER DATABASE sets, resets and shows the limits; only
// superusers may; they survive reopening and travel with snapshots.
func TestQuotaSQL(t *testing.T) {
	dir := t.TempDir()
	db, err := ugnos.Open(dir)
	must(t, err)
	for _, q := range []string{
		"CREATE DATABASE acme",
		"ALTER DATABASE acme CONNECTION LIMIT 3",
		"ALTER DATABASE acme SET statement_timeout = '1min'",
		"ALTER DATABASE acme SET ugnos.max_series = 1000",
		"ALTER DATABASE acme SET ugnos.max_ingest_rows_per_second TO 5000",
		"ALTER DATABASE acme SET ugnos.max_query_memory = '512MB'",
		"ALTER DATABASE acme SET ugnos.max_result_rows = 100",
		"ALTER DATABASE acme SET ugnos.max_result_bytes = 1048576",
		"ALTER DATABASE acme SET ugnos.max_request_bytes = '64kB'",
		"CREATE ROLE ann LOGIN",
	} {
		mustExec(t, db, q)
	}
	want := map[string]string{
		"connection_limit": "3", "statement_timeout": "1min", "ugnos.max_series": "1000",
		"ugnos.max_ingest_rows_per_second": "5000", "ugnos.max_query_memory": "512MB", "ugnos.max_result_rows": "100",
		"ugnos.max_result_bytes": "1MB", "ugnos.max_request_bytes": "64kB",
	}
	check := func(db *ugnos.DB, want map[string]string) {
		t.Helper()
		got := quotaRows(t, db, "acme")
		for k, v := range want {
			if got[k] != v {
				t.Fatalf("ugnos.quotas: %s = %q, want %q (all: %v)", k, got[k], v, got)
			}
		}
	}
	check(db, want)
	if q := db.Quota("acme"); q.StatementTimeout != time.Minute || q.MaxQueryMemory != 512<<20 || q.ConnectionLimit != 3 {
		t.Fatalf("Quota: %+v", q)
	}
	// refused: ordinary roles, bad values, unknown databases and settings
	ann := ugnos.WithSession(ctx, &ugnos.Session{User: "ann"})
	for q, code := range map[string]string{
		"ALTER DATABASE acme SET ugnos.max_series = 0": "42501",
		"ALTER DATABASE acme CONNECTION LIMIT -1":      "42501",
		"ALTER DATABASE acme RESET ALL":                "42501",
	} {
		if _, err := db.Exec(ann, "acme", q); errs.SQLState(err) != code {
			t.Fatalf("%s as ann: %v, want %s", q, err, code)
		}
	}
	for q, code := range map[string]string{
		"ALTER DATABASE acme SET ugnos.max_series = -1":             "22023",
		"ALTER DATABASE acme SET ugnos.max_query_memory = '1X'":     "22023",
		"ALTER DATABASE acme SET statement_timeout = '1 fortnight'": "22023",
		"ALTER DATABASE acme CONNECTION LIMIT -2":                   "22023",
		"ALTER DATABASE nope SET ugnos.max_series = 1":              "3D000",
		"ALTER DATABASE acme SET search_path = public":              "0A000",
	} {
		if _, err := db.Exec(ctx, "acme", q); errs.SQLState(err) != code {
			t.Fatalf("%s: %v, want %s", q, err, code)
		}
	}
	check(db, want)

	// snapshot, change, reopen (the change survives), restore (the snapshot's come back)
	snap := filepath.Join(t.TempDir(), "snap")
	must(t, db.Snapshot(snap))
	mustExec(t, db, "ALTER DATABASE acme RESET ugnos.max_series")
	mustExec(t, db, "ALTER DATABASE acme SET statement_timeout = 250")
	must(t, db.Close())
	db, err = ugnos.Open(dir)
	must(t, err)
	defer db.Close()
	changed := map[string]string{}
	for k, v := range want {
		changed[k] = v
	}
	changed["ugnos.max_series"], changed["statement_timeout"] = "0", "250ms"
	check(db, changed)
	// (restored into a memory-only database: restoring a data directory
	// races with its background checkpointer, a matter of the engine's
	// Restore, seen by the race detector)
	mem, err := ugnos.Open("")
	must(t, err)
	defer mem.Close()
	must(t, mem.Restore(snap))
	check(mem, want)
	mustExec(t, db, "ALTER DATABASE acme RESET ALL")
	check(db, map[string]string{"connection_limit": "3", "ugnos.max_series": "0", "statement_timeout": "0"})
	mustExec(t, db, "ALTER DATABASE acme WITH CONNECTION LIMIT 4")
	mustExec(t, db, "ALTER DATABASE acme SET ugnos.max_result_rows TO 7")
	check(db, map[string]string{"connection_limit": "4", "ugnos.max_result_rows": "7"})
	mustExec(t, db, "ALTER DATABASE acme SET ugnos.max_result_rows TO DEFAULT")
	check(db, map[string]string{"ugnos.max_result_rows": "0"})
	mustExec(t, db, "DROP DATABASE acme")
	if q := db.Quota("acme"); q.ConnectionLimit != -1 {
		t.Fatalf("a dropped database keeps its quota: %+v", q)
	}
}

// TestQuotaMaxSeries: a write that would create series beyond the
// database's limit is refused whole, by every write path; known series
// are still written and other databases are unaffected.
func TestQuotaMaxSeries(t *testing.T) {
	db, err := ugnos.Open("")
	must(t, err)
	defer db.Close()
	mustExec(t, db, "CREATE DATABASE acme")
	mustExec(t, db, "ALTER DATABASE acme SET ugnos.max_series = 3")
	pt := func(host string, ts int64) ugnos.Point {
		return ugnos.Point{Timestamp: ts, Value: 1, Tags: ugnos.TagSet{"host": host}}
	}
	must(t, db.InsertBatch("acme", "cpu", []ugnos.Point{pt("a", 1), pt("b", 1)}))
	// one known series and two new ones: refused whole
	err = db.InsertBatch("acme", "cpu", []ugnos.Point{pt("a", 2), pt("c", 2), pt("d", 2)})
	quotaErr(t, err, "acme", ugnos.LimitSeries, "53400")
	if got := countRows(t, db, "acme", "cpu"); got != "2" {
		t.Fatalf("rows after the refused write: %s, want 2", got)
	}
	// in another table too (the limit is the database's), and over SQL
	mustExec(t, db, "CREATE TABLE mem (time timestamptz, host text, value double precision)")
	_, err = db.Exec(ctx, "acme", "INSERT INTO mem (time, host, value) VALUES (now(), 'x', 1), (now(), 'y', 2)")
	quotaErr(t, err, "acme", ugnos.LimitSeries, "53400")
	// known series and the last free one are fine
	must(t, db.InsertBatch("acme", "cpu", []ugnos.Point{pt("a", 3), pt("b", 3), pt("c", 3)}))
	if err := db.Insert("acme", "cpu", 4, 1, ugnos.TagSet{"host": "e"}); err == nil {
		t.Fatal("a fourth series was accepted")
	}
	// a new table at the limit: refused before it is made; CREATE TABLE is fine
	quotaErr(t, db.Insert("acme", "disk", 4, 1, nil), "acme", ugnos.LimitSeries, "53400")
	if tables, _ := db.ListSeries("acme", nil); strings.Join(tables, ",") != "cpu,mem" {
		t.Fatalf("tables: %v", tables)
	}
	mustExec(t, db, "CREATE TABLE disk (time timestamptz, host text, value double precision)")
	// other databases are unaffected
	for i := range 10 {
		must(t, db.Insert("other", "cpu", 1, 1, ugnos.TagSet{"host": string(rune('a' + i))}))
	}
	if got := countRows(t, db, "acme", "cpu"); got != "5" {
		t.Fatalf("rows: %s, want 5", got)
	}
	var usage, rejected string
	rows, err := sltRunArgs2(db, "acme", "SELECT usage, rejected FROM ugnos.quotas WHERE name = 'ugnos.max_series'")
	must(t, err)
	if len(rows) == 1 {
		usage, rejected, _ = strings.Cut(rows[0], " ")
	}
	if usage != "3" || rejected != "4" {
		t.Fatalf("ugnos.quotas max_series usage %q rejected %q, want 3 and 4", usage, rejected)
	}
	// raising the limit admits them
	mustExec(t, db, "ALTER DATABASE acme SET ugnos.max_series = 10")
	must(t, db.Insert("acme", "cpu", 4, 1, ugnos.TagSet{"host": "e"}))

	// a request of several records (COPY chunks, line-protocol tables) is
	// checked as a whole: series new in two records count once
	rec := func(hosts ...string) arrow.RecordBatch {
		b := array.NewRecordBuilder(memory.DefaultAllocator, arrow.NewSchema([]arrow.Field{
			{Name: "time", Type: arrow.FixedWidthTypes.Timestamp_ns},
			{Name: "host", Type: arrow.BinaryTypes.String},
			{Name: "value", Type: arrow.PrimitiveTypes.Float64},
		}, nil))
		defer b.Release()
		for i, h := range hosts {
			b.Field(0).(*array.TimestampBuilder).Append(arrow.Timestamp(i))
			b.Field(1).(*array.StringBuilder).Append(h)
			b.Field(2).(*array.Float64Builder).Append(1)
		}
		return b.NewRecordBatch()
	}
	r1, r2 := rec("a", "f", "g"), rec("f", "g", "h", "a")
	defer r1.Release()
	defer r2.Release()
	must(t, db.CheckNewSeries("acme", []string{"cpu", "cpu"}, []arrow.RecordBatch{r1, r2}))
	mustExec(t, db, "ALTER DATABASE acme SET ugnos.max_series = 6")
	err = db.CheckNewSeries("acme", []string{"cpu", "cpu"}, []arrow.RecordBatch{r1, r2})
	quotaErr(t, err, "acme", ugnos.LimitSeries, "53400")
	if !strings.Contains(err.Error(), "it has 4 series and the write adds 3") {
		t.Fatalf("counted: %v", err)
	}
}

// TestQuotaIngestRate: writes beyond the database's rows per second are
// refused whole with when to retry.
func TestQuotaIngestRate(t *testing.T) {
	db, err := ugnos.Open("")
	must(t, err)
	defer db.Close()
	mustExec(t, db, "CREATE DATABASE acme")
	mustExec(t, db, "ALTER DATABASE acme SET ugnos.max_ingest_rows_per_second = 10")
	pts := func(n int) []ugnos.Point {
		out := make([]ugnos.Point, n)
		for i := range out {
			out[i] = ugnos.Point{Timestamp: int64(i), Value: 1}
		}
		return out
	}
	must(t, db.InsertBatch("acme", "m", pts(9)))
	// the bucket refills 10 rows a second: each refusal below needs
	// several hundred ms more
	_, err = db.Exec(ctx, "acme", "INSERT INTO m (time, value) VALUES (now(), 1), (now(), 2), (now(), 3), (now(), 4), (now(), 5), (now(), 6), (now(), 7), (now(), 8)")
	quotaErr(t, err, "acme", ugnos.LimitIngestRate, "53400")
	qe := quotaErr(t, db.InsertBatch("acme", "m", pts(8)), "acme", ugnos.LimitIngestRate, "53400")
	if qe.RetryAfter <= 0 || qe.RetryAfter > time.Second {
		t.Fatalf("RetryAfter %v", qe.RetryAfter)
	}
	quotaErr(t, db.InsertBatch("acme", "m", pts(11)), "acme", ugnos.LimitIngestRate, "53400") // never fits
	if got := countRows(t, db, "acme", "m"); got != "9" {
		t.Fatalf("rows: %s, want 9", got)
	}
	must(t, db.InsertBatch("other", "m", pts(1000)))
	time.Sleep(qe.RetryAfter + 50*time.Millisecond)
	must(t, db.InsertBatch("acme", "m", pts(8)))
}

// TestQuotaQueries: query memory, result rows and bytes and the
// statement timeout of a database bind client statements of it.
func TestQuotaQueries(t *testing.T) {
	db, err := ugnos.Open("")
	must(t, err)
	defer db.Close()
	pts := make([]ugnos.Point, 50000)
	for i := range pts {
		pts[i] = ugnos.Point{Timestamp: int64(i) * sec, Value: float64(i % 977), Tags: ugnos.TagSet{"h": "x"}}
	}
	must(t, db.InsertBatch("acme", "m", pts))
	must(t, db.InsertBatch("other", "m", pts))
	mustExec(t, db, "ALTER DATABASE acme SET ugnos.max_query_memory = '256kB'")
	mustExec(t, db, "ALTER DATABASE acme SET ugnos.max_result_rows = 1000")
	client := ugnos.WithSession(ctx, &ugnos.Session{User: "app"})
	run := func(tenant, q string) error {
		res, err := db.Exec(client, tenant, q)
		if err != nil {
			return err
		}
		defer res.Rows.Release()
		for res.Rows.Next() {
		}
		return res.Rows.Err()
	}
	sortQ := "SELECT value FROM m ORDER BY value LIMIT 10000000"
	quotaErr(t, run("acme", sortQ+" OFFSET 49000"), "acme", ugnos.LimitQueryMemory, "53200")
	must(t, run("other", sortQ))
	quotaErr(t, run("acme", "SELECT time FROM m"), "acme", ugnos.LimitResultRows, "54000")
	must(t, run("acme", "SELECT time FROM m LIMIT 1000"))
	must(t, run("other", "SELECT time FROM m"))
	mustExec(t, db, "ALTER DATABASE acme RESET ugnos.max_result_rows")
	mustExec(t, db, "ALTER DATABASE acme SET ugnos.max_result_bytes = '64kB'")
	quotaErr(t, run("acme", "SELECT time, value FROM m"), "acme", ugnos.LimitResultBytes, "54000")
	mustExec(t, db, "ALTER DATABASE acme RESET ALL")
	must(t, run("acme", "SELECT time, value FROM m"))

	mustExec(t, db, "ALTER DATABASE acme SET statement_timeout = 50")
	start := time.Now()
	slow := "SELECT count(*) FROM generate_series(1, 100000) a, generate_series(1, 100000) b"
	quotaErr(t, run("acme", slow), "acme", ugnos.LimitStatementTimeout, "57014")
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("the statement ran %v", d)
	}
	// the server is fine: the next statement runs
	must(t, run("acme", "SELECT count(*) FROM m"))
	rows, err := sltRunArgs2(db, "acme", "SELECT name, rejected FROM ugnos.quotas WHERE rejected > 0 ORDER BY name")
	must(t, err)
	if got := strings.Join(rows, ","); got != "statement_timeout 1,ugnos.max_query_memory 1,ugnos.max_result_bytes 1,ugnos.max_result_rows 1" {
		t.Fatalf("rejections: %s", got)
	}
	_ = context.Background
}

// TestQuotaMaxSeriesConcurrent: writers creating series at once in
// several tables of a database never take it past its limit.
func TestQuotaMaxSeriesConcurrent(t *testing.T) {
	db, err := ugnos.Open("")
	must(t, err)
	defer db.Close()
	mustExec(t, db, "CREATE DATABASE acme")
	mustExec(t, db, "ALTER DATABASE acme SET ugnos.max_series = 50")
	var wg sync.WaitGroup
	var refused atomic.Int64
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 20 {
				err := db.InsertBatch("acme", fmt.Sprintf("t%d", w%3), []ugnos.Point{
					{Timestamp: 1, Value: 1, Tags: ugnos.TagSet{"w": fmt.Sprint(w), "i": fmt.Sprint(i)}},
					{Timestamp: 1, Value: 1, Tags: ugnos.TagSet{"w": fmt.Sprint(w), "i": fmt.Sprint(i), "x": "1"}},
				})
				if err != nil {
					var qe *ugnos.QuotaError
					if !errors.As(err, &qe) {
						t.Error(err)
						return
					}
					refused.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	rows, err := sltRunArgs2(db, "acme", "SELECT usage, rejected FROM ugnos.quotas WHERE name = 'ugnos.max_series'")
	must(t, err)
	if want := fmt.Sprintf("50 %d", refused.Load()); len(rows) != 1 || rows[0] != want {
		t.Fatalf("usage and refusals: %v, want %s", rows, want)
	}
	var stored int64
	for i := range 3 {
		n, _ := strconv.ParseInt(countRows(t, db, "acme", fmt.Sprintf("t%d", i)), 10, 64)
		stored += n
	}
	if stored != 50 {
		t.Fatalf("rows stored: %d, want 50 (each write all or nothing)", stored)
	}
}
