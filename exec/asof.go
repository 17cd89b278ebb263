package exec

import (
	"cmp"
	"context"
	"io"
	"math"
	"slices"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/ugnos/ugnos/functions"
	"github.com/ugnos/ugnos/planner"
)

// asofOp runs an as-of join (planner.AsofJoin). The right input is read
// whole and partitioned by its keys (hash); each partition keeps its rows'
// times sorted (stable: ties stay in input order), so every left row is a
// hash lookup and a binary search for the last time <= (or <) its own.
// Left batches stream through in order. Ties on the right time pick the
// last tied row in the right input's order.
type asofOp struct {
	n           *planner.AsofJoin
	left, right Operator
	lkeys       []evaluator
	rkeys       []evaluator
	ltime       evaluator
	rtime       evaluator
	schema      *arrow.Schema
	mem         *Budget

	built  bool
	rrec   arrow.RecordBatch // the whole right input, plain (no dictionaries)
	groups map[string]int32
	start  []int32 // partition g is rows[start[g]:start[g+1]]
	rows   []int32 // right row numbers, by partition then time
	ti     []int64 // their times (see timeKey)
	float  bool
	key    []byte
}

// buildAsof builds an as-of join. The right input's projection keeps tag
// columns dictionary-encoded, so that a tag key is hashed once per
// dictionary value (see groupIDs).
func buildAsof(n *planner.AsofJoin, env Env) (Operator, error) {
	l, err := Build(n.Left, env)
	if err != nil {
		return nil, err
	}
	renv := env
	_, renv.KeepTagDictionaries = n.Right.(*planner.Project)
	r, err := Build(n.Right, renv)
	if err != nil {
		l.Close()
		return nil, err
	}
	return newAsofJoin(n, l, r, env), nil
}

func newAsofJoin(n *planner.AsofJoin, l, r Operator, env Env) *asofOp {
	op := &asofOp{n: n, left: l, right: r, schema: SchemaOf(n.Out), mem: env.Mem,
		ltime: compile(n.LeftTime, env), rtime: compile(n.RightTime, env),
		float: n.RightTime.Type() == functions.TFloat}
	for _, k := range n.LeftKeys {
		op.lkeys = append(op.lkeys, compile(k, env))
	}
	for _, k := range n.RightKeys {
		op.rkeys = append(op.rkeys, compile(k, env))
	}
	return op
}

func (a *asofOp) Schema() *arrow.Schema { return a.schema }

func (a *asofOp) Close() error {
	a.left.Close()
	if a.rrec != nil {
		a.rrec.Release()
		a.rrec = nil
	}
	return a.right.Close()
}

// rowKey encodes the keys of row i; ok is false when one is NULL.
func (a *asofOp) rowKey(vs []functions.Vec, i int) bool {
	a.key = a.key[:0]
	for _, v := range vs {
		if v.IsNull(i) {
			return false
		}
		a.key = appendKey(a.key, v, i)
	}
	return true
}

// groupIDs computes each row's partition: find maps an encoded key to its
// partition (-1: none). A single key that is a dictionary column (a tag) is
// looked up once per dictionary value, not once per row.
func (a *asofOp) groupIDs(rec arrow.RecordBatch, evs []evaluator, exprs []planner.Expr, find func([]byte) int32, gid []int32) error {
	if len(exprs) == 1 {
		if c, ok := exprs[0].(*planner.Col); ok {
			if d, ok := rec.Column(c.Idx).(*array.Dictionary); ok {
				dv := functions.ArrVec(d.Dictionary(), c.T)
				byIdx := make([]int32, d.Dictionary().Len())
				for k := range byIdx {
					byIdx[k] = -1
					if !dv.IsNull(k) {
						byIdx[k] = find(appendKey(a.key[:0], dv, k))
					}
				}
				idx := d.Indices().(*array.Int32).Int32Values()
				for i := range gid {
					if d.IsNull(i) {
						gid[i] = -1
					} else {
						gid[i] = byIdx[idx[i]]
					}
				}
				return nil
			}
		}
	}
	plain := rec
	if len(evs) > 0 {
		rec.Retain()
		plain = plainRecord(rec)
		defer plain.Release()
	}
	keys, err := evalAll(evs, plain)
	if err != nil {
		return err
	}
	for i := range gid {
		gid[i] = -1
		if a.rowKey(keys, i) {
			gid[i] = find(a.key)
		}
	}
	return nil
}

