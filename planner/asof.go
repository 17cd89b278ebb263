package planner

import (
	"errors"
	"fmt"
	"strings"

	pg "github.com/pganalyze/pg_query_go/v6"

	"github.com/ugnos/ugnos/errs"
	"github.com/ugnos/ugnos/functions"
)

// AsofJoin is an as-of join: for each row of Left, the row of Right with
// the greatest RightTime that is <= LeftTime (< when Strict) among the
// rows whose RightKeys equal the row's LeftKeys (NULL keys and times never
// match). Type "left" keeps unmatched left rows with NULLs, "inner" drops
// them. Ties on RightTime pick the last of the tied rows in Right's input
// order. Out is Left's columns followed by the first NRight columns of
// Right (its later columns carry the keys and time).
//
// The planner builds it from the PostgreSQL pattern
//
//	a [LEFT] JOIN LATERAL (SELECT … FROM b WHERE b.k = a.k … AND b.t <= a.t
//	    ORDER BY b.t DESC LIMIT 1) x ON true
//
// (or CROSS JOIN LATERAL for the inner form); see asofJoin.
type AsofJoin struct {
	Type                string // "inner" or "left"
	Left, Right         Node
	LeftKeys, RightKeys []Expr // over Left's / Right's columns, same types pairwise
	LeftTime, RightTime Expr
	Strict              bool
	NRight              int
	Out                 []Column
}

func (n *AsofJoin) Columns() []Column { return n.Out }
func (n *AsofJoin) Children() []Node  { return []Node{n.Left, n.Right} }
func (n *AsofJoin) Describe() string {
	s := "AsofJoin " + n.Type
	for i := range n.LeftKeys {
		s += " " + n.LeftKeys[i].String() + " = " + n.RightKeys[i].String()
	}
	op := "<="
	if n.Strict {
		op = "<"
	}
	return s + " time " + n.RightTime.String() + " " + op + " " + n.LeftTime.String()
}

// lateralUnsupported names the LATERAL forms that are not the as-of
// pattern; they are refused rather than answered some other way.
func lateralUnsupported(why string) error {
	return unsupported("LATERAL subquery (%s; only the as-of form \"[LEFT] JOIN LATERAL (SELECT … FROM b WHERE b.key = a.key AND b.time <= a.time ORDER BY b.time DESC LIMIT 1) x ON true\" is)", why)
}

// splitAnd returns the top-level conjuncts of a WHERE clause.
func splitAnd(n *pg.Node, out []*pg.Node) []*pg.Node {
	if n == nil {
		return out
	}
	if be := n.GetBoolExpr(); be != nil && be.GetBoolop() == pg.BoolExprType_AND_EXPR {
		for _, a := range be.GetArgs() {
			out = splitAnd(a, out)
		}
		return out
	}
	return append(out, n)
}

// stripCasts removes casts around an expression.
func stripCasts(e Expr) Expr {
	for {
		c, ok := e.(*Cast)
		if !ok {
			return e
		}
		e = c.E
	}
}

// asofTimeType reports whether the as-of operator compares values of t.
func asofTimeType(t functions.Type) bool {
	switch t {
	case functions.TInt, functions.TFloat, functions.TTimestamp, functions.TDate:
		return true
	}
	return false
}

