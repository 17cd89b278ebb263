package ugnos_test

// Crash-durability tests, the hard way: a child process (this test binary,
// re-executed) writes to a database and is killed with SIGKILL at a random
// moment; the parent reopens the directory and checks that every
// acknowledged write is there exactly once and that no write is ever half
// there. Plus torn / corrupt WAL tails made by hand, and the directory lock.
//
// Every expected value is computed from what the test wrote, never read
// back from the engine: batch k's content is a pure function of k (and of
// the writer that the child announced for it).

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/ugnos/ugnos"
	"github.com/ugnos/ugnos/arrowstore"
)

const (
	crashChildEnv    = "UGNOS_CRASH_CHILD"      // data directory: run as the crash child
	crashModeEnv     = "UGNOS_CRASH_MODE"       // "write" (default) or "tryopen"
	crashKBaseEnv    = "UGNOS_CRASH_KBASE"      // first batch number of this round
	crashWritersEnv  = "UGNOS_CRASH_WRITERS"    // concurrent writers
	crashSeedEnv     = "UGNOS_CRASH_CHILD_SEED" // child's random seed
	crashOldEnv      = "UGNOS_CRASH_OLD"        // batches of earlier rounds the child may delete
	crashSegSizeEnv  = "UGNOS_CRASH_SEGSIZE"    // WAL segment size (0: default)
	crashPaceEnv     = "UGNOS_CRASH_PACE_US"    // each writer pauses up to this long between writes
	crashRoundsEnv   = "UGNOS_CRASH_ROUNDS"     // rounds of TestCrashKill9
	crashParentSeed  = "UGNOS_CRASH_SEED"       // seed of TestCrashKill9 (default: time)
	crashTenant      = "crash"
	crashTable       = "m"
	crashTSBase      = int64(1_700_000_000_000_000_000)
	crashStride      = 1024 // timestamps per batch: batch k owns [base+k*stride, base+(k+1)*stride)
	crashMinRows     = 50
	crashMaxRows     = 500
	crashRoundStride = int64(1) << 20 // batch numbers per round
	crashSegHeader   = 20             // bytes of a WAL segment header (wal package docs)
)

// ---------------------------------------------------------------------------
// Batch content: a pure function of the batch number k and the writer j.

