// Package ugnos is the embedded ugnos time-series database.
//
// Points (a timestamp, tags and fields) are written to tables of tenants
// and read back by time range, tag filter, aggregation and downsampling.
// Writes are durable when acknowledged: they go through a write-ahead log
// (fsynced by default, with group commit) into an in-memory columnar store
// of Apache Arrow batches.
//
//	db, err := ugnos.Open("data")
//	err = db.Insert("acme", "cpu", time.Now().UnixNano(), 42.5, ugnos.TagSet{"host": "a"})
//	pts, err := db.Query(ctx, "acme", "cpu", ugnos.QueryOptions{Start: t0, End: t1, Aggregation: "avg", Downsample: time.Minute})
//
// A table (called a series in the single-value API) has a time column, tag
// columns (text, indexed) and field columns (double, bigint, boolean, text).
// Insert and InsertBatch write one field, "value"; WriteRecord writes an
// Arrow record with many fields at once.
package ugnos

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/ugnos/ugnos/arrowstore"
	"github.com/ugnos/ugnos/arrowstore/engine"
	"github.com/ugnos/ugnos/errs"
	"github.com/ugnos/ugnos/functions"
	"github.com/ugnos/ugnos/sql"
)

// TagSet is the tags of a point: tag name to value. An empty value is the
// same as an absent tag.
type TagSet map[string]string

// Point is a single-value point to write. Timestamp is ns since the epoch.
type Point struct {
	Timestamp int64
	Value     float64
	Tags      TagSet
}

// DataPoint is a point returned by Query. Points of one series in one
// result share one Tags map: do not modify it.
type DataPoint struct {
	Timestamp int64
	Value     float64
	Tags      TagSet
}

// DB is an open database. Its methods are safe for concurrent use.
type DB struct {
	eng      *engine.Engine
	dir      string // the data directory; "" in memory
	queries  queryStats
	writes   writeStats
	parser   *sql.Parser
	reg      *functions.Registry
	queryMem int64
	notes    notifyHub
	rules    *ruleSet
	hub      *writeHub // the engine's Observer
	caggs    *caggSet
	roles    *roleSet
	tokens   *tokenSet
	quotas   *quotaSet // per-database limits (quota.go)
	log      *slog.Logger
	streams  streamHub // live streams (stream.go)
}

// Open opens the database in dir, creating it if needed, and replays its
// write-ahead log. dir "" keeps everything in memory (nothing is durable).
// Only one process may open a directory at a time.
func Open(dir string, opts ...Option) (*DB, error) {
	c := config{queryMem: DefaultQueryMemory}
	for _, opt := range opts {
		opt(&c)
	}
	roles, err := loadRoles(dir)
	if err != nil {
		return nil, err
	}
	tokens, err := loadTokens(dir)
	if err != nil {
		return nil, err
	}
	quotas := newQuotaSet(dir)
	if err := quotas.load(); err != nil {
		return nil, err
	}
	hub := &writeHub{}
	caggs := newCaggSet(dir)
	hub.add(caggs) // before Open: replayed writes invalidate too
	c.eng.Observer = hub
	db := &DB{dir: dir, parser: sql.NewParser(0), reg: functions.NewRegistry(), queryMem: c.queryMem, hub: hub, caggs: caggs, roles: roles, tokens: tokens, quotas: quotas}
	c.eng.SeriesLimit = db.engineSeriesLimit(quotas)
	c.eng.SeriesLimitError = db.seriesLimitError
	eng, err := engine.Open(dir, c.eng)
	if err != nil {
		return nil, err
	}
	db.eng = eng
	db.log = c.eng.Logger
	if db.log == nil {
		db.log = slog.Default()
	}
	db.rules = newRuleSet(db)
	if err := db.rules.load(); err != nil {
		eng.Close()
		return nil, err
	}
	if err := caggs.load(db); err != nil {
		db.rules.close()
		eng.Close()
		return nil, err
	}
	return db, nil
}

// Close stops the rules, flushes the write-ahead log and closes the
// database. Later calls of any method return ErrClosed.
func (db *DB) Close() error {
	db.rules.close()
	db.caggs.close()
	db.streams.close()
	return db.eng.Close()
}

// Engine returns the storage engine (for the SQL layer and tools).
func (db *DB) Engine() *engine.Engine { return db.eng }

type pointSlice []Point

func (p pointSlice) Len() int { return len(p) }
func (p pointSlice) At(i int) (int64, float64, map[string]string) {
	return p[i].Timestamp, p[i].Value, p[i].Tags
}

type onePoint struct {
	ts   int64
	v    float64
	tags TagSet
}

func (p *onePoint) Len() int                                   { return 1 }
func (p *onePoint) At(int) (int64, float64, map[string]string) { return p.ts, p.v, p.tags }

// Insert writes one point to the field "value" of a table (created on first
// write, with the tags as tag columns). The value must be finite.
func (db *DB) Insert(tenant, series string, ts int64, value float64, tags TagSet) error {
	if err := db.admitIngest(context.Background(), tenant, 1); err != nil {
		return err
	}
	start := time.Now()
	err := db.eng.WritePoints(context.Background(), tenant, series, &onePoint{ts, value, tags})
	db.writes.done(tenant, start, 1, 16+tagBytes(tags), err)
	return err
}

