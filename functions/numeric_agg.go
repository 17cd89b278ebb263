package functions

import (
	"math/big"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/cockroachdb/apd/v3"
)

// Aggregates with numeric results, as PostgreSQL's: sum and avg of bigint
// and numeric, min and max of numeric, and the variance family over
// bigint and numeric, all exact.

// intSumAcc is sum(bigint) or avg(bigint) (numeric results): int64 partial
// sums that spill into a big.Int when they would overflow.
type intSumAcc struct {
	avg bool
	sum []int64
	ovf []*big.Int // nil until a group overflows
	n   []int64
}

func (a *intSumAcc) Grow(n int) {
	for len(a.sum) < n {
		a.sum = append(a.sum, 0)
		a.n = append(a.n, 0)
		if a.ovf != nil {
			a.ovf = append(a.ovf, nil)
		}
	}
}

// spill moves group g's int64 partial sum into its big.Int.
func (a *intSumAcc) spill(g uint32) {
	if a.ovf == nil {
		a.ovf = make([]*big.Int, len(a.sum))
	}
	if a.ovf[g] == nil {
		a.ovf[g] = new(big.Int)
	}
	a.ovf[g].Add(a.ovf[g], big.NewInt(a.sum[g]))
	a.sum[g] = 0
}

func (a *intSumAcc) add(g uint32, x int64) {
	s := a.sum[g] + x
	if (s > a.sum[g]) != (x > 0) {
		a.spill(g)
		s = x
	}
	a.sum[g] = s
}

func (a *intSumAcc) Update(gids []uint32, args []Vec) error {
	v := args[0]
	for i, g := range gids {
		if v.IsNull(i) {
			continue
		}
		a.add(g, v.Int(i))
		a.n[g]++
	}
	return nil
}

// UpdateOne adds every row of args to group 0.
func (a *intSumAcc) UpdateOne(args []Vec) error {
	v := args[0]
	if v.IsConst() {
		if v.Const != nil {
			for range v.N {
				a.add(0, v.Int(0))
			}
			a.n[0] += int64(v.N)
		}
		return nil
	}
	ia, ok := v.Arr.(interface{ Int64Values() []int64 })
	if !ok || v.Arr.NullN() > 0 {
		return a.Update(make([]uint32, v.N), args)
	}
	vals := ia.Int64Values()
	s := a.sum[0]
	for _, x := range vals {
		t := s + x
		if (t > s) != (x > 0) {
			a.sum[0] = s
			a.spill(0)
			t = x
		}
		s = t
	}
	a.sum[0] = s
	a.n[0] += int64(len(vals))
	return nil
}

func (a *intSumAcc) Merge(o Acc, into []uint32) error {
	b := o.(*intSumAcc)
	for g := range b.sum {
		d := into[g]
		a.add(d, b.sum[g])
		if b.ovf != nil && b.ovf[g] != nil {
			a.spill(d)
			a.ovf[d].Add(a.ovf[d], b.ovf[g])
		}
		a.n[d] += b.n[g]
	}
	return nil
}

func (a *intSumAcc) total(g int) Decimal {
	if a.ovf == nil || a.ovf[g] == nil {
		return DecimalFromInt(a.sum[g])
	}
	t := new(big.Int).Add(a.ovf[g], big.NewInt(a.sum[g]))
	var d Decimal
	d.d.Coeff.SetMathBigInt(new(big.Int).Abs(t))
	d.d.Negative = t.Sign() < 0
	return d
}

func (a *intSumAcc) Result() arrow.Array { return sumResult(a.n, a.avg, a.total) }

// sumResult is sum (or avg, the sum over the count) per group; NULL for a
// group without values.
func sumResult(n []int64, avg bool, total func(g int) Decimal) arrow.Array {
	out := make([]Decimal, len(n))
	valid := NewValid(len(out))
	for g := range out {
		if n[g] == 0 {
			valid.SetNull(g)
			continue
		}
		out[g] = total(g)
		if avg {
			out[g], _ = divDec(out[g], DecimalFromInt(n[g]))
		}
	}
	return numericText(out, valid)
}

