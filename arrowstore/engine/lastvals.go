package engine

import (
	"context"
	"math"
	"slices"
	"sync"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/ugnos/ugnos/arrowstore"
	"github.com/ugnos/ugnos/arrowstore/membuf"
	"github.com/ugnos/ugnos/errs"
)

// noTime marks a series with no live row.
const noTime int64 = math.MinInt64

// lastTimes keeps, per series of a table, a bound on the time of its
// latest row: no live row of the series is later. The bound is the exact
// latest time unless rows were deleted or expired since; LastRows finds
// that out (no row at the bound) and recomputes the bound of that series.
//
// Commits and WAL replay raise bounds (one compare per row). Rows that
// reach the table otherwise (segments found at Open, a restored snapshot)
// are folded in from the series runs of the sealed batches, in memory and
// lazy, on first use: no segment is read for that.
type lastTimes struct {
	mu     sync.Mutex
	ts     []int64 // by sid
	folded bool
}

// observe raises the bounds of the series of rows to their times.
func (l *lastTimes) observe(rows *membuf.Rows) {
	l.mu.Lock()
	ts := l.ts
	for i, sid := range rows.SID[:rows.N] {
		if int(sid) >= len(ts) {
			ts = l.grow(int(sid) + 1)
		}
		if t := rows.Time[i]; t > ts[sid] {
			ts[sid] = t
		}
	}
	l.mu.Unlock()
}

// grow makes room for n series. Caller holds mu.
func (l *lastTimes) grow(n int) []int64 {
	for len(l.ts) < n {
		l.ts = append(l.ts, noTime)
	}
	l.ts = l.ts[:cap(l.ts)]
	for i := n; i < len(l.ts); i++ {
		l.ts[i] = noTime
	}
	return l.ts
}

// bounds returns the bounds of sids, after folding in the sealed batches
// on first use.
func (l *lastTimes) bounds(buf *membuf.Buffer, sids []uint32) []int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.folded {
		l.folded = true
		for _, bt := range buf.Sealed() {
			for _, r := range bt.Runs {
				if int(r.SID) >= len(l.ts) {
					l.grow(int(r.SID) + 1)
				}
				l.ts[r.SID] = max(l.ts[r.SID], r.MaxT)
			}
		}
	}
	out := make([]int64, len(sids))
	for i, sid := range sids {
		out[i] = noTime
		if int(sid) < len(l.ts) {
			out[i] = l.ts[sid]
		}
	}
	return out
}

// set replaces the bound of a series. Caller holds the table's order
// exclusively (no commit raises bounds meanwhile).
func (l *lastTimes) set(sid uint32, t int64) {
	l.mu.Lock()
	if int(sid) >= len(l.ts) {
		l.grow(int(sid) + 1)
	}
	l.ts[sid] = t
	l.mu.Unlock()
}

// maxLastScans bounds the scans of one LastRows round: series with more
// distinct latest times than that are read in time windows split at the
// widest gaps between those times.
const maxLastScans = 16

// LastRows implements arrowstore.LastRower: for the series whose bound is
// live, one scan per distinct bound (or per window of nearby bounds) reads
// the rows at exactly that time, zone maps and series runs pruning the
// rest; a series with no row there lost its latest rows to a delete, so
// its bound is recomputed from its own rows and all is read again.
func (t *table) LastRows(ctx context.Context, req arrowstore.ScanRequest) (array.RecordReader, error) {
	if req.MinT != arrowstore.MinTime || req.MaxT != arrowstore.MaxTime {
		return nil, errs.Invalid("last rows of a time range are not supported")
	}
	s := t.schema.Load()
	rfs, err := t.resolveFilters(s, req.Filters)
	if err != nil {
		return nil, err
	}
	sids := t.cat.match(rfs)
	if sids == nil {
		sids = make([]uint32, t.cat.count())
		for i := range sids {
			sids[i] = uint32(i)
		}
	}
	cols := req.Columns
	if cols == nil {
		for _, c := range s.columns {
			cols = append(cols, c.Name)
		}
	}
	sreq := arrowstore.ScanRequest{Columns: append(slices.Clip(cols), arrowstore.TimeColumn, arrowstore.SeriesIDColumn), Stats: req.Stats}
	var out []arrow.RecordBatch
	defer func() {
		for _, r := range out {
			r.Release()
		}
	}()
	var schema *arrow.Schema
	for len(sids) > 0 {
		bounds := t.last.bounds(t.buf, sids)
		want := make(map[uint32]int64, len(sids))
		for i, sid := range sids {
			want[sid] = bounds[i]
		}
		var missing []uint32
		for _, g := range groupByBound(sids, bounds, t.cutoff()) {
			sreq.MinT, sreq.MaxT = g.lo, g.hi
			recs, sch, lost, err := t.readAt(ctx, sreq, g.sids, want)
			out = append(out, recs...)
			if err != nil {
				return nil, err
			}
			schema = sch
			missing = append(missing, lost...)
		}
		if len(missing) == 0 {
			break
		}
		// read everything again once the bounds are right, so that rows
		// tied at one time come in scan order, as a scan would give them
		slices.Sort(missing)
		if err := t.recomputeLast(ctx, missing); err != nil {
			return nil, err
		}
		for _, r := range out {
			r.Release()
		}
		out = nil
	}
	if schema == nil { // no series: an empty scan gives the schema
		sreq.MinT, sreq.MaxT = arrowstore.MaxTime, arrowstore.MaxTime
		_, sch, _, err := t.readAt(ctx, sreq, []uint32{}, nil)
		if err != nil {
			return nil, err
		}
		schema = sch
	}
	rd, err := array.NewRecordReader(schema, out)
	if err != nil {
		return nil, errs.New(errs.ErrInternal, errs.CodeInternal, "BUG: last rows: %v", err)
	}
	return rd, nil
}

