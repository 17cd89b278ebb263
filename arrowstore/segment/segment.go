// Package segment reads and writes the on-disk tier of a table: immutable
// Parquet files of sealed batches.
//
// A segment file holds rows of one table and one time partition. Each row
// group is one sealed batch (rows sorted by series, then time): the time
// column (timestamp[ns, UTC], delta-encoded), every tag column as
// dictionary-encoded text, and every field column (doubles byte-stream
// split, bigints delta-encoded, text dictionary-encoded), compressed with
// zstd and with column statistics. Any Parquet reader (DuckDB, Spark,
// pandas) can read the files as they are.
//
// What ugnos needs beyond that lives in the footer under the key
// "ugnos.segment": the table id, the WAL position the rows are older than,
// the column slots, and per row group the series runs (series id, row
// range, time range) and the zone maps of the fields. Scans prune row
// groups and series from it without reading any column, and read only the
// time column and the projected fields of the row groups they keep; tags
// come from the series catalog.
//
// The package knows nothing about manifests, tombstones or SQL.
package segment

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"sync/atomic"
	"unsafe"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/bitutil"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/compress"
	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
	"github.com/zeebo/xxh3"

	"github.com/ugnos/ugnos/arrowstore"
	"github.com/ugnos/ugnos/arrowstore/membuf"
	"github.com/ugnos/ugnos/errs"
)

// MetaKey is the footer key of ugnos's own metadata.
const MetaKey = "ugnos.segment"

const metaVersion = 2

// Column is a tag or field column of a segment file.
type Column struct {
	Name string
	Kind arrowstore.ColumnKind // KindTag or KindField
	Slot int                   // tag or field slot in the table
	Type arrowstore.FieldType  // fields
}

// RowGroup describes one row group (one sealed batch).
type RowGroup struct {
	N          int
	MinT, MaxT int64
	Runs       []membuf.Run           // by series id, rows [Start, End)
	Types      []arrowstore.FieldType // by field slot; 0: every value NULL
	Zones      []membuf.Zone          // by field slot
	// Off and Len are the row group's bytes in the file, Sum their xxh3:
	// checked before the row group is first decoded, so a damaged file
	// gives an error instead of whatever the decoder makes of it.
	Off, Len int64
	Sum      uint64
}

// Meta is a segment file's own description.
type Meta struct {
	Table     uint32
	LSN       uint64 // every row is from a WAL record at or before this position
	Columns   []Column
	RowGroups []RowGroup
}

// Rows is the number of rows in the file.
func (m *Meta) Rows() int64 {
	var n int64
	for _, rg := range m.RowGroups {
		n += int64(rg.N)
	}
	return n
}

// Info is what writing a file produced.
type Info struct {
	Size       int64
	Sum        uint64 // xxh3 of the whole file
	Footer     int64  // bytes of the footer (Parquet metadata, its length, "PAR1")
	FooterSum  uint64 // xxh3 of the footer
	Rows       int64
	MinT, MaxT int64
}

// TagFunc returns the value of tag slot of a series ("" when absent).
type TagFunc func(sid uint32, slot int) string

// Write writes batches (loaded, sealed; one row group each) to path,
// through a temporary file that is synced and renamed into place. cols
// lists the table's tags and fields at the time of writing.
func Write(path string, table uint32, lsn uint64, cols []Column, tags TagFunc, batches []*membuf.Batch, level int) (Info, error) {
	w, err := NewWriter(path, table, lsn, cols, tags, level)
	if err != nil {
		return Info{}, err
	}
	for _, bt := range batches {
		if err := w.Add(bt); err != nil {
			w.Abort()
			return Info{}, err
		}
	}
	return w.Close()
}

// Writer writes a segment file one row group at a time.
type Writer struct {
	path, tmp string
	f         *os.File
	h         *xxh3.Hasher
	cw        *countWriter
	fw        *pqarrow.FileWriter
	schema    *arrow.Schema
	cols      []Column
	tags      TagFunc
	meta      Meta
	info      Info
}

