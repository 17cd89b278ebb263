package ugnos

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/ugnos/ugnos/arrowstore"
	"github.com/ugnos/ugnos/errs"
	"github.com/ugnos/ugnos/exec"
)

// Where the quotas (quota.go) are enforced: connections, the write
// paths, statements and their results, HTTP bodies.

// ---- connections ----

// Connect counts a connection of user to a database against its
// CONNECTION LIMIT (ordinary roles only: superusers and the server's
// own accounts are counted, not refused, as in PostgreSQL). release
// ends it.
func (db *DB) Connect(user, tenant string) (release func(), err error) {
	t := db.quotas.state(tenant)
	n := t.conns.Add(1)
	release = sync.OnceFunc(func() { t.conns.Add(-1) })
	if _, ordinary := db.ordinaryRole(&Session{User: user}); !ordinary {
		return release, nil
	}
	if c := t.conf.Load(); c != nil && c.ConnectionLimit >= 0 && n > c.ConnectionLimit {
		release()
		return nil, db.quotaErr(tenant, LimitConnections, "53300", "too many connections for database %q (its CONNECTION LIMIT is %d)", tenant, c.ConnectionLimit)
	}
	return release, nil
}

// ---- ingest ----

type ingestAdmittedKey struct{}

// AdmitIngest takes rows from a database's ingest rate quota for one
// request that writes in several steps (a line-protocol body, a COPY):
// the returned context marks them admitted, so that its writes are not
// counted again. A refusal is a *QuotaError with RetryAfter.
func (db *DB) AdmitIngest(ctx context.Context, tenant string, rows int) (context.Context, error) {
	if err := db.admitIngest(ctx, tenant, rows); err != nil {
		return ctx, err
	}
	return context.WithValue(ctx, ingestAdmittedKey{}, true), nil
}

// admitIngest checks the ingest rate of a write of rows.
func (db *DB) admitIngest(ctx context.Context, tenant string, rows int) error {
	c := db.quotas.conf(tenant)
	if c == nil || c.lim == nil || rows <= 0 || ctx.Value(ingestAdmittedKey{}) != nil {
		return nil
	}
	now := time.Now()
	r := c.lim.ReserveN(now, rows)
	if !r.OK() {
		return db.quotaErr(tenant, LimitIngestRate, "53400",
			"a write of %d rows exceeds the ingest rate limit of database %q (%s = %d; a write may hold at most one second's rows): split it; nothing was written",
			rows, tenant, LimitIngestRate, c.MaxIngestRowsPerSecond)
	}
	d := r.DelayFrom(now)
	if d <= 0 {
		return nil
	}
	r.CancelAt(now)
	e := db.quotaErr(tenant, LimitIngestRate, "53400",
		"database %q is over its ingest rate limit (%s = %d): a write of %d rows was refused, nothing was written; retry in %s",
		tenant, LimitIngestRate, c.MaxIngestRowsPerSecond, rows, d.Round(time.Millisecond))
	e.RetryAfter = d
	return e
}

// engineSeriesLimit is the engine's Options.SeriesLimit.
func (db *DB) engineSeriesLimit(qs *quotaSet) func(tenant, table string) int64 {
	return func(tenant, table string) int64 {
		if strings.HasPrefix(table, caggMatPrefix) {
			return 0 // materializations are internal writes: counted, never refused
		}
		if c := qs.conf(tenant); c != nil {
			return c.MaxSeries
		}
		return 0
	}
}

func (db *DB) seriesLimitError(tenant string, limit, have, adding int64) error {
	return db.quotaErr(tenant, LimitSeries, "53400",
		"database %q would exceed its series limit (%s = %d): it has %d series and the write adds %d; nothing was written",
		tenant, LimitSeries, limit, have, adding)
}

// ---- queries ----

// queryMemory is the memory limit of a query of tenant and its name for
// the error ("" the server's).
func (db *DB) queryMemory(tenant string) (int64, string) {
	c := db.quotas.conf(tenant)
	if c == nil || c.MaxQueryMemory <= 0 || db.queryMem > 0 && db.queryMem <= c.MaxQueryMemory {
		return db.queryMem, ""
	}
	return c.MaxQueryMemory, fmt.Sprintf("the query memory limit of database %q (%s = %s)", tenant, LimitQueryMemory, formatLimit(unitBytes, c.MaxQueryMemory))
}

// statementContext applies the database's statement_timeout to a client
// statement: to every statement of an ordinary role (a ceiling), and to
// sessions without a statement_timeout of their own (the HTTP API; pgwire
// sessions start with the database's as their default). stop must be
// called when the statement is done.
func (db *DB) statementContext(ctx context.Context, tenant string) (context.Context, context.CancelFunc) {
	client := sessionFrom(ctx)
	c := db.quotas.conf(tenant)
	if client == nil || c == nil || c.StatementTimeout <= 0 {
		return ctx, nil
	}
	if _, ordinary := db.ordinaryRole(client); !ordinary && client.Setting != nil {
		if _, own := client.Setting(LimitStatementTimeout); own {
			return ctx, nil
		}
	}
	d := c.StatementTimeout
	cause := &QuotaError{Tenant: tenant, Limit: LimitStatementTimeout, err: errs.New(errs.ErrInvalidInput, "57014",
		"canceling statement due to statement timeout (statement_timeout of database %q is %s)", tenant, formatLimit(unitDuration, int64(d)))}
	return context.WithTimeoutCause(ctx, d, cause)
}

