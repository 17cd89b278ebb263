package planner

import (
	pg "github.com/pganalyze/pg_query_go/v6"

	"github.com/ugnos/ugnos/errs"
	"github.com/ugnos/ugnos/functions"
)

func joinScope(l, r *scope) *scope {
	sc := &scope{cols: append(append([]scopeCol(nil), l.cols...), r.cols...)}
	sc.used = make([]bool, len(sc.cols))
	return sc
}

func joinOut(l, r Node) []Column {
	return append(append([]Column(nil), l.Columns()...), r.Columns()...)
}

func crossJoin(l Node, lsc *scope, r Node, rsc *scope) (Node, *scope) {
	return &Join{Type: "inner", Left: l, Right: r, Out: joinOut(l, r)}, joinScope(lsc, rsc)
}

// join binds a JoinExpr: [INNER | LEFT | RIGHT | FULL] JOIN ... ON ...
func (b *binder) join(j *pg.JoinExpr, e *env) (Node, *scope, error) {
	if j.GetAlias() != nil {
		return nil, nil, unsupported("aliases on a JOIN")
	}
	l, lsc, _, err := b.from([]*pg.Node{j.GetLarg()}, e)
	if err != nil {
		return nil, nil, err
	}
	if rs := j.GetRarg().GetRangeSubselect(); rs != nil && rs.GetLateral() {
		return b.asofJoin(j, l, lsc, rs, e)
	}
	r, rsc, _, err := b.from([]*pg.Node{j.GetRarg()}, e)
	if err != nil {
		return nil, nil, err
	}
	n := &Join{Left: l, Right: r, Out: joinOut(l, r)}
	switch j.GetJointype() {
	case pg.JoinType_JOIN_INNER:
		n.Type = "inner"
	case pg.JoinType_JOIN_LEFT:
		n.Type = "left"
	case pg.JoinType_JOIN_RIGHT:
		n.Type = "right"
	case pg.JoinType_JOIN_FULL:
		n.Type = "full"
	default:
		return nil, nil, unsupported("this join type")
	}
	sc := joinScope(lsc, rsc)
	using := j.GetUsingClause()
	if j.GetIsNatural() { // USING every column name the two sides share
		using = nil
		for _, lc := range lsc.cols {
			for _, rc := range rsc.cols {
				if lc.name == rc.name && !lc.hidden && !rc.hidden {
					using = append(using, &pg.Node{Node: &pg.Node_String_{String_: &pg.String{Sval: lc.name}}})
					break
				}
			}
		}
		if len(using) == 0 {
			return n, sc, nil // no common column: a cross join
		}
	}
	if len(using) > 0 {
		return b.usingJoin(n, lsc, rsc, using)
	}
	if j.GetQuals() != nil {
		q := &query{b: b, sc: sc, env: e}
		cond, err := q.expr(j.GetQuals(), ctxWhere)
		if err != nil {
			return nil, nil, err
		}
		if cond, err = coerceTo(cond, functions.TBool, "argument of JOIN/ON"); err != nil {
			return nil, nil, err
		}
		addJoinConds(n, conjuncts(cond, nil))
	} else if n.Type != "inner" {
		return nil, nil, errs.New(errs.ErrInvalidInput, errs.CodeSyntaxError, "%s JOIN needs an ON condition", n.Type)
	}
	return n, sc, nil
}

// side tells which inputs of a join an expression reads: 1 left, 2 right,
// 3 both, 0 neither.
func side(e Expr, nLeft int) int {
	s := 0
	visit(e, func(x Expr) {
		if c, ok := x.(*Col); ok {
			if c.Idx < nLeft {
				s |= 1
			} else {
				s |= 2
			}
		}
	})
	return s
}

// shift renumbers the columns of an expression by -by.
func shift(e Expr, by int) Expr {
	return rewrite(e, func(x Expr) Expr {
		if c, ok := x.(*Col); ok {
			return &Col{Idx: c.Idx - by, Name: c.Name, T: c.T}
		}
		return nil
	})
}

// addJoinConds turns conditions into equality keys where they compare a
// left expression with a right one, and keeps the rest as the residual.
func addJoinConds(n *Join, conds []Expr) {
	nl := len(n.Left.Columns())
	var rest []Expr
	for _, c := range conds {
		call, ok := c.(*Call)
		if ok && call.Name == "=" && len(call.Args) == 2 {
			a, b := call.Args[0], call.Args[1]
			sa, sb := side(a, nl), side(b, nl)
			if sa == 2 && sb == 1 {
				a, b, sa, sb = b, a, sb, sa
			}
			if sa == 1 && sb == 2 && a.Type() == b.Type() {
				n.LeftKeys = append(n.LeftKeys, a)
				n.RightKeys = append(n.RightKeys, shift(b, nl))
				continue
			}
		}
		rest = append(rest, c)
	}
	if len(rest) == 0 {
		return
	}
	all := rest
	if n.Residual != nil {
		all = append([]Expr{n.Residual}, rest...)
	}
	if len(all) == 1 {
		n.Residual = all[0]
	} else {
		n.Residual = &Call{Name: "and", Args: all, T: functions.TBool}
	}
}

