package main

import (
	"bufio"
	"encoding/json"
	"math"
	"net/http"
	"strconv"
	"time"

	"github.com/ugnos/ugnos"
)

// newHTTPHandler returns the HTTP routes of ugnos serve. They move to the
// httpapi package once it exists.
func newHTTPHandler(db *ugnos.DB, started time.Time) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /health", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		json.NewEncoder(w).Encode(struct {
			Status  string  `json:"status"`
			Version string  `json:"version"`
			UptimeS float64 `json:"uptime_s"`
		}{"ok", version, math.Round(time.Since(started).Seconds()*1000) / 1000})
	})
	mux.HandleFunc("GET /metrics", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		bw := bufio.NewWriter(w)
		writeMetrics(bw, db.Metrics())
		bw.Flush()
	})
	return mux
}

// metric is one sample in the Prometheus text exposition format.
type metric struct {
	name, typ, help string
	value           float64
}

// metricsOf maps Metrics to Prometheus metrics: names prefixed ugnos_,
// base units (seconds, bytes), counters suffixed _total.
func metricsOf(m ugnos.Metrics) []metric {
	return []metric{
		{"ugnos_uptime_seconds", "gauge", "Seconds since the database was opened.", m.Uptime.Seconds()},
		{"ugnos_tenants", "gauge", "Tenants (databases).", float64(m.Tenants)},
		{"ugnos_tables", "gauge", "Tables across all tenants.", float64(m.Tables)},
		{"ugnos_series", "gauge", "Series (distinct tag sets) across all tables.", float64(m.Series)},
		{"ugnos_points", "gauge", "Rows stored.", float64(m.Points)},
		{"ugnos_memory_bytes", "gauge", "Bytes held by the in-memory tier (sealed batches and write buffers).", float64(m.MemoryBytes)},
		{"ugnos_sealed_batches", "gauge", "Immutable sealed Arrow batches.", float64(m.SealedBatches)},
		{"ugnos_sealed_bytes", "gauge", "Bytes held by sealed Arrow batches.", float64(m.SealedBytes)},
		{"ugnos_ingested_rows_total", "counter", "Rows written since the database was opened, WAL replay excluded.", float64(m.IngestedRows)},
		{"ugnos_ingest_rows_per_second", "gauge", "Mean rows written per second since the database was opened.", m.IngestRate},
		{"ugnos_writes_total", "counter", "Write calls since the database was opened.", float64(m.Writes)},
		{"ugnos_wal_bytes_total", "counter", "Bytes appended to the write-ahead log, framing included.", float64(m.WALBytes)},
		{"ugnos_wal_records_total", "counter", "Records appended to the write-ahead log.", float64(m.WALRecords)},
		{"ugnos_wal_syncs_total", "counter", "fdatasync calls on write-ahead log segments.", float64(m.WALSyncs)},
		{"ugnos_queries_total", "counter", "Queries run since the database was opened.", float64(m.Queries)},
		{"ugnos_query_latency_mean_seconds", "gauge", "Mean query latency.", m.QueryLatency.Seconds()},
		{"ugnos_query_latency_p99_seconds", "gauge", "99th percentile query latency (upper bound of its log2 bucket).", m.QueryLatencyP99.Seconds()},
		{"ugnos_query_latency_max_seconds", "gauge", "Largest query latency.", m.QueryLatencyMax.Seconds()},
		{"ugnos_rows_scanned_total", "counter", "Rows examined by queries.", float64(m.RowsScanned)},
		{"ugnos_segments", "gauge", "Live Parquet segment files.", float64(m.Segments)},
		{"ugnos_segment_bytes", "gauge", "Bytes of the live segment files.", float64(m.SegmentBytes)},
		{"ugnos_disk_rows", "gauge", "Rows in segment files (deleted ones until compaction purges them).", float64(m.DiskRows)},
		{"ugnos_checkpoints_total", "counter", "Checkpoints (rows moved from memory to segment files).", float64(m.Checkpoints)},
		{"ugnos_compactions_total", "counter", "Compaction units (small files merged, deleted rows purged).", float64(m.Compactions)},
		{"ugnos_memory_limit_waits_total", "counter", "2 ms waits of writers held back by the memory limit.", float64(m.ThrottleWaits)},
		{"ugnos_retention_deletes_total", "counter", "Deletes of rows past their retention period.", float64(m.RetentionDeletes)},
		{"ugnos_retention_dropped_files_total", "counter", "Segment files dropped whole by retention.", float64(m.ExpiredFiles)},
		{"ugnos_segment_cache_bytes", "gauge", "Decoded segment columns held by the cache.", float64(m.CacheBytes)},
		{"ugnos_segment_cache_hits_total", "counter", "Segment column reads served by the cache.", float64(m.CacheHits)},
		{"ugnos_segment_cache_misses_total", "counter", "Segment column reads that decoded the file.", float64(m.CacheMisses)},
	}
}

// writeMetrics writes m in the Prometheus text exposition format 0.0.4.
func writeMetrics(w *bufio.Writer, m ugnos.Metrics) {
	for _, s := range metricsOf(m) {
		w.WriteString("# HELP " + s.name + " " + s.help + "\n")
		w.WriteString("# TYPE " + s.name + " " + s.typ + "\n")
		w.WriteString(s.name + " " + formatValue(s.value) + "\n")
	}
}

func formatValue(v float64) string {
	switch {
	case math.IsNaN(v):
		return "NaN"
	case math.IsInf(v, 1):
		return "+Inf"
	case math.IsInf(v, -1):
		return "-Inf"
	}
	return strconv.FormatFloat(v, 'g', -1, 64)
}
