package tsbs

import (
	"bufio"
	"io"
	"strconv"
	"time"
)

const writeBufSize = 256 << 10

// rowWriter buffers rows into a bufio.Writer and counts the bytes written.
type rowWriter struct {
	bw    *bufio.Writer
	n     int64
	buf   []byte
	lastT int64
	tbuf  []byte // formatted time of lastT
}

func newRowWriter(w io.Writer) *rowWriter {
	return &rowWriter{bw: bufio.NewWriterSize(w, writeBufSize), buf: make([]byte, 0, 512), lastT: -1}
}

func (rw *rowWriter) write(b []byte) error {
	n, err := rw.bw.Write(b)
	rw.n += int64(n)
	return err
}

// rfc3339 returns ns formatted as RFC 3339 in UTC, cached per timestamp since
// all hosts of an epoch share it.
func (rw *rowWriter) rfc3339(ns int64) []byte {
	if ns != rw.lastT || rw.tbuf == nil {
		rw.tbuf = time.Unix(0, ns).UTC().AppendFormat(rw.tbuf[:0], time.RFC3339Nano)
		rw.lastT = ns
	}
	return rw.tbuf
}

// WriteCSV writes the generator's remaining rows as TSBS CSV: a header line,
// then per row the time (RFC 3339, UTC), the 10 tags in TagNames order and the
// 10 fields in FieldNames order as integers, comma-separated, '\n'-terminated.
// It returns the bytes written.
func WriteCSV(w io.Writer, g *Generator) (int64, error) {
	rw := newRowWriter(w)
	b := append(rw.buf[:0], "time"...)
	for _, name := range TagNames {
		b = append(append(b, ','), name...)
	}
	for _, name := range FieldNames {
		b = append(append(b, ','), name...)
	}
	b = append(b, '\n')
	if err := rw.write(b); err != nil {
		return rw.n, err
	}
	var r Row
	for g.Next(&r) {
		b = append(b[:0], rw.rfc3339(r.Time)...)
		for _, v := range r.Tags {
			b = append(append(b, ','), v...)
		}
		for _, v := range r.Fields {
			b = strconv.AppendInt(append(b, ','), int64(v), 10)
		}
		b = append(b, '\n')
		if err := rw.write(b); err != nil {
			return rw.n, err
		}
	}
	rw.buf = b
	return rw.n, rw.bw.Flush()
}

// WriteLineProtocol writes the generator's remaining rows as InfluxDB line
// protocol: measurement cpu, the 10 tags, the 10 fields as floats (no 'i'
// suffix) and the timestamp in nanoseconds, one '\n'-terminated line per row.
// Tag values need no escaping: the generator's value sets contain no spaces,
// commas or equals signs. It returns the bytes written.
func WriteLineProtocol(w io.Writer, g *Generator) (int64, error) {
	rw := newRowWriter(w)
	b := rw.buf
	var r Row
	for g.Next(&r) {
		b = append(b[:0], "cpu"...)
		for i, v := range r.Tags {
			b = append(append(append(append(b, ','), TagNames[i]...), '='), v...)
		}
		for i, v := range r.Fields {
			sep := byte(',')
			if i == 0 {
				sep = ' '
			}
			b = append(append(append(b, sep), FieldNames[i]...), '=')
			b = appendFloat(b, v)
		}
		b = strconv.AppendInt(append(b, ' '), r.Time, 10)
		b = append(b, '\n')
		if err := rw.write(b); err != nil {
			return rw.n, err
		}
	}
	rw.buf = b
	return rw.n, rw.bw.Flush()
}

// appendFloat appends v as strconv.AppendFloat(b, v, 'f', -1, 64) would, with
// a fast path for the integer values the generator produces.
func appendFloat(b []byte, v float64) []byte {
	if i := int64(v); float64(i) == v && i >= -1<<53 && i <= 1<<53 {
		return strconv.AppendInt(b, i, 10)
	}
	return strconv.AppendFloat(b, v, 'f', -1, 64)
}
