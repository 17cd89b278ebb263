package ugnos

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	pg "github.com/pganalyze/pg_query_go/v6"

	"github.com/ugnos/ugnos/errs"
)

// ALTER DATABASE for quotas (quota.go), their values in text, and the
// relation ugnos.quotas.

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
