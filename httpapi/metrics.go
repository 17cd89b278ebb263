package httpapi

import (
	"log/slog"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/ugnos/ugnos"
)

// The /metrics endpoint: a registry of its own (never the global default)
// holding a collector that reads DB.Metrics at scrape time (the figures
// and names of ugnos.Metrics.Samples, which the SQL relation ugnos.metrics
// shows too) and the HTTP API's own request counters.

// dbCollector exposes DB.Metrics. It is an unchecked collector: its
// metrics (per-tenant ones included) are only known at scrape time.
type dbCollector struct{ db *ugnos.DB }

func (c dbCollector) Describe(chan<- *prometheus.Desc) {}

func (c dbCollector) Collect(ch chan<- prometheus.Metric) {
	descs := map[string]*prometheus.Desc{}
	for _, s := range c.db.Metrics().Samples() {
		d := descs[s.Name]
		var labels []string
		if s.Label != "" {
			labels = []string{s.LabelValue}
		}
		if d == nil {
			var names []string
			if s.Label != "" {
				names = []string{s.Label}
			}
			d = prometheus.NewDesc(s.Name, s.Help, names, nil)
			descs[s.Name] = d
		}
		var m prometheus.Metric
		var err error
		switch s.Type {
		case "counter":
			m, err = prometheus.NewConstMetric(d, prometheus.CounterValue, s.Value, labels...)
		case "gauge":
			m, err = prometheus.NewConstMetric(d, prometheus.GaugeValue, s.Value, labels...)
		case "summary":
			m, err = prometheus.NewConstSummary(d, uint64(s.Hist.Count), s.Hist.Sum.Seconds(), nil, labels...)
		case "histogram":
			buckets := make(map[float64]uint64, len(s.Hist.Buckets))
			for _, b := range s.Hist.Buckets {
				buckets[b.UpperBound.Seconds()] = uint64(b.Count)
			}
			m, err = prometheus.NewConstHistogram(d, uint64(s.Hist.Count), s.Hist.Sum.Seconds(), buckets, labels...)
		default:
			continue
		}
		if err != nil {
			m = prometheus.NewInvalidMetric(d, err)
		}
		ch <- m
	}
}

// quotaCollector exposes the databases' quotas (DB.QuotaUsages): each
// set limit, the usage where it means something (series, connections)
// and the refusals per database and limit.
type quotaCollector struct{ db *ugnos.DB }

var (
	quotaLimitDesc = prometheus.NewDesc("ugnos_quota_limit",
		"A database's quota (ALTER DATABASE): connection_limit in connections, statement_timeout in seconds, ugnos.max_* in their units (rows, rows/s, bytes, series).",
		[]string{"tenant", "limit"}, nil)
	quotaUsageDesc = prometheus.NewDesc("ugnos_quota_usage",
		"A database's current use of a quota: series for ugnos.max_series, open connections for connection_limit.",
		[]string{"tenant", "limit"}, nil)
	quotaRejectedDesc = prometheus.NewDesc("ugnos_quota_rejections_total",
		"Statements, writes, connections and requests refused because a database's quota was exceeded.",
		[]string{"tenant", "limit"}, nil)
)

func (c quotaCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- quotaLimitDesc
	ch <- quotaUsageDesc
	ch <- quotaRejectedDesc
}

func (c quotaCollector) Collect(ch chan<- prometheus.Metric) {
	for _, u := range c.db.QuotaUsages() {
		if u.Set {
			v := float64(u.Value)
			if u.Limit == ugnos.LimitStatementTimeout {
				v /= 1000 // ms
			}
			ch <- prometheus.MustNewConstMetric(quotaLimitDesc, prometheus.GaugeValue, v, u.Tenant, u.Limit)
		}
		if u.Usage >= 0 {
			ch <- prometheus.MustNewConstMetric(quotaUsageDesc, prometheus.GaugeValue, float64(u.Usage), u.Tenant, u.Limit)
		}
		ch <- prometheus.MustNewConstMetric(quotaRejectedDesc, prometheus.CounterValue, float64(u.Rejected), u.Tenant, u.Limit)
	}
}

// httpMetrics are the HTTP API's own figures.
type httpMetrics struct {
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
}

// newRegistry builds the registry of /metrics.
func newRegistry(db *ugnos.DB) (*prometheus.Registry, *httpMetrics) {
	reg := prometheus.NewRegistry()
	reg.MustRegister(dbCollector{db}, quotaCollector{db})
	hm := &httpMetrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ugnos_http_requests_total",
			Help: "HTTP requests by handler and status code.",
		}, []string{"handler", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "ugnos_http_request_duration_seconds",
			Help:    "Time to serve HTTP requests by handler, until the response is written.",
			Buckets: []float64{.001, .005, .025, .1, .5, 2.5, 10, 60},
		}, []string{"handler"}),
	}
	reg.MustRegister(hm.requests, hm.duration)
	return reg, hm
}

// metricsHandler serves the registry in the Prometheus text format (or
// OpenMetrics, or protobuf, as the scraper's Accept header asks).
func metricsHandler(reg *prometheus.Registry, log *slog.Logger) http.Handler {
	h := promhttp.HandlerFor(reg, promhttp.HandlerOpts{
		ErrorLog:      slog.NewLogLogger(log.Handler(), slog.LevelWarn),
		ErrorHandling: promhttp.ContinueOnError,
	})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		h.ServeHTTP(w, r)
	})
}

// instrument counts a handler's requests by status code and times them
// under the label handler=name.
func (s *Server) instrument(name string, h http.HandlerFunc) http.HandlerFunc {
	dur := s.httpm.duration.WithLabelValues(name)
	return func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w}
		defer func() {
			dur.Observe(time.Since(start).Seconds())
			code := sw.status
			if code == 0 {
				code = http.StatusOK
			}
			s.httpm.requests.WithLabelValues(name, statusText(code)).Inc()
		}()
		h(sw, r)
	}
}

func statusText(code int) string {
	const digits = "0123456789"
	if code < 100 || code > 999 {
		return "other"
	}
	return string([]byte{digits[code/100], digits[code/10%10], digits[code%10]})
}

// statusWriter remembers the status a handler wrote. Unwrap lets
// http.ResponseController reach the connection's Flush.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(p)
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