// decSumAcc is sum(numeric) or avg(numeric): exact sums with the largest
// input scale; NaN, and Infinity plus -Infinity, give NaN.
type decSumAcc struct {
	avg bool
	sum []Decimal
	n   []int64
}

func (a *decSumAcc) Grow(n int) {
	for len(a.sum) < n {
		a.sum = append(a.sum, Decimal{})
		a.n = append(a.n, 0)
	}
}

func (a *decSumAcc) Update(gids []uint32, args []Vec) error {
	v := args[0]
	for i, g := range gids {
		if v.IsNull(i) {
			continue
		}
		s, err := addDec(a.sum[g], v.AsDecimal(i), false)
		if err != nil {
			return err
		}
		a.sum[g] = s
		a.n[g]++
	}
	return nil
}

func (a *decSumAcc) Merge(o Acc, into []uint32) error {
	b := o.(*decSumAcc)
	for g := range b.sum {
		if b.n[g] == 0 {
			continue
		}
		d := into[g]
		s, err := addDec(a.sum[d], b.sum[g], false)
		if err != nil {
			return err
		}
		a.sum[d] = s
		a.n[d] += b.n[g]
	}
	return nil
}

func (a *decSumAcc) Result() arrow.Array {
	return sumResult(a.n, a.avg, func(g int) Decimal { return a.sum[g] })
}

// decExtAcc is min (sign -1) or max (sign 1) of numeric; of equal values
// the later wins, as numeric_smaller and numeric_larger do.
type decExtAcc struct {
	sign int
	val  []Decimal
	has  []bool
}

func (a *decExtAcc) Grow(n int) {
	for len(a.has) < n {
		a.val = append(a.val, Decimal{})
		a.has = append(a.has, false)
	}
}

func (a *decExtAcc) put(g uint32, x Decimal) {
	if !a.has[g] || a.sign*x.Cmp(a.val[g]) >= 0 {
		a.val[g], a.has[g] = x, true
	}
}

func (a *decExtAcc) Update(gids []uint32, args []Vec) error {
	for i, g := range gids {
		if !args[0].IsNull(i) {
			a.put(g, args[0].AsDecimal(i))
		}
	}
	return nil
}

func (a *decExtAcc) Merge(o Acc, into []uint32) error {
	b := o.(*decExtAcc)
	for g, h := range b.has {
		if h {
			a.put(into[g], b.val[g])
		}
	}
	return nil
}

func (a *decExtAcc) Result() arrow.Array {
	valid := NewValid(len(a.has))
	for g, h := range a.has {
		if !h {
			valid.SetNull(g)
		}
	}
	return numericText(a.val, valid)
}

// decVarAcc is the variance family over bigint or numeric, computed as
// PostgreSQL's numeric_stddev_internal does: from exact N, sum(x) and
// sum(x*x), (N*sum(x*x) - sum(x)^2) / (N*(N-1)) (or N*N) at
// select_div_scale, then the square root at the same scale.
type decVarAcc struct {
	samp, sqrt bool
	n          []int64
	sumX       []Decimal
	sumX2      []Decimal
}

func (a *decVarAcc) Grow(n int) {
	for len(a.n) < n {
		a.n = append(a.n, 0)
		a.sumX = append(a.sumX, Decimal{})
		a.sumX2 = append(a.sumX2, Decimal{})
	}
}

func (a *decVarAcc) Update(gids []uint32, args []Vec) error {
	for i, g := range gids {
		if args[0].IsNull(i) {
			continue
		}
		x := args[0].AsDecimal(i)
		x2, err := mulDec(x, x)
		if err != nil {
			return err
		}
		if err := a.add(g, 1, x, x2); err != nil {
			return err
		}
	}
	return nil
}

