package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
	"github.com/jackc/pgx/v5"

	"github.com/ugnos/ugnos"
)

// ugnosCmd runs the binary and returns its stdout, stderr and exit code.
func ugnosCmd(t *testing.T, dir string, args ...string) (string, string, int) {
	t.Helper()
	cmd := exec.Command(binary, args...)
	cmd.Dir = dir
	cmd.Env = cleanEnv()
	var out, errb strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		return out.String(), errb.String(), ee.ExitCode()
	case err != nil:
		t.Fatal(err)
	}
	return out.String(), errb.String(), 0
}

// sqlRows runs a query on a data directory and returns its rows as text,
// one "|"-joined line per row.
func sqlRows(t *testing.T, dataDir, tenant, q string) []string {
	t.Helper()
	db, err := ugnos.Open(dataDir)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rd, err := db.SQL(context.Background(), tenant, q)
	if err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	defer rd.Release()
	var rows []string
	for rd.Next() {
		rec := rd.RecordBatch()
		for r := 0; r < int(rec.NumRows()); r++ {
			var cells []string
			for _, c := range rec.Columns() {
				cells = append(cells, csvCell(c, r))
			}
			rows = append(rows, strings.Join(cells, "|"))
		}
	}
	if err := rd.Err(); err != nil {
		t.Fatal(err)
	}
	return rows
}

func equalRows(t *testing.T, what string, got, want []string) {
	t.Helper()
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("%s:\n got %q\nwant %q", what, got, want)
	}
}

const testCSV = `time,host,usage,count,ok,note
2026-01-01T00:00:00Z,a,1.5,3,true,first
2026-01-01 00:00:01.25+00,b,-2,4,false,
1767225602000000000,a,,5,t,"with, comma"
`

func TestImportCSVDataDir(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "cpu.csv"), []byte(testCSV), 0o644)
	_, stderr, code := ugnosCmd(t, dir, "import", "--data-dir", "data", "--db", "acme", "--types", "note=text", "--batch", "1", "--progress-interval", "1ns", "cpu.csv")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	equalRows(t, "rows", sqlRows(t, filepath.Join(dir, "data"), "acme",
		`SELECT time, host, usage, count, ok, note FROM cpu ORDER BY time`), []string{
		"2026-01-01 00:00:00+00|a|1.5|3|t|first",
		"2026-01-01 00:00:01.25+00|b|-2|4|f|",
		"2026-01-01 00:00:02+00|a||5|t|with, comma",
	})
	db, err := ugnos.Open(filepath.Join(dir, "data"))
	if err != nil {
		t.Fatal(err)
	}
	cols, err := db.Columns("acme", "cpu")
	db.Close()
	var kinds []string
	for _, c := range cols {
		kinds = append(kinds, c.Name+" "+c.Kind.String()+" "+c.ArrowType().String())
	}
	if got, want := strings.Join(kinds, ", "), "time time timestamp[ns, tz=UTC], host tag dictionary<values=utf8, indices=int32, ordered=false>, usage field float64, count field int64, ok field bool, note field utf8"; got != want || err != nil {
		t.Errorf("columns %q, want %q (%v)", got, want, err)
	}
	// stderr is no terminal here: plain log lines, no bar.
	if !strings.Contains(stderr, `msg="import progress" file=cpu.csv rows=`) || !strings.Contains(stderr, `msg="import done" file=cpu.csv rows=3`) {
		t.Errorf("no progress log lines:\n%s", stderr)
	}
	if strings.ContainsAny(stderr, "\r\x1b") {
		t.Errorf("terminal control characters in non-terminal output: %q", stderr)
	}
	// host is a tag: it has an index and filters by it.
	equalRows(t, "tag filter", sqlRows(t, filepath.Join(dir, "data"), "acme", `SELECT count(*) FROM cpu WHERE host = 'a'`), []string{"2"})
}

