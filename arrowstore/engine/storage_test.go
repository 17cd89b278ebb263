package engine

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/ugnos/ugnos/arrowstore"
	"github.com/ugnos/ugnos/errs"
)

var bg = context.Background()

const hour = int64(3600e9)

// pt is one row: host tag, time, value.
type pt struct {
	host string
	t    int64
	v    float64
}

func writePts(t testing.TB, e *Engine, tenant, table string, pts []pt) {
	t.Helper()
	mem := memory.DefaultAllocator
	tb, hb, vb := array.NewInt64Builder(mem), array.NewStringBuilder(mem), array.NewFloat64Builder(mem)
	for _, p := range pts {
		tb.Append(p.t)
		hb.Append(p.host)
		vb.Append(p.v)
	}
	schema := arrow.NewSchema([]arrow.Field{{Name: "time", Type: arrow.PrimitiveTypes.Int64}, {Name: "host", Type: arrow.BinaryTypes.String},
		{Name: "v", Type: arrow.PrimitiveTypes.Float64}}, nil)
	rec := array.NewRecordBatch(schema, []arrow.Array{tb.NewArray(), hb.NewArray(), vb.NewArray()}, int64(len(pts)))
	defer rec.Release()
	if err := e.Write(bg, tenant, table, rec); err != nil {
		t.Fatal(err)
	}
}

// readAll returns every row of a table as "host@t=v", sorted.
func readAll(t testing.TB, e *Engine, tenant, table string) []string {
	t.Helper()
	tb, err := e.Table(tenant, table)
	if err != nil {
		t.Fatal(err)
	}
	r, err := tb.Scan(bg, arrowstore.ScanRequest{MinT: arrowstore.MinTime, MaxT: arrowstore.MaxTime, Columns: []string{"time", "host", "v"}})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Release()
	var out []string
	for r.Next() {
		rec := r.RecordBatch()
		ts := rec.Column(0).(*array.Timestamp)
		hs := rec.Column(1).(*array.Dictionary)
		hv := hs.Dictionary().(*array.String)
		vs := rec.Column(2).(*array.Float64)
		for i := 0; i < int(rec.NumRows()); i++ {
			out = append(out, fmt.Sprintf("%s@%d=%g", hv.Value(hs.GetValueIndex(i)), int64(ts.Value(i)), vs.Value(i)))
		}
	}
	if err := r.Err(); err != nil {
		t.Fatal(err)
	}
	slices.Sort(out)
	return out
}

func want(pts []pt) []string {
	out := make([]string, len(pts))
	for i, p := range pts {
		out[i] = fmt.Sprintf("%s@%d=%g", p.host, p.t, p.v)
	}
	slices.Sort(out)
	return out
}

func check(t *testing.T, e *Engine, tenant, table string, pts []pt) {
	t.Helper()
	got, w := readAll(t, e, tenant, table), want(pts)
	if !slices.Equal(got, w) {
		t.Fatalf("%d rows, want %d\n got %.10v\nwant %.10v", len(got), len(w), got, w)
	}
}

func openDir(t *testing.T, dir string, opts Options) *Engine {
	t.Helper()
	e, err := Open(dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func segFiles(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	filepath.WalkDir(filepath.Join(dir, "segments"), func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			rel, _ := filepath.Rel(dir, p)
			out = append(out, filepath.ToSlash(rel))
		}
		return nil
	})
	slices.Sort(out)
	return out
}

