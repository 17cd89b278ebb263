package engine

import (
	"context"
	"sync/atomic"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/bitutil"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/ugnos/ugnos/arrowstore"
	"github.com/ugnos/ugnos/arrowstore/membuf"
	"github.com/ugnos/ugnos/errs"
	"github.com/ugnos/ugnos/internal/bufpool"
)

// kindSeriesID marks the SeriesIDColumn among output columns.
const kindSeriesID arrowstore.ColumnKind = 255

type outCol struct {
	kind arrowstore.ColumnKind
	slot int // tag or field slot
	part int // index into the part's fields
}

// Scan implements arrowstore.Table.
func (t *table) Scan(ctx context.Context, req arrowstore.ScanRequest) (array.RecordReader, error) {
	rs, err := t.ScanPartitions(ctx, req, 1)
	if err != nil {
		return nil, err
	}
	return rs[0], nil
}

// ScanPartitions implements arrowstore.PartitionedScanner: n readers over
// one consistent view, which may be read concurrently.
func (t *table) ScanPartitions(ctx context.Context, req arrowstore.ScanRequest, n int) ([]array.RecordReader, error) {
	return t.scanParts(ctx, req, n, nil)
}

// scanParts is ScanPartitions; sids, when not nil, replaces the series
// that the filters match (sorted; lastvals.go).
func (t *table) scanParts(ctx context.Context, req arrowstore.ScanRequest, n int, sids *[]uint32) ([]array.RecordReader, error) {
	if n < 1 {
		n = 1
	}
	if req.MinT > req.MaxT {
		return nil, errs.Invalid("scan time range is inverted (%d > %d)", req.MinT, req.MaxT)
	}
	expired := false
	if cut := t.cutoff(); req.MinT < cut { // retention: expired rows are never seen
		req.MinT = cut
		expired = req.MinT > req.MaxT
	}
	s := t.schema.Load()
	names := req.Columns
	if names == nil {
		names = make([]string, len(s.columns))
		for i, c := range s.columns {
			names[i] = c.Name
		}
	}
	fields := make([]arrow.Field, len(names))
	cols := make([]outCol, len(names))
	spec := membuf.ScanSpec{MinT: req.MinT, MaxT: req.MaxT, Stats: req.Stats, Reuse: req.Reuse, Ctx: ctx}
	for i, name := range names {
		if name == arrowstore.SeriesIDColumn {
			cols[i] = outCol{kind: kindSeriesID}
			fields[i] = arrow.Field{Name: name, Type: arrow.PrimitiveTypes.Uint32}
			continue
		}
		ref, ok := s.byName[name]
		if !ok {
			return nil, errs.New(errs.ErrNotFound, errs.CodeUndefinedColumn, "column %q of relation %q does not exist", name, t.name)
		}
		cols[i] = outCol{kind: ref.kind, slot: ref.slot}
		switch ref.kind {
		case arrowstore.KindTime:
			fields[i] = arrowstore.Column{Name: name, Kind: arrowstore.KindTime}.ArrowField()
		case arrowstore.KindTag:
			fields[i] = arrowstore.Column{Name: name, Kind: arrowstore.KindTag}.ArrowField()
		default:
			fields[i] = s.fields[ref.slot].ArrowField()
			cols[i].part = len(spec.Slots)
			spec.Slots = append(spec.Slots, ref.slot)
			spec.Types = append(spec.Types, ref.typ)
		}
	}
	for _, r := range req.Ranges {
		if ref, ok := s.byName[r.Column]; ok && ref.kind == arrowstore.KindField && (ref.typ == arrowstore.TypeFloat || ref.typ == arrowstore.TypeInt) {
			spec.Ranges = append(spec.Ranges, membuf.SlotRange{Slot: ref.slot, Min: r.Min, Max: r.Max})
		}
	}
	spec.NoSID = true
	for _, c := range cols {
		if c.kind == arrowstore.KindTag || c.kind == kindSeriesID {
			spec.NoSID = false
		}
	}
	rfs, err := t.resolveFilters(s, req.Filters)
	if err != nil {
		return nil, err
	}
	spec.SIDs = t.cat.match(rfs)
	if sids != nil {
		spec.SIDs = *sids
	}
	if spec.Stats != nil && spec.SIDs != nil {
		spec.Stats.SeriesMatched.Add(int64(len(spec.SIDs)))
	}
	schema := arrow.NewSchema(fields, nil)
	out := make([]array.RecordReader, n)
	var view *membuf.View
	if !expired && (spec.SIDs == nil || len(spec.SIDs) > 0) { // else no series match
		view = t.buf.View(spec.SIDs)
	}
	for i := range out {
		r := &reader{ctx: ctx, t: t, schema: schema, cols: cols, reuse: req.Reuse}
		r.refs.Store(1)
		if view != nil {
			r.cur = view.ScanPart(spec, i, n)
		}
		out[i] = r
	}
	return out, nil
}

