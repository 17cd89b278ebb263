package functions

import (
	"math"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/ugnos/ugnos/internal/bufpool"
)

// Acc accumulates one aggregate for many groups. Group ids are dense,
// starting at 0.
type Acc interface {
	// Grow makes room for groups with ids below n.
	Grow(n int)
	// Update adds row i of args to group gids[i].
	Update(gids []uint32, args []Vec) error
	// Merge folds other (same function and types) into this accumulator:
	// other's group g goes to group into[g].
	Merge(other Acc, into []uint32) error
	// Result returns one value per group, in id order.
	Result() arrow.Array
}

// Accumulators may also have a Release() method that gives their per-group
// memory back to a pool once they are done: after Result (whose array stays
// valid) or after being merged into another accumulator. They must not be
// used afterwards.

// growZeroed extends s with zeros to length n. A full s is replaced by a
// larger buffer from bufpool (the old one goes back), so per-group state
// grows in memory that earlier queries touched rather than in fresh pages.
func growZeroed[T bufpool.Word](s []T, n int) []T {
	if n <= len(s) {
		return s
	}
	if n > cap(s) {
		t := bufpool.Get[T](max(n, 2*cap(s), 64))[:len(s)]
		copy(t, s)
		bufpool.Put(s)
		s = t
	}
	old := len(s)
	s = s[:n]
	clear(s[old:])
	return s
}

func builtinAggregates() []*Aggregate {
	return []*Aggregate{
		{Name: "count", Resolve: func(a []Type) (Type, error) {
			if len(a) > 1 {
				return 0, noFunc("count", a)
			}
			return TInt, nil
		}, New: func(a []Type) Acc { return &countAcc{star: len(a) == 0} }},
		{Name: "sum", Resolve: numAgg("sum"), New: func(a []Type) Acc { return newSumAcc(a[0], false) }},
		{Name: "avg", Resolve: numAgg("avg"), New: func(a []Type) Acc { return newSumAcc(a[0], true) }},
		{Name: "min", Resolve: orderedAgg("min"), New: func(a []Type) Acc { return newExtAcc(a[0], -1) }},
		{Name: "max", Resolve: orderedAgg("max"), New: func(a []Type) Acc { return newExtAcc(a[0], 1) }},
		{Name: "first", Resolve: byTimeAgg("first"), New: func(a []Type) Acc { return &byTimeAcc{t: a[0], last: false, floatKey: a[1] == TFloat} }},
		{Name: "last", Resolve: byTimeAgg("last"), New: func(a []Type) Acc { return &byTimeAcc{t: a[0], last: true, floatKey: a[1] == TFloat} }},
	}
}

// numAgg resolves sum, avg and the variance family as PostgreSQL does:
// numeric for bigint and numeric input, double precision for double.
func numAgg(name string) func(a []Type) (Type, error) {
	return func(a []Type) (Type, error) {
		if len(a) != 1 || !a[0].Numeric() {
			return 0, noFunc(name, a)
		}
		if a[0] == TFloat {
			return TFloat, nil
		}
		return TNumeric, nil
	}
}

// newSumAcc is sum (avg false) or avg of values of type t.
func newSumAcc(t Type, avg bool) Acc {
	switch {
	case t == TInt:
		return &intSumAcc{avg: avg}
	case t == TNumeric:
		return &decSumAcc{avg: avg}
	case avg:
		return &floatAcc{kind: aggAvg}
	}
	return &floatAcc{kind: aggSum}
}

func orderedAgg(name string) func(a []Type) (Type, error) {
	return func(a []Type) (Type, error) {
		if len(a) != 1 || comparer(a[0], a[0]) == nil {
			return 0, noFunc(name, a)
		}
		return a[0], nil
	}
}

func byTimeAgg(name string) func(a []Type) (Type, error) {
	return func(a []Type) (Type, error) {
		if len(a) != 2 || a[1] != TTimestamp && a[1] != TInt && a[1] != TFloat {
			return 0, noFunc(name, a)
		}
		return a[0], nil
	}
}

