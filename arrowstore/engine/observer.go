package engine

import "github.com/ugnos/ugnos/arrowstore/membuf"

// Observer is told about committed changes to tables: rows written (also
// when the WAL is replayed at Open, so an observer that keeps state of its
// own can rebuild what it lost in a crash) and rows deleted. Calls run on
// the writer's goroutine after the change is durable and before the writer
// is answered, so they must be cheap and must not call back into the
// engine; an observer that needs to do work queues it.
type Observer interface {
	Written(ev *WriteEvent)
	Deleted(ev DeleteEvent)
}

// CheckpointObserver is an Observer that keeps state derived from writes:
// BeforeWALTruncate runs in a checkpoint after the new manifest is durable
// and before the WAL records it covers are removed, so the observer can
// make durable what it learnt from them (they will not be replayed again).
// An error stops the truncation (it is retried at the next checkpoint).
type CheckpointObserver interface {
	Observer
	BeforeWALTruncate() error
}

// WriteEvent describes rows just committed to a table. It is valid only
// during the Written call.
type WriteEvent struct {
	Tenant, Table string
	Rows          int
	MinT, MaxT    int64 // the rows' time range
	Replay        bool  // replayed from the WAL at Open

	t    *table
	rows *membuf.Rows
}

// DeleteEvent describes a delete (Delete, retention, or one replayed from
// the WAL) of rows in [MinT, MaxT] of a table, of some or all series.
type DeleteEvent struct {
	Tenant, Table string
	MinT, MaxT    int64
	AllSeries     bool
	Replay        bool
}

func (t *table) notifyWritten(rows *membuf.Rows, replay bool) {
	o := t.e.opts.Observer
	if o == nil || rows.N == 0 {
		return
	}
	minT, maxT := rows.Time[0], rows.Time[0]
	for _, v := range rows.Time[1:] {
		minT = min(minT, v)
		maxT = max(maxT, v)
	}
	o.Written(&WriteEvent{Tenant: t.tenant, Table: t.name, Rows: rows.N, MinT: minT, MaxT: maxT, Replay: replay, t: t, rows: rows})
}

func (t *table) notifyDeleted(minT, maxT int64, all, replay bool) {
	if o := t.e.opts.Observer; o != nil {
		o.Deleted(DeleteEvent{Tenant: t.tenant, Table: t.name, MinT: minT, MaxT: maxT, AllSeries: all, Replay: replay})
	}
}

// beforeTruncate gives a CheckpointObserver its chance to persist.
func (e *Engine) beforeTruncate() error {
	if o, ok := e.opts.Observer.(CheckpointObserver); ok {
		return o.BeforeWALTruncate()
	}
	return nil
}
