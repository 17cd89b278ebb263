package functions

import (
	"math"
	"slices"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/ugnos/ugnos/errs"
)

func moreAggregates() []*Aggregate {
	variance := func(name string, samp, sqrt bool) *Aggregate {
		return &Aggregate{Name: name, Resolve: numAgg(name), New: func(a []Type) Acc {
			if a[0] != TFloat {
				return &decVarAcc{samp: samp, sqrt: sqrt}
			}
			return &varAcc{samp: samp, sqrt: sqrt}
		}}
	}
	boolAgg := func(name string, and bool) *Aggregate {
		return &Aggregate{Name: name, Resolve: func(a []Type) (Type, error) {
			if len(a) != 1 || a[0] != TBool {
				return 0, noFunc(name, a)
			}
			return TBool, nil
		}, New: func([]Type) Acc { return &boolAcc{and: and} }}
	}
	pct := func(name string, cont bool) *Aggregate {
		return &Aggregate{Name: name, Resolve: func(a []Type) (Type, error) {
			// args: the ORDER BY value, then the fraction
			if len(a) != 2 || !a[1].Numeric() || (cont && !a[0].Numeric()) || (!cont && comparer(a[0], a[0]) == nil) {
				return 0, noFunc(name, a)
			}
			if cont {
				return TFloat, nil
			}
			return a[0], nil
		}, New: func(a []Type) Acc { return &pctAcc{cont: cont, t: a[0]} }}
	}
	return []*Aggregate{
		variance("variance", true, false), variance("var_samp", true, false), variance("var_pop", false, false),
		variance("stddev", true, true), variance("stddev_samp", true, true), variance("stddev_pop", false, true),
		boolAgg("bool_and", true), boolAgg("every", true), boolAgg("bool_or", false),
		{Name: "string_agg", Resolve: func(a []Type) (Type, error) {
			if len(a) != 2 || a[0] != TText || a[1] != TText {
				return 0, noFunc("string_agg", a)
			}
			return TText, nil
		}, New: func([]Type) Acc { return &stringAggAcc{} }},
		pct("percentile_cont", true), pct("percentile_disc", false),
	}
}

// varAcc keeps count, mean and M2 per group (Welford; Chan's merge).
type varAcc struct {
	samp, sqrt bool
	n          []float64
	mean, m2   []float64
}

func (a *varAcc) Grow(n int) {
	for len(a.n) < n {
		a.n, a.mean, a.m2 = append(a.n, 0), append(a.mean, 0), append(a.m2, 0)
	}
}

func (a *varAcc) Update(gids []uint32, args []Vec) error {
	for i, g := range gids {
		if args[0].IsNull(i) {
			continue
		}
		x := args[0].Float(i)
		a.n[g]++
		d := x - a.mean[g]
		a.mean[g] += d / a.n[g]
		a.m2[g] += d * (x - a.mean[g])
	}
	return nil
}

func (a *varAcc) Merge(o Acc, into []uint32) error {
	b := o.(*varAcc)
	for g := range b.n {
		if b.n[g] == 0 {
			continue
		}
		d := into[g]
		n := a.n[d] + b.n[g]
		delta := b.mean[g] - a.mean[d]
		a.m2[d] += b.m2[g] + delta*delta*a.n[d]*b.n[g]/n
		a.mean[d] += delta * b.n[g] / n
		a.n[d] = n
	}
	return nil
}

func (a *varAcc) Result() arrow.Array {
	out := make([]float64, len(a.n))
	valid := NewValid(len(out))
	for g, n := range a.n {
		den := n
		if a.samp {
			den = n - 1
		}
		if n == 0 || den == 0 {
			valid.SetNull(g)
			continue
		}
		v := a.m2[g] / den
		if v < 0 {
			v = 0
		}
		if a.sqrt {
			v = math.Sqrt(v)
		}
		out[g] = v
	}
	return NewFloat(out, valid)
}

type boolAcc struct {
	and      bool
	val, has []bool
}

func (a *boolAcc) Grow(n int) {
	for len(a.has) < n {
		a.val, a.has = append(a.val, a.and), append(a.has, false)
	}
}

func (a *boolAcc) Update(gids []uint32, args []Vec) error {
	for i, g := range gids {
		if args[0].IsNull(i) {
			continue
		}
		a.has[g] = true
		if b := args[0].Bool(i); b != a.and {
			a.val[g] = b
		}
	}
	return nil
}

func (a *boolAcc) Merge(o Acc, into []uint32) error {
	b := o.(*boolAcc)
	for g, h := range b.has {
		if h {
			d := into[g]
			a.has[d] = true
			if b.val[g] != a.and {
				a.val[d] = b.val[g]
			}
		}
	}
	return nil
}

