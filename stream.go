package ugnos

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/ugnos/ugnos/arrowstore"
	"github.com/ugnos/ugnos/arrowstore/engine"
	"github.com/ugnos/ugnos/errs"
)

// Live streams: a Subscription receives the points written to one table
// after it was made, those of the series matching a tag filter, in
// batches (one per write). Delivery never holds up a writer: the writer
// copies the matching rows and hands them to the subscription's bounded
// buffer without waiting; when the buffer is full the subscriber is
// dropped, with a reason, and the writer goes on. With no subscriber to a
// table, a write pays one atomic load.
//
// Points replayed from the write-ahead log at Open are not streamed;
// neither are deletes. A subscription to a table that is dropped receives
// nothing more (and the writes of a table created again under the same
// name).

const (
	// DefaultStreamBuffer is the buffer (batches) of a subscription when
	// SubscribeOptions.Buffer is 0.
	DefaultStreamBuffer = 1024
	// MaxSubscribers is the most subscriptions a DB serves at once.
	MaxSubscribers = 1024
)

// Error kinds of live streams (test with errors.Is).
var (
	// ErrSubscriberTooSlow: the subscription was dropped because its
	// buffer was full when a write came.
	ErrSubscriberTooSlow = errors.New("subscriber too slow")
	// ErrTooManySubscribers: the database serves MaxSubscribers
	// subscriptions already.
	ErrTooManySubscribers = errors.New("too many subscribers")
)

// SQLSTATEs of those errors (insufficient_resources,
// too_many_connections).
const (
	codeTooSlow     = "53000"
	codeTooManySubs = "53300"
)

// SubscribeOptions tunes a subscription.
type SubscribeOptions struct {
	// Buffer is how many batches may wait to be received before the
	// subscriber is dropped; 0: DefaultStreamBuffer.
	Buffer int
	// Allocator allocates the batches' records; nil: memory.DefaultAllocator.
	Allocator memory.Allocator
}

// StreamBatch is the points of one write that a subscription receives.
//
// Record has the column "time" (timestamp[ns, UTC]), then every tag
// column of the table (string; null where the series lacks the tag) and
// the field columns the write carried (null where a point has no value),
// in the table's column order; each Arrow field's metadata names its kind
// under arrowstore.MetaKind ("time", "tag" or "field"). The receiver owns
// the batch and should Release it.
type StreamBatch struct {
	Tenant, Table string
	Record        arrow.RecordBatch
}

// Release releases the record.
func (b *StreamBatch) Release() {
	if b.Record != nil {
		b.Record.Release()
		b.Record = nil
	}
}

// Len is the number of points.
func (b *StreamBatch) Len() int {
	if b.Record == nil {
		return 0
	}
	return int(b.Record.NumRows())
}

// StreamPoint is one point of a StreamBatch.
type StreamPoint struct {
	Time int64  // ns since the epoch
	Tags TagSet // points of one series share the map: do not modify it
	// Fields holds the point's non-null fields: float64, int64, bool or
	// string.
	Fields map[string]any
}

// Points returns the batch's points, row by row.
func (b *StreamBatch) Points() []StreamPoint {
	rec := b.Record
	if rec == nil {
		return nil
	}
	n := int(rec.NumRows())
	out := make([]StreamPoint, n)
	var tagCols, fieldCols []int
	for i, f := range rec.Schema().Fields() {
		kind, _ := f.Metadata.GetValue(arrowstore.MetaKind)
		switch {
		case f.Name == arrowstore.TimeColumn && kind != "field" && kind != "tag":
			ts := rec.Column(i).(*array.Timestamp).Values()
			for r := range out {
				out[r].Time = int64(ts[r])
			}
		case kind == "tag":
			tagCols = append(tagCols, i)
		default:
			fieldCols = append(fieldCols, i)
		}
	}
	var prev TagSet
	for r := range out {
		// Consecutive points of one series share their TagSet.
		same := prev != nil
		for _, c := range tagCols {
			col := rec.Column(c).(*array.String)
			v := ""
			if col.IsValid(r) {
				v = col.Value(r)
			}
			if prev[rec.ColumnName(c)] != v {
				same = false
				break
			}
		}
		if !same {
			prev = make(TagSet, len(tagCols))
			for _, c := range tagCols {
				if col := rec.Column(c).(*array.String); col.IsValid(r) {
					prev[rec.ColumnName(c)] = col.Value(r)
				}
			}
		}
		out[r].Tags = prev
		fields := make(map[string]any, len(fieldCols))
		for _, c := range fieldCols {
			col := rec.Column(c)
			if col.IsNull(r) {
				continue
			}
			name := rec.ColumnName(c)
			switch col := col.(type) {
			case *array.Float64:
				fields[name] = col.Value(r)
			case *array.Int64:
				fields[name] = col.Value(r)
			case *array.Boolean:
				fields[name] = col.Value(r)
			case *array.String:
				fields[name] = col.Value(r)
			}
		}
		out[r].Fields = fields
	}
	return out
}

