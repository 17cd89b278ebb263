package engine

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/zeebo/xxh3"

	"github.com/ugnos/ugnos/arrowstore/membuf"
	"github.com/ugnos/ugnos/arrowstore/segment"
	"github.com/ugnos/ugnos/arrowstore/wal"
	"github.com/ugnos/ugnos/errs"
)

// The on-disk tier. A checkpoint moves every table's in-memory rows into
// segment files (arrowstore/segment, one file per table and UTC day per
// checkpoint) and writes the catalog (tenants, tables, columns, series,
// views) to a catalog file; a manifest (MANIFEST, JSON, replaced
// atomically) then lists the live files with the WAL position L they
// cover: every change logged at or before L is in them. Only after the
// manifest is durable is the WAL truncated before L. Open loads the
// manifest, replays the catalog file, attaches the segments' row groups as
// lazy batches and replays the WAL records after L.
//
// Deletes of rows already in segments are tombstones (table, time range,
// series, the delete's WAL position D): a tombstone hides the matching rows
// of every segment written before it (segment LSN < D). Tombstones live in
// memory, in the WAL until a checkpoint, then in the manifest.
//
// Layout under the data directory:
//
//	MANIFEST                                   the live files (JSON)
//	catalog/<n>.cat                            catalog checkpoints
//	segments/<tenant>/<table>-<id>/<YYYY-MM-DD>/<n>.parquet
//	wal/                                       the write-ahead log
//
// Names are escaped (bytes outside [A-Za-z0-9_-] as %XX) so any tenant or
// table name is one safe path element.

const manifestName = "MANIFEST"

// recCatalogIDs ends a catalog file: the next table id and the ids of
// dropped tables (never reused).
const recCatalogIDs byte = 11

var catalogMagic = []byte("UGCAT001")

type fileRef struct {
	Path string `json:"path"` // relative to the data directory, with /
	Size int64  `json:"size"`
	Sum  uint64 `json:"xxh3"`
}

type segmentRef struct {
	fileRef
	Footer    int64  `json:"footer"`      // bytes of the Parquet footer
	FooterSum uint64 `json:"footer_xxh3"` // checked before the footer is parsed
	Table     uint32 `json:"table"`
	Day       string `json:"day"`
	LSN       uint64 `json:"lsn"`
	Rows      int64  `json:"rows"`
	MinT      int64  `json:"min_time"`
	MaxT      int64  `json:"max_time"`
}

type tombstone struct {
	Table uint32   `json:"table"`
	MinT  int64    `json:"min_time"`
	MaxT  int64    `json:"max_time"`
	SIDs  []uint32 `json:"series,omitempty"` // sorted; nil: every series
	All   bool     `json:"all,omitempty"`
	LSN   uint64   `json:"lsn"`
}

type manifest struct {
	Version    int          `json:"version"`
	LSN        uint64       `json:"lsn"`
	NextFile   uint64       `json:"next_file"`
	Catalog    fileRef      `json:"catalog"`
	Segments   []segmentRef `json:"segments"`
	Tombstones []tombstone  `json:"tombstones"`
	// Files are a snapshot's side files (files/<name>; see SideFile).
	Files []fileRef `json:"files,omitempty"`
}

// segFile is a live segment of a table, open.
type segFile struct {
	ref  segmentRef
	path string // absolute
	meta *segment.Meta
	file *segment.File
	// retired, once compaction or retention has replaced the file, holds
	// the table's tombstones of that moment (under the table's segMu):
	// scans that still hold the file keep hiding what they hid, though
	// the table's list is pruned of tombstones only this file needed.
	retired []tombstone
	gone    bool
}

// retire marks segments replaced. Caller holds t.segMu exclusively,
// before it prunes t.tombs.
func (t *table) retire(sfs map[*segFile]bool) {
	for sf := range sfs {
		sf.retired, sf.gone = slices.Clone(t.tombs), true
	}
}

// rgLoader loads one row group of a segment, hiding the rows of the
// table's tombstones written after the segment.
type rgLoader struct {
	t   *table
	seg *segFile
	rg  int
}

