package ugnos_test

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/ugnos/ugnos"
	"github.com/ugnos/ugnos/arrowstore"
	"github.com/ugnos/ugnos/errs"
	"github.com/ugnos/ugnos/functions"
	"github.com/ugnos/ugnos/pgwire"
)

// TestSLT runs the sqllogictest files in testdata/sql against the embedded
// engine. Format (CockroachDB style, plus a load directive):
//
//	load <table> [tenant=<name>]          CSV: header "name:kind" (time, tag, float, int, bool, text), rows, blank line
//	statement ok | statement error <SQLSTATE or regexp>
//	query <types> [rowsort|nosort]         then the SQL, "----", expected rows (values joined by one space, NULL for null);
//	                                       type letters (I, R, N numeric, T, B) document the columns and are not checked
//	query error <SQLSTATE or regexp>
func TestSLT(t *testing.T) {
	eachSLT(t, func(t *testing.T, db *ugnos.DB, f string) {
		runSLT(t, db, f, func(q string) ([]string, error) { return sltRun(db, q) })
	})
}

// eachSLT runs a subtest per .slt file with a fresh database holding the
// tenant "t".
func eachSLT(t *testing.T, run func(t *testing.T, db *ugnos.DB, file string)) {
	files, err := filepath.Glob("testdata/sql/*.slt")
	if err != nil || len(files) == 0 {
		t.Fatalf("no slt files: %v", err)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			db := openMem(t)
			must(t, db.CreateDatabase("t"))
			run(t, db, f)
		})
	}
}

// TestSLTPgwire runs the same files over the PostgreSQL protocol (simple
// query, text format): every value must come out as the embedded engine
// formats it.
func TestSLTPgwire(t *testing.T) {
	eachSLT(t, func(t *testing.T, db *ugnos.DB, f string) {
		srv, err := pgwire.New(db, pgwire.Config{Version: "test"})
		must(t, err)
		l, err := net.Listen("tcp", "127.0.0.1:0")
		must(t, err)
		go srv.Serve(l)
		defer srv.Shutdown(ctx)
		conn, err := pgconn.Connect(ctx, "postgres://ugnos@"+l.Addr().String()+"/t?sslmode=disable")
		must(t, err)
		defer conn.Close(ctx)
		runSLT(t, db, f, func(q string) ([]string, error) {
			res, err := conn.Exec(ctx, q).ReadAll()
			if err != nil {
				return nil, err
			}
			var rows []string
			for _, r := range res {
				for _, row := range r.Rows {
					cells := make([]string, len(row))
					for i, v := range row {
						if v == nil {
							cells[i] = "NULL"
						} else {
							cells[i] = string(v)
						}
					}
					rows = append(rows, strings.Join(cells, " "))
				}
			}
			return rows, nil
		})
	})
}

type sltCase struct {
	line    int
	kind    string // load, statement, query
	args    []string
	sql     string
	body    []string // csv rows or expected output
	errWant string
}

func parseSLT(t *testing.T, path string) []sltCase {
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	var cases []sltCase
	var lines []string
	for sc.Scan() {
		lines = append(lines, sc.Text())
	}
	for i := 0; i < len(lines); i++ {
		l := strings.TrimSpace(lines[i])
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		fields := strings.Fields(l)
		c := sltCase{line: i + 1, kind: fields[0], args: fields[1:]}
		i++
		switch c.kind {
		case "load":
			for ; i < len(lines) && strings.TrimSpace(lines[i]) != ""; i++ {
				c.body = append(c.body, strings.TrimSpace(lines[i]))
			}
		case "statement", "query":
			if len(c.args) > 0 && c.args[0] == "error" {
				c.errWant = strings.Join(c.args[1:], " ")
			}
			var q []string
			for ; i < len(lines) && strings.TrimSpace(lines[i]) != "" && lines[i] != "----"; i++ {
				q = append(q, lines[i])
			}
			c.sql = strings.Join(q, "\n")
			if i < len(lines) && lines[i] == "----" {
				for i++; i < len(lines) && strings.TrimSpace(lines[i]) != ""; i++ {
					c.body = append(c.body, strings.TrimRight(lines[i], " "))
				}
			}
		default:
			t.Fatalf("%s:%d: unknown directive %q", path, c.line, c.kind)
		}
		cases = append(cases, c)
	}
	return cases
}

func runSLT(t *testing.T, db *ugnos.DB, path string, run func(q string) ([]string, error)) {
	for _, c := range parseSLT(t, path) {
		where := fmt.Sprintf("%s:%d", path, c.line)
		switch c.kind {
		case "load":
			sltLoad(t, db, where, c)
		case "statement", "query":
			got, err := run(c.sql)
			if c.errWant != "" {
				if err == nil {
					t.Errorf("%s: want error %q, got rows %v", where, c.errWant, got)
				} else if !errMatches(err, c.errWant) {
					t.Errorf("%s: want error %q, got %v (SQLSTATE %s)", where, c.errWant, err, errs.SQLState(err))
				}
				continue
			}
			if err != nil {
				t.Errorf("%s: %v (SQLSTATE %s)\n%s", where, err, errs.SQLState(err), c.sql)
				continue
			}
			if c.kind == "statement" {
				continue
			}
			mode := "nosort"
			if len(c.args) > 1 {
				mode = c.args[1]
			}
			want := append([]string(nil), c.body...)
			if mode == "rowsort" {
				sort.Strings(got)
				sort.Strings(want)
			}
			if strings.Join(got, "\n") != strings.Join(want, "\n") {
				t.Errorf("%s: %s\ngot:\n%s\nwant:\n%s", where, c.sql, strings.Join(got, "\n"), strings.Join(want, "\n"))
			}
		}
	}
}

