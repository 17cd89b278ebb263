package sql

import (
	"errors"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/ugnos/ugnos/errs"
	"github.com/ugnos/ugnos/internal/fuzzcheck"
)

// FuzzParse asserts that no input panics or crashes the process, that every
// error is an *errs.Error with a SQLSTATE, that statements point at their
// own text, and that the depth bound that guards the C parser holds.
//
//	go test -run '^$' -fuzz '^FuzzParse$' -fuzztime 30s ./sql/
func FuzzParse(f *testing.F) {
	for _, q := range realQueries {
		f.Add(q)
	}
	for _, q := range []string{
		"", ";", "SELECT * FORM t", "SELECT 'abc", "SELECT $tag$ x $tag$, E'\\'', U&'\\0041'",
		"SELECT 1+1*2-3/4%5^6 FROM t WHERE a BETWEEN 1 AND 2 OR NOT b IS NULL",
		"SELECT CASE WHEN a AND b THEN 1 ELSE f(x, y) END::text COLLATE \"C\" FROM t",
		"SELECT 1 UNION SELECT 2 INTERSECT SELECT 3 EXCEPT SELECT 4",
		"SELECT * FROM a JOIN b USING (x) LEFT JOIN c ON a.x = c.x, LATERAL (SELECT 1) d",
		"INSERT INTO cpu (time, host, v) VALUES (now(), 'a', -1.5), ('2020-01-01', 'b', 2) ON CONFLICT DO NOTHING",
		"SELECT x[1][2:3], (y).z, ARRAY[1,2], ROW(1, 2), '{1}'::int[] /* c */ -- c",
		"SELECT time_bucket_gapfill('1 min', time), locf(avg(v)) FROM cpu GROUP BY 1",
		"SELECT first(v, time), last(v, time) FROM cpu",
		// nasty: deep nesting (bounded by the depth guard), invalid UTF-8,
		// NUL, unterminated quoting of every kind, huge numbers
		"SELECT " + strings.Repeat("(", 3000) + "1" + strings.Repeat(")", 3000),
		"SELECT " + strings.Repeat("ARRAY[", 500) + strings.Repeat("]", 500),
		"SELECT 1" + strings.Repeat("+1", 5000), "SELECT " + strings.Repeat("NOT ", 5000) + "true",
		"SELECT '\xff\xfe', \"\xc3\x28\" FROM \xe2\x82", "SELECT 1\x00; SELECT 2", "SELECT $1$ unterminated", "SELECT /* unterminated",
		"SELECT U&\"\\D800\"", "SELECT E'\\xZZ'", "SELECT 99999999999999999999999999999999999999e999999, $2147483648",
		"SELECT 1;;;;SELECT 2;", strings.Repeat(";", 1000),
	} {
		f.Add(q)
	}
	p := NewParser(64)
	f.Fuzz(func(t *testing.T, q string) {
		defer fuzzcheck.Start(t, 10*time.Second)()
		stmts, err := p.Parse(q)
		if err != nil {
			var e *errs.Error
			if !errors.As(err, &e) || e.Code == "" || e.Kind == nil {
				t.Fatalf("Parse(%q): error %v (%T) is not an *errs.Error with a code", q, err, err)
			}
			if e.Pos < 0 || e.Pos > utf8.RuneCountInString(q)+1 {
				t.Fatalf("Parse(%q): position %d outside the text", q, e.Pos)
			}
			return
		}
		for _, s := range stmts {
			if s.Node == nil || s.Pos < 0 || s.Pos+len(s.Text) > len(q) || q[s.Pos:s.Pos+len(s.Text)] != s.Text {
				t.Fatalf("Parse(%q): statement %+v does not match the text", q, s)
			}
		}
		checkBound(t, q, stmts)
	})
}