func (l *rgLoader) Load(ctx context.Context, slots []int) (*membuf.Batch, error) {
	m, cache := l.seg.meta, l.t.e.cache
	cols := make([]arrow.Array, len(m.RowGroups[l.rg].Types))
	var miss, missSlot []int // file columns to read, and their slots (-1: time)
	timeArr := cache.get(cacheKey{l.seg, l.rg, 0})
	if timeArr == nil {
		miss, missSlot = append(miss, 0), append(missSlot, -1)
	}
	for _, s := range slots {
		c := m.ColumnOf(s)
		if c < 0 || s >= len(cols) || m.RowGroups[l.rg].Types[s] == 0 {
			continue // not in this file, or NULL throughout
		}
		if a := cache.get(cacheKey{l.seg, l.rg, c}); a != nil {
			cols[s] = a
			continue
		}
		miss, missSlot = append(miss, c), append(missSlot, s)
	}
	if len(miss) > 0 {
		arrs, err := l.seg.file.ReadColumns(ctx, l.rg, miss)
		if err != nil {
			return nil, err
		}
		for k, a := range arrs {
			cache.put(cacheKey{l.seg, l.rg, miss[k]}, a)
			if missSlot[k] < 0 {
				timeArr = a
			} else {
				cols[missSlot[k]] = a
			}
		}
	}
	return l.t.applyTombstones(m.Assemble(l.rg, timeArr, cols), l.seg), nil
}

// applyTombstones removes from a loaded batch of segment sf the rows of
// the table's tombstones logged after sf was written (for a retired
// segment, the tombstones of the moment it was retired).
func (t *table) applyTombstones(bt *membuf.Batch, sf *segFile) *membuf.Batch {
	segLSN := sf.ref.LSN
	t.segMu.RLock()
	tombs := t.tombs
	if sf.gone {
		tombs = sf.retired
	}
	var dead []bool
	for _, ts := range tombs {
		if ts.LSN <= segLSN || ts.MaxT < bt.MinT || ts.MinT > bt.MaxT {
			continue
		}
		sids := ts.SIDs
		if ts.All {
			sids = nil
		}
		for _, r := range membuf.MatchRows(bt, ts.MinT, ts.MaxT, sids) {
			if dead == nil {
				dead = make([]bool, bt.N)
			}
			for k := r[0]; k < r[1]; k++ {
				dead[k] = true
			}
		}
	}
	t.segMu.RUnlock()
	if dead == nil {
		return bt
	}
	keep := make([]int32, 0, bt.N)
	for k, d := range dead {
		if !d {
			keep = append(keep, int32(k))
		}
	}
	if len(keep) == 0 {
		return &membuf.Batch{}
	}
	return membuf.FilterBatch(bt, keep)
}

// lazyBatches are the row groups of a segment as lazy batches.
func (t *table) lazyBatches(sf *segFile) []*membuf.Batch {
	out := make([]*membuf.Batch, len(sf.meta.RowGroups))
	for i, rg := range sf.meta.RowGroups {
		out[i] = &membuf.Batch{N: rg.N, Runs: rg.Runs, MinT: rg.MinT, MaxT: rg.MaxT, Types: rg.Types, Zones: rg.Zones,
			Lazy: &rgLoader{t: t, seg: sf, rg: i}}
	}
	return out
}

// addTombstone records a delete for the table's segments.
func (t *table) addTombstone(ts tombstone) {
	t.segMu.Lock()
	t.tombs = append(t.tombs, ts)
	t.segMu.Unlock()
}

// countInSegments counts the rows of the table's lazy batches a delete
// would hide (rows already hidden by earlier tombstones excluded).
func (t *table) countInSegments(ctx context.Context, minT, maxT int64, sids []uint32) (int64, error) {
	var n int64
	for _, bt := range t.buf.Sealed() {
		if bt.Lazy == nil || bt.MaxT < minT || bt.MinT > maxT {
			continue
		}
		hit := false
		for _, r := range bt.Runs {
			if r.MaxT >= minT && r.MinT <= maxT && (sids == nil || hasSorted(sids, r.SID)) {
				hit = true
				break
			}
		}
		if !hit {
			continue
		}
		full, err := bt.Lazy.Load(ctx, nil)
		if err != nil {
			return 0, err
		}
		for _, r := range membuf.MatchRows(full, minT, maxT, sids) {
			n += int64(r[1] - r[0])
		}
	}
	return n, nil
}

func hasSorted(s []uint32, v uint32) bool {
	_, ok := slices.BinarySearch(s, v)
	return ok
}

