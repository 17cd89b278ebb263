package ugnos_test

import (
	"context"
	"errors"
	"math"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/ugnos/ugnos"
)

// metricRows runs a query over ugnos.metrics and returns value by
// name and labels.
func metricRows(t *testing.T, db *ugnos.DB, tenant, q string) map[string]float64 {
	t.Helper()
	rd, err := db.SQL(context.Background(), tenant, q)
	if err != nil {
		t.Fatal(err)
	}
	defer rd.Release()
	out := map[string]float64{}
	for rd.Next() {
		rec := rd.RecordBatch()
		name := rec.Column(0).(*array.String)
		labels := rec.Column(1).(*array.String)
		val := rec.Column(2).(*array.Float64)
		for i := 0; i < int(rec.NumRows()); i++ {
			k := name.Value(i)
			if labels.Value(i) != "" {
				k += "{" + labels.Value(i) + "}"
			}
			out[k] = val.Value(i)
		}
	}
	if err := rd.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestMetricsSystemTable(t *testing.T) {
	db, err := ugnos.Open("")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctx := context.Background()
	if err := db.InsertBatch("acme", "cpu", []ugnos.Point{
		{Timestamp: 1, Value: 1, Tags: ugnos.TagSet{"host": "a"}},
		{Timestamp: 2, Value: 2, Tags: ugnos.TagSet{"host": "bb"}},
	}); err != nil {
		t.Fatal(err)
	}
	// a record of 3 rows: time (8 bytes each), a tag of 1-byte values, an
	// int64 field
	mem := memory.NewGoAllocator()
	schema := arrow.NewSchema([]arrow.Field{
		{Name: "time", Type: arrow.FixedWidthTypes.Timestamp_ns},
		{Name: "dc", Type: arrow.BinaryTypes.String},
		{Name: "n", Type: arrow.PrimitiveTypes.Int64},
	}, nil)
	b := array.NewRecordBuilder(mem, schema)
	b.Field(0).(*array.TimestampBuilder).AppendValues([]arrow.Timestamp{1, 2, 3}, nil)
	b.Field(1).(*array.StringBuilder).AppendValues([]string{"x", "y", "z"}, nil)
	b.Field(2).(*array.Int64Builder).AppendValues([]int64{1, 2, 3}, nil)
	rec := b.NewRecordBatch()
	b.Release()
	if err := db.WriteRecord(ctx, "other", "mem", rec); err != nil {
		t.Fatal(err)
	}
	rec.Release()
	if err := db.Insert("acme", "cpu", 3, math.NaN(), nil); err == nil {
		t.Fatal("NaN accepted")
	}
	if _, err := db.SQL(ctx, "acme", "SELECT * FROM nope"); err == nil {
		t.Fatal("missing table accepted")
	}

	m := db.Metrics()
	acme, other := m.PerTenant["acme"], m.PerTenant["other"]
	if acme.Series != 2 || acme.Points != 2 || acme.IngestedRows != 2 || acme.IngestedBytes != 2*16+3 || acme.Tables != 1 {
		t.Errorf("acme = %+v", acme)
	}
	if other.Series != 3 || other.Points != 3 || other.IngestedRows != 3 || other.IngestedBytes != 3*(8+1+8) {
		t.Errorf("other = %+v", other)
	}
	if _, ok := m.PerTenant["postgres"]; !ok {
		t.Errorf("no figures for postgres: %v", m.PerTenant)
	}
	if m.WriteErrors["invalid"] != 1 || m.QueryErrors["not_found"] != 1 || m.WriteDurations.Count != 3 {
		t.Errorf("write errors %v, query errors %v, writes timed %d", m.WriteErrors, m.QueryErrors, m.WriteDurations.Count)
	}

	rows := metricRows(t, db, "postgres", "SELECT name, labels, value FROM ugnos.metrics")
	for k, want := range map[string]float64{
		"ugnos_points":                                      5,
		"ugnos_series":                                      5,
		`ugnos_tenant_series{tenant="acme"}`:                2,
		`ugnos_tenant_points{tenant="other"}`:               3,
		`ugnos_tenant_ingested_rows_total{tenant="acme"}`:   2,
		`ugnos_tenant_ingested_bytes_total{tenant="other"}`: 51,
		`ugnos_write_errors_total{kind="invalid"}`:          1,
		`ugnos_query_errors_total{kind="not_found"}`:        1,
		"ugnos_write_duration_seconds_count":                3,
		`ugnos_write_duration_seconds_bucket{le="+Inf"}`:    3,
		"ugnos_queries_running":                             1, // this query
	} {
		if got, ok := rows[k]; !ok || got != want {
			t.Errorf("%s = %v (present %v), want %v", k, got, ok, want)
		}
	}
	if _, ok := rows["ugnos_wal_fsync_duration_seconds_count"]; !ok {
		t.Error("no ugnos_wal_fsync_duration_seconds_count row")
	}
	if n := db.Metrics().QueriesRunning; n != 0 {
		t.Errorf("queries running after release = %d", n)
	}

	// the tenant column, filters and aggregates work as on any relation
	rd, err := db.SQL(ctx, "acme", "SELECT tenant, sum(value) FROM ugnos.metrics WHERE name = 'ugnos_tenant_points' GROUP BY tenant ORDER BY tenant")
	if err != nil {
		t.Fatal(err)
	}
	defer rd.Release()
	var got []string
	for rd.Next() {
		r := rd.RecordBatch()
		for i := 0; i < int(r.NumRows()); i++ {
			got = append(got, r.Column(0).(*array.String).Value(i)+"="+r.Column(1).ValueStr(i))
		}
	}
	if want := []string{"acme=2", "other=3", "postgres=0"}; len(got) != 3 || got[0] != want[0] || got[1] != want[1] || got[2] != want[2] {
		t.Errorf("per-tenant points = %v, want %v", got, want)
	}

	// unqualified, the name is a user table's
	if _, err := db.SQL(ctx, "acme", "SELECT * FROM metrics"); !errors.Is(err, ugnos.ErrNotFound) {
		t.Errorf("unqualified metrics: %v", err)
	}
	if _, err := db.SQL(ctx, "acme", "SELECT * FROM ugnos.nope"); !errors.Is(err, ugnos.ErrNotFound) {
		t.Errorf("ugnos.nope: %v", err)
	}
}
