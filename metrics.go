package ugnos

import (
	"context"
	"errors"
	"math/bits"
	"reflect"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/ugnos/ugnos/errs"
)

// Metrics is a snapshot of the database's figures. Samples lists them
// under their Prometheus names; the SQL relation ugnos.metrics shows the
// same.
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
	WALFsyncTotal    time.Duration // time spent in fdatasync since Open
	WALFsyncLast     time.Duration // duration of the latest fdatasync
	Queries          int64
	QueriesRunning   int64         // statements whose results are still being read
	QueryLatency     time.Duration // mean
	QueryLatencyP99  time.Duration
	QueryLatencyMax  time.Duration
	QueryDurations   Histogram        // from start until the result is released
	WriteDurations   Histogram        // Insert, InsertBatch, WriteRecord, SQL INSERT
	QueryErrors      map[string]int64 // failed statements by ErrorKind (every kind present)
	WriteErrors      map[string]int64 // failed writes by ErrorKind (every kind present)
	RowsScanned      int64            // rows examined by Query since Open
	DiskRows         int64            // rows in segment files (deleted ones until compaction purges them)
	Segments         int              // live segment files
	SegmentBytes     int64
	Checkpoints      int64 // since Open
	Compactions      int64 // compaction units since Open
	ThrottleWaits    int64 // 2 ms waits of writers held back by the memory limit
	RetentionDeletes int64 // deletes of expired rows since Open
	ExpiredFiles     int64 // segment files dropped whole by retention since Open
	CacheBytes       int64 // decoded segment columns cached
	CacheHits        int64
	CacheMisses      int64
	// PerTenant holds each tenant's figures by name.
	PerTenant map[string]TenantMetrics
}

// TenantMetrics are one tenant's figures.
type TenantMetrics struct {
	Tables        int
	Series        int64
	Points        int64 // rows stored
	MemoryBytes   int64 // in-memory tier
	SegmentBytes  int64 // segment files on disk
	IngestedRows  int64 // rows written since Open (excluding replay)
	IngestedBytes int64 // bytes of those rows in Arrow form (see Samples)
}

// Histogram is a latency distribution: Buckets are cumulative counts of
// durations at most UpperBound, in ascending order; Count (every
// observation) is the +Inf bucket.
type Histogram struct {
	Count   int64
	Sum     time.Duration
	Buckets []HistogramBucket
}

// HistogramBucket is one cumulative bucket of a Histogram.
type HistogramBucket struct {
	UpperBound time.Duration
	Count      int64
}

// Error kinds of the error counters (ErrorKind).
var errorKinds = []string{"invalid", "not_found", "permission", "closed", "corrupt", "internal", "canceled", "other"}

// ErrorKind classifies an error for the error counters: invalid,
// not_found, permission, closed, corrupt, internal, canceled (the
// context was cancelled or timed out) or other.
func ErrorKind(err error) string {
	switch {
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return "canceled"
	case errors.Is(err, errs.ErrInvalidInput):
		return "invalid"
	case errors.Is(err, errs.ErrNotFound):
		return "not_found"
	case errors.Is(err, errs.ErrPermissionDenied):
		return "permission"
	case errors.Is(err, errs.ErrClosed):
		return "closed"
	case errors.Is(err, errs.ErrCorrupt):
		return "corrupt"
	case errors.Is(err, errs.ErrInternal):
		return "internal"
	}
	return "other"
}

// errorCounts counts errors by kind.
type errorCounts [8]atomic.Int64 // indexed like errorKinds

func (c *errorCounts) add(err error) {
	k := ErrorKind(err)
	for i, name := range errorKinds {
		if name == k {
			c[i].Add(1)
			return
		}
	}
}

func (c *errorCounts) snapshot() map[string]int64 {
	m := make(map[string]int64, len(errorKinds))
	for i, name := range errorKinds {
		m[name] = c[i].Load()
	}
	return m
}

// latency accumulates durations in a log2 histogram of µs: bucket b holds
// durations under 2^b µs (bucket 0: under 1 µs).
type latency struct {
	count atomic.Int64
	total atomic.Int64 // ns
	max   atomic.Int64 // ns
	hist  [40]atomic.Int64
}

func (l *latency) record(d time.Duration) {
	b := min(bits.Len64(uint64(max(d.Microseconds(), 0))), len(l.hist)-1)
	l.hist[b].Add(1)
	l.total.Add(int64(d))
	l.count.Add(1)
	for m := l.max.Load(); int64(d) > m && !l.max.CompareAndSwap(m, int64(d)); m = l.max.Load() {
	}
}

