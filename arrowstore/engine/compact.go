package engine

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"sort"
	"time"

	"github.com/ugnos/ugnos/arrowstore"
	"github.com/ugnos/ugnos/arrowstore/membuf"
	"github.com/ugnos/ugnos/arrowstore/segment"
	"github.com/ugnos/ugnos/errs"
)

// Compaction keeps the segments of a partition (table, UTC day) few and
// clean, one bounded unit of work at a time, in the background:
//
//   - small files of a partition (each checkpoint adds one, late points
//     add small ones) are merged: their rows, deleted ones left out, sorted
//     by time into slabs of slabRows, each slab a row group sorted by
//     series and time. Only small files take part, so a late point never
//     makes a partition's large files be rewritten.
//   - a file with rows hidden by tombstones is rewritten row group by row
//     group without them (memory bounded by one row group).
//
// A unit writes its output file, publishes a manifest without its inputs
// (the crash-safe step: before it the output is an unlisted file removed
// on Open, after it the inputs are), then moves readers to the output and
// removes the inputs. Scans that still hold the inputs keep reading them
// through their open descriptors.

const slabRows = 1 << 16

func (o Options) compactBytes() int64 {
	switch {
	case o.CompactBytes > 0:
		return o.CompactBytes
	case o.MemoryLimit > 0:
		return max(o.MemoryLimit/2, 4<<20)
	}
	return 128 << 20
}

// decodedBytes estimates a segment's rows in memory.
func decodedBytes(sf *segFile) int64 {
	fields := 0
	for _, c := range sf.meta.Columns {
		if c.Kind != arrowstore.KindTag {
			fields++
		}
	}
	return sf.ref.Rows * int64(12+8*fields)
}

// Compact runs compaction units until none is left (or ctx ends).
func (e *Engine) Compact(ctx context.Context) error {
	for {
		did, err := e.compactOnce(ctx)
		if err != nil || !did {
			return err
		}
	}
}

// compactOnce does one unit of compaction; it reports whether there was
// one.
func (e *Engine) compactOnce(ctx context.Context) (bool, error) {
	e.ckMu.Lock() // before e.wal: Restore replaces it under ckMu
	defer e.ckMu.Unlock()
	if e.wal == nil {
		return false, nil
	}
	e.closeMu.RLock()
	closed := e.closed
	e.closeMu.RUnlock()
	if closed {
		return false, errs.New(errs.ErrClosed, errs.CodeAdminShutdown, "database is closed")
	}
	if e.man == nil {
		return false, nil
	}
	budget := e.opts.compactBytes()
	for _, t := range e.sortedTables() {
		t.segMu.RLock()
		segs := slices.Clone(t.segs)
		tombs := slices.Clone(t.tombs)
		t.segMu.RUnlock()
		byDay := map[string][]*segFile{}
		for _, sf := range segs {
			byDay[sf.ref.Day] = append(byDay[sf.ref.Day], sf)
		}
		days := make([]string, 0, len(byDay))
		for d := range byDay {
			days = append(days, d)
		}
		sort.Strings(days)
		for _, d := range days {
			files := byDay[d]
			slices.SortFunc(files, func(a, b *segFile) int {
				if a.ref.MinT != b.ref.MinT {
					if a.ref.MinT < b.ref.MinT {
						return -1
					}
					return 1
				}
				return int(a.ref.LSN - b.ref.LSN)
			})
			var small []*segFile
			var sum int64
			for _, sf := range files {
				if b := decodedBytes(sf); b < budget/2 && (len(small) < 2 || sum+b <= budget) {
					small = append(small, sf)
					sum += b
				}
			}
			if len(small) >= 2 {
				return true, e.compactFiles(ctx, t, small, true)
			}
			for _, sf := range files {
				// a large file is rewritten for its deleted rows only once
				// they are a tenth of it (until then they stay hidden)
				if est := hiddenRows(sf, tombs); est > 0 && (decodedBytes(sf) < budget/2 || est*10 >= sf.ref.Rows) {
					return true, e.compactFiles(ctx, t, []*segFile{sf}, false)
				}
			}
		}
	}
	return false, nil
}

// hiddenRows estimates how many rows of a segment tombstones hide, from
// its runs (a run partly in a tombstone's time range counts in proportion
// to the overlap); 0 means none.
func hiddenRows(sf *segFile, tombs []tombstone) int64 {
	var n float64
	for _, ts := range tombs {
		if ts.LSN <= sf.ref.LSN || ts.MaxT < sf.ref.MinT || ts.MinT > sf.ref.MaxT {
			continue
		}
		for _, rg := range sf.meta.RowGroups {
			for _, r := range rg.Runs {
				if r.MaxT < ts.MinT || r.MinT > ts.MaxT || !ts.All && !hasSorted(ts.SIDs, r.SID) {
					continue
				}
				rows := float64(r.End - r.Start)
				if span := float64(r.MaxT - r.MinT); span > 0 {
					lo, hi := max(r.MinT, ts.MinT), min(r.MaxT, ts.MaxT)
					rows *= max(float64(hi-lo)/span, 1/rows)
				}
				n += rows
			}
		}
	}
	return int64(n + 0.5)
}