// pushIntoJoin moves WHERE conjuncts of inner joins down the join tree:
// each goes to the lowest inner join whose inputs hold every column it
// reads (as a key or the residual), or above the one input it reads as a
// filter, so that FROM a, b, c WHERE a.x = b.x AND b.y = c.y joins on keys
// at each level instead of building cross products. It returns what must
// stay above the join.
func pushIntoJoin(n Node, where Expr) Expr {
	j, ok := n.(*Join)
	if !ok || j.Type != "inner" {
		return where
	}
	addJoinConds(j, distribute(j, conjuncts(where, nil)))
	return nil
}

// distribute sends the conditions that read only one input of the inner
// join j into that input and returns those that read both (or neither, or
// hold a subquery, whose outer references are not renumbered).
func distribute(j *Join, conds []Expr) (here []Expr) {
	nl := len(j.Left.Columns())
	var toL, toR []Expr
	for _, c := range conds {
		sub := false
		visit(c, func(x Expr) {
			if _, ok := x.(*Subquery); ok {
				sub = true
			}
		})
		switch s := side(c, nl); {
		case sub || s == 0 || s == 3:
			here = append(here, c)
		case s == 1:
			toL = append(toL, c)
		default:
			toR = append(toR, shift(c, nl))
		}
	}
	j.Left = pushInto(j.Left, toL)
	j.Right = pushInto(j.Right, toR)
	return here
}

// pushInto applies conditions to an input of an inner join: into it when
// it is an inner join itself, else as a filter above it.
func pushInto(n Node, conds []Expr) Node {
	if len(conds) == 0 {
		return n
	}
	if j, ok := n.(*Join); ok && j.Type == "inner" {
		addJoinConds(j, distribute(j, conds))
		return j
	}
	pred := conds[0]
	if len(conds) > 1 {
		pred = &Call{Name: "and", Args: conds, T: functions.TBool}
	}
	return &Filter{Input: n, Pred: pred}
}

// usingJoin finishes JOIN ... USING (cols): equality on each named column,
// and one merged output column per name (PostgreSQL: COALESCE of the two
// sides, which is the left value for inner and left joins), followed by
// the other left and right columns; the inputs' own copies stay reachable
// by qualified name only.
func (b *binder) usingJoin(n *Join, lsc, rsc *scope, using []*pg.Node) (Node, *scope, error) {
	nl := len(lsc.cols)
	var names []string
	isUsing := map[string]bool{}
	var conds []Expr
	var merged []Expr
	for _, u := range using {
		name := u.GetString_().GetSval()
		if isUsing[name] {
			return nil, nil, errs.New(errs.ErrInvalidInput, "42701", "column name %q appears more than once in USING clause", name)
		}
		li, err := lsc.resolve("", name)
		if err != nil {
			return nil, nil, errs.New(errs.ErrNotFound, errs.CodeUndefinedColumn, "column %q specified in USING clause does not exist in left table", name)
		}
		ri, err := rsc.resolve("", name)
		if err != nil {
			return nil, nil, errs.New(errs.ErrNotFound, errs.CodeUndefinedColumn, "column %q specified in USING clause does not exist in right table", name)
		}
		l := Expr(&Col{Idx: li, Name: name, T: lsc.cols[li].t})
		r := Expr(&Col{Idx: nl + ri, Name: name, T: rsc.cols[ri].t})
		t, ok := functions.CommonType([]functions.Type{l.Type(), r.Type()})
		if !ok {
			return nil, nil, errs.New(errs.ErrNotFound, "42883", "JOIN/USING types %s and %s cannot be matched", l.Type().Name(), r.Type().Name())
		}
		if l, err = coerceTo(l, t, "JOIN/USING"); err != nil {
			return nil, nil, err
		}
		if r, err = coerceTo(r, t, "JOIN/USING"); err != nil {
			return nil, nil, err
		}
		conds = append(conds, &Call{Name: "=", Args: []Expr{l, r}, T: functions.TBool})
		m := l
		if n.Type == "right" || n.Type == "full" {
			m = &Call{Name: "coalesce", Args: []Expr{l, r}, T: t}
		}
		merged = append(merged, m)
		names = append(names, name)
		isUsing[name] = true
	}
	addJoinConds(n, conds)
	// output: merged, other left, other right, then the hidden copies
	p := &Project{Input: n}
	sc := &scope{}
	add := func(e Expr, c scopeCol) {
		p.Exprs = append(p.Exprs, e)
		p.Out = append(p.Out, Column{Name: c.name, T: e.Type()})
		sc.cols = append(sc.cols, c)
	}
	for i, m := range merged {
		add(m, scopeCol{name: names[i], t: m.Type()})
	}
	for i, c := range lsc.cols {
		if !isUsing[c.name] {
			add(&Col{Idx: i, Name: c.name, T: c.t}, c)
		}
	}
	for i, c := range rsc.cols {
		if !isUsing[c.name] {
			add(&Col{Idx: nl + i, Name: c.name, T: c.t}, c)
		}
	}
	for i, c := range lsc.cols {
		if isUsing[c.name] {
			c.hidden = true
			add(&Col{Idx: i, Name: c.name, T: c.t}, c)
		}
	}
	for i, c := range rsc.cols {
		if isUsing[c.name] {
			c.hidden = true
			add(&Col{Idx: nl + i, Name: c.name, T: c.t}, c)
		}
	}
	sc.used = make([]bool, len(sc.cols))
	return p, sc, nil
}
