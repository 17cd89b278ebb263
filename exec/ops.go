package exec

import (
	"context"
	"encoding/binary"
	"io"
	"math"
	"slices"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/bitutil"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/ugnos/ugnos/arrowstore"
	"github.com/ugnos/ugnos/errs"
	"github.com/ugnos/ugnos/functions"
	"github.com/ugnos/ugnos/internal/bufpool"
	"github.com/ugnos/ugnos/planner"
)

// scanOp reads a table. Tag columns stay dictionary-encoded (SQL type
// text): filters and aggregates work on the codes, and a projection decodes
// what it outputs.
type scanOp struct {
	n      *planner.Scan
	schema *arrow.Schema
	rd     array.RecordReader
	env    Env
}

func newScan(n *planner.Scan, env Env) (Operator, error) {
	ops, err := newScanParts(n, env, 1, false)
	if err != nil {
		return nil, err
	}
	return ops[0], nil
}

// newScanParts returns parts scan operators that together read the table
// once and may run concurrently (one reader when the table cannot split).
// reuse asks split scans to write each batch over the buffers of the one
// before (arrowstore.ScanRequest.Reuse): only for a caller that reads each
// part from one goroutine, retains no batch and is done with a batch before
// it asks for the next.
func newScanParts(n *planner.Scan, env Env, parts int, reuse bool) ([]Operator, error) {
	schema := scanSchema(n)
	if n.Empty {
		return []Operator{&scanOp{n: n, schema: schema, env: env}}, nil
	}
	t, err := env.Table(n.Table)
	if err != nil {
		return nil, err
	}
	req := arrowstore.ScanRequest{MinT: n.MinT, MaxT: n.MaxT, Stats: env.Stats}
	if env.Profile != nil {
		st := env.Profile.Get(n)
		if st.Scan == nil {
			st.Scan = &arrowstore.ScanStats{}
		}
		req.Stats = st.Scan
	}
	for _, c := range n.Cols {
		req.Columns = append(req.Columns, c.Name)
	}
	for _, r := range n.Ranges {
		req.Ranges = append(req.Ranges, arrowstore.FieldRange{Column: r.Column, Min: r.Min, Max: r.Max})
	}
	if req.Filters, err = StorageFilters(t, n.Tags); err != nil {
		return nil, err
	}
	var rds []array.RecordReader
	if ps, ok := t.(arrowstore.PartitionedScanner); ok && parts > 1 {
		req.Reuse = reuse
		rds, err = ps.ScanPartitions(context.Background(), req, parts)
		if err == nil && len(rds) != parts {
			return nil, errs.New(errs.ErrInternal, errs.CodeInternal, "BUG: %d scan partitions asked, %d returned", parts, len(rds))
		}
	} else {
		var rd array.RecordReader
		rd, err = t.Scan(context.Background(), req)
		rds = []array.RecordReader{rd}
	}
	if err != nil {
		return nil, err
	}
	ops := make([]Operator, len(rds))
	for i, rd := range rds {
		ops[i] = &scanOp{n: n, schema: schema, env: env, rd: rd}
	}
	return ops, nil
}

func (s *scanOp) Schema() *arrow.Schema { return s.schema }

