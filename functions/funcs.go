package functions

import (
	"math"

	"strings"
	"unicode/utf8"

	"github.com/ugnos/ugnos/errs"

	"github.com/apache/arrow-go/v18/arrow/array"
)

// floatConstCmp is the fast path of a comparison between a float64 column
// and a numeric constant.
func floatConstCmp(op string, a []Type) func(args []Vec, n int) (Vec, bool) {
	if a[0] != TFloat || !a[1].Numeric() {
		return nil
	}
	return func(args []Vec, n int) (Vec, bool) {
		col, ok := args[0].Arr.(*array.Float64)
		if !ok || !args[1].IsConst() || args[1].Const == nil {
			return Vec{}, false
		}
		c := args[1].Float(0)
		if c != c {
			return Vec{}, false
		}
		vals := col.Float64Values()
		out := make([]bool, n)
		switch op {
		case ">":
			for i, v := range vals {
				out[i] = v > c || v != v
			}
		case ">=":
			for i, v := range vals {
				out[i] = v >= c || v != v
			}
		case "<":
			for i, v := range vals {
				out[i] = v < c
			}
		case "<=":
			for i, v := range vals {
				out[i] = v <= c
			}
		case "=":
			for i, v := range vals {
				out[i] = v == c
			}
		default:
			for i, v := range vals {
				out[i] = v != c
			}
		}
		var valid *Valid
		if col.NullN() > 0 {
			valid = NewValid(n)
			for i := 0; i < n; i++ {
				if col.IsNull(i) {
					valid.SetNull(i)
				}
			}
		}
		return ArrVec(NewBool(out, valid), TBool), true
	}
}

var (
	errSqrtNeg  = errs.New(errs.ErrInvalidInput, "2201F", "cannot take square root of a negative number")
	errLogZero  = errs.New(errs.ErrInvalidInput, "2201E", "cannot take logarithm of zero")
	errLogNeg   = errs.New(errs.ErrInvalidInput, "2201E", "cannot take logarithm of a negative number")
	errPowZero  = errs.New(errs.ErrInvalidInput, "2201F", "zero raised to a negative power is undefined")
	errPowNegFr = errs.New(errs.ErrInvalidInput, "2201F", "a negative number raised to a non-integer power yields a complex result")
)

// domain checks the argument of a float function as PostgreSQL does.
func domain(name string, x float64) error {
	switch name {
	case "sqrt":
		if x < 0 {
			return errSqrtNeg
		}
	case "ln", "log10":
		if x == 0 {
			return errLogZero
		}
		if x < 0 {
			return errLogNeg
		}
	}
	return nil
}

func numeric1(name string, f func(float64) float64, intToo func(int64) (int64, error)) *Scalar {
	return &Scalar{Name: name, Resolve: func(a []Type) (Type, Kernel, error) {
		if len(a) != 1 || !a[0].Numeric() {
			return 0, nil, noFunc(name, a)
		}
		if a[0] == TInt && intToo != nil {
			return TInt, func(args []Vec, n int) (Vec, error) {
				return outInt(TInt, args, n, func(i int) (int64, error) { return intToo(args[0].Int(i)) })
			}, nil
		}
		return TFloat, func(args []Vec, n int) (Vec, error) {
			return outFloat(args, n, func(i int) (float64, error) {
				x := args[0].Float(i)
				if err := domain(name, x); err != nil {
					return 0, err
				}
				return checkFloat(f(x), !math.IsInf(x, 0) && x == x, false)
			})
		}, nil
	}}
}

func identity(x int64) (int64, error) { return x, nil }

