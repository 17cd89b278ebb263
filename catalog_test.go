package ugnos_test

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/jackc/pgx/v5"

	"github.com/ugnos/ugnos"
	"github.com/ugnos/ugnos/errs"
	"github.com/ugnos/ugnos/functions"
	"github.com/ugnos/ugnos/internal/pgtest"
)

// catalogFixture is one client statement of testdata/catalog/*.sql: a
// "-- name [mode]" line, then the SQL. Modes: "diff" compares the rows
// with PostgreSQL's (TestCatalogPG), "run" only requires that it runs.
type catalogFixture struct {
	file, name, mode, sql string
}

func loadCatalogFixtures(t *testing.T) []catalogFixture {
	t.Helper()
	files, err := filepath.Glob("testdata/catalog/*.sql")
	must(t, err)
	var out []catalogFixture
	for _, f := range files {
		b, err := os.ReadFile(f)
		must(t, err)
		var cur *catalogFixture
		for _, line := range strings.Split(string(b), "\n") {
			if rest, ok := strings.CutPrefix(line, "-- "); ok && (cur == nil || strings.TrimSpace(cur.sql) != "" || true) && strings.HasPrefix(line, "-- ") && !strings.HasPrefix(line, "--  ") {
				if cur != nil {
					out = append(out, *cur)
				}
				cur = &catalogFixture{file: filepath.Base(f), name: rest, mode: "run"}
				if i := strings.LastIndex(rest, " ["); i >= 0 && strings.HasSuffix(rest, "]") {
					cur.name, cur.mode = rest[:i], rest[i+2:len(rest)-1]
				}
				continue
			}
			if cur != nil {
				cur.sql += line + "\n"
			}
		}
		if cur != nil {
			out = append(out, *cur)
		}
	}
	return out
}