func crashMix(x uint64) uint64 { // splitmix64 finaliser
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

// crashSpec says whether batch k goes through WriteRecord (else
// InsertBatch) and how many rows it has.
func crashSpec(k int64) (isRecord bool, n int) {
	r := crashMix(uint64(k))
	return r%3 == 0, crashMinRows + int((r>>8)%(crashMaxRows-crashMinRows+1))
}

func crashTS(k int64, i int) int64 { return crashTSBase + k*crashStride + int64(i) }

// crashRange is the exact time range of batch k's rows.
func crashRange(k int64) (lo, hi int64) {
	_, n := crashSpec(k)
	return crashTS(k, 0), crashTS(k, n-1)
}

// crashRow is one row of table m as the test expects or reads it. Null
// fields and absent tags are zero with their valid flag false.
type crashRow struct {
	value           float64
	valueOK         bool
	n               int64
	nOK             bool
	ok              bool
	okOK            bool
	note            string
	noteOK          bool
	writer, src     string // "" = null
	writerOK, srcOK bool
}

func crashExpect(k int64, i int, j int) crashRow {
	isRec, _ := crashSpec(k)
	r := crashRow{value: float64(k)*1000 + float64(i), valueOK: true, writer: "w" + strconv.Itoa(j), writerOK: true}
	if !isRec {
		return r
	}
	if i%11 != 5 {
		r.n, r.nOK = k*1_000_000+int64(i), true
	}
	if i%13 != 7 {
		r.ok, r.okOK = i%2 == 0, true
	}
	r.note, r.noteOK = fmt.Sprintf("k%d/i%d", k, i), true
	r.src, r.srcOK = "s"+strconv.Itoa(i%3), true
	return r
}

var crashRecordSchema = arrow.NewSchema([]arrow.Field{
	{Name: "time", Type: arrow.FixedWidthTypes.Timestamp_ns},
	{Name: "value", Type: arrow.PrimitiveTypes.Float64},
	{Name: "n", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
	{Name: "ok", Type: arrow.FixedWidthTypes.Boolean, Nullable: true},
	{Name: "note", Type: arrow.BinaryTypes.String, Nullable: true,
		Metadata: arrow.NewMetadata([]string{arrowstore.MetaKind}, []string{"field"})},
	{Name: "writer", Type: arrow.BinaryTypes.String},
	{Name: "src", Type: arrow.BinaryTypes.String},
}, nil)

// crashRecord builds batch k (a WriteRecord batch) as an Arrow record.
func crashRecord(k int64, j int) arrow.RecordBatch {
	_, n := crashSpec(k)
	b := array.NewRecordBuilder(memory.DefaultAllocator, crashRecordSchema)
	defer b.Release()
	for i := 0; i < n; i++ {
		e := crashExpect(k, i, j)
		b.Field(0).(*array.TimestampBuilder).Append(arrow.Timestamp(crashTS(k, i)))
		b.Field(1).(*array.Float64Builder).Append(e.value)
		if e.nOK {
			b.Field(2).(*array.Int64Builder).Append(e.n)
		} else {
			b.Field(2).AppendNull()
		}
		if e.okOK {
			b.Field(3).(*array.BooleanBuilder).Append(e.ok)
		} else {
			b.Field(3).AppendNull()
		}
		b.Field(4).(*array.StringBuilder).Append(e.note)
		b.Field(5).(*array.StringBuilder).Append(e.writer)
		b.Field(6).(*array.StringBuilder).Append(e.src)
	}
	return b.NewRecordBatch()
}

// crashPoints builds batch k (an InsertBatch batch).
func crashPoints(k int64, j int) []ugnos.Point {
	_, n := crashSpec(k)
	tags := ugnos.TagSet{"writer": "w" + strconv.Itoa(j)}
	pts := make([]ugnos.Point, n)
	for i := range pts {
		pts[i] = ugnos.Point{Timestamp: crashTS(k, i), Value: crashExpect(k, i, j).value, Tags: tags}
	}
	return pts
}

// crashWrite writes batch k by its path.
func crashWrite(db *ugnos.DB, k int64, j int) error {
	if isRec, _ := crashSpec(k); isRec {
		rec := crashRecord(k, j)
		defer rec.Release()
		return db.WriteRecord(context.Background(), crashTenant, crashTable, rec)
	}
	return db.InsertBatch(crashTenant, crashTable, crashPoints(k, j))
}

// ---------------------------------------------------------------------------
// Reading table m back.

// crashRead scans every row of table m with all its columns and hands each
// to visit. It returns false if the table does not exist.
func crashRead(t *testing.T, db *ugnos.DB, visit func(ts int64, r *crashRow)) bool {
	t.Helper()
	rd, err := db.Scan(context.Background(), crashTenant, crashTable, arrowstore.ScanRequest{MinT: arrowstore.MinTime, MaxT: arrowstore.MaxTime})
	if errors.Is(err, ugnos.ErrNotFound) {
		return false
	}
	if err != nil {
		t.Fatalf("scan %s: %v", crashTable, err)
	}
	defer rd.Release()
	for rd.Next() {
		rec := rd.RecordBatch()
		col := func(name string) arrow.Array {
			if idx := rec.Schema().FieldIndices(name); len(idx) > 0 {
				return rec.Column(idx[0])
			}
			return nil
		}
		tsA, ok := col("time").(*array.Timestamp)
		if !ok {
			t.Fatalf("scan: time column is %T", col("time"))
		}
		valueA, _ := col("value").(*array.Float64)
		nA, _ := col("n").(*array.Int64)
		okA, _ := col("ok").(*array.Boolean)
		noteA, _ := col("note").(*array.String)
		tagOf := func(a arrow.Array, i int) (string, bool) {
			if a == nil || a.IsNull(i) {
				return "", false
			}
			switch a := a.(type) {
			case *array.Dictionary:
				return a.Dictionary().(*array.String).Value(a.GetValueIndex(i)), true
			case *array.String:
				return a.Value(i), true
			}
			t.Fatalf("scan: tag column is %T", a)
			return "", false
		}
		writerA, srcA := col("writer"), col("src")
		for i := 0; i < int(rec.NumRows()); i++ {
			var r crashRow
			if valueA != nil && valueA.IsValid(i) {
				r.value, r.valueOK = valueA.Value(i), true
			}
			if nA != nil && nA.IsValid(i) {
				r.n, r.nOK = nA.Value(i), true
			}
			if okA != nil && okA.IsValid(i) {
				r.ok, r.okOK = okA.Value(i), true
			}
			if noteA != nil && noteA.IsValid(i) {
				r.note, r.noteOK = noteA.Value(i), true
			}
			r.writer, r.writerOK = tagOf(writerA, i)
			r.src, r.srcOK = tagOf(srcA, i)
			visit(int64(tsA.Value(i)), &r)
		}
	}
	if err := rd.Err(); err != nil {
		t.Fatalf("scan %s: %v", crashTable, err)
	}
	return true
}

// crashTally is what a scan of table m found, batch by batch.
type crashTally struct {
	exists   bool
	rows     int               // rows scanned
	seen     map[int64][]uint8 // batch -> how often each of its rows was seen
	problems []string          // rows that were never written, or differ
}

// rowsIn returns how many rows (duplicates included) of batches in [lo, hi]
// were seen.
func (c *crashTally) rowsIn(lo, hi int64) int {
	n := 0
	for k, sn := range c.seen {
		if crashTS(k, 0) < lo || crashTS(k, 0) > hi {
			continue
		}
		for _, x := range sn {
			n += int(x)
		}
	}
	return n
}

// found returns how many distinct rows of batch k were seen and whether any
// was seen more than once.
func (c *crashTally) found(k int64) (n int, dup bool) {
	for _, x := range c.seen[k] {
		if x > 0 {
			n++
		}
		if x > 1 {
			dup = true
		}
	}
	return n, dup
}

// crashDecode returns the batch and row that timestamp ts belongs to.
func crashDecode(ts int64) (k int64, i int, ok bool) {
	off := ts - crashTSBase
	if off < 0 {
		return 0, 0, false
	}
	k, i = off/crashStride, int(off%crashStride)
	_, n := crashSpec(k)
	return k, i, i < n
}

// crashScan reads table m and checks each row against what batch it
// belongs to says (writerOf: the writer of each batch ever written).
func crashScan(t *testing.T, db *ugnos.DB, writerOf func(k int64) (int, bool)) *crashTally {
	t.Helper()
	c := &crashTally{seen: map[int64][]uint8{}}
	problem := func(format string, args ...any) {
		if len(c.problems) < 1000 {
			c.problems = append(c.problems, fmt.Sprintf(format, args...))
		}
	}
	c.exists = crashRead(t, db, func(ts int64, r *crashRow) {
		c.rows++
		k, i, ok := crashDecode(ts)
		if !ok {
			problem("row at time %d belongs to no batch: %+v", ts, *r)
			return
		}
		j, known := writerOf(k)
		if !known {
			problem("batch %d row %d: no such batch was ever written: %+v", k, i, *r)
			return
		}
		if want := crashExpect(k, i, j); *r != want {
			problem("batch %d row %d: got %+v, want %+v", k, i, *r, want)
		}
		sn := c.seen[k]
		if sn == nil {
			_, n := crashSpec(k)
			sn = make([]uint8, n)
			c.seen[k] = sn
		}
		if sn[i] < 255 {
			sn[i]++
		}
	})
	return c
}

// ---------------------------------------------------------------------------
// The child process.

// crashOut writes whole lines to stdout (one write(2) each: a pipe write of
// at most PIPE_BUF bytes is atomic, so the parent never sees half a line).
type crashOut struct{ mu sync.Mutex }

func (o *crashOut) line(format string, args ...any) {
	s := fmt.Sprintf(format, args...) + "\n"
	o.mu.Lock()
	defer o.mu.Unlock()
	if _, err := os.Stdout.WriteString(s); err != nil {
		os.Exit(4) // parent gone
	}
}

func (o *crashOut) fatal(format string, args ...any) {
	o.line("err "+format, args...)
	os.Exit(3)
}

// TestCrashChild is not a test: it is the process that TestCrashKill9 and
// TestCrashSecondOpenRefused start and kill.
func TestCrashChild(t *testing.T) {
	dir := os.Getenv(crashChildEnv)
	if dir == "" {
		t.Skip("helper process of TestCrashKill9; runs only when " + crashChildEnv + " is set")
	}
	out := &crashOut{}
	if os.Getenv(crashModeEnv) == "tryopen" {
		db, err := ugnos.Open(dir)
		if err != nil {
			out.line("refused %s", strings.ReplaceAll(err.Error(), "\n", " "))
			os.Exit(0)
		}
		db.Close()
		out.line("opened")
		os.Exit(0)
	}
	envInt := func(name string) int64 {
		v, err := strconv.ParseInt(os.Getenv(name), 10, 64)
		if err != nil {
			out.fatal("bad %s: %v", name, err)
		}
		return v
	}
	kbase, writers, seed, segSize := envInt(crashKBaseEnv), int(envInt(crashWritersEnv)), envInt(crashSeedEnv), envInt(crashSegSizeEnv)
	pace := envInt(crashPaceEnv)
	// checkpoints every 256 KiB of WAL: kills land in the middle of them
	opts := []ugnos.Option{ugnos.WithCheckpointWAL(256 << 10)}
	if segSize > 0 {
		opts = append(opts, ugnos.WithWALSegmentSize(segSize))
	}
	db, err := ugnos.Open(dir, opts...) // default sync mode: SyncAlways
	if err != nil {
		out.fatal("open: %v", err)
	}
	// Deletion candidates: batches acknowledged in this run, and batches of
	// earlier rounds that the parent saw present. Each is deleted at most once.
	var (
		candMu sync.Mutex
		cands  []int64
	)
	if s := os.Getenv(crashOldEnv); s != "" {
		for _, f := range strings.Split(s, ",") {
			k, err := strconv.ParseInt(f, 10, 64)
			if err != nil {
				out.fatal("bad %s: %v", crashOldEnv, err)
			}
			cands = append(cands, k)
		}
	}
	// snapshots, one after the other, the last three kept: kills land in
	// the middle of them too
	go func() {
		snaps := dir + ".snaps"
		for i := 0; ; i++ {
			if err := db.Snapshot(filepath.Join(snaps, strconv.Itoa(i))); err != nil {
				out.fatal("snapshot %d: %v", i, err)
			}
			// out of the way atomically first: a kill in the middle of
			// RemoveAll must not leave a half-deleted snapshot that looks whole
			old := filepath.Join(snaps, strconv.Itoa(i-3))
			if os.Rename(old, old+".old") == nil {
				os.RemoveAll(old + ".old")
			}
			time.Sleep(20 * time.Millisecond)
		}
	}()
	var next atomic.Int64
	next.Store(kbase)
	out.line("ready")
	for j := 0; j < writers; j++ {
		go func() {
			rng := rand.New(rand.NewPCG(uint64(seed), uint64(j)))
			for {
				// A short random pause keeps the log (replayed by every later
				// round) from growing too fast; writers still overlap.
				if pace > 0 {
					time.Sleep(time.Duration(rng.Int64N(pace)) * time.Microsecond)
				}
				if rng.IntN(10) == 0 {
					candMu.Lock()
					target := int64(-1)
					if len(cands) > 0 {
						x := rng.IntN(len(cands))
						target = cands[x]
						cands[x] = cands[len(cands)-1]
						cands = cands[:len(cands)-1]
					}
					candMu.Unlock()
					if target >= 0 {
						lo, hi := crashRange(target)
						out.line("delbegin %d", target)
						n, err := db.Delete(crashTenant, crashTable, lo, hi, nil)
						if err != nil {
							out.fatal("delete batch %d: %v", target, err)
						}
						out.line("delack %d %d", target, n)
						continue
					}
				}
				k := next.Add(1) - 1
				out.line("begin %d %d", k, j)
				if err := crashWrite(db, k, j); err != nil {
					out.fatal("write batch %d: %v", k, err)
				}
				out.line("ack %d", k)
				candMu.Lock()
				cands = append(cands, k)
				candMu.Unlock()
			}
		}()
	}
	select {} // until killed
}

// ---------------------------------------------------------------------------
// The parent.

// crashLog is what one child said.
type crashLog struct {
	ready      bool
	readyAfter time.Duration // from start to "ready"
	begun      map[int64]int // batch -> writer
	acked      map[int64]bool
	delBegun   map[int64]bool
	delAcked   map[int64]uint64 // target -> rows removed
	errLine    string
	other      []string
}

func (l *crashLog) parse(line string) error {
	f := strings.Fields(line)
	num := func(i int) (int64, error) {
		if len(f) <= i {
			return 0, fmt.Errorf("short line %q", line)
		}
		return strconv.ParseInt(f[i], 10, 64)
	}
	if len(f) == 0 {
		return nil
	}
	switch f[0] {
	case "ready":
		l.ready = true
	case "begin":
		k, err1 := num(1)
		j, err2 := num(2)
		if err := errors.Join(err1, err2); err != nil {
			return err
		}
		l.begun[k] = int(j)
	case "ack":
		k, err := num(1)
		if err != nil {
			return err
		}
		if _, ok := l.begun[k]; !ok {
			return fmt.Errorf("ack of batch %d that never began", k)
		}
		l.acked[k] = true
	case "delbegin":
		k, err := num(1)
		if err != nil {
			return err
		}
		l.delBegun[k] = true
	case "delack":
		k, err1 := num(1)
		n, err2 := num(2)
		if err := errors.Join(err1, err2); err != nil {
			return err
		}
		l.delAcked[k] = uint64(n)
	case "err":
		l.errLine = line
	default:
		l.other = append(l.other, line)
	}
	return nil
}

// crashModel is what the parent knows across rounds.
type crashModel struct {
	writer  map[int64]int  // every batch ever begun -> its writer
	present map[int64]bool // batches present after the latest check
}

// crashPaceUS bounds each child writer's pause between writes (µs).
var crashPaceUS = 10000

func crashRounds(t *testing.T) int {
	if s := os.Getenv(crashRoundsEnv); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			t.Fatalf("bad %s=%q", crashRoundsEnv, s)
		}
		return n
	}
	if raceEnabled {
		return 8
	}
	return 20
}