// TestCheckpointLayout checks the files a checkpoint leaves: one segment
// per table and UTC day under escaped names, a manifest, a truncated WAL;
// and that everything reads back after reopening.
func TestCheckpointLayout(t *testing.T) {
	dir := t.TempDir()
	opts := Options{SegmentSize: 4 << 10, NoBackground: true}
	e := openDir(t, dir, opts)
	var a, b []pt
	for i := range 3000 {
		a = append(a, pt{fmt.Sprintf("h%d", i%7), int64(i) * hour / 40, float64(i)}) // 75 h: four days
	}
	for i := range 500 {
		b = append(b, pt{"x", -hour + int64(i)*1e9, float64(-i)}) // before 1970
	}
	writePts(t, e, "t1", "cpu", a[:1500])
	writePts(t, e, "odd/../name", "a b.c", b)
	walBefore := e.wal.Stats().Segments
	if err := e.Checkpoint(bg); err != nil {
		t.Fatal(err)
	}
	writePts(t, e, "t1", "cpu", a[1500:])
	files := segFiles(t, dir)
	wantFiles := []string{
		"segments/odd%2F%2E%2E%2Fname/a%20b%2Ec-1/1969-12-31/3.parquet",
		"segments/t1/cpu-0/1970-01-01/1.parquet",
		"segments/t1/cpu-0/1970-01-02/2.parquet",
	}
	if !slices.Equal(files, wantFiles) {
		t.Fatalf("segment files %v, want %v", files, wantFiles)
	}
	if after := e.wal.Stats().Segments; after >= walBefore || after > 2 {
		t.Fatalf("WAL segments %d before the checkpoint, %d after", walBefore, after)
	}
	st := e.Stats()
	if st.Segments != 3 || st.DiskRows != 2000 || st.Rows != 3500 {
		t.Fatalf("stats %+v", st)
	}
	check(t, e, "t1", "cpu", a)
	check(t, e, "odd/../name", "a b.c", b)
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	e = openDir(t, dir, opts)
	check(t, e, "t1", "cpu", a)
	check(t, e, "odd/../name", "a b.c", b)
	if err := e.Checkpoint(bg); err != nil {
		t.Fatal(err)
	}
	e.Close()
	e = openDir(t, dir, opts)
	defer e.Close()
	check(t, e, "t1", "cpu", a)
	if st := e.Stats(); st.DiskRows != 3500 || st.Rows != 3500 {
		t.Fatalf("after the second checkpoint: %+v", st)
	}
	// a dropped table's files go at the next checkpoint
	if err := e.DropTable("odd/../name", "a b.c", false); err != nil {
		t.Fatal(err)
	}
	if err := e.Checkpoint(bg); err != nil {
		t.Fatal(err)
	}
	for _, f := range segFiles(t, dir) {
		if strings.Contains(f, "odd") {
			t.Fatalf("file of the dropped table left: %s", f)
		}
	}
}

// TestDeleteSegments deletes rows on disk and in memory, counts them,
// and checks that compaction purges them and that reopening keeps the
// result.
func TestDeleteSegments(t *testing.T) {
	dir := t.TempDir()
	e := openDir(t, dir, Options{NoBackground: true})
	var pts []pt
	for i := range 2000 {
		pts = append(pts, pt{fmt.Sprintf("h%d", i%4), int64(i) * 1e9, float64(i)})
	}
	writePts(t, e, "t", "m", pts[:1000])
	if err := e.Checkpoint(bg); err != nil {
		t.Fatal(err)
	}
	writePts(t, e, "t", "m", pts[1000:])
	// rows 500..1499 of h1: half on disk, half in memory
	n, err := e.Delete(bg, "t", "m", 500e9, 1499e9, []arrowstore.Filter{{Column: "host", Op: arrowstore.OpEq, Values: []string{"h1"}}})
	if err != nil {
		t.Fatal(err)
	}
	var kept []pt
	for _, p := range pts {
		if !(p.host == "h1" && p.t >= 500e9 && p.t <= 1499e9) {
			kept = append(kept, p)
		}
	}
	if int(n) != len(pts)-len(kept) {
		t.Fatalf("delete removed %d, want %d", n, len(pts)-len(kept))
	}
	// deleting again finds nothing
	if n, err := e.Delete(bg, "t", "m", 500e9, 1499e9, []arrowstore.Filter{{Column: "host", Op: arrowstore.OpEq, Values: []string{"h1"}}}); err != nil || n != 0 {
		t.Fatalf("second delete: %d, %v", n, err)
	}
	check(t, e, "t", "m", kept)
	e.Close()
	e = openDir(t, dir, Options{NoBackground: true})
	check(t, e, "t", "m", kept)
	if err := e.Checkpoint(bg); err != nil {
		t.Fatal(err)
	}
	if err := e.Compact(bg); err != nil {
		t.Fatal(err)
	}
	st := e.Stats()
	if st.DiskRows != int64(len(kept)) || st.Segments != 1 {
		t.Fatalf("after compaction: %d rows in %d segments, want %d in 1", st.DiskRows, st.Segments, len(kept))
	}
	if tb, _ := e.table("t", "m"); len(tb.tombs) != 0 {
		t.Fatalf("tombstones left after the purge: %+v", tb.tombs)
	}
	check(t, e, "t", "m", kept)
	e.Close()
	e = openDir(t, dir, Options{NoBackground: true})
	defer e.Close()
	check(t, e, "t", "m", kept)
	// everything deleted: the file goes
	if _, err := e.Delete(bg, "t", "m", arrowstore.MinTime, arrowstore.MaxTime, nil); err != nil {
		t.Fatal(err)
	}
	if err := e.Compact(bg); err != nil {
		t.Fatal(err)
	}
	if st := e.Stats(); st.Segments != 0 || len(segFiles(t, dir)) != 0 {
		t.Fatalf("after deleting everything: %+v, files %v", st, segFiles(t, dir))
	}
	check(t, e, "t", "m", nil)
}

