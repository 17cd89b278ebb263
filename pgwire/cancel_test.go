package pgwire_test

import (
	"bytes"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/ugnos/ugnos"
)

// slowTable holds enough rows that a self cross join runs for many
// seconds, for the cancellation tests.
func slowTable(t *testing.T, ts *testServer) {
	t.Helper()
	pts := make([]ugnos.Point, 20000)
	for i := range pts {
		pts[i] = ugnos.Point{Timestamp: int64(i) * 1e9, Value: float64(i), Tags: ugnos.TagSet{"h": "a"}}
	}
	if err := ts.db.InsertBatch("postgres", "big", pts); err != nil {
		t.Fatal(err)
	}
}

const slowQuery = "SELECT count(*) FROM big a, big b WHERE a.value < b.value"

func TestCancelRequest(t *testing.T) {
	ts := startServer(t)
	slowTable(t, ts)
	fe, _, key := rawConnKey(t, ts.addr)
	fe.Send(&pgproto3.Query{String: slowQuery})
	if err := fe.Flush(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond)
	// a wrong secret cancels nothing; the right one cancels the query
	for _, secret := range [][]byte{{0, 0, 0, 0}, key.SecretKey} {
		if bytes.Equal(secret, key.SecretKey) {
			time.Sleep(200 * time.Millisecond)
		}
		nc, err := net.Dial("tcp", ts.addr)
		if err != nil {
			t.Fatal(err)
		}
		cfe := pgproto3.NewFrontend(nc, nc)
		cfe.Send(&pgproto3.CancelRequest{ProcessID: key.ProcessID, SecretKey: secret})
		if err := cfe.Flush(); err != nil {
			t.Fatal(err)
		}
		// the server closes a cancel connection without answering
		if _, err := cfe.Receive(); err == nil {
			t.Error("the server answered a CancelRequest")
		}
		nc.Close()
	}
	got := strings.Join(until(t, fe), " ")
	if got != "RowDescription ErrorResponse(57014) ReadyForQuery" {
		t.Fatalf("cancelled query: %s", got)
	}
	// the connection goes on
	fe.Send(&pgproto3.Query{String: "SELECT count(*) FROM big"})
	_ = fe.Flush()
	if got := strings.Join(until(t, fe), " "); got != "RowDescription DataRow(20000) CommandComplete(SELECT 1) ReadyForQuery" {
		t.Fatalf("after cancel: %s", got)
	}
}

func TestStatementTimeout(t *testing.T) {
	ts := startServer(t)
	slowTable(t, ts)
	c := ts.connect(t, "postgres")
	if _, err := c.Exec(ctx, "SET statement_timeout = '200ms'"); err != nil {
		t.Fatal(err)
	}
	_, err := c.Exec(ctx, slowQuery)
	if sqlState(err) != "57014" {
		t.Fatalf("statement_timeout: %v, want SQLSTATE 57014", err)
	}
	// the session goes on
	var n int64
	if err := c.QueryRow(ctx, "SELECT count(*) FROM big").Scan(&n); err != nil || n != 20000 {
		t.Fatalf("after timeout: %d %v", n, err)
	}
}
