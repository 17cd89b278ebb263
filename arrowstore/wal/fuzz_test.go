package wal

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/ugnos/ugnos/errs"
	"github.com/ugnos/ugnos/internal/fuzzcheck"
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
// withHeader) and, when next is not empty, next as the records of a second
// segment that follows it. Open must not panic or hang, must hand out
// exactly the records the reference parser accepts (those of the second
// segment only if the first is good to its end), and the repaired log must
// take a record and reopen cleanly.
//
//	go test -run '^$' -fuzz '^FuzzReplay$' -fuzztime 30s ./arrowstore/wal/
func FuzzReplay(f *testing.F) {
	good := frame("hello", "", "world of records")
	flip := func(b []byte, i int) []byte { b = bytes.Clone(b); b[i] ^= 0x10; return b }
	f.Add(good, true, []byte(nil))
	f.Add(good[:len(good)-3], true, []byte(nil))
	f.Add(append(bytes.Clone(good), 0, 0, 0, 0, 0, 0, 0, 0), true, []byte(nil))
	f.Add(append(bytes.Clone(good), 0xff, 0xff, 0xff, 0xff, 1, 2, 3, 4), true, []byte(nil))
	f.Add(flip(good, 2), true, []byte(nil))                                // a length
	f.Add(flip(good, 5), true, []byte(nil))                                // a checksum
	f.Add(flip(good, 10), true, []byte(nil))                               // a payload
	f.Add(frame(string(make([]byte, fuzzMaxRecord+1))), true, []byte(nil)) // intact but over MaxRecord
	f.Add([]byte{}, true, []byte(nil))
	f.Add(good, true, frame("next", "segment"))
	f.Add(good[:len(good)-1], true, frame("next")) // torn, then more: corruption
	f.Add(good, true, flip(frame("next", "segment"), 9))
	f.Add([]byte{}, true, frame("x"))
	h := encodeHeader(0)
	f.Add(append(h[:], good...), false, []byte(nil))
	f.Add(h[:7], false, []byte(nil))
	f.Add(flip(append(h[:], good...), 4), false, []byte(nil)) // the version
	f.Add(flip(append(h[:], good...), 8), false, []byte(nil)) // the base LSN
	f.Add([]byte("not a wal segment at all, but long enough"), false, []byte(nil))

	f.Fuzz(func(t *testing.T, data []byte, withHeader bool, next []byte) {
		defer fuzzcheck.Start(t, 20*time.Second)()
		dir := t.TempDir()
		content := data
		if withHeader {
			content = append(h[:], data...)
		}
		if err := os.WriteFile(filepath.Join(dir, segName(0)), content, 0o644); err != nil {
			t.Fatal(err)
		}
		var want []rec
		if len(content) >= headerSize && bytes.Equal(content[:headerSize], h[:]) {
			want = refParse(content[headerSize:])
		}
		if withHeader && len(next) > 0 {
			base := LSN(len(data))
			nh := encodeHeader(base)
			if err := os.WriteFile(filepath.Join(dir, segName(base)), append(nh[:], next...), 0o644); err != nil {
				t.Fatal(err)
			}
			if len(want) == 0 && len(data) == 0 || len(want) > 0 && want[len(want)-1].lsn == base {
				for _, r := range refParse(next) {
					want = append(want, rec{base + r.lsn, r.data})
				}
			}
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
			w.Close()
			t.Fatalf("replayed %d records, reference parser %d (report %+v)", len(got), len(want), rep)
		}
		for i := range want {
			if got[i].lsn != want[i].lsn || !bytes.Equal(got[i].data, want[i].data) {
				w.Close()
				t.Fatalf("record %d differs from the reference parser", i)
			}
		}
		var end LSN
		if len(want) > 0 {
			end = want[len(want)-1].lsn
		}
		if st := w.Stats(); st.AppendedLSN != end {
			w.Close()
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
