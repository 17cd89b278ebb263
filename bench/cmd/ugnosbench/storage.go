package main

import (
	"context"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/parquet/file"

	"github.com/ugnos/ugnos"
	"github.com/ugnos/ugnos/bench/ingest"
	"github.com/ugnos/ugnos/bench/tsbs"
)

// runStorage measures the on-disk tier: ingest into memory only vs with a
// memory limit (checkpoints and compaction running), bytes per metric per
// column of the segment files against DuckDB's own zstd Parquet export,
// DuckDB reading the segment files, and the TSBS queries over segments
// against the same queries over memory.
func runStorage(args []string) {
	fs := flag.NewFlagSet("storage", flag.ExitOnError)
	hosts := fs.Int("hosts", 100, "hosts (scale)")
	dur := fs.Duration("duration", 24*time.Hour, "time span")
	batch := fs.Int("batch", 10000, "rows per write call")
	writers := fs.Int("writers", 4, "concurrent writers")
	runs := fs.Int("runs", 3, "runs per ingest mode (median)")
	limit := fs.Int64("memory-limit", 16<<20, "memory limit of the on-disk runs, bytes")
	dir := fs.String("dir", "../../shared/bench/tsbs-cpu-only", "directory of the query files")
	qruns := fs.Int("qruns", 9, "timed runs per query (median)")
	peer := fs.Bool("duckdb", true, "compare with DuckDB's Parquet export and read the segments with DuckDB")
	fs.Parse(args)
	cfg := tsbs.Config{Hosts: *hosts, Start: tsbs.DefaultStart, End: tsbs.DefaultStart.Add(*dur), Seed: tsbs.DefaultSeed}
	parts := make([][]arrow.RecordBatch, *writers)
	for w := range parts {
		parts[w] = ingest.Records(cfg, *batch, func(h int) bool { return h%*writers == w })
	}
	rows := 0
	for _, p := range parts {
		for _, r := range p {
			rows += int(r.NumRows())
		}
	}
	metrics := rows * len(tsbs.FieldNames)
	fmt.Printf("ugnosbench storage: TSBS cpu-only, %d hosts, %v (%d rows, %d metrics), %d writers, GOMAXPROCS %d\n",
		*hosts, *dur, rows, metrics, *writers, runtime.GOMAXPROCS(0))

	// ingest: memory tier only vs flushing and compacting
	var mem, disk []float64
	var keep string
	for run := 0; run < *runs; run++ {
		el, _ := ingestInto(parts, nil)
		mem = append(mem, float64(rows)/el.Seconds())
		d, err := os.MkdirTemp("", "ugnosbench-storage")
		check(err)
		el, st := ingestInto(parts, &d, ugnos.WithMemoryLimit(*limit))
		disk = append(disk, float64(rows)/el.Seconds())
		fmt.Printf("  run %d: memory %.0f rows/s; with a %d MiB limit %.0f rows/s (%d checkpoints, %d compactions during ingest)\n",
			run+1, mem[run], *limit>>20, disk[run], st.Checkpoints, st.Compactions)
		if run == *runs-1 {
			keep = d
		} else {
			os.RemoveAll(d)
		}
	}
	defer os.RemoveAll(keep)
	fmt.Printf("\ningest, WAL fsynced, in-memory tier only:            median %9.0f rows/s (runs %s)\n", median(mem), spread(mem))
	fmt.Printf("ingest with a %3d MiB memory limit (flush + compact): median %9.0f rows/s (runs %s)   %.0f%% of in-memory, target >= 80%%\n",
		*limit>>20, median(disk), spread(disk), 100*median(disk)/median(mem))

	// bytes on disk, per column
	db, err := ugnos.Open(keep)
	check(err)
	defer db.Close()
	check(db.Checkpoint(context.Background()))
	check(db.Compact(context.Background()))
	m := db.Metrics()
	segDir := filepath.Join(keep, "segments")
	ucols, ufiles, ubytes := parquetColumns(segDir)
	fmt.Printf("\nugnos segments: %d files, %.2f MB, %d rows: %.3f bytes per metric (%.2f bytes per row)   target <= 0.9 and below DuckDB\n",
		ufiles, float64(ubytes)/1e6, m.DiskRows, float64(ubytes)/float64(metrics), float64(ubytes)/float64(rows))
	var dcols map[string]int64
	var dbytes int64
	var duck *duckDB
	if *peer {
		duck, err = openDuck(cfg)
		check(err)
		tmp, err := os.MkdirTemp("", "ugnosbench-duckexport")
		check(err)
		defer os.RemoveAll(tmp)
		_, err = duck.db.Exec(fmt.Sprintf("COPY cpu TO '%s' (FORMAT PARQUET, COMPRESSION ZSTD)", filepath.Join(tmp, "cpu.parquet")))
		check(err)
		dcols, _, dbytes = parquetColumns(tmp)
		fmt.Printf("DuckDB zstd Parquet export:      %.2f MB: %.3f bytes per metric; ugnos / DuckDB %.2f\n",
			float64(dbytes)/1e6, float64(dbytes)/float64(metrics), float64(ubytes)/float64(dbytes))
	}
	names := make([]string, 0, len(ucols))
	for n := range ucols {
		names = append(names, n)
	}
	sort.Slice(names, func(i, j int) bool { return ucols[names[i]] > ucols[names[j]] })
	fmt.Printf("%-22s %12s %12s   (bytes per metric: column bytes / %d metrics)\n", "column", "ugnos", "duckdb", metrics)
	for _, n := range names {
		d := "-"
		if dcols != nil {
			d = fmt.Sprintf("%.4f", float64(dcols[n])/float64(metrics))
		}
		fmt.Printf("%-22s %12.4f %12s\n", n, float64(ucols[n])/float64(metrics), d)
	}

	if duck != nil {
		// DuckDB reads the segment files: same counts and sums as its own table
		q := "SELECT count(*), count(DISTINCT hostname)"
		for _, f := range tsbs.FieldNames {
			q += ", sum(" + f + ")"
		}
		var a, b []any
		a, err = duckRow(duck, q+" FROM read_parquet('"+segDir+"/**/*.parquet')")
		check(err)
		b, err = duckRow(duck, q+" FROM cpu")
		check(err)
		same := fmt.Sprint(a) == fmt.Sprint(b)
		fmt.Printf("\nDuckDB over the segment files: count, hosts and 10 sums %v; equal to DuckDB's own table: %v\n", a[:2], same)
	}

	// queries: segments only vs memory
	files, err := filepath.Glob(filepath.Join(*dir, "*.sql"))
	check(err)
	sort.Strings(files)
	memDB, err := ugnos.Open("")
	check(err)
	defer memDB.Close()
	for _, p := range parts {
		for _, r := range p {
			check(memDB.WriteRecord(context.Background(), "bench", "cpu", r))
		}
	}
	fmt.Printf("\n%-24s %12s %12s %8s   (median of %d warm runs; target: segments within 2x of memory)\n", "query", "memory ms", "segments ms", "ratio", *qruns)
	var worst float64
	for _, f := range files {
		b, err := os.ReadFile(f)
		check(err)
		q := string(b)
		mm, _, err := timeIt(*qruns, func() (int, error) { return ugnosQuery(memDB, q) })
		check(err)
		sm, _, err := timeIt(*qruns, func() (int, error) { return ugnosQuery(db, q) })
		check(err)
		worst = max(worst, sm/mm)
		fmt.Printf("%-24s %12.2f %12.2f %8.2f\n", strings.TrimSuffix(filepath.Base(f), ".sql"), mm, sm, sm/mm)
	}
	fmt.Printf("worst ratio %.2f\n", worst)
}

