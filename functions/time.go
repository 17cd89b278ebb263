package functions

import (
	"math"

	"github.com/apache/arrow-go/v18/arrow/array"
	"strconv"
	"strings"
	"time"

	"github.com/ugnos/ugnos/errs"
)

// timestampLayouts are the PostgreSQL input forms accepted for timestamptz.
var timestampLayouts = []string{
	"2006-01-02 15:04:05.999999999 -0700",
	"2006-01-02 15:04:05.999999999 -07:00",
	"2006-01-02 15:04:05.999999999 -07",
	"2006-01-02 15:04:05.999999999-0700",
	"2006-01-02 15:04:05.999999999-07:00",
	"2006-01-02 15:04:05.999999999-07",
	"2006-01-02 15:04:05.999999999Z07:00",
	"2006-01-02 15:04:05.999999999 Z07:00",
	"2006-01-02T15:04:05.999999999Z07:00",
	"2006-01-02T15:04:05.999999999-0700",
	"2006-01-02T15:04:05.999999999-07",
	"2006-01-02 15:04:05.999999999",
	"2006-01-02T15:04:05.999999999",
	"2006-01-02 15:04",
	"2006-01-02",
}

// ParseTimestamp parses a PostgreSQL timestamptz literal. Without a zone
// the time is UTC (the session time zone). Errors carry SQLSTATE 22007.
func ParseTimestamp(s string) (int64, error) {
	in := strings.TrimSpace(s)
	switch strings.ToLower(in) {
	case "epoch":
		return 0, nil
	case "infinity", "-infinity":
		return 0, errs.New(errs.ErrInvalidInput, "22008", "timestamp out of range: infinite timestamps are not supported")
	}
	u := strings.TrimSuffix(strings.TrimSuffix(in, " UTC"), " utc")
	if u != in {
		u += " +00:00"
	}
	for _, l := range timestampLayouts {
		if t, err := time.Parse(l, u); err == nil {
			if t.Year() < 1678 || t.Year() > 2261 {
				return 0, errs.New(errs.ErrInvalidInput, "22008", "timestamp out of range: %q", s)
			}
			return t.UnixNano(), nil
		}
	}
	return 0, errs.New(errs.ErrInvalidInput, "22007", "invalid input syntax for type timestamp with time zone: %q", s)
}

// FormatTimestamp renders ns since the epoch as PostgreSQL does for a
// timestamptz in UTC: 2016-01-01 00:00:00.5+00.
func FormatTimestamp(ns int64) string {
	t := time.Unix(0, ns).UTC()
	s := t.Format("2006-01-02 15:04:05.999999")
	return s + "+00"
}

var intervalUnits = map[string]Interval{
	"microsecond": {Nanos: 1e3}, "microseconds": {Nanos: 1e3}, "us": {Nanos: 1e3}, "usec": {Nanos: 1e3}, "usecs": {Nanos: 1e3},
	"millisecond": {Nanos: 1e6}, "milliseconds": {Nanos: 1e6}, "ms": {Nanos: 1e6}, "msec": {Nanos: 1e6}, "msecs": {Nanos: 1e6},
	"second": {Nanos: 1e9}, "seconds": {Nanos: 1e9}, "s": {Nanos: 1e9}, "sec": {Nanos: 1e9}, "secs": {Nanos: 1e9},
	"minute": {Nanos: 60e9}, "minutes": {Nanos: 60e9}, "m": {Nanos: 60e9}, "min": {Nanos: 60e9}, "mins": {Nanos: 60e9},
	"hour": {Nanos: 3600e9}, "hours": {Nanos: 3600e9}, "h": {Nanos: 3600e9}, "hr": {Nanos: 3600e9}, "hrs": {Nanos: 3600e9},
	"day": {Days: 1}, "days": {Days: 1}, "d": {Days: 1},
	"week": {Days: 7}, "weeks": {Days: 7}, "w": {Days: 7},
	"month": {Months: 1}, "months": {Months: 1}, "mon": {Months: 1}, "mons": {Months: 1},
	"year": {Months: 12}, "years": {Months: 12}, "y": {Months: 12}, "yr": {Months: 12}, "yrs": {Months: 12},
}

