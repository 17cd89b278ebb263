package ugnos

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"

	"github.com/ugnos/ugnos/errs"
)

// Quotas: limits per database (tenant), set by a superuser in
// PostgreSQL's syntax:
//
//	ALTER DATABASE acme CONNECTION LIMIT 10;           -- -1: none (PostgreSQL's datconnlimit)
//	ALTER DATABASE acme SET statement_timeout = '30s';
//	ALTER DATABASE acme SET ugnos.max_series = 100000;
//	ALTER DATABASE acme SET ugnos.max_ingest_rows_per_second = 50000;
//	ALTER DATABASE acme SET ugnos.max_query_memory = '512MB';
//	ALTER DATABASE acme SET ugnos.max_result_rows = 1000000;
//	ALTER DATABASE acme SET ugnos.max_result_bytes = '256MB';
//	ALTER DATABASE acme SET ugnos.max_request_bytes = '16MB';
//	ALTER DATABASE acme RESET ugnos.max_series;  ALTER DATABASE acme RESET ALL;
//
// 0 (or RESET) is no limit. They are stored in quotas.json (atomic
// replace), carried by snapshots, listed in ugnos.quotas and shown by
// SHOW in the database's sessions. Each exceeded limit fails the
// statement or request with a *QuotaError naming the limit and the
// database; the rest of the server goes on. What binds whom:
//
//   - connection_limit: pgwire connections of ordinary roles (superusers
//     are exempt, as in PostgreSQL), 53300.
//   - statement_timeout: the default of the database's sessions (as
//     PostgreSQL's ALTER DATABASE SET); for ordinary roles, and for
//     sessions without a setting of their own (the HTTP API), also a
//     ceiling no SET escapes. 57014.
//   - ugnos.max_series: series (distinct tag sets) of all the database's
//     tables; a write that would create more is refused whole. 53400.
//   - ugnos.max_ingest_rows_per_second: a token bucket (one second's
//     rows of burst) over every write path: INSERT, COPY, line protocol,
//     InsertBatch, WriteRecord; refused whole, with when to retry. 53400,
//     over HTTP 429 with Retry-After.
//   - ugnos.max_query_memory: each query's memory (below the server's own
//     limit, WithQueryMemoryLimit). 53200.
//   - ugnos.max_result_rows / ugnos.max_result_bytes (bytes of the
//     result's Arrow columns): results of client statements. 54000.
//   - ugnos.max_request_bytes: HTTP request bodies (413).
//
// Writes and queries of the embedded API without a session (rules and
// continuous aggregates included) are bound by max_series, the ingest
// rate and the query memory only; continuous aggregates'
// materializations are counted in max_series but never refused.

const quotasFile = "quotas.json"

// The limits' names: the settings of ALTER DATABASE and what errors,
// ugnos.quotas and /metrics call them.
const (
	LimitConnections      = "connection_limit"
	LimitStatementTimeout = "statement_timeout"
	LimitSeries           = "ugnos.max_series"
	LimitIngestRate       = "ugnos.max_ingest_rows_per_second"
	LimitQueryMemory      = "ugnos.max_query_memory"
	LimitResultRows       = "ugnos.max_result_rows"
	LimitResultBytes      = "ugnos.max_result_bytes"
	LimitRequestBytes     = "ugnos.max_request_bytes"
)

// Quota is one database's limits; 0 is none, except ConnectionLimit,
// where -1 is none and 0 admits no ordinary role (as in PostgreSQL).
type Quota struct {
	ConnectionLimit        int64
	StatementTimeout       time.Duration
	MaxSeries              int64
	MaxIngestRowsPerSecond int64
	MaxQueryMemory         int64 // bytes
	MaxResultRows          int64
	MaxResultBytes         int64
	MaxRequestBytes        int64
}

type quotaUnit int

const (
	unitCount quotaUnit = iota
	unitBytes
	unitDuration
)

