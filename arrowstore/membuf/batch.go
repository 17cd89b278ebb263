package membuf

import (
	"context"
	"math"
	"slices"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/bitutil"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/ugnos/ugnos/arrowstore"
)

// Run is the row range [Start, End) of one series in a sealed Batch, whose
// rows are time-sorted.
type Run struct {
	SID        uint32
	Start, End int32
	MinT, MaxT int64
}

// Zone is the zone map of one field column of a Batch.
type Zone struct {
	Nulls      int
	HasMinMax  bool // false when every value is null (or NaN)
	MinF, MaxF float64
	MinI, MaxI int64
	HasNaN     bool
}

// Batch is an immutable, sealed set of rows sorted by (series, time).
type Batch struct {
	N       int
	Time    []int64     // the time column, as the Go slice behind TimeArr
	TimeArr arrow.Array // timestamp[ns, UTC]
	Cols    []arrow.Array
	Types   []arrowstore.FieldType // by slot, 0 where Cols[slot] is nil (all null)
	Zones   []Zone
	Runs    []Run // sorted by SID
	MinT    int64
	MaxT    int64
	Bytes   int64 // memory held (0 for a lazy batch)
	// Lazy, when set, makes this a lazy batch: rows kept elsewhere (a
	// segment file) of which only N, Runs, MinT, MaxT, Types and Zones are
	// in memory; Time, TimeArr and Cols are nil, and scans load the batch
	// through Lazy when its runs and zone maps cannot rule it out.
	Lazy Loader
}

// Loader loads a lazy batch: the time column and the field slots asked
// for (others may be left nil), as a batch with the same runs, or fewer
// rows where some were deleted since it was written.
type Loader interface {
	Load(ctx context.Context, slots []int) (*Batch, error)
}

// Col returns the array of a field slot, or nil when the batch has no
// values for it.
func (b *Batch) Col(slot int) arrow.Array {
	if slot < len(b.Cols) {
		return b.Cols[slot]
	}
	return nil
}

// sortPerm returns the row order by (sid, time), stable, and the runs.
func sortPerm(ts []int64, sids []uint32) ([]int32, []Run) {
	n := len(ts)
	minS, maxS := uint32(math.MaxUint32), uint32(0)
	for _, s := range sids {
		minS = min(minS, s)
		maxS = max(maxS, s)
	}
	perm := make([]int32, n)
	var runs []Run
	span := int(maxS-minS) + 1
	if span <= 4*n+4096 {
		counts := make([]int32, span+1)
		for _, s := range sids {
			counts[s-minS+1]++
		}
		nr := 0
		for i := 1; i <= span; i++ {
			if counts[i] > 0 {
				nr++
			}
			counts[i] += counts[i-1]
		}
		runs = make([]Run, 0, nr)
		for i := 0; i < span; i++ {
			if counts[i+1] > counts[i] {
				runs = append(runs, Run{SID: minS + uint32(i), Start: counts[i], End: counts[i+1]})
			}
		}
		pos := counts[:span]
		for i, s := range sids {
			k := s - minS
			perm[pos[k]] = int32(i)
			pos[k]++
		}
	} else {
		idx := make(map[uint32]int32)
		for _, s := range sids {
			idx[s]++
		}
		keys := make([]uint32, 0, len(idx))
		for s := range idx {
			keys = append(keys, s)
		}
		slices.Sort(keys)
		off := int32(0)
		runs = make([]Run, 0, len(keys))
		for _, s := range keys {
			c := idx[s]
			runs = append(runs, Run{SID: s, Start: off, End: off + c})
			idx[s] = off
			off += c
		}
		for i, s := range sids {
			perm[idx[s]] = int32(i)
			idx[s]++
		}
	}
	for ri := range runs {
		r := &runs[ri]
		seg := perm[r.Start:r.End]
		sorted := true
		for k := 1; k < len(seg); k++ {
			if ts[seg[k]] < ts[seg[k-1]] {
				sorted = false
				break
			}
		}
		if !sorted {
			slices.SortStableFunc(seg, func(a, b int32) int {
				ta, tb := ts[a], ts[b]
				if ta < tb {
					return -1
				}
				if ta > tb {
					return 1
				}
				return 0
			})
		}
		r.MinT, r.MaxT = ts[seg[0]], ts[seg[len(seg)-1]]
	}
	return perm, runs
}