// histogram returns the distribution with bounds 1 µs, 4 µs, 16 µs, …
// (every other power of two, up to about 4.8 hours).
func (l *latency) histogram() Histogram {
	h := Histogram{Count: l.count.Load(), Sum: time.Duration(l.total.Load())}
	var cum int64
	for b := range l.hist {
		cum += l.hist[b].Load()
		if b%2 == 0 && b <= 34 {
			h.Buckets = append(h.Buckets, HistogramBucket{UpperBound: time.Duration(int64(1)<<b) * time.Microsecond, Count: cum})
		}
	}
	// observations recorded while we read may make the buckets exceed the
	// count read first; a histogram must not
	for i := range h.Buckets {
		h.Buckets[i].Count = min(h.Buckets[i].Count, h.Count)
	}
	return h
}

// p99 returns the upper bound of the log2 bucket holding the 99th
// percentile, at most the largest duration.
func (l *latency) p99() time.Duration {
	count, mx := l.count.Load(), time.Duration(l.max.Load())
	if count == 0 {
		return 0
	}
	want := (count*99 + 99) / 100
	var seen int64
	for b := range l.hist {
		seen += l.hist[b].Load()
		if seen >= want {
			return min(time.Duration(int64(1)<<b)*time.Microsecond, mx)
		}
	}
	return mx
}

// queryStats are the figures of statements and Query calls.
type queryStats struct {
	lat     latency
	scanned atomic.Int64
	running atomic.Int64
	errors  errorCounts
}

func (q *queryStats) record(d time.Duration, scanned int64) {
	q.lat.record(d)
	q.scanned.Add(scanned)
}

// writeStats are the figures of write calls, per tenant where it matters.
type writeStats struct {
	lat     latency
	errors  errorCounts
	tenants sync.Map // tenant name → *tenantIngest
}

type tenantIngest struct{ rows, bytes atomic.Int64 }

// done records a write call that started at start and wrote rows rows of
// size bytes, or failed with err.
func (w *writeStats) done(tenant string, start time.Time, rows, size int64, err error) {
	w.lat.record(time.Since(start))
	if err != nil {
		w.errors.add(err)
		return
	}
	v, ok := w.tenants.Load(tenant)
	if !ok {
		v, _ = w.tenants.LoadOrStore(tenant, &tenantIngest{})
	}
	ti := v.(*tenantIngest)
	ti.rows.Add(rows)
	ti.bytes.Add(size)
}

// pointsBytes is the size of single-value points as Arrow would hold them:
// 8 bytes of timestamp and 8 of value per point plus its tag values.
// Points that share a TagSet map are measured once.
func pointsBytes(points []Point) int64 {
	n := int64(16 * len(points))
	var last uintptr
	var lastSize int64
	for i := range points {
		if points[i].Tags == nil {
			continue
		}
		if p := reflect.ValueOf(points[i].Tags).Pointer(); p != last {
			last, lastSize = p, tagBytes(points[i].Tags)
		}
		n += lastSize
	}
	return n
}

func tagBytes(tags TagSet) int64 {
	var n int64
	for _, v := range tags {
		n += int64(len(v))
	}
	return n
}

// recordBytes is the size of a record's values: fixed-width values at
// their width, strings at their length, dictionary columns as indexes plus
// their dictionary.
func recordBytes(rec arrow.RecordBatch) int64 {
	var n int64
	for _, c := range rec.Columns() {
		n += arrayBytes(c)
	}
	return n
}

func arrayBytes(a arrow.Array) int64 {
	switch a := a.(type) {
	case *array.String:
		if offs := a.ValueOffsets(); len(offs) > 0 {
			return int64(offs[len(offs)-1] - offs[0])
		}
		return 0
	case *array.Dictionary:
		return arrayBytes(a.Indices()) + arrayBytes(a.Dictionary())
	}
	if fw, ok := a.DataType().(arrow.FixedWidthDataType); ok {
		return (int64(a.Len())*int64(fw.BitWidth()) + 7) / 8
	}
	return 0
}