type countAcc struct {
	star bool
	n    []int64
}

func (c *countAcc) Grow(n int) {
	for len(c.n) < n {
		c.n = append(c.n, 0)
	}
}

func (c *countAcc) Update(gids []uint32, args []Vec) error {
	if c.star || args[0].Arr != nil && args[0].Arr.NullN() == 0 || args[0].IsConst() && args[0].Const != nil {
		for _, g := range gids {
			c.n[g]++
		}
		return nil
	}
	for i, g := range gids {
		if !args[0].IsNull(i) {
			c.n[g]++
		}
	}
	return nil
}

// UpdateOne counts every row of args into group 0.
func (c *countAcc) UpdateOne(args []Vec) error {
	v := args[0]
	switch {
	case c.star || v.IsConst() && v.Const != nil:
		c.n[0] += int64(v.N)
	case v.IsConst():
	default:
		c.n[0] += int64(v.N - v.Arr.NullN())
	}
	return nil
}

func (c *countAcc) Merge(o Acc, into []uint32) error {
	for g, v := range o.(*countAcc).n {
		c.n[into[g]] += v
	}
	return nil
}

func (c *countAcc) Result() arrow.Array { return NewInt(c.n, nil) }

const (
	aggSum = iota
	aggAvg
)

type floatAcc struct {
	kind  int
	sum   []float64
	n     []int64
	infIn bool // an input was infinite: an infinite sum is not an overflow
}

func (a *floatAcc) Grow(n int) {
	a.sum = growZeroed(a.sum, n)
	a.n = growZeroed(a.n, n)
}

// Release gives the sums and counts back (Result copies them).
func (a *floatAcc) Release() {
	bufpool.Put(a.sum)
	bufpool.Put(a.n)
	a.sum, a.n = nil, nil
}

func (a *floatAcc) Update(gids []uint32, args []Vec) error {
	v := args[0]
	if f, ok := v.Arr.(interface{ Float64Values() []float64 }); ok && v.Arr.NullN() == 0 {
		vals := f.Float64Values()
		special := false
		for i, g := range gids {
			x := vals[i]
			a.sum[g] += x
			a.n[g]++
			special = special || x-x != 0 // ±Inf or NaN
		}
		if special {
			for _, x := range vals {
				a.infIn = a.infIn || math.IsInf(x, 0)
			}
		}
		return nil
	}
	for i, g := range gids {
		if v.IsNull(i) {
			continue
		}
		x := v.Float(i)
		a.infIn = a.infIn || math.IsInf(x, 0)
		a.sum[g] += x
		a.n[g]++
	}
	return nil
}

// Finish reports an overflow: an infinite sum from finite inputs
// (PostgreSQL's float8 range check).
func (a *floatAcc) Finish() error {
	if a.infIn {
		return nil
	}
	for _, s := range a.sum {
		if math.IsInf(s, 0) {
			return errFloatOver
		}
	}
	return nil
}

// UpdateOne adds every row of args to group 0 (an aggregate without
// GROUP BY): a tight loop with four partial sums.
func (a *floatAcc) UpdateOne(args []Vec) error {
	v := args[0]
	f, ok := v.Arr.(interface{ Float64Values() []float64 })
	if !ok || v.Arr.NullN() > 0 {
		return a.Update(make([]uint32, v.N), args)
	}
	vals := f.Float64Values()
	var s0, s1, s2, s3 float64
	i := 0
	for ; i+4 <= len(vals); i += 4 {
		s0 += vals[i]
		s1 += vals[i+1]
		s2 += vals[i+2]
		s3 += vals[i+3]
	}
	for ; i < len(vals); i++ {
		s0 += vals[i]
	}
	s := (s0 + s1) + (s2 + s3)
	if s-s != 0 { // an infinity or NaN: tell input infinities from overflow
		for _, x := range vals {
			a.infIn = a.infIn || math.IsInf(x, 0)
		}
	}
	a.sum[0] += s
	a.n[0] += int64(len(vals))
	return nil
}

