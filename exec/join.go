package exec

import (
	"context"
	"io"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/ugnos/ugnos/functions"
	"github.com/ugnos/ugnos/planner"
)

// hashJoinOp joins by hashing the right input on its keys (all of it in
// one bucket when there are no keys) and probing with left batches.
// NULL keys never match. Unmatched rows of the preserved side(s) come out
// padded with NULLs.
type hashJoinOp struct {
	n           *planner.Join
	left, right Operator
	lkeys       []evaluator
	rkeys       []evaluator
	residual    evaluator
	schema      *arrow.Schema
	ltypes      []functions.Type
	rtypes      []functions.Type

	built    bool
	rrec     arrow.RecordBatch // the whole right input
	table    map[string][]int32
	rmatched []bool
	done     bool
	key      []byte
	mem      *Budget
	cur      *probeState // the left batch being probed
}

// joinChunk bounds the rows one probe step produces, so that a join
// with many matches per row (a cross join) streams in batches instead of
// building its whole output at once.
const joinChunk = 1 << 16

// probeState is the progress through one left batch.
type probeState struct {
	rec     arrow.RecordBatch
	keys    []functions.Vec
	i, j    int    // next left row, next match of it
	matched []bool // left rows with a match (LEFT and FULL joins)
}

func (p *probeState) release() { p.rec.Release() }

func newHashJoin(n *planner.Join, l, r Operator, env Env) *hashJoinOp {
	op := &hashJoinOp{n: n, left: l, right: r, schema: SchemaOf(n.Out), mem: env.Mem,
		ltypes: types(n.Left.Columns()), rtypes: types(n.Right.Columns())}
	for _, k := range n.LeftKeys {
		op.lkeys = append(op.lkeys, compile(k, env))
	}
	for _, k := range n.RightKeys {
		op.rkeys = append(op.rkeys, compile(k, env))
	}
	if n.Residual != nil {
		op.residual = compile(n.Residual, env)
	}
	return op
}

func (h *hashJoinOp) Schema() *arrow.Schema { return h.schema }
func (h *hashJoinOp) Close() error {
	h.left.Close()
	if h.cur != nil {
		h.cur.release()
		h.cur = nil
	}
	if h.rrec != nil {
		h.rrec.Release()
		h.rrec = nil
	}
	return h.right.Close()
}

// rowKey encodes the key of row i; ok is false when a key is NULL.
func (h *hashJoinOp) rowKey(vs []functions.Vec, i int) (string, bool) {
	h.key = h.key[:0]
	for _, v := range vs {
		if v.IsNull(i) {
			return "", false
		}
		h.key = appendKey(h.key, v, i)
	}
	return string(h.key), true
}

func (h *hashJoinOp) build(ctx context.Context) error {
	recs, err := drain(ctx, h.right, h.mem)
	if err != nil {
		return err
	}
	schema := h.right.Schema()
	if len(recs) == 0 {
		cols := make([]arrow.Array, len(h.rtypes))
		for i, t := range h.rtypes {
			cols[i] = functions.NewOf(t, nil)
		}
		schema = SchemaOf(h.n.Right.Columns())
		h.rrec = array.NewRecordBatch(schema, cols, 0)
	} else {
		h.rrec = plainRecord(concat(schema, recs))
	}
	h.rmatched = make([]bool, h.rrec.NumRows())
	h.table = map[string][]int32{}
	keys, err := evalAll(h.rkeys, h.rrec)
	if err != nil {
		return err
	}
	for i := 0; i < int(h.rrec.NumRows()); i++ {
		if k, ok := h.rowKey(keys, i); ok {
			h.table[k] = append(h.table[k], int32(i))
		}
	}
	h.built = true
	return nil
}

func (h *hashJoinOp) Next(ctx context.Context) (arrow.RecordBatch, error) {
	if !h.built {
		if err := h.build(ctx); err != nil {
			return nil, err
		}
	}
	if h.rrec.NumRows() == 0 && (h.n.Type == "inner" || h.n.Type == "right") {
		// nothing can match: the left input is not read at all (a join
		// with an empty catalog table costs nothing)
		return nil, io.EOF
	}
	for h.cur != nil || !h.done {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if h.cur == nil {
			lrec, err := h.left.Next(ctx)
			if err == io.EOF {
				h.done = true
				break
			}
			if err != nil {
				return nil, err
			}
			st := &probeState{rec: plainRecord(lrec)}
			if st.keys, err = evalAll(h.lkeys, st.rec); err != nil {
				st.release()
				return nil, err
			}
			if h.n.Type == "left" || h.n.Type == "full" {
				st.matched = make([]bool, st.rec.NumRows())
			}
			h.cur = st
		}
		out, err := h.probe(h.cur)
		if err != nil {
			return nil, err
		}
		if out != nil {
			return out, nil
		}
	}
	// unmatched right rows for RIGHT and FULL joins, once
	if (h.n.Type == "right" || h.n.Type == "full") && h.rmatched != nil {
		var ridx []int32
		for i, m := range h.rmatched {
			if !m {
				ridx = append(ridx, int32(i))
			}
		}
		h.rmatched = nil
		if len(ridx) > 0 {
			return h.combine(nil, nil, h.rrec, ridx), nil
		}
	}
	return nil, io.EOF
}

