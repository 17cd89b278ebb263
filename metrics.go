package ugnos

import (
	"sync"
	"time"
)

// Metrics is a snapshot of the database's figures.
type Metrics struct {
	Uptime           time.Duration
	Tenants          int
	Tables           int
	Series           int64
	Points           int64 // rows stored
	MemoryBytes      int64 // bytes held by the in-memory tier (sealed batches + write buffers)
	SealedBatches    int
	SealedBytes      int64
	IngestedRows     int64   // rows written since Open (excluding replay)
	IngestRate       float64 // rows/s since Open
	Writes           int64   // write calls since Open
	WALBytes         int64
	WALRecords       int64
	WALSyncs         int64
	Queries          int64
	QueryLatency     time.Duration // mean
	QueryLatencyP99  time.Duration
	QueryLatencyMax  time.Duration
	RowsScanned      int64 // rows examined by Query since Open
	DiskRows         int64 // rows in segment files (deleted ones until compaction purges them)
	Segments         int   // live segment files
	SegmentBytes     int64
	Checkpoints      int64 // since Open
	Compactions      int64 // compaction units since Open
	ThrottleWaits    int64 // 2 ms waits of writers held back by the memory limit
	RetentionDeletes int64 // deletes of expired rows since Open
	ExpiredFiles     int64 // segment files dropped whole by retention since Open
	CacheBytes       int64 // decoded segment columns cached
	CacheHits        int64
	CacheMisses      int64
}

// queryStats accumulates query latencies in a log2 histogram of µs.
type queryStats struct {
	mu      sync.Mutex
	count   int64
	total   time.Duration
	max     time.Duration
	scanned int64
	hist    [40]int64
}

func (q *queryStats) record(d time.Duration, scanned int64) {
	b := 0
	for us := d.Microseconds(); us > 0 && b < len(q.hist)-1; us >>= 1 {
		b++
	}
	q.mu.Lock()
	q.count++
	q.total += d
	q.max = max(q.max, d)
	q.scanned += scanned
	q.hist[b]++
	q.mu.Unlock()
}

// p99 returns the upper bound of the bucket holding the 99th percentile.
func (q *queryStats) p99() time.Duration {
	if q.count == 0 {
		return 0
	}
	want := (q.count*99 + 99) / 100
	var seen int64
	for b, n := range q.hist {
		seen += n
		if seen >= want {
			return min(time.Duration(int64(1)<<b)*time.Microsecond, q.max)
		}
	}
	return q.max
}

// Metrics returns current figures.
func (db *DB) Metrics() Metrics {
	st := db.eng.Stats()
	m := Metrics{
		Uptime: st.Uptime, Tenants: st.Tenants, Tables: st.Tables, Series: st.Series, Points: st.Rows,
		MemoryBytes: st.SealedBytes + st.ActiveBytes, SealedBatches: st.SealedBatches, SealedBytes: st.SealedBytes,
		IngestedRows: st.IngestedRows, Writes: st.Writes,
		WALBytes: int64(st.WAL.Bytes), WALRecords: int64(st.WAL.Records), WALSyncs: int64(st.WAL.Fsyncs),
		DiskRows: st.DiskRows, Segments: st.Segments, SegmentBytes: st.SegmentBytes, Checkpoints: st.Checkpoints,
		Compactions: st.Compactions, ThrottleWaits: st.ThrottleWaits, RetentionDeletes: st.RetentionDeletes, ExpiredFiles: st.ExpiredFiles,
		CacheBytes: st.Cache.Bytes, CacheHits: st.Cache.Hits, CacheMisses: st.Cache.Misses,
	}
	if s := st.Uptime.Seconds(); s > 0 {
		m.IngestRate = float64(st.IngestedRows) / s
	}
	q := &db.queries
	q.mu.Lock()
	m.Queries, m.RowsScanned, m.QueryLatencyMax = q.count, q.scanned, q.max
	if q.count > 0 {
		m.QueryLatency = q.total / time.Duration(q.count)
	}
	m.QueryLatencyP99 = q.p99()
	q.mu.Unlock()
	return m
}
