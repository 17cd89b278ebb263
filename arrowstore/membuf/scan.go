package membuf

import (
	"context"
	"math"
	"sort"
	"unsafe"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/bitutil"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/ugnos/ugnos/arrowstore"
	"github.com/ugnos/ugnos/internal/bufpool"
)

// ScanSpec selects rows and field slots from a View.
type ScanSpec struct {
	MinT, MaxT int64
	SIDs       []uint32 // sorted ascending; nil: every series
	Slots      []int    // field slots to return, in order
	Types      []arrowstore.FieldType
	Stats      *arrowstore.ScanStats // may be nil
	NoSID      bool                  // Part.Runs is not needed (left nil)
	Ranges     []SlotRange           // zone-map hints
	// Reuse: each part's gathered fixed-width columns may be written over
	// the previous part's (see arrowstore.ScanRequest.Reuse).
	Reuse bool
	// Ctx is passed to the loaders of lazy batches (nil: Background).
	Ctx context.Context
}

// SlotRange is a zone-map hint on a field slot (see arrowstore.FieldRange).
type SlotRange struct {
	Slot     int
	Min, Max float64
}

// excluded reports whether the batch's zone maps rule out every range row.
func excluded(bt *Batch, rs []SlotRange) bool {
	for _, r := range rs {
		if r.Slot >= len(bt.Types) || bt.Types[r.Slot] == 0 {
			return true // all NULL here
		}
		z := bt.Zones[r.Slot]
		nanOK := z.HasNaN && math.IsInf(r.Max, 1)
		if nanOK {
			continue
		}
		if !z.HasMinMax {
			if bt.Types[r.Slot] == arrowstore.TypeFloat || bt.Types[r.Slot] == arrowstore.TypeInt {
				return true // only NULLs (and NaNs outside the range)
			}
			continue
		}
		lo, hi := z.MinF, z.MaxF
		if bt.Types[r.Slot] == arrowstore.TypeInt {
			lo, hi = float64(z.MinI), float64(z.MaxI)
		}
		if bt.Types[r.Slot] != arrowstore.TypeFloat && bt.Types[r.Slot] != arrowstore.TypeInt {
			continue
		}
		if hi < r.Min || lo > r.Max {
			return true
		}
	}
	return false
}

// Part is a piece of a scan's result. The caller owns the arrays and must
// Release them.
type Part struct {
	N      int
	Time   arrow.Array // timestamp[ns, UTC]
	Runs   []SeriesRun // the series of the rows, in row order
	Fields []arrow.Array
}

// SeriesRun is a run of consecutive rows of one series.
type SeriesRun struct {
	SID uint32
	N   int32
}

// Release releases the part's arrays.
func (p *Part) Release() {
	if p.Time != nil {
		p.Time.Release()
	}
	for _, a := range p.Fields {
		if a != nil {
			a.Release()
		}
	}
}

// Cursor walks a View's rows matching a ScanSpec, one Part at a time.
type Cursor struct {
	v     *View
	spec  ScanSpec
	bi    int // next sealed batch
	ci    int // next chunk
	st    arrowstore.ScanStats
	part  int // this cursor takes batches and chunks i with i % parts == part
	parts int

	err     error      // a lazy batch failed to load
	rs      []rng      // scratch of scanBatch
	sel     []int32    // scratch of scanBatch (from bufpool)
	scratch [][]uint64 // spec.Reuse: the gathered columns, time first (from bufpool)
}

// words returns n 8-byte words for gathered column i of a part: the
// cursor's own buffer under spec.Reuse, else a fresh one.
func (c *Cursor) words(i, n int) []uint64 {
	if !c.spec.Reuse {
		return make([]uint64, n)
	}
	for len(c.scratch) <= i {
		c.scratch = append(c.scratch, nil)
	}
	if cap(c.scratch[i]) < n {
		bufpool.Put(c.scratch[i])
		c.scratch[i] = bufpool.Get[uint64](n)
	}
	return c.scratch[i][:n]
}

// putScratch gives the cursor's scratch buffers back to the pool: at the
// end, when under spec.Reuse the caller is done with every part.
func (c *Cursor) putScratch() {
	bufpool.Put(c.sel)
	c.sel = nil
	for _, w := range c.scratch {
		bufpool.Put(w)
	}
	c.scratch = nil
}

