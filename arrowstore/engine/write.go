package engine

import (
	"context"
	"fmt"
	"math"
	"slices"
	"strings"
	"unicode/utf8"
	"unsafe"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/ugnos/ugnos/arrowstore"
	"github.com/ugnos/ugnos/arrowstore/membuf"
	"github.com/ugnos/ugnos/errs"
)

// tagCol is a tag column of a written record.
type tagCol struct {
	name  string
	slot  int
	str   *array.String // plain text column, or
	dict  *array.Dictionary
	dvals *array.String // the dictionary's values
}

func (c *tagCol) value(i int) string {
	if c.str != nil {
		if c.str.IsNull(i) {
			return ""
		}
		return c.str.Value(i)
	}
	if c.dict.IsNull(i) {
		return ""
	}
	return c.dvals.Value(c.dict.GetValueIndex(i))
}

type fieldCol struct {
	name  string
	typ   arrowstore.FieldType
	arr   arrow.Array // canonical type
	owned bool        // arr was made here (widened) and must be released
}

// input is a validated record, ready for resolution.
type input struct {
	n      int
	time   []int64
	tags   []tagCol
	fields []fieldCol
}

// walBytes bounds the size of the rows record of the input.
func (in *input) walBytes() int64 {
	b := int64(in.n) * 12
	for _, f := range in.fields {
		switch f.typ {
		case arrowstore.TypeString:
			offs := f.arr.(*array.String).ValueOffsets()
			b += int64(offs[len(offs)-1]-offs[0]) + 4*int64(in.n)
		default:
			b += 8 * int64(in.n)
		}
		b += int64(in.n)/8 + 16
	}
	return b
}

// maxWriteBytes is the largest rows record a write may produce (the WAL
// refuses records over 256 MiB).
const maxWriteBytes = 200 << 20

func checkWriteSize(rows int, bytes int64) error {
	if bytes > maxWriteBytes {
		return errs.New(errs.ErrInvalidInput, "54000", "write of %d rows is too large (%d MiB logged, at most %d MiB): split it", rows, bytes>>20, maxWriteBytes>>20)
	}
	return nil
}

func (in *input) release() {
	for _, f := range in.fields {
		if f.owned {
			f.arr.Release()
		}
	}
}

func badColumn(name, format string, args ...any) error {
	return errs.New(errs.ErrInvalidInput, errs.CodeDatatypeMismatch, "column %q: "+format, append([]any{name}, args...)...)
}

// prepareRecord validates a record and converts its columns to the stored
// types. It changes nothing.
func prepareRecord(rec arrow.RecordBatch) (*input, error) {
	sc := rec.Schema()
	in := &input{n: int(rec.NumRows())}
	seen := make(map[string]bool, len(sc.Fields()))
	hasTime := false
	ok := false
	defer func() {
		if !ok {
			in.release()
		}
	}()
	for i, f := range sc.Fields() {
		if err := ValidName("column", f.Name); err != nil {
			return nil, err
		}
		if seen[f.Name] {
			return nil, errs.Invalid("column %q appears twice in the record", f.Name)
		}
		seen[f.Name] = true
		col := rec.Column(i)
		kind, _ := f.Metadata.GetValue(arrowstore.MetaKind)
		if f.Name == arrowstore.TimeColumn {
			if kind != "" && kind != "time" {
				return nil, badColumn(f.Name, "the time column cannot be a %s", kind)
			}
			ts, err := timeValues(col)
			if err != nil {
				return nil, err
			}
			in.time, hasTime = ts, true
			continue
		}
		switch kind {
		case "", "tag", "field":
		default:
			return nil, badColumn(f.Name, "unknown %s %q (want tag or field)", arrowstore.MetaKind, kind)
		}
		if tc, isText := textColumn(f.Name, col); isText && kind != "field" {
			if tc == nil {
				return nil, badColumn(f.Name, "tag columns must be text or dictionary-encoded text, not %s", col.DataType())
			}
			in.tags = append(in.tags, *tc)
			continue
		}
		if kind == "tag" {
			return nil, badColumn(f.Name, "tag columns must be text, not %s", col.DataType())
		}
		fc, err := fieldValues(f.Name, col)
		if err != nil {
			return nil, err
		}
		in.fields = append(in.fields, fc)
	}
	if !hasTime {
		return nil, errs.New(errs.ErrInvalidInput, errs.CodeNullNotAllowed, "the record has no %q column", arrowstore.TimeColumn)
	}
	ok = true
	return in, nil
}

