package segment

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"

	"github.com/ugnos/ugnos/arrowstore"
	"github.com/ugnos/ugnos/arrowstore/membuf"
	"github.com/ugnos/ugnos/errs"
	"github.com/ugnos/ugnos/internal/fuzzcheck"
)

// row is one row of the test data, as plain values.
type row struct {
	t   int64
	sid uint32
	f   float64
	fOK bool
	i   int64
	s   string
}

func testRows(n int) []row {
	out := make([]row, n)
	for k := range out {
		out[k] = row{t: int64(1000 + (k*7919)%n), sid: uint32(k % 5), f: float64(k) / 4, fOK: k%3 != 0, i: int64(k) - 50, s: fmt.Sprintf("v%d", k%4)}
	}
	out[1].f = math.NaN()
	out[2].f = math.Inf(-1)
	return out
}

// sealed puts rows through a membuf and returns its sealed batches.
func sealed(t *testing.T, rows []row) []*membuf.Batch {
	t.Helper()
	b := membuf.New(membuf.Config{Shards: 1, SealRows: 1 << 20})
	fb, ib, sb := array.NewFloat64Builder(memory.DefaultAllocator), array.NewInt64Builder(memory.DefaultAllocator), array.NewStringBuilder(memory.DefaultAllocator)
	r := &membuf.Rows{N: len(rows)}
	for _, x := range rows {
		r.Time = append(r.Time, x.t)
		r.SID = append(r.SID, x.sid)
		if x.fOK {
			fb.Append(x.f)
		} else {
			fb.AppendNull()
		}
		ib.Append(x.i)
		sb.Append(x.s)
	}
	// slot 1 (a bigint) is never written: all NULL in every batch
	r.Cols = []membuf.Col{{Slot: 0, Type: arrowstore.TypeFloat, Arr: fb.NewArray()}, {Slot: 2, Type: arrowstore.TypeInt, Arr: ib.NewArray()},
		{Slot: 3, Type: arrowstore.TypeString, Arr: sb.NewArray()}}
	b.Append(r)
	b.Seal()
	return b.Sealed()
}

var testCols = []Column{
	{Name: "host", Kind: arrowstore.KindTag, Slot: 0},
	{Name: "usage", Kind: arrowstore.KindField, Slot: 0, Type: arrowstore.TypeFloat},
	{Name: "absent", Kind: arrowstore.KindField, Slot: 1, Type: arrowstore.TypeInt},
	{Name: "n", Kind: arrowstore.KindField, Slot: 2, Type: arrowstore.TypeInt},
	{Name: "note", Kind: arrowstore.KindField, Slot: 3, Type: arrowstore.TypeString},
}

func testTags(sid uint32, slot int) string {
	if sid == 4 {
		return "" // a series without the tag
	}
	return fmt.Sprintf("host_%d", sid)
}