func (a *decVarAcc) add(g uint32, n int64, x, x2 Decimal) error {
	s, err := addDec(a.sumX[g], x, false)
	if err != nil {
		return err
	}
	s2, err := addDec(a.sumX2[g], x2, false)
	if err != nil {
		return err
	}
	a.n[g] += n
	a.sumX[g], a.sumX2[g] = s, s2
	return nil
}

func (a *decVarAcc) Merge(o Acc, into []uint32) error {
	b := o.(*decVarAcc)
	for g := range b.n {
		if b.n[g] > 0 {
			if err := a.add(into[g], b.n[g], b.sumX[g], b.sumX2[g]); err != nil {
				return err
			}
		}
	}
	return nil
}

func (a *decVarAcc) Result() arrow.Array {
	out := make([]Decimal, len(a.n))
	valid := NewValid(len(out))
	for g, n := range a.n {
		if n == 0 || a.samp && n == 1 {
			valid.SetNull(g)
			continue
		}
		out[g] = a.result(g)
	}
	return numericText(out, valid)
}

func (a *decVarAcc) result(g int) Decimal {
	sx, sx2 := a.sumX[g], a.sumX2[g]
	if sx.special() || sx2.special() {
		return NaNDecimal
	}
	n := DecimalFromInt(a.n[g])
	sq, _ := mulDec(sx, sx)
	nsx2, _ := mulDec(n, sx2)
	num, _ := addDec(nsx2, sq, true)
	num = roundDec(num, 2*sx.Scale(), apd.RoundDown) // the numerator's scale is 2*scale(sum(x))
	if num.Sign() <= 0 {
		return Decimal{}
	}
	m := a.n[g]
	if a.samp {
		m--
	}
	den, _ := mulDec(n, DecimalFromInt(m))
	rscale := divScale(num, den)
	v, _ := divRound(num, den, rscale)
	if a.sqrt {
		v = sqrtRound(v, rscale)
	}
	return v
}

// Int4Sum is the aggregate the planner binds sum() to when PostgreSQL
// would type its argument integer (int4) rather than bigint: sum(int4) is
// bigint there, while sum(bigint) is numeric.
const Int4Sum = "int4_sum"

func int4SumAggregate() *Aggregate {
	return &Aggregate{Name: Int4Sum, Resolve: func(a []Type) (Type, error) {
		if len(a) != 1 || a[0] != TInt {
			return 0, noFunc(Int4Sum, a)
		}
		return TInt, nil
	}, New: func([]Type) Acc { return &int8SumAcc{} }}
}

// int8SumAcc sums into bigint; overflow is 22003, as in int4_sum.
type int8SumAcc struct {
	sum []int64
	n   []int64
}

func (a *int8SumAcc) Grow(n int) {
	for len(a.sum) < n {
		a.sum = append(a.sum, 0)
		a.n = append(a.n, 0)
	}
}

func addInt(x, y int64) (int64, error) {
	s := x + y
	if (s > x) != (y > 0) {
		return 0, errIntOver
	}
	return s, nil
}

func (a *int8SumAcc) Update(gids []uint32, args []Vec) error {
	for i, g := range gids {
		if args[0].IsNull(i) {
			continue
		}
		s, err := addInt(a.sum[g], args[0].Int(i))
		if err != nil {
			return err
		}
		a.sum[g] = s
		a.n[g]++
	}
	return nil
}

func (a *int8SumAcc) Merge(o Acc, into []uint32) error {
	b := o.(*int8SumAcc)
	for g := range b.sum {
		s, err := addInt(a.sum[into[g]], b.sum[g])
		if err != nil {
			return err
		}
		a.sum[into[g]] = s
		a.n[into[g]] += b.n[g]
	}
	return nil
}

func (a *int8SumAcc) Result() arrow.Array {
	valid := NewValid(len(a.sum))
	for g, n := range a.n {
		if n == 0 {
			valid.SetNull(g)
		}
	}
	return NewInt(append([]int64(nil), a.sum...), valid)
}
