package pgwire

import (
	"encoding/binary"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/ugnos/ugnos/errs"
	"github.com/ugnos/ugnos/functions"
	"github.com/ugnos/ugnos/pgcatalog"
)

// PostgreSQL type OIDs of the values ugnos serves.
const (
	oidBool        = pgtype.BoolOID
	oidInt8        = pgtype.Int8OID
	oidInt4        = pgtype.Int4OID
	oidInt2        = pgtype.Int2OID
	oidFloat8      = pgtype.Float8OID
	oidFloat4      = pgtype.Float4OID
	oidText        = pgtype.TextOID
	oidVarchar     = pgtype.VarcharOID
	oidTimestamptz = pgtype.TimestamptzOID
	oidTimestamp   = pgtype.TimestampOID
	oidDate        = pgtype.DateOID
	oidInterval    = pgtype.IntervalOID
	oidNumeric     = pgtype.NumericOID
	oidUnknown     = pgtype.UnknownOID
)

// typeOID is the OID a column of SQL type t is sent as.
func typeOID(t functions.Type) uint32 {
	switch t {
	case functions.TBool:
		return oidBool
	case functions.TInt:
		return oidInt8
	case functions.TFloat:
		return oidFloat8
	case functions.TTimestamp:
		return oidTimestamptz
	case functions.TInterval:
		return oidInterval
	case functions.TDate:
		return oidDate
	case functions.TNumeric:
		return oidNumeric
	}
	return oidText
}

// typeSize is pg_type.typlen of a served type (-1: variable).
func typeSize(oid uint32) int16 {
	switch oid {
	case oidBool:
		return 1
	case oidInt8, oidFloat8, oidTimestamptz:
		return 8
	case oidDate, oidInt4, oidFloat4, pgtype.OIDOID, pgtype.XIDOID, pgtype.CIDOID, 2205, 2206, 24, 4089, 4096:
		return 4
	case oidInterval:
		return 16
	case oidInt2:
		return 2
	case pgtype.QCharOID:
		return 1
	case pgtype.NameOID:
		return 64
	}
	return -1
}

// oidByName maps the PostgreSQL type names DB.Describe reports to OIDs.
func oidByName(name string) uint32 {
	switch name {
	case "boolean":
		return oidBool
	case "bigint":
		return oidInt8
	case "double precision":
		return oidFloat8
	case "timestamp with time zone":
		return oidTimestamptz
	case "interval":
		return oidInterval
	case "date":
		return oidDate
	case "numeric":
		return oidNumeric
	}
	return oidText
}

// sqlTypeByName is the SQL type DB.Describe names.
func sqlTypeByName(name string) functions.Type {
	switch name {
	case "bigint":
		return functions.TInt
	case "double precision":
		return functions.TFloat
	case "boolean":
		return functions.TBool
	}
	return functions.TText
}

// pgEpochUnixMicros is 2000-01-01 00:00:00 UTC, the zero of PostgreSQL's
// binary timestamps, in µs since the Unix epoch.
const pgEpochUnixMicros = 946684800 * 1000000

// pgEpochDays is 2000-01-01 in days since the Unix epoch.
const pgEpochDays = 10957

// column encodes the values of one result column.
type column struct {
	vec    functions.Vec
	t      functions.Type
	oid    uint32 // the type announced
	binary bool
}

// wireType is the type OID a result field is announced as: its SQL type's,
// or the narrower PostgreSQL type a catalog column records in its
// metadata (oid, int4, name, "char", …) where the value fits that type's
// encodings. Types ugnos cannot encode in binary (arrays, aclitem,
// pg_node_tree, …) are announced as text.
func wireType(f arrow.Field, t functions.Type) uint32 {
	name, _ := f.Metadata.GetValue(pgcatalog.MetaPGType)
	return announced(t, name)
}

// announced is the OID of a column of type t recorded as PostgreSQL type
// name ("" for none).
func announced(t functions.Type, name string) uint32 {
	switch {
	case t == functions.TInt && name == "int2":
		return oidInt2
	case t == functions.TInt && name == "int4":
		return oidInt4
	case t == functions.TInt:
		if oid, ok := int4Like[name]; ok {
			return oid
		}
	case t == functions.TText:
		if oid, ok := textLike[name]; ok {
			return oid
		}
	case t == functions.TFloat && name == "float4":
		return oidFloat4
	}
	return typeOID(t)
}

// int4Like are 4-byte integer types (binary: int32).
var int4Like = map[string]uint32{"oid": pgtype.OIDOID, "xid": pgtype.XIDOID, "cid": pgtype.CIDOID,
	"regclass": 2205, "regtype": 2206, "regproc": 24, "regnamespace": 4089, "regrole": 4096}

