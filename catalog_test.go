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
	"github.com/ugnos/ugnos/pgcatalog"
	"github.com/ugnos/ugnos/pgtest"
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

// TestCatalogFunctions checks the session and catalog functions, name
// resolution and the announced PostgreSQL types by hand-written
// expectations.
func TestCatalogFunctions(t *testing.T) {
	db := catalogDB(t)
	cpu := oidOf(t, db, "cpu")
	f := func(q, want string) {
		t.Helper()
		rows, err := catalogRun(db, q)
		if err != nil {
			t.Errorf("%s: %v", q, err)
			return
		}
		if got := strings.Join(rows, "\n"); got != want {
			t.Errorf("%s:\n got %q\nwant %q", q, got, want)
		}
	}
	fails := func(q, code string) {
		t.Helper()
		_, err := catalogRun(db, q)
		if errs.SQLState(err) != code {
			t.Errorf("%s: want SQLSTATE %s, got %v", q, code, err)
		}
	}
	f("SELECT current_database(), current_user, session_user, user, current_schema(), current_schema", "postgres|ugnos|ugnos|ugnos|public|public")
	f("SELECT current_schemas(true), current_schemas(false), array_to_string(current_schemas(true), ',')", "{pg_catalog,public}|{public}|pg_catalog,public")
	f("SELECT 'public' = ANY(current_schemas(true)), 'x' = ANY(current_schemas(true)), 'x' <> ALL(current_schemas(false))", "t|f|t")
	f("SELECT 2 = ANY(ARRAY[1,2,3]), 5 = ANY(ARRAY[1,2,3]), 5 <> ALL(ARRAY[1,2]), array_length(ARRAY['a','b'], 1)", "t|f|t|2")
	f("SELECT 'cpu'::regclass::oid = "+cpu+", 'public.cpu'::regclass::oid = "+cpu+", "+cpu+"::regclass, 'cpu'::regclass::text", "t|t|cpu|"+cpu)
	f("SELECT 'pg_class'::regclass::oid, 1259::regclass, 'pg_catalog.pg_type'::regclass::oid", "1259|pg_class|1247")
	f("SELECT 23::regtype, 'integer'::regtype::oid, 'int4'::regtype::oid, format_type(1184, NULL), format_type(1043, 36)", "integer|23|23|timestamp with time zone|character varying(32)")
	f("SELECT c.oid::regclass FROM pg_class c WHERE c.relname = 'cpu_v'", "cpu_v")
	f("SELECT pg_get_userbyid(10), pg_encoding_to_char(6), quote_ident('time'), quote_ident('cpu'), pg_table_is_visible("+cpu+")", "ugnos|UTF8|\"time\"|cpu|t")
	f("SELECT has_table_privilege('cpu', 'SELECT'), has_schema_privilege('public', 'USAGE'), has_database_privilege('postgres', 'CONNECT')", "t|t|t")
	f("SELECT obj_description("+cpu+", 'pg_class'), col_description("+cpu+", 1), shobj_description(5, 'pg_database')", "NULL|NULL|NULL")
	f("SELECT pg_is_in_recovery(), pg_relation_size("+cpu+"), pg_size_pretty(20480), current_setting('server_version_num')", "f|0|20 kB|150000")
	f("SELECT pg_get_viewdef('cpu_v'::regclass) = (SELECT definition FROM pg_views WHERE viewname = 'cpu_v')", "t")
	f("SELECT version() LIKE 'PostgreSQL 15.0 (ugnos)%'", "t")
	f("SELECT count(*) > 0 FROM pg_catalog.pg_proc WHERE proname = 'time_bucket'", "t")
	f("SELECT relname FROM pg_class WHERE relname OPERATOR(pg_catalog.~) '^(cpu)$' COLLATE pg_catalog.default", "cpu")
	f(`SELECT relname FROM pg_class WHERE relname = 'cpu' COLLATE "C"`, "cpu")
	f("SELECT count(*) FROM pg_catalog.pg_namespace WHERE oid IN (11, 2200)", "2")
	f("SELECT datname FROM pg_database ORDER BY 1", "postgres")
	fails("SELECT 'nope'::regclass", "42P01")
	fails("SELECT * FROM pg_catalog.nope", "42P01")
	fails("SELECT * FROM nosuchschema.cpu", "42P01")
	f("SELECT string_agg(x, ',') FROM (SELECT * FROM unnest(ARRAY[1, 2]) AS x) s", "1,2")
	fails("SELECT x COLLATE \"de_DE\" FROM (SELECT 'a' AS x) s", "0A000")
	f("SELECT format('%s|%I|%L|%L|%%|%2$s|%-5s|%5s|', 'a', 'Select', NULL, E'it''s\\\\', 'x', 'y')", `a|"Select"|NULL|E'it''s\\'|%|Select|     |it's\|`)
	f("SELECT format('%I.%I', 'public', 'cpu'), format('%s', NULL), format(NULL, 1), format('x')", "public.cpu||NULL|x")
	fails("SELECT format('%*s', 2, 'x')", "0A000")
	fails("SELECT format('%s %s', 'x')", "22023")
	f("SELECT k.word, k.catcode FROM pg_catalog.pg_get_keywords() AS k WHERE k.word IN ('select', 'json', 'abort') ORDER BY 1", "abort|U\nselect|R")
	f("SELECT count(*), count(*) FILTER (WHERE catcode = 'R') FROM pg_get_keywords()", "460|77")
	f("SELECT w FROM pg_get_keywords() AS k(w) WHERE w = 'zone'", "zone")
	fails("SELECT * FROM pg_get_keywords() WITH ORDINALITY", "0A000")
	f("SELECT quote_ident('json'), quote_ident('select')", `json|"select"`)
	f("SELECT obj_description(2200, 'pg_namespace'), obj_description(2200), obj_description(11, 'pg_class')", "standard public schema|standard public schema|NULL")
	f("SELECT public.cpu.hostname, pg_catalog.pg_class.relname FROM cpu, pg_catalog.pg_class WHERE false", "")
	fails("SELECT public.c.hostname FROM cpu c", "42703")
	f("SELECT attname, attnum FROM pg_attribute WHERE attrelid = "+cpu+" AND attnum < 0 ORDER BY attnum", "tableoid|-6\ncmax|-5\nxmax|-4\ncmin|-3\nxmin|-2\nctid|-1")

	// a user table named like a catalog: public.x is the user's, x the catalog's
	if _, err := db.Exec(ctx, "postgres", "CREATE TABLE pg_am (time timestamptz, v bigint)"); err != nil {
		t.Fatal(err)
	}
	f("SELECT count(*) FROM public.pg_am", "0")
	f("SELECT count(*) > 0 FROM pg_am", "t")

	// OIDs are stable across a reopen
	dir := t.TempDir()
	d1, err := ugnos.Open(dir)
	must(t, err)
	_, err = d1.Exec(ctx, "postgres", "CREATE TABLE a (time timestamptz, v bigint)")
	must(t, err)
	_, err = d1.Exec(ctx, "postgres", "CREATE TABLE b (time timestamptz, v bigint)")
	must(t, err)
	before := oidOf(t, d1, "b")
	must(t, d1.Close())
	d2, err := ugnos.Open(dir)
	must(t, err)
	defer d2.Close()
	if after := oidOf(t, d2, "b"); after != before {
		t.Errorf("OID of b changed across reopen: %s, then %s", before, after)
	}

	// result columns announce their PostgreSQL types
	rd, err := db.SQL(ctx, "postgres", "SELECT c.oid, c.relname, c.relkind, c.relnatts, c.oid::regclass, c.relname || '' AS plain FROM pg_class c WHERE relname = 'cpu'")
	must(t, err)
	defer rd.Release()
	var types []string
	for _, fl := range rd.Schema().Fields() {
		v, _ := fl.Metadata.GetValue(pgcatalog.MetaPGType)
		types = append(types, v)
	}
	if got := strings.Join(types, ","); got != "oid,name,char,int2,regclass," {
		t.Errorf("announced types %q", got)
	}
}
