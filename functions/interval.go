package functions

import (
	"math"
	"strings"

	"github.com/ugnos/ugnos/errs"
)

// Interval values: PostgreSQL's interval arithmetic, comparison and
// extraction (src/backend/utils/adt/timestamp.c semantics; a month counts
// as 30 days and a day as 24 hours wherever units are converted).

var errIntervalRange = errs.New(errs.ErrInvalidInput, "22008", "interval out of range")

func outInterval(args []Vec, n int, f func(i int) (Interval, error)) (Vec, error) {
	return outStrict(TInterval, args, n, NewInterval, f)
}

// TimestampDiff is ts1 - ts2 as PostgreSQL's timestamp_mi gives it: the
// difference in whole days and the rest of a day (justify_hours).
func TimestampDiff(a, b int64) (Interval, error) {
	d := a - b
	if (d < a) != (b > 0) {
		return Interval{}, errIntervalRange
	}
	days := d / nsPerDay // truncated: the signs of days and rest agree
	return Interval{Days: int32(days), Nanos: d - days*nsPerDay}, nil
}

func addIntervals(a, b Interval, sign int32) (Interval, error) {
	m := int64(a.Months) + int64(sign)*int64(b.Months)
	d := int64(a.Days) + int64(sign)*int64(b.Days)
	ns := a.Nanos + int64(sign)*b.Nanos
	if m != int64(int32(m)) || d != int64(int32(d)) || (sign > 0 && (ns > a.Nanos) != (b.Nanos > 0)) || (sign < 0 && (ns < a.Nanos) != (b.Nanos > 0)) {
		return Interval{}, errIntervalRange
	}
	return Interval{Months: int32(m), Days: int32(d), Nanos: ns}, nil
}

// tsRound rounds to microsecond precision (PostgreSQL's TSROUND).
func tsRound(x float64) float64 { return math.RoundToEven(x*1e6) / 1e6 }

// ScaleInterval multiplies an interval by factor (or divides by it when
// div), cascading fractional months and days down to smaller units as
// PostgreSQL's interval_mul / interval_div do.
func ScaleInterval(iv Interval, factor float64, div bool) (Interval, error) {
	if div && factor == 0 {
		return Interval{}, errDivZero
	}
	op := func(x float64) float64 {
		if div {
			return x / factor
		}
		return x * factor
	}
	fits32 := func(x float64) bool { return !math.IsNaN(x) && x <= math.MaxInt32 && x >= math.MinInt32 }
	md, dd := op(float64(iv.Months)), op(float64(iv.Days))
	if !fits32(md) || !fits32(dd) {
		return Interval{}, errIntervalRange
	}
	out := Interval{Months: int32(md), Days: int32(dd)}
	monthRemDays := tsRound((md - float64(out.Months)) * 30)
	secRem := tsRound((dd - float64(out.Days) + monthRemDays - math.Trunc(monthRemDays)) * 86400)
	if math.Abs(secRem) >= 86400 {
		whole := math.Trunc(secRem / 86400)
		out.Days += int32(whole)
		secRem -= whole * 86400
	}
	out.Days += int32(monthRemDays)
	// PostgreSQL keeps microseconds: scale them and round there
	us := math.RoundToEven(op(float64(iv.Nanos)/1e3) + secRem*1e6)
	if math.IsNaN(us) || math.Abs(us) >= 9.2e15 {
		return Interval{}, errIntervalRange
	}
	out.Nanos = int64(us) * 1e3
	return out, nil
}

// intervalArith resolves the operators with an interval operand.
func intervalArith(op string, l, r Type) (Type, Kernel, bool) {
	switch {
	case l == TTimestamp && r == TTimestamp && op == "-":
		return TInterval, func(args []Vec, n int) (Vec, error) {
			return outInterval(args, n, func(i int) (Interval, error) { return TimestampDiff(args[0].Int(i), args[1].Int(i)) })
		}, true
	case l == TTimestamp && r == TInterval && (op == "+" || op == "-"):
		return TTimestamp, tsInterval(op == "-"), true
	case l == TInterval && r == TTimestamp && op == "+":
		return TTimestamp, func(args []Vec, n int) (Vec, error) {
			return tsInterval(false)([]Vec{args[1], args[0]}, n)
		}, true
	case l == TInterval && r == TInterval && (op == "+" || op == "-"):
		sign := int32(1)
		if op == "-" {
			sign = -1
		}
		return TInterval, func(args []Vec, n int) (Vec, error) {
			return outInterval(args, n, func(i int) (Interval, error) {
				return addIntervals(args[0].Interval(i), args[1].Interval(i), sign)
			})
		}, true
	case l == TInterval && r.Numeric() && (op == "*" || op == "/"):
		return TInterval, func(args []Vec, n int) (Vec, error) {
			return outInterval(args, n, func(i int) (Interval, error) {
				return ScaleInterval(args[0].Interval(i), args[1].Float(i), op == "/")
			})
		}, true
	case l.Numeric() && r == TInterval && op == "*":
		return TInterval, func(args []Vec, n int) (Vec, error) {
			return outInterval(args, n, func(i int) (Interval, error) {
				return ScaleInterval(args[1].Interval(i), args[0].Float(i), false)
			})
		}, true
	}
	return 0, nil, false
}