func (a *asofOp) build(ctx context.Context) error {
	recs, err := drain(ctx, a.right, a.mem)
	if err != nil {
		return err
	}
	a.built = true
	defer func() {
		for _, r := range recs {
			r.Release()
		}
	}()
	a.groups = map[string]int32{}
	var counts []int32
	add := func(k []byte) int32 {
		g, ok := a.groups[string(k)]
		if !ok {
			g = int32(len(counts))
			a.groups[string(k)] = g
			counts = append(counts, 0)
		}
		return g
	}
	// per row: partition (-1: NULL key or time, never matches) and time
	total := 0
	for _, rec := range recs {
		total += int(rec.NumRows())
	}
	gid := make([]int32, total)
	ti := make([]int64, total)
	off := 0
	for _, rec := range recs {
		n := int(rec.NumRows())
		g := gid[off : off+n]
		if err := a.groupIDs(rec, a.rkeys, a.n.RightKeys, add, g); err != nil {
			return err
		}
		tv, err := a.rtime(rec)
		if err != nil {
			return err
		}
		if ts, ok := tv.Arr.(*array.Timestamp); ok && ts.NullN() == 0 {
			for i, v := range ts.TimestampValues() { // the common case, without a call per row
				ti[off+i] = int64(v)
				if g[i] >= 0 {
					counts[g[i]]++
				}
			}
		} else {
			for i := range g {
				if tv.IsNull(i) {
					g[i] = -1
				} else if g[i] >= 0 {
					counts[g[i]]++
				}
				ti[off+i] = a.timeKey(tv, i)
			}
		}
		off += n
	}
	if len(gid) == 0 {
		return nil
	}
	// the output columns only, decoded and in one record
	outs := make([]arrow.RecordBatch, len(recs))
	for k, rec := range recs {
		cols := make([]arrow.Array, a.n.NRight)
		fields := make([]arrow.Field, a.n.NRight)
		for c := range cols {
			cols[c], fields[c] = rec.Column(c), rec.Schema().Field(c)
		}
		outs[k] = plainRecord(array.NewRecordBatch(arrow.NewSchema(fields, nil), cols, rec.NumRows()))
	}
	a.rrec = concat(outs[0].Schema(), outs)
	// counting sort by partition keeps the input order inside each
	a.start = make([]int32, len(counts)+1)
	for g, c := range counts {
		a.start[g+1] = a.start[g] + c
	}
	pos := slices.Clone(a.start[:len(counts)])
	a.rows = make([]int32, a.start[len(counts)])
	for i, g := range gid {
		if g >= 0 {
			a.rows[pos[g]] = int32(i)
			pos[g]++
		}
	}
	a.ti = make([]int64, len(a.rows))
	for k, r := range a.rows {
		a.ti[k] = ti[r]
	}
	sortPartitions(a.start, a.rows, a.ti)
	return nil
}

// timeKey is row i's time as an int64 that orders as the time does: ns,
// days or bigint as they are; a double by its bits, with -0 equal to 0 and
// every NaN equal and above all numbers (PostgreSQL's order).
func (a *asofOp) timeKey(tv functions.Vec, i int) int64 {
	if !a.float {
		return tv.Int(i)
	}
	f := tv.Float(i)
	if f != f {
		f = math.NaN()
	} else if f == 0 {
		f = 0
	}
	u := math.Float64bits(f)
	if u>>63 == 1 {
		u = ^u
	} else {
		u |= 1 << 63
	}
	return int64(u ^ 1<<63)
}