// textColumn recognises text and dictionary-of-text columns. It returns
// (nil, true) for a dictionary of something else.
func textColumn(name string, col arrow.Array) (*tagCol, bool) {
	switch c := col.(type) {
	case *array.String:
		return &tagCol{name: name, str: c}, true
	case *array.Dictionary:
		if v, ok := c.Dictionary().(*array.String); ok {
			return &tagCol{name: name, dict: c, dvals: v}, true
		}
		return nil, true
	}
	return nil, false
}

// timeValues returns the time column as ns since the epoch.
func timeValues(col arrow.Array) ([]int64, error) {
	if col.NullN() > 0 {
		return nil, errs.New(errs.ErrInvalidInput, errs.CodeNullNotAllowed, "column %q has %d null values", arrowstore.TimeColumn, col.NullN())
	}
	switch c := col.(type) {
	case *array.Int64:
		return c.Int64Values(), nil
	case *array.Timestamp:
		raw := c.TimestampValues()
		ts := unsafe.Slice((*int64)(unsafe.Pointer(unsafe.SliceData(raw))), len(raw))
		var mul int64
		switch c.DataType().(*arrow.TimestampType).Unit {
		case arrow.Nanosecond:
			return ts, nil
		case arrow.Microsecond:
			mul = 1e3
		case arrow.Millisecond:
			mul = 1e6
		default:
			mul = 1e9
		}
		out := make([]int64, len(ts))
		for i, v := range ts {
			if v > math.MaxInt64/mul || v < math.MinInt64/mul {
				return nil, errs.New(errs.ErrInvalidInput, "22008", "timestamp out of range: time value %d does not fit in int64 nanoseconds", v)
			}
			out[i] = v * mul
		}
		return out, nil
	}
	return nil, badColumn(arrowstore.TimeColumn, "must be a timestamp or int64 (ns), not %s", col.DataType())
}

// fieldValues converts a field column to its stored type (widening
// narrower integers and float32).
func fieldValues(name string, col arrow.Array) (fieldCol, error) {
	fc := fieldCol{name: name}
	widenInt := func(n int, get func(i int) int64) {
		vals := make([]int64, n)
		for i := range vals {
			if col.IsValid(i) {
				vals[i] = get(i)
			}
		}
		fc.arr = array.NewInt64Data(array.NewData(arrow.PrimitiveTypes.Int64, n,
			[]*memory.Buffer{validityCopy(col), memory.NewBufferBytes(asBytes(vals))}, nil, col.NullN(), 0))
		fc.owned = true
	}
	n := col.Len()
	switch c := col.(type) {
	case *array.Float64:
		fc.typ, fc.arr = arrowstore.TypeFloat, c
	case *array.Float32:
		vals := make([]float64, n)
		for i := range vals {
			vals[i] = float64(c.Value(i))
		}
		fc.typ, fc.owned = arrowstore.TypeFloat, true
		fc.arr = array.NewFloat64Data(array.NewData(arrow.PrimitiveTypes.Float64, n,
			[]*memory.Buffer{validityCopy(col), memory.NewBufferBytes(asBytes(vals))}, nil, col.NullN(), 0))
	case *array.Int64:
		fc.typ, fc.arr = arrowstore.TypeInt, c
	case *array.Int32:
		fc.typ = arrowstore.TypeInt
		widenInt(n, func(i int) int64 { return int64(c.Value(i)) })
	case *array.Int16:
		fc.typ = arrowstore.TypeInt
		widenInt(n, func(i int) int64 { return int64(c.Value(i)) })
	case *array.Int8:
		fc.typ = arrowstore.TypeInt
		widenInt(n, func(i int) int64 { return int64(c.Value(i)) })
	case *array.Uint32:
		fc.typ = arrowstore.TypeInt
		widenInt(n, func(i int) int64 { return int64(c.Value(i)) })
	case *array.Uint16:
		fc.typ = arrowstore.TypeInt
		widenInt(n, func(i int) int64 { return int64(c.Value(i)) })
	case *array.Uint8:
		fc.typ = arrowstore.TypeInt
		widenInt(n, func(i int) int64 { return int64(c.Value(i)) })
	case *array.Uint64:
		for i := 0; i < n; i++ {
			if c.IsValid(i) && c.Value(i) > math.MaxInt64 {
				return fc, errs.New(errs.ErrInvalidInput, "22003", "column %q: value %d is out of range for type bigint", name, c.Value(i))
			}
		}
		fc.typ = arrowstore.TypeInt
		widenInt(n, func(i int) int64 { return int64(c.Value(i)) })
	case *array.Boolean:
		fc.typ, fc.arr = arrowstore.TypeBool, c
	case *array.String:
		for i := 0; i < n; i++ {
			if c.IsValid(i) {
				if err := CheckText("column", name, c.Value(i), arrowstore.MaxTextLen); err != nil {
					return fc, prefixErr(err, "row %d: ", i)
				}
			}
		}
		fc.typ, fc.arr = arrowstore.TypeString, c
	default:
		return fc, badColumn(name, "unsupported type %s (want double, bigint, boolean or text)", col.DataType())
	}
	return fc, nil
}