func (a *floatAcc) Merge(o Acc, into []uint32) error {
	b := o.(*floatAcc)
	a.infIn = a.infIn || b.infIn
	for g := range b.sum {
		a.sum[into[g]] += b.sum[g]
		a.n[into[g]] += b.n[g]
	}
	return nil
}

func (a *floatAcc) Result() arrow.Array {
	out := make([]float64, len(a.sum))
	valid := NewValid(len(out))
	for g := range out {
		switch {
		case a.n[g] == 0:
			valid.SetNull(g)
		case a.kind == aggAvg:
			out[g] = a.sum[g] / float64(a.n[g])
		default:
			out[g] = a.sum[g]
		}
	}
	return NewFloat(out, valid)
}

// extAcc is min (sign -1) or max (sign 1) of an ordered type.
type extAcc struct {
	t    Type
	sign int
	f    []float64
	i    []int64
	s    []string
	b    []bool
	iv   []Interval
	has  []bool
}

func newExtAcc(t Type, sign int) Acc {
	if t == TNumeric {
		return &decExtAcc{sign: sign}
	}
	return &extAcc{t: t, sign: sign}
}

func (a *extAcc) Grow(n int) {
	switch a.t {
	case TFloat:
		a.f = growZeroed(a.f, n)
	case TInt, TTimestamp, TDate:
		a.i = growZeroed(a.i, n)
	}
	for len(a.has) < n {
		a.has = append(a.has, false)
		switch a.t {
		case TText:
			a.s = append(a.s, "")
		case TBool:
			a.b = append(a.b, false)
		case TInterval:
			a.iv = append(a.iv, Interval{})
		}
	}
}

// Release gives the numeric extremes back (Result copies them).
func (a *extAcc) Release() {
	bufpool.Put(a.f)
	bufpool.Put(a.i)
	a.f, a.i = nil, nil
}

func (a *extAcc) Update(gids []uint32, args []Vec) error {
	v := args[0]
	switch a.t {
	case TFloat:
		if f, ok := v.Arr.(interface{ Float64Values() []float64 }); ok && v.Arr.NullN() == 0 {
			vals := f.Float64Values()
			for i, g := range gids {
				x := vals[i]
				if !a.has[g] || a.sign*CompareFloat(x, a.f[g]) > 0 {
					a.f[g], a.has[g] = x, true
				}
			}
			return nil
		}
		for i, g := range gids {
			if v.IsNull(i) {
				continue
			}
			x := v.Float(i)
			if !a.has[g] || a.sign*CompareFloat(x, a.f[g]) > 0 {
				a.f[g], a.has[g] = x, true
			}
		}
	case TInt, TTimestamp, TDate:
		for i, g := range gids {
			if v.IsNull(i) {
				continue
			}
			x := v.Int(i)
			if !a.has[g] || a.sign*cmp3(x, a.i[g]) > 0 {
				a.i[g], a.has[g] = x, true
			}
		}
	case TInterval:
		for i, g := range gids {
			if v.IsNull(i) {
				continue
			}
			x := v.Interval(i)
			if !a.has[g] || a.sign*CompareInterval(x, a.iv[g]) > 0 {
				a.iv[g], a.has[g] = x, true
			}
		}
	case TText:
		for i, g := range gids {
			if v.IsNull(i) {
				continue
			}
			x := v.Str(i)
			if !a.has[g] || a.sign*strings.Compare(x, a.s[g]) > 0 {
				a.s[g], a.has[g] = strings.Clone(x), true
			}
		}
	case TBool:
		for i, g := range gids {
			if v.IsNull(i) {
				continue
			}
			x := v.Bool(i)
			if !a.has[g] || (a.sign > 0 && x && !a.b[g]) || (a.sign < 0 && !x && a.b[g]) {
				a.b[g], a.has[g] = x, true
			}
		}
	}
	return nil
}