func (s *scanOp) Next(ctx context.Context) (arrow.RecordBatch, error) {
	if s.rd == nil {
		return nil, io.EOF
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if !s.rd.Next() {
		if err := s.rd.Err(); err != nil {
			return nil, err
		}
		return nil, io.EOF
	}
	rec := s.rd.RecordBatch()
	cols := make([]arrow.Array, rec.NumCols())
	for i := range cols {
		cols[i] = rec.Column(i)
	}
	return array.NewRecordBatch(s.schema, cols, rec.NumRows()), nil
}

// StorageFilters turns a plan's tag predicates into storage filters:
// [NOT] [I]LIKE becomes [NOT] IN of the tag values matching the pattern.
// Scans and DELETE both use it.
func StorageFilters(t arrowstore.Table, tags []planner.TagFilter) ([]arrowstore.Filter, error) {
	var out []arrowstore.Filter
	for _, f := range tags {
		var op arrowstore.FilterOp
		vals := f.Values
		switch f.Op {
		case "=":
			op = arrowstore.OpEq
		case "<>":
			op = arrowstore.OpNotEq
		case "in":
			op = arrowstore.OpIn
		case "not in":
			op = arrowstore.OpNotIn
		default: // [not] [i]like: the tag values matching the pattern
			tv, ok := t.(arrowstore.TagValuer)
			if !ok {
				return nil, errs.New(errs.ErrInternal, errs.CodeInternal, "BUG: table cannot list tag values for %s", f.Op)
			}
			match, err := functions.LikeMatcher(f.Values[0], strings.HasSuffix(f.Op, "ilike"))
			if err != nil {
				return nil, err
			}
			vals = nil
			for _, v := range tv.TagValues(f.Column) {
				if match(v) {
					vals = append(vals, v)
				}
			}
			op = arrowstore.OpIn
			if strings.HasPrefix(f.Op, "not") {
				op = arrowstore.OpNotIn
			}
		}
		out = append(out, arrowstore.Filter{Column: f.Column, Op: op, Values: vals})
	}
	return out, nil
}

// scanSchema is the scan's output schema: tags as dictionaries.
func scanSchema(n *planner.Scan) *arrow.Schema {
	fs := make([]arrow.Field, len(n.Cols))
	for i, c := range n.Cols {
		fs[i] = c.T.Field(c.Name)
		if c.Kind == planner.KindTag {
			fs[i].Type = arrowstore.TagType
		}
	}
	return arrow.NewSchema(fs, nil)
}

func (s *scanOp) Close() error {
	if s.rd != nil {
		s.rd.Release()
		s.rd = nil
	}
	return nil
}

// decodeDict turns a dictionary<int32, utf8> array into plain text, built
// directly as offsets and bytes (no string per row in between).
func decodeDict(d *array.Dictionary) arrow.Array {
	n := d.Len()
	dict := d.Dictionary().(*array.String)
	size := 0
	for i := 0; i < n; i++ {
		if d.IsValid(i) {
			size += dict.ValueLen(d.GetValueIndex(i))
		}
	}
	offs := make([]int32, n+1)
	buf := make([]byte, 0, size)
	var bm []byte
	nulls := 0
	if d.NullN() > 0 {
		bm = make([]byte, bitutil.BytesForBits(int64(n)))
	}
	for i := 0; i < n; i++ {
		if d.IsValid(i) {
			buf = append(buf, dict.Value(d.GetValueIndex(i))...)
			if bm != nil {
				bitutil.SetBit(bm, i)
			}
		} else {
			nulls++
		}
		offs[i+1] = int32(len(buf))
	}
	var vb *memory.Buffer
	if bm != nil {
		vb = memory.NewBufferBytes(bm)
	}
	data := array.NewData(arrow.BinaryTypes.String, n,
		[]*memory.Buffer{vb, memory.NewBufferBytes(arrow.Int32Traits.CastToBytes(offs)), memory.NewBufferBytes(buf)}, nil, nulls, 0)
	defer data.Release()
	return array.MakeFromData(data)
}

type valuesOp struct {
	n      *planner.Values
	schema *arrow.Schema
	done   bool
}

func (v *valuesOp) Schema() *arrow.Schema { return v.schema }
func (v *valuesOp) Close() error          { return nil }
func (v *valuesOp) Next(ctx context.Context) (arrow.RecordBatch, error) {
	if v.done {
		return nil, io.EOF
	}
	v.done = true
	n := len(v.n.Rows)
	cols := make([]arrow.Array, len(v.n.Out))
	for c, col := range v.n.Out {
		vals := make([]any, n)
		for r, row := range v.n.Rows {
			vals[r] = row[c].(*planner.Const).V
		}
		cols[c] = functions.NewOf(col.T, vals)
	}
	return array.NewRecordBatch(v.schema, cols, int64(n)), nil
}

// seriesOp produces generate_series values in batches.
type seriesOp struct {
	n      *planner.Series
	schema *arrow.Schema
	next   int64
	done   bool
}

func (s *seriesOp) Schema() *arrow.Schema { return s.schema }
func (s *seriesOp) Close() error          { return nil }

// past reports whether x is beyond the series' end in its direction.
func (s *seriesOp) past(x int64) bool {
	up := s.n.StepInt > 0
	if s.n.Out[0].T == functions.TTimestamp {
		if d, ok := s.n.StepIv.Fixed(); ok {
			up = d > 0
		} else {
			up = s.n.StepIv.Months > 0 || s.n.StepIv.Months == 0 && s.n.StepIv.Days > 0
		}
	}
	if up {
		return x > s.n.Stop
	}
	return x < s.n.Stop
}

func (s *seriesOp) Next(ctx context.Context) (arrow.RecordBatch, error) {
	if s.done {
		return nil, io.EOF
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	vals := make([]int64, 0, 4096)
	for len(vals) < cap(vals) {
		x := s.next
		if s.past(x) {
			s.done = true
			break
		}
		vals = append(vals, x)
		var nx int64
		if s.n.Out[0].T == functions.TTimestamp {
			var err error
			if nx, err = functions.AddInterval(x, s.n.StepIv); err != nil {
				s.done = true
				break
			}
		} else {
			nx = x + s.n.StepInt
			if (nx > x) != (s.n.StepInt > 0) { // overflow: the end
				s.done = true
				break
			}
		}
		s.next = nx
	}
	if len(vals) == 0 {
		return nil, io.EOF
	}
	var col arrow.Array
	if s.n.Out[0].T == functions.TTimestamp {
		col = functions.NewTimestamp(vals, nil)
	} else {
		col = functions.NewInt(vals, nil)
	}
	defer col.Release()
	return array.NewRecordBatch(s.schema, []arrow.Array{col}, int64(len(vals))), nil
}

type filterOp struct {
	in   Operator
	pred evaluator
	sel  []int32 // selection vector, from bufpool
}

func (f *filterOp) Schema() *arrow.Schema { return f.in.Schema() }
func (f *filterOp) Close() error {
	bufpool.Put(f.sel)
	f.sel = nil
	return f.in.Close()
}
func (f *filterOp) Next(ctx context.Context) (arrow.RecordBatch, error) {
	for {
		rec, err := f.in.Next(ctx)
		if err != nil {
			return nil, err
		}
		out, err := applyFilter(f.pred, rec, &f.sel)
		if err != nil || out != nil {
			return out, err
		}
	}
}

// applyFilter keeps the rows of rec where pred is true. It consumes rec and
// returns nil when no row passes. selBuf is the caller's buffer for the
// selection vector (grown from bufpool; the result never refers to it).
func applyFilter(pred evaluator, rec arrow.RecordBatch, selBuf *[]int32) (arrow.RecordBatch, error) {
	v, err := pred(rec)
	if err != nil {
		rec.Release()
		return nil, err
	}
	n := int(rec.NumRows())
	if cap(*selBuf) < n {
		bufpool.Put(*selBuf)
		*selBuf = bufpool.Get[int32](n)
	}
	sel := (*selBuf)[:0]
	if v.IsConst() {
		if v.Const == true {
			return rec, nil
		}
	} else {
		b := v.Arr.(*array.Boolean)
		for i := 0; i < n; i++ {
			if b.IsValid(i) && b.Value(i) {
				sel = append(sel, int32(i))
			}
		}
		v.Release()
	}
	if len(sel) == n {
		return rec, nil
	}
	if len(sel) == 0 {
		rec.Release()
		return nil, nil
	}
	out := takeRecord(rec, sel)
	rec.Release()
	return out, nil
}

type projectOp struct {
	in     Operator
	exprs  []evaluator
	schema *arrow.Schema
	types  []functions.Type
	keep   []bool // output columns passed through dictionary-encoded
}

// keepDictionaries makes the columns that copy a dictionary-encoded input
// column (tags from the scan) keep that encoding.
func (p *projectOp) keepDictionaries(n *planner.Project) {
	in := p.in.Schema()
	fields := append([]arrow.Field(nil), p.schema.Fields()...)
	changed := false
	p.keep = make([]bool, len(n.Exprs))
	for i, e := range n.Exprs {
		c, ok := e.(*planner.Col)
		if !ok || c.Idx >= in.NumFields() {
			continue
		}
		if dt, ok := in.Field(c.Idx).Type.(*arrow.DictionaryType); ok && dt.ValueType.ID() == arrow.STRING && p.types[i] == functions.TText {
			fields[i].Type = dt
			p.keep[i], changed = true, true
		}
	}
	if changed {
		md := p.schema.Metadata()
		p.schema = arrow.NewSchema(fields, &md)
	}
}

func (p *projectOp) Schema() *arrow.Schema { return p.schema }
func (p *projectOp) Close() error          { return p.in.Close() }
func (p *projectOp) Next(ctx context.Context) (arrow.RecordBatch, error) {
	rec, err := p.in.Next(ctx)
	if err != nil {
		return nil, err
	}
	defer rec.Release()
	cols := make([]arrow.Array, len(p.exprs))
	for i, e := range p.exprs {
		v, err := e(rec)
		if err != nil {
			for _, c := range cols[:i] {
				c.Release()
			}
			return nil, err
		}
		if v.T == functions.TUnknown { // an untyped literal selected as is
			v.T = functions.TText
		}
		cols[i] = v.Materialize()
		if d, ok := cols[i].(*array.Dictionary); ok && (p.keep == nil || !p.keep[i]) {
			cols[i] = decodeDict(d)
			d.Release()
		}
	}
	out := array.NewRecordBatch(p.schema, cols, rec.NumRows())
	for _, c := range cols {
		c.Release()
	}
	return out, nil
}

type limitOp struct {
	in   Operator
	left int64 // -1: no limit
	skip int64
}

func (l *limitOp) Schema() *arrow.Schema { return l.in.Schema() }
func (l *limitOp) Close() error          { return l.in.Close() }
func (l *limitOp) Next(ctx context.Context) (arrow.RecordBatch, error) {
	for {
		if l.left == 0 {
			return nil, io.EOF
		}
		rec, err := l.in.Next(ctx)
		if err != nil {
			return nil, err
		}
		n := rec.NumRows()
		lo := min(l.skip, n)
		l.skip -= lo
		hi := n
		if l.left >= 0 {
			hi = lo + min(n-lo, l.left) // lo+l.left overflows for LIMIT near 2^63
			l.left -= hi - lo
		}
		if lo == 0 && hi == n {
			return rec, nil
		}
		if lo == hi {
			rec.Release()
			continue
		}
		out := rec.NewSlice(lo, hi)
		rec.Release()
		return out, nil
	}
}

// keyEncoder appends a row's values of some columns to a byte key that
// distinguishes NULL, and treats -0 and 0, and all NaNs, as equal (as
// PostgreSQL's grouping does).
func appendKey(b []byte, v functions.Vec, i int) []byte {
	if v.IsNull(i) {
		return append(b, 0)
	}
	b = append(b, 1)
	switch v.T {
	case functions.TFloat:
		f := v.Float(i)
		if f == 0 {
			f = 0
		}
		if f != f {
			f = math.NaN()
		}
		return binary.LittleEndian.AppendUint64(b, math.Float64bits(f))
	case functions.TInt, functions.TTimestamp, functions.TDate:
		return binary.LittleEndian.AppendUint64(b, uint64(v.Int(i)))
	case functions.TInterval:
		// equal spans ('1 day', '24 hours') are one key, as in PostgreSQL
		d, ns := v.Interval(i).Span()
		return binary.LittleEndian.AppendUint64(binary.LittleEndian.AppendUint64(b, uint64(d)), uint64(ns))
	case functions.TBool:
		if v.Bool(i) {
			return append(b, 1)
		}
		return append(b, 0)
	default:
		s := v.Str(i)
		if v.T == functions.TNumeric {
			s = functions.NumericKey(s) // 1.5 and 1.50 are one key
		}
		b = binary.LittleEndian.AppendUint32(b, uint32(len(s)))
		return append(b, s...)
	}
}

type distinctOp struct {
	mem   *Budget
	in    Operator
	on    []int
	types []functions.Type
	seen  map[string]struct{}
	key   []byte
}

func (d *distinctOp) Schema() *arrow.Schema { return d.in.Schema() }
func (d *distinctOp) Close() error          { return d.in.Close() }
func (d *distinctOp) Next(ctx context.Context) (arrow.RecordBatch, error) {
	for {
		rec, err := d.in.Next(ctx)
		if err != nil {
			return nil, err
		}
		cols := d.on
		if cols == nil {
			cols = make([]int, rec.NumCols())
			for i := range cols {
				cols[i] = i
			}
		}
		vecs := make([]functions.Vec, len(cols))
		for k, c := range cols {
			vecs[k] = functions.ArrVec(rec.Column(c), d.types[c])
		}
		var sel []int32
		for i := 0; i < int(rec.NumRows()); i++ {
			d.key = d.key[:0]
			for _, v := range vecs {
				d.key = appendKey(d.key, v, i)
			}
			if _, ok := d.seen[string(d.key)]; ok {
				continue
			}
			d.seen[string(d.key)] = struct{}{}
			if err := d.mem.Reserve(int64(len(d.key)) + 48); err != nil {
				rec.Release()
				return nil, err
			}
			sel = append(sel, int32(i))
		}
		if len(sel) == 0 {
			rec.Release()
			continue
		}
		out := takeRecord(rec, sel)
		rec.Release()
		return out, nil
	}
}

// sortOp materialises its input and sorts it (stable).
type sortOp struct {
	mem   *Budget
	in    Operator
	keys  []planner.SortKey
	types []functions.Type
	done  bool
}

func (s *sortOp) Schema() *arrow.Schema { return s.in.Schema() }
func (s *sortOp) Close() error          { return s.in.Close() }
func (s *sortOp) Next(ctx context.Context) (arrow.RecordBatch, error) {
	if s.done {
		return nil, io.EOF
	}
	s.done = true
	recs, err := drain(ctx, s.in, s.mem)
	if err != nil {
		return nil, err
	}
	return sortRecord(concat(s.in.Schema(), recs), s.keys, s.types), nil
}

// sortRecord orders rec's rows by keys (stable) and releases rec.
func sortRecord(rec arrow.RecordBatch, keys []planner.SortKey, types []functions.Type) arrow.RecordBatch {
	perm := make([]int32, rec.NumRows())
	for i := range perm {
		perm[i] = int32(i)
	}
	vecs := make([]functions.Vec, len(keys))
	for k, key := range keys {
		vecs[k] = functions.ArrVec(rec.Column(key.Col), types[key.Col])
	}
	slices.SortStableFunc(perm, func(a, b int32) int {
		for k, key := range keys {
			if c := compareRows(vecs[k], int(a), int(b), key.Desc, key.NullsFirst); c != 0 {
				return c
			}
		}
		return 0
	})
	out := takeRecord(rec, perm)
	rec.Release()
	return out
}

// compareRows orders two rows of v.
func compareRows(v functions.Vec, a, b int, desc, nullsFirst bool) int {
	return compareAcross(v, a, v, b, desc, nullsFirst)
}

// concat joins batches into one.
func concat(schema *arrow.Schema, recs []arrow.RecordBatch) arrow.RecordBatch {
	if len(recs) == 1 {
		return recs[0]
	}
	cols := make([]arrow.Array, schema.NumFields())
	var n int64
	for _, r := range recs {
		n += r.NumRows()
	}
	for c := range cols {
		parts := make([]arrow.Array, 0, len(recs))
		for _, r := range recs {
			parts = append(parts, r.Column(c))
		}
		if len(parts) == 0 {
			cols[c] = array.MakeArrayOfNull(memory.DefaultAllocator, schema.Field(c).Type, 0)
			continue
		}
		a, err := array.Concatenate(parts, memoryAllocator)
		if err != nil {
			panic("BUG: exec: concatenate: " + err.Error())
		}
		cols[c] = a
	}
	for _, r := range recs {
		r.Release()
	}
	out := array.NewRecordBatch(schema, cols, n)
	for _, c := range cols {
		c.Release()
	}
	return out
}