// Subscription is a live stream of the points written to one table. Its
// methods are safe for concurrent use.
type Subscription struct {
	hub           *streamHub
	tenant, table string
	filter        TagSet
	mem           memory.Allocator
	c             chan *StreamBatch
	done          chan struct{}
	mu            sync.Mutex // held by senders and by end
	ended         bool
	err           error
	stopCtx       func() bool // stops the context watch
}

// C delivers the batches. It is closed when the subscription ends (Close,
// a drop, the context's end, Close of the DB); the batches buffered then
// are still delivered before it reads as closed. Err says why it ended.
func (s *Subscription) C() <-chan *StreamBatch { return s.c }

// Done is closed as soon as the subscription ends, before C has been
// drained: a consumer that would rather not deliver a stale backlog
// (a slow network client, say) stops when Done is closed.
func (s *Subscription) Done() <-chan struct{} { return s.done }

// Err returns why the subscription ended: nil while it runs and after
// Close; an error of kind ErrSubscriberTooSlow (its message is the
// reason) when it was dropped; ErrClosed when the DB was closed; the
// context's error when the context ended.
func (s *Subscription) Err() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err
}

// Close ends the subscription. Batches not received are released.
func (s *Subscription) Close() {
	s.end(nil)
	for b := range s.c {
		b.Release()
	}
}

// Tenant is the tenant of the table streamed.
func (s *Subscription) Tenant() string { return s.tenant }

// Table is the table streamed.
func (s *Subscription) Table() string { return s.table }

// end stops the subscription with err (nil: closed by its owner). Only the
// first call counts.
func (s *Subscription) end(err error) {
	s.mu.Lock()
	if s.ended {
		s.mu.Unlock()
		return
	}
	s.ended = true
	s.err = err
	close(s.done)
	close(s.c)
	stop := s.stopCtx
	s.mu.Unlock()
	if stop != nil {
		stop()
	}
	s.hub.remove(s, err)
}

// offer hands a write's matching rows to the subscription without waiting.
// It runs on the writer's goroutine.
func (s *Subscription) offer(ev *engine.WriteEvent) {
	sel, all := ev.Select(s.filter)
	if sel == nil && !all {
		return
	}
	if len(s.c) == cap(s.c) { // full: do not copy for nothing
		s.drop()
		return
	}
	b := &StreamBatch{Tenant: ev.Tenant, Table: ev.Table, Record: ev.Record(s.mem, sel)}
	s.mu.Lock()
	if s.ended {
		s.mu.Unlock()
		b.Release()
		return
	}
	select {
	case s.c <- b:
		s.mu.Unlock()
	default:
		s.mu.Unlock()
		b.Release()
		s.drop()
	}
}

func (s *Subscription) drop() {
	s.end(&errs.Error{Kind: ErrSubscriberTooSlow, Code: codeTooSlow,
		Msg: "subscriber too slow: " + strconv.Itoa(cap(s.c)) + " batches buffered"})
}

type streamKey struct{ tenant, table string }

// streamHub is the DB's Observer for live streams (registered in the
// writeHub at the first Subscribe). Adding and removing a subscription
// copies the map, so writers read it with atomic loads.
type streamHub struct {
	once    sync.Once
	mu      sync.Mutex
	closed  bool
	n       atomic.Int32 // subscriptions
	subs    atomic.Pointer[map[streamKey][]*Subscription]
	dropped atomic.Int64 // subscribers dropped as too slow since Open
}

var _ engine.Observer = (*streamHub)(nil)

// Written hands the rows to the table's subscriptions.
func (h *streamHub) Written(ev *engine.WriteEvent) {
	if ev.Replay || h.n.Load() == 0 {
		return
	}
	m := h.subs.Load()
	if m == nil {
		return
	}
	for _, s := range (*m)[streamKey{ev.Tenant, ev.Table}] {
		s.offer(ev)
	}
}

// Deleted ignores deletes: streams carry new points only.
func (h *streamHub) Deleted(engine.DeleteEvent) {}

