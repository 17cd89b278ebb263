package httpapi_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/ugnos/ugnos"
	"github.com/ugnos/ugnos/httpapi"
)

// Bad input over HTTP (issue 8): each case sends one bad request and checks
// the status and the JSON error, that nothing of the request was stored
// (a line-protocol request is all or nothing: valid lines beside a bad one
// are not stored either) and that the server still answers.

// badState is what must not change: databases, tables of t and their rows.
func badHTTPState(t *testing.T, db *ugnos.DB) string {
	t.Helper()
	tables, err := db.ListSeries("t", nil)
	if err != nil {
		t.Fatal(err)
	}
	out := fmt.Sprintf("dbs=%q tables=%q", db.Databases(), tables)
	for _, tb := range tables {
		out += fmt.Sprintf(" %s=%v", tb, query(t, db, "t", "SELECT * FROM "+tb+" ORDER BY time"))
	}
	return out
}

type badReq struct {
	method, path, ctype, enc string
	body                     []byte
}

func (r badReq) send(t *testing.T, base string) (int, string) {
	t.Helper()
	method := r.method
	if method == "" {
		method = http.MethodPost
	}
	req, err := http.NewRequest(method, base+r.path, bytes.NewReader(r.body))
	if err != nil {
		t.Fatal(err)
	}
	if r.ctype != "" {
		req.Header.Set("Content-Type", r.ctype)
	}
	if r.enc != "" {
		req.Header.Set("Content-Encoding", r.enc)
	}
	req.Header.Set("Accept", "application/json, text/event-stream")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %.80s: %v", method, r.path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	return resp.StatusCode, string(b)
}

func lpReq(v2 bool, body string) badReq {
	if v2 {
		return badReq{path: "/api/v2/write?bucket=t", body: []byte(body)}
	}
	return badReq{path: "/write?db=t", body: []byte(body)}
}

func sqlReq(q string) badReq {
	return badReq{path: "/api/v1/query?db=t", ctype: "text/plain", body: []byte(q)}
}

