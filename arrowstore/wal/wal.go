package wal

import (
	"encoding/binary"
	"hash/crc32"
	"io"
	"log/slog"
	"math"
	"os"
	"slices"
	"sync"
	"time"

	"github.com/ugnos/ugnos/errs"
)

// SyncMode says when Sync returns.
type SyncMode int

const (
	// SyncAlways (the default): Sync returns once an fdatasync covers the
	// record, so it survives power loss.
	SyncAlways SyncMode = iota
	// SyncInterval: Sync returns after write(2), so the record survives a
	// process crash; a background goroutine fdatasyncs every
	// Options.SyncInterval.
	SyncInterval
	// SyncNever: Sync returns after write(2); fdatasync happens only on
	// segment roll and Close.
	SyncNever
)

func (m SyncMode) String() string {
	switch m {
	case SyncAlways:
		return "always"
	case SyncInterval:
		return "interval"
	case SyncNever:
		return "never"
	}
	return "SyncMode(?)"
}

const (
	defaultSyncInterval = 100 * time.Millisecond
	defaultSegmentSize  = 128 << 20
	defaultMaxRecord    = 256 << 20
	// maxRetainBuf is the largest pending buffer kept for reuse after a
	// flush; a bigger one (from a burst of huge records) goes to the GC.
	maxRetainBuf = 32 << 20
)

// Options configure a WAL. The zero value is usable.
type Options struct {
	SyncMode     SyncMode
	SyncInterval time.Duration // SyncInterval mode only; default 100ms
	SegmentSize  int64         // roll once the active segment exceeds this; default 128 MiB
	MaxRecord    int           // largest payload appended or replayed; default 256 MiB, at most 4 GiB-1
	Logger       *slog.Logger  // nil: slog.Default()
	// StartLSN is where an empty log begins (LSNs of a log with segments
	// continue from them): the engine passes the position its checkpoint
	// covers, so LSNs never go back after the log is emptied or restored.
	StartLSN LSN
}

func (o Options) withDefaults() (Options, error) {
	if o.SyncMode < SyncAlways || o.SyncMode > SyncNever {
		return o, errs.Invalid("wal: unknown sync mode %d", int(o.SyncMode))
	}
	if o.SyncInterval <= 0 {
		o.SyncInterval = defaultSyncInterval
	}
	if o.SegmentSize <= 0 {
		o.SegmentSize = defaultSegmentSize
	}
	if o.MaxRecord <= 0 {
		o.MaxRecord = defaultMaxRecord
	}
	if uint64(o.MaxRecord) > math.MaxUint32 {
		return o, errs.Invalid("wal: MaxRecord %d exceeds %d", o.MaxRecord, uint64(math.MaxUint32))
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	return o, nil
}

// LSN is a log sequence number: the position of the end of a record in the
// stream of all record bytes of the log (segment headers excluded). LSNs only
// grow, across segment rolls, restarts and TruncateBefore. The zero LSN is
// the start of an empty log and is always durable.
type LSN uint64

// Stats are counters since Open; see WAL.Stats.
type Stats struct {
	Records      uint64        // records appended
	Bytes        uint64        // bytes appended, framing included
	Writes       uint64        // write(2) calls on segments: one per group
	WrittenRecs  uint64        // records written; WrittenRecs/Writes is the mean group size
	MaxGroup     int           // most records written by one write(2)
	Fsyncs       uint64        // fdatasync calls on segments
	LastFsync    time.Duration // duration of the latest fdatasync
	TotalFsync   time.Duration // total time in fdatasync
	Segments     int           // segment files in the log, the active one included
	AppendedLSN  LSN           // end of the last appended record
	WrittenLSN   LSN           // end of the last record handed to write(2)
	DurableLSN   LSN           // end of the last record covered by fdatasync
	PendingBytes int           // bytes appended but not yet written
}

var errClosed = errs.New(errs.ErrClosed, errs.CodeAdminShutdown, "wal: closed")

// WAL is an open write-ahead log. All methods are safe for concurrent use.
type WAL struct {
	dir   string
	opts  Options
	log   *slog.Logger
	lock  io.Closer
	fsync func(*os.File) error // fdatasync; tests replace it to inject faults

	mu         sync.Mutex
	cond       sync.Cond // broadcast when a flush ends or publishes progress
	pending    []byte    // framed records appended but not yet written
	spare      []byte    // the other buffer of the pair; nil while a leader holds it
	pendRecs   int
	appended   LSN
	written    LSN
	durable    LSN
	flushing   bool  // a leader owns the active segment
	closed     bool  // Close was called: Append fails
	fileClosed bool  // Close has closed the active segment
	err        error // poison: the first write, fsync or roll failure
	segs       []LSN // bases of the segment files, oldest first
	st         Stats

	// The active segment. Owned by the flush leader while flushing is true,
	// and otherwise by whoever holds mu.
	f       *os.File
	segBase LSN
	segSize int64

	truncMu sync.Mutex    // serializes TruncateBefore
	stop    chan struct{} // SyncInterval: closed by Close
	done    chan struct{} // SyncInterval: closed when the sync loop exits
}

// Append adds one record, the concatenation of parts, to the pending group
// and returns the LSN of its end. It copies parts, so the caller may reuse
// them on return. Append takes only a mutex and never waits for I/O; the
// record is written by a later Sync (or by Close, or in SyncInterval mode by
// the background flusher), so callers that need durability call Sync with the
// returned LSN. A payload larger than Options.MaxRecord fails with
// errs.ErrInvalidInput, a closed WAL with errs.ErrClosed and a poisoned one
// with the errs.ErrInternal that poisoned it.
func (w *WAL) Append(parts ...[]byte) (LSN, error) {
	n := 0
	for _, p := range parts {
		n += len(p)
	}
	if n > w.opts.MaxRecord {
		return 0, errs.Invalid("wal: record of %d bytes exceeds MaxRecord %d", n, w.opts.MaxRecord)
	}
	var head [recHeadSize]byte
	binary.LittleEndian.PutUint32(head[0:4], uint32(n))
	crc := crcLength(uint32(n))
	for _, p := range parts {
		crc = crc32.Update(crc, castagnoli, p)
	}
	binary.LittleEndian.PutUint32(head[4:8], crc)

	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		return 0, errClosed
	}
	if w.err != nil {
		err := w.err
		w.mu.Unlock()
		return 0, err
	}
	w.pending = slices.Grow(w.pending, recHeadSize+n)
	w.pending = append(w.pending, head[:]...)
	for _, p := range parts {
		w.pending = append(w.pending, p...)
	}
	w.pendRecs++
	w.appended += LSN(recHeadSize + n)
	w.st.Records++
	w.st.Bytes += uint64(recHeadSize + n)
	lsn := w.appended
	w.mu.Unlock()
	return lsn, nil
}

