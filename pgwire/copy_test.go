package pgwire_test

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

const copyTable = `CREATE TABLE m (time timestamptz, host text, v double precision, n bigint, ok boolean, note varchar)`

func TestCopyFromCSVAndText(t *testing.T) {
	ts := startServer(t)
	c := ts.connect(t, "postgres")
	if _, err := c.Exec(ctx, copyTable); err != nil {
		t.Fatal(err)
	}
	csv := "time,host,v,n,ok,note\n" +
		"2016-01-01T00:00:00Z,a,1.5,1,t,\"x, y\"\n" +
		"2016-01-01 00:00:10+00,a,,2,false,\n" +
		"2016-01-01T00:00:20.5+01:00,\"b\",3,,,\"multi\nline\"\n"
	tag, err := c.PgConn().CopyFrom(ctx, strings.NewReader(csv), "COPY m FROM STDIN WITH (FORMAT csv, HEADER)")
	if err != nil || tag.String() != "COPY 3" {
		t.Fatalf("csv copy: %v %v", tag, err)
	}
	text := "2016-01-02 00:00:00+00\tc\t4\t4\tt\ttab\\there\n2016-01-02 00:00:01+00\tc\t\\N\t5\t\\N\t\\N\n"
	tag, err = c.PgConn().CopyFrom(ctx, strings.NewReader(text), "COPY m (time, host, v, n, ok, note) FROM STDIN")
	if err != nil || tag.String() != "COPY 2" {
		t.Fatalf("text copy: %v %v", tag, err)
	}
	rows, err := c.Query(ctx, "SELECT time, host, v, n, ok, note FROM m ORDER BY time")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for rows.Next() {
		var tm time.Time
		var host string
		var v *float64
		var n *int64
		var ok *bool
		var note *string
		if err := rows.Scan(&tm, &host, &v, &n, &ok, &note); err != nil {
			t.Fatal(err)
		}
		s := tm.UTC().Format("15:04:05.0") + " " + host
		for _, p := range []any{v, n, ok, note} {
			switch x := p.(type) {
			case *float64:
				s += " " + fmtPtr(x)
			case *int64:
				s += " " + fmtPtr(x)
			case *bool:
				s += " " + fmtPtr(x)
			case *string:
				s += " " + fmtPtr(x)
			}
		}
		got = append(got, s)
	}
	want := []string{
		"00:00:00.0 a 1.5 1 true x, y",
		"00:00:10.0 a NULL 2 false NULL",
		"23:00:20.5 b 3 NULL NULL multi\nline",
		"00:00:00.0 c 4 4 true tab\there",
		"00:00:01.0 c NULL 5 NULL NULL",
	}
	// 2016-01-01T00:00:20.5+01:00 is 2015-12-31 23:00:20.5 UTC: first
	want = append([]string{want[2]}, append(want[:2:2], want[3:]...)...)
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("rows:\n got %q\nwant %q", got, want)
	}
}

func fmtPtr[T any](p *T) string {
	if p == nil {
		return "NULL"
	}
	return fmt.Sprint(*p)
}

