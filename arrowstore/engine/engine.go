package engine

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"golang.org/x/sys/unix"

	"github.com/ugnos/ugnos/arrowstore"
	"github.com/ugnos/ugnos/arrowstore/membuf"
	"github.com/ugnos/ugnos/arrowstore/wal"
	"github.com/ugnos/ugnos/errs"
)

// Options configures an Engine.
type Options struct {
	SyncMode     wal.SyncMode
	SyncInterval time.Duration
	SegmentSize  int64
	Shards       int // write-buffer shards per table; default 8
	SealRows     int // rows per sealed batch; default 32768
	// NoAutoCreateTenants refuses writes to tenants not created first.
	NoAutoCreateTenants bool
	Logger              *slog.Logger
	// MemoryLimit bounds the bytes of rows kept in memory: above it a
	// checkpoint moves them to segment files. 0: no limit.
	MemoryLimit int64
	// CheckpointWAL is the WAL growth (bytes) that triggers a checkpoint;
	// default 256 MiB.
	CheckpointWAL int64
	// NoBackground turns the background checkpointer and compaction off:
	// only Checkpoint and Compact do that work (tools, tests).
	NoBackground bool
	// DefaultRetention applies to tables of tenants that set neither a
	// period of their own nor a tenant default (0: keep everything).
	DefaultRetention time.Duration
	// RetentionInterval is how often expired rows are removed in the
	// background; default 10s.
	RetentionInterval time.Duration
	// CompactBytes bounds the rows (decoded) one compaction merges;
	// default 128 MiB, or half of MemoryLimit when that is set.
	CompactBytes int64
	// CacheBytes bounds the cache of decoded segment columns; default
	// 256 MiB, or a quarter of MemoryLimit when that is set; < 0: none.
	CacheBytes int64
	// CheckInterval is how often the background checkpointer compares
	// memory with MemoryLimit; default 100ms.
	CheckInterval time.Duration
	// Observer, if set, is told about every write and delete (see
	// Observer), replayed ones included.
	Observer Observer
	// SeriesLimit, if set, is the most series a table's tenant may have
	// (<= 0: no limit), asked only when a write creates series (never for
	// rows of known series, nor on replay). A write that would create more
	// is refused whole with the error SeriesLimitError returns.
	SeriesLimit func(tenant, table string) int64
	// SeriesLimitError builds that error (have: the tenant's series now,
	// adding: the write's new ones); nil: a plain 53400.
	SeriesLimitError func(tenant string, limit, have, adding int64) error
}

func (o Options) walCheckpointBytes() uint64 {
	if o.CheckpointWAL > 0 {
		return uint64(o.CheckpointWAL)
	}
	return 256 << 20
}

func (o Options) cacheBytes() int64 {
	switch {
	case o.CacheBytes != 0:
		return max(o.CacheBytes, 0)
	case o.MemoryLimit > 0:
		return o.MemoryLimit / 4
	}
	return 256 << 20
}

func (o Options) retentionInterval() time.Duration {
	if o.RetentionInterval > 0 {
		return o.RetentionInterval
	}
	return 10 * time.Second
}

func (o Options) checkInterval() time.Duration {
	if o.CheckInterval > 0 {
		return o.CheckInterval
	}
	return 100 * time.Millisecond
}

// DefaultTenant always exists: tools connect to it first.
const DefaultTenant = "postgres"

type tenant struct {
	name      string
	tables    map[string]*table
	views     map[string]string // name -> SELECT text
	retention atomic.Int64      // default retention of its tables, ns (0: none)
	// series counts the series of its tables (seriesCatalog.total);
	// seriesMu serialises creating series under Options.SeriesLimit.
	series   atomic.Int64
	seriesMu sync.Mutex
}