// ParseInterval parses a PostgreSQL interval literal such as '1 hour',
// '60 seconds', '1 day 2 hours', '5m' or '01:30:00'.
func ParseInterval(s string) (Interval, error) {
	bad := errs.New(errs.ErrInvalidInput, "22007", "invalid input syntax for type interval: %q", s)
	// PostgreSQL's interval_in: a field beyond its type's range is 22015
	// (never a wrapped value)
	over := errs.New(errs.ErrInvalidInput, "22015", "interval field value out of range: %q", s)
	var iv Interval
	addNanos := func(x float64) bool {
		if t := float64(iv.Nanos) + x; math.IsNaN(t) || t >= math.MaxInt64 || t <= math.MinInt64 {
			return false
		}
		iv.Nanos += int64(x)
		return true
	}
	f := strings.Fields(strings.ToLower(strings.TrimSpace(s)))
	if len(f) == 0 {
		return iv, bad
	}
	for i := 0; i < len(f); i++ {
		tok := f[i]
		if strings.Contains(tok, ":") {
			d, ok := parseClock(tok)
			if !ok {
				return iv, bad
			}
			if !addNanos(float64(d)) {
				return iv, over
			}
			continue
		}
		// number, optionally glued to its unit ("5m", "1.5h")
		j := 0
		for j < len(tok) && (tok[j] == '-' || tok[j] == '+' || tok[j] == '.' || (tok[j] >= '0' && tok[j] <= '9')) {
			j++
		}
		num, unit := tok[:j], tok[j:]
		if unit == "" {
			if i+1 >= len(f) {
				// a bare number means seconds
				unit = "seconds"
			} else {
				i++
				unit = f[i]
			}
		}
		x, err := strconv.ParseFloat(num, 64)
		if err != nil {
			return iv, bad
		}
		u, ok := intervalUnits[strings.TrimSuffix(unit, ",")]
		if !ok {
			return iv, bad
		}
		if u.Months != 0 || u.Days != 0 {
			if x != math.Trunc(x) {
				return iv, errs.New(errs.ErrInvalidInput, errs.CodeFeatureNotSupported, "fractional %s in intervals are not supported", unit)
			}
			m, d := float64(iv.Months)+x*float64(u.Months), float64(iv.Days)+x*float64(u.Days)
			if m > math.MaxInt32 || m < math.MinInt32 || d > math.MaxInt32 || d < math.MinInt32 {
				return iv, over
			}
			iv.Months, iv.Days = int32(m), int32(d)
			continue
		}
		if !addNanos(math.Round(x * float64(u.Nanos))) {
			return iv, over
		}
	}
	return iv, nil
}

func parseClock(s string) (int64, bool) {
	if rest, ok := strings.CutPrefix(s, "-"); ok {
		d, ok := parseClock(rest)
		return -d, ok
	}
	s = strings.TrimPrefix(s, "+")
	parts := strings.Split(s, ":")
	if len(parts) < 2 || len(parts) > 3 {
		return 0, false
	}
	h, err1 := strconv.Atoi(parts[0])
	m, err2 := strconv.Atoi(parts[1])
	sec := 0.0
	var err3 error
	if len(parts) == 3 {
		sec, err3 = strconv.ParseFloat(parts[2], 64)
	}
	if err1 != nil || err2 != nil || err3 != nil {
		return 0, false
	}
	if t := float64(h)*3600e9 + float64(m)*60e9 + sec*1e9; t >= math.MaxInt64 || t <= math.MinInt64 {
		return 0, false // would wrap
	}
	return int64(h)*3600e9 + int64(m)*60e9 + int64(math.Round(sec*1e9)), true
}

// AddInterval adds an interval to a timestamp in UTC as PostgreSQL does:
// months by calendar (the day of month clamped to the month's last day),
// then days, then the rest.
func AddInterval(ns int64, iv Interval) (int64, error) {
	if iv.Months != 0 || iv.Days != 0 {
		t := time.Unix(0, ns).UTC()
		y, mo, d := t.Date()
		if iv.Months != 0 {
			m := int(mo) - 1 + int(iv.Months)
			y += m / 12
			if m %= 12; m < 0 {
				m += 12
				y--
			}
			mo = time.Month(m + 1)
			if last := time.Date(y, mo+1, 0, 0, 0, 0, 0, time.UTC).Day(); d > last {
				d = last
			}
		}
		t = time.Date(y, mo, d+int(iv.Days), t.Hour(), t.Minute(), t.Second(), t.Nanosecond(), time.UTC)
		if t.Year() < 1678 || t.Year() > 2261 {
			return 0, errTimestampRange
		}
		ns = t.UnixNano()
	}
	r := ns + iv.Nanos
	if (r > ns) != (iv.Nanos > 0) {
		return 0, errTimestampRange
	}
	return r, nil
}

