package sql

import (
	"math/big"
	"strconv"
	"strings"

	pg_query "github.com/pganalyze/pg_query_go/v6"
)

// In the raw tree a literal is an A_Const: strings (and untyped literals
// such as '2016-01-01', which the planner types from context) in Sval,
// integers that fit in int32 in Ival, every other number (fractions,
// exponents, integers beyond int32) as its text in Fval, true/false in
// Boolval, NULL with Isnull set. A minus sign in front of a number literal
// is folded into the constant by the grammar.

// StringConst returns the value of a string literal ('…', E'…', $$…$$).
// It does not look through casts: for `'1 hour'::interval` pass the
// TypeCast's Arg.
func StringConst(n *pg_query.Node) (string, bool) {
	c := n.GetAConst()
	if c == nil || c.GetIsnull() || c.GetSval() == nil {
		return "", false
	}
	return c.GetSval().GetSval(), true
}

// IntConst returns the value of an integer literal, including those outside
// int32 that the grammar keeps as Fval text (9999999999, 0x7fffffffff,
// 1_000_000_000_000). It reports false for fractions, exponents and values
// outside int64.
func IntConst(n *pg_query.Node) (int64, bool) {
	c := n.GetAConst()
	if c == nil || c.GetIsnull() {
		return 0, false
	}
	if iv := c.GetIval(); iv != nil {
		return int64(iv.GetIval()), true
	}
	if fv := c.GetFval(); fv != nil {
		return parseIntLiteral(fv.GetFval())
	}
	return 0, false
}

// FloatConst returns the value of any numeric literal as a float64
// (1.5, -2e-3, 42, 9999999999). Very large values round to ±Inf.
func FloatConst(n *pg_query.Node) (float64, bool) {
	c := n.GetAConst()
	if c == nil || c.GetIsnull() {
		return 0, false
	}
	if iv := c.GetIval(); iv != nil {
		return float64(iv.GetIval()), true
	}
	fv := c.GetFval()
	if fv == nil {
		return 0, false
	}
	s := strings.ReplaceAll(fv.GetFval(), "_", "")
	if neg, digits := splitSign(s); hasRadixPrefix(digits) {
		z, ok := new(big.Int).SetString(digits, 0)
		if !ok {
			return 0, false
		}
		f, _ := new(big.Float).SetInt(z).Float64()
		if neg {
			f = -f
		}
		return f, true
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil && !isRangeErr(err) {
		return 0, false
	}
	return f, true
}

// BoolConst returns the value of TRUE or FALSE.
func BoolConst(n *pg_query.Node) (bool, bool) {
	c := n.GetAConst()
	if c == nil || c.GetIsnull() || c.GetBoolval() == nil {
		return false, false
	}
	return c.GetBoolval().GetBoolval(), true
}

// IsNullConst reports whether n is the literal NULL.
func IsNullConst(n *pg_query.Node) bool {
	return n.GetAConst().GetIsnull()
}

// NameOf returns the name a node spells: a ColumnRef's parts joined by "."
// (`cpu.hostname`, `"time"` → time, `t.*` → t.*), a String's value, a
// RangeVar's [catalog.][schema.]relation, or "*" for A_Star. Quoted
// identifiers keep their case; unquoted ones arrive already lower-cased.
// It returns "" for any other node.
func NameOf(n *pg_query.Node) string {
	switch {
	case n.GetColumnRef() != nil:
		return JoinNames(n.GetColumnRef().GetFields())
	case n.GetString_() != nil:
		return n.GetString_().GetSval()
	case n.GetAStar() != nil:
		return "*"
	case n.GetRangeVar() != nil:
		rv := n.GetRangeVar()
		parts := make([]string, 0, 3)
		for _, p := range []string{rv.GetCatalogname(), rv.GetSchemaname(), rv.GetRelname()} {
			if p != "" {
				parts = append(parts, p)
			}
		}
		return strings.Join(parts, ".")
	}
	return ""
}

// JoinNames joins a list of name parts, such as FuncCall.Funcname
// (pg_catalog.now), TypeName.Names (pg_catalog.int4), A_Expr.Name (=) or
// ColumnRef.Fields, with ".". Parts that are neither String nor A_Star
// (array subscripts) are skipped.
func JoinNames(parts []*pg_query.Node) string {
	if len(parts) == 1 {
		return NameOf(parts[0])
	}
	var b strings.Builder
	for _, p := range parts {
		name := ""
		switch {
		case p.GetString_() != nil:
			name = p.GetString_().GetSval()
		case p.GetAStar() != nil:
			name = "*"
		default:
			continue
		}
		if b.Len() > 0 {
			b.WriteByte('.')
		}
		b.WriteString(name)
	}
	return b.String()
}

// parseIntLiteral parses the text of a PostgreSQL integer literal: decimal
// (leading zeros are decimal, unlike Go), 0x/0o/0b, underscores between
// digits, an optional leading minus from constant folding.
func parseIntLiteral(s string) (int64, bool) {
	s = strings.ReplaceAll(s, "_", "")
	neg, digits := splitSign(s)
	var (
		u   uint64
		err error
	)
	if hasRadixPrefix(digits) {
		u, err = strconv.ParseUint(digits, 0, 64)
	} else {
		u, err = strconv.ParseUint(digits, 10, 64)
	}
	switch {
	case err != nil:
		return 0, false
	case neg && u <= 1<<63:
		return int64(-u), true // -(1<<63) wraps to MinInt64
	case !neg && u < 1<<63:
		return int64(u), true
	}
	return 0, false
}

func splitSign(s string) (neg bool, rest string) {
	if strings.HasPrefix(s, "-") {
		return true, s[1:]
	}
	return false, strings.TrimPrefix(s, "+")
}

func hasRadixPrefix(s string) bool {
	if len(s) < 2 || s[0] != '0' {
		return false
	}
	switch s[1] {
	case 'x', 'X', 'o', 'O', 'b', 'B':
		return true
	}
	return false
}

func isRangeErr(err error) bool {
	ne, ok := err.(*strconv.NumError)
	return ok && ne.Err == strconv.ErrRange
}