// statementErr maps an error of a statement cancelled by the database's
// statement_timeout to the timeout's error (and counts it).
func (db *DB) statementErr(ctx context.Context, tenant string, err error) error {
	if err == nil || ctx.Err() == nil {
		return err
	}
	var qe *QuotaError
	if cause := context.Cause(ctx); errors.As(cause, &qe) && qe.Limit == LimitStatementTimeout {
		if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) || errs.SQLState(err) == errs.CodeInternal || errs.SQLState(err) == "57014" {
			db.quotas.state(tenant).rejected[limitIndex(LimitStatementTimeout)].Add(1)
			return qe
		}
	}
	return err
}

// quotaReader applies a database's result limits and statement_timeout
// to a statement's result.
type quotaReader struct {
	array.RecordReader
	db            *DB
	tenant        string
	ctx           context.Context
	stop          context.CancelFunc
	maxRows       int64
	maxBytes      int64
	rows, bytes   int64
	err           error
	countedMemErr bool
}

// limitResult wraps a client statement's result in the database's limits.
func (db *DB) limitResult(ctx context.Context, tenant string, rd array.RecordReader, stop context.CancelFunc) array.RecordReader {
	c := db.quotas.conf(tenant)
	var maxRows, maxBytes int64
	if c != nil && sessionFrom(ctx) != nil {
		maxRows, maxBytes = c.MaxResultRows, c.MaxResultBytes
	}
	if maxRows <= 0 && maxBytes <= 0 && stop == nil {
		return rd
	}
	return &quotaReader{RecordReader: rd, db: db, tenant: tenant, ctx: ctx, stop: stop, maxRows: maxRows, maxBytes: maxBytes}
}

func (r *quotaReader) Next() bool {
	if r.err != nil || !r.RecordReader.Next() {
		return false
	}
	rec := r.RecordReader.RecordBatch()
	r.rows += rec.NumRows()
	if r.maxRows > 0 && r.rows > r.maxRows {
		r.err = r.db.quotaErr(r.tenant, LimitResultRows, "54000",
			"the result has more than %d rows, the result row limit of database %q (%s); add a LIMIT or narrow the time range", r.maxRows, r.tenant, LimitResultRows)
		return false
	}
	if r.maxBytes > 0 {
		r.bytes += arrowstore.RecordBytes(rec)
		if r.bytes > r.maxBytes {
			r.err = r.db.quotaErr(r.tenant, LimitResultBytes, "54000",
				"the result is larger than %s, the result size limit of database %q (%s); add a LIMIT, select fewer columns or narrow the time range",
				formatLimit(unitBytes, r.maxBytes), r.tenant, LimitResultBytes)
			return false
		}
	}
	return true
}

func (r *quotaReader) Err() error {
	if r.err != nil {
		return r.err
	}
	err := r.RecordReader.Err()
	if err != nil && !r.countedMemErr {
		if me := r.db.memErr(r.tenant, err); me != err {
			r.countedMemErr = true
			r.err = me
			return me
		}
	}
	return r.db.statementErr(r.ctx, r.tenant, err)
}

func (r *quotaReader) Release() {
	r.RecordReader.Release()
	if r.stop != nil {
		r.stop()
	}
}

// memErr turns the error of a query refused by its database's memory
// quota into a counted *QuotaError.
func (db *DB) memErr(tenant string, err error) error {
	var e *errs.Error
	if err != nil && errors.As(err, &e) && e.Code == "53200" && strings.Contains(e.Msg, LimitQueryMemory) {
		db.quotas.state(tenant).rejected[limitIndex(LimitQueryMemory)].Add(1)
		return &QuotaError{Tenant: tenant, Limit: LimitQueryMemory, err: e}
	}
	return err
}

// queryBudget is the memory budget of a query of tenant.
func (db *DB) queryBudget(tenant string) *exec.Budget {
	limit, name := db.queryMemory(tenant)
	if name == "" {
		return exec.NewBudget(limit)
	}
	return exec.NewNamedBudget(limit, name)
}

// RequestBodyLimit is the most bytes an HTTP request body for tenant may
// have under its quota (0: no limit of its own).
func (db *DB) RequestBodyLimit(tenant string) int64 {
	if c := db.quotas.conf(tenant); c != nil {
		return c.MaxRequestBytes
	}
	return 0
}

// RequestTooLarge is the (counted) refusal of an HTTP request body over
// tenant's ugnos.max_request_bytes.
func (db *DB) RequestTooLarge(tenant string, limit int64) error {
	return db.quotaErr(tenant, LimitRequestBytes, "54000", "request body is larger than %s, the request size limit of database %q (%s); nothing was written",
		formatLimit(unitBytes, limit), tenant, LimitRequestBytes)
}

// CheckNewSeries checks, before a request that writes several records
// (a line-protocol body's tables, a COPY's chunks) writes any, that their
// new series fit the database's ugnos.max_series, so that a refusal
// stores nothing of the request. tables[i] is recs[i]'s table. Nothing
// to do without a limit.
func (db *DB) CheckNewSeries(tenant string, tables []string, recs []arrow.RecordBatch) error {
	c := db.quotas.conf(tenant)
	if c == nil || c.MaxSeries <= 0 || len(recs) < 2 {
		return nil // one record is one engine write: refused whole there
	}
	byTable := map[string][]arrow.RecordBatch{}
	for i, rec := range recs {
		if !strings.HasPrefix(tables[i], caggMatPrefix) {
			byTable[tables[i]] = append(byTable[tables[i]], rec)
		}
	}
	var adding int64
	for table, rs := range byTable {
		n, err := db.eng.NewSeries(tenant, table, rs...)
		if err != nil {
			return err
		}
		adding += n
	}
	if have := db.eng.TenantSeries(tenant); adding > 0 && have+adding > c.MaxSeries {
		return db.seriesLimitError(tenant, c.MaxSeries, have, adding)
	}
	return nil
}
