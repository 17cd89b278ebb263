package engine

import (
	"context"
	"math"
	"unsafe"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/ugnos/ugnos/arrowstore"
	"github.com/ugnos/ugnos/arrowstore/membuf"
	"github.com/ugnos/ugnos/errs"
)

// ValueField is the field that single-value points write.
const ValueField = "value"

// PointSource yields the points of a single-value write.
type PointSource interface {
	Len() int
	// At returns point i. The map must not change during the write.
	At(i int) (ts int64, value float64, tags map[string]string)
}

func mapID(m map[string]string) uintptr { return *(*uintptr)(unsafe.Pointer(&m)) }

// WritePoints stores single-value points (field "value", double) with
// their tags in a table. Values must be finite. On error nothing is stored.
func (e *Engine) WritePoints(ctx context.Context, tenantName, tableName string, src PointSource) error {
	e.throttle(ctx, int64(src.Len())*16) // before begin: a checkpoint needs writers out
	done, err := e.beginWrite(ctx, tenantName, tableName)
	if err != nil {
		return err
	}
	defer done()
	n := src.Len()
	if n == 0 {
		return nil
	}
	if err := checkWriteSize(n, int64(n)*20); err != nil {
		return err
	}
	// Validate everything and collect the tag keys; each distinct map is
	// examined once.
	ts := make([]int64, n)
	vals := make([]float64, n)
	seenMaps := make(map[uintptr]int32, 64) // map -> index into maps
	var maps []map[string]string
	mapOf := make([]int32, n)
	keys := map[string]bool{}
	var keyOrder []string
	for i := 0; i < n; i++ {
		t, v, tags := src.At(i)
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return errs.New(errs.ErrInvalidInput, errs.CodeInvalidParameter, "point %d: value %v is not a finite number", i, v)
		}
		ts[i], vals[i] = t, v
		id := mapID(tags)
		mi, ok := seenMaps[id]
		if !ok {
			mi = int32(len(maps))
			seenMaps[id] = mi
			maps = append(maps, tags)
			for k, tv := range tags {
				if err := CheckText("tag", k, tv, arrowstore.MaxTagValueLen); err != nil {
					return prefixErr(err, "point %d: ", i)
				}
				if keys[k] {
					continue
				}
				if err := ValidName("tag", k); err != nil {
					return prefixErr(err, "point %d: ", i)
				}
				if k == arrowstore.TimeColumn || k == ValueField {
					return errs.New(errs.ErrInvalidInput, errs.CodeInvalidName, "point %d: tag name %q is reserved", i, k)
				}
				keys[k] = true
				keyOrder = append(keyOrder, k)
			}
		}
		mapOf[i] = mi
	}
	if len(keyOrder)+1 > MaxColumns { // before the table is created
		return tooManyColumns(tableName)
	}
	t, err := e.tableForWrite(tenantName, tableName)
	if err != nil {
		return err
	}
	want := make([]newCol, 0, len(keyOrder)+1)
	for _, k := range keyOrder {
		want = append(want, newCol{name: k, kind: arrowstore.KindTag})
	}
	want = append(want, newCol{name: ValueField, kind: arrowstore.KindField, typ: arrowstore.TypeFloat})
	s, err := t.addColumns(want)
	if err != nil {
		return err
	}
	arr := array.NewFloat64Data(array.NewData(arrow.PrimitiveTypes.Float64, n,
		[]*memory.Buffer{nil, memory.NewBufferBytes(asBytes(vals))}, nil, 0, 0))
	defer arr.Release()
	rows := &membuf.Rows{N: n, Time: ts,
		Cols: []membuf.Col{{Slot: s.byName[ValueField].slot, Type: arrowstore.TypeFloat, Arr: arr}}}

	t.order.RLock()
	defer t.order.RUnlock()
	if err := t.checkLive(); err != nil {
		return err
	}
	msids, err := t.resolveMapSeries(s, maps)
	if err != nil {
		return err
	}
	rows.SID = make([]uint32, n)
	for i, mi := range mapOf {
		rows.SID[i] = msids[mi]
	}
	return t.commit(rows)
}

// resolveMapSeries returns the series id of each tag map.
func (t *table) resolveMapSeries(s *schema, maps []map[string]string) ([]uint32, error) {
	hashes := make([]uint64, len(maps))
	present := make([]uint16, len(maps))
	for i, m := range maps {
		for k, v := range m {
			if v != "" {
				hashes[i] += tagHash(s.byName[k].slot, v)
				present[i]++
			}
		}
	}
	c := &t.cat
	find := func(i int) (uint32, bool) {
		for f := c.byHash[hashes[i]]; f != 0; f = c.next[f-1] {
			sid := f - 1
			if c.ntags[sid] != present[i] {
				continue
			}
			match := true
			for k, v := range maps[i] {
				if v != "" && c.tag(sid, s.byName[k].slot) != v {
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
	sids := make([]uint32, len(maps))
	var missing []int
	c.mu.RLock()
	for i := range maps {
		if sid, ok := find(i); ok {
			sids[i] = sid
		} else {
			missing = append(missing, i)
		}
	}
	c.mu.RUnlock()
	if len(missing) == 0 {
		return sids, nil
	}
	err := t.createSeries(missing, sids, find, func(i int) (uint64, []string) {
		tags := make([]string, len(s.tags))
		for k, v := range maps[i] {
			tags[s.byName[k].slot] = v
		}
		return hashes[i], tags
	})
	return sids, err
}