var errTimestampRange = errs.New(errs.ErrInvalidInput, "22008", "timestamp out of range")

// FormatInterval renders an interval as PostgreSQL does (IntervalStyle
// postgres): "1 year 2 mons -3 days +04:05:06.5".
func FormatInterval(iv Interval) string {
	var b strings.Builder
	isZero, isBefore := true, false
	part := func(v int64, unit string) {
		if v == 0 {
			return
		}
		if !isZero {
			b.WriteByte(' ')
		}
		if isBefore && v > 0 {
			b.WriteByte('+')
		}
		b.WriteString(strconv.FormatInt(v, 10))
		b.WriteByte(' ')
		b.WriteString(unit)
		if v != 1 {
			b.WriteByte('s')
		}
		isBefore, isZero = v < 0, false
	}
	part(int64(iv.Months/12), "year")
	part(int64(iv.Months%12), "mon")
	part(int64(iv.Days), "day")
	us := iv.Nanos / 1e3
	if isZero || us != 0 {
		if !isZero {
			b.WriteByte(' ')
		}
		switch {
		case us < 0:
			b.WriteByte('-')
			us = -us
		case isBefore:
			b.WriteByte('+')
		}
		b.WriteString(pad2(us / 3600e6))
		b.WriteByte(':')
		b.WriteString(pad2(us / 60e6 % 60))
		b.WriteByte(':')
		b.WriteString(pad2(us / 1e6 % 60))
		if frac := us % 1e6; frac != 0 {
			b.WriteByte('.')
			b.WriteString(strings.TrimRight(strconv.FormatInt(1e6+frac, 10)[1:], "0"))
		}
	}
	return b.String()
}

func pad2(n int64) string {
	if n < 10 {
		return "0" + strconv.FormatInt(n, 10)
	}
	return strconv.FormatInt(n, 10)
}

// bucketOrigin is TimescaleDB's default time_bucket origin for timestamps:
// Monday 2000-01-03 00:00:00 UTC.
var bucketOrigin = time.Date(2000, 1, 3, 0, 0, 0, 0, time.UTC).UnixNano()

// BucketOrigin is time_bucket's default origin (ns since the epoch).
var BucketOrigin = bucketOrigin

func floorDiv(a, b int64) int64 {
	q := a / b
	if (a%b != 0) && ((a < 0) != (b < 0)) {
		q--
	}
	return q
}

// TimeBucket returns the start of the width-wide bucket holding ts, with
// buckets aligned to origin (TimescaleDB semantics).
func TimeBucket(width, ts, origin int64) int64 {
	return floorDiv(ts-origin, width)*width + origin
}

// timeBucketChecked is TimeBucket for any ts: at the ends of int64 time
// the bucket's start may lie outside it (22008 instead of a wrapped value).
func timeBucketChecked(width, ts, origin int64) (int64, error) {
	d, ok := subChecked(ts, origin)
	if ok {
		q := floorDiv(d, width)
		if q >= math.MinInt64/width && q <= math.MaxInt64/width {
			if r, ok := addChecked(q*width, origin); ok {
				return r, nil
			}
		}
	}
	return 0, errTimestampRange
}

func addChecked(a, b int64) (int64, bool) {
	r := a + b
	return r, (b >= 0) == (r >= a)
}

func subChecked(a, b int64) (int64, bool) {
	r := a - b
	return r, (b >= 0) == (r <= a)
}

// unixNano is t.UnixNano for times int64 ns can hold, 22008 otherwise
// (UnixNano's result is undefined there).
func unixNano(t time.Time) (int64, error) {
	if t.Before(minTime) || t.After(maxTime) {
		return 0, errTimestampRange
	}
	return t.UnixNano(), nil
}

var minTime, maxTime = time.Unix(0, math.MinInt64).UTC(), time.Unix(0, math.MaxInt64).UTC()