func validityCopy(col arrow.Array) *memory.Buffer {
	if col.NullN() == 0 {
		return nil
	}
	return memory.NewBufferBytes(bitmapOf(col))
}

// beginWrite guards a write against Close and checks its names.
func (e *Engine) beginWrite(ctx context.Context, tenantName, tableName string) (func(), error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := ValidName("database", tenantName); err != nil {
		return nil, err
	}
	if err := ValidName("table", tableName); err != nil {
		return nil, err
	}
	return e.begin()
}

// Write stores a record's rows in a table (arrowstore.Engine).
func (e *Engine) Write(ctx context.Context, tenantName, tableName string, rec arrow.RecordBatch) error {
	e.throttle(ctx, arrowstore.RecordBytes(rec)) // before begin: a checkpoint needs writers out
	done, err := e.beginWrite(ctx, tenantName, tableName)
	if err != nil {
		return err
	}
	defer done()
	in, err := prepareRecord(rec)
	if err != nil {
		return err
	}
	defer in.release()
	if in.n == 0 {
		return nil
	}
	if err := checkWriteSize(in.n, in.walBytes()); err != nil {
		return err
	}
	if len(in.tags)+len(in.fields) > MaxColumns { // before the table is created
		return tooManyColumns(tableName)
	}
	t, err := e.tableForWrite(tenantName, tableName)
	if err != nil {
		return err
	}
	want := make([]newCol, 0, len(in.tags)+len(in.fields))
	for _, tc := range in.tags {
		want = append(want, newCol{name: tc.name, kind: arrowstore.KindTag})
	}
	for _, fc := range in.fields {
		want = append(want, newCol{name: fc.name, kind: arrowstore.KindField, typ: fc.typ})
	}
	s, err := t.addColumns(want)
	if err != nil {
		return err
	}
	for i := range in.tags {
		in.tags[i].slot = s.byName[in.tags[i].name].slot
	}
	rows := &membuf.Rows{N: in.n, Time: in.time}
	for _, fc := range in.fields {
		rows.Cols = append(rows.Cols, membuf.Col{Slot: s.byName[fc.name].slot, Type: fc.typ, Arr: fc.arr})
	}

	t.order.RLock()
	defer t.order.RUnlock()
	if err := t.checkLive(); err != nil {
		return err
	}
	rows.SID, err = t.resolveRecordSeries(in)
	if err != nil {
		return err
	}
	return t.commit(rows)
}

// resolveRecordSeries returns the series id of every row, creating series
// (and logging them) as needed.
func (t *table) resolveRecordSeries(in *input) ([]uint32, error) {
	n := in.n
	hashes := make([]uint64, n)
	present := make([]uint16, n)
	// codes[ci] are the dictionary codes of tag column ci (NULL: -1) when
	// every tag column is dictionary-encoded: rows with equal codes are
	// one series, resolved once per record.
	var codes [][]int32
	if len(in.tags) > 0 {
		codes = make([][]int32, len(in.tags))
	}
	for ci := range in.tags {
		tc := &in.tags[ci]
		if tc.dict != nil {
			dh := make([]uint64, tc.dvals.Len())
			for k := range dh {
				if v := tc.dvals.Value(k); v != "" && tc.dvals.IsValid(k) {
					dh[k] = tagHash(tc.slot, v)
				}
			}
			cc := dictCodes(tc.dict)
			for i, k := range cc {
				if k >= 0 {
					if h := dh[k]; h != 0 {
						hashes[i] += h
						present[i]++
					}
				}
			}
			if codes != nil {
				codes[ci] = cc
			}
			continue
		}
		codes = nil
		for i := 0; i < n; i++ {
			if tc.str.IsValid(i) {
				if v := tc.str.Value(i); v != "" {
					hashes[i] += tagHash(tc.slot, v)
					present[i]++
				}
			}
		}
	}
	sids := make([]uint32, n)
	var missing []int
	c := &t.cat
	var seen map[uint64]int // hash → an earlier row of the record with a series
	if codes != nil {
		seen = make(map[uint64]int)
	}
	c.mu.RLock()
	for i := 0; i < n; i++ {
		if seen != nil {
			if r, ok := seen[hashes[i]]; ok && sameCodes(codes, r, i) {
				sids[i] = sids[r]
				continue
			}
		}
		if sid, ok := c.findRow(hashes[i], present[i], in, i); ok {
			sids[i] = sid
			if seen != nil {
				if _, ok := seen[hashes[i]]; !ok {
					seen[hashes[i]] = i
				}
			}
		} else {
			missing = append(missing, i)
		}
	}
	c.mu.RUnlock()
	if len(missing) == 0 {
		return sids, nil
	}
	for _, i := range missing {
		for ci := range in.tags {
			if err := CheckText("tag", in.tags[ci].name, in.tags[ci].value(i), arrowstore.MaxTagValueLen); err != nil {
				return nil, err
			}
		}
	}
	ntags := len(t.schema.Load().tags)
	err := t.createSeries(missing, sids,
		func(i int) (uint32, bool) { return c.findRow(hashes[i], present[i], in, i) },
		func(i int) (uint64, []string) {
			tags := make([]string, ntags)
			for ci := range in.tags {
				tags[in.tags[ci].slot] = in.tags[ci].value(i)
			}
			return hashes[i], tags
		})
	return sids, err
}

