package planner

import (
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	pg "github.com/pganalyze/pg_query_go/v6"

	"github.com/ugnos/ugnos/errs"
	"github.com/ugnos/ugnos/functions"
	"github.com/ugnos/ugnos/sql"
)

type exprCtx int

const (
	ctxWhere  exprCtx = iota // no aggregates
	ctxSelect                // aggregates collected
	ctxGroup                 // GROUP BY: no aggregates
	ctxAggArg                // inside an aggregate: no nested aggregates
	ctxLimit                 // constants only
)

var ctxNames = map[exprCtx]string{ctxWhere: "WHERE", ctxGroup: "GROUP BY", ctxLimit: "LIMIT"}

// aggRef stands for the idx-th aggregate until the aggregate is planned.
type aggRef struct {
	idx int
	t   functions.Type
}

func (a *aggRef) Type() functions.Type { return a.t }
func (a *aggRef) String() string       { return fmt.Sprintf("agg#%d", a.idx) }

// winRef stands for the idx-th window call until the Window is planned.
type winRef struct {
	idx int
	t   functions.Type
}

func (w *winRef) Type() functions.Type { return w.t }
func (w *winRef) String() string       { return fmt.Sprintf("win#%d", w.idx) }

// query binds the expressions of one SELECT.
type query struct {
	b     *binder
	sc    *scope
	env   *env
	aggs  []AggCall
	wins  []WindowCall
	inWin bool
	// windows are the WINDOW clause's named windows
	windows map[string]*pg.WindowDef
}

func (q *query) reg() *functions.Registry { return q.b.p.Reg }

func (q *query) expr(n *pg.Node, ctx exprCtx) (Expr, error) {
	e, err := q.bindExpr(n, ctx)
	if err != nil {
		err = q.at(err, nodeLocation(n))
	}
	return e, err
}

// nodeLocation is the byte offset PostgreSQL reports for an expression
// (the column, function, operator, cast or constant), or -1.
func nodeLocation(n *pg.Node) int32 {
	switch {
	case n == nil:
	case n.GetColumnRef() != nil:
		return n.GetColumnRef().GetLocation()
	case n.GetFuncCall() != nil:
		return n.GetFuncCall().GetLocation()
	case n.GetAExpr() != nil:
		return n.GetAExpr().GetLocation()
	case n.GetTypeCast() != nil:
		return n.GetTypeCast().GetLocation()
	case n.GetAConst() != nil:
		return n.GetAConst().GetLocation()
	}
	return -1
}

// at gives an error without a position the position of byte offset loc
// in the statement text (as a 1-based character position, like
// PostgreSQL), when the expression is the statement's own (not a view's).
func (q *query) at(err error, loc int32) error {
	var e *errs.Error
	text := q.b.p.Text
	if loc < 0 || q.b.depth > 0 || text == "" || int(loc) > len(text) || !errors.As(err, &e) || e.Pos != 0 {
		return err
	}
	if e.Code == "22012" || e.Code == "22003" {
		// arithmetic while folding constants: PostgreSQL reports these
		// from execution, without a position
		return err
	}
	c := *e
	c.Pos = utf8.RuneCountInString(text[:loc]) + 1
	return &c
}

func (q *query) bindExpr(n *pg.Node, ctx exprCtx) (Expr, error) {
	switch {
	case n == nil:
		return nil, unsupported("an empty expression")
	case n.GetColumnRef() != nil:
		if ctx == ctxLimit {
			return nil, errs.New(errs.ErrInvalidInput, "42P10", "argument of LIMIT must not contain variables")
		}
		cr := n.GetColumnRef()
		if isStar(cr) {
			return nil, unsupported("* in this position")
		}
		var parts []string
		for _, f := range cr.GetFields() {
			parts = append(parts, f.GetString_().GetSval())
		}
		schema, table, name := "", "", parts[len(parts)-1]
		switch len(parts) {
		case 1:
		case 2:
			table = parts[0]
		case 3:
			schema, table = parts[0], parts[1]
		default:
			return nil, unsupported("qualified column reference %s", strings.Join(parts, "."))
		}
		i, err := q.sc.resolveIn(schema, table, name)
		if err != nil {
			if oc := q.b.outer; oc != nil {
				if j, err2 := oc.sc.resolveIn(schema, table, name); err2 == nil {
					return oc.ref(j), nil
				}
			}
			return nil, err
		}
		return &Col{Idx: i, Name: name, T: q.sc.cols[i].t}, nil
	case n.GetAConst() != nil:
		return constOf(n.GetAConst())
	case n.GetTypeCast() != nil:
		tc := n.GetTypeCast()
		if e, ok, err := q.catalogCast(tc, ctx); ok {
			return e, err
		}
		t, err := typeOf(tc.GetTypeName())
		if err != nil {
			return nil, err
		}
		e, err := q.expr(tc.GetArg(), ctx)
		if err != nil {
			return nil, err
		}
		return q.castWithMod(e, t, tc.GetTypeName())
	case n.GetAExpr() != nil:
		return q.aexpr(n.GetAExpr(), ctx)
	case n.GetBoolExpr() != nil:
		be := n.GetBoolExpr()
		var args []Expr
		for _, a := range be.GetArgs() {
			e, err := q.expr(a, ctx)
			if err != nil {
				return nil, err
			}
			name := strings.ToUpper(strings.TrimSuffix(be.GetBoolop().String(), "_EXPR"))
			if e, err = coerceTo(e, functions.TBool, "argument of "+name); err != nil {
				return nil, err
			}
			args = append(args, e)
		}
		switch be.GetBoolop() {
		case pg.BoolExprType_AND_EXPR:
			return q.call("and", args)
		case pg.BoolExprType_OR_EXPR:
			return q.call("or", args)
		default:
			return q.call("not", args)
		}
	case n.GetNullTest() != nil:
		nt := n.GetNullTest()
		e, err := q.expr(nt.GetArg(), ctx)
		if err != nil {
			return nil, err
		}
		if nt.GetNulltesttype() == pg.NullTestType_IS_NULL {
			return q.call("is_null", []Expr{e})
		}
		return q.call("is_not_null", []Expr{e})
	case n.GetFuncCall() != nil:
		return q.funcCall(n.GetFuncCall(), ctx)
	case n.GetSqlvalueFunction() != nil:
		switch n.GetSqlvalueFunction().GetOp() {
		case pg.SQLValueFunctionOp_SVFOP_CURRENT_TIMESTAMP, pg.SQLValueFunctionOp_SVFOP_LOCALTIMESTAMP:
			return &Const{V: q.b.p.Now.UnixNano(), T: functions.TTimestamp}, nil
		case pg.SQLValueFunctionOp_SVFOP_CURRENT_DATE:
			return &Const{V: functions.TimestampToDate(q.b.p.Now.UnixNano()), T: functions.TDate}, nil
		}
		return q.sqlValueFunction(n.GetSqlvalueFunction())
	case n.GetCaseExpr() != nil:
		return q.caseExpr(n.GetCaseExpr(), ctx)
	case n.GetParamRef() != nil:
		return q.param(int(n.GetParamRef().GetNumber()))
	case n.GetAIndirection() != nil:
		ind := n.GetAIndirection()
		if len(ind.GetIndirection()) == 1 && ind.GetIndirection()[0].GetString_() != nil {
			// (information_schema._pg_expandarray(a)).n / .x and
			// (keys).x over its result, as pgjdbc's getPrimaryKeys writes
			// them: the record's fields (only ever reached with no rows)
			if f := ind.GetIndirection()[0].GetString_().GetSval(); f == "x" || f == "n" {
				arg := ind.GetArg()
				if fc := arg.GetFuncCall(); fc != nil && len(fc.GetArgs()) == 1 {
					names := fc.GetFuncname()
					if strings.EqualFold(names[len(names)-1].GetString_().GetSval(), "_pg_expandarray") {
						arg = fc.GetArgs()[0]
					}
				}
				a, err := q.expr(arg, ctx)
				if err != nil {
					return nil, err
				}
				if a.Type() == functions.TText || a.Type() == functions.TUnknown {
					return q.call("_pg_expandarray_field", []Expr{a})
				}
			}
			return nil, unsupported("field selection")
		}
		arr, err := q.expr(ind.GetArg(), ctx)
		if err != nil {
			return nil, err
		}
		if len(ind.GetIndirection()) != 1 || ind.GetIndirection()[0].GetAIndices() == nil || ind.GetIndirection()[0].GetAIndices().GetIsSlice() {
			return nil, unsupported("array slices, field selection and multiple subscripts")
		}
		idx, err := q.expr(ind.GetIndirection()[0].GetAIndices().GetUidx(), ctx)
		if err != nil {
			return nil, err
		}
		if idx.Type() == functions.TUnknown {
			if idx, err = castTo(idx, functions.TInt); err != nil {
				return nil, err
			}
		}
		if arr.Type() != functions.TText {
			return nil, errs.New(errs.ErrInvalidInput, "42804", "cannot subscript type %s because it does not support subscripting", arr.Type().Name())
		}
		return q.call("array_subscript", []Expr{arr, idx})
	case n.GetSubLink() != nil:
		return q.subLink(n.GetSubLink(), ctx)
	case n.GetCoalesceExpr() != nil:
		var args []Expr
		for _, a := range n.GetCoalesceExpr().GetArgs() {
			e, err := q.expr(a, ctx)
			if err != nil {
				return nil, err
			}
			args = append(args, e)
		}
		return q.unified("coalesce", args)
	case n.GetMinMaxExpr() != nil:
		mm := n.GetMinMaxExpr()
		var args []Expr
		for _, a := range mm.GetArgs() {
			e, err := q.expr(a, ctx)
			if err != nil {
				return nil, err
			}
			args = append(args, e)
		}
		if mm.GetOp() == pg.MinMaxOp_IS_GREATEST {
			return q.unified("greatest", args)
		}
		return q.unified("least", args)
	}
	return q.exprMore(n, ctx)
}

