package wal

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ugnos/ugnos/errs"
)

// writeLog writes n records of the given size and returns them, closed.
func writeLog(t *testing.T, dir string, opts Options, n, size int) []rec {
	t.Helper()
	w, _, _ := openT(t, dir, opts)
	var recs []rec
	for i := range n {
		p := bytes.Repeat([]byte{byte('a' + i%26)}, size)
		binary.LittleEndian.PutUint32(p, uint32(i))
		recs = append(recs, logT(t, w, p))
	}
	closeT(t, w)
	return recs
}

// recordOffset returns the file offset of the record ending at lsn in s.
func recordOffset(s segFile, r rec) int64 {
	return int64(r.lsn-s.base) + headerSize - recHeadSize - int64(len(r.data))
}

func TestTornTail(t *testing.T) {
	dir := t.TempDir()
	opts := Options{SegmentSize: 250}
	recs := writeLog(t, dir, opts, 9, 60) // 68-byte records: 4 per segment
	segs := segFiles(t, dir)
	lastSeg := segs[len(segs)-1]
	if len(segs) < 3 || lastSeg.size != headerSize+recHeadSize+60 {
		t.Fatalf("want a last segment with one record; got %d segments, last %d bytes", len(segs), lastSeg.size)
	}
	pristine, err := os.ReadFile(lastSeg.path)
	if err != nil {
		t.Fatal(err)
	}
	lastStart := recordOffset(lastSeg, recs[len(recs)-1])

	for l := int64(0); l < lastSeg.size; l++ {
		if err := os.WriteFile(lastSeg.path, pristine[:l], 0o644); err != nil {
			t.Fatal(err)
		}
		w, rep, got := openT(t, dir, opts)
		sameRecs(t, got, recs[:len(recs)-1])
		wantTrunc := l != 0 && l != lastStart
		if rep.Truncated != wantTrunc {
			t.Fatalf("cut at %d: Truncated %v, report %+v", l, rep.Truncated, rep)
		}
		if wantTrunc {
			wantAt := lastStart
			if l < headerSize {
				wantAt = 0
			}
			if rep.TruncatedSegment != lastSeg.path || rep.TruncatedAt != wantAt || rep.DroppedBytes != l-wantAt ||
				len(rep.MovedAside) != 0 || rep.Reason == "" {
				t.Fatalf("cut at %d: report %+v", l, rep)
			}
		}
		if st := w.Stats(); st.AppendedLSN != recs[len(recs)-2].lsn {
			t.Fatalf("cut at %d: WAL positioned at %d, want %d", l, st.AppendedLSN, recs[len(recs)-2].lsn)
		}
		closeT(t, w)
		if fi, _ := os.Stat(lastSeg.path); fi.Size() != headerSize {
			t.Fatalf("cut at %d: repaired segment is %d bytes", l, fi.Size())
		}
	}

	// Appending after a repair continues from the good end.
	if err := os.WriteFile(lastSeg.path, pristine[:lastSeg.size-7], 0o644); err != nil {
		t.Fatal(err)
	}
	w, rep, _ := openT(t, dir, opts)
	if !rep.Truncated {
		t.Fatalf("report %+v", rep)
	}
	want := recs[:len(recs)-1]
	for i := range 10 {
		want = append(want, logT(t, w, []byte(fmt.Sprintf("new %d", i))))
	}
	closeT(t, w)
	w, rep, got := openT(t, dir, opts)
	defer closeT(t, w)
	if rep.Truncated {
		t.Fatalf("second reopen: %+v", rep)
	}
	sameRecs(t, got, want)
}

func TestBitFlip(t *testing.T) {
	dir := t.TempDir()
	recs := writeLog(t, dir, Options{MaxRecord: 1 << 10}, 3, 24)
	seg := segFiles(t, dir)[0]
	pristine, err := os.ReadFile(seg.path)
	if err != nil {
		t.Fatal(err)
	}
	start := recordOffset(seg, recs[1])
	end := start + recHeadSize + 24

	for bit := start * 8; bit < end*8; bit++ {
		b := bytes.Clone(pristine)
		b[bit/8] ^= 1 << (bit % 8)
		if err := os.WriteFile(seg.path, b, 0o644); err != nil {
			t.Fatal(err)
		}
		w, rep, got := openT(t, dir, Options{MaxRecord: 1 << 10})
		sameRecs(t, got, recs[:1])
		if !rep.Truncated || rep.TruncatedAt != start || rep.DroppedBytes != seg.size-start {
			t.Fatalf("bit %d: report %+v", bit, rep)
		}
		closeT(t, w)
	}
}

