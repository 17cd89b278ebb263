package membuf

import (
	"slices"
	"sync"
	"sync/atomic"
	"unsafe"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/ugnos/ugnos/arrowstore"
)

// Config sizes a Buffer.
type Config struct {
	Shards   int // write-buffer shards; default 8
	SealRows int // rows at which a shard's chunk is sealed; default 32768
}

func (c Config) withDefaults() Config {
	if c.Shards <= 0 {
		c.Shards = 8
	}
	if c.SealRows <= 0 {
		c.SealRows = 32768
	}
	return c
}

// Col is one field column of Rows. Arr has the Arrow type of Type
// (*array.Float64, *array.Int64, *array.Boolean or *array.String), with
// Rows.N rows.
type Col struct {
	Slot int
	Type arrowstore.FieldType
	Arr  arrow.Array
}

// Rows is a batch of rows to append, resolved to series ids and field slots.
// Slots a Rows lacks are null for its rows.
type Rows struct {
	N    int
	Time []int64
	SID  []uint32
	Cols []Col
}

const cacheLine = 64

type shard struct {
	mu  sync.Mutex
	act *chunk
	_   [cacheLine - unsafe.Sizeof(sync.Mutex{})%cacheLine - unsafe.Sizeof((*chunk)(nil))%cacheLine]byte
}

// Buffer is the in-memory data of one table. Append and Seal may run
// concurrently with each other and with View; Delete must not run
// concurrently with Append or Seal (the engine orders them).
type Buffer struct {
	cfg    Config
	nshard uint32
	shards []shard

	// view is held shared by appenders and publishers for the short time
	// they change what readers see, and exclusively by readers while they
	// take a View and by Delete while it swaps in its result.
	view   sync.RWMutex
	pubMu  sync.Mutex // serialises changes to sealed and frozen
	sealed []*Batch   // copy-on-write
	frozen []*chunk   // detached chunks being sealed; copy-on-write

	rows       atomic.Int64 // rows in memory
	sealedRows atomic.Int64
	sealedSize atomic.Int64
	lazyRows   atomic.Int64 // rows of lazy batches (deletes there not counted)
	lazyN      atomic.Int64 // lazy batches
}

// New returns an empty Buffer.
func New(cfg Config) *Buffer {
	cfg = cfg.withDefaults()
	b := &Buffer{cfg: cfg, nshard: uint32(cfg.Shards), shards: make([]shard, cfg.Shards)}
	for i := range b.shards {
		b.shards[i].act = newChunk(uint32(i))
	}
	return b
}

// Append adds rows. Chunks that fill up are sealed before it returns. A
// large Rows (at least a quarter of SealRows) is sealed into a batch of its
// own directly, saving a copy.
func (b *Buffer) Append(r *Rows) {
	if r.N == 0 {
		return
	}
	if r.N >= b.cfg.SealRows/4 {
		bt := sealRows(r)
		b.rows.Add(int64(r.N))
		b.publish(nil, bt)
		return
	}
	sels := b.partition(r)
	var full []*chunk
	b.view.RLock()
	for si, sel := range sels {
		if len(sel) == 0 {
			continue
		}
		s := &b.shards[si]
		s.mu.Lock()
		s.act.appendRows(r, sel, b.nshard)
		if s.act.rows() >= b.cfg.SealRows {
			full = append(full, s.act)
			s.act = newChunk(uint32(si))
		}
		s.mu.Unlock()
	}
	b.freeze(full)
	b.view.RUnlock()
	b.rows.Add(int64(r.N))
	for _, c := range full {
		b.publish(c, sealChunk(c))
	}
}

// partition splits the row indexes of r by shard.
func (b *Buffer) partition(r *Rows) [][]int32 {
	n := b.nshard
	sels := make([][]int32, n)
	if n == 1 {
		sel := make([]int32, r.N)
		for i := range sel {
			sel[i] = int32(i)
		}
		sels[0] = sel
		return sels
	}
	counts := make([]int32, n)
	for _, s := range r.SID[:r.N] {
		counts[s%n]++
	}
	all := make([]int32, r.N)
	off := int32(0)
	for i := range sels {
		sels[i] = all[off : off : off+counts[i]]
		off += counts[i]
	}
	for i, s := range r.SID[:r.N] {
		k := s % n
		sels[k] = append(sels[k], int32(i))
	}
	return sels
}

// freeze lists detached chunks as being sealed, so views still see their
// rows. The caller holds view shared.
func (b *Buffer) freeze(full []*chunk) {
	if len(full) == 0 {
		return
	}
	b.pubMu.Lock()
	b.frozen = append(slices.Clip(b.frozen), full...)
	b.pubMu.Unlock()
}

// publish replaces the frozen chunk c by its sealed batch.
func (b *Buffer) publish(c *chunk, bt *Batch) {
	b.view.RLock()
	b.pubMu.Lock()
	if c != nil {
		frozen := make([]*chunk, 0, len(b.frozen))
		for _, f := range b.frozen {
			if f != c {
				frozen = append(frozen, f)
			}
		}
		b.frozen = frozen
	}
	if bt != nil {
		b.sealed = append(slices.Clip(b.sealed), bt)
		b.sealedRows.Add(int64(bt.N))
		b.sealedSize.Add(bt.Bytes)
	}
	b.pubMu.Unlock()
	b.view.RUnlock()
}

