package functions

import (
	"math"

	"github.com/apache/arrow-go/v18/arrow"
	"strings"

	"github.com/ugnos/ugnos/errs"
)

// anyNull reports whether any argument is NULL at row i.
func anyNull(args []Vec, i int) bool {
	for _, a := range args {
		if a.IsNull(i) {
			return true
		}
	}
	return false
}

// allConst reports whether every argument is a constant.
func allConst(args []Vec) bool {
	for _, a := range args {
		if !a.IsConst() {
			return false
		}
	}
	return true
}

// outStrict evaluates a strict function (NULL if any argument is NULL)
// row by row into a new vector of type t; build makes the array. All
// constant arguments give a constant.
func outStrict[T any](t Type, args []Vec, n int, build func([]T, *Valid) arrow.Array, f func(i int) (T, error)) (Vec, error) {
	if allConst(args) {
		if anyNull(args, 0) {
			return ConstVec(nil, t, n), nil
		}
		v, err := f(0)
		return ConstVec(v, t, n), err
	}
	vals := make([]T, n)
	valid := NewValid(n)
	for i := range vals {
		if anyNull(args, i) {
			valid.SetNull(i)
			continue
		}
		v, err := f(i)
		if err != nil {
			return Vec{}, err
		}
		vals[i] = v
	}
	return ArrVec(build(vals, valid), t), nil
}

func outFloat(args []Vec, n int, f func(i int) (float64, error)) (Vec, error) {
	return outStrict(TFloat, args, n, NewFloat, f)
}

func outInt(t Type, args []Vec, n int, f func(i int) (int64, error)) (Vec, error) {
	build := NewInt
	switch t {
	case TTimestamp:
		build = NewTimestamp
	case TDate:
		build = NewDate
	}
	return outStrict(t, args, n, build, f)
}

func outBool(args []Vec, n int, f func(i int) bool) Vec {
	v, _ := outStrict(TBool, args, n, NewBool, func(i int) (bool, error) { return f(i), nil })
	return v
}

func outText(args []Vec, n int, f func(i int) (string, error)) (Vec, error) {
	return outStrict(TText, args, n, NewText, f)
}

var (
	errDivZero = errs.New(errs.ErrInvalidInput, "22012", "division by zero")
	errIntOver = errs.New(errs.ErrInvalidInput, "22003", "bigint out of range")
)

func arith(op string) *Scalar {
	return &Scalar{Name: op, Resolve: func(a []Type) (Type, Kernel, error) {
		if len(a) != 2 {
			return 0, nil, noOp(op, a)
		}
		l, r := a[0], a[1]
		if t, k, ok := intervalArith(op, l, r); ok {
			return t, k, nil
		}
		if t, k, ok := dateArith(op, l, r); ok {
			return t, k, nil
		}
		switch {
		case l == TInt && r == TInt:
			return TInt, intArith(op), nil
		case l.Numeric() && r.Numeric():
			return TFloat, floatArith(op), nil
		case op == "||" && (l == TText || r == TText):
			// text || anynonarray: the other side in its text form
			str := func(v Vec, t Type, i int) string {
				if t == TText {
					return v.Str(i)
				}
				return FormatValue(v.Value(i), t)
			}
			return TText, func(args []Vec, n int) (Vec, error) {
				return outText(args, n, func(i int) (string, error) { return str(args[0], l, i) + str(args[1], r, i), nil })
			}, nil
		}
		return 0, nil, noOp(op, a)
	}}
}

func intArith(op string) Kernel {
	return func(args []Vec, n int) (Vec, error) {
		l, r := args[0], args[1]
		return outInt(TInt, args, n, func(i int) (int64, error) {
			x, y := l.Int(i), r.Int(i)
			switch op {
			case "+":
				s := x + y
				if (s > x) != (y > 0) {
					return 0, errIntOver
				}
				return s, nil
			case "-":
				s := x - y
				if (s < x) != (y > 0) {
					return 0, errIntOver
				}
				return s, nil
			case "*":
				if x == 0 || y == 0 {
					return 0, nil
				}
				p := x * y
				if p/y != x || (x == -1 && y == math.MinInt64) || (y == -1 && x == math.MinInt64) {
					return 0, errIntOver
				}
				return p, nil
			case "/":
				if y == 0 {
					return 0, errDivZero
				}
				if x == math.MinInt64 && y == -1 {
					return 0, errIntOver
				}
				return x / y, nil
			default: // %
				if y == 0 {
					return 0, errDivZero
				}
				if y == -1 {
					return 0, nil
				}
				return x % y, nil
			}
		})
	}
}

var (
	errFloatOver  = errs.New(errs.ErrInvalidInput, "22003", "value out of range: overflow")
	errFloatUnder = errs.New(errs.ErrInvalidInput, "22003", "value out of range: underflow")
)