func TestCrashKill9(t *testing.T) {
	if testing.Short() {
		t.Skip("crash test skipped in -short mode")
	}
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv(crashParentSeed); s != "" {
		v, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatalf("bad %s=%q", crashParentSeed, s)
		}
		seed = v
	}
	rounds := crashRounds(t)
	t.Logf("seed %d (rerun with %s=%d), %d rounds", seed, crashParentSeed, seed, rounds)
	fmt.Fprintf(os.Stderr, "TestCrashKill9: seed %d\n", seed)
	rng := rand.New(rand.NewPCG(seed, 0x5eed))

	dir := filepath.Join(t.TempDir(), "db")
	model := &crashModel{writer: map[int64]int{}, present: map[int64]bool{}}
	start := time.Now()
	var totalAcked, totalDeleted, truncations int
	epoch := 0
	for round := 1; round <= rounds; round++ {
		// Keep soak runs bounded: once the log is large, start over in a
		// fresh directory.
		if sz := crashDirSize(filepath.Join(dir, "wal")); sz > 16<<20 {
			epoch++
			dir = filepath.Join(t.TempDir(), fmt.Sprintf("db%d", epoch))
			model = &crashModel{writer: map[int64]int{}, present: map[int64]bool{}}
			t.Logf("round %d: log reached %d bytes, starting over in %s", round, sz, dir)
		}
		runFor := time.Duration(50+rng.IntN(351)) * time.Millisecond
		writers := 2 + rng.IntN(3)
		segSize := []int64{0, 0, 256 << 10, 1 << 20}[rng.IntN(4)]
		t0 := time.Now()
		lg := crashRunChild(t, dir, round, writers, rng.Uint64(), segSize, runFor, crashOldCandidates(model, rng))
		t1 := time.Now()
		rep := crashCheck(t, round, dir, model, lg)
		t2 := time.Now()
		if rep.Truncated {
			truncations++
		}
		totalAcked += len(lg.acked)
		totalDeleted += len(lg.delAcked)
		t.Logf("round %d: %d writers, seg %d, killed %v after ready (child ready in %v, run %v, check %v): %d begun, %d acked, %d deletes acked; reopen: %d records, truncated=%v %s",
			round, writers, segSize, runFor, lg.readyAfter.Round(time.Millisecond), t1.Sub(t0).Round(time.Millisecond), t2.Sub(t1).Round(time.Millisecond),
			len(lg.begun), len(lg.acked), len(lg.delAcked), rep.Records, rep.Truncated, rep.Reason)
		if t.Failed() {
			t.Fatalf("round %d failed (seed %d)", round, seed)
		}
	}
	t.Logf("%d rounds in %v: %d batches and %d deletes acknowledged, %d torn tails cut",
		rounds, time.Since(start).Round(time.Millisecond), totalAcked, totalDeleted, truncations)
}

