package ugnos_test

import (
	"fmt"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/ugnos/ugnos"
	"github.com/ugnos/ugnos/arrowstore"
)

// TestLargerThanMemory ingests five times the memory limit (the TSBS-shaped
// rows of the differential tests, in shuffled chunks), checks that the
// in-memory tier stays near the limit, and runs every TSBS query type
// against the same data held all in memory: the answers must be equal,
// before and after reopening.
func TestLargerThanMemory(t *testing.T) {
	d := pgdGenerate()
	ref := openMem(t)
	d.loadUgnos(t, ref)
	ref.Flush()
	budget := ref.Metrics().MemoryBytes / 5
	dir := t.TempDir()
	opts := []ugnos.Option{ugnos.WithMemoryLimit(budget)}
	db, err := ugnos.Open(dir, opts...)
	must(t, err)
	var peak atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			if m := db.Metrics().MemoryBytes; m > peak.Load() {
				peak.Store(m)
			}
			select {
			case <-stop:
				return
			case <-time.After(200 * time.Microsecond):
			}
		}
	}()
	d.loadUgnos(t, db)
	close(stop)
	wg.Wait()
	m := db.Metrics()
	t.Logf("memory limit %d bytes; in-memory tier peaked at %d (%.1fx), now %d; %d checkpoints, %d segment files, %d rows on disk of %d",
		budget, peak.Load(), float64(peak.Load())/float64(budget), m.MemoryBytes, m.Checkpoints, m.Segments, m.DiskRows, m.Points)
	if m.Checkpoints == 0 || m.Segments == 0 || m.DiskRows == 0 {
		t.Fatalf("nothing moved to disk: %+v", m)
	}
	// writers are held back above twice the limit; one write (a 2,000-row
	// chunk) and the write buffers' spare capacity may pass it
	if limit := 3*budget + 1<<20; peak.Load() > limit {
		t.Errorf("in-memory tier peaked at %d bytes, over %d (limit %d)", peak.Load(), limit, budget)
	}
	compare := func(db *ugnos.DB, when string) {
		t.Helper()
		for _, q := range pgdTSBS {
			want, err := pgdRunUgnos(ref, q.sql)
			must(t, err)
			got, err := pgdRunUgnos(db, q.sql)
			if err != nil {
				t.Fatalf("%s, %s: %v", when, q.name, err)
			}
			if diff := pgdCompare(want, got, q.ordered); diff != "" {
				t.Errorf("%s, %s: %s", when, q.name, diff)
			}
		}
	}
	compare(db, "after ingest")
	must(t, db.Close())
	db, err = ugnos.Open(dir, opts...)
	must(t, err)
	defer db.Close()
	compare(db, "after reopening")
}

// TestSnapshotWhileWriting takes a snapshot while 8 writers ingest and
// restores it into a new directory: every batch acknowledged before the
// snapshot was called is there, none begun after it returned is, and each
// batch is there whole or not at all.
func TestSnapshotWhileWriting(t *testing.T) {
	const writers, rows = 8, 100
	db, err := ugnos.Open(t.TempDir(), ugnos.WithCheckpointWAL(128<<10))
	must(t, err)
	defer db.Close()
	schema := arrow.NewSchema([]arrow.Field{{Name: "time", Type: arrowstore.TimeType},
		{Name: "w", Type: arrow.BinaryTypes.String}, {Name: "v", Type: arrow.PrimitiveTypes.Float64}}, nil)
	batch := func(k int) arrow.RecordBatch {
		b := array.NewRecordBuilder(memory.DefaultAllocator, schema)
		defer b.Release()
		for i := range rows {
			b.Field(0).(*array.TimestampBuilder).Append(arrow.Timestamp(int64(k)*1e9 + int64(i)))
			b.Field(1).(*array.StringBuilder).Append(fmt.Sprintf("w%d", k%writers))
			b.Field(2).(*array.Float64Builder).Append(float64(k*1000 + i))
		}
		return b.NewRecordBatch()
	}
	var mu sync.Mutex
	begun, acked := map[int]time.Time{}, map[int]time.Time{}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := 0; ; n++ {
				select {
				case <-stop:
					return
				default:
				}
				k := w + writers*n
				rec := batch(k)
				mu.Lock()
				begun[k] = time.Now()
				mu.Unlock()
				err := db.WriteRecord(ctx, "t", "m", rec)
				rec.Release()
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				acked[k] = time.Now()
				mu.Unlock()
			}
		}()
	}
	time.Sleep(300 * time.Millisecond)
	snap := filepath.Join(t.TempDir(), "snap")
	t0 := time.Now()
	must(t, db.Snapshot(snap))
	t1 := time.Now()
	time.Sleep(100 * time.Millisecond)
	close(stop)
	wg.Wait()

	restored, err := ugnos.Open(t.TempDir())
	must(t, err)
	defer restored.Close()
	must(t, restored.Restore(snap))
	rd, err := restored.SQL(ctx, "t", "SELECT v FROM m")
	must(t, err)
	count := map[int]int{}
	for rd.Next() {
		vs := rd.RecordBatch().Column(0).(*array.Float64)
		for i := 0; i < vs.Len(); i++ {
			v := int(vs.Value(i))
			count[v/1000]++
		}
	}
	must(t, rd.Err())
	rd.Release()
	before, after, in := 0, 0, 0
	for k, n := range count {
		if n != rows {
			t.Errorf("batch %d has %d of its %d rows in the snapshot", k, n, rows)
		}
		if b, ok := begun[k]; !ok || b.After(t1) {
			t.Errorf("batch %d, begun after the snapshot returned, is in it", k)
		}
		in++
	}
	for k, a := range acked {
		switch {
		case a.Before(t0):
			before++
			if count[k] == 0 {
				t.Errorf("batch %d, acknowledged before the snapshot, is missing", k)
			}
		case begun[k].After(t1):
			after++
		}
	}
	t.Logf("%d batches acknowledged before the snapshot, %d begun after it; %d in the snapshot", before, after, in)
	if before == 0 || after == 0 {
		t.Fatalf("the writers did not overlap the snapshot (%d before, %d after)", before, after)
	}
}
