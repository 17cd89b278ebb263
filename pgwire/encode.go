package pgwire

import (
	"encoding/binary"
	"math"
	"strconv"

	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/ugnos/ugnos/functions"
)

// encoded is one column of a batch in its wire format: the values laid
// end to end in data, value i ending at ends[i] (-1: NULL).
type encoded struct {
	data []byte
	ends []int
}

// encodeColumn encodes a whole column of a batch at once: typed loops over
// the Arrow buffers for the common types, dictionary values encoded once
// per batch, the general path otherwise.
func (e *encoder) encodeColumn(c *column, dst *encoded) {
	n := c.vec.N
	if cap(dst.ends) < n {
		// sized for the batch up front; never nil, so that an empty value
		// is not taken for NULL
		dst.ends = make([]int, 0, n)
		dst.data = make([]byte, 0, max(n*9, 64))
	}
	dst.data, dst.ends = dst.data[:0], dst.ends[:0]
	arr := c.vec.Arr
	nulls := arr != nil && arr.NullN() > 0
	valid := func(i int) bool { return !nulls || arr.IsValid(i) }
	push := func() { dst.ends = append(dst.ends, len(dst.data)) }
	null := func() { dst.ends = append(dst.ends, -1) }
	switch a := arr.(type) {
	case *array.Float64:
		vals := a.Float64Values()
		for i := 0; i < n; i++ {
			if !valid(i) {
				null()
				continue
			}
			switch {
			case c.binary && c.oid == oidFloat4:
				dst.data = binary.BigEndian.AppendUint32(dst.data, math.Float32bits(float32(vals[i])))
			case c.binary:
				dst.data = binary.BigEndian.AppendUint64(dst.data, math.Float64bits(vals[i]))
			default:
				dst.data = append(dst.data, e.formatFloat(vals[i])...)
			}
			push()
		}
		return
	case *array.Int64:
		if c.t != functions.TInt || typeSize(c.oid) != 8 && c.binary {
			break
		}
		vals := a.Int64Values()
		for i := 0; i < n; i++ {
			if !valid(i) {
				null()
				continue
			}
			if c.binary {
				dst.data = binary.BigEndian.AppendUint64(dst.data, uint64(vals[i]))
			} else {
				dst.data = strconv.AppendInt(dst.data, vals[i], 10)
			}
			push()
		}
		return
	case *array.Timestamp:
		vals := a.TimestampValues()
		for i := 0; i < n; i++ {
			if !valid(i) {
				null()
				continue
			}
			if c.binary {
				dst.data = binary.BigEndian.AppendUint64(dst.data, uint64(floorDiv(int64(vals[i]), 1000)-pgEpochUnixMicros))
			} else {
				dst.data = e.appendTimestamp(dst.data, int64(vals[i]))
			}
			push()
		}
		return
	case *array.String:
		if c.t != functions.TText && c.t != functions.TUnknown {
			break
		}
		for i := 0; i < n; i++ {
			if !valid(i) {
				null()
				continue
			}
			dst.data = append(dst.data, a.Value(i)...)
			push()
		}
		return
	case *array.Dictionary:
		dict, ok := a.Dictionary().(*array.String)
		if !ok {
			break
		}
		idx, isInt32 := a.Indices().(*array.Int32)
		for i := 0; i < n; i++ {
			if !valid(i) {
				null()
				continue
			}
			k := 0
			if isInt32 {
				k = int(idx.Value(i))
			} else {
				k = a.GetValueIndex(i)
			}
			dst.data = append(dst.data, dict.Value(k)...)
			push()
		}
		return
	}
	for i := 0; i < n; i++ {
		if c.vec.IsNull(i) {
			null()
			continue
		}
		dst.data = e.appendValue(dst.data, c, i)
		push()
	}
}