// sortPartitions sorts each partition's rows by time, stably; partitions
// already in order (the common case: storage returns a series in time
// order) are left as they are.
func sortPartitions[T cmp.Ordered](start, rows []int32, ts []T) {
	type rt struct {
		t T
		r int32
	}
	var buf []rt
	for g := 0; g+1 < len(start); g++ {
		s, e := start[g], start[g+1]
		if slices.IsSorted(ts[s:e]) {
			continue
		}
		buf = buf[:0]
		for k := s; k < e; k++ {
			buf = append(buf, rt{ts[k], rows[k]})
		}
		slices.SortStableFunc(buf, func(x, y rt) int { return cmp.Compare(x.t, y.t) })
		for k := range buf {
			ts[int(s)+k], rows[int(s)+k] = buf[k].t, buf[k].r
		}
	}
}

// search returns the position in ts of the last time <= t (< t when
// strict), or -1.
func search[T cmp.Ordered](ts []T, t T, strict bool) int {
	lo, hi := 0, len(ts) // answer: first index past the bound, minus one
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if ts[m] < t || !strict && ts[m] == t {
			lo = m + 1
		} else {
			hi = m
		}
	}
	return lo - 1
}

func (a *asofOp) Next(ctx context.Context) (arrow.RecordBatch, error) {
	if !a.built {
		if err := a.build(ctx); err != nil {
			return nil, err
		}
	}
	for {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if a.rrec == nil && a.n.Type == "inner" {
			return nil, io.EOF // nothing can match: the left input is not read
		}
		lrec, err := a.left.Next(ctx)
		if err != nil {
			return nil, err
		}
		out, err := a.probe(lrec)
		if err != nil || out != nil {
			return out, err
		}
	}
}

// probe matches one left batch (which it releases); nil when no row
// remains.
func (a *asofOp) probe(lrec arrow.RecordBatch) (arrow.RecordBatch, error) {
	gid := make([]int32, lrec.NumRows())
	err := a.groupIDs(lrec, a.lkeys, a.n.LeftKeys, func(k []byte) int32 {
		if g, ok := a.groups[string(k)]; ok {
			return g
		}
		return -1
	}, gid)
	if err != nil {
		lrec.Release()
		return nil, err
	}
	lrec = plainRecord(lrec)
	defer lrec.Release()
	tv, err := a.ltime(lrec)
	if err != nil {
		return nil, err
	}
	ri := make([]int32, len(gid))
	for i, g := range gid {
		ri[i] = a.match(g, tv, i)
	}
	li := []int32(nil) // nil: every left row
	if a.n.Type == "inner" {
		kept := ri[:0]
		for i, r := range ri {
			if r >= 0 {
				li = append(li, int32(i))
				kept = append(kept, r)
			}
		}
		ri = kept
		if len(li) == 0 {
			return nil, nil
		}
	}
	cols := make([]arrow.Array, 0, a.schema.NumFields())
	for c := 0; c < int(lrec.NumCols()); c++ {
		if li == nil {
			col := lrec.Column(c)
			col.Retain()
			cols = append(cols, col)
		} else {
			cols = append(cols, takeArray(lrec.Column(c), li))
		}
	}
	for c := 0; c < a.n.NRight; c++ {
		if a.rrec == nil {
			cols = append(cols, functions.ConstVec(nil, a.n.Out[len(cols)].T, len(ri)).Materialize())
		} else {
			cols = append(cols, takeOrNull(a.rrec.Column(c), ri))
		}
	}
	out := array.NewRecordBatch(a.schema, cols, int64(len(ri)))
	for _, c := range cols {
		c.Release()
	}
	return out, nil
}

// match finds the right row for left row i of partition g, or -1.
func (a *asofOp) match(g int32, tv functions.Vec, i int) int32 {
	if g < 0 || tv.IsNull(i) {
		return -1
	}
	s, e := a.start[g], a.start[g+1]
	k := search(a.ti[s:e], a.timeKey(tv, i), a.n.Strict)
	if k < 0 {
		return -1
	}
	return a.rows[int(s)+k]
}