// TestCompactLatePoints: small files of a partition are merged into one,
// time-sorted; a late point later adds a small file that is merged with
// other small ones, never with the large file.
func TestCompactLatePoints(t *testing.T) {
	dir := t.TempDir()
	opts := Options{CompactBytes: 100 << 10, NoBackground: true} // a file over 50 KiB decoded is large
	e := openDir(t, dir, opts)
	defer e.Close()
	var pts []pt
	for c := range 4 { // four checkpoints of interleaved hours of one day
		var batch []pt
		for i := range 1000 {
			batch = append(batch, pt{fmt.Sprintf("h%d", i%3), int64(c)*hour + int64(i)*hour/1000*4%(20*hour), float64(c*1000 + i)})
		}
		writePts(t, e, "t", "m", batch)
		pts = append(pts, batch...)
		if err := e.Checkpoint(bg); err != nil {
			t.Fatal(err)
		}
	}
	if n := len(segFiles(t, dir)); n != 4 {
		t.Fatalf("%d files before compaction", n)
	}
	if err := e.Compact(bg); err != nil {
		t.Fatal(err)
	}
	files := segFiles(t, dir)
	if len(files) != 1 {
		t.Fatalf("files after compaction: %v", files)
	}
	check(t, e, "t", "m", pts)
	tb, _ := e.table("t", "m")
	big := tb.segs[0]
	// row groups are time slabs: each starts at or after the previous ends
	for i := 1; i < len(big.meta.RowGroups); i++ {
		if big.meta.RowGroups[i].MinT < big.meta.RowGroups[i-1].MaxT {
			t.Fatalf("row groups %d and %d overlap in time", i-1, i)
		}
	}
	if decodedBytes(big) < opts.CompactBytes/2 {
		t.Fatalf("merged file is small (%d bytes decoded); the test needs it large", decodedBytes(big))
	}
	for k := range 2 { // two late points, a checkpoint each
		late := []pt{{"h0", 7*hour + int64(k), -1}}
		writePts(t, e, "t", "m", late)
		pts = append(pts, late...)
		if err := e.Checkpoint(bg); err != nil {
			t.Fatal(err)
		}
	}
	if err := e.Compact(bg); err != nil {
		t.Fatal(err)
	}
	files = segFiles(t, dir)
	if len(files) != 2 || !slices.Contains(files, files[0]) || files[0] != filepath.ToSlash(big.ref.Path) && files[1] != filepath.ToSlash(big.ref.Path) {
		t.Fatalf("files after the late points: %v (large file %s must stay)", files, big.ref.Path)
	}
	check(t, e, "t", "m", pts)
}