// reader is the RecordReader of a scan.
type reader struct {
	ctx    context.Context
	t      *table
	schema *arrow.Schema
	cols   []outCol
	cur    *membuf.Cursor
	rec    arrow.RecordBatch
	err    error
	refs   atomic.Int64
	reuse  bool      // ScanRequest.Reuse
	idx    [][]int32 // under reuse: per output column, its dictionary indices
	dicts  []tagDict // per output column (tags only)
}

func (r *reader) Retain() { r.refs.Add(1) }
func (r *reader) Release() {
	if r.refs.Add(-1) != 0 {
		return
	}
	if r.rec != nil {
		r.rec.Release()
		r.rec = nil
	}
	r.end()
}
func (r *reader) Schema() *arrow.Schema          { return r.schema }
func (r *reader) RecordBatch() arrow.RecordBatch { return r.rec }
func (r *reader) Record() arrow.RecordBatch      { return r.rec }
func (r *reader) Err() error                     { return r.err }

func (r *reader) Next() bool {
	if r.rec != nil {
		r.rec.Release()
		r.rec = nil
	}
	if r.cur == nil || r.err != nil {
		return false
	}
	if err := r.ctx.Err(); err != nil {
		r.err = err
		return false
	}
	p, ok := r.cur.Next()
	if !ok {
		r.err = r.cur.Err()
		r.cur = nil
		r.end()
		return false
	}
	defer p.Release()
	arrs := make([]arrow.Array, len(r.cols))
	for i, c := range r.cols {
		switch c.kind {
		case arrowstore.KindTime:
			p.Time.Retain()
			arrs[i] = p.Time
		case arrowstore.KindTag:
			arrs[i] = r.tagArray(i, c.slot, p.Runs, r.indices(i, p.N))
		case kindSeriesID:
			sids := make([]uint32, 0, p.N)
			for _, run := range p.Runs {
				for range run.N {
					sids = append(sids, run.SID)
				}
			}
			arrs[i] = array.NewUint32Data(array.NewData(arrow.PrimitiveTypes.Uint32, p.N,
				[]*memory.Buffer{nil, memory.NewBufferBytes(asBytes(sids))}, nil, 0, 0))
		default:
			p.Fields[c.part].Retain()
			arrs[i] = p.Fields[c.part]
		}
	}
	r.rec = array.NewRecordBatch(r.schema, arrs, int64(p.N))
	for _, a := range arrs {
		a.Release()
	}
	return true
}

// indices returns the buffer for n dictionary indices of output column i:
// the reader's own under reuse (written over batch after batch), else a
// fresh one.
func (r *reader) indices(i, n int) []int32 {
	if !r.reuse {
		return make([]int32, n)
	}
	if r.idx == nil {
		r.idx = make([][]int32, len(r.cols))
	}
	if cap(r.idx[i]) < n {
		bufpool.Put(r.idx[i])
		r.idx[i] = bufpool.Get[int32](n)
	}
	return r.idx[i][:n]
}

// end drops what the reader holds once its caller is done: the tag
// dictionaries (batches handed out keep their own references) and, under
// reuse, where the caller holds no batch any more, the index buffers.
func (r *reader) end() {
	for i := range r.dicts {
		if r.dicts[i].data != nil {
			r.dicts[i].data.Release()
		}
	}
	r.dicts = nil
	for _, b := range r.idx {
		bufpool.Put(b)
	}
	r.idx = nil
}

// tagDict is a reader's dictionary of one tag column: the dictionary of the
// last batch that needed a new one, shared by the batches after it while
// their values are all in it (the rows of a scan mostly come from the same
// series batch after batch).
type tagDict struct {
	data  arrow.ArrayData // string values; the reader holds a reference
	pos   map[string]int32
	codes []int32 // scratch: per series run, its index (-1: NULL)
}

// tagArray builds a dictionary array of tag slot (output column col) for
// the rows of the given series runs, with idx (one per row) as the indices
// buffer.
func (r *reader) tagArray(col, slot int, runs []membuf.SeriesRun, idx []int32) arrow.Array {
	if r.dicts == nil {
		r.dicts = make([]tagDict, len(r.cols))
	}
	d := &r.dicts[col]
	c := &r.t.cat
	c.mu.RLock()
	codes, ok := d.codes[:0], d.data != nil
	for _, run := range runs {
		code := int32(-1)
		if v := c.tag(run.SID, slot); v != "" {
			if code, ok = d.pos[v]; !ok {
				break
			}
		}
		codes = append(codes, code)
	}
	if !ok { // a value the dictionary lacks: a new one, of this batch's values
		var dict []string
		pos := map[string]int32{}
		codes = codes[:0]
		for _, run := range runs {
			code := int32(-1)
			if v := c.tag(run.SID, slot); v != "" {
				i, ok := pos[v]
				if !ok {
					i = int32(len(dict))
					pos[v] = i
					dict = append(dict, v)
				}
				code = i
			}
			codes = append(codes, code)
		}
		if d.data != nil {
			d.data.Release()
		}
		d.data, d.pos = stringData(dict), pos
	}
	c.mu.RUnlock()
	d.codes = codes
	n := len(idx)
	var valid []byte // allocated at the first NULL (absent tag)
	nulls, k := 0, 0
	for ri, run := range runs {
		e := k + int(run.N)
		code := codes[ri]
		if code < 0 {
			if valid == nil {
				valid = make([]byte, (n+7)/8)
				bitutil.SetBitsTo(valid, 0, int64(k), true) // rows before were valid
			}
			nulls += e - k
			code = 0
		} else if valid != nil {
			bitutil.SetBitsTo(valid, int64(k), int64(e-k), true)
		}
		fill := idx[k:e]
		for j := range fill {
			fill[j] = code
		}
		k = e
	}
	var vb []*memory.Buffer
	if nulls > 0 {
		vb = []*memory.Buffer{memory.NewBufferBytes(valid), memory.NewBufferBytes(asBytes(idx))}
	} else {
		vb = []*memory.Buffer{nil, memory.NewBufferBytes(asBytes(idx))}
	}
	data := array.NewData(arrowstore.TagType, n, vb, nil, nulls, 0)
	data.SetDictionary(d.data)
	defer data.Release()
	return array.MakeFromData(data)
}