// escapeName makes a name one safe path element.
func escapeName(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-' {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}

const dayNanos = int64(24 * time.Hour)

func dayOf(t int64) int64 {
	d := t / dayNanos
	if t%dayNanos < 0 {
		d--
	}
	return d
}

func dayName(d int64) string {
	return time.Unix(0, 0).UTC().AddDate(0, 0, int(d)).Format("2006-01-02")
}

// splitByDay cuts a loaded batch into one batch per UTC day.
func splitByDay(bt *membuf.Batch) map[int64]*membuf.Batch {
	lo, hi := dayOf(bt.MinT), dayOf(bt.MaxT)
	if lo == hi {
		return map[int64]*membuf.Batch{lo: bt}
	}
	keep := map[int64][]int32{}
	for _, r := range bt.Runs {
		for k := r.Start; k < r.End; k++ {
			d := dayOf(bt.Time[k])
			keep[d] = append(keep[d], k)
		}
	}
	out := make(map[int64]*membuf.Batch, len(keep))
	for d, k := range keep {
		out[d] = membuf.FilterBatch(bt, k)
	}
	return out
}

// segColumns are a schema's tags and fields as segment columns.
func segColumns(s *schema) []segment.Column {
	out := make([]segment.Column, 0, len(s.order))
	for _, name := range s.order {
		ref := s.byName[name]
		out = append(out, segment.Column{Name: name, Kind: ref.kind, Slot: ref.slot, Type: ref.typ})
	}
	return out
}

// Checkpoint moves every table's in-memory rows into segment files,
// publishes them in a new manifest and truncates the WAL. Writes and
// queries go on meanwhile; deletes wait. It does nothing in memory mode.
func (e *Engine) Checkpoint(ctx context.Context) error {
	if e.wal == nil {
		return nil
	}
	e.ckMu.Lock()
	defer e.ckMu.Unlock()
	return e.checkpointLocked(ctx)
}

type flushJob struct {
	t       *table
	batches []*membuf.Batch
	cols    []segment.Column
	tags    map[uint32][]string
	segs    []*segFile
}

func (e *Engine) checkpointLocked(ctx context.Context) error {
	start := time.Now()
	// 1. at a quiet moment: the WAL position, every table's rows sealed,
	// the catalog encoded
	e.closeMu.Lock()
	if e.closed {
		e.closeMu.Unlock()
		return errs.New(errs.ErrClosed, errs.CodeAdminShutdown, "database is closed")
	}
	lsn := uint64(e.wal.Stats().AppendedLSN)
	tables := e.sortedTables()
	var jobs []*flushJob
	for _, t := range tables {
		if j := e.freezeTable(t); j != nil {
			jobs = append(jobs, j)
		}
	}
	catalog := e.encodeCatalog()
	var tombs []tombstone
	for _, t := range tables {
		t.segMu.RLock()
		tombs = append(tombs, t.tombs...)
		t.segMu.RUnlock()
	}
	e.closeMu.Unlock()

	// 2. the files
	next := uint64(1)
	if e.man != nil {
		next = e.man.NextFile
	}
	newSegs, err := writeJobs(ctx, e.dir, jobs, lsn, &next)
	if err != nil {
		return err
	}
	for _, j := range jobs {
		for _, sf := range j.segs {
			f, err := segment.OpenVerified(sf.path, sf.ref.Footer, sf.ref.FooterSum)
			if err != nil {
				return err
			}
			sf.meta, sf.file = f.Meta, f
		}
	}
	catRel := fmt.Sprintf("catalog/%d.cat", next)
	next++
	catRef, err := e.writeFile(catRel, catalog)
	if err != nil {
		return err
	}

	// 3. the manifest
	m := e.newManifest(lsn, next, catRef, newSegs, nil, tombs)
	if err := e.writeManifest(m); err != nil {
		return err
	}

	// 4. readers move to the files
	for _, j := range jobs {
		if j.t.dropped.Load() {
			continue
		}
		var lazy []*membuf.Batch
		for _, sf := range j.segs {
			lazy = append(lazy, j.t.lazyBatches(sf)...)
		}
		j.t.buf.ReplaceSealed(j.batches, lazy)
		j.t.segMu.Lock()
		j.t.segs = append(j.t.segs, j.segs...)
		j.t.segMu.Unlock()
	}
	for _, t := range tables {
		t.segMu.Lock()
		t.pruneTombstones()
		t.segMu.Unlock()
	}
	e.man = m
	e.ckptLSN.Store(lsn)

	// 5. the WAL before L and files no longer listed go (observers first
	// make durable what they learnt from the records that go)
	if err := e.beforeTruncate(); err != nil {
		return err
	}
	if err := e.wal.TruncateBefore(wal.LSN(lsn)); err != nil {
		return err
	}
	e.removeUnlisted(m)
	e.checkpoints.Add(1)
	e.log.Debug("checkpoint", "lsn", lsn, "tables", len(jobs), "segments", len(newSegs), "took", time.Since(start))
	return nil
}

// newManifest is the current manifest with segments added and removed
// (by path), segments of dropped tables left out, and the tombstones that
// still hide rows of some listed segment.
func (e *Engine) newManifest(lsn, next uint64, cat fileRef, add []segmentRef, remove map[string]bool, tombs []tombstone) *manifest {
	m := &manifest{Version: 1, LSN: lsn, NextFile: next, Catalog: cat}
	live := map[uint32]bool{}
	e.mu.RLock()
	for id := range e.byID {
		live[id] = true
	}
	e.mu.RUnlock()
	if e.man != nil {
		for _, s := range e.man.Segments {
			if live[s.Table] && !remove[s.Path] {
				m.Segments = append(m.Segments, s)
			}
		}
	}
	m.Segments = append(m.Segments, add...)
	tombs = slices.DeleteFunc(slices.Clone(tombs), func(ts tombstone) bool { return !live[ts.Table] })
	m.Tombstones = keptTombstones(m.Segments, tombs)
	return m
}

// keptTombstones are those of tombs that still hide rows of some segment
// of segs (one of their table written before them): what a manifest
// lists.
func keptTombstones(segs []segmentRef, tombs []tombstone) []tombstone {
	oldest := map[uint32]uint64{} // per table, the oldest segment's LSN
	for _, s := range segs {
		if o, ok := oldest[s.Table]; !ok || s.LSN < o {
			oldest[s.Table] = s.LSN
		}
	}
	var out []tombstone
	for _, ts := range tombs {
		if o, ok := oldest[ts.Table]; ok && o < ts.LSN {
			out = append(out, ts)
		}
	}
	return out
}

// pruneTombstones forgets the table's tombstones that hide rows of none
// of its live segments (retired ones keep their own copies). Caller holds
// t.segMu exclusively.
func (t *table) pruneTombstones() {
	oldest, any := uint64(0), false
	for _, sf := range t.segs {
		if !any || sf.ref.LSN < oldest {
			oldest, any = sf.ref.LSN, true
		}
	}
	t.tombs = slices.DeleteFunc(t.tombs, func(ts tombstone) bool { return !any || ts.LSN <= oldest })
}

// replaceSegments moves the table's readers from the segments gone to
// out (nil: none), retires the gone ones, prunes the tombstones and drops
// the gone ones' cached columns. The manifest without them is durable.
func (e *Engine) replaceSegments(t *table, gone map[*segFile]bool, out *segFile) {
	var old, repl []*membuf.Batch
	for _, bt := range t.buf.Sealed() {
		if l, ok := bt.Lazy.(*rgLoader); ok && gone[l.seg] {
			old = append(old, bt)
		}
	}
	if out != nil {
		repl = t.lazyBatches(out)
	}
	t.buf.ReplaceSealed(old, repl)
	t.segMu.Lock()
	t.retire(gone)
	t.segs = slices.DeleteFunc(t.segs, func(sf *segFile) bool { return gone[sf] })
	if out != nil {
		t.segs = append(t.segs, out)
	}
	t.pruneTombstones()
	t.segMu.Unlock()
	e.cache.drop(gone)
}

// writeFile writes a small file durably (temporary name, sync, rename).
func (e *Engine) writeFile(rel string, data []byte) (fileRef, error) {
	abs := filepath.Join(e.dir, filepath.FromSlash(rel))
	if err := os.MkdirAll(filepath.Dir(abs), 0o755); err != nil {
		return fileRef{}, errs.Internal(err, "create %s", filepath.Dir(rel))
	}
	if err := writeSynced(abs, data); err != nil {
		return fileRef{}, err
	}
	if err := syncDirs(e.dir, filepath.Dir(abs)); err != nil {
		return fileRef{}, err
	}
	return fileRef{Path: rel, Size: int64(len(data)), Sum: xxh3.Hash(data)}, nil
}

func writeSynced(path string, data []byte) error {
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o644)
	if err != nil {
		return errs.Internal(err, "create %s", tmp)
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return errs.Internal(err, "write %s", path)
	}
	return nil
}

