package pgwire_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgproto3"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/ugnos/ugnos"
	"github.com/ugnos/ugnos/pgwire"
)

var ctx = context.Background()

type testServer struct {
	db   *ugnos.DB
	srv  *pgwire.Server
	addr string
	done chan error
}

func startServer(t testing.TB) *testServer {
	t.Helper()
	return startServerWith(t, pgwire.Config{Version: "test"})
}

// startServerWith starts a server with cfg over a fresh database.
func startServerWith(t testing.TB, cfg pgwire.Config) *testServer {
	t.Helper()
	return startServerOn(t, t.TempDir(), cfg)
}

// startServerOn starts a server with cfg over a database in dir.
func startServerOn(t testing.TB, dir string, cfg pgwire.Config) *testServer {
	t.Helper()
	db, err := ugnos.Open(dir, ugnos.WithSyncMode(ugnos.SyncNever))
	if err != nil {
		t.Fatal(err)
	}
	srv, err := pgwire.New(db, cfg)
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ts := &testServer{db: db, srv: srv, addr: l.Addr().String(), done: make(chan error, 1)}
	go func() { ts.done <- srv.Serve(l) }()
	t.Cleanup(func() {
		sctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		if err := srv.Shutdown(sctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
		if err := <-ts.done; !errors.Is(err, pgwire.ErrServerClosed) {
			t.Errorf("Serve returned %v", err)
		}
		db.Close()
	})
	return ts
}

func (ts *testServer) connString(db string) string {
	host, port, _ := net.SplitHostPort(ts.addr)
	return fmt.Sprintf("postgres://ugnos@%s:%s/%s?sslmode=disable", host, port, db)
}

func (ts *testServer) connect(t *testing.T, db string) *pgx.Conn {
	t.Helper()
	c, err := pgx.Connect(ctx, ts.connString(db))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close(ctx) })
	return c
}

func sqlState(err error) string {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code
	}
	return ""
}

const setup = `CREATE TABLE cpu (time timestamptz, hostname text, usage_user double precision, n bigint, ok boolean, note varchar);
INSERT INTO cpu VALUES ('2016-01-01 00:00:00+00', 'a', 1.5, 1, true, 'x'),
 ('2016-01-01 00:00:10+00', 'a', 2.25, 2, false, NULL),
 ('2016-01-01 00:00:20+00', 'b', NULL, 3, NULL, 'z')`

func TestSimpleQueryMultipleStatements(t *testing.T) {
	ts := startServer(t)
	c := ts.connect(t, "postgres")
	mrr := c.PgConn().Exec(ctx, setup+"; SELECT count(*) FROM cpu; SELECT hostname, n FROM cpu ORDER BY n")
	res, err := mrr.ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(res) != 4 {
		t.Fatalf("got %d results, want 4", len(res))
	}
	if got := res[1].CommandTag.String(); got != "INSERT 0 3" {
		t.Errorf("insert tag %q", got)
	}
	if got := string(res[2].Rows[0][0]); got != "3" || res[2].CommandTag.String() != "SELECT 1" {
		t.Errorf("count: %q tag %q", got, res[2].CommandTag)
	}
	var got []string
	for _, r := range res[3].Rows {
		got = append(got, string(r[0])+"="+string(r[1]))
	}
	if strings.Join(got, ",") != "a=1,a=2,b=3" || res[3].CommandTag.String() != "SELECT 3" {
		t.Errorf("rows %v tag %q", got, res[3].CommandTag)
	}
	// an empty query
	if _, err := c.PgConn().Exec(ctx, " ; ").ReadAll(); err != nil {
		t.Errorf("empty query: %v", err)
	}
}

