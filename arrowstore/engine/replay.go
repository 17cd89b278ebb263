package engine

import (
	"time"

	"github.com/ugnos/ugnos/arrowstore"
	"github.com/ugnos/ugnos/arrowstore/wal"
	"github.com/ugnos/ugnos/errs"
)

// replay applies one WAL record during Open. Records are applied without
// being logged again; ids must come out exactly as recorded.
func (e *Engine) replay(lsn wal.LSN, payload []byte) error {
	d := &dec{b: payload}
	typ := d.u8()
	switch typ {
	case recCreateTenant:
		name := d.str()
		if d.err || len(d.b) != 0 {
			return corrupt("create-database")
		}
		if e.tenants[name] == nil {
			e.tenants[name] = &tenant{name: name, tables: map[string]*table{}}
		}
	case recCreateTable:
		id, tn, name := d.u32(), d.str(), d.str()
		if d.err || len(d.b) != 0 || e.tenants[tn] == nil || e.byID[id] != nil {
			return corrupt("create-table")
		}
		e.addTable(e.tenants[tn], id, name)
	case recAddColumns:
		id := d.u32()
		t := e.byID[id]
		if t == nil && e.dropped[id] {
			return nil
		}
		n := int(d.u16())
		cols := make([]newCol, 0, n)
		for i := 0; i < n && !d.err; i++ {
			kind, typ := arrowstore.ColumnKind(d.u8()), arrowstore.FieldType(d.u8())
			cols = append(cols, newCol{kind: kind, typ: typ, name: d.str()})
		}
		if d.err || len(d.b) != 0 || t == nil {
			return corrupt("add-columns")
		}
		t.schema.Store(t.schema.Load().with(cols))
	case recNewSeries:
		id := d.u32()
		t := e.byID[id]
		if t == nil && e.dropped[id] {
			return nil
		}
		first, n := d.u32(), d.u32()
		if t == nil || d.err || int(first) != len(t.cat.tags) || int(n) > len(d.b) {
			return corrupt("new-series")
		}
		ntags := len(t.schema.Load().tags)
		for i := uint32(0); i < n && !d.err; i++ {
			tags := make([]string, ntags)
			var h uint64
			k := int(d.u16())
			for j := 0; j < k && !d.err; j++ {
				slot, v := int(d.u16()), d.str()
				if slot >= ntags {
					return corrupt("new-series")
				}
				tags[slot] = v
				h += tagHash(slot, v)
			}
			t.cat.create(h, tags)
		}
		if d.err || len(d.b) != 0 {
			return corrupt("new-series")
		}
	case recRows:
		id, rows, err := decodeRows(d)
		if err != nil {
			return err
		}
		t := e.byID[id]
		if t == nil {
			releaseCols(rows)
			if e.dropped[id] {
				return nil // written while the table was being dropped
			}
			return corrupt("rows")
		}
		s := t.schema.Load()
		nser := uint32(len(t.cat.tags))
		for _, sid := range rows.SID {
			if sid >= nser {
				releaseCols(rows)
				return corrupt("rows")
			}
		}
		for _, c := range rows.Cols {
			if c.Slot >= len(s.fields) || s.fields[c.Slot].Type != c.Type {
				releaseCols(rows)
				return corrupt("rows")
			}
		}
		t.last.observe(rows)
		t.buf.Append(rows)
		t.notifyWritten(rows, true)
		releaseCols(rows)
	case recDelete:
		id := d.u32()
		t := e.byID[id]
		if t == nil && e.dropped[id] {
			return nil
		}
		minT, maxT := int64(d.u64()), int64(d.u64())
		n := d.u32()
		var sids []uint32
		if n != allSeries {
			if int(n)*4 > len(d.b) {
				return corrupt("delete")
			}
			sids = make([]uint32, n)
			for i := range sids {
				sids[i] = d.u32()
			}
		}
		if t == nil || d.err || len(d.b) != 0 {
			return corrupt("delete")
		}
		t.buf.Delete(minT, maxT, sids)
		t.notifyDeleted(minT, maxT, sids == nil, true)
		t.addTombstone(tombstone{Table: id, MinT: minT, MaxT: maxT, SIDs: sids, All: sids == nil, LSN: uint64(lsn)})
	case recDropTable:
		id := d.u32()
		t := e.byID[id]
		if t == nil && e.dropped[id] {
			return nil
		}
		if t == nil || d.err || len(d.b) != 0 {
			return corrupt("drop-table")
		}
		e.removeTable(t)
	case recDropTenant:
		name := d.str()
		if d.err || len(d.b) != 0 || e.tenants[name] == nil {
			return corrupt("drop-database")
		}
		e.removeTenant(name)
	case recCreateView:
		tn, name, q := d.str(), d.str(), d.str()
		if d.err || len(d.b) != 0 || e.tenants[tn] == nil {
			return corrupt("create-view")
		}
		e.tenants[tn].setView(name, q)
	case recDropView:
		tn, name := d.str(), d.str()
		if d.err || len(d.b) != 0 || e.tenants[tn] == nil {
			return corrupt("drop-view")
		}
		delete(e.tenants[tn].views, name)
	case recRetention:
		tn, name, period := d.str(), d.str(), time.Duration(d.u64())
		if d.err || len(d.b) != 0 || e.tenants[tn] == nil || period < 0 {
			return corrupt("retention")
		}
		var t *table
		if name != "" {
			if t = e.tenants[tn].tables[name]; t == nil {
				return corrupt("retention")
			}
		}
		e.applyRetention(tn, t, period)
	case recCatalogIDs:
		next, n := d.u32(), d.u32()
		if int(n)*4 > len(d.b) {
			return corrupt("catalog-ids")
		}
		for range n {
			e.dropped[d.u32()] = true
		}
		if d.err || len(d.b) != 0 {
			return corrupt("catalog-ids")
		}
		e.nextID = max(e.nextID, next)
	default:
		return errs.New(errs.ErrCorrupt, errs.CodeDataCorrupted, "wal: unknown record type %d", typ)
	}
	return nil
}
