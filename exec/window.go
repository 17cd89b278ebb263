package exec

import (
	"context"
	"io"
	"slices"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/ugnos/ugnos/errs"
	"github.com/ugnos/ugnos/functions"
	"github.com/ugnos/ugnos/planner"
)

type windowCall struct {
	c         planner.WindowCall
	args      []evaluator
	partition []evaluator
	order     []evaluator
	agg       *functions.Aggregate
}

// windowOp computes window functions over its whole input (materialised),
// appending one column per call.
type windowOp struct {
	mem    *Budget
	in     Operator
	calls  []windowCall
	schema *arrow.Schema
	out    []functions.Type
	done   bool
}

func newWindow(n *planner.Window, in Operator, env Env) (Operator, error) {
	op := &windowOp{in: in, schema: SchemaOf(n.Out), out: types(n.Out), mem: env.Mem}
	for _, c := range n.Calls {
		wc := windowCall{c: c}
		for _, e := range c.Args {
			wc.args = append(wc.args, compile(e, env))
		}
		for _, e := range c.Partition {
			wc.partition = append(wc.partition, compile(e, env))
		}
		for _, e := range c.Order {
			wc.order = append(wc.order, compile(e, env))
		}
		if c.Agg {
			a, ok := env.Reg.Aggregate(c.Name)
			if !ok {
				return nil, errs.New(errs.ErrInternal, errs.CodeInternal, "BUG: aggregate %s vanished", c.Name)
			}
			wc.agg = a
		}
		op.calls = append(op.calls, wc)
	}
	return op, nil
}

func (w *windowOp) Schema() *arrow.Schema { return w.schema }
func (w *windowOp) Close() error          { return w.in.Close() }

func (w *windowOp) Next(ctx context.Context) (arrow.RecordBatch, error) {
	if w.done {
		return nil, io.EOF
	}
	w.done = true
	recs, err := drain(ctx, w.in, w.mem)
	if err != nil {
		return nil, err
	}
	rec := plainRecord(concat(w.in.Schema(), recs))
	defer rec.Release()
	cols := make([]arrow.Array, 0, len(w.out))
	for _, c := range rec.Columns() {
		c.Retain()
		cols = append(cols, c)
	}
	for _, c := range w.calls {
		a, err := c.compute(rec)
		if err != nil {
			return nil, err
		}
		cols = append(cols, a)
	}
	out := array.NewRecordBatch(w.schema, cols, rec.NumRows())
	for _, c := range cols {
		c.Release()
	}
	return out, nil
}

func evalAll(es []evaluator, rec arrow.RecordBatch) ([]functions.Vec, error) {
	out := make([]functions.Vec, len(es))
	for i, e := range es {
		v, err := e(rec)
		if err != nil {
			return nil, err
		}
		out[i] = v
	}
	return out, nil
}

func sameRow(vs []functions.Vec, a, b int) bool {
	for _, v := range vs {
		if compareRows(v, a, b, false, false) != 0 {
			return false
		}
	}
	return true
}

// compute evaluates one window call for every row of rec.
func (c *windowCall) compute(rec arrow.RecordBatch) (arrow.Array, error) {
	n := int(rec.NumRows())
	part, err := evalAll(c.partition, rec)
	if err != nil {
		return nil, err
	}
	ord, err := evalAll(c.order, rec)
	if err != nil {
		return nil, err
	}
	args, err := evalAll(c.args, rec)
	if err != nil {
		return nil, err
	}
	perm := make([]int32, n)
	for i := range perm {
		perm[i] = int32(i)
	}
	slices.SortStableFunc(perm, func(a, b int32) int {
		for _, v := range part {
			if x := compareRows(v, int(a), int(b), false, false); x != 0 {
				return x
			}
		}
		for k, v := range ord {
			if x := compareRows(v, int(a), int(b), c.c.Desc[k], c.c.NullsFirst[k]); x != 0 {
				return x
			}
		}
		return 0
	})
	// arguments in partition order, so frames are contiguous slices
	pargs := make([]functions.Vec, len(args))
	for k, a := range args {
		arr := a.Materialize()
		pargs[k] = functions.ArrVec(takeArray(arr, perm), a.T)
		arr.Release()
	}
	vals := make([]any, n)
	for p0 := 0; p0 < n; {
		p1 := p0 + 1
		for p1 < n && sameRow(part, int(perm[p0]), int(perm[p1])) {
			p1++
		}
		if err := c.partition1(perm, ord, pargs, p0, p1, vals); err != nil {
			return nil, err
		}
		p0 = p1
	}
	return functions.NewOf(c.c.T, vals), nil
}