// Scan returns a cursor over the view.
func (v *View) Scan(spec ScanSpec) *Cursor {
	return &Cursor{v: v, spec: spec, parts: 1}
}

// ScanPart returns a cursor over part of the view (batches and chunks
// dealt round-robin over parts); the parts together cover the view once.
// Cursors of one view may run concurrently.
func (v *View) ScanPart(spec ScanSpec, part, parts int) *Cursor {
	return &Cursor{v: v, spec: spec, part: part, parts: parts, bi: part, ci: part}
}

type rng struct {
	lo, hi int32
	sid    uint32
}

// Next returns the next non-empty part, or false at the end. Under
// spec.Reuse a part's gathered columns are valid until the next call.
func (c *Cursor) Next() (Part, bool) {
	for c.bi < len(c.v.sealed) {
		bt := c.v.sealed[c.bi]
		c.bi += c.parts
		if bt.Lazy != nil {
			if !c.lazyMayMatch(bt) {
				continue
			}
			ctx := c.spec.Ctx
			if ctx == nil {
				ctx = context.Background()
			}
			full, err := bt.Lazy.Load(ctx, c.spec.Slots)
			if err != nil {
				c.err = err
				c.bi, c.ci = len(c.v.sealed), len(c.v.chunks)
				c.putScratch()
				return Part{}, false
			}
			bt = full
		}
		if p, ok := c.scanBatch(bt); ok {
			return p, true
		}
	}
	for c.ci < len(c.v.chunks) {
		cv := &c.v.chunks[c.ci]
		c.ci += c.parts
		if p, ok := c.scanChunk(cv); ok {
			return p, true
		}
	}
	c.putScratch()
	return Part{}, false
}

// Err is the error that ended the cursor early (a lazy batch that failed
// to load), or nil.
func (c *Cursor) Err() error { return c.err }

// lazyMayMatch reports whether a lazy batch may hold rows of the scan, by
// its time range, zone maps and runs; a batch ruled out counts as pruned.
func (c *Cursor) lazyMayMatch(bt *Batch) bool {
	minT, maxT := c.spec.MinT, c.spec.MaxT
	ok := bt.MaxT >= minT && bt.MinT <= maxT && (len(c.spec.Ranges) == 0 || !excluded(bt, c.spec.Ranges))
	if ok {
		ok = false
		sids := c.spec.SIDs
		for i := range bt.Runs {
			r := &bt.Runs[i]
			if r.MaxT >= minT && r.MinT <= maxT && (sids == nil || hasSID(sids, r.SID)) {
				ok = true
				break
			}
		}
	}
	if !ok {
		st := c.stats()
		st.BatchesTotal.Add(1)
		st.BatchesPruned.Add(1)
	}
	return ok
}

func (c *Cursor) stats() *arrowstore.ScanStats {
	if c.spec.Stats != nil {
		return c.spec.Stats
	}
	return &c.st
}

// searchTime returns the first index in ts[lo:hi] with ts >= t.
func searchTime(ts []int64, lo, hi int32, t int64) int32 {
	return lo + int32(sort.Search(int(hi-lo), func(i int) bool { return ts[lo+int32(i)] >= t }))
}

// searchAfter returns the first index in ts[lo:hi] with ts > t.
func searchAfter(ts []int64, lo, hi int32, t int64) int32 {
	return lo + int32(sort.Search(int(hi-lo), func(i int) bool { return ts[lo+int32(i)] > t }))
}

// matchRanges returns the row ranges of bt in the time range and series set.
func matchRanges(bt *Batch, minT, maxT int64, sids []uint32, out []rng) []rng {
	add := func(r *Run) {
		if r.MaxT < minT || r.MinT > maxT {
			return
		}
		lo, hi := r.Start, r.End
		if r.MinT < minT {
			lo = searchTime(bt.Time, lo, hi, minT)
		}
		if r.MaxT > maxT {
			hi = searchAfter(bt.Time, lo, hi, maxT)
		}
		if lo < hi {
			out = append(out, rng{lo, hi, r.SID})
		}
	}
	if sids == nil {
		for i := range bt.Runs {
			add(&bt.Runs[i])
		}
		return out
	}
	runs := bt.Runs
	if len(sids)*8 < len(runs) {
		for _, s := range sids {
			i := sort.Search(len(runs), func(i int) bool { return runs[i].SID >= s })
			if i < len(runs) && runs[i].SID == s {
				add(&runs[i])
			}
		}
		return out
	}
	i, j := 0, 0
	for i < len(runs) && j < len(sids) {
		switch {
		case runs[i].SID < sids[j]:
			i++
		case runs[i].SID > sids[j]:
			j++
		default:
			add(&runs[i])
			i++
			j++
		}
	}
	return out
}