// Compression levels of zstd: LevelFast for files written on the ingest
// path (checkpoints), LevelDefault for files compaction rewrites.
const (
	LevelFast    = 1
	LevelDefault = 3
)

// NewWriter starts a segment file at path (written as path.tmp until
// Close), compressed with zstd at level.
func NewWriter(path string, table uint32, lsn uint64, cols []Column, tags TagFunc, level int) (*Writer, error) {
	w := &Writer{path: path, tmp: path + ".tmp", cols: cols, tags: tags, meta: Meta{Table: table, LSN: lsn, Columns: cols},
		info: Info{MinT: math.MaxInt64, MaxT: math.MinInt64}}
	fields := make([]arrow.Field, 0, 1+len(cols))
	fields = append(fields, arrow.Field{Name: arrowstore.TimeColumn, Type: arrowstore.TimeType})
	opts := []parquet.WriterProperty{
		parquet.WithCompression(compress.Codecs.Zstd),
		parquet.WithCompressionLevel(level),
		parquet.WithDictionaryDefault(false),
		parquet.WithStats(true),
		parquet.WithMaxRowGroupLength(math.MaxInt32),
		parquet.WithCreatedBy("ugnos"),
		parquet.WithEncodingPath(parquet.ColumnPath{arrowstore.TimeColumn}, parquet.Encodings.DeltaBinaryPacked),
	}
	for _, c := range cols {
		path := parquet.ColumnPath{c.Name}
		if c.Kind == arrowstore.KindTag {
			fields = append(fields, arrow.Field{Name: c.Name, Type: arrowstore.TagType, Nullable: true})
			opts = append(opts, parquet.WithDictionaryPath(path, true))
			continue
		}
		fields = append(fields, arrow.Field{Name: c.Name, Type: c.Type.ArrowType(), Nullable: true})
		switch c.Type {
		case arrowstore.TypeFloat:
			opts = append(opts, parquet.WithEncodingPath(path, parquet.Encodings.ByteStreamSplit))
		case arrowstore.TypeInt:
			opts = append(opts, parquet.WithEncodingPath(path, parquet.Encodings.DeltaBinaryPacked))
		case arrowstore.TypeString:
			opts = append(opts, parquet.WithDictionaryPath(path, true))
		}
	}
	w.schema = arrow.NewSchema(fields, nil)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, errs.Internal(err, "create segment directory")
	}
	f, err := os.OpenFile(w.tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o644)
	if err != nil {
		return nil, errs.Internal(err, "create segment file")
	}
	w.f, w.h = f, xxh3.New()
	w.cw = &countWriter{w: io.MultiWriter(f, w.h), part: xxh3.New()}
	w.fw, err = pqarrow.NewFileWriter(w.schema, w.cw, parquet.NewWriterProperties(opts...),
		pqarrow.NewArrowWriterProperties(pqarrow.WithStoreSchema()))
	if err != nil {
		w.f.Close()
		os.Remove(w.tmp)
		return nil, errs.Internal(err, "segment writer")
	}
	return w, nil
}

// Add writes a loaded, sealed batch as one row group.
func (w *Writer) Add(bt *membuf.Batch) error {
	if bt == nil || bt.N == 0 {
		return nil
	}
	rec := batchRecord(w.schema, w.cols, w.tags, bt)
	start := w.cw.n
	w.cw.part.Reset()
	err := w.fw.Write(rec) // writes the whole row group through (checked in tests)
	rec.Release()
	if err != nil {
		return errs.Internal(err, "write segment %s", w.path)
	}
	w.meta.RowGroups = append(w.meta.RowGroups, RowGroup{N: bt.N, MinT: bt.MinT, MaxT: bt.MaxT, Runs: bt.Runs, Types: bt.Types, Zones: bt.Zones,
		Off: start, Len: w.cw.n - start, Sum: w.cw.part.Sum64()})
	w.info.Rows += int64(bt.N)
	w.info.MinT, w.info.MaxT = min(w.info.MinT, bt.MinT), max(w.info.MaxT, bt.MaxT)
	return nil
}