// crashOldCandidates picks up to 16 present batches of earlier rounds that
// the next child may delete.
func crashOldCandidates(m *crashModel, rng *rand.Rand) []int64 {
	var ks []int64
	for k := range m.present {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	rng.Shuffle(len(ks), func(a, b int) { ks[a], ks[b] = ks[b], ks[a] })
	return ks[:min(len(ks), 16)]
}

func crashDirSize(dir string) int64 {
	ents, _ := os.ReadDir(dir)
	var n int64
	for _, e := range ents {
		if fi, err := e.Info(); err == nil {
			n += fi.Size()
		}
	}
	return n
}

// crashRunChild runs one child on dir for about runFor after it is ready,
// kills it with SIGKILL and returns everything it acknowledged.
func crashRunChild(t *testing.T, dir string, round, writers int, seed uint64, segSize int64, runFor time.Duration, old []int64) *crashLog {
	t.Helper()
	oldS := make([]string, len(old))
	for i, k := range old {
		oldS[i] = strconv.FormatInt(k, 10)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$", "-test.count=1")
	cmd.Env = append(os.Environ(),
		crashChildEnv+"="+dir,
		crashModeEnv+"=write",
		crashKBaseEnv+"="+strconv.FormatInt(int64(round)*crashRoundStride, 10),
		crashWritersEnv+"="+strconv.Itoa(writers),
		crashSeedEnv+"="+strconv.FormatUint(seed>>1, 10),
		crashSegSizeEnv+"="+strconv.FormatInt(segSize, 10),
		crashOldEnv+"="+strings.Join(oldS, ","),
		crashPaceEnv+"="+strconv.Itoa(crashPaceUS),
		"GOTRACEBACK=all",
	)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill() }) // if the test dies before the kill below
	lg := &crashLog{begun: map[int64]int{}, acked: map[int64]bool{}, delBegun: map[int64]bool{}, delAcked: map[int64]uint64{}}
	var (
		mu       sync.Mutex
		parseErr error
	)
	ready := make(chan struct{})
	eof := make(chan struct{})
	go func() {
		defer close(eof)
		br := bufio.NewReaderSize(stdout, 1<<16)
		readyClosed := false
		for {
			line, err := br.ReadString('\n')
			if err != nil {
				if err != io.EOF || line != "" {
					mu.Lock()
					lg.other = append(lg.other, "(partial) "+line)
					mu.Unlock()
				}
				break
			}
			mu.Lock()
			if perr := lg.parse(strings.TrimSuffix(line, "\n")); perr != nil && parseErr == nil {
				parseErr = perr
			}
			isReady := lg.ready
			mu.Unlock()
			if isReady && !readyClosed {
				close(ready)
				readyClosed = true
			}
		}
		if !readyClosed {
			close(ready)
		}
	}()
	// Opening replays every earlier round: allow it plenty of time.
	started := time.Now()
	select {
	case <-ready:
		lg.readyAfter = time.Since(started)
	case <-time.After(2 * time.Minute):
		cmd.Process.Kill()
		<-eof
		cmd.Wait()
		t.Fatalf("round %d: child not ready after 2 minutes; stderr:\n%s", round, stderr.String())
	}
	select {
	case <-eof: // died early
	case <-time.After(runFor):
	}
	killErr := cmd.Process.Kill()
	<-eof
	waitErr := cmd.Wait()
	mu.Lock()
	defer mu.Unlock()
	if parseErr != nil {
		t.Fatalf("round %d: bad child output: %v", round, parseErr)
	}
	var ee *exec.ExitError
	killed := errors.As(waitErr, &ee) && ee.Sys().(syscall.WaitStatus).Signaled() &&
		ee.Sys().(syscall.WaitStatus).Signal() == syscall.SIGKILL
	if !lg.ready || lg.errLine != "" || !killed || killErr != nil {
		t.Fatalf("round %d: child did not run until killed (kill: %v, wait: %v): %s\nother output: %q\nstderr:\n%s",
			round, killErr, waitErr, lg.errLine, lg.other, stderr.String())
	}
	return lg
}

