package functions

import (
	"math"
	"strconv"
	"strings"

	"github.com/ugnos/ugnos/errs"
)

// CanCast reports whether a value of type from can be cast to to.
func CanCast(from, to Type) bool {
	if from == to || from == TUnknown {
		return true
	}
	switch to {
	case TText:
		return true
	case TFloat, TInt:
		return from.Numeric() || from == TText || from == TBool && to == TInt
	case TBool:
		return from == TText || from == TInt
	case TTimestamp:
		return from == TText || from == TDate
	case TInterval:
		return from == TText
	case TDate:
		return from == TText || from == TTimestamp
	case TNumeric:
		return from.Numeric() || from == TText
	}
	return false
}

func badText(t Type, s string) error {
	return errs.New(errs.ErrInvalidInput, errs.CodeInvalidText, "invalid input syntax for type %s: %q", t.Name(), s)
}

// ParseText converts a text literal to a constant of type t.
func ParseText(s string, t Type) (any, error) {
	switch t {
	case TText, TUnknown:
		return s, nil
	case TInt:
		x, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
		if err != nil {
			if ne, ok := err.(*strconv.NumError); ok && ne.Err == strconv.ErrRange {
				return nil, errs.New(errs.ErrInvalidInput, "22003", "value %q is out of range for type bigint", s)
			}
			return nil, badText(t, s)
		}
		return x, nil
	case TFloat:
		ts := strings.ToLower(strings.TrimSpace(s))
		switch ts {
		case "nan":
			return math.NaN(), nil
		case "infinity", "+infinity", "inf":
			return math.Inf(1), nil
		case "-infinity", "-inf":
			return math.Inf(-1), nil
		}
		x, err := strconv.ParseFloat(ts, 64)
		if err != nil {
			if ne, ok := err.(*strconv.NumError); ok && ne.Err == strconv.ErrRange {
				return nil, errs.New(errs.ErrInvalidInput, "22003", "%q is out of range for type double precision", s)
			}
			return nil, badText(t, s)
		}
		return x, nil
	case TBool:
		switch strings.ToLower(strings.TrimSpace(s)) {
		case "t", "true", "yes", "y", "on", "1":
			return true, nil
		case "f", "false", "no", "n", "off", "0":
			return false, nil
		}
		return nil, badText(t, s)
	case TTimestamp:
		return ParseTimestamp(s)
	case TInterval:
		return ParseInterval(s)
	case TDate:
		return ParseDate(s)
	case TNumeric:
		return ParseDecimal(s)
	}
	return nil, badText(t, s)
}

// FormatFloat renders a double as PostgreSQL does (shortest exact form).
func FormatFloat(f float64) string {
	switch {
	case math.IsNaN(f):
		return "NaN"
	case math.IsInf(f, 1):
		return "Infinity"
	case math.IsInf(f, -1):
		return "-Infinity"
	}
	e := math.Abs(f)
	if e != 0 && (e < 1e-4 || e >= 1e15) {
		s := strconv.FormatFloat(f, 'e', -1, 64)
		// PostgreSQL writes 1e+15 and 1e-05: at least two exponent digits
		if i := strings.IndexAny(s, "e"); i >= 0 {
			mant, exp := s[:i], s[i+1:]
			sign := exp[0]
			digits := exp[1:]
			if len(digits) < 2 {
				digits = "0" + digits
			}
			return mant + "e" + string(sign) + digits
		}
		return s
	}
	return strconv.FormatFloat(f, 'f', -1, 64)
}

// FormatValue renders a value of type t as PostgreSQL's text output.
func FormatValue(v any, t Type) string {
	switch x := v.(type) {
	case nil:
		return ""
	case bool:
		if x {
			return "t"
		}
		return "f"
	case int64:
		switch t {
		case TTimestamp:
			return FormatTimestamp(x)
		case TDate:
			return FormatDate(x)
		}
		return strconv.FormatInt(x, 10)
	case float64:
		return FormatFloat(x)
	case string:
		return x
	case Interval:
		return FormatInterval(x)
	case Decimal:
		return x.String()
	}
	return ""
}

// Cast converts v to type to (PostgreSQL cast rules; float to bigint
// rounds half to even, out of range is 22003).
func Cast(v Vec, to Type) (Vec, error) {
	from := v.T
	if from == TUnknown && !v.IsConst() {
		// an untyped literal's column holds its text
		from, v.T = TText, TText
	}
	if from == to {
		return v, nil
	}
	if !CanCast(from, to) {
		return Vec{}, errs.New(errs.ErrInvalidInput, "42846", "cannot cast type %s to %s", from.Name(), to.Name())
	}
	n := v.N
	args := []Vec{v}
	if v.IsConst() && v.Const != nil {
		if from == TText || from == TUnknown {
			c, err := ParseText(v.Const.(string), to)
			return ConstVec(c, to, n), err
		}
	}
	if from == TNumeric || to == TNumeric {
		return castNumeric(v, to)
	}
	switch to {
	case TFloat:
		if from == TText {
			return outFloat(args, n, func(i int) (float64, error) {
				c, err := ParseText(v.Str(i), TFloat)
				if err != nil {
					return 0, err
				}
				return c.(float64), nil
			})
		}
		return outFloat(args, n, func(i int) (float64, error) { return v.Float(i), nil })
	case TInt:
		switch from {
		case TFloat:
			return outInt(TInt, args, n, func(i int) (int64, error) {
				f := math.RoundToEven(v.Float(i))
				if math.IsNaN(f) || f >= 9.223372036854775807e18 || f < -9.223372036854775808e18 {
					return 0, errIntOver
				}
				return int64(f), nil
			})
		case TBool:
			return outInt(TInt, args, n, func(i int) (int64, error) {
				if v.Bool(i) {
					return 1, nil
				}
				return 0, nil
			})
		case TText:
			return outInt(TInt, args, n, func(i int) (int64, error) {
				c, err := ParseText(v.Str(i), TInt)
				if err != nil {
					return 0, err
				}
				return c.(int64), nil
			})
		}
	case TBool:
		if from == TInt {
			return outBool(args, n, func(i int) bool { return v.Int(i) != 0 }), nil
		}
		vals := make([]any, n)
		for i := 0; i < n; i++ {
			if v.IsNull(i) {
				continue
			}
			c, err := ParseText(v.Str(i), TBool)
			if err != nil {
				return Vec{}, err
			}
			vals[i] = c
		}
		return ArrVec(NewOf(TBool, vals), TBool), nil
	case TTimestamp:
		if from == TDate {
			return outInt(TTimestamp, args, n, func(i int) (int64, error) { return DateToTimestamp(v.Int(i)) })
		}
		return outInt(TTimestamp, args, n, func(i int) (int64, error) { return ParseTimestamp(v.Str(i)) })
	case TDate:
		if from == TTimestamp {
			return outInt(TDate, args, n, func(i int) (int64, error) { return TimestampToDate(v.Int(i)), nil })
		}
		return outInt(TDate, args, n, func(i int) (int64, error) { return ParseDate(v.Str(i)) })
	case TInterval:
		return outInterval(args, n, func(i int) (Interval, error) { return ParseInterval(v.Str(i)) })
	case TText:
		return outText(args, n, func(i int) (string, error) { return FormatValue(v.Value(i), from), nil })
	}
	return Vec{}, errs.New(errs.ErrInvalidInput, "42846", "cannot cast type %s to %s", from.Name(), to.Name())
}
