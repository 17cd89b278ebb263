package ugnos_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ugnos/ugnos"
	"github.com/ugnos/ugnos/errs"
	"github.com/ugnos/ugnos/internal/fuzzcheck"
)

// FuzzSQL parses, plans and runs arbitrary statements against a small
// table: no input may panic, and every error must be a typed error with a
// SQLSTATE. Seeds: every statement of testdata/sql/*.slt.
//
//	go test -run '^$' -fuzz '^FuzzSQL$' -fuzztime 30s .
func FuzzSQL(f *testing.F) { fuzzSQL(f, false) }

// FuzzPlan is FuzzSQL without running anything: parse, bind and plan
// (through Describe, which also infers parameter types). It is quick and
// deterministic enough for the short run in make test.
//
//	go test -run '^$' -fuzz '^FuzzPlan$' -fuzztime 30s .
func FuzzPlan(f *testing.F) { fuzzSQL(f, true) }

func fuzzSQL(f *testing.F, planOnly bool) {
	files, _ := filepath.Glob("testdata/sql/*.slt")
	for _, file := range files {
		b, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		for _, block := range strings.Split(string(b), "\n\n") {
			lines := strings.Split(strings.TrimSpace(block), "\n")
			if len(lines) < 2 || !(strings.HasPrefix(lines[0], "query") || strings.HasPrefix(lines[0], "statement")) {
				continue
			}
			var q []string
			for _, l := range lines[1:] {
				if l == "----" {
					break
				}
				q = append(q, l)
			}
			f.Add(strings.Join(q, "\n"))
		}
	}
	db, err := ugnos.Open("")
	if err != nil {
		f.Fatal(err)
	}
	defer db.Close()
	for _, q := range []string{
		"CREATE TABLE cpu (time timestamptz, hostname text, region text, usage_user double precision, usage_system double precision, n bigint, ok boolean, note varchar)",
		"INSERT INTO cpu VALUES ('2016-01-01 00:00:00+00', 'a', 'eu', 10, 1, 1, true, 'x'), ('2016-01-01 00:00:30+00', 'a', 'eu', 20, 2, 2, false, NULL), ('2016-01-01 00:00:00+00', 'b', NULL, NULL, 5, 5, NULL, 'y')",
		"CREATE TABLE hosts (time timestamptz, hostname text, cores bigint)",
		"INSERT INTO hosts VALUES ('2016-01-01 00:00:00+00', 'a', 4)",
	} {
		if _, err := db.Exec(context.Background(), "postgres", q); err != nil {
			f.Fatal(err)
		}
	}
	for _, q := range []string{
		"SELECT * FROM cpu WHERE " + strings.Repeat("(", 200) + "usage_user > 1" + strings.Repeat(")", 200),
		"SELECT " + strings.Repeat("(SELECT ", 50) + "1" + strings.Repeat(")", 50),
		"SELECT * FROM cpu a" + strings.Repeat(" JOIN cpu USING (time)", 20),
		"SELECT time_bucket('1 ns', time), count(*) FROM cpu WHERE time > '1677-09-22' GROUP BY 1",
		"SELECT time_bucket_gapfill('1 ns', time, '1970-01-01', '2262-04-11'), count(*) FROM cpu GROUP BY 1",
		"SELECT generate_series(1, 9223372036854775807)", "SELECT repeat('x', 2147483647)",
		"SELECT * FROM cpu ORDER BY 1 LIMIT 9223372036854775807 OFFSET 9223372036854775807",
		"SELECT \"\xff\", '\xc3\x28' FROM cpu", "SELECT $1, $2 FROM cpu WHERE n = $3",
		"INSERT INTO cpu (time, hostname) SELECT time, hostname FROM cpu",
		"WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r) SELECT * FROM r",
	} {
		f.Add(q)
	}
	f.Fuzz(func(t *testing.T, q string) {
		defer fuzzcheck.Start(t, 30*time.Second)()
		if planOnly {
			_, err := db.Describe(context.Background(), "postgres", q)
			var e *errs.Error
			if err != nil && (!errors.As(err, &e) || len(e.SQLState()) != 5) {
				t.Fatalf("untyped error for %q: %v", q, err)
			}
			return
		}
		if strings.Contains(strings.ToUpper(q), "DROP") || strings.Contains(strings.ToUpper(q), "TRUNCATE") || strings.Contains(strings.ToUpper(q), "DELETE") {
			return // keep the fixture for the next input
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		res, err := db.Exec(ctx, "postgres", q)
		if err == nil && res.Rows != nil {
			for res.Rows.Next() {
			}
			err = res.Rows.Err()
			res.Rows.Release()
		}
		if err != nil && !errors.Is(err, context.DeadlineExceeded) {
			var e *errs.Error
			if !errors.As(err, &e) || len(e.SQLState()) != 5 {
				t.Fatalf("untyped error for %q: %v", q, err)
			}
		}
	})
}