// boundGroup is one scan of LastRows: series sids (sorted) whose bounds
// lie in [lo, hi].
type boundGroup struct {
	lo, hi int64
	sids   []uint32
}

// groupByBound groups series by bound, leaving out those without live
// rows (no bound, or a bound before the retention cutoff): one group per
// distinct bound, or, past maxLastScans of them, windows of bounds split
// at the widest gaps.
func groupByBound(sids []uint32, bounds []int64, cut int64) []boundGroup {
	var ts []int64
	for _, b := range bounds {
		if b != noTime && b >= cut {
			ts = append(ts, b)
		}
	}
	slices.Sort(ts)
	ts = slices.Compact(ts)
	if len(ts) == 0 {
		return nil
	}
	// window starts: every bound, or the bounds after the widest gaps
	starts := ts
	if len(ts) > maxLastScans {
		gaps := make([]int, len(ts)-1) // gap i: between ts[i] and ts[i+1]
		for i := range gaps {
			gaps[i] = i
		}
		slices.SortStableFunc(gaps, func(a, b int) int {
			ga, gb := uint64(ts[a+1]-ts[a]), uint64(ts[b+1]-ts[b])
			switch {
			case ga > gb:
				return -1
			case ga < gb:
				return 1
			}
			return 0
		})
		starts = []int64{ts[0]}
		for _, g := range gaps[:maxLastScans-1] {
			starts = append(starts, ts[g+1])
		}
		slices.Sort(starts)
	}
	gs := make([]boundGroup, len(starts))
	for i, lo := range starts {
		gs[i].lo = lo
		gs[i].hi = ts[len(ts)-1]
		if i+1 < len(starts) {
			j, _ := slices.BinarySearch(ts, starts[i+1])
			gs[i].hi = ts[j-1]
		}
	}
	for i, sid := range sids {
		b := bounds[i]
		if b == noTime || b < cut {
			continue
		}
		j, found := slices.BinarySearch(starts, b)
		if !found {
			j--
		}
		gs[j].sids = append(gs[j].sids, sid)
	}
	return gs
}

// readAt scans series sids (sorted) in req's time range and keeps each
// series' rows at time want[sid]. The time and the series id are the last
// two columns of req, dropped from the batches returned (which the caller
// must release). lost are the series without such a row.
func (t *table) readAt(ctx context.Context, req arrowstore.ScanRequest, sids []uint32, want map[uint32]int64) (recs []arrow.RecordBatch, schema *arrow.Schema, lost []uint32, err error) {
	rds, err := t.scanParts(ctx, req, 1, &sids)
	if err != nil {
		return nil, nil, nil, err
	}
	rd := rds[0]
	defer rd.Release()
	full := rd.Schema()
	ncol := len(full.Fields()) - 2
	schema = arrow.NewSchema(full.Fields()[:ncol], nil)
	found := make(map[uint32]bool, len(sids))
	for rd.Next() {
		rec := rd.RecordBatch()
		ts := rec.Column(ncol).(*array.Timestamp).Values()
		ss := rec.Column(ncol + 1).(*array.Uint32).Values()
		cut := array.NewRecordBatch(schema, rec.Columns()[:ncol], rec.NumRows())
		all := true
		for i, sid := range ss {
			if int64(ts[i]) != want[sid] {
				all = false
				break
			}
		}
		if all { // the usual case: the scan's range is one bound
			for _, sid := range ss {
				found[sid] = true
			}
			recs = append(recs, compactRows(schema, []arrow.RecordBatch{cut}))
			continue
		}
		// a series' rows at one time are adjacent in a batch
		var parts []arrow.RecordBatch
		for i := 0; i < len(ts); {
			if int64(ts[i]) != want[ss[i]] {
				i++
				continue
			}
			j := i + 1
			for j < len(ts) && ss[j] == ss[i] && ts[j] == ts[i] {
				j++
			}
			found[ss[i]] = true
			parts = append(parts, cut.NewSlice(int64(i), int64(j)))
			i = j
		}
		cut.Release()
		if len(parts) > 0 {
			recs = append(recs, compactRows(schema, parts))
		}
	}
	if err := rd.Err(); err != nil {
		return recs, nil, nil, err
	}
	for _, sid := range sids {
		if !found[sid] {
			lost = append(lost, sid)
		}
	}
	return recs, schema, lost, nil
}

