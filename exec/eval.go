package exec

import (
	"github.com/apache/arrow-go/v18/arrow"

	"github.com/ugnos/ugnos/errs"
	"github.com/ugnos/ugnos/functions"
	"github.com/ugnos/ugnos/planner"
)

// evaluator computes an expression over a batch.
type evaluator func(rec arrow.RecordBatch) (functions.Vec, error)

// compile turns a bound expression into an evaluator; kernels are resolved
// once.
func compile(e planner.Expr, env Env) evaluator {
	reg := env.Reg
	switch x := e.(type) {
	case *planner.Col:
		idx, t := x.Idx, x.T
		return func(rec arrow.RecordBatch) (functions.Vec, error) {
			return functions.ArrVec(rec.Column(idx), t), nil
		}
	case *planner.Const:
		v, t := x.V, x.T
		return func(rec arrow.RecordBatch) (functions.Vec, error) {
			return functions.ConstVec(v, t, int(rec.NumRows())), nil
		}
	case *planner.Cast:
		in, t := compile(x.E, env), x.T
		return func(rec arrow.RecordBatch) (functions.Vec, error) {
			v, err := in(rec)
			if err != nil {
				return functions.Vec{}, err
			}
			return functions.Cast(v, t)
		}
	case *planner.Call:
		if (x.Name == "and" || x.Name == "or") && len(x.Args) > 1 && anyMayFail(x.Args[1:]) {
			args := make([]evaluator, len(x.Args))
			for i, a := range x.Args {
				args[i] = compile(a, env)
			}
			return shortCircuit(x.Name == "and", args)
		}
		args := make([]evaluator, len(x.Args))
		ts := make([]functions.Type, len(x.Args))
		for i, a := range x.Args {
			args[i] = compile(a, env)
			ts[i] = a.Type()
		}
		fn, ok := reg.Scalar(x.Name)
		if !ok {
			return failing(errs.New(errs.ErrInternal, errs.CodeInternal, "BUG: function %s vanished", x.Name))
		}
		_, kernel, err := fn.Resolve(ts)
		if err != nil {
			return failing(err)
		}
		return func(rec arrow.RecordBatch) (functions.Vec, error) {
			vs := make([]functions.Vec, len(args))
			for i, a := range args {
				v, err := a(rec)
				if err != nil {
					return functions.Vec{}, err
				}
				vs[i] = v
			}
			return kernel(vs, int(rec.NumRows()))
		}
	case *planner.Case:
		return compileCase(x, env)
	case *planner.Subquery:
		return compileSubquery(x, env)
	}
	return failing(errs.New(errs.ErrInternal, errs.CodeInternal, "BUG: exec: unknown expression %T", e))
}

func failing(err error) evaluator {
	return func(arrow.RecordBatch) (functions.Vec, error) { return functions.Vec{}, err }
}

func compileCase(c *planner.Case, env Env) evaluator {
	conds := make([]evaluator, len(c.Whens))
	results := make([]evaluator, len(c.Whens))
	for i, w := range c.Whens {
		conds[i] = compile(w.Cond, env)
		results[i] = compile(w.Result, env)
	}
	var els evaluator
	if c.Else != nil {
		els = compile(c.Else, env)
	}
	t := c.T
	return func(rec arrow.RecordBatch) (functions.Vec, error) {
		// Each result is evaluated only on the rows that take it, so a
		// branch that would fail (1/x where x = 0) does not run there.
		n := int(rec.NumRows())
		vals := make([]any, n)
		pending := make([]int32, n)
		for i := range pending {
			pending[i] = int32(i)
		}
		sub := rec
		sub.Retain()
		defer func() { sub.Release() }()
		for i := range conds {
			if len(pending) == 0 {
				break
			}
			cv, err := conds[i](sub)
			if err != nil {
				return functions.Vec{}, err
			}
			var take, rest, takeRows, restRows []int32
			for r := range pending {
				if !cv.IsNull(r) && cv.Bool(r) {
					take, takeRows = append(take, int32(r)), append(takeRows, pending[r])
				} else {
					rest, restRows = append(rest, int32(r)), append(restRows, pending[r])
				}
			}
			if len(take) > 0 {
				part := takeRecord(sub, take)
				rv, err := results[i](part)
				if err != nil {
					part.Release()
					return functions.Vec{}, err
				}
				for k, r := range takeRows {
					vals[r] = rv.Value(k)
				}
				part.Release()
			}
			next := takeRecord(sub, rest)
			sub.Release()
			sub, pending = next, restRows
		}
		if els != nil && len(pending) > 0 {
			ev, err := els(sub)
			if err != nil {
				return functions.Vec{}, err
			}
			for k, r := range pending {
				vals[r] = ev.Value(k)
			}
		}
		return functions.ArrVec(functions.NewOf(t, vals), t), nil
	}
}

// anyMayFail reports whether evaluating an expression could raise an error
// (division, overflow, casts, functions with domains), in which case AND/OR
// must not evaluate it on rows an earlier argument already decided.
func anyMayFail(es []planner.Expr) bool {
	fail := false
	for _, e := range es {
		planner.Visit(e, func(x planner.Expr) {
			switch x := x.(type) {
			case *planner.Cast, *planner.Subquery:
				fail = true
			case *planner.Call:
				switch x.Name {
				case "=", "<>", "<", "<=", ">", ">=", "and", "or", "not", "in", "is_null", "is_not_null", "is_distinct_from", "is_not_distinct_from":
				default:
					fail = true
				}
			}
		})
	}
	return fail
}

// shortCircuit evaluates AND (and=true) or OR left to right, each argument
// only on the rows the earlier ones left undecided, with SQL's
// three-valued logic.
func shortCircuit(and bool, args []evaluator) evaluator {
	return func(rec arrow.RecordBatch) (functions.Vec, error) {
		n := int(rec.NumRows())
		vals := make([]bool, n)
		null := make([]bool, n)
		pending := make([]int32, n) // original rows still undecided
		for i := range pending {
			pending[i] = int32(i)
		}
		sub := rec
		sub.Retain()
		defer func() { sub.Release() }()
		for _, arg := range args {
			if len(pending) == 0 {
				break
			}
			v, err := arg(sub)
			if err != nil {
				return functions.Vec{}, err
			}
			var keep []int32 // positions in sub still undecided
			var rows []int32
			for j, r := range pending {
				if v.IsNull(j) {
					null[r] = true
				} else if b := v.Bool(j); b != and {
					vals[r], null[r] = b, false
					continue // decided
				}
				keep = append(keep, int32(j))
				rows = append(rows, r)
			}
			if len(keep) < len(pending) {
				next := takeRecord(sub, keep)
				sub.Release()
				sub = next
			}
			pending = rows
		}
		valid := functions.NewValid(n)
		for _, r := range pending {
			vals[r] = and
			if null[r] {
				valid.SetNull(int(r))
			}
		}
		return functions.ArrVec(functions.NewBool(vals, valid), functions.TBool), nil
	}
}