// sealChunk turns a detached chunk into a Batch. The chunk is not modified.
func sealChunk(c *chunk) *Batch {
	n := len(c.ts)
	if n == 0 {
		return nil
	}
	perm, runs := sortPerm(c.ts, c.sid)
	ts := make([]int64, n)
	for k, i := range perm {
		ts[k] = c.ts[i]
	}
	bt := &Batch{N: n, Time: ts, Runs: runs, MinT: c.minT, MaxT: c.maxT}
	bt.TimeArr = timeArray(ts)
	bt.Bytes = int64(n)*8 + int64(len(runs))*24 + 256
	bt.Cols = make([]arrow.Array, len(c.cols))
	bt.Types = make([]arrowstore.FieldType, len(c.cols))
	bt.Zones = make([]Zone, len(c.cols))
	for slot := range c.cols {
		cb := &c.cols[slot]
		if cb.typ == 0 {
			continue
		}
		arr, z := buildColumn(cb, perm)
		if z.Nulls == n {
			continue // all null: store nothing
		}
		bt.Cols[slot] = arr
		bt.Types[slot] = cb.typ
		bt.Zones[slot] = z
		bt.Bytes += arrayBytes(arr)
	}
	return bt
}

func timeArray(ts []int64) arrow.Array {
	data := array.NewData(arrowstore.TimeType, len(ts),
		[]*memory.Buffer{nil, memory.NewBufferBytes(arrow.Int64Traits.CastToBytes(ts))}, nil, 0, 0)
	defer data.Release()
	return array.MakeFromData(data)
}

func arrayBytes(a arrow.Array) int64 {
	var n int64
	for _, b := range a.Data().Buffers() {
		if b != nil {
			n += int64(b.Len())
		}
	}
	return n
}

// validityBitmap builds an Arrow validity bitmap from per-row bytes taken
// through sel (nil sel: in order). It returns nil when every row is valid.
func validityBitmap(valid []byte, sel []int32, n int) ([]byte, int) {
	if valid == nil {
		return nil, 0
	}
	bm := make([]byte, bitutil.BytesForBits(int64(n)))
	nulls := 0
	for k := 0; k < n; k++ {
		i := k
		if sel != nil {
			i = int(sel[k])
		}
		if valid[i] != 0 {
			bitutil.SetBit(bm, k)
		} else {
			nulls++
		}
	}
	if nulls == 0 {
		return nil, 0
	}
	return bm, nulls
}

func bufOrNil(b []byte) *memory.Buffer {
	if b == nil {
		return nil
	}
	return memory.NewBufferBytes(b)
}