func tsInterval(minus bool) Kernel {
	return func(args []Vec, n int) (Vec, error) {
		return outInt(TTimestamp, args, n, func(i int) (int64, error) {
			iv := args[1].Interval(i)
			if minus {
				iv = Interval{Months: -iv.Months, Days: -iv.Days, Nanos: -iv.Nanos}
			}
			return AddInterval(args[0].Int(i), iv)
		})
	}
}

func negInterval(args []Vec, n int) (Vec, error) {
	return outInterval(args, n, func(i int) (Interval, error) {
		iv := args[0].Interval(i)
		if iv.Months == math.MinInt32 || iv.Days == math.MinInt32 || iv.Nanos == math.MinInt64 {
			return Interval{}, errIntervalRange
		}
		return Interval{Months: -iv.Months, Days: -iv.Days, Nanos: -iv.Nanos}, nil
	})
}

// IntervalPart extracts a field from an interval as PostgreSQL's
// date_part(text, interval) does.
func IntervalPart(field string, iv Interval) (float64, error) {
	us := iv.Nanos / 1e3
	switch strings.ToLower(field) {
	case "epoch":
		secs := float64(iv.Nanos) / 1e9
		return secs + 365.25*86400*float64(iv.Months/12) + 30*86400*float64(iv.Months%12) + 86400*float64(iv.Days), nil
	case "millennium", "millennia":
		return float64(iv.Months / 12 / 1000), nil
	case "century", "centuries":
		return float64(iv.Months / 12 / 100), nil
	case "decade", "decades":
		return float64(iv.Months / 12 / 10), nil
	case "year", "years":
		return float64(iv.Months / 12), nil
	case "quarter":
		return float64(iv.Months%12/3 + 1), nil
	case "month", "months", "mon":
		return float64(iv.Months % 12), nil
	case "day", "days":
		return float64(iv.Days), nil
	case "hour", "hours":
		return float64(us / 3600e6), nil
	case "minute", "minutes":
		return float64(us / 60e6 % 60), nil
	case "second", "seconds":
		return float64(us%60e6) / 1e6, nil
	case "milliseconds", "millisecond":
		return float64(us%60e6) / 1e3, nil
	case "microseconds", "microsecond":
		return float64(us % 60e6), nil
	}
	return 0, errs.New(errs.ErrInvalidInput, errs.CodeFeatureNotSupported, "unit %q not supported for type interval", field)
}

// justify is PostgreSQL's justify_hours (hours: 24 h to a day),
// justify_days (days: 30 days to a month) or justify_interval (both); the
// parts end up with one sign.
func justify(iv Interval, hours, days bool) (Interval, error) {
	m, d, ns := int64(iv.Months), int64(iv.Days), iv.Nanos
	if hours {
		d += ns / nsPerDay
		ns %= nsPerDay
	}
	if days {
		m += d / 30
		d %= 30
		timeNeg, timePos := hours && d == 0 && ns < 0, hours && d == 0 && ns > 0
		if m > 0 && (d < 0 || timeNeg) {
			d += 30
			m--
		} else if m < 0 && (d > 0 || timePos) {
			d -= 30
			m++
		}
	}
	if hours {
		if d > 0 && ns < 0 {
			ns += nsPerDay
			d--
		} else if d < 0 && ns > 0 {
			ns -= nsPerDay
			d++
		}
	}
	if m != int64(int32(m)) || d != int64(int32(d)) {
		return Interval{}, errIntervalRange
	}
	return Interval{Months: int32(m), Days: int32(d), Nanos: ns}, nil
}

func intervalFuncs() []*Scalar {
	just := func(name string, hours, days bool) *Scalar {
		return &Scalar{Name: name, Resolve: func(a []Type) (Type, Kernel, error) {
			if len(a) != 1 || a[0] != TInterval {
				return 0, nil, noFunc(name, a)
			}
			return TInterval, func(args []Vec, n int) (Vec, error) {
				return outInterval(args, n, func(i int) (Interval, error) { return justify(args[0].Interval(i), hours, days) })
			}, nil
		}}
	}
	return []*Scalar{
		just("justify_hours", true, false),
		just("justify_days", false, true),
		just("justify_interval", true, true),
		{Name: "make_interval", Resolve: func(a []Type) (Type, Kernel, error) {
			// make_interval(years, months, weeks, days, hours, mins, secs):
			// positional arguments, missing ones are 0
			if len(a) > 7 {
				return 0, nil, noFunc("make_interval", a)
			}
			for k, t := range a {
				if t != TInt && !(k == 6 && t.Numeric()) {
					return 0, nil, noFunc("make_interval", a)
				}
			}
			return TInterval, func(args []Vec, n int) (Vec, error) {
				return outInterval(args, n, func(i int) (Interval, error) {
					var p [6]int64
					secs := 0.0
					for k := range args {
						if k == 6 {
							secs = args[k].Float(i)
						} else {
							p[k] = args[k].Int(i)
						}
					}
					m := p[0]*12 + p[1]
					d := p[2]*7 + p[3]
					ns := p[4]*3600e9 + p[5]*60e9 + int64(math.Round(secs*1e6))*1e3
					if m != int64(int32(m)) || d != int64(int32(d)) {
						return Interval{}, errIntervalRange
					}
					return Interval{Months: int32(m), Days: int32(d), Nanos: ns}, nil
				})
			}, nil
		}},
	}
}
