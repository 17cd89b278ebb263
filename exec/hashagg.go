package exec

import (
	"context"
	"encoding/binary"
	"io"
	"math"
	"unsafe"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/ugnos/ugnos/errs"
	"github.com/ugnos/ugnos/functions"
	"github.com/ugnos/ugnos/internal/bufpool"
	"github.com/ugnos/ugnos/planner"
)

type aggSpec struct {
	args     []evaluator
	filter   evaluator
	acc      functions.Acc
	distinct bool
	seen     map[string]struct{} // (group, value) pairs already counted
}

// aggTable is the state of a hash aggregate: groups and accumulators.
type aggTable struct {
	groups []evaluator
	gtypes []functions.Type
	aggs   []aggSpec

	ngroups int
	byKey   map[string]uint32
	byInt   map[int64]uint32 // single non-null int/timestamp key
	nullGID int64            // group of the NULL key in byInt mode, -1 if none
	gvals   []groupVals      // per group column
	key     []byte

	// fixed-width keys: up to 3 columns of ints, timestamps, booleans or
	// dictionary-encoded text (text by a code per distinct value)
	byFixed map[[4]uint64]uint32
	codes   []map[string]uint32 // per group column: text value -> code
	mem     *Budget
	memErr  error
	gidBuf  []uint32   // from bufpool
	keyBufs []*[]int64 // buffers of bucket keys (compileKey), from bufpool
}

func newAggTable(n *planner.Aggregate, env Env) (*aggTable, error) {
	op := &aggTable{byKey: map[string]uint32{}, byInt: intMaps.get(), nullGID: -1, mem: env.Mem,
		byFixed: fixedMaps.get()}
	op.codes = make([]map[string]uint32, len(n.Groups))
	for i := range op.codes {
		op.codes[i] = map[string]uint32{}
	}
	for _, g := range n.Groups {
		op.groups = append(op.groups, op.compileKey(g, env))
		op.gtypes = append(op.gtypes, g.Type())
	}
	op.gvals = make([]groupVals, len(n.Groups))
	for i, g := range n.Groups {
		op.gvals[i].t = g.Type()
	}
	for _, a := range n.Aggs {
		def, ok := env.Reg.Aggregate(a.Name)
		if !ok {
			return nil, errs.New(errs.ErrInternal, errs.CodeInternal, "BUG: aggregate %s vanished", a.Name)
		}
		spec := aggSpec{acc: def.New(a.ArgTypes), distinct: a.Distinct}
		if a.Distinct {
			spec.seen = map[string]struct{}{}
		}
		for _, e := range a.Args {
			spec.args = append(spec.args, compile(e, env))
		}
		if a.Filter != nil {
			spec.filter = compile(a.Filter, env)
		}
		op.aggs = append(op.aggs, spec)
	}
	if len(n.Groups) == 0 {
		op.ngroups = 1
		for _, a := range op.aggs {
			a.acc.Grow(1)
		}
	}
	return op, nil
}

// compileKey compiles a group key. time_bucket and date_bin keys write their
// buckets into a buffer the table owns and reuses batch after batch, since
// an aggregate is done with a batch's keys (group values are copied out)
// before it evaluates the next batch: a grouping scan then allocates no
// bucket array per batch, and takes the buffer from a pool that earlier
// queries filled rather than from fresh memory (page faults).
func (a *aggTable) compileKey(e planner.Expr, env Env) evaluator {
	x, ok := e.(*planner.Call)
	if !ok {
		return compile(e, env)
	}
	ts := make([]functions.Type, len(x.Args))
	for i, a := range x.Args {
		ts[i] = a.Type()
	}
	kernel, ok := functions.BucketKernel(x.Name, ts)
	if !ok {
		return compile(e, env)
	}
	args := make([]evaluator, len(x.Args))
	for i, e := range x.Args {
		args[i] = compile(e, env)
	}
	buf := new([]int64)
	a.keyBufs = append(a.keyBufs, buf)
	vs := make([]functions.Vec, len(args))
	return func(rec arrow.RecordBatch) (functions.Vec, error) {
		for i, e := range args {
			v, err := e(rec)
			if err != nil {
				return functions.Vec{}, err
			}
			vs[i] = v
		}
		n := int(rec.NumRows())
		if cap(*buf) < n {
			bufpool.Put(*buf)
			*buf = bufpool.Get[int64](n)
		}
		v, err := kernel(vs, n, (*buf)[:n])
		clear(vs) // keep no batch alive
		return v, err
	}
}