// asofJoin binds `l [LEFT|CROSS] JOIN LATERAL (subquery) alias ON true`,
// which is supported in the as-of form only (see AsofJoin).
func (b *binder) asofJoin(j *pg.JoinExpr, l Node, lsc *scope, rs *pg.RangeSubselect, e *env) (Node, *scope, error) {
	typ := ""
	switch j.GetJointype() {
	case pg.JoinType_JOIN_INNER:
		typ = "inner"
	case pg.JoinType_JOIN_LEFT:
		typ = "left"
	default:
		return nil, nil, lateralUnsupported("RIGHT or FULL join")
	}
	if j.GetIsNatural() || len(j.GetUsingClause()) > 0 {
		return nil, nil, lateralUnsupported("NATURAL or USING")
	}
	if qual := j.GetQuals(); qual != nil {
		if c := qual.GetAConst(); c == nil || c.GetBoolval() == nil || !c.GetBoolval().GetBoolval() {
			if tc := qual.GetTypeCast(); tc == nil || !isTrueLiteral(tc) {
				return nil, nil, lateralUnsupported("join condition other than ON true")
			}
		}
	}
	s := rs.GetSubquery().GetSelectStmt()
	switch {
	case s == nil || s.GetOp() != pg.SetOperation_SETOP_NONE || len(s.GetValuesLists()) > 0:
		return nil, nil, lateralUnsupported("not a plain SELECT")
	case s.GetWithClause() != nil, len(s.GetGroupClause()) > 0, s.GetHavingClause() != nil,
		len(s.GetDistinctClause()) > 0, len(s.GetWindowClause()) > 0, s.GetIntoClause() != nil,
		len(s.GetLockingClause()) > 0, s.GetLimitOffset() != nil:
		return nil, nil, lateralUnsupported("WITH, GROUP BY, HAVING, DISTINCT, WINDOW or OFFSET")
	case len(s.GetFromClause()) != 1:
		return nil, nil, lateralUnsupported("FROM must name one relation")
	}
	if lc := s.GetLimitCount().GetAConst(); lc == nil || lc.GetIval() == nil || lc.GetIval().GetIval() != 1 {
		return nil, nil, lateralUnsupported("LIMIT 1 is required")
	}
	if len(s.GetSortClause()) != 1 {
		return nil, nil, lateralUnsupported("ORDER BY time DESC is required")
	}
	sb := s.GetSortClause()[0].GetSortBy()
	if desc, _ := sortOrder(sb); !desc {
		return nil, nil, lateralUnsupported("ORDER BY time DESC is required")
	}
	// bind the inner relation once to classify the conditions
	_, isc, _, err := b.from(s.GetFromClause(), e)
	if err != nil {
		return nil, nil, err
	}
	nl := len(l.Columns())
	// bind as PostgreSQL scopes a LATERAL subquery: its own relation
	// first, then the left side; the result reads the combined columns
	// (left first), as a join condition would
	oc := &outerCtx{sc: lsc}
	q := &query{b: &binder{p: b.p, depth: b.depth, outer: oc}, sc: isc, env: e}
	bindHere := func(n *pg.Node) (Expr, error) {
		x, err := q.expr(n, ctxWhere)
		var ee *errs.Error
		if errors.As(err, &ee) && (ee.Code == "42803" || ee.Code == "42P20") {
			return nil, lateralUnsupported("aggregates or window functions")
		}
		if err != nil {
			return nil, err
		}
		if len(q.aggs) > 0 || len(q.wins) > 0 {
			return nil, lateralUnsupported("aggregates or window functions")
		}
		return rewrite(x, func(y Expr) Expr {
			switch y := y.(type) {
			case *Col:
				return &Col{Idx: y.Idx + nl, Name: y.Name, T: y.T}
			case *Const:
				if m, ok := y.V.(outerMarker); ok {
					j := oc.refs[m.k]
					return &Col{Idx: j, Name: lsc.cols[j].name, T: y.T}
				}
			}
			return nil
		}), nil
	}
	ord, err := bindHere(sb.GetNode())
	if err != nil {
		return nil, nil, err
	}
	if side(ord, nl) != 2 {
		return nil, nil, lateralUnsupported("ORDER BY must read the subquery's relation only")
	}
	n := &AsofJoin{Type: typ, Left: l}
	var innerWhere, keyAST []*pg.Node
	var timeAST *pg.Node
	var timeBound Expr
	for _, c := range splitAnd(s.GetWhereClause(), nil) {
		x, err := bindHere(c)
		if err != nil {
			return nil, nil, err
		}
		sd := side(x, nl)
		if sd == 0 || sd == 2 {
			innerWhere = append(innerWhere, c)
			continue
		}
		if sd == 1 {
			return nil, nil, lateralUnsupported("a condition on the outer relation only")
		}
		call, ok := x.(*Call)
		ae := c.GetAExpr()
		if !ok || len(call.Args) != 2 || ae == nil || ae.GetKind() != pg.A_Expr_Kind_AEXPR_OP || len(ae.GetName()) != 1 ||
			ae.GetName()[0].GetString_().GetSval() != call.Name {
			return nil, nil, lateralUnsupported("a correlated condition other than equality or the time bound")
		}
		sa, sb := side(call.Args[0], nl), side(call.Args[1], nl)
		var ia, oa Expr // inner, outer
		var iast *pg.Node
		op := call.Name
		switch {
		case sa == 2 && sb == 1:
			ia, oa, iast = call.Args[0], call.Args[1], ae.GetLexpr()
		case sa == 1 && sb == 2:
			ia, oa, iast = call.Args[1], call.Args[0], ae.GetRexpr()
			op = map[string]string{"=": "=", "<": ">", "<=": ">=", ">": "<", ">=": "<="}[op]
		default:
			return nil, nil, lateralUnsupported("a correlated condition other than equality or the time bound")
		}
		switch op {
		case "=":
			n.LeftKeys = append(n.LeftKeys, oa)
			keyAST = append(keyAST, iast)
		case "<", "<=":
			if timeAST != nil {
				return nil, nil, lateralUnsupported("more than one time bound")
			}
			if !asofTimeType(ia.Type()) || ia.Type() != oa.Type() {
				return nil, nil, lateralUnsupported("time bound of type " + ia.Type().String())
			}
			n.Strict = op == "<"
			n.LeftTime = oa
			timeAST, timeBound = iast, ia
		default:
			return nil, nil, lateralUnsupported("a time bound other than inner.time <= outer.time or <")
		}
	}
	if timeAST == nil {
		return nil, nil, lateralUnsupported("no time bound b.time <= a.time")
	}
	if stripCasts(ord).String() != stripCasts(timeBound).String() {
		return nil, nil, lateralUnsupported("ORDER BY must be the bounded time")
	}
	// targets must read the inner relation only
	for _, t := range s.GetTargetList() {
		rt := t.GetResTarget()
		if cr := rt.GetVal().GetColumnRef(); cr != nil && isStar(cr) {
			continue
		}
		x, err := bindHere(rt.GetVal())
		if err != nil {
			return nil, nil, err
		}
		if side(x, nl)&1 != 0 {
			return nil, nil, lateralUnsupported("select list reading the outer relation")
		}
		visitSubquery := false
		visit(x, func(y Expr) {
			if _, ok := y.(*Subquery); ok {
				visitSubquery = true
			}
		})
		if visitSubquery {
			return nil, nil, lateralUnsupported("subqueries in the select list")
		}
	}
	// the right input: the subquery's select list plus the keys and the
	// time, under its own WHERE conditions
	sub := &pg.SelectStmt{Op: pg.SetOperation_SETOP_NONE, LimitOption: pg.LimitOption_LIMIT_OPTION_DEFAULT, TargetList: append([]*pg.Node(nil), s.GetTargetList()...), FromClause: s.GetFromClause()}
	for _, k := range append(append([]*pg.Node(nil), keyAST...), timeAST) {
		sub.TargetList = append(sub.TargetList, &pg.Node{Node: &pg.Node_ResTarget{ResTarget: &pg.ResTarget{Val: k}}})
	}
	switch len(innerWhere) {
	case 0:
	case 1:
		sub.WhereClause = innerWhere[0]
	default:
		sub.WhereClause = &pg.Node{Node: &pg.Node_BoolExpr{BoolExpr: &pg.BoolExpr{Boolop: pg.BoolExprType_AND_EXPR, Args: innerWhere}}}
	}
	right, err := b.selectStmt(sub, e)
	if err != nil {
		return nil, nil, err
	}
	rcols := right.Columns()
	n.NRight = len(rcols) - len(keyAST) - 1
	for i := range keyAST {
		c := rcols[n.NRight+i]
		var rk Expr = &Col{Idx: n.NRight + i, Name: c.Name, T: c.T}
		if c.T != n.LeftKeys[i].Type() {
			if rk, err = castTo(rk, n.LeftKeys[i].Type()); err != nil {
				return nil, nil, err
			}
		}
		n.RightKeys = append(n.RightKeys, rk)
	}
	tc := rcols[len(rcols)-1]
	n.RightTime = &Col{Idx: len(rcols) - 1, Name: tc.Name, T: tc.T}
	if tc.T != n.LeftTime.Type() {
		return nil, nil, lateralUnsupported(fmt.Sprintf("time bound comparing %s with %s", tc.T, n.LeftTime.Type()))
	}
	n.Right = right
	n.Out = append(append([]Column(nil), l.Columns()...), rcols[:n.NRight]...)
	// the scope: left columns, then the subquery's under its alias
	alias := ""
	var colnames []*pg.Node
	if a := rs.GetAlias(); a != nil {
		alias, colnames = a.GetAliasname(), a.GetColnames()
	}
	if len(colnames) > n.NRight {
		return nil, nil, errs.New(errs.ErrInvalidInput, "42P10", "table %q has %d columns available but %d columns specified", alias, n.NRight, len(colnames))
	}
	rsc := &scope{}
	for i, col := range rcols[:n.NRight] {
		name := col.Name
		if i < len(colnames) {
			name = colnames[i].GetString_().GetSval()
		}
		rsc.cols = append(rsc.cols, scopeCol{name: name, table: alias, t: col.T, pg: col.PGType})
	}
	rsc.used = make([]bool, len(rsc.cols))
	return n, joinScope(lsc, rsc), nil
}

// isTrueLiteral recognises 'true'::boolean / 't'::bool.
func isTrueLiteral(tc *pg.TypeCast) bool {
	names := tc.GetTypeName().GetNames()
	if len(names) == 0 || !strings.HasPrefix(names[len(names)-1].GetString_().GetSval(), "bool") {
		return false
	}
	sv := tc.GetArg().GetAConst().GetSval()
	if sv == nil {
		return false
	}
	switch strings.ToLower(sv.GetSval()) {
	case "t", "true", "y", "yes", "on", "1":
		return true
	}
	return false
}