func TestBadInputHTTP(t *testing.T) {
	db, ts := newServer(t, httpapi.Config{})
	if st, _ := (lpReq(true, "m,host=a v=1,s=\"x\" 1704067200000000000\n")).send(t, ts.URL); st != 204 {
		t.Fatalf("setup: %d", st)
	}
	const good = "m,host=b v=2 1704067201000000000\nother,host=c v=3 1704067202000000000\n"
	long := strings.Repeat("k", 100<<10)
	hundredMB := strings.Repeat("x", 100<<20)
	var gz bytes.Buffer // 100 MB of line protocol, about 100 KB gzipped
	zw := gzip.NewWriter(&gz)
	line := []byte("m,host=z v=1 1704067203000000000\n")
	for n := 0; n < 100<<20; n += len(line) {
		zw.Write(line)
	}
	zw.Close()
	manyTags := new(strings.Builder)
	manyTags.WriteString("wide")
	for i := 0; i < 5000; i++ {
		fmt.Fprintf(manyTags, ",t%d=v", i)
	}
	manyTags.WriteString(" v=1 1704067204000000000\n")
	nested := strings.Repeat("(", 100000) + "1" + strings.Repeat(")", 100000)

	cases := []struct {
		name   string
		req    badReq
		status int
		inMsg  string // part of the JSON message
	}{
		// line protocol, both versions; good lines go with the bad one
		{"LP 100KB measurement", lpReq(true, good+long+" v=1\n"), 400, "longer than 63 bytes"},
		{"LP 100KB tag key", lpReq(false, good+"m,"+long+"=a v=1\n"), 400, "longer than 63 bytes"},
		{"LP 100KB field key", lpReq(true, good+"m "+long+"=1\n"), 400, "longer than 63 bytes"},
		{"LP 100KB tag value", lpReq(true, good+"m,host="+long+" v=1\n"), 400, "too long"},
		{"LP 20MB string field (a 20 MB line)", lpReq(false, good+"m s=\""+hundredMB[:20<<20]+"\"\n"), 400, "too long"},
		{"LP 100MB body", lpReq(true, good+"m s=\""+hundredMB+"\"\n"), 413, "limit"},
		{"LP 100MB after gunzip", badReq{path: "/api/v2/write?bucket=t", enc: "gzip", body: gz.Bytes()}, 413, "limit"},
		{"LP invalid UTF-8 measurement", lpReq(true, good+"m\xff v=1\n"), 400, "invalid utf-8"},
		{"LP invalid UTF-8 tag value", lpReq(false, good+"m,host=\xc3 v=1\n"), 400, "invalid utf-8"},
		{"LP invalid UTF-8 string field", lpReq(true, good+"m s=\"a\xffb\"\n"), 400, "invalid utf-8"},
		{"LP NUL in string field", lpReq(true, good+"m s=\"a\x00b\"\n"), 400, "0x00"},
		{"LP NUL in tag value", lpReq(true, good+"m,host=a\x00b v=1\n"), 400, ""},
		{"LP NaN field", lpReq(true, good+"m v=NaN\n"), 400, "(line 3)"},
		{"LP +Inf field", lpReq(false, good+"m v=+Inf\n"), 400, "(line 3)"},
		{"LP 1e400 field", lpReq(true, good+"m v=1e400\n"), 400, "(line 3)"},
		{"LP integer overflow", lpReq(true, good+"m n=9223372036854775808i\n"), 400, "(line 3)"},
		{"LP timestamp past int64", lpReq(true, good+"m v=1 9223372036854775808\n"), 400, "(line 3)"},
		{"LP timestamp before int64", lpReq(true, good+"m v=1 -9223372036854775809\n"), 400, "(line 3)"},
		{"LP seconds past 2262", badReq{path: "/api/v2/write?bucket=t&precision=s", body: []byte("m v=1 1704067200\nm v=1 10000000000\n")}, 400, "out of range"},
		{"LP wrong type for column", lpReq(true, good+"m v=\"text\"\n"), 400, "type conflict"},
		{"LP 5000 tags", lpReq(true, good+manyTags.String()), 400, "4096 columns"},

		// the query API
		{"query 100MB body", sqlReq("SELECT '" + hundredMB + "'"), 413, "limit"},
		{"query 20MB statement", sqlReq("SELECT '" + hundredMB[:20<<20] + "'"), 400, "too long"},
		{"query 100MB JSON body", badReq{path: "/api/v1/query", ctype: "application/json", body: []byte(`{"db":"t","q":"SELECT '` + hundredMB + `'"}`)}, 413, "limit"},
		{"query 100KB table name", sqlReq("SELECT * FROM " + long), 400, "does not exist"},
		{"query 100k nested parentheses", sqlReq("SELECT " + nested), 400, "too complex"},
		{"query 100k nested, GET", badReq{method: "GET", path: "/api/v1/query?" + url.Values{"db": {"t"}, "q": {"SELECT " + strings.Repeat("(", 5000) + "1" + strings.Repeat(")", 5000)}}.Encode()}, 400, "too complex"},
		{"query invalid UTF-8 text body", sqlReq("SELECT 'a\xffb'"), 400, "UTF8"},
		{"query invalid UTF-8 JSON body", badReq{path: "/api/v1/query", ctype: "application/json", body: []byte("{\"db\":\"t\",\"q\":\"SELECT 'a\xffb'\"}")}, 400, "UTF8"},
		{"query invalid UTF-8 form body", badReq{path: "/api/v1/query", ctype: "application/x-www-form-urlencoded", body: []byte("db=t&q=SELECT+%27a%FFb%27")}, 400, "UTF8"},
		{"query NUL", sqlReq("SELECT 'a\x00b'"), 400, "0x00"},
		{"query INSERT year 3000", sqlReq("INSERT INTO m (time, v) VALUES ('2024-01-02', 1), ('3000-01-01', 2)"), 400, "out of range"},
		{"query INSERT infinity", sqlReq("INSERT INTO m (time, v) VALUES ('infinity', 2)"), 400, "out of range"},
		{"query INSERT text into double", sqlReq("INSERT INTO m (time, v) VALUES ('2024-01-02', 1), ('2024-01-03', 'abc')"), 400, "invalid input syntax"},
		{"query bigint overflow", sqlReq("SELECT 9223372036854775807 + 1"), 400, "out of range"},
		{"query double overflow", sqlReq("SELECT '1e400'::float8"), 400, "out of range"},

		// live streams: where= values no stored series can have
		{"stream 100KB tag name", badReq{method: "GET", path: "/api/v1/stream?db=t&table=m&where=" + long + ":a"}, 400, "longer than 63 bytes"},
		{"stream 100KB tag value", badReq{method: "GET", path: "/api/v1/stream?db=t&table=m&where=host:" + long}, 400, "too long"},
		{"stream invalid UTF-8 value", badReq{method: "GET", path: "/api/v1/stream?db=t&table=m&where=host:%FF"}, 400, "UTF8"},
		{"stream NUL value", badReq{method: "GET", path: "/api/v1/stream?db=t&table=m&where=host:a%00"}, 400, "0x00"},
	}
	sqlstates := map[string]string{
		"query 20MB statement": "54000", "query 100KB table name": "42P01", "query 100k nested parentheses": "54001",
		"query 100k nested, GET": "54001", "query invalid UTF-8 text body": "22021", "query invalid UTF-8 JSON body": "22021",
		"query invalid UTF-8 form body": "22021", "query NUL": "22021", "query INSERT year 3000": "22008",
		"query INSERT infinity": "22008", "query INSERT text into double": "22P02", "query bigint overflow": "22003",
		"query double overflow": "22003",
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := badHTTPState(t, db)
			status, body := tc.req.send(t, ts.URL)
			var e struct{ Code, Message, SQLState string }
			if err := json.Unmarshal([]byte(body), &e); err != nil {
				t.Fatalf("%d, body %.200q is not JSON: %v", status, body, err)
			}
			if status != tc.status || e.Code == "" || !strings.Contains(e.Message, tc.inMsg) {
				t.Errorf("%d %s %.300q; want %d and %q", status, e.Code, e.Message, tc.status, tc.inMsg)
			}
			if want := sqlstates[tc.name]; want != "" && e.SQLState != want {
				t.Errorf("sqlstate %q, want %s", e.SQLState, want)
			}
			if after := badHTTPState(t, db); after != before {
				t.Errorf("state changed:\n before %.300s\n after  %.300s", before, after)
			}
			if st, b := (lpReq(true, "health v=1 1704067300000000000\n")).send(t, ts.URL); st != 204 {
				t.Errorf("unhealthy: a good write: %d %s", st, b)
			}
			if st, b := sqlReq("DELETE FROM health WHERE true").send(t, ts.URL); st != 200 {
				t.Errorf("unhealthy: a query: %d %s", st, b)
			}
			if _, err := db.Exec(context.Background(), "t", "DROP TABLE health"); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestBadInputHTTPHugeInList: a 1,000,000-element IN list through the
// query API answers.
func TestBadInputHTTPHugeInList(t *testing.T) {
	if testing.Short() {
		t.Skip("parses an 11 MB statement")
	}
	_, ts := newServer(t, httpapi.Config{})
	if st, _ := (lpReq(true, "m,host=a v=1 1704067200000000000\nm,host=b v=-1 1704067201000000000\n")).send(t, ts.URL); st != 204 {
		t.Fatalf("setup: %d", st)
	}
	hosts := make([]string, 1000000)
	for i := range hosts {
		hosts[i] = fmt.Sprintf("'h%d'", i)
	}
	hosts[500000] = "'a'"
	start := time.Now()
	status, body := sqlReq("SELECT count(*) FROM m WHERE host IN ("+strings.Join(hosts, ",")+")").send(t, ts.URL)
	if status != 200 || !strings.Contains(body, `"rows":[[1]]`) {
		t.Errorf("%d %.300s", status, body)
	}
	t.Logf("1M-element IN list over HTTP: %v", time.Since(start))
}