func (h *streamHub) add(s *Subscription) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return errs.New(errs.ErrClosed, errs.CodeAdminShutdown, "database is closed")
	}
	if h.n.Load() >= MaxSubscribers {
		return &errs.Error{Kind: ErrTooManySubscribers, Code: codeTooManySubs,
			Msg: "too many subscribers: the database serves " + strconv.Itoa(MaxSubscribers) + " live streams already"}
	}
	next := h.clone()
	k := streamKey{s.tenant, s.table}
	next[k] = append(next[k][:len(next[k]):len(next[k])], s)
	h.subs.Store(&next)
	h.n.Add(1)
	return nil
}

func (h *streamHub) remove(s *Subscription, why error) {
	if errors.Is(why, ErrSubscriberTooSlow) {
		h.dropped.Add(1)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	k := streamKey{s.tenant, s.table}
	cur := h.subs.Load()
	if cur == nil {
		return
	}
	list := (*cur)[k]
	i := -1
	for j, x := range list {
		if x == s {
			i = j
		}
	}
	if i < 0 {
		return
	}
	next := h.clone()
	if len(list) == 1 {
		delete(next, k)
	} else {
		nl := make([]*Subscription, 0, len(list)-1)
		nl = append(append(nl, list[:i]...), list[i+1:]...)
		next[k] = nl
	}
	h.subs.Store(&next)
	h.n.Add(-1)
}

// clone copies the map. Caller holds mu.
func (h *streamHub) clone() map[streamKey][]*Subscription {
	cur := h.subs.Load()
	if cur == nil {
		return map[streamKey][]*Subscription{}
	}
	next := make(map[streamKey][]*Subscription, len(*cur)+1)
	for k, v := range *cur {
		next[k] = v
	}
	return next
}

// close ends every subscription with ErrClosed and refuses new ones.
func (h *streamHub) close() {
	h.mu.Lock()
	h.closed = true
	cur := h.subs.Load()
	h.mu.Unlock()
	if cur == nil {
		return
	}
	for _, list := range *cur {
		for _, s := range list {
			s.end(errs.New(errs.ErrClosed, errs.CodeAdminShutdown, "database is closed"))
		}
	}
}

// Subscribe starts a live stream of the points written from now on to a
// table of a tenant whose tags match filter (every pair must match; an
// empty value matches series without the tag; nil: every point). The
// subscription ends when ctx ends, when it is closed, when the DB closes,
// or when it is dropped because it holds opts.Buffer batches not yet
// received: receive promptly, or expect Err to report ErrSubscriberTooSlow.
//
// An unknown tenant or table is an ErrNotFound (SQLSTATE 3D000 or 42P01);
// a filter on a field column, ErrInvalidInput; more than MaxSubscribers
// subscriptions, ErrTooManySubscribers.
func (db *DB) Subscribe(ctx context.Context, tenant, table string, filter TagSet, opts SubscribeOptions) (*Subscription, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	t, err := db.eng.Table(tenant, table)
	if err != nil {
		return nil, err
	}
	for _, c := range t.Columns() {
		if _, ok := filter[c.Name]; ok && c.Kind != arrowstore.KindTag {
			return nil, errs.Invalid("column %q of table %q is a %s column; a stream filters on tags", c.Name, table, c.Kind)
		}
	}
	if opts.Buffer < 0 {
		return nil, errs.Invalid("stream buffer %d is negative", opts.Buffer)
	}
	if opts.Buffer == 0 {
		opts.Buffer = DefaultStreamBuffer
	}
	f := make(TagSet, len(filter))
	for k, v := range filter {
		f[k] = v
	}
	h := &db.streams
	h.once.Do(func() { db.hub.add(h) })
	s := &Subscription{hub: h, tenant: tenant, table: table, filter: f, mem: opts.Allocator,
		c: make(chan *StreamBatch, opts.Buffer), done: make(chan struct{})}
	if err := h.add(s); err != nil {
		return nil, err
	}
	stop := context.AfterFunc(ctx, func() { s.end(ctx.Err()) })
	s.mu.Lock()
	s.stopCtx = stop
	ended := s.ended
	s.mu.Unlock()
	if ended {
		stop()
	}
	return s, nil
}

// StreamStats are figures of live streams.
type StreamStats struct {
	Subscribers int   // subscriptions now
	Buffered    int   // batches waiting in their buffers
	Dropped     int64 // subscribers dropped as too slow since Open
}

// StreamStats returns figures of live streams.
func (db *DB) StreamStats() StreamStats {
	st := StreamStats{Subscribers: int(db.streams.n.Load()), Dropped: db.streams.dropped.Load()}
	if m := db.streams.subs.Load(); m != nil {
		for _, list := range *m {
			for _, s := range list {
				st.Buffered += len(s.c)
			}
		}
	}
	return st
}
