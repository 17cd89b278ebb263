package pgwire_test

import (
	"encoding/binary"
	"io"
	"net"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgproto3"
)

// FuzzMessages sends arbitrary bytes after a valid start-up (and, for
// inputs starting with 0xFF, as the start-up packet itself). The server
// must answer with errors or close the connection, never panic, and keep
// serving other clients.
func FuzzMessages(f *testing.F) {
	msg := func(typ byte, body []byte) []byte {
		b := []byte{typ}
		b = binary.BigEndian.AppendUint32(b, uint32(len(body)+4))
		return append(b, body...)
	}
	f.Add(msg('Q', []byte("SELECT 1\x00")))
	f.Add(msg('Q', []byte("SELECT 1")))
	f.Add(msg('P', []byte("s\x00SELECT $1\x00\x00\x01\x00\x00\x00\x17")))
	f.Add(append(msg('P', []byte("\x00SELECT 1\x00\x00\x00")), msg('B', []byte("\x00\x00\x00\x00\x00\x00\x00\x01\x00\x01"))...))
	f.Add(msg('B', []byte("\x00\x00\x00\x01\x00\x01\x00\x01\xff\xff\xff\xfe")))
	f.Add(msg('E', []byte("\x00\x00\x00\x00\x05")))
	f.Add(msg('D', []byte("Sx\x00")))
	f.Add(msg('d', []byte("junk")))
	f.Add(msg('Q', []byte("COPY t FROM STDIN\x00")))
	f.Add([]byte{'Q', 0xff, 0xff, 0xff, 0xff})
	f.Add([]byte{0xff, 0, 0, 0, 8, 0, 3, 0, 0})
	f.Add([]byte{0xff, 0, 0, 0, 16, 4, 0xd2, 0x16, 0x2e, 0, 0, 0, 1, 0, 0, 0, 2})
	ts := startServer(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		nc, err := net.Dial("tcp", ts.addr)
		if err != nil {
			t.Fatal(err)
		}
		defer nc.Close()
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
		_ = nc.SetReadDeadline(time.Now().Add(5 * time.Second))
		_, _ = io.Copy(io.Discard, nc)
		// everyone else is still served
		fe, _ := rawConn(t, ts.addr)
		fe.Send(&pgproto3.Query{String: "SELECT 1"})
		_ = fe.Flush()
		if got := until(t, fe); len(got) != 4 || got[1] != "DataRow(1)" {
			t.Fatalf("after fuzz input: %v", got)
		}
	})
}