// textLike are types whose binary form is their text.
var textLike = map[string]uint32{"name": pgtype.NameOID, "char": pgtype.QCharOID, "bpchar": pgtype.BPCharOID, "varchar": pgtype.VarcharOID}

// encoder renders values for a session (time zone, float digits).
type encoder struct {
	loc         *time.Location // nil: UTC
	floatDigits int            // extra_float_digits
	types       *pgtype.Map    // binary numeric
}

// appendValue appends row i of c in its format; the caller has checked
// that the row is not NULL.
func (e *encoder) appendValue(b []byte, c *column, i int) []byte {
	v := c.vec
	if c.binary {
		switch c.t {
		case functions.TBool:
			if v.Bool(i) {
				return append(b, 1)
			}
			return append(b, 0)
		case functions.TInt:
			switch typeSize(c.oid) {
			case 4:
				return binary.BigEndian.AppendUint32(b, uint32(v.Int(i)))
			case 2:
				return binary.BigEndian.AppendUint16(b, uint16(v.Int(i)))
			}
			return binary.BigEndian.AppendUint64(b, uint64(v.Int(i)))
		case functions.TFloat:
			if c.oid == oidFloat4 {
				return binary.BigEndian.AppendUint32(b, math.Float32bits(float32(v.Float(i))))
			}
			return binary.BigEndian.AppendUint64(b, math.Float64bits(v.Float(i)))
		case functions.TTimestamp:
			return binary.BigEndian.AppendUint64(b, uint64(floorDiv(v.Int(i), 1000)-pgEpochUnixMicros))
		case functions.TDate:
			return binary.BigEndian.AppendUint32(b, uint32(int32(v.Int(i)-pgEpochDays)))
		case functions.TInterval:
			iv := v.Interval(i)
			b = binary.BigEndian.AppendUint64(b, uint64(iv.Nanos/1000))
			b = binary.BigEndian.AppendUint32(b, uint32(iv.Days))
			return binary.BigEndian.AppendUint32(b, uint32(iv.Months))
		case functions.TNumeric:
			var n pgtype.Numeric
			if err := n.Scan(v.Str(i)); err == nil {
				if out, err := e.types.Encode(oidNumeric, pgtype.BinaryFormatCode, n, b); err == nil {
					return out
				}
			}
			// every numeric text of the engine scans; keep the row well formed
			return e.appendNumericNaN(b)
		}
		return append(b, v.Str(i)...)
	}
	switch c.t {
	case functions.TBool:
		if v.Bool(i) {
			return append(b, 't')
		}
		return append(b, 'f')
	case functions.TInt:
		return strconv.AppendInt(b, v.Int(i), 10)
	case functions.TFloat:
		return append(b, e.formatFloat(v.Float(i))...)
	case functions.TTimestamp:
		return e.appendTimestamp(b, v.Int(i))
	case functions.TText, functions.TUnknown:
		return append(b, v.Str(i)...)
	}
	return append(b, functions.FormatValue(v.Value(i), c.t)...)
}

// appendNumericNaN is numeric NaN in binary (ndigits 0, weight 0, sign
// NaN, dscale 0).
func (e *encoder) appendNumericNaN(b []byte) []byte {
	return append(b, 0, 0, 0, 0, 0xC0, 0, 0, 0)
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}

// formatFloat renders a double as PostgreSQL does for the session's
// extra_float_digits: shortest exact form when it is positive, else
// 15 + extra_float_digits significant digits.
func (e *encoder) formatFloat(f float64) string {
	if e.floatDigits > 0 || math.IsNaN(f) || math.IsInf(f, 0) {
		return functions.FormatFloat(f)
	}
	prec := 15 + e.floatDigits
	if prec < 1 {
		prec = 1
	}
	s := strconv.FormatFloat(f, 'g', prec, 64)
	if i := strings.IndexByte(s, 'e'); i >= 0 {
		mant, exp := s[:i], s[i+1:]
		sign := exp[0]
		digits := strings.TrimLeft(exp[1:], "0")
		for len(digits) < 2 {
			digits = "0" + digits
		}
		return mant + "e" + string(sign) + digits
	}
	return s
}

// appendTimestamp renders a timestamptz in the session time zone:
// 2016-01-01 00:00:00.5+00, +05:30 for zones off the hour.
func (e *encoder) appendTimestamp(b []byte, ns int64) []byte {
	if e.loc == nil {
		return append(b, functions.FormatTimestamp(ns)...)
	}
	t := time.Unix(0, ns).In(e.loc)
	b = t.AppendFormat(b, "2006-01-02 15:04:05.999999")
	_, off := t.Zone()
	sign := byte('+')
	if off < 0 {
		sign, off = '-', -off
	}
	b = append(b, sign)
	b = append(b, byte('0'+off/36000), byte('0'+off/3600%10))
	if m := off / 60 % 60; m != 0 || off%60 != 0 {
		b = append(b, ':', byte('0'+m/10), byte('0'+m%10))
	}
	if s := off % 60; s != 0 {
		b = append(b, ':', byte('0'+s/10), byte('0'+s%10))
	}
	return b
}