// quotaLimits lists the limits; the index is the rejection counter's.
var quotaLimits = []struct {
	name string
	unit quotaUnit
	of   func(*Quota) *int64
}{
	{LimitConnections, unitCount, func(q *Quota) *int64 { return &q.ConnectionLimit }},
	{LimitStatementTimeout, unitDuration, func(q *Quota) *int64 { return (*int64)(&q.StatementTimeout) }},
	{LimitSeries, unitCount, func(q *Quota) *int64 { return &q.MaxSeries }},
	{LimitIngestRate, unitCount, func(q *Quota) *int64 { return &q.MaxIngestRowsPerSecond }},
	{LimitQueryMemory, unitBytes, func(q *Quota) *int64 { return &q.MaxQueryMemory }},
	{LimitResultRows, unitCount, func(q *Quota) *int64 { return &q.MaxResultRows }},
	{LimitResultBytes, unitBytes, func(q *Quota) *int64 { return &q.MaxResultBytes }},
	{LimitRequestBytes, unitBytes, func(q *Quota) *int64 { return &q.MaxRequestBytes }},
}

const nLimits = 8

func limitIndex(name string) int {
	for i, l := range quotaLimits {
		if l.name == name {
			return i
		}
	}
	return -1
}

// IsQuotaSetting reports whether name is a quota set by ALTER DATABASE
// (sessions may not SET the ugnos.* ones).
func IsQuotaSetting(name string) bool {
	i := limitIndex(strings.ToLower(name))
	return i > 1
}

func noQuota() Quota { return Quota{ConnectionLimit: -1} }

// QuotaError is the error of an exceeded quota: errors.As finds it, its
// SQLSTATE is the limit's, and it wraps an *errs.Error.
type QuotaError struct {
	Tenant     string
	Limit      string        // one of the Limit* names
	RetryAfter time.Duration // for the ingest rate: when the write would be admitted
	err        *errs.Error
}

func (e *QuotaError) Error() string    { return e.err.Error() }
func (e *QuotaError) SQLState() string { return e.err.Code }
func (e *QuotaError) Unwrap() error    { return e.err }

// tenantQuota is a database's quota and its figures.
type tenantQuota struct {
	conf     atomic.Pointer[quotaConf]
	conns    atomic.Int64
	rejected [nLimits]atomic.Int64
}

type quotaConf struct {
	Quota
	lim *rate.Limiter // nil: no ingest rate limit
}

// quotaSet holds every database's quota: readers load the map without a
// lock (one atomic load and a map lookup on the write path).
type quotaSet struct {
	mu  sync.Mutex // changes (copy on write)
	dir string
	m   atomic.Pointer[map[string]*tenantQuota]
}

func newQuotaSet(dir string) *quotaSet {
	qs := &quotaSet{dir: dir}
	qs.m.Store(&map[string]*tenantQuota{})
	return qs
}

func (qs *quotaSet) get(tenant string) *tenantQuota { return (*qs.m.Load())[tenant] }

// conf is a database's quota, nil when it has none.
func (qs *quotaSet) conf(tenant string) *quotaConf {
	if t := qs.get(tenant); t != nil {
		return t.conf.Load()
	}
	return nil
}

// state returns a database's entry, made if needed.
func (qs *quotaSet) state(tenant string) *tenantQuota {
	if t := qs.get(tenant); t != nil {
		return t
	}
	qs.mu.Lock()
	defer qs.mu.Unlock()
	return qs.stateLocked(tenant)
}

func (qs *quotaSet) stateLocked(tenant string) *tenantQuota {
	old := *qs.m.Load()
	if t := old[tenant]; t != nil {
		return t
	}
	m := make(map[string]*tenantQuota, len(old)+1)
	for k, v := range old {
		m[k] = v
	}
	t := &tenantQuota{}
	m[tenant] = t
	qs.m.Store(&m)
	return t
}