// nodeKind names a parse node for error messages.
func nodeKind(n *pg.Node) string {
	s := fmt.Sprintf("%T", n.GetNode())
	s = strings.TrimPrefix(s, "*pg_query.Node_")
	return s
}

func constOf(c *pg.A_Const) (Expr, error) {
	switch {
	case c.GetIsnull():
		return &Const{V: nil, T: functions.TUnknown}, nil
	case c.GetIval() != nil:
		return &Const{V: int64(c.GetIval().GetIval()), T: functions.TInt}, nil
	case c.GetFval() != nil:
		n := &pg.Node{Node: &pg.Node_AConst{AConst: c}}
		if i, ok := sql.IntConst(n); ok {
			return &Const{V: i, T: functions.TInt}, nil
		}
		return numericConst(c.GetFval().GetFval())
	case c.GetBoolval() != nil:
		return &Const{V: c.GetBoolval().GetBoolval(), T: functions.TBool}, nil
	case c.GetSval() != nil:
		return &Const{V: c.GetSval().GetSval(), T: functions.TUnknown}, nil
	}
	return nil, unsupported("this constant")
}

// typeOf maps a type name to a ugnos type.
func typeOf(tn *pg.TypeName) (functions.Type, error) {
	if len(tn.GetArrayBounds()) > 0 {
		return 0, unsupported("array types")
	}
	names := tn.GetNames()
	name := strings.ToLower(names[len(names)-1].GetString_().GetSval())
	switch name {
	case "int8", "bigint", "int4", "integer", "int", "int2", "smallint":
		return functions.TInt, nil
	case "float8", "float4", "real", "double precision", "float":
		return functions.TFloat, nil
	case "numeric", "decimal":
		return functions.TNumeric, nil
	case "text", "varchar", "char", "bpchar", "name", "character varying":
		return functions.TText, nil
	case "bool", "boolean":
		return functions.TBool, nil
	case "timestamptz", "timestamp":
		return functions.TTimestamp, nil
	case "date":
		return functions.TDate, nil
	case "interval":
		if len(tn.GetTypmods()) > 0 {
			return 0, unsupported("interval field qualifiers")
		}
		return functions.TInterval, nil
	}
	return 0, errs.New(errs.ErrNotFound, "42704", "type %q does not exist or is not supported", name)
}

// castTo converts e to t, folding constants.
func castTo(e Expr, t functions.Type) (Expr, error) {
	if e.Type() == t {
		return e, nil
	}
	if c, ok := e.(*Const); ok {
		if c.V == nil {
			return &Const{V: nil, T: t}, nil
		}
		if p, ok := c.V.(ParamRef); ok {
			if c.T == functions.TUnknown {
				p.record(t)
			}
			return &Const{V: p, T: t}, nil
		}
		if s, ok := c.V.(string); ok {
			v, err := functions.ParseText(s, t)
			if err != nil {
				return nil, err
			}
			return &Const{V: v, T: t}, nil
		}
		v, err := functions.Cast(functions.ConstVec(c.V, c.T, 1), t)
		if err != nil {
			return nil, err
		}
		return &Const{V: v.Value(0), T: t}, nil
	}
	if !functions.CanCast(e.Type(), t) {
		return nil, errs.New(errs.ErrInvalidInput, "42846", "cannot cast type %s to %s", e.Type().Name(), t.Name())
	}
	return &Cast{E: e, T: t}, nil
}

// coerceTo makes e of type t where PostgreSQL would do so implicitly.
func coerceTo(e Expr, t functions.Type, what string) (Expr, error) {
	switch {
	case e.Type() == t:
		return e, nil
	case e.Type() == functions.TUnknown:
		return castTo(e, t)
	case e.Type() == functions.TInt && t == functions.TFloat, e.Type() == functions.TDate && t == functions.TTimestamp:
		return castTo(e, t)
	case e.Type() == functions.TInt && t == functions.TNumeric, e.Type() == functions.TNumeric && t == functions.TFloat:
		return castTo(e, t)
	}
	return nil, errs.New(errs.ErrInvalidInput, errs.CodeDatatypeMismatch, "%s must be type %s, not type %s", what, t.Name(), e.Type().Name())
}

