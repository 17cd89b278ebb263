package ugnos_test

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ugnos/ugnos"
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
