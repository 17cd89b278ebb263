package httpapi_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/ugnos/ugnos"
	"github.com/ugnos/ugnos/httpapi"
)

// scrape parses /metrics with the Prometheus text parser and returns the
// families and the values by name{label="value"} (histograms and
// summaries by their _count and _sum).
func scrape(t *testing.T, ts *httptest.Server) (map[string]*dto.MetricFamily, map[string]float64) {
	t.Helper()
	resp, err := http.Get(ts.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain; version=0.0.4") {
		t.Fatalf("/metrics: %d %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	vals := map[string]float64{}
	for name, f := range fams {
		for _, m := range f.GetMetric() {
			key := name
			for _, l := range m.GetLabel() {
				key += "{" + l.GetName() + `="` + l.GetValue() + `"}`
			}
			switch f.GetType() {
			case dto.MetricType_COUNTER:
				vals[key] = m.GetCounter().GetValue()
			case dto.MetricType_GAUGE:
				vals[key] = m.GetGauge().GetValue()
			case dto.MetricType_HISTOGRAM:
				vals[key+"_count"] = float64(m.GetHistogram().GetSampleCount())
				vals[key+"_sum"] = m.GetHistogram().GetSampleSum()
			case dto.MetricType_SUMMARY:
				vals[key+"_count"] = float64(m.GetSummary().GetSampleCount())
				vals[key+"_sum"] = m.GetSummary().GetSampleSum()
			}
		}
	}
	return fams, vals
}

func TestMetricsEndpoint(t *testing.T) {
	db, err := ugnos.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ts := httptest.NewServer(httpapi.New(db, httpapi.Config{}))
	defer ts.Close()

	fams, before := scrape(t, ts)
	for name, typ := range map[string]dto.MetricType{
		"ugnos_points": dto.MetricType_GAUGE, "ugnos_series": dto.MetricType_GAUGE, "ugnos_memory_bytes": dto.MetricType_GAUGE,
		"ugnos_segments": dto.MetricType_GAUGE, "ugnos_segment_bytes": dto.MetricType_GAUGE, "ugnos_storage_bytes": dto.MetricType_GAUGE,
		"ugnos_queries_running": dto.MetricType_GAUGE, "ugnos_checkpoints_total": dto.MetricType_COUNTER,
		"ugnos_compactions_total": dto.MetricType_COUNTER, "ugnos_query_duration_seconds": dto.MetricType_HISTOGRAM,
		"ugnos_write_duration_seconds": dto.MetricType_HISTOGRAM, "ugnos_wal_fsync_duration_seconds": dto.MetricType_SUMMARY,
		"ugnos_query_errors_total": dto.MetricType_COUNTER, "ugnos_write_errors_total": dto.MetricType_COUNTER,
		"ugnos_tenant_series": dto.MetricType_GAUGE, "ugnos_tenant_ingested_rows_total": dto.MetricType_COUNTER,
		"ugnos_tenant_ingested_bytes_total": dto.MetricType_COUNTER,
	} {
		if f := fams[name]; f == nil || f.GetType() != typ || f.GetHelp() == "" {
			t.Errorf("%s: %v, want type %v with help", name, f, typ)
		}
	}
	for _, name := range []string{"go_goroutines", "process_cpu_seconds_total"} {
		if fams[name] != nil {
			t.Errorf("%s exposed: the registry is not ugnos's own", name)
		}
	}

	// writes move the per-tenant and write figures
	for i, host := range []string{"a", "b", "a"} {
		if err := db.Insert("acme", "cpu", int64(i+1)*1e9, float64(i), ugnos.TagSet{"host": host}); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.InsertBatch("other", "mem", []ugnos.Point{{Timestamp: 1, Value: 1}}); err != nil {
		t.Fatal(err)
	}
	if err := db.Insert("acme", "cpu", 1, 0, ugnos.TagSet{"host": ""}); err != nil {
		t.Fatal(err)
	}
	if err := db.Insert("", "cpu", 1, 0, nil); err == nil {
		t.Fatal("empty tenant accepted")
	}
	// queries move the query figures: one through the API, one failing
	if resp, body := getQuery(t, ts, "acme", "SELECT count(*) FROM cpu", ""); resp.StatusCode != 200 {
		t.Fatalf("query: %d %s", resp.StatusCode, body)
	}
	if resp, _ := getQuery(t, ts, "acme", "SELECT * FROM nope", ""); resp.StatusCode != 400 {
		t.Fatalf("missing table: %d", resp.StatusCode)
	}
	_, after := scrape(t, ts)
	for key, want := range map[string]float64{
		"ugnos_points": 5, "ugnos_series": 4, "ugnos_tables": 2,
		`ugnos_tenant_series{tenant="acme"}`:                     3,
		`ugnos_tenant_series{tenant="other"}`:                    1,
		`ugnos_tenant_points{tenant="acme"}`:                     4,
		`ugnos_tenant_ingested_rows_total{tenant="acme"}`:        4,
		`ugnos_tenant_ingested_rows_total{tenant="other"}`:       1,
		`ugnos_tenant_ingested_bytes_total{tenant="other"}`:      16,
		`ugnos_tenant_ingested_bytes_total{tenant="acme"}`:       4*16 + 3,
		`ugnos_tenant_series{tenant="postgres"}`:                 0,
		`ugnos_write_errors_total{kind="invalid"}`:               1,
		`ugnos_query_errors_total{kind="not_found"}`:             1,
		"ugnos_write_duration_seconds_count":                     6,
		"ugnos_query_duration_seconds_count":                     before["ugnos_query_duration_seconds_count"] + 1,
		"ugnos_queries_total":                                    before["ugnos_queries_total"] + 1,
		"ugnos_queries_running":                                  0,
		`ugnos_http_requests_total{code="200"}{handler="query"}`: 1,
		`ugnos_http_requests_total{code="400"}{handler="query"}`: 1,
		"ugnos_wal_fsync_duration_seconds_count":                 after["ugnos_wal_syncs_total"],
	} {
		if got, ok := after[key]; !ok || got != want {
			t.Errorf("%s = %v (present %v), want %v", key, got, ok, want)
		}
	}
	if after["ugnos_wal_syncs_total"] < 5 || after["ugnos_wal_fsync_duration_seconds_sum"] <= 0 {
		t.Errorf("fsyncs %v taking %v s", after["ugnos_wal_syncs_total"], after["ugnos_wal_fsync_duration_seconds_sum"])
	}
	if after[`ugnos_storage_bytes{tier="memory"}`] <= 0 || after[`ugnos_storage_bytes{tier="memory"}`] != after["ugnos_memory_bytes"] {
		t.Errorf("memory tier %v, ugnos_memory_bytes %v", after[`ugnos_storage_bytes{tier="memory"}`], after["ugnos_memory_bytes"])
	}

	// a checkpoint moves rows to segment files: the disk tier and the
	// checkpoint counter move
	if err := db.Checkpoint(context.Background()); err != nil {
		t.Fatal(err)
	}
	_, ck := scrape(t, ts)
	if ck["ugnos_checkpoints_total"] != after["ugnos_checkpoints_total"]+1 || ck[`ugnos_storage_bytes{tier="disk"}`] <= 0 ||
		ck["ugnos_segments"] < 2 || ck[`ugnos_tenant_segment_bytes{tenant="acme"}`] <= 0 {
		t.Errorf("after a checkpoint: checkpoints %v, disk %v, segments %v, acme segment bytes %v", ck["ugnos_checkpoints_total"],
			ck[`ugnos_storage_bytes{tier="disk"}`], ck["ugnos_segments"], ck[`ugnos_tenant_segment_bytes{tenant="acme"}`])
	}

	// the SQL relation carries the same figures
	resp, body := getQuery(t, ts, "postgres", "SELECT value FROM ugnos.metrics WHERE name = 'ugnos_tenant_ingested_rows_total' AND tenant = 'acme'", "text/csv")
	if resp.StatusCode != 200 || body != "value\r\n4\r\n" {
		t.Errorf("ugnos.metrics over the query API: %d %q", resp.StatusCode, body)
	}
}
