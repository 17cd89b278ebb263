package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"math"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/ugnos/ugnos"
	"github.com/ugnos/ugnos/arrowstore"
	"github.com/ugnos/ugnos/arrowstore/engine"
	"github.com/ugnos/ugnos/errs"
)

// Live streams: GET /api/v1/stream?db=TENANT&table=TABLE[&where=TAG:VALUE…]
// streams the points written to a table from then on, those of the series
// whose tags match every where= (TAG:VALUE, split at the first colon; an
// empty VALUE matches series without the tag).
//
//   - Server-sent events (Accept: text/event-stream, or any request that is
//     not a WebSocket upgrade and accepts text/event-stream or */*): one
//     event per point, data: {"time": RFC 3339 with ns, "tags": {…},
//     "fields": {…}}; a comment line every StreamConfig.KeepAlive; when the
//     server ends the stream, a last event "error" with data {"code",
//     "message", "sqlstate"} (a slow client: "subscriber too slow: …").
//   - WebSocket (an upgrade request to the same URL): text messages, each a
//     JSON array of points as above (a write's points, split into
//     messages of about 16 KiB). Messages from the client
//     are not expected (a data message closes the connection). When the
//     server ends the stream it closes with a status and the reason: 1008
//     (policy violation) for a client too slow, 1001 (going away) when the
//     server or database shuts down.
//
// A stream never slows writers: each has a buffer of StreamConfig.Buffer
// writes; a client that falls that far behind is dropped. Errors before
// the stream starts are statuses with the query API's JSON body: 400
// (bad parameters), 404 (unknown database or table), 406, 503 (too many
// streams, or shutting down).

// StreamConfig tunes the live streams of /api/v1/stream.
type StreamConfig struct {
	// Buffer is how many writes may wait for a slow client before it is
	// dropped; 0: 256.
	Buffer int
	// WriteTimeout bounds the sending of one write's points to a client
	// that does not read; then the connection is closed; 0: 30 s.
	WriteTimeout time.Duration
	// KeepAlive is the period of SSE comment lines and WebSocket pings
	// while no points come; 0: 15 s.
	KeepAlive time.Duration
}

func (c StreamConfig) buffer() int {
	if c.Buffer > 0 {
		return c.Buffer
	}
	return 256
}

func (c StreamConfig) writeTimeout() time.Duration {
	if c.WriteTimeout > 0 {
		return c.WriteTimeout
	}
	return 30 * time.Second
}

func (c StreamConfig) keepAlive() time.Duration {
	if c.KeepAlive > 0 {
		return c.KeepAlive
	}
	return 15 * time.Second
}

// liveStreams is the Server's state of its streams.
type liveStreams struct {
	closeOnce sync.Once
	closing   chan struct{} // closed by CloseStreams
	open      atomic.Int64  // handlers streaming now
	dropped   atomic.Int64  // clients dropped as too slow
}

// streamRoutes mounts /api/v1/stream and its metrics.
func (s *Server) streamRoutes() {
	s.live.closing = make(chan struct{})
	s.mux.HandleFunc("GET /api/v1/stream", s.instrument("stream", s.liveStream))
	s.reg.MustRegister(
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "ugnos_http_streams",
			Help: "Live streams (/api/v1/stream) being served.",
		}, func() float64 { return float64(s.live.open.Load()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "ugnos_http_streams_dropped_total",
			Help: "Live stream clients dropped because they read too slowly.",
		}, func() float64 { return float64(s.live.dropped.Load()) }),
	)
}

// CloseStreams ends every live stream (and refuses new ones) with the
// reason "server shutting down". Register it with
// http.Server.RegisterOnShutdown: Shutdown does not wait for them then.
func (s *Server) CloseStreams() {
	s.live.closeOnce.Do(func() { close(s.live.closing) })
}

// parseWhere reads the where= parameters.
func parseWhere(ws []string) (ugnos.TagSet, error) {
	if len(ws) == 0 {
		return nil, nil
	}
	f := make(ugnos.TagSet, len(ws))
	for _, w := range ws {
		name, val, ok := strings.Cut(w, ":")
		if !ok || name == "" {
			return nil, errs.Invalid("where=%q: want TAG:VALUE", w)
		}
		if err := engine.ValidName("tag", name); err != nil {
			return nil, err
		}
		if err := engine.CheckText("tag", name, val, arrowstore.MaxTagValueLen); err != nil {
			return nil, err // no stored series could match
		}
		if old, dup := f[name]; dup && old != val {
			return nil, errs.Invalid("where= gives tag %q two values (%q, %q)", name, old, val)
		}
		f[name] = val
	}
	return f, nil
}