func timeFuncs() []*Scalar {
	return []*Scalar{
		{Name: "time_bucket", Resolve: resolveTimeBucket("time_bucket")},
		{Name: "date_bin", Resolve: resolveDateBin},
		{Name: "date_trunc", Resolve: func(a []Type) (Type, Kernel, error) {
			if len(a) != 2 || a[0] != TText || a[1] != TTimestamp {
				return 0, nil, noFunc("date_trunc", a)
			}
			return TTimestamp, func(args []Vec, n int) (Vec, error) {
				return outInt(TTimestamp, args, n, func(i int) (int64, error) { return DateTrunc(args[0].Str(i), args[1].Int(i)) })
			}, nil
		}},
		{Name: "to_timestamp", Resolve: func(a []Type) (Type, Kernel, error) {
			if len(a) != 1 || !a[0].Numeric() {
				return 0, nil, noFunc("to_timestamp", a)
			}
			return TTimestamp, func(args []Vec, n int) (Vec, error) {
				return outInt(TTimestamp, args, n, func(i int) (int64, error) {
					s := args[0].Float(i)
					if math.IsNaN(s) || math.Abs(s) > 9e9 {
						return 0, errs.New(errs.ErrInvalidInput, "22008", "timestamp out of range: \"%v\"", s)
					}
					return int64(math.Round(s*1e6)) * 1e3, nil
				})
			}, nil
		}},
	}
}

func fixedWidth(v Vec) (int64, error) {
	iv, _ := v.Const.(Interval)
	w, ok := iv.Fixed()
	if !ok {
		return 0, errs.New(errs.ErrInvalidInput, errs.CodeFeatureNotSupported, "time_bucket with a month or year width is not supported")
	}
	if w <= 0 {
		return 0, errs.New(errs.ErrInvalidInput, errs.CodeInvalidParameter, "bucket width must be greater than zero")
	}
	return w, nil
}

// resolveTimeBucket: time_bucket(interval, timestamptz [, offset interval |
// origin timestamptz]).
func resolveTimeBucket(name string) func(a []Type) (Type, Kernel, error) {
	return func(a []Type) (Type, Kernel, error) {
		if len(a) < 2 || len(a) > 3 || a[0] != TInterval || a[1] != TTimestamp || (len(a) == 3 && a[2] != TInterval && a[2] != TTimestamp) {
			return 0, nil, noFunc(name, a)
		}
		return TTimestamp, func(args []Vec, n int) (Vec, error) { return timeBucketInto(args, n, nil) }, nil
	}
}

func timeBucketInto(args []Vec, n int, dst []int64) (Vec, error) {
	if !args[0].IsConst() {
		return Vec{}, errs.New(errs.ErrInvalidInput, errs.CodeFeatureNotSupported, "time_bucket width must be a constant")
	}
	if args[0].Const == nil {
		return ConstVec(nil, TTimestamp, n), nil
	}
	w, err := fixedWidth(args[0])
	if err != nil {
		return Vec{}, err
	}
	origin := bucketOrigin
	if len(args) == 3 {
		if !args[2].IsConst() || args[2].Const == nil {
			return Vec{}, errs.New(errs.ErrInvalidInput, errs.CodeFeatureNotSupported, "time_bucket offset/origin must be a non-null constant")
		}
		if args[2].T == TInterval {
			off, ok := args[2].Const.(Interval).Fixed()
			if !ok {
				return Vec{}, errs.New(errs.ErrInvalidInput, errs.CodeFeatureNotSupported, "time_bucket offset with months is not supported")
			}
			origin += off
		} else {
			origin = args[2].Int(0)
		}
	}
	return bucketKernel(args[1], n, w, origin, dst)
}

// resolveDateBin: date_bin(interval, timestamptz, origin timestamptz).
func resolveDateBin(a []Type) (Type, Kernel, error) {
	if len(a) != 3 || a[0] != TInterval || a[1] != TTimestamp || a[2] != TTimestamp {
		return 0, nil, noFunc("date_bin", a)
	}
	return TTimestamp, func(args []Vec, n int) (Vec, error) { return dateBinInto(args, n, nil) }, nil
}

func dateBinInto(args []Vec, n int, dst []int64) (Vec, error) {
	if !args[0].IsConst() || !args[2].IsConst() {
		return Vec{}, errs.New(errs.ErrInvalidInput, errs.CodeFeatureNotSupported, "date_bin width and origin must be constants")
	}
	if args[0].Const == nil || args[2].Const == nil {
		return ConstVec(nil, TTimestamp, n), nil
	}
	w, err := fixedWidth(args[0])
	if err != nil {
		return Vec{}, err
	}
	return bucketKernel(args[1], n, w, args[2].Int(0), dst)
}