// release gives the group maps and the accumulators' memory back to their
// pools once the table is done: after its result, or its merge into another.
func (a *aggTable) release() {
	intMaps.put(a.byInt)
	fixedMaps.put(a.byFixed)
	a.byInt, a.byFixed = nil, nil
	for _, s := range a.aggs {
		if r, ok := s.acc.(interface{ Release() }); ok {
			r.Release()
		}
	}
}

// putScratch gives the per-batch buffers back to the pool once the table
// has consumed its last batch.
func (a *aggTable) putScratch() {
	bufpool.Put(a.gidBuf)
	a.gidBuf = nil
	for _, b := range a.keyBufs {
		bufpool.Put(*b)
		*b = nil
	}
}

// finish runs the accumulators' final checks (float overflow).
func (a *aggTable) finish() error {
	for _, s := range a.aggs {
		if f, ok := s.acc.(interface{ Finish() error }); ok {
			if err := f.Finish(); err != nil {
				return err
			}
		}
	}
	return nil
}

// result builds the output batch.
func (a *aggTable) result(schema *arrow.Schema) arrow.RecordBatch {
	cols := make([]arrow.Array, 0, len(a.groups)+len(a.aggs))
	for g := range a.gtypes {
		cols = append(cols, a.gvals[g].array())
	}
	for _, s := range a.aggs {
		cols = append(cols, s.acc.Result())
	}
	out := array.NewRecordBatch(schema, cols, int64(a.ngroups))
	for _, c := range cols {
		c.Release()
	}
	return out
}

// merge folds another table of the same aggregate into a.
func (a *aggTable) merge(o *aggTable) error {
	into := make([]uint32, o.ngroups)
	if len(a.groups) == 0 {
		// one group each
	} else {
		vecs := make([]functions.Vec, len(o.gtypes))
		for c, t := range o.gtypes {
			vecs[c] = functions.ArrVec(o.gvals[c].array(), t)
		}
		a.assign(vecs, into)
		for _, s := range a.aggs {
			s.acc.Grow(a.ngroups)
		}
	}
	for i := range a.aggs {
		if err := a.aggs[i].acc.Merge(o.aggs[i].acc, into); err != nil {
			return err
		}
	}
	return nil
}

// aggOp is a hash aggregate: it consumes its input, then emits one row per
// group (one row in all when there are no group expressions).
type aggOp struct {
	in     Operator
	schema *arrow.Schema
	t      *aggTable
	done   bool
}

func newAggregate(n *planner.Aggregate, in Operator, env Env) (Operator, error) {
	t, err := newAggTable(n, env)
	if err != nil {
		return nil, err
	}
	return &aggOp{in: in, schema: SchemaOf(n.Out), t: t}, nil
}

func (a *aggOp) Schema() *arrow.Schema { return a.schema }
func (a *aggOp) Close() error          { return a.in.Close() }

func (a *aggOp) Next(ctx context.Context) (arrow.RecordBatch, error) {
	if a.done {
		return nil, io.EOF
	}
	a.done = true
	for {
		rec, err := a.in.Next(ctx)
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
		err = a.t.consume(rec)
		rec.Release()
		if err != nil {
			return nil, err
		}
	}
	a.t.putScratch()
	if err := a.t.finish(); err != nil {
		return nil, err
	}
	out := a.t.result(a.schema)
	a.t.release()
	return out, nil
}

