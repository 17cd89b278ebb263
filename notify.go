package ugnos

import (
	"log/slog"
	"sync"

	"github.com/ugnos/ugnos/errs"
)

// Notifications: PostgreSQL's LISTEN/NOTIFY within a database (tenant).
// NOTIFY channel, 'payload', pg_notify(channel, payload) and rules with a
// Notify action send; a Listener (one per pgwire connection) receives on
// the channels it listens to. Sending never blocks: each listener has a
// bounded queue, and a notification for a full queue is dropped (logged).

// Notification is one NOTIFY as a listener receives it.
type Notification struct {
	Channel string
	Payload string
	PID     int64 // the sending session's backend pid (0: the embedded process or a rule)
}

// maxNotifyPayload is PostgreSQL's limit on a payload (bytes).
const maxNotifyPayload = 8000

// DefaultListenerQueue is the queue length NewListener uses for queue <= 0.
const DefaultListenerQueue = 1024

type notifyHub struct {
	mu   sync.RWMutex
	subs map[chanKey]map[*Listener]struct{}
}

type chanKey struct{ tenant, channel string }

// Listener receives the notifications of the channels it listens to in
// one database. Its methods are safe for concurrent use.
type Listener struct {
	db       *DB
	tenant   string
	c        chan Notification
	mu       sync.Mutex
	channels map[string]struct{}
	closed   bool
}

// NewListener returns a listener of the tenant's channels with a queue of
// queue notifications (DefaultListenerQueue when queue <= 0). Close it
// when done.
func (db *DB) NewListener(tenant string, queue int) *Listener {
	if queue <= 0 {
		queue = DefaultListenerQueue
	}
	return &Listener{db: db, tenant: tenant, c: make(chan Notification, queue), channels: map[string]struct{}{}}
}

// C delivers the notifications; it is closed by Close.
func (l *Listener) C() <-chan Notification { return l.c }

// Listen adds a channel (listening twice is not an error).
func (l *Listener) Listen(channel string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return
	}
	l.channels[channel] = struct{}{}
	h := &l.db.notes
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.subs == nil {
		h.subs = map[chanKey]map[*Listener]struct{}{}
	}
	k := chanKey{l.tenant, channel}
	if h.subs[k] == nil {
		h.subs[k] = map[*Listener]struct{}{}
	}
	h.subs[k][l] = struct{}{}
}

// Unlisten removes a channel; "*" removes all.
func (l *Listener) Unlisten(channel string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	h := &l.db.notes
	h.mu.Lock()
	defer h.mu.Unlock()
	for ch := range l.channels {
		if channel != "*" && ch != channel {
			continue
		}
		k := chanKey{l.tenant, ch}
		delete(h.subs[k], l)
		if len(h.subs[k]) == 0 {
			delete(h.subs, k)
		}
		delete(l.channels, ch)
	}
}

// Close stops listening and closes C.
func (l *Listener) Close() {
	l.Unlisten("*")
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return
	}
	l.closed = true
	h := &l.db.notes
	h.mu.Lock() // no sender holds the read lock now: closing is safe
	close(l.c)
	h.mu.Unlock()
}

// Notify sends a notification to the listeners of a channel of a tenant,
// as NOTIFY does (the embedded process: pid 0).
func (db *DB) Notify(tenant, channel, payload string) error {
	return db.notify(tenant, channel, payload, 0)
}

func (db *DB) notify(tenant, channel, payload string, pid int64) error {
	if channel == "" {
		return errs.New(errs.ErrInvalidInput, errs.CodeInvalidParameter, "channel name cannot be empty")
	}
	if len(channel) >= 64 {
		return errs.New(errs.ErrInvalidInput, errs.CodeInvalidParameter, "channel name too long")
	}
	if len(payload) >= maxNotifyPayload {
		return errs.New(errs.ErrInvalidInput, errs.CodeInvalidParameter, "payload string too long")
	}
	n := Notification{Channel: channel, Payload: payload, PID: pid}
	h := &db.notes
	h.mu.RLock()
	defer h.mu.RUnlock()
	for l := range h.subs[chanKey{tenant, channel}] {
		select {
		case l.c <- n:
		default:
			slog.Warn("ugnos: notification dropped: the listener's queue is full", "database", tenant, "channel", channel, "queue", cap(l.c))
		}
	}
	return nil
}