// partition1 computes rows [p0, p1) (positions in perm) of one partition.
func (c *windowCall) partition1(perm []int32, ord, pargs []functions.Vec, p0, p1 int, vals []any) error {
	n := p1 - p0
	// peer groups: rows with equal ORDER BY values
	peerStart := make([]int, n)
	peerEnd := make([]int, n)
	for i := 0; i < n; {
		j := i + 1
		for j < n && sameRow(ord, int(perm[p0+i]), int(perm[p0+j])) {
			j++
		}
		for k := i; k < j; k++ {
			peerStart[k], peerEnd[k] = i, j-1
		}
		i = j
	}
	f := c.c.Frame
	frame := func(i int) (int, int) {
		s, e := 0, n-1
		switch {
		case f.StartUnbounded:
		case f.StartCurrent:
			s = i
			if !f.Rows {
				s = peerStart[i]
			}
		case f.Rows:
			s = i - int(f.StartOffset)
		default:
			s = c.rangeBound(perm, ord, p0, n, i, -f.StartOffset, true, peerStart, peerEnd)
		}
		switch {
		case f.EndUnbounded:
		case f.EndCurrent:
			e = i
			if !f.Rows {
				e = peerEnd[i]
			}
		case f.Rows:
			e = i + int(f.EndOffset)
		default:
			e = c.rangeBound(perm, ord, p0, n, i, f.EndOffset, false, peerStart, peerEnd)
		}
		return max(s, 0), min(e, n-1)
	}
	set := func(i int, v any) { vals[perm[p0+i]] = v }
	switch c.c.Name {
	case "row_number":
		for i := 0; i < n; i++ {
			set(i, int64(i+1))
		}
	case "rank":
		for i := 0; i < n; i++ {
			set(i, int64(peerStart[i]+1))
		}
	case "dense_rank":
		d := int64(0)
		for i := 0; i < n; i++ {
			if peerStart[i] == i {
				d++
			}
			set(i, d)
		}
	case "percent_rank":
		for i := 0; i < n; i++ {
			if n == 1 {
				set(i, 0.0)
			} else {
				set(i, float64(peerStart[i])/float64(n-1))
			}
		}
	case "cume_dist":
		for i := 0; i < n; i++ {
			set(i, float64(peerEnd[i]+1)/float64(n))
		}
	case "ntile":
		for i := 0; i < n; i++ {
			k := pargs[0].Int(p0 + i)
			if pargs[0].IsNull(p0+i) || k <= 0 {
				return errs.New(errs.ErrInvalidInput, "22014", "argument of ntile must be greater than zero")
			}
			size, extra := int64(n)/k, int64(n)%k
			// the first extra buckets hold size+1 rows
			pos := int64(i)
			var b int64
			if pos < extra*(size+1) {
				b = pos/(size+1) + 1
			} else {
				b = extra + (pos-extra*(size+1))/max(size, 1) + 1
			}
			set(i, b)
		}
	case "lag", "lead":
		for i := 0; i < n; i++ {
			off := int64(1)
			if len(pargs) > 1 {
				if pargs[1].IsNull(p0 + i) {
					set(i, nil)
					continue
				}
				off = pargs[1].Int(p0 + i)
			}
			if c.c.Name == "lag" {
				off = -off
			}
			j := int64(i) + off
			switch {
			case j >= 0 && j < int64(n):
				set(i, pargs[0].Value(p0+int(j)))
			case len(pargs) > 2:
				set(i, pargs[2].Value(p0+i))
			default:
				set(i, nil)
			}
		}
	case "first_value", "last_value", "nth_value":
		for i := 0; i < n; i++ {
			s, e := frame(i)
			j := s
			switch c.c.Name {
			case "last_value":
				j = e
			case "nth_value":
				k := pargs[1].Int(p0 + i)
				if k <= 0 {
					return errs.New(errs.ErrInvalidInput, "22016", "argument of nth_value must be greater than zero")
				}
				j = s + int(k) - 1
			}
			if s > e || j > e {
				set(i, nil)
				continue
			}
			set(i, pargs[0].Value(p0+j))
		}
	default:
		return c.aggregate(pargs, p0, n, frame, set)
	}
	return nil
}

