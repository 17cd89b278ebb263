// Package arrowstore is the storage contract of ugnos: the types the SQL
// executor and the embedded API use to reach stored data, independent of
// where the data lives.
//
// A tenant (database) holds tables. A table's columns are the time column
// ("time", int64 nanoseconds, Arrow timestamp[ns, UTC]), tag columns (text,
// dictionary-encoded, indexed) and typed field columns (double, bigint,
// boolean, text). A series is one distinct tag set within a table.
//
// Scans return Arrow record batches and accept pushdown: an inclusive time
// range, a projection and tag predicates. The implementations live in
// subpackages: arrowstore/wal (write-ahead log), arrowstore/membuf (the
// in-memory tier: write buffer and sealed batches) and arrowstore/engine
// (tenants, tables, schema on write, series and tag indexes, recovery).
//
// This package knows nothing of SQL.
package arrowstore