func mathFuncs() []*Scalar {
	return []*Scalar{
		numeric1("abs", math.Abs, func(x int64) (int64, error) {
			if x == math.MinInt64 {
				return 0, errIntOver
			}
			if x < 0 {
				return -x, nil
			}
			return x, nil
		}),
		numeric1("floor", math.Floor, identity),
		numeric1("ceil", math.Ceil, identity),
		numeric1("ceiling", math.Ceil, identity),
		numeric1("trunc", math.Trunc, identity),
		numeric1("sqrt", math.Sqrt, nil),
		numeric1("exp", math.Exp, nil),
		numeric1("ln", math.Log, nil),
		numeric1("log10", math.Log10, nil),
		{Name: "round", Resolve: func(a []Type) (Type, Kernel, error) {
			switch {
			case len(a) == 1 && a[0] == TInt:
				return TInt, func(args []Vec, n int) (Vec, error) { return args[0], nil }, nil
			case len(a) == 1 && a[0] == TFloat:
				// float8 round() rounds half to even, like rint
				return TFloat, func(args []Vec, n int) (Vec, error) {
					return outFloat(args, n, func(i int) (float64, error) { return math.RoundToEven(args[0].Float(i)), nil })
				}, nil
			case len(a) == 2 && a[0].Numeric() && a[1] == TInt:
				// round(numeric, int) rounds half away from zero
				return TFloat, func(args []Vec, n int) (Vec, error) {
					return outFloat(args, n, func(i int) (float64, error) {
						// a double has at most 17 significant digits and
						// exponents to ±308: scales beyond change nothing
						// (and 10^scale would overflow to Inf, giving NaN)
						d, x := args[1].Int(i), args[0].Float(i)
						if d > 340 {
							return x, nil
						}
						if d < -340 {
							return math.Copysign(0, x), nil
						}
						p := math.Pow(10, float64(d))
						switch y := x * p; {
						case p == 0:
							return math.Copysign(0, x), nil
						case math.IsInf(y, 0) && !math.IsInf(x, 0):
							return x, nil // no digits that far right
						default:
							return math.Round(y) / p, nil
						}
					})
				}, nil
			}
			return 0, nil, noFunc("round", a)
		}},
		{Name: "power", Resolve: func(a []Type) (Type, Kernel, error) {
			if len(a) != 2 || !a[0].Numeric() || !a[1].Numeric() {
				return 0, nil, noFunc("power", a)
			}
			return TFloat, func(args []Vec, n int) (Vec, error) {
				return outFloat(args, n, func(i int) (float64, error) {
					x, y := args[0].Float(i), args[1].Float(i)
					if x == 0 && y < 0 {
						return 0, errPowZero
					}
					if x < 0 && y != math.Trunc(y) {
						return 0, errPowNegFr
					}
					return checkFloat(math.Pow(x, y), !math.IsInf(x, 0) && !math.IsInf(y, 0) && x == x && y == y, false)
				})
			}, nil
		}},
	}
}

func text1(name string, ret Type, f func(string) any) *Scalar {
	return &Scalar{Name: name, Resolve: func(a []Type) (Type, Kernel, error) {
		if len(a) != 1 || a[0] != TText {
			return 0, nil, noFunc(name, a)
		}
		if ret == TInt {
			return TInt, func(args []Vec, n int) (Vec, error) {
				return outInt(TInt, args, n, func(i int) (int64, error) { return f(args[0].Str(i)).(int64), nil })
			}, nil
		}
		return TText, func(args []Vec, n int) (Vec, error) {
			return outText(args, n, func(i int) (string, error) { return f(args[0].Str(i)).(string), nil })
		}, nil
	}}
}

func textFuncs() []*Scalar {
	return []*Scalar{
		text1("lower", TText, func(s string) any { return strings.ToLower(s) }),
		text1("upper", TText, func(s string) any { return strings.ToUpper(s) }),
		text1("length", TInt, func(s string) any { return int64(utf8.RuneCountInString(s)) }),
		text1("char_length", TInt, func(s string) any { return int64(utf8.RuneCountInString(s)) }),
	}
}

