package wal

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/ugnos/ugnos/errs"
)

type rec struct {
	lsn  LSN
	data []byte
}

func quiet(o Options) Options {
	o.Logger = slog.New(slog.DiscardHandler)
	return o
}

// openT opens dir and returns the WAL, its report and the replayed records.
func openT(t testing.TB, dir string, o Options) (*WAL, Report, []rec) {
	t.Helper()
	var got []rec
	w, rep, err := Open(dir, quiet(o), func(lsn LSN, p []byte) error {
		got = append(got, rec{lsn, bytes.Clone(p)})
		return nil
	})
	if err != nil {
		t.Fatalf("Open(%s): %v", dir, err)
	}
	return w, rep, got
}

func closeT(t testing.TB, w *WAL) {
	t.Helper()
	if err := w.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
}

func logT(t testing.TB, w *WAL, p []byte) rec {
	t.Helper()
	lsn, err := w.Log(p)
	if err != nil {
		t.Fatalf("Log: %v", err)
	}
	return rec{lsn, bytes.Clone(p)}
}

func sameRecs(t *testing.T, got, want []rec) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("replayed %d records, want %d", len(got), len(want))
	}
	for i := range want {
		if got[i].lsn != want[i].lsn || !bytes.Equal(got[i].data, want[i].data) {
			t.Fatalf("record %d: got lsn %d (%d bytes), want lsn %d (%d bytes)",
				i, got[i].lsn, len(got[i].data), want[i].lsn, len(want[i].data))
		}
	}
}

func randPayload(r *rand.Rand, maxLen int) []byte {
	p := make([]byte, r.IntN(maxLen+1))
	for i := range p {
		p[i] = byte(r.Uint32())
	}
	return p
}

func segFiles(t *testing.T, dir string) []segFile {
	t.Helper()
	segs, err := listSegments(dir)
	if err != nil {
		t.Fatal(err)
	}
	return segs
}

func TestRoundTripAcrossSegmentsAndReopen(t *testing.T) {
	dir := t.TempDir()
	opts := Options{SegmentSize: 1 << 10}
	r := rand.New(rand.NewPCG(1, 2))

	w, rep, got := openT(t, dir, opts)
	if len(got) != 0 || rep.Truncated {
		t.Fatalf("fresh log: %d records, report %+v", len(got), rep)
	}
	var want []rec
	for range 200 {
		want = append(want, logT(t, w, randPayload(r, 200)))
	}
	// Multi-part records are the concatenation of their parts.
	lsn, err := w.Log([]byte("ab"), nil, []byte("cde"))
	if err != nil {
		t.Fatal(err)
	}
	want = append(want, rec{lsn, []byte("abcde")})
	closeT(t, w)
	if n := len(segFiles(t, dir)); n < 5 {
		t.Fatalf("%d segments, want several", n)
	}

	for round := range 3 {
		w, rep, got = openT(t, dir, opts)
		if rep.Truncated || rep.Records != len(want) {
			t.Fatalf("round %d: report %+v", round, rep)
		}
		sameRecs(t, got, want)
		for i := 1; i < len(got); i++ {
			if got[i].lsn <= got[i-1].lsn {
				t.Fatalf("LSNs not increasing at %d", i)
			}
		}
		for range 50 {
			rc := logT(t, w, randPayload(r, 100))
			if rc.lsn <= want[len(want)-1].lsn {
				t.Fatalf("LSN %d after reopen not above %d", rc.lsn, want[len(want)-1].lsn)
			}
			want = append(want, rc)
		}
		closeT(t, w)
	}
}

