package functions

import (
	"strings"
	"time"

	"github.com/ugnos/ugnos/errs"
)

// Dates are days since 1970-01-01 (Arrow date32). Where PostgreSQL
// converts a date to a timestamp implicitly (comparisons with timestamps,
// date + interval, date_trunc, …) the binder casts it to timestamptz at
// midnight UTC (the session time zone).

// ParseDate parses a PostgreSQL date literal: 2016-01-02 (a time of day
// after it is ignored, as PostgreSQL does) or epoch.
func ParseDate(s string) (int64, error) {
	in := strings.TrimSpace(s)
	if strings.EqualFold(in, "epoch") {
		return 0, nil
	}
	if l := strings.ToLower(in); l == "infinity" || l == "-infinity" {
		return 0, errs.New(errs.ErrInvalidInput, errs.CodeFeatureNotSupported, "infinite dates are not supported")
	}
	d := in
	if i := strings.IndexAny(d, " T"); i >= 0 {
		d = d[:i]
	}
	t, err := time.Parse("2006-01-02", d)
	if err != nil && strings.Contains(err.Error(), "out of range") {
		return 0, errs.New(errs.ErrInvalidInput, "22008", "date/time field value out of range: %q", s)
	}
	if err != nil {
		return 0, errs.New(errs.ErrInvalidInput, "22007", "invalid input syntax for type date: %q", s)
	}
	return t.Unix() / 86400, nil
}

// FormatDate renders days since the epoch as PostgreSQL does: 2016-01-02.
func FormatDate(days int64) string {
	return time.Unix(days*86400, 0).UTC().Format("2006-01-02")
}

// DateToTimestamp is midnight UTC of the day, in ns.
func DateToTimestamp(days int64) (int64, error) {
	if days < -106751 || days > 106750 {
		return 0, errs.New(errs.ErrInvalidInput, "22008", "date out of range for timestamp")
	}
	return days * nsPerDay, nil
}

// TimestampToDate is the UTC day of a timestamp.
func TimestampToDate(ns int64) int64 { return floorDiv(ns, nsPerDay) }

var errDateRange = errs.New(errs.ErrInvalidInput, "22008", "date out of range")

// dateArith resolves date ± integer and date - date.
func dateArith(op string, l, r Type) (Type, Kernel, bool) {
	addDays := func(di, ni int, sign int64) Kernel {
		return func(args []Vec, n int) (Vec, error) {
			return outInt(TDate, args, n, func(i int) (int64, error) {
				d := args[di].Int(i) + sign*args[ni].Int(i)
				if d < -719162 || d > 2932896 { // 0001-01-01 .. 9999-12-31
					return 0, errDateRange
				}
				return d, nil
			})
		}
	}
	switch {
	case l == TDate && r == TInt && (op == "+" || op == "-"):
		if op == "-" {
			return TDate, addDays(0, 1, -1), true
		}
		return TDate, addDays(0, 1, 1), true
	case l == TInt && r == TDate && op == "+":
		return TDate, addDays(1, 0, 1), true
	case l == TDate && r == TDate && op == "-":
		return TInt, func(args []Vec, n int) (Vec, error) {
			return outInt(TInt, args, n, func(i int) (int64, error) { return args[0].Int(i) - args[1].Int(i), nil })
		}, true
	}
	return 0, nil, false
}

func dateFuncs() []*Scalar {
	return []*Scalar{
		{Name: "make_date", Resolve: func(a []Type) (Type, Kernel, error) {
			if len(a) != 3 || a[0] != TInt || a[1] != TInt || a[2] != TInt {
				return 0, nil, noFunc("make_date", a)
			}
			return TDate, func(args []Vec, n int) (Vec, error) {
				return outInt(TDate, args, n, func(i int) (int64, error) {
					y, m, d := args[0].Int(i), args[1].Int(i), args[2].Int(i)
					t := time.Date(int(y), time.Month(m), int(d), 0, 0, 0, 0, time.UTC)
					if y < 1 || y > 9999 || m < 1 || m > 12 || d < 1 || int64(t.Day()) != d {
						return 0, errs.New(errs.ErrInvalidInput, "22008", "date field value out of range: %d-%02d-%02d", y, m, d)
					}
					return t.Unix() / 86400, nil
				})
			}, nil
		}},
	}
}
