package engine

import (
	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/ugnos/ugnos/arrowstore"
)

// Reading the rows of a WriteEvent. An observer that forwards writes (live
// streams) first selects the rows of the series it wants (Select), then
// copies them out (Record). Both read the event's rows, which are valid
// only during the Written call: nothing returned refers to them.

// Select returns the indexes (ascending) of the event's rows whose series
// have every tag of want: name → value, where "" means the tag is absent
// (as in a TagSet). all is true, and sel nil, when every row matches (no
// copy of an index list is needed then). The tags of each distinct series
// are looked up once, under one short read lock of the series catalog.
func (ev *WriteEvent) Select(want map[string]string) (sel []int32, all bool) {
	rows := ev.rows
	if rows == nil || rows.N == 0 {
		return nil, false
	}
	if len(want) == 0 {
		return nil, true
	}
	s := ev.t.schema.Load()
	type cond struct {
		slot int
		val  string
	}
	conds := make([]cond, 0, len(want))
	for name, v := range want {
		ref, ok := s.byName[name]
		if !ok || ref.kind != arrowstore.KindTag {
			// Every series lacks a tag the table does not have.
			if v != "" {
				return nil, false
			}
			continue
		}
		conds = append(conds, cond{ref.slot, v})
	}
	if len(conds) == 0 {
		return nil, true
	}
	// The distinct series of the event: writes usually carry few, often in
	// runs of rows.
	verdict := make(map[uint32]bool, 8)
	last := ^uint32(0)
	for _, sid := range rows.SID {
		if sid != last {
			verdict[sid] = false
			last = sid
		}
	}
	c := &ev.t.cat
	c.mu.RLock()
	nmatch := 0
	for sid := range verdict {
		ok := true
		for _, cd := range conds {
			if c.tag(sid, cd.slot) != cd.val {
				ok = false
				break
			}
		}
		if ok {
			verdict[sid] = true
			nmatch++
		}
	}
	c.mu.RUnlock()
	switch nmatch {
	case 0:
		return nil, false
	case len(verdict):
		return nil, true
	}
	last, lastOK := ^uint32(0), false
	for i, sid := range rows.SID {
		if sid != last {
			last, lastOK = sid, verdict[sid]
		}
		if lastOK {
			sel = append(sel, int32(i))
		}
	}
	return sel, false
}

// Record copies rows of the event into a new record: sel lists the rows
// (nil: all of them). Its columns are "time" (timestamp[ns, UTC]), then
// every tag of the table (plain strings; null where a series lacks the
// tag) and the field columns the write carried (null where a row has no
// value), each in the table's column order and with its kind in the
// field metadata (arrowstore.MetaKind). The caller owns the record.
func (ev *WriteEvent) Record(mem memory.Allocator, sel []int32) arrow.RecordBatch {
	if mem == nil {
		mem = memory.DefaultAllocator
	}
	rows := ev.rows
	n := rows.N
	if sel != nil {
		n = len(sel)
	}
	row := func(i int) int {
		if sel != nil {
			return int(sel[i])
		}
		return i
	}
	s := ev.t.schema.Load() // a superset of the schema the rows were written with
	fields := make([]arrow.Field, 0, 1+len(s.tags)+len(rows.Cols))
	cols := make([]arrow.Array, 0, cap(fields))
	defer func() {
		for _, a := range cols {
			a.Release()
		}
	}()

	tb := array.NewTimestampBuilder(mem, arrowstore.TimeType)
	tb.Reserve(n)
	for i := 0; i < n; i++ {
		tb.UnsafeAppend(arrow.Timestamp(rows.Time[row(i)]))
	}
	fields = append(fields, arrowstore.Column{Name: arrowstore.TimeColumn, Kind: arrowstore.KindTime}.ArrowField())
	cols = append(cols, tb.NewArray())
	tb.Release()

	byCol := make(map[int]int, len(rows.Cols)) // field slot -> index in rows.Cols
	for k, c := range rows.Cols {
		byCol[c.Slot] = k
	}
	c := &ev.t.cat
	for _, name := range s.order {
		ref := s.byName[name]
		if ref.kind == arrowstore.KindTag {
			b := array.NewStringBuilder(mem)
			b.Reserve(n)
			c.mu.RLock()
			for i := 0; i < n; i++ {
				if v := c.tag(rows.SID[row(i)], ref.slot); v != "" {
					b.Append(v)
				} else {
					b.AppendNull()
				}
			}
			c.mu.RUnlock()
			fields = append(fields, arrow.Field{Name: name, Type: arrow.BinaryTypes.String, Nullable: true,
				Metadata: arrow.NewMetadata([]string{arrowstore.MetaKind}, []string{arrowstore.KindTag.String()})})
			cols = append(cols, b.NewArray())
			b.Release()
			continue
		}
		k, ok := byCol[ref.slot]
		if !ok {
			continue
		}
		fields = append(fields, s.fields[ref.slot].ArrowField())
		cols = append(cols, copyRows(mem, rows.Cols[k].Arr, n, row))
	}
	return array.NewRecordBatch(arrow.NewSchema(fields, nil), cols, int64(n))
}

// copyRows copies rows row(0), …, row(n-1) of a field array (Float64,
// Int64, Boolean or String) into a new array.
func copyRows(mem memory.Allocator, a arrow.Array, n int, row func(int) int) arrow.Array {
	switch a := a.(type) {
	case *array.Float64:
		return copyValues[float64](a, array.NewFloat64Builder(mem), n, row)
	case *array.Int64:
		return copyValues[int64](a, array.NewInt64Builder(mem), n, row)
	case *array.Boolean:
		return copyValues[bool](a, array.NewBooleanBuilder(mem), n, row)
	case *array.String:
		return copyValues[string](a, array.NewStringBuilder(mem), n, row)
	}
	panic("BUG: field column of type " + a.DataType().String())
}

type valueArray[T any] interface {
	arrow.Array
	Value(int) T
}

type valueBuilder[T any] interface {
	array.Builder
	Append(T)
}

func copyValues[T any](a valueArray[T], b valueBuilder[T], n int, row func(int) int) arrow.Array {
	defer b.Release()
	b.Reserve(n)
	for i := 0; i < n; i++ {
		if j := row(i); a.IsValid(j) {
			b.Append(a.Value(j))
		} else {
			b.AppendNull()
		}
	}
	return b.NewArray()
}