func TestImportCSVBadRow(t *testing.T) {
	dir := t.TempDir()
	var b strings.Builder
	b.WriteString("time,host,usage\n")
	for i := 0; i < 1500; i++ { // past the inference sample and several batches
		fmt.Fprintf(&b, "%d,h%d,%d.5\n", int64(i)*1e9, i%3, i)
	}
	b.WriteString("2026-01-01T00:00:00Z,a,not-a-number\n") // line 1502
	os.WriteFile(filepath.Join(dir, "bad.csv"), []byte(b.String()), 0o644)
	_, stderr, code := ugnosCmd(t, dir, "import", "--data-dir", "data", "--db", "acme", "--batch", "100", "bad.csv")
	if code != 1 {
		t.Fatalf("exit %d, want 1: %s", code, stderr)
	}
	if !strings.Contains(stderr, "bad.csv: line 1502: column \"usage\": invalid double precision \"not-a-number\"") {
		t.Errorf("message does not name the line:\n%s", stderr)
	}
	db, err := ugnos.Open(filepath.Join(dir, "data"))
	if err != nil {
		t.Fatal(err)
	}
	if cols, err := db.Columns("acme", "bad"); err == nil {
		t.Errorf("the bad file left a table %v", cols)
	}
	db.Close()

	// A row with too many fields.
	os.WriteFile(filepath.Join(dir, "short.csv"), []byte("time,v\n1,2\n3,4,5\n"), 0o644)
	if _, stderr, code := ugnosCmd(t, dir, "import", "--data-dir", "data", "short.csv"); code != 1 || !strings.Contains(stderr, "short.csv: line 3: wrong number of fields") {
		t.Errorf("exit %d: %s", code, stderr)
	}
	// Usage errors exit 2.
	for _, args := range [][]string{{"import"}, {"import", "--format", "xml", "a.csv"}, {"import", "a.unknown"}, {"import", "--types", "x", "a.csv"}} {
		if _, stderr, code := ugnosCmd(t, dir, args...); code != 2 {
			t.Errorf("%q: exit %d, want 2: %s", args, code, stderr)
		}
	}
}

// writeParquetFile writes a record to a Parquet file.
func writeParquetFile(t *testing.T, path string, rec arrow.RecordBatch) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w, err := pqarrow.NewFileWriter(rec.Schema(), f, nil, pqarrow.DefaultWriterProps())
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Write(rec); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestImportParquetDataDir(t *testing.T) {
	dir := t.TempDir()
	sc := arrow.NewSchema([]arrow.Field{
		{Name: "ts", Type: &arrow.TimestampType{Unit: arrow.Millisecond, TimeZone: "UTC"}},
		{Name: "host", Type: arrow.BinaryTypes.String, Nullable: true},
		{Name: "v", Type: arrow.PrimitiveTypes.Float64, Nullable: true},
		{Name: "n", Type: arrow.PrimitiveTypes.Int32, Nullable: true},
		{Name: "up", Type: arrow.FixedWidthTypes.Boolean, Nullable: true},
	}, nil)
	b := array.NewRecordBuilder(memory.DefaultAllocator, sc)
	defer b.Release()
	b.Field(0).(*array.TimestampBuilder).AppendValues([]arrow.Timestamp{1767225600000, 1767225600500, 1767225601000}, nil)
	b.Field(1).(*array.StringBuilder).AppendValues([]string{"a", "b", ""}, []bool{true, true, false})
	b.Field(2).(*array.Float64Builder).AppendValues([]float64{0.25, 1e10, 0}, []bool{true, true, false})
	b.Field(3).(*array.Int32Builder).AppendValues([]int32{-1, 2, 3}, nil)
	b.Field(4).(*array.BooleanBuilder).AppendValues([]bool{true, false, true}, nil)
	rec := b.NewRecordBatch()
	defer rec.Release()
	writeParquetFile(t, filepath.Join(dir, "m.parquet"), rec)
	if _, stderr, code := ugnosCmd(t, dir, "import", "--data-dir", "data", "--db", "acme", "--table", "metrics", "--time-column", "ts", "--batch", "2", "m.parquet"); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	equalRows(t, "rows", sqlRows(t, filepath.Join(dir, "data"), "acme", `SELECT time, host, v, n, up FROM metrics ORDER BY time`), []string{
		"2026-01-01 00:00:00+00|a|0.25|-1|t",
		"2026-01-01 00:00:00.5+00|b|1e+10|2|f",
		"2026-01-01 00:00:01+00|||3|t",
	})
}