func TestTypesTextAndBinary(t *testing.T) {
	ts := startServer(t)
	c := ts.connect(t, "postgres")
	if _, err := c.Exec(ctx, setup); err != nil {
		t.Fatal(err)
	}
	q := `SELECT time, hostname, usage_user, n, ok, note, time::date AS d, time - timestamptz '2015-12-31 00:00:00+00' AS iv FROM cpu WHERE n = $1`
	want := []any{
		time.Date(2016, 1, 1, 0, 0, 10, 0, time.UTC), "a", 2.25, int64(2), false, nil,
		time.Date(2016, 1, 1, 0, 0, 0, 0, time.UTC), pgtype.Interval{Days: 1, Microseconds: 10e6, Valid: true},
	}
	for _, mode := range []pgx.QueryExecMode{pgx.QueryExecModeCacheStatement, pgx.QueryExecModeExec, pgx.QueryExecModeSimpleProtocol} {
		rows, err := c.Query(ctx, q, mode, int64(2))
		if err != nil {
			t.Fatalf("%v: %v", mode, err)
		}
		var got [][]any
		for rows.Next() {
			v, err := rows.Values()
			if err != nil {
				t.Fatalf("%v: %v", mode, err)
			}
			got = append(got, v)
		}
		if err := rows.Err(); err != nil {
			t.Fatalf("%v: %v", mode, err)
		}
		if len(got) != 1 {
			t.Fatalf("%v: %d rows", mode, len(got))
		}
		for i := range want {
			g := got[0][i]
			if tm, ok := g.(time.Time); ok {
				g = tm.UTC()
			}
			if fmt.Sprint(g) != fmt.Sprint(want[i]) {
				t.Errorf("%v: column %d = %#v, want %#v", mode, i, g, want[i])
			}
		}
		fds := rows.FieldDescriptions()
		oids := []uint32{pgtype.TimestamptzOID, pgtype.TextOID, pgtype.Float8OID, pgtype.Int8OID, pgtype.BoolOID, pgtype.TextOID, pgtype.DateOID, pgtype.IntervalOID}
		for i, fd := range fds {
			if fd.DataTypeOID != oids[i] {
				t.Errorf("%v: column %s oid %d, want %d", mode, fd.Name, fd.DataTypeOID, oids[i])
			}
		}
	}
}

