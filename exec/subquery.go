package exec

import (
	"context"
	"sync"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/ugnos/ugnos/errs"
	"github.com/ugnos/ugnos/functions"
	"github.com/ugnos/ugnos/planner"
)

// compileSubquery evaluates an uncorrelated subquery once, on first use.
func compileSubquery(s *planner.Subquery, env Env) evaluator {
	var once sync.Once
	var (
		failure error
		scalar  any
		exists  bool
		set     map[string]struct{}
		hasNull bool
	)
	t := s.Plan.Columns()
	run := func() {
		op, err := Build(s.Plan, env)
		if err != nil {
			failure = err
			return
		}
		defer op.Close()
		recs, err := drain(context.Background(), op, env.Mem)
		if err != nil {
			failure = err
			return
		}
		defer func() {
			for _, r := range recs {
				r.Release()
			}
		}()
		rows := 0
		set = map[string]struct{}{}
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
					scalar = v.Value(i)
					if str, ok := scalar.(string); ok {
						scalar = string([]byte(str))
					}
				case "in":
					if v.IsNull(i) {
						hasNull = true
						continue
					}
					key = appendKey(key[:0], v, i)
					set[string(key)] = struct{}{}
				}
			}
		}
		exists = rows > 0
		if s.Kind == "scalar" && rows > 1 {
			failure = errs.New(errs.ErrInvalidInput, "21000", "more than one row returned by a subquery used as an expression")
		}
	}
	var arg evaluator
	if s.Arg != nil {
		arg = compile(s.Arg, env)
	}
	return func(rec arrow.RecordBatch) (functions.Vec, error) {
		once.Do(run)
		if failure != nil {
			return functions.Vec{}, failure
		}
		n := int(rec.NumRows())
		switch s.Kind {
		case "exists":
			return functions.ConstVec(exists, functions.TBool, n), nil
		case "scalar":
			return functions.ConstVec(scalar, s.T, n), nil
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
			if _, ok := set[string(key)]; ok {
				vals[i] = true
			} else if hasNull {
				valid.SetNull(i)
			}
		}
		return functions.ArrVec(functions.NewBool(vals, valid), functions.TBool), nil
	}
}
