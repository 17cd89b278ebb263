package engine

import (
	"encoding/binary"
	"math"
	"unsafe"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/bitutil"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/ugnos/ugnos/arrowstore"
	"github.com/ugnos/ugnos/arrowstore/membuf"
	"github.com/ugnos/ugnos/errs"
)

// WAL record types. Records are little-endian; every record starts with
// its type byte. Ids in records (table ids, column slots, series ids) are
// assigned in log order, so replay recreates them exactly.
const (
	recCreateTenant byte = 1 // name
	recCreateTable  byte = 2 // table id, tenant, name
	recAddColumns   byte = 3 // table id, count, (kind, slot, type, name)*
	recNewSeries    byte = 4 // table id, count, (sid, ntags, (slot, value)*)*
	recRows         byte = 5 // table id, rows (see encodeRows)
	recDelete       byte = 6 // table id, minT, maxT, sid count or allSeries, sids
	recDropTable    byte = 7 // table id
	recDropTenant   byte = 8 // name
	recCreateView   byte = 9 // tenant, name, SQL text
	recDropView     byte = 10
)

const allSeries = math.MaxUint32

// Value encodings of int64/float64 columns in a rows record.
const (
	encRaw   byte = 0 // 8 bytes a value
	encInt8  byte = 1 // float64 or int64 values that are exact int8
	encInt16 byte = 2
	encInt32 byte = 3
)

type enc struct{ b []byte }

func (e *enc) u8(v byte)    { e.b = append(e.b, v) }
func (e *enc) u16(v uint16) { e.b = binary.LittleEndian.AppendUint16(e.b, v) }
func (e *enc) u32(v uint32) { e.b = binary.LittleEndian.AppendUint32(e.b, v) }
func (e *enc) u64(v uint64) { e.b = binary.LittleEndian.AppendUint64(e.b, v) }
func (e *enc) str(s string) { e.u32(uint32(len(s))); e.b = append(e.b, s...) }

type dec struct {
	b   []byte
	err bool
}

func (d *dec) need(n int) bool {
	if d.err || len(d.b) < n {
		d.err = true
		return false
	}
	return true
}
func (d *dec) u8() byte {
	if !d.need(1) {
		return 0
	}
	v := d.b[0]
	d.b = d.b[1:]
	return v
}
func (d *dec) u16() uint16 {
	if !d.need(2) {
		return 0
	}
	v := binary.LittleEndian.Uint16(d.b)
	d.b = d.b[2:]
	return v
}
func (d *dec) u32() uint32 {
	if !d.need(4) {
		return 0
	}
	v := binary.LittleEndian.Uint32(d.b)
	d.b = d.b[4:]
	return v
}
func (d *dec) u64() uint64 {
	if !d.need(8) {
		return 0
	}
	v := binary.LittleEndian.Uint64(d.b)
	d.b = d.b[8:]
	return v
}
func (d *dec) bytes(n int) []byte {
	if n < 0 || !d.need(n) {
		d.err = true
		return nil
	}
	v := d.b[:n:n]
	d.b = d.b[n:]
	return v
}
func (d *dec) str() string { return string(d.bytes(int(d.u32()))) }

func corrupt(what string) error {
	return errs.New(errs.ErrCorrupt, errs.CodeDataCorrupted, "wal: malformed %s record", what)
}

// asBytes views a slice of fixed-size values as bytes (little-endian hosts).
func asBytes[T int64 | uint32 | float64 | int32](s []T) []byte {
	if len(s) == 0 {
		return nil
	}
	return unsafe.Slice((*byte)(unsafe.Pointer(&s[0])), len(s)*int(unsafe.Sizeof(s[0])))
}

// floatWidth returns the narrowest exact integer encoding of the valid
// values of vals.
func floatWidth(vals []float64, valid func(int) bool) byte {
	w := encInt8
	for i, v := range vals {
		if valid != nil && !valid(i) {
			continue
		}
		switch w {
		case encInt8:
			if math.Float64bits(float64(int8(v))) == math.Float64bits(v) {
				continue
			}
			w = encInt16
			fallthrough
		case encInt16:
			if math.Float64bits(float64(int16(v))) == math.Float64bits(v) {
				continue
			}
			w = encInt32
			fallthrough
		case encInt32:
			if math.Float64bits(float64(int32(v))) == math.Float64bits(v) {
				continue
			}
			return encRaw
		}
	}
	return w
}