// Rows is the number of rows added so far.
func (w *Writer) Rows() int64 { return w.info.Rows }

// Abort removes the unfinished file.
func (w *Writer) Abort() {
	w.fw.Close()
	w.f.Close()
	os.Remove(w.tmp)
}

// Close finishes the file: footer, fsync, rename into place.
func (w *Writer) Close() (Info, error) {
	if err := w.fw.AppendKeyValueMetadata(MetaKey, base64.StdEncoding.EncodeToString(encodeMeta(&w.meta))); err != nil {
		w.Abort()
		return w.info, errs.Internal(err, "write segment metadata")
	}
	footStart := w.cw.n
	w.cw.part.Reset()
	if err := w.fw.Close(); err != nil {
		w.f.Close()
		os.Remove(w.tmp)
		return w.info, errs.Internal(err, "close segment %s", w.path)
	}
	w.info.Footer, w.info.FooterSum = w.cw.n-footStart, w.cw.part.Sum64()
	err := w.f.Sync()
	if cerr := w.f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(w.tmp, w.path)
	}
	if err != nil {
		os.Remove(w.tmp)
		return w.info, errs.Internal(err, "finish segment %s", w.path)
	}
	w.info.Size, w.info.Sum = w.cw.n, w.h.Sum64()
	return w.info, nil
}

// countWriter counts and hashes what passes through; part hashes the
// bytes since the last reset (a row group, the footer).
type countWriter struct {
	w    io.Writer
	n    int64
	part *xxh3.Hasher
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	c.part.Write(p[:n])
	return n, err
}

// batchRecord is a batch as a record of the file's schema: tags rebuilt
// from the runs, absent fields as NULL columns.
func batchRecord(schema *arrow.Schema, cols []Column, tags TagFunc, bt *membuf.Batch) arrow.RecordBatch {
	arrs := make([]arrow.Array, 0, len(cols)+1)
	bt.TimeArr.Retain()
	arrs = append(arrs, bt.TimeArr)
	for _, c := range cols {
		if c.Kind == arrowstore.KindTag {
			arrs = append(arrs, tagArray(bt, c.Slot, tags))
			continue
		}
		if a := bt.Col(c.Slot); a != nil {
			a.Retain()
			arrs = append(arrs, a)
		} else {
			arrs = append(arrs, array.MakeArrayOfNull(memory.DefaultAllocator, c.Type.ArrowType(), bt.N))
		}
	}
	rec := array.NewRecordBatch(schema, arrs, int64(bt.N))
	for _, a := range arrs {
		a.Release()
	}
	return rec
}

// tagArray is the dictionary array of a tag slot over a batch's rows:
// one dictionary entry per distinct value, indices filled run by run.
func tagArray(bt *membuf.Batch, slot int, tags TagFunc) arrow.Array {
	n := bt.N
	pos := map[string]int32{}
	var dict []string
	idx := make([]int32, n)
	var valid []byte
	nulls := 0
	for _, r := range bt.Runs {
		v := tags(r.SID, slot)
		if v == "" {
			if valid == nil {
				valid = make([]byte, bitutil.BytesForBits(int64(n)))
				bitutil.SetBitsTo(valid, 0, int64(n), true)
			}
			bitutil.SetBitsTo(valid, int64(r.Start), int64(r.End-r.Start), false)
			nulls += int(r.End - r.Start)
			continue
		}
		code, ok := pos[v]
		if !ok {
			code = int32(len(dict))
			pos[v] = code
			dict = append(dict, v)
		}
		fill := idx[r.Start:r.End]
		for i := range fill {
			fill[i] = code
		}
	}
	if len(dict) == 0 {
		dict = []string{""}
	}
	db := array.NewStringBuilder(memory.DefaultAllocator)
	defer db.Release()
	db.AppendValues(dict, nil)
	values := db.NewArray()
	defer values.Release()
	var vb *memory.Buffer
	if valid != nil {
		vb = memory.NewBufferBytes(valid)
	}
	data := array.NewData(arrowstore.TagType, n, []*memory.Buffer{vb, memory.NewBufferBytes(arrow.Int32Traits.CastToBytes(idx))}, nil, nulls, 0)
	data.SetDictionary(values.Data())
	defer data.Release()
	return array.MakeFromData(data)
}