func TestWriteLoad(t *testing.T) {
	rows := testRows(1000)
	bts := sealed(t, rows[:600])
	bts = append(bts, sealed(t, rows[600:])...)
	path := filepath.Join(t.TempDir(), "p", "1.parquet")
	info, err := Write(path, 7, 42, testCols, testTags, bts, LevelDefault)
	if err != nil {
		t.Fatal(err)
	}
	if info.Rows != 1000 || info.MinT != 1000 || info.MaxT != 1999 || info.Size == 0 {
		t.Fatalf("info %+v", info)
	}
	if _, err := os.Stat(path + ".tmp"); !os.IsNotExist(err) {
		t.Fatalf("temporary file left: %v", err)
	}
	sf, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer sf.Close()
	m := sf.Meta
	if m.Table != 7 || m.LSN != 42 || len(m.RowGroups) != 2 || m.Rows() != 1000 || len(m.Columns) != len(testCols) {
		t.Fatalf("meta %+v", m)
	}
	// expected values per (sid, time) from the input rows
	type key struct {
		sid uint32
		t   int64
	}
	want := map[key]row{}
	for _, x := range rows {
		want[key{x.sid, x.t}] = x
	}
	seen := 0
	for g, bt := range bts {
		rg := m.RowGroups[g]
		if rg.N != bt.N || rg.MinT != bt.MinT || rg.MaxT != bt.MaxT || len(rg.Runs) != len(bt.Runs) {
			t.Fatalf("row group %d: %+v vs batch N=%d", g, rg, bt.N)
		}
		for i := range rg.Runs {
			if rg.Runs[i] != bt.Runs[i] {
				t.Fatalf("run %d: %+v, want %+v", i, rg.Runs[i], bt.Runs[i])
			}
		}
		for slot := range bt.Types {
			if rg.Types[slot] != bt.Types[slot] {
				t.Fatalf("slot %d type %v, want %v", slot, rg.Types[slot], bt.Types[slot])
			}
			z, wz := rg.Zones[slot], bt.Zones[slot]
			if z.Nulls != wz.Nulls || z.HasMinMax != wz.HasMinMax || z.HasNaN != wz.HasNaN || z.MinI != wz.MinI || z.MaxI != wz.MaxI ||
				z.MinF != wz.MinF || z.MaxF != wz.MaxF {
				t.Fatalf("slot %d zone %+v, want %+v", slot, z, wz)
			}
		}
		got, err := sf.Load(context.Background(), g, []int{0, 1, 3})
		if err != nil {
			t.Fatal(err)
		}
		if got.N != bt.N || got.Col(2) != nil || got.Col(1) != nil {
			t.Fatalf("loaded %d rows, slot 2 %v (not asked), slot 1 %v (all NULL)", got.N, got.Col(2), got.Col(1))
		}
		f, s := got.Col(0).(*array.Float64), got.Col(3).(*array.String)
		for _, run := range got.Runs {
			for k := run.Start; k < run.End; k++ {
				w, ok := want[key{run.SID, got.Time[k]}]
				if !ok {
					t.Fatalf("row (%d, %d) not written", run.SID, got.Time[k])
				}
				seen++
				if f.IsValid(int(k)) != w.fOK || w.fOK && !(f.Value(int(k)) == w.f || math.IsNaN(w.f) && math.IsNaN(f.Value(int(k)))) || s.Value(int(k)) != w.s {
					t.Fatalf("row (%d, %d): %v %v %q, want %+v", run.SID, got.Time[k], f.IsValid(int(k)), f.Value(int(k)), s.Value(int(k)), w)
				}
			}
		}
	}
	if seen != 1000 {
		t.Fatalf("saw %d rows", seen)
	}
}

// TestExternalReader reads a segment as any Parquet reader would: the
// table's columns by name, tags as text.
func TestExternalReader(t *testing.T) {
	rows := testRows(100)
	path := filepath.Join(t.TempDir(), "1.parquet")
	if _, err := Write(path, 1, 1, testCols, testTags, sealed(t, rows), LevelFast); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tbl, err := pqarrow.ReadTable(context.Background(), f, nil, pqarrow.ArrowReadProperties{}, memory.DefaultAllocator)
	if err != nil {
		t.Fatal(err)
	}
	defer tbl.Release()
	var names []string
	for _, fd := range tbl.Schema().Fields() {
		names = append(names, fd.Name)
	}
	if fmt.Sprint(names) != "[time host usage absent n note]" || tbl.NumRows() != 100 {
		t.Fatalf("columns %v, %d rows", names, tbl.NumRows())
	}
	// host is NULL exactly for series 4 (every 5th row)
	host := tbl.Column(1).Data().Chunk(0)
	nulls := host.NullN()
	if nulls != 20 {
		t.Fatalf("host has %d NULLs, want 20", nulls)
	}
	if _, ok := host.(*array.Dictionary); !ok {
		t.Fatalf("host is %s, want dictionary-encoded text", host.DataType())
	}
	if !arrow.TypeEqual(tbl.Column(0).DataType(), arrowstore.TimeType) {
		t.Fatalf("time is %s", tbl.Column(0).DataType())
	}
	pf, err := file.OpenParquetFile(path, false)
	if err != nil {
		t.Fatal(err)
	}
	defer pf.Close()
	if c, err := pf.MetaData().RowGroup(0).ColumnChunk(0); err != nil || c.Compression().String() != "ZSTD" {
		t.Fatalf("time column compressed with %s", c.Compression())
	}
}