// probe joins the next chunk of the current left batch (at most
// joinChunk pairs); when the batch is done it adds its unmatched rows for
// LEFT and FULL joins and moves on. A nil result means no rows this step.
func (h *hashJoinOp) probe(st *probeState) (arrow.RecordBatch, error) {
	n := int(st.rec.NumRows())
	var li, ri []int32
	for st.i < n && len(li) < joinChunk {
		k, ok := h.rowKey(st.keys, st.i)
		var matches []int32
		if ok {
			matches = h.table[k]
		}
		take := min(len(matches)-st.j, joinChunk-len(li))
		for _, r := range matches[st.j : st.j+take] {
			li = append(li, int32(st.i))
			ri = append(ri, r)
		}
		st.j += take
		if st.j >= len(matches) {
			st.i++
			st.j = 0
		}
	}
	pairs := h.combine(st.rec, li, h.rrec, ri)
	if h.residual != nil && len(li) > 0 {
		v, err := h.residual(pairs)
		if err != nil {
			pairs.Release()
			return nil, err
		}
		var keep []int32
		for p := range li {
			if !v.IsNull(p) && v.Bool(p) {
				keep = append(keep, int32(p))
			}
		}
		if len(keep) < len(li) {
			nli, nri := make([]int32, len(keep)), make([]int32, len(keep))
			for k, p := range keep {
				nli[k], nri[k] = li[p], ri[p]
			}
			li, ri = nli, nri
			filtered := takeRecord(pairs, keep)
			pairs.Release()
			pairs = filtered
		}
	}
	for _, r := range ri {
		h.rmatched[r] = true
	}
	for _, l := range li {
		if st.matched != nil {
			st.matched[l] = true
		}
	}
	if st.i >= n {
		h.cur = nil
		defer st.release()
		if st.matched != nil {
			var un []int32
			for i, m := range st.matched {
				if !m {
					un = append(un, int32(i))
				}
			}
			if len(un) > 0 {
				pad := h.combine(st.rec, un, nil, nil)
				return concat(h.schema, []arrow.RecordBatch{pairs, pad}), nil
			}
		}
	}
	if pairs.NumRows() == 0 {
		pairs.Release()
		return nil, nil
	}
	return pairs, nil
}

// combine builds output rows from left rows li of l and right rows ri of r;
// a nil side is NULL-padded (its index list is then the other side's).
func (h *hashJoinOp) combine(l arrow.RecordBatch, li []int32, r arrow.RecordBatch, ri []int32) arrow.RecordBatch {
	n := len(li)
	if l == nil {
		n = len(ri)
	}
	cols := make([]arrow.Array, 0, len(h.ltypes)+len(h.rtypes))
	for c, t := range h.ltypes {
		if l == nil {
			cols = append(cols, functions.ConstVec(nil, t, n).Materialize())
		} else {
			cols = append(cols, takeArray(l.Column(c), li))
		}
	}
	for c, t := range h.rtypes {
		if r == nil {
			cols = append(cols, functions.ConstVec(nil, t, n).Materialize())
		} else {
			cols = append(cols, takeArray(r.Column(c), ri))
		}
	}
	out := array.NewRecordBatch(h.schema, cols, int64(n))
	for _, c := range cols {
		c.Release()
	}
	return out
}

// plainRecord decodes dictionary columns to plain text.
func plainRecord(rec arrow.RecordBatch) arrow.RecordBatch {
	var cols []arrow.Array
	changed := false
	fields := make([]arrow.Field, rec.NumCols())
	for i := 0; i < int(rec.NumCols()); i++ {
		c := rec.Column(i)
		fields[i] = rec.Schema().Field(i)
		if d, ok := c.(*array.Dictionary); ok {
			cols = append(cols, decodeDict(d))
			fields[i].Type = arrow.BinaryTypes.String
			changed = true
		} else {
			c.Retain()
			cols = append(cols, c)
		}
	}
	if !changed {
		for _, c := range cols {
			c.Release()
		}
		return rec
	}
	out := array.NewRecordBatch(arrow.NewSchema(fields, nil), cols, rec.NumRows())
	for _, c := range cols {
		c.Release()
	}
	rec.Release()
	return out
}
