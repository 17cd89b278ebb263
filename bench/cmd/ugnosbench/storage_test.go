package main

import (
	"context"
	"database/sql"
	"fmt"
	"math"
	"path/filepath"
	"testing"
	"time"

	"github.com/ugnos/ugnos"
	"github.com/ugnos/ugnos/bench/ingest"
	"github.com/ugnos/ugnos/bench/tsbs"
)

// TestDuckDBReadsSegments writes TSBS rows into ugnos, moves them to
// segment files (a checkpoint, then late rows in a second one) and has
// DuckDB read the files as they are: row count, rows per host and the sum
// of every field equal what the generator produced.
func TestDuckDBReadsSegments(t *testing.T) {
	cfg := tsbs.Config{Hosts: 10, Start: tsbs.DefaultStart, End: tsbs.DefaultStart.Add(26 * time.Hour), Seed: tsbs.DefaultSeed}
	dir := t.TempDir()
	db, err := ugnos.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	recs := ingest.Records(cfg, 5000, nil)
	half := len(recs) / 2
	for i, r := range recs {
		if i == half {
			if err := db.Checkpoint(context.Background()); err != nil {
				t.Fatal(err)
			}
		}
		if err := db.WriteRecord(context.Background(), "bench", "cpu", r); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.Checkpoint(context.Background()); err != nil {
		t.Fatal(err)
	}
	if m := db.Metrics(); m.Segments < 3 { // two days, two checkpoints
		t.Fatalf("%d segment files", m.Segments)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	// what the generator produced
	g := tsbs.New(cfg)
	var r tsbs.Row
	n := 0
	perHost := map[string]int{}
	var sums [10]float64
	for g.Next(&r) {
		n++
		perHost[r.Tags[0]]++
		for f, v := range r.Fields {
			sums[f] += v
		}
	}

	duck, err := sql.Open("duckdb", "")
	if err != nil {
		t.Fatal(err)
	}
	defer duck.Close()
	from := fmt.Sprintf("read_parquet('%s')", filepath.Join(dir, "segments", "**", "*.parquet"))
	q := "SELECT count(*)"
	for _, f := range tsbs.FieldNames {
		q += ", sum(" + f + ")"
	}
	vals := make([]any, 11)
	ptrs := make([]any, 11)
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	if err := duck.QueryRow(q + " FROM " + from).Scan(ptrs...); err != nil {
		t.Fatal(err)
	}
	if got := vals[0].(int64); got != int64(n) {
		t.Errorf("DuckDB counts %d rows, the generator made %d", got, n)
	}
	for f, name := range tsbs.FieldNames {
		if got := vals[1+f].(float64); math.Abs(got-sums[f]) > 1e-9*math.Abs(sums[f]) {
			t.Errorf("sum(%s): DuckDB %v, generator %v", name, got, sums[f])
		}
	}
	rows, err := duck.Query("SELECT hostname, count(*), min(time), max(time) FROM " + from + " GROUP BY hostname")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	hosts := 0
	for rows.Next() {
		var h string
		var c int64
		var lo, hi time.Time
		if err := rows.Scan(&h, &c, &lo, &hi); err != nil {
			t.Fatal(err)
		}
		hosts++
		if int(c) != perHost[h] {
			t.Errorf("host %s: DuckDB counts %d rows, want %d", h, c, perHost[h])
		}
		if !lo.Equal(cfg.Start) || hi.Before(cfg.End.Add(-time.Minute)) {
			t.Errorf("host %s: times %v .. %v", h, lo, hi)
		}
	}
	if hosts != cfg.Hosts {
		t.Errorf("DuckDB sees %d hosts, want %d", hosts, cfg.Hosts)
	}
}