// TestRowGroupChecksums: the byte ranges recorded for row groups and the
// footer are the ones in the file (pqarrow writes a row group through
// before Write returns), and a flipped byte in a row group or the footer
// is a corruption error before anything is decoded.
func TestRowGroupChecksums(t *testing.T) {
	rows := testRows(900)
	bts := append(sealed(t, rows[:300]), sealed(t, rows[300:])...)
	path := filepath.Join(t.TempDir(), "1.parquet")
	info, err := Write(path, 1, 1, testCols, testTags, bts, LevelFast)
	if err != nil {
		t.Fatal(err)
	}
	sf, err := OpenVerified(path, info.Footer, info.FooterSum)
	if err != nil {
		t.Fatal(err)
	}
	pf, err := file.OpenParquetFile(path, false)
	if err != nil {
		t.Fatal(err)
	}
	defer pf.Close()
	for i, rg := range sf.Meta.RowGroups {
		md := pf.MetaData().RowGroup(i)
		first := int64(math.MaxInt64)
		for c := 0; c < md.NumColumns(); c++ {
			cc, _ := md.ColumnChunk(c)
			off := cc.DataPageOffset()
			if cc.HasDictionaryPage() {
				off = min(off, cc.DictionaryPageOffset())
			}
			first = min(first, off)
		}
		if rg.Off != first {
			t.Fatalf("row group %d recorded at %d, its first page is at %d", i, rg.Off, first)
		}
		end := info.Size - info.Footer
		if i+1 < len(sf.Meta.RowGroups) {
			end = sf.Meta.RowGroups[i+1].Off
		}
		if rg.Off+rg.Len != end {
			t.Fatalf("row group %d ends at %d, the next part starts at %d", i, rg.Off+rg.Len, end)
		}
	}
	sf.Close()
	good, _ := os.ReadFile(path)
	bad := filepath.Join(t.TempDir(), "bad.parquet")
	for _, off := range []int64{sf.Meta.RowGroups[0].Off + 5, sf.Meta.RowGroups[1].Off + sf.Meta.RowGroups[1].Len/2} {
		b := append([]byte(nil), good...)
		b[off] ^= 0x80
		os.WriteFile(bad, b, 0o644)
		f, err := OpenVerified(bad, info.Footer, info.FooterSum)
		if err != nil {
			t.Fatal(err)
		}
		_, err0 := f.Load(context.Background(), 0, []int{0})
		_, err1 := f.Load(context.Background(), 1, []int{0})
		if !errors.Is(err0, errs.ErrCorrupt) && !errors.Is(err1, errs.ErrCorrupt) {
			t.Fatalf("byte %d flipped: loads gave %v, %v", off, err0, err1)
		}
		f.Close()
	}
	b := append([]byte(nil), good...)
	b[len(b)-20] ^= 1
	os.WriteFile(bad, b, 0o644)
	if _, err := OpenVerified(bad, info.Footer, info.FooterSum); !errors.Is(err, errs.ErrCorrupt) {
		t.Fatalf("damaged footer: %v", err)
	}
}

// TestCorrupt checks that damaged files give a corruption error, never a
// panic.
func TestCorrupt(t *testing.T) {
	path := filepath.Join(t.TempDir(), "1.parquet")
	if _, err := Write(path, 1, 1, testCols, testTags, sealed(t, testRows(500)), LevelFast); err != nil {
		t.Fatal(err)
	}
	good, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	bad := filepath.Join(t.TempDir(), "bad.parquet")
	for _, cut := range []int{0, 4, len(good) / 2, len(good) - 9, len(good) - 1} {
		os.WriteFile(bad, good[:cut], 0o644)
		if _, err := ReadMeta(bad); !errors.Is(err, errs.ErrCorrupt) {
			t.Fatalf("truncated at %d: %v", cut, err)
		}
	}
	// flipped bytes in the data pages: loading fails or returns (never panics)
	for off := 4; off < len(good)-8; off += 37 {
		b := append([]byte(nil), good...)
		b[off] ^= 0x5a
		os.WriteFile(bad, b, 0o644)
		if f, err := Open(bad); err == nil {
			f.Load(context.Background(), 0, []int{0, 2, 3})
			f.Close()
		}
	}
}