func errMatches(err error, want string) bool {
	if regexp.MustCompile(`^[0-9A-Z]{5}$`).MatchString(want) {
		return errs.SQLState(err) == want
	}
	return regexp.MustCompile(want).MatchString(err.Error())
}

func sltRun(db *ugnos.DB, q string) ([]string, error) { return sltRunArgs(db, q) }

func sltRunArgs(db *ugnos.DB, q string, args ...any) ([]string, error) {
	rd, err := db.SQL(ctx, "t", q, args...)
	if err != nil {
		return nil, err
	}
	defer rd.Release()
	var rows []string
	for rd.Next() {
		rec := rd.RecordBatch()
		types := make([]functions.Type, rec.NumCols())
		for c := range types {
			types[c], _ = functions.FieldType(rec.Schema().Field(c))
		}
		for i := 0; i < int(rec.NumRows()); i++ {
			cells := make([]string, rec.NumCols())
			for c := range cells {
				v := functions.ArrVec(rec.Column(c), types[c])
				if v.IsNull(i) {
					cells[c] = "NULL"
				} else {
					cells[c] = functions.FormatValue(v.Value(i), types[c])
				}
			}
			rows = append(rows, strings.Join(cells, " "))
		}
	}
	return rows, rd.Err()
}

// sltLoad writes CSV rows into a table with WriteRecord.
func sltLoad(t *testing.T, db *ugnos.DB, where string, c sltCase) {
	t.Helper()
	table, tenant := c.args[0], "t"
	for _, a := range c.args[1:] {
		if v, ok := strings.CutPrefix(a, "tenant="); ok {
			tenant = v
		}
	}
	header := strings.Split(c.body[0], ",")
	var fields []arrow.Field
	var builders []array.Builder
	kinds := make([]string, len(header))
	for i, h := range header {
		name, kind, _ := strings.Cut(h, ":")
		if name == "time" {
			kind = "time"
		}
		kinds[i] = kind
		var f arrow.Field
		switch kind {
		case "time":
			f = arrow.Field{Name: name, Type: arrowstore.TimeType}
		case "tag":
			f = arrow.Field{Name: name, Type: arrow.BinaryTypes.String, Nullable: true}
		case "float":
			f = arrow.Field{Name: name, Type: arrow.PrimitiveTypes.Float64, Nullable: true}
		case "int":
			f = arrow.Field{Name: name, Type: arrow.PrimitiveTypes.Int64, Nullable: true}
		case "bool":
			f = arrow.Field{Name: name, Type: arrow.FixedWidthTypes.Boolean, Nullable: true}
		case "text":
			f = arrow.Field{Name: name, Type: arrow.BinaryTypes.String, Nullable: true, Metadata: fieldMeta("field")}
		default:
			t.Fatalf("%s: column %q: unknown kind %q", where, name, kind)
		}
		fields = append(fields, f)
		builders = append(builders, array.NewBuilder(memory.DefaultAllocator, f.Type))
	}
	for _, row := range c.body[1:] {
		cells := strings.Split(row, ",")
		if len(cells) != len(header) {
			t.Fatalf("%s: row %q has %d cells, want %d", where, row, len(cells), len(header))
		}
		for i, cell := range cells {
			b := builders[i]
			if cell == "NULL" || (cell == "" && kinds[i] != "text") {
				b.AppendNull()
				continue
			}
			var err error
			switch kinds[i] {
			case "time":
				var ts time.Time
				ts, err = time.Parse(time.RFC3339Nano, cell)
				b.(*array.TimestampBuilder).Append(arrow.Timestamp(ts.UnixNano()))
			case "tag", "text":
				b.(*array.StringBuilder).Append(cell)
			case "float":
				var f float64
				f, err = strconv.ParseFloat(cell, 64)
				b.(*array.Float64Builder).Append(f)
			case "int":
				var n int64
				n, err = strconv.ParseInt(cell, 10, 64)
				b.(*array.Int64Builder).Append(n)
			case "bool":
				var v bool
				v, err = strconv.ParseBool(cell)
				b.(*array.BooleanBuilder).Append(v)
			}
			if err != nil {
				t.Fatalf("%s: cell %q: %v", where, cell, err)
			}
		}
	}
	cols := make([]arrow.Array, len(builders))
	for i, b := range builders {
		cols[i] = b.NewArray()
	}
	rec := array.NewRecordBatch(arrow.NewSchema(fields, nil), cols, int64(len(c.body)-1))
	defer rec.Release()
	if err := db.WriteRecord(ctx, tenant, table, rec); err != nil {
		t.Fatalf("%s: load: %v", where, err)
	}
}