// buildColumn gathers cb through sel (nil: in order) into an Arrow array and
// computes its zone map.
func buildColumn(cb *colBuf, sel []int32) (arrow.Array, Zone) {
	n := cb.len()
	if sel != nil {
		n = len(sel)
	}
	bm, nulls := validityBitmap(cb.valid, sel, n)
	at := func(k int) int {
		if sel != nil {
			return int(sel[k])
		}
		return k
	}
	var data arrow.ArrayData
	switch cb.typ {
	case arrowstore.TypeFloat:
		vals := make([]float64, n)
		for k := range vals {
			vals[k] = cb.f64[at(k)]
		}
		data = array.NewData(arrow.PrimitiveTypes.Float64, n,
			[]*memory.Buffer{bufOrNil(bm), memory.NewBufferBytes(arrow.Float64Traits.CastToBytes(vals))}, nil, nulls, 0)
	case arrowstore.TypeInt:
		vals := make([]int64, n)
		for k := range vals {
			vals[k] = cb.i64[at(k)]
		}
		data = array.NewData(arrow.PrimitiveTypes.Int64, n,
			[]*memory.Buffer{bufOrNil(bm), memory.NewBufferBytes(arrow.Int64Traits.CastToBytes(vals))}, nil, nulls, 0)
	case arrowstore.TypeBool:
		vals := make([]byte, bitutil.BytesForBits(int64(n)))
		for k := 0; k < n; k++ {
			if cb.b[at(k)] != 0 {
				bitutil.SetBit(vals, k)
			}
		}
		data = array.NewData(arrow.FixedWidthTypes.Boolean, n,
			[]*memory.Buffer{bufOrNil(bm), memory.NewBufferBytes(vals)}, nil, nulls, 0)
	default:
		offs := make([]int32, n+1)
		size := 0
		for k := 0; k < n; k++ {
			size += len(cb.str[at(k)])
		}
		buf := make([]byte, 0, size)
		for k := 0; k < n; k++ {
			buf = append(buf, cb.str[at(k)]...)
			offs[k+1] = int32(len(buf))
		}
		data = array.NewData(arrow.BinaryTypes.String, n,
			[]*memory.Buffer{bufOrNil(bm), memory.NewBufferBytes(arrow.Int32Traits.CastToBytes(offs)), memory.NewBufferBytes(buf)}, nil, nulls, 0)
	}
	defer data.Release()
	arr := array.MakeFromData(data)
	return arr, zoneOf(arr)
}

// sealRows turns rows straight into a Batch, gathering each column once.
func sealRows(r *Rows) *Batch {
	n := r.N
	perm, runs := sortPerm(r.Time[:n], r.SID[:n])
	ts := make([]int64, n)
	minT, maxT := int64(math.MaxInt64), int64(math.MinInt64)
	for k, i := range perm {
		t := r.Time[i]
		ts[k] = t
		minT, maxT = min(minT, t), max(maxT, t)
	}
	bt := &Batch{N: n, Time: ts, Runs: runs, MinT: minT, MaxT: maxT, TimeArr: timeArray(ts)}
	bt.Bytes = int64(n)*8 + int64(len(runs))*24 + 256
	slots := 0
	for _, c := range r.Cols {
		slots = max(slots, c.Slot+1)
	}
	bt.Cols = make([]arrow.Array, slots)
	bt.Types = make([]arrowstore.FieldType, slots)
	bt.Zones = make([]Zone, slots)
	for _, c := range r.Cols {
		if c.Arr.NullN() == n {
			continue
		}
		a := takeArray(c.Arr, perm, freshWords)
		bt.Cols[c.Slot] = a
		bt.Types[c.Slot] = c.Type
		bt.Zones[c.Slot] = zoneOf(a)
		bt.Bytes += arrayBytes(a)
	}
	return bt
}

// zoneOf computes the zone map of a sealed column.
func zoneOf(a arrow.Array) Zone {
	z := Zone{Nulls: a.NullN()}
	switch a := a.(type) {
	case *array.Float64:
		// NaN compares false, so it never becomes the min or max.
		mn, mx := math.Inf(1), math.Inf(-1)
		for i, v := range a.Float64Values() {
			if z.Nulls > 0 && !a.IsValid(i) {
				continue
			}
			if v < mn {
				mn = v
			}
			if v > mx {
				mx = v
			}
			if v != v {
				z.HasNaN = true
			}
		}
		if mn <= mx {
			z.HasMinMax, z.MinF, z.MaxF = true, mn, mx
		}
	case *array.Int64:
		mn, mx := int64(math.MaxInt64), int64(math.MinInt64)
		for i, v := range a.Int64Values() {
			if z.Nulls == 0 || a.IsValid(i) {
				mn, mx = min(mn, v), max(mx, v)
			}
		}
		if z.Nulls < a.Len() {
			z.HasMinMax, z.MinI, z.MaxI = true, mn, mx
		}
	}
	return z
}