// FuzzSegment opens damaged segment files the way the engine does (the
// footer checked against the checksum recorded when it was written) and,
// with raw, the way Open does for a file nothing vouches for (the Parquet
// footer and the ugnos metadata in it parsed as they are), then loads
// their row groups (each checked against its own checksum). Errors must be ErrCorrupt; panics,
// hangs and leaked goroutines or files are failures. Unchecked, a flipped
// byte in a page header can make the Parquet decoder spend seconds and
// gigabytes on one file.
//
//	go test -run '^$' -fuzz '^FuzzSegment$' -fuzztime 30s ./arrowstore/segment/
func FuzzSegment(f *testing.F) {
	dir := f.TempDir()
	path := filepath.Join(dir, "seed.parquet")
	b := membuf.New(membuf.Config{Shards: 1, SealRows: 1 << 20})
	fb := array.NewFloat64Builder(memory.DefaultAllocator)
	r := &membuf.Rows{N: 40}
	for i := range 40 {
		r.Time = append(r.Time, int64(i))
		r.SID = append(r.SID, uint32(i%3))
		fb.Append(float64(i))
	}
	r.Cols = []membuf.Col{{Slot: 0, Type: arrowstore.TypeFloat, Arr: fb.NewArray()}}
	b.Append(r)
	b.Seal()
	cols := []Column{{Name: "host", Kind: arrowstore.KindTag, Slot: 0}, {Name: "v", Kind: arrowstore.KindField, Slot: 0, Type: arrowstore.TypeFloat}}
	info, err := Write(path, 1, 1, cols, testTags, b.Sealed(), LevelFast)
	if err != nil {
		f.Fatal(err)
	}
	seed, err := os.ReadFile(path)
	if err != nil {
		f.Fatal(err)
	}
	damage := func(at int, x byte) []byte {
		c := bytes.Clone(seed)
		c[(at+len(c))%len(c)] ^= x
		return c
	}
	for _, raw := range []bool{false, true} {
		f.Add(seed, raw)
		f.Add(seed[:len(seed)/2], raw)
		f.Add(seed[:len(seed)-1], raw)
		f.Add(seed[len(seed)-int(info.Footer)-8:], raw) // the footer alone
		f.Add(damage(-5, 0x7f), raw)                    // the footer length
		f.Add(damage(-int(info.Footer)/2, 0x01), raw)   // inside the footer
		f.Add(damage(len(seed)/3, 0x80), raw)           // inside a page
		f.Add([]byte("PAR1\xff\xff\xff\x7fPAR1"), raw)
		f.Add([]byte("PAR1"), raw)
		f.Add([]byte{}, raw)
	}
	f.Fuzz(func(t *testing.T, data []byte, raw bool) {
		defer fuzzcheck.Start(t, 20*time.Second)()
		p := filepath.Join(t.TempDir(), "f.parquet")
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		var sf *File
		if raw {
			sf, err = Open(p)
		} else {
			sf, err = OpenVerified(p, info.Footer, info.FooterSum)
		}
		if err != nil {
			if !errors.Is(err, errs.ErrCorrupt) && !errors.Is(err, errs.ErrInternal) {
				t.Fatalf("open: unexpected kind of error %v", err)
			}
			return
		}
		defer sf.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		for rg := range sf.Meta.RowGroups {
			bt, err := sf.Load(ctx, rg, []int{0, 1, 2})
			if err != nil {
				if !errors.Is(err, errs.ErrCorrupt) {
					t.Fatalf("load: unexpected kind of error %v", err)
				}
				continue
			}
			if bt.N != len(bt.Time) {
				t.Fatalf("row group %d: %d rows, %d times", rg, bt.N, len(bt.Time))
			}
		}
	})
}

// FuzzMeta decodes arbitrary bytes as the ugnos metadata of a segment
// footer (counts and lengths bounded by what is left, never trusted):
// what decodes must encode back to bytes that decode to the same.
//
//	go test -run '^$' -fuzz '^FuzzMeta$' -fuzztime 30s ./arrowstore/segment/
func FuzzMeta(f *testing.F) {
	path := filepath.Join(f.TempDir(), "seed.parquet")
	b := membuf.New(membuf.Config{Shards: 1, SealRows: 16})
	fb := array.NewFloat64Builder(memory.DefaultAllocator)
	r := &membuf.Rows{N: 40}
	for i := range 40 {
		r.Time = append(r.Time, int64(i))
		r.SID = append(r.SID, uint32(i%3))
		fb.Append(float64(i))
	}
	r.Cols = []membuf.Col{{Slot: 0, Type: arrowstore.TypeFloat, Arr: fb.NewArray()}}
	b.Append(r)
	b.Seal()
	cols := []Column{{Name: "host", Kind: arrowstore.KindTag, Slot: 0}, {Name: "v", Kind: arrowstore.KindField, Slot: 0, Type: arrowstore.TypeFloat}}
	if _, err := Write(path, 1, 1, cols, testTags, b.Sealed(), LevelFast); err != nil {
		f.Fatal(err)
	}
	m, err := ReadMeta(path)
	if err != nil {
		f.Fatal(err)
	}
	good := encodeMeta(m)
	f.Add(good)
	f.Add(good[:len(good)/2])
	f.Add(append(bytes.Clone(good), 0))
	f.Add([]byte{1, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01})
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		defer fuzzcheck.Start(t, 10*time.Second)()
		m, err := decodeMeta(data)
		if err != nil {
			return
		}
		again := encodeMeta(m)
		m2, err := decodeMeta(again)
		if err != nil {
			t.Fatalf("re-encoded metadata does not decode: %v", err)
		}
		if !bytes.Equal(encodeMeta(m2), again) {
			t.Fatal("metadata changes on a second round trip")
		}
	})
}
