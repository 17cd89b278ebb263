package httpapi_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/ugnos/ugnos"
	"github.com/ugnos/ugnos/httpapi"
)

// newStreamServer opens a memory database with the table t1.cpu and
// serves it.
func newStreamServer(t *testing.T, cfg httpapi.Config) (*ugnos.DB, *httpapi.Server, *httptest.Server) {
	t.Helper()
	db, err := ugnos.Open("")
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Insert("t1", "cpu", 0, 0, ugnos.TagSet{"host": "a"}); err != nil {
		t.Fatal(err)
	}
	srv := httpapi.New(db, cfg)
	ts := httptest.NewServer(srv)
	t.Cleanup(func() { ts.Close(); db.Close() })
	return db, srv, ts
}

// waitFor waits until cond holds; the deadline only keeps a broken test
// from hanging.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); !cond(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s", what)
		}
	}
}

// streamsEnded waits until the server serves no stream and the database
// has no subscriber.
func streamsEnded(t *testing.T, db *ugnos.DB, ts *httptest.Server) {
	t.Helper()
	waitFor(t, "the streams to end", func() bool {
		_, vals := scrape(t, ts)
		return vals["ugnos_http_streams"] == 0 && db.StreamStats().Subscribers == 0
	})
}

func insert(t *testing.T, db *ugnos.DB, host string, ts ...int64) {
	t.Helper()
	pts := make([]ugnos.Point, len(ts))
	for i, x := range ts {
		pts[i] = ugnos.Point{Timestamp: x * int64(time.Second), Value: float64(x) + 0.5, Tags: ugnos.TagSet{"host": host}}
	}
	if err := db.InsertBatch("t1", "cpu", pts); err != nil {
		t.Fatal(err)
	}
}

func point(host string, sec int64) string {
	return fmt.Sprintf(`{"time":"%s","tags":{"host":"%s"},"fields":{"value":%v}}`,
		time.Unix(sec, 0).UTC().Format(time.RFC3339Nano), host, float64(sec)+0.5)
}

// sseReader reads server-sent events.
type sseReader struct {
	t  *testing.T
	br *bufio.Reader
}

// next returns the next event's type ("" for a plain message) and data,
// skipping comments.
func (r *sseReader) next() (event, data string) {
	r.t.Helper()
	for {
		line, err := r.br.ReadString('\n')
		if err != nil {
			r.t.Fatalf("read event: %v", err)
		}
		line = strings.TrimSuffix(line, "\n")
		switch {
		case line == "" && data != "":
			return event, data
		case strings.HasPrefix(line, ":") || line == "":
		case strings.HasPrefix(line, "event: "):
			event = line[len("event: "):]
		case strings.HasPrefix(line, "data: "):
			data += line[len("data: "):]
		default:
			r.t.Fatalf("unexpected line %q", line)
		}
	}
}

func TestStreamSSE(t *testing.T) {
	db, srv, ts := newStreamServer(t, httpapi.Config{})
	req, _ := http.NewRequest("GET", ts.URL+"/api/v1/stream?db=t1&table=cpu&where=host:a", nil)
	req.Header.Set("Accept", "text/event-stream")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/event-stream; charset=utf-8" {
		t.Fatalf("status %d, Content-Type %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	r := &sseReader{t, bufio.NewReader(resp.Body)}
	// the stream's opening comment: the subscription is in place
	if line, _ := r.br.ReadString('\n'); line != ": stream of t1.cpu\n" {
		t.Fatalf("first line %q", line)
	}

	insert(t, db, "a", 10, 11)
	insert(t, db, "b", 12) // filtered out
	insert(t, db, "a", 13)
	for _, want := range []string{point("a", 10), point("a", 11), point("a", 13)} {
		if ev, data := r.next(); ev != "" || data != want {
			t.Fatalf("event %q %s, want %s", ev, data, want)
		}
	}

	// The server ending the stream says why in a last "error" event.
	srv.CloseStreams()
	ev, data := r.next()
	var e struct{ Code, Message string }
	if err := json.Unmarshal([]byte(data), &e); err != nil || ev != "error" || e.Message != "server shutting down" {
		t.Fatalf("last event %q %s", ev, data)
	}
	if _, err := r.br.ReadString('\n'); err != io.EOF {
		t.Fatalf("after the error event: %v", err)
	}
	streamsEnded(t, db, ts)
}

// TestStreamSSEClientGone: a client that goes away unsubscribes.
func TestStreamSSEClientGone(t *testing.T) {
	db, _, ts := newStreamServer(t, httpapi.Config{})
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, "GET", ts.URL+"/api/v1/stream?db=t1&table=cpu", nil)
	resp, err := http.DefaultClient.Do(req) // no Accept: SSE
	if err != nil {
		t.Fatal(err)
	}
	r := &sseReader{t, bufio.NewReader(resp.Body)}
	insert(t, db, "b", 5)
	if _, data := r.next(); data != point("b", 5) {
		t.Fatalf("event %s", data)
	}
	if n := db.StreamStats().Subscribers; n != 1 {
		t.Fatalf("%d subscribers", n)
	}
	cancel()
	resp.Body.Close()
	streamsEnded(t, db, ts)
}