// crashCheckSnapshots verifies every complete snapshot the killed child
// left (a snapshot cut short stays a ".partial" directory, never a
// complete-looking one) and restores the newest into a fresh database:
// every batch in it is whole and as written.
func crashCheckSnapshots(t *testing.T, round int, dir string, m *crashModel) {
	t.Helper()
	snaps := dir + ".snaps"
	ents, _ := os.ReadDir(snaps)
	newest, path, complete := -1, "", 0
	for _, e := range ents {
		if _, err := strconv.Atoi(e.Name()); err != nil {
			continue // "n.partial": cut short; "n.old": being removed
		}
		complete++
		p := filepath.Join(snaps, e.Name())
		if err := ugnos.VerifySnapshot(p); err != nil {
			t.Errorf("round %d: snapshot %s: %v", round, e.Name(), err)
			continue
		}
		if n, err := strconv.Atoi(e.Name()); err == nil && n > newest {
			newest, path = n, p
		}
	}
	defer os.RemoveAll(snaps)
	if path == "" {
		return
	}
	db, err := ugnos.Open("")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.Restore(path); err != nil {
		t.Fatalf("round %d: restore snapshot %d: %v", round, newest, err)
	}
	tally := crashScan(t, db, func(k int64) (int, bool) { j, ok := m.writer[k]; return j, ok })
	for _, p := range tally.problems {
		t.Errorf("round %d: snapshot %d: %s", round, newest, p)
	}
	whole := 0
	for k := range tally.seen {
		_, n := crashSpec(k)
		if got, dup := tally.found(k); got != n || dup {
			t.Errorf("round %d: snapshot %d: batch %d has %d of %d rows (duplicates: %v)", round, newest, k, got, n, dup)
		}
		whole++
	}
	t.Logf("round %d: %d complete snapshots verified; the newest (%d) restores %d whole batches", round, complete, newest, whole)
}