func newQuotaConf(q Quota, old *quotaConf) *quotaConf {
	c := &quotaConf{Quota: q}
	if n := q.MaxIngestRowsPerSecond; n > 0 {
		if old != nil && old.lim != nil && old.MaxIngestRowsPerSecond == n {
			c.lim = old.lim // unchanged: keep the bucket's level
		} else {
			c.lim = rate.NewLimiter(rate.Limit(n), int(min(n, 1<<30)))
		}
	}
	return c
}

// quotaEntry is a database's quota in quotas.json: settings in their
// text form, as ALTER DATABASE takes them.
type quotaEntry struct {
	Database        string            `json:"database"`
	ConnectionLimit int64             `json:"connection_limit"`
	Settings        map[string]string `json:"settings,omitempty"`
}

func (qs *quotaSet) encodeLocked() ([]byte, error) {
	var list []quotaEntry
	for name, t := range *qs.m.Load() {
		c := t.conf.Load()
		if c == nil || c.Quota == noQuota() {
			continue
		}
		e := quotaEntry{Database: name, ConnectionLimit: c.ConnectionLimit, Settings: map[string]string{}}
		for _, l := range quotaLimits[1:] {
			if v := *l.of(&c.Quota); v != 0 {
				e.Settings[l.name] = formatLimit(l.unit, v)
			}
		}
		list = append(list, e)
	}
	sort.Slice(list, func(i, j int) bool { return list[i].Database < list[j].Database })
	if list == nil {
		list = []quotaEntry{}
	}
	return json.MarshalIndent(list, "", "  ")
}

func decodeQuotas(b []byte) (map[string]Quota, error) {
	var list []quotaEntry
	if err := json.Unmarshal(b, &list); err != nil {
		return nil, err
	}
	out := map[string]Quota{}
	for _, e := range list {
		q := noQuota()
		q.ConnectionLimit = e.ConnectionLimit
		for name, v := range e.Settings {
			i := limitIndex(name)
			if i < 1 {
				return nil, fmt.Errorf("database %q: unknown setting %q", e.Database, name)
			}
			n, err := parseLimit(quotaLimits[i].unit, v)
			if err != nil {
				return nil, fmt.Errorf("database %q: %s: %w", e.Database, name, err)
			}
			*quotaLimits[i].of(&q) = n
		}
		out[e.Database] = q
	}
	return out, nil
}

func (qs *quotaSet) load() error {
	if qs.dir == "" {
		return nil
	}
	b, err := os.ReadFile(filepath.Join(qs.dir, quotasFile))
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	return qs.replace(b)
}

// replace puts the quotas of a quotas.json in place of the current ones
// (Open, Restore); the figures stay.
func (qs *quotaSet) replace(b []byte) error {
	qm, err := decodeQuotas(b)
	if err != nil {
		return errs.Wrap(errs.ErrCorrupt, errs.CodeDataCorrupted, err, "%s is damaged", quotasFile)
	}
	qs.mu.Lock()
	defer qs.mu.Unlock()
	for name, t := range *qs.m.Load() {
		if _, ok := qm[name]; !ok {
			t.conf.Store(nil)
		}
	}
	for name, q := range qm {
		t := qs.stateLocked(name)
		t.conf.Store(newQuotaConf(q, t.conf.Load()))
	}
	return nil
}

// set changes a database's quota with f and saves quotas.json.
func (qs *quotaSet) set(tenant string, f func(*Quota)) error {
	qs.mu.Lock()
	defer qs.mu.Unlock()
	t := qs.stateLocked(tenant)
	old := t.conf.Load()
	q := noQuota()
	if old != nil {
		q = old.Quota
	}
	f(&q)
	t.conf.Store(newQuotaConf(q, old))
	if err := qs.saveLocked(); err != nil {
		t.conf.Store(old)
		return err
	}
	return nil
}

func (qs *quotaSet) saveLocked() error {
	if qs.dir == "" {
		return nil
	}
	b, err := qs.encodeLocked()
	if err != nil {
		return err
	}
	return writeFileAtomic(qs.dir, quotasFile, b)
}

