package engine

import (
	"context"
	"math"
	"slices"
	"sync"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"

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

// LastRows implements arrowstore.LastRower: for the series whose bound is
// live, one scan per distinct bound reads the rows at exactly that time
// (zone maps and series runs prune the rest); a series with no row there
// lost its latest rows to a delete, so its bound is recomputed from its
// own rows and it is read again.
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
	sreq := arrowstore.ScanRequest{Columns: append(slices.Clip(cols), arrowstore.SeriesIDColumn), Stats: req.Stats}
	var out []arrow.RecordBatch
	defer func() {
		for _, r := range out {
			r.Release()
		}
	}()
	var schema *arrow.Schema
	for len(sids) > 0 {
		groups := groupByBound(sids, t.last.bounds(t.buf, sids), t.cutoff())
		var missing []uint32
		for _, g := range groups {
			sreq.MinT, sreq.MaxT = g.t, g.t
			recs, sch, lost, err := t.readAt(ctx, sreq, g.sids)
			out = append(out, recs...)
			if err != nil {
				return nil, err
			}
			schema = sch
			missing = append(missing, lost...)
		}
		slices.Sort(missing)
		if err := t.recomputeLast(ctx, missing); err != nil {
			return nil, err
		}
		sids = missing
	}
	if schema == nil { // no series: an empty scan gives the schema
		sreq.MinT, sreq.MaxT = arrowstore.MaxTime, arrowstore.MaxTime
		_, sch, _, err := t.readAt(ctx, sreq, []uint32{})
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

type boundGroup struct {
	t    int64
	sids []uint32
}

// groupByBound groups series by bound, newest first, leaving out those
// without live rows (no bound, or a bound before the retention cutoff).
func groupByBound(sids []uint32, bounds []int64, cut int64) []boundGroup {
	at := map[int64]int{}
	var gs []boundGroup
	for i, sid := range sids {
		b := bounds[i]
		if b == noTime || b < cut {
			continue
		}
		j, ok := at[b]
		if !ok {
			j = len(gs)
			at[b] = j
			gs = append(gs, boundGroup{t: b})
		}
		gs[j].sids = append(gs[j].sids, sid)
	}
	slices.SortFunc(gs, func(a, b boundGroup) int {
		switch {
		case a.t > b.t:
			return -1
		case a.t < b.t:
			return 1
		}
		return 0
	})
	return gs
}

// readAt scans series sids (sorted) at req's time range; the series id is
// the last column of req, dropped from the batches returned (which the
// caller must release). lost are the series without a row.
func (t *table) readAt(ctx context.Context, req arrowstore.ScanRequest, sids []uint32) (recs []arrow.RecordBatch, schema *arrow.Schema, lost []uint32, err error) {
	rds, err := t.scanParts(ctx, req, 1, &sids)
	if err != nil {
		return nil, nil, nil, err
	}
	rd := rds[0]
	defer rd.Release()
	full := rd.Schema()
	ncol := len(full.Fields()) - 1
	schema = arrow.NewSchema(full.Fields()[:ncol], nil)
	found := make(map[uint32]bool, len(sids))
	for rd.Next() {
		rec := rd.RecordBatch()
		for _, sid := range rec.Column(ncol).(*array.Uint32).Values() {
			found[sid] = true
		}
		recs = append(recs, array.NewRecordBatch(schema, rec.Columns()[:ncol], rec.NumRows()))
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

// recomputeLast sets the bounds of series sids (sorted) to their latest
// live times, read from their rows. It holds the table's order
// exclusively, as Delete does, so that no commit raises a bound between
// the read and the update.
func (t *table) recomputeLast(ctx context.Context, sids []uint32) error {
	if len(sids) == 0 {
		return nil
	}
	t.order.Lock()
	defer t.order.Unlock()
	latest := make(map[uint32]int64, len(sids))
	req := arrowstore.ScanRequest{MinT: arrowstore.MinTime, MaxT: arrowstore.MaxTime,
		Columns: []string{arrowstore.TimeColumn, arrowstore.SeriesIDColumn}}
	rds, err := t.scanParts(ctx, req, 1, &sids)
	if err != nil {
		return err
	}
	rd := rds[0]
	defer rd.Release()
	for rd.Next() {
		rec := rd.RecordBatch()
		ts := rec.Column(0).(*array.Timestamp).Values()
		for i, sid := range rec.Column(1).(*array.Uint32).Values() {
			if cur, ok := latest[sid]; !ok || int64(ts[i]) > cur {
				latest[sid] = int64(ts[i])
			}
		}
	}
	if err := rd.Err(); err != nil {
		return err
	}
	for _, sid := range sids {
		lt, ok := latest[sid]
		if !ok {
			lt = noTime
		}
		t.last.set(sid, lt)
	}
	return nil
}
