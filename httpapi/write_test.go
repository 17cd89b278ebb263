package httpapi_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	influxdb2 "github.com/influxdata/influxdb-client-go/v2"
	"github.com/influxdata/influxdb-client-go/v2/api/write"

	"github.com/ugnos/ugnos"
	"github.com/ugnos/ugnos/httpapi"
)

// newServer opens a memory-only database behind an httptest server.
func newServer(t *testing.T, cfg httpapi.Config) (*ugnos.DB, *httptest.Server) {
	t.Helper()
	db, err := ugnos.Open("")
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(httpapi.New(db, cfg))
	t.Cleanup(func() { ts.Close(); db.Close() })
	return db, ts
}

// query runs SQL and returns the rows as Go values: time as int64 ns,
// doubles, bigints, text (tags too), booleans; NULL as nil.
func query(t *testing.T, db *ugnos.DB, tenant, sql string) [][]any {
	t.Helper()
	rr, err := db.SQL(context.Background(), tenant, sql)
	if err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	defer rr.Release()
	var out [][]any
	for rr.Next() {
		rec := rr.RecordBatch()
		for i := 0; i < int(rec.NumRows()); i++ {
			row := make([]any, rec.NumCols())
			for j, col := range rec.Columns() {
				row[j] = value(t, col, i)
			}
			out = append(out, row)
		}
	}
	if err := rr.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func value(t *testing.T, col arrow.Array, i int) any {
	if col.IsNull(i) {
		return nil
	}
	switch c := col.(type) {
	case *array.Timestamp:
		ns, err := c.DataType().(*arrow.TimestampType).GetToTimeFunc()
		if err != nil {
			t.Fatal(err)
		}
		return ns(c.Value(i)).UnixNano()
	case *array.Float64:
		return c.Value(i)
	case *array.Int64:
		return c.Value(i)
	case *array.Boolean:
		return c.Value(i)
	case *array.String:
		return c.Value(i)
	case *array.Dictionary:
		return c.Dictionary().(*array.String).Value(c.GetValueIndex(i))
	}
	t.Fatalf("unexpected column type %s", col.DataType())
	return nil
}

func count(t *testing.T, db *ugnos.DB, tenant, table string) int64 {
	t.Helper()
	return query(t, db, tenant, "SELECT count(*) FROM "+table)[0][0].(int64)
}

func eq(t *testing.T, what string, got, want any) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Errorf("%s:\n got %#v\nwant %#v", what, got, want)
	}
}

func TestWriteClientBlocking(t *testing.T) {
	db, ts := newServer(t, httpapi.Config{})
	c := influxdb2.NewClient(ts.URL, "any-token")
	defer c.Close()
	w := c.WriteAPIBlocking("my-org", "iot")
	ctx := context.Background()
	t0 := time.Unix(1700000000, 123456789)
	p := write.NewPoint("m", map[string]string{"host": "a b,c=d", "dc": "x"},
		map[string]any{"f": 0.5, "i": int64(-42), "u": uint64(math.MaxInt64), "s": `say "hi", x=1\n`, "b": true}, t0)
	if err := w.WritePoint(ctx, p); err != nil {
		t.Fatal(err)
	}
	// line protocol written by hand: escapes, a second tag set, a missing field
	if err := w.WriteRecord(ctx,
		`m,host=plain,dc=y f=-1.5e3,i=7i,s="two\\slashes",b=F 1700000001000000000`,
		`m,dc=z f=2,u=3u 1700000002000000000`); err != nil {
		t.Fatal(err)
	}
	got := query(t, db, "iot", "SELECT time, host, dc, f, i, u, s, b FROM m ORDER BY time")
	want := [][]any{
		{int64(1700000000123456789), "a b,c=d", "x", 0.5, int64(-42), int64(math.MaxInt64), `say "hi", x=1\n`, true},
		{int64(1700000001000000000), "plain", "y", -1500.0, int64(7), nil, `two\slashes`, false},
		{int64(1700000002000000000), nil, "z", 2.0, nil, int64(3), nil, nil},
	}
	eq(t, "rows", got, want)
	cols, err := db.Columns("iot", "m")
	if err != nil {
		t.Fatal(err)
	}
	kinds := map[string]string{}
	for _, c := range cols {
		kinds[c.Name] = c.Kind.String() + " " + c.Type.String()
	}
	eq(t, "host", kinds["host"][:3], "tag")
	eq(t, "s", kinds["s"], "field text")
	eq(t, "u", kinds["u"], "field bigint")
}