// fieldType is the SQL type of a result column.
func fieldType(f arrow.Field) (functions.Type, error) {
	t, err := functions.FieldType(f)
	if err != nil {
		return 0, errs.New(errs.ErrInternal, errs.CodeInternal, "column %q: %v", f.Name, err)
	}
	if t == functions.TUnknown {
		t = functions.TText
	}
	return t, nil
}

// decodeParam turns a Bind parameter into a value the engine takes: text
// stays a string (typed by its use, like a quoted literal); binary values
// are decoded by their type OID.
func decodeParam(m *pgtype.Map, oid uint32, format int16, raw []byte) (any, error) {
	if raw == nil {
		return nil, nil
	}
	if format == 0 {
		return string(raw), nil
	}
	bad := func(what string) error {
		return errs.New(errs.ErrInvalidInput, "22P03", "incorrect binary data format in bind parameter: %s", what)
	}
	switch oid {
	case oidBool:
		if len(raw) != 1 {
			return nil, bad("boolean")
		}
		return raw[0] != 0, nil
	case oidInt8:
		if len(raw) != 8 {
			return nil, bad("bigint")
		}
		return int64(binary.BigEndian.Uint64(raw)), nil
	case oidInt4:
		if len(raw) != 4 {
			return nil, bad("integer")
		}
		return int64(int32(binary.BigEndian.Uint32(raw))), nil
	case oidInt2:
		if len(raw) != 2 {
			return nil, bad("smallint")
		}
		return int64(int16(binary.BigEndian.Uint16(raw))), nil
	case oidFloat8:
		if len(raw) != 8 {
			return nil, bad("double precision")
		}
		return math.Float64frombits(binary.BigEndian.Uint64(raw)), nil
	case oidFloat4:
		if len(raw) != 4 {
			return nil, bad("real")
		}
		return float64(math.Float32frombits(binary.BigEndian.Uint32(raw))), nil
	case oidText, oidVarchar, oidUnknown, pgtype.NameOID, pgtype.BPCharOID:
		return string(raw), nil
	case oidTimestamptz, oidTimestamp:
		if len(raw) != 8 {
			return nil, bad("timestamp")
		}
		us := int64(binary.BigEndian.Uint64(raw))
		if us == math.MaxInt64 || us == math.MinInt64 {
			return nil, errs.New(errs.ErrInvalidInput, "22008", "timestamp out of range: infinite timestamps are not supported")
		}
		return time.UnixMicro(us + pgEpochUnixMicros).UTC(), nil
	case oidDate:
		if len(raw) != 4 {
			return nil, bad("date")
		}
		d := int64(int32(binary.BigEndian.Uint32(raw)))
		return functions.FormatDate(d + pgEpochDays), nil
	case oidInterval:
		if len(raw) != 16 {
			return nil, bad("interval")
		}
		iv := functions.Interval{
			Nanos:  int64(binary.BigEndian.Uint64(raw)) * 1000,
			Days:   int32(binary.BigEndian.Uint32(raw[8:])),
			Months: int32(binary.BigEndian.Uint32(raw[12:])),
		}
		return functions.FormatInterval(iv), nil
	case oidNumeric:
		var n pgtype.Numeric
		if err := m.Scan(oid, pgtype.BinaryFormatCode, raw, &n); err != nil {
			return nil, bad("numeric")
		}
		v, err := n.Value()
		if err != nil {
			return nil, bad("numeric")
		}
		s, _ := v.(string)
		return s, nil
	}
	return nil, errs.New(errs.ErrInvalidInput, errs.CodeFeatureNotSupported, "binary parameters of type oid %d are not supported", oid)
}

// columnsOf returns the encoders of a record's columns.
func columnsOf(rec arrow.RecordBatch, formats []int16) ([]column, error) {
	cols := make([]column, rec.NumCols())
	for c := range cols {
		f := rec.Schema().Field(c)
		t, err := fieldType(f)
		if err != nil {
			return nil, err
		}
		cols[c] = column{vec: functions.ArrVec(rec.Column(c), t), t: t, oid: wireType(f, t), binary: formatOf(formats, c) == 1}
	}
	return cols, nil
}

// formatOf is the format code of column c: none given means text, one
// applies to all.
func formatOf(formats []int16, c int) int16 {
	switch len(formats) {
	case 0:
		return 0
	case 1:
		return formats[0]
	}
	if c < len(formats) {
		return formats[c]
	}
	return 0
}
