package wal

import (
	"os"
	"runtime"
	"time"

	"github.com/ugnos/ugnos/errs"
)

// groupResult is what a leader did with the active segment, published under mu.
type groupResult struct {
	err       error
	wrote     bool
	synced    bool
	fsyncs    int
	fsyncTime time.Duration
	lastFsync time.Duration
}

// flushLocked makes the caller the group-commit leader. It takes every
// pending record, writes them with one write(2) and, if doSync, fdatasyncs
// once, then publishes the new written and durable LSNs and wakes all
// waiters. If the segment has grown past SegmentSize it then rolls to a new
// one, still as leader. Called with mu held and flushing false; mu is released
// during I/O and held again on return. Any failure poisons the WAL.
func (w *WAL) flushLocked(doSync bool) {
	w.flushing = true
	// Let writers just woken by the previous group append before this one
	// is cut: with many writers on few CPUs this makes groups about half
	// again as large (BenchmarkLogParallel4KiB: 8 -> 13 records per write).
	w.mu.Unlock()
	runtime.Gosched()
	w.mu.Lock()
	buf := w.pending
	w.pending, w.spare = w.spare[:0], nil
	recs := w.pendRecs
	w.pendRecs = 0
	end := w.appended
	doSync = doSync && w.durable < end
	w.mu.Unlock()

	r := w.writeGroup(buf, doSync)
	roll := r.err == nil && w.segSize > w.opts.SegmentSize

	w.mu.Lock()
	if cap(buf) <= maxRetainBuf {
		w.spare = buf[:0]
	} else {
		w.spare = nil
	}
	w.publishLocked(r, end, recs)
	if roll {
		// Let the waiters of this group go before paying for the roll.
		w.cond.Broadcast()
		w.mu.Unlock()
		r = w.roll(end)
		w.mu.Lock()
		w.publishLocked(r, end, 0)
		if r.err == nil {
			w.segs = append(w.segs, end)
		}
	}
	w.flushing = false
	w.cond.Broadcast()
}

// writeGroup writes buf to the active segment and optionally fdatasyncs it.
// Runs without mu, as leader.
func (w *WAL) writeGroup(buf []byte, doSync bool) groupResult {
	var r groupResult
	if len(buf) > 0 {
		if _, err := w.f.Write(buf); err != nil {
			r.err = errs.Internal(err, "wal: write segment %s", w.segPath(w.segBase))
			return r
		}
		w.segSize += int64(len(buf))
		r.wrote = true
	}
	if doSync {
		r.err = w.syncActive(&r)
	}
	return r
}

func (w *WAL) syncActive(r *groupResult) error {
	t0 := time.Now()
	err := w.fsync(w.f)
	d := time.Since(t0)
	r.fsyncs++
	r.fsyncTime += d
	r.lastFsync = d
	if err != nil {
		return errs.Internal(err, "wal: fdatasync segment %s", w.segPath(w.segBase))
	}
	r.synced = true
	return nil
}

// roll fdatasyncs and closes the active segment, creates the next one at end
// and fsyncs the directory. Runs without mu, as leader.
func (w *WAL) roll(end LSN) groupResult {
	var r groupResult
	if err := w.syncActive(&r); err != nil {
		r.err = err
		return r
	}
	if err := w.f.Close(); err != nil {
		r.err = errs.Internal(err, "wal: close segment %s", w.segPath(w.segBase))
		return r
	}
	f, err := createSegment(w.dir, end, os.O_EXCL, w.fsync)
	r.fsyncs++
	if err != nil {
		// Leave a closed file behind: every later use fails, and the WAL is
		// poisoned anyway.
		r.err = err
		return r
	}
	w.f, w.segBase, w.segSize = f, end, headerSize
	if err := syncDirPath(w.dir); err != nil {
		r.err = err
		return r
	}
	w.log.Debug("wal: rolled segment", "dir", w.dir, "base", uint64(end))
	return r
}

// publishLocked records what a leader did. Called with mu held.
func (w *WAL) publishLocked(r groupResult, end LSN, recs int) {
	w.st.Fsyncs += uint64(r.fsyncs)
	w.st.TotalFsync += r.fsyncTime
	if r.fsyncs > 0 {
		w.st.LastFsync = r.lastFsync
	}
	if r.wrote {
		w.st.Writes++
		w.st.WrittenRecs += uint64(recs)
		w.st.MaxGroup = max(w.st.MaxGroup, recs)
	}
	if r.err != nil {
		if w.err == nil {
			w.err = r.err
			w.log.Error("wal: poisoned, no further writes", "dir", w.dir, "err", r.err)
		}
		return
	}
	w.written = end
	if r.synced {
		w.durable = end
	}
}

// syncLoop is the SyncInterval flusher: every interval it writes what is
// pending and fdatasyncs, unless a leader is busy or nothing is new.
func (w *WAL) syncLoop(every time.Duration) {
	defer close(w.done)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-w.stop:
			return
		case <-t.C:
		}
		w.mu.Lock()
		for w.flushing {
			w.cond.Wait()
		}
		if w.err == nil && !w.closed && w.durable < w.appended {
			w.flushLocked(true)
		}
		w.mu.Unlock()
	}
}
