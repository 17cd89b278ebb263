package ugnos_test

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/ugnos/ugnos"
	"github.com/ugnos/ugnos/functions"
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
				if v.IsNull(i) {
					cells[c] = "NULL"
				} else {
					cells[c] = functions.FormatValue(v.Value(i), types[c])
				}
			}
			rows = append(rows, strings.Join(cells, "|"))
		}
	}
	return rows, rd.Err()
}