func TestPreparedAndBatch(t *testing.T) {
	ts := startServer(t)
	c := ts.connect(t, "postgres")
	if _, err := c.Exec(ctx, setup); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Prepare(ctx, "byhost", "SELECT count(*), sum(n) FROM cpu WHERE hostname = $1"); err != nil {
		t.Fatal(err)
	}
	for host, want := range map[string][2]int64{"a": {2, 3}, "b": {1, 3}, "c": {0, 0}} {
		var n int64
		var s *int64
		if err := c.QueryRow(ctx, "byhost", host).Scan(&n, &s); err != nil {
			t.Fatal(err)
		}
		got := int64(0)
		if s != nil {
			got = *s
		}
		if n != want[0] || got != want[1] {
			t.Errorf("host %s: %d %d, want %v", host, n, got, want)
		}
	}
	b := &pgx.Batch{}
	b.Queue("INSERT INTO cpu (time, hostname, n) VALUES ($1, $2, $3)", time.Date(2016, 1, 2, 0, 0, 0, 0, time.UTC), "c", int64(10))
	b.Queue("INSERT INTO cpu (time, hostname, n) VALUES ($1, $2, $3)", time.Date(2016, 1, 2, 0, 0, 1, 0, time.UTC), "c", int64(11))
	b.Queue("SELECT sum(n) FROM cpu WHERE hostname = 'c'")
	br := c.SendBatch(ctx, b)
	for i := 0; i < 2; i++ {
		if tag, err := br.Exec(); err != nil || tag.String() != "INSERT 0 1" {
			t.Fatalf("batch insert %d: %v %v", i, tag, err)
		}
	}
	var sum int64
	if err := br.QueryRow().Scan(&sum); err != nil || sum != 21 {
		t.Fatalf("batch sum %d %v", sum, err)
	}
	if err := br.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestErrors(t *testing.T) {
	ts := startServer(t)
	c := ts.connect(t, "postgres")
	_, err := c.Exec(ctx, "SELECT 1; SELEC 2")
	var pe *pgconn.PgError
	if !errors.As(err, &pe) || pe.Code != "42601" || pe.Position != 11 {
		t.Fatalf("syntax error: %#v", err)
	}
	if _, err := c.Exec(ctx, "SELECT * FROM nope"); sqlState(err) != "42P01" {
		t.Errorf("unknown table: %v", err)
	}
	// the connection still works
	var one int64
	if err := c.QueryRow(ctx, "SELECT 1").Scan(&one); err != nil || one != 1 {
		t.Fatalf("after errors: %v", err)
	}
	if _, err := pgx.Connect(ctx, ts.connString("nosuchdb")); sqlState(err) != "3D000" {
		t.Errorf("unknown database: %v", err)
	}
}

func TestTransactionStatus(t *testing.T) {
	ts := startServer(t)
	c := ts.connect(t, "postgres")
	pc := c.PgConn()
	steps := []struct {
		sql   string
		state string
		tx    byte
	}{
		{"BEGIN", "", 'T'},
		{"SELECT 1", "", 'T'},
		{"SELECT 1/0", "22012", 'E'},
		{"SELECT 1", "25P02", 'E'},
		{"ROLLBACK", "", 'I'},
		{"SELECT 1", "", 'I'},
		{"BEGIN; SELECT 1/0; SELECT 2", "22012", 'E'},
		{"COMMIT", "", 'I'},
	}
	for _, s := range steps {
		_, err := pc.Exec(ctx, s.sql).ReadAll()
		if sqlState(err) != s.state {
			t.Errorf("%s: error %v, want %q", s.sql, err, s.state)
		}
		if got := pc.TxStatus(); got != s.tx {
			t.Errorf("%s: status %c, want %c", s.sql, got, s.tx)
		}
	}
}

func TestSetShow(t *testing.T) {
	ts := startServer(t)
	c := ts.connect(t, "postgres")
	if _, err := c.Exec(ctx, setup); err != nil {
		t.Fatal(err)
	}
	text := func(q string) string {
		t.Helper()
		res, err := c.PgConn().Exec(ctx, q).ReadAll()
		if err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		last := res[len(res)-1]
		return string(last.Rows[0][0])
	}
	if got := text("SHOW TimeZone"); got != "UTC" {
		t.Errorf("TimeZone %q", got)
	}
	if got := text("show timezone;"); got != "UTC" { // Metabase's db-default-timezone
		t.Errorf("show timezone; %q", got)
	}
	if got := text("SHOW search_path"); got != `"$user", public` { // DBeaver on connect
		t.Errorf("search_path %q", got)
	}
	if got := text("SELECT time FROM cpu WHERE n = 1"); got != "2016-01-01 00:00:00+00" {
		t.Errorf("UTC timestamp %q", got)
	}
	if got := text("SET TIME ZONE 'Asia/Kolkata'; SELECT time FROM cpu WHERE n = 2"); got != "2016-01-01 05:30:10+05:30" {
		t.Errorf("Kolkata timestamp %q", got)
	}
	if got := c.PgConn().ParameterStatus("TimeZone"); got != "Asia/Kolkata" {
		t.Errorf("ParameterStatus TimeZone %q", got)
	}
	if got := text("SET extra_float_digits = 0; SELECT 1/3.0::float8"); got != "0.333333333333333" {
		t.Errorf("extra_float_digits 0: %q", got)
	}
	if got := text("RESET ALL; SELECT 1/3.0::float8"); got != "0.3333333333333333" {
		t.Errorf("after RESET ALL: %q", got)
	}
	if _, err := c.Exec(ctx, "SET no_such_setting = 1"); sqlState(err) != "42704" {
		t.Errorf("unknown setting: %v", err)
	}
	if _, err := c.Exec(ctx, "SET TimeZone = 'Mars/Olympus'"); sqlState(err) != "22023" {
		t.Errorf("bad zone: %v", err)
	}
	if got := c.PgConn().ParameterStatus("server_version"); !strings.HasPrefix(got, "15.0 (ugnos") {
		t.Errorf("server_version %q", got)
	}
}

// rawConn speaks the protocol directly for what drivers do not expose.
func rawConn(t testing.TB, addr string) (*pgproto3.Frontend, net.Conn) {
	fe, nc, _ := rawConnKey(t, addr)
	return fe, nc
}

func rawConnKey(t testing.TB, addr string) (*pgproto3.Frontend, net.Conn, pgproto3.BackendKeyData) {
	t.Helper()
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	fe := pgproto3.NewFrontend(nc, nc)
	fe.Send(&pgproto3.StartupMessage{ProtocolVersion: pgproto3.ProtocolVersion30, Parameters: map[string]string{"user": "ugnos", "database": "postgres"}})
	if err := fe.Flush(); err != nil {
		t.Fatal(err)
	}
	var key pgproto3.BackendKeyData
	for {
		msg, err := fe.Receive()
		if err != nil {
			t.Fatal(err)
		}
		switch m := msg.(type) {
		case *pgproto3.BackendKeyData:
			key = pgproto3.BackendKeyData{ProcessID: m.ProcessID, SecretKey: append([]byte(nil), m.SecretKey...)}
		case *pgproto3.ReadyForQuery:
			return fe, nc, key
		}
	}
}

// until collects message type names up to ReadyForQuery.
func until(t testing.TB, fe *pgproto3.Frontend) []string {
	t.Helper()
	var out []string
	for {
		msg, err := fe.Receive()
		if err != nil {
			t.Fatal(err)
		}
		name := strings.TrimPrefix(fmt.Sprintf("%T", msg), "*pgproto3.")
		if dr, ok := msg.(*pgproto3.DataRow); ok {
			name = "DataRow(" + string(dr.Values[0]) + ")"
		}
		if er, ok := msg.(*pgproto3.ErrorResponse); ok {
			name = "ErrorResponse(" + er.Code + ")"
		}
		if cc, ok := msg.(*pgproto3.CommandComplete); ok {
			name = "CommandComplete(" + string(cc.CommandTag) + ")"
		}
		out = append(out, name)
		if _, ok := msg.(*pgproto3.ReadyForQuery); ok {
			return out
		}
	}
}

func TestPortalRowLimit(t *testing.T) {
	ts := startServer(t)
	c := ts.connect(t, "postgres")
	if _, err := c.Exec(ctx, setup); err != nil {
		t.Fatal(err)
	}
	fe, _ := rawConn(t, ts.addr)
	fe.Send(&pgproto3.Query{String: "BEGIN"})
	_ = fe.Flush()
	until(t, fe)
	fe.Send(&pgproto3.Parse{Name: "s", Query: "SELECT n FROM cpu ORDER BY n"})
	fe.Send(&pgproto3.Bind{PreparedStatement: "s", DestinationPortal: "p"})
	fe.Send(&pgproto3.Execute{Portal: "p", MaxRows: 2})
	fe.Send(&pgproto3.Sync{})
	_ = fe.Flush()
	got := strings.Join(until(t, fe), " ")
	if want := "ParseComplete BindComplete DataRow(1) DataRow(2) PortalSuspended ReadyForQuery"; got != want {
		t.Fatalf("first fetch:\n got %s\nwant %s", got, want)
	}
	fe.Send(&pgproto3.Execute{Portal: "p", MaxRows: 2})
	fe.Send(&pgproto3.Sync{})
	_ = fe.Flush()
	got = strings.Join(until(t, fe), " ")
	if want := "DataRow(3) CommandComplete(SELECT 3) ReadyForQuery"; got != want {
		t.Fatalf("second fetch:\n got %s\nwant %s", got, want)
	}
	// an error skips to Sync
	fe.Send(&pgproto3.Parse{Name: "bad", Query: "SELECT nope"})
	fe.Send(&pgproto3.Bind{PreparedStatement: "bad"})
	fe.Send(&pgproto3.Execute{})
	fe.Send(&pgproto3.Sync{})
	_ = fe.Flush()
	got = strings.Join(until(t, fe), " ")
	if want := "ErrorResponse(42703) ReadyForQuery"; got != want {
		t.Fatalf("error:\n got %s\nwant %s", got, want)
	}
}

func TestConcurrentClients(t *testing.T) {
	ts := startServer(t)
	c := ts.connect(t, "postgres")
	if _, err := c.Exec(ctx, setup); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errc := make(chan error, 32)
	for g := 0; g < 32; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			cc, err := pgx.Connect(ctx, ts.connString("postgres"))
			if err != nil {
				errc <- err
				return
			}
			defer cc.Close(ctx)
			for i := 0; i < 20; i++ {
				var n int64
				if err := cc.QueryRow(ctx, "SELECT count(*) + $1 FROM cpu", int64(g)).Scan(&n); err != nil {
					errc <- err
					return
				}
				if n != int64(3+g) {
					errc <- fmt.Errorf("client %d got %d", g, n)
					return
				}
			}
		}(g)
	}
	wg.Wait()
	close(errc)
	for err := range errc {
		t.Error(err)
	}
}