func intWidth(vals []int64, valid func(int) bool) byte {
	w := encInt8
	for i, v := range vals {
		if valid != nil && !valid(i) {
			continue
		}
		switch {
		case v >= math.MinInt8 && v <= math.MaxInt8:
		case v >= math.MinInt16 && v <= math.MaxInt16:
			w = max(w, encInt16)
		case v >= math.MinInt32 && v <= math.MaxInt32:
			w = max(w, encInt32)
		default:
			return encRaw
		}
	}
	return w
}

func appendNarrow[T float64 | int64](b []byte, vals []T, w byte) []byte {
	switch w {
	case encInt8:
		for _, v := range vals {
			b = append(b, byte(int8(v)))
		}
	case encInt16:
		for _, v := range vals {
			b = binary.LittleEndian.AppendUint16(b, uint16(int16(v)))
		}
	case encInt32:
		for _, v := range vals {
			b = binary.LittleEndian.AppendUint32(b, uint32(int32(v)))
		}
	}
	return b
}

// encodeRows builds a rows record as parts (large raw columns are passed
// through without copying; the WAL copies them).
func encodeRows(tableID uint32, rows *membuf.Rows, scratch []byte) (parts [][]byte, scratchOut []byte) {
	n := rows.N
	e := enc{b: scratch[:0]}
	e.u8(recRows)
	e.u32(tableID)
	e.u32(uint32(n))
	// series ids, narrowed
	maxSID := uint32(0)
	for _, s := range rows.SID[:n] {
		maxSID = max(maxSID, s)
	}
	switch {
	case maxSID <= math.MaxUint8:
		e.u8(1)
		for _, s := range rows.SID[:n] {
			e.u8(byte(s))
		}
	case maxSID <= math.MaxUint16:
		e.u8(2)
		for _, s := range rows.SID[:n] {
			e.u16(uint16(s))
		}
	default:
		e.u8(4)
		e.b = append(e.b, asBytes(rows.SID[:n])...)
	}
	e.u16(uint16(len(rows.Cols)))
	// Column headers and narrowed data go to the scratch buffer; raw
	// 8-byte columns and the time column are separate parts.
	type pending struct {
		off  int // end of the scratch bytes before this raw part
		data []byte
	}
	var raws []pending
	for _, c := range rows.Cols {
		e.u16(uint16(c.Slot))
		e.u8(byte(c.Type))
		a := c.Arr
		var valid func(int) bool
		if a.NullN() > 0 {
			e.u8(1)
			bm := bitmapOf(a)
			e.b = append(e.b, bm...)
			valid = a.IsValid
		} else {
			e.u8(0)
		}
		switch c.Type {
		case arrowstore.TypeFloat:
			vals := a.(*array.Float64).Float64Values()
			w := floatWidth(vals, valid)
			e.u8(w)
			if w == encRaw {
				raws = append(raws, pending{len(e.b), asBytes(vals)})
			} else {
				e.b = appendNarrow(e.b, vals, w)
			}
		case arrowstore.TypeInt:
			vals := a.(*array.Int64).Int64Values()
			w := intWidth(vals, valid)
			e.u8(w)
			if w == encRaw {
				raws = append(raws, pending{len(e.b), asBytes(vals)})
			} else {
				e.b = appendNarrow(e.b, vals, w)
			}
		case arrowstore.TypeBool:
			ba := a.(*array.Boolean)
			bm := make([]byte, bitutil.BytesForBits(int64(n)))
			for i := 0; i < n; i++ {
				if ba.Value(i) {
					bitutil.SetBit(bm, i)
				}
			}
			e.b = append(e.b, bm...)
		default:
			sa := a.(*array.String)
			for i := 0; i < n; i++ {
				e.str(sa.Value(i))
			}
		}
	}
	// The time column goes last, raw.
	raws = append(raws, pending{len(e.b), asBytes(rows.Time[:n])})
	prev := 0
	for _, r := range raws {
		parts = append(parts, e.b[prev:r.off], r.data)
		prev = r.off
	}
	if prev < len(e.b) {
		parts = append(parts, e.b[prev:])
	}
	return parts, e.b
}

// bitmapOf returns a's validity as a bitmap starting at bit 0.
func bitmapOf(a arrow.Array) []byte {
	n := a.Len()
	bm := make([]byte, bitutil.BytesForBits(int64(n)))
	for i := 0; i < n; i++ {
		if a.IsValid(i) {
			bitutil.SetBit(bm, i)
		}
	}
	return bm
}