// Metrics returns current figures.
func (db *DB) Metrics() Metrics {
	st := db.eng.Stats()
	m := Metrics{
		Uptime: st.Uptime, Tenants: st.Tenants, Tables: st.Tables, Series: st.Series, Points: st.Rows,
		MemoryBytes: st.SealedBytes + st.ActiveBytes, SealedBatches: st.SealedBatches, SealedBytes: st.SealedBytes,
		IngestedRows: st.IngestedRows, Writes: st.Writes,
		WALBytes: int64(st.WAL.Bytes), WALRecords: int64(st.WAL.Records), WALSyncs: int64(st.WAL.Fsyncs),
		WALFsyncTotal: st.WAL.TotalFsync, WALFsyncLast: st.WAL.LastFsync,
		DiskRows: st.DiskRows, Segments: st.Segments, SegmentBytes: st.SegmentBytes, Checkpoints: st.Checkpoints,
		Compactions: st.Compactions, ThrottleWaits: st.ThrottleWaits, RetentionDeletes: st.RetentionDeletes, ExpiredFiles: st.ExpiredFiles,
		CacheBytes: st.Cache.Bytes, CacheHits: st.Cache.Hits, CacheMisses: st.Cache.Misses,
	}
	if s := st.Uptime.Seconds(); s > 0 {
		m.IngestRate = float64(st.IngestedRows) / s
	}
	q := &db.queries
	m.QueryDurations = q.lat.histogram()
	m.Queries, m.RowsScanned, m.QueryLatencyMax = m.QueryDurations.Count, q.scanned.Load(), time.Duration(q.lat.max.Load())
	if m.Queries > 0 {
		m.QueryLatency = m.QueryDurations.Sum / time.Duration(m.Queries)
	}
	m.QueryLatencyP99 = q.lat.p99()
	m.QueriesRunning = q.running.Load()
	m.QueryErrors = q.errors.snapshot()
	m.WriteDurations = db.writes.lat.histogram()
	m.WriteErrors = db.writes.errors.snapshot()

	m.PerTenant = map[string]TenantMetrics{}
	for name, ts := range db.eng.TenantStats() {
		m.PerTenant[name] = TenantMetrics{Tables: ts.Tables, Series: ts.Series, Points: ts.Rows,
			MemoryBytes: ts.MemoryBytes, SegmentBytes: ts.SegmentBytes}
	}
	db.writes.tenants.Range(func(k, v any) bool {
		name, ti := k.(string), v.(*tenantIngest)
		if tm, ok := m.PerTenant[name]; ok { // dropped tenants drop out
			tm.IngestedRows, tm.IngestedBytes = ti.rows.Load(), ti.bytes.Load()
			m.PerTenant[name] = tm
		}
		return true
	})
	return m
}

// Sample is one figure of Metrics under its Prometheus name: a counter or
// gauge (Value), a summary without quantiles or a histogram (Hist), with
// at most one label.
type Sample struct {
	Name, Type, Help  string // Type: counter, gauge, summary or histogram
	Label, LabelValue string // "" when the figure has no label
	Value             float64
	Hist              *Histogram
}