func (a *aggTable) consume(rec arrow.RecordBatch) error {
	n := int(rec.NumRows())
	// accumulators never keep gids: one buffer serves every batch
	if cap(a.gidBuf) < n {
		bufpool.Put(a.gidBuf)
		a.gidBuf = bufpool.Get[uint32](n)
	}
	gids := a.gidBuf[:n]
	clear(gids)
	if len(a.groups) > 0 {
		vecs := make([]functions.Vec, len(a.groups))
		for i, g := range a.groups {
			v, err := g(rec)
			if err != nil {
				return err
			}
			vecs[i] = v
		}
		a.assign(vecs, gids)
		if a.memErr != nil {
			return a.memErr
		}
		for _, s := range a.aggs {
			s.acc.Grow(a.ngroups)
		}
	}
	for si := range a.aggs {
		s := &a.aggs[si]
		// FILTER first: the arguments are evaluated only on passing rows
		src, g := rec, gids
		if s.filter != nil {
			fv, err := s.filter(rec)
			if err != nil {
				return err
			}
			var sel []int32
			for i := 0; i < n; i++ {
				if !fv.IsNull(i) && fv.Bool(i) {
					sel = append(sel, int32(i))
				}
			}
			if len(sel) < n {
				sub := takeRecord(rec, sel)
				defer sub.Release()
				src = sub
				g = make([]uint32, len(sel))
				for k, i := range sel {
					g[k] = gids[i]
				}
			}
		}
		m := int(src.NumRows())
		args := make([]functions.Vec, len(s.args))
		for i, e := range s.args {
			v, err := e(src)
			if err != nil {
				return err
			}
			args[i] = v
		}
		if len(args) == 0 { // count(*)
			args = []functions.Vec{functions.ConstVec(true, functions.TBool, m)}
		}
		if s.distinct {
			var sel []int32
			for i := 0; i < m; i++ {
				if args[0].IsNull(i) {
					continue
				}
				a.key = binary.LittleEndian.AppendUint32(a.key[:0], g[i])
				a.key = appendKey(a.key, args[0], i)
				if _, ok := s.seen[string(a.key)]; ok {
					continue
				}
				s.seen[string(a.key)] = struct{}{}
				sel = append(sel, int32(i))
			}
			ng := make([]uint32, len(sel))
			for k, i := range sel {
				ng[k] = g[i]
			}
			g = ng
			for i := range args {
				if !args[i].IsConst() {
					args[i] = functions.ArrVec(takeArray(args[i].Arr, sel), args[i].T)
				} else {
					args[i].N = len(sel)
				}
			}
		}
		if one, ok := s.acc.(interface{ UpdateOne([]functions.Vec) error }); ok && len(a.groups) == 0 && !s.distinct && len(g) == m {
			if err := one.UpdateOne(args); err != nil {
				return err
			}
			continue
		}
		if err := s.acc.Update(g, args); err != nil {
			return err
		}
	}
	return nil
}

// assign maps every row to its group id, creating groups as they appear.
func (a *aggTable) assign(vecs []functions.Vec, gids []uint32) {
	n := len(gids)
	if len(vecs) == 1 && (vecs[0].T == functions.TInt || vecs[0].T == functions.TTimestamp) {
		v := vecs[0]
		for i := 0; i < n; i++ {
			if v.IsNull(i) {
				if a.nullGID < 0 {
					a.nullGID = int64(a.newGroup(vecs, i))
				}
				gids[i] = uint32(a.nullGID)
				continue
			}
			k := v.Int(i)
			g, ok := a.byInt[k]
			if !ok {
				g = a.newGroup(vecs, i)
				a.byInt[k] = g
			}
			gids[i] = g
		}
		return
	}
	if a.assignFixed(vecs, gids) {
		return
	}
	for i := 0; i < n; i++ {
		a.key = a.key[:0]
		for _, v := range vecs {
			a.key = appendKey(a.key, v, i)
		}
		g, ok := a.byKey[string(a.key)]
		if !ok {
			g = a.newGroup(vecs, i)
			a.byKey[string(a.key)] = g
		}
		gids[i] = g
	}
}

func (a *aggTable) newGroup(vecs []functions.Vec, i int) uint32 {
	if err := a.mem.Reserve(int64(64 + 48*len(vecs) + 24*len(a.aggs))); err != nil && a.memErr == nil {
		a.memErr = err
	}
	g := uint32(a.ngroups)
	a.ngroups++
	for c, v := range vecs {
		a.gvals[c].add(v, i)
	}
	return g
}