// decodeRows decodes a rows record (after the type byte) into Rows whose
// arrays own copies of the data.
func decodeRows(d *dec) (tableID uint32, rows *membuf.Rows, err error) {
	tableID = d.u32()
	n := int(d.u32())
	if d.err || n > len(d.b) {
		return 0, nil, corrupt("rows")
	}
	rows = &membuf.Rows{N: n, SID: make([]uint32, n)}
	switch d.u8() {
	case 1:
		for i, b := range d.bytes(n) {
			rows.SID[i] = uint32(b)
		}
	case 2:
		raw := d.bytes(2 * n)
		for i := range rows.SID {
			if raw == nil {
				break
			}
			rows.SID[i] = uint32(binary.LittleEndian.Uint16(raw[2*i:]))
		}
	case 4:
		raw := d.bytes(4 * n)
		for i := range rows.SID {
			if raw == nil {
				break
			}
			rows.SID[i] = binary.LittleEndian.Uint32(raw[4*i:])
		}
	default:
		return 0, nil, corrupt("rows")
	}
	ncols := int(d.u16())
	for c := 0; c < ncols && !d.err; c++ {
		slot := int(d.u16())
		typ := arrowstore.FieldType(d.u8())
		var bm []byte
		nulls := 0
		if d.u8() == 1 {
			bm = append([]byte(nil), d.bytes(int(bitutil.BytesForBits(int64(n))))...)
			if d.err {
				break
			}
			nulls = n - bitutil.CountSetBits(bm, 0, n)
		}
		var data arrow.ArrayData
		switch typ {
		case arrowstore.TypeFloat, arrowstore.TypeInt:
			w := d.u8()
			vals := make([]int64, n) // also float64 bits
			switch w {
			case encRaw:
				raw := d.bytes(8 * n)
				if raw != nil {
					copy(asBytes(vals), raw)
				}
			case encInt8, encInt16, encInt32:
				size := 1 << (w - 1)
				raw := d.bytes(size * n)
				if raw == nil {
					break
				}
				for i := range vals {
					var v int64
					switch w {
					case encInt8:
						v = int64(int8(raw[i]))
					case encInt16:
						v = int64(int16(binary.LittleEndian.Uint16(raw[2*i:])))
					default:
						v = int64(int32(binary.LittleEndian.Uint32(raw[4*i:])))
					}
					if typ == arrowstore.TypeFloat {
						vals[i] = int64(math.Float64bits(float64(v)))
					} else {
						vals[i] = v
					}
				}
			default:
				d.err = true
			}
			data = array.NewData(typ.ArrowType(), n, []*memory.Buffer{bufOrNil(bm), memory.NewBufferBytes(asBytes(vals))}, nil, nulls, 0)
		case arrowstore.TypeBool:
			vals := append([]byte(nil), d.bytes(int(bitutil.BytesForBits(int64(n))))...)
			data = array.NewData(typ.ArrowType(), n, []*memory.Buffer{bufOrNil(bm), memory.NewBufferBytes(vals)}, nil, nulls, 0)
		case arrowstore.TypeString:
			offs := make([]int32, n+1)
			var buf []byte
			for i := 0; i < n && !d.err; i++ {
				buf = append(buf, d.bytes(int(d.u32()))...)
				offs[i+1] = int32(len(buf))
			}
			data = array.NewData(typ.ArrowType(), n, []*memory.Buffer{bufOrNil(bm), memory.NewBufferBytes(asBytes(offs)), memory.NewBufferBytes(buf)}, nil, nulls, 0)
		default:
			d.err = true
		}
		if d.err {
			if data != nil {
				data.Release()
			}
			break
		}
		arr := array.MakeFromData(data)
		data.Release()
		rows.Cols = append(rows.Cols, membuf.Col{Slot: slot, Type: typ, Arr: arr})
	}
	rows.Time = make([]int64, n)
	if raw := d.bytes(8 * n); raw != nil {
		copy(asBytes(rows.Time), raw)
	}
	if d.err || len(d.b) != 0 {
		releaseCols(rows)
		return 0, nil, corrupt("rows")
	}
	return tableID, rows, nil
}

func releaseCols(r *membuf.Rows) {
	for _, c := range r.Cols {
		c.Arr.Release()
	}
}

func bufOrNil(b []byte) *memory.Buffer {
	if b == nil {
		return nil
	}
	return memory.NewBufferBytes(b)
}