// syncDirs fsyncs dir and its parents up to root (new entries durable).
func syncDirs(root, dir string) error {
	for {
		d, err := os.Open(dir)
		if err != nil {
			return errs.Internal(err, "open directory")
		}
		err = d.Sync()
		d.Close()
		if err != nil {
			return errs.Internal(err, "sync directory %s", dir)
		}
		if dir == root || len(dir) <= len(root) {
			return nil
		}
		dir = filepath.Dir(dir)
	}
}

func (e *Engine) writeManifest(m *manifest) error {
	b, err := json.MarshalIndent(m, "", " ")
	if err != nil {
		return errs.Internal(err, "encode manifest")
	}
	if err := writeSynced(filepath.Join(e.dir, manifestName), b); err != nil {
		return err
	}
	return syncDirs(e.dir, e.dir)
}

// removeUnlisted deletes segment and catalog files the manifest does not
// list (older checkpoints, dropped tables, files of a checkpoint that
// crashed), and empty directories.
func (e *Engine) removeUnlisted(m *manifest) {
	listed := map[string]bool{m.Catalog.Path: true}
	for _, s := range m.Segments {
		listed[s.Path] = true
	}
	for _, top := range []string{"segments", "catalog"} {
		root := filepath.Join(e.dir, top)
		var dirs []string
		filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return nil
			}
			if d.IsDir() {
				dirs = append(dirs, p)
				return nil
			}
			rel, _ := filepath.Rel(e.dir, p)
			if !listed[filepath.ToSlash(rel)] {
				os.Remove(p)
			}
			return nil
		})
		for i := len(dirs) - 1; i > 0; i-- { // deepest first; keep the top
			os.Remove(dirs[i]) // fails unless empty
		}
	}
}

