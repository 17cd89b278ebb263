package ugnos

import (
	"log/slog"
	"time"

	"github.com/ugnos/ugnos/arrowstore/engine"
	"github.com/ugnos/ugnos/arrowstore/wal"
)

// SyncMode says when a write is acknowledged.
type SyncMode int

const (
	// SyncAlways (the default) acknowledges a write once its WAL record is
	// fsynced: it survives a crash of the process or the machine. Writers
	// share fsyncs (group commit).
	SyncAlways SyncMode = iota
	// SyncInterval acknowledges a write once it is written to the OS; the
	// WAL is fsynced in the background every interval (WithSyncInterval).
	// It survives a crash of the process, not of the machine.
	SyncInterval
	// SyncNever acknowledges a write once it is written to the OS and
	// never fsyncs except when a WAL segment is full and on Close.
	SyncNever
)

// Option configures Open.
type Option func(*config)

type config struct {
	eng      engine.Options
	queryMem int64
}

// DefaultQueryMemory is the default memory limit of one SQL query.
const DefaultQueryMemory = 2 << 30

// WithQueryMemoryLimit bounds the memory one SQL query may hold in sorts,
// aggregates, joins and windows (default 2 GiB; <= 0: unlimited). A query
// over it fails with SQLSTATE 53200 and nothing else is affected.
func WithQueryMemoryLimit(bytes int64) Option { return func(c *config) { c.queryMem = bytes } }

// WithSyncMode sets when writes are acknowledged (default SyncAlways).
func WithSyncMode(m SyncMode) Option {
	return func(c *config) {
		o := &c.eng
		switch m {
		case SyncInterval:
			o.SyncMode = wal.SyncInterval
		case SyncNever:
			o.SyncMode = wal.SyncNever
		default:
			o.SyncMode = wal.SyncAlways
		}
	}
}

// WithSyncInterval sets SyncInterval mode with the given period.
func WithSyncInterval(d time.Duration) Option {
	return func(c *config) {
		o := &c.eng
		o.SyncMode, o.SyncInterval = wal.SyncInterval, d
	}
}

// WithShards sets the number of write-buffer shards per table (default 8).
func WithShards(n int) Option {
	return func(c *config) {
		o := &c.eng
		o.Shards = n
	}
}

// WithSealRows sets how many rows a write-buffer shard holds before it is
// sealed into an immutable batch (default 32768).
func WithSealRows(n int) Option {
	return func(c *config) {
		o := &c.eng
		o.SealRows = n
	}
}

// WithAutoCreateTenants sets whether writes to an unknown tenant create it
// (default true). When false, tenants are made with CreateDatabase.
func WithAutoCreateTenants(on bool) Option {
	return func(c *config) {
		o := &c.eng
		o.NoAutoCreateTenants = !on
	}
}

// WithWALSegmentSize sets the size at which WAL segment files roll over.
func WithWALSegmentSize(n int64) Option {
	return func(c *config) {
		o := &c.eng
		o.SegmentSize = n
	}
}

// WithLogger sets the logger (default slog.Default()).
func WithLogger(l *slog.Logger) Option {
	return func(c *config) {
		o := &c.eng
		o.Logger = l
	}
}

// WithMemoryLimit bounds the bytes of rows the in-memory tier holds: above
// it, a checkpoint moves them to Parquet segment files on disk, where they
// stay queryable (0, the default: no limit; the WAL size still triggers
// checkpoints). It has no effect on a memory-only database.
func WithMemoryLimit(bytes int64) Option {
	return func(c *config) {
		o := &c.eng
		o.MemoryLimit = bytes
	}
}

// WithCheckpointWAL sets how many bytes of WAL trigger a checkpoint
// (default 256 MiB): it bounds the WAL on disk and the replay on Open.
func WithCheckpointWAL(bytes int64) Option {
	return func(c *config) {
		o := &c.eng
		o.CheckpointWAL = bytes
	}
}

// WithDefaultRetention sets the retention period of every table whose
// tenant sets no default and which has none of its own (see
// DB.SetRetention); 0, the default, keeps rows forever.
func WithDefaultRetention(period time.Duration) Option {
	return func(c *config) {
		o := &c.eng
		o.DefaultRetention = period
	}
}
