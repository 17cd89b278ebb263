package engine

// TenantStats are one tenant's figures.
type TenantStats struct {
	Tables       int
	Series       int64 // distinct tag sets across the tenant's tables
	Rows         int64 // rows stored, in memory and in segment files
	MemoryBytes  int64 // in-memory tier: sealed batches and write buffers
	SegmentBytes int64 // live segment files
}

// TenantStats returns the figures of every tenant, by name (tenants
// without tables included).
func (e *Engine) TenantStats() map[string]TenantStats {
	e.mu.RLock()
	out := make(map[string]TenantStats, len(e.tenants))
	for name := range e.tenants {
		out[name] = TenantStats{}
	}
	tables := make([]*table, 0, len(e.byID))
	for _, t := range e.byID {
		tables = append(tables, t)
	}
	e.mu.RUnlock()
	for _, t := range tables {
		st, ok := out[t.tenant]
		if !ok {
			continue // its tenant was dropped meanwhile
		}
		st.Tables++
		st.Series += int64(t.cat.count())
		bs := t.buf.Stats()
		st.Rows += bs.Rows + bs.LazyRows
		st.MemoryBytes += bs.SealedBytes + bs.ActiveBytes
		t.segMu.RLock()
		for _, sf := range t.segs {
			st.SegmentBytes += sf.ref.Size
		}
		t.segMu.RUnlock()
		out[t.tenant] = st
	}
	return out
}