// Seal seals every non-empty active chunk now.
func (b *Buffer) Seal() {
	var full []*chunk
	b.view.RLock()
	for si := range b.shards {
		s := &b.shards[si]
		s.mu.Lock()
		if s.act.rows() > 0 {
			full = append(full, s.act)
			s.act = newChunk(uint32(si))
		}
		s.mu.Unlock()
	}
	b.freeze(full)
	b.view.RUnlock()
	for _, c := range full {
		b.publish(c, sealChunk(c))
	}
}

// Stats describes a Buffer.
type Stats struct {
	Rows          int64 // live rows in memory
	SealedRows    int64 // of those, in sealed batches
	SealedBatches int   // sealed batches in memory
	SealedBytes   int64 // bytes of sealed Arrow buffers
	ActiveBytes   int64 // bytes held by active and frozen chunks (capacity)
	LazyRows      int64 // rows in lazy batches (before deletes)
	LazyBatches   int
}

// Stats returns current figures. It does not block writers or readers
// beyond one shard lock at a time.
func (b *Buffer) Stats() Stats {
	st := Stats{Rows: b.rows.Load(), SealedRows: b.sealedRows.Load(), SealedBytes: b.sealedSize.Load(),
		LazyRows: b.lazyRows.Load(), LazyBatches: int(b.lazyN.Load())}
	b.pubMu.Lock()
	st.SealedBatches = len(b.sealed) - st.LazyBatches
	for _, c := range b.frozen {
		st.ActiveBytes += c.bytes()
	}
	b.pubMu.Unlock()
	for i := range b.shards {
		s := &b.shards[i]
		s.mu.Lock()
		st.ActiveBytes += s.act.bytes()
		s.mu.Unlock()
	}
	return st
}

// Sealed returns the sealed batches, in memory and lazy. The slice is
// shared and must not be modified; the batches are immutable.
func (b *Buffer) Sealed() []*Batch {
	b.pubMu.Lock()
	defer b.pubMu.Unlock()
	return b.sealed
}

// ReplaceSealed swaps sealed batches: old (by identity; those no longer
// present are ignored) leave, repl (typically lazy batches of the segment
// files that now hold old's rows) arrive, in one step for readers. It
// must not run concurrently with Delete.
func (b *Buffer) ReplaceSealed(old, repl []*Batch) {
	gone := make(map[*Batch]bool, len(old))
	for _, bt := range old {
		gone[bt] = true
	}
	b.view.RLock()
	b.pubMu.Lock()
	sealed := make([]*Batch, 0, len(b.sealed)-len(old)+len(repl))
	for _, bt := range b.sealed {
		if !gone[bt] {
			sealed = append(sealed, bt)
			continue
		}
		b.account(bt, -1)
	}
	for _, bt := range repl {
		sealed = append(sealed, bt)
		b.account(bt, 1)
	}
	b.sealed = sealed
	b.pubMu.Unlock()
	b.view.RUnlock()
}

// account adds (sign 1) or removes (-1) a sealed batch from the figures.
func (b *Buffer) account(bt *Batch, sign int64) {
	if bt.Lazy != nil {
		b.lazyRows.Add(sign * int64(bt.N))
		b.lazyN.Add(sign)
		return
	}
	b.rows.Add(sign * int64(bt.N))
	b.sealedRows.Add(sign * int64(bt.N))
	b.sealedSize.Add(sign * bt.Bytes)
}

// View is a consistent snapshot of a Buffer's rows.
type View struct {
	sealed []*Batch
	chunks []chunkView
}

// View takes a snapshot. sids (sorted, or nil for all) limits the series
// whose write-buffer row lists are captured; Scan with other sids on this
// View misses their unsealed rows.
func (b *Buffer) View(sids []uint32) *View {
	b.view.Lock()
	v := &View{sealed: b.sealed}
	v.chunks = make([]chunkView, 0, len(b.frozen)+len(b.shards))
	for _, c := range b.frozen {
		v.chunks = append(v.chunks, c.view(sids, b.nshard))
	}
	for i := range b.shards {
		if c := b.shards[i].act; c.rows() > 0 {
			v.chunks = append(v.chunks, c.view(sids, b.nshard))
		}
	}
	b.view.Unlock()
	return v
}

// MinT is the earliest time of any row (memory and lazy batches), or
// arrowstore.MaxTime when there is none. Deletes of lazy batches' rows
// are not accounted for.
func (b *Buffer) MinT() int64 {
	m := arrowstore.MaxTime
	b.pubMu.Lock()
	for _, bt := range b.sealed {
		if bt.N > 0 {
			m = min(m, bt.MinT)
		}
	}
	for _, c := range b.frozen {
		m = min(m, c.minT)
	}
	b.pubMu.Unlock()
	for i := range b.shards {
		s := &b.shards[i]
		s.mu.Lock()
		if s.act.rows() > 0 {
			m = min(m, s.act.minT)
		}
		s.mu.Unlock()
	}
	return m
}