// encodeCatalog encodes the catalog as the WAL records that rebuild it.
// Caller holds closeMu exclusively (no change in flight).
func (e *Engine) encodeCatalog() []byte {
	out := append([]byte(nil), catalogMagic...)
	add := func(rec []byte) {
		out = binary.LittleEndian.AppendUint32(out, uint32(len(rec)))
		out = append(out, rec...)
	}
	e.mu.RLock()
	defer e.mu.RUnlock()
	names := make([]string, 0, len(e.tenants))
	for n := range e.tenants {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		var en enc
		en.u8(recCreateTenant)
		en.str(n)
		add(en.b)
	}
	ids := make([]uint32, 0, len(e.byID))
	for id := range e.byID {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	for _, id := range ids {
		t := e.byID[id]
		var en enc
		en.u8(recCreateTable)
		en.u32(id)
		en.str(t.tenant)
		en.str(t.name)
		add(en.b)
		s := t.schema.Load()
		if len(s.order) > 0 {
			en = enc{}
			en.u8(recAddColumns)
			en.u32(id)
			en.u16(uint16(len(s.order)))
			for _, name := range s.order {
				ref := s.byName[name]
				en.u8(byte(ref.kind))
				en.u8(byte(ref.typ))
				en.str(name)
			}
			add(en.b)
		}
		c := &t.cat
		c.mu.RLock()
		const perRec = 4096
		for first := 0; first < len(c.tags); first += perRec {
			last := min(first+perRec, len(c.tags))
			en = enc{}
			en.u8(recNewSeries)
			en.u32(id)
			en.u32(uint32(first))
			en.u32(uint32(last - first))
			for sid := first; sid < last; sid++ {
				en.u16(c.ntags[sid])
				for slot, v := range c.tags[sid] {
					if v != "" {
						en.u16(uint16(slot))
						en.str(v)
					}
				}
			}
			add(en.b)
		}
		c.mu.RUnlock()
	}
	for _, n := range names {
		tn := e.tenants[n]
		views := make([]string, 0, len(tn.views))
		for v := range tn.views {
			views = append(views, v)
		}
		slices.Sort(views)
		for _, v := range views {
			var en enc
			en.u8(recCreateView)
			en.str(n)
			en.str(v)
			en.str(tn.views[v])
			add(en.b)
		}
	}
	for _, n := range names {
		tn := e.tenants[n]
		if p := tn.retention.Load(); p > 0 {
			add(retentionRec(n, "", p))
		}
	}
	for _, id := range ids {
		if t := e.byID[id]; t.retention.Load() > 0 {
			add(retentionRec(t.tenant, t.name, t.retention.Load()))
		}
	}
	var en enc
	en.u8(recCatalogIDs)
	en.u32(e.nextID)
	dropped := make([]uint32, 0, len(e.dropped))
	for id := range e.dropped {
		dropped = append(dropped, id)
	}
	slices.Sort(dropped)
	en.u32(uint32(len(dropped)))
	for _, id := range dropped {
		en.u32(id)
	}
	add(en.b)
	return out
}

func retentionRec(tenant, table string, period int64) []byte {
	var en enc
	en.u8(recRetention)
	en.str(tenant)
	en.str(table)
	en.u64(uint64(period))
	return en.b
}

// loadManifest restores the state of the last checkpoint, if any: the
// catalog, the segments as lazy batches and the tombstones. It returns the
// position WAL replay starts after.
func (e *Engine) loadManifest() (_ uint64, err error) {
	b, err := os.ReadFile(filepath.Join(e.dir, manifestName))
	if errors.Is(err, fs.ErrNotExist) {
		// no checkpoint finished: segment and catalog files there are of
		// a first checkpoint that crashed before its manifest
		e.removeTemps()
		e.removeUnlisted(&manifest{})
		return 0, nil
	}
	if err != nil {
		return 0, errs.Internal(err, "read manifest")
	}
	m := &manifest{}
	if err := json.Unmarshal(b, m); err != nil || m.Version != 1 {
		return 0, errs.New(errs.ErrCorrupt, errs.CodeDataCorrupted, "manifest %s is corrupt: %v", manifestName, err)
	}
	cat, err := e.readListed(m.Catalog)
	if err != nil {
		return 0, err
	}
	if err := e.replayCatalog(cat); err != nil {
		return 0, err
	}
	var opened []*segment.File
	defer func() {
		if err != nil { // a later segment is damaged: close the earlier ones
			for _, f := range opened {
				f.Close()
			}
		}
	}()
	for _, ref := range m.Segments {
		t := e.byID[ref.Table]
		if t == nil {
			continue // dropped before the checkpoint finished
		}
		abs := filepath.Join(e.dir, filepath.FromSlash(ref.Path))
		st, err := os.Stat(abs)
		if err != nil || st.Size() != ref.Size {
			return 0, errs.New(errs.ErrCorrupt, errs.CodeDataCorrupted, "segment %s listed in the manifest is missing or has the wrong size", ref.Path)
		}
		file, err := segment.OpenVerified(abs, ref.Footer, ref.FooterSum)
		if err != nil {
			return 0, err
		}
		opened = append(opened, file)
		if file.Meta.Table != ref.Table {
			return 0, errs.New(errs.ErrCorrupt, errs.CodeDataCorrupted, "segment %s belongs to table %d, not %d", ref.Path, file.Meta.Table, ref.Table)
		}
		sf := &segFile{ref: ref, path: abs, meta: file.Meta, file: file}
		t.segs = append(t.segs, sf)
		t.buf.ReplaceSealed(nil, t.lazyBatches(sf))
	}
	for _, ts := range m.Tombstones {
		if t := e.byID[ts.Table]; t != nil {
			t.tombs = append(t.tombs, ts)
		}
	}
	e.man = m
	e.ckptLSN.Store(m.LSN)
	e.removeTemps()
	e.removeUnlisted(m)
	return m.LSN, nil
}

// readListed reads a file the manifest lists and checks its checksum.
func (e *Engine) readListed(ref fileRef) ([]byte, error) {
	b, err := os.ReadFile(filepath.Join(e.dir, filepath.FromSlash(ref.Path)))
	if err != nil {
		return nil, errs.New(errs.ErrCorrupt, errs.CodeDataCorrupted, "%s listed in the manifest cannot be read: %v", ref.Path, err)
	}
	if int64(len(b)) != ref.Size || xxh3.Hash(b) != ref.Sum {
		return nil, errs.New(errs.ErrCorrupt, errs.CodeDataCorrupted, "%s does not match its checksum in the manifest", ref.Path)
	}
	return b, nil
}

// replayCatalog applies the records of a catalog file.
func (e *Engine) replayCatalog(b []byte) error {
	if len(b) < len(catalogMagic) || string(b[:len(catalogMagic)]) != string(catalogMagic) {
		return errs.New(errs.ErrCorrupt, errs.CodeDataCorrupted, "catalog file has no valid header")
	}
	b = b[len(catalogMagic):]
	for len(b) > 0 {
		if len(b) < 4 || int(binary.LittleEndian.Uint32(b)) > len(b)-4 {
			return errs.New(errs.ErrCorrupt, errs.CodeDataCorrupted, "catalog file is truncated")
		}
		n := int(binary.LittleEndian.Uint32(b))
		if err := e.replay(0, b[4:4+n]); err != nil {
			return err
		}
		b = b[4+n:]
	}
	return nil
}

// removeTemps deletes temporary files a crash left behind.
func (e *Engine) removeTemps() {
	for _, top := range []string{"segments", "catalog", "."} {
		root := filepath.Join(e.dir, top)
		filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return nil
			}
			if d.IsDir() && top == "." && p != root {
				return filepath.SkipDir
			}
			if !d.IsDir() && strings.HasSuffix(p, ".tmp") {
				os.Remove(p)
			}
			return nil
		})
	}
}

