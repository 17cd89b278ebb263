package membuf

import (
	"slices"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/ugnos/ugnos/arrowstore"
)

// colBuf is one field column of an active chunk. Readers may hold the slice
// headers of an earlier moment, so a colBuf is only ever appended to or
// replaced, never modified in place below its length.
type colBuf struct {
	typ   arrowstore.FieldType
	f64   []float64
	i64   []int64
	b     []byte // booleans, one byte per row
	str   []string
	valid []byte // one byte per row (1 valid); nil: all rows valid
}

func (c *colBuf) len() int {
	switch c.typ {
	case arrowstore.TypeFloat:
		return len(c.f64)
	case arrowstore.TypeInt:
		return len(c.i64)
	case arrowstore.TypeBool:
		return len(c.b)
	default:
		return len(c.str)
	}
}

func (c *colBuf) bytes() int64 {
	n := int64(cap(c.f64))*8 + int64(cap(c.i64))*8 + int64(cap(c.b)) + int64(cap(c.valid))
	for _, s := range c.str {
		n += int64(len(s)) + 16
	}
	return n
}

// ensureValid materialises the validity bytes for the first n rows (all valid).
func (c *colBuf) ensureValid(n int) {
	if c.valid != nil {
		return
	}
	c.valid = make([]byte, n, max(n, 64))
	for i := range c.valid {
		c.valid[i] = 1
	}
}

// appendNulls appends k null rows.
func (c *colBuf) appendNulls(k int) {
	n := c.len()
	c.ensureValid(n)
	switch c.typ {
	case arrowstore.TypeFloat:
		c.f64 = append(c.f64, make([]float64, k)...)
	case arrowstore.TypeInt:
		c.i64 = append(c.i64, make([]int64, k)...)
	case arrowstore.TypeBool:
		c.b = append(c.b, make([]byte, k)...)
	default:
		c.str = append(c.str, make([]string, k)...)
	}
	c.valid = append(c.valid, make([]byte, k)...)
}

// appendSel appends arr[sel[k]] for every k. arr has the column's type.
func (c *colBuf) appendSel(arr arrow.Array, sel []int32) {
	n0 := c.len()
	m := len(sel)
	switch c.typ {
	case arrowstore.TypeFloat:
		src := arr.(*array.Float64).Float64Values()
		c.f64 = grow(c.f64, m)[:n0+m]
		dst := c.f64[n0:]
		for k, i := range sel {
			dst[k] = src[i]
		}
	case arrowstore.TypeInt:
		src := arr.(*array.Int64).Int64Values()
		c.i64 = grow(c.i64, m)[:n0+m]
		dst := c.i64[n0:]
		for k, i := range sel {
			dst[k] = src[i]
		}
	case arrowstore.TypeBool:
		src := arr.(*array.Boolean)
		c.b = grow(c.b, m)[:n0+m]
		dst := c.b[n0:]
		for k, i := range sel {
			if src.Value(int(i)) {
				dst[k] = 1
			} else {
				dst[k] = 0
			}
		}
	default:
		src := arr.(*array.String)
		c.str = grow(c.str, m)[:n0+m]
		dst := c.str[n0:]
		for k, i := range sel {
			if src.IsValid(int(i)) {
				dst[k] = string([]byte(src.Value(int(i)))) // copy: the caller owns arr's buffers
			} else {
				dst[k] = ""
			}
		}
	}
	if arr.NullN() == 0 {
		if c.valid != nil {
			c.valid = append(c.valid, bytesOfOnes(m)...)
		}
		return
	}
	c.ensureValid(n0)
	c.valid = grow(c.valid, m)[:n0+m]
	dst := c.valid[n0:]
	for k, i := range sel {
		if arr.IsValid(int(i)) {
			dst[k] = 1
		} else {
			dst[k] = 0
		}
	}
}

var ones = func() []byte {
	b := make([]byte, 4096)
	for i := range b {
		b[i] = 1
	}
	return b
}()

func bytesOfOnes(n int) []byte {
	if n <= len(ones) {
		return ones[:n]
	}
	b := make([]byte, n)
	for i := range b {
		b[i] = 1
	}
	return b
}

// chunk is the active (appendable) part of a shard. prev links each row to
// the previous row of the same series (-1: none) and heads holds the last
// row of each series of the shard, indexed by sid / shards, so a query for a
// few series visits only their rows.
type chunk struct {
	ts    []int64
	sid   []uint32
	prev  []int32
	cols  []colBuf // by field slot
	heads []int32  // by local series index; -1: no row yet
	minT  int64
	maxT  int64
	shard uint32 // sid % shards of every row
}

