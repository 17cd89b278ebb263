package exec

import (
	"context"
	"io"
	"math"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/ugnos/ugnos/errs"
	"github.com/ugnos/ugnos/functions"
	"github.com/ugnos/ugnos/planner"
)

// maxGapfillRows bounds the rows one gap-filling query may produce.
const maxGapfillRows = 50_000_000

// gapfillOp runs a planner.GapFill: it reads its input (sorted by the
// group columns, then the bucket) whole and emits one batch with the
// missing buckets of every group added and the fill columns appended.
type gapfillOp struct {
	n      *planner.GapFill
	in     Operator
	schema *arrow.Schema
	types  []functions.Type
	mem    *Budget
	done   bool
}

func newGapfill(n *planner.GapFill, in Operator, env Env) *gapfillOp {
	return &gapfillOp{n: n, in: in, schema: SchemaOf(n.Out), types: types(n.Input.Columns()), mem: env.Mem}
}

func (g *gapfillOp) Schema() *arrow.Schema { return g.schema }
func (g *gapfillOp) Close() error          { return g.in.Close() }

// gapRow is one output row: Src the input row (-1: an added bucket), Rep
// a row of its group (for the group columns), Bucket its bucket.
type gapRow struct {
	Src, Rep    int32
	Bucket      int64
	BucketValid bool
}

func (g *gapfillOp) Next(ctx context.Context) (arrow.RecordBatch, error) {
	if g.done {
		return nil, io.EOF
	}
	g.done = true
	recs, err := drain(ctx, g.in, g.mem)
	if err != nil {
		return nil, err
	}
	rec := concat(g.in.Schema(), recs)
	defer rec.Release()
	rows, err := g.plan(rec)
	if err != nil {
		return nil, err
	}
	if err := g.mem.Reserve(int64(len(rows)) * 8 * int64(len(g.n.Out))); err != nil {
		return nil, err
	}
	cols := make([]arrow.Array, 0, len(g.n.Out))
	defer func() {
		for _, c := range cols {
			c.Release()
		}
	}()
	isGroup := make([]bool, rec.NumCols())
	for _, c := range g.n.Groups {
		isGroup[c] = true
	}
	idx := make([]int32, len(rows))
	for c := 0; c < int(rec.NumCols()); c++ {
		if c == g.n.Bucket {
			cols = append(cols, bucketArray(rows, g.schema.Field(c).Type))
			continue
		}
		for k, r := range rows {
			idx[k] = r.Src
			if isGroup[c] {
				idx[k] = r.Rep
			}
		}
		cols = append(cols, takeOrNull(rec.Column(c), idx))
	}
	for _, f := range g.n.Fills {
		cols = append(cols, g.fill(rec, rows, f))
	}
	return array.NewRecordBatch(g.schema, cols, int64(len(rows))), nil
}

// plan lays out the output rows group by group.
func (g *gapfillOp) plan(rec arrow.RecordBatch) ([]gapRow, error) {
	n := int(rec.NumRows())
	groups := make([]functions.Vec, len(g.n.Groups))
	for i, c := range g.n.Groups {
		groups[i] = functions.ArrVec(rec.Column(c), g.types[c])
	}
	bucket := functions.ArrVec(rec.Column(g.n.Bucket), g.types[g.n.Bucket])
	same := func(a, b int) bool {
		for _, v := range groups {
			if compareRows(v, a, b, false, false) != 0 {
				return false
			}
		}
		return true
	}
	first := functions.TimeBucket(g.n.Width, g.n.Start, g.n.Origin)
	var rows []gapRow
	emitGroup := func(lo, hi int) error {
		rep := int32(lo)
		if lo == hi {
			rep = -1
		}
		i := lo
		for t := first; t < g.n.Finish; t += g.n.Width {
			for ; i < hi && !bucket.IsNull(i) && bucket.Int(i) < t; i++ {
				rows = append(rows, gapRow{Src: int32(i), Rep: int32(i), Bucket: bucket.Int(i), BucketValid: true})
			}
			if i < hi && !bucket.IsNull(i) && bucket.Int(i) == t {
				rows = append(rows, gapRow{Src: int32(i), Rep: int32(i), Bucket: t, BucketValid: true})
				i++
			} else {
				rows = append(rows, gapRow{Src: -1, Rep: rep, Bucket: t, BucketValid: true})
			}
			if len(rows) > maxGapfillRows {
				return errs.New(errs.ErrInvalidInput, "54000", "time_bucket_gapfill would produce more than %d rows", maxGapfillRows)
			}
			if t > math.MaxInt64-g.n.Width {
				break
			}
		}
		for ; i < hi; i++ {
			rows = append(rows, gapRow{Src: int32(i), Rep: int32(i), Bucket: bucket.Int(i), BucketValid: !bucket.IsNull(i)})
		}
		return nil
	}
	if n == 0 {
		if len(g.n.Groups) > 0 {
			return nil, nil
		}
		return rows, emitGroup(0, 0)
	}
	lo := 0
	for i := 1; i <= n; i++ {
		if i == n || !same(lo, i) {
			if err := emitGroup(lo, i); err != nil {
				return nil, err
			}
			lo = i
		}
	}
	return rows, nil
}

