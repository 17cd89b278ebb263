// Package httpapi is ugnos's HTTP interface over an open ugnos.DB:
// InfluxDB line-protocol writes (write.go), the query API (query.go),
// live streams of new points (stream.go), Prometheus metrics (metrics.go), /health and /ready, and the web console
// (console.go). It uses the standard library's net/http; a Server is an
// http.Handler that cmd/ugnos mounts on its HTTP listener.
package httpapi

import (
	"encoding/json"
	"log/slog"
	"math"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ugnos/ugnos"
)

// Config configures a Server.
type Config struct {
	Version string       // reported by /health
	Logger  *slog.Logger // nil: slog.Default()
	// MaxBodyBytes bounds a request body (after gzip decoding); 0: 64 MiB.
	MaxBodyBytes int64
	// MaxResultRows and MaxResultBytes bound a query result of the query
	// API (bytes as sent); 0: 10 million rows, 1 GiB.
	MaxResultRows  int64
	MaxResultBytes int64
	// Stream tunes the live streams of /api/v1/stream (stream.go).
	Stream StreamConfig
	// Auth configures authentication (auth.go).
	Auth AuthConfig
}

func (c Config) maxResultRows() int64 {
	if c.MaxResultRows > 0 {
		return c.MaxResultRows
	}
	return 10_000_000
}

func (c Config) maxResultBytes() int64 {
	if c.MaxResultBytes > 0 {
		return c.MaxResultBytes
	}
	return 1 << 30
}

func (c Config) maxBody() int64 {
	if c.MaxBodyBytes > 0 {
		return c.MaxBodyBytes
	}
	return 64 << 20
}

// Server serves the HTTP API of one database.
type Server struct {
	db      *ugnos.DB
	cfg     Config
	log     *slog.Logger
	mux     *http.ServeMux
	handler http.Handler // mux behind authentication
	// accounts are the SCRAM verifiers of cfg.Auth.Users ("": a stand-in
	// for unknown users; auth.go)
	accounts map[string]string
	started  time.Time
	reg      *prometheus.Registry // /metrics (metrics.go)
	httpm    *httpMetrics
	live     liveStreams // /api/v1/stream (stream.go)
}

// New returns the HTTP API of db.
func New(db *ugnos.DB, cfg Config) *Server {
	s := &Server{db: db, cfg: cfg, log: cfg.Logger, mux: http.NewServeMux(), started: time.Now(), accounts: accountVerifiers(cfg.Auth.Users)}
	if s.log == nil {
		s.log = slog.Default()
	}
	s.mux.HandleFunc("GET /health", s.health)
	s.reg, s.httpm = newRegistry(db)
	s.mux.HandleFunc("GET /ready", s.ready)
	s.mux.Handle("GET /metrics", metricsHandler(s.reg, s.log))
	s.mux.HandleFunc("GET /api/v1/query", s.instrument("query", s.query))
	s.mux.HandleFunc("POST /api/v1/query", s.instrument("query", s.query))
	s.streamRoutes()  // GET /api/v1/stream: live streams of new points
	s.consoleRoutes() // GET / and GET /console/…: the web console
	s.mux.HandleFunc("/write", s.instrument("write", s.writeV1))
	s.mux.HandleFunc("/api/v2/write", s.instrument("write", s.writeV2))
	s.handler = s.withAuth(s.mux)
	return s
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.handler.ServeHTTP(w, r) }

// health is the liveness check: the process serves HTTP.
func (s *Server) health(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	json.NewEncoder(w).Encode(struct {
		Status  string  `json:"status"`
		Version string  `json:"version"`
		UptimeS float64 `json:"uptime_s"`
	}{"ok", s.cfg.Version, math.Round(time.Since(s.started).Seconds()*1000) / 1000})
}

// httpError writes a JSON error body, as InfluxDB's API does:
// {"code": "...", "message": "..."}.
func httpError(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	}{code, msg})
}