func newChunk(shard uint32) *chunk {
	return &chunk{minT: arrowstore.MaxTime, maxT: arrowstore.MinTime, shard: shard}
}

func (c *chunk) rows() int { return len(c.ts) }

func (c *chunk) bytes() int64 {
	n := int64(cap(c.ts))*8 + int64(cap(c.sid))*4 + int64(cap(c.prev))*4 + int64(cap(c.heads))*4
	for i := range c.cols {
		n += c.cols[i].bytes()
	}
	return n + 128
}

// appendRows appends the rows sel of r. shards is the shard count, used to
// compute local series indexes.
func (c *chunk) appendRows(r *Rows, sel []int32, shards uint32) {
	n0 := len(c.ts)
	m := len(sel)
	c.ts = grow(c.ts, m)[:n0+m]
	c.sid = grow(c.sid, m)[:n0+m]
	c.prev = grow(c.prev, m)[:n0+m]
	ts, sids, prev := c.ts[n0:], c.sid[n0:], c.prev[n0:]
	minT, maxT := c.minT, c.maxT
	for k, i := range sel {
		t := r.Time[i]
		s := r.SID[i]
		ts[k] = t
		sids[k] = s
		minT = min(minT, t)
		maxT = max(maxT, t)
		li := int(s / shards)
		if li >= len(c.heads) {
			c.growHeads(li + 1)
		}
		prev[k] = c.heads[li]
		c.heads[li] = int32(n0 + k)
	}
	c.minT, c.maxT = minT, maxT

	// Field columns: those in r, then nulls for slots r lacks.
	seen := 0
	for _, col := range r.Cols {
		for len(c.cols) <= col.Slot {
			c.cols = append(c.cols, colBuf{typ: 0})
		}
		cb := &c.cols[col.Slot]
		if cb.typ == 0 {
			cb.typ = col.Type
			if n0 > 0 {
				cb.appendNulls(n0)
			}
		}
		cb.appendSel(col.Arr, sel)
		seen++
	}
	if seen == len(c.cols) {
		return
	}
	for s := range c.cols {
		cb := &c.cols[s]
		if cb.typ != 0 && cb.len() < n0+m {
			cb.appendNulls(n0 + m - cb.len())
		}
	}
}

func (c *chunk) growHeads(n int) {
	old := len(c.heads)
	// heads is mutated in place by the writer; readers never read it
	// without the view lock, so in-place growth is safe.
	c.heads = slices.Grow(c.heads, n-old)[:n]
	for i := old; i < n; i++ {
		c.heads[i] = -1
	}
}

// chunkView is a reader's picture of a chunk: the slices as they were.
type chunkView struct {
	ts    []int64
	sid   []uint32
	prev  []int32
	cols  []colBuf
	heads map[uint32]int32 // sid -> last row, for the requested sids only
	minT  int64
	maxT  int64
}

func (c *chunk) view(sids []uint32, shards uint32) chunkView {
	n := len(c.ts)
	v := chunkView{ts: c.ts[:n:n], sid: c.sid[:n:n], prev: c.prev[:n:n], minT: c.minT, maxT: c.maxT}
	v.cols = make([]colBuf, len(c.cols))
	for i, cb := range c.cols {
		v.cols[i] = colBuf{typ: cb.typ,
			f64: cb.f64[:len(cb.f64):len(cb.f64)], i64: cb.i64[:len(cb.i64):len(cb.i64)],
			b: cb.b[:len(cb.b):len(cb.b)], str: cb.str[:len(cb.str):len(cb.str)]}
		if cb.valid != nil {
			v.cols[i].valid = cb.valid[:len(cb.valid):len(cb.valid)]
		}
	}
	if sids != nil {
		v.heads = make(map[uint32]int32, len(sids))
		for _, s := range sids {
			if s%shards != c.shard {
				continue
			}
			li := int(s / shards)
			if li < len(c.heads) && c.heads[li] >= 0 {
				v.heads[s] = c.heads[li]
			}
		}
	}
	return v
}

// grow returns s with room for m more elements, doubling the capacity (at
// least 256) when it must reallocate: append's 1.25x growth for large
// slices copies a chunk many times over before it is sealed.
func grow[T any](s []T, m int) []T {
	if cap(s)-len(s) >= m {
		return s
	}
	n := max(2*cap(s), len(s)+m, 256)
	out := make([]T, len(s), n)
	copy(out, s)
	return out
}