func TestMidLogCorruption(t *testing.T) {
	f := func(name string, damage func(t *testing.T, segs []segFile), wantRecs, movedFrom int, wantReason string) {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			opts := Options{SegmentSize: 250}
			recs := writeLog(t, dir, opts, 19, 60) // 4 records per segment, 5 segments
			segs := segFiles(t, dir)
			if len(segs) != 5 {
				t.Fatalf("%d segments", len(segs))
			}
			damage(t, segs)

			w, rep, got := openT(t, dir, opts)
			want := recs[:wantRecs]
			sameRecs(t, got, want)
			if !rep.Truncated || !strings.Contains(rep.Reason, wantReason) {
				t.Fatalf("report %+v", rep)
			}
			var wantMoved []string
			for _, s := range segs[movedFrom:] {
				wantMoved = append(wantMoved, s.path+".corrupt")
			}
			if fmt.Sprint(rep.MovedAside) != fmt.Sprint(wantMoved) {
				t.Fatalf("moved aside %v, want %v", rep.MovedAside, wantMoved)
			}
			for _, p := range wantMoved {
				if _, err := os.Stat(p); err != nil {
					t.Fatal(err)
				}
			}
			// Appends continue from the repaired end; reopening is clean.
			for i := range 5 {
				want = append(want, logT(t, w, []byte(fmt.Sprintf("after %d", i))))
			}
			closeT(t, w)
			w, rep, got = openT(t, dir, opts)
			defer closeT(t, w)
			if rep.Truncated {
				t.Fatalf("second reopen: %+v", rep)
			}
			sameRecs(t, got, want)
		})
	}
	flipByte := func(i int, off int64) func(*testing.T, []segFile) {
		return func(t *testing.T, segs []segFile) {
			b, err := os.ReadFile(segs[i].path)
			if err != nil {
				t.Fatal(err)
			}
			b[off] ^= 0x40
			if err := os.WriteFile(segs[i].path, b, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	// A flipped payload byte in the third record of segment 2.
	f("bad record", flipByte(2, headerSize+2*68+20), 10, 3, "checksum")
	// A broken header in segment 2: segments 2.. are moved aside.
	f("bad header", flipByte(2, 1), 8, 2, "magic")
	// A bad header in the last segment that is complete: moved aside too.
	f("bad last header", flipByte(4, 9), 16, 4, "header")
	// Segment 2 is missing: 3 and 4 do not follow segment 1.
	f("gap", func(t *testing.T, segs []segFile) {
		if err := os.Remove(segs[2].path); err != nil {
			t.Fatal(err)
		}
	}, 8, 3, "gap")
	// Segment 1 was cut short: 2.. do not follow.
	f("short segment", func(t *testing.T, segs []segFile) {
		if err := os.Truncate(segs[1].path, segs[1].size-68); err != nil {
			t.Fatal(err)
		}
	}, 7, 2, "gap")
}

func TestFirstSegmentBadHeader(t *testing.T) {
	dir := t.TempDir()
	writeLog(t, dir, Options{}, 3, 10)
	seg := segFiles(t, dir)[0]
	b, _ := os.ReadFile(seg.path)
	b[0] = 'X'
	os.WriteFile(seg.path, b, 0o644)

	w, rep, got := openT(t, dir, Options{})
	if len(got) != 0 || !rep.Truncated || len(rep.MovedAside) != 1 || rep.DroppedBytes != seg.size {
		t.Fatalf("%d records, report %+v", len(got), rep)
	}
	// The new segment starts at the same LSN as the bad one.
	r := logT(t, w, []byte("fresh"))
	closeT(t, w)
	w, _, got = openT(t, dir, Options{})
	defer closeT(t, w)
	sameRecs(t, got, []rec{r})
}

func TestUnrepairableLogsAreLeftAlone(t *testing.T) {
	t.Run("version", func(t *testing.T) {
		dir := t.TempDir()
		writeLog(t, dir, Options{}, 3, 10)
		seg := segFiles(t, dir)[0]
		b, _ := os.ReadFile(seg.path)
		binary.LittleEndian.PutUint32(b[4:8], 99)
		binary.LittleEndian.PutUint32(b[16:20], crc32.Checksum(b[:16], castagnoli))
		os.WriteFile(seg.path, b, 0o644)
		if _, _, err := Open(dir, quiet(Options{}), nil); !errors.Is(err, errs.ErrCorrupt) {
			t.Fatalf("Open of a future version: %v", err)
		}
		if after, _ := os.ReadFile(seg.path); !bytes.Equal(after, b) {
			t.Fatal("segment of an unknown version was modified")
		}
	})
	t.Run("MaxRecord", func(t *testing.T) {
		dir := t.TempDir()
		recs := writeLog(t, dir, Options{}, 3, 2000)
		if _, _, err := Open(dir, quiet(Options{MaxRecord: 1000}), nil); !errors.Is(err, errs.ErrInvalidInput) {
			t.Fatalf("Open with a smaller MaxRecord: %v", err)
		}
		w, rep, got := openT(t, dir, Options{})
		defer closeT(t, w)
		if rep.Truncated {
			t.Fatalf("report %+v", rep)
		}
		sameRecs(t, got, recs)
	})
}

func TestZeroLengthLastSegment(t *testing.T) {
	dir := t.TempDir()
	recs := writeLog(t, dir, Options{}, 3, 10)
	// A crash right after creating the next segment.
	empty := filepath.Join(dir, segName(recs[2].lsn))
	if err := os.WriteFile(empty, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	w, rep, got := openT(t, dir, Options{})
	if rep.Truncated {
		t.Fatalf("report %+v", rep)
	}
	sameRecs(t, got, recs)
	r := logT(t, w, []byte("next"))
	closeT(t, w)
	if fi, _ := os.Stat(empty); fi.Size() != headerSize+recHeadSize+4 {
		t.Fatalf("new segment has %d bytes", fi.Size())
	}
	w, _, got = openT(t, dir, Options{})
	defer closeT(t, w)
	sameRecs(t, got, append(recs, r))
}
