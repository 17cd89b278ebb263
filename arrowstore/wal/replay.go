package wal

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"

	"github.com/ugnos/ugnos/errs"
)

// Report says what Open found and what it repaired.
type Report struct {
	Segments int   // segment files replayed in full or in part
	Records  int   // records handed to the replay function
	Bytes    int64 // payload bytes handed to the replay function

	// Truncated is true if the good log ended before the end of the files:
	// a torn tail after a crash, or corruption.
	Truncated bool
	// TruncatedSegment is the segment in which the bad data was found, and
	// TruncatedAt the file offset where its good data ends (0: its header
	// was bad, or it does not follow its predecessor).
	TruncatedSegment string
	TruncatedAt      int64
	// DroppedBytes counts the bytes no longer part of the log: those cut
	// from TruncatedSegment plus the size of every segment moved aside.
	DroppedBytes int64
	// MovedAside lists the new paths ("<name>.corrupt") of the segments that
	// followed a corruption.
	MovedAside []string
	Reason     string // why the log was cut; empty if not Truncated
}

// Open opens the log in dir, creating dir if needed, and replays it: fn is
// called with every good record in LSN order (payload is only valid during
// the call; fn may be nil). It then repairs the log:
//
//   - a bad record (length over MaxRecord or past the end of the file, short
//     read, checksum mismatch) or a bad header in the last segment is a torn
//     tail: the file is cut after the last good record;
//   - the same in an earlier segment, or a missing segment, is corruption:
//     the segment is cut there and every later segment is renamed to
//     "<name>.corrupt";
//
// and reports what it did in the Report (also logged as a warning). The
// returned WAL appends after the last good record. A record after a repair
// gets the LSN that the cut-off data had; the moved-aside files keep theirs.
//
// If fn returns an error, Open stops and returns it wrapped, without repairing
// anything. A record with a valid checksum but larger than MaxRecord (a log
// written with a larger limit) and a segment of an unknown version are also
// errors, so that no repair destroys good data. On error no WAL is returned.
func Open(dir string, opts Options, fn func(lsn LSN, payload []byte) error) (*WAL, Report, error) {
	var rep Report
	opts, err := opts.withDefaults()
	if err != nil {
		return nil, rep, err
	}
	if err := os.MkdirAll(dir, dirMode); err != nil {
		return nil, rep, errs.Internal(err, "wal: create directory %s", dir)
	}
	lock, err := lockDir(dir)
	if err != nil {
		return nil, rep, errs.Wrap(errs.ErrInternal, errs.CodeObjectInUse, err, "wal: lock %s (is another WAL open on it?)", dir)
	}
	w := &WAL{dir: dir, opts: opts, log: opts.Logger, lock: lock, fsync: fdatasync}
	w.cond.L = &w.mu
	if err := w.recover(fn, &rep); err != nil {
		lock.Close()
		return nil, rep, err
	}
	if opts.SyncMode == SyncInterval {
		w.stop = make(chan struct{})
		w.done = make(chan struct{})
		go w.syncLoop(opts.SyncInterval)
	}
	return w, rep, nil
}

// cut is where the good log ends.
type cut struct {
	seg    int    // index of the segment holding the bad data; -1: none
	end    int64  // file offset of the end of its good data; 0: keep none of it
	reason string // why
}

// recover replays the segments, repairs the log and opens the active segment.
func (w *WAL) recover(fn func(LSN, []byte) error, rep *Report) error {
	segs, err := listSegments(w.dir)
	if err != nil {
		return err
	}
	c, err := w.replay(segs, fn, rep)
	if err != nil {
		return err
	}
	active, err := w.repair(segs, c, rep)
	if err != nil {
		return err
	}
	return w.openActive(segs, active)
}

// replay calls fn for every good record and returns where the good log ends.
func (w *WAL) replay(segs []segFile, fn func(LSN, []byte) error, rep *Report) (cut, error) {
	sc := scanner{br: bufio.NewReaderSize(nil, 256<<10), maxRecord: w.opts.MaxRecord, fn: fn}
	for i, s := range segs {
		if i > 0 {
			if want := segs[i-1].base + LSN(segs[i-1].size-headerSize); s.base != want {
				return cut{seg: i, reason: fmt.Sprintf("segment gap: expected base %d, found %d", uint64(want), uint64(s.base))}, nil
			}
		}
		if s.size == 0 && i == len(segs)-1 {
			// Created but never written (a crash in a roll): openActive
			// writes its header.
			continue
		}
		res, err := sc.scan(s)
		rep.Records += res.records
		rep.Bytes += res.bytes
		if err != nil {
			return cut{}, err
		}
		rep.Segments++
		if res.reason != "" {
			if res.end == 0 {
				rep.Segments--
			}
			return cut{seg: i, end: res.end, reason: res.reason}, nil
		}
	}
	return cut{seg: -1}, nil
}

