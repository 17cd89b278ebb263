// Package wal is the write-ahead log of the arrowstore engine: an append-only
// sequence of checksummed records in segment files, with group commit.
//
// The engine appends one record per write batch and calls Sync before it
// acknowledges the write. Concurrent writers share one write(2) and one
// fdatasync per group: the first Sync caller that finds no flush running
// becomes the leader, writes every pending record and publishes the durable
// position for all the others.
//
// On disk a log is a directory of segment files named after the LSN of their
// first record byte (20 zero-padded digits, ".wal"). Each file starts with a
// 20-byte header (magic "UGWL", version, base LSN, CRC-32C of the header),
// followed by records framed as
//
//	[uint32 LE payload length][uint32 LE CRC-32C of length+payload][payload]
//
// An LSN is a position in the stream of record bytes (headers excluded) and
// names the end of a record, so LSNs grow across segment rolls, restarts and
// TruncateBefore.
//
// Open replays the log and repairs it: a torn tail in the last segment is cut
// off, and corruption in an earlier segment cuts that segment and moves every
// later one aside as "<name>.corrupt". The Report says what was done. A record
// that fails its checksum is never handed to the caller.
//
// What the package is not: it does not interpret payloads, does not know about
// checkpoints (the engine decides when to call TruncateBefore), does not
// compress, and does not retry failed I/O: after a write or fsync error the
// WAL is poisoned and must be closed and reopened. One directory is owned by
// one WAL at a time (Open takes an advisory lock on Unix).
package wal