// BucketKernel is the kernel of time_bucket or date_bin (name) for the
// argument types a, in a form that writes the buckets into dst when
// cap(dst) >= n instead of a fresh array; the result then aliases dst and
// is valid until dst is written again. It is for callers that are done with
// one batch's buckets before they evaluate the next batch (hash aggregation
// keys), so that a scan allocates no bucket array per batch. ok is false
// for other functions and argument types.
func BucketKernel(name string, a []Type) (k func(args []Vec, n int, dst []int64) (Vec, error), ok bool) {
	var err error
	switch name {
	case "time_bucket":
		_, _, err = resolveTimeBucket(name)(a)
		k = timeBucketInto
	case "date_bin":
		_, _, err = resolveDateBin(a)
		k = dateBinInto
	default:
		return nil, false
	}
	if err != nil {
		return nil, false
	}
	return k, true
}

// bucketKernel computes the buckets of ts into dst (a fresh slice when
// cap(dst) < n).
func bucketKernel(ts Vec, n int, w, origin int64, dst []int64) (Vec, error) {
	if ts.IsConst() {
		if ts.Const == nil {
			return ConstVec(nil, TTimestamp, n), nil
		}
		b, err := timeBucketChecked(w, ts.Int(0), origin)
		return ConstVec(b, TTimestamp, n), err
	}
	vals := dst[:0]
	if cap(vals) < n {
		vals = make([]int64, n)
	}
	vals = vals[:n]
	var valid *Valid
	if ta, ok := ts.Arr.(*array.Timestamp); ok && ta.NullN() == 0 {
		// rows come in time-sorted runs: reuse the previous bucket while
		// the time stays inside it (a division per bucket, not per row)
		lo, hi := int64(1), int64(0)
		for i, t := range ta.TimestampValues() {
			x := int64(t)
			if x < lo || x >= hi {
				var err error
				if lo, err = timeBucketChecked(w, x, origin); err != nil {
					return Vec{}, err
				}
				hi = lo + w
				if hi < lo { // overflow at the far end of time
					hi = math.MaxInt64
				}
			}
			vals[i] = lo
		}
		return ArrVec(NewTimestamp(vals, nil), TTimestamp), nil
	}
	if ts.Arr.NullN() > 0 {
		valid = NewValid(n)
	}
	for i := 0; i < n; i++ {
		if valid != nil && ts.Arr.IsNull(i) {
			valid.SetNull(i)
			vals[i] = 0
			continue
		}
		b, err := timeBucketChecked(w, ts.Int(i), origin)
		if err != nil {
			return Vec{}, err
		}
		vals[i] = b
	}
	return ArrVec(NewTimestamp(vals, valid), TTimestamp), nil
}

// DateTrunc truncates a timestamp (UTC) to a unit.
func DateTrunc(unit string, ns int64) (int64, error) {
	t := time.Unix(0, ns).UTC()
	y, mo, d := t.Date()
	switch strings.ToLower(unit) {
	case "microseconds":
		return timeBucketChecked(1e3, ns, 0)
	case "milliseconds":
		return timeBucketChecked(1e6, ns, 0)
	case "second":
		return timeBucketChecked(1e9, ns, 0)
	case "minute":
		return timeBucketChecked(60e9, ns, 0)
	case "hour":
		return timeBucketChecked(3600e9, ns, 0)
	case "day":
		return unixNano(time.Date(y, mo, d, 0, 0, 0, 0, time.UTC))
	case "week":
		wd := (int(t.Weekday()) + 6) % 7 // Monday = 0
		return unixNano(time.Date(y, mo, d-wd, 0, 0, 0, 0, time.UTC))
	case "month":
		return unixNano(time.Date(y, mo, 1, 0, 0, 0, 0, time.UTC))
	case "quarter":
		return unixNano(time.Date(y, mo-(mo-1)%3, 1, 0, 0, 0, 0, time.UTC))
	case "year":
		return unixNano(time.Date(y, 1, 1, 0, 0, 0, 0, time.UTC))
	case "decade":
		return unixNano(time.Date(y-y%10, 1, 1, 0, 0, 0, 0, time.UTC))
	}
	return 0, errs.New(errs.ErrInvalidInput, errs.CodeFeatureNotSupported, "unit %q not recognized for type timestamp with time zone", unit)
}
