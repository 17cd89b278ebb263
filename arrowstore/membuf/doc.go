// Package membuf is the in-memory tier of one table: a write buffer sharded
// by series and the immutable, sealed Arrow batches it turns into.
//
// Rows arrive already resolved to series ids (uint32) and field slots (the
// index of a field column in its table). A shard's active chunk appends
// them; a chunk that reaches Config.SealRows is sealed into a Batch: rows
// sorted by (series, time), one Arrow array per field, a run directory
// (series id → row range, time range) and zone maps (time range and per-field
// min/max). Queries take a View, a consistent snapshot of sealed batches and
// the rows of the active chunks at that moment, without blocking writers
// beyond a short exclusive section.
//
// membuf knows nothing about tag values, names, the WAL or SQL: the engine
// (arrowstore/engine) maps names to slots and tags to series ids.
package membuf
