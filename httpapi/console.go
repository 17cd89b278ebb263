package httpapi

import (
	"embed"
	"io/fs"
	"net/http"
)

// The web console: a page with no build step (plain HTML, vanilla JS and
// CSS, embedded in the binary) that runs SQL through /api/v1/query and
// shows the result as a table and, for time series, a line chart. It
// loads nothing from other origins.

//go:embed console/*.html console/*.js console/*.css
var consoleFiles embed.FS

// consoleCSP keeps the page to its own origin: scripts, styles and
// fetches from this server only.
const consoleCSP = "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"

// consoleRoutes adds GET / (the page) and GET /console/… (its assets).
func (s *Server) consoleRoutes() {
	sub, err := fs.Sub(consoleFiles, "console")
	if err != nil {
		panic("BUG: console assets: " + err.Error())
	}
	assets := http.StripPrefix("/console/", http.FileServerFS(sub))
	s.mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		consoleHeaders(w)
		http.ServeFileFS(w, r, sub, "index.html")
	})
	s.mux.Handle("GET /console/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		consoleHeaders(w)
		assets.ServeHTTP(w, r)
	}))
}

func consoleHeaders(w http.ResponseWriter) {
	h := w.Header()
	h.Set("Content-Security-Policy", consoleCSP)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cache-Control", "no-cache")
}
