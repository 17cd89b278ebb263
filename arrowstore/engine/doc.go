// Package engine implements arrowstore.Engine: tenants, tables, schema on
// write, the series catalog and tag index, the write path through the
// write-ahead log into the in-memory tier, scans with pushdown, deletes and
// recovery on open.
//
// Durability: every change is a WAL record (see walrec.go) appended before
// it is applied; a write returns after its record is durable per the sync
// mode. Ids (tables, column slots, series) are assigned in log order, so
// replay rebuilds exactly the state that was acknowledged.
//
// It is not a query engine: scans return Arrow batches; SQL lives above.
package engine
