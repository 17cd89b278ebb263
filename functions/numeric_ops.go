package functions

import (
	"github.com/apache/arrow-go/v18/arrow"
	"github.com/cockroachdb/apd/v3"

	"github.com/ugnos/ugnos/errs"
)

// numericText builds a numeric array (each value's text).
func numericText(vals []Decimal, valid *Valid) arrow.Array {
	s := make([]string, len(vals))
	for i, d := range vals {
		s[i] = d.String()
	}
	return NewText(s, valid)
}

// outNumeric evaluates a strict numeric-valued function row by row.
func outNumeric(args []Vec, n int, f func(i int) (Decimal, error)) (Vec, error) {
	return outStrict(TNumeric, args, n, numericText, f)
}

// decArgs reports whether every argument is bigint or numeric and at
// least one is numeric: the arguments PostgreSQL resolves to numeric.
func decArgs(a []Type) bool {
	dec := false
	for _, t := range a {
		switch t {
		case TNumeric:
			dec = true
		case TInt:
		default:
			return false
		}
	}
	return dec
}

// castNumeric converts to or from numeric.
func castNumeric(v Vec, to Type) (Vec, error) {
	args, n := []Vec{v}, v.N
	switch {
	case to == TNumeric && v.T == TInt || to == TNumeric && v.T == TNumeric:
		return outNumeric(args, n, func(i int) (Decimal, error) { return v.AsDecimal(i), nil })
	case to == TNumeric && v.T == TFloat:
		return outNumeric(args, n, func(i int) (Decimal, error) { return DecimalFromFloat(v.Float(i)) })
	case to == TNumeric && (v.T == TText || v.T == TUnknown):
		return outNumeric(args, n, func(i int) (Decimal, error) { return ParseDecimal(v.Str(i)) })
	case to == TInt:
		return outInt(TInt, args, n, func(i int) (int64, error) { return v.AsDecimal(i).Int64() })
	case to == TFloat:
		if v.T != TNumeric {
			return outFloat(args, n, func(i int) (float64, error) { return v.Float(i), nil })
		}
		return outFloat(args, n, func(i int) (float64, error) { return v.AsDecimal(i).Float64Checked() })
	case to == TText:
		return outText(args, n, func(i int) (string, error) { return v.Str(i), nil })
	}
	return Vec{}, errs.New(errs.ErrInvalidInput, "42846", "cannot cast type %s to %s", v.T.Name(), to.Name())
}

// numericComparer compares numeric with bigint or numeric exactly, and
// numeric with double precision as doubles (PostgreSQL's implicit casts).
func numericComparer(l, r Type) (func(a, b Vec, i int) int, bool) {
	if l != TNumeric && r != TNumeric {
		return nil, false
	}
	switch {
	case decArgs([]Type{l, r}):
		return func(a, b Vec, i int) int { return a.AsDecimal(i).Cmp(b.AsDecimal(i)) }, true
	case l.Numeric() && r.Numeric():
		return func(a, b Vec, i int) int { return CompareFloat(a.Float(i), b.Float(i)) }, true
	}
	return nil, true
}

// numericCommon is the common type of two numeric-category types:
// bigint < numeric < double precision.
func numericCommon(a, b Type) Type {
	rank := map[Type]int{TInt: 0, TNumeric: 1, TFloat: 2}
	if rank[a] >= rank[b] {
		return a
	}
	return b
}

