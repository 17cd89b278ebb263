package functions

import (
	"math"
	"strconv"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/cockroachdb/apd/v3"

	"github.com/ugnos/ugnos/errs"
)

// Decimal is a value of type numeric: an arbitrary-precision decimal with a
// display scale, NaN, Infinity or -Infinity, as in PostgreSQL. The scale is
// part of the value (1.50 has scale 2 and prints as "1.50") but not of its
// identity: 1.5 = 1.50. The zero value is 0.
//
// Decimals are immutable; operations return new values.
type Decimal struct {
	d apd.Decimal // finite: Exponent = -scale (never positive); zero never negative
}

// PostgreSQL's limits (numeric.c).
const (
	numMaxDisplayScale = 1000   // NUMERIC_MAX_DISPLAY_SCALE
	numMinSigDigits    = 16     // NUMERIC_MIN_SIG_DIGITS
	numMaxScale        = 16383  // NUMERIC_DSCALE_MAX
	numMaxIntDigits    = 131072 // digits before the decimal point
	numMaxResultScale  = 2000   // NUMERIC_MAX_RESULT_SCALE (round, trunc)
)

var (
	errNumOver    = errs.New(errs.ErrInvalidInput, "22003", "value overflows numeric format")
	errNumSqrtNeg = errs.New(errs.ErrInvalidInput, "2201F", "cannot take square root of a negative number")
)

// NaNDecimal is numeric NaN.
var NaNDecimal = Decimal{d: apd.Decimal{Form: apd.NaN}}

// DecimalFromInt returns x as a numeric of scale 0.
func DecimalFromInt(x int64) Decimal {
	var d Decimal
	d.d.SetInt64(x)
	return d
}

func infDecimal(neg bool) Decimal { return Decimal{d: apd.Decimal{Form: apd.Infinite, Negative: neg}} }

// ParseDecimal parses numeric input as PostgreSQL's numeric_in does:
// [sign] digits [. digits] [e [sign] digits], surrounding spaces, and NaN,
// Infinity, inf with an optional sign, in any case.
func ParseDecimal(s string) (Decimal, error) {
	t := strings.TrimSpace(s)
	switch strings.ToLower(t) {
	case "nan":
		return NaNDecimal, nil
	case "infinity", "+infinity", "inf", "+inf":
		return infDecimal(false), nil
	case "-infinity", "-inf":
		return infDecimal(true), nil
	}
	if !numericSyntax(t) {
		return Decimal{}, badText(TNumeric, s)
	}
	var d Decimal
	if _, _, err := d.d.SetString(t); err != nil {
		return Decimal{}, errNumOver
	}
	return d.norm()
}