// datesAsTimestamps casts the date arguments to timestamptz; false when
// there are none.
func datesAsTimestamps(args []Expr) ([]Expr, bool) {
	out := append([]Expr(nil), args...)
	found := false
	for i, a := range out {
		if a.Type() == functions.TDate {
			c, err := castTo(a, functions.TTimestamp)
			if err != nil {
				return nil, false
			}
			out[i], found = c, true
		}
	}
	return out, found
}

// unify coerces unknown literals to the type of the other operand.
func unify(l, r Expr) (Expr, Expr, error) {
	var err error
	lt, rt := l.Type(), r.Type()
	switch {
	case lt == functions.TUnknown && rt == functions.TUnknown:
		if l, err = castTo(l, functions.TText); err == nil {
			r, err = castTo(r, functions.TText)
		}
	case lt == functions.TUnknown:
		l, err = castTo(l, rt)
	case rt == functions.TUnknown:
		r, err = castTo(r, lt)
	}
	if err != nil {
		return nil, nil, err
	}
	return numericOperands(l, r)
}

// call resolves a scalar function and folds it when every argument is
// constant and the function is not volatile.
func (q *query) call(name string, args []Expr) (Expr, error) {
	fn, ok := q.reg().Scalar(name)
	if !ok {
		return nil, errs.New(errs.ErrNotFound, "42883", "function %s does not exist", name)
	}
	types := make([]functions.Type, len(args))
	for i, a := range args {
		types[i] = a.Type()
	}
	t, kernel, err := fn.Resolve(types)
	if err != nil {
		// PostgreSQL casts date to timestamptz implicitly where a
		// function or operator has no date form
		if args, ok := datesAsTimestamps(args); ok {
			return q.call(name, args)
		}
		return nil, err
	}
	c := &Call{Name: name, Args: args, T: t}
	if fn.Volatile {
		return c, nil // runs when the statement runs, once per row
	}
	consts := make([]functions.Vec, len(args))
	for i, a := range args {
		k, ok := a.(*Const)
		if !ok || isParam(k) {
			return c, nil
		}
		consts[i] = functions.ConstVec(k.V, k.T, 1)
	}
	v, err := kernel(consts, 1)
	if err != nil {
		return nil, err
	}
	return &Const{V: v.Value(0), T: t}, nil
}

// unified coerces all arguments to a common type, then calls.
func (q *query) unified(name string, args []Expr) (Expr, error) {
	types := make([]functions.Type, len(args))
	for i, a := range args {
		types[i] = a.Type()
	}
	ct, ok := functions.CommonType(types)
	if !ok {
		return nil, errs.New(errs.ErrInvalidInput, errs.CodeDatatypeMismatch, "%s types cannot be matched", strings.ToUpper(name))
	}
	for i := range args {
		var err error
		if args[i], err = coerceTo(args[i], ct, name); err != nil {
			return nil, err
		}
	}
	return q.call(name, args)
}

var opNames = map[string]string{"!=": "<>"}

// arrayFuncs return arrays (held as their text form).
var arrayFuncs = map[string]bool{"current_schemas": true, "array_append": true, "array_prepend": true, "array_cat": true,
	"string_to_array": true, "array_agg": true, "array_remove": true, "array_replace": true}

// isArrayOperand reports whether an operand is an array: ugnos holds
// arrays as their text, so this is decided from the syntax and the
// PostgreSQL type an expression records (isArray).
func (q *query) isArrayOperand(n *pg.Node, e Expr) bool {
	switch {
	case n.GetAArrayExpr() != nil:
		return true
	case n.GetSubLink() != nil:
		return n.GetSubLink().GetSubLinkType() == pg.SubLinkType_ARRAY_SUBLINK
	case n.GetTypeCast() != nil:
		return len(n.GetTypeCast().GetTypeName().GetArrayBounds()) > 0
	case n.GetFuncCall() != nil:
		names := n.GetFuncCall().GetFuncname()
		return arrayFuncs[strings.ToLower(names[len(names)-1].GetString_().GetSval())]
	}
	return q.isArray(e)
}

// arrayConcat binds || with an array operand: array || array, array ||
// element, element || array.
func (q *query) arrayConcat(l, r Expr, la, ra bool) (Expr, error) {
	var err error
	for _, side := range []*Expr{&l, &r} {
		if t := (*side).Type(); t != functions.TText {
			if *side, err = castTo(*side, functions.TText); err != nil {
				return nil, err
			}
		}
	}
	name := "array_cat"
	switch {
	case la && !ra:
		name = "array_append"
	case ra && !la:
		name = "array_prepend"
	}
	return q.call(name, []Expr{l, r})
}

