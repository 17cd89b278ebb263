package membuf

import (
	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/ugnos/ugnos/arrowstore"
)

// Delete removes the rows in [minT, maxT] of the series sids (sorted; nil:
// every series) and returns how many it removed. Sealed batches that lose
// rows are rebuilt; untouched ones are shared. It must not run concurrently
// with Append or Seal; readers are blocked only while the result is swapped
// in.
func (b *Buffer) Delete(minT, maxT int64, sids []uint32) int64 {
	if len(b.frozen) != 0 {
		panic("BUG: membuf: Delete concurrent with sealing")
	}
	var deleted int64
	sealed := make([]*Batch, 0, len(b.sealed))
	changed := false
	var rs []rng
	for _, bt := range b.sealed {
		if bt.Lazy != nil || bt.MaxT < minT || bt.MinT > maxT { // lazy: the engine's tombstones
			sealed = append(sealed, bt)
			continue
		}
		rs = matchRanges(bt, minT, maxT, sids, rs[:0])
		if len(rs) == 0 {
			sealed = append(sealed, bt)
			continue
		}
		changed = true
		keep := make([]int32, 0, bt.N)
		next := int32(0)
		for _, r := range rs {
			for k := next; k < r.lo; k++ {
				keep = append(keep, k)
			}
			deleted += int64(r.hi - r.lo)
			next = r.hi
		}
		for k := next; k < int32(bt.N); k++ {
			keep = append(keep, k)
		}
		if len(keep) > 0 {
			sealed = append(sealed, sealChunk(chunkFromBatch(bt, keep)))
		}
	}
	acts := make([]*chunk, len(b.shards))
	for si := range b.shards {
		c := b.shards[si].act
		if c.rows() == 0 || c.maxT < minT || c.minT > maxT {
			continue
		}
		keep := make([]int32, 0, c.rows())
		for i, t := range c.ts {
			if t >= minT && t <= maxT && (sids == nil || hasSID(sids, c.sid[i])) {
				continue
			}
			keep = append(keep, int32(i))
		}
		if len(keep) == c.rows() {
			continue
		}
		deleted += int64(c.rows() - len(keep))
		acts[si] = c.filtered(keep, b.nshard)
	}
	if deleted == 0 {
		return 0
	}
	b.view.Lock()
	b.pubMu.Lock()
	if changed {
		b.sealed = sealed
		var rows, size int64
		for _, bt := range sealed {
			if bt.Lazy == nil {
				rows += int64(bt.N)
				size += bt.Bytes
			}
		}
		b.sealedRows.Store(rows)
		b.sealedSize.Store(size)
	}
	b.pubMu.Unlock()
	for si, c := range acts {
		if c != nil {
			s := &b.shards[si]
			s.mu.Lock()
			s.act = c
			s.mu.Unlock()
		}
	}
	b.view.Unlock()
	b.rows.Add(-deleted)
	return deleted
}

// filtered returns a new chunk with the rows keep of c.
func (c *chunk) filtered(keep []int32, shards uint32) *chunk {
	out := newChunk(c.shard)
	r := &Rows{N: len(keep), Time: make([]int64, len(keep)), SID: make([]uint32, len(keep))}
	for k, i := range keep {
		r.Time[k] = c.ts[i]
		r.SID[k] = c.sid[i]
	}
	sel := make([]int32, len(keep))
	for k := range sel {
		sel[k] = int32(k)
	}
	for slot := range c.cols {
		cb := &c.cols[slot]
		if cb.typ == 0 {
			continue
		}
		arr, _ := buildColumn(cb, keep)
		r.Cols = append(r.Cols, Col{Slot: slot, Type: cb.typ, Arr: arr})
	}
	out.appendRows(r, sel, shards)
	for _, col := range r.Cols {
		col.Arr.Release()
	}
	return out
}

// chunkFromBatch copies the rows keep of a sealed batch into a detached chunk.
func chunkFromBatch(bt *Batch, keep []int32) *chunk {
	c := newChunk(0)
	n := len(keep)
	c.ts = make([]int64, n)
	c.sid = make([]uint32, n)
	ri := 0
	for k, i := range keep {
		for bt.Runs[ri].End <= i {
			ri++
		}
		c.ts[k] = bt.Time[i]
		c.sid[k] = bt.Runs[ri].SID
		c.minT = min(c.minT, c.ts[k])
		c.maxT = max(c.maxT, c.ts[k])
	}
	c.cols = make([]colBuf, len(bt.Cols))
	for slot, a := range bt.Cols {
		if a == nil {
			continue
		}
		cb := &c.cols[slot]
		cb.typ = bt.Types[slot]
		if a.NullN() > 0 {
			cb.valid = make([]byte, n)
			for k, i := range keep {
				if a.IsValid(int(i)) {
					cb.valid[k] = 1
				}
			}
		}
		switch cb.typ {
		case arrowstore.TypeFloat:
			src := a.(*array.Float64).Float64Values()
			cb.f64 = make([]float64, n)
			for k, i := range keep {
				cb.f64[k] = src[i]
			}
		case arrowstore.TypeInt:
			src := a.(*array.Int64).Int64Values()
			cb.i64 = make([]int64, n)
			for k, i := range keep {
				cb.i64[k] = src[i]
			}
		case arrowstore.TypeBool:
			src := a.(*array.Boolean)
			cb.b = make([]byte, n)
			for k, i := range keep {
				if src.Value(int(i)) {
					cb.b[k] = 1
				}
			}
		default:
			src := a.(*array.String)
			cb.str = make([]string, n)
			for k, i := range keep {
				cb.str[k] = src.Value(int(i))
			}
		}
	}
	return c
}