// checkFloat applies PostgreSQL's float8 range checks: an infinite result
// from finite inputs overflows; a zero result from non-zero inputs (of * and
// /) underflows.
func checkFloat(r float64, inputsFinite bool, zeroFromNonzero bool) (float64, error) {
	if math.IsInf(r, 0) && inputsFinite {
		return 0, errFloatOver
	}
	if zeroFromNonzero && r == 0 {
		return 0, errFloatUnder
	}
	return r, nil
}

func floatArith(op string) Kernel {
	return func(args []Vec, n int) (Vec, error) {
		l, r := args[0], args[1]
		return outFloat(args, n, func(i int) (float64, error) {
			x, y := l.Float(i), r.Float(i)
			finite := !math.IsInf(x, 0) && !math.IsInf(y, 0)
			switch op {
			case "+":
				return checkFloat(x+y, finite, false)
			case "-":
				return checkFloat(x-y, finite, false)
			case "*":
				return checkFloat(x*y, finite, x != 0 && y != 0)
			case "/":
				if y == 0 {
					return 0, errDivZero
				}
				return checkFloat(x/y, finite, x != 0 && !math.IsInf(y, 0))
			default:
				if y == 0 {
					return 0, errDivZero
				}
				return math.Mod(x, y), nil
			}
		})
	}
}

// compare returns -1, 0 or 1 for rows of two comparable vectors.
func comparer(l, r Type) func(a, b Vec, i int) int {
	if c, ok := numericComparer(l, r); ok {
		return c
	}
	switch {
	case l == TInt && r == TInt, l == TTimestamp && r == TTimestamp, l == TDate && r == TDate:
		return func(a, b Vec, i int) int { return cmp3(a.Int(i), b.Int(i)) }
	case l == TInterval && r == TInterval:
		return func(a, b Vec, i int) int { return CompareInterval(a.Interval(i), b.Interval(i)) }
	case l.Numeric() && r.Numeric():
		return func(a, b Vec, i int) int { return CompareFloat(a.Float(i), b.Float(i)) }
	case l == TText && r == TText:
		return func(a, b Vec, i int) int { return strings.Compare(a.Str(i), b.Str(i)) }
	case l == TBool && r == TBool:
		return func(a, b Vec, i int) int {
			x, y := a.Bool(i), b.Bool(i)
			switch {
			case x == y:
				return 0
			case !x:
				return -1
			}
			return 1
		}
	}
	return nil
}

