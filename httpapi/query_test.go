package httpapi_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/ugnos/ugnos"
	"github.com/ugnos/ugnos/httpapi"
)

// newQueryServer opens a memory database with the table acme.cpu:
//
//	time                     host  usage  n     ok    note
//	1970-01-01T00:00:01Z     a     1.5    7     true  a,"b"
//	1970-01-01T00:00:02.000000001Z  b  null  null null ""
func newQueryServer(t *testing.T, cfg httpapi.Config) (*ugnos.DB, *httptest.Server) {
	t.Helper()
	db, err := ugnos.Open("")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	field := arrow.NewMetadata([]string{"ugnos.kind"}, []string{"field"})
	schema := arrow.NewSchema([]arrow.Field{
		{Name: "time", Type: arrow.FixedWidthTypes.Timestamp_ns},
		{Name: "host", Type: arrow.BinaryTypes.String},
		{Name: "usage", Type: arrow.PrimitiveTypes.Float64, Nullable: true},
		{Name: "n", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
		{Name: "ok", Type: arrow.FixedWidthTypes.Boolean, Nullable: true},
		{Name: "note", Type: arrow.BinaryTypes.String, Nullable: true, Metadata: field},
	}, nil)
	b := array.NewRecordBuilder(memory.DefaultAllocator, schema)
	defer b.Release()
	b.Field(0).(*array.TimestampBuilder).AppendValues([]arrow.Timestamp{1e9, 2e9 + 1}, nil)
	b.Field(1).(*array.StringBuilder).AppendValues([]string{"a", "b"}, nil)
	b.Field(2).(*array.Float64Builder).AppendValues([]float64{1.5, 0}, []bool{true, false})
	b.Field(3).(*array.Int64Builder).AppendValues([]int64{7, 0}, []bool{true, false})
	b.Field(4).(*array.BooleanBuilder).AppendValues([]bool{true, false}, []bool{true, false})
	b.Field(5).(*array.StringBuilder).AppendValues([]string{`a,"b"`, ""}, nil)
	rec := b.NewRecordBatch()
	defer rec.Release()
	if err := db.WriteRecord(context.Background(), "acme", "cpu", rec); err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(httpapi.New(db, cfg))
	t.Cleanup(ts.Close)
	return db, ts
}

func do(t *testing.T, req *http.Request) (*http.Response, string) {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, string(body)
}

func getQuery(t *testing.T, ts *httptest.Server, db, q, accept string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest("GET", ts.URL+"/api/v1/query?"+url.Values{"db": {db}, "q": {q}}.Encode(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	return do(t, req)
}

const cpuQuery = `SELECT time, host, usage, n, ok, note, 'NaN'::float8 AS nan, '-Infinity'::float8 AS ninf, 1.50::numeric AS num FROM cpu ORDER BY time`

func TestQueryJSON(t *testing.T) {
	_, ts := newQueryServer(t, httpapi.Config{})
	resp, body := getQuery(t, ts, "acme", cpuQuery, "")
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/json; charset=utf-8" {
		t.Fatalf("status %d, Content-Type %q: %s", resp.StatusCode, resp.Header.Get("Content-Type"), body)
	}
	want := `{"columns":[{"name":"time","type":"timestamptz"},{"name":"host","type":"text"},{"name":"usage","type":"double precision"},` +
		`{"name":"n","type":"bigint"},{"name":"ok","type":"boolean"},{"name":"note","type":"text"},{"name":"nan","type":"double precision"},` +
		`{"name":"ninf","type":"double precision"},{"name":"num","type":"numeric"}],"rows":[` +
		`["1970-01-01T00:00:01.000000000Z","a",1.5,7,true,"a,\"b\"","NaN","-Infinity",1.50],` +
		`["1970-01-01T00:00:02.000000001Z","b",null,null,null,"","NaN","-Infinity",1.50]]}` + "\n"
	if body != want {
		t.Errorf("body\n%s\nwant\n%s", body, want)
	}
	if !json.Valid([]byte(body)) {
		t.Error("body is not valid JSON")
	}
}

func TestQueryPOST(t *testing.T) {
	_, ts := newQueryServer(t, httpapi.Config{})
	const want = `{"columns":[{"name":"count","type":"bigint"}],"rows":[[2]]}` + "\n"
	for _, c := range []struct{ ct, body, query string }{
		{"application/json", `{"db":"acme","q":"SELECT count(*) FROM cpu"}`, ""},
		{"application/x-www-form-urlencoded", url.Values{"db": {"acme"}, "q": {"SELECT count(*) FROM cpu"}}.Encode(), ""},
		{"text/plain", "SELECT count(*) FROM cpu", "?db=acme"},
	} {
		resp, err := http.Post(ts.URL+"/api/v1/query"+c.query, c.ct, strings.NewReader(c.body))
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || string(body) != want {
			t.Errorf("%s: %d %s", c.ct, resp.StatusCode, body)
		}
	}
}

func TestQueryCSV(t *testing.T) {
	_, ts := newQueryServer(t, httpapi.Config{})
	resp, body := getQuery(t, ts, "acme", cpuQuery, "text/csv")
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/csv") {
		t.Fatalf("status %d, Content-Type %q: %s", resp.StatusCode, resp.Header.Get("Content-Type"), body)
	}
	want := "time,host,usage,n,ok,note,nan,ninf,num\r\n" +
		"1970-01-01T00:00:01.000000000Z,a,1.5,7,true,\"a,\"\"b\"\"\",NaN,-Infinity,1.50\r\n" +
		"1970-01-01T00:00:02.000000001Z,b,,,,\"\",NaN,-Infinity,1.50\r\n"
	if body != want {
		t.Errorf("body\n%q\nwant\n%q", body, want)
	}
	// ?format= beats Accept
	req, _ := http.NewRequest("GET", ts.URL+"/api/v1/query?"+url.Values{"db": {"acme"}, "q": {cpuQuery}, "format": {"csv"}}.Encode(), nil)
	req.Header.Set("Accept", "application/json")
	if _, body2 := do(t, req); body2 != want {
		t.Errorf("format=csv: %q", body2)
	}
}

func TestQueryArrow(t *testing.T) {
	db, ts := newQueryServer(t, httpapi.Config{})
	// no ORDER BY: the SQL layer keeps tags dictionary-encoded where the
	// plan's root projection passes them through
	q := "SELECT time, host, usage FROM cpu"
	resp, err := http.Get(ts.URL + "/api/v1/query?" + url.Values{"db": {"acme"}, "q": {q}, "format": {"arrow"}}.Encode())
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/vnd.apache.arrow.stream" {
		t.Fatalf("status %d, Content-Type %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	rd, err := ipc.NewReader(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	defer rd.Release()
	if dt := rd.Schema().Field(1).Type; dt.ID() != arrow.DICTIONARY {
		t.Errorf("host is %s, want dictionary-encoded", dt)
	}
	var got []string
	for rd.Next() {
		rec := rd.RecordBatch()
		for i := 0; i < int(rec.NumRows()); i++ {
			got = append(got, rec.Column(0).ValueStr(i)+"|"+rec.Column(1).ValueStr(i)+"|"+rec.Column(2).ValueStr(i))
		}
	}
	if err := rd.Err(); err != nil {
		t.Fatal(err)
	}
	// the same rows as the embedded API returns
	want := embedded(t, db, "acme", q)
	slices.Sort(got)
	slices.Sort(want)
	if strings.Join(got, "\n") != strings.Join(want, "\n") || len(got) != 2 {
		t.Errorf("arrow rows %q, want %q", got, want)
	}
}

// embedded runs q through db.SQL and renders the rows like TestQueryArrow.
func embedded(t *testing.T, db *ugnos.DB, tenant, q string) []string {
	t.Helper()
	rd, err := db.SQL(context.Background(), tenant, q)
	if err != nil {
		t.Fatal(err)
	}
	defer rd.Release()
	var out []string
	for rd.Next() {
		rec := rd.RecordBatch()
		for i := 0; i < int(rec.NumRows()); i++ {
			out = append(out, rec.Column(0).ValueStr(i)+"|"+rec.Column(1).ValueStr(i)+"|"+rec.Column(2).ValueStr(i))
		}
	}
	return out
}

func TestQueryErrors(t *testing.T) {
	_, ts := newQueryServer(t, httpapi.Config{MaxResultRows: 1})
	f := func(db, q, accept string, status int, code, sqlstate string) {
		t.Helper()
		resp, body := getQuery(t, ts, db, q, accept)
		var e struct{ Code, Message, SQLState string }
		if err := json.Unmarshal([]byte(body), &e); err != nil || resp.StatusCode != status || e.Code != code || e.SQLState != sqlstate {
			t.Errorf("%q on %q: %d %s (want %d %s %s)", q, db, resp.StatusCode, body, status, code, sqlstate)
		}
	}
	f("acme", "SELECT * FROM nope", "", 400, "invalid", "42P01")
	f("acme", "SELEC 1", "", 400, "invalid", "42601")
	f("nope", "SELECT 1", "", 404, "not found", "3D000")
	f("acme", "SELECT time FROM cpu", "", 400, "invalid", "54000")         // over MaxResultRows
	f("acme", "SELECT time FROM cpu", "text/csv", 400, "invalid", "54000") // error before anything is sent
	f("acme", "", "", 400, "invalid", "")
	f("", "SELECT 1", "", 400, "invalid", "")
	f("acme", "SELECT 1", "image/png", 406, "invalid", "")
}

func TestQueryCommands(t *testing.T) {
	db, ts := newQueryServer(t, httpapi.Config{})
	resp, body := getQuery(t, ts, "acme", "INSERT INTO cpu (time, host, usage) VALUES ('2024-01-01T00:00:00Z', 'c', 3), ('2024-01-01T00:00:01Z', 'c', 4)", "")
	if resp.StatusCode != 200 || body != `{"command":"INSERT 0 2","rows_affected":2}`+"\n" {
		t.Errorf("INSERT: %d %s", resp.StatusCode, body)
	}
	if m := db.Metrics(); m.Points != 4 {
		t.Errorf("points = %d after INSERT", m.Points)
	}
	resp, body = getQuery(t, ts, "acme", "CREATE TABLE t (time timestamptz, v double precision)", "text/csv")
	if resp.StatusCode != 200 || body != "command,rows_affected\r\nCREATE TABLE,0\r\n" {
		t.Errorf("CREATE TABLE: %d %q", resp.StatusCode, body)
	}
}

func TestQueryStreamsLargeResults(t *testing.T) {
	db, ts := newQueryServer(t, httpapi.Config{MaxResultBytes: 1 << 20})
	pts := make([]ugnos.Point, 100_000)
	for i := range pts {
		pts[i] = ugnos.Point{Timestamp: int64(i) * 1e9, Value: float64(i), Tags: ugnos.TagSet{"host": "h"}}
	}
	if err := db.InsertBatch("acme", "big", pts); err != nil {
		t.Fatal(err)
	}
	// under the limit: every row
	resp, body := getQuery(t, ts, "acme", "SELECT value FROM big WHERE value < 20000", "text/csv")
	if resp.StatusCode != 200 || strings.Count(body, "\r\n") != 20001 {
		t.Errorf("20000 rows: status %d, %d lines", resp.StatusCode, strings.Count(body, "\r\n"))
	}
	// over it, after the status was sent: JSON ends with an error member
	resp, body = getQuery(t, ts, "acme", "SELECT time, value FROM big", "")
	var res struct {
		Rows  [][]any
		Error struct{ Code, Message, SQLState string }
	}
	if err := json.Unmarshal([]byte(body), &res); err != nil || resp.StatusCode != 200 || res.Error.SQLState != "54000" || len(res.Rows) == 0 || len(res.Rows) == 100_000 {
		t.Errorf("over the byte limit: %d, %d rows, error %+v, %v", resp.StatusCode, len(res.Rows), res.Error, err)
	}
	// CSV is cut off: the client sees a broken transfer, not a short file
	req, _ := http.NewRequest("GET", ts.URL+"/api/v1/query?"+url.Values{"db": {"acme"}, "q": {"SELECT time, value FROM big"}}.Encode(), nil)
	req.Header.Set("Accept", "text/csv")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if _, err := io.ReadAll(resp.Body); err == nil {
		t.Error("a CSV result over the limit ended cleanly")
	}
}
