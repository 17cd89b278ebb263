package engine

import (
	"sync"
	"sync/atomic"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/ugnos/ugnos/arrowstore"
	"github.com/ugnos/ugnos/arrowstore/membuf"
	"github.com/ugnos/ugnos/errs"
)

// table is one table: schema, series catalog, in-memory data.
type table struct {
	e      *Engine
	id     uint32
	tenant string
	tn     *tenant
	name   string

	retention atomic.Int64 // ns; 0: the tenant's default

	schema   atomic.Pointer[schema]
	schemaMu sync.Mutex // serialises schema changes
	cat      seriesCatalog
	buf      *membuf.Buffer

	// order is held shared by writers from series resolution until their
	// rows are applied, and exclusively by Delete, so that the order of
	// deletes and writes in the WAL is the order in memory.
	order sync.RWMutex

	dropped atomic.Bool

	// the on-disk tier: segments and tombstones (storage.go)
	segMu sync.RWMutex
	segs  []*segFile
	tombs []tombstone

	last lastTimes // per series: the latest time (lastvals.go)
}

// checkLive fails writes to a table dropped meanwhile. Caller holds order.
func (t *table) checkLive() error {
	if t.dropped.Load() {
		return unknownTable(t.tenant, t.name)
	}
	return nil
}

var _ arrowstore.Table = (*table)(nil)

func newTable(e *Engine, id uint32, tenant, name string) *table {
	t := &table{e: e, id: id, tenant: tenant, name: name, buf: membuf.New(e.membufConfig())}
	t.schema.Store(newSchema())
	return t
}

func (t *table) Name() string                 { return t.name }
func (t *table) Columns() []arrowstore.Column { return t.schema.Load().columns }
func (t *table) Schema() *arrow.Schema        { return t.schema.Load().arrow }

// HandledFilters accepts tag predicates, and predicates on columns the
// table does not have (they concern absent tags).
func (t *table) HandledFilters(fs []arrowstore.Filter) []arrowstore.Filter {
	s := t.schema.Load()
	var out []arrowstore.Filter
	for _, f := range fs {
		ref, ok := s.byName[f.Column]
		if !ok || ref.kind == arrowstore.KindTag {
			out = append(out, f)
		}
	}
	return out
}

// resolveFilters maps filters to tag slots; a filter on a non-tag column is
// an error.
func (t *table) resolveFilters(s *schema, fs []arrowstore.Filter) ([]resolvedFilter, error) {
	out := make([]resolvedFilter, 0, len(fs))
	for _, f := range fs {
		rf := resolvedFilter{slot: -1, op: f.Op, vals: f.Values}
		if ref, ok := s.byName[f.Column]; ok {
			if ref.kind != arrowstore.KindTag {
				return nil, errs.New(errs.ErrInvalidInput, errs.CodeFeatureNotSupported, "filter on %s column %q cannot be pushed into a scan", ref.kind, f.Column)
			}
			rf.slot = ref.slot
		}
		if (f.Op == arrowstore.OpEq || f.Op == arrowstore.OpNotEq) && len(f.Values) != 1 {
			return nil, errs.Invalid("filter %s needs exactly one value", f)
		}
		out = append(out, rf)
	}
	return out, nil
}

// MatchSeries returns the ids of the series passing the filters (nil: all).
func (t *table) MatchSeries(fs []arrowstore.Filter) ([]uint32, error) {
	rfs, err := t.resolveFilters(t.schema.Load(), fs)
	if err != nil {
		return nil, err
	}
	return t.cat.match(rfs), nil
}

// SeriesCount returns the number of series.
func (t *table) SeriesCount() int { return t.cat.count() }

// addColumns adds columns to the schema (logging them) unless present.
// Conflicting kinds or types are errors and change nothing.
func (t *table) addColumns(want []newCol) (*schema, error) {
	s := t.schema.Load()
	adds, err := missingColumns(t, s, want)
	if err != nil || len(adds) == 0 {
		return s, err
	}
	t.schemaMu.Lock()
	defer t.schemaMu.Unlock()
	s = t.schema.Load()
	adds, err = missingColumns(t, s, want)
	if err != nil || len(adds) == 0 {
		return s, err
	}
	var en enc
	en.u8(recAddColumns)
	en.u32(t.id)
	en.u16(uint16(len(adds)))
	for _, c := range adds {
		en.u8(byte(c.kind))
		en.u8(byte(c.typ))
		en.str(c.name)
	}
	if _, err := t.e.logRec(en.b); err != nil {
		return nil, err
	}
	ns := s.with(adds)
	t.schema.Store(ns)
	return ns, nil
}

func missingColumns(t *table, s *schema, want []newCol) ([]newCol, error) {
	var adds []newCol
	for _, c := range want {
		ref, ok := s.byName[c.name]
		if !ok {
			adds = append(adds, c)
			continue
		}
		if ref.kind != c.kind {
			return nil, errs.New(errs.ErrInvalidInput, errs.CodeDatatypeMismatch,
				"column %q of table %q is a %s column; it cannot be written as a %s", c.name, t.name, ref.kind, c.kind)
		}
		if c.kind == arrowstore.KindField && ref.typ != c.typ {
			return nil, errs.New(errs.ErrInvalidInput, errs.CodeDatatypeMismatch,
				"column %q of table %q is of type %s; the write has %s", c.name, t.name, ref.typ, c.typ)
		}
	}
	if len(s.tags)+len(s.fields)+len(adds) > MaxColumns {
		return nil, tooManyColumns(t.name)
	}
	return adds, nil
}

// commit logs rows, waits for durability and applies them. The caller
// holds t.order shared.
func (t *table) commit(rows *membuf.Rows) error {
	e := t.e
	if e.wal != nil {
		sc := getScratch()
		parts, b := encodeRows(t.id, rows, sc.b)
		lsn, err := e.wal.Append(parts...)
		sc.b = b
		putScratch(sc)
		if err != nil {
			return err
		}
		if err := e.wal.Sync(lsn); err != nil {
			return err
		}
		if uint64(lsn)-e.ckptLSN.Load() > e.opts.walCheckpointBytes() {
			e.KickCheckpoint()
		}
	}
	t.last.observe(rows)
	t.buf.Append(rows)
	e.ingested.Add(int64(rows.N))
	e.writes.Add(1)
	t.notifyWritten(rows, false)
	return nil
}

type scratch struct{ b []byte }

var scratchPool = sync.Pool{New: func() any { return &scratch{} }}

func getScratch() *scratch  { return scratchPool.Get().(*scratch) }
func putScratch(s *scratch) { scratchPool.Put(s) }

// MaxColumns is the most tag and field columns a table may have.
const MaxColumns = 4096

// tooManyColumns is PostgreSQL's too_many_columns (54011).
func tooManyColumns(table string) error {
	return errs.New(errs.ErrInvalidInput, "54011", "table %q would have more than %d columns", table, MaxColumns)
}