// Sync waits until the record ending at lsn is durable as the SyncMode
// defines: covered by fdatasync for SyncAlways, written to the kernel for the
// other modes. Concurrent callers share one write and one fdatasync (group
// commit). Sync of an LSN already durable returns at once, also after Close.
// An LSN beyond the last appended record is errs.ErrInvalidInput. If the WAL
// is poisoned Sync returns the errs.ErrInternal that poisoned it.
func (w *WAL) Sync(lsn LSN) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	for {
		if w.doneLocked(lsn) {
			return nil
		}
		if w.err != nil {
			return w.err
		}
		if lsn > w.appended {
			return errs.Invalid("wal: sync of LSN %d beyond the end of the log %d", uint64(lsn), uint64(w.appended))
		}
		if w.fileClosed {
			return errClosed
		}
		if !w.flushing {
			w.flushLocked(w.opts.SyncMode == SyncAlways)
			continue
		}
		w.cond.Wait()
	}
}

func (w *WAL) doneLocked(lsn LSN) bool {
	if w.opts.SyncMode == SyncAlways {
		return lsn <= w.durable
	}
	return lsn <= w.written
}

// Log appends one record and waits for it to be durable: Append then Sync.
func (w *WAL) Log(parts ...[]byte) (LSN, error) {
	lsn, err := w.Append(parts...)
	if err != nil {
		return 0, err
	}
	return lsn, w.Sync(lsn)
}

// Stats returns a snapshot of the counters.
func (w *WAL) Stats() Stats {
	w.mu.Lock()
	defer w.mu.Unlock()
	s := w.st
	s.Segments = len(w.segs)
	s.AppendedLSN = w.appended
	s.WrittenLSN = w.written
	s.DurableLSN = w.durable
	s.PendingBytes = len(w.pending)
	return s
}

// Dir returns the log directory.
func (w *WAL) Dir() string { return w.dir }

// TruncateBefore removes the segment files all of whose records end at or
// before lsn: the engine calls it once everything up to lsn is persisted
// elsewhere. The active segment is never removed, so records at or before
// lsn may remain and be replayed by a later Open; the caller must skip them.
// LSNs of later records do not change.
func (w *WAL) TruncateBefore(lsn LSN) error {
	w.truncMu.Lock()
	defer w.truncMu.Unlock()
	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		return errClosed
	}
	segs := slices.Clone(w.segs)
	w.mu.Unlock()

	// Segment i holds the records in (segs[i], segs[i+1]]. The last one is
	// the active segment (or, during a roll, the one being closed).
	removed := 0
	var err error
	for i := 0; i+1 < len(segs) && segs[i+1] <= lsn; i++ {
		if rerr := os.Remove(w.segPath(segs[i])); rerr != nil && !os.IsNotExist(rerr) {
			err = errs.Internal(rerr, "wal: remove segment %s", w.segPath(segs[i]))
			break
		}
		removed++
	}
	if removed == 0 {
		return err
	}
	w.mu.Lock()
	w.segs = w.segs[removed:]
	w.mu.Unlock()
	w.log.Debug("wal: removed segments", "dir", w.dir, "count", removed, "before", uint64(lsn))
	if serr := syncDirPath(w.dir); err == nil {
		err = serr
	}
	return err
}

func (w *WAL) segPath(base LSN) string { return w.dir + string(os.PathSeparator) + segName(base) }

// Close writes the pending records, fdatasyncs the active segment, closes it
// and releases the directory lock. It returns the poison error if the WAL was
// poisoned (records appended since may be lost), and errs.ErrClosed when
// called again. Append after Close fails with errs.ErrClosed; Sync of an LSN
// that Close made durable returns nil.
func (w *WAL) Close() error {
	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		return errClosed
	}
	w.closed = true
	w.mu.Unlock()
	if w.stop != nil {
		close(w.stop)
		<-w.done
	}

	w.mu.Lock()
	for {
		for w.flushing {
			w.cond.Wait()
		}
		if w.err != nil || (w.durable >= w.appended && len(w.pending) == 0) {
			break
		}
		w.flushLocked(true)
	}
	err := w.err
	w.fileClosed = true
	f := w.f
	w.f = nil
	w.cond.Broadcast()
	w.mu.Unlock()

	if cerr := f.Close(); cerr != nil && err == nil {
		err = errs.Internal(cerr, "wal: close segment %s", w.segPath(w.segBase))
	}
	if lerr := w.lock.Close(); lerr != nil && err == nil {
		err = errs.Internal(lerr, "wal: unlock %s", w.dir)
	}
	return err
}