// rangeBound finds the first (start) or last row whose ORDER BY value is
// within off of row i's (RANGE offset frames; one numeric or time key).
func (c *windowCall) rangeBound(perm []int32, ord []functions.Vec, p0, n, i int, off float64, start bool, peerStart, peerEnd []int) int {
	v := ord[0]
	ri := int(perm[p0+i])
	if v.IsNull(ri) {
		if start {
			return peerStart[i]
		}
		return peerEnd[i]
	}
	desc := c.c.Desc[0]
	if desc {
		off = -off
	}
	target := v.Float(ri) + off
	if v.T == functions.TTimestamp || v.T == functions.TInt {
		target = float64(v.Int(ri)) + off
	}
	val := func(k int) (float64, bool) {
		r := int(perm[p0+k])
		if v.IsNull(r) {
			return 0, false
		}
		if v.T == functions.TTimestamp || v.T == functions.TInt {
			return float64(v.Int(r)), true
		}
		return v.Float(r), true
	}
	if start {
		for k := 0; k < n; k++ {
			x, ok := val(k)
			if ok && (!desc && x >= target || desc && x <= target) {
				return k
			}
		}
		return n
	}
	for k := n - 1; k >= 0; k-- {
		x, ok := val(k)
		if ok && (!desc && x <= target || desc && x >= target) {
			return k
		}
	}
	return -1
}

// aggregate evaluates an aggregate over each row's frame; frames that
// start at the partition's first row are computed incrementally.
func (c *windowCall) aggregate(pargs []functions.Vec, p0, n int, frame func(int) (int, int), set func(int, any)) error {
	slice := func(s, e int) []functions.Vec { // rows [s, e] of the partition
		out := make([]functions.Vec, len(pargs))
		for k, a := range pargs {
			out[k] = functions.ArrVec(array.NewSlice(a.Arr, int64(p0+s), int64(p0+e+1)), a.T)
		}
		if len(out) == 0 { // count(*)
			out = []functions.Vec{functions.ConstVec(true, functions.TBool, e-s+1)}
		}
		return out
	}
	zeros := func(k int) []uint32 { return make([]uint32, k) }
	var finishErr error
	result := func(acc functions.Acc) any {
		if f, ok := acc.(interface{ Finish() error }); ok && finishErr == nil {
			finishErr = f.Finish()
		}
		a := acc.Result()
		defer a.Release()
		return functions.ArrVec(a, c.c.T).Value(0)
	}
	running := c.c.Frame.StartUnbounded
	var acc functions.Acc
	fed := 0
	for i := 0; i < n; i++ {
		s, e := frame(i)
		if running && e >= fed-1 {
			if acc == nil {
				acc = c.agg.New(c.c.ArgTypes)
				acc.Grow(1)
			}
			if e >= fed {
				args := slice(fed, e)
				if err := acc.Update(zeros(e-fed+1), args); err != nil {
					return err
				}
				fed = e + 1
			}
			set(i, result(acc))
			continue
		}
		one := c.agg.New(c.c.ArgTypes)
		one.Grow(1)
		if s <= e {
			if err := one.Update(zeros(e-s+1), slice(s, e)); err != nil {
				return err
			}
		}
		set(i, result(one))
	}
	return finishErr
}