// compactRows copies the rows of parts (slices of one scan batch) into a
// batch of their own and releases parts. A slice keeps its whole parent
// alive, and a scan batch may be a segment row group decoded (and filtered
// by tombstones) for this scan alone: kept until the query ends, the few
// rows a last-point query wants would pin every row group it touched, so
// that concurrent lastpoint queries grew with the table (the soak test saw
// 140 MB held by LastRows).
func compactRows(schema *arrow.Schema, parts []arrow.RecordBatch) arrow.RecordBatch {
	cols := make([]arrow.Array, schema.NumFields())
	var n int64
	for _, p := range parts {
		n += p.NumRows()
	}
	for c := range cols {
		arrs := make([]arrow.Array, len(parts))
		for i, p := range parts {
			arrs[i] = p.Column(c)
		}
		a, err := array.Concatenate(arrs, memory.DefaultAllocator)
		if err != nil {
			panic("BUG: last rows: concatenate: " + err.Error())
		}
		cols[c] = a
	}
	for _, p := range parts {
		p.Release()
	}
	out := array.NewRecordBatch(schema, cols, n)
	for _, a := range cols {
		a.Release()
	}
	return out
}

// recomputeLast sets the bounds of series sids (sorted) to their latest
// live times, read from their rows newest first: windows back from the
// old bound, four times longer each, until every series has a row or the
// window reaches the table's oldest row or the retention cutoff. It holds
// the table's order exclusively, as Delete does, so that no commit raises
// a bound between the read and the update.
func (t *table) recomputeLast(ctx context.Context, sids []uint32) error {
	if len(sids) == 0 {
		return nil
	}
	t.order.Lock()
	defer t.order.Unlock()
	cut, oldest := t.cutoff(), t.buf.MinT()
	floor := max(oldest, cut)
	bounds := t.last.bounds(t.buf, sids)
	hi := slices.Max(bounds)
	latest := make(map[uint32]int64, len(sids))
	req := arrowstore.ScanRequest{Columns: []string{arrowstore.TimeColumn, arrowstore.SeriesIDColumn}}
	pending := sids
	for w := int64(time.Second); len(pending) > 0 && hi >= floor; w = min(w, math.MaxInt64/4) * 4 {
		lo := floor
		if hi-floor > w {
			lo = hi - w
		}
		req.MinT, req.MaxT = lo, hi
		rds, err := t.scanParts(ctx, req, 1, &pending)
		if err != nil {
			return err
		}
		rd := rds[0]
		for rd.Next() {
			rec := rd.RecordBatch()
			ts := rec.Column(0).(*array.Timestamp).Values()
			for i, sid := range rec.Column(1).(*array.Uint32).Values() {
				if cur, ok := latest[sid]; !ok || int64(ts[i]) > cur {
					latest[sid] = int64(ts[i])
				}
			}
		}
		err = rd.Err()
		rd.Release()
		if err != nil {
			return err
		}
		var rest []uint32
		for _, sid := range pending {
			if _, ok := latest[sid]; !ok {
				rest = append(rest, sid)
			}
		}
		pending = rest
		if lo == floor || lo == arrowstore.MinTime {
			break
		}
		hi = lo - 1
	}
	for _, sid := range sids {
		lt, ok := latest[sid]
		switch {
		case ok:
		case cut > oldest:
			// rows before the cutoff may be kept yet: a longer
			// retention period would show them again
			lt = cut - 1
		default:
			lt = noTime
		}
		t.last.set(sid, lt)
	}
	return nil
}