// TestCorruptManifest: a damaged manifest, catalog or missing segment
// file makes Open fail with a corruption error, never start empty.
func TestCorruptManifest(t *testing.T) {
	for _, damage := range []string{"manifest", "catalog", "segment"} {
		t.Run(damage, func(t *testing.T) {
			dir := t.TempDir()
			e := openDir(t, dir, Options{})
			writePts(t, e, "t", "m", []pt{{"a", 1, 1}, {"b", 2, 2}})
			if err := e.Checkpoint(bg); err != nil {
				t.Fatal(err)
			}
			e.Close()
			switch damage {
			case "manifest":
				os.WriteFile(filepath.Join(dir, manifestName), []byte("{\"version\": 1, \"lsn\": "), 0o644)
			case "catalog":
				p := filepath.Join(dir, filepath.FromSlash(e.man.Catalog.Path))
				b, _ := os.ReadFile(p)
				b[len(b)-1] ^= 1
				os.WriteFile(p, b, 0o644)
			case "segment":
				os.Remove(filepath.Join(dir, filepath.FromSlash(e.man.Segments[0].Path)))
			}
			_, err := Open(dir, Options{})
			if !errors.Is(err, errs.ErrCorrupt) {
				t.Fatalf("open with a damaged %s: %v", damage, err)
			}
		})
	}
}

// TestConcurrentMaintenance runs writers, readers and deletes while
// checkpoints and compactions run (under -race in CI), then checks the
// exact content, before and after reopening.
func TestConcurrentMaintenance(t *testing.T) {
	dir := t.TempDir()
	opts := Options{CompactBytes: 64 << 10, NoBackground: true}
	e := openDir(t, dir, opts)
	// rows of host "del" to be deleted concurrently, one second at a time
	var del []pt
	for i := range 400 {
		del = append(del, pt{"del", int64(i) * 1e8, float64(i)})
	}
	writePts(t, e, "t", "m", del)
	const writers, perWriter = 3, 60
	done := make(chan struct{})
	errc := make(chan error, 16)
	var wg, bgwg sync.WaitGroup
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := range perWriter {
				var b []pt
				for i := range 20 {
					b = append(b, pt{fmt.Sprintf("w%d", w), int64(k*20+i) * 1e9, float64(w)})
				}
				writePts(t, e, "t", "m", b)
			}
		}()
	}
	bgwg.Add(3)
	go func() { // maintenance
		defer bgwg.Done()
		for {
			select {
			case <-done:
				return
			default:
			}
			if err := e.Checkpoint(bg); err != nil {
				errc <- err
				return
			}
			if err := e.Compact(bg); err != nil {
				errc <- err
				return
			}
		}
	}()
	go func() { // readers: rows of a writer only grow, never repeat
		defer bgwg.Done()
		last := 0
		for {
			select {
			case <-done:
				return
			default:
			}
			rows := readAll(t, e, "t", "m")
			n := 0
			for i, r := range rows {
				if i > 0 && rows[i-1] == r {
					errc <- fmt.Errorf("row %s twice", r)
					return
				}
				if strings.HasPrefix(r, "w0@") {
					n++
				}
			}
			if n < last {
				errc <- fmt.Errorf("writer 0 had %d rows, now %d", last, n)
				return
			}
			last = n
		}
	}()
	deleted := 0
	go func() { // deletes, one second of "del" at a time
		defer bgwg.Done()
		for s := int64(0); s < 40; s++ {
			n, err := e.Delete(bg, "t", "m", s*1e9, s*1e9+5e8, []arrowstore.Filter{{Column: "host", Op: arrowstore.OpEq, Values: []string{"del"}}})
			if err != nil {
				errc <- err
				return
			}
			deleted += int(n)
		}
	}()
	wg.Wait()
	close(done)
	bgwg.Wait()
	select {
	case err := <-errc:
		t.Fatal(err)
	default:
	}
	var all []pt
	for _, p := range del {
		if p.t%1e9 > 5e8 {
			all = append(all, p)
		}
	}
	if deleted != len(del)-len(all) {
		t.Fatalf("deletes removed %d rows, want %d", deleted, len(del)-len(all))
	}
	for w := range writers {
		for i := range perWriter * 20 {
			all = append(all, pt{fmt.Sprintf("w%d", w), int64(i) * 1e9, float64(w)})
		}
	}
	check(t, e, "t", "m", all)
	e.Close()
	e = openDir(t, dir, opts)
	defer e.Close()
	check(t, e, "t", "m", all)
}

