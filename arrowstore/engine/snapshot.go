package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/zeebo/xxh3"

	"github.com/ugnos/ugnos/arrowstore/membuf"
	"github.com/ugnos/ugnos/arrowstore/segment"
	"github.com/ugnos/ugnos/arrowstore/wal"
	"github.com/ugnos/ugnos/errs"
)

// Snapshots. A snapshot directory holds a consistent copy of the database
// at one moment: the segment files (hard links to the live ones where the
// file system allows, the rows then in memory written out as new segment
// files), a catalog file, a MANIFEST listing them with sizes and xxh3
// checksums, and SNAPSHOT, which names the moment and the manifest's own
// checksum. Restore verifies every file before it touches anything.
//
// The moment is a quiet point like a checkpoint's: every write
// acknowledged before Snapshot was called is in the snapshot, every write
// begun after it returned is not, and each write is in it whole or not at
// all. Writes and queries go on while the files are written; deletes,
// checkpoints and compactions wait.

const snapshotName = "SNAPSHOT"

type snapshotInfo struct {
	Version  int       `json:"version"`
	Created  time.Time `json:"created"`
	LSN      uint64    `json:"lsn"`
	Rows     int64     `json:"rows"`
	Manifest fileRef   `json:"manifest"`
}

// SnapshotInfo describes a snapshot taken.
type SnapshotInfo struct {
	Path  string
	Files int
	Bytes int64
	Rows  int64
}

// Snapshot writes a consistent copy of the database to dir, which must
// not exist (or be empty), with the side files given. It works for
// memory-only engines too.
func (e *Engine) Snapshot(ctx context.Context, dir string, side ...SideFile) (SnapshotInfo, error) {
	dir = filepath.Clean(dir) // "x/" must not put x.partial inside x
	info := SnapshotInfo{Path: dir}
	if err := checkSideFiles(side); err != nil {
		return info, err
	}
	if err := emptyTarget(dir); err != nil {
		return info, err
	}
	e.ckMu.Lock()
	defer e.ckMu.Unlock()
	partial := dir + ".partial"
	os.RemoveAll(partial)
	if err := os.MkdirAll(partial, 0o755); err != nil {
		return info, errs.Internal(err, "create snapshot directory")
	}
	ok := false
	defer func() {
		if !ok {
			os.RemoveAll(partial)
		}
	}()

	// the moment: as in a checkpoint, with the live segments kept as they are
	e.closeMu.Lock()
	if e.closed {
		e.closeMu.Unlock()
		return info, errs.New(errs.ErrClosed, errs.CodeAdminShutdown, "database is closed")
	}
	var lsn uint64
	if e.wal != nil {
		lsn = uint64(e.wal.Stats().AppendedLSN)
	}
	tables := e.sortedTables()
	var jobs []*flushJob
	var live []segmentRef
	var tombs []tombstone
	for _, t := range tables {
		j := e.freezeTable(t)
		if j != nil {
			jobs = append(jobs, j)
		}
		t.segMu.RLock()
		for _, sf := range t.segs {
			live = append(live, sf.ref)
		}
		tombs = append(tombs, t.tombs...)
		t.segMu.RUnlock()
	}
	catalog := e.encodeCatalog()
	e.closeMu.Unlock()

	next := uint64(1)
	if e.man != nil {
		next = e.man.NextFile
	}
	var segs []segmentRef
	for _, ref := range live {
		if err := ctx.Err(); err != nil {
			return info, err
		}
		if err := linkOrCopy(filepath.Join(e.dir, filepath.FromSlash(ref.Path)), filepath.Join(partial, filepath.FromSlash(ref.Path))); err != nil {
			return info, err
		}
		segs = append(segs, ref)
	}
	refs, err := writeJobs(ctx, partial, jobs, lsn, &next)
	if err != nil {
		return info, err
	}
	segs = append(segs, refs...)
	catRel := fmt.Sprintf("catalog/%d.cat", next)
	next++
	if err := os.MkdirAll(filepath.Join(partial, "catalog"), 0o755); err != nil {
		return info, errs.Internal(err, "create snapshot directory")
	}
	if err := writeSynced(filepath.Join(partial, filepath.FromSlash(catRel)), catalog); err != nil {
		return info, err
	}
	m := &manifest{Version: 1, LSN: lsn, NextFile: next, Catalog: fileRef{Path: catRel, Size: int64(len(catalog)), Sum: xxh3.Hash(catalog)}, Segments: segs}
	m.Tombstones = keptTombstones(segs, tombs)
	if m.Files, err = writeSideFiles(partial, side); err != nil {
		return info, err
	}
	for _, s := range segs {
		info.Rows += s.Rows
		info.Bytes += s.Size
	}
	mb, err := json.MarshalIndent(m, "", " ")
	if err != nil {
		return info, errs.Internal(err, "encode manifest")
	}
	if err := writeSynced(filepath.Join(partial, manifestName), mb); err != nil {
		return info, err
	}
	si := snapshotInfo{Version: 1, Created: time.Now().UTC(), LSN: lsn, Rows: info.Rows, Manifest: fileRef{Path: manifestName, Size: int64(len(mb)), Sum: xxh3.Hash(mb)}}
	sb, _ := json.MarshalIndent(si, "", " ")
	if err := writeSynced(filepath.Join(partial, snapshotName), sb); err != nil {
		return info, err
	}
	if err := syncTree(partial); err != nil {
		return info, err
	}
	os.Remove(dir) // an empty target
	if err := os.Rename(partial, dir); err != nil {
		return info, errs.Internal(err, "rename snapshot into place")
	}
	if err := syncDirs(filepath.Dir(dir), filepath.Dir(dir)); err != nil {
		return info, err
	}
	ok = true
	info.Files = len(segs) + len(side) + 3
	info.Bytes += int64(len(catalog) + len(mb) + len(sb))
	for _, f := range side {
		info.Bytes += int64(len(f.Data))
	}
	e.log.Info("snapshot", "path", dir, "lsn", lsn, "rows", info.Rows, "segments", len(segs))
	return info, nil
}