// crashCheck reopens dir after a kill and checks it against the model and
// the child's acknowledgements, then updates the model.
func crashCheck(t *testing.T, round int, dir string, m *crashModel, lg *crashLog) ugnos.RecoveryReport {
	t.Helper()
	db, err := ugnos.Open(dir)
	if err != nil {
		t.Fatalf("round %d: reopen after kill: %v", round, err)
	}
	defer func() {
		if err := db.Close(); err != nil {
			t.Errorf("round %d: close: %v", round, err)
		}
	}()
	// Open cleaned up after the killed checkpoint: no temporary files, and
	// every segment file on disk is one the manifest lists.
	var tmps, segs []string
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			if strings.HasSuffix(p, ".tmp") {
				tmps = append(tmps, p)
			}
			if strings.HasSuffix(p, ".parquet") {
				segs = append(segs, p)
			}
		}
		return nil
	})
	if len(tmps) > 0 {
		t.Errorf("round %d: temporary files left after reopen: %v", round, tmps)
	}
	if st := db.Metrics(); len(segs) != st.Segments {
		t.Errorf("round %d: %d segment files on disk, %d live", round, len(segs), st.Segments)
	} else {
		t.Logf("round %d: %d segment files, %d rows in them", round, st.Segments, st.DiskRows)
	}
	rep := db.Recovery()
	if len(rep.MovedAside) > 0 {
		t.Errorf("round %d: a kill may only tear the tail, yet segments were moved aside: %v (%s)", round, rep.MovedAside, rep.Reason)
	}
	for k, j := range lg.begun {
		if _, dup := m.writer[k]; dup {
			t.Fatalf("round %d: batch %d begun twice", round, k)
		}
		m.writer[k] = j
	}
	crashCheckSnapshots(t, round, dir, m)
	tally := crashScan(t, db, func(k int64) (int, bool) { j, ok := m.writer[k]; return j, ok })
	const maxReports = 20
	reports := 0
	errorf := func(format string, args ...any) {
		t.Helper()
		reports++
		if reports <= maxReports {
			t.Errorf("round %d: "+format, append([]any{round}, args...)...)
		}
	}
	for _, p := range tally.problems {
		errorf("%s", p)
	}
	// Batch by batch: never partial; present or absent as acknowledged.
	ks := make([]int64, 0, len(m.writer))
	for k := range m.writer {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	present := map[int64]bool{}
	for _, k := range ks {
		_, n := crashSpec(k)
		got, dup := tally.found(k)
		if got != 0 && got != n {
			errorf("batch %d is partial: %d of %d rows", k, got, n)
		}
		if dup {
			errorf("batch %d: some rows are stored more than once", k)
		}
		isPresent := got > 0
		if isPresent {
			present[k] = true
		}
		_, begunNow := lg.begun[k]
		wasPresent := m.present[k] || lg.acked[k]
		_, delAcked := lg.delAcked[k]
		switch {
		case delAcked && isPresent:
			errorf("batch %d: its delete was acknowledged, yet %d rows remain", k, got)
		case delAcked, lg.delBegun[k]:
			// Deleted, or an unacknowledged delete: either way is fine.
		case wasPresent && !isPresent:
			if lg.acked[k] {
				errorf("batch %d (%d rows) was acknowledged but is lost", k, n)
			} else {
				errorf("batch %d (%d rows) was present after the previous round but is lost", k, n)
			}
		case !wasPresent && !begunNow && isPresent:
			errorf("batch %d reappeared: absent after an earlier round, present now", k)
		}
	}
	for k, removed := range lg.delAcked {
		if _, n := crashSpec(k); removed != uint64(n) {
			errorf("delete of batch %d reported %d rows removed, want %d", k, removed, n)
		}
	}
	// The same points through the single-value Query API.
	if tally.exists {
		// (This round's batches only: reading everything again is slow.)
		lo, hi := crashTS(int64(round)*crashRoundStride, 0), crashTS(int64(round+1)*crashRoundStride, 0)-1
		pts, err := db.Query(context.Background(), crashTenant, crashTable, ugnos.QueryOptions{Start: lo, End: hi})
		if err != nil && !(errors.Is(err, ugnos.ErrNotFound) && tally.rows == 0) {
			t.Fatalf("round %d: query: %v", round, err)
		}
		if want := tally.rowsIn(lo, hi); len(pts) != want {
			errorf("Query returned %d points of this round, Scan %d rows", len(pts), want)
		}
		for x, p := range pts {
			if x > 0 && pts[x-1].Timestamp > p.Timestamp {
				errorf("Query: points out of time order at %d", x)
				break
			}
			k, i, ok := crashDecode(p.Timestamp)
			j, known := m.writer[k]
			if !ok || !known {
				continue // reported above
			}
			want := crashExpect(k, i, j)
			if p.Value != want.value || p.Tags["writer"] != want.writer {
				errorf("Query: point at %d = %v %v, want %v writer=%s", p.Timestamp, p.Value, p.Tags, want.value, want.writer)
			}
		}
	} else if len(m.present) > 0 || len(lg.acked) > 0 {
		errorf("table %s is gone, yet batches were acknowledged", crashTable)
	}
	if reports > maxReports {
		t.Errorf("round %d: ... and %d more problems", round, reports-maxReports)
	}
	m.present = present
	return rep
}

// ---------------------------------------------------------------------------
// Torn and corrupt tails made by hand.

// crashBatchPos is where a batch's WAL records ended up.
type crashBatchPos struct {
	seg        string // segment file holding the end of the batch
	start, end int64  // byte range of the batch's records in seg
}

// crashWALSegments lists <dir>/wal/*.wal in name (= LSN) order.
func crashWALSegments(t *testing.T, dir string) []string {
	t.Helper()
	segs, err := filepath.Glob(filepath.Join(dir, "wal", "*.wal"))
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(segs)
	return segs
}

func crashFileSize(t *testing.T, path string) int64 {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Size()
}