func dialStream(t *testing.T, ts *httptest.Server, query string) *websocket.Conn {
	t.Helper()
	c, resp, err := websocket.Dial(context.Background(), "ws"+strings.TrimPrefix(ts.URL, "http")+"/api/v1/stream?"+query, nil)
	if err != nil {
		t.Fatalf("dial: %v (%v)", err, resp)
	}
	return c
}

func readPoints(t *testing.T, c *websocket.Conn) []json.RawMessage {
	t.Helper()
	typ, msg, err := c.Read(context.Background())
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	var pts []json.RawMessage
	if err := json.Unmarshal(msg, &pts); typ != websocket.MessageText || err != nil {
		t.Fatalf("message %v %q: %v", typ, msg, err)
	}
	return pts
}

func TestStreamWebSocket(t *testing.T) {
	db, _, ts := newStreamServer(t, httpapi.Config{})
	c := dialStream(t, ts, "db=t1&table=cpu&where=host:b")
	defer c.CloseNow()

	insert(t, db, "a", 1)
	insert(t, db, "b", 2, 3)
	insert(t, db, "b", 4)
	var got []string
	for len(got) < 3 {
		for _, p := range readPoints(t, c) {
			got = append(got, string(p))
		}
	}
	want := []string{point("b", 2), point("b", 3), point("b", 4)}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}

	// A write's many points come in messages of bounded size.
	big := make([]int64, 2000)
	for i := range big {
		big[i] = int64(100 + i)
	}
	insert(t, db, "b", big...)
	n, msgs := 0, 0
	for n < len(big) {
		n += len(readPoints(t, c))
		msgs++
	}
	if n != len(big) || msgs < 2 {
		t.Fatalf("%d points in %d messages", n, msgs)
	}

	c.Close(websocket.StatusNormalClosure, "bye")
	streamsEnded(t, db, ts)
}

// fillUntilDropped writes batches of 1000 points to t1.cpu, while a client
// reads nothing, until the database drops a subscriber; it returns the
// points written. The socket's buffers fill, then the stream's buffer,
// then the subscriber is dropped; writers never wait. Each write waits (a
// while) for the server to take the previous one, so that it is the full
// socket, not a server slower than the writer, that fills the stream's
// buffer.
func fillUntilDropped(t *testing.T, db *ugnos.DB) int {
	t.Helper()
	host := strings.Repeat("h", 100)
	written := 0
	for i := 0; i < 5000 && db.StreamStats().Dropped == 0; i++ {
		batch := make([]int64, 1000)
		for j := range batch {
			batch[j] = int64(i*1000 + j + 1)
		}
		insert(t, db, host, batch...)
		written += len(batch)
		for deadline := time.Now().Add(500 * time.Millisecond); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
			if st := db.StreamStats(); st.Buffered == 0 || st.Dropped > 0 {
				break
			}
		}
	}
	if db.StreamStats().Dropped != 1 {
		t.Fatalf("not dropped after %d points", written)
	}
	return written
}