func (e *Engine) sortedTables() []*table {
	e.mu.RLock()
	tables := make([]*table, 0, len(e.byID))
	for _, t := range e.byID {
		tables = append(tables, t)
	}
	e.mu.RUnlock()
	slices.SortFunc(tables, func(a, b *table) int { return int(a.id) - int(b.id) })
	return tables
}

// freezeTable seals a table's write buffer and returns its in-memory
// batches to write out (nil when it has none). Caller holds closeMu
// exclusively.
func (e *Engine) freezeTable(t *table) *flushJob {
	t.buf.Seal()
	var mem []*membuf.Batch
	for _, bt := range t.buf.Sealed() {
		if bt.Lazy == nil && bt.N > 0 {
			mem = append(mem, bt)
		}
	}
	if len(mem) == 0 {
		return nil
	}
	j := &flushJob{t: t, batches: mem, cols: segColumns(t.schema.Load()), tags: map[uint32][]string{}}
	t.cat.mu.RLock()
	for _, bt := range mem {
		for _, r := range bt.Runs {
			j.tags[r.SID] = t.cat.tags[r.SID]
		}
	}
	t.cat.mu.RUnlock()
	return j
}

// splitRows is how many rows of a day make it worth writing it as several
// files in parallel.
const splitRows = 1 << 17

