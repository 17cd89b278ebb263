package ugnos

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	pg "github.com/pganalyze/pg_query_go/v6"
	"golang.org/x/time/rate"

	"github.com/ugnos/ugnos/arrowstore"
	"github.com/ugnos/ugnos/errs"
	"github.com/ugnos/ugnos/exec"
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

// ---- ALTER DATABASE ----

// alterDatabase runs ALTER DATABASE name CONNECTION LIMIT n.
func (db *DB) alterDatabase(client *Session, st *pg.AlterDatabaseStmt) (*Result, error) {
	if err := db.authorizeSuperuser(client, "ALTER DATABASE"); err != nil {
		return nil, err
	}
	name := st.GetDbname()
	if !db.eng.HasTenant(name) {
		return nil, errs.New(errs.ErrNotFound, errs.CodeInvalidCatalogName, "database %q does not exist", name)
	}
	limit, have := int64(0), false
	for _, o := range st.GetOptions() {
		d := o.GetDefElem()
		if d.GetDefname() != "connection_limit" {
			return nil, errs.New(errs.ErrInvalidInput, errs.CodeFeatureNotSupported, "ALTER DATABASE option %s is not supported (only CONNECTION LIMIT)", strings.ToUpper(d.GetDefname()))
		}
		n, ok := constInt(d.GetArg())
		if !ok || n < -1 {
			return nil, errs.New(errs.ErrInvalidInput, errs.CodeInvalidParameter, "invalid connection limit: %s", nodeText(d.GetArg()))
		}
		limit, have = n, true
	}
	if !have {
		return &Result{Tag: "ALTER DATABASE"}, nil
	}
	return &Result{Tag: "ALTER DATABASE"}, db.quotas.set(name, func(q *Quota) { q.ConnectionLimit = limit })
}

// alterDatabaseSet runs ALTER DATABASE name SET setting = value, RESET
// setting and RESET ALL (the settings, not the connection limit).
func (db *DB) alterDatabaseSet(client *Session, st *pg.AlterDatabaseSetStmt) (*Result, error) {
	if err := db.authorizeSuperuser(client, "ALTER DATABASE"); err != nil {
		return nil, err
	}
	name := st.GetDbname()
	if !db.eng.HasTenant(name) {
		return nil, errs.New(errs.ErrNotFound, errs.CodeInvalidCatalogName, "database %q does not exist", name)
	}
	vs := st.GetSetstmt()
	res := &Result{Tag: "ALTER DATABASE"}
	if vs.GetKind() == pg.VariableSetKind_VAR_RESET_ALL {
		return res, db.quotas.set(name, func(q *Quota) { *q = Quota{ConnectionLimit: q.ConnectionLimit} })
	}
	i := limitIndex(strings.ToLower(vs.GetName()))
	if i < 1 {
		return nil, errs.New(errs.ErrInvalidInput, errs.CodeFeatureNotSupported,
			"ALTER DATABASE … SET %s is not supported (statement_timeout and the ugnos.max_* quotas are)", vs.GetName())
	}
	l := quotaLimits[i]
	var v int64
	switch vs.GetKind() {
	case pg.VariableSetKind_VAR_SET_VALUE:
		args := vs.GetArgs()
		if len(args) != 1 {
			return nil, errs.New(errs.ErrInvalidInput, errs.CodeInvalidParameter, "SET %s takes only one argument", l.name)
		}
		text := nodeText(args[0])
		n, err := parseLimit(l.unit, text)
		if err != nil {
			return nil, errs.New(errs.ErrInvalidInput, errs.CodeInvalidParameter, "invalid value for parameter %q: %q: %v", l.name, text, err)
		}
		v = n
	case pg.VariableSetKind_VAR_SET_DEFAULT, pg.VariableSetKind_VAR_RESET:
	default:
		return nil, errs.New(errs.ErrInvalidInput, errs.CodeFeatureNotSupported, "ALTER DATABASE … SET %s FROM CURRENT is not supported", l.name)
	}
	return res, db.quotas.set(name, func(q *Quota) { *l.of(q) = v })
}

// constInt is an integer constant (possibly negated).
func constInt(n *pg.Node) (int64, bool) {
	if n == nil {
		return 0, false
	}
	if i := n.GetInteger(); i != nil {
		return int64(i.GetIval()), true
	}
	if c := n.GetAConst(); c != nil && c.GetIval() != nil {
		return int64(c.GetIval().GetIval()), true
	}
	if s := nodeText(n); s != "" {
		v, err := strconv.ParseInt(s, 10, 64)
		return v, err == nil
	}
	return 0, false
}

