package functions

import (
	"math"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/cockroachdb/apd/v3"
)

// Expected values are PostgreSQL 15's output for the same expression (run
// through psql), or worked by hand where noted.

func dec(t *testing.T, s string) Decimal {
	t.Helper()
	d, err := ParseDecimal(s)
	if err != nil {
		t.Fatalf("ParseDecimal(%q): %v", s, err)
	}
	return d
}

func TestParseDecimal(t *testing.T) {
	f := func(in, want string) {
		t.Helper()
		if got := dec(t, in).String(); got != want {
			t.Errorf("%q: got %s, want %s", in, got, want)
		}
	}
	f("1.50", "1.50")
	f(" -2.5e1 ", "-25")
	f("1.50e1", "15.0")
	f("1e3", "1000")
	f(".5", "0.5")
	f("1.5e-3", "0.0015")
	f("-0.00", "0.00")
	f("99999999999999999999", "99999999999999999999")
	f("NaN", "NaN")
	f("-inf", "-Infinity")
	f("+Infinity", "Infinity")
	for _, bad := range []string{"", "abc", "1.2.3", "1e", "e5", "--1", "0x10", "1 2"} {
		if _, err := ParseDecimal(bad); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}

func TestDivScale(t *testing.T) {
	f := func(x, y, want string) {
		t.Helper()
		q, err := divDec(dec(t, x), dec(t, y))
		if err != nil {
			t.Fatalf("%s / %s: %v", x, y, err)
		}
		if got := q.String(); got != want {
			t.Errorf("%s / %s = %s, want %s", x, y, got, want)
		}
	}
	f("1", "3", "0.33333333333333333333")   // SELECT 1/3::numeric
	f("10", "4", "2.5000000000000000")      // SELECT 10::numeric/4
	f("2", "3.0", "0.66666666666666666667") // rounded half away from zero
	f("-2", "3", "-0.66666666666666666667")
	f("1", "7000", "0.00014285714285714286")
	f("123456789", "0.001", "123456789000.00000000")
	f("0", "3", "0.00000000000000000000")
	f("100.5", "0.25", "402.0000000000000000")
	f("12345678.9", "0.3", "41152263.000000000000")
	f("7.0", "2", "3.5000000000000000")
	if _, err := divDec(dec(t, "1"), dec(t, "0.0")); err == nil {
		t.Error("1 / 0.0: no error")
	}
	// hand-worked select_div_scale: 1/3 has quotient weight -1 (the first
	// base-10000 digits 1 <= 3), so 16 + 4 = 20 digits
	if got := divScale(dec(t, "1"), dec(t, "3")); got != 20 {
		t.Errorf("divScale(1, 3) = %d, want 20", got)
	}
	if got := divScale(dec(t, "123456"), dec(t, "2")); got != 12 { // weight 1 - 0, 12 > 2
		t.Errorf("divScale(123456, 2) = %d, want 12", got)
	}
}

func TestDecimalArith(t *testing.T) {
	f := func(got Decimal, err error, want string) {
		t.Helper()
		if err != nil {
			t.Fatalf("want %s: %v", want, err)
		}
		if got.String() != want {
			t.Errorf("got %s, want %s", got, want)
		}
	}
	x, err := mulDec(dec(t, "2.0"), dec(t, "3.00"))
	f(x, err, "6.000")
	x, err = addDec(dec(t, "1.5"), dec(t, "2.25"), true)
	f(x, err, "-0.75")
	x, err = addDec(dec(t, "1.5"), dec(t, "-1.5"), false)
	f(x, err, "0.0")
	x, err = modDec(dec(t, "-7"), dec(t, "2.5"))
	f(x, err, "-2.0")
	x, err = modDec(dec(t, "10"), dec(t, "3.00"))
	f(x, err, "1.00")
	x, err = addDec(dec(t, "Infinity"), dec(t, "-Infinity"), false)
	f(x, err, "NaN")
	x, err = mulDec(dec(t, "Infinity"), dec(t, "0"))
	f(x, err, "NaN")
	x, err = divDec(dec(t, "5"), dec(t, "Infinity"))
	f(x, err, "0")
	x, err = divDec(dec(t, "NaN"), dec(t, "0"))
	f(x, err, "NaN")
	f(negDec(dec(t, "0.0")), nil, "0.0")
}

func TestDecimalRound(t *testing.T) {
	f := func(in string, s int, mode apd.Rounder, want string) {
		t.Helper()
		if got := roundDec(dec(t, in), s, mode).String(); got != want {
			t.Errorf("round(%s, %d, %s) = %s, want %s", in, s, mode, got, want)
		}
	}
	f("2.5", 0, apd.RoundHalfUp, "3")
	f("-2.5", 0, apd.RoundHalfUp, "-3")
	f("-0.4", 0, apd.RoundHalfUp, "0")
	f("1234.5678", -2, apd.RoundHalfUp, "1200")
	f("1250", -2, apd.RoundHalfUp, "1300")
	f("1.5", 3, apd.RoundHalfUp, "1.500")
	f("-1.55", 1, apd.RoundDown, "-1.5")
	f("-0.5", 0, apd.RoundCeiling, "0")
	f("-0.5", 0, apd.RoundFloor, "-1")
	f("1.0000001", 0, apd.RoundCeiling, "2")
	f("9.99", 1, apd.RoundHalfUp, "10.0")
}

func TestDecimalSqrt(t *testing.T) {
	f := func(in, want string) {
		t.Helper()
		got, err := sqrtDec(dec(t, in))
		if err != nil {
			t.Fatal(err)
		}
		if got.String() != want {
			t.Errorf("sqrt(%s) = %s, want %s", in, got, want)
		}
	}
	f("2", "1.414213562373095")
	f("0", "0.000000000000000")
	f("100", "10.000000000000000")
	f("0.0001", "0.01000000000000000")
	f("12345678901234567890", "3513641828.8201443")
	f("1.21", "1.100000000000000")
	if _, err := sqrtDec(dec(t, "-1")); err == nil {
		t.Error("sqrt(-1): no error")
	}
}

func TestDecimalCasts(t *testing.T) {
	f := func(x float64, want string) {
		t.Helper()
		d, err := DecimalFromFloat(x)
		if err != nil {
			t.Fatal(err)
		}
		if d.String() != want {
			t.Errorf("%v::numeric = %s, want %s", x, d, want)
		}
	}
	f(1/3.0, "0.333333333333333") // 15 significant digits (float8_numeric)
	f(2.5, "2.5")
	f(0.1+0.2, "0.3")
	f(1e20, "100000000000000000000")
	f(1.5e-7, "0.00000015")
	f(math.NaN(), "NaN")
	f(math.Inf(-1), "-Infinity")
	i := func(in string, want int64, wantErr string) {
		t.Helper()
		got, err := dec(t, in).Int64()
		switch {
		case wantErr != "":
			if err == nil || err.Error() != wantErr {
				t.Errorf("%s::bigint: error %v, want %s", in, err, wantErr)
			}
		case err != nil || got != want:
			t.Errorf("%s::bigint = %d, %v; want %d", in, got, err, want)
		}
	}
	i("2.5", 3, "")
	i("-2.5", -3, "")
	i("9223372036854775807.4", math.MaxInt64, "")
	i("9223372036854775807.5", 0, "bigint out of range")
	i("NaN", 0, "cannot convert NaN to bigint")
	if got := dec(t, "0.1").Float64(); got != 0.1 {
		t.Errorf("0.1::float8 = %v", got)
	}
	if _, err := Cast(ConstVec(dec(t, "1.5"), TNumeric, 1), TBool); err == nil {
		t.Error("numeric::boolean: no error")
	}
	v, err := Cast(ArrVec(NewInt([]int64{1, -7}, nil), TInt), TNumeric)
	if err != nil || v.Str(1) != "-7" || v.T != TNumeric {
		t.Errorf("bigint::numeric = %v, %v", v, err)
	}
}

func TestTypmod(t *testing.T) {
	f := func(in string, p, s int, want string) {
		t.Helper()
		got, err := typmodDec(dec(t, in), p, s)
		switch {
		case want == "error":
			if err == nil {
				t.Errorf("%s::numeric(%d,%d) = %s, want an error", in, p, s, got)
			}
		case err != nil || got.String() != want:
			t.Errorf("%s::numeric(%d,%d) = %s, %v; want %s", in, p, s, got, err, want)
		}
	}
	f("1.005", 4, 2, "1.01")
	f("-1.005", 4, 2, "-1.01")
	f("123.456", 4, 1, "123.5")
	f("12345", 4, 1, "error")
	f("999.96", 4, 1, "error") // rounds to 1000.0
	f("123.456", 5, -1, "120")
	f("0.5", 1, 0, "1")
	f("NaN", 3, 1, "NaN")
	f("Infinity", 3, 1, "error")
}

func TestDecimalOrderAndKeys(t *testing.T) {
	vals := []string{"-Infinity", "-1e10", "-0.5", "0", "0.5", "1.5", "10", "Infinity", "NaN"}
	for i := range vals {
		for j := range vals {
			want := cmp3(int64(i), int64(j))
			if got := CompareNumericText(dec(t, vals[i]).String(), dec(t, vals[j]).String()); got != want {
				t.Errorf("compare(%s, %s) = %d, want %d", vals[i], vals[j], got, want)
			}
		}
	}
	if dec(t, "1.5").Cmp(dec(t, "1.50")) != 0 || dec(t, "NaN").Cmp(dec(t, "NaN")) != 0 {
		t.Error("equal values compare unequal")
	}
	for in, want := range map[string]string{"1.50": "1.5", "2.000": "2", "0.00": "0", "-0.10": "-0.1", "100": "100", "NaN": "NaN"} {
		if got := NumericKey(in); got != want {
			t.Errorf("NumericKey(%s) = %s, want %s", in, got, want)
		}
	}
}

// aggregate runs one accumulator over vals in two partial accumulators
// merged, and returns group 0's result as text.
func aggregate(t *testing.T, name string, in Type, vals []any) string {
	t.Helper()
	reg := NewRegistry()
	a, ok := reg.Aggregate(name)
	if !ok {
		t.Fatalf("no aggregate %s", name)
	}
	rt, err := a.Resolve([]Type{in})
	if err != nil {
		t.Fatal(err)
	}
	half := len(vals) / 2
	accs := []Acc{a.New([]Type{in}), a.New([]Type{in})}
	for k, part := range [][]any{vals[:half], vals[half:]} {
		accs[k].Grow(1)
		arr := NewOf(in, part)
		if err := accs[k].Update(make([]uint32, len(part)), []Vec{ArrVec(arr, in)}); err != nil {
			t.Fatal(err)
		}
	}
	if err := accs[0].Merge(accs[1], []uint32{0}); err != nil {
		t.Fatal(err)
	}
	res := accs[0].Result()
	v := ArrVec(res, rt)
	if v.IsNull(0) {
		return "NULL"
	}
	return rt.Name() + " " + FormatValue(v.Value(0), rt)
}

func TestNumericAggregates(t *testing.T) {
	ints := []any{int64(1), int64(2), nil, int64(4)}
	f := func(name string, in Type, vals []any, want string) {
		t.Helper()
		if got := aggregate(t, name, in, vals); got != want {
			t.Errorf("%s(%s): got %s, want %s", name, in, got, want)
		}
	}
	f("avg", TInt, []any{int64(1), int64(2)}, "numeric 1.5000000000000000")
	f("sum", TInt, ints, "numeric 7")
	f("avg", TInt, ints, "numeric 2.3333333333333333")
	f("sum", TInt, []any{int64(math.MaxInt64), int64(math.MaxInt64), int64(1), int64(math.MaxInt64)}, "numeric 27670116110564327422")
	f("stddev", TInt, ints, "numeric 1.5275252316519467")
	f("variance", TInt, ints, "numeric 2.3333333333333333")
	f("var_pop", TInt, ints, "numeric 1.5555555555555556")
	f("stddev_pop", TInt, ints, "numeric 1.2472191289246471")
	f("variance", TInt, []any{int64(5), int64(5), int64(5)}, "numeric 0")
	f("stddev", TInt, []any{int64(5)}, "NULL")
	f("sum", TInt, []any{nil, nil}, "NULL")
	decs := []any{dec(t, "1.5"), dec(t, "2.25"), nil, dec(t, "-1")}
	f("sum", TNumeric, decs, "numeric 2.75")
	f("avg", TNumeric, decs, "numeric 0.91666666666666666667")
	f("min", TNumeric, decs, "numeric -1")
	f("max", TNumeric, decs, "numeric 2.25")
	f("sum", TNumeric, []any{dec(t, "1"), dec(t, "Infinity"), dec(t, "-Infinity"), dec(t, "2")}, "numeric NaN")
	f("avg", TNumeric, []any{dec(t, "1"), dec(t, "Infinity")}, "numeric Infinity")
	f("sum", TFloat, []any{1.5, 2.0}, "double precision 3.5")
	f(Int4Sum, TInt, []any{int64(1), int64(0), int64(1)}, "bigint 2")
}

func TestNumericField(t *testing.T) {
	fld := TNumeric.Field("x")
	if fld.Type.ID() != arrow.STRING {
		t.Fatalf("numeric field type %s", fld.Type)
	}
	if got, _ := FieldType(fld); got != TNumeric {
		t.Errorf("FieldType(numeric field) = %s", got)
	}
	if got, _ := FieldType(TText.Field("y")); got != TText {
		t.Errorf("FieldType(text field) = %s", got)
	}
}

// TestIntSumUpdateOne: the no-GROUP-BY fast path spills into big integers
// instead of overflowing.
func TestIntSumUpdateOne(t *testing.T) {
	a := &intSumAcc{}
	a.Grow(1)
	arr := NewInt([]int64{math.MaxInt64, math.MaxInt64, 1, math.MinInt64, math.MaxInt64}, nil)
	for range 2 {
		if err := a.UpdateOne([]Vec{ArrVec(arr, TInt)}); err != nil {
			t.Fatal(err)
		}
	}
	// 2 * (3*(2^63-1) + 1 - 2^63) = 2 * 18446744073709551614
	if got := ArrVec(a.Result(), TNumeric).Str(0); got != "36893488147419103228" {
		t.Errorf("sum = %s", got)
	}
}
