package exec

import (
	"context"
	"encoding/binary"
	"io"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/ugnos/ugnos/errs"
	"github.com/ugnos/ugnos/functions"
	"github.com/ugnos/ugnos/planner"
)

type aggSpec struct {
	args     []evaluator
	filter   evaluator
	acc      functions.Acc
	distinct bool
	seen     map[string]struct{} // (group, value) pairs already counted
}

// aggOp is a hash aggregate: it consumes its input, then emits one row per
// group (one row in all when there are no group expressions).
type aggOp struct {
	in     Operator
	schema *arrow.Schema
	groups []evaluator
	gtypes []functions.Type
	aggs   []aggSpec
	done   bool

	ngroups int
	byKey   map[string]uint32
	byInt   map[int64]uint32 // single non-null int/timestamp key
	nullGID int64            // group of the NULL key in byInt mode, -1 if none
	gvals   [][]any          // per group column, per group
	key     []byte
}

func newAggregate(n *planner.Aggregate, in Operator, env Env) (Operator, error) {
	op := &aggOp{in: in, schema: SchemaOf(n.Out), byKey: map[string]uint32{}, byInt: map[int64]uint32{}, nullGID: -1}
	for _, g := range n.Groups {
		op.groups = append(op.groups, compile(g, env.Reg))
		op.gtypes = append(op.gtypes, g.Type())
	}
	op.gvals = make([][]any, len(n.Groups))
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
			spec.args = append(spec.args, compile(e, env.Reg))
		}
		if a.Filter != nil {
			spec.filter = compile(a.Filter, env.Reg)
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
		err = a.consume(rec)
		rec.Release()
		if err != nil {
			return nil, err
		}
	}
	cols := make([]arrow.Array, 0, len(a.groups)+len(a.aggs))
	for g, t := range a.gtypes {
		cols = append(cols, functions.NewOf(t, a.gvals[g]))
	}
	for _, s := range a.aggs {
		cols = append(cols, s.acc.Result())
	}
	out := array.NewRecordBatch(a.schema, cols, int64(a.ngroups))
	for _, c := range cols {
		c.Release()
	}
	return out, nil
}

func (a *aggOp) consume(rec arrow.RecordBatch) error {
	n := int(rec.NumRows())
	gids := make([]uint32, n)
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
		for _, s := range a.aggs {
			s.acc.Grow(a.ngroups)
		}
	}
	for si := range a.aggs {
		s := &a.aggs[si]
		args := make([]functions.Vec, len(s.args))
		for i, e := range s.args {
			v, err := e(rec)
			if err != nil {
				return err
			}
			args[i] = v
		}
		if len(args) == 0 { // count(*)
			args = []functions.Vec{functions.ConstVec(true, functions.TBool, n)}
		}
		g := gids
		if s.filter != nil || s.distinct {
			var fv functions.Vec
			if s.filter != nil {
				var err error
				if fv, err = s.filter(rec); err != nil {
					return err
				}
			}
			var sel []int32
			for i := 0; i < n; i++ {
				if s.filter != nil && (fv.IsNull(i) || !fv.Bool(i)) {
					continue
				}
				if s.distinct {
					if args[0].IsNull(i) {
						continue
					}
					a.key = binary.LittleEndian.AppendUint32(a.key[:0], gids[i])
					a.key = appendKey(a.key, args[0], i)
					if _, ok := s.seen[string(a.key)]; ok {
						continue
					}
					s.seen[string(a.key)] = struct{}{}
				}
				sel = append(sel, int32(i))
			}
			g = make([]uint32, len(sel))
			for k, i := range sel {
				g[k] = gids[i]
			}
			for i := range args {
				if !args[i].IsConst() {
					args[i] = functions.ArrVec(takeArray(args[i].Arr, sel), args[i].T)
				} else {
					args[i].N = len(sel)
				}
			}
		}
		if err := s.acc.Update(g, args); err != nil {
			return err
		}
	}
	return nil
}

// assign maps every row to its group id, creating groups as they appear.
func (a *aggOp) assign(vecs []functions.Vec, gids []uint32) {
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

func (a *aggOp) newGroup(vecs []functions.Vec, i int) uint32 {
	g := uint32(a.ngroups)
	a.ngroups++
	for c, v := range vecs {
		a.gvals[c] = append(a.gvals[c], v.Value(i))
	}
	return g
}