// numericSyntax checks PostgreSQL's numeric input grammar.
func numericSyntax(s string) bool {
	i := 0
	if i < len(s) && (s[i] == '+' || s[i] == '-') {
		i++
	}
	digits, dot := 0, false
	for ; i < len(s); i++ {
		switch c := s[i]; {
		case c >= '0' && c <= '9':
			digits++
		case c == '.' && !dot:
			dot = true
		default:
			goto exp
		}
	}
exp:
	if digits == 0 {
		return false
	}
	if i == len(s) {
		return true
	}
	if s[i] != 'e' && s[i] != 'E' {
		return false
	}
	i++
	if i < len(s) && (s[i] == '+' || s[i] == '-') {
		i++
	}
	if i == len(s) {
		return false
	}
	for ; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// norm brings a finite result into canonical form (no positive exponent,
// no negative zero) and checks PostgreSQL's range.
func (x Decimal) norm() (Decimal, error) {
	if x.d.Form != apd.Finite {
		return x, nil
	}
	if x.d.Exponent > 0 {
		if x.d.Exponent > numMaxIntDigits {
			return Decimal{}, errNumOver
		}
		var r Decimal
		r.d.Negative = x.d.Negative
		r.d.Coeff.Mul(&x.d.Coeff, pow10(int(x.d.Exponent)))
		x = r
	}
	if x.d.Coeff.Sign() == 0 {
		x.d.Negative = false
	}
	if -x.d.Exponent > numMaxScale || x.intDigits() > numMaxIntDigits {
		return Decimal{}, errNumOver
	}
	return x, nil
}

var pow10Cache [40]*apd.BigInt

func init() {
	p := apd.NewBigInt(1)
	for i := range pow10Cache {
		pow10Cache[i] = new(apd.BigInt).Set(p)
		p.Mul(p, apd.NewBigInt(10))
	}
}

// pow10 returns 10^n; the result must not be modified.
func pow10(n int) *apd.BigInt {
	if n < len(pow10Cache) {
		return pow10Cache[n]
	}
	return new(apd.BigInt).Exp(apd.NewBigInt(10), apd.NewBigInt(int64(n)), nil)
}

// numDigits is the number of decimal digits of the coefficient (1 for 0).
func (x Decimal) numDigits() int { return int(apd.NumDigits(&x.d.Coeff)) }

// intDigits is the number of digits before the decimal point (0 for |x| < 1).
func (x Decimal) intDigits() int {
	if x.d.Coeff.Sign() == 0 {
		return 0
	}
	return max(x.numDigits()+int(x.d.Exponent), 0)
}

// IsNaN reports whether x is NaN.
func (x Decimal) IsNaN() bool { return x.d.Form == apd.NaN || x.d.Form == apd.NaNSignaling }

// IsInf reports whether x is Infinity or -Infinity.
func (x Decimal) IsInf() bool { return x.d.Form == apd.Infinite }

func (x Decimal) special() bool { return x.d.Form != apd.Finite }

// Scale is the display scale (digits after the decimal point; 0 for NaN
// and infinities).
func (x Decimal) Scale() int {
	if x.special() {
		return 0
	}
	return int(-x.d.Exponent)
}

// Sign is -1, 0 or 1 (NaN: 0).
func (x Decimal) Sign() int {
	switch {
	case x.IsNaN():
		return 0
	case x.d.Negative:
		return -1
	case x.IsInf() || x.d.Coeff.Sign() != 0:
		return 1
	}
	return 0
}

// String is PostgreSQL's text output: plain notation with the display
// scale ("1.50", "-0.0010", "NaN", "-Infinity").
func (x Decimal) String() string {
	switch {
	case x.IsNaN():
		return "NaN"
	case x.IsInf() && x.d.Negative:
		return "-Infinity"
	case x.IsInf():
		return "Infinity"
	}
	return x.d.Text('f')
}

// Float64 converts x to double precision (correctly rounded, as
// PostgreSQL's numeric_float8).
func (x Decimal) Float64() float64 {
	switch {
	case x.IsNaN():
		return math.NaN()
	case x.IsInf() && x.d.Negative:
		return math.Inf(-1)
	case x.IsInf():
		return math.Inf(1)
	}
	f, _ := strconv.ParseFloat(x.d.Text('e'), 64)
	return f
}

// Float64Checked is Float64 that refuses, as PostgreSQL's numeric_float8
// does (SQLSTATE 22003), a finite value beyond double precision's range.
func (x Decimal) Float64Checked() (float64, error) {
	f := x.Float64()
	if x.IsNaN() || x.IsInf() {
		return f, nil
	}
	if math.IsInf(f, 0) || f == 0 && !x.d.IsZero() {
		return 0, errs.New(errs.ErrInvalidInput, "22003", "%q is out of range for type double precision", x.d.Text('g'))
	}
	return f, nil
}

// DecimalFromFloat converts a double as PostgreSQL's float8_numeric: the
// value rounded to 15 significant digits (DBL_DIG), NaN and infinities
// kept.
func DecimalFromFloat(f float64) (Decimal, error) {
	switch {
	case math.IsNaN(f):
		return NaNDecimal, nil
	case math.IsInf(f, 0):
		return infDecimal(f < 0), nil
	}
	return ParseDecimal(strconv.FormatFloat(f, 'g', 15, 64))
}

var (
	errNumNaNInt = errs.New(errs.ErrInvalidInput, errs.CodeFeatureNotSupported, "cannot convert NaN to bigint")
	errNumInfInt = errs.New(errs.ErrInvalidInput, errs.CodeFeatureNotSupported, "cannot convert infinity to bigint")
)

// Int64 rounds x to an integer (half away from zero) as numeric_int8 does.
func (x Decimal) Int64() (int64, error) {
	switch {
	case x.IsNaN():
		return 0, errNumNaNInt
	case x.IsInf():
		return 0, errNumInfInt
	}
	r := roundDec(x, 0, apd.RoundHalfUp)
	v, err := r.d.Int64()
	if err != nil {
		return 0, errIntOver
	}
	return v, nil
}

// Cmp orders x and y as PostgreSQL does: NaN above everything and equal to
// itself, then Infinity; -Infinity below everything. Scales do not
// matter: 1.5 = 1.50.
func (x Decimal) Cmp(y Decimal) int {
	rx, ry := x.rank(), y.rank()
	if rx != ry || rx != 0 {
		return cmp3(int64(rx), int64(ry))
	}
	return x.d.Cmp(&y.d)
}

// rank orders the special values: -1 -Infinity, 0 finite, 1 Infinity,
// 2 NaN.
func (x Decimal) rank() int {
	switch {
	case x.IsNaN():
		return 2
	case x.IsInf() && x.d.Negative:
		return -1
	case x.IsInf():
		return 1
	}
	return 0
}

// NumericKey is a text form of the numeric text s equal for equal values
// (trailing fractional zeros removed), for hashing GROUP BY, DISTINCT and
// join keys.
func NumericKey(s string) string {
	if strings.IndexByte(s, '.') < 0 {
		if s == "-0" {
			return "0"
		}
		return s
	}
	s = strings.TrimRight(s, "0")
	s = strings.TrimSuffix(s, ".")
	if s == "-0" || s == "" || s == "-" {
		return "0"
	}
	return s
}

// CompareNumericText orders two numeric texts (see Decimal.Cmp).
func CompareNumericText(a, b string) int {
	if a == b {
		return 0
	}
	x, _ := ParseDecimal(a)
	y, _ := ParseDecimal(b)
	return x.Cmp(y)
}

// ---- arithmetic with PostgreSQL's result scales ----

var bigCtx = apd.BaseContext // precision 0: exact adds, subtracts, multiplies

func negDec(x Decimal) Decimal {
	if x.IsNaN() {
		return x
	}
	var r Decimal
	r.d.Neg(&x.d)
	if r.d.Form == apd.Finite && r.d.Coeff.Sign() == 0 {
		r.d.Negative = false
	}
	return r
}

func absDec(x Decimal) Decimal {
	var r Decimal
	r.d.Abs(&x.d)
	return r
}

// addDec is x + y (sub: x - y); the scale is the larger input scale.
func addDec(x, y Decimal, sub bool) (Decimal, error) {
	if x.special() || y.special() {
		if sub {
			y = negDec(y)
		}
		switch {
		case x.IsNaN() || y.IsNaN():
			return NaNDecimal, nil
		case x.IsInf() && y.IsInf():
			if x.d.Negative != y.d.Negative {
				return NaNDecimal, nil
			}
			return x, nil
		case x.IsInf():
			return x, nil
		}
		return y, nil
	}
	var r Decimal
	var err error
	if sub {
		_, err = bigCtx.Sub(&r.d, &x.d, &y.d)
	} else {
		_, err = bigCtx.Add(&r.d, &x.d, &y.d)
	}
	if err != nil {
		return Decimal{}, errNumOver
	}
	return r.norm()
}

// mulDec is x * y; the scale is the sum of the input scales.
func mulDec(x, y Decimal) (Decimal, error) {
	if x.special() || y.special() {
		switch {
		case x.IsNaN() || y.IsNaN():
			return NaNDecimal, nil
		case x.Sign() == 0 || y.Sign() == 0: // Infinity * 0
			return NaNDecimal, nil
		}
		return infDecimal(x.Sign()*y.Sign() < 0), nil
	}
	var r Decimal
	if _, err := bigCtx.Mul(&r.d, &x.d, &y.d); err != nil {
		return Decimal{}, errNumOver
	}
	return r.norm()
}

// weight is PostgreSQL's base-10000 weight of x and its first base-10000
// digit (0, 0 for zero).
func (x Decimal) weight() (w, first int) {
	if x.special() || x.d.Coeff.Sign() == 0 {
		return 0, 0
	}
	nd := x.numDigits()
	e10 := nd - 1 + int(x.d.Exponent) // |x| in [10^e10, 10^(e10+1))
	w = e10 / 4
	if e10 < 0 && e10%4 != 0 {
		w-- // floor division
	}
	k := e10 - 4*w + 1 // digits in the first group: 1..4
	digits := x.d.Coeff.String()
	for len(digits) < k {
		digits += "0"
	}
	first, _ = strconv.Atoi(digits[:k])
	return w, first
}

// divScale is PostgreSQL's select_div_scale: at least 16 significant
// digits, at least either input's scale, at most 1000.
func divScale(x, y Decimal) int {
	w1, f1 := x.weight()
	w2, f2 := y.weight()
	qweight := w1 - w2
	if f1 <= f2 {
		qweight--
	}
	r := numMinSigDigits - qweight*4
	r = max(r, x.Scale(), y.Scale(), 0)
	return min(r, numMaxDisplayScale)
}

// divDec is x / y rounded half away from zero to select_div_scale digits.
func divDec(x, y Decimal) (Decimal, error) {
	if x.special() || y.special() {
		switch {
		case x.IsNaN() || y.IsNaN():
			return NaNDecimal, nil
		case x.IsInf() && y.IsInf():
			return NaNDecimal, nil
		case x.IsInf():
			if y.Sign() == 0 {
				return Decimal{}, errDivZero
			}
			return infDecimal(x.Sign()*y.Sign() < 0), nil
		}
		return Decimal{}, nil // finite / infinity
	}
	if y.Sign() == 0 {
		return Decimal{}, errDivZero
	}
	return divRound(x, y, divScale(x, y))
}

// divRound is x / y (finite, y non-zero) rounded half away from zero at
// scale rscale.
func divRound(x, y Decimal, rscale int) (Decimal, error) {
	// x/y * 10^rscale = cx * 10^(ex - ey + rscale) / cy
	num, den := new(apd.BigInt).Set(&x.d.Coeff), new(apd.BigInt).Set(&y.d.Coeff)
	k := int(x.d.Exponent) - int(y.d.Exponent) + rscale
	if k >= 0 {
		num.Mul(num, pow10(k))
	} else {
		den.Mul(den, pow10(-k))
	}
	q, r := new(apd.BigInt), new(apd.BigInt)
	q.QuoRem(num, den, r)
	if r.Lsh(r, 1).Cmp(den) >= 0 {
		q.Add(q, apd.NewBigInt(1))
	}
	var out Decimal
	out.d.Coeff.Set(q)
	out.d.Exponent = int32(-rscale)
	out.d.Negative = x.d.Negative != y.d.Negative
	return out.norm()
}

// modDec is x % y: x - trunc(x/y)*y, with the larger input scale.
func modDec(x, y Decimal) (Decimal, error) {
	if x.special() || y.special() {
		switch {
		case x.IsNaN() || y.IsNaN():
			return NaNDecimal, nil
		case x.IsInf():
			if y.Sign() == 0 {
				return Decimal{}, errDivZero
			}
			return NaNDecimal, nil
		}
		return x, nil // finite % infinity
	}
	if y.Sign() == 0 {
		return Decimal{}, errDivZero
	}
	s := max(x.Scale(), y.Scale())
	a := new(apd.BigInt).Mul(&x.d.Coeff, pow10(s-x.Scale()))
	b := new(apd.BigInt).Mul(&y.d.Coeff, pow10(s-y.Scale()))
	r := new(apd.BigInt).Rem(a, b)
	var out Decimal
	out.d.Coeff.Set(r)
	out.d.Exponent = int32(-s)
	out.d.Negative = x.d.Negative
	return out.norm()
}

// roundDec rounds x to scale s (negative: to tens, hundreds, …) with the
// given rounding; the result's scale is max(s, 0).
func roundDec(x Decimal, s int, mode apd.Rounder) Decimal {
	if x.special() {
		return x
	}
	sx := x.Scale()
	var out Decimal
	out.d.Negative = x.d.Negative
	if s >= sx {
		out.d.Coeff.Mul(&x.d.Coeff, pow10(s-sx))
		out.d.Exponent = int32(-s)
		r, _ := out.norm()
		return r
	}
	unit := pow10(sx - s)
	q, rem := new(apd.BigInt), new(apd.BigInt)
	q.QuoRem(&x.d.Coeff, unit, rem)
	up := false
	if rem.Sign() != 0 {
		switch mode {
		case apd.RoundHalfUp:
			up = new(apd.BigInt).Lsh(rem, 1).Cmp(unit) >= 0
		case apd.RoundCeiling:
			up = !x.d.Negative
		case apd.RoundFloor:
			up = x.d.Negative
		}
	}
	if up {
		q.Add(q, apd.NewBigInt(1))
	}
	if s < 0 {
		q.Mul(q, pow10(-s))
		s = 0
	}
	out.d.Coeff.Set(q)
	out.d.Exponent = int32(-s)
	r, _ := out.norm()
	return r
}

// sqrtScale is numeric_sqrt's result scale.
func sqrtScale(x Decimal) int {
	w, _ := x.weight()
	sweight := (w+1)*4/2 - 1
	r := numMinSigDigits - sweight
	r = max(r, x.Scale(), 0)
	return min(r, numMaxDisplayScale)
}

// sqrtRound is the square root of x (finite, not negative) rounded half
// away from zero at scale rscale.
func sqrtRound(x Decimal, rscale int) Decimal {
	// floor(sqrt(x) * 10^(rscale+1)) = isqrt(cx * 10^(ex + 2*rscale + 2))
	k := int(x.d.Exponent) + 2*rscale + 2
	n := new(apd.BigInt).Mul(&x.d.Coeff, pow10(k))
	f := new(apd.BigInt).Sqrt(n)
	q, last := new(apd.BigInt), new(apd.BigInt)
	q.QuoRem(f, apd.NewBigInt(10), last)
	if last.Int64() >= 5 {
		q.Add(q, apd.NewBigInt(1))
	}
	var out Decimal
	out.d.Coeff.Set(q)
	out.d.Exponent = int32(-rscale)
	r, _ := out.norm()
	return r
}

func sqrtDec(x Decimal) (Decimal, error) {
	switch {
	case x.IsNaN():
		return x, nil
	case x.Sign() < 0:
		return Decimal{}, errNumSqrtNeg
	case x.IsInf():
		return x, nil
	}
	return sqrtRound(x, sqrtScale(x)), nil
}

// typmodDec applies numeric(p, s): round to scale s, then at most p - s
// digits before the decimal point (22003 otherwise).
func typmodDec(x Decimal, p, s int) (Decimal, error) {
	if x.IsNaN() {
		return x, nil
	}
	if x.IsInf() {
		return Decimal{}, errs.New(errs.ErrInvalidInput, "22003",
			"numeric field overflow: a field with precision %d, scale %d cannot hold an infinite value", p, s)
	}
	r := roundDec(x, s, apd.RoundHalfUp)
	if r.Sign() != 0 && r.intDigits() > p-s {
		return Decimal{}, errs.New(errs.ErrInvalidInput, "22003",
			"numeric field overflow: a field with precision %d, scale %d must round to an absolute value less than 10^%d", p, s, p-s)
	}
	return r, nil
}

// ---- type plumbing ----

// MetaType is the Arrow field metadata key that carries a SQL type the
// Arrow type alone does not tell (numeric, stored as utf8).
const MetaType = "ugnos.type"

// Field is an Arrow field for a column of type t; numeric columns carry
// MetaType = "numeric" (see FieldType).
func (t Type) Field(name string) arrow.Field {
	f := arrow.Field{Name: name, Type: t.Arrow(), Nullable: true}
	if t == TNumeric {
		f.Metadata = arrow.NewMetadata([]string{MetaType}, []string{"numeric"})
	}
	return f
}

// FieldType maps an Arrow field of a result schema to its SQL type,
// honouring MetaType.
func FieldType(f arrow.Field) (Type, error) {
	if v, ok := f.Metadata.GetValue(MetaType); ok && v == "numeric" {
		return TNumeric, nil
	}
	return FromArrow(f.Type)
}

// AsDecimal returns row i of an int or numeric vector as a Decimal.
func (v Vec) AsDecimal(i int) Decimal {
	if v.T == TInt {
		return DecimalFromInt(v.Int(i))
	}
	if v.Arr == nil {
		switch c := v.Const.(type) {
		case Decimal:
			return c
		case int64:
			return DecimalFromInt(c)
		case string:
			d, _ := ParseDecimal(c)
			return d
		}
		return Decimal{}
	}
	d, _ := ParseDecimal(v.Str(i))
	return d
}

// toDecimal converts a Go value of an int or numeric column to a Decimal
// (nil stays nil).
func toDecimal(v any) any {
	switch x := v.(type) {
	case int64:
		return DecimalFromInt(x)
	case float64:
		d, _ := DecimalFromFloat(x)
		return d
	}
	return v
}