// TestStreamWebSocketSlowDropped: a client that stops reading is dropped
// cleanly (a close frame with status and reason after what was sent),
// while writes go on.
func TestStreamWebSocketSlowDropped(t *testing.T) {
	db, _, ts := newStreamServer(t, httpapi.Config{Stream: httpapi.StreamConfig{Buffer: 2, WriteTimeout: time.Minute}})
	c := dialStream(t, ts, "db=t1&table=cpu")
	defer c.CloseNow()
	c.SetReadLimit(-1)

	written := fillUntilDropped(t, db)
	insert(t, db, "a", -1) // writes go on

	// Now the client reads what was sent, then the close frame.
	got := 0
	var err error
	for {
		var msg []byte
		_, msg, err = c.Read(context.Background())
		if err != nil {
			break
		}
		var pts []json.RawMessage
		if jerr := json.Unmarshal(msg, &pts); jerr != nil {
			t.Fatal(jerr)
		}
		got += len(pts)
	}
	var ce websocket.CloseError
	if !errors.As(err, &ce) || ce.Code != websocket.StatusPolicyViolation || ce.Reason != "subscriber too slow: 2 batches buffered" {
		t.Fatalf("read ended with %v", err)
	}
	t.Logf("dropped after %d points written; the client received %d", written, got)
	if got == 0 || got >= written {
		t.Errorf("received %d of %d points before the close", got, written)
	}
	streamsEnded(t, db, ts)
	if _, vals := scrape(t, ts); vals["ugnos_http_streams_dropped_total"] != 1 {
		t.Errorf("ugnos_http_streams_dropped_total = %v", vals["ugnos_http_streams_dropped_total"])
	}
	pts, qerr := db.Query(context.Background(), "t1", "cpu", ugnos.QueryOptions{Start: -10 * int64(time.Second), End: 1 << 62})
	if qerr != nil || len(pts) != written+2 {
		t.Fatalf("stored %d points (%v), want %d", len(pts), qerr, written+2)
	}
}

// TestStreamSSESlowDropped: an SSE client that stops reading is dropped;
// what was sent reaches it, then the error event with the reason.
func TestStreamSSESlowDropped(t *testing.T) {
	db, _, ts := newStreamServer(t, httpapi.Config{Stream: httpapi.StreamConfig{Buffer: 2, WriteTimeout: time.Minute}})
	resp, err := http.Get(ts.URL + "/api/v1/stream?db=t1&table=cpu")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	written := fillUntilDropped(t, db)
	r := &sseReader{t, bufio.NewReader(resp.Body)}
	got := 0
	for {
		ev, data := r.next()
		if ev == "" {
			got++
			continue
		}
		var e struct{ Code, Message, SQLState string }
		if err := json.Unmarshal([]byte(data), &e); err != nil || ev != "error" ||
			e.Message != "subscriber too slow: 2 batches buffered" || e.Code != "too slow" || e.SQLState != "53000" {
			t.Fatalf("event %q %s", ev, data)
		}
		break
	}
	t.Logf("dropped after %d points written; the client received %d", written, got)
	if got == 0 || got >= written {
		t.Errorf("received %d of %d points before the error event", got, written)
	}
	if _, err := r.br.ReadString('\n'); err != io.EOF {
		t.Fatalf("after the error event: %v", err)
	}
	streamsEnded(t, db, ts)
}

func TestStreamErrors(t *testing.T) {
	_, _, ts := newStreamServer(t, httpapi.Config{})
	f := func(query, accept string, status int, code string) {
		t.Helper()
		req, _ := http.NewRequest("GET", ts.URL+"/api/v1/stream?"+query, nil)
		if accept != "" {
			req.Header.Set("Accept", accept)
		}
		resp, body := do(t, req)
		var e struct{ Code, Message string }
		if resp.StatusCode != status || json.Unmarshal([]byte(body), &e) != nil || e.Code != code || e.Message == "" {
			t.Fatalf("%s: %d %s, want %d %q", query, resp.StatusCode, body, status, code)
		}
	}
	f("table=cpu", "", 400, "invalid")
	f("db=t1", "", 400, "invalid")
	f("db=nope&table=cpu", "", 404, "not found")
	f("db=t1&table=nope", "", 404, "not found")
	f("db=t1&table=cpu&where=host", "", 400, "invalid")
	f("db=t1&table=cpu&where=value:1", "", 400, "invalid")
	f("db=t1&table=cpu", "application/json", 406, "not acceptable")
}