// seedExport writes a table to a fresh data directory.
func seedExport(t *testing.T, dataDir string) {
	t.Helper()
	db, err := ugnos.Open(dataDir)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctx := context.Background()
	db.CreateDatabase("acme")
	for _, q := range []string{
		`CREATE TABLE cpu (time timestamptz, host text, usage double precision, n bigint, ok boolean, note varchar)`,
		`INSERT INTO cpu VALUES ('2026-01-01 00:00:00+00', 'a', 1.5, 1, true, 'x'),
			('2026-01-01 00:00:00.000001+00', 'b', NULL, -7, false, 'q"uote'),
			('2026-01-01 00:00:02+00', 'a', 3.25, NULL, NULL, NULL)`,
	} {
		if _, err := db.Exec(ctx, "acme", q); err != nil {
			t.Fatal(err)
		}
	}
}

var exportedCSV = `time,host,usage,n,ok,note
2026-01-01 00:00:00+00,a,1.5,1,t,x
2026-01-01 00:00:00.000001+00,b,,-7,f,"q""uote"
2026-01-01 00:00:02+00,a,3.25,,,
`

func TestExportDataDir(t *testing.T) {
	dir := t.TempDir()
	seedExport(t, filepath.Join(dir, "data"))
	if _, stderr, code := ugnosCmd(t, dir, "export", "--data-dir", "data", "--db", "acme", "--table", "cpu", "-o", "out.csv"); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	got, _ := os.ReadFile(filepath.Join(dir, "out.csv"))
	if string(got) != exportedCSV {
		t.Errorf("CSV:\n%s\nwant:\n%s", got, exportedCSV)
	}
	if _, stderr, code := ugnosCmd(t, dir, "export", "--data-dir", "data", "--db", "acme", "--query", "SELECT time, host, usage, n, ok, note FROM cpu WHERE host = 'a' ORDER BY time", "-o", "out.parquet"); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	equalRows(t, "parquet", readParquetRows(t, filepath.Join(dir, "out.parquet")), []string{
		"2026-01-01 00:00:00+00|a|1.5|1|t|x",
		"2026-01-01 00:00:02+00|a|3.25|||",
	})
	// The Parquet file imports back as it was.
	if _, stderr, code := ugnosCmd(t, dir, "import", "--data-dir", "data2", "--db", "acme", "--table", "cpu", "--types", "note=text", "out.parquet"); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	equalRows(t, "round trip", sqlRows(t, filepath.Join(dir, "data2"), "acme", `SELECT time, host, usage, n, ok, note FROM cpu ORDER BY time`), []string{
		"2026-01-01 00:00:00+00|a|1.5|1|t|x",
		"2026-01-01 00:00:02+00|a|3.25|||",
	})
	// A failed export leaves no file.
	if _, _, code := ugnosCmd(t, dir, "export", "--data-dir", "data", "--db", "acme", "--table", "nope", "-o", "nope.csv"); code != 1 {
		t.Errorf("export of a missing table: exit %d", code)
	}
	if _, err := os.Stat(filepath.Join(dir, "nope.csv")); err == nil {
		t.Errorf("a failed export left its file")
	}
}

func readParquetRows(t *testing.T, path string) []string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	pf, err := file.NewParquetReader(f)
	if err != nil {
		t.Fatal(err)
	}
	fr, err := pqarrow.NewFileReader(pf, pqarrow.ArrowReadProperties{BatchSize: 1024}, memory.DefaultAllocator)
	if err != nil {
		t.Fatal(err)
	}
	tbl, err := fr.ReadTable(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer tbl.Release()
	tr := array.NewTableReader(tbl, 1024)
	defer tr.Release()
	var rows []string
	for tr.Next() {
		rec := tr.RecordBatch()
		for r := 0; r < int(rec.NumRows()); r++ {
			var cells []string
			for _, c := range rec.Columns() {
				cells = append(cells, csvCell(c, r))
			}
			rows = append(rows, strings.Join(cells, "|"))
		}
	}
	return rows
}