// InsertBatch writes points to the field "value" of a table in one durable
// step: all of them or, on error, none. Points that share a TagSet map are
// resolved to their series once.
func (db *DB) InsertBatch(tenant, series string, points []Point) error {
	if err := db.admitIngest(context.Background(), tenant, len(points)); err != nil {
		return err
	}
	start := time.Now()
	err := db.eng.WritePoints(context.Background(), tenant, series, pointSlice(points))
	db.writes.done(tenant, start, int64(len(points)), pointsBytes(points), err)
	return err
}

// WriteRecord writes the rows of an Arrow record to a table: the
// multi-field write path. The record needs a "time" column (timestamp of
// any unit, or int64 ns, no nulls). Text columns (string or
// dictionary<string>) are tags unless their field metadata has
// "ugnos.kind" = "field"; other columns are fields: float64/float32 are
// stored as double, signed and unsigned integers as bigint, booleans as
// boolean. The table and new columns are created as needed; a column whose
// kind or type conflicts with the table is refused and nothing is stored.
func (db *DB) WriteRecord(ctx context.Context, tenant, table string, rec arrow.RecordBatch) error {
	if err := db.admitIngest(ctx, tenant, int(rec.NumRows())); err != nil {
		return err
	}
	start := time.Now()
	err := db.eng.Write(ctx, tenant, table, rec)
	db.writes.done(tenant, start, rec.NumRows(), recordBytes(rec), err)
	return err
}

// Scan reads a table's rows as Arrow record batches with time range, tag
// predicates and projection pushed down. The caller must Release the
// reader.
func (db *DB) Scan(ctx context.Context, tenant, table string, req arrowstore.ScanRequest) (array.RecordReader, error) {
	t, err := db.eng.Table(tenant, table)
	if err != nil {
		return nil, err
	}
	return t.Scan(ctx, req)
}

// Columns returns a table's columns: time, then tags and fields in
// creation order.
func (db *DB) Columns(tenant, table string) ([]arrowstore.Column, error) {
	t, err := db.eng.Table(tenant, table)
	if err != nil {
		return nil, err
	}
	return t.Columns(), nil
}

// CreateDatabase creates a tenant. Creating one that exists is not an error.
func (db *DB) CreateDatabase(name string) error { return db.eng.CreateTenant(name) }

// Databases lists the tenants, sorted. "postgres" always exists.
func (db *DB) Databases() []string { return db.eng.Tenants() }

// Flush seals every write buffer into immutable batches. Data is already
// durable without it; it makes sealed-batch statistics exact.
func (db *DB) Flush() { db.eng.Seal() }

// Checkpoint moves every row held in memory into Parquet segment files,
// publishes them in the manifest and truncates the write-ahead log. It
// runs in the background on its own (WithMemoryLimit, WithCheckpointWAL);
// calling it is never needed for durability. A memory-only database has
// nothing to do.
func (db *DB) Checkpoint(ctx context.Context) error { return db.eng.Checkpoint(ctx) }

// Snapshot writes a consistent point-in-time copy of the whole database
// to path (a directory that must not exist or be empty): segment files
// (hard links to the live ones where possible), a catalog file, the rules
// and recorded alerts (rules.json, alerts.json) and a manifest with
// checksums. Every write acknowledged before Snapshot was called is in
// it; writes go on meanwhile. Works for memory-only databases too.
func (db *DB) Snapshot(path string) error {
	return db.snapshot(context.Background(), path)
}

func (db *DB) snapshot(ctx context.Context, path string) error {
	side, err := db.rules.sideFiles()
	if err != nil {
		return errs.Internal(err, "encode rules")
	}
	cg, err := db.caggs.snapshotState() // before the data: see snapshotState
	if err != nil {
		return errs.Internal(err, "encode continuous aggregates")
	}
	side = append(side, engine.SideFile{Name: caggFile, Data: cg})
	qb, err := db.quotas.snapshotFile()
	if err != nil {
		return errs.Internal(err, "encode quotas")
	}
	side = append(side, engine.SideFile{Name: quotasFile, Data: qb})
	_, err = db.eng.Snapshot(ctx, path, side...)
	return err
}

// Restore replaces the database's content by the snapshot at path, row for
// row, with its rules, alerts and continuous aggregates. The snapshot is verified first (sizes
// and checksums of every file): a truncated or tampered one is refused
// with an error of kind ErrCorrupt and the current data and rules stay as
// they are. Statements running when Restore is called finish first; later
// ones see the restored data. Rule evaluations pause meanwhile; the
// restored rules then run (a snapshot from before snapshots carried rules
// leaves the current rules in place).
func (db *DB) Restore(path string) error {
	if err := db.checkSideFiles(path); err != nil {
		return err
	}
	rs := db.rules
	rs.admin.Lock()
	defer rs.admin.Unlock()
	rs.stopAll()
	db.caggs.close()
	side, err := db.eng.RestoreFiles(context.Background(), path)
	if err != nil {
		rs.startAll()
		db.caggs.restart()
		return err
	}
	err = rs.replace(side)
	var cg []byte // none in the snapshot: it had no continuous aggregates
	for _, f := range side {
		switch f.Name {
		case caggFile:
			cg = f.Data
		case quotasFile: // a snapshot from before quotas leaves the current ones
			if qerr := db.quotas.replace(f.Data); err == nil {
				err = qerr
			}
		}
	}
	if cerr := db.caggs.replace(cg); err == nil {
		err = cerr
	}
	return err
}