func TestCopyFromBinaryAndBadInput(t *testing.T) {
	ts := startServer(t)
	c := ts.connect(t, "postgres")
	if _, err := c.Exec(ctx, copyTable); err != nil {
		t.Fatal(err)
	}
	rows := [][]any{}
	base := time.Date(2016, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := 0; i < 100000; i++ {
		rows = append(rows, []any{base.Add(time.Duration(i) * time.Second), "h" + string(rune('a'+i%5)), float64(i) / 4, int64(i), i%2 == 0, nil})
	}
	n, err := c.CopyFrom(ctx, pgx.Identifier{"m"}, []string{"time", "host", "v", "n", "ok", "note"}, pgx.CopyFromRows(rows))
	if err != nil || n != 100000 {
		t.Fatalf("binary copy: %d %v", n, err)
	}
	var cnt, sum int64
	var hosts int64
	if err := c.QueryRow(ctx, "SELECT count(*), sum(n)::bigint, count(DISTINCT host) FROM m").Scan(&cnt, &sum, &hosts); err != nil {
		t.Fatal(err)
	}
	if cnt != 100000 || sum != 99999*100000/2 || hosts != 5 {
		t.Fatalf("after binary copy: count %d sum %d hosts %d", cnt, sum, hosts)
	}
	// a bad row stores nothing of its COPY and the connection goes on
	bad := "2016-02-01T00:00:00Z,z,1,1,t,\n2016-02-01T00:00:01Z,z,notanumber,1,t,\n"
	_, err = c.PgConn().CopyFrom(ctx, strings.NewReader(bad), "COPY m FROM STDIN (FORMAT csv)")
	if sqlState(err) != "22P02" || !strings.Contains(err.Error(), "line 2") {
		t.Fatalf("bad csv: %v", err)
	}
	for _, q := range []string{
		"COPY m FROM STDIN (FORMAT csv, DELIMITER 'ab')",
		"COPY nope FROM STDIN",
		"COPY m (nope) FROM STDIN",
	} {
		if _, err := c.PgConn().CopyFrom(ctx, strings.NewReader(""), q); err == nil {
			t.Errorf("%s: no error", q)
		}
	}
	if _, err := c.PgConn().CopyFrom(ctx, strings.NewReader("x"), "COPY m FROM '/etc/passwd'"); sqlState(err) != "42501" {
		t.Errorf("COPY from a file: %v", err)
	}
	if err := c.QueryRow(ctx, "SELECT count(*) FROM m WHERE host = 'z'").Scan(&cnt); err != nil || cnt != 0 {
		t.Fatalf("rows of the failed copy: %d %v", cnt, err)
	}
}

func TestCopyTo(t *testing.T) {
	ts := startServer(t)
	c := ts.connect(t, "postgres")
	if _, err := c.Exec(ctx, copyTable+`; INSERT INTO m VALUES ('2016-01-01 00:00:00+00', 'a', 1.5, 1, true, 'x, "y"'), ('2016-01-01 00:00:01+00', 'b', NULL, 2, false, 'tab	in')`); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ sql, want string }{
		{"COPY m TO STDOUT", "2016-01-01 00:00:00+00\ta\t1.5\t1\tt\tx, \"y\"\n2016-01-01 00:00:01+00\tb\t\\N\t2\tf\ttab\\tin\n"},
		{"COPY (SELECT host, n FROM m ORDER BY n) TO STDOUT WITH (FORMAT csv, HEADER)", "host,n\na,1\nb,2\n"},
		{"COPY m (note) TO STDOUT CSV", "\"x, \"\"y\"\"\"\ntab\tin\n"},
	} {
		var out bytes.Buffer
		tag, err := c.PgConn().CopyTo(ctx, &out, tc.sql)
		if err != nil {
			t.Fatalf("%s: %v", tc.sql, err)
		}
		if out.String() != tc.want || !strings.HasPrefix(tag.String(), "COPY ") {
			t.Errorf("%s:\n got %q (%s)\nwant %q", tc.sql, out.String(), tag, tc.want)
		}
	}
}

// TestCopyLargeParallel sends a COPY large enough to be parsed in several
// chunks on several workers: every row arrives once, and a bad row deep
// in the stream is reported with its line (the header is line 1) and
// stores nothing.
func TestCopyLargeParallel(t *testing.T) {
	ts := startServer(t)
	c := ts.connect(t, "postgres")
	if _, err := c.Exec(ctx, copyTable); err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	b.WriteString("time,host,v,n,ok,note\n")
	const rows = 300000
	base := time.Date(2016, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := 0; i < rows; i++ {
		fmt.Fprintf(&b, "%s,host_%d,%d.5,%d,%t,\"note, %d\"\n", base.Add(time.Duration(i)*time.Second).Format(time.RFC3339), i%7, i, i, i%3 == 0, i)
	}
	good := b.String()
	if len(good) < 3*(4<<20) {
		t.Fatalf("input of %d bytes is too small to span several chunks", len(good))
	}
	tag, err := c.PgConn().CopyFrom(ctx, strings.NewReader(good), "COPY m FROM STDIN (FORMAT csv, HEADER)")
	if err != nil || tag.RowsAffected() != rows {
		t.Fatalf("copy: %v %v", tag, err)
	}
	var n, sum int64
	if err := c.QueryRow(ctx, "SELECT count(*), sum(n)::bigint FROM m").Scan(&n, &sum); err != nil || n != rows || sum != rows*(rows-1)/2 {
		t.Fatalf("after copy: count %d sum %d %v", n, sum, err)
	}
	// line 250001 is data row 250000 (0-based 249999): make it bad
	lines := strings.SplitAfter(good, "\n")
	lines[250000] = strings.Replace(lines[250000], ",host_", ",x,host_", 1)
	bad := strings.Join(lines, "")
	_, err = c.PgConn().CopyFrom(ctx, strings.NewReader(bad), "COPY m FROM STDIN (FORMAT csv, HEADER)")
	if sqlState(err) != "22P04" || !strings.Contains(err.Error(), "line 250001") {
		t.Fatalf("bad row: %v", err)
	}
	if err := c.QueryRow(ctx, "SELECT count(*) FROM m").Scan(&n); err != nil || n != rows {
		t.Fatalf("the failed copy stored rows: %d %v", n, err)
	}
}