func TestWriteClientNonBlocking(t *testing.T) {
	db, ts := newServer(t, httpapi.Config{})
	opts := influxdb2.DefaultOptions().SetBatchSize(100).SetFlushInterval(60000)
	c := influxdb2.NewClientWithOptions(ts.URL, "", opts)
	defer c.Close()
	w := c.WriteAPI("org", "batch")
	var errs []error
	done := make(chan struct{})
	errCh := w.Errors()
	go func() {
		for err := range errCh {
			errs = append(errs, err)
		}
		close(done)
	}()
	const n = 1234
	var sum float64
	var isum int64
	for i := 0; i < n; i++ {
		v := float64(i) / 4
		sum += v
		isum += int64(i)
		w.WritePoint(write.NewPoint("cpu", map[string]string{"host": fmt.Sprintf("h%d", i%7)},
			map[string]any{"v": v, "n": int64(i)}, time.Unix(0, 1e15+int64(i))))
	}
	w.WriteRecord("cpu,host=rec v=0.25,n=0i 1")
	w.Flush()
	c.Close()
	<-done
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	// sum(bigint) is numeric, returned as text
	got := query(t, db, "batch", "SELECT count(*), sum(v), sum(n), count(DISTINCT host) FROM cpu")
	eq(t, "aggregates", got, [][]any{{int64(n + 1), sum + 0.25, fmt.Sprint(isum), int64(8)}})
	got = query(t, db, "batch", "SELECT host, v, n FROM cpu WHERE time = '1970-01-12 13:46:40.000001000+00'")
	eq(t, "point 1000", got, [][]any{{"h6", 250.0, int64(1000)}})
}

func TestWritePrecisionAndGzip(t *testing.T) {
	db, ts := newServer(t, httpapi.Config{})
	t0 := time.Unix(1700000000, 987654321)
	for _, tc := range []struct {
		prec time.Duration
		gzip bool
		want int64
	}{
		{time.Second, false, 1700000000_000000000},
		{time.Millisecond, true, 1700000000_987000000},
		{time.Microsecond, false, 1700000000_987654000},
		{time.Nanosecond, true, 1700000000_987654321},
	} {
		name := fmt.Sprintf("p%d", tc.prec)
		opts := influxdb2.DefaultOptions().SetPrecision(tc.prec).SetUseGZip(tc.gzip)
		c := influxdb2.NewClientWithOptions(ts.URL, "", opts)
		err := c.WriteAPIBlocking("", "prec").WritePoint(context.Background(),
			write.NewPoint("t", map[string]string{"p": name}, map[string]any{"v": 1.0}, t0))
		c.Close()
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		got := query(t, db, "prec", "SELECT time FROM t WHERE p = '"+name+"'")
		eq(t, name, got, [][]any{{tc.want}})
	}
	// gzip of a larger body, by hand
	var lines bytes.Buffer
	for i := 0; i < 5000; i++ {
		fmt.Fprintf(&lines, "g,k=%d v=%di %d\n", i%10, i, i)
	}
	var zb bytes.Buffer
	zw := gzip.NewWriter(&zb)
	zw.Write(lines.Bytes())
	zw.Close()
	status, _ := post(t, ts.URL+"/api/v2/write?bucket=prec&precision=s", "gzip", zb.Bytes())
	eq(t, "gzip status", status, http.StatusNoContent)
	eq(t, "gzip rows", query(t, db, "prec", "SELECT count(*), sum(v), max(time) FROM g"),
		[][]any{{int64(5000), fmt.Sprint(4999 * 5000 / 2), int64(4999e9)}})
}

func post(t *testing.T, url, encoding string, body []byte) (int, map[string]string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if encoding != "" {
		req.Header.Set("Content-Encoding", encoding)
	}
	req.Header.Set("Authorization", "Token ignored")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var m map[string]string
	b, _ := io.ReadAll(resp.Body)
	if len(b) > 0 {
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatalf("body %q: %v", b, err)
		}
	}
	return resp.StatusCode, m
}