// numericScalars returns replacements for built-in scalars that take
// numeric arguments: each handles numeric (and, where PostgreSQL resolves
// them to numeric, bigint mixed with numeric) and passes every other
// argument list to the original.
func numericScalars(orig map[string]*Scalar) []*Scalar {
	wrap := func(name string, f func(a []Type) (Type, Kernel, error, bool)) *Scalar {
		base := orig[name]
		return &Scalar{Name: name, Volatile: base != nil && base.Volatile, Resolve: func(a []Type) (Type, Kernel, error) {
			if t, k, err, ok := f(a); ok {
				return t, k, err
			}
			if base == nil {
				return 0, nil, noFunc(name, a)
			}
			return base.Resolve(a)
		}}
	}
	var out []*Scalar
	for _, op := range []string{"+", "-", "*", "/", "%", "mod"} {
		op := op
		out = append(out, wrap(op, func(a []Type) (Type, Kernel, error, bool) {
			if len(a) != 2 || !decArgs(a) {
				return 0, nil, nil, false
			}
			return TNumeric, decArith(op), nil, true
		}))
	}
	unary := func(name string, f func(Decimal) (Decimal, error)) *Scalar {
		return wrap(name, func(a []Type) (Type, Kernel, error, bool) {
			if len(a) != 1 || a[0] != TNumeric {
				return 0, nil, nil, false
			}
			return TNumeric, func(args []Vec, n int) (Vec, error) {
				return outNumeric(args, n, func(i int) (Decimal, error) { return f(args[0].AsDecimal(i)) })
			}, nil, true
		})
	}
	ok := func(f func(Decimal) Decimal) func(Decimal) (Decimal, error) {
		return func(x Decimal) (Decimal, error) { return f(x), nil }
	}
	out = append(out,
		unary("neg", ok(negDec)),
		unary("abs", ok(absDec)),
		unary("ceil", ok(func(x Decimal) Decimal { return roundDec(x, 0, apd.RoundCeiling) })),
		unary("ceiling", ok(func(x Decimal) Decimal { return roundDec(x, 0, apd.RoundCeiling) })),
		unary("floor", ok(func(x Decimal) Decimal { return roundDec(x, 0, apd.RoundFloor) })),
		unary("sign", ok(signDec)),
		unary("sqrt", sqrtDec),
		roundLike("round", apd.RoundHalfUp, orig["round"]),
		roundLike("trunc", apd.RoundDown, orig["trunc"]),
		&Scalar{Name: "scale", Resolve: func(a []Type) (Type, Kernel, error) {
			if len(a) != 1 || a[0] != TNumeric && a[0] != TInt {
				return 0, nil, noFunc("scale", a)
			}
			return TInt, func(args []Vec, n int) (Vec, error) {
				vals := make([]any, n)
				for i := range vals {
					if d := args[0].AsDecimal(i); !args[0].IsNull(i) && !d.special() {
						vals[i] = int64(d.Scale())
					}
				}
				if args[0].IsConst() {
					return ConstVec(vals[0], TInt, n), nil
				}
				return ArrVec(NewOf(TInt, vals), TInt), nil
			}, nil
		}},
	)
	// PostgreSQL computes these over numeric with their own result scales;
	// rather than show different digits, ugnos refuses them
	for _, name := range []string{"ln", "log", "log10", "exp", "power", "pow"} {
		name := name
		if orig[name] == nil {
			continue
		}
		out = append(out, wrap(name, func(a []Type) (Type, Kernel, error, bool) {
			for _, t := range a {
				if t == TNumeric {
					return 0, nil, errs.New(errs.ErrInvalidInput, errs.CodeFeatureNotSupported,
						"%s(numeric) is not supported; cast the argument to double precision", name), true
				}
			}
			return 0, nil, nil, false
		}))
	}
	return out
}

func signDec(x Decimal) Decimal {
	if x.IsNaN() {
		return x
	}
	return DecimalFromInt(int64(x.Sign()))
}

// roundLike is round or trunc over numeric: one argument (to an integer)
// or a scale (negative rounds to tens, hundreds, …); bigint with a scale
// resolves to numeric too.
func roundLike(name string, mode apd.Rounder, base *Scalar) *Scalar {
	return &Scalar{Name: name, Resolve: func(a []Type) (Type, Kernel, error) {
		switch {
		case len(a) == 1 && a[0] == TNumeric:
			return TNumeric, func(args []Vec, n int) (Vec, error) {
				return outNumeric(args, n, func(i int) (Decimal, error) { return roundDec(args[0].AsDecimal(i), 0, mode), nil })
			}, nil
		case len(a) == 2 && (a[0] == TNumeric || a[0] == TInt) && a[1] == TInt:
			return TNumeric, func(args []Vec, n int) (Vec, error) {
				return outNumeric(args, n, func(i int) (Decimal, error) {
					s := min(max(args[1].Int(i), -numMaxResultScale), numMaxResultScale)
					return roundDec(args[0].AsDecimal(i), int(s), mode), nil
				})
			}, nil
		}
		if base == nil {
			return 0, nil, noFunc(name, a)
		}
		return base.Resolve(a)
	}}
}

// decArith is +, -, *, /, % over numeric (bigint arguments converted).
func decArith(op string) Kernel {
	return func(args []Vec, n int) (Vec, error) {
		l, r := args[0], args[1]
		return outNumeric(args, n, func(i int) (Decimal, error) {
			x, y := l.AsDecimal(i), r.AsDecimal(i)
			switch op {
			case "+":
				return addDec(x, y, false)
			case "-":
				return addDec(x, y, true)
			case "*":
				return mulDec(x, y)
			case "/":
				return divDec(x, y)
			}
			return modDec(x, y)
		})
	}
}

// numericTypmod is the cast to numeric(p, s): its arguments are the value
// (numeric) and the constants p and s.
func numericTypmod() *Scalar {
	return &Scalar{Name: "numeric_typmod", Resolve: func(a []Type) (Type, Kernel, error) {
		if len(a) != 3 || a[0] != TNumeric || a[1] != TInt || a[2] != TInt {
			return 0, nil, noFunc("numeric_typmod", a)
		}
		return TNumeric, func(args []Vec, n int) (Vec, error) {
			return outNumeric(args[:1], n, func(i int) (Decimal, error) {
				return typmodDec(args[0].AsDecimal(i), int(args[1].Int(0)), int(args[2].Int(0)))
			})
		}, nil
	}}
}

// CheckTypmod validates numeric(p, s) as PostgreSQL does (precision 1 to
// 1000, scale -1000 to 1000).
func CheckTypmod(p, s int64) error {
	if p < 1 || p > 1000 {
		return errs.New(errs.ErrInvalidInput, "22023", "NUMERIC precision %d must be between 1 and 1000", p)
	}
	if s < -1000 || s > 1000 {
		return errs.New(errs.ErrInvalidInput, "22023", "NUMERIC scale %d must be between -1000 and 1000", s)
	}
	return nil
}