// repair cuts the log at c and returns the index of the segment to append to
// (-1: create one).
func (w *WAL) repair(segs []segFile, c cut, rep *Report) (int, error) {
	if c.seg < 0 {
		return len(segs) - 1, nil
	}
	s := segs[c.seg]
	rep.Truncated = true
	rep.TruncatedSegment = s.path
	rep.TruncatedAt = c.end
	rep.Reason = c.reason
	last := c.seg == len(segs)-1

	active := c.seg
	switch {
	case c.end >= headerSize:
		if err := truncateFile(s.path, c.end, w.fsync); err != nil {
			return 0, err
		}
		rep.DroppedBytes += s.size - c.end
	case last && s.size < headerSize:
		// A torn header: openActive rewrites it.
		rep.DroppedBytes += s.size
	default:
		// A full but bad header, or a gap: keep none of this segment.
		active = c.seg - 1
		c.seg--
	}
	for _, m := range segs[c.seg+1:] {
		to, err := moveAside(m.path)
		if err != nil {
			return 0, err
		}
		rep.MovedAside = append(rep.MovedAside, to)
		rep.DroppedBytes += m.size
	}
	w.log.Warn("wal: repaired log", "dir", w.dir, "segment", rep.TruncatedSegment,
		"offset", rep.TruncatedAt, "dropped_bytes", rep.DroppedBytes,
		"moved_aside", rep.MovedAside, "reason", rep.Reason)
	return active, nil
}

// openActive opens (or creates) the segment at index active for appending,
// makes sure what was replayed is durable, and sets up the WAL's state.
func (w *WAL) openActive(segs []segFile, active int) error {
	var (
		f    *os.File
		err  error
		base LSN
		size int64
	)
	switch {
	case active < 0:
		// No segment left: start one where the log (or the first moved-aside
		// segment) began.
		base = w.opts.StartLSN
		if len(segs) > 0 {
			base = segs[0].base
		}
		f, err = createSegment(w.dir, base, os.O_EXCL, w.fsync)
		size = headerSize
	case segs[active].size < headerSize:
		// A zero-length or torn-header last segment: write its header.
		base = segs[active].base
		f, err = createSegment(w.dir, base, os.O_TRUNC, w.fsync)
		size = headerSize
	default:
		s := segs[active]
		base = s.base
		f, err = os.OpenFile(s.path, os.O_WRONLY|os.O_APPEND, fileMode)
		if err == nil {
			var fi os.FileInfo
			if fi, err = f.Stat(); err == nil {
				size = fi.Size()
				// Replayed records may be in the page cache only (a crash in
				// SyncNever mode); make them durable before anyone relies on them.
				err = w.fsync(f)
			}
			if err != nil {
				f.Close()
			}
		}
		if err != nil {
			err = errs.Internal(err, "wal: open segment %s", s.path)
		}
	}
	if err != nil {
		return err
	}
	if err := syncDirPath(w.dir); err != nil {
		f.Close()
		return err
	}
	for i := 0; i < active; i++ {
		w.segs = append(w.segs, segs[i].base)
	}
	w.segs = append(w.segs, base)
	w.f, w.segBase, w.segSize = f, base, size
	end := base + LSN(size-headerSize)
	w.appended, w.written, w.durable = end, end, end
	return nil
}

func truncateFile(path string, size int64, fsync func(*os.File) error) error {
	f, err := os.OpenFile(path, os.O_WRONLY, fileMode)
	if err != nil {
		return errs.Internal(err, "wal: open segment %s", path)
	}
	defer f.Close()
	if err := f.Truncate(size); err != nil {
		return errs.Internal(err, "wal: truncate segment %s", path)
	}
	if err := fsync(f); err != nil {
		return errs.Internal(err, "wal: fsync segment %s", path)
	}
	return nil
}

// scanner reads segments, reusing its buffers across them.
type scanner struct {
	br        *bufio.Reader
	buf       []byte
	maxRecord int
	fn        func(LSN, []byte) error
}

// scanResult is what scan found in one segment.
type scanResult struct {
	end     int64 // file offset after the last good record; 0 if the header is bad
	records int
	bytes   int64
	reason  string // why the segment's good data ends before its end; "" if it does not
}