func (q *query) aexpr(a *pg.A_Expr, ctx exprCtx) (Expr, error) {
	op := ""
	if ns := a.GetName(); len(ns) > 0 {
		op = ns[len(ns)-1].GetString_().GetSval()
	}
	if o, ok := opNames[op]; ok {
		op = o
	}
	switch a.GetKind() {
	case pg.A_Expr_Kind_AEXPR_OP:
		r, err := q.expr(a.GetRexpr(), ctx)
		if err != nil {
			return nil, err
		}
		if a.GetLexpr() == nil {
			switch op {
			case "-":
				if r.Type() == functions.TUnknown {
					if r, err = castTo(r, functions.TFloat); err != nil {
						return nil, err
					}
				}
				return q.call("neg", []Expr{r})
			case "+":
				return r, nil
			}
			return nil, unsupported("prefix operator %s", op)
		}
		l, err := q.expr(a.GetLexpr(), ctx)
		if err != nil {
			return nil, err
		}
		switch op {
		case "+", "-", "*", "/", "%", "||", "=", "<>", "<", "<=", ">", ">=", "~", "~*", "!~", "!~*", "~~", "!~~", "~~*", "!~~*",
			"&", "|", "#", "<<", ">>":
		default:
			return nil, unsupported("operator %s", op)
		}
		if op == "||" {
			la, ra := q.isArrayOperand(a.GetLexpr(), l), q.isArrayOperand(a.GetRexpr(), r)
			if la || ra {
				return q.arrayConcat(l, r, la, ra)
			}
			// unknown || anything: text concatenation
			if l, r, err = unknownToText(l, r); err != nil {
				return nil, err
			}
		}
		if l, r, err = unify(l, r); err != nil {
			return nil, err
		}
		return q.call(op, []Expr{l, r})
	case pg.A_Expr_Kind_AEXPR_IN:
		l, err := q.expr(a.GetLexpr(), ctx)
		if err != nil {
			return nil, err
		}
		args := []Expr{l}
		for _, it := range a.GetRexpr().GetList().GetItems() {
			e, err := q.expr(it, ctx)
			if err != nil {
				return nil, err
			}
			args = append(args, e)
		}
		types := make([]functions.Type, len(args))
		for i, x := range args {
			types[i] = x.Type()
		}
		ct, ok := functions.CommonType(types)
		if !ok {
			return nil, errs.New(errs.ErrInvalidInput, errs.CodeDatatypeMismatch, "IN types %s cannot be matched", types[0].Name())
		}
		for i := range args {
			if args[i].Type() == functions.TUnknown || (ct.Numeric() && args[i].Type().Numeric() && args[i].Type() != ct) {
				if args[i], err = castTo(args[i], ct); err != nil {
					return nil, err
				}
			}
		}
		in, err := q.call("in", args)
		if err != nil || op != "<>" {
			return in, err
		}
		return q.call("not", []Expr{in})
	case pg.A_Expr_Kind_AEXPR_LIKE, pg.A_Expr_Kind_AEXPR_ILIKE:
		l, r, err := q.operands(a, ctx)
		if err != nil {
			return nil, err
		}
		return q.call(op, []Expr{l, r})
	case pg.A_Expr_Kind_AEXPR_DISTINCT, pg.A_Expr_Kind_AEXPR_NOT_DISTINCT:
		l, r, err := q.operands(a, ctx)
		if err != nil {
			return nil, err
		}
		name := "is_distinct_from"
		if a.GetKind() == pg.A_Expr_Kind_AEXPR_NOT_DISTINCT {
			name = "is_not_distinct_from"
		}
		return q.call(name, []Expr{l, r})
	case pg.A_Expr_Kind_AEXPR_NULLIF:
		l, r, err := q.operands(a, ctx)
		if err != nil {
			return nil, err
		}
		eq, err := q.call("=", []Expr{l, r})
		if err != nil {
			return nil, err
		}
		return &Case{Whens: []When{{Cond: eq, Result: &Const{V: nil, T: l.Type()}}}, Else: l, T: l.Type()}, nil
	case pg.A_Expr_Kind_AEXPR_BETWEEN_SYM, pg.A_Expr_Kind_AEXPR_NOT_BETWEEN_SYM:
		// x BETWEEN SYMMETRIC a AND b = x BETWEEN least(a,b) AND greatest(a,b)
		x, err := q.expr(a.GetLexpr(), ctx)
		if err != nil {
			return nil, err
		}
		items := a.GetRexpr().GetList().GetItems()
		var bounds []Expr
		for _, it := range items {
			e, err := q.expr(it, ctx)
			if err != nil {
				return nil, err
			}
			if _, e, err = unify(x, e); err != nil {
				return nil, err
			}
			bounds = append(bounds, e)
		}
		lo, err := q.unified("least", bounds)
		if err != nil {
			return nil, err
		}
		hi, err := q.unified("greatest", bounds)
		if err != nil {
			return nil, err
		}
		x1, lo, err := unify(x, lo)
		if err != nil {
			return nil, err
		}
		ge, err := q.call(">=", []Expr{x1, lo})
		if err != nil {
			return nil, err
		}
		le, err := q.call("<=", []Expr{x1, hi})
		if err != nil {
			return nil, err
		}
		both, err := q.call("and", []Expr{ge, le})
		if err != nil || a.GetKind() == pg.A_Expr_Kind_AEXPR_BETWEEN_SYM {
			return both, err
		}
		return q.call("not", []Expr{both})
	case pg.A_Expr_Kind_AEXPR_BETWEEN, pg.A_Expr_Kind_AEXPR_NOT_BETWEEN:
		x, err := q.expr(a.GetLexpr(), ctx)
		if err != nil {
			return nil, err
		}
		items := a.GetRexpr().GetList().GetItems()
		lo, err := q.expr(items[0], ctx)
		if err != nil {
			return nil, err
		}
		hi, err := q.expr(items[1], ctx)
		if err != nil {
			return nil, err
		}
		x1, lo, err := unify(x, lo)
		if err != nil {
			return nil, err
		}
		x2, hi, err := unify(x, hi)
		if err != nil {
			return nil, err
		}
		ge, err := q.call(">=", []Expr{x1, lo})
		if err != nil {
			return nil, err
		}
		le, err := q.call("<=", []Expr{x2, hi})
		if err != nil {
			return nil, err
		}
		both, err := q.call("and", []Expr{ge, le})
		if err != nil || a.GetKind() == pg.A_Expr_Kind_AEXPR_BETWEEN {
			return both, err
		}
		return q.call("not", []Expr{both})
	case pg.A_Expr_Kind_AEXPR_OP_ANY, pg.A_Expr_Kind_AEXPR_OP_ALL:
		return q.anyAll(a, ctx)
	}
	return nil, unsupported("%s expressions", strings.TrimPrefix(a.GetKind().String(), "AEXPR_"))
}

// operands binds both sides of a binary expression and types unknown
// literals from the other side.
func (q *query) operands(a *pg.A_Expr, ctx exprCtx) (Expr, Expr, error) {
	l, err := q.expr(a.GetLexpr(), ctx)
	if err != nil {
		return nil, nil, err
	}
	r, err := q.expr(a.GetRexpr(), ctx)
	if err != nil {
		return nil, nil, err
	}
	return unify(l, r)
}

// argHints gives the types unknown literals take in function arguments.
var argHints = map[string][]functions.Type{
	"time_bucket":         {functions.TInterval, functions.TTimestamp, functions.TInterval},
	"time_bucket_gapfill": {functions.TInterval, functions.TTimestamp, functions.TTimestamp, functions.TTimestamp},
	"date_bin":            {functions.TInterval, functions.TTimestamp, functions.TTimestamp},
	"date_trunc":          {functions.TText, functions.TTimestamp},
	"to_timestamp":        {functions.TFloat},
	"date_part":           {functions.TText, functions.TTimestamp},
	"extract":             {functions.TText, functions.TTimestamp},
}

