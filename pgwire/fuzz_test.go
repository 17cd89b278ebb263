package pgwire_test

import (
	"encoding/binary"
	"errors"
	"io"
	"net"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/ugnos/ugnos/internal/fuzzcheck"
)

// FuzzMessages sends arbitrary bytes after a valid start-up (and, for
// inputs starting with 0xFF, as the start-up packet itself) to a server
// over a database with a small table: simple and extended queries, COPY
// FROM STDIN in its three formats and COPY TO STDOUT, out of order and
// with bad lengths. The server must answer with errors or close the
// connection, never panic; once the client has sent everything and shut
// its side, the server must close the connection within the limit (a
// hang is a failure), leave no goroutine or file behind, and keep serving
// other clients.
//
//	go test -run '^$' -fuzz '^FuzzMessages$' -fuzztime 30s ./pgwire/
func FuzzMessages(f *testing.F) {
	msg := func(typ byte, body string) []byte {
		b := []byte{typ}
		b = binary.BigEndian.AppendUint32(b, uint32(len(body)+4))
		return append(b, body...)
	}
	cat := func(ms ...[]byte) []byte {
		var b []byte
		for _, m := range ms {
			b = append(b, m...)
		}
		return b
	}
	sync, flush := msg('S', ""), msg('H', "")
	// binary COPY: signature, flags, extension length, one row of 3 fields, trailer
	binRow := "PGCOPY\n\xff\r\n\x00" + "\x00\x00\x00\x00" + "\x00\x00\x00\x00" +
		"\x00\x03" + "\x00\x00\x00\x08\x00\x01\xc6\x3c\x7d\x6a\x40\x00" + "\x00\x00\x00\x01a" + "\x00\x00\x00\x08\x3f\xf0\x00\x00\x00\x00\x00\x00" +
		"\xff\xff"
	for _, seed := range [][]byte{
		msg('Q', "SELECT 1\x00"),
		msg('Q', "SELECT 1"),
		msg('Q', "SELECT * FROM t; SELECT count(*) FROM t\x00"),
		msg('Q', "BEGIN; INSERT INTO t VALUES ('2020-01-01', 'x', 1); ROLLBACK\x00"),
		msg('P', "s\x00SELECT $1\x00\x00\x01\x00\x00\x00\x17"),
		cat(msg('P', "\x00SELECT 1\x00\x00\x00"), msg('B', "\x00\x00\x00\x00\x00\x00\x00\x01\x00\x01")),
		// a whole extended round: parse, bind a parameter, describe, execute with a row limit, close, sync
		cat(msg('P', "q\x00SELECT * FROM t WHERE v > $1\x00\x00\x01\x00\x00\x02\xbd"), msg('B', "p\x00q\x00\x00\x00\x00\x01\x00\x00\x00\x011\x00\x00"),
			msg('D', "Pp\x00"), msg('E', "p\x00\x00\x00\x00\x01"), msg('E', "p\x00\x00\x00\x00\x00"), msg('C', "Pp\x00"), msg('C', "Sq\x00"), sync),
		cat(msg('P', "\x00SELECT 1/0\x00\x00\x00"), msg('B', "\x00\x00\x00\x00\x00\x00\x00"), msg('E', "\x00\x00\x00\x00\x00"), flush, msg('E', "\x00\x00\x00\x00\x00"), sync),
		cat(msg('B', "nope\x00nope\x00\x00\x00\x00\x00\x00\x00"), sync, msg('Q', "SELECT 2\x00")),
		msg('B', "\x00\x00\x00\x01\x00\x01\x00\x01\xff\xff\xff\xfe"),
		msg('B', "\x00\x00\xff\xff"),
		msg('E', "\x00\x00\x00\x00\x05"),
		msg('D', "Sx\x00"),
		msg('D', "X\x00"),
		msg('d', "junk"),
		msg('F', "\x00\x00\x00\x01"),
		// COPY FROM STDIN: text, CSV, binary; good, bad and unfinished
		cat(msg('Q', "COPY t FROM STDIN\x00"), msg('d', "2020-01-01 00:00:00+00\ta\t1\n2020-01-01 00:00:01+00\t\\N\t2\n"), msg('c', ""), msg('Q', "SELECT count(*) FROM t\x00")),
		cat(msg('Q', "COPY t FROM STDIN\x00"), msg('d', "2020-01-01\ta"), msg('d', "\t1\nnot a time\tb\tx\n"), msg('c', "")),
		cat(msg('Q', "COPY t (time, v) FROM STDIN WITH (FORMAT csv, HEADER true)\x00"), msg('d', "time,v\n\"2020-01-01\",\"1\"\n\"unterminated\n"), msg('c', "")),
		cat(msg('Q', "COPY t FROM STDIN WITH (FORMAT binary)\x00"), msg('d', binRow), msg('c', "")),
		cat(msg('Q', "COPY t FROM STDIN WITH (FORMAT binary)\x00"), msg('d', binRow[:30]), msg('c', "")),
		cat(msg('Q', "COPY t FROM STDIN WITH (FORMAT binary)\x00"), msg('d', "PGCOPY\n\xff\r\n\x00\x00\x00\x00\x00\x7f\xff\xff\xff")),
		cat(msg('Q', "COPY t FROM STDIN\x00"), msg('d', "2020-01-01\ta\t1\n"), msg('f', "client gave up\x00"), msg('Q', "SELECT 1\x00")),
		cat(msg('Q', "COPY t FROM STDIN\x00"), msg('Q', "SELECT 1\x00")),
		cat(msg('Q', "COPY t FROM STDIN\x00"), msg('d', "2020-01-01\ta\t1\n")), // never finished
		msg('Q', "COPY t TO STDOUT\x00"),
		msg('Q', "COPY (SELECT * FROM t) TO STDOUT WITH (FORMAT binary)\x00"),
		cat(msg('P', "\x00COPY t FROM STDIN\x00\x00\x00"), msg('B', "\x00\x00\x00\x00\x00\x00\x00"), msg('E', "\x00\x00\x00\x00\x00"), msg('d', "x\n"), msg('c', ""), sync),
		msg('X', ""),
		cat(msg('X', ""), msg('Q', "SELECT 1\x00")),
		{'Q', 0xff, 0xff, 0xff, 0xff},
		{'Q', 0, 0, 0, 3},
		{'d', 0x7f, 0xff, 0xff, 0xff, 'x'},
		{0xff, 0, 0, 0, 8, 0, 3, 0, 0},
		{0xff, 0, 0, 0, 16, 4, 0xd2, 0x16, 0x2e, 0, 0, 0, 1, 0, 0, 0, 2}, // CancelRequest
		{0xff, 0, 0, 0, 8, 4, 0xd2, 0x16, 0x2f},                          // SSLRequest
		{0xff, 0, 0, 0, 8, 4, 0xd2, 0x16, 0x30},                          // GSSENCRequest
		{0xff, 0x7f, 0xff, 0xff, 0xff, 0, 3, 0, 0},
		{0xff, 0, 0, 0, 9, 0, 3, 0, 0, 'u'},
		append([]byte{0xff, 0, 0, 0, 21, 0, 3, 0, 0}, "user\x00\xff\xfe\x00\x00"...),
	} {
		f.Add(seed)
	}
	ts := startServer(f)
	for _, q := range []string{
		"CREATE TABLE t (time timestamptz, host text, v double precision)",
		"INSERT INTO t VALUES ('2020-01-01 00:00:00+00', 'a', 1), ('2020-01-01 00:00:01+00', 'b', 2)",
	} {
		if _, err := ts.db.Exec(ctx, "postgres", q); err != nil {
			f.Fatal(err)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		defer fuzzcheck.Start(t, 30*time.Second)()
		nc, err := net.Dial("tcp", ts.addr)
		if err != nil {
			t.Fatal(err)
		}
		defer nc.Close()
		// read while writing: a server answering a long input must not
		// block on a full socket
		read := make(chan error, 1)
		go func() {
			_, err := io.Copy(io.Discard, nc)
			read <- err
		}()
		_ = nc.SetDeadline(time.Now().Add(10 * time.Second))
		if len(data) > 0 && data[0] == 0xff {
			_, _ = nc.Write(data[1:])
		} else {
			fe := pgproto3.NewFrontend(nc, nc)
			fe.Send(&pgproto3.StartupMessage{ProtocolVersion: pgproto3.ProtocolVersion30, Parameters: map[string]string{"user": "ugnos", "database": "postgres"}})
			_ = fe.Flush()
			_, _ = nc.Write(data)
		}
		if tc, ok := nc.(*net.TCPConn); ok {
			_ = tc.CloseWrite()
		}
		if err := <-read; errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatalf("the server neither closed the connection nor stopped writing within 10s of the end of the input")
		}
		nc.Close()
		// everyone else is still served
		fe, other := rawConn(t, ts.addr)
		fe.Send(&pgproto3.Query{String: "SELECT 1"})
		_ = fe.Flush()
		if got := until(t, fe); len(got) != 4 || got[1] != "DataRow(1)" {
			t.Fatalf("after fuzz input: %v", got)
		}
		fe.Send(&pgproto3.Terminate{})
		_ = fe.Flush()
		_ = other.SetReadDeadline(time.Now().Add(10 * time.Second))
		_, _ = io.Copy(io.Discard, other) // the server closes it
		other.Close()
	})
}