// writeJobs writes frozen tables' batches under root as segment files:
// per table and UTC day, one file, or several written in parallel when the
// day holds more batches than that (one per core), numbered from *next.
// The references come back in job order.
func writeJobs(ctx context.Context, root string, jobs []*flushJob, lsn uint64, next *uint64) ([]segmentRef, error) {
	type unit struct {
		j       *flushJob
		day     int64
		batches []*membuf.Batch
		rel     string
		ref     segmentRef
		file    *segFile
	}
	var units []*unit
	for _, j := range jobs {
		byDay := map[int64][]*membuf.Batch{}
		for _, bt := range j.batches {
			for d, part := range splitByDay(bt) {
				byDay[d] = append(byDay[d], part)
			}
		}
		days := make([]int64, 0, len(byDay))
		for d := range byDay {
			days = append(days, d)
		}
		slices.Sort(days)
		for _, d := range days {
			bts := byDay[d]
			rows := 0
			for _, bt := range bts {
				rows += bt.N
			}
			k := min(runtime.GOMAXPROCS(0), len(bts), rows/splitRows) // large days: a file per core
			for g := range max(k, 1) {
				lo, hi := g*len(bts)/max(k, 1), (g+1)*len(bts)/max(k, 1)
				rel := filepath.ToSlash(filepath.Join("segments", escapeName(j.t.tenant), fmt.Sprintf("%s-%d", escapeName(j.t.name), j.t.id),
					dayName(d), fmt.Sprintf("%d.parquet", *next)))
				*next++
				units = append(units, &unit{j: j, day: d, batches: bts[lo:hi], rel: rel})
			}
		}
	}
	work := make(chan *unit)
	errc := make(chan error, len(units))
	var wg sync.WaitGroup
	for range min(runtime.GOMAXPROCS(0), len(units)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for u := range work {
				if err := ctx.Err(); err != nil {
					errc <- err
					continue
				}
				j := u.j
				tags := func(sid uint32, slot int) string {
					if v := j.tags[sid]; slot < len(v) {
						return v[slot]
					}
					return ""
				}
				abs := filepath.Join(root, filepath.FromSlash(u.rel))
				info, err := segment.Write(abs, j.t.id, lsn, j.cols, tags, u.batches, segment.LevelFast)
				if err == nil {
					err = syncDirs(root, filepath.Dir(abs))
				}
				if err != nil {
					errc <- err
					continue
				}
				u.ref = segmentRef{fileRef: fileRef{Path: u.rel, Size: info.Size, Sum: info.Sum}, Footer: info.Footer, FooterSum: info.FooterSum, Table: j.t.id, Day: dayName(u.day), LSN: lsn,
					Rows: info.Rows, MinT: info.MinT, MaxT: info.MaxT}
				u.file = &segFile{ref: u.ref, path: abs}
			}
		}()
	}
	for _, u := range units {
		work <- u
	}
	close(work)
	wg.Wait()
	close(errc)
	if err := <-errc; err != nil {
		return nil, err
	}
	refs := make([]segmentRef, 0, len(units))
	for _, u := range units {
		refs = append(refs, u.ref)
		u.j.segs = append(u.j.segs, u.file)
	}
	return refs, nil
}

func emptyTarget(dir string) error {
	ents, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return errs.New(errs.ErrInvalidInput, "58P01", "snapshot target %s: %v", dir, err)
	}
	if len(ents) > 0 {
		return errs.New(errs.ErrInvalidInput, "58P02", "snapshot target %s exists and is not empty", dir)
	}
	return nil
}

// linkOrCopy makes dst the same file as src: a hard link, or a copy where
// links cannot be made (another file system).
func linkOrCopy(src, dst string) error {
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return errs.Internal(err, "create directory")
	}
	if err := os.Link(src, dst); err == nil {
		return nil
	}
	in, err := os.Open(src)
	if err != nil {
		return errs.Internal(err, "open %s", src)
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
	if err != nil {
		return errs.Internal(err, "create %s", dst)
	}
	_, err = io.Copy(out, in)
	if err == nil {
		err = out.Sync()
	}
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return errs.Internal(err, "copy %s", src)
	}
	return nil
}

// syncTree fsyncs every directory under root (new entries durable).
func syncTree(root string) error {
	var dirs []string
	filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.IsDir() {
			dirs = append(dirs, p)
		}
		return nil
	})
	for _, d := range dirs {
		if err := syncDirs(d, d); err != nil {
			return err
		}
	}
	return nil
}

func badSnapshot(dir, format string, args ...any) error {
	return errs.New(errs.ErrCorrupt, errs.CodeDataCorrupted, "snapshot %s is not usable: %s", dir, fmt.Sprintf(format, args...))
}

// VerifySnapshot checks a snapshot directory: SNAPSHOT, the manifest's
// checksum, and the size and checksum of every file it lists.
func VerifySnapshot(dir string) (*manifest, error) {
	m, _, err := verifySnapshot(dir)
	return m, err
}