// TestRetention: expired rows disappear from scans at once; in the
// background, wholly expired segment files are dropped and the rest of
// the expired rows deleted; periods survive reopening; a tenant's default
// applies to tables without their own.
func TestRetention(t *testing.T) {
	dir := t.TempDir()
	opts := Options{NoBackground: true}
	e := openDir(t, dir, opts)
	now := time.Now().UnixNano()
	day := 24 * hour
	var pts []pt
	for i := range 600 { // one point every 10 minutes over the last 100 hours
		pts = append(pts, pt{fmt.Sprintf("h%d", i%2), now - int64(i)*hour/6, float64(i)})
	}
	writePts(t, e, "t", "m", pts[300:]) // the older half
	if err := e.Checkpoint(bg); err != nil {
		t.Fatal(err)
	}
	writePts(t, e, "t", "m", pts[:300])
	files := len(segFiles(t, dir))
	if files < 2 {
		t.Fatalf("%d segment files; the test wants several days", files)
	}
	if err := e.SetRetention("t", "m", 30*time.Hour); err != nil {
		t.Fatal(err)
	}
	keep := func(period int64) []pt {
		var out []pt
		for _, p := range pts {
			if p.t >= time.Now().UnixNano()-period+int64(time.Minute) { // a minute of slack for the clock
				out = append(out, p)
			}
		}
		return out
	}
	visible := func() int { return len(readAll(t, e, "t", "m")) }
	if n, w := visible(), len(keep(30*hour)); n < w || n > w+1 {
		t.Fatalf("%d rows visible, want %d", n, w)
	}
	if err := e.enforceRetention(bg); err != nil {
		t.Fatal(err)
	}
	st := e.Stats()
	if st.ExpiredFiles == 0 || len(segFiles(t, dir)) >= files {
		t.Fatalf("no expired segment file dropped: %+v, files %v", st, segFiles(t, dir))
	}
	if st.Rows > int64(len(keep(30*hour)))+1+int64(st.DiskRows) {
		t.Fatalf("expired rows still stored: %+v", st)
	}
	if err := e.Checkpoint(bg); err != nil {
		t.Fatal(err)
	}
	if err := e.Compact(bg); err != nil {
		t.Fatal(err)
	}
	if st := e.Stats(); st.Rows > int64(len(keep(30*hour)))+1 {
		t.Fatalf("after compaction %d rows stored, want about %d", st.Rows, len(keep(30*hour)))
	}
	// a tenant default, for a table without its own period
	writePts(t, e, "t", "other", pts)
	if err := e.SetRetention("t", "", 48*time.Hour); err != nil {
		t.Fatal(err)
	}
	if p, _ := e.Retention("t", "other"); p != 48*time.Hour {
		t.Fatalf("retention of t.other %v", p)
	}
	if p, _ := e.Retention("t", "m"); p != 30*time.Hour {
		t.Fatalf("retention of t.m %v", p)
	}
	e.Close()
	e = openDir(t, dir, opts)
	defer e.Close()
	if p, _ := e.Retention("t", "other"); p != 48*time.Hour {
		t.Fatalf("after reopening: retention of t.other %v", p)
	}
	if n, w := len(readAll(t, e, "t", "other")), len(keep(2*day)); n < w || n > w+1 {
		t.Fatalf("t.other: %d rows visible, want %d", n, w)
	}
	if err := e.Checkpoint(bg); err != nil { // the periods now come from the catalog file
		t.Fatal(err)
	}
	e.Close()
	e = openDir(t, dir, opts)
	if p, _ := e.Retention("t", "m"); p != 30*time.Hour {
		t.Fatalf("after a checkpoint and reopening: retention of t.m %v", p)
	}
	if err := e.SetRetention("t", "m", -time.Hour); err == nil {
		t.Fatal("a negative period was accepted")
	}
}