// TestImportExportServe imports into a running ugnos serve over the
// PostgreSQL protocol and exports from it.
func TestImportExportServe(t *testing.T) {
	dir := t.TempDir()
	pgAddr, httpAddr := freeAddr(t), freeAddr(t)
	s := startServe(t, cleanEnv(), "--data-dir", filepath.Join(dir, "data"), "--pg-addr", pgAddr, "--http-addr", httpAddr)
	s.waitReady(t, httpAddr)
	os.WriteFile(filepath.Join(dir, "cpu.csv"), []byte(testCSV), 0o644)
	if _, stderr, code := ugnosCmd(t, dir, "import", "--pg-addr", pgAddr, "--db", "iot", "--types", "note=text", "cpu.csv"); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, "postgres://ugnos@"+pgAddr+"/iot?sslmode=disable")
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	var n int64
	var sum float64
	if err := conn.QueryRow(ctx, "SELECT count(*), sum(usage) FROM cpu").Scan(&n, &sum); err != nil || n != 3 || sum != -0.5 {
		t.Fatalf("count %d sum %v: %v", n, sum, err)
	}
	// A bad file stores nothing, not even an empty table.
	os.WriteFile(filepath.Join(dir, "bad.csv"), []byte("time,v\n1,2\nx,3\n"), 0o644)
	if _, stderr, code := ugnosCmd(t, dir, "import", "--pg-addr", pgAddr, "--db", "iot", "bad.csv"); code != 1 || !strings.Contains(stderr, "bad.csv: line 3: column \"time\"") {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if err := conn.QueryRow(ctx, "SELECT count(*) FROM information_schema.tables WHERE table_name = 'bad'").Scan(&n); err != nil || n != 0 {
		t.Errorf("bad file left a table: %d %v", n, err)
	}
	// Export: CSV through COPY, Parquet through SELECT.
	out, stderr, code := ugnosCmd(t, dir, "export", "--pg-addr", pgAddr, "--db", "iot", "--query", "SELECT time, host, usage, count FROM cpu ORDER BY time", "-o", "-")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if want := "time,host,usage,count\n2026-01-01 00:00:00+00,a,1.5,3\n2026-01-01 00:00:01.25+00,b,-2,4\n2026-01-01 00:00:02+00,a,,5\n"; out != want {
		t.Errorf("CSV:\n%s\nwant\n%s", out, want)
	}
	if _, stderr, code := ugnosCmd(t, dir, "export", "--pg-addr", pgAddr, "--db", "iot", "--table", "cpu", "-o", "cpu.parquet"); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	equalRows(t, "parquet", readParquetRows(t, filepath.Join(dir, "cpu.parquet")), []string{
		"2026-01-01 00:00:00+00|a|1.5|3|t|first",
		"2026-01-01 00:00:01.25+00|b|-2|4|f|",
		"2026-01-01 00:00:02+00|a||5|t|with, comma",
	})
}

// The line-protocol tests need POST /write in httpapi (the write branch).
const testLP = `cpu,host=a usage=1.5,n=3i 1767225600000000000
cpu,host=b usage=2 1767225601000000000
`

func TestImportLineProtocolDataDir(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "cpu.lp"), []byte(testLP), 0o644)
	if _, stderr, code := ugnosCmd(t, dir, "import", "--data-dir", "data", "--db", "acme", "cpu.lp"); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	equalRows(t, "rows", sqlRows(t, filepath.Join(dir, "data"), "acme", `SELECT time, host, usage, n FROM cpu ORDER BY time`), []string{
		"2026-01-01 00:00:00+00|a|1.5|3",
		"2026-01-01 00:00:01+00|b|2|",
	})
	os.WriteFile(filepath.Join(dir, "bad.lp"), []byte("cpu,host=a usage=1 1\ncpu,host=a usage= 2\n"), 0o644)
	if _, stderr, code := ugnosCmd(t, dir, "import", "--data-dir", "data", "--db", "acme", "bad.lp"); code != 1 || !strings.Contains(stderr, "bad.lp") {
		t.Errorf("bad line protocol: exit %d: %s", code, stderr)
	}
}

func TestImportLineProtocolServe(t *testing.T) {
	dir := t.TempDir()
	pgAddr, httpAddr := freeAddr(t), freeAddr(t)
	s := startServe(t, cleanEnv(), "--data-dir", filepath.Join(dir, "data"), "--pg-addr", pgAddr, "--http-addr", httpAddr)
	s.waitReady(t, httpAddr)
	os.WriteFile(filepath.Join(dir, "cpu.txt"), []byte(testLP), 0o644)
	if _, stderr, code := ugnosCmd(t, dir, "import", "--http-addr", httpAddr, "--db", "iot", "cpu.txt"); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, "postgres://ugnos@"+pgAddr+"/iot?sslmode=disable")
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	var n int64
	if err := conn.QueryRow(ctx, "SELECT count(*) FROM cpu").Scan(&n); err != nil || n != 2 {
		t.Fatalf("count %d: %v", n, err)
	}
}
