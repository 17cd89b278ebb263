package exec

import (
	"slices"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/bitutil"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// takeArray gathers rows idx of a into a new array.
func takeArray(a arrow.Array, idx []int32) arrow.Array {
	n := len(idx)
	var bm []byte
	nulls := 0
	if a.NullN() > 0 {
		bm = make([]byte, bitutil.BytesForBits(int64(n)))
		for k, i := range idx {
			if a.IsValid(int(i)) {
				bitutil.SetBit(bm, k)
			} else {
				nulls++
			}
		}
	}
	vb := func() *memory.Buffer {
		if bm == nil {
			return nil
		}
		return memory.NewBufferBytes(bm)
	}()
	var data arrow.ArrayData
	switch a := a.(type) {
	case *array.Float64:
		src := a.Float64Values()
		vals := make([]float64, n)
		for k, i := range idx {
			vals[k] = src[i]
		}
		data = array.NewData(a.DataType(), n, []*memory.Buffer{vb, memory.NewBufferBytes(arrow.Float64Traits.CastToBytes(vals))}, nil, nulls, 0)
	case *array.Int64:
		src := a.Int64Values()
		vals := make([]int64, n)
		for k, i := range idx {
			vals[k] = src[i]
		}
		data = array.NewData(a.DataType(), n, []*memory.Buffer{vb, memory.NewBufferBytes(arrow.Int64Traits.CastToBytes(vals))}, nil, nulls, 0)
	case *array.Timestamp:
		src := a.TimestampValues()
		vals := make([]arrow.Timestamp, n)
		for k, i := range idx {
			vals[k] = src[i]
		}
		data = array.NewData(a.DataType(), n, []*memory.Buffer{vb, memory.NewBufferBytes(arrow.TimestampTraits.CastToBytes(vals))}, nil, nulls, 0)
	case *array.Date32:
		src := a.Date32Values()
		vals := make([]arrow.Date32, n)
		for k, i := range idx {
			vals[k] = src[i]
		}
		data = array.NewData(a.DataType(), n, []*memory.Buffer{vb, memory.NewBufferBytes(arrow.Date32Traits.CastToBytes(vals))}, nil, nulls, 0)
	case *array.MonthDayNanoInterval:
		src := a.MonthDayNanoIntervalValues()
		vals := make([]arrow.MonthDayNanoInterval, n)
		for k, i := range idx {
			vals[k] = src[i]
		}
		data = array.NewData(a.DataType(), n, []*memory.Buffer{vb, memory.NewBufferBytes(arrow.MonthDayNanoIntervalTraits.CastToBytes(vals))}, nil, nulls, 0)
	case *array.Boolean:
		vals := make([]byte, bitutil.BytesForBits(int64(n)))
		for k, i := range idx {
			if a.Value(int(i)) {
				bitutil.SetBit(vals, k)
			}
		}
		data = array.NewData(a.DataType(), n, []*memory.Buffer{vb, memory.NewBufferBytes(vals)}, nil, nulls, 0)
	case *array.String:
		offs := make([]int32, n+1)
		var buf []byte
		for k, i := range idx {
			buf = append(buf, a.Value(int(i))...)
			offs[k+1] = int32(len(buf))
		}
		data = array.NewData(a.DataType(), n, []*memory.Buffer{vb, memory.NewBufferBytes(arrow.Int32Traits.CastToBytes(offs)), memory.NewBufferBytes(buf)}, nil, nulls, 0)
	case *array.Dictionary:
		src := a.Indices().(*array.Int32).Int32Values()
		vals := make([]int32, n)
		for k, i := range idx {
			vals[k] = src[i]
		}
		data = array.NewData(a.DataType(), n, []*memory.Buffer{vb, memory.NewBufferBytes(arrow.Int32Traits.CastToBytes(vals))}, nil, nulls, 0)
		data.(*array.Data).SetDictionary(a.Dictionary().Data())
	default:
		panic("BUG: exec: take of " + a.DataType().String())
	}
	defer data.Release()
	return array.MakeFromData(data)
}

// takeRecord gathers rows idx of rec.
func takeRecord(rec arrow.RecordBatch, idx []int32) arrow.RecordBatch {
	cols := make([]arrow.Array, rec.NumCols())
	for i := range cols {
		cols[i] = takeArray(rec.Column(i), idx)
	}
	out := array.NewRecordBatch(rec.Schema(), cols, int64(len(idx)))
	for _, c := range cols {
		c.Release()
	}
	return out
}

// takeOrNull gathers rows idx of a, with NULL where idx is -1 (as-of
// joins without a match, filled gaps).
func takeOrNull(a arrow.Array, idx []int32) arrow.Array {
	n := len(idx)
	if a.Len() == 0 {
		return array.MakeArrayOfNull(memory.DefaultAllocator, a.DataType(), n)
	}
	if !slices.ContainsFunc(idx, func(i int32) bool { return i < 0 }) {
		return takeArray(a, idx)
	}
	clamped := make([]int32, n)
	for k, i := range idx {
		clamped[k] = max(i, 0)
	}
	t := takeArray(a, clamped)
	defer t.Release()
	bm := make([]byte, bitutil.BytesForBits(int64(n)))
	nulls := 0
	for k, i := range idx {
		if i >= 0 && t.IsValid(k) {
			bitutil.SetBit(bm, k)
		} else {
			nulls++
		}
	}
	d := t.Data()
	bufs := append([]*memory.Buffer{memory.NewBufferBytes(bm)}, d.Buffers()[1:]...)
	nd := array.NewData(d.DataType(), n, bufs, d.Children(), nulls, 0)
	if dict := d.Dictionary(); dict != nil {
		nd.SetDictionary(dict)
	}
	defer nd.Release()
	return array.MakeFromData(nd)
}