// background checkpoints: when the rows in memory pass the memory limit,
// or the WAL grows past walCheckpointBytes since the last checkpoint.
func (e *Engine) checkpointer() {
	defer e.bg.Done()
	tick := time.NewTicker(e.opts.checkInterval())
	defer tick.Stop()
	for {
		select {
		case <-e.stop:
			return
		case <-tick.C:
		case <-e.kick:
		}
		if e.needCheckpoint() {
			if err := e.Checkpoint(e.bgCtx); err != nil && !errors.Is(err, errs.ErrClosed) && e.bgCtx.Err() == nil {
				e.log.Error("checkpoint failed", "err", err)
			}
		}
		if time.Since(e.lastRetention) >= e.opts.retentionInterval() {
			e.lastRetention = time.Now()
			if err := e.enforceRetention(e.bgCtx); err != nil && e.bgCtx.Err() == nil && !errors.Is(err, errs.ErrClosed) {
				e.log.Error("retention failed", "err", err)
			}
		}
		// compaction, a unit at a time, giving way to checkpoints
		for e.bgCtx.Err() == nil && !e.needCheckpoint() {
			did, err := e.compactOnce(e.bgCtx)
			if err != nil {
				if e.bgCtx.Err() == nil {
					e.log.Error("compaction failed", "err", err)
				}
				break
			}
			if !did {
				break
			}
		}
	}
}