// File is an open segment file: its footer parsed once, its row groups
// read on demand. Safe for concurrent use.
type File struct {
	Path     string
	Meta     *Meta
	f        *os.File
	pf       *file.Reader
	verified []atomic.Bool // by row group: its checksum held
}

// Open opens a segment file and reads its metadata.
func Open(path string) (*File, error) { return OpenVerified(path, 0, 0) }

// OpenVerified opens a segment file whose footer is footer bytes long
// with xxh3 footerSum (as Info reported when it was written), checking
// the footer before it is parsed; footer 0 skips the check.
func OpenVerified(path string, footer int64, footerSum uint64) (_ *File, err error) {
	defer recoverCorrupt(path, &err)
	f, err := os.Open(path)
	if err != nil {
		return nil, errs.Internal(err, "open segment")
	}
	if footer > 0 {
		st, err := f.Stat()
		if err != nil {
			f.Close()
			return nil, errs.Internal(err, "stat segment")
		}
		if footer > st.Size() || footer > 256<<20 {
			f.Close()
			return nil, corrupt(path, "shorter than its footer")
		}
		b := make([]byte, footer)
		if _, err := f.ReadAt(b, st.Size()-footer); err != nil || xxh3.Hash(b) != footerSum {
			f.Close()
			return nil, corrupt(path, "footer checksum mismatch")
		}
	}
	pf, err := file.NewParquetReader(f)
	if err != nil {
		f.Close()
		return nil, corrupt(path, err.Error())
	}
	m, err := metaOf(path, pf)
	if err != nil {
		pf.Close()
		f.Close()
		return nil, err
	}
	return &File{Path: path, Meta: m, f: f, pf: pf, verified: make([]atomic.Bool, len(m.RowGroups))}, nil
}

// verify checks row group rg's bytes against its checksum, once.
func (f *File) verify(rg int) error {
	if f.verified[rg].Load() {
		return nil
	}
	meta := &f.Meta.RowGroups[rg]
	if meta.Len <= 0 || meta.Len > 1<<31 {
		return corrupt(f.Path, "row group size out of range")
	}
	b := make([]byte, meta.Len)
	if _, err := f.f.ReadAt(b, meta.Off); err != nil {
		return corrupt(f.Path, fmt.Sprintf("row group %d: %v", rg, err))
	}
	if xxh3.Hash(b) != meta.Sum {
		return corrupt(f.Path, fmt.Sprintf("row group %d checksum mismatch", rg))
	}
	f.verified[rg].Store(true)
	return nil
}

// Close closes the file.
func (f *File) Close() error {
	f.pf.Close()
	return f.f.Close()
}

// ReadMeta reads a segment file's metadata from its footer.
func ReadMeta(path string) (*Meta, error) {
	f, err := Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return f.Meta, nil
}

func metaOf(path string, pf *file.Reader) (*Meta, error) {
	kv := pf.MetaData().KeyValueMetadata()
	v := kv.FindValue(MetaKey)
	if v == nil {
		return nil, corrupt(path, "no "+MetaKey+" footer key")
	}
	raw, err := base64.StdEncoding.DecodeString(*v)
	if err != nil {
		return nil, corrupt(path, "bad "+MetaKey+" encoding")
	}
	m, err := decodeMeta(raw)
	if err != nil {
		return nil, corrupt(path, err.Error())
	}
	if pf.NumRowGroups() != len(m.RowGroups) || pf.MetaData().Schema.NumColumns() != 1+len(m.Columns) {
		return nil, corrupt(path, "footer and "+MetaKey+" disagree")
	}
	for i, rg := range m.RowGroups {
		if pf.MetaData().RowGroup(i).NumRows() != int64(rg.N) {
			return nil, corrupt(path, "row counts disagree")
		}
	}
	return m, nil
}