// Samples lists m's figures under their Prometheus names (prefix ugnos_,
// seconds and bytes, counters ending _total), in a stable order: the
// /metrics endpoint and the ugnos.metrics relation both show them.
func (m Metrics) Samples() []Sample {
	g := func(name, help string, v float64) Sample {
		return Sample{Name: name, Type: "gauge", Help: help, Value: v}
	}
	c := func(name, help string, v float64) Sample {
		return Sample{Name: name, Type: "counter", Help: help, Value: v}
	}
	s := []Sample{
		g("ugnos_uptime_seconds", "Seconds since the database was opened.", m.Uptime.Seconds()),
		g("ugnos_tenants", "Tenants (databases).", float64(m.Tenants)),
		g("ugnos_tables", "Tables across all tenants.", float64(m.Tables)),
		g("ugnos_series", "Series (distinct tag sets) across all tables.", float64(m.Series)),
		g("ugnos_points", "Rows stored.", float64(m.Points)),
		g("ugnos_memory_bytes", "Bytes held by the in-memory tier (sealed batches and write buffers).", float64(m.MemoryBytes)),
		g("ugnos_sealed_batches", "Immutable sealed Arrow batches.", float64(m.SealedBatches)),
		g("ugnos_sealed_bytes", "Bytes held by sealed Arrow batches.", float64(m.SealedBytes)),
		c("ugnos_ingested_rows_total", "Rows written since the database was opened, WAL replay excluded.", float64(m.IngestedRows)),
		g("ugnos_ingest_rows_per_second", "Mean rows written per second since the database was opened.", m.IngestRate),
		c("ugnos_writes_total", "Write calls since the database was opened.", float64(m.Writes)),
		c("ugnos_wal_bytes_total", "Bytes appended to the write-ahead log, framing included.", float64(m.WALBytes)),
		c("ugnos_wal_records_total", "Records appended to the write-ahead log.", float64(m.WALRecords)),
		c("ugnos_wal_syncs_total", "fdatasync calls on write-ahead log segments.", float64(m.WALSyncs)),
		{Name: "ugnos_wal_fsync_duration_seconds", Type: "summary", Help: "Time in fdatasync of write-ahead log segments (count and sum).",
			Hist: &Histogram{Count: m.WALSyncs, Sum: m.WALFsyncTotal}},
		g("ugnos_wal_fsync_last_seconds", "Duration of the latest fdatasync of the write-ahead log.", m.WALFsyncLast.Seconds()),
		c("ugnos_queries_total", "Queries run since the database was opened.", float64(m.Queries)),
		g("ugnos_queries_running", "Statements whose results are being read.", float64(m.QueriesRunning)),
		{Name: "ugnos_query_duration_seconds", Type: "histogram", Help: "Query latency, from the start until the result is released.", Hist: &m.QueryDurations},
		g("ugnos_query_latency_mean_seconds", "Mean query latency.", m.QueryLatency.Seconds()),
		g("ugnos_query_latency_p99_seconds", "99th percentile query latency (upper bound of its log2 bucket).", m.QueryLatencyP99.Seconds()),
		g("ugnos_query_latency_max_seconds", "Largest query latency.", m.QueryLatencyMax.Seconds()),
		{Name: "ugnos_write_duration_seconds", Type: "histogram", Help: "Latency of write calls (acknowledged, so fsync included under --sync always).", Hist: &m.WriteDurations},
		c("ugnos_rows_scanned_total", "Rows examined by queries.", float64(m.RowsScanned)),
		g("ugnos_segments", "Live Parquet segment files.", float64(m.Segments)),
		g("ugnos_segment_bytes", "Bytes of the live segment files.", float64(m.SegmentBytes)),
		g("ugnos_disk_rows", "Rows in segment files (deleted ones until compaction purges them).", float64(m.DiskRows)),
		c("ugnos_checkpoints_total", "Checkpoints (rows moved from memory to segment files).", float64(m.Checkpoints)),
		c("ugnos_compactions_total", "Compaction units (small files merged, deleted rows purged).", float64(m.Compactions)),
		c("ugnos_memory_limit_waits_total", "2 ms waits of writers held back by the memory limit.", float64(m.ThrottleWaits)),
		c("ugnos_retention_deletes_total", "Deletes of rows past their retention period.", float64(m.RetentionDeletes)),
		c("ugnos_retention_dropped_files_total", "Segment files dropped whole by retention.", float64(m.ExpiredFiles)),
		g("ugnos_segment_cache_bytes", "Decoded segment columns held by the cache.", float64(m.CacheBytes)),
		c("ugnos_segment_cache_hits_total", "Segment column reads served by the cache.", float64(m.CacheHits)),
		c("ugnos_segment_cache_misses_total", "Segment column reads that decoded the file.", float64(m.CacheMisses)),
	}
	const tierHelp = "Bytes by storage tier: memory (sealed batches and write buffers), cache (decoded segment columns), disk (segment files)."
	for _, t := range []struct {
		tier string
		v    int64
	}{{"memory", m.MemoryBytes}, {"cache", m.CacheBytes}, {"disk", m.SegmentBytes}} {
		s = append(s, Sample{Name: "ugnos_storage_bytes", Type: "gauge", Help: tierHelp, Label: "tier", LabelValue: t.tier, Value: float64(t.v)})
	}
	for _, e := range []struct {
		name, help string
		by         map[string]int64
	}{
		{"ugnos_query_errors_total", "Failed statements and queries by error kind.", m.QueryErrors},
		{"ugnos_write_errors_total", "Failed write calls by error kind.", m.WriteErrors},
	} {
		for _, k := range errorKinds {
			s = append(s, Sample{Name: e.name, Type: "counter", Help: e.help, Label: "kind", LabelValue: k, Value: float64(e.by[k])})
		}
	}
	tenants := make([]string, 0, len(m.PerTenant))
	for name := range m.PerTenant {
		tenants = append(tenants, name)
	}
	sort.Strings(tenants)
	perTenant := []struct {
		name, typ, help string
		v               func(TenantMetrics) int64
	}{
		{"ugnos_tenant_tables", "gauge", "Tables of the tenant.", func(t TenantMetrics) int64 { return int64(t.Tables) }},
		{"ugnos_tenant_series", "gauge", "Series (distinct tag sets) of the tenant.", func(t TenantMetrics) int64 { return t.Series }},
		{"ugnos_tenant_points", "gauge", "Rows stored by the tenant.", func(t TenantMetrics) int64 { return t.Points }},
		{"ugnos_tenant_memory_bytes", "gauge", "Bytes of the tenant's in-memory tier.", func(t TenantMetrics) int64 { return t.MemoryBytes }},
		{"ugnos_tenant_segment_bytes", "gauge", "Bytes of the tenant's segment files.", func(t TenantMetrics) int64 { return t.SegmentBytes }},
		{"ugnos_tenant_ingested_rows_total", "counter", "Rows written to the tenant since the database was opened.", func(t TenantMetrics) int64 { return t.IngestedRows }},
		{"ugnos_tenant_ingested_bytes_total", "counter", "Bytes of the rows written to the tenant since the database was opened, as Arrow values (8 per timestamp, number or integer, string lengths), not wire bytes.", func(t TenantMetrics) int64 { return t.IngestedBytes }},
	}
	for _, pt := range perTenant {
		for _, name := range tenants {
			s = append(s, Sample{Name: pt.name, Type: pt.typ, Help: pt.help, Label: "tenant", LabelValue: name, Value: float64(pt.v(m.PerTenant[name]))})
		}
	}
	return s
}