// Engine is the storage engine. It implements arrowstore.Engine.
type Engine struct {
	opts   Options
	log    *slog.Logger
	dir    string
	wal    *wal.WAL // nil: memory only
	lockF  *os.File
	report wal.Report

	mu       sync.RWMutex // tenants and tables
	tenants  map[string]*tenant
	byID     map[uint32]*table
	dropped  map[uint32]bool // ids of dropped tables (never reused)
	nextID   uint32
	closeMu  sync.RWMutex // held shared by operations, exclusively by Close
	closed   bool
	started  time.Time
	ingested atomic.Int64 // rows written since open (not replayed)
	writes   atomic.Int64

	// the on-disk tier (storage.go)
	ckMu          sync.Mutex    // one checkpoint at a time; deletes wait for it
	man           *manifest     // the last durable manifest (under ckMu)
	ckptLSN       atomic.Uint64 // its WAL position
	checkpoints   atomic.Int64
	compactions   atomic.Int64
	memEst        atomic.Int64 // the in-memory tier's bytes, roughly (throttle)
	throttled     atomic.Int64 // 2 ms waits of writers held back by the memory limit
	expired       atomic.Int64 // retention deletes
	expiredFiles  atomic.Int64 // segment files dropped by retention
	lastRetention time.Time    // checkpointer goroutine only
	cache         *colCache
	bgCtx         context.Context
	bgCancel      context.CancelFunc
	bg            sync.WaitGroup
	stop          chan struct{}
	stopOnce      sync.Once
	kick          chan struct{}
}

var _ arrowstore.Engine = (*Engine)(nil)

