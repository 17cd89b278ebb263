package exec

import (
	"context"
	"sync"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/ugnos/ugnos/errs"
	"github.com/ugnos/ugnos/functions"
	"github.com/ugnos/ugnos/planner"
)

// subResult is what one run of a subquery gives.
type subResult struct {
	scalar  any
	exists  bool
	set     map[string]struct{}
	hasNull bool
	elems   []*string // ARRAY(subquery)
}

// runSubquery runs a subquery plan to the end.
func runSubquery(s *planner.Subquery, plan planner.Node, env Env) (*subResult, error) {
	op, err := Build(plan, env)
	if err != nil {
		return nil, err
	}
	defer op.Close()
	recs, err := drain(context.Background(), op, env.Mem)
	if err != nil {
		return nil, err
	}
	defer func() {
		for _, r := range recs {
			r.Release()
		}
	}()
	res := &subResult{set: map[string]struct{}{}}
	t := plan.Columns()
	rows := 0
	var key []byte
	for _, r := range recs {
		rows += int(r.NumRows())
		if s.Kind == "exists" || r.NumRows() == 0 {
			continue
		}
		v := functions.ArrVec(r.Column(0), t[0].T)
		for i := 0; i < int(r.NumRows()); i++ {
			switch s.Kind {
			case "scalar":
				res.scalar = v.Value(i)
				if str, ok := res.scalar.(string); ok {
					res.scalar = string([]byte(str))
				}
			case "array":
				if v.IsNull(i) {
					res.elems = append(res.elems, nil)
					continue
				}
				e := functions.FormatValue(v.Value(i), t[0].T)
				res.elems = append(res.elems, &e)
			case "in":
				if v.IsNull(i) {
					res.hasNull = true
					continue
				}
				key = appendKey(key[:0], v, i)
				res.set[string(key)] = struct{}{}
			}
		}
	}
	res.exists = rows > 0
	if s.Kind == "array" {
		res.scalar = functions.FormatArrayText(res.elems)
	}
	if s.Kind == "scalar" && rows > 1 {
		return nil, errs.New(errs.ErrInvalidInput, "21000", "more than one row returned by a subquery used as an expression")
	}
	return res, nil
}

// compileCorrelated evaluates a correlated subquery per distinct value of
// the outer columns it reads, replanning it for those values (so their
// time ranges and tags are pushed down) and memoising the result.
func compileCorrelated(s *planner.Subquery, env Env) evaluator {
	outer := make([]evaluator, len(s.Outer))
	for i, o := range s.Outer {
		outer[i] = compile(o, env)
	}
	var arg evaluator
	if s.Arg != nil {
		arg = compile(s.Arg, env)
	}
	var mu sync.Mutex
	memo := map[string]*subResult{}
	return func(rec arrow.RecordBatch) (functions.Vec, error) {
		n := int(rec.NumRows())
		ov, err := evalAll(outer, rec)
		if err != nil {
			return functions.Vec{}, err
		}
		var av functions.Vec
		if arg != nil {
			if av, err = arg(rec); err != nil {
				return functions.Vec{}, err
			}
		}
		vals := make([]any, n)
		var key, akey []byte
		for i := 0; i < n; i++ {
			key = key[:0]
			for _, v := range ov {
				key = appendKey(key, v, i)
			}
			mu.Lock()
			res, ok := memo[string(key)]
			mu.Unlock()
			if !ok {
				args := make([]any, len(ov))
				for k, v := range ov {
					args[k] = v.Value(i)
				}
				plan, err := s.Replan(args)
				if err != nil {
					return functions.Vec{}, err
				}
				if res, err = runSubquery(s, plan, env); err != nil {
					return functions.Vec{}, err
				}
				if err := env.Mem.Reserve(int64(len(key)) + 64); err != nil {
					return functions.Vec{}, err
				}
				mu.Lock()
				memo[string(key)] = res
				mu.Unlock()
			}
			switch s.Kind {
			case "exists":
				vals[i] = res.exists
			case "scalar", "array":
				vals[i] = res.scalar
			default: // in
				if av.IsNull(i) {
					continue
				}
				akey = appendKey(akey[:0], av, i)
				if _, hit := res.set[string(akey)]; hit {
					vals[i] = true
				} else if !res.hasNull {
					vals[i] = false
				}
			}
		}
		return functions.ArrVec(functions.NewOf(s.T, vals), s.T), nil
	}
}

// compileSubquery evaluates an uncorrelated subquery once, on first use.
func compileSubquery(s *planner.Subquery, env Env) evaluator {
	if len(s.Outer) > 0 {
		return compileCorrelated(s, env)
	}
	var once sync.Once
	var res *subResult
	var failure error
	var arg evaluator
	if s.Arg != nil {
		arg = compile(s.Arg, env)
	}
	return func(rec arrow.RecordBatch) (functions.Vec, error) {
		once.Do(func() { res, failure = runSubquery(s, s.Plan, env) })
		if failure != nil {
			return functions.Vec{}, failure
		}
		n := int(rec.NumRows())
		switch s.Kind {
		case "exists":
			return functions.ConstVec(res.exists, functions.TBool, n), nil
		case "scalar", "array":
			return functions.ConstVec(res.scalar, s.T, n), nil
		}
		a, err := arg(rec)
		if err != nil {
			return functions.Vec{}, err
		}
		vals := make([]bool, n)
		valid := functions.NewValid(n)
		var key []byte
		for i := 0; i < n; i++ {
			if a.IsNull(i) {
				valid.SetNull(i)
				continue
			}
			key = appendKey(key[:0], a, i)
			if _, ok := res.set[string(key)]; ok {
				vals[i] = true
			} else if res.hasNull {
				valid.SetNull(i)
			}
		}
		return functions.ArrVec(functions.NewBool(vals, valid), functions.TBool), nil
	}
}
