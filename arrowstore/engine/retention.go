package engine

import (
	"context"
	"errors"
	"time"

	"github.com/ugnos/ugnos/arrowstore"
	"github.com/ugnos/ugnos/errs"
)

// Retention. A table keeps rows for its retention period (its own, else
// its tenant's default; none when neither is set). Rows older than now
// minus the period are never returned by scans, from the moment they
// expire; in the background, segment files wholly expired are dropped
// (a file operation) and what is left of expired rows is deleted like any
// other rows (in memory at once, on disk through tombstones that
// compaction purges).

// recRetention sets a retention period: tenant, table ("" for the
// tenant's default), period in ns (0: none).
const recRetention byte = 12

// SetRetention sets the retention period of a table, or with table ""
// the default of a tenant's tables; 0 removes it. It is durable on
// return.
func (e *Engine) SetRetention(tenantName, tableName string, period time.Duration) error {
	if period < 0 {
		return errs.Invalid("retention period %v is negative", period)
	}
	done, err := e.begin()
	if err != nil {
		return err
	}
	defer done()
	var t *table
	if tableName != "" {
		if t, err = e.lookup(tenantName, tableName); err != nil {
			return err
		}
	} else if !e.HasTenant(tenantName) {
		return unknownTenant(tenantName)
	}
	var en enc
	en.u8(recRetention)
	en.str(tenantName)
	en.str(tableName)
	en.u64(uint64(period))
	e.mu.Lock()
	lsn, err := e.logRec(en.b)
	if err == nil {
		e.applyRetention(tenantName, t, period)
	}
	e.mu.Unlock()
	if err != nil {
		return err
	}
	e.KickCheckpoint()
	return e.syncTo(lsn)
}

// applyRetention records a period. Caller holds e.mu (or is replaying).
func (e *Engine) applyRetention(tenantName string, t *table, period time.Duration) {
	if t != nil {
		t.retention.Store(int64(period))
		return
	}
	if tn := e.tenants[tenantName]; tn != nil {
		tn.retention.Store(int64(period))
	}
}

// Retention returns the period that applies to a table (its own, else
// its tenant's default, else Options.DefaultRetention; 0: keep
// everything) or, with table "", the tenant's own default.
func (e *Engine) Retention(tenantName, tableName string) (time.Duration, error) {
	e.mu.RLock()
	defer e.mu.RUnlock()
	tn := e.tenants[tenantName]
	if tn == nil {
		return 0, unknownTenant(tenantName)
	}
	if tableName == "" {
		return time.Duration(tn.retention.Load()), nil
	}
	t := tn.tables[tableName]
	if t == nil {
		return 0, unknownTable(tenantName, tableName)
	}
	return t.retentionPeriod(), nil
}

// retentionPeriod is the period that applies to the table (0: none).
func (t *table) retentionPeriod() time.Duration {
	if p := t.retention.Load(); p > 0 {
		return time.Duration(p)
	}
	if p := t.tn.retention.Load(); p > 0 {
		return time.Duration(p)
	}
	return t.e.opts.DefaultRetention
}

// cutoff is the earliest time a scan may return (MinTime: no retention).
func (t *table) cutoff() int64 {
	p := t.retentionPeriod()
	if p <= 0 {
		return arrowstore.MinTime
	}
	return time.Now().UnixNano() - int64(p)
}

// enforceRetention drops expired segment files and deletes the expired
// rows left, table by table.
func (e *Engine) enforceRetention(ctx context.Context) error {
	for _, t := range e.sortedTables() {
		cut := t.cutoff()
		if cut == arrowstore.MinTime || t.dropped.Load() {
			continue
		}
		if err := e.dropExpiredSegments(t, cut); err != nil {
			return err
		}
		if t.buf.MinT() < cut {
			if _, err := e.Delete(ctx, t.tenant, t.name, arrowstore.MinTime, cut-1, nil); err != nil {
				if errors.Is(err, errs.ErrNotFound) {
					continue // dropped meanwhile
				}
				return err
			}
			e.expired.Add(1)
		}
	}
	return nil
}

// dropExpiredSegments removes from the manifest, the readers and the disk
// the segments of t whose every row is older than cut.
func (e *Engine) dropExpiredSegments(t *table, cut int64) error {
	e.ckMu.Lock()
	defer e.ckMu.Unlock()
	if e.man == nil {
		return nil
	}
	t.segMu.RLock()
	var gone []*segFile
	for _, sf := range t.segs {
		if sf.ref.MaxT < cut {
			gone = append(gone, sf)
		}
	}
	t.segMu.RUnlock()
	if len(gone) == 0 {
		return nil
	}
	remove := map[string]bool{}
	goneSeg := map[*segFile]bool{}
	for _, sf := range gone {
		remove[sf.ref.Path] = true
		goneSeg[sf] = true
	}
	m := e.newManifest(e.man.LSN, e.man.NextFile, e.man.Catalog, nil, remove, e.allTombstones())
	if err := e.writeManifest(m); err != nil {
		return err
	}
	e.man = m
	e.replaceSegments(t, goneSeg, nil)
	e.removeUnlisted(m)
	e.expiredFiles.Add(int64(len(gone)))
	e.log.Info("retention: dropped expired segments", "table", t.name, "tenant", t.tenant, "files", len(gone))
	return nil
}

// allTombstones are every table's tombstones.
func (e *Engine) allTombstones() []tombstone {
	var all []tombstone
	for _, t := range e.sortedTables() {
		t.segMu.RLock()
		all = append(all, t.tombs...)
		t.segMu.RUnlock()
	}
	return all
}