// verifySnapshot is VerifySnapshot, also returning the side files read
// (and verified).
func verifySnapshot(dir string) (*manifest, []SideFile, error) {
	sb, err := os.ReadFile(filepath.Join(dir, snapshotName))
	if err != nil {
		return nil, nil, badSnapshot(dir, "no %s file: %v", snapshotName, err)
	}
	var si snapshotInfo
	if err := json.Unmarshal(sb, &si); err != nil || si.Version != 1 {
		return nil, nil, badSnapshot(dir, "%s is damaged", snapshotName)
	}
	check := func(ref fileRef, keep bool) ([]byte, error) {
		if !filepath.IsLocal(filepath.FromSlash(ref.Path)) {
			return nil, badSnapshot(dir, "file name %q leaves the snapshot", ref.Path)
		}
		p := filepath.Join(dir, filepath.FromSlash(ref.Path))
		if keep {
			b, err := os.ReadFile(p)
			if err != nil {
				return nil, badSnapshot(dir, "%s is missing", ref.Path)
			}
			if int64(len(b)) != ref.Size || xxh3.Hash(b) != ref.Sum {
				return nil, badSnapshot(dir, "%s has the wrong size or checksum", ref.Path)
			}
			return b, nil
		}
		f, err := os.Open(p)
		if err != nil {
			return nil, badSnapshot(dir, "%s is missing", ref.Path)
		}
		defer f.Close()
		h := xxh3.New()
		n, err := io.Copy(h, f)
		if err != nil || n != ref.Size || h.Sum64() != ref.Sum {
			return nil, badSnapshot(dir, "%s has the wrong size or checksum", ref.Path)
		}
		return nil, nil
	}
	mb, err := check(si.Manifest, true)
	if err != nil {
		return nil, nil, err
	}
	m := &manifest{}
	if err := json.Unmarshal(mb, m); err != nil || m.Version != 1 || m.LSN != si.LSN {
		return nil, nil, badSnapshot(dir, "its manifest is damaged")
	}
	if _, err := check(m.Catalog, false); err != nil {
		return nil, nil, err
	}
	for _, s := range m.Segments {
		if _, err := check(s.fileRef, false); err != nil {
			return nil, nil, err
		}
	}
	var side []SideFile
	for _, ref := range m.Files {
		name, ok := sideFileName(ref.Path)
		if !ok {
			return nil, nil, badSnapshot(dir, "side file %q is not a file of files/", ref.Path)
		}
		b, err := check(ref, true)
		if err != nil {
			return nil, nil, err
		}
		side = append(side, SideFile{Name: name, Data: b})
	}
	if err := checkContent(dir, m); err != nil {
		return nil, nil, err
	}
	return m, side, nil
}

// checkContent checks what the checksums cannot: that the files a
// manifest lists are what it says they are. The catalog must replay, and
// each segment of a table it defines must open with the footer recorded
// and belong to that table. A restore that passed it cannot fail half
// done on the manifest's content.
func checkContent(dir string, m *manifest) error {
	// where a restore puts them: each file once, in its own directory
	seen := map[string]bool{}
	for _, ref := range append([]fileRef{m.Catalog}, m.Files...) {
		seen[path.Clean(ref.Path)] = true
	}
	if !strings.HasPrefix(path.Clean(m.Catalog.Path), "catalog/") {
		return badSnapshot(dir, "catalog %q is not a file of catalog/", m.Catalog.Path)
	}
	for _, ref := range m.Segments {
		p := path.Clean(ref.Path)
		if !strings.HasPrefix(p, "segments/") || seen[p] {
			return badSnapshot(dir, "segment %q is not a file of segments/, or listed twice", ref.Path)
		}
		seen[p] = true
	}
	cat, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(m.Catalog.Path)))
	if err != nil {
		return badSnapshot(dir, "%s is missing", m.Catalog.Path)
	}
	scratch, err := Open("", Options{Logger: slog.New(slog.DiscardHandler), CacheBytes: -1}) // memory only: nothing to close
	if err != nil {
		return err
	}
	if err := scratch.replayCatalog(cat); err != nil {
		return badSnapshot(dir, "its catalog does not load: %v", err)
	}
	for _, ref := range m.Segments {
		if scratch.byID[ref.Table] == nil {
			continue // dropped before the checkpoint finished: not loaded
		}
		f, err := segment.OpenVerified(filepath.Join(dir, filepath.FromSlash(ref.Path)), ref.Footer, ref.FooterSum)
		if err != nil {
			return badSnapshot(dir, "segment %s: %v", ref.Path, err)
		}
		table := f.Meta.Table
		f.Close()
		if table != ref.Table {
			return badSnapshot(dir, "segment %s belongs to table %d, not %d", ref.Path, table, ref.Table)
		}
	}
	return nil
}