// recoverCorrupt turns a panic of the Parquet decoder on a damaged file
// into a corruption error.
func recoverCorrupt(path string, err *error) {
	if r := recover(); r != nil {
		*err = corrupt(path, fmt.Sprint("decoder failed: ", r))
	}
}

func corrupt(path, why string) error {
	return errs.New(errs.ErrCorrupt, errs.CodeDataCorrupted, "segment %s is corrupt: %s", path, why)
}

// ColumnOf is the file column of a field slot (time is column 0), or -1
// when the file has no such field.
func (m *Meta) ColumnOf(slot int) int {
	for i, c := range m.Columns {
		if c.Kind == arrowstore.KindField && c.Slot == slot {
			return 1 + i
		}
	}
	return -1
}

// ReadColumns reads file columns cols (0: time; 1+i: Meta.Columns[i]) of
// row group rg, checked against the metadata (row count, types).
func (f *File) ReadColumns(ctx context.Context, rg int, cols []int) (_ []arrow.Array, err error) {
	defer recoverCorrupt(f.Path, &err)
	m := f.Meta
	if rg < 0 || rg >= len(m.RowGroups) {
		return nil, corrupt(f.Path, "row group out of range")
	}
	if err := f.verify(rg); err != nil {
		return nil, err
	}
	meta := &m.RowGroups[rg]
	fr, err := pqarrow.NewFileReader(f.pf, pqarrow.ArrowReadProperties{BatchSize: int64(meta.N)}, memory.DefaultAllocator)
	if err != nil {
		return nil, corrupt(f.Path, err.Error())
	}
	tbl, err := fr.ReadRowGroups(ctx, cols, []int{rg})
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, corrupt(f.Path, err.Error())
	}
	defer tbl.Release()
	if tbl.NumRows() != int64(meta.N) || int(tbl.NumCols()) != len(cols) {
		return nil, corrupt(f.Path, "row group has a different shape")
	}
	out := make([]arrow.Array, len(cols))
	for k, c := range cols {
		a, err := single(tbl.Column(k).Data())
		if err != nil {
			return nil, corrupt(f.Path, err.Error())
		}
		want := arrow.DataType(arrowstore.TimeType)
		if c > 0 {
			col := m.Columns[c-1]
			if col.Kind == arrowstore.KindTag {
				want = arrowstore.TagType
			} else {
				want = col.Type.ArrowType()
			}
		}
		if !arrow.TypeEqual(a.DataType(), want) || c == 0 && a.NullN() > 0 {
			a.Release()
			return nil, corrupt(f.Path, fmt.Sprintf("column %d is %s", c, a.DataType()))
		}
		out[k] = a
	}
	return out, nil
}

// Assemble builds the batch of row group rg from its time column and
// field columns by slot (nil: not read, or NULL throughout).
func (m *Meta) Assemble(rg int, timeArr arrow.Array, cols []arrow.Array) *membuf.Batch {
	meta := &m.RowGroups[rg]
	bt := &membuf.Batch{N: meta.N, Runs: meta.Runs, MinT: meta.MinT, MaxT: meta.MaxT, Types: meta.Types, Zones: meta.Zones}
	raw := timeArr.(*array.Timestamp).TimestampValues()
	bt.Time = unsafe.Slice((*int64)(unsafe.Pointer(unsafe.SliceData(raw))), len(raw))
	bt.TimeArr = timeArr
	bt.Bytes = membuf.ArrayBytes(timeArr)
	bt.Cols = make([]arrow.Array, len(meta.Types))
	for s, a := range cols {
		if a != nil && s < len(meta.Types) && meta.Types[s] != 0 {
			bt.Cols[s] = a
			bt.Bytes += membuf.ArrayBytes(a)
		}
	}
	return bt
}

