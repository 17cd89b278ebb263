package wal

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"os"
	"path/filepath"
	"testing"

	"github.com/ugnos/ugnos/errs"
)

const fuzzMaxRecord = 1 << 12

// refParse is an independent reading of the record format: the records of a
// segment body (the bytes after the header) up to the first bad one.
func refParse(body []byte) []rec {
	var out []rec
	var lsn LSN
	for len(body) >= recHeadSize {
		n := binary.LittleEndian.Uint32(body[0:4])
		if uint64(n) > uint64(len(body)-recHeadSize) || n > fuzzMaxRecord {
			break
		}
		want := binary.LittleEndian.Uint32(body[4:8])
		if crc32.Checksum(append(bytes.Clone(body[0:4]), body[recHeadSize:recHeadSize+n]...), castagnoli) != want {
			break
		}
		lsn += LSN(recHeadSize + n)
		out = append(out, rec{lsn, bytes.Clone(body[recHeadSize : recHeadSize+n])})
		body = body[recHeadSize+n:]
	}
	return out
}

func frame(payloads ...string) []byte {
	var b []byte
	for _, p := range payloads {
		var h [recHeadSize]byte
		binary.LittleEndian.PutUint32(h[0:4], uint32(len(p)))
		binary.LittleEndian.PutUint32(h[4:8], crc32.Checksum(append(bytes.Clone(h[0:4]), p...), castagnoli))
		b = append(append(b, h[:]...), p...)
	}
	return b
}

// FuzzReplay writes arbitrary bytes as a segment (after a valid header if
// withHeader) and checks that Open neither panics nor hands out a record the
// reference parser rejects, and that the repaired log reopens cleanly.
//
//	go test -run xxx -fuzz FuzzReplay -fuzztime 30s ./arrowstore/wal/
func FuzzReplay(f *testing.F) {
	good := frame("hello", "", "world of records")
	f.Add(good, true)
	f.Add(good[:len(good)-3], true)
	f.Add(append(bytes.Clone(good), 0, 0, 0, 0, 0, 0, 0, 0), true)
	f.Add(append(bytes.Clone(good), 0xff, 0xff, 0xff, 0xff, 1, 2, 3, 4), true)
	f.Add([]byte{}, true)
	h := encodeHeader(0)
	f.Add(append(h[:], good...), false)
	f.Add(h[:7], false)
	f.Add([]byte("not a wal segment at all, but long enough"), false)

	f.Fuzz(func(t *testing.T, data []byte, withHeader bool) {
		dir := t.TempDir()
		content := data
		if withHeader {
			content = append(h[:], data...)
		}
		path := filepath.Join(dir, segName(0))
		if err := os.WriteFile(path, content, 0o644); err != nil {
			t.Fatal(err)
		}
		var want []rec
		if len(content) >= headerSize && bytes.Equal(content[:headerSize], h[:]) {
			want = refParse(content[headerSize:])
		}

		opts := Options{MaxRecord: fuzzMaxRecord, SyncMode: SyncNever}
		var got []rec
		w, rep, err := Open(dir, quiet(opts), func(lsn LSN, p []byte) error {
			got = append(got, rec{lsn, bytes.Clone(p)})
			return nil
		})
		if err != nil {
			// Only an intact header of another version, or an intact record
			// over MaxRecord, may refuse to open.
			if !errors.Is(err, errs.ErrCorrupt) && !errors.Is(err, errs.ErrInvalidInput) {
				t.Fatalf("Open: %v", err)
			}
			return
		}
		if len(got) != len(want) {
			t.Fatalf("replayed %d records, reference parser %d (report %+v)", len(got), len(want), rep)
		}
		for i := range want {
			if got[i].lsn != want[i].lsn || !bytes.Equal(got[i].data, want[i].data) {
				t.Fatalf("record %d differs from the reference parser", i)
			}
		}
		var end LSN
		if len(want) > 0 {
			end = want[len(want)-1].lsn
		}
		if st := w.Stats(); st.AppendedLSN != end {
			t.Fatalf("positioned at %d, want %d", st.AppendedLSN, end)
		}
		r := logT(t, w, []byte("after"))
		closeT(t, w)

		w, rep, got2 := openT(t, dir, opts)
		defer closeT(t, w)
		if rep.Truncated {
			t.Fatalf("repaired log is not clean: %+v", rep)
		}
		sameRecs(t, got2, append(want, r))
	})
}