func (e *Engine) needCheckpoint() bool {
	if lim, mem := e.opts.MemoryLimit, e.memoryBytes(); lim > 0 && mem > lim { // memoryBytes refreshes memEst
		return true
	}
	return uint64(e.walStats().AppendedLSN)-e.ckptLSN.Load() > e.opts.walCheckpointBytes()
}

// memoryBytes is what the in-memory tier holds (and, as a side effect,
// refreshes the estimate writers consult).
func (e *Engine) memoryBytes() int64 {
	e.mu.RLock()
	defer e.mu.RUnlock()
	var n int64
	for _, t := range e.byID {
		st := t.buf.Stats()
		n += st.SealedBytes + st.ActiveBytes
	}
	e.memEst.Store(n)
	return n
}

// throttle holds a writer back while the in-memory tier is over twice
// the memory limit and a checkpoint is on its way (ingest faster than
// checkpoints would otherwise grow memory without bound). It gives up
// waiting after maxThrottle, so a failing checkpoint slows writes down
// but does not stop them.
func (e *Engine) throttle(ctx context.Context, adding int64) {
	lim := e.opts.MemoryLimit
	if lim <= 0 || e.wal == nil {
		return
	}
	est := e.memEst.Add(adding)
	if est <= lim {
		return
	}
	e.KickCheckpoint() // past the limit: a checkpoint now, not at the next tick
	if est <= 2*lim {
		return
	}
	deadline := time.Now().Add(maxThrottle)
	for e.memoryBytes() > 2*lim && time.Now().Before(deadline) && ctx.Err() == nil {
		e.throttled.Add(1)
		time.Sleep(2 * time.Millisecond)
	}
}

const maxThrottle = 10 * time.Second