func (a *boolAcc) Result() arrow.Array {
	valid := NewValid(len(a.has))
	for g, h := range a.has {
		if !h {
			valid.SetNull(g)
		}
	}
	return NewBool(a.val, valid)
}

type stringAggAcc struct {
	parts [][]string
	delim [][]string
}

func (a *stringAggAcc) Grow(n int) {
	for len(a.parts) < n {
		a.parts, a.delim = append(a.parts, nil), append(a.delim, nil)
	}
}

func (a *stringAggAcc) Update(gids []uint32, args []Vec) error {
	for i, g := range gids {
		if args[0].IsNull(i) {
			continue
		}
		d := ""
		if !args[1].IsNull(i) {
			d = args[1].Str(i)
		}
		a.parts[g] = append(a.parts[g], strings.Clone(args[0].Str(i)))
		a.delim[g] = append(a.delim[g], d)
	}
	return nil
}

func (a *stringAggAcc) Merge(o Acc, into []uint32) error {
	b := o.(*stringAggAcc)
	for g := range b.parts {
		a.parts[into[g]] = append(a.parts[into[g]], b.parts[g]...)
		a.delim[into[g]] = append(a.delim[into[g]], b.delim[g]...)
	}
	return nil
}

func (a *stringAggAcc) Result() arrow.Array {
	vals := make([]string, len(a.parts))
	valid := NewValid(len(vals))
	for g, ps := range a.parts {
		if len(ps) == 0 {
			valid.SetNull(g)
			continue
		}
		var b strings.Builder
		for k, p := range ps {
			if k > 0 {
				b.WriteString(a.delim[g][k]) // the delimiter given with this value
			}
			b.WriteString(p)
		}
		vals[g] = b.String()
	}
	return NewText(vals, valid)
}

// pctAcc collects values per group for percentile_cont/percentile_disc.
type pctAcc struct {
	cont bool
	t    Type
	frac float64
	set  bool
	vals [][]any
}

func (a *pctAcc) Grow(n int) {
	for len(a.vals) < n {
		a.vals = append(a.vals, nil)
	}
}

func (a *pctAcc) Update(gids []uint32, args []Vec) error {
	for i, g := range gids {
		if !args[1].IsNull(i) && !a.set {
			a.frac, a.set = args[1].Float(i), true
			if a.frac < 0 || a.frac > 1 || a.frac != a.frac {
				return errs.New(errs.ErrInvalidInput, "22003", "percentile value %v is not between 0 and 1", a.frac)
			}
		}
		if args[0].IsNull(i) {
			continue
		}
		v := args[0].Value(i)
		if s, ok := v.(string); ok {
			v = strings.Clone(s)
		}
		a.vals[g] = append(a.vals[g], v)
	}
	return nil
}

func (a *pctAcc) Merge(o Acc, into []uint32) error {
	b := o.(*pctAcc)
	if b.set && !a.set {
		a.frac, a.set = b.frac, true
	}
	for g := range b.vals {
		a.vals[into[g]] = append(a.vals[into[g]], b.vals[g]...)
	}
	return nil
}

func (a *pctAcc) Result() arrow.Array {
	out := make([]any, len(a.vals))
	for g, vs := range a.vals {
		if len(vs) == 0 {
			continue
		}
		v := ArrVec(NewOf(a.t, vs), a.t)
		idx := make([]int, len(vs))
		for i := range idx {
			idx[i] = i
		}
		slices.SortFunc(idx, func(x, y int) int { return CompareRows(v, x, y) })
		n := float64(len(vs))
		if a.cont {
			rank := a.frac * (n - 1)
			lo, hi := math.Floor(rank), math.Ceil(rank)
			x, y := v.Float(idx[int(lo)]), v.Float(idx[int(hi)])
			if lo == hi {
				out[g] = x // no interpolation (keeps infinities)
			} else {
				out[g] = x + (rank-lo)*(y-x)
			}
		} else {
			k := int(math.Ceil(a.frac*n)) - 1
			out[g] = vs[idx[max(k, 0)]]
		}
	}
	return NewOf(map[bool]Type{true: TFloat, false: a.t}[a.cont], out)
}

// CompareRows orders two non-null rows of one vector.
func CompareRows(v Vec, x, y int) int {
	switch v.T {
	case TFloat:
		return CompareFloat(v.Float(x), v.Float(y))
	case TInt, TTimestamp:
		return cmp3(v.Int(x), v.Int(y))
	case TNumeric:
		return CompareNumericText(v.Str(x), v.Str(y))
	case TBool:
		bx, by := v.Bool(x), v.Bool(y)
		switch {
		case bx == by:
			return 0
		case !bx:
			return -1
		}
		return 1
	}
	return strings.Compare(v.Str(x), v.Str(y))
}