func TestWriteV1(t *testing.T) {
	db, ts := newServer(t, httpapi.Config{})
	resp, err := http.Post(ts.URL+"/write?db=iot&rp=autogen&u=x&p=y&precision=s", "text/plain",
		strings.NewReader("cpu,host=a usage=0.5 1700000000\n# a comment\n\ncpu,host=b usage=1\n"))
	if err == nil {
		resp.Body.Close()
	}
	if err != nil || resp.StatusCode != http.StatusNoContent {
		t.Fatalf("%v %v", resp, err)
	}
	// usage is float from line 1, integer on line 4: a conflict
	status, body := post(t, ts.URL+"/write?db=iot", "", []byte("cpu,host=a usage=0.5 1700000000\n# a comment\n\ncpu,host=b usage=1i\n"))
	eq(t, "status", status, http.StatusBadRequest)
	if !strings.Contains(body["error"], "(line 4)") || !strings.Contains(body["error"], `"usage"`) || body["message"] != body["error"] {
		t.Errorf("v1 error %v", body)
	}
	// minutes and hours
	status, _ = post(t, ts.URL+"/write?db=iot&precision=m", "", []byte("mh,u=m v=1 3\n"))
	eq(t, "m", status, http.StatusNoContent)
	status, _ = post(t, ts.URL+"/write?db=iot&precision=h", "", []byte("mh,u=h v=1 2\n"))
	eq(t, "h", status, http.StatusNoContent)
	eq(t, "rows", query(t, db, "iot", "SELECT u, time FROM mh ORDER BY time"),
		[][]any{{"m", int64(180e9)}, {"h", int64(7200e9)}})
	eq(t, "cpu", query(t, db, "iot", "SELECT host, usage FROM cpu WHERE time = '2023-11-14 22:13:20+00'"),
		[][]any{{"a", 0.5}})
}

func TestWriteDefaultTime(t *testing.T) {
	db, ts := newServer(t, httpapi.Config{})
	before := time.Now().Truncate(time.Second).UnixNano()
	status, _ := post(t, ts.URL+"/api/v2/write?bucket=d&precision=s", "", []byte("now v=1"))
	after := time.Now().UnixNano()
	eq(t, "status", status, http.StatusNoContent)
	got := query(t, db, "d", "SELECT time FROM now")[0][0].(int64)
	if got < before || got > after || got%1e9 != 0 {
		t.Errorf("default time %d not a whole second in [%d, %d]", got, before, after)
	}
}

