package functions

import (
	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/bitutil"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// Vec is a column of N values of type T: an Arrow array, or a constant
// (Arr nil) repeated N times. Const holds nil (NULL), bool, int64 (TInt,
// TTimestamp ns, TDate days), float64, string, Interval or Decimal
// (TNumeric). A TNumeric array is a string array of each value's
// canonical text.
type Vec struct {
	Arr   arrow.Array
	Const any
	T     Type
	N     int
}

// ConstVec returns a constant vector.
func ConstVec(v any, t Type, n int) Vec { return Vec{Const: v, T: t, N: n} }

// ArrVec wraps an array.
func ArrVec(a arrow.Array, t Type) Vec { return Vec{Arr: a, T: t, N: a.Len()} }

// IsConst reports whether v is a constant.
func (v Vec) IsConst() bool { return v.Arr == nil }

// IsNull reports whether row i is NULL.
func (v Vec) IsNull(i int) bool {
	if v.Arr == nil {
		return v.Const == nil
	}
	return v.Arr.IsNull(i)
}

// Float returns row i as float64 (ints are converted).
func (v Vec) Float(i int) float64 {
	if v.Arr == nil {
		switch c := v.Const.(type) {
		case float64:
			return c
		case int64:
			return float64(c)
		case Decimal:
			return c.Float64()
		}
		return 0
	}
	switch a := v.Arr.(type) {
	case *array.Float64:
		return a.Value(i)
	case *array.Int64:
		return float64(a.Value(i))
	case *array.String:
		if v.T == TNumeric {
			return v.AsDecimal(i).Float64()
		}
	}
	return 0
}

// Int returns row i as int64 (timestamps as ns).
func (v Vec) Int(i int) int64 {
	if v.Arr == nil {
		c, _ := v.Const.(int64)
		return c
	}
	switch a := v.Arr.(type) {
	case *array.Int64:
		return a.Value(i)
	case *array.Timestamp:
		return int64(a.Value(i))
	case *array.Uint32:
		return int64(a.Value(i))
	case *array.Date32:
		return int64(a.Value(i))
	}
	return 0
}

// Interval returns row i as an interval.
func (v Vec) Interval(i int) Interval {
	if v.Arr == nil {
		c, _ := v.Const.(Interval)
		return c
	}
	if a, ok := v.Arr.(*array.MonthDayNanoInterval); ok {
		x := a.Value(i)
		return Interval{Months: x.Months, Days: x.Days, Nanos: x.Nanoseconds}
	}
	return Interval{}
}

// Bool returns row i as bool.
func (v Vec) Bool(i int) bool {
	if v.Arr == nil {
		c, _ := v.Const.(bool)
		return c
	}
	return v.Arr.(*array.Boolean).Value(i)
}

// Str returns row i as a string (dictionary arrays are looked through).
func (v Vec) Str(i int) string {
	if v.Arr == nil {
		switch c := v.Const.(type) {
		case string:
			return c
		case Decimal:
			return c.String()
		}
		return ""
	}
	switch a := v.Arr.(type) {
	case *array.String:
		return a.Value(i)
	case *array.Dictionary:
		return a.Dictionary().(*array.String).Value(a.GetValueIndex(i))
	}
	return ""
}

// Release releases the array, if any.
func (v Vec) Release() {
	if v.Arr != nil {
		v.Arr.Release()
	}
}

// Materialize returns v as an array (constants are expanded). The caller
// owns the result.
func (v Vec) Materialize() arrow.Array {
	if v.Arr != nil {
		v.Arr.Retain()
		return v.Arr
	}
	n := v.N
	if v.Const == nil {
		return array.MakeArrayOfNull(memory.DefaultAllocator, v.T.Arrow(), n)
	}
	switch c := v.Const.(type) {
	case bool:
		b := make([]bool, n)
		for i := range b {
			b[i] = c
		}
		return NewBool(b, nil)
	case int64:
		x := make([]int64, n)
		for i := range x {
			x[i] = c
		}
		switch v.T {
		case TTimestamp:
			return NewTimestamp(x, nil)
		case TDate:
			return NewDate(x, nil)
		}
		return NewInt(x, nil)
	case float64:
		x := make([]float64, n)
		for i := range x {
			x[i] = c
		}
		return NewFloat(x, nil)
	case string, Decimal:
		x := make([]string, n)
		s := v.Str(0)
		for i := range x {
			x[i] = s
		}
		return NewText(x, nil)
	case Interval:
		x := make([]Interval, n)
		for i := range x {
			x[i] = c
		}
		return NewInterval(x, nil)
	}
	return array.MakeArrayOfNull(memory.DefaultAllocator, v.T.Arrow(), n)
}

// Valid is a validity bitmap under construction (nil: all valid).
type Valid struct {
	bm    []byte
	n     int
	nulls int
}

// NewValid returns a validity tracker for n rows.
func NewValid(n int) *Valid { return &Valid{n: n} }

// SetNull marks row i NULL.
func (v *Valid) SetNull(i int) {
	if v.bm == nil {
		v.bm = make([]byte, bitutil.BytesForBits(int64(v.n)))
		bitutil.SetBitsTo(v.bm, 0, int64(v.n), true)
	}
	if bitutil.BitIsSet(v.bm, i) {
		bitutil.ClearBit(v.bm, i)
		v.nulls++
	}
}

func (v *Valid) buf() *memory.Buffer {
	if v == nil || v.bm == nil {
		return nil
	}
	return memory.NewBufferBytes(v.bm)
}

func (v *Valid) count() int {
	if v == nil {
		return 0
	}
	return v.nulls
}

func fromBuffers(dt arrow.DataType, n int, valid *Valid, bufs ...*memory.Buffer) arrow.Array {
	data := array.NewData(dt, n, append([]*memory.Buffer{valid.buf()}, bufs...), nil, valid.count(), 0)
	defer data.Release()
	return array.MakeFromData(data)
}

// NewFloat builds a float64 array over vals (not copied).
func NewFloat(vals []float64, valid *Valid) arrow.Array {
	return fromBuffers(arrow.PrimitiveTypes.Float64, len(vals), valid, memory.NewBufferBytes(arrow.Float64Traits.CastToBytes(vals)))
}

// NewInt builds an int64 array over vals.
func NewInt(vals []int64, valid *Valid) arrow.Array {
	return fromBuffers(arrow.PrimitiveTypes.Int64, len(vals), valid, memory.NewBufferBytes(arrow.Int64Traits.CastToBytes(vals)))
}

// NewTimestamp builds a timestamp[ns, UTC] array over ns values.
func NewTimestamp(vals []int64, valid *Valid) arrow.Array {
	return fromBuffers(TimestampType, len(vals), valid, memory.NewBufferBytes(arrow.Int64Traits.CastToBytes(vals)))
}

// NewDate builds a date32 array from days since 1970-01-01.
func NewDate(days []int64, valid *Valid) arrow.Array {
	d := make([]int32, len(days))
	for i, x := range days {
		d[i] = int32(x)
	}
	return fromBuffers(arrow.FixedWidthTypes.Date32, len(d), valid, memory.NewBufferBytes(arrow.Int32Traits.CastToBytes(d)))
}

// NewInterval builds a month_day_nano_interval array.
func NewInterval(vals []Interval, valid *Valid) arrow.Array {
	x := make([]arrow.MonthDayNanoInterval, len(vals))
	for i, v := range vals {
		x[i] = arrow.MonthDayNanoInterval{Months: v.Months, Days: v.Days, Nanoseconds: v.Nanos}
	}
	return fromBuffers(arrow.FixedWidthTypes.MonthDayNanoInterval, len(x), valid, memory.NewBufferBytes(arrow.MonthDayNanoIntervalTraits.CastToBytes(x)))
}

// NewBool builds a boolean array.
func NewBool(vals []bool, valid *Valid) arrow.Array {
	bm := make([]byte, bitutil.BytesForBits(int64(len(vals))))
	for i, b := range vals {
		if b {
			bitutil.SetBit(bm, i)
		}
	}
	return fromBuffers(arrow.FixedWidthTypes.Boolean, len(vals), valid, memory.NewBufferBytes(bm))
}

// NewText builds a string array.
func NewText(vals []string, valid *Valid) arrow.Array {
	offs := make([]int32, len(vals)+1)
	size := 0
	for _, s := range vals {
		size += len(s)
	}
	buf := make([]byte, 0, size)
	for i, s := range vals {
		buf = append(buf, s...)
		offs[i+1] = int32(len(buf))
	}
	return fromBuffers(arrow.BinaryTypes.String, len(vals), valid, memory.NewBufferBytes(arrow.Int32Traits.CastToBytes(offs)), memory.NewBufferBytes(buf))
}

// NewOf builds an array of type t from Go values (nil = NULL).
func NewOf(t Type, vals []any) arrow.Array {
	n := len(vals)
	valid := NewValid(n)
	for i, v := range vals {
		if v == nil {
			valid.SetNull(i)
		}
	}
	switch t {
	case TBool:
		x := make([]bool, n)
		for i, v := range vals {
			x[i], _ = v.(bool)
		}
		return NewBool(x, valid)
	case TInt, TTimestamp, TDate:
		x := make([]int64, n)
		for i, v := range vals {
			x[i], _ = v.(int64)
		}
		switch t {
		case TTimestamp:
			return NewTimestamp(x, valid)
		case TDate:
			return NewDate(x, valid)
		}
		return NewInt(x, valid)
	case TInterval:
		x := make([]Interval, n)
		for i, v := range vals {
			x[i], _ = v.(Interval)
		}
		return NewInterval(x, valid)
	case TFloat:
		x := make([]float64, n)
		for i, v := range vals {
			x[i], _ = v.(float64)
		}
		return NewFloat(x, valid)
	case TNumeric:
		x := make([]string, n)
		for i, v := range vals {
			switch d := toDecimal(v).(type) {
			case Decimal:
				x[i] = d.String()
			case string:
				x[i] = d
			}
		}
		return NewText(x, valid)
	default:
		x := make([]string, n)
		for i, v := range vals {
			x[i], _ = v.(string)
		}
		return NewText(x, valid)
	}
}

// Value returns row i of v as a Go value (nil for NULL).
func (v Vec) Value(i int) any {
	if v.IsNull(i) {
		return nil
	}
	switch v.T {
	case TBool:
		return v.Bool(i)
	case TInt, TTimestamp, TDate:
		return v.Int(i)
	case TFloat:
		return v.Float(i)
	case TText:
		return v.Str(i)
	case TInterval:
		return v.Interval(i)
	case TNumeric:
		return v.AsDecimal(i)
	}
	if v.Arr == nil {
		return v.Const
	}
	return nil
}