// checkSideFiles decodes the rules and continuous aggregates of the
// snapshot at path before anything is restored: ones that would not load
// make the snapshot unusable (ErrCorrupt), not a restore half done.
// Side files lie in the snapshot's files/ (see engine.SideFile); their
// checksums are verified by the restore itself.
func (db *DB) checkSideFiles(path string) error {
	if b, err := os.ReadFile(filepath.Join(path, "files", rulesFile)); err == nil {
		if _, _, err := db.rules.decodeRules(b); err != nil {
			return err
		}
	}
	if b, err := os.ReadFile(filepath.Join(path, "files", caggFile)); err == nil {
		if _, err := decodeCaggFile(b); err != nil {
			return err
		}
	}
	return nil
}

// SetRetention sets how long a table keeps its rows (table ""; the
// default of every table of the tenant without its own period); 0 removes
// the period. Rows older than now minus the period are never returned by
// queries from the moment they expire, and are removed in the background:
// segment files wholly expired are dropped, the rest deleted.
func (db *DB) SetRetention(tenant, table string, period time.Duration) error {
	return db.eng.SetRetention(tenant, table, period)
}

// Retention returns the retention period that applies to a table (its
// own, else its tenant's default; 0: rows are kept forever), or with
// table "" the tenant's default.
func (db *DB) Retention(tenant, table string) (time.Duration, error) {
	return db.eng.Retention(tenant, table)
}

// Compact merges the small segment files of each partition and purges
// deleted rows from segment files, until nothing is left to do. It runs
// in the background on its own; calling it is never needed.
func (db *DB) Compact(ctx context.Context) error { return db.eng.Compact(ctx) }

func tagFilters(tags TagSet) []arrowstore.Filter {
	fs := make([]arrowstore.Filter, 0, len(tags))
	for k, v := range tags {
		fs = append(fs, arrowstore.Filter{Column: k, Op: arrowstore.OpEq, Values: []string{v}})
	}
	return fs
}

// ListSeries returns the tables of a tenant, sorted; with tags, only those
// with at least one series carrying every given tag value.
func (db *DB) ListSeries(tenant string, tags TagSet) ([]string, error) {
	if err := checkName("database", tenant); err != nil {
		return nil, err
	}
	names, err := db.eng.Tables(tenant)
	if err != nil {
		return nil, err
	}
	if len(tags) == 0 {
		return names, nil
	}
	fs := tagFilters(tags)
	out := names[:0]
	for _, n := range names {
		t, err := db.eng.Table(tenant, n)
		if err != nil {
			continue // dropped meanwhile
		}
		m, ok := t.(interface {
			MatchSeries([]arrowstore.Filter) ([]uint32, error)
		})
		if !ok {
			continue
		}
		sids, err := m.MatchSeries(fs)
		if err != nil {
			return nil, err
		}
		if sids == nil || len(sids) > 0 {
			out = append(out, n)
		}
	}
	return out, nil
}

// Delete removes the points of a table in [start, end] (inclusive, ns)
// whose series carry every given tag value (nil: all series) and returns
// how many rows it removed.
func (db *DB) Delete(tenant, series string, start, end int64, tags TagSet) (uint64, error) {
	if err := checkName("database", tenant); err != nil {
		return 0, err
	}
	if err := checkName("table", series); err != nil {
		return 0, err
	}
	if start > end {
		return 0, errs.Invalid("time range is inverted: start %d is after end %d", start, end)
	}
	return db.eng.Delete(context.Background(), tenant, series, start, end, tagFilters(tags))
}

func checkName(what, name string) error {
	if name == "" {
		return errs.New(errs.ErrInvalidInput, errs.CodeInvalidName, "%s name is empty", what)
	}
	return nil
}

// RecoveryReport describes what Open found in the write-ahead log.
type RecoveryReport struct {
	Segments     int
	Records      int
	Bytes        int64
	Truncated    bool   // a torn or corrupt tail was cut
	Reason       string // why, when Truncated
	DroppedBytes int64
	MovedAside   []string // later segments renamed *.corrupt
}

// Recovery returns what Open found in the write-ahead log.
func (db *DB) Recovery() RecoveryReport {
	r := db.eng.Recovery()
	return RecoveryReport{Segments: r.Segments, Records: r.Records, Bytes: r.Bytes, Truncated: r.Truncated,
		Reason: r.Reason, DroppedBytes: r.DroppedBytes, MovedAside: r.MovedAside}
}