// Restore replaces the database's content by a snapshot's, verified first
// (a damaged snapshot changes nothing). Running statements finish first;
// new ones wait until it is done.
func (e *Engine) Restore(ctx context.Context, dir string) error {
	_, err := e.RestoreFiles(ctx, dir)
	return err
}

// RestoreFiles is Restore, returning the snapshot's side files (verified
// like every other file). An engine with a data directory also puts them
// there, replacing files of the same name, as part of the restore (a
// crash completes it on Open); side files the snapshot lacks are left as
// they are.
func (e *Engine) RestoreFiles(ctx context.Context, dir string) ([]SideFile, error) {
	m, side, err := verifySnapshot(dir)
	if err != nil {
		return nil, err
	}
	return side, e.restore(ctx, dir, m, side)
}

func (e *Engine) restore(ctx context.Context, dir string, m *manifest, side []SideFile) error {
	if e.stop != nil { // pause background work: it takes ckMu
		defer e.KickCheckpoint()
	}
	e.ckMu.Lock()
	defer e.ckMu.Unlock()
	e.closeMu.Lock()
	defer e.closeMu.Unlock()
	if e.closed {
		return errs.New(errs.ErrClosed, errs.CodeAdminShutdown, "database is closed")
	}
	if e.dir == "" {
		return e.restoreMemory(ctx, dir, m)
	}
	staging := filepath.Join(e.dir, ".restore-staging")
	os.RemoveAll(staging)
	files := []string{manifestName, m.Catalog.Path}
	for _, s := range m.Segments {
		files = append(files, s.Path)
	}
	for _, f := range files {
		if err := linkOrCopy(filepath.Join(dir, filepath.FromSlash(f)), filepath.Join(staging, filepath.FromSlash(f))); err != nil {
			os.RemoveAll(staging)
			return err
		}
	}
	for _, d := range []string{"wal", "segments", "catalog"} {
		if err := os.MkdirAll(filepath.Join(staging, d), 0o755); err != nil {
			os.RemoveAll(staging)
			return errs.Internal(err, "stage restore")
		}
	}
	if _, err := writeSideFiles(staging, side); err != nil {
		os.RemoveAll(staging)
		return err
	}
	if err := syncTree(staging); err != nil {
		os.RemoveAll(staging)
		return err
	}
	// from here on the restore completes, on Open if not now
	if err := writeSynced(filepath.Join(e.dir, restoreMarker), []byte(staging)); err != nil {
		os.RemoveAll(staging)
		return err
	}
	if err := syncDirs(e.dir, e.dir); err != nil {
		return err
	}
	if err := e.wal.Close(); err != nil {
		e.log.Warn("restore: closing the WAL", "err", err)
	}
	if err := finishRestore(e.dir); err != nil {
		return err
	}
	for _, t := range e.byID {
		t.dropped.Store(true)
	}
	e.resetState()
	e.mu.Lock() // readers that skip closeMu (HasTenant, View, …) wait
	from, err := e.loadManifest()
	e.mu.Unlock()
	if err != nil {
		return err
	}
	w, rep, err := wal.Open(filepath.Join(e.dir, "wal"), wal.Options{
		SyncMode: e.opts.SyncMode, SyncInterval: e.opts.SyncInterval, SegmentSize: e.opts.SegmentSize, Logger: e.log, StartLSN: wal.LSN(from),
	}, func(wal.LSN, []byte) error { return nil })
	if err != nil {
		e.closed = true // nothing can be written safely
		return err
	}
	e.wal, e.report = w, rep
	e.log.Info("restored", "from", dir, "lsn", from, "segments", len(m.Segments))
	return nil
}

