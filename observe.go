package ugnos

import (
	"slices"
	"sync"
	"sync/atomic"

	"github.com/ugnos/ugnos/arrowstore/engine"
)

// writeHub is the engine's one Observer: it passes every write and delete
// on to the database's own observers (continuous aggregates, live
// streams). Adding and removing copies the list, so the write path reads
// it with one atomic load.
type writeHub struct {
	mu   sync.Mutex
	list atomic.Pointer[[]engine.Observer]
}

var _ engine.CheckpointObserver = (*writeHub)(nil)

// add registers an observer; the function returned removes it.
func (h *writeHub) add(o engine.Observer) (remove func()) {
	h.mu.Lock()
	defer h.mu.Unlock()
	var cur []engine.Observer
	if p := h.list.Load(); p != nil {
		cur = *p
	}
	next := append(slices.Clip(cur), o)
	h.list.Store(&next)
	return func() {
		h.mu.Lock()
		defer h.mu.Unlock()
		cur := *h.list.Load()
		i := slices.Index(cur, o)
		if i < 0 {
			return
		}
		next := slices.Delete(slices.Clone(cur), i, i+1)
		h.list.Store(&next)
	}
}

func (h *writeHub) observers() []engine.Observer {
	if p := h.list.Load(); p != nil {
		return *p
	}
	return nil
}

func (h *writeHub) Written(ev *engine.WriteEvent) {
	for _, o := range h.observers() {
		o.Written(ev)
	}
}

func (h *writeHub) Deleted(ev engine.DeleteEvent) {
	for _, o := range h.observers() {
		o.Deleted(ev)
	}
}

func (h *writeHub) BeforeWALTruncate() error {
	for _, o := range h.observers() {
		if co, ok := o.(engine.CheckpointObserver); ok {
			if err := co.BeforeWALTruncate(); err != nil {
				return err
			}
		}
	}
	return nil
}
