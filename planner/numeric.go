package planner

import (
	"math/big"
	"strings"

	pg "github.com/pganalyze/pg_query_go/v6"

	"github.com/ugnos/ugnos/errs"
	"github.com/ugnos/ugnos/functions"
)

// numericConst is a non-integer numeric literal (1.5, 1e3, .5) or an
// integer literal too large for bigint: numeric, as in PostgreSQL.
func numericConst(lit string) (Expr, error) {
	s := strings.ReplaceAll(lit, "_", "")
	digits := strings.TrimLeft(s, "+-")
	if len(digits) > 2 && digits[0] == '0' && strings.ContainsRune("xXoObB", rune(digits[1])) {
		z, ok := new(big.Int).SetString(digits, 0)
		if !ok {
			return nil, errs.New(errs.ErrInvalidInput, errs.CodeInvalidText, "invalid number %q", lit)
		}
		if strings.HasPrefix(s, "-") {
			z.Neg(z)
		}
		s = z.String()
	}
	d, err := functions.ParseDecimal(s)
	if err != nil {
		return nil, err
	}
	return &Const{V: d, T: functions.TNumeric}, nil
}

// castWithMod is CAST(e AS t), applying numeric(p, s) when the type name
// has those modifiers.
func (q *query) castWithMod(e Expr, t functions.Type, tn *pg.TypeName) (Expr, error) {
	e, err := castTo(e, t)
	if err != nil || t != functions.TNumeric || len(tn.GetTypmods()) == 0 {
		return e, err
	}
	mods := tn.GetTypmods()
	if len(mods) > 2 {
		return nil, errs.New(errs.ErrInvalidInput, "22023", "invalid NUMERIC type modifier")
	}
	var ps [2]int64
	for i, m := range mods {
		c := m.GetAConst()
		if c == nil || c.GetIval() == nil {
			return nil, errs.New(errs.ErrInvalidInput, "22023", "type modifiers must be simple constants or identifiers")
		}
		ps[i] = int64(c.GetIval().GetIval())
	}
	if err := functions.CheckTypmod(ps[0], ps[1]); err != nil {
		return nil, err
	}
	return q.call("numeric_typmod", []Expr{e, &Const{V: ps[0], T: functions.TInt}, &Const{V: ps[1], T: functions.TInt}})
}

// numericOperands applies PostgreSQL's implicit casts between the numeric
// types to a binary operator's operands: bigint with numeric compares and
// computes as numeric; numeric with double precision as double precision
// (a numeric constant folds into a double, so `field > 90.5` still
// pushes down as a zone-map range).
func numericOperands(l, r Expr) (Expr, Expr, error) {
	lt, rt := l.Type(), r.Type()
	if lt == rt || !lt.Numeric() || !rt.Numeric() || (lt != functions.TNumeric && rt != functions.TNumeric) {
		return l, r, nil
	}
	t := functions.TNumeric
	if lt == functions.TFloat || rt == functions.TFloat {
		t = functions.TFloat
	}
	var err error
	if lt != t {
		l, err = castTo(l, t)
	} else {
		r, err = castTo(r, t)
	}
	return l, r, err
}

// int4Sum swaps sum() for functions.Int4Sum when PostgreSQL would type the
// argument integer: sum(CASE WHEN … THEN 1 ELSE 0 END) is bigint there
// (sum(int4)), while sum over bigint values is numeric.
func (q *query) int4Sum(agg *functions.Aggregate, fc *pg.FuncCall) *functions.Aggregate {
	if agg.Name != "sum" || len(fc.GetArgs()) != 1 || !pgInt4(fc.GetArgs()[0]) {
		return agg
	}
	if a, ok := q.reg().Aggregate(functions.Int4Sum); ok {
		return a
	}
	return agg
}

// pgInt4 reports whether PostgreSQL types expression n integer or
// smallint (ugnos computes it as bigint): an integer literal within 32
// bits, a cast to those types, and arithmetic, CASE, COALESCE, NULLIF,
// GREATEST and LEAST over them, and the string length functions.
func pgInt4(n *pg.Node) bool {
	switch {
	case n.GetAConst() != nil:
		return n.GetAConst().GetIval() != nil
	case n.GetTypeCast() != nil:
		names := n.GetTypeCast().GetTypeName().GetNames()
		switch strings.ToLower(names[len(names)-1].GetString_().GetSval()) {
		case "int4", "integer", "int", "int2", "smallint":
			return len(n.GetTypeCast().GetTypeName().GetArrayBounds()) == 0
		}
	case n.GetAExpr() != nil:
		a := n.GetAExpr()
		op := ""
		if ns := a.GetName(); len(ns) > 0 {
			op = ns[len(ns)-1].GetString_().GetSval()
		}
		switch {
		case a.GetKind() == pg.A_Expr_Kind_AEXPR_NULLIF:
			return pgInt4(a.GetLexpr())
		case a.GetKind() != pg.A_Expr_Kind_AEXPR_OP || !strings.Contains("+-*/%", op) || len(op) != 1:
			return false
		case a.GetLexpr() == nil:
			return pgInt4(a.GetRexpr())
		}
		return pgInt4(a.GetLexpr()) && pgInt4(a.GetRexpr())
	case n.GetCaseExpr() != nil:
		c := n.GetCaseExpr()
		items := []*pg.Node{c.GetDefresult()}
		for _, w := range c.GetArgs() {
			items = append(items, w.GetCaseWhen().GetResult())
		}
		return allInt4(items)
	case n.GetCoalesceExpr() != nil:
		return allInt4(n.GetCoalesceExpr().GetArgs())
	case n.GetMinMaxExpr() != nil:
		return allInt4(n.GetMinMaxExpr().GetArgs())
	case n.GetFuncCall() != nil:
		names := n.GetFuncCall().GetFuncname()
		switch names[len(names)-1].GetString_().GetSval() {
		case "length", "char_length", "character_length", "octet_length", "bit_length", "strpos", "ascii", "scale":
			return true
		}
	}
	return false
}

// allInt4 reports whether the items are integer or NULL (nil: absent),
// at least one integer.
func allInt4(items []*pg.Node) bool {
	some := false
	for _, it := range items {
		switch {
		case it == nil || it.GetAConst() != nil && it.GetAConst().GetIsnull():
		case pgInt4(it):
			some = true
		default:
			return false
		}
	}
	return some
}

// unknownToText types unknown literals as text (the operands of ||).
func unknownToText(l, r Expr) (Expr, Expr, error) {
	var err error
	if l.Type() == functions.TUnknown && r.Type() != functions.TUnknown {
		l, err = castTo(l, functions.TText)
	}
	if err == nil && r.Type() == functions.TUnknown && l.Type() != functions.TUnknown {
		r, err = castTo(r, functions.TText)
	}
	return l, r, err
}