func (a *extAcc) Merge(o Acc, into []uint32) error {
	b := o.(*extAcc)
	for g, has := range b.has {
		if !has {
			continue
		}
		d := into[g]
		switch a.t {
		case TFloat:
			if !a.has[d] || a.sign*CompareFloat(b.f[g], a.f[d]) > 0 {
				a.f[d] = b.f[g]
			}
		case TInt, TTimestamp, TDate:
			if !a.has[d] || a.sign*cmp3(b.i[g], a.i[d]) > 0 {
				a.i[d] = b.i[g]
			}
		case TInterval:
			if !a.has[d] || a.sign*CompareInterval(b.iv[g], a.iv[d]) > 0 {
				a.iv[d] = b.iv[g]
			}
		case TText:
			if !a.has[d] || a.sign*strings.Compare(b.s[g], a.s[d]) > 0 {
				a.s[d] = b.s[g]
			}
		case TBool:
			if !a.has[d] || (a.sign > 0 && b.b[g]) || (a.sign < 0 && !b.b[g]) {
				a.b[d] = b.b[g]
			}
		}
		a.has[d] = true
	}
	return nil
}

func (a *extAcc) Result() arrow.Array {
	valid := NewValid(len(a.has))
	for g, h := range a.has {
		if !h {
			valid.SetNull(g)
		}
	}
	switch a.t {
	case TFloat:
		return NewFloat(append([]float64(nil), a.f...), valid)
	case TInt:
		return NewInt(append([]int64(nil), a.i...), valid)
	case TTimestamp:
		return NewTimestamp(append([]int64(nil), a.i...), valid)
	case TDate:
		return NewDate(a.i, valid)
	case TInterval:
		return NewInterval(a.iv, valid)
	case TText:
		return NewText(a.s, valid)
	default:
		return NewBool(a.b, valid)
	}
}

// byTimeAcc is first(value, time) / last(value, time) (TimescaleDB): the
// value at the smallest / largest time; rows with a NULL time are skipped.
type byTimeAcc struct {
	t        Type
	last     bool
	floatKey bool // the ordering argument is double precision
	key      []int64
	fkey     []float64
	val      []any
	has      []bool
}

func (a *byTimeAcc) Grow(n int) {
	for len(a.has) < n {
		a.has = append(a.has, false)
		a.key = append(a.key, 0)
		a.fkey = append(a.fkey, 0)
		a.val = append(a.val, nil)
	}
}

func (a *byTimeAcc) better(g uint32, k int64, fk float64) bool {
	if !a.has[g] {
		return true
	}
	c := 0
	if a.floatKey {
		c = CompareFloat(fk, a.fkey[g])
	} else {
		c = cmp3(k, a.key[g])
	}
	if a.last {
		return c > 0
	}
	return c < 0
}

func (a *byTimeAcc) Update(gids []uint32, args []Vec) error {
	v, t := args[0], args[1]
	isFloat := a.floatKey
	for i, g := range gids {
		if t.IsNull(i) {
			continue
		}
		var k int64
		var fk float64
		if isFloat {
			fk = t.Float(i)
		} else {
			k = t.Int(i)
		}
		if a.better(g, k, fk) {
			a.key[g], a.fkey[g], a.has[g] = k, fk, true
			x := v.Value(i)
			if s, ok := x.(string); ok {
				x = strings.Clone(s)
			}
			a.val[g] = x
		}
	}
	return nil
}

func (a *byTimeAcc) Merge(o Acc, into []uint32) error {
	b := o.(*byTimeAcc)
	for g, has := range b.has {
		if !has {
			continue
		}
		d := into[g]
		if a.better(d, b.key[g], b.fkey[g]) {
			a.key[d], a.fkey[d], a.val[d], a.has[d] = b.key[g], b.fkey[g], b.val[g], true
		}
	}
	return nil
}

func (a *byTimeAcc) Result() arrow.Array { return NewOf(a.t, a.val) }