// inList implements x IN (c1, c2, ...): args[0] is the operand, the rest
// have the operand's type. NULL if no match and any side is NULL.
func inList() *Scalar {
	return &Scalar{Name: "in", Resolve: func(a []Type) (Type, Kernel, error) {
		if len(a) < 2 {
			return 0, nil, noFunc("in", a)
		}
		for _, t := range a[1:] {
			if comparer(a[0], t) == nil {
				return 0, nil, noOp("=", []Type{a[0], t})
			}
		}
		cmps := make([]func(a, b Vec, i int) int, len(a)-1)
		for k, t := range a[1:] {
			cmps[k] = comparer(a[0], t)
		}
		return TBool, func(args []Vec, n int) (Vec, error) {
			vals := make([]bool, n)
			valid := NewValid(n)
			for i := 0; i < n; i++ {
				if args[0].IsNull(i) {
					valid.SetNull(i)
					continue
				}
				sawNull := false
				for k, v := range args[1:] {
					if v.IsNull(i) {
						sawNull = true
						continue
					}
					if cmps[k](args[0], v, i) == 0 {
						vals[i] = true
						break
					}
				}
				if !vals[i] && sawNull {
					valid.SetNull(i)
				}
			}
			return ArrVec(NewBool(vals, valid), TBool), nil
		}, nil
	}}
}

// CommonType is the type values of ts are coerced to (for CASE, COALESCE,
// IN, UNION): bigint, numeric and double precision give the widest of them
// (in that order); unknown literals take the other type.
func CommonType(ts []Type) (Type, bool) {
	out := TUnknown
	for _, t := range ts {
		switch {
		case t == TUnknown || t == out:
		case out == TUnknown:
			out = t
		case out.Numeric() && t.Numeric():
			out = numericCommon(out, t)
		case out == TDate && t == TTimestamp, out == TTimestamp && t == TDate:
			out = TTimestamp
		default:
			return 0, false
		}
	}
	if out == TUnknown {
		out = TText
	}
	return out, true
}

func coalesce() *Scalar {
	return &Scalar{Name: "coalesce", Resolve: func(a []Type) (Type, Kernel, error) {
		t, ok := CommonType(a)
		if !ok || len(a) == 0 {
			return 0, nil, noFunc("coalesce", a)
		}
		return t, func(args []Vec, n int) (Vec, error) {
			vals := make([]any, n)
			for i := 0; i < n; i++ {
				for _, v := range args {
					if !v.IsNull(i) {
						vals[i] = convert(v.Value(i), t)
						break
					}
				}
			}
			return ArrVec(NewOf(t, vals), t), nil
		}, nil
	}}
}

// convert converts a Go value to the representation of type t.
func convert(v any, t Type) any {
	switch t {
	case TFloat:
		switch x := v.(type) {
		case int64:
			return float64(x)
		case Decimal:
			return x.Float64()
		}
	case TNumeric:
		return toDecimal(v)
	}
	return v
}

func extremum(name string, sign int) *Scalar {
	return &Scalar{Name: name, Resolve: func(a []Type) (Type, Kernel, error) {
		t, ok := CommonType(a)
		if !ok || len(a) == 0 || comparer(t, t) == nil {
			return 0, nil, noFunc(name, a)
		}
		c := comparer(t, t)
		return t, func(args []Vec, n int) (Vec, error) {
			vals := make([]any, n)
			for i := 0; i < n; i++ {
				best := -1
				for k, v := range args {
					if v.IsNull(i) {
						continue
					}
					if best < 0 || sign*compareMixed(c, t, v, args[best], i) > 0 {
						best = k
					}
				}
				if best >= 0 {
					vals[i] = convert(args[best].Value(i), t)
				}
			}
			return ArrVec(NewOf(t, vals), t), nil
		}, nil
	}}
}

func compareMixed(c func(a, b Vec, i int) int, t Type, a, b Vec, i int) int {
	if t == TFloat {
		return CompareFloat(a.Float(i), b.Float(i))
	}
	return c(a, b, i)
}