// snapshotFile is quotas.json as it is now (for snapshots).
func (qs *quotaSet) snapshotFile() ([]byte, error) {
	qs.mu.Lock()
	defer qs.mu.Unlock()
	return qs.encodeLocked()
}

// Quota returns a database's limits.
func (db *DB) Quota(tenant string) Quota {
	if c := db.quotas.conf(tenant); c != nil {
		return c.Quota
	}
	return noQuota()
}

// SetQuota sets a database's limits (the embedded API's ALTER DATABASE).
func (db *DB) SetQuota(tenant string, q Quota) error {
	if !db.eng.HasTenant(tenant) {
		return errs.New(errs.ErrNotFound, errs.CodeInvalidCatalogName, "database %q does not exist", tenant)
	}
	return db.quotas.set(tenant, func(have *Quota) { *have = q })
}

// quotaErr builds the error of an exceeded limit and counts it.
func (db *DB) quotaErr(tenant, limit, code, format string, args ...any) *QuotaError {
	if i := limitIndex(limit); i >= 0 {
		db.quotas.state(tenant).rejected[i].Add(1)
	}
	return &QuotaError{Tenant: tenant, Limit: limit, err: errs.New(errs.ErrInvalidInput, code, format, args...)}
}

// QuotaUsage is one limit of a database as /metrics and ugnos.quotas
// show it.
type QuotaUsage struct {
	Tenant   string
	Limit    string
	Value    int64 // the limit (statement_timeout in ms); see Set
	Set      bool  // the limit is set (connection_limit: not -1; others: not 0)
	Usage    int64 // now: series, connections; -1 where not meaningful
	Rejected int64 // refusals since start
}

// QuotaUsages lists every database's limits that are set or have refused
// something, by database and limit.
func (db *DB) QuotaUsages() []QuotaUsage {
	var out []QuotaUsage
	for name, t := range *db.quotas.m.Load() {
		out = append(out, db.tenantUsages(name, t, false)...)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Tenant != out[j].Tenant {
			return out[i].Tenant < out[j].Tenant
		}
		return limitIndex(out[i].Limit) < limitIndex(out[j].Limit)
	})
	return out
}

func (db *DB) tenantUsages(name string, t *tenantQuota, all bool) []QuotaUsage {
	q := noQuota()
	if c := t.conf.Load(); c != nil {
		q = c.Quota
	}
	var out []QuotaUsage
	for i, l := range quotaLimits {
		v := *l.of(&q)
		set := v != 0
		if i == 0 {
			set = v >= 0
		}
		u := QuotaUsage{Tenant: name, Limit: l.name, Value: v, Set: set, Usage: -1, Rejected: t.rejected[i].Load()}
		if l.unit == unitDuration {
			u.Value = v / int64(time.Millisecond)
		}
		switch l.name {
		case LimitConnections:
			u.Usage = t.conns.Load()
		case LimitSeries:
			u.Usage = db.eng.TenantSeries(name)
		}
		if all || set || u.Rejected > 0 || u.Usage >= 0 && t.conf.Load() != nil {
			out = append(out, u)
		}
	}
	return out
}

// drop forgets a dropped database's quota.
func (qs *quotaSet) drop(tenant string) error {
	qs.mu.Lock()
	defer qs.mu.Unlock()
	t := qs.get(tenant)
	if t == nil || t.conf.Load() == nil {
		return nil
	}
	old := t.conf.Load()
	t.conf.Store(nil)
	if err := qs.saveLocked(); err != nil {
		t.conf.Store(old)
		return err
	}
	return nil
}

// QuotaSettings are a database's ugnos.* quotas and statement_timeout in
// their text form (name to value; "0" none), for sessions to SHOW.
func (db *DB) QuotaSettings(tenant string) map[string]string {
	q := db.Quota(tenant)
	out := make(map[string]string, nLimits-1)
	for _, l := range quotaLimits[1:] {
		out[l.name] = formatLimit(l.unit, *l.of(&q))
	}
	return out
}