func cmp3[T int64 | string](a, b T) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// CompareFloat orders floats as PostgreSQL does: NaN is larger than every
// other value and equal to itself.
func CompareFloat(a, b float64) int {
	an, bn := a != a, b != b
	switch {
	case an && bn:
		return 0
	case an:
		return 1
	case bn:
		return -1
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func comparison(op string) *Scalar {
	return &Scalar{Name: op, Resolve: func(a []Type) (Type, Kernel, error) {
		if len(a) != 2 {
			return 0, nil, noOp(op, a)
		}
		c := comparer(a[0], a[1])
		if c == nil {
			return 0, nil, noOp(op, a)
		}
		var test func(int) bool
		switch op {
		case "=":
			test = func(c int) bool { return c == 0 }
		case "<>":
			test = func(c int) bool { return c != 0 }
		case "<":
			test = func(c int) bool { return c < 0 }
		case "<=":
			test = func(c int) bool { return c <= 0 }
		case ">":
			test = func(c int) bool { return c > 0 }
		default:
			test = func(c int) bool { return c >= 0 }
		}
		fast := floatConstCmp(op, a)
		return TBool, func(args []Vec, n int) (Vec, error) {
			if fast != nil {
				if v, ok := fast(args, n); ok {
					return v, nil
				}
			}
			return outBool(args, n, func(i int) bool { return test(c(args[0], args[1], i)) }), nil
		}, nil
	}}
}

// logic implements AND and OR with three-valued logic.
func logic(and bool) *Scalar {
	name := "or"
	if and {
		name = "and"
	}
	return &Scalar{Name: name, Resolve: func(a []Type) (Type, Kernel, error) {
		for _, t := range a {
			if t != TBool {
				return 0, nil, errs.New(errs.ErrInvalidInput, errs.CodeDatatypeMismatch, "argument of %s must be type boolean, not type %s", strings.ToUpper(name), t.Name())
			}
		}
		return TBool, func(args []Vec, n int) (Vec, error) {
			vals := make([]bool, n)
			valid := NewValid(n)
			for i := 0; i < n; i++ {
				null := false
				res := and
				for _, v := range args {
					if v.IsNull(i) {
						null = true
						continue
					}
					if b := v.Bool(i); b != and {
						res, null = b, false
						break
					}
				}
				if res == and && null {
					valid.SetNull(i)
				}
				vals[i] = res
			}
			return ArrVec(NewBool(vals, valid), TBool), nil
		}, nil
	}}
}

func unaryBool(name string, f func(v Vec, i int) bool, nullIn bool) *Scalar {
	return &Scalar{Name: name, Resolve: func(a []Type) (Type, Kernel, error) {
		if len(a) != 1 || (name == "not" && a[0] != TBool) {
			return 0, nil, noOp(name, a)
		}
		return TBool, func(args []Vec, n int) (Vec, error) {
			if !nullIn {
				return outBool(args, n, func(i int) bool { return f(args[0], i) }), nil
			}
			vals := make([]bool, n)
			for i := range vals {
				vals[i] = f(args[0], i)
			}
			return ArrVec(NewBool(vals, nil), TBool), nil
		}, nil
	}}
}

func builtinScalars() []*Scalar {
	out := []*Scalar{
		arith("+"), arith("-"), arith("*"), arith("/"), arith("%"), arith("||"),
		bitwise("&"), bitwise("|"), bitwise("#"), bitwise("<<"), bitwise(">>"),
		comparison("="), comparison("<>"), comparison("<"), comparison("<="), comparison(">"), comparison(">="),
		logic(true), logic(false),
		unaryBool("not", func(v Vec, i int) bool { return !v.Bool(i) }, false),
		unaryBool("is_null", func(v Vec, i int) bool { return v.IsNull(i) }, true),
		unaryBool("is_not_null", func(v Vec, i int) bool { return !v.IsNull(i) }, true),
		{Name: "neg", Resolve: func(a []Type) (Type, Kernel, error) {
			if len(a) == 1 && a[0] == TInterval {
				return TInterval, negInterval, nil
			}
			if len(a) != 1 || !a[0].Numeric() {
				return 0, nil, noOp("-", a)
			}
			if a[0] == TInt {
				return TInt, func(args []Vec, n int) (Vec, error) {
					return outInt(TInt, args, n, func(i int) (int64, error) {
						x := args[0].Int(i)
						if x == math.MinInt64 {
							return 0, errIntOver
						}
						return -x, nil
					})
				}, nil
			}
			return TFloat, func(args []Vec, n int) (Vec, error) {
				return outFloat(args, n, func(i int) (float64, error) { return -args[0].Float(i), nil })
			}, nil
		}},
	}
	out = append(out, mathFuncs()...)
	out = append(out, textFuncs()...)
	out = append(out, timeFuncs()...)
	out = append(out, gapfillFuncs()...)
	out = append(out, distinctFrom("is_distinct_from", true), distinctFrom("is_not_distinct_from", false))
	out = append(out, stringFuncs()...)
	out = append(out, moreTimeFuncs()...)
	out = append(out, intervalFuncs()...)
	out = append(out, dateFuncs()...)
	out = append(out, moreMathFuncs()...)
	out = append(out, inList(), coalesce(), extremum("greatest", 1), extremum("least", -1))
	return out
}

// distinctFrom implements IS [NOT] DISTINCT FROM: NULLs compare equal.
func distinctFrom(name string, want bool) *Scalar {
	return &Scalar{Name: name, Resolve: func(a []Type) (Type, Kernel, error) {
		if len(a) != 2 {
			return 0, nil, noOp(name, a)
		}
		c := comparer(a[0], a[1])
		if c == nil {
			return 0, nil, noOp("IS DISTINCT FROM", a)
		}
		return TBool, func(args []Vec, n int) (Vec, error) {
			vals := make([]bool, n)
			for i := range vals {
				ln, rn := args[0].IsNull(i), args[1].IsNull(i)
				d := ln != rn || (!ln && c(args[0], args[1], i) != 0)
				vals[i] = d == want
			}
			return ArrVec(NewBool(vals, nil), TBool), nil
		}, nil
	}}
}

// bitwise is bigint & | # (xor) << >> as in PostgreSQL (shifts take the
// count modulo 64, as the hardware does for int8 in PostgreSQL).
func bitwise(op string) *Scalar {
	return &Scalar{Name: op, Resolve: func(a []Type) (Type, Kernel, error) {
		if len(a) != 2 || a[0] != TInt || a[1] != TInt {
			return 0, nil, noOp(op, a)
		}
		return TInt, func(args []Vec, n int) (Vec, error) {
			return outInt(TInt, args, n, func(i int) (int64, error) {
				x, y := args[0].Int(i), args[1].Int(i)
				switch op {
				case "&":
					return x & y, nil
				case "|":
					return x | y, nil
				case "#":
					return x ^ y, nil
				case "<<":
					return x << (uint64(y) & 63), nil
				}
				return x >> (uint64(y) & 63), nil
			})
		}, nil
	}}
}