// dictCodes are the value indexes of a dictionary array, -1 for NULL.
func dictCodes(d *array.Dictionary) []int32 {
	n := d.Len()
	cc := make([]int32, n)
	if idx, ok := d.Indices().(*array.Int32); ok {
		copy(cc, idx.Int32Values())
	} else {
		for i := range cc {
			cc[i] = int32(d.GetValueIndex(i))
		}
	}
	if d.NullN() > 0 {
		for i := range cc {
			if d.IsNull(i) {
				cc[i] = -1
			}
		}
	}
	return cc
}

// sameCodes reports whether rows r and i have the same tag codes.
func sameCodes(codes [][]int32, r, i int) bool {
	for _, cc := range codes {
		if cc[r] != cc[i] {
			return false
		}
	}
	return true
}

// findRow returns the series of row i of a record. Caller holds mu.
func (c *seriesCatalog) findRow(h uint64, present uint16, in *input, i int) (uint32, bool) {
	for f := c.byHash[h]; f != 0; f = c.next[f-1] {
		sid := f - 1
		if c.ntags[sid] != present {
			continue
		}
		tags := c.tags[sid]
		match := true
		for ci := range in.tags {
			tc := &in.tags[ci]
			v := ""
			if tc.slot < len(tags) {
				v = tags[tc.slot]
			}
			if tc.value(i) != v {
				match = false
				break
			}
		}
		if match {
			return sid, true
		}
	}
	return 0, false
}