// Open opens (creating if needed) the engine in dir and replays its WAL.
// dir "" keeps everything in memory, with no durability.
func Open(dir string, opts Options) (*Engine, error) {
	e := &Engine{opts: opts, log: opts.Logger, dir: dir, tenants: map[string]*tenant{}, byID: map[uint32]*table{}, dropped: map[uint32]bool{}, started: time.Now(),
		cache: newColCache(opts.cacheBytes())}
	if e.log == nil {
		e.log = slog.Default()
	}
	e.tenants[DefaultTenant] = &tenant{name: DefaultTenant, tables: map[string]*table{}}
	if dir == "" {
		return e, nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, errs.Internal(err, "create data directory %s", dir)
	}
	lf, err := os.OpenFile(filepath.Join(dir, "LOCK"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, errs.Internal(err, "open lock file")
	}
	if err := unix.Flock(int(lf.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		lf.Close()
		return nil, errs.New(errs.ErrInvalidInput, errs.CodeObjectInUse, "data directory %s is in use by another process", dir)
	}
	e.lockF = lf
	if err := finishRestore(dir); err != nil { // a restore a crash interrupted
		lf.Close()
		return nil, err
	}
	from, err := e.loadManifest()
	if err != nil {
		lf.Close()
		return nil, err
	}
	w, rep, err := wal.Open(filepath.Join(dir, "wal"), wal.Options{
		SyncMode: opts.SyncMode, SyncInterval: opts.SyncInterval, SegmentSize: opts.SegmentSize, Logger: e.log, StartLSN: wal.LSN(from),
	}, func(lsn wal.LSN, payload []byte) error {
		if uint64(lsn) <= from {
			return nil // in the checkpoint
		}
		return e.replay(lsn, payload)
	})
	if err != nil {
		lf.Close()
		return nil, err
	}
	e.wal, e.report = w, rep
	e.stop, e.kick = make(chan struct{}), make(chan struct{}, 1)
	e.bgCtx, e.bgCancel = context.WithCancel(context.Background())
	if !opts.NoBackground {
		e.bg.Add(1)
		go e.checkpointer()
	}
	return e, nil
}

// KickCheckpoint asks the background checkpointer to look now.
func (e *Engine) KickCheckpoint() {
	if e.kick == nil {
		return
	}
	select {
	case e.kick <- struct{}{}:
	default:
	}
}

// Recovery returns what the WAL replay found on open.
func (e *Engine) Recovery() wal.Report { return e.report }

// begin guards an operation against Close. Call the returned func when done.
func (e *Engine) begin() (func(), error) {
	e.closeMu.RLock()
	if e.closed {
		e.closeMu.RUnlock()
		return nil, errs.New(errs.ErrClosed, errs.CodeAdminShutdown, "database is closed")
	}
	return e.closeMu.RUnlock, nil
}

// Close flushes the WAL and releases the data directory.
func (e *Engine) Close() error {
	e.closeMu.RLock()
	closed := e.closed
	e.closeMu.RUnlock()
	if !closed && e.stop != nil {
		e.stopOnce.Do(func() { close(e.stop); e.bgCancel() })
		e.bg.Wait()
	}
	e.ckMu.Lock() // no checkpoint or compaction runs past Close
	defer e.ckMu.Unlock()
	e.closeMu.Lock()
	defer e.closeMu.Unlock()
	if e.closed {
		return errs.New(errs.ErrClosed, errs.CodeAdminShutdown, "database is closed")
	}
	e.closed = true
	var err error
	if e.wal != nil {
		err = e.wal.Close()
	}
	if e.lockF != nil {
		e.lockF.Close()
	}
	e.mu.RLock()
	for _, t := range e.byID { // scans still running fail from here on
		t.segMu.RLock()
		for _, sf := range t.segs {
			if sf.file != nil {
				sf.file.Close()
			}
		}
		t.segMu.RUnlock()
	}
	e.mu.RUnlock()
	return err
}

// logRec appends a record to the WAL without waiting (0 in memory mode).
func (e *Engine) logRec(parts ...[]byte) (wal.LSN, error) {
	if e.wal == nil {
		return 0, nil
	}
	return e.wal.Append(parts...)
}

func (e *Engine) syncTo(lsn wal.LSN) error {
	if e.wal == nil || lsn == 0 {
		return nil
	}
	return e.wal.Sync(lsn)
}

// ValidName checks a tenant, table or column name.
func ValidName(what, name string) error {
	switch {
	case name == "":
		return errs.New(errs.ErrInvalidInput, errs.CodeInvalidName, "%s name is empty", what)
	case len(name) > arrowstore.MaxNameLen:
		return errs.New(errs.ErrInvalidInput, errs.CodeNameTooLong, "%s name %.20q... is longer than %d bytes", what, name, arrowstore.MaxNameLen)
	case !utf8.ValidString(name):
		return errs.New(errs.ErrInvalidInput, errs.CodeInvalidName, "%s name %q is not valid UTF-8", what, name)
	}
	for i := 0; i < len(name); i++ {
		if name[i] < 0x20 || name[i] == 0x7f {
			return errs.New(errs.ErrInvalidInput, errs.CodeInvalidName, "%s name %q contains a control character", what, name)
		}
	}
	return nil
}

// Tenants lists tenants, sorted.
func (e *Engine) Tenants() []string {
	e.mu.RLock()
	defer e.mu.RUnlock()
	out := make([]string, 0, len(e.tenants))
	for n := range e.tenants {
		out = append(out, n)
	}
	slices.Sort(out)
	return out
}

func unknownTenant(name string) error {
	return errs.New(errs.ErrNotFound, errs.CodeInvalidCatalogName, "database %q does not exist", name)
}

func unknownTable(tenant, name string) error {
	return errs.New(errs.ErrNotFound, errs.CodeUndefinedTable, "relation %q does not exist in database %q", name, tenant)
}

// Tables lists a tenant's tables, sorted.
func (e *Engine) Tables(tenantName string) ([]string, error) {
	done, err := e.begin()
	if err != nil {
		return nil, err
	}
	defer done()
	e.mu.RLock()
	defer e.mu.RUnlock()
	tn := e.tenants[tenantName]
	if tn == nil {
		return nil, unknownTenant(tenantName)
	}
	out := make([]string, 0, len(tn.tables))
	for n := range tn.tables {
		out = append(out, n)
	}
	slices.Sort(out)
	return out, nil
}

// Table returns a table.
func (e *Engine) Table(tenantName, name string) (arrowstore.Table, error) {
	t, err := e.table(tenantName, name)
	if err != nil {
		return nil, err
	}
	return t, nil
}

func (e *Engine) table(tenantName, name string) (*table, error) {
	done, err := e.begin()
	if err != nil {
		return nil, err
	}
	defer done()
	return e.lookup(tenantName, name)
}

// lookup finds a table; the caller is inside begin (no recursive RLock of
// closeMu, which could deadlock against a waiting Close).
func (e *Engine) lookup(tenantName, name string) (*table, error) {
	e.mu.RLock()
	defer e.mu.RUnlock()
	tn := e.tenants[tenantName]
	if tn == nil {
		return nil, unknownTenant(tenantName)
	}
	t := tn.tables[name]
	if t == nil {
		return nil, unknownTable(tenantName, name)
	}
	return t, nil
}

// HasTenant reports whether a tenant exists.
func (e *Engine) HasTenant(name string) bool {
	e.mu.RLock()
	defer e.mu.RUnlock()
	return e.tenants[name] != nil
}

// CreateTenant creates a tenant (a database); it is durable on return.
// Creating an existing tenant is not an error.
func (e *Engine) CreateTenant(name string) error {
	done, err := e.begin()
	if err != nil {
		return err
	}
	defer done()
	if err := ValidName("database", name); err != nil {
		return err
	}
	e.mu.Lock()
	if e.tenants[name] != nil {
		e.mu.Unlock()
		return nil
	}
	var en enc
	en.u8(recCreateTenant)
	en.str(name)
	lsn, err := e.logRec(en.b)
	if err != nil {
		e.mu.Unlock()
		return err
	}
	e.tenants[name] = &tenant{name: name, tables: map[string]*table{}}
	e.mu.Unlock()
	return e.syncTo(lsn)
}

// tableForWrite returns the table, creating the tenant and table if needed.
// The creation records are appended to the WAL; the caller's later Sync
// makes them durable.
func (e *Engine) tableForWrite(tenantName, name string) (*table, error) {
	return e.tableFor(tenantName, name, true)
}

// tableFor is tableForWrite; rows says rows will be written (a new table
// then needs room for a series under Options.SeriesLimit).
func (e *Engine) tableFor(tenantName, name string, rows bool) (*table, error) {
	if t, err := e.lookup(tenantName, name); err == nil {
		return t, nil
	}
	if err := ValidName("database", tenantName); err != nil {
		return nil, err
	}
	if err := ValidName("table", name); err != nil {
		return nil, err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	tn := e.tenants[tenantName]
	if tn == nil {
		if e.opts.NoAutoCreateTenants {
			return nil, unknownTenant(tenantName)
		}
		var en enc
		en.u8(recCreateTenant)
		en.str(tenantName)
		if _, err := e.logRec(en.b); err != nil {
			return nil, err
		}
		tn = &tenant{name: tenantName, tables: map[string]*table{}}
		e.tenants[tenantName] = tn
	}
	if t := tn.tables[name]; t != nil {
		return t, nil
	}
	// a new table's first row is a new series: a tenant at its series
	// limit gets no empty table from a refused write
	if rows && e.opts.SeriesLimit != nil {
		if limit := e.opts.SeriesLimit(tenantName, name); limit > 0 && tn.series.Load() >= limit {
			return nil, e.seriesLimitError(tenantName, limit, tn.series.Load(), 1)
		}
	}
	id := e.nextID
	var en enc
	en.u8(recCreateTable)
	en.u32(id)
	en.str(tenantName)
	en.str(name)
	if _, err := e.logRec(en.b); err != nil {
		return nil, err
	}
	return e.addTable(tn, id, name), nil
}

// addTable registers a new table. Caller holds e.mu.
func (e *Engine) addTable(tn *tenant, id uint32, name string) *table {
	t := newTable(e, id, tn.name, name)
	t.tn = tn
	t.cat.total = &tn.series
	tn.tables[name] = t
	e.byID[id] = t
	e.nextID = max(e.nextID, id+1)
	return t
}

// Stats are engine-wide figures.
type Stats struct {
	Tenants, Tables  int
	Series           int64
	Rows             int64
	SealedBatches    int
	SealedBytes      int64
	ActiveBytes      int64
	IngestedRows     int64 // rows written since open
	Writes           int64
	WAL              wal.Stats
	Uptime           time.Duration
	DiskRows         int64 // rows in segment files (before deletes there)
	Segments         int   // live segment files
	SegmentBytes     int64
	Checkpoints      int64 // since open
	Compactions      int64 // since open
	ThrottleWaits    int64 // 2 ms waits of writers held back by MemoryLimit
	RetentionDeletes int64 // deletes of expired rows
	ExpiredFiles     int64 // segment files dropped whole by retention
	Cache            CacheStats
}

// Stats returns current figures.
func (e *Engine) Stats() Stats {
	e.mu.RLock()
	tables := make([]*table, 0, len(e.byID))
	for _, t := range e.byID {
		tables = append(tables, t)
	}
	st := Stats{Tenants: len(e.tenants), Tables: len(tables)}
	e.mu.RUnlock()
	for _, t := range tables {
		st.Series += int64(t.cat.count())
		bs := t.buf.Stats()
		st.Rows += bs.Rows + bs.LazyRows
		st.DiskRows += bs.LazyRows
		t.segMu.RLock()
		st.Segments += len(t.segs)
		for _, sf := range t.segs {
			st.SegmentBytes += sf.ref.Size
		}
		t.segMu.RUnlock()
		st.SealedBatches += bs.SealedBatches
		st.SealedBytes += bs.SealedBytes
		st.ActiveBytes += bs.ActiveBytes
	}
	st.IngestedRows = e.ingested.Load()
	st.Writes = e.writes.Load()
	st.WAL = e.walStats()
	st.Uptime = time.Since(e.started)
	st.Checkpoints = e.checkpoints.Load()
	st.Compactions = e.compactions.Load()
	st.ThrottleWaits = e.throttled.Load()
	st.RetentionDeletes = e.expired.Load()
	st.ExpiredFiles = e.expiredFiles.Load()
	st.Cache = e.cache.stats()
	return st
}

// Seal seals every table's write buffer (all rows become sealed batches).
func (e *Engine) Seal() {
	e.mu.RLock()
	tables := make([]*table, 0, len(e.byID))
	for _, t := range e.byID {
		tables = append(tables, t)
	}
	e.mu.RUnlock()
	for _, t := range tables {
		t.order.RLock()
		t.buf.Seal()
		t.order.RUnlock()
	}
}

func (e *Engine) membufConfig() membuf.Config {
	return membuf.Config{Shards: e.opts.Shards, SealRows: e.opts.SealRows}
}

// removeTable forgets a table. Caller holds e.mu (or is replaying).
func (e *Engine) removeTable(t *table) {
	t.dropped.Store(true)
	e.dropped[t.id] = true
	if tn := e.tenants[t.tenant]; tn != nil && tn.tables[t.name] == t {
		delete(tn.tables, t.name)
		tn.series.Add(-int64(t.cat.count()))
	}
	delete(e.byID, t.id)
}

// removeTenant forgets a tenant and its tables. Caller holds e.mu.
func (e *Engine) removeTenant(name string) {
	if tn := e.tenants[name]; tn != nil {
		for _, t := range tn.tables {
			t.dropped.Store(true)
			e.dropped[t.id] = true
			delete(e.byID, t.id)
		}
	}
	delete(e.tenants, name)
}

// CreateTable creates a table with the given tag and field columns (time
// is implicit). It fails with 42P07 if the table exists, unless ifNotExists.
func (e *Engine) CreateTable(tenantName, name string, cols []arrowstore.Column, ifNotExists bool) error {
	done, err := e.begin()
	if err != nil {
		return err
	}
	defer done()
	if err := ValidName("table", name); err != nil {
		return err
	}
	want := make([]newCol, 0, len(cols))
	seen := map[string]bool{arrowstore.TimeColumn: true}
	for _, c := range cols {
		if err := ValidName("column", c.Name); err != nil {
			return err
		}
		if seen[c.Name] {
			return errs.New(errs.ErrInvalidInput, "42701", "column %q specified more than once", c.Name)
		}
		seen[c.Name] = true
		want = append(want, newCol{name: c.Name, kind: c.Kind, typ: c.Type})
	}
	_, isView := e.View(tenantName, name)
	if _, err := e.lookup(tenantName, name); err == nil || isView {
		if ifNotExists && !isView {
			return nil
		}
		return errs.New(errs.ErrInvalidInput, "42P07", "relation %q already exists", name)
	}
	if !e.HasTenant(tenantName) {
		return unknownTenant(tenantName)
	}
	if len(want) > MaxColumns { // before the table is created
		return tooManyColumns(name)
	}
	t, err := e.tableFor(tenantName, name, false)
	if err != nil {
		return err
	}
	if _, err := t.addColumns(want); err != nil {
		return err
	}
	return e.syncAll()
}

// AddColumns adds columns to a table (ALTER TABLE ADD COLUMN); an existing
// column with the same kind and type is not an error when ifNotExists.
func (e *Engine) AddColumns(tenantName, name string, cols []arrowstore.Column, ifNotExists bool) error {
	done, err := e.begin()
	if err != nil {
		return err
	}
	defer done()
	t, err := e.lookup(tenantName, name)
	if err != nil {
		return err
	}
	s := t.schema.Load()
	want := make([]newCol, 0, len(cols))
	for _, c := range cols {
		if err := ValidName("column", c.Name); err != nil {
			return err
		}
		if _, ok := s.byName[c.Name]; ok && !ifNotExists {
			return errs.New(errs.ErrInvalidInput, "42701", "column %q of relation %q already exists", c.Name, name)
		}
		want = append(want, newCol{name: c.Name, kind: c.Kind, typ: c.Type})
	}
	if _, err := t.addColumns(want); err != nil {
		return err
	}
	return e.syncAll()
}

// walStats are the write-ahead log's figures (zero without one). It
// holds closeMu shared: Restore replaces e.wal holding it exclusively.
func (e *Engine) walStats() wal.Stats {
	e.closeMu.RLock()
	defer e.closeMu.RUnlock()
	if e.wal == nil {
		return wal.Stats{}
	}
	return e.wal.Stats()
}

// syncAll waits until everything appended is durable.
func (e *Engine) syncAll() error {
	if e.wal == nil {
		return nil
	}
	return e.wal.Sync(e.wal.Stats().AppendedLSN)
}

// DropTable removes a table and its data.
func (e *Engine) DropTable(tenantName, name string, ifExists bool) error {
	done, err := e.begin()
	if err != nil {
		return err
	}
	defer done()
	t, err := e.lookup(tenantName, name)
	if err != nil {
		if ifExists && errors.Is(err, errs.ErrNotFound) && e.HasTenant(tenantName) {
			return nil
		}
		return err
	}
	t.order.Lock() // wait for writers of the table
	defer t.order.Unlock()
	e.mu.Lock()
	var en enc
	en.u8(recDropTable)
	en.u32(t.id)
	lsn, err := e.logRec(en.b)
	if err == nil {
		e.removeTable(t)
	}
	e.mu.Unlock()
	if err != nil {
		return err
	}
	return e.syncTo(lsn)
}

// DropTenant removes a tenant with all its tables. The default tenant
// cannot be dropped.
func (e *Engine) DropTenant(name string, ifExists bool) error {
	done, err := e.begin()
	if err != nil {
		return err
	}
	defer done()
	if name == DefaultTenant {
		return errs.New(errs.ErrInvalidInput, "55006", "cannot drop the %q database", DefaultTenant)
	}
	e.mu.RLock()
	tn := e.tenants[name]
	var tables []*table
	if tn != nil {
		for _, t := range tn.tables {
			tables = append(tables, t)
		}
	}
	e.mu.RUnlock()
	slices.SortFunc(tables, func(a, b *table) int { return int(a.id) - int(b.id) })
	for _, t := range tables { // wait for their writers, in id order
		t.order.Lock()
		defer t.order.Unlock()
	}
	e.mu.Lock()
	if e.tenants[name] == nil {
		e.mu.Unlock()
		if ifExists {
			return nil
		}
		return unknownTenant(name)
	}
	var en enc
	en.u8(recDropTenant)
	en.str(name)
	lsn, err := e.logRec(en.b)
	if err == nil {
		e.removeTenant(name)
	}
	e.mu.Unlock()
	if err != nil {
		return err
	}
	return e.syncTo(lsn)
}

// CreateTenantStrict is CreateTenant that fails (42P04) if it exists.
func (e *Engine) CreateTenantStrict(name string) error {
	if e.HasTenant(name) {
		return errs.New(errs.ErrInvalidInput, "42P04", "database %q already exists", name)
	}
	return e.CreateTenant(name)
}

// View returns the query text of a view.
func (e *Engine) View(tenantName, name string) (string, bool) {
	e.mu.RLock()
	defer e.mu.RUnlock()
	tn := e.tenants[tenantName]
	if tn == nil {
		return "", false
	}
	q, ok := tn.views[name]
	return q, ok
}

// Views lists a tenant's views, sorted.
func (e *Engine) Views(tenantName string) []string {
	e.mu.RLock()
	defer e.mu.RUnlock()
	var out []string
	if tn := e.tenants[tenantName]; tn != nil {
		for n := range tn.views {
			out = append(out, n)
		}
	}
	slices.Sort(out)
	return out
}

func (tn *tenant) setView(name, query string) {
	if tn.views == nil {
		tn.views = map[string]string{}
	}
	tn.views[name] = query
}

// CreateView stores a view's query (already validated by the caller).
func (e *Engine) CreateView(tenantName, name, query string, orReplace bool) error {
	done, err := e.begin()
	if err != nil {
		return err
	}
	defer done()
	if err := ValidName("view", name); err != nil {
		return err
	}
	e.mu.Lock()
	tn := e.tenants[tenantName]
	if tn == nil {
		e.mu.Unlock()
		return unknownTenant(tenantName)
	}
	_, isView := tn.views[name]
	if tn.tables[name] != nil || isView && !orReplace {
		e.mu.Unlock()
		return errs.New(errs.ErrInvalidInput, "42P07", "relation %q already exists", name)
	}
	var en enc
	en.u8(recCreateView)
	en.str(tenantName)
	en.str(name)
	en.str(query)
	lsn, err := e.logRec(en.b)
	if err == nil {
		tn.setView(name, query)
	}
	e.mu.Unlock()
	if err != nil {
		return err
	}
	return e.syncTo(lsn)
}

// DropView removes a view.
func (e *Engine) DropView(tenantName, name string, ifExists bool) error {
	done, err := e.begin()
	if err != nil {
		return err
	}
	defer done()
	e.mu.Lock()
	tn := e.tenants[tenantName]
	if tn == nil || tn.views[name] == "" {
		e.mu.Unlock()
		if ifExists && tn != nil {
			return nil
		}
		if tn == nil {
			return unknownTenant(tenantName)
		}
		return errs.New(errs.ErrNotFound, errs.CodeUndefinedTable, "view %q does not exist", name)
	}
	var en enc
	en.u8(recDropView)
	en.str(tenantName)
	en.str(name)
	lsn, err := e.logRec(en.b)
	if err == nil {
		delete(tn.views, name)
	}
	e.mu.Unlock()
	if err != nil {
		return err
	}
	return e.syncTo(lsn)
}