// nodeText is a constant's text: '512MB', 1000, 1.5.
func nodeText(n *pg.Node) string {
	switch {
	case n == nil:
		return ""
	case n.GetInteger() != nil:
		return strconv.FormatInt(int64(n.GetInteger().GetIval()), 10)
	case n.GetString_() != nil:
		return n.GetString_().GetSval()
	case n.GetFloat() != nil:
		return n.GetFloat().GetFval()
	case n.GetAConst() != nil:
		c := n.GetAConst()
		switch {
		case c.GetIval() != nil:
			return strconv.FormatInt(int64(c.GetIval().GetIval()), 10)
		case c.GetSval() != nil:
			return c.GetSval().GetSval()
		case c.GetFval() != nil:
			return c.GetFval().GetFval()
		}
	case n.GetTypeCast() != nil:
		return nodeText(n.GetTypeCast().GetArg())
	}
	return ""
}

var byteUnits = []struct {
	unit string
	mul  int64
}{{"TB", 1 << 40}, {"GB", 1 << 30}, {"MB", 1 << 20}, {"kB", 1 << 10}, {"B", 1}}

var timeUnits = []struct {
	unit string
	d    time.Duration
}{{"d", 24 * time.Hour}, {"h", time.Hour}, {"min", time.Minute}, {"s", time.Second}, {"ms", time.Millisecond}, {"us", time.Microsecond}}

// parseLimit reads a limit's value as PostgreSQL reads settings: bytes
// with kB/MB/GB/TB (1024-based) or B, durations with us/ms/s/min/h/d
// (a bare number is ms), counts as integers. Not negative.
func parseLimit(u quotaUnit, s string) (int64, error) {
	s = strings.TrimSpace(s)
	num := strings.TrimRightFunc(s, func(r rune) bool { return r < '0' || r > '9' })
	unit := strings.TrimSpace(s[len(num):])
	num = strings.TrimSpace(num)
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("want a non-negative integer%s", map[quotaUnit]string{unitBytes: " with an optional unit (B, kB, MB, GB, TB)", unitDuration: " with an optional unit (us, ms, s, min, h, d)"}[u])
	}
	var mul int64 = 1
	switch u {
	case unitCount:
		if unit != "" {
			return 0, fmt.Errorf("a count takes no unit")
		}
	case unitBytes:
		if unit != "" {
			mul = 0
			for _, b := range byteUnits {
				if strings.EqualFold(unit, b.unit) {
					mul = b.mul
				}
			}
		}
	case unitDuration:
		mul = int64(time.Millisecond)
		if unit != "" {
			mul = 0
			for _, t := range timeUnits {
				if unit == t.unit {
					mul = int64(t.d)
				}
			}
		}
	}
	if mul == 0 {
		return 0, fmt.Errorf("unknown unit %q", unit)
	}
	if n > (1<<62)/mul {
		return 0, fmt.Errorf("out of range")
	}
	return n * mul, nil
}

// formatLimit writes a value as PostgreSQL shows settings: the largest
// unit that divides it.
func formatLimit(u quotaUnit, v int64) string {
	switch {
	case u == unitBytes && v > 0:
		for _, b := range byteUnits {
			if v%b.mul == 0 {
				if b.unit == "B" {
					return strconv.FormatInt(v, 10)
				}
				return strconv.FormatInt(v/b.mul, 10) + b.unit
			}
		}
	case u == unitDuration && v > 0:
		for _, t := range timeUnits {
			if v%int64(t.d) == 0 {
				return strconv.FormatInt(v/int64(t.d), 10) + t.unit
			}
		}
		return strconv.FormatInt(v/int64(time.Microsecond), 10) + "us"
	}
	return strconv.FormatInt(v, 10)
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

// ---- ugnos.quotas ----

// quotaRecord builds ugnos.quotas: the statement's database's limits,
// one row each (unset ones too).
func (t *ugnosTable) quotaRecord() arrow.RecordBatch {
	b := array.NewRecordBuilder(memory.DefaultAllocator, t.Schema())
	defer b.Release()
	for _, u := range t.db.tenantUsages(t.tenant, t.db.quotas.state(t.tenant), true) {
		b.Field(0).(*array.StringBuilder).Append(u.Tenant)
		b.Field(1).(*array.StringBuilder).Append(u.Limit)
		l := quotaLimits[limitIndex(u.Limit)]
		q := t.db.Quota(t.tenant)
		b.Field(2).(*array.StringBuilder).Append(formatLimit(l.unit, *l.of(&q)))
		if u.Usage >= 0 {
			b.Field(3).(*array.Int64Builder).Append(u.Usage)
		} else {
			b.Field(3).AppendNull()
		}
		b.Field(4).(*array.Int64Builder).Append(u.Rejected)
	}
	return b.NewRecordBatch()
}

// queryBudget is the memory budget of a query of tenant.
func (db *DB) queryBudget(tenant string) *exec.Budget {
	limit, name := db.queryMemory(tenant)
	if name == "" {
		return exec.NewBudget(limit)
	}
	return exec.NewNamedBudget(limit, name)
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
