package functions

import (
	"fmt"

	"github.com/apache/arrow-go/v18/arrow"
)

// Type is a SQL type of ugnos.
type Type uint8

const (
	TUnknown   Type = iota // an untyped literal ('...' or NULL) before coercion
	TBool                  // boolean
	TInt                   // bigint
	TFloat                 // double precision
	TText                  // text
	TTimestamp             // timestamp with time zone (ns since the epoch)
	TInterval              // interval (months, days, ns; Arrow month_day_nano_interval)
	TDate                  // date (days since 1970-01-01; Arrow date32)
	TNumeric               // numeric: Decimal constants; arrays hold each value's text
)

// Name is the PostgreSQL name of the type.
func (t Type) Name() string {
	switch t {
	case TBool:
		return "boolean"
	case TInt:
		return "bigint"
	case TFloat:
		return "double precision"
	case TText:
		return "text"
	case TTimestamp:
		return "timestamp with time zone"
	case TInterval:
		return "interval"
	case TDate:
		return "date"
	case TNumeric:
		return "numeric"
	}
	return "unknown"
}

func (t Type) String() string { return t.Name() }

// TimestampType is the Arrow type of TTimestamp.
var TimestampType = &arrow.TimestampType{Unit: arrow.Nanosecond, TimeZone: "UTC"}

// Arrow is the Arrow type of values of t.
func (t Type) Arrow() arrow.DataType {
	switch t {
	case TBool:
		return arrow.FixedWidthTypes.Boolean
	case TInt:
		return arrow.PrimitiveTypes.Int64
	case TFloat:
		return arrow.PrimitiveTypes.Float64
	case TTimestamp:
		return TimestampType
	case TInterval:
		return arrow.FixedWidthTypes.MonthDayNanoInterval
	case TDate:
		return arrow.FixedWidthTypes.Date32
	default:
		return arrow.BinaryTypes.String
	}
}

// FromArrow maps an Arrow type to a SQL type.
func FromArrow(dt arrow.DataType) (Type, error) {
	switch dt := dt.(type) {
	case *arrow.BooleanType:
		return TBool, nil
	case *arrow.Int64Type, *arrow.Int32Type, *arrow.Uint32Type:
		return TInt, nil
	case *arrow.Float64Type:
		return TFloat, nil
	case *arrow.StringType:
		return TText, nil
	case *arrow.TimestampType:
		return TTimestamp, nil
	case *arrow.MonthDayNanoIntervalType:
		return TInterval, nil
	case *arrow.Date32Type:
		return TDate, nil
	case *arrow.DictionaryType:
		return FromArrow(dt.ValueType)
	}
	return TUnknown, fmt.Errorf("unsupported Arrow type %s", dt)
}

// Numeric reports whether t is bigint, double precision or numeric.
func (t Type) Numeric() bool { return t == TInt || t == TFloat || t == TNumeric }

// Interval is an interval value. Months and days are kept apart as in
// PostgreSQL; Nanos holds the rest.
type Interval struct {
	Months int32
	Days   int32
	Nanos  int64
}

// Fixed returns the interval as ns when it has no months (days count as 24 h).
func (iv Interval) Fixed() (int64, bool) {
	if iv.Months != 0 {
		return 0, false
	}
	return int64(iv.Days)*86400e9 + iv.Nanos, true
}

// nsPerDay is the length of a day in an interval's comparison value.
const nsPerDay = 86400e9

// Span returns the interval's comparison value as PostgreSQL computes it
// (a month is 30 days, a day 24 hours) in two parts: whole days and the
// remaining ns in [0, 1 day). Intervals compare and group by it, so
// '1 day' = '24 hours'.
func (iv Interval) Span() (days, ns int64) {
	days = int64(iv.Months)*30 + int64(iv.Days)
	q := floorDiv(iv.Nanos, nsPerDay)
	return days + q, iv.Nanos - q*nsPerDay
}

// CompareInterval orders intervals by their span.
func CompareInterval(a, b Interval) int {
	ad, an := a.Span()
	bd, bn := b.Span()
	if c := cmp3(ad, bd); c != 0 {
		return c
	}
	return cmp3(an, bn)
}
