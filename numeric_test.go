package ugnos_test

import (
	"strings"
	"testing"

	"github.com/ugnos/ugnos"
	"github.com/ugnos/ugnos/functions"
)

// TestNumericDescribe: $n parameters used with numeric are numeric, as in
// PostgreSQL (PREPARE … then pg_prepared_statements.parameter_types:
// {numeric,numeric,"double precision",numeric}).
func TestNumericDescribe(t *testing.T) {
	db := openMem(t)
	must(t, db.CreateDatabase("t"))
	_, err := db.Exec(ctx, "t", "CREATE TABLE m (time timestamptz, host text, v double precision, n bigint)")
	must(t, err)
	d, err := db.Describe(ctx, "t", "SELECT $1 + 1.5 AS a, n * $2::numeric(10,2) AS b, sum(n) AS s, avg(v) AS f FROM m WHERE v > $3 AND n < $4 + 0.5 GROUP BY n")
	must(t, err)
	if got, want := strings.Join(d.Params, ","), "numeric,numeric,double precision,numeric"; got != want {
		t.Errorf("params %s, want %s", got, want)
	}
	var cols []string
	for _, c := range d.Columns {
		cols = append(cols, c.Name+":"+c.Type)
	}
	if got, want := strings.Join(cols, ","), "a:numeric,b:numeric,s:numeric,f:double precision"; got != want {
		t.Errorf("columns %s, want %s", got, want)
	}
}

// TestNumericResultSchema: numeric result columns are utf8 arrays of
// PostgreSQL's text, marked with ugnos.type=numeric; FieldType honours it.
func TestNumericResultSchema(t *testing.T) {
	db := openMem(t)
	must(t, db.CreateDatabase("t"))
	rd, err := db.SQL(ctx, "t", "SELECT 1.50 AS x, 'a' AS y, 2 AS z, $1::numeric AS p", functions.DecimalFromInt(7))
	must(t, err)
	defer rd.Release()
	want := []functions.Type{functions.TNumeric, functions.TText, functions.TInt, functions.TNumeric}
	for i, f := range rd.Schema().Fields() {
		got, err := functions.FieldType(f)
		must(t, err)
		if got != want[i] {
			t.Errorf("column %s: %s, want %s", f.Name, got, want[i])
		}
	}
	if !rd.Next() {
		t.Fatal("no rows")
	}
	rec := rd.RecordBatch()
	if got := rec.Column(0).ValueStr(0); got != "1.50" {
		t.Errorf("x = %q, want 1.50", got)
	}
	if got := rec.Column(3).ValueStr(0); got != "7" {
		t.Errorf("p = %q, want 7", got)
	}
}

// TestNumericLiteralPushdown: a decimal literal is numeric, but compared
// with a double field it folds into a double constant, so the zone maps
// still prune.
func TestNumericLiteralPushdown(t *testing.T) {
	db := openMem(t, ugnos.WithSealRows(64))
	low := make([]ugnos.Point, 100) // values 0..99, one sealed batch
	high := make([]ugnos.Point, 100)
	for i := range low {
		low[i] = ugnos.Point{Timestamp: int64(i) * sec, Value: float64(i), Tags: ugnos.TagSet{"h": "a"}}
		high[i] = ugnos.Point{Timestamp: int64(1000+i) * sec, Value: float64(1000 + i), Tags: ugnos.TagSet{"h": "a"}}
	}
	must(t, db.InsertBatch("t", "m", low))
	must(t, db.InsertBatch("t", "m", high))
	got, err := sltRunArgs(db, "SELECT count(*), sum(value) FROM m WHERE value > 500.5")
	must(t, err)
	if strings.Join(got, "") != "100 104950" {
		t.Fatalf("value > 500.5: %v", got)
	}
	plan, err := sltRunArgs(db, "EXPLAIN ANALYZE SELECT count(*) FROM m WHERE value > 500.5")
	must(t, err)
	if text := strings.Join(plan, "\n"); !strings.Contains(text, "prune value in [500.5, +Inf]") || !strings.Contains(text, "pruned=1") {
		t.Fatalf("zone map not used:\n%s", text)
	}
}