// scan replays one segment. A damaged header or record ends the scan with a
// reason; an error is returned only for I/O failures, a failing fn, and data
// that must not be repaired away.
func (sc *scanner) scan(s segFile) (scanResult, error) {
	var res scanResult
	if s.size < headerSize {
		res.reason = fmt.Sprintf("short segment header (%d bytes)", s.size)
		return res, nil
	}
	f, err := os.Open(s.path)
	if err != nil {
		return res, errs.Internal(err, "wal: open segment %s", s.path)
	}
	defer f.Close()
	sc.br.Reset(f)
	defer sc.br.Reset(nil)

	var h [headerSize]byte
	if _, err := io.ReadFull(sc.br, h[:]); err != nil {
		return res, errs.Internal(err, "wal: read segment %s", s.path)
	}
	reason, err := checkHeader(h, s.base, s.path)
	if err != nil || reason != "" {
		res.reason = reason
		return res, err
	}
	off := int64(headerSize)
	res.end = off
	for off < s.size {
		reason, n, err := sc.record(s, off)
		if err != nil || reason != "" {
			res.reason = reason
			return res, err
		}
		off += recHeadSize + n
		if sc.fn != nil {
			lsn := s.base + LSN(off-headerSize)
			if err := sc.fn(lsn, sc.buf[:n]); err != nil {
				return res, wrapReplayErr(err, s.path, lsn)
			}
		}
		res.end = off
		res.records++
		res.bytes += n
	}
	return res, nil
}

// record reads the record at off into sc.buf and returns its payload length,
// or a reason why it is bad.
func (sc *scanner) record(s segFile, off int64) (string, int64, error) {
	rem := s.size - off
	if rem < recHeadSize {
		return fmt.Sprintf("torn record header at offset %d", off), 0, nil
	}
	var rh [recHeadSize]byte
	if _, err := io.ReadFull(sc.br, rh[:]); err != nil {
		return "", 0, errs.Internal(err, "wal: read segment %s", s.path)
	}
	n := int64(binary.LittleEndian.Uint32(rh[0:4]))
	want := binary.LittleEndian.Uint32(rh[4:8])
	if n > rem-recHeadSize {
		return fmt.Sprintf("record length %d at offset %d runs past the end of the file", n, off), 0, nil
	}
	crc := crcLength(uint32(n))
	if n > int64(sc.maxRecord) {
		// Either a damaged length or a log written with a larger MaxRecord:
		// check the checksum without buffering the payload to tell which.
		crc, err := crcStream(crc, sc.br, n)
		if err != nil {
			return "", 0, errs.Internal(err, "wal: read segment %s", s.path)
		}
		if crc != want {
			return fmt.Sprintf("record length %d at offset %d exceeds MaxRecord %d", n, off, sc.maxRecord), 0, nil
		}
		return "", 0, errs.Invalid("wal: record of %d bytes at %s offset %d exceeds MaxRecord %d; reopen with a larger MaxRecord",
			n, s.path, off, sc.maxRecord)
	}
	if int64(cap(sc.buf)) < n {
		sc.buf = make([]byte, n)
	}
	p := sc.buf[:n]
	if _, err := io.ReadFull(sc.br, p); err != nil {
		return "", 0, errs.Internal(err, "wal: read segment %s", s.path)
	}
	if crc32.Update(crc, castagnoli, p) != want {
		return fmt.Sprintf("record checksum mismatch at offset %d", off), 0, nil
	}
	return "", n, nil
}

func crcStream(crc uint32, r io.Reader, n int64) (uint32, error) {
	var chunk [32 << 10]byte
	for n > 0 {
		k := min(n, int64(len(chunk)))
		if _, err := io.ReadFull(r, chunk[:k]); err != nil {
			return 0, err
		}
		crc = crc32.Update(crc, castagnoli, chunk[:k])
		n -= k
	}
	return crc, nil
}

// wrapReplayErr wraps an error from the replay function, keeping its kind and
// SQLSTATE if it is an *errs.Error.
func wrapReplayErr(err error, path string, lsn LSN) error {
	var e *errs.Error
	if errors.As(err, &e) {
		return errs.Wrap(e.Kind, e.Code, err, "wal: replay %s at LSN %d", path, uint64(lsn))
	}
	return errs.Wrap(errs.ErrInternal, errs.CodeInternal, err, "wal: replay %s at LSN %d", path, uint64(lsn))
}