func (c *Cursor) scanBatch(bt *Batch) (Part, bool) {
	st := c.stats()
	st.BatchesTotal.Add(1)
	if bt.MaxT < c.spec.MinT || bt.MinT > c.spec.MaxT || len(c.spec.Ranges) > 0 && excluded(bt, c.spec.Ranges) {
		st.BatchesPruned.Add(1)
		return Part{}, false
	}
	rs := matchRanges(bt, c.spec.MinT, c.spec.MaxT, c.spec.SIDs, c.rs[:0])
	c.rs = rs
	if len(rs) == 0 {
		st.BatchesPruned.Add(1)
		return Part{}, false
	}
	n := 0
	contiguous := true
	for i, r := range rs {
		n += int(r.hi - r.lo)
		if i > 0 && rs[i-1].hi != r.lo {
			contiguous = false
		}
	}
	st.RowsScanned.Add(int64(n))
	st.RowsReturned.Add(int64(n))
	p := Part{N: n, Fields: make([]arrow.Array, len(c.spec.Slots))}
	if !c.spec.NoSID {
		p.Runs = make([]SeriesRun, len(rs))
		for i, r := range rs {
			p.Runs[i] = SeriesRun{SID: r.sid, N: r.hi - r.lo}
		}
	}
	if contiguous {
		lo, hi := int64(rs[0].lo), int64(rs[len(rs)-1].hi)
		p.Time = array.NewSlice(bt.TimeArr, lo, hi)
		for i, slot := range c.spec.Slots {
			if a := bt.Col(slot); a != nil {
				p.Fields[i] = array.NewSlice(a, lo, hi)
			} else {
				p.Fields[i] = nullArray(c.spec.Types[i], n)
			}
		}
		return p, true
	}
	if cap(c.sel) < n {
		bufpool.Put(c.sel)
		c.sel = bufpool.Get[int32](n)
	}
	sel := c.sel[:0]
	for _, r := range rs {
		for k := r.lo; k < r.hi; k++ {
			sel = append(sel, k)
		}
	}
	c.sel = sel
	ts := asInt64s(c.words(0, n))
	for k, i := range sel {
		ts[k] = bt.Time[i]
	}
	p.Time = timeArray(ts)
	for i, slot := range c.spec.Slots {
		if a := bt.Col(slot); a != nil {
			p.Fields[i] = takeArray(a, sel, func(n int) []uint64 { return c.words(1+i, n) })
		} else {
			p.Fields[i] = nullArray(c.spec.Types[i], n)
		}
	}
	return p, true
}

func (c *Cursor) scanChunk(cv *chunkView) (Part, bool) {
	st := c.stats()
	st.BatchesTotal.Add(1)
	minT, maxT := c.spec.MinT, c.spec.MaxT
	if cv.maxT < minT || cv.minT > maxT || len(cv.ts) == 0 {
		st.BatchesPruned.Add(1)
		return Part{}, false
	}
	var sel []int32
	scanned := 0
	if c.spec.SIDs == nil || cv.heads == nil {
		scanned = len(cv.ts)
		sids := c.spec.SIDs
		if sids != nil {
			for i, t := range cv.ts {
				if t >= minT && t <= maxT && hasSID(sids, cv.sid[i]) {
					sel = append(sel, int32(i))
				}
			}
		} else {
			for i, t := range cv.ts {
				if t >= minT && t <= maxT {
					sel = append(sel, int32(i))
				}
			}
		}
	} else {
		for _, s := range c.spec.SIDs {
			h, ok := cv.heads[s]
			if !ok {
				continue
			}
			start := len(sel)
			for r := h; r >= 0; r = cv.prev[r] {
				scanned++
				if t := cv.ts[r]; t >= minT && t <= maxT {
					sel = append(sel, r)
				}
			}
			seg := sel[start:]
			for i, j := 0, len(seg)-1; i < j; i, j = i+1, j-1 {
				seg[i], seg[j] = seg[j], seg[i]
			}
		}
	}
	st.RowsScanned.Add(int64(scanned))
	if len(sel) == 0 {
		if scanned == 0 {
			st.BatchesPruned.Add(1)
		}
		return Part{}, false
	}
	n := len(sel)
	st.RowsReturned.Add(int64(n))
	p := Part{N: n, Fields: make([]arrow.Array, len(c.spec.Slots))}
	ts := make([]int64, n)
	for k, i := range sel {
		ts[k] = cv.ts[i]
		if c.spec.NoSID {
			continue
		}
		if s := cv.sid[i]; len(p.Runs) > 0 && p.Runs[len(p.Runs)-1].SID == s {
			p.Runs[len(p.Runs)-1].N++
		} else {
			p.Runs = append(p.Runs, SeriesRun{SID: s, N: 1})
		}
	}
	p.Time = timeArray(ts)
	for i, slot := range c.spec.Slots {
		if slot < len(cv.cols) && cv.cols[slot].typ != 0 {
			p.Fields[i], _ = buildColumn(&cv.cols[slot], sel)
		} else {
			p.Fields[i] = nullArray(c.spec.Types[i], n)
		}
	}
	return p, true
}

