package httpapi

import (
	"encoding/json"
	"math"
	"net/http"
	"sync"
	"time"
)

// Readiness: /health says the process serves HTTP (liveness); /ready says
// the database is open and serving (200), or why not (503). A Server is
// ready as long as it exists; Gate answers for a database that is not open
// yet, or is shutting down.

// ready serves /ready of an open database.
func (s *Server) ready(w http.ResponseWriter, r *http.Request) {
	writeReady(w, "")
}

// writeReady answers /ready: 200 {"status":"ready"} when reason is "",
// else 503 {"status":"unavailable","reason":…}.
func writeReady(w http.ResponseWriter, reason string) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	if reason == "" {
		json.NewEncoder(w).Encode(struct {
			Status string `json:"status"`
		}{"ready"})
		return
	}
	w.Header().Set("Retry-After", "1")
	w.WriteHeader(http.StatusServiceUnavailable)
	json.NewEncoder(w).Encode(struct {
		Status string `json:"status"`
		Reason string `json:"reason"`
	}{"unavailable", reason})
}

// Gate is the HTTP handler of a server whose database opens after its
// listener: until Open it serves /health (200) and /ready (503 with the
// reason) and answers every other path 503; then it passes requests to the
// handler given to Open. Drain makes /ready 503 again (shutting down)
// while the handler keeps serving.
type Gate struct {
	version string
	started time.Time

	mu     sync.RWMutex
	h      http.Handler // nil until Open
	reason string       // why /ready is 503; "" when ready
}

// NewGate returns a closed gate; reason says why it is not ready yet
// (e.g. "replaying the write-ahead log").
func NewGate(version, reason string) *Gate {
	return &Gate{version: version, started: time.Now(), reason: reason}
}

// Open starts passing requests to h.
func (g *Gate) Open(h http.Handler) {
	g.mu.Lock()
	g.h, g.reason = h, ""
	g.mu.Unlock()
}

// Drain makes /ready answer 503 with reason, for load balancers to stop
// sending requests; the handler keeps serving them.
func (g *Gate) Drain(reason string) {
	g.mu.Lock()
	g.reason = reason
	g.mu.Unlock()
}

// ServeHTTP implements http.Handler.
func (g *Gate) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	g.mu.RLock()
	h, reason := g.h, g.reason
	g.mu.RUnlock()
	if r.URL.Path == "/ready" && reason != "" && (r.Method == http.MethodGet || r.Method == http.MethodHead) {
		writeReady(w, reason)
		return
	}
	if h != nil {
		h.ServeHTTP(w, r)
		return
	}
	if r.URL.Path == "/health" && (r.Method == http.MethodGet || r.Method == http.MethodHead) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		json.NewEncoder(w).Encode(struct {
			Status  string  `json:"status"`
			Version string  `json:"version"`
			UptimeS float64 `json:"uptime_s"`
		}{"ok", g.version, math.Round(time.Since(g.started).Seconds()*1000) / 1000})
		return
	}
	w.Header().Set("Retry-After", "1")
	httpError(w, http.StatusServiceUnavailable, "unavailable", "the database is not open yet: "+reason)
}