const restoreMarker = "RESTORE"

// finishRestore moves the staged files of a restore into place (the old
// ones aside, then away). It can be run again after a crash at any step.
func finishRestore(dataDir string) error {
	b, err := os.ReadFile(filepath.Join(dataDir, restoreMarker))
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return errs.Internal(err, "read restore marker")
	}
	staging := string(b)
	old := filepath.Join(dataDir, ".restore-old")
	if err := os.MkdirAll(old, 0o755); err != nil {
		return errs.Internal(err, "restore")
	}
	for _, name := range []string{"wal", "segments", "catalog", manifestName} {
		src := filepath.Join(staging, name)
		if _, err := os.Lstat(src); err != nil {
			continue // moved already
		}
		dst := filepath.Join(dataDir, name)
		if _, err := os.Lstat(dst); err == nil {
			aside := filepath.Join(old, name)
			os.RemoveAll(aside)
			if err := os.Rename(dst, aside); err != nil {
				return errs.Internal(err, "restore: move %s aside", name)
			}
		}
		if err := os.Rename(src, dst); err != nil {
			return errs.Internal(err, "restore: move %s into place", name)
		}
	}
	if err := finishSideFiles(dataDir, staging, old); err != nil {
		return err
	}
	if err := syncDirs(dataDir, dataDir); err != nil {
		return err
	}
	if err := os.Remove(filepath.Join(dataDir, restoreMarker)); err != nil {
		return errs.Internal(err, "restore: remove marker")
	}
	syncDirs(dataDir, dataDir)
	os.RemoveAll(old)
	os.RemoveAll(staging)
	return nil
}

// resetState forgets every tenant, table and segment (before a restore
// loads the new ones). Caller holds ckMu and closeMu.
func (e *Engine) resetState() {
	e.mu.Lock()
	e.tenants = map[string]*tenant{DefaultTenant: {name: DefaultTenant, tables: map[string]*table{}}}
	e.byID = map[uint32]*table{}
	e.dropped = map[uint32]bool{}
	e.nextID = 0
	e.mu.Unlock()
	e.man = nil
	e.ckptLSN.Store(0)
	e.cache.reset()
}

// restoreMemory loads a snapshot into a memory-only engine: every row
// read into memory.
func (e *Engine) restoreMemory(ctx context.Context, dir string, m *manifest) (err error) {
	old := e.byID
	e.mu.RLock()
	tenants, dropped, nextID := e.tenants, e.dropped, e.nextID
	e.mu.RUnlock()
	defer func() {
		if err != nil { // the old content stays, whole
			e.mu.Lock()
			e.tenants, e.byID, e.dropped, e.nextID = tenants, old, dropped, nextID
			e.mu.Unlock()
		}
	}()
	e.resetState()
	cat, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(m.Catalog.Path)))
	if err == nil {
		e.mu.Lock() // readers that skip closeMu (HasTenant, View, …) wait
		err = e.replayCatalog(cat)
		e.mu.Unlock()
	}
	if err != nil {
		return err
	}
	for _, ts := range m.Tombstones {
		if t := e.byID[ts.Table]; t != nil {
			t.tombs = append(t.tombs, ts)
		}
	}
	for _, ref := range m.Segments {
		t := e.byID[ref.Table]
		if t == nil {
			continue
		}
		f, err := segment.OpenVerified(filepath.Join(dir, filepath.FromSlash(ref.Path)), ref.Footer, ref.FooterSum)
		if err != nil {
			return err
		}
		slots := make([]int, len(t.schema.Load().fields))
		for i := range slots {
			slots[i] = i
		}
		var bts []*membuf.Batch
		for rg := range f.Meta.RowGroups {
			bt, err := f.Load(ctx, rg, slots)
			if err != nil {
				f.Close()
				return err
			}
			if bt = t.applyTombstones(bt, &segFile{ref: ref}); bt.N > 0 {
				bts = append(bts, bt)
			}
		}
		f.Close()
		t.buf.ReplaceSealed(nil, bts)
	}
	for _, t := range e.byID {
		t.tombs = nil // applied
	}
	for _, t := range old {
		t.dropped.Store(true)
	}
	return nil
}
