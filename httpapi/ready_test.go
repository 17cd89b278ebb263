package httpapi_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/ugnos/ugnos"
	"github.com/ugnos/ugnos/httpapi"
)

func TestReadyGate(t *testing.T) {
	g := httpapi.NewGate("test", "replaying the write-ahead log")
	ts := httptest.NewServer(g)
	defer ts.Close()
	f := func(path string, status int, field, want string) {
		t.Helper()
		resp, err := http.Get(ts.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var body map[string]any
		if err := json.NewDecoder(resp.Body).Decode(&body); err != nil || resp.StatusCode != status || body[field] != want {
			t.Errorf("GET %s: %d %v (%v), want %d %s=%q", path, resp.StatusCode, body, err, status, field, want)
		}
	}
	// before the database is open: alive, not ready, nothing else served
	f("/health", 200, "status", "ok")
	f("/ready", 503, "reason", "replaying the write-ahead log")
	f("/api/v1/query?db=x&q=SELECT+1", 503, "code", "unavailable")

	db, err := ugnos.Open("")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	g.Open(httpapi.New(db, httpapi.Config{Version: "test"}))
	f("/ready", 200, "status", "ready")
	f("/health", 200, "version", "test")
	if resp, err := http.Get(ts.URL + "/api/v1/query?db=postgres&q=SELECT+1"); err != nil || resp.StatusCode != 200 {
		t.Errorf("query after Open: %v %v", resp, err)
	} else {
		resp.Body.Close()
	}
	g.Drain("shutting down")
	f("/ready", 503, "reason", "shutting down")
	f("/health", 200, "status", "ok")
}