// Load reads row group rg: the time column and the field slots asked for
// (others are left nil), as a sealed batch with the row group's runs and
// zone maps.
func (f *File) Load(ctx context.Context, rg int, slots []int) (*membuf.Batch, error) {
	idx := []int{0}
	var want []int
	for _, s := range slots {
		if c := f.Meta.ColumnOf(s); c > 0 {
			idx = append(idx, c)
			want = append(want, s)
		}
	}
	arrs, err := f.ReadColumns(ctx, rg, idx)
	if err != nil {
		return nil, err
	}
	cols := make([]arrow.Array, len(f.Meta.RowGroups[rg].Types))
	for k, s := range want {
		if s < len(cols) {
			cols[s] = arrs[1+k]
		}
	}
	return f.Meta.Assemble(rg, arrs[0], cols), nil
}

// single is the one array of a chunked column (concatenated if the
// reader split it).
func single(c *arrow.Chunked) (arrow.Array, error) {
	switch len(c.Chunks()) {
	case 0:
		return nil, fmt.Errorf("empty column")
	case 1:
		a := c.Chunk(0)
		a.Retain()
		return a, nil
	}
	return array.Concatenate(c.Chunks(), memory.DefaultAllocator)
}

// metadata encoding: little-endian, varints for counts and deltas.

type enc struct{ b []byte }

func (e *enc) uv(v uint64)   { e.b = binary.AppendUvarint(e.b, v) }
func (e *enc) sv(v int64)    { e.b = binary.AppendVarint(e.b, v) }
func (e *enc) f64(v float64) { e.b = binary.LittleEndian.AppendUint64(e.b, math.Float64bits(v)) }
func (e *enc) str(s string)  { e.uv(uint64(len(s))); e.b = append(e.b, s...) }

type dec struct {
	r   *bytes.Reader
	err error
}

func (d *dec) uv() uint64 {
	if d.err != nil {
		return 0
	}
	v, err := binary.ReadUvarint(d.r)
	if err != nil {
		d.err = fmt.Errorf("truncated metadata")
	}
	return v
}
func (d *dec) sv() int64 {
	if d.err != nil {
		return 0
	}
	v, err := binary.ReadVarint(d.r)
	if err != nil {
		d.err = fmt.Errorf("truncated metadata")
	}
	return v
}
func (d *dec) f64() float64 {
	var b [8]byte
	if d.err == nil {
		if _, err := io.ReadFull(d.r, b[:]); err != nil {
			d.err = fmt.Errorf("truncated metadata")
		}
	}
	return math.Float64frombits(binary.LittleEndian.Uint64(b[:]))
}
func (d *dec) u64() uint64 {
	var b [8]byte
	if d.err == nil {
		if _, err := io.ReadFull(d.r, b[:]); err != nil {
			d.err = fmt.Errorf("truncated metadata")
		}
	}
	return binary.LittleEndian.Uint64(b[:])
}

func (d *dec) count(max int) int {
	n := d.uv()
	if n > uint64(max) {
		if d.err == nil {
			d.err = fmt.Errorf("implausible count %d", n)
		}
		return 0
	}
	return int(n)
}
func (d *dec) str() string {
	n := d.count(d.r.Len())
	b := make([]byte, n)
	if d.err == nil {
		io.ReadFull(d.r, b)
	}
	return string(b)
}