// acceptsSSE reports whether the Accept header allows text/event-stream.
func acceptsSSE(r *http.Request) bool {
	accept := r.Header.Get("Accept")
	if accept == "" {
		return true
	}
	for _, part := range strings.Split(accept, ",") {
		mt, params, err := mime.ParseMediaType(strings.TrimSpace(part))
		if err != nil || params["q"] == "0" {
			continue
		}
		switch mt {
		case "text/event-stream", "text/*", "*/*":
			return true
		}
	}
	return false
}

func isWebSocket(r *http.Request) bool {
	return strings.EqualFold(r.Header.Get("Upgrade"), "websocket")
}

// liveStream serves /api/v1/stream.
func (s *Server) liveStream(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	tenant, table := q.Get("db"), q.Get("table")
	switch {
	case tenant == "":
		httpError(w, http.StatusBadRequest, "invalid", "missing parameter db (the database, i.e. tenant)")
		return
	case table == "":
		httpError(w, http.StatusBadRequest, "invalid", "missing parameter table")
		return
	}
	for _, priv := range []string{ugnos.PrivConnect, ugnos.PrivSelect} {
		if err := s.db.AuthorizeTable(r.Context(), tenant, table, priv); err != nil {
			s.forbidden(w, r, session(r), err)
			return
		}
	}
	filter, err := parseWhere(q["where"])
	if err != nil {
		s.streamError(w, err)
		return
	}
	ws := isWebSocket(r)
	if !ws && !acceptsSSE(r) {
		httpError(w, http.StatusNotAcceptable, "not acceptable",
			"the stream API answers text/event-stream, or a WebSocket upgrade")
		return
	}
	select {
	case <-s.live.closing:
		httpError(w, http.StatusServiceUnavailable, "unavailable", "server shutting down")
		return
	default:
	}
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	sub, err := s.db.Subscribe(ctx, tenant, table, filter, ugnos.SubscribeOptions{Buffer: s.cfg.Stream.buffer()})
	if err != nil {
		s.streamError(w, err)
		return
	}
	defer sub.Close()
	s.live.open.Add(1)
	defer s.live.open.Add(-1)
	if ws {
		s.streamWS(ctx, w, r, sub)
	} else {
		s.streamSSE(ctx, w, sub)
	}
	if errors.Is(sub.Err(), ugnos.ErrSubscriberTooSlow) {
		s.live.dropped.Add(1)
	}
}

// streamError answers an error before the stream starts, in the query
// API's shape.
func (s *Server) streamError(w http.ResponseWriter, err error) {
	status, code := errorStatus(err)
	switch {
	case errs.SQLState(err) == errs.CodeUndefinedTable:
		status, code = http.StatusNotFound, "not found"
	case errors.Is(err, ugnos.ErrTooManySubscribers):
		status, code = http.StatusServiceUnavailable, "unavailable"
	}
	if status >= 500 {
		s.log.Error("stream failed", "err", err)
	}
	w.Header().Set("Content-Type", contentJSON)
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(streamErr{code, err.Error(), errs.SQLState(err)})
}

type streamErr struct {
	Code     string `json:"code"`
	Message  string `json:"message"`
	SQLState string `json:"sqlstate"`
}

// endReason says why the server ends a stream: nil when the client went
// away (nothing to tell it).
func (s *Server) endReason(ctx context.Context, sub *ugnos.Subscription) *streamErr {
	select {
	case <-s.live.closing:
		return &streamErr{"unavailable", "server shutting down", errs.CodeAdminShutdown}
	default:
	}
	err := sub.Err()
	if err == nil || ctx.Err() != nil {
		return nil
	}
	code := "unavailable"
	if errors.Is(err, ugnos.ErrSubscriberTooSlow) {
		code = "too slow"
	}
	return &streamErr{code, err.Error(), errs.SQLState(err)}
}

// jsonPoint is a point as streams send it.
type jsonPoint struct {
	Time   string         `json:"time"`
	Tags   ugnos.TagSet   `json:"tags"`
	Fields map[string]any `json:"fields"`
}

// pointEncoder writes points as JSON.
type pointEncoder struct {
	buf bytes.Buffer
	enc *json.Encoder
}

func newPointEncoder() *pointEncoder {
	pe := &pointEncoder{}
	pe.enc = json.NewEncoder(&pe.buf)
	pe.enc.SetEscapeHTML(false)
	return pe
}

// point appends p as JSON (no newline).
func (pe *pointEncoder) point(p ugnos.StreamPoint) {
	for k, v := range p.Fields {
		if f, ok := v.(float64); ok && (math.IsNaN(f) || math.IsInf(f, 0)) {
			p.Fields[k] = strconv.FormatFloat(f, 'g', -1, 64) // JSON has no NaN
		}
	}
	pe.enc.Encode(jsonPoint{time.Unix(0, p.Time).UTC().Format(time.RFC3339Nano), p.Tags, p.Fields})
	pe.buf.Truncate(pe.buf.Len() - 1) // Encode's newline
}