// crashSimpleWrite writes batch b of the torn-tail tests (writer 0, by
// InsertBatch or WriteRecord as crashSpec says).
func crashSimpleWrite(db *ugnos.DB, b int64) error { return crashWrite(db, b, 0) }

// crashCheckBatches checks that exactly the batches in want are present,
// each complete and correct.
func crashCheckBatches(t *testing.T, db *ugnos.DB, want map[int64]bool, all []int64) {
	t.Helper()
	tally := crashScan(t, db, func(k int64) (int, bool) { return 0, slices.Contains(all, k) })
	for _, p := range tally.problems {
		t.Error(p)
	}
	for _, k := range all {
		_, n := crashSpec(k)
		found, dup := tally.found(k)
		switch {
		case dup:
			t.Errorf("batch %d: some rows are stored more than once", k)
		case want[k] && found != n:
			t.Errorf("batch %d: %d of %d rows present, want all", k, found, n)
		case !want[k] && found != 0:
			t.Errorf("batch %d: %d of %d rows present, want none", k, found, n)
		}
	}
}

func TestCrashTornTail(t *testing.T) {
	const nBatches = 12
	type damage struct {
		name       string
		segSz      int64 // WAL segment size (0: default)
		victim     int   // index of the batch whose record is damaged; -1: none (garbage after the end)
		earlierSeg bool  // the victim must lie in an earlier segment than the last batch
		apply      func(t *testing.T, path string, start, end int64)
	}
	last := nBatches - 1
	writeAt := func(t *testing.T, path string, off int64, b []byte) {
		f, err := os.OpenFile(path, os.O_WRONLY, 0)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.WriteAt(b, off); err != nil {
			t.Fatal(err)
		}
		if err := f.Close(); err != nil {
			t.Fatal(err)
		}
	}
	appendB := func(t *testing.T, path string, b []byte) {
		writeAt(t, path, crashFileSize(t, path), b)
	}
	flip := func(t *testing.T, path string, off int64) {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		writeAt(t, path, off, []byte{b[off] ^ 0x5a})
	}
	cases := []damage{
		{"append-garbage", 0, -1, false, func(t *testing.T, p string, _, _ int64) {
			appendB(t, p, []byte("\x17\x00\x00\x00garbage after the last record, not a record"))
		}},
		{"append-zeros", 0, -1, false, func(t *testing.T, p string, _, _ int64) { appendB(t, p, make([]byte, 4096)) }},
		{"append-huge-length", 0, -1, false, func(t *testing.T, p string, _, _ int64) {
			appendB(t, p, []byte{0xff, 0xff, 0xff, 0x7f, 1, 2, 3, 4, 5, 6})
		}},
		{"cut-1-byte", 0, last, false, func(t *testing.T, p string, _, end int64) {
			if err := os.Truncate(p, end-1); err != nil {
				t.Fatal(err)
			}
		}},
		{"cut-7-bytes", 0, last, false, func(t *testing.T, p string, _, end int64) {
			if err := os.Truncate(p, end-7); err != nil {
				t.Fatal(err)
			}
		}},
		{"cut-into-header", 0, last, false, func(t *testing.T, p string, start, _ int64) {
			if err := os.Truncate(p, start+3); err != nil {
				t.Fatal(err)
			}
		}},
		{"cut-then-garbage", 0, last, false, func(t *testing.T, p string, start, end int64) {
			if err := os.Truncate(p, (start+end)/2); err != nil {
				t.Fatal(err)
			}
			appendB(t, p, bytes.Repeat([]byte{0xA5}, 100))
		}},
		{"flip-middle-of-last", 0, last, false, func(t *testing.T, p string, start, end int64) { flip(t, p, (start+end)/2) }},
		{"flip-crc-of-last", 0, last, false, func(t *testing.T, p string, start, _ int64) { flip(t, p, start+5) }},
		{"flip-length-of-last", 0, last, false, func(t *testing.T, p string, start, _ int64) { flip(t, p, start+1) }},
		{"flip-middle-of-earlier", 0, 6, false, func(t *testing.T, p string, start, end int64) { flip(t, p, (start+end)/2) }},
		// A crash during a segment roll: the next segment exists but is
		// empty, or holds part of its header. Nothing is lost.
		{"roll-empty-next-segment", 0, -1, false, func(t *testing.T, p string, _, end int64) {
			crashNextSegment(t, p, end, nil)
		}},
		{"roll-torn-header-next-segment", 0, -1, false, func(t *testing.T, p string, _, end int64) {
			crashNextSegment(t, p, end, []byte("UGWL\x01\x00"))
		}},
		// Small segments: damage in the last segment, then in an earlier one.
		{"small-segs-flip-last", 4096, last, false, func(t *testing.T, p string, start, end int64) { flip(t, p, (start+end)/2) }},
		{"small-segs-flip-earlier-segment", 4096, 3, true, func(t *testing.T, p string, start, end int64) { flip(t, p, (start+end)/2) }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			var opts []ugnos.Option
			if c.segSz > 0 {
				opts = append(opts, ugnos.WithWALSegmentSize(c.segSz))
			}
			db, err := ugnos.Open(dir, opts...)
			if err != nil {
				t.Fatal(err)
			}
			// Batch numbers 1..n; record where each batch's records lie
			// (acknowledged = written to the file, so sizes are exact).
			batches := make([]int64, nBatches)
			pos := make([]crashBatchPos, nBatches)
			var prev crashBatchPos
			for x := range batches {
				batches[x] = int64(x + 1)
				if err := crashSimpleWrite(db, batches[x]); err != nil {
					t.Fatalf("write batch %d: %v", batches[x], err)
				}
				// The batch ends in the last segment that holds records (a
				// roll may have left a new, empty one after it).
				segs := crashWALSegments(t, dir)
				seg, size := "", int64(0)
				for _, sg := range slices.Backward(segs) {
					if size = crashFileSize(t, sg); size > crashSegHeader {
						seg = sg
						break
					}
				}
				if seg == "" {
					t.Fatalf("no WAL record on disk after batch %d", batches[x])
				}
				p := crashBatchPos{seg: seg, start: crashSegHeader, end: size}
				if seg == prev.seg {
					p.start = prev.end
				}
				pos[x], prev = p, p
			}
			if err := db.Close(); err != nil {
				t.Fatal(err)
			}
			segs := crashWALSegments(t, dir)
			lastSeg := segs[len(segs)-1]
			if c.segSz > 0 && len(segs) < 3 {
				t.Fatalf("want several segments, got %d", len(segs))
			}
			want := map[int64]bool{}
			if c.victim < 0 {
				c.apply(t, lastSeg, 0, crashFileSize(t, lastSeg))
				for _, b := range batches {
					want[b] = true
				}
			} else {
				p := pos[c.victim]
				if c.earlierSeg && p.seg == pos[last].seg {
					t.Fatalf("batch %d is in the last segment with records; pick an earlier one", batches[c.victim])
				}
				c.apply(t, p.seg, p.start, p.end)
				for x, b := range batches {
					want[b] = x < c.victim
				}
			}

			db, err = ugnos.Open(dir, opts...)
			if err != nil {
				t.Fatalf("reopen after damage: %v", err)
			}
			rep := db.Recovery()
			t.Logf("recovery: %+v", rep)
			if !rep.Truncated && !strings.HasPrefix(c.name, "roll-") {
				t.Errorf("Recovery().Truncated = false after damaging the log")
			}
			if rep.Truncated && rep.Reason == "" {
				t.Errorf("Recovery().Reason is empty")
			}
			if c.earlierSeg && len(rep.MovedAside) == 0 {
				t.Errorf("corruption in an earlier segment moved no later segment aside")
			}
			crashCheckBatches(t, db, want, batches)

			// New writes after the repair work and survive another reopen.
			more := []int64{101, 102, 103}
			for _, b := range more {
				if err := crashSimpleWrite(db, b); err != nil {
					t.Fatalf("write after repair: %v", err)
				}
				want[b] = true
			}
			all := append(slices.Clone(batches), more...)
			crashCheckBatches(t, db, want, all)
			if err := db.Close(); err != nil {
				t.Fatal(err)
			}
			db, err = ugnos.Open(dir, opts...)
			if err != nil {
				t.Fatalf("second reopen: %v", err)
			}
			if rep := db.Recovery(); rep.Truncated {
				t.Errorf("second reopen found damage again (the repair did not stick): %+v", rep)
			}
			crashCheckBatches(t, db, want, all)
			if err := db.Close(); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// crashNextSegment creates the segment that would follow seg (of size
// size) with the given content, as a crash in the middle of a roll leaves
// it.
func crashNextSegment(t *testing.T, seg string, size int64, content []byte) {
	t.Helper()
	base, err := strconv.ParseUint(strings.TrimSuffix(filepath.Base(seg), ".wal"), 10, 64)
	if err != nil {
		t.Fatalf("segment name %s: %v", seg, err)
	}
	next := filepath.Join(filepath.Dir(seg), fmt.Sprintf("%020d.wal", base+uint64(size-crashSegHeader)))
	if err := os.WriteFile(next, content, 0o644); err != nil {
		t.Fatal(err)
	}
}

// ---------------------------------------------------------------------------
// The directory lock.

func TestCrashSecondOpenRefused(t *testing.T) {
	dir := t.TempDir()
	db, err := ugnos.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Insert(crashTenant, "lock", crashTSBase, 1, nil); err != nil {
		t.Fatal(err)
	}
	for attempt := 0; attempt < 2; attempt++ { // a refused Open must not release the first's lock
		db2, err := ugnos.Open(dir)
		if err == nil {
			db2.Close()
			t.Fatalf("attempt %d: second Open of %s succeeded while the first is open", attempt, dir)
		}
		msg := err.Error()
		if !strings.Contains(msg, "in use") && !strings.Contains(strings.ToLower(msg), "lock") {
			t.Errorf("second Open error is not clear about the cause: %q", msg)
		}
		t.Logf("second Open: %v", err)
	}
	// Another process is refused too.
	if !testing.Short() {
		cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$", "-test.count=1")
		cmd.Env = append(os.Environ(), crashChildEnv+"="+dir, crashModeEnv+"=tryopen")
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("child: %v: %s", err, out)
		}
		if !bytes.HasPrefix(out, []byte("refused ")) {
			t.Errorf("Open in another process while the directory is open: %q, want refused", out)
		}
	}
	// The first handle still works, and after Close the directory opens.
	if err := db.Insert(crashTenant, "lock", crashTSBase+1, 2, nil); err != nil {
		t.Fatalf("first DB broken by the refused Open: %v", err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	db, err = ugnos.Open(dir)
	if err != nil {
		t.Fatalf("Open after Close: %v", err)
	}
	defer db.Close()
	pts, err := db.Query(context.Background(), crashTenant, "lock", ugnos.QueryOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(pts) != 2 || pts[0].Value != 1 || pts[1].Value != 2 {
		t.Errorf("after reopen: %+v, want values 1 and 2", pts)
	}
}