// createSeries resolves the rows that had no series under the read lock.
// Under the write lock each is looked up again (another writer, or an
// earlier row of this batch, may have created it) and created otherwise.
// New series are logged in one record before the lock is released, so any
// record that uses them comes after it in the WAL.
func (t *table) createSeries(rows []int, sids []uint32, find func(i int) (uint32, bool), build func(i int) (uint64, []string)) error {
	c := &t.cat
	limit := t.seriesLimit()
	if limit > 0 {
		t.tn.seriesMu.Lock() // the count and the check are one step per tenant
		defer t.tn.seriesMu.Unlock()
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	first := uint32(len(c.tags))
	for _, i := range rows {
		if sid, ok := find(i); ok {
			sids[i] = sid
			continue
		}
		h, tags := build(i)
		sids[i] = c.create(h, tags)
	}
	last := uint32(len(c.tags))
	if limit > 0 && last > first {
		if have := t.tn.series.Load(); have > limit {
			c.truncate(first)
			adding := int64(last - first)
			return t.e.seriesLimitError(t.tenant, limit, have-adding, adding)
		}
	}
	if last == first || t.e.wal == nil {
		return nil
	}
	var en enc
	en.u8(recNewSeries)
	en.u32(t.id)
	en.u32(first)
	en.u32(last - first)
	for sid := first; sid < last; sid++ {
		tags := c.tags[sid]
		en.u16(c.ntags[sid])
		for slot, v := range tags {
			if v != "" {
				en.u16(uint16(slot))
				en.str(v)
			}
		}
	}
	if _, err := t.e.logRec(en.b); err != nil {
		c.truncate(first)
		return err
	}
	return nil
}

// CheckText refuses a text value PostgreSQL's text type cannot hold (not
// UTF-8, or holding NUL: SQLSTATE 22021, as PostgreSQL) or longer than
// limit bytes (54000). what and name say whose value it is.
func CheckText(what, name, v string, limit int) error {
	if len(v) > limit {
		return errs.New(errs.ErrInvalidInput, "54000", "%s %q: value of %d bytes is too long (at most %d)", what, name, len(v), limit)
	}
	if !utf8.ValidString(v) {
		return errs.New(errs.ErrInvalidInput, "22021", "%s %q: invalid byte sequence for encoding \"UTF8\" in %.40q", what, name, v)
	}
	if strings.IndexByte(v, 0) >= 0 {
		return errs.New(errs.ErrInvalidInput, "22021", "%s %q: invalid byte sequence for encoding \"UTF8\": 0x00", what, name)
	}
	return nil
}

// prefixErr returns a copy of an *errs.Error with its message prefixed.
func prefixErr(err error, format string, args ...any) error {
	e, ok := err.(*errs.Error)
	if !ok {
		return err
	}
	c := *e
	c.Msg = fmt.Sprintf(format, args...) + c.Msg
	return &c
}

// seriesLimit is Options.SeriesLimit for the table (0: none).
func (t *table) seriesLimit() int64 {
	if t.e.opts.SeriesLimit == nil || t.tn == nil {
		return 0
	}
	return t.e.opts.SeriesLimit(t.tenant, t.name)
}

func (e *Engine) seriesLimitError(tenant string, limit, have, adding int64) error {
	if e.opts.SeriesLimitError != nil {
		return e.opts.SeriesLimitError(tenant, limit, have, adding)
	}
	return errs.New(errs.ErrInvalidInput, "53400", "database %q would exceed its limit of %d series (it has %d, the write adds %d); nothing was written", tenant, limit, have, adding)
}

// TenantSeries is the number of series of a tenant's tables.
func (e *Engine) TenantSeries(tenant string) int64 {
	e.mu.RLock()
	defer e.mu.RUnlock()
	if tn := e.tenants[tenant]; tn != nil {
		return tn.series.Load()
	}
	return 0
}

// NewSeries counts the distinct series among records' rows (of one
// table) that the table does not have yet (every one when the table does
// not exist), without creating anything: for a caller that writes one
// request as several records and checks a series limit over all of them
// first (the count may be stale by the time it writes; Write itself
// enforces Options.SeriesLimit).
func (e *Engine) NewSeries(tenantName, tableName string, recs ...arrow.RecordBatch) (int64, error) {
	var t *table
	if tb, err := e.lookup(tenantName, tableName); err == nil {
		t = tb
		t.cat.mu.RLock()
		defer t.cat.mu.RUnlock()
	}
	seen := map[string]struct{}{}
	for _, rec := range recs {
		if err := t.newSeries(rec, seen); err != nil {
			return 0, err
		}
	}
	return int64(len(seen)), nil
}

// newSeries adds the tag sets of rec's rows that t (nil: a table not
// made yet) has no series of to seen. Caller holds t.cat.mu.
func (t *table) newSeries(rec arrow.RecordBatch, seen map[string]struct{}) error {
	in, err := prepareRecord(rec)
	if err != nil {
		return err
	}
	defer in.release()
	known := t != nil
	kin := &input{n: in.n} // findRow compares the table's tag columns only
	if known {
		s := t.schema.Load()
		for ci := range in.tags {
			ref, ok := s.byName[in.tags[ci].name]
			if !ok || ref.kind != arrowstore.KindTag {
				in.tags[ci].slot = -1 // a new tag column: its non-empty values are new series
				continue
			}
			in.tags[ci].slot = ref.slot
			kin.tags = append(kin.tags, in.tags[ci])
		}
	}
	// the key of a tag set: its name=value pairs in name order
	order := make([]int, len(in.tags))
	for i := range order {
		order[i] = i
	}
	slices.SortFunc(order, func(a, b int) int { return strings.Compare(in.tags[a].name, in.tags[b].name) })
	var key []byte
	for i := 0; i < in.n; i++ {
		var h uint64
		var present uint16
		found := known
		key = key[:0]
		for _, ci := range order {
			tc := &in.tags[ci]
			v := tc.value(i)
			if v == "" {
				continue
			}
			key = append(append(append(append(key, tc.name...), 0), v...), 0)
			if tc.slot < 0 {
				found = false
				continue
			}
			h += tagHash(tc.slot, v)
			present++
		}
		if found {
			if _, ok := t.cat.findRow(h, present, kin, i); ok {
				continue
			}
		}
		seen[string(key)] = struct{}{}
	}
	return nil
}