func bucketArray(rows []gapRow, dt arrow.DataType) arrow.Array {
	b := array.NewTimestampBuilder(memory.DefaultAllocator, dt.(*arrow.TimestampType))
	defer b.Release()
	b.Reserve(len(rows))
	for _, r := range rows {
		if r.BucketValid {
			b.UnsafeAppend(arrow.Timestamp(r.Bucket))
		} else {
			b.AppendNull()
		}
	}
	return b.NewArray()
}

// fill computes a locf or interpolate column over the output rows.
func (g *gapfillOp) fill(rec arrow.RecordBatch, rows []gapRow, f planner.Fill) arrow.Array {
	src := functions.ArrVec(rec.Column(f.Src), g.types[f.Src])
	sameGroup := func(a, b gapRow) bool {
		return a.Rep == b.Rep || a.Rep >= 0 && b.Rep >= 0 && g.groupOf(rec, a.Rep, b.Rep)
	}
	if f.Mode == "locf" && (f.Prev == nil || f.T != functions.TFloat && f.T != functions.TInt) {
		// each added row takes the value of the last input row before it
		// in its group (with SkipNulls: of the last one with a value, and
		// so do input rows without one)
		idx := make([]int32, len(rows))
		last := int32(-1)
		for k, r := range rows {
			if k > 0 && !sameGroup(rows[k-1], r) {
				last = -1
			}
			if r.Src >= 0 && (!f.SkipNulls || !src.IsNull(int(r.Src))) {
				last = r.Src
			}
			idx[k] = last
			if r.Src >= 0 && !f.SkipNulls {
				idx[k] = r.Src
			}
		}
		return takeOrNull(rec.Column(f.Src), idx)
	}
	vals := make([]float64, len(rows))
	valid := make([]bool, len(rows))
	start := 0
	for k := range rows {
		if k > 0 && !sameGroup(rows[k-1], rows[k]) {
			start = k
		}
		r := rows[k]
		if r.Src >= 0 && !src.IsNull(int(r.Src)) {
			vals[k], valid[k] = src.Float(int(r.Src)), true
			continue
		}
		if r.Src >= 0 && (f.Mode != "locf" || !f.SkipNulls) {
			continue
		}
		if f.Mode == "locf" {
			vals[k], valid[k] = toFloat64(f.Prev), true
			for j := k - 1; j >= start; j-- {
				if rows[j].Src >= 0 && (valid[j] || !f.SkipNulls) {
					vals[k], valid[k] = vals[j], valid[j]
					break
				}
			}
			continue
		}
		// interpolate between the nearest input rows of the group
		p := -1
		for j := k - 1; j >= start; j-- {
			if rows[j].Src >= 0 {
				p = j
				break
			}
		}
		nx := -1
		for j := k + 1; j < len(rows) && sameGroup(rows[j], r); j++ {
			if rows[j].Src >= 0 {
				nx = j
				break
			}
		}
		if p < 0 || nx < 0 || !rows[p].BucketValid || !rows[nx].BucketValid {
			continue
		}
		pr, nr := int(rows[p].Src), int(rows[nx].Src)
		if src.IsNull(pr) || src.IsNull(nr) {
			continue
		}
		y0, y1 := src.Float(pr), src.Float(nr)
		x0, x1 := float64(rows[p].Bucket), float64(rows[nx].Bucket)
		vals[k] = y0 + (y1-y0)*(float64(r.Bucket)-x0)/(x1-x0)
		valid[k] = true
	}
	if f.T == functions.TInt {
		b := array.NewInt64Builder(memory.DefaultAllocator)
		defer b.Release()
		for k, v := range vals {
			if !valid[k] {
				b.AppendNull()
			} else if rows[k].Src >= 0 && !src.IsNull(int(rows[k].Src)) {
				b.Append(src.Int(int(rows[k].Src)))
			} else {
				b.Append(int64(math.Round(v)))
			}
		}
		return b.NewArray()
	}
	b := array.NewFloat64Builder(memory.DefaultAllocator)
	defer b.Release()
	b.AppendValues(vals, valid)
	return b.NewArray()
}

// groupOf reports whether input rows a and b belong to the same group.
func (g *gapfillOp) groupOf(rec arrow.RecordBatch, a, b int32) bool {
	for _, c := range g.n.Groups {
		if compareRows(functions.ArrVec(rec.Column(c), g.types[c]), int(a), int(b), false, false) != 0 {
			return false
		}
	}
	return true
}

func toFloat64(v any) float64 {
	switch x := v.(type) {
	case float64:
		return x
	case int64:
		return float64(x)
	}
	return 0
}