func (q *query) funcCall(fc *pg.FuncCall, ctx exprCtx) (Expr, error) {
	names := fc.GetFuncname()
	name := strings.ToLower(names[len(names)-1].GetString_().GetSval())
	if len(names) == 2 && names[0].GetString_().GetSval() != "pg_catalog" && names[0].GetString_().GetSval() != "public" &&
		!(names[0].GetString_().GetSval() == "information_schema" && name == "_pg_expandarray") {
		return nil, errs.New(errs.ErrNotFound, "42883", "function %s.%s does not exist", names[0].GetString_().GetSval(), name)
	}
	if fc.GetOver() != nil {
		return q.windowCall(name, fc, ctx)
	}
	withinGroup := fc.GetAggWithinGroup()
	if withinGroup != (name == "percentile_cont" || name == "percentile_disc") {
		if withinGroup {
			return nil, unsupported("%s WITHIN GROUP", name)
		}
		return nil, errs.New(errs.ErrInvalidInput, "42809", "WITHIN GROUP is required for ordered-set aggregate %s", name)
	}
	if fc.GetFuncVariadic() {
		return nil, unsupported("VARIADIC")
	}
	var args []Expr
	argCtx := ctx
	agg, isAgg := q.reg().Aggregate(name)
	if isAgg {
		switch ctx {
		case ctxSelect:
		case ctxAggArg:
			return nil, errs.New(errs.ErrInvalidInput, "42803", "aggregate function calls cannot be nested")
		default:
			return nil, errs.New(errs.ErrInvalidInput, "42803", "aggregate functions are not allowed in %s", ctxNames[ctx])
		}
		argCtx = ctxAggArg
		if fc.GetAggDistinct() && (len(fc.GetArgs()) != 1 || name == "string_agg") {
			return nil, unsupported("%s(DISTINCT ...) with this argument list", name)
		}
		if len(fc.GetAggOrder()) > 0 && !withinGroup {
			return nil, unsupported("ORDER BY inside %s()", name)
		}
	} else if fc.GetAggStar() || fc.GetAggFilter() != nil || fc.GetAggDistinct() {
		return nil, errs.New(errs.ErrInvalidInput, "42809", "%s is not an aggregate function", name)
	}
	for i, a := range fc.GetArgs() {
		if a.GetNamedArgExpr() != nil {
			return nil, unsupported("named arguments")
		}
		e, err := q.expr(a, argCtx)
		if err != nil {
			return nil, err
		}
		if e.Type() == functions.TUnknown {
			hint := functions.TText
			if h := argHints[name]; i < len(h) {
				hint = h[i]
				if name == "time_bucket" && i == 2 {
					if s, ok := e.(*Const).V.(string); ok {
						if _, err := functions.ParseInterval(s); err != nil {
							hint = functions.TTimestamp
						}
					}
				}
			}
			if e, err = castTo(e, hint); err != nil {
				return nil, err
			}
		}
		args = append(args, e)
	}
	if isAgg {
		if withinGroup {
			order := fc.GetAggOrder()
			if len(order) != 1 || len(args) != 1 {
				return nil, unsupported("%s with several arguments or ORDER BY items", name)
			}
			sb := order[0].GetSortBy()
			if sb.GetSortbyDir() == pg.SortByDir_SORTBY_DESC {
				return nil, unsupported("%s WITHIN GROUP (ORDER BY ... DESC)", name)
			}
			v, err := q.expr(sb.GetNode(), ctxAggArg)
			if err != nil {
				return nil, err
			}
			if v.Type() == functions.TUnknown {
				if v, err = castTo(v, functions.TFloat); err != nil {
					return nil, err
				}
			}
			if _, ok := args[0].(*Const); !ok {
				return nil, unsupported("a non-constant percentile fraction")
			}
			args = []Expr{v, args[0]}
		}
		return q.aggregate(agg, fc, args)
	}
	switch name {
	case "now", "transaction_timestamp", "statement_timestamp", "current_timestamp":
		if len(args) != 0 {
			return nil, errs.New(errs.ErrNotFound, "42883", "function %s does not exist with arguments", name)
		}
		return &Const{V: q.b.p.Now.UnixNano(), T: functions.TTimestamp}, nil
	case "coalesce", "greatest", "least":
		return q.unified(name, args)
	}
	if _, ok := q.reg().Scalar(name); !ok {
		if setReturning[name] {
			return nil, unsupported("set-returning function %s", name)
		}
		types := make([]string, len(args))
		for i, a := range args {
			types[i] = a.Type().Name()
		}
		return nil, errs.New(errs.ErrNotFound, "42883", "function %s(%s) does not exist", name, strings.Join(types, ", "))
	}
	return q.call(name, args)
}

func (q *query) aggregate(agg *functions.Aggregate, fc *pg.FuncCall, args []Expr) (Expr, error) {
	agg = q.int4Sum(agg, fc)
	name := agg.Name
	if fc.GetAggStar() {
		if name != "count" {
			return nil, errs.New(errs.ErrInvalidInput, errs.CodeSyntaxError, "%s(*) must be used to call a parameterless aggregate function", name)
		}
		args = nil
	}
	types := make([]functions.Type, len(args))
	for i, a := range args {
		types[i] = a.Type()
	}
	t, err := agg.Resolve(types)
	if err != nil {
		return nil, err
	}
	call := AggCall{Name: name, Args: args, ArgTypes: types, T: t, Distinct: fc.GetAggDistinct()}
	if f := fc.GetAggFilter(); f != nil {
		pred, err := q.expr(f, ctxAggArg)
		if err != nil {
			return nil, err
		}
		if call.Filter, err = coerceTo(pred, functions.TBool, "argument of FILTER"); err != nil {
			return nil, err
		}
	}
	for i, a := range q.aggs { // the same aggregate twice is computed once
		if aggKey(a) == aggKey(call) {
			return &aggRef{idx: i, t: t}, nil
		}
	}
	q.aggs = append(q.aggs, call)
	return &aggRef{idx: len(q.aggs) - 1, t: t}, nil
}

func aggKey(a AggCall) string {
	s := a.Name + "("
	if a.Distinct {
		s += "DISTINCT "
	}
	for _, e := range a.Args {
		s += e.String() + ","
	}
	if a.Filter != nil {
		s += "|" + a.Filter.String()
	}
	return s + ")"
}

