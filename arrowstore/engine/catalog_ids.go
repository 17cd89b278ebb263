package engine

import "time"

// Started is when the engine was opened.
func (e *Engine) Started() time.Time { return e.started }

// TableID returns a table's id: assigned in WAL order and never reused, so
// stable across restarts (the SQL layer derives OIDs from it).
func (e *Engine) TableID(tenantName, name string) (uint32, bool) {
	e.mu.RLock()
	defer e.mu.RUnlock()
	tn := e.tenants[tenantName]
	if tn == nil || tn.tables[name] == nil {
		return 0, false
	}
	return tn.tables[name].id, true
}