// TestWriteRejects: every bad request is refused with InfluxDB's error
// shape and stores nothing; the server keeps serving.
func TestWriteRejects(t *testing.T) {
	db, ts := newServer(t, httpapi.Config{MaxBodyBytes: 4096})
	status, _ := post(t, ts.URL+"/api/v2/write?bucket=t", "", []byte("base,k=a f=1,i=1i,s=\"x\",b=true 1\n"))
	eq(t, "setup", status, http.StatusNoContent)
	dbs := db.Databases()

	var big bytes.Buffer
	for big.Len() <= 4096 {
		big.WriteString("newt,k=a f=1\n")
	}
	var bigz bytes.Buffer
	zw := gzip.NewWriter(&bigz)
	zw.Write(big.Bytes())
	zw.Close()
	good := "newt,k=a f=1 1\nbase,k=b f=2 2\n"
	for _, tc := range []struct {
		name, url, enc, body string
		status               int
		msg                  string // in the message
	}{
		{"malformed line 3", "bucket=t", "", good + "bad line\n", 400, "unable to parse 'bad line': "},
		{"malformed line number", "bucket=t", "", good + "bad line\n", 400, "(line 3)"},
		{"bad float", "bucket=t", "", good + "x f=1.2.3\n", 400, "(line 3)"},
		{"NaN", "bucket=t", "", good + "x f=-Inf\n", 400, "(line 3)"},
		{"unterminated string", "bucket=t", "", good + "x f=\"abc\n", 400, "(line 3)"},
		{"no fields", "bucket=t", "", good + "x,a=b 1\n", 400, "(line 3)"},
		{"bad timestamp", "bucket=t", "", good + "x f=1 12a\n", 400, "(line 3)"},
		{"string with newline, then error", "bucket=t", "", "newt s=\"a\nb\" 1\nnewt f=1\nnewt f=1 x\n", 400, "(line 4)"},
		{"comments and blank lines counted", "bucket=t", "", "# c\n\n" + good + "\nnewt f=1u,f=2u\n", 400, "(line 6)"},
		{"uint overflow", "bucket=t", "", good + "newt big=9223372036854775808u\n", 400, "does not fit in bigint"},
		{"type conflict in batch", "bucket=t", "", good + "newt f=1i 3\n", 400, `field type conflict: input field "f" on measurement "newt" is type integer, already exists as type float (line 3)`},
		{"type conflict with table", "bucket=t", "", good + "base s=1i 3\n", 400, `input field "s" on measurement "base" is type integer, already exists as type string (line 3)`},
		{"bool vs float in table", "bucket=t", "", good + "base b=1\n", 400, `"b"`},
		{"field named like a tag", "bucket=t", "", good + "base k=1\n", 400, `"k"`},
		{"tag and field in one line", "bucket=t", "", "newt,x=1 x=1\n", 400, `"x"`},
		{"time column", "bucket=t", "", "newt time=1\n", 400, "time"},
		{"timestamp overflow", "bucket=t&precision=s", "", "newt f=1 9223372036854775807\n", 400, "out of range"},
		{"oversize", "bucket=t", "", big.String(), 413, "limit"},
		{"oversize after gunzip", "bucket=t", "gzip", bigz.String(), 413, "limit"},
		{"gzip garbage", "bucket=t", "gzip", "this is not gzip", 400, "gzip"},
		{"truncated gzip", "bucket=t", "gzip", bigz.String()[:40], 400, "gzip"},
		{"unknown encoding", "bucket=t", "br", good, 415, "Content-Encoding"},
		{"missing bucket", "org=o", "", good, 400, "bucket"},
		{"bad precision", "bucket=t&precision=m", "", good, 400, "precision"},
	} {
		status, body := post(t, ts.URL+"/api/v2/write?"+tc.url, tc.enc, []byte(tc.body))
		if status != tc.status || !strings.Contains(body["message"], tc.msg) || body["code"] == "" {
			t.Errorf("%s: %d %v, want %d and %q", tc.name, status, body, tc.status, tc.msg)
		}
	}
	resp, err := http.Get(ts.URL + "/api/v2/write?bucket=t")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	eq(t, "GET", resp.StatusCode, http.StatusMethodNotAllowed)
	status, _ = post(t, ts.URL+"/api/v2/write?bucket=other", "", []byte("x f=1\ny f=\"s\"\nx f=\"s\"\n"))
	eq(t, "other tenant", status, http.StatusBadRequest)

	// nothing of any bad batch is stored: no new table, tenant or row
	eq(t, "base rows", count(t, db, "t", "base"), int64(1))
	if _, err := db.Columns("t", "newt"); err == nil {
		t.Error("table newt exists after bad batches")
	}
	if _, err := db.Columns("t", "x"); err == nil {
		t.Error("table x exists after bad batches")
	}
	eq(t, "tenants", db.Databases(), dbs)

	// the server keeps serving
	status, _ = post(t, ts.URL+"/api/v2/write?bucket=t", "", []byte(good))
	eq(t, "good after bad", status, http.StatusNoContent)
	eq(t, "rows", query(t, db, "t", "SELECT time, k, f FROM base ORDER BY time"),
		[][]any{{int64(1), "a", 1.0}, {int64(2), "b", 2.0}})
	eq(t, "newt", count(t, db, "t", "newt"), int64(1))
}

// TestWriteReusesBuffers: pooled decode buffers are reused request after
// request; what earlier requests stored must not change.
func TestWriteReusesBuffers(t *testing.T) {
	db, ts := newServer(t, httpapi.Config{})
	var want [][]any
	for i := 0; i < 20; i++ {
		var b bytes.Buffer
		for j := 0; j < 50; j++ {
			k := i*50 + j
			s := strings.Repeat(string(rune('a'+k%26)), 1+k%5)
			fmt.Fprintf(&b, "r,tag=t%d%s s=\"%s\",v=%di %d\n", k%13, s, s, k, k)
			want = append(want, []any{int64(k), fmt.Sprintf("t%d%s", k%13, s), s, int64(k)})
		}
		status, _ := post(t, ts.URL+"/api/v2/write?bucket=reuse", "", b.Bytes())
		eq(t, "status", status, http.StatusNoContent)
	}
	got := query(t, db, "reuse", "SELECT time, tag, s, v FROM r ORDER BY time")
	slices.SortFunc(want, func(a, b []any) int { return int(a[0].(int64) - b[0].(int64)) })
	eq(t, "rows", got, want)
}
