package membuf

import "github.com/apache/arrow-go/v18/arrow"

// FilterBatch returns a new sealed batch of the rows keep (ascending row
// numbers) of bt, with its runs and zone maps recomputed. bt must be
// loaded (not lazy).
func FilterBatch(bt *Batch, keep []int32) *Batch {
	return sealChunk(chunkFromBatch(bt, keep))
}

// MatchRows returns the row ranges [lo, hi) of a loaded batch in the time
// range [minT, maxT] and the series sids (sorted; nil: every series).
func MatchRows(bt *Batch, minT, maxT int64, sids []uint32) [][2]int32 {
	rs := matchRanges(bt, minT, maxT, sids, nil)
	out := make([][2]int32, len(rs))
	for i, r := range rs {
		out[i] = [2]int32{r.lo, r.hi}
	}
	return out
}

// ZoneOf computes the zone map of a column.
func ZoneOf(a arrow.Array) Zone { return zoneOf(a) }

// ArrayBytes is the size of an array's buffers.
func ArrayBytes(a arrow.Array) int64 { return arrayBytes(a) }

// Gather builds one sealed batch, sorted by (series, time), of the rows
// sels[i] (ascending row numbers) of the loaded batches bts[i]. Field slots
// a batch lacks are NULL for its rows.
func Gather(bts []*Batch, sels [][]int32) *Batch {
	c := newChunk(0)
	slots := 0
	for _, bt := range bts {
		slots = max(slots, len(bt.Cols))
	}
	c.cols = make([]colBuf, slots)
	for slot := range c.cols {
		for _, bt := range bts {
			if a := bt.Col(slot); a != nil {
				c.cols[slot].typ = bt.Types[slot]
				break
			}
		}
	}
	for i, bt := range bts {
		sel := sels[i]
		if len(sel) == 0 {
			continue
		}
		ri := 0
		for _, k := range sel {
			for bt.Runs[ri].End <= k {
				ri++
			}
			t := bt.Time[k]
			c.ts = append(c.ts, t)
			c.sid = append(c.sid, bt.Runs[ri].SID)
			c.minT, c.maxT = min(c.minT, t), max(c.maxT, t)
		}
		for slot := range c.cols {
			cb := &c.cols[slot]
			if cb.typ == 0 {
				continue
			}
			if a := bt.Col(slot); a != nil {
				cb.appendSel(a, sel)
			} else {
				cb.appendNulls(len(sel))
			}
		}
	}
	return sealChunk(c)
}