func encodeMeta(m *Meta) []byte {
	var e enc
	e.uv(metaVersion)
	e.uv(uint64(m.Table))
	e.uv(m.LSN)
	e.uv(uint64(len(m.Columns)))
	for _, c := range m.Columns {
		e.str(c.Name)
		e.uv(uint64(c.Kind))
		e.uv(uint64(c.Slot))
		e.uv(uint64(c.Type))
	}
	e.uv(uint64(len(m.RowGroups)))
	for _, rg := range m.RowGroups {
		e.uv(uint64(rg.N))
		e.sv(rg.MinT)
		e.sv(rg.MaxT)
		e.uv(uint64(rg.Off))
		e.uv(uint64(rg.Len))
		e.b = binary.LittleEndian.AppendUint64(e.b, rg.Sum)
		e.uv(uint64(len(rg.Runs)))
		prev := uint32(0)
		for _, r := range rg.Runs {
			e.uv(uint64(r.SID - prev))
			e.uv(uint64(r.End - r.Start))
			e.sv(r.MinT - rg.MinT)
			e.uv(uint64(r.MaxT - r.MinT))
			prev = r.SID
		}
		e.uv(uint64(len(rg.Types)))
		for slot, t := range rg.Types {
			e.uv(uint64(t))
			if t == 0 {
				continue
			}
			z := rg.Zones[slot]
			flags := uint64(0)
			if z.HasMinMax {
				flags |= 1
			}
			if z.HasNaN {
				flags |= 2
			}
			e.uv(uint64(z.Nulls))
			e.uv(flags)
			if z.HasMinMax {
				switch t {
				case arrowstore.TypeFloat:
					e.f64(z.MinF)
					e.f64(z.MaxF)
				case arrowstore.TypeInt:
					e.sv(z.MinI)
					e.sv(z.MaxI)
				}
			}
		}
	}
	return e.b
}

func decodeMeta(b []byte) (*Meta, error) {
	d := &dec{r: bytes.NewReader(b)}
	if v := d.uv(); d.err == nil && v != metaVersion {
		return nil, fmt.Errorf("metadata version %d (want %d)", v, metaVersion)
	}
	m := &Meta{Table: uint32(d.uv()), LSN: d.uv()}
	m.Columns = make([]Column, d.count(4096))
	for i := range m.Columns {
		m.Columns[i] = Column{Name: d.str(), Kind: arrowstore.ColumnKind(d.uv()), Slot: d.count(4096), Type: arrowstore.FieldType(d.uv())}
	}
	m.RowGroups = make([]RowGroup, d.count(d.r.Len()))
	for i := range m.RowGroups {
		rg := &m.RowGroups[i]
		rg.N = d.count(math.MaxInt32)
		rg.MinT, rg.MaxT = d.sv(), d.sv()
		rg.Off, rg.Len = int64(d.count(math.MaxInt64)), int64(d.count(math.MaxInt64))
		rg.Sum = d.u64()
		rg.Runs = make([]membuf.Run, d.count(d.r.Len()))
		sid, start := uint32(0), int32(0)
		for k := range rg.Runs {
			sid += uint32(d.uv())
			n := int32(d.count(rg.N))
			minT := rg.MinT + d.sv()
			rg.Runs[k] = membuf.Run{SID: sid, Start: start, End: start + n, MinT: minT, MaxT: minT + int64(d.uv())}
			start += n
		}
		if d.err == nil && int(start) != rg.N {
			return nil, fmt.Errorf("runs cover %d of %d rows", start, rg.N)
		}
		rg.Types = make([]arrowstore.FieldType, d.count(4096))
		rg.Zones = make([]membuf.Zone, len(rg.Types))
		for slot := range rg.Types {
			t := arrowstore.FieldType(d.uv())
			rg.Types[slot] = t
			if t == 0 {
				continue
			}
			if t > arrowstore.TypeString {
				return nil, fmt.Errorf("unknown field type %d", t)
			}
			z := &rg.Zones[slot]
			z.Nulls = d.count(rg.N)
			flags := d.uv()
			z.HasMinMax, z.HasNaN = flags&1 != 0, flags&2 != 0
			if z.HasMinMax {
				switch t {
				case arrowstore.TypeFloat:
					z.MinF, z.MaxF = d.f64(), d.f64()
				case arrowstore.TypeInt:
					z.MinI, z.MaxI = d.sv(), d.sv()
				}
			}
		}
	}
	if d.err != nil {
		return nil, d.err
	}
	if d.r.Len() != 0 {
		return nil, fmt.Errorf("trailing metadata bytes")
	}
	for _, c := range m.Columns {
		if c.Kind != arrowstore.KindTag && c.Kind != arrowstore.KindField {
			return nil, fmt.Errorf("bad column kind %d", c.Kind)
		}
	}
	return m, nil
}
