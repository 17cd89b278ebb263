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