// compactFiles replaces the segments in of table t (one partition) by one
// file: merged and time-sorted (merge), or rewritten row group by row
// group; rows hidden by tombstones are left out either way.
func (e *Engine) compactFiles(ctx context.Context, t *table, in []*segFile, merge bool) error {
	start := time.Now()
	t.segMu.RLock()
	outLSN := uint64(0)
	for _, ts := range t.tombs {
		outLSN = max(outLSN, ts.LSN) // every tombstone so far is applied below
	}
	t.segMu.RUnlock()
	for _, sf := range in {
		outLSN = max(outLSN, sf.ref.LSN)
	}
	s := t.schema.Load()
	cols := segColumns(s)
	slots := make([]int, len(s.fields))
	for i := range slots {
		slots[i] = i
	}
	tagsOf := map[uint32][]string{}
	t.cat.mu.RLock()
	for _, sf := range in {
		for _, rg := range sf.meta.RowGroups {
			for _, r := range rg.Runs {
				tagsOf[r.SID] = t.cat.tags[r.SID]
			}
		}
	}
	t.cat.mu.RUnlock()
	tags := func(sid uint32, slot int) string {
		if v := tagsOf[sid]; slot < len(v) {
			return v[slot]
		}
		return ""
	}
	next := e.man.NextFile
	rel := filepath.ToSlash(filepath.Join(filepath.Dir(filepath.FromSlash(in[0].ref.Path)), fmt.Sprintf("%d.parquet", next)))
	abs := filepath.Join(e.dir, filepath.FromSlash(rel))
	w, err := segment.NewWriter(abs, t.id, outLSN, cols, tags, segment.LevelDefault)
	if err != nil {
		return err
	}
	load := func(sf *segFile, rg int) (*membuf.Batch, error) {
		l := &rgLoader{t: t, seg: sf, rg: rg}
		return l.Load(ctx, slots)
	}
	if merge {
		var bts []*membuf.Batch
		type ref struct {
			t       int64
			bt, row int32
		}
		var rows []ref
		for _, sf := range in {
			for rg := range sf.meta.RowGroups {
				bt, err := load(sf, rg)
				if err != nil {
					w.Abort()
					return err
				}
				for _, r := range bt.Runs {
					for k := r.Start; k < r.End; k++ {
						rows = append(rows, ref{bt.Time[k], int32(len(bts)), k})
					}
				}
				bts = append(bts, bt)
			}
		}
		slices.SortStableFunc(rows, func(a, b ref) int {
			switch {
			case a.t < b.t:
				return -1
			case a.t > b.t:
				return 1
			}
			return 0
		})
		for lo := 0; lo < len(rows); lo += slabRows {
			slab := rows[lo:min(lo+slabRows, len(rows))]
			sels := make([][]int32, len(bts))
			for _, r := range slab {
				sels[r.bt] = append(sels[r.bt], r.row)
			}
			for _, sel := range sels {
				slices.Sort(sel)
			}
			if err := w.Add(membuf.Gather(bts, sels)); err != nil {
				w.Abort()
				return err
			}
		}
	} else {
		for _, sf := range in {
			for rg := range sf.meta.RowGroups {
				bt, err := load(sf, rg)
				if err == nil {
					err = w.Add(bt)
				}
				if err != nil {
					w.Abort()
					return err
				}
			}
		}
	}
	var out *segFile
	var add []segmentRef
	if w.Rows() == 0 {
		w.Abort() // every row was deleted
	} else {
		info, err := w.Close()
		if err != nil {
			return err
		}
		if err := syncDirs(e.dir, filepath.Dir(abs)); err != nil {
			return err
		}
		f, err := segment.OpenVerified(abs, info.Footer, info.FooterSum)
		if err != nil {
			return err
		}
		ref := segmentRef{fileRef: fileRef{Path: rel, Size: info.Size, Sum: info.Sum}, Footer: info.Footer, FooterSum: info.FooterSum, Table: t.id, Day: in[0].ref.Day, LSN: outLSN,
			Rows: info.Rows, MinT: info.MinT, MaxT: info.MaxT}
		out = &segFile{ref: ref, path: abs, meta: f.Meta, file: f}
		add = append(add, ref)
	}
	gone := map[string]bool{}
	goneSeg := map[*segFile]bool{}
	for _, sf := range in {
		gone[sf.ref.Path] = true
		goneSeg[sf] = true
	}
	all := e.allTombstones()
	m := e.newManifest(e.man.LSN, next+1, e.man.Catalog, add, gone, all)
	if err := e.writeManifest(m); err != nil {
		return err
	}
	e.man = m

	e.replaceSegments(t, goneSeg, out) // readers move to the output
	e.removeUnlisted(m)
	e.compactions.Add(1)
	e.log.Debug("compaction", "table", t.name, "inputs", len(in), "merge", merge, "rows", w.Rows(), "took", time.Since(start))
	return nil
}