// assignFixed assigns groups through fixed-width keys when there are at
// most 3 group columns (decided by the column count alone, so every batch
// of one aggregate takes the same path and group ids stay consistent).
func (a *aggTable) assignFixed(vecs []functions.Vec, gids []uint32) bool {
	if len(vecs) > 3 {
		return false
	}
	// per column: a function giving the row's 64-bit value
	type colKey struct {
		ints  []int64
		codes []uint32 // dictionary index -> code
		dict  *array.Dictionary
		idx   []int32 // the dictionary's indices
		str   bool    // plain text: a code per row through the map
		nulls bool
		v     functions.Vec
	}
	cks := make([]colKey, len(vecs))
	for c, v := range vecs {
		switch {
		case v.T == functions.TNumeric: // keys by value, not text: appendKey
			return false
		case v.IsConst():
			cks[c].v, cks[c].str = v, v.T == functions.TText
		case v.T == functions.TInt || v.T == functions.TTimestamp:
			switch arr := v.Arr.(type) {
			case *array.Int64:
				cks[c].ints = arr.Int64Values()
			case *array.Timestamp:
				raw := arr.TimestampValues()
				cks[c].ints = unsafe.Slice((*int64)(unsafe.Pointer(unsafe.SliceData(raw))), len(raw))
			}
			cks[c].v = v
		case v.T == functions.TBool:
			cks[c].v = v
		case v.T == functions.TFloat:
			cks[c].v = v
		case v.T == functions.TText:
			d, ok := v.Arr.(*array.Dictionary)
			if !ok {
				cks[c].v, cks[c].str = v, true
				continue
			}
			dv := d.Dictionary().(*array.String)
			cks[c].codes = make([]uint32, dv.Len())
			for k := range cks[c].codes {
				s := dv.Value(k)
				code, ok := a.codes[c][s]
				if !ok {
					code = uint32(len(a.codes[c]))
					a.codes[c][string([]byte(s))] = code
				}
				cks[c].codes[k] = code
			}
			cks[c].dict, cks[c].v = d, v
			if ix, ok := d.Indices().(*array.Int32); ok {
				cks[c].idx = ix.Int32Values()
			}
		default:
			return false
		}
	}
	for c := range cks {
		cks[c].nulls = cks[c].v.IsConst() && cks[c].v.Const == nil || !cks[c].v.IsConst() && cks[c].v.Arr.NullN() > 0
	}
	var lastK [4]uint64
	lastG := uint32(math.MaxUint32)
	for i := range gids {
		var k [4]uint64
		for c := range cks {
			ck := &cks[c]
			if ck.nulls && ck.v.IsNull(i) {
				k[3] |= 1 << c
				continue
			}
			switch {
			case ck.ints != nil:
				k[c] = uint64(ck.ints[i])
			case ck.idx != nil:
				k[c] = uint64(ck.codes[ck.idx[i]])
			case ck.dict != nil:
				k[c] = uint64(ck.codes[ck.dict.GetValueIndex(i)])
			case ck.str:
				s := ck.v.Str(i)
				code, ok := a.codes[c][s]
				if !ok {
					code = uint32(len(a.codes[c]))
					a.codes[c][string([]byte(s))] = code
				}
				k[c] = uint64(code)
			case ck.v.T == functions.TBool:
				if ck.v.Bool(i) {
					k[c] = 1
				}
			case ck.v.T == functions.TFloat:
				f := ck.v.Float(i)
				if f == 0 {
					f = 0 // -0 groups with 0
				}
				if f != f {
					f = math.NaN() // one NaN group
				}
				k[c] = math.Float64bits(f)
			default: // int constant
				k[c] = uint64(ck.v.Int(i))
			}
		}
		// rows come grouped by series and sorted by time, so a row's
		// group is very often the previous row's
		if k == lastK && lastG != math.MaxUint32 {
			gids[i] = lastG
			continue
		}
		g, ok := a.byFixed[k]
		if !ok {
			g = a.newGroup(vecs, i)
			a.byFixed[k] = g
		}
		gids[i] = g
		lastK, lastG = k, g
	}
	return true
}