func nullArray(t arrowstore.FieldType, n int) arrow.Array {
	return array.MakeArrayOfNull(memory.DefaultAllocator, t.ArrowType(), n)
}

// takeArray gathers rows sel of a (a sealed column) into a new array;
// words gives the buffer of fixed-width values (n 8-byte words).
func takeArray(a arrow.Array, sel []int32, words func(n int) []uint64) arrow.Array {
	n := len(sel)
	var bm []byte
	nulls := 0
	if a.NullN() > 0 {
		bm = make([]byte, bitutil.BytesForBits(int64(n)))
		for k, i := range sel {
			if a.IsValid(int(i)) {
				bitutil.SetBit(bm, k)
			} else {
				nulls++
			}
		}
	}
	var data arrow.ArrayData
	switch a := a.(type) {
	case *array.Float64:
		src := a.Float64Values()
		vals := unsafe.Slice((*float64)(unsafe.Pointer(unsafe.SliceData(words(n)))), n)
		for k, i := range sel {
			vals[k] = src[i]
		}
		data = array.NewData(a.DataType(), n, []*memory.Buffer{bufOrNil(bm), memory.NewBufferBytes(arrow.Float64Traits.CastToBytes(vals))}, nil, nulls, 0)
	case *array.Int64:
		src := a.Int64Values()
		vals := asInt64s(words(n))
		for k, i := range sel {
			vals[k] = src[i]
		}
		data = array.NewData(a.DataType(), n, []*memory.Buffer{bufOrNil(bm), memory.NewBufferBytes(arrow.Int64Traits.CastToBytes(vals))}, nil, nulls, 0)
	case *array.Boolean:
		w := words(int(bitutil.BytesForBits(int64(n))+7) / 8)
		vals := unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(w))), 8*len(w))[:bitutil.BytesForBits(int64(n))]
		clear(vals)
		for k, i := range sel {
			if a.Value(int(i)) {
				bitutil.SetBit(vals, k)
			}
		}
		data = array.NewData(a.DataType(), n, []*memory.Buffer{bufOrNil(bm), memory.NewBufferBytes(vals)}, nil, nulls, 0)
	case *array.String:
		offs := make([]int32, n+1)
		var buf []byte
		for k, i := range sel {
			buf = append(buf, a.Value(int(i))...)
			offs[k+1] = int32(len(buf))
		}
		data = array.NewData(a.DataType(), n, []*memory.Buffer{bufOrNil(bm), memory.NewBufferBytes(arrow.Int32Traits.CastToBytes(offs)), memory.NewBufferBytes(buf)}, nil, nulls, 0)
	default:
		panic("BUG: membuf: unexpected column type " + a.DataType().String())
	}
	defer data.Release()
	return array.MakeFromData(data)
}

func freshWords(n int) []uint64 { return make([]uint64, n) }

func asInt64s(w []uint64) []int64 {
	return unsafe.Slice((*int64)(unsafe.Pointer(unsafe.SliceData(w))), len(w))
}

func hasSID(sids []uint32, s uint32) bool {
	i := sort.Search(len(sids), func(i int) bool { return sids[i] >= s })
	return i < len(sids) && sids[i] == s
}