// stringData is the Arrow data of a string array of vals.
func stringData(vals []string) arrow.ArrayData {
	size := 0
	for _, v := range vals {
		size += len(v)
	}
	offs := make([]int32, len(vals)+1)
	buf := make([]byte, 0, size)
	for i, v := range vals {
		buf = append(buf, v...)
		offs[i+1] = int32(len(buf))
	}
	return array.NewData(arrow.BinaryTypes.String, len(vals),
		[]*memory.Buffer{nil, memory.NewBufferBytes(asBytes(offs)), memory.NewBufferBytes(buf)}, nil, 0, 0)
}

// Delete removes rows of a table in [minT, maxT] matching the tag filters
// and returns how many it removed (arrowstore.Engine).
func (e *Engine) Delete(ctx context.Context, tenantName, tableName string, minT, maxT int64, filters []arrowstore.Filter) (uint64, error) {
	// the segments stay put (lock order: ckMu before closeMu, as in
	// checkpoints)
	e.ckMu.Lock()
	defer e.ckMu.Unlock()
	done, err := e.begin()
	if err != nil {
		return 0, err
	}
	defer done()
	if minT > maxT {
		return 0, errs.Invalid("delete time range is inverted (%d > %d)", minT, maxT)
	}
	t, err := e.lookup(tenantName, tableName)
	if err != nil {
		return 0, err
	}
	rfs, err := t.resolveFilters(t.schema.Load(), filters)
	if err != nil {
		return 0, err
	}
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	t.order.Lock()
	defer t.order.Unlock()
	if err := t.checkLive(); err != nil {
		return 0, err
	}
	sids := t.cat.match(rfs) // stable: no writer runs under order
	if sids != nil && len(sids) == 0 {
		return 0, nil
	}
	onDisk, err := t.countInSegments(ctx, minT, maxT, sids)
	if err != nil {
		return 0, err
	}
	var en enc
	en.u8(recDelete)
	en.u32(t.id)
	en.u64(uint64(minT))
	en.u64(uint64(maxT))
	if sids == nil {
		en.u32(allSeries)
	} else {
		en.u32(uint32(len(sids)))
		for _, s := range sids {
			en.u32(s)
		}
	}
	lsn, err := e.logRec(en.b)
	if err != nil {
		return 0, err
	}
	if err := e.syncTo(lsn); err != nil {
		return 0, err
	}
	if e.wal != nil {
		t.addTombstone(tombstone{Table: t.id, MinT: minT, MaxT: maxT, SIDs: sids, All: sids == nil, LSN: uint64(lsn)})
	}
	n := uint64(t.buf.Delete(minT, maxT, sids) + onDisk)
	t.notifyDeleted(minT, maxT, sids == nil, false)
	return n, nil
}

// SeriesTags implements arrowstore.SeriesTable.
func (t *table) SeriesTags(sid uint32) map[string]string {
	c := &t.cat
	c.mu.RLock()
	defer c.mu.RUnlock()
	s := t.schema.Load() // after the lock: covers every slot of every series
	if int(sid) >= len(c.tags) {
		return nil
	}
	m := make(map[string]string, c.ntags[sid])
	for slot, v := range c.tags[sid] {
		if v != "" && slot < len(s.tags) {
			m[s.tags[slot]] = v
		}
	}
	return m
}

// TagValues implements arrowstore.TagValuer.
func (t *table) TagValues(column string) []string {
	ref, ok := t.schema.Load().byName[column]
	if !ok || ref.kind != arrowstore.KindTag {
		return nil
	}
	c := &t.cat
	c.mu.RLock()
	defer c.mu.RUnlock()
	if ref.slot >= len(c.post) {
		return nil
	}
	out := make([]string, 0, len(c.post[ref.slot]))
	for v := range c.post[ref.slot] {
		out = append(out, v)
	}
	return out
}
