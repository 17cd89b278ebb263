package main

import (
	"bufio"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ugnos/ugnos"
)

// TestServeStreamShutdown: a live stream of ugnos serve carries a point
// written over HTTP, and SIGTERM ends it at once with the reason.
func TestServeStreamShutdown(t *testing.T) {
	dataDir := t.TempDir()
	db, err := ugnos.Open(dataDir)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Insert("acme", "cpu", 1, 1, ugnos.TagSet{"host": "a"}); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	addr := freeAddr(t)
	s := startServe(t, cleanEnv(), "--data-dir", dataDir, "--http-addr", addr, "--pg-addr", freeAddr(t))
	s.waitReady(t, addr)

	req, _ := http.NewRequest("GET", "http://"+addr+"/api/v1/stream?db=acme&table=cpu&where=host:b", nil)
	req.Header.Set("Accept", "text/event-stream")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	br := bufio.NewReader(resp.Body)
	if line, err := br.ReadString('\n'); err != nil || line != ": stream of acme.cpu\n" {
		t.Fatalf("first line %q, %v", line, err)
	}
	w, err := http.Post("http://"+addr+"/write?db=acme", "text/plain", strings.NewReader("cpu,host=a value=2 2\ncpu,host=b value=3 3\n"))
	if err != nil {
		t.Fatal(err)
	}
	w.Body.Close()
	if w.StatusCode != http.StatusNoContent {
		t.Fatalf("write: status %d", w.StatusCode)
	}
	next := func() string {
		t.Helper()
		var ev []string
		for {
			line, err := br.ReadString('\n')
			if err != nil {
				t.Fatalf("read: %v (so far %q)", err, ev)
			}
			if line == "\n" && len(ev) > 0 {
				return strings.Join(ev, "")
			}
			if !strings.HasPrefix(line, ":") && line != "\n" {
				ev = append(ev, line)
			}
		}
	}
	if ev := next(); ev != `data: {"time":"1970-01-01T00:00:00.000000003Z","tags":{"host":"b"},"fields":{"value":3}}`+"\n" {
		t.Fatalf("event %q", ev)
	}

	if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if ev := next(); !strings.HasPrefix(ev, "event: error\ndata: ") || !strings.Contains(ev, `"message":"server shutting down"`) {
		t.Fatalf("last event %q", ev)
	}
	if code := s.wait(t, 10*time.Second); code != 0 {
		t.Fatalf("exit code after SIGTERM = %d, want 0", code)
	}
}