// catalogDB is a database whose tenant "postgres" holds the table cpu and
// the view cpu_v that the fixtures ask about.
func catalogDB(t *testing.T) *ugnos.DB {
	t.Helper()
	db := openMem(t)
	for _, q := range []string{
		"CREATE TABLE cpu (time timestamptz, hostname text, region text, usage_user double precision, n bigint)",
		"CREATE VIEW cpu_v AS SELECT time, hostname, usage_user FROM cpu",
	} {
		if _, err := db.Exec(ctx, "postgres", q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	return db
}

// oidOf is a relation's OID in ugnos.
func oidOf(t *testing.T, db *ugnos.DB, rel string) string {
	t.Helper()
	rows, err := catalogRun(db, "SELECT '"+rel+"'::regclass::oid")
	must(t, err)
	return rows[0]
}

func catalogRun(db *ugnos.DB, q string) ([]string, error) {
	rd, err := db.SQL(ctx, "postgres", q)
	if err != nil {
		return nil, err
	}
	defer rd.Release()
	return readRows(rd)
}

func TestCatalogClientQueries(t *testing.T) {
	db := catalogDB(t)
	cpu, cpuV := oidOf(t, db, "cpu"), oidOf(t, db, "cpu_v")
	if n, _ := strconv.Atoi(cpu); n < 16384 {
		t.Fatalf("cpu's OID %s is not a user OID", cpu)
	}
	for _, f := range loadCatalogFixtures(t) {
		q := strings.NewReplacer("{{cpu}}", cpu, "{{cpu_v}}", cpuV).Replace(f.sql)
		rows, err := catalogRun(db, q)
		if f.mode == "todo" {
			if err == nil || errs.SQLState(err) != errs.CodeFeatureNotSupported {
				t.Errorf("%s %s: want a 0A000 error (not supported yet), got %v", f.file, f.name, err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s %s: %v", f.file, f.name, err)
			continue
		}
		if testing.Verbose() {
			t.Logf("%s %s: %q", f.file, f.name, rows)
		}
	}
}

// readRows renders a result as lines of space-separated cells (NULL for
// null), as the sqllogictest runner does.
func readRows(rd interface {
	Next() bool
	RecordBatch() arrow.RecordBatch
	Err() error
}) ([]string, error) {
	var rows []string
	for rd.Next() {
		rec := rd.RecordBatch()
		types := make([]functions.Type, rec.NumCols())
		for c := range types {
			types[c], _ = functions.FromArrow(rec.Schema().Field(c).Type)
		}
		for i := 0; i < int(rec.NumRows()); i++ {
			cells := make([]string, rec.NumCols())
			for c := range cells {
				v := functions.ArrVec(rec.Column(c), types[c])
				switch {
				case v.IsNull(i):
					cells[c] = "NULL"
				case types[c] == functions.TBool:
					cells[c] = map[bool]string{true: "t", false: "f"}[v.Bool(i)]
				default:
					cells[c] = functions.FormatValue(v.Value(i), types[c])
				}
			}
			rows = append(rows, strings.Join(cells, "|"))
		}
	}
	return rows, rd.Err()
}

// TestCatalogPG runs the "diff" fixtures on ugnos and on PostgreSQL 15
// holding the same table and view, and compares the rows (OIDs of cpu and
// cpu_v, and the owner's name, normalised).
func TestCatalogPG(t *testing.T) {
	srv := pgtest.Start(t)
	conn, err := pgx.Connect(ctx, srv.ConnStr)
	must(t, err)
	defer conn.Close(ctx)
	for _, q := range []string{
		"CREATE TABLE cpu (time timestamptz NOT NULL, hostname text, region text, usage_user double precision, n bigint)",
		"CREATE VIEW cpu_v AS SELECT time, hostname, usage_user FROM cpu",
	} {
		_, err := conn.Exec(ctx, q)
		must(t, err)
	}
	pgOID := func(rel string) string {
		var oid uint32
		must(t, conn.QueryRow(ctx, "SELECT '"+rel+"'::regclass::oid").Scan(&oid))
		return strconv.FormatUint(uint64(oid), 10)
	}
	db := catalogDB(t)
	ug := strings.NewReplacer("{{cpu}}", oidOf(t, db, "cpu"), "{{cpu_v}}", oidOf(t, db, "cpu_v"))
	pg := strings.NewReplacer("{{cpu}}", pgOID("cpu"), "{{cpu_v}}", pgOID("cpu_v"))
	norm := func(rows []string, r *strings.Replacer) string {
		out := strings.Join(rows, "\n")
		for _, pair := range [][2]string{{oidOf(t, db, "cpu"), "{{cpu}}"}, {oidOf(t, db, "cpu_v"), "{{cpu_v}}"}, {pgOID("cpu"), "{{cpu}}"}, {pgOID("cpu_v"), "{{cpu_v}}"}} {
			out = strings.ReplaceAll(out, pair[0], pair[1])
		}
		return strings.ReplaceAll(out, "ugnos", "postgres")
	}
	for _, f := range loadCatalogFixtures(t) {
		if f.mode != "diff" {
			continue
		}
		got, err := catalogRun(db, ug.Replace(f.sql))
		if err != nil {
			t.Errorf("%s %s: ugnos: %v", f.file, f.name, err)
			continue
		}
		res, err := conn.Query(ctx, pg.Replace(f.sql), pgx.QueryExecModeSimpleProtocol)
		must(t, err)
		var want []string
		for res.Next() {
			var cells []string
			for _, v := range res.RawValues() {
				if v == nil {
					cells = append(cells, "NULL")
				} else {
					cells = append(cells, string(v))
				}
			}
			want = append(want, strings.Join(cells, "|"))
		}
		res.Close()
		must(t, res.Err())
		if g, w := norm(got, ug), norm(want, pg); g != w {
			t.Errorf("%s %s:\nugnos:\n%s\npostgres:\n%s", f.file, f.name, g, w)
		}
	}
}