// ingestInto writes the parts concurrently into a fresh database (in a
// temporary directory, or *dir when given) and returns the time until the
// last write was acknowledged.
func ingestInto(parts [][]arrow.RecordBatch, dir *string, opts ...ugnos.Option) (time.Duration, ugnos.Metrics) {
	d := ""
	if dir != nil {
		d = *dir
	} else {
		tmp, err := os.MkdirTemp("", "ugnosbench-storage")
		check(err)
		defer os.RemoveAll(tmp)
		d = tmp
	}
	db, err := ugnos.Open(d, opts...)
	check(err)
	defer db.Close()
	runtime.GC()
	el := writeParts(db, parts)
	return el, db.Metrics()
}

// parquetColumns sums the compressed bytes per column of the Parquet files
// under dir (column chunks, without footers) and the files' total size.
func parquetColumns(dir string) (map[string]int64, int, int64) {
	cols := map[string]int64{}
	n := 0
	var total int64
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(p, ".parquet") {
			return nil
		}
		st, err := os.Stat(p)
		check(err)
		total += st.Size()
		n++
		pf, err := file.OpenParquetFile(p, false)
		check(err)
		defer pf.Close()
		md := pf.MetaData()
		for rg := 0; rg < md.NumRowGroups(); rg++ {
			r := md.RowGroup(rg)
			for c := 0; c < r.NumColumns(); c++ {
				cc, err := r.ColumnChunk(c)
				check(err)
				cols[md.Schema.Column(c).Name()] += cc.TotalCompressedSize()
			}
		}
		return nil
	})
	return cols, n, total
}

// duckRow runs a query returning one row.
func duckRow(d *duckDB, q string) ([]any, error) {
	rows, err := d.db.Query(q)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	cols, _ := rows.Columns()
	vals := make([]any, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	if !rows.Next() {
		return nil, fmt.Errorf("no row")
	}
	if err := rows.Scan(ptrs...); err != nil {
		return nil, err
	}
	return vals, rows.Err()
}
