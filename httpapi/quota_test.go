package httpapi_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/ugnos/ugnos/httpapi"
)

// TestQuotaHTTP: a database's request size, ingest rate, series and
// result limits over the HTTP API, each refused with its status and a
// message naming the limit; other databases go on; /metrics shows the
// limits, the usage and the refusals.
func TestQuotaHTTP(t *testing.T) {
	db, ts := newServer(t, httpapi.Config{})
	for _, q := range []string{
		"CREATE DATABASE acme",
		"ALTER DATABASE acme SET ugnos.max_request_bytes = '1kB'",
		"ALTER DATABASE acme SET ugnos.max_ingest_rows_per_second = 20",
		"ALTER DATABASE acme SET ugnos.max_series = 3",
		"ALTER DATABASE acme SET ugnos.max_result_rows = 5",
	} {
		if _, err := db.Exec(context.Background(), "postgres", q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	write := func(tenant, body string) (*http.Response, string) {
		t.Helper()
		resp, err := http.Post(ts.URL+"/api/v2/write?bucket="+tenant+"&precision=s", "text/plain", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, string(b)
	}
	lines := func(n int, hosts int) string {
		var sb strings.Builder
		for i := range n {
			fmt.Fprintf(&sb, "cpu,host=h%d v=%d %d\n", i%hosts, i, 1700000000+i)
		}
		return sb.String()
	}
	// request size: 413 naming the limit, nothing written
	big := lines(60, 1)
	resp, body := write("acme", big)
	if resp.StatusCode != http.StatusRequestEntityTooLarge || !strings.Contains(body, "ugnos.max_request_bytes") || !strings.Contains(body, `\"acme\"`) {
		t.Fatalf("big body: %d %s", resp.StatusCode, body)
	}
	if resp, body := write("other", big); resp.StatusCode != http.StatusNoContent {
		t.Fatalf("other database: %d %s", resp.StatusCode, body)
	}
	// ingest rate: 15 rows fit, the next 15 do not (429, Retry-After)
	if resp, body := write("acme", lines(15, 2)); resp.StatusCode != http.StatusNoContent {
		t.Fatalf("first write: %d %s", resp.StatusCode, body)
	}
	resp, body = write("acme", lines(15, 2))
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") == "" || !strings.Contains(body, "ugnos.max_ingest_rows_per_second") {
		t.Fatalf("over the rate: %d %q %s", resp.StatusCode, resp.Header.Get("Retry-After"), body)
	}
	if n := count(t, db, "acme", "cpu"); n != 15 {
		t.Fatalf("rows: %d, want 15", n)
	}
	// series: a fourth is refused, nothing of the request written
	if _, err := db.Exec(context.Background(), "postgres", "ALTER DATABASE acme RESET ugnos.max_ingest_rows_per_second"); err != nil {
		t.Fatal(err)
	}
	resp, body = write("acme", lines(4, 4))
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(body, "ugnos.max_series") {
		t.Fatalf("fourth series: %d %s", resp.StatusCode, body)
	}
	if n := count(t, db, "acme", "cpu"); n != 15 {
		t.Fatalf("rows: %d, want 15", n)
	}
	// over several measurements: a known series of cpu and two new ones
	// of mem are refused together, one new one fits
	resp, body = write("acme", "cpu,host=h0 v=1 1\nmem,host=x v=1 1\nmem,host=y v=1 1\n")
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(body, "ugnos.max_series") {
		t.Fatalf("two new series in a second measurement: %d %s", resp.StatusCode, body)
	}
	if n := count(t, db, "acme", "cpu"); n != 15 {
		t.Fatalf("rows: %d, want 15", n)
	}
	if resp, body := write("acme", "cpu,host=h1 v=1 2\nmem,host=x v=1 1\nmem,host=x v=2 2\n"); resp.StatusCode != http.StatusNoContent {
		t.Fatalf("one new series: %d %s", resp.StatusCode, body)
	}
	// result rows: 54000, 400 with the limit named
	resp, body = getQuery(t, ts, "acme", "SELECT * FROM cpu", "")
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(body, "ugnos.max_result_rows") || !strings.Contains(body, "54000") {
		t.Fatalf("result over the limit: %d %s", resp.StatusCode, body)
	}
	if resp, body := getQuery(t, ts, "other", "SELECT * FROM cpu", ""); resp.StatusCode != http.StatusOK {
		t.Fatalf("other database's query: %d %s", resp.StatusCode, body)
	}
	// a query body over the request size limit
	longQ := "SELECT 1" + strings.Repeat(" ", 2000)
	for _, u := range []string{"/api/v1/query?db=acme", "/api/v1/query"} {
		body := longQ
		ct := "text/plain"
		if !strings.Contains(u, "db=") {
			body, ct = `{"db": "acme", "q": "`+longQ+`"}`, "application/json"
		}
		resp, err := http.Post(ts.URL+u, ct, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusRequestEntityTooLarge || !strings.Contains(string(b), "ugnos.max_request_bytes") {
			t.Fatalf("long query body to %s: %d %s", u, resp.StatusCode, b)
		}
	}
	// healthy
	if resp, err := http.Get(ts.URL + "/health"); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("/health: %v %v", resp, err)
	}
	// /metrics
	resp, err := http.Get(ts.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	m, _ := io.ReadAll(resp.Body)
	for _, want := range []string{
		`ugnos_quota_limit{limit="ugnos.max_series",tenant="acme"} 3`,
		`ugnos_quota_limit{limit="ugnos.max_request_bytes",tenant="acme"} 1024`,
		`ugnos_quota_usage{limit="ugnos.max_series",tenant="acme"} 3`,
		`ugnos_quota_rejections_total{limit="ugnos.max_series",tenant="acme"} 2`,
		`ugnos_quota_rejections_total{limit="ugnos.max_ingest_rows_per_second",tenant="acme"} 1`,
		`ugnos_quota_rejections_total{limit="ugnos.max_request_bytes",tenant="acme"} 3`,
		`ugnos_quota_rejections_total{limit="ugnos.max_result_rows",tenant="acme"} 1`,
	} {
		if !strings.Contains(string(m), want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
}