// wsMessageBytes is the size past which a write's points are split into
// several WebSocket messages (coder/websocket's clients read messages of
// up to 32 KiB by default).
const wsMessageBytes = 16 << 10

// streamSSE sends the subscription as server-sent events.
func (s *Server) streamSSE(ctx context.Context, w http.ResponseWriter, sub *ugnos.Subscription) {
	h := w.Header()
	h.Set("Content-Type", "text/event-stream; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no") // nginx: do not buffer
	w.WriteHeader(http.StatusOK)
	rc := http.NewResponseController(w)
	send := func(p []byte) error {
		rc.SetWriteDeadline(time.Now().Add(s.cfg.Stream.writeTimeout()))
		if _, err := w.Write(p); err != nil {
			return err
		}
		return rc.Flush()
	}
	// The subscription is in place: tell the client so at once.
	if send([]byte(": stream of "+sub.Tenant()+"."+sub.Table()+"\n\n")) != nil {
		return
	}
	keep := time.NewTicker(s.cfg.Stream.keepAlive())
	defer keep.Stop()
	pe := newPointEncoder()
	end := func() {
		if why := s.endReason(ctx, sub); why != nil {
			b, _ := json.Marshal(why)
			send(append(append([]byte("event: error\ndata: "), b...), "\n\n"...))
		}
	}
	for {
		// A write that blocked on a client not reading may have let the
		// subscription be dropped meanwhile: check first, and do not send
		// what is still buffered.
		select {
		case <-sub.Done():
			end()
			return
		default:
		}
		select {
		case <-s.live.closing:
			end()
			return
		case <-sub.Done():
			end()
			return
		case <-keep.C:
			if send([]byte(": keep-alive\n\n")) != nil {
				return
			}
		case b, ok := <-sub.C():
			if !ok {
				end()
				return
			}
			pe.buf.Reset()
			for _, p := range b.Points() {
				pe.buf.WriteString("data: ")
				pe.point(p)
				pe.buf.WriteString("\n\n")
			}
			b.Release()
			if send(pe.buf.Bytes()) != nil {
				return
			}
			keep.Reset(s.cfg.Stream.keepAlive())
		}
	}
}

// streamWS sends the subscription over a WebSocket.
func (s *Server) streamWS(ctx context.Context, w http.ResponseWriter, r *http.Request, sub *ugnos.Subscription) {
	c, err := websocket.Accept(w, r, nil)
	if err != nil {
		return // Accept has answered
	}
	defer c.CloseNow()
	// The request's context does not see a hijacked connection close;
	// CloseRead's does (and it answers pings and the client's close).
	rctx := c.CloseRead(ctx)
	keep := time.NewTicker(s.cfg.Stream.keepAlive())
	defer keep.Stop()
	pe := newPointEncoder()
	send := func(p []byte) error {
		wctx, cancel := context.WithTimeout(rctx, s.cfg.Stream.writeTimeout())
		defer cancel()
		return c.Write(wctx, websocket.MessageText, p)
	}
	end := func() {
		if why := s.endReason(rctx, sub); why != nil {
			status := websocket.StatusGoingAway
			if why.Code == "too slow" {
				status = websocket.StatusPolicyViolation
			}
			reason := why.Message
			if len(reason) > 120 { // a close frame's reason has at most 123 bytes
				reason = reason[:120]
			}
			c.Close(status, reason)
		}
	}
	for {
		// A write that blocked on a client not reading may have let the
		// subscription be dropped meanwhile: check first.
		select {
		case <-sub.Done():
			end()
			return
		default:
		}
		select {
		case <-rctx.Done():
			return
		case <-s.live.closing:
			end()
			return
		case <-sub.Done():
			end()
			return
		case <-keep.C:
			pctx, cancel := context.WithTimeout(rctx, s.cfg.Stream.writeTimeout())
			err := c.Ping(pctx)
			cancel()
			if err != nil {
				return
			}
		case b, ok := <-sub.C():
			if !ok {
				end()
				return
			}
			pts := b.Points()
			b.Release()
			if s.sendWS(pe, pts, send) != nil {
				return
			}
			keep.Reset(s.cfg.Stream.keepAlive())
		}
	}
}

// sendWS sends points as JSON arrays, in messages of about
// wsMessageBytes.
func (s *Server) sendWS(pe *pointEncoder, pts []ugnos.StreamPoint, send func([]byte) error) error {
	for len(pts) > 0 {
		pe.buf.Reset()
		pe.buf.WriteByte('[')
		i := 0
		for i < len(pts) && (i == 0 || pe.buf.Len() < wsMessageBytes) {
			if i > 0 {
				pe.buf.WriteByte(',')
			}
			pe.point(pts[i])
			i++
		}
		pe.buf.WriteByte(']')
		pts = pts[i:]
		if err := send(pe.buf.Bytes()); err != nil {
			return err
		}
	}
	return nil
}