// TestPurgeThreshold: a large file is not rewritten for a few deleted
// rows (they stay hidden), and is once they are a tenth of it.
func TestPurgeThreshold(t *testing.T) {
	dir := t.TempDir()
	e := openDir(t, dir, Options{CompactBytes: 16 << 10, NoBackground: true}) // a file over 8 KiB decoded is large
	defer e.Close()
	var pts []pt
	for i := range 2000 {
		pts = append(pts, pt{fmt.Sprintf("h%d", i%4), int64(i) * 1e9, float64(i)})
	}
	writePts(t, e, "t", "m", pts)
	if err := e.Checkpoint(bg); err != nil {
		t.Fatal(err)
	}
	before := segFiles(t, dir)
	del := func(lo, hi int64) {
		if _, err := e.Delete(bg, "t", "m", lo*1e9, hi*1e9, nil); err != nil {
			t.Fatal(err)
		}
		var kept []pt
		for _, p := range pts {
			if p.t < lo*1e9 || p.t > hi*1e9 {
				kept = append(kept, p)
			}
		}
		pts = kept
	}
	del(100, 149) // 50 rows: 2.5%
	if err := e.Compact(bg); err != nil {
		t.Fatal(err)
	}
	if after := segFiles(t, dir); !slices.Equal(after, before) {
		t.Fatalf("rewritten for 2.5%% deleted rows: %v -> %v", before, after)
	}
	check(t, e, "t", "m", pts)
	del(1000, 1299) // 300 more: over a tenth
	if err := e.Compact(bg); err != nil {
		t.Fatal(err)
	}
	if after := segFiles(t, dir); slices.Equal(after, before) {
		t.Fatalf("not rewritten with 17.5%% deleted rows: %v", after)
	}
	if st := e.Stats(); st.DiskRows != int64(len(pts)) {
		t.Fatalf("%d rows on disk after the purge, want %d", st.DiskRows, len(pts))
	}
	check(t, e, "t", "m", pts)
}

// TestScanDuringPurge: a scan begun after a delete never shows the
// deleted rows, even when compaction purges them from the file the scan
// is reading and forgets the tombstone meanwhile.
func TestScanDuringPurge(t *testing.T) {
	e := openDir(t, t.TempDir(), Options{NoBackground: true})
	defer e.Close()
	var pts []pt
	for i := range 1000 {
		pts = append(pts, pt{"h", int64(i) * 1e9, float64(i)})
	}
	writePts(t, e, "t", "m", pts)
	if err := e.Checkpoint(bg); err != nil {
		t.Fatal(err)
	}
	if n, err := e.Delete(bg, "t", "m", 0, 499e9, nil); err != nil || n != 500 {
		t.Fatalf("delete: %d, %v", n, err)
	}
	tb, _ := e.Table("t", "m")
	rd, err := tb.Scan(bg, arrowstore.ScanRequest{MinT: arrowstore.MinTime, MaxT: arrowstore.MaxTime, Columns: []string{"time"}})
	if err != nil {
		t.Fatal(err)
	}
	defer rd.Release()
	if err := e.Compact(bg); err != nil { // purges the file, drops the tombstone
		t.Fatal(err)
	}
	if tt, _ := e.table("t", "m"); len(tt.tombs) != 0 {
		t.Fatalf("the purge kept %d tombstones", len(tt.tombs))
	}
	n := 0
	for rd.Next() {
		ts := rd.RecordBatch().Column(0).(*array.Timestamp)
		for i := 0; i < ts.Len(); i++ {
			if ts.Value(i) < 500e9 {
				t.Fatalf("the scan shows deleted row %d", ts.Value(i))
			}
			n++
		}
	}
	if rd.Err() != nil || n != 500 {
		t.Fatalf("%d rows, %v", n, rd.Err())
	}
}

// TestFirstCheckpointCrashLeavesNoFiles: files of a first checkpoint that
// crashed before writing its manifest are removed on opening (found by
// TestCrashKill9: a segment on disk that nothing lists).
func TestFirstCheckpointCrashLeavesNoFiles(t *testing.T) {
	dir := t.TempDir()
	stray := []string{filepath.Join(dir, "segments", "acme", "cpu-1", "2024-01-01", "1.parquet"), filepath.Join(dir, "catalog", "1.bin")}
	for _, p := range stray {
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte("half a checkpoint"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	e := openDir(t, dir, Options{})
	defer e.Close()
	for _, p := range stray {
		if _, err := os.Stat(p); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s still there after opening: %v", p, err)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "segments")); err != nil {
		t.Errorf("the segments directory itself was removed: %v", err)
	}
}