func TestConcurrentAppendersGroupCommit(t *testing.T) {
	const writers, perWriter = 8, 300
	dir := t.TempDir()
	w, _, _ := openT(t, dir, Options{SegmentSize: 64 << 10})

	var wg sync.WaitGroup
	errc := make(chan error, writers)
	for g := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p := make([]byte, 40)
			for i := range perWriter {
				p[0] = byte(g)
				binary.LittleEndian.PutUint32(p[1:5], uint32(i))
				if _, err := w.Log(p); err != nil {
					errc <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errc)
	for err := range errc {
		t.Fatal(err)
	}
	st := w.Stats()
	t.Logf("records %d, writes %d, fsyncs %d, max group %d, segments %d",
		st.Records, st.Writes, st.Fsyncs, st.MaxGroup, st.Segments)
	if st.Records != writers*perWriter || st.WrittenRecs != st.Records {
		t.Fatalf("stats %+v", st)
	}
	if st.Fsyncs*2 > st.Records {
		t.Fatalf("%d fsyncs for %d records: no group commit", st.Fsyncs, st.Records)
	}
	if st.Segments < 2 {
		t.Fatalf("%d segments, want rolls", st.Segments)
	}
	closeT(t, w)

	w, _, got := openT(t, dir, Options{SegmentSize: 64 << 10})
	defer closeT(t, w)
	if len(got) != writers*perWriter {
		t.Fatalf("replayed %d records", len(got))
	}
	next := make([]uint32, writers)
	for _, r := range got {
		g, i := r.data[0], binary.LittleEndian.Uint32(r.data[1:5])
		if i != next[g] {
			t.Fatalf("writer %d: record %d replayed when %d was due", g, i, next[g])
		}
		next[g]++
	}
}

func TestCloseAndLimits(t *testing.T) {
	dir := t.TempDir()
	w, _, _ := openT(t, dir, Options{MaxRecord: 100})

	if _, err := w.Append(make([]byte, 60), make([]byte, 41)); !errors.Is(err, errs.ErrInvalidInput) {
		t.Fatalf("Append over MaxRecord: %v", err)
	}
	last := logT(t, w, make([]byte, 100))
	if err := w.Sync(last.lsn + 1); !errors.Is(err, errs.ErrInvalidInput) {
		t.Fatalf("Sync beyond the end: %v", err)
	}
	if err := w.Sync(0); err != nil {
		t.Fatalf("Sync(0): %v", err)
	}
	// Appended but not synced: Close must write it.
	pending, err := w.Append([]byte("pending"))
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := Open(dir, quiet(Options{}), nil); err == nil {
		t.Fatal("second Open of a locked directory succeeded")
	}
	closeT(t, w)

	if _, err := w.Append([]byte("x")); !errors.Is(err, errs.ErrClosed) {
		t.Fatalf("Append after Close: %v", err)
	}
	if _, err := w.Log([]byte("x")); !errors.Is(err, errs.ErrClosed) {
		t.Fatalf("Log after Close: %v", err)
	}
	if err := w.Close(); !errors.Is(err, errs.ErrClosed) {
		t.Fatalf("second Close: %v", err)
	}
	if err := w.Sync(pending); err != nil {
		t.Fatalf("Sync of an LSN Close made durable: %v", err)
	}
	if err := w.TruncateBefore(pending); !errors.Is(err, errs.ErrClosed) {
		t.Fatalf("TruncateBefore after Close: %v", err)
	}

	w, _, got := openT(t, dir, Options{})
	defer closeT(t, w)
	sameRecs(t, got, []rec{last, {pending, []byte("pending")}})

	if _, _, err := Open(t.TempDir(), Options{SyncMode: 7}, nil); !errors.Is(err, errs.ErrInvalidInput) {
		t.Fatalf("bad sync mode: %v", err)
	}
}

func TestSyncModes(t *testing.T) {
	for _, mode := range []SyncMode{SyncInterval, SyncNever} {
		t.Run(mode.String(), func(t *testing.T) {
			dir := t.TempDir()
			opts := Options{SyncMode: mode, SyncInterval: 5 * time.Millisecond}
			w, _, _ := openT(t, dir, opts)
			var want []rec
			for i := range 100 {
				want = append(want, logT(t, w, []byte(fmt.Sprintf("record %d", i))))
			}
			st := w.Stats()
			if st.WrittenLSN != want[len(want)-1].lsn {
				t.Fatalf("Log returned before write: %+v", st)
			}
			switch mode {
			case SyncNever:
				if st.Fsyncs != 0 {
					t.Fatalf("SyncNever fsynced %d times", st.Fsyncs)
				}
			case SyncInterval:
				deadline := time.Now().Add(5 * time.Second)
				for w.Stats().DurableLSN < want[len(want)-1].lsn {
					if time.Now().After(deadline) {
						t.Fatalf("background sync never ran: %+v", w.Stats())
					}
					time.Sleep(time.Millisecond)
				}
			}
			closeT(t, w)
			w, _, got := openT(t, dir, opts)
			defer closeT(t, w)
			sameRecs(t, got, want)
		})
	}
}

func TestPoisonedFsync(t *testing.T) {
	dir := t.TempDir()
	w, _, _ := openT(t, dir, Options{})
	good := logT(t, w, []byte("good"))

	injected := errors.New("injected fsync failure")
	w.fsync = func(*os.File) error { return injected }

	const n = 8
	errc := make(chan error, n)
	for i := range n {
		go func() {
			_, err := w.Log([]byte{byte(i)})
			errc <- err
		}()
	}
	for range n {
		select {
		case err := <-errc:
			if !errors.Is(err, errs.ErrInternal) || !errors.Is(err, injected) {
				t.Fatalf("Log on failing fsync: %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("Log hung on a poisoned WAL")
		}
	}
	if _, err := w.Append([]byte("later")); !errors.Is(err, errs.ErrInternal) {
		t.Fatalf("Append after poison: %v", err)
	}
	if err := w.Sync(good.lsn); err != nil {
		t.Fatalf("Sync of an LSN durable before the poison: %v", err)
	}
	if err := w.Close(); !errors.Is(err, errs.ErrInternal) {
		t.Fatalf("Close of a poisoned WAL: %v", err)
	}

	// The directory is unlocked and the good record is there.
	w, _, got := openT(t, dir, Options{})
	defer closeT(t, w)
	if len(got) == 0 || !bytes.Equal(got[0].data, good.data) {
		t.Fatalf("good record lost: %d records", len(got))
	}
}

func TestPoisonedClosedFile(t *testing.T) {
	for _, mode := range []SyncMode{SyncAlways, SyncNever} {
		t.Run(mode.String(), func(t *testing.T) {
			w, _, _ := openT(t, t.TempDir(), Options{SyncMode: mode})
			logT(t, w, []byte("good"))
			w.mu.Lock()
			w.f.Close() // behind the WAL's back
			w.mu.Unlock()
			if _, err := w.Log([]byte("x")); !errors.Is(err, errs.ErrInternal) || !errors.Is(err, os.ErrClosed) {
				t.Fatalf("Log to a closed file: %v", err)
			}
			if _, err := w.Log([]byte("y")); !errors.Is(err, errs.ErrInternal) {
				t.Fatalf("Log after poison: %v", err)
			}
			if err := w.Close(); !errors.Is(err, errs.ErrInternal) {
				t.Fatalf("Close: %v", err)
			}
		})
	}
}

func TestTruncateBefore(t *testing.T) {
	dir := t.TempDir()
	opts := Options{SegmentSize: 512}
	w, _, _ := openT(t, dir, opts)
	var all []rec
	for i := range 100 {
		all = append(all, logT(t, w, bytes.Repeat([]byte{byte(i)}, 50)))
	}
	segs := segFiles(t, dir)
	if len(segs) < 5 {
		t.Fatalf("%d segments", len(segs))
	}
	// Everything up to the end of the third segment is no longer needed.
	cutLSN := segs[3].base
	if err := w.TruncateBefore(cutLSN); err != nil {
		t.Fatal(err)
	}
	if got := segFiles(t, dir); len(got) != len(segs)-3 || got[0].base != segs[3].base {
		t.Fatalf("after TruncateBefore(%d): %d segments, first %d", cutLSN, len(got), got[0].base)
	}
	if st := w.Stats(); st.Segments != len(segs)-3 {
		t.Fatalf("Stats.Segments %d", st.Segments)
	}
	// The active segment is never removed.
	if err := w.TruncateBefore(all[len(all)-1].lsn); err != nil {
		t.Fatal(err)
	}
	if got := segFiles(t, dir); len(got) != 1 {
		t.Fatalf("%d segments left, want the active one", len(got))
	}
	rc := logT(t, w, []byte("after"))
	closeT(t, w)

	w, rep, got := openT(t, dir, opts)
	defer closeT(t, w)
	if rep.Truncated {
		t.Fatalf("report %+v", rep)
	}
	var want []rec
	for _, r := range all {
		if r.lsn > segFiles(t, dir)[0].base {
			want = append(want, r)
		}
	}
	sameRecs(t, got, append(want, rc))
}

func TestReplayFuncError(t *testing.T) {
	dir := t.TempDir()
	w, _, _ := openT(t, dir, Options{})
	for i := range 5 {
		logT(t, w, []byte{byte(i)})
	}
	closeT(t, w)
	// Add a torn tail that a repair would cut.
	seg := segFiles(t, dir)[0]
	f, err := os.OpenFile(seg.path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.Write([]byte{1, 2, 3})
	f.Close()

	stop := errs.New(errs.ErrCorrupt, errs.CodeDataCorrupted, "engine says no")
	calls := 0
	_, _, err = Open(dir, quiet(Options{}), func(LSN, []byte) error {
		calls++
		if calls == 3 {
			return stop
		}
		return nil
	})
	if !errors.Is(err, stop) || !errors.Is(err, errs.ErrCorrupt) || calls != 3 {
		t.Fatalf("Open with failing fn: %v after %d calls", err, calls)
	}
	if fi, _ := os.Stat(seg.path); fi.Size() != seg.size+3 {
		t.Fatalf("Open repaired the log after fn failed: size %d", fi.Size())
	}
	// The lock was released.
	w, rep, got := openT(t, dir, Options{})
	defer closeT(t, w)
	if len(got) != 5 || !rep.Truncated {
		t.Fatalf("%d records, report %+v", len(got), rep)
	}
}

func TestSegmentNames(t *testing.T) {
	f := func(name string, want LSN, ok bool) {
		t.Helper()
		got, gotOK := parseSegName(name)
		if got != want || gotOK != ok {
			t.Fatalf("parseSegName(%q) = %d, %v", name, got, gotOK)
		}
	}
	f("00000000000000000000.wal", 0, true)
	f(segName(123456789), 123456789, true)
	f("00000000000000000000.wal.corrupt", 0, false)
	f("0000000000000000000a.wal", 0, false)
	f("99999999999999999999.wal", 0, false) // overflows uint64
	f("LOCK", 0, false)
	if got := filepath.Ext(segName(1)); got != ".wal" {
		t.Fatal(got)
	}
}

// TestStartLSN: an empty log begins at StartLSN; a log with segments
// ignores it and continues from them.
func TestStartLSN(t *testing.T) {
	dir := t.TempDir()
	w, _, _ := openT(t, dir, Options{StartLSN: 5000})
	a := logT(t, w, []byte("hello"))
	if a.lsn <= 5000 {
		t.Fatalf("first LSN %d, want above 5000", a.lsn)
	}
	closeT(t, w)
	w, _, got := openT(t, dir, Options{StartLSN: 9})
	sameRecs(t, got, []rec{a})
	if b := logT(t, w, []byte("again")); b.lsn <= a.lsn {
		t.Fatalf("LSN %d after reopen, want above %d", b.lsn, a.lsn)
	}
	closeT(t, w)
}