func TestNumeric(t *testing.T) {
	ts := startServer(t)
	c := ts.connect(t, "postgres")
	if _, err := c.Exec(ctx, setup); err != nil {
		t.Fatal(err)
	}
	// avg(bigint) is numeric with PostgreSQL's scale: (1+2+3)/3
	for _, mode := range []pgx.QueryExecMode{pgx.QueryExecModeCacheStatement, pgx.QueryExecModeSimpleProtocol} {
		var n pgtype.Numeric
		var f float64
		if err := c.QueryRow(ctx, "SELECT avg(n), 1.50 * 2 FROM cpu", mode).Scan(&n, &f); err != nil {
			t.Fatalf("%v: %v", mode, err)
		}
		v, _ := n.Value()
		if v != "2.0000000000000000" || f != 3 {
			t.Errorf("%v: avg %v, product %v", mode, v, f)
		}
	}
	rows, err := c.Query(ctx, "SELECT avg(n) FROM cpu")
	if err != nil {
		t.Fatal(err)
	}
	rows.Close()
	if oid := rows.FieldDescriptions()[0].DataTypeOID; oid != pgtype.NumericOID {
		t.Errorf("avg(bigint) sent as oid %d", oid)
	}
}

func TestCatalogTypesOnTheWire(t *testing.T) {
	ts := startServer(t)
	c := ts.connect(t, "postgres")
	if _, err := c.Exec(ctx, setup); err != nil {
		t.Fatal(err)
	}
	// prepared (binary) and simple (text) agree; oid and name columns are
	// announced as PostgreSQL does
	for _, mode := range []pgx.QueryExecMode{pgx.QueryExecModeCacheStatement, pgx.QueryExecModeSimpleProtocol} {
		rows, err := c.Query(ctx, "SELECT c.oid, c.relname, c.relkind, c.relnatts FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'public' AND c.relname = $1", mode, "cpu")
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for rows.Next() {
			v, err := rows.Values()
			if err != nil {
				t.Fatalf("%v: %v", mode, err)
			}
			got = append(got, fmt.Sprint(v...))
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		fds := rows.FieldDescriptions()
		want := []uint32{pgtype.OIDOID, pgtype.NameOID, pgtype.QCharOID, pgtype.Int2OID}
		for i, fd := range fds {
			if fd.DataTypeOID != want[i] {
				t.Errorf("%v: %s announced as %d, want %d", mode, fd.Name, fd.DataTypeOID, want[i])
			}
		}
		if len(got) != 1 || !strings.Contains(got[0], "cpu") {
			t.Errorf("%v: rows %q", mode, got)
		}
	}
}

func TestEmptyAndNullText(t *testing.T) {
	ts := startServer(t)
	c := ts.connect(t, "postgres")
	for _, mode := range []pgx.QueryExecMode{pgx.QueryExecModeCacheStatement, pgx.QueryExecModeSimpleProtocol} {
		var a, b *string
		if err := c.QueryRow(ctx, "SELECT '' AS a, NULL::text AS b", mode).Scan(&a, &b); err != nil {
			t.Fatal(err)
		}
		if a == nil || *a != "" || b != nil {
			t.Errorf("%v: '' came out as %v, NULL as %v", mode, a, b)
		}
	}
}

func TestSessionInSQL(t *testing.T) {
	ts := startServer(t)
	c := ts.connect(t, "postgres")
	if _, err := c.Exec(ctx, "SET search_path = myschema, public; SET application_name = 'probe'"); err != nil {
		t.Fatal(err)
	}
	var sp, app, user, version string
	var pid int64
	if err := c.QueryRow(ctx, "SELECT current_setting('search_path'), current_setting('application_name'), current_user, version(), pg_backend_pid()").Scan(&sp, &app, &user, &version, &pid); err != nil {
		t.Fatal(err)
	}
	if sp != "myschema, public" || app != "probe" || user != "ugnos" || !strings.Contains(version, "ugnos test") || uint32(pid) != c.PgConn().PID() {
		t.Errorf("search_path %q, application_name %q, user %q, version %q, pid %d (connection's %d)", sp, app, user, version, pid, c.PgConn().PID())
	}
}

// TestExplainWithParameters: EXPLAIN of a statement with parameters is
// described with them (as PostgreSQL does), and the plan shows the
// parameters' values pushed into the scan.
func TestExplainWithParameters(t *testing.T) {
	ts := startServer(t)
	c := ts.connect(t, "postgres")
	if _, err := c.Exec(ctx, setup); err != nil {
		t.Fatal(err)
	}
	rows, err := c.Query(ctx, "EXPLAIN SELECT count(*) FROM cpu WHERE hostname = $1 AND time >= $2", "a", "2016-01-01 00:00:10+00")
	if err != nil {
		t.Fatal(err)
	}
	var plan []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			t.Fatal(err)
		}
		plan = append(plan, s)
	}
	if rows.Err() != nil {
		t.Fatal(rows.Err())
	}
	got := strings.Join(plan, "\n")
	if !strings.Contains(got, "hostname = (a)") || !strings.Contains(got, "time=[2016-01-01 00:00:10+00") {
		t.Errorf("the parameters are not pushed into the scan:\n%s", got)
	}
}