func (q *query) caseExpr(c *pg.CaseExpr, ctx exprCtx) (Expr, error) {
	var operand Expr
	var err error
	if c.GetArg() != nil {
		if operand, err = q.expr(c.GetArg(), ctx); err != nil {
			return nil, err
		}
	}
	var conds, results []Expr
	for _, w := range c.GetArgs() {
		cw := w.GetCaseWhen()
		cond, err := q.expr(cw.GetExpr(), ctx)
		if err != nil {
			return nil, err
		}
		if operand != nil {
			l, r, err := unify(operand, cond)
			if err != nil {
				return nil, err
			}
			if cond, err = q.call("=", []Expr{l, r}); err != nil {
				return nil, err
			}
		} else if cond, err = coerceTo(cond, functions.TBool, "argument of CASE/WHEN"); err != nil {
			return nil, err
		}
		res, err := q.expr(cw.GetResult(), ctx)
		if err != nil {
			return nil, err
		}
		conds = append(conds, cond)
		results = append(results, res)
	}
	var els Expr
	if c.GetDefresult() != nil {
		if els, err = q.expr(c.GetDefresult(), ctx); err != nil {
			return nil, err
		}
	}
	types := make([]functions.Type, 0, len(results)+1)
	for _, r := range results {
		types = append(types, r.Type())
	}
	if els != nil {
		types = append(types, els.Type())
	}
	ct, ok := functions.CommonType(types)
	if !ok {
		return nil, errs.New(errs.ErrInvalidInput, errs.CodeDatatypeMismatch, "CASE types cannot be matched")
	}
	out := &Case{T: ct}
	for i := range conds {
		r, err := coerceTo(results[i], ct, "CASE result")
		if err != nil {
			return nil, err
		}
		out.Whens = append(out.Whens, When{Cond: conds[i], Result: r})
	}
	if els != nil {
		if out.Else, err = coerceTo(els, ct, "CASE result"); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// groupItem binds a GROUP BY item: an ordinal, an input column, an output
// alias, or an expression.
func (q *query) groupItem(n *pg.Node, targets []Expr, names []string) (Expr, error) {
	if c := n.GetAConst(); c != nil && c.GetIval() != nil {
		k := int(c.GetIval().GetIval())
		if k < 1 || k > len(targets) {
			return nil, errs.New(errs.ErrInvalidInput, "42P10", "GROUP BY position %d is not in select list", k)
		}
		if hasAgg(targets[k-1]) {
			return nil, errs.New(errs.ErrInvalidInput, "42803", "aggregate functions are not allowed in GROUP BY")
		}
		return targets[k-1], nil
	}
	if cr := n.GetColumnRef(); cr != nil && len(cr.GetFields()) == 1 && !isStar(cr) {
		name := cr.GetFields()[0].GetString_().GetSval()
		if _, err := q.sc.resolve("", name); err != nil {
			for i, nm := range names {
				if nm == name {
					if hasAgg(targets[i]) {
						return nil, errs.New(errs.ErrInvalidInput, "42803", "aggregate functions are not allowed in GROUP BY")
					}
					return targets[i], nil
				}
			}
		}
	}
	if n.GetGroupingSet() != nil {
		return nil, unsupported("GROUPING SETS, ROLLUP and CUBE")
	}
	return q.expr(n, ctxGroup)
}

// outputRef binds an ORDER BY or DISTINCT ON item: an output ordinal, an
// output column name, or an expression.
func (q *query) outputRef(n *pg.Node, targets []Expr, names []string, clause string) (int, Expr, error) {
	if c := n.GetAConst(); c != nil && c.GetIval() != nil {
		k := int(c.GetIval().GetIval())
		if k < 1 || k > len(targets) {
			return 0, nil, errs.New(errs.ErrInvalidInput, "42P10", "%s position %d is not in select list", clause, k)
		}
		return k - 1, nil, nil
	}
	if cr := n.GetColumnRef(); cr != nil && len(cr.GetFields()) == 1 && !isStar(cr) {
		name := cr.GetFields()[0].GetString_().GetSval()
		match := -1
		for i, nm := range names {
			if nm == name {
				if match >= 0 && targets[match].String() != targets[i].String() {
					return 0, nil, errs.New(errs.ErrInvalidInput, "42702", "%s %q is ambiguous", clause, name)
				}
				if match < 0 {
					match = i
				}
			}
		}
		if match >= 0 {
			return match, nil, nil
		}
	}
	e, err := q.expr(n, ctxSelect)
	return -1, e, err
}

func (q *query) limitValue(n *pg.Node, what string, allowNull bool) (int64, error) {
	e, err := q.expr(n, ctxLimit)
	if err != nil {
		return 0, err
	}
	if e, err = coerceTo(e, functions.TInt, "argument of "+what); err != nil {
		return 0, err
	}
	c, ok := e.(*Const)
	if !ok {
		return 0, unsupported("non-constant %s", what)
	}
	if isParam(c) {
		return -1, nil
	}
	if c.V == nil {
		if allowNull {
			return -1, nil
		}
		return 0, nil
	}
	v := c.V.(int64)
	if v < 0 {
		return 0, errs.New(errs.ErrInvalidInput, "2201W", "%s must not be negative", what)
	}
	return v, nil
}

func hasAgg(e Expr) bool {
	found := false
	visit(e, func(x Expr) {
		if _, ok := x.(*aggRef); ok {
			found = true
		}
	})
	return found
}

// liftAggregate rewrites an expression over the aggregate's input into one
// over its output: group expressions become group columns, aggregates their
// result columns; any other input column is an error.
func liftAggregate(e Expr, groups []Expr, ngroups int, clause string) (Expr, error) {
	keys := make([]string, len(groups))
	for i, g := range groups {
		keys[i] = g.String()
	}
	var bad error
	out := rewrite(e, func(x Expr) Expr {
		if a, ok := x.(*aggRef); ok {
			return &Col{Idx: ngroups + a.idx, Name: a.String(), T: a.t}
		}
		s := x.String()
		for i, k := range keys {
			if k == s {
				return &Col{Idx: i, Name: groupName(groups[i]), T: groups[i].Type()}
			}
		}
		if c, ok := x.(*Col); ok && bad == nil {
			bad = errs.New(errs.ErrInvalidInput, "42803", "column %q must appear in the GROUP BY clause or be used in an aggregate function", c.Name)
		}
		return nil
	})
	return out, bad
}

func groupName(e Expr) string {
	if c, ok := e.(*Col); ok {
		return c.Name
	}
	return "group"
}

// param turns the value of $k into a constant.
func (q *query) param(k int) (Expr, error) {
	if q.b.p.InferParams {
		if k < 1 || k > 65535 {
			return nil, errs.New(errs.ErrInvalidInput, "42P02", "there is no parameter $%d", k)
		}
		p := ParamRef{N: k, types: &q.b.p.ParamTypes}
		p.record(functions.TUnknown) // make room
		return &Const{V: p, T: functions.TUnknown}, nil
	}
	ps := q.b.p.Params
	if k < 1 || k > len(ps) {
		return nil, errs.New(errs.ErrInvalidInput, "42P02", "there is no parameter $%d", k)
	}
	switch v := ps[k-1].(type) {
	case nil:
		return &Const{V: nil, T: functions.TUnknown}, nil
	case bool:
		return &Const{V: v, T: functions.TBool}, nil
	case int:
		return &Const{V: int64(v), T: functions.TInt}, nil
	case int8:
		return &Const{V: int64(v), T: functions.TInt}, nil
	case int16:
		return &Const{V: int64(v), T: functions.TInt}, nil
	case int32:
		return &Const{V: int64(v), T: functions.TInt}, nil
	case int64:
		return &Const{V: v, T: functions.TInt}, nil
	case uint8:
		return &Const{V: int64(v), T: functions.TInt}, nil
	case uint16:
		return &Const{V: int64(v), T: functions.TInt}, nil
	case uint32:
		return &Const{V: int64(v), T: functions.TInt}, nil
	case functions.Decimal:
		return &Const{V: v, T: functions.TNumeric}, nil
	case float32:
		return &Const{V: float64(v), T: functions.TFloat}, nil
	case float64:
		return &Const{V: v, T: functions.TFloat}, nil
	case string:
		if !utf8.ValidString(v) || strings.IndexByte(v, 0) >= 0 {
			// PostgreSQL checks every text parameter on receipt
			return nil, errs.New(errs.ErrInvalidInput, "22021", "parameter $%d: invalid byte sequence for encoding \"UTF8\"", k)
		}
		return &Const{V: v, T: functions.TUnknown}, nil
	case time.Time:
		if y := v.UTC().Year(); y < 1678 || y > 2261 { // UnixNano would wrap
			return nil, errs.New(errs.ErrInvalidInput, "22008", "parameter $%d: timestamp out of range: %s", k, v.UTC().Format(time.RFC3339))
		}
		return &Const{V: v.UnixNano(), T: functions.TTimestamp}, nil
	case time.Duration:
		return &Const{V: functions.Interval{Nanos: int64(v)}, T: functions.TInterval}, nil
	}
	return nil, errs.New(errs.ErrInvalidInput, errs.CodeDatatypeMismatch, "parameter $%d has unsupported Go type %T", k, ps[k-1])
}

var rankingFuncs = map[string]bool{"row_number": true, "rank": true, "dense_rank": true, "percent_rank": true, "cume_dist": true, "ntile": true}
var valueFuncs = map[string]bool{"lag": true, "lead": true, "first_value": true, "last_value": true, "nth_value": true}

// windowCall binds f(...) OVER (...).
func (q *query) windowCall(name string, fc *pg.FuncCall, ctx exprCtx) (Expr, error) {
	if ctx != ctxSelect || q.inWin {
		return nil, errs.New(errs.ErrInvalidInput, "42P20", "window functions are not allowed in %s", map[bool]string{true: "window function calls", false: ctxNames[ctx]}[q.inWin])
	}
	w := fc.GetOver()
	if ref := w.GetRefname(); ref != "" || w.GetName() != "" {
		if ref == "" {
			ref = w.GetName() // OVER w
		}
		named, ok := q.windows[ref]
		if !ok {
			return nil, errs.New(errs.ErrNotFound, "42704", "window %q does not exist", ref)
		}
		if len(w.GetPartitionClause()) > 0 || w.GetFrameOptions()&frameNonDefault != 0 && w.GetName() == "" {
			return nil, unsupported("overriding PARTITION BY or the frame of a named window")
		}
		merged := &pg.WindowDef{PartitionClause: named.GetPartitionClause(), OrderClause: named.GetOrderClause(),
			FrameOptions: named.GetFrameOptions(), StartOffset: named.GetStartOffset(), EndOffset: named.GetEndOffset()}
		if len(w.GetOrderClause()) > 0 {
			merged.OrderClause = w.GetOrderClause()
		}
		if w.GetFrameOptions()&frameNonDefault != 0 {
			merged.FrameOptions, merged.StartOffset, merged.EndOffset = w.GetFrameOptions(), w.GetStartOffset(), w.GetEndOffset()
		}
		w = merged
	}
	if fc.GetAggDistinct() || fc.GetAggFilter() != nil || len(fc.GetAggOrder()) > 0 || fc.GetAggWithinGroup() {
		return nil, unsupported("DISTINCT, FILTER or ORDER BY in a window function call")
	}
	q.inWin = true
	defer func() { q.inWin = false }()
	call := WindowCall{Name: name}
	for _, a := range fc.GetArgs() {
		e, err := q.expr(a, ctxSelect)
		if err != nil {
			return nil, err
		}
		if e.Type() == functions.TUnknown {
			if e, err = castTo(e, functions.TText); err != nil {
				return nil, err
			}
		}
		call.Args = append(call.Args, e)
		call.ArgTypes = append(call.ArgTypes, e.Type())
	}
	switch {
	case rankingFuncs[name]:
		if name == "ntile" {
			if len(call.Args) != 1 || call.ArgTypes[0] != functions.TInt {
				return nil, errs.New(errs.ErrNotFound, "42883", "function ntile requires one bigint argument")
			}
			call.T = functions.TInt
		} else if len(call.Args) != 0 {
			return nil, errs.New(errs.ErrNotFound, "42883", "function %s takes no arguments", name)
		}
		switch name {
		case "percent_rank", "cume_dist":
			call.T = functions.TFloat
		default:
			call.T = functions.TInt
		}
	case valueFuncs[name]:
		if len(call.Args) == 0 || len(call.Args) > 3 {
			return nil, errs.New(errs.ErrNotFound, "42883", "function %s has the wrong number of arguments", name)
		}
		if len(call.Args) > 1 && call.ArgTypes[1] != functions.TInt {
			return nil, errs.New(errs.ErrNotFound, "42883", "the offset of %s must be an integer", name)
		}
		if len(call.Args) == 3 {
			d, err := coerceTo(call.Args[2], call.ArgTypes[0], "default of "+name)
			if err != nil {
				return nil, err
			}
			call.Args[2], call.ArgTypes[2] = d, d.Type()
		}
		call.T = call.ArgTypes[0]
	default:
		agg, ok := q.reg().Aggregate(name)
		if !ok || name == "percentile_cont" || name == "percentile_disc" {
			return nil, errs.New(errs.ErrNotFound, "42883", "window function %s does not exist", name)
		}
		agg = q.int4Sum(agg, fc)
		call.Name = agg.Name
		if fc.GetAggStar() {
			call.Args, call.ArgTypes = nil, nil
		}
		t, err := agg.Resolve(call.ArgTypes)
		if err != nil {
			return nil, err
		}
		call.Agg, call.T = true, t
	}
	for _, p := range w.GetPartitionClause() {
		e, err := q.expr(p, ctxSelect)
		if err != nil {
			return nil, err
		}
		call.Partition = append(call.Partition, e)
	}
	for _, o := range w.GetOrderClause() {
		sb := o.GetSortBy()
		e, err := q.expr(sb.GetNode(), ctxSelect)
		if err != nil {
			return nil, err
		}
		desc, nf := sortOrder(sb)
		call.Order = append(call.Order, e)
		call.Desc = append(call.Desc, desc)
		call.NullsFirst = append(call.NullsFirst, nf)
	}
	f, err := q.frame(w, len(call.Order))
	if err != nil {
		return nil, err
	}
	call.Frame = f
	q.wins = append(q.wins, call)
	return &winRef{idx: len(q.wins) - 1, t: call.T}, nil
}

// PostgreSQL frame option bits (parsenodes.h).
const (
	frameRange        = 0x00002
	frameRows         = 0x00004
	frameGroups       = 0x00008
	frameStartUnbPrec = 0x00020
	frameEndUnbFoll   = 0x00100
	frameStartCurrent = 0x00200
	frameEndCurrent   = 0x00400
	frameStartOffPrec = 0x00800
	frameEndOffPrec   = 0x01000
	frameStartOffFoll = 0x02000
	frameEndOffFoll   = 0x04000
	frameExcludeAny   = 0x08000 | 0x10000 | 0x20000
	frameNonDefault   = 0x00001
)

func (q *query) frame(w *pg.WindowDef, orderKeys int) (Frame, error) {
	o := w.GetFrameOptions()
	if o&frameNonDefault == 0 {
		if orderKeys == 0 {
			return Frame{StartUnbounded: true, EndUnbounded: true}, nil
		}
		return Frame{StartUnbounded: true, EndCurrent: true}, nil
	}
	if o&frameGroups != 0 {
		return Frame{}, unsupported("GROUPS frames")
	}
	if o&frameExcludeAny != 0 {
		return Frame{}, unsupported("frame EXCLUDE clauses")
	}
	f := Frame{Rows: o&frameRows != 0}
	offset := func(n *pg.Node, what string) (float64, error) {
		e, err := q.expr(n, ctxLimit)
		if err != nil {
			return 0, err
		}
		c, ok := e.(*Const)
		if !ok || c.V == nil {
			return 0, errs.New(errs.ErrInvalidInput, "22013", "frame %s offset must be a non-null constant", what)
		}
		var v float64
		switch x := c.V.(type) {
		case int64:
			v = float64(x)
		case float64:
			v = x
		case functions.Decimal:
			v = x.Float64()
		case string:
			if f.Rows {
				return 0, errs.New(errs.ErrInvalidInput, "22013", "ROWS offset must be an integer")
			}
			iv, err := functions.ParseInterval(x)
			if err != nil {
				return 0, err
			}
			ns, ok := iv.Fixed()
			if !ok {
				return 0, unsupported("RANGE offsets with months")
			}
			v = float64(ns)
		case functions.Interval:
			ns, ok := x.Fixed()
			if !ok {
				return 0, unsupported("RANGE offsets with months")
			}
			v = float64(ns)
		}
		if v < 0 {
			return 0, errs.New(errs.ErrInvalidInput, "22013", "frame %s offset must not be negative", what)
		}
		if !f.Rows && orderKeys != 1 {
			return 0, errs.New(errs.ErrInvalidInput, "42P20", "RANGE with offset PRECEDING/FOLLOWING requires exactly one ORDER BY column")
		}
		return v, nil
	}
	var err error
	switch {
	case o&frameStartUnbPrec != 0:
		f.StartUnbounded = true
	case o&frameStartCurrent != 0:
		f.StartCurrent = true
	case o&frameStartOffPrec != 0:
		f.StartOffset, err = offset(w.GetStartOffset(), "starting")
	case o&frameStartOffFoll != 0:
		f.StartOffset, err = offset(w.GetStartOffset(), "starting")
		f.StartOffset = -f.StartOffset
	default:
		return Frame{}, unsupported("this frame start")
	}
	if err != nil {
		return Frame{}, err
	}
	switch {
	case o&frameEndUnbFoll != 0:
		f.EndUnbounded = true
	case o&frameEndCurrent != 0:
		f.EndCurrent = true
	case o&frameEndOffFoll != 0:
		f.EndOffset, err = offset(w.GetEndOffset(), "ending")
	case o&frameEndOffPrec != 0:
		f.EndOffset, err = offset(w.GetEndOffset(), "ending")
		f.EndOffset = -f.EndOffset
	default:
		f.EndCurrent = true // "ROWS n PRECEDING" alone ends at the current row
	}
	return f, err
}

// subLink binds an uncorrelated subquery: scalar, EXISTS, IN / = ANY.
func (q *query) subLink(sl *pg.SubLink, ctx exprCtx) (Expr, error) {
	sel := sl.GetSubselect().GetSelectStmt()
	if sel == nil {
		return nil, unsupported("this subquery")
	}
	if q.b.outer != nil && q.b.outer.values == nil {
		// a subquery inside a correlated subquery: one level is supported
		inner := &binder{p: q.b.p, depth: q.b.depth}
		plan, err := inner.selectStmt(sel, q.env)
		if err != nil {
			var e *errs.Error
			if errors.As(err, &e) && e.Code == errs.CodeUndefinedColumn {
				return nil, unsupported("subqueries correlated across more than one level (%s)", e.Msg)
			}
			return nil, err
		}
		return q.finishSubLink(sl, plan, nil, nil, ctx)
	}
	oc := &outerCtx{sc: q.sc}
	sub := &binder{p: q.b.p, depth: q.b.depth, outer: oc}
	plan, err := sub.selectStmt(sel, q.env)
	if err != nil {
		return nil, err
	}
	var outer []Expr
	var replan func([]any) (Node, error)
	if len(oc.refs) > 0 {
		refs := append([]int(nil), oc.refs...)
		for _, j := range refs {
			outer = append(outer, &Col{Idx: j, Name: q.sc.cols[j].name, T: q.sc.cols[j].t})
		}
		p, env, sc := q.b.p, q.env, q.sc
		replan = func(vals []any) (Node, error) {
			m := make(map[int]any, len(vals))
			for k, j := range refs {
				m[j] = vals[k]
			}
			// a private copy of the outer scope: replans may run in
			// parallel (one per aggregate worker) and resolve marks use
			own := &scope{cols: sc.cols, used: make([]bool, len(sc.cols))}
			b := &binder{p: p, outer: &outerCtx{sc: own, values: m}}
			return b.selectStmt(sel, env)
		}
	}
	return q.finishSubLink(sl, plan, outer, replan, ctx)
}

// ref stands for the enclosing query's column j inside a subquery: its
// value when replanning, else a typed placeholder.
func (oc *outerCtx) ref(j int) Expr {
	t := oc.sc.cols[j].t
	if oc.values != nil {
		return &Const{V: oc.values[j], T: t}
	}
	k := -1
	for i, r := range oc.refs {
		if r == j {
			k = i
		}
	}
	if k < 0 {
		k = len(oc.refs)
		oc.refs = append(oc.refs, j)
	}
	return &Const{V: outerMarker{k}, T: t}
}

// finishSubLink builds the Subquery expression of a bound subquery.
func (q *query) finishSubLink(sl *pg.SubLink, plan Node, outer []Expr, replan func([]any) (Node, error), ctx exprCtx) (Expr, error) {
	cols := plan.Columns()
	switch sl.GetSubLinkType() {
	case pg.SubLinkType_EXISTS_SUBLINK:
		return &Subquery{Kind: "exists", Plan: plan, T: functions.TBool, Outer: outer, Replan: replan}, nil
	case pg.SubLinkType_EXPR_SUBLINK:
		if len(cols) != 1 {
			return nil, errs.New(errs.ErrInvalidInput, "42601", "subquery must return only one column")
		}
		return &Subquery{Kind: "scalar", Plan: plan, T: cols[0].T, Outer: outer, Replan: replan}, nil
	case pg.SubLinkType_ARRAY_SUBLINK:
		// ARRAY(SELECT …): the rows' values as an array, in PostgreSQL's
		// array text form (how ugnos holds arrays)
		if len(cols) != 1 {
			return nil, errs.New(errs.ErrInvalidInput, "42601", "subquery must return only one column")
		}
		return &Subquery{Kind: "array", Plan: plan, T: functions.TText, Outer: outer, Replan: replan}, nil
	case pg.SubLinkType_ANY_SUBLINK:
		op := "="
		if ns := sl.GetOperName(); len(ns) > 0 {
			op = ns[len(ns)-1].GetString_().GetSval()
		}
		if op != "=" {
			return nil, unsupported("%s ANY (subquery)", op)
		}
		if len(cols) != 1 {
			return nil, errs.New(errs.ErrInvalidInput, "42601", "subquery has too many columns")
		}
		arg, err := q.expr(sl.GetTestexpr(), ctx)
		if err != nil {
			return nil, err
		}
		t, ok := functions.CommonType([]functions.Type{arg.Type(), cols[0].T})
		if !ok || (arg.Type() != functions.TUnknown && !comparable(arg.Type(), cols[0].T)) {
			return nil, errs.New(errs.ErrNotFound, "42883", "operator does not exist: %s = %s", arg.Type().Name(), cols[0].T.Name())
		}
		if arg, err = coerceTo(arg, t, "IN"); err != nil {
			return nil, err
		}
		if cols[0].T != t {
			c := &Col{Idx: 0, Name: cols[0].Name, T: cols[0].T}
			cast, err := coerceTo(c, t, "IN")
			if err != nil {
				return nil, err
			}
			plan = &Project{Input: plan, Exprs: []Expr{cast}, Out: []Column{{Name: cols[0].Name, T: t}}}
			if replan != nil {
				inner, name := replan, cols[0].Name
				replan = func(vals []any) (Node, error) {
					n, err := inner(vals)
					if err != nil {
						return nil, err
					}
					return &Project{Input: n, Exprs: []Expr{cast}, Out: []Column{{Name: name, T: t}}}, nil
				}
			}
		}
		return &Subquery{Kind: "in", Plan: plan, Arg: arg, T: functions.TBool, Outer: outer, Replan: replan}, nil
	}
	return nil, unsupported("%s subqueries", strings.TrimSuffix(sl.GetSubLinkType().String(), "_SUBLINK"))
}

func comparable(a, b functions.Type) bool {
	return a == b || a.Numeric() && b.Numeric()
}
